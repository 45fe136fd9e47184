// #/rules: the discovery rules (docs/rules.md) in the order anemosd tries them on a host's
// first inventory: search, priority, hosts claimed of the maximum, actions. An admin token
// adds (with a test of the search first) and deletes them; other roles only read.

import { api, ApiError } from './api.js';
import { DASH, clear, confirmDialog, h, lifecycle, mono, toast } from './dom.js';

// actionsText(actions): "tags +db +rack-1 · image tiny · next boot install", as a list reads.
function actionsText(a) {
	const parts = [];
	if (a.tags) parts.push(`tags ${a.tags.map((t) => `+${t}`).join(' ')}`);
	if (a.attributes) parts.push(Object.entries(a.attributes).map(([k, v]) => `${k}=${v === null ? '(removed)' : v}`).join(' '));
	if (a.image) parts.push(`image ${a.image}`);
	if (a.next_boot) parts.push(`next boot ${a.next_boot}`);
	if (a.once !== undefined) parts.push(a.once ? 'once' : 'always');
	if (a.install) parts.push(`install ${Object.keys(a.install).join(', ')}`);
	return parts.join(' · ') || DASH;
}

export function rulesView(root) {
	document.title = 'Rules · Anemos';
	let alive = true;
	let admin = false;

	const tbody = h('tbody');
	const table = h('table', { class: 'rules' },
		h('thead', null, h('tr', null, ['Name', 'Priority', 'Search', 'Claimed', 'Actions', ''].map((t, i) =>
			h('th', { scope: 'col', class: i === 1 || i === 3 ? 'num' : null }, t ? t : h('span', { class: 'sr-only' }, 'Actions'))))),
		tbody);
	const count = h('p', { class: 'count muted', role: 'status' });
	const listMsg = h('div', { class: 'empty', hidden: true });

	const input = (id, attrs) => h('input', { id, autocomplete: 'off', spellcheck: 'false', ...attrs });
	const name = input('rule-name', { required: true, pattern: '[a-z0-9][a-z0-9._-]{0,63}', placeholder: 'dell-db' });
	const query = input('rule-query', { required: true, class: 'mono', placeholder: 'vendor:dell memory>=64G' });
	const priority = input('rule-priority', { type: 'number', min: 0, max: 1000000, value: 100 });
	const maxCount = input('rule-max', { type: 'number', min: 1, max: 1000000, placeholder: 'no limit' });
	const tags = input('rule-tags', { placeholder: 'db rack-12' });
	const attrs = input('rule-attrs', { placeholder: 'role=database owner=team-a' });
	const image = h('select', { id: 'rule-image' }, h('option', { value: '' }, '(unchanged)'));
	const nextBoot = h('select', { id: 'rule-next' }, h('option', { value: '' }, '(unchanged)'),
		lifecycle.actions.map((a) => h('option', { value: a.name }, a.name)));
	const once = h('input', { id: 'rule-once', type: 'checkbox' });
	const testMsg = h('p', { class: 'form-msg', role: 'status' });
	const addMsg = h('p', { class: 'form-msg', role: 'status' });
	const testBtn = h('button', { type: 'button', class: 'quiet' }, 'Test search');

	// What the form says, as POST /api/v1/rules takes it; a string when something is wrong.
	function body() {
		const actions = {};
		const t = tags.value.split(/[\s,]+/).filter(Boolean);
		if (t.length) actions.tags = t;
		const pairs = attrs.value.split(/[\s,]+/).filter(Boolean);
		if (pairs.length) {
			actions.attributes = {};
			for (const p of pairs) {
				const eq = p.indexOf('=');
				if (eq < 1 || eq === p.length - 1) return `Attributes are NAME=VALUE, not "${p}".`;
				actions.attributes[p.slice(0, eq)] = p.slice(eq + 1);
			}
		}
		if (image.value) actions.image = image.value;
		if (nextBoot.value) actions.next_boot = nextBoot.value;
		if (once.checked) actions.once = true;
		if (!Object.keys(actions).length) return 'Give the rule at least one action: tags, attributes, an image or a next boot.';
		const b = { name: name.value.trim(), query: query.value.trim(), priority: Number(priority.value || 100), actions };
		if (maxCount.value) b.max_count = Number(maxCount.value);
		return b;
	}

	testBtn.addEventListener('click', async () => {
		testMsg.className = 'form-msg';
		testMsg.textContent = 'Testing…';
		try {
			const r = await api('POST', '/rules/test', { query: query.value.trim() });
			testMsg.className = 'form-msg ok';
			testMsg.textContent = `${r.count} host${r.count === 1 ? '' : 's'} match now` +
				(r.count ? `: ${r.hosts.slice(0, 5).map((x) => x.hostname || x.macs[0] || `#${x.id}`).join(', ')}${r.count > 5 ? ', …' : ''}` : '.');
		} catch (e) {
			testMsg.className = 'form-msg error';
			testMsg.textContent = e.message;
		}
	});

	const form = h('form', { class: 'panel add-rule', id: 'add-rule', novalidate: true, hidden: true },
		h('h2', null, 'Add a rule'),
		h('p', { class: 'muted small' }, 'On a host\'s first inventory the first matching rule, by priority (lower first), gives it these. Install settings: ',
			h('code', null, 'anemosctl rule add --install-setting'), '.'),
		h('div', { class: 'grid-form' },
			h('label', { for: 'rule-name' }, 'Name'), name,
			h('label', { for: 'rule-query' }, 'Search'), query,
			h('span'), h('div', { class: 'row' }, testBtn, testMsg),
			h('label', { for: 'rule-priority' }, 'Priority'), priority,
			h('label', { for: 'rule-max' }, 'Max count'), maxCount,
			h('label', { for: 'rule-tags' }, 'Tags'), tags,
			h('label', { for: 'rule-attrs' }, 'Attributes'), attrs,
			h('label', { for: 'rule-image' }, 'Image'), image,
			h('label', { for: 'rule-next' }, 'Next boot'), nextBoot,
			h('label', { for: 'rule-once' }, 'Once'), h('div', null, once, ' then boot from disk')),
		h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Add rule'), addMsg));

	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const b = body();
		addMsg.className = 'form-msg error';
		if (typeof b === 'string') { addMsg.textContent = b; return; }
		if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(b.name)) { addMsg.textContent = 'The name is 1-64 of a-z 0-9 . _ - (starting with a letter or digit).'; return; }
		if (!b.query) { addMsg.textContent = 'A rule needs a search.'; return; }
		addMsg.className = 'form-msg';
		addMsg.textContent = 'Adding…';
		try {
			const r = await api('POST', '/rules', b);
			addMsg.className = 'form-msg ok';
			addMsg.textContent = `Added ${r.name}.`;
			form.reset();
			testMsg.textContent = '';
			load();
		} catch (err) {
			addMsg.className = 'form-msg error';
			addMsg.textContent = err.message;
		}
	});

	clear(root,
		h('div', { class: 'page-head' }, h('h1', null, 'Rules'), count),
		h('div', { class: 'images-grid' },
			h('div', null, h('div', { class: 'table-wrap' }, table), listMsg),
			form));

	function row(r) {
		const del = h('button', { type: 'button', class: 'danger quiet small-btn', 'aria-label': `Delete rule ${r.name}` }, 'Delete…');
		del.addEventListener('click', () => remove(r));
		return h('tr', { dataset: { name: r.name }, class: r.enabled ? null : 'muted' },
			h('td', null, h('strong', { class: 'mono' }, r.name), r.enabled ? null : h('span', { class: 'tag' }, 'off')),
			h('td', { class: 'num' }, String(r.priority)),
			h('td', { class: 'c-query' }, h('a', { href: `#/hosts?q=${encodeURIComponent(r.query)}`, title: 'The hosts it matches now' }, mono(r.query))),
			h('td', { class: 'num' }, r.max_count === null ? String(r.claimed) : `${r.claimed} of ${r.max_count}`),
			h('td', { class: 'small' }, actionsText(r.actions)),
			h('td', { class: 'c-act' }, admin ? del : null));
	}

	async function remove(r) {
		const ok = await confirmDialog({
			title: `Delete rule ${r.name}?`,
			body: h('p', null, 'New hosts no longer get its actions; the hosts it fired on keep what it gave them.'),
			ok: 'Delete rule', danger: true,
		});
		if (!ok) return;
		try {
			await api('DELETE', `/rules/${encodeURIComponent(r.name)}`);
			toast(`Deleted rule ${r.name}.`);
			load();
		} catch (e) {
			toast(`Could not delete ${r.name}: ${e.message}`, 'error');
		}
	}

	async function load() {
		try {
			const [{ rules }, meta, { images }] = await Promise.all([api('GET', '/rules'), api('GET', '/meta'), api('GET', '/images')]);
			if (!alive) return;
			admin = meta.you.role === 'admin';
			form.hidden = !admin;
			const chosen = image.value;
			clear(image, h('option', { value: '' }, '(unchanged)'), images.map((i) => h('option', { value: i.name }, i.name)));
			image.value = chosen;
			clear(tbody, rules.map(row));
			count.textContent = `${rules.length} rule${rules.length === 1 ? '' : 's'}, tried top to bottom`;
			table.hidden = !rules.length;
			listMsg.hidden = !!rules.length;
			clear(listMsg, h('p', null, h('strong', null, 'No rules yet.')),
				h('p', { class: 'muted' }, admin ? 'Add one with the form, or with anemosctl rule add.' : 'An admin token adds them (anemosctl rule add).'));
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) return;
			clear(listMsg, h('p', { class: 'error' }, `Could not load the rules: ${e.message}`));
			listMsg.hidden = false;
		}
	}

	load();
	return {
		unmount() { alive = false; },
		live(ev) { if (ev.type === 'resync') load(); },
	};
}

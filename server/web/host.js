// #/hosts/ID: one host, Collins-style: a header with what it is and what it boots next, the
// actions an operator takes on it, its hardware, and its events as a timeline. Updated live.

import { api, ApiError, hostPath } from './api.js';
import {
	action, bytes, clear, confirmDialog, exactTime, h, hostLabel, lifecycle, mono, progressBar, statusBadge, timeEl, toast,
} from './dom.js';
import { hardware } from './hardware.js';
import { installForm } from './install.js';
import { nextBootText } from './hosts.js';
import { powerBox } from './power.js';
import { progressBlock } from './progress.js';

const EVENT_LIMIT = 200;


// installText(install): the host's install settings in one line (docs/api.md, Host.install).
function installText(inst) {
	const i = inst || {};
	const d = i.disk || {};
	const disk = d.serial ? `disk serial ${d.serial}` : d.by_path ? `disk ${d.by_path}` : d.name ? `disk ${d.name}` : 'largest fixed disk';
	const net = i.network && i.network.mode === 'static' ? `static ${i.network.address || ''}`.trim() : 'DHCP';
	const extra = [i.root_password_hash ? 'root password set' : null, i.cloud_init_user_data ? 'cloud-init' : null,
		i.kernel_args ? `kernel args "${i.kernel_args}"` : null].filter(Boolean);
	return `Onto the ${disk} · network ${net} · then ${i.after || 'reboot'}${extra.length ? ` · ${extra.join(' · ')}` : ''}`;
}

export function hostView(root, routeInfo) {
	const ref = routeInfo.id;
	let host = null;
	let images = [];
	let alive = true;
	let refreshTimer = null;

	const header = h('div', { class: 'host-head' });
	const actions = h('section', { class: 'panel actions', 'aria-labelledby': 'actions-title' });
	const hw = h('div', { class: 'hw-list' });
	const events = h('section', { class: 'panel events', 'aria-labelledby': 'events-title' });
	const gone = h('div', { class: 'notice', hidden: true, role: 'alert' });
	clear(root,
		h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/hosts' }, 'Hosts'), ' / ',
			h('span', { class: 'crumb-here' }, '…')),
		gone, header,
		h('div', { class: 'host-grid' },
			h('div', { class: 'host-main' }, h('h2', { class: 'section-title' }, 'Hardware'), hw),
			h('div', { class: 'host-side' }, actions, events)));
	root.focus({ preventScroll: true });

	// ---- header ----
	function drawHeader() {
		document.title = `${hostLabel(host)} · Anemos`;
		root.querySelector('.crumb-here').textContent = hostLabel(host);
		const inv = host.inventory;
		clear(header,
			h('div', { class: 'host-title' },
				h('h1', { class: host.hostname ? '' : 'unnamed' }, hostLabel(host)),
				statusBadge(host.status),
				h('span', { class: 'next-boot', title: 'What this host does on its next network boot' },
					h('span', { class: 'muted' }, 'next boot '), h('strong', null, nextBootText(host)))),
			progressBlock(host, 'wide'),
			driftNotice(),
			h('dl', { class: 'facts' },
				fact('Product', [host.vendor, host.product].filter(Boolean).join(' ') || null),
				fact('Serial', host.serial ? mono(host.serial) : null),
				fact(host.macs && host.macs.length > 1 ? 'MACs' : 'MAC', host.macs && host.macs.length
					? host.macs.map((m, i) => [i ? ', ' : '', mono(m)]) : null),
				fact('Firmware', inv && inv.firmware ? inv.firmware.toUpperCase() : host.summary?.firmware?.toUpperCase() || null),
				fact('Last seen', timeEl(host.last_seen)),
				fact('ID', String(host.id)),
				fact('Added', host.created ? h('time', { datetime: host.created, title: exactTime(host.created) }, exactTime(host.created).slice(0, 10)) : null)));
	}

	// The hardware changes anemosd saw between this host's inventories, until acknowledged.
	function driftNotice() {
		const changes = host.drift || [];
		if (!changes.length) return null;
		const ack = h('button', { type: 'button', id: 'ack-drift' }, 'Acknowledge');
		ack.addEventListener('click', async () => {
			try {
				host = await api('PATCH', hostPath(host.id), { drift: null });
				redraw();
			} catch (e) {
				toast(`Could not acknowledge: ${e.message}`, 'error');
			}
		});
		return h('div', { class: 'notice drift', id: 'drift', role: 'status' },
			h('strong', null, `Hardware changed (${changes.length})`),
			h('ul', null, changes.map((c) => h('li', null, `${c.part} ${c.change}: `,
				c.what ? mono(c.what) : [mono(c.was), ' → ', mono(c.now)]))),
			ack);
	}

	function fact(k, v) {
		return h('div', null, h('dt', null, k), h('dd', null, v === null || v === '' ? h('span', { class: 'muted' }, '–') : v));
	}

	// ---- actions ----
	// The forms are drawn once and refilled from the host when it changes, unless the
	// operator is in the middle of editing one.
	const bootSel = h('select', { id: 'next-boot', name: 'next_boot' }, lifecycle.actions.map((a) => h('option', { value: a.name }, `${a.name}: ${a.help}`)));
	const imageSel = h('select', { id: 'boot-image', name: 'image' });
	const onceRadio = h('input', { type: 'radio', name: 'once', id: 'once-yes', value: 'once' });
	const alwaysRadio = h('input', { type: 'radio', name: 'once', id: 'once-no', value: 'always' });
	const installSettings = h('p', { class: 'install-settings' });
	const installOpts = h('div', { class: 'install-opts' },
		h('label', { for: 'boot-image' }, 'Image'), imageSel,
		h('fieldset', { class: 'once' }, h('legend', { class: 'sr-only' }, 'How often'),
			h('label', null, onceRadio, ' Once, then boot local'),
			h('label', null, alwaysRadio, ' Every boot')),
		installSettings);
	const bootMsg = h('p', { class: 'form-msg', role: 'status' });
	const bootForm = h('form', { class: 'action', id: 'boot-form' },
		h('label', { for: 'next-boot', class: 'action-title' }, 'Next boot'), bootSel, installOpts,
		h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'apply-boot' }, 'Apply'), bootMsg));

	const nameInput = h('input', { id: 'hostname', name: 'hostname', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. web1.rack4' });
	const nameMsg = h('p', { class: 'form-msg', role: 'status' });
	const nameForm = h('form', { class: 'action', id: 'name-form' },
		h('label', { for: 'hostname', class: 'action-title' }, 'Hostname'),
		h('div', { class: 'row' }, nameInput, h('button', { type: 'submit' }, 'Save')), nameMsg);

	const keysArea = h('textarea', { id: 'ssh-keys', rows: 3, spellcheck: 'false', placeholder: 'ssh-ed25519 AAAA… operator@site (one per line)' });
	const keysMsg = h('p', { class: 'form-msg', role: 'status' });
	const keysForm = h('form', { class: 'action', id: 'keys-form' },
		h('label', { for: 'ssh-keys', class: 'action-title' }, 'SSH authorized keys'), keysArea,
		h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save keys'), keysMsg));

	// Tags and attributes: the operator's words for the host, which searches find (tag:db, rack=r12).
	const tagsInput = h('input', { id: 'tags', name: 'tags', autocomplete: 'off', spellcheck: 'false', placeholder: 'db rack-12' });
	const attrsArea = h('textarea', { id: 'attributes', rows: 3, spellcheck: 'false', placeholder: 'rack=r12 (one NAME=VALUE a line)' });
	const labelsMsg = h('p', { class: 'form-msg', role: 'status' });
	const labelsForm = h('form', { class: 'action', id: 'labels-form' },
		h('label', { for: 'tags', class: 'action-title' }, 'Tags'), tagsInput,
		h('label', { for: 'attributes', class: 'action-title' }, 'Attributes'), attrsArea,
		h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save tags and attributes'), labelsMsg));

	const statusRow = h('div', { class: 'row wrap' });
	const statusMsg = h('p', { class: 'form-msg', role: 'status' });
	const statusBox = h('div', { class: 'action' }, h('div', { class: 'action-title' }, 'Status'), statusRow, statusMsg);

	const deleteBtn = h('button', { type: 'button', class: 'danger', id: 'delete-host' }, 'Delete host…');
	const dangerBox = h('div', { class: 'action danger-zone' }, deleteBtn,
		h('p', { class: 'muted small' }, 'Forgets the host, its inventory and events. If it boots again it comes back as new.'));

	const install = installForm(async (settings, msgEl) => {
		if (await patch({ install: settings }, msgEl, 'Install settings saved.')) { dirty.delete('install'); redraw(); }
	});

	const power = powerBox(() => host);
	clear(actions, h('h2', { id: 'actions-title' }, 'Actions'), power.box, bootForm, install.form, nameForm, statusBox, labelsForm, keysForm, dangerBox);
	const dirty = new Set();
	for (const [form, key] of [[bootForm, 'boot'], [install.form, 'install'], [nameForm, 'name'], [keysForm, 'keys'], [labelsForm, 'labels']]) {
		form.addEventListener('input', () => dirty.add(key));
		form.addEventListener('change', () => dirty.add(key));
	}
	bootSel.addEventListener('change', () => { installOpts.hidden = !action(bootSel.value).image; });

	function fillActions() {
		if (!dirty.has('boot')) {
			bootSel.value = host.next_boot || lifecycle.actions[0].name;
			installOpts.hidden = !action(bootSel.value).image;
			drawImageOptions();
			(host.once || !action(host.next_boot).image ? onceRadio : alwaysRadio).checked = true;
		}
		installSettings.textContent = installText(host.install);
		if (!dirty.has('install')) install.fill(host);
		if (!dirty.has('name')) nameInput.value = host.hostname || '';
		if (!dirty.has('keys')) keysArea.value = (host.ssh_authorized_keys || []).join('\n');
		if (!dirty.has('labels')) {
			tagsInput.value = (host.tags || []).join(' ');
			attrsArea.value = Object.entries(host.attributes || {}).map(([k, v]) => `${k}=${v}`).join('\n');
		}
		// The operator moves the lifecycle allows from this status (GET /api/v1/meta).
		const targets = Object.keys(lifecycle.transitions[host.status] || {})
			.map((s) => [s, `Set ${s}${lifecycle.statuses[s].confirm ? '…' : ''}`]);
		const focused = statusRow.contains(document.activeElement) ? document.activeElement.dataset.status : null;
		clear(statusRow, h('span', { class: 'now' }, 'Now ', statusBadge(host.status)),
			targets.map(([s, label]) => h('button', { type: 'button', dataset: { status: s }, onclick: () => setStatus(s) }, label)));
		if (focused) statusRow.querySelector(`[data-status="${focused}"]`)?.focus();
	}

	function drawImageOptions() {
		const cur = host.image;
		const names = images.map((i) => i.name);
		clear(imageSel,
			images.length || cur ? null : h('option', { value: '' }, 'No images: add one under Images'),
			cur && !names.includes(cur) ? h('option', { value: cur }, cur) : null,
			images.map((i) => h('option', { value: i.name }, `${i.name} (${i.format}${i.size ? `, ${bytes(i.size)}` : ''})`)));
		if (cur) imageSel.value = cur;
	}

	async function patch(body, msgEl, okText) {
		msgEl.className = 'form-msg';
		msgEl.textContent = 'Saving…';
		try {
			host = await api('PATCH', hostPath(host.id), body);
			msgEl.textContent = okText;
			msgEl.classList.add('ok');
			setTimeout(() => { if (msgEl.textContent === okText) msgEl.textContent = ''; }, 4000);
			return true;
		} catch (e) {
			msgEl.textContent = e.message;
			msgEl.classList.add('error');
			return false;
		}
	}

	bootForm.addEventListener('submit', async (e) => {
		e.preventDefault();
		const next = bootSel.value;
		const body = { next_boot: next };
		if (action(next).image) {
			if (!imageSel.value) { bootMsg.className = 'form-msg error'; bootMsg.textContent = 'Choose an image first (add one under Images).'; return; }
			body.image = imageSel.value;
			body.once = onceRadio.checked;
			const ok = await confirmDialog({
				title: `Install ${body.image} on ${hostLabel(host)}?`,
				body: [h('p', null, 'On its next network boot this host ', h('strong', null, 'erases its disk'), ' and writes the image ',
					h('span', { class: 'mono' }, body.image), '.'),
				h('p', { class: 'muted' }, body.once ? 'Once: after a successful install it boots from its local disk.'
					: 'Every boot: it reinstalls each time it network-boots, until you change this.')],
				ok: 'Install', danger: true,
			});
			if (!ok) return;
		}
		if (await patch(body, bootMsg, 'Next boot set.')) { dirty.delete('boot'); redraw(); }
	});
	nameForm.addEventListener('submit', async (e) => {
		e.preventDefault();
		const v = nameInput.value.trim();
		if (await patch({ hostname: v || null }, nameMsg, 'Hostname saved.')) { dirty.delete('name'); redraw(); }
	});
	keysForm.addEventListener('submit', async (e) => {
		e.preventDefault();
		const keys = keysArea.value.split('\n').map((k) => k.trim()).filter(Boolean);
		if (await patch({ ssh_authorized_keys: keys }, keysMsg, `${keys.length} key${keys.length === 1 ? '' : 's'} saved.`)) { dirty.delete('keys'); redraw(); }
	});

	labelsForm.addEventListener('submit', async (e) => {
		e.preventDefault();
		const tags = tagsInput.value.split(/[\s,]+/).filter(Boolean);
		const attributes = {};
		for (const name of Object.keys(host.attributes || {})) attributes[name] = null; // gone unless given
		for (const line of attrsArea.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
			const eq = line.indexOf('=');
			if (eq < 1) { labelsMsg.className = 'form-msg error'; labelsMsg.textContent = `"${line}" is not NAME=VALUE`; return; }
			attributes[line.slice(0, eq).trim()] = line.slice(eq + 1).trim() || null;
		}
		if (await patch({ tags, attributes }, labelsMsg, 'Tags and attributes saved.')) { dirty.delete('labels'); redraw(); }
	});

	async function setStatus(s) {
		if (lifecycle.statuses[s].confirm) {
			const ok = await confirmDialog({
				title: `Decommission ${hostLabel(host)}?`,
				body: h('p', null, 'The host is marked as out of service. It stays in the list and can be brought back to ready.'),
				ok: 'Decommission', danger: true,
			});
			if (!ok) return;
		}
		if (await patch({ status: s }, statusMsg, `Status: ${s}.`)) redraw();
	}

	deleteBtn.addEventListener('click', async () => {
		const ok = await confirmDialog({
			title: `Delete ${hostLabel(host)}?`,
			body: [h('p', null, 'This forgets the host, its inventory, events and next-boot assignment. This cannot be undone.'),
				h('p', { class: 'muted' }, 'If the machine network-boots again it reappears as a new host.')],
			ok: 'Delete host', danger: true,
		});
		if (!ok) return;
		try {
			await api('DELETE', hostPath(host.id));
			toast(`Deleted ${hostLabel(host)}.`);
			location.hash = '#/hosts';
		} catch (e) {
			toast(`Could not delete: ${e.message}`, 'error');
		}
	});

	// ---- events ----
	// The history: every event, or (the box ticked) only the changes someone made, with who.
	let lastEvents = [];
	const changesOnly = h('input', { type: 'checkbox', id: 'changes-only' });
	changesOnly.addEventListener('change', () => drawEvents(lastEvents));
	const isChange = (ev) => !!ev.actor || ev.source === 'operator';
	function drawEvents(list) {
		lastEvents = list;
		const newest = [...list].reverse().filter((ev) => !changesOnly.checked || isChange(ev));
		clear(events, h('h2', { id: 'events-title' }, 'Events', h('span', { class: 'section-sum' }, list.length >= EVENT_LIMIT ? `newest ${EVENT_LIMIT}` : String(list.length))),
			h('label', { class: 'small changes-only' }, changesOnly, ' Only changes, with who made them'),
			newest.length ? h('ol', { class: 'timeline', id: 'events' }, newest.map(eventItem))
				: h('p', { class: 'muted small' }, changesOnly.checked ? 'Nobody has changed this host yet.' : 'Nothing has happened to this host yet.'));
	}

	function eventItem(ev) {
		const err = ev.level === 'error';
		const hasBytes = Number.isFinite(ev.bytes) && Number.isFinite(ev.total) && ev.total > 0;
		const pct = hasBytes ? (100 * ev.bytes) / ev.total : 0;
		return h('li', { class: `ev ev-${err ? 'error' : 'info'} src-${ev.source}`, dataset: { id: ev.id } },
			h('div', { class: 'ev-meta' },
				timeEl(ev.time), ' ',
				h('span', { class: 'ev-source' }, ev.source), ev.phase ? [' ', h('span', { class: 'ev-phase' }, ev.phase)] : null,
				err ? [' ', h('span', { class: 'ev-level' }, 'error')] : null,
				ev.actor ? [' ', h('span', { class: 'ev-actor', title: 'who did it' }, `by ${ev.actor}`)] : null),
			h('div', { class: 'ev-msg' }, ev.message || ''),
			hasBytes ? h('div', { class: 'ev-progress' }, progressBar(pct, 'progress of this step', 'thin'),
				h('span', { class: 'small muted' }, `${Math.floor(pct)}% · ${bytes(ev.bytes)} of ${bytes(ev.total)}`)) : null);
	}

	// ---- loading ----
	function redraw() {
		drawHeader();
		fillActions();
		power.redraw(host);
	}

	async function load(first) {
		try {
			const [x, ev, im] = await Promise.all([
				api('GET', hostPath(ref)),
				api('GET', `${hostPath(ref)}/events?limit=${EVENT_LIMIT}`),
				first ? api('GET', '/images') : Promise.resolve(null),
			]);
			if (!alive) return;
			if (im) images = im.images;
			const hwChanged = !host || JSON.stringify(host.inventory) !== JSON.stringify(x.inventory);
			host = x;
			redraw();
			if (hwChanged) clear(hw, hardware(host.inventory));
			drawEvents(ev.events);
		} catch (e) {
			if (!alive || (e instanceof ApiError && e.status === 401)) return;
			if (e.status === 404) {
				clear(gone, host ? `${hostLabel(host)} was deleted. ` : `There is no host "${ref}". `, h('a', { href: '#/hosts' }, 'Back to the hosts'));
				gone.hidden = false;
				for (const b of actions.querySelectorAll('button, input, select, textarea')) b.disabled = true;
				if (!host) { header.hidden = true; root.querySelector('.host-grid').hidden = true; }
				return;
			}
			toast(`Could not load the host: ${e.message}`, 'error');
		}
	}

	load(true);
	return {
		unmount() { alive = false; clearTimeout(refreshTimer); },
		live(ev) {
			if (ev.type === 'host' && host && ev.id !== host.id) return;
			clearTimeout(refreshTimer);
			refreshTimer = setTimeout(() => load(false), 80);
		},
	};
}

// #/hosts: every host in one table, searchable and sortable, updated live.

import { api, ApiError, listHosts } from './api.js';
import {
	DASH, STATUSES, action, bytes, clear, cpuShort, h, hostLabel, mono, statusBadge, timeEl, toast,
} from './dom.js';
import { progressBlock } from './progress.js';
import { completion, savedSearches } from './searchbox.js';

// The columns: key, header, what sorts, and how a cell is drawn.
const COLUMNS = [
	{ key: 'hostname', label: 'Host', sort: (x) => x.hostname || `\uffff${String(x.id).padStart(10, '0')}` },
	{ key: 'status', label: 'Status', sort: (x) => STATUSES.indexOf(x.status) },
	{ key: 'next_boot', label: 'Next boot', sort: (x) => x.next_boot || '' },
	{ key: 'image', label: 'Image', sort: (x) => x.image || '\uffff' },
	{ key: 'macs', label: 'MACs', sort: (x) => (x.macs && x.macs[0]) || '\uffff' },
	{ key: 'serial', label: 'Serial', sort: (x) => x.serial || '\uffff' },
	{ key: 'product', label: 'Product', sort: (x) => `${x.vendor || '\uffff'} ${x.product || ''}` },
	{ key: 'cpu', label: 'CPU', sort: (x) => facts(x).threads ?? -1 },
	{ key: 'memory', label: 'Memory', sort: (x) => facts(x).memory ?? -1 },
	{ key: 'disks', label: 'Disks', sort: (x) => facts(x).diskBytes ?? -1 },
	{ key: 'last_seen', label: 'Last seen', sort: (x) => (x.last_seen ? Date.parse(x.last_seen) : 0) },
	{ key: 'power', label: 'Power', sort: (x) => (x.power && x.power.state) || '\uffff' },
];

// facts(host): CPU, memory and disk facts from the list's summary, or from a full inventory.
export function facts(host) {
	const s = host.summary;
	if (s) {
		return { cpu: s.cpu_model, sockets: s.cpu_sockets, threads: s.cpu_threads, memory: s.memory_bytes,
			diskCount: s.disk_count, diskBytes: s.disk_bytes, firmware: s.firmware };
	}
	const inv = host.inventory;
	if (inv) {
		const disks = Array.isArray(inv.disks) ? inv.disks : [];
		return { cpu: inv.cpu?.model, sockets: inv.cpu?.sockets, threads: inv.cpu?.threads,
			memory: inv.memory?.total_bytes, diskCount: disks.length,
			diskBytes: disks.reduce((a, d) => a + (d.size_bytes || 0), 0), firmware: inv.firmware };
	}
	return {};
}

// haystack(host): what the search box matches against, lower-cased.
function haystack(host) {
	const f = facts(host);
	const macs = host.macs || [];
	return [
		host.id, host.hostname, host.status, host.next_boot, host.image, ...macs,
		...macs.map((m) => m.replace(/:/g, '')), host.serial, host.uuid, host.vendor, host.product,
		host.asset, f.cpu, f.firmware, ...(host.tags || []),
	].filter((v) => v !== null && v !== undefined).join(' ').toLowerCase();
}

// A search with an operator or a keyword: anemosd's language, not words to match here.
const STRUCTURED = /[:=<>~()]|(^|\s)-\S|(^|\s)(OR|AND|NOT)(\s|$)|(^|[\s(-])@\S/;

function matches(host, terms) {
	const hay = haystack(host);
	return terms.every((t) => hay.includes(t) || hay.includes(t.replace(/-/g, ':')));
}

export function nextBootText(host) {
	if (action(host.next_boot).image) return `install ${host.image || '(no image)'} · ${host.once ? 'once' : 'always'}`;
	return host.next_boot || DASH;
}

function cell(col, host) {
	const f = facts(host);
	switch (col.key) {
	case 'hostname':
		return h('td', { class: 'c-host' },
			h('a', { href: `#/hosts/${host.id}`, class: `host-link${host.hostname ? '' : ' unnamed'}` }, hostLabel(host)));
	case 'status':
		return h('td', { class: 'c-status' }, statusBadge(host.status), progressBlock(host, 'compact'));
	case 'next_boot':
		return h('td', { class: 'c-boot' }, action(host.next_boot).image
			? [h('span', { class: 'boot-install' }, host.next_boot), ' ',
				h('span', { class: 'tag' }, host.once ? 'once' : 'always')]
			: h('span', { class: action(host.next_boot).network === false ? 'muted' : '' }, host.next_boot || DASH));
	case 'image':
		return h('td', { class: 'c-image' }, host.image ? h('span', { class: 'mono' }, host.image) : h('span', { class: 'muted' }, DASH));
	case 'macs': {
		const macs = host.macs || [];
		return h('td', { class: 'c-macs', title: macs.join('\n') || null },
			macs.length ? macs.slice(0, 2).map((m) => h('div', { class: 'mono' }, m)) : h('span', { class: 'muted' }, DASH),
			macs.length > 2 ? h('div', { class: 'muted small' }, `+${macs.length - 2} more`) : null);
	}
	case 'serial':
		return h('td', { class: 'c-serial' }, mono(host.serial));
	case 'product':
		return h('td', { class: 'c-product' },
			host.product || host.vendor
				? [h('div', null, host.product || DASH), host.vendor ? h('div', { class: 'muted small' }, host.vendor) : null]
				: h('span', { class: 'muted' }, DASH));
	case 'cpu':
		return h('td', { class: 'c-cpu', title: f.cpu || null },
			f.cpu ? [h('div', null, `${f.sockets > 1 ? `${f.sockets}× ` : ''}${cpuShort(f.cpu)}`),
				f.threads ? h('div', { class: 'muted small' }, `${f.threads} threads`) : null]
				: h('span', { class: 'muted' }, DASH));
	case 'memory':
		return h('td', { class: 'c-mem num' }, f.memory ? bytes(f.memory) : h('span', { class: 'muted' }, DASH));
	case 'disks':
		return h('td', { class: 'c-disks num' }, f.diskCount
			? [h('div', null, bytes(f.diskBytes)), h('div', { class: 'muted small' }, `${f.diskCount} disk${f.diskCount === 1 ? '' : 's'}`)]
			: h('span', { class: 'muted' }, DASH));
	case 'last_seen':
		return h('td', { class: 'c-seen' }, timeEl(host.last_seen));
	case 'power':
		return h('td', { class: 'c-power' }, host.power && host.power.state
			? h('span', { class: `power-${host.power.state}`, title: host.power.error || null }, host.power.state)
			: h('span', { class: 'muted' }, DASH));
	default:
		return h('td');
	}
}

// blank(td): marks a cell with nothing to show, so the phone layout can leave it out.
function markBlank(td) {
	if (td.children.length === 1 && td.firstElementChild.classList.contains('muted') && td.textContent === DASH) td.classList.add('blank');
	return td;
}

export function hostsView(root, routeInfo) {
	document.title = 'Hosts · Anemos';
	const hosts = new Map();
	const rows = new Map(); // id -> {host, tr}
	let query = routeInfo.params.get('q') || '';
	let statusFilter = routeInfo.params.get('status') || '';
	let sortKey = routeInfo.params.get('sort') || 'hostname';
	let sortDir = routeInfo.params.get('dir') === 'desc' ? -1 : 1;
	let alive = true;
	let pending = new Set();
	let flushTimer = null;
	// A search in the language (tag:db memory>=64G -tag:retired) is anemosd's to answer:
	// the ids it found, its refusal, and which of our questions is the latest.
	let found = null;
	let searchError = '';
	let searchSeq = 0;
	let searchTimer = null;

	const search = h('input', {
		type: 'search', id: 'host-search', value: query, autocomplete: 'off', spellcheck: 'false',
		placeholder: 'Search name, MAC, serial… or tag:db memory>=64G', 'aria-label': 'Search hosts',
		title: 'Words match name, MAC, serial, product, CPU, tags. KEY:VALUE, KEY>=N, -TERM, OR and ( ) search with anemosd\'s language (docs/search.md)',
		'aria-keyshortcuts': '/',
	});
	const saved = savedSearches({ current: () => query, use: (q) => { search.value = q; query = q; askServer(); draw(); } });
	const keys = completion(search, {
		attributes: () => [...new Set([...hosts.values()].flatMap((x) => Object.keys(x.attributes || {})))].sort(),
		saved: () => saved.names(),
		onPick: () => { query = search.value; askServer(); draw(); },
	});
	const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filter by status' });
	const sortSelect = h('select', { class: 'sort-select', 'aria-label': 'Sort by' },
		COLUMNS.flatMap((c) => [
			h('option', { value: `${c.key}:asc` }, `${c.label} ↑`),
			h('option', { value: `${c.key}:desc` }, `${c.label} ↓`)]));
	const count = h('p', { class: 'count muted', role: 'status', 'aria-live': 'polite' });
	const tbody = h('tbody');
	const headRow = h('tr');
	const table = h('table', { class: 'hosts', id: 'hosts-table' }, h('caption', { class: 'sr-only' }, 'Hosts'), h('thead', null, headRow), tbody);
	const empty = h('div', { class: 'empty', hidden: true });
	const searchNote = h('p', { class: 'error search-error', id: 'search-error', role: 'alert', hidden: true });
	clear(root,
		h('div', { class: 'page-head' }, h('h1', null, 'Hosts'), count),
		h('div', { class: 'toolbar' }, h('div', { class: 'search' }, search, keys), saved.select, saved.open, sortSelect),
		saved.form,
		searchNote,
		chips,
		h('div', { class: 'table-wrap' }, table),
		empty);

	for (const col of COLUMNS) {
		const btn = h('button', { type: 'button', class: 'sort', dataset: { key: col.key } },
			col.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }));
		btn.addEventListener('click', () => {
			if (sortKey === col.key) sortDir = -sortDir; else { sortKey = col.key; sortDir = col.key === 'last_seen' ? -1 : 1; }
			draw();
		});
		headRow.appendChild(h('th', { scope: 'col', class: `c-${col.key}`, dataset: { key: col.key } }, btn));
	}

	search.addEventListener('input', () => { query = search.value; askServer(); draw(); });
	search.addEventListener('keydown', (e) => {
		if (e.key === 'Escape' && search.value) { search.value = ''; query = ''; askServer(); draw(); }
	});

	// Plain words are matched here as they are typed; anything with an operator goes to
	// anemosd (after a pause in typing), which answers the ids it finds or where it is wrong.
	function askServer() {
		clearTimeout(searchTimer);
		if (!STRUCTURED.test(query)) {
			found = null;
			searchError = '';
			return;
		}
		const seq = ++searchSeq, q = query;
		searchTimer = setTimeout(async () => {
			const ids = new Set();
			try {
				await listHosts((list) => list.forEach((x) => ids.add(x.id)), q);
				if (seq !== searchSeq) return;
				found = ids;
				searchError = '';
			} catch (e) {
				if (seq !== searchSeq) return;
				found = new Set();
				searchError = e.message;
			}
			draw();
		}, 250);
	}
	sortSelect.addEventListener('change', () => {
		const [k, d] = sortSelect.value.split(':');
		sortKey = k; sortDir = d === 'desc' ? -1 : 1;
		draw();
	});
	// A click anywhere on a row opens the host, as its link does by keyboard.
	tbody.addEventListener('click', (e) => {
		if (e.target.closest('a, button') || String(window.getSelection())) return;
		const tr = e.target.closest('tr[data-id]');
		if (tr) location.hash = `#/hosts/${tr.dataset.id}`;
	});

	function keepInUrl() {
		const p = new URLSearchParams();
		if (query) p.set('q', query);
		if (statusFilter) p.set('status', statusFilter);
		if (sortKey !== 'hostname') p.set('sort', sortKey);
		if (sortDir < 0) p.set('dir', 'desc');
		const s = p.toString();
		history.replaceState(null, '', `#/hosts${s ? `?${s}` : ''}`);
	}

	function rowFor(host) {
		const known = rows.get(host.id);
		if (known && known.host === host) return known.tr;
		const tr = h('tr', { dataset: { id: host.id, status: host.status } }, COLUMNS.map((c) => markBlank(cell(c, host))));
		if (known && known.tr.parentNode) known.tr.replaceWith(tr);
		rows.set(host.id, { host, tr });
		return tr;
	}

	function drawChips(all) {
		const counts = {};
		for (const x of all) counts[x.status] = (counts[x.status] || 0) + 1;
		const chip = (value, label, n) => {
			const b = h('button', { type: 'button', class: `chip${value ? ` st-${value}` : ''}`, 'aria-pressed': String(statusFilter === value) },
				label, h('span', { class: 'chip-n' }, String(n)));
			b.addEventListener('click', () => { statusFilter = statusFilter === value && value ? '' : value; draw(); });
			return b;
		};
		const focused = document.activeElement && chips.contains(document.activeElement) ? document.activeElement.textContent : null;
		clear(chips, chip('', 'All', all.length),
			STATUSES.filter((s) => counts[s] || statusFilter === s).map((s) => chip(s, s, counts[s] || 0)));
		if (focused) [...chips.children].find((c) => c.textContent === focused)?.focus();
	}

	function draw() {
		if (!alive) return;
		keepInUrl();
		const all = [...hosts.values()];
		drawChips(all);
		const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
		const col = COLUMNS.find((c) => c.key === sortKey) || COLUMNS[0];
		const structured = STRUCTURED.test(query);
		const shown = all.filter((x) => (!statusFilter || x.status === statusFilter) &&
			(structured ? !!found && found.has(x.id) : matches(x, terms)));
		searchNote.textContent = searchError;
		searchNote.hidden = !searchError;
		saved.setEnabled(!!query.trim() && !searchError);
		shown.sort((a, b) => {
			const va = col.sort(a), vb = col.sort(b);
			const c = typeof va === 'number' && typeof vb === 'number' ? va - vb
				: String(va).localeCompare(String(vb), undefined, { numeric: true, sensitivity: 'base' });
			return c * sortDir || a.id - b.id;
		});
		for (const th of headRow.children) {
			const on = th.dataset.key === sortKey;
			if (on) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending'); else th.removeAttribute('aria-sort');
		}
		sortSelect.value = `${sortKey}:${sortDir > 0 ? 'asc' : 'desc'}`;
		const wanted = shown.map(rowFor);
		const same = wanted.length === tbody.children.length && wanted.every((tr, i) => tbody.children[i] === tr);
		if (!same) tbody.replaceChildren(...wanted);
		for (const id of rows.keys()) if (!hosts.has(id)) rows.delete(id);
		count.textContent = shown.length === all.length ? `${all.length} host${all.length === 1 ? '' : 's'}`
			: `${shown.length} of ${all.length} hosts`;
		table.hidden = shown.length === 0;
		empty.hidden = shown.length !== 0;
		if (!all.length) {
			clear(empty, h('p', null, h('strong', null, 'No hosts yet.')),
				h('p', { class: 'muted' }, 'Machines appear here when they network-boot from this anemosd (',
					h('code', null, '/boot.ipxe'), '), or enrol one ahead of time with ', h('code', null, 'anemosctl host add'), '.'));
		} else if (!shown.length) {
			clear(empty, h('p', null, 'No host matches ', h('strong', null, query || statusFilter), '.'),
				h('button', { type: 'button', class: 'quiet', onclick: () => { query = ''; statusFilter = ''; search.value = ''; draw(); search.focus(); } }, 'Clear the search'));
		}
	}

	async function loadAll() {
		try {
			let first = true;
			await listHosts((list) => {
				if (!alive) return;
				if (first) hosts.clear();
				first = false;
				for (const x of list) hosts.set(x.id, x);
				draw();
			});
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) return;
			count.textContent = '';
			clear(empty, h('p', { class: 'error' }, `Could not load the hosts: ${e.message}`));
			empty.hidden = false;
			table.hidden = true;
		}
	}

	// Live: fetch each changed host (404: deleted); a burst of changes reloads the list.
	async function flush() {
		flushTimer = null;
		askServer(); /* what changed may change what a search finds */
		const ids = [...pending];
		pending = new Set();
		if (ids.length > 25) { await loadAll(); return; }
		await Promise.all(ids.map(async (id) => {
			try {
				const x = await api('GET', `/hosts/${id}`);
				x.inventory = null;
				hosts.set(id, x);
			} catch (e) {
				if (e.status === 404) hosts.delete(id);
				else if (e.status !== 401) toast(`Could not refresh host ${id}: ${e.message}`, 'error');
			}
		}));
		draw();
	}

	loadAll();
	askServer();
	if (matchMedia("(min-width: 721px)").matches) search.focus();
	return {
		unmount() { alive = false; clearTimeout(flushTimer); },
		live(ev) {
			if (ev.type === 'resync') { loadAll(); return; }
			pending.add(ev.id);
			if (!flushTimer) flushTimer = setTimeout(flush, 100);
		},
	};
}

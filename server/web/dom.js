// DOM building and formatting shared by the views. Everything that comes from a machine
// (hostnames, serials, event messages) reaches the page as text nodes or attribute values,
// never as HTML.

// h(tag, attrs, ...children): a new element. attrs: "class", "style" (an object), "on<event>"
// (a function), "dataset" (an object), booleans as properties, anything else as an attribute.
// Children: strings and numbers become text nodes, arrays are flattened, null/false skipped.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === 'class') el.className = v;
		else if (k === 'style') Object.assign(el.style, v);
		else if (k === 'dataset') Object.assign(el.dataset, v);
		else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (v === true) el.setAttribute(k, '');
		else el.setAttribute(k, String(v));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else if (c instanceof Node) el.appendChild(c);
		else el.appendChild(document.createTextNode(String(c)));
	}
}

// clear(el, ...children): replaces el's children.
export function clear(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

export const DASH = '–';

// bytes(n): binary units, as operators read RAM and disk sizes (GiB, TiB).
export function bytes(n) {
	if (n === null || n === undefined || !Number.isFinite(Number(n))) return DASH;
	n = Number(n);
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
	let i = 0;
	while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
	const digits = i === 0 || n >= 100 ? 0 : 1;
	return `${n.toFixed(digits).replace(/\.0$/, '')} ${units[i]}`;
}

export function rate(bytesPerSecond) {
	return bytesPerSecond > 0 ? `${bytes(bytesPerSecond)}/s` : '';
}

function pad(n) { return String(n).padStart(2, '0'); }

// exactTime(iso): "2026-11-24 21:01:02" in the browser's time zone, with its offset.
export function exactTime(iso) {
	const d = new Date(iso);
	if (!iso || Number.isNaN(d.getTime())) return '';
	const off = -d.getTimezoneOffset();
	const zone = `UTC${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
		`${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}

// relTime(iso): "just now", "5 min ago", "3 h ago", "2 d ago", or the date when older.
export function relTime(iso) {
	if (!iso) return 'never';
	const t = new Date(iso).getTime();
	if (Number.isNaN(t)) return DASH;
	const s = Math.round((Date.now() - t) / 1000);
	if (s < 10) return 'just now';
	if (s < 60) return `${s} s ago`;
	if (s < 3600) return `${Math.floor(s / 60)} min ago`;
	if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
	if (s < 30 * 86400) return `${Math.floor(s / 86400)} d ago`;
	return exactTime(iso).slice(0, 10);
}

// timeEl(iso): a <time> that shows the relative time and carries the exact one in its title;
// refreshRelativeTimes() brings every such element up to date.
export function timeEl(iso, cls) {
	if (!iso) return h('span', { class: `muted ${cls || ''}` }, 'never');
	return h('time', { class: cls, datetime: iso, title: exactTime(iso), dataset: { rel: '1' } }, relTime(iso));
}

export function refreshRelativeTimes(root = document) {
	for (const el of root.querySelectorAll('time[data-rel]')) el.textContent = relTime(el.dateTime);
}

// cpuShort(model): "Intel Xeon Gold 6230" from "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz".
export function cpuShort(model) {
	if (!model) return '';
	return model.replace(/\((R|TM|tm|r)\)/g, '').replace(/\s+@.*$/, '').replace(/\s+(CPU|Processor)\b/g, '')
		.replace(/\s+\d+-Core\b/, '').replace(/\s+/g, ' ').trim();
}

// mono(text): a value read character by character (MACs, serials, hashes).
export function mono(text, attrs = {}) {
	if (text === null || text === undefined || text === '') return h('span', { class: 'muted' }, DASH);
	return h('span', { ...attrs, class: `mono ${attrs.class || ''}` }, String(text));
}

export function orDash(v) {
	return v === null || v === undefined || v === '' ? DASH : String(v);
}

// progressBar(percent, label): an accessible bar; percent 0-100.
export function progressBar(percent, label, cls = '') {
	const p = Math.max(0, Math.min(100, Number(percent) || 0));
	return h('div', {
		class: `bar ${cls}`, role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
		'aria-valuenow': Math.floor(p), 'aria-label': label || 'progress',
	}, h('div', { class: 'bar-fill', style: { width: `${p}%` } }));
}

// The host lifecycle as anemosd tells it (GET /api/v1/meta, from lib/lifecycle.c): the
// statuses in display order, the next-boot actions, and per status the operator moves that
// change something. Filled once by setLifecycle before the first view is drawn; nothing in
// the dashboard spells a status or an action itself.
export const STATUSES = [];
export const lifecycle = { statuses: {}, actions: [], transitions: {} };
export function setLifecycle(meta) {
	STATUSES.splice(0, STATUSES.length, ...meta.statuses.map((s) => s.name));
	lifecycle.statuses = Object.fromEntries(meta.statuses.map((s) => [s.name, s]));
	lifecycle.actions = meta.next_boot;
	lifecycle.transitions = meta.transitions;
}
// action(name): the next-boot action's facts ({name, help, agent, image, network}), {} if unknown.
export const action = (name) => lifecycle.actions.find((a) => a.name === name) || {};

export function statusBadge(status) {
	const s = STATUSES.includes(status) ? status : 'unknown';
	return h('span', { class: `badge st-${s}` }, status || 'unknown');
}

// hostName(host): the hostname, or a placeholder that says there is none.
export function hostLabel(host) {
	return host.hostname || `unnamed #${host.id}`;
}

// toast(text, kind): a short message in the corner that goes away by itself.
export function toast(text, kind = 'info') {
	const box = document.getElementById('toasts');
	const el = h('div', { class: `toast toast-${kind}` }, text);
	box.appendChild(el);
	setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3500);
}

// confirmDialog({title, body, ok, danger}): resolves true when the operator confirms.
// The <dialog> is modal: focus stays inside and Escape cancels.
export function confirmDialog({ title, body, ok = 'OK', danger = false }) {
	const dlg = document.getElementById('confirm');
	document.getElementById('confirm-title').textContent = title;
	clear(document.getElementById('confirm-body'), body);
	const okBtn = document.getElementById('confirm-ok');
	okBtn.textContent = ok;
	okBtn.className = danger ? 'danger' : 'primary';
	dlg.returnValue = '';
	return new Promise((resolve) => {
		dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
		dlg.showModal();
		document.getElementById('confirm-cancel').focus();
	});
}

// The hosts page's search helpers: completion of the language's keys (and attribute names,
// and @saved searches) under the box, and the saved searches (GET/PUT /api/v1/searches).

import { api } from './api.js';
import { h, clear, toast } from './dom.js';

// The keys of the search language (docs/search.md); a name ending in '.' takes a field.
const KEYS = ['hostname', 'status', 'next', 'image', 'serial', 'uuid', 'vendor', 'product', 'asset',
	'firmware', 'cpu', 'cpu.sockets', 'cpu.threads', 'memory', 'disk.count', 'disk.total', 'mac', 'tag',
	'bmc', 'drift', 'nic.', 'disk.', 'dimm.', 'bios.', 'system.', 'baseboard.', 'chassis.'];

// The word being typed at the caret: its start, and its text (after a leading - or '(').
function wordAt(input) {
	const end = input.selectionStart ?? input.value.length;
	let start = end;
	while (start > 0 && !/[\s(]/.test(input.value[start - 1])) start--;
	if (input.value[start] === '-') start++;
	return { start, end, text: input.value.slice(start, end) };
}

// completion(input, {attributes(), saved(), onPick()}): a listbox of keys matching the word
// being typed; ArrowUp/Down choose, Tab or Enter take one, Escape closes it.
export function completion(input, source) {
	const list = h('ul', { class: 'search-keys', id: 'search-keys', role: 'listbox', hidden: true, 'aria-label': 'Search keys' });
	let items = [], active = 0;
	input.setAttribute('aria-controls', 'search-keys');
	input.setAttribute('aria-autocomplete', 'list');

	function candidates(word) {
		if (word.startsWith('@')) return source.saved().map((n) => `@${n}`).filter((n) => n.startsWith(word) && n !== word);
		if (!/^[a-z][a-z0-9_.-]*$/.test(word)) return [];
		const names = [...KEYS.map((k) => (k.endsWith('.') ? k : `${k}:`)), ...source.attributes().map((a) => `${a}=`)];
		return [...new Set(names)].filter((k) => k.startsWith(word) && k !== word).slice(0, 12);
	}
	function show() {
		items = candidates(wordAt(input).text);
		active = 0;
		clear(list, ...items.map((k, i) => h('li', {
			role: 'option', id: `search-key-${i}`, 'aria-selected': i === active ? 'true' : 'false',
			onmousedown: (e) => { e.preventDefault(); take(i); },
		}, k)));
		list.hidden = !items.length;
		if (items.length) input.setAttribute('aria-activedescendant', 'search-key-0');
		else input.removeAttribute('aria-activedescendant');
	}
	function mark() {
		[...list.children].forEach((li, i) => li.setAttribute('aria-selected', i === active ? 'true' : 'false'));
		input.setAttribute('aria-activedescendant', `search-key-${active}`);
	}
	function take(i) {
		const w = wordAt(input), k = items[i];
		const tail = k.startsWith('@') ? ' ' : '';
		input.value = input.value.slice(0, w.start) + k + tail + input.value.slice(w.end);
		const at = w.start + k.length + tail.length;
		input.setSelectionRange(at, at);
		list.hidden = true;
		items = [];
		source.onPick();
	}
	input.addEventListener('input', show);
	input.addEventListener('blur', () => { list.hidden = true; });
	input.addEventListener('keydown', (e) => {
		if (list.hidden || !items.length) return;
		if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
			active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
			mark();
			e.preventDefault();
		} else if (e.key === 'Tab' || e.key === 'Enter') {
			take(active);
			e.preventDefault();
		} else if (e.key === 'Escape') {
			list.hidden = true;
			e.stopImmediatePropagation();	/* the box's own Escape would clear the search */
		}
	});
	return list;
}

// savedSearches({current(), use(query)}): a select of the saved searches and a form that
// saves the current search under a name. .names() lists them for completion.
export function savedSearches({ current, use }) {
	let names = [];
	const select = h('select', { id: 'saved-search', 'aria-label': 'Saved searches' });
	const name = h('input', { id: 'save-search-name', type: 'text', placeholder: 'name', pattern: '[a-z0-9][a-z0-9._\\-]{0,63}',
		'aria-label': 'Name of the saved search', required: true, size: 12 });
	const form = h('form', { class: 'save-search', id: 'save-search-form', hidden: true },
		name, h('button', { type: 'submit', class: 'primary' }, 'Save'),
		h('button', { type: 'button', class: 'quiet', onclick: () => { form.hidden = true; } }, 'Cancel'));
	const open = h('button', { type: 'button', class: 'quiet', id: 'save-search', title: 'Save this search under a name; @NAME then stands for it' },
		'Save search');
	async function load() {
		try {
			const all = (await api('GET', '/searches')).searches;
			names = all.map((s) => s.name);
			clear(select, h('option', { value: '' }, 'Saved searches…'),
				...all.map((s) => h('option', { value: `@${s.name}`, title: s.query }, `@${s.name} — ${s.query}`)));
			select.hidden = !all.length;
		} catch (e) {
			if (e.status !== 401) toast(`Could not load the saved searches: ${e.message}`, 'error');
		}
	}
	select.addEventListener('change', () => { if (select.value) use(select.value); select.value = ''; });
	open.addEventListener('click', () => { form.hidden = false; name.focus(); });
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		try {
			await api('PUT', `/searches/${encodeURIComponent(name.value)}`, { query: current() });
			toast(`Saved as @${name.value}`);
			form.hidden = true;
			name.value = '';
			await load();
		} catch (err) {
			toast(`Could not save the search: ${err.message}`, 'error');
		}
	});
	load();
	return { select, open, form, names: () => names, setEnabled(on) { open.hidden = !on; } };
}

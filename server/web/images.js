// #/images: the images hosts can install: list with format, size and SHA-256; add one by
// URL and SHA-256; delete one no host uses.

import { api, ApiError } from './api.js';
import { DASH, bytes, clear, confirmDialog, h, mono, timeEl, toast } from './dom.js';

const FORMATS = ['tar', 'tar.gz', 'tar.xz', 'tar.zst', 'raw', 'raw.gz', 'raw.xz', 'raw.zst'];

// guess(url): the name and format an image URL suggests ("…/debian-12.raw.zst").
function guess(url) {
	const file = (url.split(/[?#]/)[0].split('/').pop() || '').toLowerCase();
	const format = [...FORMATS].sort((a, b) => b.length - a.length).find((f) => file.endsWith(`.${f}`))
		|| (file.endsWith('.img') ? 'raw' : file.endsWith('.tgz') ? 'tar.gz' : '');
	let name = format ? file.slice(0, -(format.length + 1)) : file.replace(/\.[^.]*$/, '');
	name = name.replace(/[^a-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 64);
	return { name, format };
}

export function imagesView(root) {
	document.title = 'Images · Anemos';
	let alive = true;
	let users = new Map(); // image name -> hosts using it

	const tbody = h('tbody');
	const table = h('table', { class: 'images' },
		h('thead', null, h('tr', null, ['Name', 'Format', 'Size', 'SHA-256', 'Source', 'Used by', 'Added', ''].map((t, i) =>
			h('th', { scope: 'col', class: i === 2 || i === 5 ? 'num' : null }, t ? t : h('span', { class: 'sr-only' }, 'Actions'))))),
		tbody);
	const count = h('p', { class: 'count muted', role: 'status' });
	const listMsg = h('div', { class: 'empty', hidden: true });

	const name = h('input', { id: 'img-name', required: true, pattern: '[a-z0-9_][a-z0-9._-]{0,63}', autocomplete: 'off', spellcheck: 'false', placeholder: 'debian-12' });
	const url = h('input', { id: 'img-url', type: 'url', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://images.example.net/debian-12.raw.zst' });
	const sha = h('input', { id: 'img-sha', required: true, pattern: '[0-9a-fA-F]{64}', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: '64 hex digits' });
	const format = h('select', { id: 'img-format' }, FORMATS.map((f) => h('option', { value: f }, f)));
	const addMsg = h('p', { class: 'form-msg', role: 'status' });
	let nameTouched = false, formatTouched = false;
	name.addEventListener('input', () => { nameTouched = true; });
	format.addEventListener('change', () => { formatTouched = true; });
	url.addEventListener('input', () => {
		const g = guess(url.value);
		if (!nameTouched && g.name) name.value = g.name;
		if (!formatTouched && g.format) format.value = g.format;
	});
	const form = h('form', { class: 'panel add-image', id: 'add-image', novalidate: true },
		h('h2', null, 'Add an image'),
		h('p', { class: 'muted small' }, 'Hosts download it from the URL and refuse it unless its SHA-256 matches. To upload a file instead use ',
			h('code', null, 'anemosctl image add'), '.'),
		h('div', { class: 'grid-form' },
			h('label', { for: 'img-url' }, 'URL'), url,
			h('label', { for: 'img-sha' }, 'SHA-256'), sha,
			h('label', { for: 'img-name' }, 'Name'), name,
			h('label', { for: 'img-format' }, 'Format'), format),
		h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Add image'), addMsg));

	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		addMsg.className = 'form-msg error';
		const problem = !/^https?:\/\/\S+$/i.test(url.value.trim()) ? 'The URL must start with http:// or https://.'
			: !/^[0-9a-f]{64}$/i.test(sha.value.trim()) ? 'The SHA-256 is 64 hexadecimal digits.'
			: !/^[a-z0-9_][a-z0-9._-]{0,63}$/.test(name.value.trim()) ? 'The name is 1-64 of a-z 0-9 . _ - (not starting with . or -).'
			: null;
		if (problem) { addMsg.textContent = problem; return; }
		addMsg.className = 'form-msg';
		addMsg.textContent = 'Adding…';
		try {
			const img = await api('POST', '/images', { name: name.value.trim(), url: url.value.trim(), sha256: sha.value.trim().toLowerCase(), format: format.value });
			addMsg.className = 'form-msg ok';
			addMsg.textContent = `Added ${img.name}.`;
			form.reset();
			nameTouched = formatTouched = false;
			load();
		} catch (err) {
			addMsg.className = 'form-msg error';
			addMsg.textContent = err.message;
		}
	});

	clear(root,
		h('div', { class: 'page-head' }, h('h1', null, 'Images'), count),
		h('div', { class: 'images-grid' },
			h('div', null, h('div', { class: 'table-wrap' }, table), listMsg),
			form));

	function row(img) {
		const n = users.get(img.name) || 0;
		const del = h('button', { type: 'button', class: 'danger quiet small-btn', 'aria-label': `Delete image ${img.name}` }, 'Delete…');
		del.addEventListener('click', () => remove(img, n));
		return h('tr', { dataset: { name: img.name } },
			h('td', null, h('strong', { class: 'mono' }, img.name)),
			h('td', null, h('span', { class: 'tag' }, img.format)),
			h('td', { class: 'num' }, img.size ? bytes(img.size) : h('span', { class: 'muted', title: 'Not known until a host downloads it' }, DASH)),
			h('td', { class: 'c-sha' }, mono(img.sha256, { title: img.sha256 })),
			h('td', { class: 'c-url' }, img.source === 'url'
				? h('a', { href: img.url, class: 'mono small', rel: 'noreferrer noopener', target: '_blank' }, img.url)
				: img.source === 'recipe'
					? h('span', { class: 'small recipe-src', title: img.packages ? `packages: ${img.packages}` : null },
						`recipe (${img.base}, ${img.suite}): each target builds it from `,
						img.mirror ? h('span', { class: 'mono' }, img.mirror) : 'its install.mirror')
					: h('span', { class: 'small' }, 'stored on anemosd')),
			h('td', { class: 'num' }, n ? h('a', { href: `#/hosts?q=${encodeURIComponent(img.name)}` }, `${n} host${n === 1 ? '' : 's'}`) : h('span', { class: 'muted' }, 'none')),
			h('td', null, timeEl(img.created)),
			h('td', { class: 'c-act' }, del));
	}

	async function remove(img, n) {
		const ok = await confirmDialog({
			title: `Delete image ${img.name}?`,
			body: [h('p', null, img.source === 'url' ? 'anemosd forgets this image.' : 'anemosd forgets this image and deletes its stored file.'),
				n ? h('p', { class: 'error' }, `${n} host${n === 1 ? ' uses' : 's use'} it: anemosd will refuse until they are assigned another image.`) : null],
			ok: 'Delete image', danger: true,
		});
		if (!ok) return;
		try {
			await api('DELETE', `/images/${encodeURIComponent(img.name)}`);
			toast(`Deleted image ${img.name}.`);
			load();
		} catch (e) {
			toast(e.status === 409 ? `${img.name} is in use: ${e.message}` : `Could not delete ${img.name}: ${e.message}`, 'error');
		}
	}

	async function load() {
		try {
			const [{ images }, { hosts }] = await Promise.all([api('GET', '/images'), api('GET', '/hosts')]);
			if (!alive) return;
			users = new Map();
			for (const x of hosts) if (x.image) users.set(x.image, (users.get(x.image) || 0) + 1);
			images.sort((a, b) => a.name.localeCompare(b.name));
			clear(tbody, images.map(row));
			count.textContent = `${images.length} image${images.length === 1 ? '' : 's'}`;
			table.hidden = !images.length;
			listMsg.hidden = !!images.length;
			clear(listMsg, h('p', null, h('strong', null, 'No images yet.')), h('p', { class: 'muted' }, 'Add one by URL with the form, or upload a file with anemosctl.'));
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) return;
			clear(listMsg, h('p', { class: 'error' }, `Could not load the images: ${e.message}`));
			listMsg.hidden = false;
		}
	}

	load();
	return {
		unmount() { alive = false; },
		live(ev) { if (ev.type === 'resync') load(); },
	};
}

// #/webhooks: where host events go (docs/webhooks.md): each webhook's URL, events, how its
// last delivery went and since when it fails, with a ping button. Adding one stays with
// `anemosctl webhook add`, which prints the secret once. Admin tokens only: other roles see
// anemosd's 403 message.

import { api, ApiError } from './api.js';
import { DASH, clear, h, mono, timeEl, toast } from './dom.js';

export function webhooksView(root) {
	document.title = 'Webhooks · Anemos';
	let alive = true;
	const tbody = h('tbody');
	const table = h('table', { class: 'webhooks' },
		h('thead', null, h('tr', null, ['ID', 'URL', 'Events', 'Last delivery', 'Failing since', 'Last error', ''].map((t) =>
			h('th', { scope: 'col' }, t ? t : h('span', { class: 'sr-only' }, 'Actions'))))),
		tbody);
	const count = h('p', { class: 'count muted', role: 'status' });
	const listMsg = h('div', { class: 'empty', hidden: true });

	clear(root,
		h('div', { class: 'page-head' }, h('h1', null, 'Webhooks'), count),
		h('p', { class: 'muted small' }, 'Host events POSTed as signed JSON to these URLs. Add one with ',
			h('code', null, 'anemosctl webhook add URL --events deployed,failed'), '; ',
			h('code', null, 'anemosctl webhook show ID'), ' lists its deliveries.'),
		h('div', { class: 'table-wrap' }, table), listMsg);

	function row(w) {
		const test = h('button', { type: 'button', class: 'quiet small-btn', 'aria-label': `Send a ping to webhook ${w.id}` }, 'Ping');
		test.addEventListener('click', async () => {
			test.disabled = true;
			try {
				const { delivery } = await api('POST', `/webhooks/${w.id}/test`);
				if (delivery.status === 'ok') toast(`Webhook ${w.id}: ping delivered (HTTP ${delivery.last_status}).`);
				else toast(`Webhook ${w.id}: ping failed: ${delivery.last_error}`, 'error');
			} catch (e) {
				toast(`Webhook ${w.id}: ${e.message}`, 'error');
			}
			test.disabled = false;
		});
		const result = w.last_result
			? h('span', { class: `tag wh-${w.last_result}` }, w.last_result)
			: h('span', { class: 'muted' }, w.enabled ? 'none yet' : 'disabled');
		return h('tr', { dataset: { id: String(w.id) } },
			h('td', { class: 'num' }, String(w.id)),
			h('td', { class: 'c-url' }, mono(w.url)),
			h('td', null, w.events.join(', ')),
			h('td', null, result, ' ', w.last_delivery ? timeEl(w.last_delivery) : '', w.enabled ? '' : h('span', { class: 'muted' }, ' (disabled)')),
			h('td', null, w.failing_since ? timeEl(w.failing_since) : h('span', { class: 'muted' }, DASH)),
			h('td', { class: 'small' }, w.last_error || h('span', { class: 'muted' }, DASH)),
			h('td', { class: 'c-act' }, test));
	}

	async function load() {
		try {
			const { webhooks } = await api('GET', '/webhooks');
			if (!alive) return;
			clear(tbody, webhooks.map(row));
			count.textContent = `${webhooks.length} webhook${webhooks.length === 1 ? '' : 's'}`;
			table.hidden = !webhooks.length;
			listMsg.hidden = !!webhooks.length;
			clear(listMsg, h('p', null, h('strong', null, 'No webhooks yet.')));
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) return;
			table.hidden = true;
			clear(listMsg, h('p', { class: 'error' }, `Could not load the webhooks: ${e.message}`));
			listMsg.hidden = false;
		}
	}

	load();
	// Deliveries change without host events: read again every 10 s while on screen.
	const timer = setInterval(load, 10000);
	return {
		unmount() { alive = false; clearInterval(timer); },
		live(ev) { if (ev.type === 'resync') load(); },
	};
}

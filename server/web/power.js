// The host page's power box: the host's BMC and its power state, and the power actions
// (POST /api/v1/hosts/REF/power), each destructive one confirmed first. anemosd queues an
// action and answers at once; its outcome arrives as one of the host's events (the page
// reloads on every change the event stream tells).

import { api, hostPath } from './api.js';
import { clear, confirmDialog, h, hostLabel, timeEl } from './dom.js';

// What each action does, for its button and its confirmation (null: none needed).
const ACTIONS = [
	{ action: 'status', label: 'Read state', confirm: null },
	{ action: 'on', label: 'Power on', confirm: null },
	{ action: 'cycle', boot: 'network', label: 'Cycle into network boot…',
		confirm: 'cuts the power, then powers it on to boot from the network once' },
	{ action: 'reset', label: 'Reset…', confirm: 'resets it at once, without shutting its system down' },
	{ action: 'soft-off', label: 'Shut down…', confirm: 'asks its system to shut down (ACPI)' },
	{ action: 'off', label: 'Power off…', confirm: 'cuts its power at once, without shutting its system down' },
];

// powerBox(currentHost): the box (an element) and its redraw function, to call with the host
// whenever it changes.
export function powerBox(currentHost) {
	const state = h('p', { class: 'power-state', id: 'power-state' });
	const bmc = h('p', { class: 'muted small', id: 'power-bmc' });
	const buttons = h('div', { class: 'row wrap', id: 'power-actions' });
	const msg = h('p', { class: 'form-msg', role: 'status', id: 'power-msg' });
	// The BMC the inventory found in-band, and --bmc-enroll: the agent creates a user on it
	// with a password anemosd makes and keeps (PATCH {"bmc_enroll": true}).
	const found = h('p', { class: 'muted small', id: 'bmc-found' });
	const enroll = h('p', { class: 'small', id: 'bmc-enroll' });
	const enrollButton = h('button', { type: 'button', id: 'bmc-enroll-button', onclick: () => askEnroll() }, 'Enroll BMC');
	const box = h('div', { class: 'action', id: 'power-box' }, h('div', { class: 'action-title' }, 'Power'), state, bmc, found, enroll,
		h('div', { class: 'row wrap' }, enrollButton), buttons, msg);

	async function askEnroll() {
		const host = currentHost();
		msg.className = 'form-msg';
		try {
			await api('PATCH', hostPath(host.id), { bmc_enroll: true });
			msg.textContent = 'BMC enroll asked: the agent creates the user at its next boot (or now, if it is discovering).';
			msg.classList.add('ok');
		} catch (e) {
			msg.textContent = e.message;
			msg.classList.add('error');
		}
	}

	async function ask(a) {
		const host = currentHost();
		if (a.confirm) {
			const ok = await confirmDialog({
				title: `${a.label.replace('…', '')} ${hostLabel(host)}?`,
				body: h('p', null, `This ${a.confirm}.`),
				ok: a.label.replace('…', ''), danger: true,
			});
			if (!ok) return;
		}
		msg.className = 'form-msg';
		msg.textContent = 'Asking the BMC…';
		try {
			await api('POST', `${hostPath(host.id)}/power`, a.boot ? { action: a.action, boot: a.boot } : { action: a.action });
			msg.textContent = `Power ${a.action} asked; the BMC's answer comes in the events.`;
			msg.classList.add('ok');
		} catch (e) {
			msg.textContent = e.message;
			msg.classList.add('error');
		}
	}

	clear(buttons, ACTIONS.map((a) => h('button', { type: 'button', dataset: { power: a.action }, class: a.confirm ? 'danger quiet' : '', onclick: () => ask(a) }, a.label)));

	function redraw(host) {
		const p = host.power || {};
		const seen = host.inventory && host.inventory.bmc;
		const e = host.bmc_enroll;
		box.hidden = !host.bmc && !seen && !e;
		found.textContent = seen ? `BMC found in-band: ${seen.ip || 'no address'}${seen.mac ? `, MAC ${seen.mac}` : ''}` +
			`${seen.ip_source ? ` (${seen.ip_source})` : ''}${seen.interface ? `, ${seen.interface.toUpperCase()}` : ''}` : '';
		found.hidden = !seen;
		enroll.textContent = e ? `BMC enroll ${e.state} (user ${e.username})${e.error ? `: ${e.error}` : ''}` : '';
		enroll.className = e && e.state === 'failed' ? 'small error' : 'small';
		enroll.hidden = !e;
		enrollButton.hidden = !seen || (e && e.state !== 'failed');
		enrollButton.textContent = host.bmc ? 'Enroll BMC again' : 'Enroll BMC';
		state.hidden = bmc.hidden = buttons.hidden = !host.bmc;
		if (!host.bmc) return;
		clear(state, 'Power ', h('strong', { class: `power-${p.state || 'unknown'}` }, p.state || 'unknown'),
			p.checked ? [' · read ', timeEl(p.checked)] : null, p.error ? h('span', { class: 'error small' }, ` · ${p.error}`) : null);
		bmc.textContent = `BMC ${host.bmc.protocol}://${host.bmc.username}@${host.bmc.address}:${host.bmc.port}`;
	}
	return { box, redraw };
}

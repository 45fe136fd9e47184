// The dashboard's shell: login, the top bar, hash routing (#/hosts, #/hosts/ID, #/images,
// #/rules, #/webhooks)
// and handing live events to the view on screen.

import { api, checkToken, clearToken, onUnauthorized, setToken, token } from './api.js';
import { STATUSES, clear, h, refreshRelativeTimes, setLifecycle } from './dom.js';
import { startLive, stopLive, subscribe } from './live.js';
import { hostsView } from './hosts.js';
import { hostView } from './host.js';
import { imagesView } from './images.js';
import { rulesView } from './rules.js';
import { webhooksView } from './webhooks.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
const liveEl = document.getElementById('live');
let current = null;      // the mounted view: {unmount(), live(ev)}
let loginMessage = '';

const LIVE_TEXT = { off: 'offline', connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };

function route() {
	const hash = location.hash || '#/hosts';
	const [path, query] = hash.slice(1).split('?');
	const params = new URLSearchParams(query || '');
	const parts = path.split('/').filter(Boolean);
	if (parts[0] === 'hosts' && parts.length === 2) return { name: 'host', id: decodeURIComponent(parts[1]), params };
	if (parts[0] === 'images') return { name: 'images', params };
	if (parts[0] === 'rules') return { name: 'rules', params };
	if (parts[0] === 'webhooks') return { name: 'webhooks', params };
	return { name: 'hosts', params };
}

function render() {
	if (current) current.unmount();
	current = null;
	if (!token()) { showLogin(); return; }
	if (!STATUSES.length) {
		// The lifecycle's names come from anemosd once per page load (they are in no file here).
		api('GET', '/meta').then((meta) => { setLifecycle(meta); render(); }).catch((e) => {
			clear(main, h('p', { class: 'login-error', role: 'alert' }, `Cannot load the host lifecycle from anemosd: ${e.message}`));
		});
		return;
	}
	topbar.hidden = false;
	startLive();
	const r = route();
	for (const a of topbar.querySelectorAll('[data-nav]')) {
		const on = a.dataset.nav === (r.name === 'host' ? 'hosts' : r.name);
		if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
	}
	clear(main);
	const view = { host: hostView, images: imagesView, rules: rulesView, webhooks: webhooksView }[r.name] || hostsView;
	current = view(main, r);
}

function showLogin() {
	stopLive();
	topbar.hidden = true;
	document.title = 'Log in · Anemos';
	const input = h('input', {
		id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true,
		spellcheck: 'false', placeholder: 'anemos_admin_…', 'aria-describedby': 'login-help',
	});
	const msg = h('p', { class: 'login-error', id: 'login-error', role: 'alert' }, loginMessage || '');
	msg.hidden = !loginMessage;
	const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
	const form = h('form', { class: 'login', novalidate: true },
		h('div', { class: 'login-brand' }, h('img', { src: '/ui/favicon.svg', alt: '', width: 28, height: 28 }), 'Anemos'),
		h('h1', null, 'Log in'),
		h('label', { for: 'token' }, 'Admin token'),
		input,
		h('p', { class: 'muted small', id: 'login-help' },
			'Create one on the server with ', h('code', null, 'anemosd token create'),
			'. It is kept for this browser session only.'),
		msg,
		button);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const tok = input.value.trim();
		if (!tok) { msg.textContent = 'Enter an admin token.'; msg.hidden = false; input.focus(); return; }
		button.disabled = true;
		button.textContent = 'Checking…';
		const problem = await checkToken(tok);
		button.disabled = false;
		button.textContent = 'Log in';
		if (problem) {
			msg.textContent = problem;
			msg.hidden = false;
			input.select();
			input.focus();
			return;
		}
		loginMessage = '';
		setToken(tok);
		render();
	});
	clear(main, h('div', { class: 'login-page' }, form));
	input.focus();
}

onUnauthorized((message) => {
	loginMessage = message;
	if (current) current.unmount();
	current = null;
	showLogin();
});

subscribe((ev) => {
	if (ev.type === 'state') {
		liveEl.dataset.state = ev.state;
		liveEl.textContent = LIVE_TEXT[ev.state] || ev.state;
		return;
	}
	if (current && current.live) current.live(ev);
});

document.getElementById('logout').addEventListener('click', () => {
	clearToken();
	loginMessage = 'Logged out.';
	if (current) current.unmount();
	current = null;
	showLogin();
});

// "/" focuses the page's search box, as in most operator tools.
document.addEventListener('keydown', (e) => {
	if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
	const t = e.target;
	if (t.closest && t.closest('input, textarea, select, [contenteditable], dialog')) return;
	const search = main.querySelector('input[type=search]');
	if (search) { e.preventDefault(); search.focus(); search.select(); }
});

window.addEventListener('hashchange', render);
// Relative times ("5 min ago") age on screen; this touches only the page, never the network.
setInterval(() => refreshRelativeTimes(main), 30000);
render();

// The one way the dashboard talks to anemosd: every request carries the admin token from
// sessionStorage (kept for the browser session, never put in a URL), and a 401 sends the
// operator back to the login form with the server's reason.

const KEY = 'anemos.admin-token';

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); }

let unauthorized = () => {};
// onUnauthorized(fn): fn(message) runs when anemosd refuses the token.
export function onUnauthorized(fn) { unauthorized = fn; }

async function errorText(res) {
	const text = await res.text().catch(() => '');
	try {
		const j = JSON.parse(text);
		if (j && typeof j.error === 'string') return j.error;
	} catch { /* not JSON: fall through */ }
	return text.trim().slice(0, 200) || `HTTP ${res.status} ${res.statusText}`;
}

// authorizedFetch(path, init, tok): fetch of /api/v1 + path with the token. Turns a network
// failure into ApiError(0) and a 401 into ApiError(401) after telling the login form.
export async function authorizedFetch(path, init = {}, tok = token()) {
	if (!tok) {
		unauthorized('Log in with an admin token.');
		throw new ApiError(401, 'not logged in');
	}
	const headers = new Headers(init.headers || {});
	headers.set('Authorization', `Bearer ${tok}`);
	let res;
	try {
		res = await fetch(`/api/v1${path}`, { ...init, headers, cache: 'no-store', credentials: 'omit' });
	} catch (e) {
		if (e.name === 'AbortError') throw e;
		throw new ApiError(0, 'Cannot reach anemosd. Is it running, and is this the right address?');
	}
	if (res.status === 401) {
		const why = await errorText(res);
		if (tok === token()) {
			clearToken();
			unauthorized(`anemosd refused the token: ${why}. Log in again.`);
		}
		throw new ApiError(401, why);
	}
	return res;
}

// api(method, path, body): the parsed JSON answer (null for 204); ApiError on 4xx/5xx with
// the server's own error text.
export async function api(method, path, body, init = {}) {
	const opts = { ...init, method };
	if (body !== undefined) {
		opts.body = JSON.stringify(body);
		opts.headers = { 'Content-Type': 'application/json' };
	}
	const res = await authorizedFetch(path, opts);
	if (!res.ok) throw new ApiError(res.status, await errorText(res));
	if (res.status === 204) return null;
	return res.json();
}

// listHosts(onPage, q): every host (or those the search q finds, docs/search.md), asked for a
// page of 1,000 at a time (GET /hosts?limit=&after=&q=); onPage(hosts) runs for each page as
// it comes, so a long list shows while it loads.
export async function listHosts(onPage, q) {
	let after = '0';
	const search = q ? `&q=${encodeURIComponent(q)}` : '';
	for (;;) {
		const page = await api('GET', `/hosts?limit=1000&after=${encodeURIComponent(after)}${search}`);
		onPage(page.hosts);
		if (typeof page.next !== 'string' || page.next === after) return;
		after = page.next;
	}
}

// checkToken(tok): null when anemosd accepts tok as an admin token, else what to tell.
export async function checkToken(tok) {
	let res;
	try {
		res = await fetch('/api/v1/images', { headers: { Authorization: `Bearer ${tok}` }, cache: 'no-store' });
	} catch {
		return 'Cannot reach anemosd. Is it running?';
	}
	if (res.ok) return null;
	const why = await errorText(res);
	if (res.status === 401) return `Wrong token: anemosd refused it (${why}).`;
	if (res.status === 403) return `This token is not an admin token (${why}).`;
	return `anemosd answered ${res.status}: ${why}`;
}

export const hostPath = (ref) => `/hosts/${encodeURIComponent(ref)}`;

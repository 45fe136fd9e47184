// Live updates: reads anemosd's Server-Sent Events stream (GET /api/v1/events/stream) with
// fetch(), since an EventSource cannot send the Authorization header, and parses the SSE
// lines itself. When the stream ends or stalls it reconnects with backoff; after a reconnect
// the views reload, since changes may have been missed meanwhile. No polling.

import { authorizedFetch, ApiError } from './api.js';

const STALL_MS = 45000; // anemosd sends a keepalive every 15 s
const listeners = new Set();
let controller = null;
let state = 'off';

// subscribe(fn): fn({type: 'host', id} | {type: 'resync'} | {type: 'state', state});
// returns the function that unsubscribes.
export function subscribe(fn) {
	listeners.add(fn);
	return () => listeners.delete(fn);
}

function emit(ev) {
	for (const fn of [...listeners]) {
		try { fn(ev); } catch (e) { console.error('live listener', e); }
	}
}

function setState(s) {
	if (s === state) return;
	state = s;
	emit({ type: 'state', state: s });
}

export function liveState() { return state; }

export function startLive() {
	if (controller) return;
	controller = new AbortController();
	run(controller.signal);
}

export function stopLive() {
	if (controller) controller.abort();
	controller = null;
	setState('off');
}

function sleep(ms, signal) {
	return new Promise((resolve) => {
		const t = setTimeout(resolve, ms);
		signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
	});
}

async function run(signal) {
	let backoff = 1000;
	let connectedBefore = false;
	while (!signal.aborted) {
		setState(connectedBefore ? 'reconnecting' : 'connecting');
		const attempt = new AbortController();
		const stop = () => attempt.abort();
		signal.addEventListener('abort', stop, { once: true });
		try {
			const res = await authorizedFetch('/events/stream',
				{ headers: { Accept: 'text/event-stream' }, signal: attempt.signal });
			if (!res.ok || !res.body) throw new ApiError(res.status, `stream answered ${res.status}`);
			setState('live');
			if (connectedBefore) emit({ type: 'resync' });
			connectedBefore = true;
			backoff = 1000;
			await readStream(res.body, attempt);
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) { stopLive(); return; }
			if (!signal.aborted && e.name !== 'AbortError') console.warn('event stream:', e.message);
		} finally {
			signal.removeEventListener('abort', stop);
		}
		if (signal.aborted) return;
		setState('reconnecting');
		await sleep(backoff + Math.random() * 500, signal);
		backoff = Math.min(backoff * 2, 30000);
	}
}

// readStream(body, attempt): dispatches events until the stream ends; aborts the attempt
// when nothing (not even a keepalive) arrived for STALL_MS.
async function readStream(body, attempt) {
	const reader = body.getReader();
	const decoder = new TextDecoder();
	let buf = '';
	let event = { type: '', data: [] };
	let watchdog = null;
	const arm = () => {
		clearTimeout(watchdog);
		watchdog = setTimeout(() => attempt.abort(), STALL_MS);
	};
	arm();
	try {
		for (;;) {
			const { value, done } = await reader.read();
			if (done) return;
			arm();
			buf += decoder.decode(value, { stream: true });
			const lines = buf.split(/\r\n|\r|\n/);
			buf = lines.pop();
			for (const line of lines) event = feedLine(line, event);
		}
	} finally {
		clearTimeout(watchdog);
		reader.cancel().catch(() => {});
	}
}

// feedLine(line, event): one SSE line (HTML spec "event stream interpretation"); a blank
// line dispatches the event gathered so far.
function feedLine(line, event) {
	if (line === '') {
		if (event.data.length) dispatch(event.type || 'message', event.data.join('\n'));
		return { type: '', data: [] };
	}
	if (line.startsWith(':')) return event;
	const colon = line.indexOf(':');
	const field = colon < 0 ? line : line.slice(0, colon);
	let value = colon < 0 ? '' : line.slice(colon + 1);
	if (value.startsWith(' ')) value = value.slice(1);
	if (field === 'event') event.type = value;
	else if (field === 'data') event.data.push(value);
	return event;
}

function dispatch(type, data) {
	if (type === 'resync') { emit({ type: 'resync' }); return; }
	if (type !== 'host') return;
	try {
		const { id } = JSON.parse(data);
		if (Number.isInteger(id)) emit({ type: 'host', id });
	} catch { /* a malformed line is skipped */ }
}

// Install progress as operators read it: percent, bytes of total and the rate, the rate
// measured between the samples this page has seen of each host.

import { bytes, h, progressBar, rate } from './dom.js';

const samples = new Map(); // host id -> {bytes, t, rate}

// note(hostId, progress): records a progress sample; returns the rate in bytes/s or 0.
export function note(hostId, p) {
	if (!p) { samples.delete(hostId); return 0; }
	const t = new Date(p.time).getTime() || Date.now();
	const prev = samples.get(hostId);
	if (!prev || p.bytes < prev.bytes) { samples.set(hostId, { bytes: p.bytes, t, rate: 0 }); return 0; }
	if (t > prev.t && p.bytes > prev.bytes) {
		const r = (p.bytes - prev.bytes) / ((t - prev.t) / 1000);
		const smooth = prev.rate ? prev.rate * 0.5 + r * 0.5 : r;
		samples.set(hostId, { bytes: p.bytes, t, rate: smooth });
		return smooth;
	}
	return prev.rate;
}

export function percentOf(p) {
	if (!p) return 0;
	if (Number.isFinite(p.percent)) return p.percent;
	return p.total ? (100 * p.bytes) / p.total : 0;
}

// progressText(p, r): "42% · 1.6 of 3.8 GiB · 35 MiB/s".
export function progressText(p, r = 0) {
	const parts = [`${Math.floor(percentOf(p))}%`, `${bytes(p.bytes)} of ${bytes(p.total)}`];
	if (r) parts.push(rate(r));
	return parts.join(' · ');
}

// progressBlock(host): the bar with its text, or null when the host is not installing.
export function progressBlock(host, cls = '') {
	const p = host.progress;
	if (!p) return null;
	const r = note(host.id, p);
	return h('div', { class: `progress ${cls}` },
		progressBar(percentOf(p), `install progress of ${host.hostname || `host ${host.id}`}`),
		h('div', { class: 'progress-text' }, progressText(p, r)));
}

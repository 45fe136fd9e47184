// The dashboard, driven in Debian's chromium by playwright-core against the anemosd that
// dashboard.test.sh started and seeded. Prints "ok - NAME" or "not ok - NAME: why" per
// check, saves screenshots, exits 1 when a check failed. Every wait is bounded.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
	if (!process.env[k]) { console.log(`not ok - environment: ${k} is not set`); process.exit(1); }
	return process.env[k];
};
const URL_ = env('ANEMOS_URL');
const TOKEN = env('ANEMOS_TOKEN');
const SHOTS = env('SHOTS');
const SEED_IDS = env('SEED_HOST_IDS').split(',').map(Number);
const R640 = {
	id: Number(env('R640_ID')), mac: env('R640_MAC'), serial: env('R640_SERIAL'), hostname: env('R640_HOSTNAME'),
	dimm: env('R640_DIMM_SERIAL'), disk: env('R640_DISK_SERIAL'), nic: env('R640_NIC_MAC'), cpu: env('R640_CPU'),
};
const VM_ID = Number(env('VM_ID'));
const WEB01_ID = Number(env('WEB01_ID'));
const IMAGE = env('IMAGE');
const BMC_DIR = env('BMC_DIR');
const WAIT = 10000;

let failures = 0;
const ok = (name) => console.log(`ok - ${name}`);
const notOk = (name, why) => { failures++; console.log(`not ok - ${name}: ${String(why).split('\n')[0].slice(0, 300)}`); };
// check(name, fn): runs one check; a throw or a false result fails it.
async function check(name, fn) {
	try {
		const r = await fn();
		if (r === false) notOk(name, 'condition false'); else ok(name);
	} catch (e) {
		notOk(name, e.message || e);
	}
}
function assert(cond, why) { if (!cond) throw new Error(why); }

// Nothing may hang the run: a watchdog ends it.
const watchdog = setTimeout(() => { console.log('not ok - the browser checks finish within 240 s'); process.exit(1); }, 240000);

async function apiCall(method, path, body, tok = TOKEN) {
	const res = await fetch(`${URL_}${path}`, {
		method, headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(WAIT),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
	return text ? JSON.parse(text) : null;
}
async function ipxeScript(mac) {
	const res = await fetch(`${URL_}/ipxe?mac=${encodeURIComponent(mac)}&platform=pcbios`, { signal: AbortSignal.timeout(WAIT) });
	return res.text();
}

const profile = mkdtempSync(join(tmpdir(), 'anemos-chromium-'));
let context;
try {
	context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 860 },
		timeout: 30000,
	});
} catch (e) {
	notOk('chromium starts', e.message);
	rmSync(profile, { recursive: true, force: true });
	process.exit(1);
}
ok('chromium starts');

const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(WAIT);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
let expectRefusal = null; // the path of a request a check expects anemosd to refuse (400)
// The 400s the checks ask for (a search that does not parse, a refused install setting) are
// the browser's console lines for those requests, not script errors.
page.on('console', (m) => {
	if (m.type() !== 'error') return;
	if (/status of 400/.test(m.text()) && /[?&]q=status%3Aredy/.test(m.location().url || '')) return;
	if (/status of 400/.test(m.text()) && expectRefusal && (m.location().url || '').endsWith(expectRefusal)) return;
	pageErrors.push(`${m.text()} (${m.location().url || "?"})`);
});

const rowIds = () => page.$$eval('#hosts-table tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.id)));
const waitRows = (n) => page.waitForFunction((k) => document.querySelectorAll('#hosts-table tbody tr').length === k, n, { timeout: WAIT });

try {
	await check('login page is shown without a token', async () => {
		await page.goto(`${URL_}/`, { timeout: WAIT });
		await page.waitForSelector('form.login input#token');
		assert(await page.isHidden('#topbar'), 'top bar visible before login');
	});

	await check('a wrong token gets a clear message', async () => {
		await page.fill('#token', 'anemos_admin_0000000000000000000000000000000000000000000000000000000000000000');
		await page.click('form.login button[type=submit]');
		const msg = page.locator('#login-error');
		await msg.waitFor({ state: 'visible' });
		const text = await msg.innerText();
		assert(/wrong token/i.test(text), `message: ${text}`);
		assert(await page.isVisible('#token'), 'still on the login form');
		assert((await page.evaluate(() => sessionStorage.length)) === 0, 'a wrong token was stored');
		await page.screenshot({ path: join(SHOTS, 'login-wrong-token.png') });
	});

	await check('the right token opens the hosts table with every seeded host', async () => {
		await page.fill('#token', TOKEN);
		await page.press('#token', 'Enter');
		await page.waitForSelector('#hosts-table tbody tr');
		await waitRows(SEED_IDS.length);
		const ids = (await rowIds()).sort((a, b) => a - b);
		assert(JSON.stringify(ids) === JSON.stringify([...SEED_IDS].sort((a, b) => a - b)), `rows ${ids} vs seeded ${SEED_IDS}`);
		const text = await page.innerText('#hosts-table');
		for (const want of [R640.hostname, 'build02', 'web03', R640.serial, R640.mac, 'PowerEdge R640', '160 GiB']) {
			assert(text.includes(want), `"${want}" not in the table`);
		}
		assert(!(await page.evaluate(() => location.href)).includes(TOKEN), 'token in the URL');
	});

	await check('the token is kept for the session: a reload stays logged in', async () => {
		await page.reload();
		await waitRows(SEED_IDS.length);
	});

	await check('the installing host shows a progress bar with bytes and percent', async () => {
		const row = page.locator(`#hosts-table tr[data-id="${VM_ID}"]`);
		await row.locator('[role=progressbar]').waitFor();
		assert(await row.locator('[role=progressbar]').getAttribute('aria-valuenow') === '75', 'bar not at 75%');
		const t = await row.innerText();
		assert(/75% · 1\.5 GiB of 2 GiB/.test(t), `progress text: ${t.replace(/\s+/g, ' ')}`);
	});

	await page.screenshot({ path: join(SHOTS, 'hosts-1280.png'), fullPage: true });

	await check('search by serial narrows the table to that host', async () => {
		await page.fill('#host-search', R640.serial);
		await waitRows(1);
		assert((await rowIds())[0] === R640.id, 'wrong host left');
	});

	await check('search by a MAC fragment narrows the table', async () => {
		await page.fill('#host-search', R640.mac.slice(-5));
		await waitRows(1);
		assert((await rowIds())[0] === R640.id, 'wrong host left');
	});

	await check('search by status and by product', async () => {
		await page.fill('#host-search', 'decommissioned');
		await waitRows(1);
		await page.fill('#host-search', 'q35');
		await waitRows(1);
		assert((await rowIds())[0] === VM_ID, 'not the VM');
	});

	await check('a search in the language is anemosd\'s: one DIMM\'s serial finds the R640', async () => {
		await page.fill('#host-search', `dimm.serial:${R640.dimm} -status:decommissioned`);
		await waitRows(1);
		assert((await rowIds())[0] === R640.id, 'wrong host left');
	});

	await check('a search that does not parse says where, and shows no host', async () => {
		await page.fill('#host-search', 'status:redy');
		await page.locator('#search-error').waitFor();
		const t = await page.locator('#search-error').innerText();
		assert(/'redy' is not a status \(at character 1\)/.test(t), `error text: ${t}`);
		await waitRows(0);
	});

	await check('the search box completes the language\'s keys: "sta" offers status:, Tab takes it', async () => {
		await page.fill('#host-search', '');
		await page.locator('#host-search').pressSequentially('sta');
		await page.locator('#search-keys li', { hasText: 'status:' }).waitFor();
		await page.keyboard.press('Tab');
		assert(await page.inputValue('#host-search') === 'status:', `box: ${await page.inputValue('#host-search')}`);
		assert(await page.locator('#search-keys').isHidden(), 'the list stays open');
		await page.locator('#host-search').pressSequentially('ready');	/* a search anemosd takes */
		await page.waitForFunction(() => document.querySelectorAll('#hosts-table tbody tr').length > 0);
		await page.fill('#host-search', '');
	});

	await check('a search saved from the box is offered as @NAME, and choosing it searches', async () => {
		await page.fill('#host-search', `dimm.serial:${R640.dimm}`);
		await waitRows(1);
		await page.click('#save-search');
		await page.fill('#save-search-name', 'the-r640');
		await page.locator('#save-search-form button[type=submit]').click();
		await page.locator('#saved-search option[value="@the-r640"]').waitFor({ state: 'attached' });
		const saved = await apiCall('GET', '/api/v1/searches');
		assert(saved.searches.some((x) => x.name === 'the-r640' && x.query === `dimm.serial:${R640.dimm}`), JSON.stringify(saved));
		await page.fill('#host-search', '');
		await waitRows(SEED_IDS.length);
		await page.selectOption('#saved-search', '@the-r640');
		await waitRows(1);
		assert(await page.inputValue('#host-search') === '@the-r640', 'the box does not show @the-r640');
		assert((await rowIds())[0] === R640.id, 'wrong host left');
		await page.locator('#host-search').pressSequentially(' -@th');
		await page.locator('#search-keys li', { hasText: '@the-r640' }).waitFor();
		await page.keyboard.press('Enter');
		await waitRows(0);
	});

	await check('clearing the search restores every host', async () => {
		await page.fill('#host-search', '');
		await waitRows(SEED_IDS.length);
	});

	await check('sorting by a column (hostname, then memory)', async () => {
		const names = () => page.$$eval('#hosts-table tbody .host-link:not(.unnamed)', (as) => as.map((a) => a.textContent));
		const sorted = (xs, dir) => [...xs].sort((a, b) => dir * a.localeCompare(b));
		const asc = await names();
		assert(JSON.stringify(asc) === JSON.stringify(sorted(asc, 1)), `default not by hostname: ${asc}`);
		await page.click('th[data-key=hostname] button');
		await page.waitForSelector('th[data-key=hostname][aria-sort=descending]');
		const desc = await names();
		assert(JSON.stringify(desc) === JSON.stringify(sorted(asc, -1)), `not descending: ${desc}`);
		await page.click('th[data-key=memory] button');
		await page.waitForSelector('th[data-key=memory][aria-sort=ascending]');
		const mem = await page.$$eval('#hosts-table tbody tr', (trs) => trs.map((tr) => tr.querySelector('.c-mem').textContent));
		assert(mem[0] === '–' && mem[mem.length - 1] === '160 GiB', `memory order: ${mem}`);
		await page.click('th[data-key=hostname] button');
		await page.waitForSelector('th[data-key=hostname][aria-sort=ascending]');
	});

	await check('keyboard: Tab reaches a host link and Enter opens the host', async () => {
		await page.focus('#host-search');
		let onLink = false;
		for (let i = 0; i < 40 && !onLink; i++) {
			await page.keyboard.press('Tab');
			onLink = await page.evaluate(() => document.activeElement?.classList.contains('host-link'));
		}
		assert(onLink, 'no host link reached within 40 Tabs');
		const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
		await page.keyboard.press('Enter');
		await page.waitForFunction((h) => location.hash === h, href, { timeout: WAIT });
		await page.waitForSelector('.host-title h1');
	});

	await check('host page shows the hardware: system, CPU, DIMMs, disks, NICs, PCI', async () => {
		await page.goto(`${URL_}/#/hosts/${R640.id}`);
		await page.waitForSelector('#hw-memory');
		assert((await page.innerText('.host-title h1')) === R640.hostname, 'hostname header');
		for (const [section, want] of [['#hw-system', R640.serial], ['#hw-cpu', R640.cpu], ['#hw-memory', R640.dimm],
			['#hw-disks', R640.disk], ['#hw-nics', R640.nic], ['#hw-pci', 'NVMe controller'], ['#hw-firmware', 'Legacy BIOS']]) {
			const text = await page.locator('section', { has: page.locator(section) }).innerText();
			assert(text.includes(want), `${section} lacks "${want}"`);
		}
		// The switch port its first NIC's LLDP named, in that NIC's row.
		const row = (await page.locator('table.nics tbody tr', { hasText: R640.mac }).innerText()).replace(/\s+/g, ' ');
		assert(/leaf-3 Ethernet12 12$/.test(row.trim()), `NIC row without its switch port: ${row}`);
	});

	await check('the host page marks a swapped disk until it is acknowledged', async () => {
		await page.waitForSelector('#drift');
		const t = (await page.innerText('#drift')).replace(/\s+/g, ' ');
		assert(/disk replaced: .*→ .*SWAPPED-1/.test(t), `drift notice: ${t}`);
		await page.click('#ack-drift');
		await page.waitForSelector('#drift', { state: 'detached' });
		const host = await apiCall('GET', `/api/v1/hosts/${R640.id}`);
		assert(host.drift === null, `drift not acknowledged: ${JSON.stringify(host.drift)}`);
	});

	await check('tags and attributes edited on the host page', async () => {
		await page.fill('#tags', 'db rack-4');
		await page.fill('#attributes', 'rack=r4\nowner=team-db');
		await page.click('#labels-form button[type=submit]');
		await page.waitForSelector('#labels-form .form-msg.ok');
		const host = await apiCall('GET', `/api/v1/hosts/${R640.id}`);
		assert(JSON.stringify(host.tags) === '["db","rack-4"]' && host.attributes.rack === 'r4' &&
			host.attributes.owner === 'team-db', JSON.stringify([host.tags, host.attributes]));
		await page.fill('#attributes', 'rack=r4');
		await page.click('#labels-form button[type=submit]');
		await page.waitForSelector('#labels-form .form-msg.ok');
		const after = await apiCall('GET', `/api/v1/hosts/${R640.id}`);
		assert(!('owner' in after.attributes), `a removed attribute stays: ${JSON.stringify(after.attributes)}`);
	});

	await check('install settings edited on the host page; the secrets kept without being shown', async () => {
		await apiCall('PATCH', `/api/v1/hosts/${R640.id}`, { install: { root_password_hash: '$6$saltsalt$' + 'h'.repeat(86), cloud_init_user_data: '#cloud-config\nhostname: x\n' } });
		await page.reload();
		await page.waitForSelector('#install-form');
		await page.waitForFunction(() => document.querySelector('#inst-pw').value === 'keep');
		const shown = await page.$$eval('#install-form input, #install-form textarea', (xs) => xs.map((x) => x.value).join(' '));
		assert(!shown.includes('saltsalt') && !shown.includes('hostname: x'), 'a secret is in the form');
		await page.selectOption('#inst-disk-by', 'serial');
		await page.fill('#inst-disk', R640.disk);
		await page.selectOption('#inst-net', 'static');
		await page.fill('#inst-address', '192.0.2.40/24');
		await page.fill('#inst-gateway', '192.0.2.1');
		await page.fill('#inst-dns', '192.0.2.53 192.0.2.54');
		await page.fill('#inst-kargs', 'console=ttyS0,115200');
		await page.selectOption('#inst-after', 'poweroff');
		await page.selectOption('#inst-ud', 'none');
		await page.click('#save-install');
		await page.waitForSelector('#install-form .form-msg.ok');
		const host = await apiCall('GET', `/api/v1/hosts/${R640.id}`);
		const i = host.install;
		assert(i.disk.serial === R640.disk && i.network.mode === 'static' && i.network.address === '192.0.2.40/24' &&
			i.network.gateway === '192.0.2.1' && i.network.dns.join(' ') === '192.0.2.53 192.0.2.54' &&
			i.kernel_args === 'console=ttyS0,115200' && i.after === 'poweroff', JSON.stringify(i));
		assert(i.root_password_hash === '<secret>' && host.install_secrets.root_password_hash.bytes === 98,
			`the password hash was not kept: ${JSON.stringify([i.root_password_hash, host.install_secrets])}`);
		assert(!('cloud_init_user_data' in i), `user-data not removed: ${JSON.stringify(i)}`);
		await page.selectOption('#inst-net', 'static');
		await page.fill('#inst-address', '192.0.2.400/24');
		expectRefusal = `/api/v1/hosts/${R640.id}`;
		await page.click('#save-install');
		await page.waitForSelector('#install-form .form-msg.error');
		expectRefusal = null;
		const again = await apiCall('GET', `/api/v1/hosts/${R640.id}`);
		assert(again.install.network.address === '192.0.2.40/24', 'a refused change changed something');
	});

	await check('the timeline says who changed the host, and "only changes" leaves just those', async () => {
		await page.reload();
		await page.locator('#events .ev-actor').first().waitFor();
		const who = await page.locator('#events .ev-actor').first().innerText();
		assert(/^by \S+/.test(who), `actor: ${who}`);
		const all = await page.locator('#events li').count();
		await page.check('#changes-only');
		const changes = await page.locator('#events li').count();
		const withActor = await page.locator('#events li:has(.ev-actor)').count();
		assert(changes > 0 && changes < all && changes === withActor, `all ${all}, changes ${changes}, with who ${withActor}`);
		await page.uncheck('#changes-only');
	});

	let agentToken = null;
	await check('assigning an image (install once) on the host page changes /ipxe for its MAC', async () => {
		const before = await ipxeScript(R640.mac);
		assert(!before.includes('anemos.mode=install'), 'already installing');
		await page.selectOption('#next-boot', 'install');
		await page.selectOption('#boot-image', IMAGE);
		await page.check('#once-yes');
		await page.click('#apply-boot');
		const dialog = page.locator('dialog#confirm');
		await dialog.waitFor({ state: 'visible' });
		assert(/erases its disk/.test(await dialog.innerText()), 'the confirmation does not say the disk is erased');
		await page.screenshot({ path: join(SHOTS, 'confirm-install-1280.png') });
		await page.click('#confirm-ok');
		await page.waitForSelector('#boot-form .form-msg.ok');
		const script = await ipxeScript(R640.mac);
		assert(script.includes('anemos.mode=install'), `script: ${script.slice(0, 300)}`);
		const host = await apiCall('GET', `/api/v1/hosts/${R640.id}`);
		assert(host.next_boot === 'install' && host.image === IMAGE && host.once === true, JSON.stringify(host).slice(0, 200));
		agentToken = (script.match(/anemos\.token=(\S+)/) || [])[1];
		assert(agentToken, 'no agent token in the script');
	});

	await check('cancelling a confirmation changes nothing', async () => {
		await page.click('#delete-host');
		await page.locator('dialog#confirm').waitFor({ state: 'visible' });
		await page.keyboard.press('Escape');
		await page.locator('dialog#confirm').waitFor({ state: 'hidden' });
		await apiCall('GET', `/api/v1/hosts/${R640.id}`);
	});

	await check('power on the host page: on at once, off only once confirmed, the state live', async () => {
		const state = page.locator('#power-state');
		await state.waitFor({ state: 'visible' });
		assert(/unknown/.test(await state.innerText()), `before any action: ${await state.innerText()}`);
		assert((await page.innerText('#power-bmc')).includes('admin@127.0.0.1'), 'the BMC is not named');
		await page.click('#power-actions [data-power=on]');
		await page.waitForFunction(() => /Power on\b/.test(document.querySelector('#power-state')?.textContent || ''), null, { timeout: WAIT });
		assert(readFileSync(join(BMC_DIR, 'power'), 'utf8').trim() === '1', 'the machine behind the BMC is not on');
		await page.click('#power-actions [data-power=off]');
		const dialog = page.locator('dialog#confirm');
		await dialog.waitFor({ state: 'visible' });
		assert(/cuts its power/.test(await dialog.innerText()), 'the confirmation does not say what off does');
		await page.screenshot({ path: join(SHOTS, 'confirm-power-off-1280.png') });
		await page.click('#confirm-cancel');
		await dialog.waitFor({ state: 'hidden' });
		const { events } = await apiCall('GET', `/api/v1/hosts/${R640.id}/events?limit=1000`);
		assert(!events.some((e) => /^power off/.test(e.message)), 'a cancelled power off was asked');
		await page.click('#power-actions [data-power=off]');
		await dialog.waitFor({ state: 'visible' });
		await page.click('#confirm-ok');
		await page.waitForFunction(() => /Power off\b/.test(document.querySelector('#power-state')?.textContent || ''), null, { timeout: WAIT });
		assert(readFileSync(join(BMC_DIR, 'power'), 'utf8').trim() === '0', 'the machine behind the BMC is not off');
		assert(!(await page.content()).includes('pw-Web-2291'), 'the BMC password is in the page');
	});

	await check('an agent event with bytes appears on the open host page without reload', async () => {
		assert(agentToken, 'no agent token (previous check failed)');
		await page.evaluate(() => { window.__notReloaded = true; });
		await apiCall('GET', '/api/v1/agent/plan', undefined, agentToken);
		await apiCall('POST', '/api/v1/agent/events', {
			phase: 'write', message: `Writing ${IMAGE} to /dev/nvme0n1`, level: 'info', bytes: 1073741824, total: 4294967296,
		}, agentToken);
		await page.waitForFunction((img) => [...document.querySelectorAll('#events .ev-msg')].some((e) => e.textContent === `Writing ${img} to /dev/nvme0n1`), IMAGE, { timeout: WAIT });
		await page.waitForSelector('.host-head [role=progressbar][aria-valuenow="25"]');
		await page.waitForSelector('.host-title .badge.st-installing');
		assert(await page.evaluate(() => window.__notReloaded === true), 'the page was reloaded');
	});

	await check('an agent error appears in red on the open page', async () => {
		await apiCall('POST', '/api/v1/agent/events', { phase: 'write', message: 'sector 12345 unreadable, retrying', level: 'error' }, agentToken);
		const ev = page.locator('#events li.ev-error', { hasText: 'sector 12345 unreadable' });
		await ev.waitFor();
		const color = await ev.locator('.ev-msg').evaluate((e) => getComputedStyle(e).color);
		assert(/^rgb\((1[5-9]\d|2\d\d), \d{1,2}, \d{1,2}\)$/.test(color), `colour ${color}`);
		await apiCall('POST', '/api/v1/agent/events', { phase: 'write', message: `Writing ${IMAGE} to /dev/nvme0n1`, level: 'info', bytes: 2684354560, total: 4294967296 }, agentToken);
		await page.waitForSelector('.host-head [role=progressbar][aria-valuenow="62"]');
	});

	await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
	await page.screenshot({ path: join(SHOTS, 'host-1280.png'), fullPage: true });

	await check('the hosts table shows the installing host\'s progress bar', async () => {
		await page.click('nav.crumbs a');
		const row = page.locator(`#hosts-table tr[data-id="${R640.id}"]`);
		await row.locator('[role=progressbar][aria-valuenow="62"]').waitFor();
		const t = await row.innerText();
		assert(/62% · 2\.5 GiB of 4 GiB/.test(t), `progress text: ${t.replace(/\s+/g, ' ')}`);
	});

	await check('the hosts table has each host\'s power state', async () => {
		const cell = page.locator(`#hosts-table tr[data-id="${R640.id}"] td.c-power`);
		assert((await cell.innerText()).trim() === 'off', `db01's power cell: ${await cell.innerText()}`);
	});

	await check('a machine that boots appears in the open table without reload', async () => {
		await page.evaluate(() => { window.__notReloaded = true; });
		await ipxeScript('52:54:00:aa:bb:02');
		await waitRows(SEED_IDS.length + 1);
		assert(await page.evaluate(() => window.__notReloaded === true), 'the page was reloaded');
		assert((await page.innerText('#hosts-table')).includes('52:54:00:aa:bb:02'), 'new MAC not shown');
	});

	await check('phone width (390 px): hosts as cards, nothing wider than the screen', async () => {
		await page.setViewportSize({ width: 390, height: 844 });
		await page.waitForFunction(() => getComputedStyle(document.querySelector('#hosts-table thead')).display === 'none', null, { timeout: WAIT });
		const width = await page.evaluate(() => document.documentElement.scrollWidth);
		assert(width <= 390, `page is ${width}px wide`);
		await page.screenshot({ path: join(SHOTS, 'hosts-390.png'), fullPage: true });
		await page.goto(`${URL_}/#/hosts/${R640.id}`);
		await page.waitForSelector('#hw-memory');
		await page.screenshot({ path: join(SHOTS, 'host-390.png'), fullPage: false });
		await page.setViewportSize({ width: 1280, height: 860 });
	});

	await check('the BMC found in-band on the host page, and Enroll BMC asks for the enroll', async () => {
		await page.goto(`${URL_}/#/hosts/${WEB01_ID}`);
		const found = page.locator('#bmc-found');
		await found.waitFor({ state: 'visible', timeout: WAIT });
		const text = await found.innerText();
		assert(/192\.0\.2\.41, MAC 24:6e:96:8a:41:ff \(static\), KCS/.test(text), `the BMC found reads: ${text}`);
		assert(await page.locator('#power-actions').isHidden(), 'power actions offered with no BMC settings');
		await page.click('#bmc-enroll-button');
		await page.waitForFunction(() => /BMC enroll pending \(user anemos\)/.test(document.querySelector('#bmc-enroll')?.textContent || ''), null, { timeout: WAIT });
		const host = await apiCall('GET', `/api/v1/hosts/${WEB01_ID}`);
		assert(host.bmc_enroll && host.bmc_enroll.state === 'pending' && !('password' in host.bmc_enroll), JSON.stringify(host.bmc_enroll));
		assert(await page.locator('#bmc-enroll-button').isHidden(), 'the enroll is offered again while pending');
	});

	await check('images: list, add by URL and SHA-256, delete', async () => {
		await page.click('nav a[data-nav=images]');
		await page.waitForSelector('table.images tbody tr[data-name="debian-12"]');
		assert((await page.innerText('table.images')).includes('raw.zst'), 'format missing');
		const recipe = await page.innerText('table.images tbody tr[data-name="tiny-built"]');
		assert(recipe.includes('recipe (busybox, bookworm): each target builds it from its install.mirror'), `recipe row: ${recipe}`);
		await page.fill('#img-url', 'http://192.0.2.10/images/alma-9.tar.xz');
		assert(await page.inputValue('#img-name') === 'alma-9' && await page.inputValue('#img-format') === 'tar.xz', 'name and format not guessed from the URL');
		await page.fill('#img-sha', 'ab'.repeat(32));
		await page.click('#add-image button[type=submit]');
		await page.waitForSelector('table.images tbody tr[data-name="alma-9"]');
		await page.screenshot({ path: join(SHOTS, 'images-1280.png'), fullPage: true });
		await page.click('tr[data-name="alma-9"] button');
		await page.click('#confirm-ok');
		await page.waitForSelector('table.images tbody tr[data-name="alma-9"]', { state: 'detached' });
		const { images } = await apiCall('GET', '/api/v1/images');
		assert(!images.some((i) => i.name === 'alma-9'), 'alma-9 still there');
	});

	await check('rules: listed in the order tried, added after a test of the search, deleted', async () => {
		await apiCall('POST', '/api/v1/rules', { name: 'dell-db', query: 'vendor:dell memory>=64G', priority: 10, max_count: 3, actions: { tags: ['db'], image: IMAGE } });
		await page.click('nav a[data-nav=rules]');
		await page.waitForSelector('table.rules tbody tr[data-name="dell-db"]');
		const row = await page.innerText('table.rules tbody tr[data-name="dell-db"]');
		assert(row.includes('vendor:dell memory>=64G') && row.includes('0 of 3') && row.includes('tags +db') && row.includes(`image ${IMAGE}`), `row: ${row}`);
		await page.fill('#rule-name', 'web-tag');
		await page.fill('#rule-query', 'hostname~web');
		await page.click('#add-rule button[type=button]');
		await page.waitForFunction(() => /3 hosts match now/.test(document.querySelector('#add-rule .form-msg').textContent), null, { timeout: WAIT });
		await page.fill('#rule-priority', '5');
		await page.fill('#rule-tags', 'web');
		await page.click('#add-rule button[type=submit]');
		await page.waitForSelector('table.rules tbody tr[data-name="web-tag"]');
		const names = await page.$$eval('table.rules tbody tr', (rows) => rows.map((r) => r.dataset.name));
		assert(names.join(' ') === 'web-tag dell-db', `order: ${names.join(' ')}`);
		await page.screenshot({ path: join(SHOTS, 'rules-1280.png'), fullPage: true });
		await page.click('tr[data-name="web-tag"] button');
		await page.click('#confirm-ok');
		await page.waitForSelector('table.rules tbody tr[data-name="web-tag"]', { state: 'detached' });
		const { rules } = await apiCall('GET', '/api/v1/rules');
		assert(rules.map((r) => r.name).join(' ') === 'dell-db', 'web-tag still there');
	});

	await check('webhooks: a failing one shown with its error, and a ping that fails says why', async () => {
		// port 1 on loopback: nothing listens, so every delivery fails at once
		const hook = await apiCall('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:1/hook', events: ['changed'] });
		await apiCall('PATCH', `/api/v1/hosts/${SEED_IDS[0]}`, { attributes: { webhook: 'test' } });
		for (let i = 0; i < 80; i++) {
			const w = await apiCall('GET', `/api/v1/webhooks/${hook.id}`);
			if (w.last_result === 'retry') break;
			await new Promise((r) => setTimeout(r, 250));
		}
		await page.click('nav a[data-nav=webhooks]');
		const rowSel = `table.webhooks tbody tr[data-id="${hook.id}"]`;
		await page.waitForSelector(rowSel);
		const text = await page.innerText(rowSel);
		assert(text.includes('http://127.0.0.1:1/hook') && text.includes('changed'), `row: ${text}`);
		assert(/retry/.test(text) && /onnect/i.test(text), `no failure shown: ${text}`);
		assert(!text.includes(hook.secret), 'the secret is on the page');
		await page.click(`${rowSel} button`);
		await page.waitForFunction(() => /ping failed/.test(document.getElementById('toasts').innerText));
		await page.screenshot({ path: join(SHOTS, 'webhooks-1280.png'), fullPage: true });
		await apiCall('DELETE', `/api/v1/webhooks/${hook.id}`);
	});

	await check('a revoked token sends the operator back to the login form with a message', async () => {
		await page.evaluate(() => sessionStorage.setItem('anemos.admin-token', 'anemos_admin_revoked'));
		await page.click('nav a[data-nav=hosts]');
		await page.locator('#login-error').waitFor({ state: 'visible' });
		assert(/refused/i.test(await page.innerText('#login-error')), 'no reason given');
	});

	await check('no script errors in the page', async () => {
		const real = pageErrors.filter((e) => !/401|Unauthorized/i.test(e));
		assert(real.length === 0, real.join(' | '));
	});
} finally {
	await context.close().catch(() => {});
	rmSync(profile, { recursive: true, force: true });
	clearTimeout(watchdog);
}
process.exit(failures ? 1 : 0);

// The host page's install settings form (docs/api.md, Host.install): disk, network, kernel
// arguments, what to do when done, the mirror, root's password hash and cloud-init user-data.
// PATCH {"install": {...}} replaces the settings, so the form sends them all; the two secrets
// come back from anemosd as "<secret>", and sending that back keeps the host's value.

import { h } from './dom.js';

const SECRET = '<secret>';

// installForm(patchInstall): {form, fill(host)}; patchInstall(install) saves and says how.
export function installForm(patchInstall) {
	const f = (id, attrs = {}) => h('input', { id, autocomplete: 'off', spellcheck: 'false', ...attrs });
	const diskBy = h('select', { id: 'inst-disk-by' },
		h('option', { value: '' }, 'the largest fixed disk'), h('option', { value: 'serial' }, 'by serial'),
		h('option', { value: 'by_path' }, 'by /dev/disk/by-path name'), h('option', { value: 'name' }, 'by kernel name (sda)'));
	const disk = f('inst-disk', { placeholder: 'e.g. S3Z9NB0K123456' });
	const netMode = h('select', { id: 'inst-net' }, h('option', { value: 'dhcp' }, 'DHCP'), h('option', { value: 'static' }, 'static'));
	const address = f('inst-address', { placeholder: '192.0.2.10/24' });
	const gateway = f('inst-gateway', { placeholder: '192.0.2.1' });
	const dns = f('inst-dns', { placeholder: '192.0.2.53 (space-separated)' });
	const kargs = f('inst-kargs', { placeholder: 'console=ttyS0,115200' });
	const after = h('select', { id: 'inst-after' }, ['reboot', 'poweroff', 'kexec'].map((a) => h('option', { value: a }, a)));
	const mirror = f('inst-mirror', { placeholder: 'http://mirror.example/debian (a recipe image\'s mirror)' });
	const secretSel = (id, what) => h('select', { id }, h('option', { value: 'keep' }, `keep the ${what}`),
		h('option', { value: 'set' }, `set a new ${what}`), h('option', { value: 'none' }, `no ${what}`));
	const pwSel = secretSel('inst-pw', 'password hash');
	const pw = f('inst-pw-hash', { placeholder: '$6$… (mkpasswd -m sha-512)', hidden: true });
	const udSel = secretSel('inst-ud', 'user-data');
	const ud = h('textarea', { id: 'inst-user-data', rows: 4, spellcheck: 'false', placeholder: '#cloud-config', hidden: true });
	const pwNow = h('span', { class: 'muted small' });
	const udNow = h('span', { class: 'muted small' });
	const staticBox = h('div', { class: 'inst-static' },
		h('label', { for: 'inst-address' }, 'Address'), address, h('label', { for: 'inst-gateway' }, 'Gateway'), gateway,
		h('label', { for: 'inst-dns' }, 'DNS'), dns);
	const msg = h('p', { class: 'form-msg', role: 'status' });
	const form = h('form', { class: 'action', id: 'install-form' },
		h('div', { class: 'action-title' }, 'Install settings'),
		h('label', { for: 'inst-disk-by' }, 'Disk'), diskBy, disk,
		h('label', { for: 'inst-net' }, 'Network of the installed system'), netMode, staticBox,
		h('label', { for: 'inst-kargs' }, 'Kernel arguments'), kargs,
		h('label', { for: 'inst-after' }, 'When the install is done'), after,
		h('label', { for: 'inst-mirror' }, 'Debian mirror'), mirror,
		h('label', { for: 'inst-pw' }, 'Root password ', pwNow), pwSel, pw,
		h('label', { for: 'inst-ud' }, 'cloud-init user-data ', udNow), udSel, ud,
		h('div', { class: 'row' }, h('button', { type: 'submit', id: 'save-install' }, 'Save install settings'), msg));
	const sync = () => {
		disk.hidden = !diskBy.value;
		staticBox.hidden = netMode.value !== 'static';
		pw.hidden = pwSel.value !== 'set';
		ud.hidden = udSel.value !== 'set';
	};
	form.addEventListener('change', sync);

	function fill(host) {
		const i = host.install || {};
		const d = i.disk || {};
		diskBy.value = d.serial ? 'serial' : d.by_path ? 'by_path' : d.name ? 'name' : '';
		disk.value = d.serial || d.by_path || d.name || '';
		const n = i.network || {};
		netMode.value = n.mode === 'static' ? 'static' : 'dhcp';
		address.value = n.address || '';
		gateway.value = n.gateway || '';
		dns.value = (n.dns || []).join(' ');
		kargs.value = i.kernel_args || '';
		after.value = i.after || 'reboot';
		mirror.value = i.mirror || '';
		const sizes = host.install_secrets || {};
		pwSel.value = 'keep';
		pw.value = '';
		pwSel.options[0].disabled = !i.root_password_hash;
		if (!i.root_password_hash) pwSel.value = 'none';
		pwNow.textContent = i.root_password_hash ? '(set)' : '(none)';
		udSel.value = i.cloud_init_user_data ? 'keep' : 'none';
		udSel.options[0].disabled = !i.cloud_init_user_data;
		ud.value = '';
		udNow.textContent = i.cloud_init_user_data ? `(${sizes.cloud_init_user_data ? sizes.cloud_init_user_data.bytes : '?'} bytes)` : '(none)';
		sync();
	}

	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const inst = {};
		if (diskBy.value) inst.disk = { [diskBy.value]: disk.value.trim() };
		if (netMode.value === 'static') {
			inst.network = { mode: 'static', address: address.value.trim() };
			if (gateway.value.trim()) inst.network.gateway = gateway.value.trim();
			const servers = dns.value.split(/[\s,]+/).filter(Boolean);
			if (servers.length) inst.network.dns = servers;
		}
		if (kargs.value.trim()) inst.kernel_args = kargs.value.trim();
		if (after.value !== 'reboot') inst.after = after.value;
		if (mirror.value.trim()) inst.mirror = mirror.value.trim();
		if (pwSel.value === 'keep') inst.root_password_hash = SECRET;
		else if (pwSel.value === 'set') inst.root_password_hash = pw.value.trim();
		if (udSel.value === 'keep') inst.cloud_init_user_data = SECRET;
		else if (udSel.value === 'set') inst.cloud_init_user_data = ud.value;
		await patchInstall(inst, msg);
	});
	return { form, fill };
}

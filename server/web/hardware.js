// A host's inventory (docs: DESIGN.md, "Inventory JSON") drawn the way an operator reads
// it: system and firmware first, then CPUs, DIMMs, disks, NICs and PCI devices as compact
// tables. Unknown values are null in the inventory and a dash here.

import { DASH, bytes, h, mono, orDash } from './dom.js';

// The PCI vendors and device classes an operator meets most in servers.
const PCI_VENDORS = {
	'8086': 'Intel', '1022': 'AMD', '10de': 'NVIDIA', '1002': 'AMD/ATI', '15b3': 'Mellanox',
	'14e4': 'Broadcom', '1000': 'Broadcom/LSI', '9005': 'Microchip/Adaptec', '1077': 'QLogic',
	'19a2': 'Emulex', '10df': 'Emulex', '1924': 'Solarflare', '8088': 'Wangxun', '10ec': 'Realtek',
	'144d': 'Samsung', '1344': 'Micron', '1c5c': 'SK hynix', '15b7': 'Sandisk/WD', '1b4b': 'Marvell',
	'1d0f': 'Amazon', '1af4': 'Red Hat (virtio)', '1b36': 'Red Hat (QEMU)', '1234': 'QEMU',
	'102b': 'Matrox', '1a03': 'ASPEED', '103c': 'HPE', '1028': 'Dell', '19e5': 'Huawei', '1137': 'Cisco',
};
const PCI_CLASSES = {
	'0100': 'SCSI controller', '0101': 'IDE controller', '0104': 'RAID controller', '0106': 'SATA controller',
	'0107': 'SAS controller', '0108': 'NVMe controller', '0180': 'Storage controller',
	'0200': 'Ethernet controller', '0207': 'InfiniBand controller', '0280': 'Network controller',
	'0300': 'VGA controller', '0302': '3D controller', '0380': 'Display controller',
	'0403': 'Audio device', '0600': 'Host bridge', '0601': 'ISA bridge', '0604': 'PCI bridge',
	'0680': 'Bridge', '0700': 'Serial controller', '0805': 'SD host controller', '0880': 'System peripheral',
	'0c03': 'USB controller', '0c05': 'SMBus', '0c04': 'Fibre Channel', '1200': 'Processing accelerator',
	'1101': 'Signal processing', '0b40': 'Co-processor',
};

function kv(rows) {
	const items = rows.filter(([, v]) => v !== undefined);
	return h('dl', { class: 'kv' }, items.map(([k, v]) => [
		h('dt', null, k),
		h('dd', null, v === null || v === '' ? h('span', { class: 'muted' }, DASH) : v),
	]));
}

function table(cls, headers, rows, empty) {
	if (!rows.length) return h('p', { class: 'muted small' }, empty);
	return h('div', { class: 'table-wrap' }, h('table', { class: `hw ${cls}` },
		h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col', class: t.endsWith('#') ? 'num' : null }, t.replace(/#$/, ''))))),
		h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c) => {
			const num = c && c.num !== undefined;
			const v = num ? c.num : c;
			return h('td', { class: num ? 'num' : null }, v === null || v === undefined || v === '' ? h('span', { class: 'muted' }, DASH) : v);
		}))))));
}

const num = (v) => ({ num: v });

function section(id, title, summary, ...body) {
	return h('section', { class: 'hw-section', 'aria-labelledby': id },
		h('h3', { id }, title, summary ? h('span', { class: 'section-sum' }, summary) : null),
		...body);
}

function joinKnown(...parts) {
	const s = parts.filter((p) => p !== null && p !== undefined && p !== '').join(' ');
	return s || null;
}

// hardware(inv): the sections, or a note when the host has sent no inventory yet.
export function hardware(inv) {
	if (!inv) {
		return [h('div', { class: 'panel empty-inv' },
			h('p', null, h('strong', null, 'No inventory yet.')),
			h('p', { class: 'muted' }, 'The host reports its hardware when it network-boots into discovery (next boot: discover).'))];
	}
	const sys = inv.system || {}, bb = inv.baseboard || {}, ch = inv.chassis || {}, bios = inv.bios || {};
	const cpu = inv.cpu || {}, mem = inv.memory || {};
	const dimms = Array.isArray(mem.dimms) ? mem.dimms : [];
	const disks = Array.isArray(inv.disks) ? inv.disks : [];
	const nics = Array.isArray(inv.nics) ? inv.nics : [];
	const pci = Array.isArray(inv.pci) ? inv.pci : [];
	const diskTotal = disks.reduce((a, d) => a + (d.size_bytes || 0), 0);

	const out = [];
	out.push(h('div', { class: 'hw-pair' },
		section('hw-system', 'System', null, kv([
			['Vendor', orDashNull(sys.vendor)], ['Product', orDashNull(sys.product)],
			['Serial', sys.serial ? mono(sys.serial) : null], ['UUID', sys.uuid ? mono(sys.uuid) : null],
			['SKU', orDashNull(sys.sku)], ['Family', orDashNull(sys.family)],
			['Baseboard', joinKnown(bb.vendor, bb.product)], ['Board serial', bb.serial ? mono(bb.serial) : null],
			['Chassis', joinKnown(ch.vendor, ch.type)], ['Chassis serial', ch.serial ? mono(ch.serial) : null],
			['Asset tag', ch.asset_tag ? mono(ch.asset_tag) : null],
		])),
		h('div', null,
			section('hw-firmware', 'BIOS / firmware', null, kv([
				['Boot mode', inv.firmware ? (inv.firmware === 'uefi' ? 'UEFI' : 'Legacy BIOS') : null],
				['Vendor', orDashNull(bios.vendor)], ['Version', orDashNull(bios.version)], ['Date', orDashNull(bios.date)],
			])),
			section('hw-cpu', 'CPU', null, kv([
				['Model', orDashNull(cpu.model)],
				['Sockets', orDashNull(cpu.sockets)], ['Cores', orDashNull(cpu.cores)], ['Threads', orDashNull(cpu.threads)],
				['Clock', cpu.mhz ? `${cpu.mhz} MHz` : null],
			])))));

	out.push(section('hw-memory', 'Memory',
		joinKnown(mem.total_bytes ? bytes(mem.total_bytes) : null, dimms.length ? `in ${dimms.length} DIMM${dimms.length === 1 ? '' : 's'}` : null),
		table('dimms', ['Slot', 'Size#', 'Type', 'Speed#', 'Manufacturer', 'Part', 'Serial'],
			dimms.map((d) => [d.slot, num(d.size_bytes ? bytes(d.size_bytes) : null), d.type,
				num(d.speed_mts ? `${d.speed_mts} MT/s` : null), d.manufacturer, d.part ? mono(d.part) : null, d.serial ? mono(d.serial) : null]),
			'No DIMMs reported (virtual machines often have none).')));

	out.push(section('hw-disks', 'Disks',
		disks.length ? `${disks.length} · ${bytes(diskTotal)}` : null,
		table('disks', ['Name', 'Size#', 'Kind', 'Model', 'Serial', 'WWN', 'Path'],
			disks.map((d) => [h('span', { class: 'mono' }, orDash(d.name)), num(d.size_bytes ? bytes(d.size_bytes) : null),
				diskKind(d), d.model, d.serial ? mono(d.serial) : null, d.wwn ? mono(d.wwn) : null,
				d.by_path ? mono(d.by_path, { class: 'small' }) : null]),
			'No disks reported.')));

	out.push(section('hw-nics', 'Network interfaces', nics.length ? String(nics.length) : null,
		table('nics', ['Name', 'MAC', 'Driver', 'Speed#', 'Link', 'PCI', 'Switch', 'Port', 'VLAN#'],
			nics.map((n) => {
				// The switch port its LLDP named (discover boots); the chassis ID when the switch sends no name.
				const l = n.lldp && typeof n.lldp === 'object' ? n.lldp : {};
				const sw = l.switch || l.chassis_id;
				return [h('span', { class: 'mono' }, orDash(n.name)), n.mac ? mono(n.mac) : null, n.driver,
					num(n.speed_mbps ? speed(n.speed_mbps) : null),
					n.link === true ? h('span', { class: 'link-up' }, 'up') : n.link === false ? h('span', { class: 'link-down' }, 'down') : null,
					n.pci ? mono(n.pci) : null,
					sw ? h('span', { class: 'mono', title: l.mgmt_address ? `management address ${l.mgmt_address}` : null }, sw) : null,
					l.port ? h('span', { class: 'mono', title: l.port_description || null }, l.port) : null,
					num(l.vlan || null)];
			}),
			'No network interfaces reported.')));

	out.push(section('hw-pci', 'PCI devices', pci.length ? String(pci.length) : null,
		table('pci', ['Address', 'Class', 'Vendor', 'Device', 'Driver'],
			pci.map((p) => [p.address ? mono(p.address) : null, pciClass(p.class),
				p.vendor_id ? [PCI_VENDORS[p.vendor_id.toLowerCase()] || '', ' ', mono(p.vendor_id, { class: 'muted' })] : null,
				p.device_id ? mono(p.device_id) : null, p.driver ? h('span', { class: 'mono' }, p.driver) : null]),
			'No PCI devices reported.')));

	out.push(h('details', { class: 'raw' }, h('summary', null, 'Raw inventory JSON'),
		h('pre', { class: 'mono' }, JSON.stringify(inv, null, 2))));
	return out;
}

function orDashNull(v) { return v === null || v === undefined || v === '' ? null : String(v); }

function diskKind(d) {
	const media = d.rotational === true ? 'HDD' : d.rotational === false ? 'SSD' : null;
	const t = d.transport ? d.transport.toUpperCase() : null;
	const kind = joinKnown(t === 'NVME' ? 'NVMe' : t, t === 'NVME' ? null : media);
	return d.removable ? joinKnown(kind, '(removable)') : kind;
}

function speed(mbps) {
	return mbps >= 1000 ? `${(mbps / 1000).toString().replace(/\.0$/, '')} Gb/s` : `${mbps} Mb/s`;
}

function pciClass(c) {
	if (!c) return null;
	const name = PCI_CLASSES[c.slice(0, 4).toLowerCase()];
	return name ? h('span', { title: `class ${c}` }, name) : mono(c);
}

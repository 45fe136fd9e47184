/*
 * The raw SMBIOS table as the kernel exports it: the entry point in
 * sys/firmware/dmi/tables/smbios_entry_point and the structures in .../DMI (both root-only).
 * Structures are read by their declared length, and every field by its offset checked against
 * that length, so tables from old firmware (shorter structures) and truncated or corrupt
 * tables give nulls, never reads past the end. Offsets are those of DMTF DSP0134.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024LL * 1024)
#define DMI_DIR "sys/firmware/dmi/tables/"
#define DMI_TABLE_MAX (16u << 20) /* far above any real table (tens of KiB) */

enum smbios_type {
	SMBIOS_BIOS = 0,
	SMBIOS_SYSTEM = 1,
	SMBIOS_BASEBOARD = 2,
	SMBIOS_CHASSIS = 3,
	SMBIOS_PROCESSOR = 4,
	SMBIOS_MEMORY_DEVICE = 17,
	SMBIOS_IPMI_DEVICE = 38,
	SMBIOS_END = 127,
};

/* One structure: its formatted area and the string set that follows it. */
struct smbios_struct {
	unsigned type;
	const uint8_t *data;   /* formatted area, data[0..len), header included */
	size_t len;
	const char *strings;   /* string set, ending in the double NUL at strings[strings_len - 2] */
	size_t strings_len;
};

int smbios_entry_version(const uint8_t *ep, size_t len)
{
	int version;

	if (len >= 0x18 && memcmp(ep, "_SM3_", 5) == 0)
		return ep[0x07] << 8 | ep[0x08];
	if (len >= 0x1f && memcmp(ep, "_SM_", 4) == 0) {
		version = ep[0x06] << 8 | ep[0x07];
		/* Firmware that wrote its version in decimal: 2.31 and 2.33 mean 2.3, 2.51 means 2.6
		 * (the same corrections dmidecode makes). */
		if (version == 0x021f || version == 0x0221)
			return 0x0203;
		if (version == 0x0233)
			return 0x0206;
		return version;
	}
	if (len >= 0x0f && memcmp(ep, "_DMI_", 5) == 0)
		return (ep[0x0e] >> 4) << 8 | (ep[0x0e] & 0x0f);
	return 0;
}

static bool get_u8(const struct smbios_struct *s, size_t off, unsigned *v)
{
	if (off + 1 > s->len)
		return false;
	*v = s->data[off];
	return true;
}

static bool get_u16(const struct smbios_struct *s, size_t off, unsigned *v)
{
	if (off + 2 > s->len)
		return false;
	*v = (unsigned)s->data[off] | (unsigned)s->data[off + 1] << 8;
	return true;
}

static bool get_u32(const struct smbios_struct *s, size_t off, uint32_t *v)
{
	if (off + 4 > s->len)
		return false;
	*v = (uint32_t)s->data[off] | (uint32_t)s->data[off + 1] << 8 |
	     (uint32_t)s->data[off + 2] << 16 | (uint32_t)s->data[off + 3] << 24;
	return true;
}

/* The string a field at `off` refers to (1-based into the string set); NULL when the field
 * is absent, 0 (no string), or points past the strings there are. */
static const char *get_string(const struct smbios_struct *s, size_t off)
{
	const char *p = s->strings, *end = s->strings + s->strings_len;
	unsigned want, index = 1;

	if (!get_u8(s, off, &want) || want == 0)
		return NULL;
	while (p < end && *p) {
		size_t n = strnlen(p, (size_t)(end - p));

		if (index == want)
			return p;
		p += n + 1;
		index++;
	}
	return NULL;
}

/* Finds the structure at table[*off]; advances *off past it. false at the end of the table,
 * at the end-of-table structure, or where the table stops making sense: a length shorter
 * than the header, a formatted area or string set running past len. */
static bool next_struct(const uint8_t *table, size_t len, size_t *off, struct smbios_struct *s)
{
	size_t at = *off, p;

	if (at >= len || len - at < 4)
		return false;
	s->type = table[at];
	s->len = table[at + 1];
	if (s->len < 4 || s->len > len - at)
		return false;
	s->data = table + at;
	/* The string set ends with two NULs; with no strings it is just those two. */
	for (p = at + s->len; p + 1 < len; p++)
		if (table[p] == 0 && table[p + 1] == 0)
			break;
	if (p + 1 >= len)
		return false;
	s->strings = (const char *)table + at + s->len;
	s->strings_len = p + 2 - (at + s->len);
	*off = p + 2;
	return s->type != SMBIOS_END;
}

int smbios_uuid(const uint8_t raw[16], int version, char out[37])
{
	static const unsigned le_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	size_t o = 0;

	if (version == 0)
		return -ENODATA;
	for (unsigned i = 0; i < 16; i++) {
		unsigned b = raw[version >= 0x0206 ? le_order[i] : i];

		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = "0123456789abcdef"[b >> 4];
		out[o++] = "0123456789abcdef"[b & 15];
	}
	out[o] = '\0';
	return uuid_is_placeholder(out) ? -ENODATA : 0;
}

long long smbios_dimm_size(unsigned size, uint32_t extended, bool has_extended)
{
	if (size == 0)
		return 0;
	if (size == 0xffff)
		return SMBIOS_SIZE_UNKNOWN;
	if (size == 0x7fff) {
		uint32_t mib = extended & 0x7fffffffu;

		return has_extended && mib ? (long long)mib * MIB : SMBIOS_SIZE_UNKNOWN;
	}
	if (size & 0x8000)
		return (long long)(size & 0x7fff) * 1024;
	return (long long)size * MIB;
}

/* Names as dmidecode prints them, which is what operators know. */
static const char *const chassis_types[] = {
	[0x01] = "Other", [0x03] = "Desktop", [0x04] = "Low Profile Desktop",
	[0x05] = "Pizza Box", [0x06] = "Mini Tower", [0x07] = "Tower", [0x08] = "Portable",
	[0x09] = "Laptop", [0x0a] = "Notebook", [0x0b] = "Hand Held",
	[0x0c] = "Docking Station", [0x0d] = "All In One", [0x0e] = "Sub Notebook",
	[0x0f] = "Space-saving", [0x10] = "Lunch Box", [0x11] = "Main Server Chassis",
	[0x12] = "Expansion Chassis", [0x13] = "Sub Chassis", [0x14] = "Bus Expansion Chassis",
	[0x15] = "Peripheral Chassis", [0x16] = "RAID Chassis", [0x17] = "Rack Mount Chassis",
	[0x18] = "Sealed-case PC", [0x19] = "Multi-system", [0x1a] = "CompactPCI",
	[0x1b] = "AdvancedTCA", [0x1c] = "Blade", [0x1d] = "Blade Enclosure", [0x1e] = "Tablet",
	[0x1f] = "Convertible", [0x20] = "Detachable", [0x21] = "IoT Gateway",
	[0x22] = "Embedded PC", [0x23] = "Mini PC", [0x24] = "Stick PC",
};

const char *smbios_chassis_type(unsigned code)
{
	code &= 0x7f;
	return code < ARRAY_SIZE(chassis_types) ? chassis_types[code] : NULL;
}

static const char *const memory_types[] = {
	[0x01] = "Other", [0x03] = "DRAM", [0x04] = "EDRAM", [0x05] = "VRAM", [0x06] = "SRAM",
	[0x07] = "RAM", [0x08] = "ROM", [0x09] = "Flash", [0x0a] = "EEPROM", [0x0b] = "FEPROM",
	[0x0c] = "EPROM", [0x0d] = "CDRAM", [0x0e] = "3DRAM", [0x0f] = "SDRAM", [0x10] = "SGRAM",
	[0x11] = "RDRAM", [0x12] = "DDR", [0x13] = "DDR2", [0x14] = "DDR2 FB-DIMM",
	[0x18] = "DDR3", [0x19] = "FBD2", [0x1a] = "DDR4", [0x1b] = "LPDDR", [0x1c] = "LPDDR2",
	[0x1d] = "LPDDR3", [0x1e] = "LPDDR4", [0x1f] = "Logical non-volatile device",
	[0x20] = "HBM", [0x21] = "HBM2", [0x22] = "DDR5", [0x23] = "LPDDR5", [0x24] = "HBM3",
};

const char *smbios_memory_type(unsigned code)
{
	return code < ARRAY_SIZE(memory_types) ? memory_types[code] : NULL;
}

static void set_string(struct inventory *inv, json_t *obj, const char *key,
		       const struct smbios_struct *s, size_t off)
{
	inv_set(inv, obj, key, json_firmware_text(get_string(s, off)));
}

static json_t *json_name_or_null(const char *name)
{
	return name ? json_string(name) : json_null();
}

static void fill_bios(struct inventory *inv, const struct smbios_struct *s)
{
	json_t *bios = inv_section(inv, "bios");

	set_string(inv, bios, "vendor", s, 0x04);
	set_string(inv, bios, "version", s, 0x05);
	set_string(inv, bios, "date", s, 0x08);
}

static void fill_system(struct inventory *inv, const struct smbios_struct *s, int version)
{
	json_t *system = inv_section(inv, "system");
	char uuid[37];

	set_string(inv, system, "vendor", s, 0x04);
	set_string(inv, system, "product", s, 0x05);
	set_string(inv, system, "serial", s, 0x07);
	if (s->len >= 0x18 && smbios_uuid(s->data + 0x08, version, uuid) == 0)
		inv_set(inv, system, "uuid", json_string(uuid));
	set_string(inv, system, "sku", s, 0x19);
	set_string(inv, system, "family", s, 0x1a);
}

static void fill_baseboard(struct inventory *inv, const struct smbios_struct *s)
{
	json_t *board = inv_section(inv, "baseboard");

	set_string(inv, board, "vendor", s, 0x04);
	set_string(inv, board, "product", s, 0x05);
	set_string(inv, board, "serial", s, 0x07);
}

static void fill_chassis(struct inventory *inv, const struct smbios_struct *s)
{
	json_t *chassis = inv_section(inv, "chassis");
	unsigned type;

	set_string(inv, chassis, "vendor", s, 0x04);
	if (get_u8(s, 0x05, &type))
		inv_set(inv, chassis, "type", json_name_or_null(smbios_chassis_type(type)));
	set_string(inv, chassis, "serial", s, 0x07);
	set_string(inv, chassis, "asset_tag", s, 0x08);
}

const char *smbios_ipmi_interface(unsigned code)
{
	static const char *const names[] = { [1] = "kcs", [2] = "smic", [3] = "bt", [4] = "ssif" };

	return code < ARRAY_SIZE(names) ? names[code] : NULL;
}

/* Type 38, IPMI Device Information: the machine has a BMC, and how the system talks to it
 * (interface, IPMI version, base address). Its LAN settings come from the BMC itself
 * (bmc.c); this only says there is one. Only the first structure is read (the BMC). */
static void fill_ipmi(struct inventory *inv, const struct smbios_struct *s)
{
	json_t *bmc = bmc_section(inv);
	unsigned type, rev;
	uint32_t lo, hi;
	char text[32];

	if (!bmc)
		return;
	if (get_u8(s, 0x04, &type))
		inv_set(inv, bmc, "interface", json_name_or_null(smbios_ipmi_interface(type)));
	if (get_u8(s, 0x05, &rev)) {
		snprintf(text, sizeof(text), "%u.%u", rev >> 4, rev & 0x0f);
		inv_set(inv, bmc, "ipmi_version", json_string(text));
	}
	/* bit 0 of the base address: 1 for I/O space (the bit is not part of the address; for
	 * I/O space its LSB is the modifier's bit 4, DSP0134 7.39.1) */
	if (get_u32(s, 0x08, &lo) && get_u32(s, 0x0c, &hi) && (lo || hi)) {
		unsigned long long addr = ((unsigned long long)hi << 32 | lo) & ~1ULL;
		unsigned mod = 0;
		bool io = lo & 1;

		if (get_u8(s, 0x10, &mod))
			addr |= (mod >> 4) & 1;
		snprintf(text, sizeof(text), "%s0x%llx", io ? "io:" : "mem:", addr);
		inv_set(inv, bmc, "base_address", json_string(text));
	}
}

/* A count from a byte field that says 0xFF when the real value is in a 16-bit field
 * (SMBIOS 3.0 "Core Count 2", "Thread Count 2"); 0 when unknown. */
static unsigned processor_count(const struct smbios_struct *s, size_t off8, size_t off16)
{
	unsigned n = 0, wide;

	if (!get_u8(s, off8, &n))
		return 0;
	if (n == 0xff && get_u16(s, off16, &wide) && wide != 0 && wide != 0xffff)
		return wide;
	return n;
}

/* Counts a populated socket. Cores and threads are sums over populated sockets, unknown (0)
 * as soon as one socket does not say. */
static void fill_processor(const struct smbios_struct *s, struct cpu_facts *cpu)
{
	unsigned status, cores, threads, mhz;
	const char *model;

	if (!get_u8(s, 0x18, &status) || !(status & 0x40))
		return;
	cores = processor_count(s, 0x23, 0x2a);
	threads = processor_count(s, 0x25, 0x2e);
	if (cpu->sockets == 0) {
		cpu->cores = cores;
		cpu->threads = threads;
		if ((model = get_string(s, 0x10)) && !text_is_placeholder(model)) {
			snprintf(cpu->model, sizeof(cpu->model), "%s", model);
			text_strip(cpu->model);
		}
		if (get_u16(s, 0x16, &mhz))
			cpu->mhz = mhz;
	} else {
		cpu->cores = cpu->cores && cores ? cpu->cores + cores : 0;
		cpu->threads = cpu->threads && threads ? cpu->threads + threads : 0;
	}
	cpu->sockets++;
}

/* Speed in MT/s; 0xFFFF sends to the 32-bit Extended Speed (SMBIOS 3.3). 0: unknown. */
static unsigned long memory_speed(const struct smbios_struct *s)
{
	unsigned speed;
	uint32_t extended;

	if (!get_u16(s, 0x15, &speed))
		return 0;
	if (speed == 0xffff)
		return get_u32(s, 0x54, &extended) ? extended & 0x7fffffffu : 0;
	return speed;
}

static void fill_memory_device(struct inventory *inv, const struct smbios_struct *s,
			       struct dimm_total *total)
{
	json_t *dimm, *dimms = json_object_get(inv_section(inv, "memory"), "dimms");
	unsigned size_field, type;
	uint32_t extended = 0;
	bool has_extended = get_u32(s, 0x1c, &extended);
	unsigned long speed;
	long long size;

	if (!get_u16(s, 0x0c, &size_field))
		return;
	if ((size = smbios_dimm_size(size_field, extended, has_extended)) == 0)
		return;
	if (!(dimm = json_object())) {
		inv->oom = true;
		return;
	}
	set_string(inv, dimm, "slot", s, 0x10);
	inv_set(inv, dimm, "size_bytes", size > 0 ? json_integer(size) : json_null());
	inv_set(inv, dimm, "type", json_name_or_null(get_u8(s, 0x12, &type) ?
						    smbios_memory_type(type) : NULL));
	speed = memory_speed(s);
	inv_set(inv, dimm, "speed_mts", speed ? json_integer((json_int_t)speed) : json_null());
	set_string(inv, dimm, "manufacturer", s, 0x17);
	set_string(inv, dimm, "serial", s, 0x18);
	set_string(inv, dimm, "part", s, 0x1a);
	inv_append(inv, dimms, dimm);
	total->count++;
	if (size > 0)
		total->bytes += (unsigned long long)size;
	else
		total->complete = false;
}

void smbios_fill(struct inventory *inv, const uint8_t *table, size_t len, int version,
		 struct cpu_facts *cpu, struct dimm_total *dimms)
{
	bool seen[SMBIOS_CHASSIS + 1] = { false }, seen_ipmi = false;
	struct smbios_struct s;
	size_t off = 0;

	memset(cpu, 0, sizeof(*cpu));
	memset(dimms, 0, sizeof(*dimms));
	dimms->complete = true;
	while (next_struct(table, len, &off, &s)) {
		/* Several boards or chassis happen (blades); the first is the machine's own. */
		if (s.type <= SMBIOS_CHASSIS) {
			if (seen[s.type])
				continue;
			seen[s.type] = true;
		}
		switch (s.type) {
		case SMBIOS_BIOS:
			fill_bios(inv, &s);
			break;
		case SMBIOS_SYSTEM:
			fill_system(inv, &s, version);
			break;
		case SMBIOS_BASEBOARD:
			fill_baseboard(inv, &s);
			break;
		case SMBIOS_CHASSIS:
			fill_chassis(inv, &s);
			break;
		case SMBIOS_PROCESSOR:
			fill_processor(&s, cpu);
			break;
		case SMBIOS_MEMORY_DEVICE:
			fill_memory_device(inv, &s, dimms);
			break;
		case SMBIOS_IPMI_DEVICE:
			if (!seen_ipmi)
				fill_ipmi(inv, &s);
			seen_ipmi = true;
			break;
		default:
			break;
		}
	}
}

int smbios_collect(struct inventory *inv, struct cpu_facts *cpu, struct dimm_total *dimms)
{
	char *ep = NULL, *table = NULL;
	size_t ep_len = 0, table_len = 0;
	int version = 0, rc;

	if ((rc = file_read_all(inv->root, DMI_DIR "DMI", DMI_TABLE_MAX, &table, &table_len)) < 0) {
		inv->oom |= rc == -ENOMEM;
		return rc;
	}
	if (table_len == 0) {
		free(table);
		return -ENODATA;
	}
	if (file_read_all(inv->root, DMI_DIR "smbios_entry_point", 4096, &ep, &ep_len) == 0)
		version = smbios_entry_version((const uint8_t *)ep, ep_len);
	smbios_fill(inv, (const uint8_t *)table, table_len, version, cpu, dimms);
	free(ep);
	free(table);
	return 0;
}

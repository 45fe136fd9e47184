/*
 * Unit tests of inventory/smbios.c on synthetic tables built here byte by byte: the entry
 * point versions, the UUID byte order, DIMM sizes (KiB granularity, extended size), type-code
 * names, structures of every SMBIOS era, placeholders, and tables that are truncated or lie
 * about their lengths. Tables are copied to heap buffers of exactly their length so that
 * ASan reports any read past the end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GIB (1024LL * 1024 * 1024)

/* A structure table under construction. */
struct table {
	uint8_t bytes[8192];
	size_t len;
};

/* Appends raw bytes, as they are. */
static void add_raw(struct table *t, const void *data, size_t n)
{
	assert_true(t->len + n <= sizeof(t->bytes));
	memcpy(t->bytes + t->len, data, n);
	t->len += n;
}

/* Appends a structure: its formatted area (fmt[1] bytes) and its strings, up to a NULL. */
static void add(struct table *t, const uint8_t *fmt, ...)
{
	const char *s;
	bool any = false;
	va_list ap;

	add_raw(t, fmt, fmt[1]);
	va_start(ap, fmt);
	while ((s = va_arg(ap, const char *))) {
		add_raw(t, s, strlen(s) + 1);
		any = true;
	}
	va_end(ap);
	add_raw(t, "\0", any ? 1 : 2);
}

static void add_end(struct table *t)
{
	static const uint8_t end[4] = { 127, 4, 0xff, 0xfe };

	add(t, end, NULL);
}

/* Little-endian stores into a formatted area. */
static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* The collection state smbios_fill writes into: a fresh skeleton. */
struct filled {
	struct inventory inv;
	struct cpu_facts cpu;
	struct dimm_total dimms;
};

/* Runs smbios_fill on a heap copy of exactly len bytes of the table. */
static void fill(struct filled *f, const uint8_t *bytes, size_t len, int version)
{
	uint8_t *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, bytes, len);
	memset(f, 0, sizeof(*f));
	f->inv.root = "/nonexistent";
	f->inv.json = inventory_skeleton();
	assert_non_null(f->inv.json);
	smbios_fill(&f->inv, copy, len, version, &f->cpu, &f->dimms);
	free(copy);
	assert_false(f->inv.oom);
}

static json_t *field(struct filled *f, const char *section, const char *key)
{
	return json_object_get(json_object_get(f->inv.json, section), key);
}

static json_t *dimm_field(struct filled *f, size_t i, const char *key)
{
	return json_object_get(json_array_get(field(f, "memory", "dimms"), i), key);
}

/* Checks a JSON value against a string; want NULL means JSON null. */
static void check_string(json_t *got, const char *want, const char *what)
{
	if (!want && json_is_null(got))
		return;
	if (want && json_is_string(got) && strcmp(json_string_value(got), want) == 0)
		return;
	char *text = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;

	fail_msg("%s = %s, want %s%s%s", what, text ? text : "(missing)", want ? "\"" : "",
		 want ? want : "null", want ? "\"" : "");
}

/* Checks a JSON value against an integer; want -1 means JSON null. */
static void check_integer(json_t *got, long long want, const char *what)
{
	if (want == -1 && json_is_null(got))
		return;
	if (want != -1 && json_is_integer(got) && json_integer_value(got) == want)
		return;
	char *text = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;

	fail_msg("%s = %s, want %lld", what, text ? text : "(missing)", want);
}

static void test_entry_version(void **state)
{
	uint8_t sm3[0x18] = "_SM3_", sm[0x1f] = "_SM_", dmi[0x0f] = "_DMI_";
	static const struct {
		const char *what;
		int major, minor;
		int want_sm3, want_sm;
	} cases[] = {
		{ "3.2", 3, 2, 0x0302, 0x0302 },
		{ "2.8", 2, 8, 0x0208, 0x0208 },
		{ "2.31 written in decimal", 2, 0x1f, 0x021f, 0x0203 },
		{ "2.33 written in decimal", 2, 0x21, 0x0221, 0x0203 },
		{ "2.51 written in decimal", 2, 0x33, 0x0233, 0x0206 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int v;

		sm3[7] = (uint8_t)cases[i].major;
		sm3[8] = (uint8_t)cases[i].minor;
		sm[6] = (uint8_t)cases[i].major;
		sm[7] = (uint8_t)cases[i].minor;
		if ((v = smbios_entry_version(sm3, sizeof(sm3))) != cases[i].want_sm3)
			fail_msg("_SM3_ %s: %#x, want %#x", cases[i].what, v, cases[i].want_sm3);
		if ((v = smbios_entry_version(sm, sizeof(sm))) != cases[i].want_sm)
			fail_msg("_SM_ %s: %#x, want %#x", cases[i].what, v, cases[i].want_sm);
	}
	dmi[0x0e] = 0x26;
	assert_int_equal(smbios_entry_version(dmi, sizeof(dmi)), 0x0206);
	/* Truncated entry points and other bytes say nothing. */
	assert_int_equal(smbios_entry_version(sm3, sizeof(sm3) - 1), 0);
	assert_int_equal(smbios_entry_version(sm, sizeof(sm) - 1), 0);
	assert_int_equal(smbios_entry_version(dmi, sizeof(dmi) - 1), 0);
	assert_int_equal(smbios_entry_version((const uint8_t *)"_SM4_xxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32), 0);
	assert_int_equal(smbios_entry_version((const uint8_t *)"", 0), 0);
}

static void test_uuid(void **state)
{
	/* Dell's UUIDs start with "DELL" in the table bytes: 4c4c4544 once the first field is
	 * read little-endian, as SMBIOS >= 2.6 (and Linux's product_uuid, and dmidecode) do. */
	static const uint8_t dell[16] = { 0x44, 0x45, 0x4c, 0x4c, 0x58, 0x00, 0x10, 0x4b,
					  0x80, 0x34, 0xb7, 0xc0, 0x4f, 0x4d, 0x39, 0x33 };
	static const uint8_t zero[16] = { 0 };
	static const uint8_t ones[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* 03000200-0400-0500-0006-000700080009 as little-endian-first-fields bytes. */
	static const uint8_t unset_board[16] = { 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x05,
						 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x00, 0x09 };
	static const struct {
		const uint8_t *raw;
		int version, rc;
		const char *want;
	} cases[] = {
		{ dell, 0x0302, 0, "4c4c4544-0058-4b10-8034-b7c04f4d3933" },
		{ dell, 0x0206, 0, "4c4c4544-0058-4b10-8034-b7c04f4d3933" },
		{ dell, 0x0205, 0, "44454c4c-5800-104b-8034-b7c04f4d3933" },
		{ dell, 0x0201, 0, "44454c4c-5800-104b-8034-b7c04f4d3933" },
		{ dell, 0, -ENODATA, NULL },
		{ zero, 0x0302, -ENODATA, NULL },
		{ ones, 0x0302, -ENODATA, NULL },
		{ unset_board, 0x0302, -ENODATA, NULL },
		{ unset_board, 0x0205, 0, "00020003-0004-0005-0006-000700080009" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[37] = "";
		int rc = smbios_uuid(cases[i].raw, cases[i].version, out);

		if (rc != cases[i].rc || (rc == 0 && strcmp(out, cases[i].want) != 0))
			fail_msg("case %zu (version %#x): rc %d \"%s\", want %d \"%s\"", i,
				 cases[i].version, rc, out, cases[i].rc, cases[i].want ? cases[i].want : "");
	}
}

static void test_dimm_size(void **state)
{
	static const struct {
		const char *what;
		unsigned size;
		uint32_t extended;
		bool has_extended;
		long long want;
	} cases[] = {
		{ "empty slot", 0, 0, true, 0 },
		{ "unknown", 0xffff, 0, true, -1 },
		{ "2 GiB in MiB", 2048, 0, false, 2 * GIB },
		{ "largest MiB value", 0x7ffe, 0, false, 0x7ffeLL << 20 },
		{ "512 KiB (granularity bit)", 0x8000 | 512, 0, false, 512 * 1024 },
		{ "KiB bit with the largest value", 0xfffe, 0, false, 0x7ffeLL * 1024 },
		{ "32 GiB via extended", 0x7fff, 32768, true, 32 * GIB },
		{ "64 GiB via extended", 0x7fff, 65536, true, 64 * GIB },
		{ "extended size's reserved bit 31 ignored", 0x7fff, 0x80000000u | 1024, true, GIB },
		{ "extended size 0", 0x7fff, 0, true, -1 },
		{ "0x7FFF without the extended field", 0x7fff, 65536, false, -1 },
		{ "extended field ignored when Size is not 0x7FFF", 4096, 65536, true, 4 * GIB },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		long long got = smbios_dimm_size(cases[i].size, cases[i].extended,
						 cases[i].has_extended);

		if (got != cases[i].want)
			fail_msg("%s: %lld, want %lld", cases[i].what, got, cases[i].want);
	}
}

static void test_type_names(void **state)
{
	static const struct {
		bool chassis;
		unsigned code;
		const char *want;
	} cases[] = {
		{ true, 0x17, "Rack Mount Chassis" },
		{ true, 0x97, "Rack Mount Chassis" }, /* bit 7: chassis lock present */
		{ true, 0x01, "Other" },
		{ true, 0x02, NULL },                 /* "Unknown" says nothing */
		{ true, 0x03, "Desktop" },
		{ true, 0x11, "Main Server Chassis" },
		{ true, 0x1c, "Blade" },
		{ true, 0x24, "Stick PC" },
		{ true, 0x25, NULL },
		{ true, 0x00, NULL },
		{ true, 0x7f, NULL },
		{ false, 0x1a, "DDR4" },
		{ false, 0x22, "DDR5" },
		{ false, 0x18, "DDR3" },
		{ false, 0x07, "RAM" },               /* what QEMU reports */
		{ false, 0x1e, "LPDDR4" },
		{ false, 0x02, NULL },
		{ false, 0x15, NULL },                /* reserved */
		{ false, 0x00, NULL },
		{ false, 0x25, NULL },
		{ false, 0xff, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *got = cases[i].chassis ? smbios_chassis_type(cases[i].code) :
						     smbios_memory_type(cases[i].code);

		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got && strcmp(got, cases[i].want) != 0))
			fail_msg("%s type %#x: %s, want %s", cases[i].chassis ? "chassis" : "memory",
				 cases[i].code, got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
	}
}

/* A laptop-like table mixing SMBIOS eras: a 2.0-length BIOS structure, placeholders, a
 * Latin-1 string, a string index past the strings there are, and memory devices of every
 * size encoding. */
static void build_mixed(struct table *t)
{
	uint8_t bios[0x12] = { [0] = 0, [1] = 0x12, [4] = 1, [5] = 2, [8] = 3 };
	uint8_t system[0x1b] = { [0] = 1, [1] = 0x1b, [2] = 1, [4] = 1, [5] = 2, [6] = 0,
				 [7] = 9, [0x19] = 3, [0x1a] = 4 };
	uint8_t system2[0x1b] = { [0] = 1, [1] = 0x1b, [2] = 2, [4] = 1, [5] = 1 };
	uint8_t board[0x08] = { [0] = 2, [1] = 0x08, [4] = 1, [5] = 2, [7] = 3 };
	uint8_t chassis[0x09] = { [0] = 3, [1] = 0x09, [4] = 1, [5] = 0x8a, [7] = 2, [8] = 0 };
	uint8_t dimm_kib[0x28] = { [0] = 17, [1] = 0x28, [0x10] = 1, [0x12] = 0x22, [0x17] = 2 };
	uint8_t dimm_big[0x5c] = { [0] = 17, [1] = 0x5c, [0x10] = 1, [0x12] = 0x22, [0x17] = 2,
				   [0x18] = 3, [0x1a] = 4 };
	uint8_t dimm_old[0x15] = { [0] = 17, [1] = 0x15, [0x10] = 1, [0x12] = 0x12 };
	uint8_t dimm_unknown[0x1b] = { [0] = 17, [1] = 0x1b, [0x10] = 1, [0x12] = 0x1a,
				       [0x18] = 2 };
	uint8_t dimm_empty[0x28] = { [0] = 17, [1] = 0x28, [0x10] = 1, [0x12] = 0x02 };
	uint8_t dimm_short[0x0c] = { [0] = 17, [1] = 0x0c };
	static const uint8_t uuid[16] = { 0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
					  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

	memcpy(system + 8, uuid, 16);
	put16(dimm_kib + 0x0c, 0x8000 | 512);
	put16(dimm_kib + 0x15, 0xffff); /* "see Extended Speed", which this length lacks */
	put16(dimm_big + 0x0c, 0x7fff);
	put32(dimm_big + 0x1c, 131072);
	put16(dimm_big + 0x15, 0xffff);
	put32(dimm_big + 0x54, 8800);
	put16(dimm_old + 0x0c, 1024);
	put16(dimm_unknown + 0x0c, 0xffff);
	put16(dimm_unknown + 0x15, 3200);
	put16(dimm_short + 0x04, 0x1000);

	t->len = 0;
	add(t, bios, "LENOVO", "  N2HET63W (1.46 )  ", "08/05/2021", NULL);
	add(t, system, "To Be Filled By O.E.M.", "Gr\xfc\xdf" "e 14", "SKU", "ThinkPad T14", NULL);
	add(t, system2, "Second system structure", NULL);
	add(t, board, "LENOVO", "20W1S0XX00", "L1HF1AB012C", NULL);
	add(t, chassis, "LENOVO", "PF2ABCDE", NULL);
	add(t, dimm_kib, "ChannelA-DIMM0", "Kingston", NULL);
	add(t, dimm_big, "ChannelB-DIMM0", "Manufacturer0", "SerNum0", "PartNum0", NULL);
	add(t, dimm_old, "BANK 0", NULL);
	add(t, dimm_unknown, "DIMM 2", "00000000", NULL);
	add(t, dimm_empty, "DIMM 3", NULL);
	add(t, dimm_short, NULL);
	add_end(t);
}

static void test_fill_mixed(void **state)
{
	struct table t;
	struct filled f;

	(void)state;
	build_mixed(&t);
	fill(&f, t.bytes, t.len, 0x0302);
	check_string(field(&f, "bios", "vendor"), "LENOVO", "bios.vendor");
	check_string(field(&f, "bios", "version"), "N2HET63W (1.46 )", "bios.version");
	check_string(field(&f, "bios", "date"), "08/05/2021", "bios.date");
	check_string(field(&f, "system", "vendor"), NULL, "system.vendor (placeholder)");
	check_string(field(&f, "system", "product"), "Gr\xc3\xbc\xc3\x9f" "e 14",
		      "system.product (Latin-1)");
	check_string(field(&f, "system", "serial"), NULL, "system.serial (index past the strings)");
	check_string(field(&f, "system", "uuid"), "12345678-9abc-def0-0123-456789abcdef",
		      "system.uuid");
	check_string(field(&f, "system", "sku"), NULL, "system.sku (placeholder)");
	check_string(field(&f, "system", "family"), "ThinkPad T14", "system.family");
	check_string(field(&f, "baseboard", "vendor"), "LENOVO", "baseboard.vendor");
	check_string(field(&f, "baseboard", "product"), "20W1S0XX00", "baseboard.product");
	check_string(field(&f, "baseboard", "serial"), "L1HF1AB012C", "baseboard.serial");
	check_string(field(&f, "chassis", "type"), "Notebook", "chassis.type (lock bit set)");
	check_string(field(&f, "chassis", "serial"), "PF2ABCDE", "chassis.serial");
	check_string(field(&f, "chassis", "asset_tag"), NULL, "chassis.asset_tag (string 0)");

	assert_int_equal(json_array_size(field(&f, "memory", "dimms")), 4);
	assert_int_equal(f.dimms.count, 4);
	assert_false(f.dimms.complete);
	check_string(dimm_field(&f, 0, "slot"), "ChannelA-DIMM0", "dimm 0 slot");
	check_integer(dimm_field(&f, 0, "size_bytes"), 512 * 1024, "dimm 0 size (KiB)");
	check_string(dimm_field(&f, 0, "type"), "DDR5", "dimm 0 type");
	check_integer(dimm_field(&f, 0, "speed_mts"), -1, "dimm 0 speed (no extended field)");
	check_string(dimm_field(&f, 0, "manufacturer"), "Kingston", "dimm 0 manufacturer");
	check_string(dimm_field(&f, 0, "serial"), NULL, "dimm 0 serial");
	check_integer(dimm_field(&f, 1, "size_bytes"), 128 * GIB, "dimm 1 size (extended)");
	check_integer(dimm_field(&f, 1, "speed_mts"), 8800, "dimm 1 speed (extended)");
	check_string(dimm_field(&f, 1, "manufacturer"), NULL, "dimm 1 manufacturer (Manufacturer0)");
	check_string(dimm_field(&f, 1, "serial"), NULL, "dimm 1 serial (SerNum0)");
	check_string(dimm_field(&f, 1, "part"), NULL, "dimm 1 part (PartNum0)");
	check_string(dimm_field(&f, 2, "slot"), "BANK 0", "dimm 2 slot");
	check_integer(dimm_field(&f, 2, "size_bytes"), GIB, "dimm 2 size (SMBIOS 2.1 length)");
	check_string(dimm_field(&f, 2, "type"), "DDR", "dimm 2 type");
	check_integer(dimm_field(&f, 2, "speed_mts"), -1, "dimm 2 speed (field absent)");
	check_string(dimm_field(&f, 2, "manufacturer"), NULL, "dimm 2 manufacturer (field absent)");
	check_integer(dimm_field(&f, 3, "size_bytes"), -1, "dimm 3 size (unknown)");
	check_integer(dimm_field(&f, 3, "speed_mts"), 3200, "dimm 3 speed");
	check_string(dimm_field(&f, 3, "serial"), NULL, "dimm 3 serial (00000000)");
	json_decref(f.inv.json);

	/* With SMBIOS 2.5 the same bytes are a different UUID: no byte swapping. */
	fill(&f, t.bytes, t.len, 0x0205);
	check_string(field(&f, "system", "uuid"), "78563412-bc9a-f0de-0123-456789abcdef",
		      "system.uuid under 2.5");
	json_decref(f.inv.json);
	/* An unknown version leaves the UUID's byte order unknown: null, not a guess. */
	fill(&f, t.bytes, t.len, 0);
	check_string(field(&f, "system", "uuid"), NULL, "system.uuid, version unknown");
	check_string(field(&f, "system", "family"), "ThinkPad T14", "system.family, version unknown");
	json_decref(f.inv.json);
}

/* A processor structure (SMBIOS 3.0 length unless len is smaller). */
static void add_processor(struct table *t, size_t len, unsigned status, unsigned cores,
			  unsigned cores2, unsigned threads, unsigned threads2, unsigned mhz,
			  const char *version)
{
	uint8_t p[0x30] = { [0] = 4, [0x04] = 1, [0x05] = 3, [0x07] = 2, [0x10] = 3 };

	p[1] = (uint8_t)len;
	put16(p + 0x16, mhz);
	p[0x18] = (uint8_t)status;
	p[0x23] = (uint8_t)cores;
	p[0x25] = (uint8_t)threads;
	put16(p + 0x2a, cores2);
	put16(p + 0x2e, threads2);
	add(t, p, "CPU", "Intel", version, NULL);
}

static void test_fill_processors(void **state)
{
	static const struct {
		const char *what;
		int nprocs;
		struct {
			size_t len;
			unsigned status, cores, cores2, threads, threads2, mhz;
			const char *version;
		} procs[3];
		long sockets, cores, threads, mhz;
		const char *model;
	} cases[] = {
		{ "two populated sockets", 2,
		  { { 0x30, 0x41, 20, 20, 40, 40, 2100, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz" },
		    { 0x30, 0x41, 20, 20, 40, 40, 2100, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz" } },
		  2, 40, 80, 2100, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz" },
		{ "one of four sockets populated", 3,
		  { { 0x30, 0x00, 0, 0, 0, 0, 0, "Not Specified" },
		    { 0x30, 0x41, 8, 8, 16, 16, 3000, "  AMD EPYC 7252  " },
		    { 0x30, 0x00, 0, 0, 0, 0, 0, "Not Specified" } },
		  1, 8, 16, 3000, "AMD EPYC 7252" },
		{ "more than 255 cores: Core Count 2", 1,
		  { { 0x30, 0x41, 0xff, 288, 0xff, 288, 2200, "Intel(R) Xeon(R) 6780E" } },
		  1, 288, 288, 2200, "Intel(R) Xeon(R) 6780E" },
		{ "SMBIOS 2.3 structures: no core counts", 2,
		  { { 0x23, 0x41, 0, 0, 0, 0, 1000, "Pentium III" },
		    { 0x23, 0x41, 0, 0, 0, 0, 1000, "Pentium III" } },
		  2, 0, 0, 1000, "Pentium III" },
		{ "one socket without counts makes the sum unknown", 2,
		  { { 0x30, 0x41, 4, 4, 8, 8, 1800, "Xeon" }, { 0x23, 0x41, 0, 0, 0, 0, 1800, "Xeon" } },
		  2, 0, 0, 1800, "Xeon" },
		{ "status byte cut off: not counted", 1,
		  { { 0x18, 0x41, 0, 0, 0, 0, 0, "Y" } },
		  0, 0, 0, 0, "" },
		{ "placeholder version", 1,
		  { { 0x30, 0x41, 2, 2, 2, 2, 2000, "To Be Filled By O.E.M." } },
		  1, 2, 2, 2000, "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct table t = { .len = 0 };
		struct filled f;

		for (int k = 0; k < cases[i].nprocs; k++)
			add_processor(&t, cases[i].procs[k].len, cases[i].procs[k].status,
				      cases[i].procs[k].cores, cases[i].procs[k].cores2,
				      cases[i].procs[k].threads, cases[i].procs[k].threads2,
				      cases[i].procs[k].mhz, cases[i].procs[k].version);
		add_end(&t);
		fill(&f, t.bytes, t.len, 0x0302);
		if (f.cpu.sockets != cases[i].sockets || f.cpu.cores != cases[i].cores ||
		    f.cpu.threads != cases[i].threads || f.cpu.mhz != cases[i].mhz ||
		    strcmp(f.cpu.model, cases[i].model) != 0)
			fail_msg("%s: sockets %ld cores %ld threads %ld mhz %ld model \"%s\"; want %ld %ld "
				 "%ld %ld \"%s\"", cases[i].what, f.cpu.sockets, f.cpu.cores,
				 f.cpu.threads, f.cpu.mhz, f.cpu.model, cases[i].sockets, cases[i].cores,
				 cases[i].threads, cases[i].mhz, cases[i].model);
		json_decref(f.inv.json);
	}
}

/* Structures that lie about their lengths: the walk stops there, keeping what came before. */
static void test_bad_lengths(void **state)
{
	static const uint8_t system[0x08] = { [0] = 1, [1] = 0x08, [4] = 1, [5] = 2 };
	static const uint8_t tiny[4] = { 2, 2, 0, 0 };          /* length below the header */
	static const uint8_t huge[8] = { 3, 0xff, 0, 0, 1, 0, 0, 0 }; /* runs past the end */
	static const uint8_t unterminated[] = { 2, 0x08, 0, 0, 1, 2, 0, 3, 'A', 'B', 'C' };
	static const struct {
		const char *what;
		const void *bad;
		size_t bad_len;
	} cases[] = {
		{ "length 2", tiny, sizeof(tiny) },
		{ "length past the end", huge, sizeof(huge) },
		{ "string set without its double NUL", unterminated, sizeof(unterminated) },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct table t = { .len = 0 };
		struct filled f;

		/* The system structure is short (SMBIOS 2.0): no UUID, no SKU, no family. */
		add(&t, system, "Acme", "Rocket", NULL);
		add_raw(&t, cases[i].bad, cases[i].bad_len);
		fill(&f, t.bytes, t.len, 0x0302);
		check_string(field(&f, "system", "vendor"), "Acme", cases[i].what);
		check_string(field(&f, "system", "uuid"), NULL, cases[i].what);
		check_string(field(&f, "system", "family"), NULL, cases[i].what);
		check_string(field(&f, "baseboard", "vendor"), NULL, cases[i].what);
		check_string(field(&f, "chassis", "vendor"), NULL, cases[i].what);
		json_decref(f.inv.json);
	}
}

/* Every prefix of a table: whatever is cut, nothing is read past the end (ASan), and the
 * inventory keeps its shape. */
static void test_truncated_tables(void **state)
{
	struct table t;

	(void)state;
	build_mixed(&t);
	for (size_t len = 0; len <= t.len; len++) {
		struct filled f;

		fill(&f, t.bytes, len, 0x0302);
		assert_int_equal(json_object_size(f.inv.json), 10);
		assert_true(json_array_size(field(&f, "memory", "dimms")) <= 4);
		json_decref(f.inv.json);
	}
}

/* Random byte changes to a valid table, deterministic across runs. */
static void test_corrupted_tables(void **state)
{
	struct table t;
	uint32_t seed = 2463534242u;

	(void)state;
	build_mixed(&t);
	for (int round = 0; round < 5000; round++) {
		uint8_t copy[sizeof(t.bytes)];
		struct filled f;
		size_t len = t.len;

		memcpy(copy, t.bytes, t.len);
		for (int k = 0; k < 1 + round % 8; k++) {
			seed ^= seed << 13; /* xorshift32 */
			seed ^= seed >> 17;
			seed ^= seed << 5;
			copy[seed % t.len] = (uint8_t)(seed >> 24);
		}
		if (round % 3 == 0)
			len = seed % (t.len + 1);
		fill(&f, copy, len, round % 2 ? 0x0302 : 0x0204);
		assert_int_equal(json_object_size(f.inv.json), 10);
		json_decref(f.inv.json);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_version),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_dimm_size),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_fill_mixed),
		cmocka_unit_test(test_fill_processors),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_truncated_tables),
		cmocka_unit_test(test_corrupted_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of server/parse.c: the pure validation and parsing of what clients send.
 * Each test is a table of cases; a failing row names its input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"

/* A string of n copies of c, in buf (which holds n + 1 bytes). */
static char *repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_mac_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{ "52:54:00:12:34:56", 0, "52:54:00:12:34:56" },
		{ "52-54-00-12-34-56", 0, "52:54:00:12:34:56" },
		{ "525400123456", 0, "52:54:00:12:34:56" },
		{ "52:54:00:AB:CD:EF", 0, "52:54:00:ab:cd:ef" },
		{ "AA-BB-CC-DD-EE-FF", 0, "aa:bb:cc:dd:ee:ff" },
		{ "AABBCCDDEEFF", 0, "aa:bb:cc:dd:ee:ff" },
		{ "52540012345", -EINVAL, NULL },      /* 11 digits */
		{ "5254001234567", -EINVAL, NULL },    /* 13 digits */
		{ "52:54:00:12:34", -EINVAL, NULL },   /* 5 octets */
		{ "52:54:00:12:34:56:78", -EINVAL, NULL },
		{ "52:54:00:zz:00:01", -EINVAL, NULL },
		{ "52:54:00:12:34:5g", -EINVAL, NULL },
		{ "52 54 00 12 34 56", -EINVAL, NULL },
		{ "52.54.00.12.34.56", -EINVAL, NULL },
		{ " 52:54:00:12:34:56", -EINVAL, NULL },
		{ "52:54:00:12:34:56\n", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
		{ ":::::", -EINVAL, NULL },
		{ NULL, -EINVAL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[MAC_LEN + 1] = "";
		int rc = mac_parse(cases[i].in, out);

		if (rc != cases[i].rc)
			fail_msg("mac_parse(%s) = %d, want %d", shown(cases[i].in), rc, cases[i].rc);
		if (rc == 0 && strcmp(out, cases[i].out) != 0)
			fail_msg("mac_parse(%s) gave \"%s\", want \"%s\"", shown(cases[i].in), out,
				 cases[i].out);
	}
}

static void test_uuid_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{ "4c4c4544-0042-3510-8048-b4c04f4e4e32", 0, "4c4c4544-0042-3510-8048-b4c04f4e4e32" },
		{ "4C4C4544-0042-3510-8048-B4C04F4E4E32", 0, "4c4c4544-0042-3510-8048-b4c04f4e4e32" },
		{ "4c4c4544004235108048b4c04f4e4e32", 0, "4c4c4544-0042-3510-8048-b4c04f4e4e32" },
		{ "00000000-0000-0000-0000-000000000000", 0, "00000000-0000-0000-0000-000000000000" },
		{ "4c4c4544-0042-3510-8048-b4c04f4e4e3", -EINVAL, NULL },   /* 31 digits */
		{ "4c4c4544-0042-3510-8048-b4c04f4e4e321", -EINVAL, NULL }, /* 33 digits */
		{ "4c4c454400423510", -EINVAL, NULL },
		{ "4c:4c:45:44:00:42:35:10:80:48:b4:c0:4f:4e:4e:32", -EINVAL, NULL },
		{ "4c4c4544-0042-3510-8048-b4c04f4e4e3g", -EINVAL, NULL },
		{ "{4c4c4544-0042-3510-8048-b4c04f4e4e32}", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
		{ NULL, -EINVAL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[UUID_LEN + 1] = "";
		int rc = uuid_parse(cases[i].in, out);

		if (rc != cases[i].rc)
			fail_msg("uuid_parse(%s) = %d, want %d", shown(cases[i].in), rc, cases[i].rc);
		if (rc == 0 && strcmp(out, cases[i].out) != 0)
			fail_msg("uuid_parse(%s) gave \"%s\", want \"%s\"", shown(cases[i].in), out,
				 cases[i].out);
	}
}

static void test_uuid_is_placeholder(void **state)
{
	static const struct {
		const char *uuid;
		bool placeholder;
	} cases[] = {
		{ "00000000-0000-0000-0000-000000000000", true },
		{ "ffffffff-ffff-ffff-ffff-ffffffffffff", true },
		{ "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", true },
		{ "03000200-0400-0500-0006-000700080009", true }, /* AMI's unset default */
		{ "03000200-0400-0500-0006-00070008000a", false },
		{ "4c4c4544-0042-3510-8048-b4c04f4e4e32", false },
		{ "00000000-0000-0000-0000-000000000001", false },
		{ "ffffffff-ffff-ffff-ffff-fffffffffffe", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (uuid_is_placeholder(cases[i].uuid) != cases[i].placeholder)
			fail_msg("uuid_is_placeholder(%s) should be %s", shown(cases[i].uuid),
				 cases[i].placeholder ? "true" : "false");
}

static void test_serial_is_placeholder(void **state)
{
	static const struct {
		const char *serial;
		bool placeholder;
	} cases[] = {
		{ "To be filled by O.E.M.", true },
		{ "to be filled by o.e.m.", true },
		{ "Default string", true },
		{ "0123456789", true },
		{ "System Serial Number", true },
		{ "Chassis Serial Number", true },
		{ "Not Specified", true },
		{ "Not Specified  ", true }, /* trailing blanks */
		{ "N/A", true },
		{ "None", true },
		{ "Unknown", true },
		{ "Not Applicable", true },
		{ "", true },
		{ "  ", true },
		{ "0000000", true },
		{ "........", true },
		{ "XXXXXXXXXX", true },
		{ "ab", true }, /* too short to tell machines apart */
		{ "1", true },
		{ "CZ2048ABCD", false },
		{ "S1234567", false },
		{ "VMware-56 4d 2b 1c", false },
		{ "abc", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (serial_is_placeholder(cases[i].serial) != cases[i].placeholder)
			fail_msg("serial_is_placeholder(%s) should be %s", shown(cases[i].serial),
				 cases[i].placeholder ? "true" : "false");
}

static void test_name_is_safe(void **state)
{
	char n128[129], n129[130];
	const struct {
		const char *name;
		bool safe;
	} cases[] = {
		{ "vmlinuz", true },
		{ "initramfs.img", true },
		{ "tiny.tar.zst", true },
		{ "debian-12_amd64.raw.xz", true },
		{ repeat(n128, 'a', 128), true },
		{ repeat(n129, 'a', 129), false },
		{ "", false },
		{ ".", false },
		{ "..", false },
		{ ".hidden", false },
		{ "a/b", false },
		{ "../etc/passwd", false },
		{ "a\\b", false },
		{ "-x", false },
		{ "a b", false },
		{ "a\x7f", false },
		{ "a\x01", false },
		{ "a\xc3\xa9", false }, /* non-ASCII */
		{ "a%2e", false },
		{ "a:b", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (name_is_safe(cases[i].name) != cases[i].safe)
			fail_msg("name_is_safe(%s) should be %s", shown(cases[i].name),
				 cases[i].safe ? "true" : "false");
}

static void test_hostname_normalize(void **state)
{
	char l63[64], l64[65], n253[254], n254[255], big[256];
	const struct {
		const char *in;
		size_t outsz;
		int rc;
		const char *out;
	} cases[] = {
		{ "Web1.Example.COM", 254, 0, "web1.example.com" },
		{ "web-1", 254, 0, "web-1" },
		{ "a", 254, 0, "a" },
		{ "1a", 254, 0, "1a" },
		{ "node01.rack-2", 254, 0, "node01.rack-2" },
		{ repeat(l63, 'a', 63), 254, 0, l63 },
		{ "abc", 4, 0, "abc" },
		{ "abc", 3, -EINVAL, NULL }, /* no room for the NUL */
		{ "", 254, -EINVAL, NULL },
		{ "-a", 254, -EINVAL, NULL },
		{ "a-", 254, -EINVAL, NULL },
		{ "a.-b", 254, -EINVAL, NULL },
		{ "a-.b", 254, -EINVAL, NULL },
		{ "a..b", 254, -EINVAL, NULL },
		{ ".a", 254, -EINVAL, NULL },
		{ "a.", 254, -EINVAL, NULL },
		{ "a_b", 254, -EINVAL, NULL },
		{ "a b", 254, -EINVAL, NULL },
		{ "a;reboot", 254, -EINVAL, NULL },
		{ "h\xc3\xa9", 254, -EINVAL, NULL },
		{ repeat(l64, 'a', 64), 254, -EINVAL, NULL },
		{ "123", 254, -EINVAL, NULL },
		{ "1.2.3.4", 254, -EINVAL, NULL },
	};
	/* 253 bytes: three 63-byte labels and one of 61; then one byte more. */
	snprintf(n253, sizeof(n253), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	snprintf(n254, sizeof(n254), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	assert_int_equal(strlen(n253), 253);
	assert_int_equal(strlen(n254), 254);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[256] = "";
		int rc = hostname_normalize(cases[i].in, out, cases[i].outsz);

		if (rc != cases[i].rc)
			fail_msg("hostname_normalize(%s, %zu) = %d, want %d", shown(cases[i].in),
				 cases[i].outsz, rc, cases[i].rc);
		if (rc == 0 && strcmp(out, cases[i].out) != 0)
			fail_msg("hostname_normalize(%s) gave \"%s\", want \"%s\"", shown(cases[i].in),
				 out, cases[i].out);
		if (rc < 0 && err_msg()[0] == '\0')
			fail_msg("hostname_normalize(%s) failed without a message", shown(cases[i].in));
		err_clear();
	}
	assert_int_equal(hostname_normalize(n253, big, sizeof(big)), 0);
	assert_string_equal(big, n253);
	assert_int_equal(hostname_normalize(n254, big, sizeof(big)), -EINVAL);
}

static void test_image_format_valid(void **state)
{
	static const struct {
		const char *format;
		bool valid;
	} cases[] = {
		{ "tar.zst", true }, { "tar.gz", true },  { "tar.xz", true },  { "tar", true },
		{ "raw.zst", true }, { "raw.gz", true },  { "raw.xz", true },  { "raw", true },
		{ "qcow2", false },  { "tar.bz2", false }, { "RAW", false },   { "", false },
		{ ".raw", false },   { "zst", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (image_format_valid(cases[i].format) != cases[i].valid)
			fail_msg("image_format_valid(%s) should be %s", shown(cases[i].format),
				 cases[i].valid ? "true" : "false");
}

static void test_image_format_from_name(void **state)
{
	static const struct {
		const char *name;
		const char *format; /* NULL: none */
	} cases[] = {
		{ "tiny.tar.zst", "tar.zst" },
		{ "disk.raw", "raw" },
		{ "x.tar.gz", "tar.gz" },
		{ "x.tar.xz", "tar.xz" },
		{ "rootfs.tar", "tar" },
		{ "disk.raw.zst", "raw.zst" },
		{ "disk.raw.gz", "raw.gz" },
		{ "http://h/p/img.raw.xz", "raw.xz" },
		{ "noext", NULL },
		{ "raw", NULL },      /* a suffix needs a name before it */
		{ "tar.zst", NULL },
		{ "x.zst", NULL },
		{ "x.qcow2", NULL },
		{ "xraw", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *f = image_format_from_name(cases[i].name);

		if (!f != !cases[i].format || (f && strcmp(f, cases[i].format) != 0))
			fail_msg("image_format_from_name(%s) = %s, want %s", shown(cases[i].name),
				 f ? f : "NULL", cases[i].format ? cases[i].format : "NULL");
	}
}

static void test_range_parse(void **state)
{
	static const struct {
		const char *header;
		uint64_t size;
		int rc;
		uint64_t start, len;
	} cases[] = {
		{ "bytes=0-9", 1000, 0, 0, 10 },
		{ "bytes=990-", 1000, 0, 990, 10 },
		{ "bytes=-10", 1000, 0, 990, 10 },
		{ "bytes=-2000", 1000, 0, 0, 1000 },
		{ "bytes=0-99999", 1000, 0, 0, 1000 },
		{ "bytes=0-", 1000, 0, 0, 1000 },
		{ "bytes=999-999", 1000, 0, 999, 1 },
		{ "bytes=5-5", 1000, 0, 5, 1 },
		{ "bytes= 0-9", 1000, 0, 0, 10 },
		{ "bytes=-1000", 1000, 0, 0, 1000 },
		{ "bytes=0-0", 1, 0, 0, 1 },
		{ "bytes=0-9", 5, 0, 0, 5 },
		{ "bytes=-5", 5, 0, 0, 5 },
		{ "bytes=4-", 5, 0, 4, 1 },
		{ "bytes=9999999999999999999-", 1000, -ERANGE, 0, 0 }, /* 19 digits */
		{ "bytes=1000-", 1000, -ERANGE, 0, 0 },
		{ "bytes=1000-1999", 1000, -ERANGE, 0, 0 },
		{ "bytes=-0", 1000, -ERANGE, 0, 0 },
		{ "bytes=0-", 0, -ERANGE, 0, 0 },
		{ "bytes=-5", 0, -ERANGE, 0, 0 },
		{ "bytes=0-1,5-6", 1000, 1, 0, 0 },
		{ "items=0-1", 1000, 1, 0, 0 },
		{ "Bytes=0-1", 1000, 1, 0, 0 },
		{ "bytes=5-2", 1000, 1, 0, 0 },
		{ "bytes=abc", 1000, 1, 0, 0 },
		{ "bytes=a-9", 1000, 1, 0, 0 },
		{ "bytes=0-9x", 1000, 1, 0, 0 },
		{ "bytes=-", 1000, 1, 0, 0 },
		{ "bytes=--5", 1000, 1, 0, 0 },
		{ "bytes=+1-5", 1000, 1, 0, 0 },
		{ "bytes=", 1000, 1, 0, 0 },
		{ "", 1000, 1, 0, 0 },
		{ "bytes=99999999999999999999-", 1000, 1, 0, 0 }, /* 20 digits: beyond uint64 */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t start = 12345, len = 12345;
		int rc = range_parse(cases[i].header, cases[i].size, &start, &len);

		if (rc != cases[i].rc)
			fail_msg("range_parse(%s, %llu) = %d, want %d", shown(cases[i].header),
				 (unsigned long long)cases[i].size, rc, cases[i].rc);
		if (rc == 0 && (start != cases[i].start || len != cases[i].len))
			fail_msg("range_parse(%s, %llu) gave start %llu len %llu, want %llu %llu",
				 shown(cases[i].header), (unsigned long long)cases[i].size,
				 (unsigned long long)start, (unsigned long long)len,
				 (unsigned long long)cases[i].start, (unsigned long long)cases[i].len);
		if (rc != 0 && (start != 12345 || len != 12345))
			fail_msg("range_parse(%s) = %d changed its outputs", shown(cases[i].header), rc);
	}
}

static void test_time_iso8601(void **state)
{
	static const struct {
		time_t t;
		const char *text;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 951782400, "2000-02-29T00:00:00Z" },
		{ 1700000000, "2023-11-14T22:13:20Z" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[32];

		time_iso8601(cases[i].t, out);
		if (strcmp(out, cases[i].text) != 0)
			fail_msg("time_iso8601(%lld) = \"%s\", want \"%s\"", (long long)cases[i].t, out,
				 cases[i].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_parse),
		cmocka_unit_test(test_uuid_parse),
		cmocka_unit_test(test_uuid_is_placeholder),
		cmocka_unit_test(test_serial_is_placeholder),
		cmocka_unit_test(test_name_is_safe),
		cmocka_unit_test(test_hostname_normalize),
		cmocka_unit_test(test_image_format_valid),
		cmocka_unit_test(test_image_format_from_name),
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_time_iso8601),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

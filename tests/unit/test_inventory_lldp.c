/*
 * Unit tests of inventory/lldp.c on LLDPDUs built here TLV by TLV: a switch's usual frame,
 * the ID subtypes (MAC, network address, text, binary), the optional TLVs and their bounds,
 * and frames that are truncated, lie about lengths or break the mandatory order. Each frame is
 * copied to a heap buffer of exactly its length so that ASan reports any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* An LLDPDU under construction. */
struct pdu {
	uint8_t bytes[4096];
	size_t len;
};

static void add_raw(struct pdu *p, const void *data, size_t n)
{
	assert_true(p->len + n <= sizeof(p->bytes));
	if (n)
		memcpy(p->bytes + p->len, data, n);
	p->len += n;
}

/* A TLV: 7-bit type, 9-bit length, then the value. */
static void tlv(struct pdu *p, unsigned type, const void *value, size_t n)
{
	uint8_t head[2] = { (uint8_t)(type << 1 | (n >> 8 & 1)), (uint8_t)(n & 0xff) };

	add_raw(p, head, 2);
	add_raw(p, value, n);
}

/* A TLV with a subtype byte before the value (chassis and port IDs). */
static void tlv_sub(struct pdu *p, unsigned type, uint8_t subtype, const void *value, size_t n)
{
	uint8_t v[512];

	assert_true(n < sizeof(v));
	v[0] = subtype;
	if (n)
		memcpy(v + 1, value, n);
	tlv(p, type, v, n + 1);
}

static void tlv_text(struct pdu *p, unsigned type, const char *s)
{
	tlv(p, type, s, strlen(s));
}

static void ttl(struct pdu *p, unsigned seconds)
{
	uint8_t v[2] = { (uint8_t)(seconds >> 8), (uint8_t)seconds };

	tlv(p, 3, v, 2);
}

static void end(struct pdu *p)
{
	tlv(p, 0, NULL, 0);
}

static void pvid(struct pdu *p, unsigned vid)
{
	uint8_t v[6] = { 0x00, 0x80, 0xc2, 0x01, (uint8_t)(vid >> 8), (uint8_t)vid };

	tlv(p, 127, v, 6);
}

static const uint8_t SWITCH_MAC[6] = { 0xa6, 0x41, 0xb4, 0xfb, 0x6b, 0x7c };

/* The mandatory three: chassis MAC, port "Ethernet12" (locally assigned), TTL 120. */
static void mandatory(struct pdu *p)
{
	tlv_sub(p, 1, 4, SWITCH_MAC, 6);
	tlv_sub(p, 2, 7, "Ethernet12", 10);
	ttl(p, 120);
}

/* lldp_parse over an exact-length heap copy of p. */
static int parse(const struct pdu *p, struct lldp_neighbor *n)
{
	uint8_t *copy = malloc(p->len ? p->len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, p->bytes, p->len);
	rc = lldp_parse(copy, p->len, n);
	free(copy);
	return rc;
}

/* A frame as lldpd sends it, with a management address, a port VLAN and Ethernet padding. */
static void test_full_frame(void **state)
{
	static const uint8_t mgmt[] = { 5, 1, 192, 0, 2, 33, 2, 0, 0, 0, 3, 0 };
	static const uint8_t caps[] = { 0x00, 0x14, 0x00, 0x14 };
	struct lldp_neighbor n;
	struct pdu p = { .len = 0 };
	char *text;
	json_t *j;

	(void)state;
	mandatory(&p);
	tlv_text(&p, 4, "to rack 12 server 7");
	tlv_text(&p, 5, "leaf-3");
	tlv_text(&p, 6, "Debian GNU/Linux 12 (bookworm)");
	tlv(&p, 7, caps, sizeof(caps));
	tlv(&p, 8, mgmt, sizeof(mgmt));
	pvid(&p, 12);
	end(&p);
	add_raw(&p, "\0\0\0\0\0\0", 6);
	assert_int_equal(parse(&p, &n), 0);
	assert_string_equal(n.chassis_id, "a6:41:b4:fb:6b:7c");
	assert_int_equal(n.chassis_id_subtype, 4);
	assert_string_equal(n.port_id, "Ethernet12");
	assert_int_equal(n.port_id_subtype, 7);
	assert_int_equal(n.ttl, 120);
	assert_string_equal(n.port_description, "to rack 12 server 7");
	assert_string_equal(n.system_name, "leaf-3");
	assert_string_equal(n.system_description, "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(n.mgmt_address, "192.0.2.33");
	assert_int_equal(n.vlan, 12);

	assert_non_null(j = lldp_json(&n));
	assert_non_null(text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS));
	assert_string_equal(text, "{\"chassis_id\":\"a6:41:b4:fb:6b:7c\",\"mgmt_address\":\"192.0.2.33\","
				  "\"port\":\"Ethernet12\",\"port_description\":\"to rack 12 server 7\","
				  "\"switch\":\"leaf-3\",\"switch_description\":\"Debian GNU/Linux 12 (bookworm)\","
				  "\"vlan\":12}");
	free(text);
	json_decref(j);
}

/* Only the mandatory TLVs: everything else is "" / 0, and null in the JSON. */
static void test_minimal_frame(void **state)
{
	struct lldp_neighbor n;
	struct pdu p = { .len = 0 };
	char *text;
	json_t *j;

	(void)state;
	mandatory(&p);
	end(&p);
	assert_int_equal(parse(&p, &n), 0);
	assert_string_equal(n.system_name, "");
	assert_int_equal(n.vlan, 0);
	assert_non_null(j = lldp_json(&n));
	assert_non_null(text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS));
	assert_string_equal(text, "{\"chassis_id\":\"a6:41:b4:fb:6b:7c\",\"mgmt_address\":null,"
				  "\"port\":\"Ethernet12\",\"port_description\":null,\"switch\":null,"
				  "\"switch_description\":null,\"vlan\":null}");
	free(text);
	json_decref(j);
}

/* Chassis and port IDs of every kind, formatted by subtype. */
static void test_id_subtypes(void **state)
{
	static const uint8_t v4[] = { 1, 192, 0, 2, 1 };
	static const uint8_t v6[] = { 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t odd_family[] = { 6, 0xde, 0xad };
	static const uint8_t short_mac[] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
	static const uint8_t binary[] = { 'a', 0x00, 0x7f, 0x1b };
	static const uint8_t circuit[] = { 0x01, 0x04, 'x', 'y' };
	static const struct {
		const char *name;
		unsigned type;
		uint8_t subtype;
		const uint8_t *value;
		size_t len;
		const char *want;
	} cases[] = {
		{ "chassis network address IPv4", 1, 5, v4, sizeof(v4), "192.0.2.1" },
		{ "chassis network address IPv6", 1, 5, v6, sizeof(v6), "2001:db8::1" },
		{ "chassis network address, unknown family", 1, 5, odd_family, sizeof(odd_family), "06:de:ad" },
		{ "chassis IPv4 family with 2 bytes", 1, 5, v4, 3, "01:c0:00" },
		{ "chassis MAC of 5 bytes", 1, 4, short_mac, sizeof(short_mac), "aa:bb:cc:dd:ee" },
		{ "chassis interface name", 1, 6, (const uint8_t *)"eth0", 4, "eth0" },
		{ "chassis component, binary", 1, 1, binary, sizeof(binary), "61:00:7f:1b" },
		{ "chassis subtype 0 (reserved), text", 1, 0, (const uint8_t *)"x", 1, "x" },
		{ "chassis subtype 200 (reserved), text", 1, 200, (const uint8_t *)"sw", 2, "sw" },
		{ "port MAC", 2, 3, SWITCH_MAC, 6, "a6:41:b4:fb:6b:7c" },
		{ "port network address", 2, 4, v4, sizeof(v4), "192.0.2.1" },
		{ "port interface name", 2, 5, (const uint8_t *)"swp3", 4, "swp3" },
		{ "port interface alias, UTF-8", 2, 1, (const uint8_t *)"Port \xc3\xa9", 7, "Port \xc3\xa9" },
		{ "port agent circuit ID, binary", 2, 6, circuit, sizeof(circuit), "01:04:78:79" },
		{ "port locally assigned, a control character", 2, 7, (const uint8_t *)"a\tb", 3, "61:09:62" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct lldp_neighbor n;
		struct pdu p = { .len = 0 };

		if (cases[i].type == 1) {
			tlv_sub(&p, 1, cases[i].subtype, cases[i].value, cases[i].len);
			tlv_sub(&p, 2, 7, "p", 1);
		} else {
			tlv_sub(&p, 1, 4, SWITCH_MAC, 6);
			tlv_sub(&p, 2, cases[i].subtype, cases[i].value, cases[i].len);
		}
		ttl(&p, 120);
		end(&p);
		if (parse(&p, &n) != 0)
			fail_msg("%s: refused", cases[i].name);
		if (strcmp(cases[i].type == 1 ? n.chassis_id : n.port_id, cases[i].want) != 0)
			fail_msg("%s: '%s', want '%s'", cases[i].name,
				 cases[i].type == 1 ? n.chassis_id : n.port_id, cases[i].want);
		if ((cases[i].type == 1 ? n.chassis_id_subtype : n.port_id_subtype) != cases[i].subtype)
			fail_msg("%s: subtype not kept", cases[i].name);
	}
}

/* Frames 802.1AB says to discard, and frames cut or lying about lengths: -EBADMSG each. */
static void test_refused(void **state)
{
	static const uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t big[300];
	struct lldp_neighbor n;
	const char *name;
	struct pdu p;

	(void)state;
	memset(big, 'a', sizeof(big));
#define REFUSED(what, build) do { \
		name = (what); \
		p.len = 0; \
		build; \
		if (parse(&p, &n) != -EBADMSG) \
			fail_msg("%s: not refused", name); \
	} while (0)
	REFUSED("empty", (void)0);
	REFUSED("one byte", add_raw(&p, "\x02", 1));
	REFUSED("only an End TLV", end(&p));
	REFUSED("no TTL", (tlv_sub(&p, 1, 4, mac, 6), tlv_sub(&p, 2, 7, "p", 1), end(&p)));
	REFUSED("no port ID", (tlv_sub(&p, 1, 4, mac, 6), ttl(&p, 120), end(&p)));
	REFUSED("port ID first", (tlv_sub(&p, 2, 7, "p", 1), tlv_sub(&p, 1, 4, mac, 6), ttl(&p, 120), end(&p)));
	REFUSED("system name before TTL", (tlv_sub(&p, 1, 4, mac, 6), tlv_sub(&p, 2, 7, "p", 1),
					   tlv_text(&p, 5, "leaf-3"), ttl(&p, 120), end(&p)));
	REFUSED("a second chassis ID", (mandatory(&p), tlv_sub(&p, 1, 4, mac, 6), end(&p)));
	REFUSED("a second TTL", (mandatory(&p), ttl(&p, 5), end(&p)));
	REFUSED("chassis ID without an ID", (tlv(&p, 1, "\x04", 1), tlv_sub(&p, 2, 7, "p", 1), ttl(&p, 120), end(&p)));
	REFUSED("chassis ID of 256 bytes", (tlv_sub(&p, 1, 7, big, 256), tlv_sub(&p, 2, 7, "p", 1), ttl(&p, 120), end(&p)));
	REFUSED("TTL of 3 bytes", (tlv_sub(&p, 1, 4, mac, 6), tlv_sub(&p, 2, 7, "p", 1), tlv(&p, 3, "\0\1\2", 3), end(&p)));
	REFUSED("End TLV with a length", (mandatory(&p), tlv(&p, 0, "x", 1)));
	REFUSED("truncated inside a TLV's value", (mandatory(&p), tlv_text(&p, 5, "leaf-3"), p.len -= 3));
	REFUSED("truncated inside a TLV header", (mandatory(&p), add_raw(&p, "\x0a", 1)));
	REFUSED("a length past the end", (mandatory(&p), add_raw(&p, "\x0b\x2c", 2), tlv_text(&p, 0, "")));
	REFUSED("the TTL's length past the end", (tlv_sub(&p, 1, 4, mac, 6), tlv_sub(&p, 2, 7, "p", 1),
						  add_raw(&p, "\x06\x02\x00", 3)));
	REFUSED("system name of 256 bytes", (mandatory(&p), tlv(&p, 5, big, 256), end(&p)));
	REFUSED("port description of 300 bytes", (mandatory(&p), tlv(&p, 4, big, 300), end(&p)));
	REFUSED("management address TLV too short", (mandatory(&p), tlv(&p, 8, "\x05\x01\xc0\x00", 4), end(&p)));
	REFUSED("management address length past the TLV",
		(mandatory(&p), tlv(&p, 8, "\x20\x01\xc0\x00\x02\x21\x02\x00\x00\x00\x03\x00", 12), end(&p)));
	REFUSED("management address OID length past the TLV",
		(mandatory(&p), tlv(&p, 8, "\x05\x01\xc0\x00\x02\x21\x02\x00\x00\x00\x03\x09", 12), end(&p)));
	REFUSED("management address length 1",
		(mandatory(&p), tlv(&p, 8, "\x01\x01\x02\x00\x00\x00\x03\x00\x00", 9), end(&p)));
	REFUSED("organizational TLV of 3 bytes", (mandatory(&p), tlv(&p, 127, "\x00\x80\xc2", 3), end(&p)));
	REFUSED("port VLAN ID of 1 byte", (mandatory(&p), tlv(&p, 127, "\x00\x80\xc2\x01\x0c", 5), end(&p)));
#undef REFUSED
}

/* What is accepted at the edges: no End TLV at the very end, shutdown frames, unknown and
 * organizational TLVs of others, VLAN IDs that mean none, the first of repeated TLVs. */
static void test_edges(void **state)
{
	static const uint8_t other_org[] = { 0x00, 0x12, 0x0f, 0x01, 0x03, 0x6c, 0x00, 0x00, 0x10 };
	static const uint8_t mgmt_v6[] = { 17, 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
					   2, 0, 0, 0, 3, 0 };
	static const uint8_t mgmt_mac[] = { 7, 6, 1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 0, 2, 0x2b, 0x06 };
	uint8_t big[511];
	struct lldp_neighbor n;
	struct pdu p = { .len = 0 };

	(void)state;
	mandatory(&p);
	assert_int_equal(parse(&p, &n), 0); /* ends right after the TTL: nothing is lost */

	p.len = 0;
	tlv_sub(&p, 1, 4, SWITCH_MAC, 6);
	tlv_sub(&p, 2, 7, "Ethernet12", 10);
	ttl(&p, 0);
	end(&p);
	assert_int_equal(parse(&p, &n), 0);
	assert_int_equal(n.ttl, 0); /* a shutdown LLDPDU: parsed, the caller ignores it */

	memset(big, 'z', sizeof(big));
	p.len = 0;
	mandatory(&p);
	tlv(&p, 126, big, sizeof(big)); /* an unknown TLV of the largest length */
	tlv(&p, 127, other_org, sizeof(other_org));
	pvid(&p, 0);    /* "not known" */
	pvid(&p, 4095); /* reserved */
	pvid(&p, 4094);
	pvid(&p, 7);    /* the first real one counts */
	tlv(&p, 8, mgmt_mac, sizeof(mgmt_mac)); /* not an IP address: skipped */
	tlv(&p, 8, mgmt_v6, sizeof(mgmt_v6));
	tlv_text(&p, 5, "leaf-3");
	tlv_text(&p, 5, "leaf-4");
	tlv(&p, 4, "", 0);
	end(&p);
	tlv_text(&p, 5, "after the end: ignored");
	assert_int_equal(parse(&p, &n), 0);
	assert_int_equal(n.vlan, 4094);
	assert_string_equal(n.mgmt_address, "2001:db8::7");
	assert_string_equal(n.system_name, "leaf-3");
	assert_string_equal(n.port_description, "");
}

/* A system name with a control character is not printed as it came. */
static void test_control_characters(void **state)
{
	struct lldp_neighbor n;
	struct pdu p = { .len = 0 };

	(void)state;
	mandatory(&p);
	tlv_text(&p, 5, "leaf\n3");
	end(&p);
	assert_int_equal(parse(&p, &n), 0);
	assert_string_equal(n.system_name, "6c:65:61:66:0a:33");
}

/* Every prefix of a valid frame is parsed without reading past it (ASan watches). */
static void test_every_prefix(void **state)
{
	static const uint8_t mgmt[] = { 5, 1, 192, 0, 2, 33, 2, 0, 0, 0, 3, 0 };
	struct lldp_neighbor n;
	struct pdu p = { .len = 0 }, cut;

	(void)state;
	mandatory(&p);
	tlv_text(&p, 5, "leaf-3");
	tlv(&p, 8, mgmt, sizeof(mgmt));
	pvid(&p, 12);
	end(&p);
	for (size_t len = 0; len <= p.len; len++) {
		int rc;

		memcpy(cut.bytes, p.bytes, len);
		cut.len = len;
		rc = parse(&cut, &n);
		if (rc != 0 && rc != -EBADMSG)
			fail_msg("prefix of %zu bytes: %d", len, rc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_frame),
		cmocka_unit_test(test_minimal_frame),
		cmocka_unit_test(test_id_subtypes),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_every_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

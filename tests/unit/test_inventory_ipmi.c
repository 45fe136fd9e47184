/*
 * Unit tests of inventory/ipmi.c's pure parts (the bytes of the in-band IPMI commands and
 * answers, IPMI 2.0 sections 22.26-22.30 and 23.2) and of SMBIOS type 38 (IPMI Device
 * Information) in smbios.c. The type 38 structures are written here byte by byte; two are
 * those of real machines in /work/shared/smbios-corpus (dell-poweredge-r640: KCS at I/O
 * 0xCA8, IPMI 2.0; dell-poweredge-1650: BT at I/O 0xE4, IPMI 1.0), typed in from there, not
 * copied files. Buffers are heap copies of exactly their length so that ASan catches any
 * read past the end.
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

/* A heap copy of n bytes (freed by the caller). */
static uint8_t *dup_bytes(const void *b, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, b, n);
	return p;
}

static void test_lan_parse(void **state)
{
	static const uint8_t ip[] = { 0x11, 192, 0, 2, 17 };
	static const uint8_t mask[] = { 0x11, 255, 255, 255, 0 };
	static const uint8_t gw[] = { 0x11, 192, 0, 2, 1 };
	static const uint8_t mac[] = { 0x11, 0x52, 0x54, 0x00, 0xb0, 0x0a, 0xff };
	struct ipmi_lan lan = { .ip_source = NULL };
	uint8_t *b;

	(void)state;
	memset(&lan, 0, sizeof(lan));
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_IP, (b = dup_bytes(ip, sizeof(ip))), sizeof(ip), &lan), 0);
	free(b);
	assert_string_equal(lan.ip, "192.0.2.17");
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_NETMASK, (b = dup_bytes(mask, sizeof(mask))), sizeof(mask), &lan), 0);
	free(b);
	assert_string_equal(lan.netmask, "255.255.255.0");
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_GATEWAY, (b = dup_bytes(gw, sizeof(gw))), sizeof(gw), &lan), 0);
	free(b);
	assert_string_equal(lan.gateway, "192.0.2.1");
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_MAC, (b = dup_bytes(mac, sizeof(mac))), sizeof(mac), &lan), 0);
	free(b);
	assert_string_equal(lan.mac, "52:54:00:b0:0a:ff");
	/* short answers: nothing read past them, an error, the value untouched */
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_IP, (b = dup_bytes(ip, 4)), 4, &lan), -EIO);
	free(b);
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_MAC, (b = dup_bytes(mac, 6)), 6, &lan), -EIO);
	free(b);
	assert_string_equal(lan.ip, "192.0.2.17");
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_IP, NULL, 0, &lan), -EIO);
	/* a parameter the reader does not ask */
	assert_int_equal(ipmi_lan_parse(7, ip, sizeof(ip), &lan), -EIO);
}

static void test_ip_source(void **state)
{
	static const struct { uint8_t code; const char *name; } cases[] = {
		{ 0x01, "static" }, { 0x02, "dhcp" }, { 0x03, "bios" }, { 0x04, "other" }, { 0x00, NULL },
		{ 0xf2, "dhcp" }, /* the reserved high bits are ignored */
		{ 0x09, NULL },
	};
	struct ipmi_lan lan;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t rsp[2] = { 0x11, cases[i].code }, *b = dup_bytes(rsp, 2);

		memset(&lan, 0, sizeof(lan));
		lan.ip_source = "unset";
		assert_int_equal(ipmi_lan_parse(IPMI_LAN_IP_SOURCE, b, 2, &lan), 0);
		if (cases[i].name)
			assert_string_equal(lan.ip_source, cases[i].name);
		else
			assert_null(lan.ip_source);
		free(b);
	}
	assert_int_equal(ipmi_lan_parse(IPMI_LAN_IP_SOURCE, (const uint8_t *)"\x11", 1, &lan), -EIO);
}

static void test_channel_and_access(void **state)
{
	/* Get Channel Info of channel 1: 802.3 LAN (4), IPMB-1.0 protocol, multi-session */
	static const uint8_t info[] = { 0x01, 0x04, 0x01, 0x82, 0xf2, 0x1b, 0x00, 0x00, 0x00 };
	/* Get User Access: 10 users, 2 enabled (bits 7:6 set: "enabled via Set User Password"),
	 * 1 fixed name, this user administrator with IPMI messaging */
	static const uint8_t access[] = { 0x0a, 0x42, 0x01, 0x14 };
	struct ipmi_user_access a;
	uint8_t *b;

	(void)state;
	assert_int_equal(ipmi_channel_medium((b = dup_bytes(info, sizeof(info))), sizeof(info)), IPMI_CHANNEL_LAN_MEDIUM);
	free(b);
	assert_int_equal(ipmi_channel_medium((const uint8_t *)"\x0f", 1), -EIO);
	assert_int_equal(ipmi_user_access_parse((b = dup_bytes(access, sizeof(access))), sizeof(access), &a), 0);
	free(b);
	assert_int_equal(a.max_users, 10);
	assert_int_equal(a.enabled, 2);
	assert_int_equal(a.fixed, 1);
	assert_int_equal(a.privilege, IPMI_PRIV_ADMIN);
	assert_int_equal(ipmi_user_access_parse(access, 3, &a), -EIO);
	/* a BMC that says it has no users makes no sense */
	assert_int_equal(ipmi_user_access_parse((const uint8_t *)"\xc0\x00\x00\x00", 4, &a), -EIO);
}

static void test_user_name(void **state)
{
	uint8_t rsp[16] = "admin";
	char name[IPMI_USER_NAME_MAX + 1];
	uint8_t *b;

	(void)state;
	assert_int_equal(ipmi_user_name_parse((b = dup_bytes(rsp, 16)), 16, name), 0);
	free(b);
	assert_string_equal(name, "admin");
	memset(rsp, 0, sizeof(rsp));
	assert_int_equal(ipmi_user_name_parse(rsp, 16, name), 0);
	assert_string_equal(name, "");
	memcpy(rsp, "sixteen-chars-ok", 16); /* no NUL at all: all 16 are the name */
	assert_int_equal(ipmi_user_name_parse((b = dup_bytes(rsp, 16)), 16, name), 0);
	free(b);
	assert_string_equal(name, "sixteen-chars-ok");
	rsp[3] = 0x07;
	assert_int_equal(ipmi_user_name_parse(rsp, 16, name), -EIO);
	assert_int_equal(ipmi_user_name_parse(rsp, 15, name), -EIO);
}

static void test_requests(void **state)
{
	uint8_t out[2 + IPMI_PASSWORD_MAX];

	(void)state;
	/* Set User Name: the ID, then 16 bytes padded with NULs */
	assert_int_equal(ipmi_set_user_name_req(3, "anemos", out), 17);
	assert_int_equal(out[0], 3);
	assert_memory_equal(out + 1, "anemos\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(ipmi_set_user_name_req(3, "seventeen-chars!!", out), -EINVAL);
	assert_int_equal(ipmi_set_user_name_req(0, "anemos", out), -EINVAL);
	assert_int_equal(ipmi_set_user_name_req(64, "anemos", out), -EINVAL);
	assert_int_equal(ipmi_set_user_name_req(3, "", out), -EINVAL);

	/* Set User Password: 16-byte form up to 16 bytes, 20-byte form (bit 7) above */
	assert_int_equal(ipmi_set_password_req(3, IPMI_PW_SET, "Abc123", out), 18);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], IPMI_PW_SET);
	assert_memory_equal(out + 2, "Abc123\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(ipmi_set_password_req(3, IPMI_PW_TEST, "0123456789abcdefXYZ", out), 22);
	assert_int_equal(out[0], 0x83);
	assert_int_equal(out[1], IPMI_PW_TEST);
	assert_memory_equal(out + 2, "0123456789abcdefXYZ\0", 20);
	assert_int_equal(ipmi_set_password_req(3, IPMI_PW_SET, "0123456789abcdef0123X", out), -EINVAL);
	/* enable and disable carry no password */
	assert_int_equal(ipmi_set_password_req(5, IPMI_PW_ENABLE, NULL, out), 2);
	assert_int_equal(out[0], 5);
	assert_int_equal(out[1], IPMI_PW_ENABLE);
	assert_int_equal(ipmi_set_password_req(5, IPMI_PW_SET, NULL, out), -EINVAL);
	assert_int_equal(ipmi_set_password_req(5, 4, "x", out), -EINVAL);

	/* Set User Access: change bits, link auth, IPMI messaging, the channel; ID; limit */
	assert_int_equal(ipmi_set_user_access_req(1, 3, IPMI_PRIV_ADMIN, out), 4);
	assert_memory_equal(out, "\xb1\x03\x04\x00", 4);
	assert_int_equal(ipmi_set_user_access_req(16, 3, IPMI_PRIV_ADMIN, out), -EINVAL);
	assert_int_equal(ipmi_set_user_access_req(1, 3, 6, out), -EINVAL);
}

static void test_pick_user(void **state)
{
	char names[10][IPMI_USER_NAME_MAX + 1];

	(void)state;
	memset(names, 0, sizeof(names));
	strcpy(names[1], "admin");                       /* ID 2 */
	assert_int_equal(ipmi_pick_user(names, 10, 1, "anemos"), 3);
	strcpy(names[2], "root");                        /* ID 3 taken */
	assert_int_equal(ipmi_pick_user(names, 10, 1, "anemos"), 4);
	strcpy(names[6], "anemos");                      /* enrolled before as ID 7: again */
	assert_int_equal(ipmi_pick_user(names, 10, 1, "anemos"), 7);
	/* ... unless ID 7 is one of the fixed names */
	assert_int_equal(ipmi_pick_user(names, 10, 7, "anemos"), 8);
	/* every slot from 3 named: 2 when it is free and not fixed, else none */
	for (int i = 2; i < 10; i++)
		snprintf(names[i], sizeof(names[i]), "user%d", i + 1);
	names[1][0] = '\0';
	assert_int_equal(ipmi_pick_user(names, 10, 1, "anemos"), 2);
	assert_int_equal(ipmi_pick_user(names, 10, 2, "anemos"), 0);
	strcpy(names[1], "admin");
	assert_int_equal(ipmi_pick_user(names, 10, 1, "anemos"), 0);
	/* the anonymous user (ID 1, no name) is never taken */
	assert_int_equal(ipmi_pick_user(names, 1, 0, "anemos"), 0);
}

static void test_cc_text(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(ipmi_cc_text(0xd4, buf, sizeof(buf)), "insufficient privilege level (0xD4)");
	assert_string_equal(ipmi_cc_text(0xc1, buf, sizeof(buf)), "command not supported (0xC1)");
	assert_string_equal(ipmi_cc_text(0x81, buf, sizeof(buf)), "completion code 0x81");
}

/* An inventory of a table of one type 38 structure, fmt[1] bytes, then the end. */
static json_t *bmc_of(const uint8_t *fmt, size_t len)
{
	uint8_t table[64];
	size_t n = 0;
	struct inventory inv = { .root = "/nonexistent", .json = inventory_skeleton() };
	struct cpu_facts cpu;
	struct dimm_total dimms;
	uint8_t *heap;
	json_t *bmc;

	memcpy(table, fmt, len);
	n = len;
	memcpy(table + n, "\0\0\x7f\x04\xff\xfe\0\0", 8);
	n += 8;
	heap = dup_bytes(table, n);
	smbios_fill(&inv, heap, n, 0x0300, &cpu, &dimms);
	free(heap);
	assert_false(inv.oom);
	bmc = json_incref(json_object_get(inv.json, "bmc"));
	json_decref(inv.json);
	return bmc;
}

static void test_smbios_type38(void **state)
{
	/* dell-poweredge-r640 (smbios-corpus): KCS, IPMI 2.0, I/O 0xCA9 -> 0xCA8 */
	static const uint8_t r640[] = { 0x26, 0x12, 0x00, 0x26, 0x01, 0x20, 0x20, 0xff, 0xa9, 0x0c, 0, 0, 0, 0, 0, 0,
					0x4a, 0x0a };
	/* dell-poweredge-1650 (smbios-corpus): BT, IPMI 1.0, I/O 0xE4 */
	static const uint8_t pe1650[] = { 0x26, 0x12, 0x00, 0x26, 0x03, 0x10, 0x20, 0xff, 0xe5, 0x00, 0, 0, 0, 0, 0, 0,
					  0x0a, 0x0a };
	/* an SSIF BMC with a memory-mapped base and the address LSB in the modifier's bit 4 */
	static const uint8_t ssif[] = { 0x26, 0x12, 0x00, 0x30, 0x04, 0x20, 0x20, 0xff, 0x00, 0x00, 0xd0, 0xfe, 0, 0, 0,
					0, 0x10, 0x00 };
	/* SMBIOS 2.x's short form: no base address modifier */
	static const uint8_t short_form[] = { 0x26, 0x10, 0x00, 0x31, 0x01, 0x15, 0x20, 0xff, 0xa3, 0x0c, 0, 0, 0, 0,
					      0, 0 };
	/* a type 38 that lies: length 5, no revision */
	static const uint8_t tiny[] = { 0x26, 0x05, 0x00, 0x32, 0x09 };
	json_t *bmc;

	(void)state;
	bmc = bmc_of(r640, sizeof(r640));
	assert_true(json_is_true(json_object_get(bmc, "present")));
	assert_string_equal(json_string_value(json_object_get(bmc, "interface")), "kcs");
	assert_string_equal(json_string_value(json_object_get(bmc, "ipmi_version")), "2.0");
	assert_string_equal(json_string_value(json_object_get(bmc, "base_address")), "io:0xca8");
	/* the LAN settings come from the BMC itself, not SMBIOS: null until read */
	assert_true(json_is_null(json_object_get(bmc, "ip")));
	assert_true(json_is_null(json_object_get(bmc, "mac")));
	json_decref(bmc);

	bmc = bmc_of(pe1650, sizeof(pe1650));
	assert_string_equal(json_string_value(json_object_get(bmc, "interface")), "bt");
	assert_string_equal(json_string_value(json_object_get(bmc, "ipmi_version")), "1.0");
	assert_string_equal(json_string_value(json_object_get(bmc, "base_address")), "io:0xe4");
	json_decref(bmc);

	bmc = bmc_of(ssif, sizeof(ssif));
	assert_string_equal(json_string_value(json_object_get(bmc, "interface")), "ssif");
	assert_string_equal(json_string_value(json_object_get(bmc, "base_address")), "mem:0xfed00001");
	json_decref(bmc);

	bmc = bmc_of(short_form, sizeof(short_form));
	assert_string_equal(json_string_value(json_object_get(bmc, "interface")), "kcs");
	assert_string_equal(json_string_value(json_object_get(bmc, "ipmi_version")), "1.5");
	assert_string_equal(json_string_value(json_object_get(bmc, "base_address")), "io:0xca2");
	json_decref(bmc);

	bmc = bmc_of(tiny, sizeof(tiny));
	assert_true(json_is_true(json_object_get(bmc, "present")));
	assert_true(json_is_null(json_object_get(bmc, "interface"))); /* 9: no such interface */
	assert_true(json_is_null(json_object_get(bmc, "ipmi_version")));
	json_decref(bmc);

	assert_null(smbios_ipmi_interface(0));
	assert_null(smbios_ipmi_interface(5));
}

/* No type 38 and no /dev/ipmi0 under the root: no "bmc" member at all (bmc:absent). */
static void test_no_bmc(void **state)
{
	static const uint8_t bios[] = { 0x00, 0x12, 0x00, 0x00, 0x01, 0x02, 0, 0xe0, 0x03, 0x07, 0, 0, 0, 0, 0, 0,
					0, 0 };
	json_t *bmc = bmc_of(bios, sizeof(bios));

	(void)state;
	assert_null(bmc);
}

static void test_fill_lan(void **state)
{
	struct inventory inv = { .root = "/nonexistent", .json = inventory_skeleton() };
	struct ipmi_lan lan = { .ip = "192.0.2.17", .netmask = "255.255.255.0", .gateway = "0.0.0.0",
				.mac = "52:54:00:b0:00:01", .ip_source = "dhcp" };
	json_t *bmc;

	(void)state;
	bmc = bmc_section(&inv);
	assert_non_null(bmc);
	bmc_fill_lan(&inv, bmc, &lan, 1);
	assert_string_equal(json_string_value(json_object_get(bmc, "ip")), "192.0.2.17");
	assert_string_equal(json_string_value(json_object_get(bmc, "ip_source")), "dhcp");
	assert_int_equal(json_integer_value(json_object_get(bmc, "channel")), 1);
	assert_true(json_is_null(json_object_get(bmc, "gateway"))); /* 0.0.0.0: none */
	/* a BMC with no address yet */
	strcpy(lan.ip, "0.0.0.0");
	strcpy(lan.mac, "00:00:00:00:00:00");
	lan.ip_source = NULL;
	bmc_fill_lan(&inv, bmc, &lan, 1);
	assert_true(json_is_null(json_object_get(bmc, "ip")));
	assert_true(json_is_null(json_object_get(bmc, "mac")));
	assert_true(json_is_null(json_object_get(bmc, "ip_source")));
	assert_false(inv.oom);
	json_decref(inv.json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lan_parse),
		cmocka_unit_test(test_ip_source),
		cmocka_unit_test(test_channel_and_access),
		cmocka_unit_test(test_user_name),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_pick_user),
		cmocka_unit_test(test_cc_text),
		cmocka_unit_test(test_smbios_type38),
		cmocka_unit_test(test_no_bmc),
		cmocka_unit_test(test_fill_lan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

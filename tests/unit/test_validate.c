/*
 * Unit tests of server/validate.c: tables of good and bad values for each field an operator
 * sends, and the messages that name the field whole.
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

#include "anemosd.h"
#include "support.h"

/* Runs install_settings_check on {"key": value} given as JSON text. */
static int install_one(const char *key, const char *value_json)
{
	json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL), *o = json_object();
	int rc;

	if (!v)
		fail_msg("bad test JSON %s", value_json);
	json_object_set_new(o, key, v);
	rc = install_settings_check(o);
	json_decref(o);
	return rc;
}

static void test_install_settings(void **state)
{
	static const struct {
		const char *key, *value;
		int rc;
	} cases[] = {
		{ "disk", "{\"serial\":\"S3Z1NB0K\"}", 0 },
		{ "disk", "{\"by_path\":\"pci-0000:00:1f.2-ata-1\"}", 0 },
		{ "disk", "{\"name\":\"nvme0n1\"}", 0 },
		{ "disk", "{\"serial\":\"A\",\"name\":\"b\"}", -EINVAL },
		{ "disk", "\"sda\"", -EINVAL },
		{ "disk", "{}", -EINVAL },
		{ "disk", "{\"colour\":\"red\"}", -EINVAL },
		{ "disk", "{\"serial\":\"\"}", -EINVAL },
		{ "disk", "{\"serial\":\"a\\nb\"}", -EINVAL },
		{ "disk", "{\"serial\":7}", -EINVAL },
		{ "root_password_hash", "\"$6$salt$hash\"", 0 },
		{ "root_password_hash", "\"$6$rounds=5000$salt$Yz./09aZ\"", 0 },
		{ "root_password_hash", "\"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7\"", 0 },
		{ "root_password_hash", "\"secret\"", -EINVAL },
		{ "root_password_hash", "\"$6$salt$hash:0:99999\"", -EINVAL },   /* adds shadow fields */
		{ "root_password_hash", "\"$6$salt$hash\\nroot2::0:0\"", -EINVAL },
		{ "root_password_hash", "\"$6$salt hash\"", -EINVAL },
		{ "root_password_hash", "\"$\"", -EINVAL },
		{ "root_password_hash", "null", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\"}", 0 },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50/24\",\"gateway\":\"192.0.2.1\",\"dns\":[\"192.0.2.53\",\"2001:db8::53\"]}", 0 },
		{ "network", "{\"mode\":\"static\",\"address\":\"2001:db8::5/64\",\"gateway\":\"2001:db8::1\"}", 0 },
		{ "network", "{\"mode\":\"static\"}", -EINVAL },
		{ "network", "{\"mode\":\"pppoe\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50\"}", -EINVAL },      /* no prefix */
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50/33\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50/-1\"}", -EINVAL },
		/* strtol skips leading blanks: a line break after the '/' went into the target's files */
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50/\\n24\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50/ 24\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"2001:db8::5/0064\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.50/0\"}", 0 },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.500/24\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\\nDNS=1.2.3.4\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"gateway\":\"router\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"dns\":[\"192.0.2.53\\nnameserver 203.0.113.1\"]}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"dns\":\"192.0.2.53\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"colour\":\"red\"}", -EINVAL },
		/* static IPv6 beside DHCPv4 */
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::50/64\",\"2001:db8:1::5/128\"],\"gateway6\":\"fe80::1\",\"dns\":[\"2001:db8::53\"],\"ipv6\":\"off\",\"mac\":\"52:54:00:12:34:56\"}", 0 },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"192.0.2.5/24\"]}", -EINVAL },	/* IPv4 is DHCP's */
		{ "network", "{\"mode\":\"dhcp\",\"address\":\"2001:db8::50/64\"}", -EINVAL },	/* "addresses" only */
		{ "network", "{\"mode\":\"dhcp\",\"gateway\":\"192.0.2.1\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::50\"]}", -EINVAL },		/* no /N */
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::50/64\\nDNS=x\"]}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"gateway6\":\"192.0.2.1\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::5/64\"],\"dns\":[\"resolver\"]}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::5/64\"],\"ipv6\":\"slaac\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::5/64\"],\"mac\":\"52-54-00-12-34-56\"}", -EINVAL },
		/* what goes with static addresses, without any: stored and never used */
		{ "network", "{\"mode\":\"dhcp\",\"ipv6\":\"off\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"dns\":[\"2001:db8::53\"]}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"gateway6\":\"fe80::1\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"ipv6\":\"auto\"}", -EINVAL },
		/* DHCPv6 beside DHCPv4: alone, or with the route and name servers it does not give */
		{ "network", "{\"mode\":\"dhcp\",\"ipv6\":\"dhcp\"}", 0 },
		{ "network", "{\"mode\":\"dhcp\",\"ipv6\":\"dhcp\",\"gateway6\":\"fe80::1\",\"dns\":[\"2001:db8::53\"],\"mac\":\"52:54:00:12:34:56\"}", 0 },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::50/128\"],\"gateway6\":\"fe80::1\",\"ipv6\":\"dhcp\"}", 0 },
		{ "network", "{\"mode\":\"dhcp\",\"ipv6\":\"dhcp\",\"gateway\":\"192.0.2.1\"}", -EINVAL },
		{ "network", "{\"mode\":\"dhcp\",\"ipv6\":\"dhcpv6\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"ipv6\":\"dhcp\"}", 0 },
		{ "network", "{\"mode\":\"dhcp\",\"addresses\":[\"2001:db8::5/64\",\"2001:db8::5/64\"]}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"dns\":[\"192.0.2.53\",\"192.0.2.53\"]}", -EINVAL },
		/* dual stack: a /128 with a link-local gateway, an on-link IPv4 gateway, the NIC's MAC */
		{ "network", "{\"mode\":\"static\",\"address\":\"203.0.113.9/32\",\"addresses\":[\"2001:db8::50/128\",\"2001:db8:1::7/64\"],\"gateway\":\"203.0.113.1\",\"gateway6\":\"fe80::1\",\"ipv6\":\"auto\",\"mac\":\"52:54:00:12:34:56\"}", 0 },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"addresses\":[\"2001:db8::50\"]}", -EINVAL },   /* no /N */
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"addresses\":\"2001:db8::50/128\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"addresses\":[\"2001:db8::1/128\",\"2001:db8::2/128\",\"2001:db8::3/128\",\"2001:db8::4/128\",\"2001:db8::5/128\",\"2001:db8::6/128\",\"2001:db8::7/128\",\"2001:db8::8/128\",\"2001:db8::9/128\"]}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"gateway6\":\"192.0.2.1\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"ipv6\":\"slaac\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"ipv6\":true}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"mac\":\"52:54:00:12:34:5\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"mac\":\"52:54:00:12:34:56\\n\"}", -EINVAL },
		{ "network", "{\"mode\":\"static\",\"address\":\"192.0.2.5/24\",\"mac\":\"52-54-00-12-34-56\"}", -EINVAL },
		{ "cloud_init_user_data", "\"#cloud-config\\nhostname: a\\n\"", 0 },
		{ "cloud_init_user_data", "5", -EINVAL },
		{ "kernel_args", "\"quiet console=ttyS0\"", 0 },
		{ "kernel_args", "\"a; reboot\"", -EINVAL },
		{ "kernel_args", "\"${x}\"", -EINVAL },
		{ "after", "\"reboot\"", 0 },
		{ "after", "\"poweroff\"", 0 },
		{ "after", "\"kexec\"", 0 },
		{ "after", "\"explode\"", -EINVAL },
		{ "mirror", "\"http://192.0.2.10/debian\"", 0 },
		{ "mirror", "\"https://deb.example.org/debian\"", 0 },
		{ "mirror", "\"ftp://192.0.2.10/debian\"", -EINVAL },
		{ "mirror", "\"http://user:pw@192.0.2.10/debian\"", -EINVAL },
		{ "mirror", "\"http://192.0.2.10/debian; reboot\"", -EINVAL },
		{ "colour", "\"red\"", -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = install_one(cases[i].key, cases[i].value);

		if (rc != cases[i].rc)
			fail_msg("install.%s = %s: %d, want %d (%s)", cases[i].key, cases[i].value, rc,
				 cases[i].rc, err_msg());
		if (rc < 0 && !strstr(err_msg(), cases[i].key))
			fail_msg("install.%s = %s: the message \"%s\" does not name the field", cases[i].key,
				 cases[i].value, err_msg());
	}
}

static void test_install_messages(void **state)
{
	(void)state;
	/* Once "install: install: ield 'mirror'": the message names the field whole. */
	assert_int_equal(install_one("colour", "1"), -EINVAL);
	assert_string_equal(err_msg(), "unknown field 'install.colour'");
	assert_int_equal(install_one("network", "{\"mode\":\"dhcp\",\"vlan\":5}"), -EINVAL);
	assert_string_equal(err_msg(), "unknown field 'install.network.vlan'");
	{
		json_t *array = json_array();

		assert_int_equal(install_settings_check(array), -EINVAL);
		json_decref(array);
	}
}

static void test_hostname_check(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{ "web7", 0, "web7" },
		{ "Web7.Example.ORG", 0, "web7.example.org" },
		{ "face-b00c-0001", -EINVAL, NULL },              /* 12 hex digits: parses as a MAC */
		{ "face-b00c", 0, "face-b00c" },
		{ "52-54-00-12-34-56", -EINVAL, NULL },           /* reads as a MAC */
		{ "525400123456", -EINVAL, NULL },
		{ "aabbccddeeff", -EINVAL, NULL },
		{ "deadbeef-0000-4000-8000-000000000001", -EINVAL, NULL }, /* a UUID */
		{ "1234", -EINVAL, NULL },                        /* a host id */
		{ "192.0.2.1", -EINVAL, NULL },
		{ "-web", -EINVAL, NULL },
		{ "web_7", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[254] = "";
		int rc = hostname_check(cases[i].in, out, sizeof(out));

		if (rc != cases[i].rc)
			fail_msg("hostname_check(%s) = %d, want %d (%s)", shown(cases[i].in), rc, cases[i].rc,
				 err_msg());
		if (rc == 0 && strcmp(out, cases[i].out) != 0)
			fail_msg("hostname_check(%s) gave %s, want %s", shown(cases[i].in), out, cases[i].out);
	}
}

static void test_ssh_keys_and_fields(void **state)
{
	static const char *const allowed[] = { "a", "b", NULL };
	static const struct { const char *json; int rc; } keys[] = {
		{ "[]", 0 },
		{ "[\"ssh-ed25519 AAAA op@site\"]", 0 },
		{ "[\"\"]", -EINVAL },
		{ "[\"a\\nb\"]", -EINVAL },
		{ "[5]", -EINVAL },
		{ "\"ssh-ed25519 AAAA\"", -EINVAL },
	};
	json_t *many = json_array(), *v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		v = json_loads(keys[i].json, JSON_DECODE_ANY, NULL);
		if (ssh_keys_check(v) != keys[i].rc)
			fail_msg("ssh_keys_check(%s) should be %d", keys[i].json, keys[i].rc);
		json_decref(v);
	}
	for (int i = 0; i < 101; i++)
		json_array_append_new(many, json_string("ssh-ed25519 AAAA"));
	assert_int_equal(ssh_keys_check(many), -EINVAL);
	json_decref(many);

	v = json_pack("{s:i, s:i}", "a", 1, "b", 2);
	assert_int_equal(fields_check(v, allowed, NULL), 0);
	json_object_set_new(v, "c", json_true());
	assert_int_equal(fields_check(v, allowed, NULL), -EINVAL);
	assert_string_equal(err_msg(), "unknown field 'c'");
	assert_int_equal(fields_check(v, allowed, "install.disk"), -EINVAL);
	assert_string_equal(err_msg(), "unknown field 'install.disk.c'");
	json_decref(v);
	assert_int_equal(fields_check(NULL, allowed, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install_settings),
		cmocka_unit_test(test_install_messages),
		cmocka_unit_test(test_hostname_check),
		cmocka_unit_test(test_ssh_keys_and_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

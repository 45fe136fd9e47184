/*
 * Validation of the fields operators send for a host: which keys a body may hold, hostnames,
 * SSH keys, and the install settings, each key by one row of a table. Pure: no database,
 * no HTTP. A refusal is -EINVAL with a message that names the field whole ("install.mirror
 * must be ...").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"

int fields_check(json_t *req, const char *const *allowed, const char *where)
{
	const char *key;
	json_t *value;

	if (!json_is_object(req))
		return err_set(-EINVAL, "%s must be a JSON object", where ? where : "the body");
	json_object_foreach(req, key, value) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i])
			return where ? err_set(-EINVAL, "unknown field '%s.%s'", where, key)
				     : err_set(-EINVAL, "unknown field '%s'", key);
	}
	return 0;
}

/* A string of 1..max bytes on one line. */
static bool one_line(json_t *v, size_t max)
{
	const char *s = json_string_value(v);

	return s && *s && strlen(s) <= max && !strpbrk(s, "\r\n");
}

int hostname_check(const char *in, char *out, size_t outsz)
{
	char mac[MAC_LEN + 1], uuid[UUID_LEN + 1];
	int rc;

	if ((rc = hostname_normalize(in, out, outsz)) < 0)
		return rc;
	/* A host is found by id, MAC, UUID or hostname (db_host_find_by_ref): a hostname that
	 * reads as one of the others would shadow, or be shadowed by, another host. */
	if (mac_parse(out, mac) == 0 || uuid_parse(out, uuid) == 0)
		return err_set(-EINVAL, "hostname '%s' reads as a MAC or a UUID; choose another", in);
	return 0;
}

int ssh_keys_check(json_t *v)
{
	json_t *key;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > 100)
		return err_set(-EINVAL, "ssh_authorized_keys must be an array of at most 100 keys");
	json_array_foreach(v, i, key)
		if (!one_line(key, 16384))
			return err_set(-EINVAL, "ssh_authorized_keys[%zu] must be one non-empty line", i);
	return 0;
}

/* An IPv4 or IPv6 address; with `prefix`, followed by "/N" (0-32 or 0-128). */
static bool address_valid(const char *s, bool prefix)
{
	unsigned char buf[16];
	char addr[64], *slash;
	long n;

	if (!s || strlen(s) >= sizeof(addr))
		return false;
	snprintf(addr, sizeof(addr), "%s", s);
	slash = strchr(addr, '/');
	if (prefix != (slash != NULL))
		return false;
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1) {
		n = 32;
	} else if (inet_pton(AF_INET6, addr, buf) == 1) {
		n = 128;
	} else {
		return false;
	}
	if (!slash)
		return true;
	/* Digits only: strtol would also take leading blanks and line breaks ("/\n24"), which
	 * would then reach the files written on the target. */
	if (!slash[1] || strlen(slash + 1) > 3 || strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return false;
	return strtol(slash + 1, NULL, 10) <= n;
}

/* ---- install settings: one checker per key ---- */

static int check_disk(json_t *v)
{
	static const struct { const char *key; size_t max; } ways[] = {
		{ "serial", 128 }, { "by_path", 256 }, { "name", 32 },
	};
	const char *key = NULL;
	json_t *value = NULL;

	if (json_is_object(v) && json_object_size(v) == 1) {
		void *it = json_object_iter(v);

		key = json_object_iter_key(it);
		value = json_object_iter_value(it);
	}
	for (size_t i = 0; key && i < sizeof(ways) / sizeof(ways[0]); i++)
		if (strcmp(key, ways[i].key) == 0 && one_line(value, ways[i].max))
			return 0;
	return err_set(-EINVAL, "install.disk must be {\"serial\": S}, {\"by_path\": P} or {\"name\": N}");
}

/* crypt(3) output: "$id$[params$]salt$hash" in the characters crypt uses. Never ':' (the
 * field separator of /etc/shadow) nor a newline, so it cannot add a line or a field. */
static int check_root_password_hash(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || s[0] != '$' || strlen(s) > 512 || !strchr(s + 1, '$') ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./$=,-") != strlen(s))
		return err_set(-EINVAL, "install.root_password_hash must be a crypt(3) hash such as $6$... "
					"(mkpasswd -m sha-512), never a password");
	return 0;
}

/* An array of at most max addresses (with /N when prefix), named where in the error. */
static int check_addresses(json_t *list, size_t max, bool prefix, const char *where)
{
	json_t *entry;
	size_t i;

	if (list && (!json_is_array(list) || json_array_size(list) > max))
		return err_set(-EINVAL, "install.network.%s must be an array of at most %zu addresses", where, max);
	json_array_foreach(list, i, entry) {
		if (!address_valid(json_string_value(entry), prefix))
			return err_set(-EINVAL, "install.network.%s[%zu] must be an IPv4 or IPv6 address%s", where, i,
				       prefix ? " with its prefix length (A/N)" : "");
		for (size_t j = 0; j < i; j++)	/* twice would be two stanzas ifupdown refuses */
			if (strcmp(json_string_value(json_array_get(list, j)), json_string_value(entry)) == 0)
				return err_set(-EINVAL, "install.network.%s has %s twice", where, json_string_value(entry));
	}
	return 0;
}

/* What a static network and the IPv6 side beside DHCP share: "gateway6" (IPv6, link-local
 * allowed), "ipv6" (auto: router advertisements too, SLAAC and DHCPv6 where they say so;
 * dhcp: DHCPv6 asked without them; off), "mac" (the NIC to configure) and "dns". */
static int check_network_common(json_t *v)
{
	const char *ipv6 = json_string_value(json_object_get(v, "ipv6"));
	json_t *gw6 = json_object_get(v, "gateway6"), *mac = json_object_get(v, "mac");
	char norm[MAC_LEN + 1];

	if (gw6 && (!address_valid(json_string_value(gw6), false) || !strchr(json_string_value(gw6), ':')))
		return err_set(-EINVAL, "install.network.gateway6 must be an IPv6 address (fe80::1 is fine)");
	if (ipv6 ? strcmp(ipv6, "auto") && strcmp(ipv6, "dhcp") && strcmp(ipv6, "off") : json_object_get(v, "ipv6") != NULL)
		return err_set(-EINVAL, "install.network.ipv6 must be auto (router advertisements too), dhcp (DHCPv6 "
					"without them) or off");
	if (mac && (!json_is_string(mac) || mac_parse(json_string_value(mac), norm) < 0 ||
		    strcmp(norm, json_string_value(mac)) != 0))
		return err_set(-EINVAL, "install.network.mac must be a MAC address in lower case, aa:bb:cc:dd:ee:ff");
	return check_addresses(json_object_get(v, "dns"), 8, false, "dns");
}

/* DHCP, optionally with static IPv6 or DHCPv6 beside it (DHCPv4 gives the IPv4 address and
 * route): "addresses" (IPv6 only) and the common fields. */
static int check_dhcp_network(json_t *v)
{
	json_t *addresses = json_object_get(v, "addresses"), *entry;
	const char *ipv6 = json_string_value(json_object_get(v, "ipv6"));
	size_t i;
	int rc;

	if (json_object_get(v, "address") || json_object_get(v, "gateway"))
		return err_set(-EINVAL, "install.network dhcp takes its IPv4 address and gateway from DHCP: static IPv6 "
					"beside it goes in \"addresses\" and \"gateway6\"");
	if ((rc = check_addresses(addresses, 8, true, "addresses")) < 0)
		return rc;
	json_array_foreach(addresses, i, entry)
		if (!strchr(json_string_value(entry), ':'))
			return err_set(-EINVAL, "install.network.addresses[%zu]: beside DHCP only IPv6 addresses (%s "
						"is IPv4: use mode static)", i, json_string_value(entry));
	/* What belongs to an IPv6 side would be stored and never used (DHCPv6 gives no route). */
	if (!json_array_size(addresses) && !(ipv6 && strcmp(ipv6, "dhcp") == 0) &&
	    (json_object_get(v, "gateway6") || json_object_get(v, "dns") || json_object_get(v, "ipv6") ||
	     json_object_get(v, "mac")))
		return err_set(-EINVAL, "install.network dhcp: gateway6, dns, ipv6 and mac go with static IPv6 "
					"\"addresses\" or \"ipv6\": \"dhcp\" beside DHCP (or mode static)");
	return check_network_common(v);
}

/* {"mode": "dhcp"} (with static IPv6 beside it: check_dhcp_network), or static: "address"
 * (A/N), and optionally "addresses" (more, of either family), "gateway" and the common fields.
 * The agent's network.c writes them. */
static int check_network(json_t *v)
{
	static const char *const keys[] = { "mode", "address", "addresses", "gateway", "gateway6", "dns", "ipv6",
					    "mac", NULL };
	const char *mode = json_string_value(json_object_get(v, "mode"));
	json_t *gw = json_object_get(v, "gateway");
	int rc;

	if ((rc = fields_check(v, keys, "install.network")) < 0)
		return rc;
	if (!mode || (strcmp(mode, "dhcp") && strcmp(mode, "static")))
		return err_set(-EINVAL, "install.network.mode must be dhcp or static");
	if (strcmp(mode, "static") != 0)
		return check_dhcp_network(v);
	if (!address_valid(json_string_value(json_object_get(v, "address")), true))
		return err_set(-EINVAL, "install.network static needs \"address\": \"A.B.C.D/N\" (or an IPv6 "
					"address/N) and may have \"gateway\" and \"dns\" (an array)");
	if (gw && !address_valid(json_string_value(gw), false))
		return err_set(-EINVAL, "install.network.gateway must be an IPv4 or IPv6 address");
	if ((rc = check_addresses(json_object_get(v, "addresses"), 8, true, "addresses")) < 0)
		return rc;
	return check_network_common(v);
}

static int check_user_data(json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) > 65536)
		return err_set(-EINVAL, "install.cloud_init_user_data must be a string of at most 64 KiB");
	return 0;
}

static int check_kernel_args(json_t *v)
{
	if (!one_line(v, 1024) || !template_value_safe(json_string_value(v)))
		return err_set(-EINVAL, "install.kernel_args must be one line without $ \" ' \\ ; | & # { }");
	return 0;
}

static int check_after(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || (strcmp(s, "reboot") && strcmp(s, "poweroff") && strcmp(s, "kexec")))
		return err_set(-EINVAL, "install.after must be reboot, poweroff or kexec");
	return 0;
}

static int check_mirror(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)) || !one_line(v, 900) ||
	    !template_value_safe(s) || strpbrk(s, " @"))
		return err_set(-EINVAL, "install.mirror must be an http:// or https:// Debian mirror URL "
					"(at most 900 characters, no user:password@)");
	return 0;
}

/* Every install setting; each key optional. "mirror" replaces a recipe image's mirror for
 * this host. docs/api.md describes them for operators. */
static const struct {
	const char *key;
	int (*check)(json_t *value);
	bool secret; /* never in an answer or an event (install_setting_secret) */
} install_settings[] = {
	{ "disk", check_disk, false },                  /* {"serial"|"by_path"|"name": "..."} */
	{ "root_password_hash", check_root_password_hash, true },
	{ "network", check_network, false },            /* {"mode": "dhcp"} or static */
	{ "cloud_init_user_data", check_user_data, true },
	{ "kernel_args", check_kernel_args, false },
	{ "after", check_after, false },                /* reboot, poweroff or kexec */
	{ "mirror", check_mirror, false },              /* http(s):// Debian mirror */
};

bool install_setting_secret(const char *key)
{
	for (size_t i = 0; i < sizeof(install_settings) / sizeof(install_settings[0]); i++)
		if (strcmp(key, install_settings[i].key) == 0)
			return install_settings[i].secret;
	return false;
}

int install_settings_check(json_t *v)
{
	const char *key;
	json_t *value;

	if (!json_is_object(v))
		return err_set(-EINVAL, "install must be an object of install settings");
	json_object_foreach(v, key, value) {
		size_t i;

		for (i = 0; i < sizeof(install_settings) / sizeof(install_settings[0]); i++)
			if (strcmp(key, install_settings[i].key) == 0)
				break;
		if (i == sizeof(install_settings) / sizeof(install_settings[0]))
			return err_set(-EINVAL, "unknown field 'install.%s'", key);
		if (install_settings[i].check(value) < 0)
			return -EINVAL;
	}
	return 0;
}

/* ---- BMC settings: one checker per key ---- */

static int check_bmc_protocol(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || (strcmp(s, "ipmi") && strcmp(s, "redfish")))
		return err_set(-EINVAL, "bmc.protocol must be ipmi or redfish");
	return 0;
}

static int check_bmc_insecure(json_t *v)
{
	if (!json_is_boolean(v))
		return err_set(-EINVAL, "bmc.insecure must be true (a Redfish BMC's certificate is not verified) or false");
	return 0;
}

/* An IP address, or a DNS name of letters, digits, '-' and '.'. */
static int check_bmc_address(json_t *v)
{
	const char *s = json_string_value(v);
	char name[256];

	if (!address_valid(s, false) && hostname_normalize(s ? s : "", name, sizeof(name)) < 0)
		return err_set(-EINVAL, "bmc.address must be an IPv4 or IPv6 address or a DNS name");
	return 0;
}

static int check_bmc_port(json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return err_set(-EINVAL, "bmc.port must be a UDP port from 1 to 65535");
	return 0;
}

/* IPMI 2.0 allows user names of 16 bytes and passwords of 20. */
static int check_bmc_username(json_t *v)
{
	if (!one_line(v, 16))
		return err_set(-EINVAL, "bmc.username must be 1 to 16 characters on one line");
	if (strchr(json_string_value(v), ':'))
		return err_set(-EINVAL, "bmc.username may not hold ':' (a password belongs in bmc.password, never in the "
			       "user name, which answers show)");
	return 0;
}

static int check_bmc_password(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || !*s || strlen(s) > 20 || memchr(s, '\0', json_string_length(v)))
		return err_set(-EINVAL, "bmc.password must be 1 to 20 bytes (IPMI 2.0's limit)");
	return 0;
}

static const struct {
	const char *key;
	int (*check)(json_t *value);
} bmc_settings[] = {
	{ "protocol", check_bmc_protocol },     /* ipmi */
	{ "address", check_bmc_address },       /* IP address or DNS name */
	{ "port", check_bmc_port },             /* UDP, default 623 */
	{ "username", check_bmc_username },
	{ "password", check_bmc_password },     /* write-only; stored sealed */
	{ "insecure", check_bmc_insecure },     /* Redfish: no certificate check */
};

int bmc_settings_check(json_t *v)
{
	const char *key;
	json_t *value;

	if (!json_is_object(v))
		return err_set(-EINVAL, "bmc must be an object (protocol, address, port, username, password, "
					"insecure) or null");
	json_object_foreach(v, key, value) {
		size_t i;

		for (i = 0; i < sizeof(bmc_settings) / sizeof(bmc_settings[0]); i++)
			if (strcmp(key, bmc_settings[i].key) == 0)
				break;
		if (i == sizeof(bmc_settings) / sizeof(bmc_settings[0]))
			return err_set(-EINVAL, "unknown field 'bmc.%s'", key);
		if (bmc_settings[i].check(value) < 0)
			return -EINVAL;
	}
	return 0;
}

/* libFuzzer: server/validate.c, the checks of the fields operators send for a host, over any
 * bytes parsed as http.c parses a request body (json_loadb, JSON_REJECT_DUPLICATES). The
 * body is checked whole as each kind of value, and its "install", "ssh_authorized_keys" and
 * "hostname" members as an enroll body's would be. Besides crashes: a refusal is -EINVAL
 * with a message naming the field, and what is accepted holds nothing that could add a line
 * to a file on the target (only the cloud-init user-data may span lines). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "anemosd.h"
#include "support.h"

/* Fails unless rc is 0, or -EINVAL with a message that holds `names`. */
static void check_refusal(int rc, const char *what, const char *names)
{
	if (rc == 0)
		return;
	if (rc != -EINVAL)
		fuzz_fail("%s returned %d, not 0 or -EINVAL", what, rc);
	if (!err_msg()[0] || !strstr(err_msg(), names))
		fuzz_fail("%s refused with a message that does not name %s: '%s'", what, names, err_msg());
}

/* True when no string in v (keys included) holds a line break. */
static bool one_line_strings(json_t *v)
{
	const char *key;
	json_t *member;
	size_t i;

	if (json_is_string(v))
		return !strpbrk(json_string_value(v), "\r\n");
	json_object_foreach(v, key, member)
		if (strpbrk(key, "\r\n") || !one_line_strings(member))
			return false;
	json_array_foreach(v, i, member)
		if (!one_line_strings(member))
			return false;
	return true;
}

static void check_install(json_t *install)
{
	const char *key, *hash;
	json_t *value;
	int rc;

	err_clear();
	rc = install_settings_check(install);
	check_refusal(rc, "install_settings_check", "install");
	if (rc < 0)
		return;
	json_object_foreach(install, key, value)
		if (strcmp(key, "cloud_init_user_data") != 0 && !one_line_strings(value))
			fuzz_fail("install.%s accepted with a line break", key);
	hash = json_string_value(json_object_get(install, "root_password_hash"));
	if (hash && strchr(hash, ':'))
		fuzz_fail("install.root_password_hash accepted with a ':'");
}

static void check_keys(json_t *keys)
{
	int rc;

	err_clear();
	rc = ssh_keys_check(keys);
	check_refusal(rc, "ssh_keys_check", "ssh_authorized_keys");
	if (rc == 0 && !one_line_strings(keys))
		fuzz_fail("ssh_authorized_keys accepted with a line break");
}

static void check_hostname(json_t *v)
{
	char out[254], mac[MAC_LEN + 1], uuid[UUID_LEN + 1];
	int rc;

	if (!json_is_string(v))
		return;
	err_clear();
	rc = hostname_check(json_string_value(v), out, sizeof(out));
	check_refusal(rc, "hostname_check", "hostname");
	if (rc == 0 && (mac_parse(out, mac) == 0 || uuid_parse(out, uuid) == 0 ||
			strspn(out, "0123456789.") == strlen(out)))
		fuzz_fail("hostname '%s' accepted, but it reads as a MAC, a UUID or a number", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const enroll[] = { "mac", "hostname", "next_boot", "image", "once",
					      "ssh_authorized_keys", "install", NULL };
	json_error_t jerr;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	json_t *v;

	if (!body)
		return 0;
	err_clear();
	check_refusal(fields_check(body, enroll, NULL), "fields_check", "");
	err_clear();
	check_refusal(fields_check(body, enroll, "install"), "fields_check", "install");
	check_install(body);
	check_keys(body);
	check_hostname(body);
	if ((v = json_object_get(body, "install")))
		check_install(v);
	if ((v = json_object_get(body, "ssh_authorized_keys")))
		check_keys(v);
	check_hostname(json_object_get(body, "hostname"));
	json_decref(body);
	return 0;
}

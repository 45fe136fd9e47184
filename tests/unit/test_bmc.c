/*
 * Unit tests of the BMC settings: their validation (server/validate.c), the sealing of the
 * password (server/secret.c: AES-256-GCM under DATA/secret.key) and how a host's settings
 * are merged and shown (server/power.c), the password never among what is shown.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"

static void test_bmc_settings(void **state)
{
	static const struct {
		const char *json;
		int rc;
	} cases[] = {
		{ "{\"address\":\"192.0.2.10\",\"username\":\"admin\",\"password\":\"secret\"}", 0 },
		{ "{\"protocol\":\"ipmi\",\"address\":\"2001:db8::10\",\"port\":623}", 0 },
		{ "{\"address\":\"bmc-web7.example.com\"}", 0 },
		{ "{\"password\":\"exactly-twenty-bytes\"}", 0 },
		{ "{\"username\":\"sixteen-chars-ok\"}", 0 },
		{ "{}", 0 },
		{ "{\"protocol\":\"redfish\",\"insecure\":true}", 0 },
		{ "{\"insecure\":false}", 0 },
		{ "{\"insecure\":\"yes\"}", -EINVAL },
		{ "{\"protocol\":\"smoke-signals\"}", -EINVAL },
		{ "{\"protocol\":7}", -EINVAL },
		{ "{\"address\":\"not an address\"}", -EINVAL },
		{ "{\"address\":\"\"}", -EINVAL },
		{ "{\"address\":\"192.0.2.10/24\"}", -EINVAL },
		{ "{\"port\":0}", -EINVAL },
		{ "{\"port\":65536}", -EINVAL },
		{ "{\"port\":\"623\"}", -EINVAL },
		{ "{\"username\":\"\"}", -EINVAL },
		{ "{\"username\":\"seventeen-chars-x\"}", -EINVAL },
		{ "{\"username\":\"a\\nb\"}", -EINVAL },
		{ "{\"password\":\"\"}", -EINVAL },
		{ "{\"password\":\"twenty-one-bytes-long\"}", -EINVAL },
		{ "{\"password\":\"a\\u0000b\"}", -EINVAL },
		{ "{\"password\":42}", -EINVAL },
		{ "{\"colour\":\"red\"}", -EINVAL },
		{ "\"ipmi://admin@192.0.2.10\"", -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		int rc;

		assert_non_null(v);
		rc = bmc_settings_check(v);
		if (rc != cases[i].rc)
			fail_msg("bmc %s: expected %d, got %d (%s)", cases[i].json, cases[i].rc, rc, err_msg());
		if (rc < 0 && strstr(err_msg(), "twenty-one"))
			fail_msg("bmc %s: the message shows the password: %s", cases[i].json, err_msg());
		json_decref(v);
	}
}

static void test_seal_open(void **state)
{
	char path[4200], *sealed, *plain, *other;
	struct stat st;

	(void)state;
	sealed = secret_seal("pw-Sealed-123", "bmc:1");
	assert_non_null(sealed);
	assert_null(strstr(sealed, "pw-Sealed-123"));
	assert_int_equal(strncmp(sealed, "v1:", 3), 0);
	snprintf(path, sizeof(path), "%s/secret.key", cfg.data_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	plain = secret_open(sealed, "bmc:1");
	assert_non_null(plain);
	assert_string_equal(plain, "pw-Sealed-123");
	secret_wipe(plain);
	/* Another host's context, a changed byte, text that is not sealed: nothing opens. */
	assert_null(secret_open(sealed, "bmc:2"));
	assert_non_null(strstr(err_msg(), "does not open"));
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_null(secret_open(sealed, "bmc:1"));
	assert_null(secret_open("pw-Sealed-123", "bmc:1"));
	assert_null(secret_open("v1:!!!!", "bmc:1"));
	assert_null(secret_open("v1:", "bmc:1"));
	/* Two seals of one password differ (a fresh nonce each). */
	other = secret_seal("pw-Sealed-123", "bmc:1");
	assert_non_null(other);
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_string_not_equal(sealed, other);
	free(sealed);
	free(other);
}

/* Applies the JSON text v to h's BMC settings. */
static int apply(struct host *h, const char *v)
{
	json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
	int rc = power_bmc_apply(h, j);

	json_decref(j);
	return rc;
}

static void test_apply_and_show(void **state)
{
	struct host h = { .id = 7 };
	json_t *shown;
	char *text, *plain;

	(void)state;
	assert_int_equal(apply(&h, "{\"address\":\"192.0.2.10\",\"username\":\"admin\"}"), -EINVAL);
	assert_null(h.bmc);
	assert_int_equal(apply(&h, "{\"address\":\"192.0.2.10\",\"username\":\"admin\",\"password\":\"pw-Apply-1\"}"), 0);
	assert_non_null(h.bmc);
	assert_null(strstr(h.bmc, "pw-Apply-1"));
	/* A change of where the password goes (here the port) needs the password again: else
	 * an operator could send the kept one to a server of theirs. Refused, nothing changed. */
	plain = strdup(h.bmc);
	assert_int_equal(apply(&h, "{\"port\":6230}"), -EINVAL);
	assert_string_equal(h.bmc, plain);
	free(plain);
	assert_int_equal(apply(&h, "{\"port\":6230,\"password\":\"pw-Apply-1\"}"), 0);
	/* the same values again keep the password */
	assert_int_equal(apply(&h, "{\"address\":\"192.0.2.10\",\"port\":6230}"), 0);
	shown = power_bmc_to_json(&h);
	text = json_dumps(shown, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"address\":\"192.0.2.10\",\"password_set\":true,\"port\":6230,"
				  "\"protocol\":\"ipmi\",\"username\":\"admin\"}");
	free(text);
	json_decref(shown);
	shown = json_loads(h.bmc, 0, NULL);
	plain = secret_open(json_string_value(json_object_get(shown, "password_sealed")), "bmc:7");
	assert_non_null(plain);
	assert_string_equal(plain, "pw-Apply-1");
	secret_wipe(plain);
	json_decref(shown);
	/* A refused change leaves the settings as they were. */
	text = strdup(h.bmc);
	assert_int_equal(apply(&h, "{\"port\":0}"), -EINVAL);
	assert_string_equal(h.bmc, text);
	free(text);
	/* null forgets the BMC and its power state. */
	h.power_state = strdup("on");
	h.power_checked = 1;
	assert_int_equal(apply(&h, "null"), 0);
	assert_null(h.bmc);
	assert_null(h.power_state);
	assert_int_equal(h.power_checked, 0);
	shown = power_bmc_to_json(&h);
	assert_true(json_is_null(shown));
	json_decref(shown);
	host_free(&h);
}

/* The Redfish requests and the reading of answers (no Redfish service runs in the tests). */
static void test_redfish(void **state)
{
	static const struct {
		enum bmc_action action;
		bool on;
		const char *reset; /* NULL: nothing sent */
	} resets[] = {
		{ BMC_ON, false, "On" }, { BMC_ON, true, NULL }, { BMC_OFF, true, "ForceOff" },
		{ BMC_OFF, false, NULL }, { BMC_SOFT_OFF, true, "GracefulShutdown" }, { BMC_SOFT_OFF, false, NULL },
		{ BMC_CYCLE, true, "PowerCycle" }, { BMC_CYCLE, false, "On" }, { BMC_RESET, true, "ForceRestart" },
		{ BMC_RESET, false, "On" }, { BMC_STATUS, true, NULL }, { BMC_STATUS, false, NULL },
	};
	static const struct {
		const char *answer;
		int rc;
		bool on;
	} states[] = {
		{ "{\"PowerState\":\"On\"}", 0, true }, { "{\"PowerState\":\"Off\"}", 0, false },
		{ "{\"PowerState\":\"PoweringOn\"}", 0, false }, { "{\"PowerState\":\"PoweringOff\"}", 0, true },
		{ "{\"PowerState\":null}", -EIO, false }, { "{}", -EIO, false }, { "not json", -EIO, false },
		{ "{\"PowerState\":\"Paused\"}", -EIO, false },
	};
	static const struct {
		const char *answer, *path;
	} systems[] = {
		{ "{\"Members\":[{\"@odata.id\":\"/redfish/v1/Systems/1\"},{\"@odata.id\":\"/redfish/v1/Systems/2\"}]}",
		  "/redfish/v1/Systems/1" },
		{ "{\"Members\":[{\"@odata.id\":\"/redfish/v1/Systems/System.Embedded.1\"}]}",
		  "/redfish/v1/Systems/System.Embedded.1" },
		{ "{\"Members\":[]}", NULL }, { "{}", NULL },
		{ "{\"Members\":[{\"@odata.id\":\"https://elsewhere.example/x\"}]}", NULL },
		{ "{\"Members\":[{\"@odata.id\":\"/redfish/v1/Systems/1?x=1\"}]}", NULL },
	};
	char why[256], path[64], *body;
	bool on;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(resets); i++) {
		const char *got = redfish_reset_type(resets[i].action, resets[i].on);

		if ((got == NULL) != (resets[i].reset == NULL) || (got && strcmp(got, resets[i].reset)))
			fail_msg("reset %s when %s: expected %s, got %s", power_action_name(resets[i].action),
				 resets[i].on ? "on" : "off", shown(resets[i].reset), shown(got));
	}
	for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
		on = !states[i].on;
		if (redfish_power_state(states[i].answer, &on) != states[i].rc || (states[i].rc == 0 && on != states[i].on))
			fail_msg("power state of %s", states[i].answer);
	}
	for (size_t i = 0; i < ARRAY_SIZE(systems); i++) {
		int rc = redfish_system_path(systems[i].answer, path, sizeof(path));

		if (systems[i].path ? rc != 0 || strcmp(path, systems[i].path) : rc != -EIO)
			fail_msg("system of %s: rc %d", systems[i].answer, rc);
	}
	body = redfish_boot_body(BMC_BOOT_NETWORK, true);
	assert_string_equal(body, "{\"Boot\":{\"BootSourceOverrideEnabled\":\"Once\","
				  "\"BootSourceOverrideTarget\":\"Pxe\",\"BootSourceOverrideMode\":\"UEFI\"}}");
	free(body);
	body = redfish_boot_body(BMC_BOOT_DISK, false);
	assert_non_null(strstr(body, "\"BootSourceOverrideTarget\":\"Hdd\""));
	assert_non_null(strstr(body, "\"BootSourceOverrideMode\":\"Legacy\""));
	free(body);
	assert_int_equal(redfish_failure(401, "{\"error\":{\"code\":\"Base.1.8.GeneralError\",\"message\":\"x\","
					      "\"@Message.ExtendedInfo\":[{\"Message\":\"The credentials are wrong.\"}]}}",
					 why, sizeof(why)), -EACCES);
	assert_string_equal(why, "HTTP 401: The credentials are wrong.");
	assert_int_equal(redfish_failure(400, "{\"error\":{\"message\":\"Bad ResetType.\"}}", why, sizeof(why)), -EIO);
	assert_string_equal(why, "HTTP 400: Bad ResetType.");
	assert_int_equal(redfish_failure(503, NULL, why, sizeof(why)), -ETIMEDOUT);
	assert_string_equal(why, "HTTP 503");
	assert_int_equal(redfish_failure(404, "<html>not found</html>", why, sizeof(why)), -EIO);
	assert_string_equal(why, "HTTP 404");
}

/* A Redfish BMC's default port is 443, an IPMI one's 623; a change of protocol moves it. */
static void test_default_ports(void **state)
{
	struct host h = { .id = 8 };
	json_t *shown_;

	(void)state;
	assert_int_equal(apply(&h, "{\"protocol\":\"redfish\",\"address\":\"192.0.2.11\",\"username\":\"root\",\"password\":\"pw\"}"), 0);
	shown_ = power_bmc_to_json(&h);
	assert_int_equal(json_integer_value(json_object_get(shown_, "port")), 443);
	json_decref(shown_);
	assert_int_equal(apply(&h, "{\"protocol\":\"ipmi\",\"password\":\"pw\"}"), 0);
	shown_ = power_bmc_to_json(&h);
	assert_int_equal(json_integer_value(json_object_get(shown_, "port")), 623);
	json_decref(shown_);
	assert_int_equal(apply(&h, "{\"port\":6623,\"password\":\"pw\"}"), 0);
	assert_int_equal(apply(&h, "{\"protocol\":\"ipmi\",\"username\":\"admin\",\"password\":\"pw\"}"), 0);
	shown_ = power_bmc_to_json(&h);
	assert_int_equal(json_integer_value(json_object_get(shown_, "port")), 6623);
	json_decref(shown_);
	host_free(&h);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(power_action_name(BMC_SOFT_OFF), "soft-off");
	assert_string_equal(power_boot_name(BMC_BOOT_NETWORK), "network");
	assert_null(power_action_name(BMC_ACTION_COUNT));
	assert_null(power_boot_name(BMC_BOOT_COUNT));
}

/* A fresh store whose folder also holds the key file. */
static int setup(void **state)
{
	int rc = store_open(state);

	cfg.data_dir = store_dir;
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bmc_settings),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_apply_and_show),
		cmocka_unit_test(test_redfish),
		cmocka_unit_test(test_default_ports),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, store_close);
}

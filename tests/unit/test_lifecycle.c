/*
 * Unit tests of lib/lifecycle.c: every cell of the transition table, the names both ways,
 * and which actions a status allows. The expected table is written out here a second time
 * on purpose, row by row in words, so a change to the lifecycle is a change to two places
 * that must agree.
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

static void test_names_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < HOST_STATUS_COUNT; i++) {
		enum host_status s;

		assert_non_null(host_status_name((enum host_status)i));
		assert_non_null(host_status_help((enum host_status)i));
		assert_int_equal(host_status_parse(host_status_name((enum host_status)i), &s), 0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < BOOT_ACTION_COUNT; i++) {
		enum boot_action a;

		assert_non_null(boot_action_help((enum boot_action)i));
		assert_int_equal(boot_action_parse(boot_action_name((enum boot_action)i), &a), 0);
		assert_int_equal(a, i);
	}
	for (int i = 0; i < HOST_EVENT_COUNT; i++)
		assert_non_null(host_event_name((enum host_event)i));
	assert_null(host_status_name(HOST_STATUS_COUNT));
	assert_null(boot_action_name(BOOT_ACTION_COUNT));
	assert_null(host_event_name(HOST_EVENT_COUNT));
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = { "", "Install", "reboot", "local ", "discovery", "READY",
					   "installing\n", "new\t" };
	enum host_status s = HOST_READY;
	enum boot_action a = BOOT_LOCAL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (boot_action_parse(bad[i], &a) != -EINVAL || host_status_parse(bad[i], &s) != -EINVAL)
			fail_msg("%s parsed as a name", shown(bad[i]));
	}
	assert_int_equal(boot_action_parse(NULL, &a), -EINVAL);
	assert_int_equal(host_status_parse(NULL, &s), -EINVAL);
	assert_int_equal(a, BOOT_LOCAL); /* untouched on failure */
	assert_int_equal(s, HOST_READY);
	assert_int_equal(boot_action_parse("discover", &a), 0);
	assert_int_equal(a, BOOT_DISCOVER);
}

/* Where each event leads from each status: a status name, "=" (nothing changes), or
 * "refused". Columns in enum host_event order. */
static const struct {
	const char *from;
	const char *to[HOST_EVENT_COUNT];
} expected[] = {
	/*                  inventory  planned       failed    phone-home  adopted     ready    maintenance    decommissioned */
	{ "new",            { "ready", "installing", "failed", "deployed", "deployed", "ready", "maintenance", "decommissioned" } },
	{ "ready",          { "=",     "installing", "failed", "deployed", "=",        "=",     "maintenance", "decommissioned" } },
	{ "installing",     { "=",     "=",          "failed", "deployed", "=",        "ready", "maintenance", "decommissioned" } },
	{ "deployed",       { "=",     "installing", "failed", "=",        "=",        "ready", "maintenance", "decommissioned" } },
	{ "failed",         { "=",     "installing", "=",      "deployed", "=",        "ready", "maintenance", "decommissioned" } },
	{ "maintenance",    { "=",     "refused",    "=",      "=",        "=",        "ready", "=",           "decommissioned" } },
	{ "decommissioned", { "=",     "refused",    "=",      "=",        "=",        "ready", "maintenance", "=" } },
};

static void test_whole_table(void **state)
{
	size_t cells = 0;

	(void)state;
	assert_int_equal(ARRAY_SIZE(expected), HOST_STATUS_COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
		enum host_status from, to;

		assert_int_equal(host_status_parse(expected[i].from, &from), 0);
		for (int e = 0; e < HOST_EVENT_COUNT; e++, cells++) {
			const char *want = expected[i].to[e];
			int rc = host_lifecycle_next(from, (enum host_event)e, &to);
			const char *got = rc == -EPERM ? "refused" : rc < 0 ? "error"
					: to == from ? "=" : host_status_name(to);

			if (strcmp(got, want) != 0)
				fail_msg("%s + %s: got %s, want %s", expected[i].from,
					 host_event_name((enum host_event)e), got, want);
		}
	}
	assert_int_equal(cells, HOST_STATUS_COUNT * HOST_EVENT_COUNT);
	assert_int_equal(host_lifecycle_next(HOST_STATUS_COUNT, HOST_EV_INVENTORY, &(enum host_status){ 0 }), -EINVAL);
	assert_int_equal(host_lifecycle_next(HOST_NEW, HOST_EVENT_COUNT, &(enum host_status){ 0 }), -EINVAL);
}

static void test_operator_statuses(void **state)
{
	char list[128];
	enum host_event ev;

	(void)state;
	host_operator_status_list(list, sizeof(list), ", ");
	assert_string_equal(list, "ready, maintenance, decommissioned");
	for (int s = 0; s < HOST_STATUS_COUNT; s++) {
		bool operator = s == HOST_READY || s == HOST_MAINTENANCE || s == HOST_DECOMMISSIONED;

		assert_int_equal(host_operator_event((enum host_status)s, &ev) == 0, operator);
		if (operator) {
			enum host_status to;

			/* Every operator status is reachable from every status. */
			for (int from = 0; from < HOST_STATUS_COUNT; from++) {
				assert_int_equal(host_lifecycle_next((enum host_status)from, ev, &to), 0);
				assert_int_equal(to, s);
			}
		}
	}
	boot_action_list(list, sizeof(list), ", ");
	assert_string_equal(list, "discover, install, local, rescue, none");
	boot_action_list(list, 12, "|");
	assert_string_equal(list, "discover|in"); /* cut, terminated */
}

static void test_may_boot(void **state)
{
	/* Per status, the actions allowed, in enum boot_action order: discover install local
	 * rescue none. */
	static const struct { enum host_status s; const char *allowed; } cases[] = {
		{ HOST_NEW, "11111" },         { HOST_READY, "11111" },
		{ HOST_INSTALLING, "11111" },  { HOST_DEPLOYED, "11111" },
		{ HOST_FAILED, "11111" },      { HOST_MAINTENANCE, "00111" },
		{ HOST_DECOMMISSIONED, "00101" },
	};

	(void)state;
	assert_int_equal(ARRAY_SIZE(cases), HOST_STATUS_COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		for (int a = 0; a < BOOT_ACTION_COUNT; a++)
			if (host_may_boot(cases[i].s, (enum boot_action)a) != (cases[i].allowed[a] == '1'))
				fail_msg("%s may %s: want %c", host_status_name(cases[i].s),
					 boot_action_name((enum boot_action)a), cases[i].allowed[a]);
	assert_true(boot_action_runs_agent(BOOT_DISCOVER) && boot_action_runs_agent(BOOT_INSTALL) &&
		    boot_action_runs_agent(BOOT_RESCUE));
	assert_false(boot_action_runs_agent(BOOT_LOCAL) || boot_action_runs_agent(BOOT_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_whole_table),
		cmocka_unit_test(test_operator_statuses),
		cmocka_unit_test(test_may_boot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the discovery rules (server/rules.c) against a real SQLite store in a fresh
 * temporary folder: a table of rule bodies, each accepted or refused with the message that
 * names its culprit (nothing stored then); which rule fires on a host's first inventory
 * (priority, then name, the first match only, none on the second inventory); and max_count
 * with 16 threads recording first inventories at once.
 */
#include <errno.h>
#include <pthread.h>
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

/* One POST /api/v1/rules body: refused with a message holding `error`, or (NULL) made. */
static const struct body_case {
	const char *body;
	const char *error;
} bodies[] = {
	{ "{\"name\":\"r-ok\",\"query\":\"vendor:dell\",\"actions\":{\"tags\":[\"db\"]}}", NULL },
	{ "{\"name\":\"r-ok\",\"query\":\"vendor:dell\",\"actions\":{\"tags\":[\"db\"]}}", "exists already" },
	{ "{\"name\":\"r-img\",\"query\":\"x\",\"actions\":{\"image\":\"tiny\",\"next_boot\":\"install\",\"once\":true}}", NULL },
	{ "{\"name\":\"r-q\",\"query\":\"memory>=64X\",\"actions\":{\"tags\":[\"a\"]}}", "(at character 1)" },
	{ "{\"name\":\"r-q2\",\"query\":\"tag:a (status:ready\",\"actions\":{\"tags\":[\"a\"]}}", "(at character" },
	{ "{\"name\":\"r-q3\",\"query\":\"\",\"actions\":{\"tags\":[\"a\"]}}", "\"query\" is required" },
	{ "{\"name\":\"r-a\",\"query\":\"x\",\"actions\":{\"colour\":1}}", "unknown field 'actions.colour'" },
	{ "{\"name\":\"r-a2\",\"query\":\"x\",\"actions\":{}}", "\"actions\" is required" },
	{ "{\"name\":\"r-a3\",\"query\":\"x\"}", "\"actions\" is required" },
	{ "{\"name\":\"r-i\",\"query\":\"x\",\"actions\":{\"image\":\"nope\"}}", "no image 'nope'" },
	{ "{\"name\":\"r-n\",\"query\":\"x\",\"actions\":{\"next_boot\":\"fly\"}}", "actions.next_boot must be one of" },
	{ "{\"name\":\"r-n2\",\"query\":\"x\",\"actions\":{\"next_boot\":\"install\"}}", "needs an image" },
	{ "{\"name\":\"r-s\",\"query\":\"x\",\"actions\":{\"install\":{\"disk\":{\"colour\":\"red\"}}}}", "install" },
	{ "{\"name\":\"r-s2\",\"query\":\"x\",\"actions\":{\"install\":{\"root_password_hash\":\"<secret>\"}}}",
	  "stands for the rule's value, and it has none" },
	{ "{\"name\":\"r-t\",\"query\":\"x\",\"actions\":{\"tags\":\"db\"}}", "actions.tags must be an array" },
	{ "{\"name\":\"r-t2\",\"query\":\"x\",\"actions\":{\"tags\":[\"a b\"]}}", "tag 'a b' may hold" },
	{ "{\"name\":\"r-at\",\"query\":\"x\",\"actions\":{\"attributes\":{\"memory\":\"1\"}}}", "search key of its own" },
	{ "{\"name\":\"r-p\",\"query\":\"x\",\"priority\":1.5,\"actions\":{\"tags\":[\"a\"]}}", "priority must be" },
	{ "{\"name\":\"r-m\",\"query\":\"x\",\"max_count\":0,\"actions\":{\"tags\":[\"a\"]}}", "max_count must be" },
	{ "{\"name\":\"r-e\",\"query\":\"x\",\"enabled\":1,\"actions\":{\"tags\":[\"a\"]}}", "enabled must be" },
	{ "{\"name\":\"R-upper\",\"query\":\"x\",\"actions\":{\"tags\":[\"a\"]}}", "may hold a-z" },
	{ "{\"name\":\"-lead\",\"query\":\"x\",\"actions\":{\"tags\":[\"a\"]}}", "a rule's name is" },
	{ "{\"query\":\"x\",\"actions\":{\"tags\":[\"a\"]}}", "\"name\" is required" },
	{ "{\"name\":\"r-x\",\"query\":\"x\",\"actions\":{\"tags\":[\"a\"]},\"id\":3}", "unknown field 'id'" },
};

static void add_image(const char *name)
{
	struct image im = { .name = (char *)name, .format = "tar.zst", .url = "http://192.0.2.10/i.tar.zst",
			    .sha256 = "0000000000000000000000000000000000000000000000000000000000000000", .size = -1 };

	assert_int_equal(db_begin(), 0);
	assert_int_equal(db_image_insert(&im), 0);
	assert_int_equal(db_commit(), 0);
}

/* The rule names in the order they are tried, space-separated. */
static void rule_names(char *out, size_t outsz)
{
	json_t *list = NULL, *r;
	size_t i, o = 0;

	out[0] = '\0';
	assert_int_equal(rules_list(&list), 0);
	json_array_foreach(json_object_get(list, "rules"), i, r)
		o += (size_t)snprintf(out + o, outsz - o, "%s%s", o ? " " : "", json_string_value(json_object_get(r, "name")));
	json_decref(list);
}

static void test_bodies(void **state)
{
	char before[512], after[512];

	(void)state;
	add_image("tiny");
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		const struct body_case *c = &bodies[i];
		json_t *req = json_loads(c->body, 0, NULL), *out = NULL;
		int rc;

		assert_non_null(req);
		rule_names(before, sizeof(before));
		rc = rules_create(req, &out);
		if (!c->error && rc < 0)
			fail_msg("case %zu %s: refused: %s", i, c->body, err_msg());
		if (c->error && rc >= 0)
			fail_msg("case %zu %s: accepted, want refused with \"%s\"", i, c->body, c->error);
		if (c->error && !strstr(err_msg(), c->error))
			fail_msg("case %zu %s: message \"%s\" lacks \"%s\"", i, c->body, err_msg(), c->error);
		if (c->error) {
			rule_names(after, sizeof(after));
			if (strcmp(before, after))
				fail_msg("case %zu %s: refused, yet the rules changed: %s -> %s", i, c->body, before, after);
		}
		json_decref(out);
		json_decref(req);
	}
	/* the test's rules go; their names are not reused below */
	assert_int_equal(rules_delete("r-ok"), 0);
	assert_int_equal(rules_delete("r-img"), 0);
	assert_int_equal(rules_delete("r-ok"), -ENOENT);
}

/* A rule from its JSON text. */
static void add_rule(const char *text)
{
	json_t *req = json_loads(text, 0, NULL), *out = NULL;

	assert_non_null(req);
	if (rules_create(req, &out) < 0)
		fail_msg("rule %s: %s", text, err_msg());
	json_decref(out);
	json_decref(req);
}

/* A new host of MAC mac (enrolled), its id. */
static int64_t enroll(const char *mac)
{
	char text[128];
	json_t *req;
	struct host h;
	int64_t id;

	snprintf(text, sizeof(text), "{\"mac\":\"%s\"}", mac);
	req = json_loads(text, 0, NULL);
	assert_int_equal(hosts_enroll(req, &h), 0);
	id = h.id;
	host_free(&h);
	json_decref(req);
	return id;
}

/* Records an inventory of vendor (memory in GiB) on host id; its tags as JSON text into tags. */
static void inventory(int64_t id, const char *vendor, int gib, char *tags, size_t tagsz)
{
	json_t *inv = json_pack("{s:{s:s}, s:{s:I}, s:[]}", "system", "vendor", vendor, "memory", "total_bytes",
				(json_int_t)gib << 30, "nics");
	struct host h;
	int rc = hosts_record_inventory(id, inv, &h);

	json_decref(inv);
	if (rc < 0)
		fail_msg("inventory of host %lld: %s", (long long)id, err_msg());
	if (tags)
		snprintf(tags, tagsz, "%s", h.tags ? h.tags : "[]");
	host_free(&h);
}

/* How many of the host's events have source "rule" and actor actor. */
static int rule_events(int64_t id, const char *actor)
{
	json_t *events = json_array(), *ev;
	size_t i;
	int n = 0;

	assert_int_equal(db_event_list(id, 1000, events), 0);
	json_array_foreach(events, i, ev)
		if (!strcmp(json_string_value(json_object_get(ev, "source")), "rule") &&
		    json_is_string(json_object_get(ev, "actor")) &&
		    !strcmp(json_string_value(json_object_get(ev, "actor")), actor))
			n++;
	json_decref(events);
	return n;
}

static void test_first_match(void **state)
{
	char tags[256], names[512];
	int64_t big, small, other;

	(void)state;
	add_rule("{\"name\":\"b-dell\",\"query\":\"vendor:dell\",\"priority\":20,\"actions\":{\"tags\":[\"dell\"]}}");
	add_rule("{\"name\":\"a-dell\",\"query\":\"vendor:dell\",\"priority\":20,\"actions\":{\"tags\":[\"first\"]}}");
	add_rule("{\"name\":\"big\",\"query\":\"vendor:dell memory>=64G\",\"priority\":10,"
		 "\"actions\":{\"tags\":[\"big\"],\"image\":\"tiny\",\"next_boot\":\"install\"}}");
	add_rule("{\"name\":\"off\",\"query\":\"vendor:dell\",\"priority\":0,\"enabled\":false,\"actions\":{\"tags\":[\"off\"]}}");
	rule_names(names, sizeof(names));
	assert_string_equal(names, "off big a-dell b-dell");

	big = enroll("52:54:00:e0:00:01");
	inventory(big, "Dell", 128, tags, sizeof(tags));
	assert_string_equal(tags, "[\"big\"]");
	assert_int_equal(rule_events(big, "rule:big"), 1);
	small = enroll("52:54:00:e0:00:02");
	inventory(small, "Dell", 8, tags, sizeof(tags));
	assert_string_equal(tags, "[\"first\"]"); /* same priority: by name */
	assert_int_equal(rule_events(small, "rule:a-dell"), 1);
	assert_int_equal(rule_events(small, "rule:b-dell"), 0);
	inventory(small, "Dell", 8, tags, sizeof(tags));
	assert_int_equal(rule_events(small, "rule:a-dell"), 1); /* not again on the second */
	other = enroll("52:54:00:e0:00:03");
	inventory(other, "HPE", 8, tags, sizeof(tags));
	assert_string_equal(tags, "[]");
	for (const char *n = "off\0big\0a-dell\0b-dell\0"; *n; n += strlen(n) + 1)
		assert_int_equal(rules_delete(n), 0);
}

#define RACERS 16
#define RACE_MAX 3

static int64_t racer_ids[RACERS];
static char racer_failed[RACERS][160];

static void *racer_main(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	json_t *inv = json_pack("{s:{s:s}, s:[]}", "system", "vendor", "ACME", "nics");
	struct host h;

	if (hosts_record_inventory(racer_ids[i], inv, &h) < 0)
		snprintf(racer_failed[i], sizeof(racer_failed[i]), "%s", err_msg());
	else
		host_free(&h);
	json_decref(inv);
	db_thread_end();
	return NULL;
}

static void test_max_count_race(void **state)
{
	pthread_t threads[RACERS];
	int capped = 0, rest = 0;
	int64_t claims;
	struct rule r = { 0 };

	(void)state;
	add_rule("{\"name\":\"acme\",\"query\":\"vendor:acme\",\"priority\":1,\"max_count\":3,\"actions\":{\"tags\":[\"acme\"]}}");
	add_rule("{\"name\":\"acme-rest\",\"query\":\"vendor:acme\",\"priority\":2,\"actions\":{\"tags\":[\"rest\"]}}");
	for (size_t i = 0; i < RACERS; i++) {
		char mac[MAC_LEN + 1];

		snprintf(mac, sizeof(mac), "52:54:00:e1:00:%02zx", i + 1);
		racer_ids[i] = enroll(mac);
	}
	for (size_t i = 0; i < RACERS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, racer_main, (void *)(uintptr_t)i), 0);
	for (size_t i = 0; i < RACERS; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < RACERS; i++) {
		struct host h;

		if (racer_failed[i][0])
			fail_msg("racer %zu: %s", i, racer_failed[i]);
		assert_int_equal(db_host_get(racer_ids[i], &h), 0);
		capped += !strcmp(h.tags, "[\"acme\"]");
		rest += !strcmp(h.tags, "[\"rest\"]");
		host_free(&h);
	}
	assert_int_equal(capped, RACE_MAX);
	assert_int_equal(rest, RACERS - RACE_MAX);
	assert_int_equal(db_rule_get("acme", &r), 0);
	assert_int_equal(db_rule_claim_count(r.id, &claims), 0);
	assert_int_equal(claims, RACE_MAX);
	assert_int_equal(r.claimed, RACE_MAX);
	rule_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_first_match),
		cmocka_unit_test(test_max_count_race),
	};

	return cmocka_run_group_tests(tests, store_open, store_close);
}

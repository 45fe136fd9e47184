/*
 * Unit tests of lib/query.c, the host search language: a table of queries and the hosts each
 * one finds, run against a real SQLite database holding four hosts (their columns, MACs,
 * tags, attributes and inventory JSON as the store keeps them); a table of bad queries and
 * the position and words of each refusal; and values that never become SQL text.
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
#include <sqlite3.h>

#include "query.h"

/* The tables query.h names, with only the columns a query reads. */
static const char schema[] =
	"CREATE TABLE hosts (id INTEGER PRIMARY KEY, hostname TEXT, status TEXT, next_boot TEXT,"
	" image TEXT, uuid TEXT, serial TEXT, vendor TEXT, product TEXT, asset TEXT, inventory TEXT,"
	" firmware TEXT, cpu_model TEXT, cpu_sockets INTEGER, cpu_threads INTEGER,"
	" memory_bytes INTEGER, disk_count INTEGER, disk_bytes INTEGER);"
	"CREATE TABLE host_macs (mac TEXT PRIMARY KEY, host_id INTEGER);"
	"CREATE TABLE host_tags (host_id INTEGER, tag TEXT);"
	"CREATE TABLE host_attrs (host_id INTEGER, name TEXT, value TEXT, number REAL);"
	"INSERT INTO hosts VALUES"
	" (1, 'db1', 'ready', 'discover', NULL, NULL, 'SN-DB1', 'Dell Inc.', 'PowerEdge R640', NULL,"
	"  '{\"bmc\":{\"address\":\"192.0.2.9\"},\"bios\":{\"version\":\"2.17.1\"},"
	"    \"nics\":[{\"name\":\"eno1\",\"speed_mbps\":25000,\"lldp\":{\"switch\":\"leaf-3\","
	"                \"port\":\"Ethernet12\",\"vlan\":12}},"
	"              {\"name\":\"eno2\",\"speed_mbps\":1000,\"lldp\":null}],"
	"    \"disks\":[{\"name\":\"sda\",\"size_bytes\":1000,\"rotational\":true},{\"name\":\"sdb\"},"
	"               {\"name\":\"sdc\"},{\"name\":\"sdd\"}],"
	"    \"memory\":{\"dimms\":[{\"slot\":\"A1\",\"size_bytes\":34359738368}]}}',"
	"  'uefi', 'AMD EPYC 7443 24-Core Processor', 2, 96, 137438953472, 4, 4000),"
	" (2, 'web7', 'deployed', 'local', 'debian', NULL, 'SN-W7', 'QEMU', 'Standard PC', 'A-7',"
	"  '{\"bios\":{\"version\":\"1.16\"},\"nics\":[{\"name\":\"ens3\",\"speed_mbps\":1000,"
	"    \"lldp\":{\"switch\":\"leaf-4\",\"port\":\"swp3\",\"vlan\":100,\"chassis_id\":\"a6:41:b4:fb:6b:7c\"}}],"
	"    \"disks\":[{\"name\":\"vda\",\"size_bytes\":8589934592,\"rotational\":false}]}',"
	"  'bios', 'QEMU Virtual CPU', 1, 2, 2147483648, 1, 8589934592),"
	" (3, 'web8', 'failed', 'install', 'debian', NULL, NULL, NULL, NULL, NULL, NULL,"
	"  NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	" (4, NULL, 'new', 'discover', NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
	"  NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
	/* the inventory lives in a table of its own, as migration 16 moves it */
	"CREATE TABLE host_inventories (host_id INTEGER PRIMARY KEY, inventory TEXT NOT NULL);"
	"INSERT INTO host_inventories SELECT id, inventory FROM hosts WHERE inventory IS NOT NULL;"
	"ALTER TABLE hosts DROP COLUMN inventory;"
	"ALTER TABLE hosts ADD COLUMN drift TEXT;"
	"UPDATE hosts SET drift = '[{\"part\":\"disk\"}]' WHERE id = 2;"
	"INSERT INTO host_macs VALUES ('52:54:00:00:00:01', 1), ('52:54:00:00:00:02', 2),"
	" ('52:54:00:00:00:04', 4);"
	"INSERT INTO host_tags VALUES (1, 'db'), (1, 'rack-12'), (2, 'web'), (3, 'web'), (3, 'retired');"
	"INSERT INTO host_attrs VALUES (1, 'rack', 'r12', NULL), (2, 'rack', 'r14', NULL),"
	" (1, 'warranty_until', '2027-03-01', NULL), (2, 'warranty_until', '2026-01-31', NULL),"
	" (1, 'weight', '21.5', 21.5), (2, 'weight', '9', 9);";

static int setup(void **state)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
	*state = db;
	return 0;
}

static int teardown(void **state)
{
	sqlite3_close(*state);
	return 0;
}

/* The ids of the hosts text finds, as "1,3" ("" for none); the first parameter is ?2, as a
 * caller with one parameter of its own would have it. */
static void matches(sqlite3 *db, const char *text, char *out, size_t size)
{
	struct query q;
	struct query_error err;
	sqlite3_stmt *st;
	char *sql;
	size_t o = 0;

	out[0] = '\0';
	if (query_compile(text, 1, &q, &err) != 0)
		fail_msg("'%s' did not compile: %s at %zu", text, err.msg, err.pos);
	assert_true(asprintf(&sql, "SELECT h.id FROM hosts h WHERE ?1 = 1 AND %s ORDER BY h.id", q.where) > 0);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("'%s': SQL does not prepare: %s\n%s", text, sqlite3_errmsg(db), sql);
	sqlite3_bind_int(st, 1, 1);
	for (size_t i = 0; i < q.count; i++) {
		const struct query_param *prm = &q.params[i];

		if (prm->type == QUERY_PARAM_TEXT)
			sqlite3_bind_text(st, (int)i + 2, prm->text, -1, SQLITE_STATIC);
		else if (prm->type == QUERY_PARAM_INT)
			sqlite3_bind_int64(st, (int)i + 2, prm->number);
		else
			sqlite3_bind_double(st, (int)i + 2, prm->real);
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		o += (size_t)snprintf(out + o, size - o, "%s%d", o ? "," : "", sqlite3_column_int(st, 0));
	sqlite3_finalize(st);
	free(sql);
	query_free(&q);
}

static void test_finds(void **state)
{
	static const struct {
		const char *query, *ids;
	} cases[] = {
		{"", "1,2,3,4"},
		{"   ", "1,2,3,4"},
		{"web", "2,3"},                       /* bare word: hostname, and the tag */
		{"52:54:00:00:00:04", "4"},           /* bare word: a MAC */
		{"tag:db", "1"},
		{"tag:DB", "1"},                      /* any case */
		{"tag~rack", "1"},
		{"-tag:retired", "1,2,4"},
		{"tag:web -tag:retired", "2"},
		{"NOT tag:web", "1,4"},
		{"-web7", "1,3,4"},                  /* a negated word: hosts with empty columns too */
		{"NOT web", "1,4"},
		{"-image:debian", "1,4"},            /* hosts with no image are not debian */
		{"-(tag:web OR image:debian)", "1,4"},
		{"--tag:db", "1"},                   /* a run of negations folds */
		{"---tag:db", "2,3,4"},
		{"NOT -tag:db", "1"},
		{"-memory>=64G", "2,3,4"},           /* no memory known: not >= 64G */
		{"status:ready", "1"},
		{"status:deployed OR status:failed", "2,3"},
		{"(status:deployed OR status:failed) image:debian -tag:retired", "2"},
		{"status!=new", "1,2,3"},
		{"next:install", "3"},
		{"memory>=64G", "1"},
		{"memory>=2GiB", "1,2"},
		{"memory<2G", ""},
		{"memory>1.5G memory<=2G", "2"},
		{"cpu~EPYC", "1"},
		{"cpu~epyc cpu.threads>=64", "1"},
		{"firmware:uefi", "1"},
		{"firmware:bios OR firmware:uefi", "1,2"},
		{"disk.count>=4", "1"},
		{"disk.total>1M", "2"},
		{"nic.speed>=25000", "1"},
		{"nic.speed=1000", "1,2"},            /* one NIC of db1 is enough */
		{"-nic.speed>=25000", "2,3,4"},
		{"nic.name:ens3", "2"},
		{"nic.switch=leaf-3", "1"},           /* the switch port of LLDP: nic.lldp.* */
		{"nic.switch~LEAF", "1,2"},
		{"-nic.switch=leaf-3", "2,3,4"},
		{"nic.port:Ethernet12", "1"},
		{"nic.port=swp3 nic.switch=leaf-4", "2"},
		{"nic.port=swp3 nic.switch=leaf-3", ""},
		{"nic.vlan=100", "2"},
		{"nic.vlan>=12", "1,2"},
		{"nic.vlan<12", ""},
		{"nic.lldp.chassis_id:A6:41:B4:FB:6B:7C", "2"},
		{"disk.rotational:true", "1"},
		{"disk.rotational:false", "2"},
		{"disk.size>=8G", "2"},
		{"dimm.size=32G", "1"},
		{"bios.version:2.17.1", "1"},
		{"bios.version~.1", "1,2"},
		{"bmc:present", "1"},
		{"bmc:absent", "2,3,4"},
		{"bmc.address=192.0.2.9", "1"},       /* the BMC its inventory found, by path */
		{"bmc.address~192.0.2.", "1"},
		{"bmc.address=192.0.2.10", ""},
		{"drift:yes", "2"},
		{"drift:no tag:web", "3"},
		{"rack=r12", "1"},
		{"rack=R12", "1"},
		{"rack:r12", ""},                     /* an unknown KEY: is a word (a MAC piece) */
		{"00:00:02", "2"},
		{"db1:", ""},
		{"rack!=r12", "2"},                   /* hosts with another rack, not those with none */
		{"-rack=r12", "2,3,4"},
		{"warranty_until<2027-01-01", "2"},   /* ISO dates order as text */
		{"weight>10", "1"},
		{"weight<=9", "2"},
		{"hostname:\"web7\"", "2"},
		{"asset:A-7 AND serial:sn-w7", "2"},
		{"vendor:\"Dell Inc.\"", "1"},
		{"product~\"Standard PC\"", "2"},
		{"status:ready OR (tag:web AND -image:debian)", "1"},
		{"hostname:\"x' OR 1=1 --\"", ""},    /* a value is a parameter, never SQL */
		{"web%", ""},                         /* % and _ are not wildcards */
		{"w_b7", ""},
	};
	char ids[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		matches(*state, cases[i].query, ids, sizeof(ids));
		if (strcmp(ids, cases[i].ids))
			fail_msg("'%s' found [%s], expected [%s]", cases[i].query, ids, cases[i].ids);
	}
}

static void test_refuses(void **state)
{
	static const struct {
		const char *query;
		size_t pos;
		const char *words;
	} cases[] = {
		{"status:redy", 0, "'redy' is not a status"},
		{"tag:db next:reboot", 7, "'reboot' is not a next-boot action"},
		{"memory>=lots", 0, "needs a number or a size"},
		{"memory>=64X", 0, "needs a number or a size"},
		{"status>ready", 0, "cannot be ordered"},
		{"tag>db", 0, "tag takes tag:VALUE"},
		{"bmc:maybe", 0, "bmc takes bmc:present"},
		{"drift>1", 0, "drift takes drift:present"},
		{"(tag:db", 0, "'(' is not closed"},
		{"tag:db (status:new OR (tag:x)", 7, "'(' is not closed"},
		{"tag:db)", 6, "')' without its '('"},
		{")", 0, "')' without its '('"},
		{"()", 1, "a term is missing"},
		{"tag:db OR", 9, "a term is missing"},
		{"tag:db AND", 7, "a term is missing after AND"},
		{"status:", 0, "needs a value"},
		{"hostname:\"web", 9, "does not end"},
		{"nic.SPEED>1", 0, "not an inventory field"},  /* keys fold to lower case: fine */
		{"tag:x nic.spe-ed>1", 6, "not an inventory field"},
		{"foo.bar=1", 0, "is not a field"},
		{"foo.bar>1", 0, "is not a field"},
		{"bios..version=1", 0, "not an inventory field"},
		{"bios.=1", 0, "not an inventory field"},
	};
	struct query q;
	struct query_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = query_compile(cases[i].query, 0, &q, &err);

		if (!strcmp(cases[i].query, "nic.SPEED>1")) { /* the one that is fine */
			assert_int_equal(rc, 0);
			query_free(&q);
			continue;
		}
		if (rc != -EINVAL)
			fail_msg("'%s' compiled (rc %d): %s", cases[i].query, rc, rc == 0 ? q.where : "");
		if (err.pos != cases[i].pos || !strstr(err.msg, cases[i].words))
			fail_msg("'%s': refused at %zu with '%s'; expected %zu and '%s'", cases[i].query, err.pos,
				 err.msg, cases[i].pos, cases[i].words);
		assert_null(q.where);
		assert_int_equal(q.count, 0);
	}
}

static void test_limits(void **state)
{
	char text[QUERY_MAX_LEN + 2], deep[QUERY_MAX_DEPTH * 2 + 16];
	struct query q;
	struct query_error err;
	size_t o = 0;

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(query_compile(text, 0, &q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer than"));
	for (int i = 0; i <= QUERY_MAX_DEPTH; i++)
		deep[o++] = '(';
	strcpy(deep + o, "x");
	assert_int_equal(query_compile(deep, 0, &q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nested more than"));
	o = 0;
	for (int i = 0; i <= QUERY_MAX_TERMS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "t%d ", i);
	assert_int_equal(query_compile(text, 0, &q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more than"));
}

/* Values are parameters numbered after the caller's own; the SQL text never holds one. */
static void test_parameters(void **state)
{
	struct query q;
	struct query_error err;

	(void)state;
	assert_int_equal(query_compile("hostname:secret-name memory>=1K", 3, &q, &err), 0);
	assert_null(strstr(q.where, "secret"));
	assert_non_null(strstr(q.where, "?4"));
	assert_non_null(strstr(q.where, "?5"));
	assert_int_equal(q.count, 2);
	assert_int_equal(q.params[0].type, QUERY_PARAM_TEXT);
	assert_string_equal(q.params[0].text, "secret-name");
	assert_int_equal(q.params[1].type, QUERY_PARAM_INT);
	assert_int_equal(q.params[1].number, 1024);
	query_free(&q);
}

static void test_sizes(void **state)
{
	static const struct {
		const char *text;
		double value;
	} good[] = {
		{"0", 0}, {"64", 64}, {"1K", 1024}, {"64G", 68719476736.0}, {"64GiB", 68719476736.0},
		{"64GB", 68719476736.0}, {"1.5T", 1649267441664.0}, {"2m", 2097152}, {"-3", -3}, {".5K", 512},
	};
	static const char *const bad[] = {"", "G", "64X", "64GG", "1e400", "nan", "inf", "-", "2027-03-01", "12 G"};
	double v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (query_parse_size(good[i].text, &v) != 0)
			fail_msg("'%s' is a size", good[i].text);
		assert_true(v == good[i].value);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (query_parse_size(bad[i], &v) == 0)
			fail_msg("'%s' is not a size", bad[i]);
}

/* query_expand's lookup over a fixed table: web, old (which names another), and errors. */
static int lookup(void *ctx, const char *name, char **query)
{
	static const char *const saved[][2] = { { "web", "tag:web rack=r1" }, { "old", "tag:x @web" },
						{ "ops", "owner=ops@example.com hostname:\"a @b\"" } };
	static char big[QUERY_MAX_LEN / 2];

	if (!big[0])
		memset(big, 'x', sizeof(big) - 1);
	if (!strcmp(name, "big"))
		return (*query = strdup(big)) ? 0 : -ENOMEM;

	(void)ctx;
	if (!strcmp(name, "broken"))
		return -EIO;
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++)
		if (!strcmp(name, saved[i][0]))
			return (*query = strdup(saved[i][1])) ? 0 : -ENOMEM;
	return -ENOENT;
}

static void test_saved(void **state)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "@web", "(tag:web rack=r1)" },
		{ "@web -tag:retired", "(tag:web rack=r1) -tag:retired" },
		{ "-@web", "-(tag:web rack=r1)" },
		{ "(@web OR tag:db)", "((tag:web rack=r1) OR tag:db)" },
		{ "note=@web \"@web\" a@web", "note=@web \"@web\" a@web" },  /* values, quotes, inside words */
		{ "\"un\\\"closed @web", "\"un\\\"closed @web" },            /* an unclosed quote: text to the end */
		{ "", "" },
		{ "@ops", "(owner=ops@example.com hostname:\"a @b\")" },	/* an @ in its values is text */
		{ "@big", NULL },
	};
	static const struct { const char *in; size_t pos; const char *msg; int rc; } bad[] = {
		{ "tag:db @nosuch", 7, "no saved search 'nosuch'", -EINVAL },
		{ "@Web", 0, "@NAME is a saved search", -EINVAL },
		{ "x @", 2, "@NAME is a saved search", -EINVAL },
		{ "@old", 0, "saved search 'old' names another one", -EINVAL },
		{ "@broken", 0, "", -EIO },
		{ "@big @big @big", 5, "longer than 2048 bytes with its saved searches in", -EINVAL },
	};
	struct query_error err;
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(query_expand(ok[i].in, lookup, NULL, &out, &err), 0);
		if (ok[i].out)
			assert_string_equal(out, ok[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(query_expand(bad[i].in, lookup, NULL, &out, &err), bad[i].rc);
		assert_null(out);
		if (bad[i].rc == -EINVAL) {
			assert_int_equal(err.pos, bad[i].pos);
			assert_non_null(strstr(err.msg, bad[i].msg));
		}
	}
	assert_true(query_search_name_valid("a"));
	assert_true(query_search_name_valid("rack-12.db_x"));
	assert_false(query_search_name_valid(""));
	assert_false(query_search_name_valid("-a"));
	assert_false(query_search_name_valid("A"));
	assert_false(query_search_name_valid("a/b"));
	assert_true(query_search_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(query_search_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_finds, setup, teardown),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parameters),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_saved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

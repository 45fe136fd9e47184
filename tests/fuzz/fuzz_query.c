/* libFuzzer: the host search language (lib/query.c) over any text. Besides crashes: a query is
 * either refused with -EINVAL, a message and a position inside the text, or compiled into SQL
 * that SQLite prepares over the tables it names, with exactly the parameters it counts. The
 * same text with its @NAME saved searches expanded (query_expand, @a known, others not) is
 * either refused at a position inside the text or compiled the same way. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "query.h"
#include "support.h"

static sqlite3 *schema_db(void)
{
	static sqlite3 *db;

	if (!db && (sqlite3_open(":memory:", &db) != SQLITE_OK ||
		    sqlite3_exec(db,
				 "CREATE TABLE hosts (id INTEGER PRIMARY KEY, hostname, status, next_boot, image,"
				 " uuid, serial, vendor, product, asset, firmware, cpu_model, cpu_sockets,"
				 " cpu_threads, memory_bytes, disk_count, disk_bytes, drift);"
				 "CREATE TABLE host_macs (mac, host_id); CREATE TABLE host_tags (host_id, tag);"
				 "CREATE TABLE host_attrs (host_id, name, value, number);"
				 "CREATE TABLE host_inventories (host_id INTEGER PRIMARY KEY, inventory);",
				 NULL, NULL, NULL) != SQLITE_OK))
		fuzz_fail("cannot make the schema");
	return db;
}

static void check_sql(const struct query *q)
{
	sqlite3_stmt *st;
	char *sql;

	if (asprintf(&sql, "SELECT h.id FROM hosts h WHERE %s", q->where) < 0)
		return;
	if (sqlite3_prepare_v2(schema_db(), sql, -1, &st, NULL) != SQLITE_OK)
		fuzz_fail("accepted query gives SQL that does not prepare: %s\n%s", sqlite3_errmsg(schema_db()), sql);
	if ((size_t)sqlite3_bind_parameter_count(st) != q->count)
		fuzz_fail("%d parameters in the SQL, %zu in the query", sqlite3_bind_parameter_count(st), q->count);
	sqlite3_finalize(st);
	free(sql);
}

static int lookup(void *ctx, const char *name, char **query)
{
	(void)ctx;
	if (strcmp(name, "a"))
		return -ENOENT;
	return (*query = strdup("tag:web (rack=r1 OR -status:new)")) ? 0 : -ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *expanded = NULL;
	struct query q;
	struct query_error err;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = query_compile(text, 0, &q, &err);
	if (rc == 0)
		check_sql(&q);
	else if (rc != -EINVAL || !err.msg[0] || err.pos > strlen(text))
		fuzz_fail("refused with %d, '%s' at %zu of %zu", rc, err.msg, err.pos, strlen(text));
	query_free(&q);
	if ((rc = query_expand(text, lookup, NULL, &expanded, &err)) == 0) {
		if (query_compile(expanded, 0, &q, &err) == 0)
			check_sql(&q);
		query_free(&q);
		free(expanded);
	} else if (rc != -EINVAL || !err.msg[0] || err.pos >= strlen(text) || expanded) {
		fuzz_fail("expansion refused with %d, '%s' at %zu of %zu", rc, err.msg, err.pos, strlen(text));
	}
	free(text);
	return 0;
}

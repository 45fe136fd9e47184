/*
 * Unit tests of the store's group commit (server/db.c) against a real SQLite store: many
 * threads write at once; each db_commit that returned 0 is in the database, each rolled
 * back transaction left nothing, a transaction sees what it wrote (and what the batch's
 * earlier members wrote), and the counters say how many commits served how many
 * transactions.
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
#include "log.h"

#define THREADS 8
#define ROUNDS 60

/* What one writer thread did: per round, the id it committed or -1 (rolled back), and the
 * first thing that went wrong. */
struct writer_log {
	int n;
	int64_t ids[ROUNDS];
	char failed[160];
};

/* Round r of thread n: every 4th round inserts a host whose hostname is taken (the
 * transaction rolls back), the round before it inserts a host of its own and then rolls
 * back (a writer that changes its mind while other members of its batch commit), the others
 * a host of their own. */
static void *writer_main(void *arg)
{
	struct writer_log *w = arg;

	for (int r = 0; r < ROUNDS && !w->failed[0]; r++) {
		char name[64];
		struct host h = { .status = HOST_NEW, .next_boot = BOOT_LOCAL, .ssh_keys = "[]", .install = "{}" };
		struct host back;
		int64_t id;
		int rc;

		snprintf(name, sizeof(name), r % 4 == 3 ? "taken" : "gc-%d-%d", w->n, r);
		h.hostname = name;
		w->ids[r] = -1;
		if ((rc = db_begin()) < 0) {
			snprintf(w->failed, sizeof(w->failed), "db_begin: %d", rc);
			break;
		}
		if ((rc = db_host_insert(&h, &id)) < 0) {
			db_rollback();
			if (rc != -EEXIST)
				snprintf(w->failed, sizeof(w->failed), "insert %s: %d", name, rc);
			continue;
		}
		/* inside its transaction, a writer reads what it wrote */
		if (db_host_get(id, &back) < 0 || !back.hostname || strcmp(back.hostname, name) != 0)
			snprintf(w->failed, sizeof(w->failed), "host %lld not readable in its transaction", (long long)id);
		else
			host_free(&back);
		if (r % 4 == 2) {
			db_rollback();
			continue;
		}
		if ((rc = db_commit()) < 0)
			snprintf(w->failed, sizeof(w->failed), "commit of %s: %d", name, rc);
		else
			w->ids[r] = id;
	}
	db_thread_end();
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	struct host taken = { .status = HOST_NEW, .next_boot = BOOT_LOCAL, .hostname = "taken",
			      .ssh_keys = "[]", .install = "{}" };
	static struct writer_log logs[THREADS];
	pthread_t threads[THREADS];
	uint64_t batches0, txns0, batches, txns;
	int64_t id;
	int committed = 0;

	(void)state;
	assert_int_equal(db_begin(), 0);
	assert_int_equal(db_host_insert(&taken, &id), 0);
	assert_int_equal(db_commit(), 0);
	db_group_commits(&batches0, &txns0);
	for (int i = 0; i < THREADS; i++) {
		logs[i].n = i;
		assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &logs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < THREADS; i++) {
		if (logs[i].failed[0])
			fail_msg("writer %d: %s", i, logs[i].failed);
		for (int r = 0; r < ROUNDS; r++) {
			char name[64];
			struct host h;

			snprintf(name, sizeof(name), "gc-%d-%d", i, r);
			if (r % 4 == 3 || r % 4 == 2) {
				assert_int_equal(logs[i].ids[r], -1);
				/* round 2's host was written, read back, then rolled back: gone */
				if (db_host_find_by_ref(name, &h) != -ENOENT)
					fail_msg("writer %d round %d: the host it rolled back is in the store", i, r);
				continue;
			}
			if (logs[i].ids[r] < 0)
				fail_msg("writer %d round %d: not committed", i, r);
			if (db_host_get(logs[i].ids[r], &h) < 0 || !h.hostname || strcmp(h.hostname, name) != 0)
				fail_msg("writer %d round %d: committed host %lld is not in the store as %s", i, r,
					 (long long)logs[i].ids[r], name);
			host_free(&h);
			committed++;
		}
	}
	db_group_commits(&batches, &txns);
	assert_int_equal(committed, THREADS * ROUNDS / 2); /* rounds 0 and 1 of every 4 */
	/* every committed transaction counted once; never more commits than transactions */
	assert_int_equal(txns - txns0, (uint64_t)committed);
	assert_true(batches - batches0 >= 1 && batches - batches0 <= txns - txns0);
	printf("# %d transactions from %d threads in %llu commits\n", committed, THREADS,
	       (unsigned long long)(batches - batches0));
}

/* A transaction that rolls back alone (no other member) leaves the store as it was, and the
 * next one commits at once. */
static void test_rollback_alone(void **state)
{
	struct host h = { .status = HOST_NEW, .next_boot = BOOT_LOCAL, .hostname = "alone",
			  .ssh_keys = "[]", .install = "{}" };
	struct host back;
	int64_t id;

	(void)state;
	assert_int_equal(db_begin(), 0);
	assert_int_equal(db_host_insert(&h, &id), 0);
	db_rollback();
	assert_int_equal(db_host_find_by_ref("alone", &back), -ENOENT);
	assert_int_equal(db_begin(), 0);
	assert_int_equal(db_host_insert(&h, &id), 0);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(db_host_find_by_ref("alone", &back), 0);
	host_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollback_alone),
		cmocka_unit_test(test_concurrent_writers),
	};

	return cmocka_run_group_tests(tests, store_open, store_close);
}

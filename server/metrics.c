/* Counters behind GET /metrics (Prometheus text format 0.0.4); the package cache's are counted
 * from its own log by cache.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"

#define MAX_SERIES 256

/* Requests by route and status. Routes are the fixed labels of http.c's route table (never
 * a raw path), so the number of series stays small and bounded. */
struct series {
	const char *route;
	unsigned status;
	uint64_t count, bytes;
};
static struct series series[MAX_SERIES];
static size_t nseries;
static uint64_t boots[BOOT_ACTION_COUNT], unknown_boots, seen_batches, seen_records, rule_firings;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Webhook deliveries' attempts by result (webhooks.c). */
static const char *const webhook_results[] = { "ok", "retry", "failed" };
static uint64_t webhook_counts[3];

void metrics_request(const char *route, unsigned status, uint64_t bytes)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nseries; i++)
		if (series[i].status == status && strcmp(series[i].route, route) == 0)
			break;
	if (i == nseries && nseries < MAX_SERIES) {
		series[i].route = route;
		series[i].status = status;
		nseries++;
	}
	if (i < nseries) {
		series[i].count++;
		series[i].bytes += bytes;
	}
	pthread_mutex_unlock(&lock);
}

void metrics_unknown_boot(void)
{
	pthread_mutex_lock(&lock);
	unknown_boots++;
	pthread_mutex_unlock(&lock);
}

void metrics_rule_fired(void)
{
	pthread_mutex_lock(&lock);
	rule_firings++;
	pthread_mutex_unlock(&lock);
}

void metrics_seen_batch(size_t n)
{
	pthread_mutex_lock(&lock);
	seen_batches++;
	seen_records += n;
	pthread_mutex_unlock(&lock);
}

void metrics_webhook(const char *result)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < 3; i++)
		if (strcmp(result, webhook_results[i]) == 0)
			webhook_counts[i]++;
	pthread_mutex_unlock(&lock);
}

void metrics_boot(enum boot_action action)
{
	if ((unsigned)action >= BOOT_ACTION_COUNT)
		return;
	pthread_mutex_lock(&lock);
	boots[action]++;
	pthread_mutex_unlock(&lock);
}

/* The package cache's counters, from its own log (cache_stats). Without --package-cache-log
 * none of these series exist: an absent series says "no cache known", where 0 would claim a
 * cache that never served. */
static void render_package_cache(FILE *f)
{
	struct cache_stats st;
	int readable = cache_stats(&st) == 0;

	fprintf(f,
		"# HELP anemos_package_cache_hits_total Requests the package cache answered from its store.\n"
		"# TYPE anemos_package_cache_hits_total counter\n"
		"anemos_package_cache_hits_total %llu\n"
		"# HELP anemos_package_cache_misses_total Requests the package cache downloaded from the mirror for.\n"
		"# TYPE anemos_package_cache_misses_total counter\n"
		"anemos_package_cache_misses_total %llu\n"
		"# HELP anemos_package_cache_sent_bytes_total Bytes the package cache sent to machines, headers included.\n"
		"# TYPE anemos_package_cache_sent_bytes_total counter\n"
		"anemos_package_cache_sent_bytes_total %llu\n"
		"# HELP anemos_package_cache_fetched_bytes_total Bytes the package cache downloaded from mirrors, headers included.\n"
		"# TYPE anemos_package_cache_fetched_bytes_total counter\n"
		"anemos_package_cache_fetched_bytes_total %llu\n"
		"# HELP anemos_package_cache_log_readable 1 when the package cache's log could be read, else 0 (see anemosd's log).\n"
		"# TYPE anemos_package_cache_log_readable gauge\n"
		"anemos_package_cache_log_readable %d\n",
		(unsigned long long)st.hits, (unsigned long long)st.misses,
		(unsigned long long)st.sent_bytes, (unsigned long long)st.fetched_bytes, readable);
}

static void render_wal(FILE *f)
{
	uint64_t truncations, batches, transactions;
	int64_t bytes = db_wal_bytes(&truncations);

	db_group_commits(&batches, &transactions);
	fprintf(f, "# HELP anemos_db_commits_total Commits of the database (each a batch of write transactions).\n"
		"# TYPE anemos_db_commits_total counter\nanemos_db_commits_total %llu\n"
		"# HELP anemos_db_transactions_total Write transactions committed (in those batches).\n"
		"# TYPE anemos_db_transactions_total counter\nanemos_db_transactions_total %llu\n",
		(unsigned long long)batches, (unsigned long long)transactions);
	fprintf(f, "# HELP anemos_db_wal_bytes Size of the database's write-ahead log file.\n"
		"# TYPE anemos_db_wal_bytes gauge\nanemos_db_wal_bytes %lld\n"
		"# HELP anemos_db_wal_truncations_total Checkpoints that copied a grown WAL back and truncated it.\n"
		"# TYPE anemos_db_wal_truncations_total counter\nanemos_db_wal_truncations_total %llu\n",
		(long long)bytes, (unsigned long long)truncations);
}

/* The counters this file keeps; the caller holds the lock. */
static void render_counters(FILE *f)
{
	fputs("# HELP anemos_http_requests_total HTTP requests by route and status.\n"
	      "# TYPE anemos_http_requests_total counter\n", f);
	for (size_t i = 0; i < nseries; i++)
		fprintf(f, "anemos_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
			series[i].route, series[i].status, (unsigned long long)series[i].count);
	fputs("# HELP anemos_http_response_bytes_total Response body bytes sent, by route and status.\n"
	      "# TYPE anemos_http_response_bytes_total counter\n", f);
	for (size_t i = 0; i < nseries; i++)
		fprintf(f, "anemos_http_response_bytes_total{route=\"%s\",status=\"%u\"} %llu\n",
			series[i].route, series[i].status, (unsigned long long)series[i].bytes);
	fputs("# HELP anemos_boots_total iPXE scripts served, by next-boot action.\n"
	      "# TYPE anemos_boots_total counter\n", f);
	for (size_t i = 0; i < BOOT_ACTION_COUNT; i++)
		fprintf(f, "anemos_boots_total{action=\"%s\"} %llu\n", boot_action_name((enum boot_action)i),
			(unsigned long long)boots[i]);
	fprintf(f, "# HELP anemos_unknown_boots_total Boots of machines nobody enrolled, answered with nothing "
		"(--unknown-hosts ignore).\n# TYPE anemos_unknown_boots_total counter\n"
		"anemos_unknown_boots_total %llu\n", (unsigned long long)unknown_boots);
	fprintf(f, "# HELP anemos_boot_records_total Boot records of known hosts written in batches (last seen, boot event).\n"
		"# TYPE anemos_boot_records_total counter\nanemos_boot_records_total %llu\n"
		"# HELP anemos_boot_record_batches_total Transactions that wrote those records.\n"
		"# TYPE anemos_boot_record_batches_total counter\nanemos_boot_record_batches_total %llu\n",
		(unsigned long long)seen_records, (unsigned long long)seen_batches);
	fprintf(f, "# HELP anemos_rule_firings_total Discovery rules fired on a host's first inventory.\n"
		"# TYPE anemos_rule_firings_total counter\nanemos_rule_firings_total %llu\n",
		(unsigned long long)rule_firings);
	fputs("# HELP anemos_webhook_deliveries_total Attempts to deliver an event to a webhook, by result (ok; retry: "
	      "failed, tried again; failed: given up).\n# TYPE anemos_webhook_deliveries_total counter\n", f);
	for (size_t i = 0; i < 3; i++)
		fprintf(f, "anemos_webhook_deliveries_total{result=\"%s\"} %llu\n", webhook_results[i],
			(unsigned long long)webhook_counts[i]);
}

char *metrics_render(void)
{
	json_t *by_status = json_object();
	const char *status;
	json_t *count;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f || !by_status || db_host_count_by_status(by_status) < 0) {
		if (f)
			fclose(f);
		free(out);
		json_decref(by_status);
		return NULL;
	}
	pthread_mutex_lock(&lock);
	render_counters(f);
	pthread_mutex_unlock(&lock);
	fputs("# HELP anemos_hosts Hosts by status.\n# TYPE anemos_hosts gauge\n", f);
	json_object_foreach(by_status, status, count)
		fprintf(f, "anemos_hosts{status=\"%s\"} %lld\n", status, (long long)json_integer_value(count));
	json_decref(by_status);
	render_wal(f);
	if (cfg.package_cache_log)
		render_package_cache(f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * The boot records of known hosts, batched: a host that boots from a known MAC and needs no
 * token (local disk, or nothing) is answered from reads only (boot.c), and its last-seen time
 * and boot event wait here for one writer thread that commits them together, a few
 * milliseconds' worth at a time, instead of one write transaction per /ipxe. They carry no
 * promise (no token, nothing acknowledged), so a kill -9 may lose the last batch; everything
 * that reads hosts or events, and every host write, calls seen_flush() first, so an
 * operator never sees a boot's answer before its record, nor its events out of order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anemosd.h"
#include "log.h"

#define SEEN_MAX 16384 /* records queued at most; beyond, boots take the write path */
#define SEEN_BATCH 512 /* the writer starts at once with this many queued */
#define SEEN_DELAY_MS 5

struct seen_rec {
	int64_t host_id;
	const char *level;
	char message[240];
};

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qwake = PTHREAD_COND_INITIALIZER;
static struct seen_rec *queue, *spare;
static size_t queued;
static bool draining, stopping, running;
static pthread_t writer;
/* Held from taking a batch until it is committed: seen_flush returns only after every
 * record queued before it is in the database. */
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;

int seen_record(int64_t host_id, const char *level, const char *message)
{
	int rc = 0;

	pthread_mutex_lock(&qlock);
	if (!running || queued == SEEN_MAX) {
		rc = -EAGAIN;
	} else {
		queue[queued].host_id = host_id;
		queue[queued].level = level;
		snprintf(queue[queued].message, sizeof(queue[queued].message), "%s", message);
		if (++queued == 1 || queued == SEEN_BATCH)
			pthread_cond_signal(&qwake);
	}
	pthread_mutex_unlock(&qlock);
	return rc;
}

struct seen_work {
	const struct seen_rec *records;
	size_t n;
};

/* Writes w->records[0..n): each host's last-seen time and boot event. 0 or -errno. */
static int seen_work(void *arg)
{
	const struct seen_work *w = arg;
	int rc = 0;

	for (size_t i = 0; i < w->n && rc == 0; i++)
		rc = db_host_seen_event(w->records[i].host_id, w->records[i].level, w->records[i].message);
	return rc;
}

/* Writes records[0..n) in one transaction and tells the waiters of each host. Through
 * db_txn, not a host transaction (hosts.c): that one calls seen_flush first, which would
 * wait here for this very batch. */
static void write_batch(const struct seen_rec *records, size_t n)
{
	struct seen_work w = { .records = records, .n = n };

	if (db_txn(seen_work, &w) < 0) {
		log_error("%zu boot records lost: %s", n, err_msg());
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (i == 0 || records[i].host_id != records[i - 1].host_id)
			notify_host_changed(records[i].host_id);
	metrics_seen_batch(n);
}

/* Takes what is queued and writes it (the caller holds drain_lock). */
static void drain(void)
{
	struct seen_rec *batch;
	size_t n;

	pthread_mutex_lock(&qlock);
	batch = queue;
	n = queued;
	queue = spare;
	spare = batch;
	queued = 0;
	draining = n > 0;
	pthread_mutex_unlock(&qlock);
	if (n)
		write_batch(batch, n);
	pthread_mutex_lock(&qlock);
	draining = false;
	pthread_mutex_unlock(&qlock);
}

void seen_flush(void)
{
	bool idle;

	pthread_mutex_lock(&qlock);
	idle = !running || (queued == 0 && !draining);
	pthread_mutex_unlock(&qlock);
	if (idle)
		return;
	pthread_mutex_lock(&drain_lock);
	drain();
	pthread_mutex_unlock(&drain_lock);
}

static void *writer_main(void *arg)
{
	const struct timespec delay = { 0, SEEN_DELAY_MS * 1000000L };

	(void)arg;
	pthread_mutex_lock(&qlock);
	while (!stopping || queued) {
		if (!queued) {
			pthread_cond_wait(&qwake, &qlock);
			continue;
		}
		/* a few milliseconds for the batch to fill, unless it is full already */
		if (queued < SEEN_BATCH && !stopping) {
			pthread_mutex_unlock(&qlock);
			nanosleep(&delay, NULL);
			pthread_mutex_lock(&qlock);
		}
		pthread_mutex_unlock(&qlock);
		pthread_mutex_lock(&drain_lock);
		drain();
		pthread_mutex_unlock(&drain_lock);
		pthread_mutex_lock(&qlock);
	}
	pthread_mutex_unlock(&qlock);
	return NULL;
}

int seen_start(void)
{
	int rc;

	queue = calloc(SEEN_MAX, sizeof(*queue));
	spare = calloc(SEEN_MAX, sizeof(*spare));
	if (!queue || !spare) {
		free(queue);
		free(spare);
		queue = spare = NULL;
		return err_set(-ENOMEM, "out of memory");
	}
	stopping = false;
	if ((rc = pthread_create(&writer, NULL, writer_main, NULL)) != 0) {
		free(queue);
		free(spare);
		queue = spare = NULL;
		return err_set(-rc, "cannot start the boot record writer");
	}
	running = true;
	return 0;
}

void seen_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&qlock);
	stopping = true;
	pthread_cond_signal(&qwake);
	pthread_mutex_unlock(&qlock);
	pthread_join(writer, NULL);
	pthread_mutex_lock(&qlock);
	running = false;
	pthread_mutex_unlock(&qlock);
	free(queue);
	free(spare);
	queue = spare = NULL;
}

/*
 * Suspended connections waiting for a change: long-polled agent plans and the dashboard's
 * event stream. A waiting request holds no worker thread: its connection is suspended, and
 * one thread resumes it when a change makes ready() true or its deadline passes. A resumed
 * connection runs its handler (or content reader) again, which decides what to answer.
 * libmicrohttpd forbids stopping the daemon with suspended connections, so waiters_stop()
 * resumes every one first.
 *
 * Waiting requests have a budget of their own, cfg.max_waiting places (below the connection
 * limit, see main.c): http.c takes a place for each request that may wait before its
 * handler runs, and answers 503 with Retry-After when none is left, so long polls and event
 * streams can never take the connections that booting machines and file downloads need.
 * (503 rather than an at-once "nothing yet" plan: the agent asks again at once after a plan,
 * but backs off from 1 to 30 s after a 503.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "http.h"

struct waiter {
	struct MHD_Connection *conn;
	time_t deadline;
	int64_t host; /* the host whose changes it waits for; 0: any change */
	wait_ready_fn ready;
	void *cls;
	struct waiter *next;
};

/* Waiters by host: a change to host H looks only at the waiters in bucket H % BUCKETS (and
 * at those waiting for any change), so a commit costs O(its hosts' waiters), not
 * O(all waiters); 10,000 long-polling agents then cost nothing while other machines
 * register. Deadlines are checked once a second, without asking ready(). */
#define BUCKETS 4096
#define CHANGES_MAX 1024 /* hosts looked at one by one per wake; beyond, every waiter is */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *buckets[BUCKETS], *any_change;
static pthread_t thread;
static bool running, stopping;
static atomic_uint places_taken;

bool wait_place_take(void)
{
	unsigned taken = atomic_load(&places_taken);

	do {
		if (taken >= cfg.max_waiting)
			return false;
	} while (!atomic_compare_exchange_weak(&places_taken, &taken, taken + 1));
	return true;
}

void wait_place_release(void)
{
	atomic_fetch_sub(&places_taken, 1);
}

static struct waiter **list_of(int64_t host)
{
	return host ? &buckets[(uint64_t)host % BUCKETS] : &any_change;
}

/* Resumes and forgets the waiters of one list whose time has come: all, those past their
 * deadline, and (changed) those of host `host` (0: every one of the list) that ready() says
 * are ready. Call with lock held. */
static void resume_list(struct waiter **pp, bool all, bool changed, int64_t host, time_t now)
{
	while (*pp) {
		struct waiter *w = *pp;
		bool wake = all || now >= w->deadline ||
			    (changed && (!host || w->host == host) && (!w->ready || w->ready(w->cls)));

		if (!wake) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		MHD_resume_connection(w->conn);
		free(w);
	}
}

/* Every list: at a deadline tick (changed false), when stopping (all), or when too many hosts
 * changed to name them (changed). */
static void resume_every(bool all, bool changed, time_t now)
{
	resume_list(&any_change, all, changed, 0, now);
	for (size_t i = 0; i < BUCKETS; i++)
		if (buckets[i])
			resume_list(&buckets[i], all, changed, 0, now);
}

/* After the changes since *seen: the waiters of each changed host, and those of any change. */
static void resume_changed(uint64_t *seen, time_t now)
{
	static int64_t ids[CHANGES_MAX];
	int n = notify_since(seen, ids, CHANGES_MAX);

	if (n < 0) {
		resume_every(false, true, now);
		return;
	}
	/* every change wakes these, one that names no host too (a revocation, a stop) */
	resume_list(&any_change, false, true, 0, now);
	for (int i = 0; i < n; i++)
		resume_list(list_of(ids[i]), false, true, ids[i], now);
}

static void *waiter_main(void *arg)
{
	uint64_t seen = notify_generation(), now;
	time_t last_tick = time(NULL), t;

	(void)arg;
	for (;;) {
		now = notify_wait(seen, 1000);
		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		t = time(NULL);
		if (now != seen)
			resume_changed(&seen, t);
		if (t != last_tick) {
			resume_every(false, false, t);
			last_tick = t;
		}
		pthread_mutex_unlock(&lock);
	}
	db_thread_end();
	return NULL;
}

int waiters_start(void)
{
	int rc = pthread_create(&thread, NULL, waiter_main, NULL);

	if (rc)
		return err_set(-rc, "cannot start the waiter thread");
	running = true;
	return 0;
}

void waiters_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	resume_every(true, false, time(NULL));
	pthread_mutex_unlock(&lock);
	notify_host_changed(0);
	pthread_join(thread, NULL);
	running = false;
}

bool waiters_stopping(void)
{
	bool s;

	pthread_mutex_lock(&lock);
	s = stopping;
	pthread_mutex_unlock(&lock);
	return s;
}

bool wait_for_change(struct MHD_Connection *conn, uint64_t seen, time_t deadline, int64_t host,
		     wait_ready_fn ready, void *cls)
{
	struct waiter *w = calloc(1, sizeof(*w));
	bool queued = false;

	if (!w)
		return false;
	w->conn = conn;
	w->deadline = deadline;
	w->host = host;
	w->ready = ready;
	w->cls = cls;
	pthread_mutex_lock(&lock);
	/* A change after `seen` may already have been handled by the waiter thread before this
	 * waiter was on its list: then the caller looks again instead of sleeping. */
	if (!stopping && notify_generation() == seen) {
		MHD_suspend_connection(conn);
		w->next = *list_of(host);
		*list_of(host) = w;
		queued = true;
	}
	pthread_mutex_unlock(&lock);
	if (!queued)
		free(w);
	return queued;
}

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
	wait_ready_fn ready;
	void *cls;
	struct waiter *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *waiters;
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

/* Resumes and forgets the waiters whose time has come. Call with lock held. changed: a
 * change happened, so ask ready(); otherwise only deadlines count. */
static void resume_due(bool changed, bool all)
{
	struct waiter **pp = &waiters;
	time_t now = time(NULL);

	while (*pp) {
		struct waiter *w = *pp;

		if (!all && now < w->deadline && !(changed && (!w->ready || w->ready(w->cls)))) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		MHD_resume_connection(w->conn);
		free(w);
	}
}

static void *waiter_main(void *arg)
{
	uint64_t seen = notify_generation(), now;

	(void)arg;
	for (;;) {
		now = notify_wait(seen, 1000);
		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		resume_due(now != seen, false);
		pthread_mutex_unlock(&lock);
		seen = now;
	}
	db_shutdown();
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
	resume_due(false, true);
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

bool wait_for_change(struct MHD_Connection *conn, uint64_t seen, time_t deadline, wait_ready_fn ready,
		     void *cls)
{
	struct waiter *w = calloc(1, sizeof(*w));
	bool queued = false;

	if (!w)
		return false;
	w->conn = conn;
	w->deadline = deadline;
	w->ready = ready;
	w->cls = cls;
	pthread_mutex_lock(&lock);
	/* A change after `seen` may already have been handled by the waiter thread before this
	 * waiter was on its list: then the caller looks again instead of sleeping. */
	if (!stopping && notify_generation() == seen) {
		MHD_suspend_connection(conn);
		w->next = waiters;
		waiters = w;
		queued = true;
	}
	pthread_mutex_unlock(&lock);
	if (!queued)
		free(w);
	return queued;
}

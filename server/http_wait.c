/*
 * Suspended connections waiting for a change: long-polled agent plans and the dashboard's
 * event stream. A waiting request holds no worker thread: its connection is suspended, and
 * one thread resumes it when a change makes ready() true or its deadline passes. A resumed
 * connection runs its handler (or content reader) again, which decides what to answer.
 * libmicrohttpd forbids stopping the daemon with suspended connections, so waiters_stop()
 * resumes every one first.
 */
#include <pthread.h>
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

/*
 * The agent endpoints (per-boot agent token; req->agent_host is the token's host).
 *
 * GET /api/v1/agent/plan?wait=SECONDS is a long poll: while the host has nothing to do but
 * discover, the request is suspended (no worker thread is held) and one waiter thread
 * resumes it when any host changes and this one has something to do, or when the wait is
 * over. A resumed request runs its handler again and answers with the plan as it is then.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define MAX_WAIT 110 /* seconds; below libmicrohttpd's connection timeout of 120 s */

struct plan_waiter {
	struct request *req;
	int64_t host_id;
	time_t deadline;
	struct plan_waiter *next;
};

static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plan_waiter *waiters;
static pthread_t waiter_thread;
static bool waiter_running, stopping;

/* Resumes and forgets every waiter for which done() holds. Call with waiters_lock held. */
static void resume_waiters(bool (*done)(const struct plan_waiter *w, time_t now))
{
	struct plan_waiter **pp = &waiters;
	time_t now = time(NULL);

	while (*pp) {
		struct plan_waiter *w = *pp;

		if (!done(w, now)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->req->resumed = true;
		MHD_resume_connection(w->req->conn);
		free(w);
	}
}

static bool waiter_expired(const struct plan_waiter *w, time_t now) { return now >= w->deadline; }

static bool waiter_ready(const struct plan_waiter *w, time_t now)
{
	return now >= w->deadline || !boot_plan_pending(w->host_id);
}

static bool waiter_any(const struct plan_waiter *w, time_t now)
{
	(void)w;
	(void)now;
	return true;
}

static void *waiter_main(void *arg)
{
	uint64_t seen = notify_generation(), now_gen;

	(void)arg;
	for (;;) {
		now_gen = notify_wait(seen, 1000);
		pthread_mutex_lock(&waiters_lock);
		if (stopping) {
			pthread_mutex_unlock(&waiters_lock);
			break;
		}
		/* A change may concern any waiting host; otherwise only deadlines can have passed. */
		resume_waiters(now_gen != seen ? waiter_ready : waiter_expired);
		pthread_mutex_unlock(&waiters_lock);
		seen = now_gen;
	}
	db_shutdown();
	return NULL;
}

int plan_waiters_start(void)
{
	int rc = pthread_create(&waiter_thread, NULL, waiter_main, NULL);

	if (rc)
		return err_set(-rc, "cannot start the long-poll thread");
	waiter_running = true;
	return 0;
}

void plan_waiters_stop(void)
{
	if (!waiter_running)
		return;
	pthread_mutex_lock(&waiters_lock);
	stopping = true;
	resume_waiters(waiter_any);
	pthread_mutex_unlock(&waiters_lock);
	notify_host_changed(0);
	pthread_join(waiter_thread, NULL);
	waiter_running = false;
}

enum MHD_Result handle_agent_inventory(struct request *req)
{
	struct host h;
	json_t *o;
	int rc = hosts_record_inventory(req->agent_host, req->json, &h);

	if (rc < 0)
		return respond_error(req, rc);
	o = host_to_json(&h, false);
	host_free(&h);
	return respond_json(req, 200, o);
}

/* Suspends req until its host has a plan or `wait` seconds pass. Returns false when the
 * plan is ready now (or the server is stopping): then the caller answers at once. */
static bool plan_wait(struct request *req, long wait)
{
	struct plan_waiter *waiter = calloc(1, sizeof(*waiter));
	bool queued = false;

	if (!waiter)
		return false;
	waiter->req = req;
	waiter->host_id = req->agent_host;
	waiter->deadline = time(NULL) + wait;
	/* The generation is read before the host is checked, and compared again under the
	 * lock the waiter thread takes: a change in between is never missed, because then
	 * the host is checked once more before the request sleeps. */
	for (int tries = 0; tries < 5 && !queued; tries++) {
		uint64_t generation = notify_generation();

		if (!boot_plan_pending(req->agent_host))
			break;
		pthread_mutex_lock(&waiters_lock);
		if (!stopping && notify_generation() == generation) {
			MHD_suspend_connection(req->conn);
			waiter->next = waiters;
			waiters = waiter;
			queued = true;
		}
		pthread_mutex_unlock(&waiters_lock);
	}
	if (!queued)
		free(waiter);
	return queued;
}

enum MHD_Result handle_agent_plan(struct request *req)
{
	const char *w = request_arg(req, "wait");
	char *end = NULL;
	long wait = w ? strtol(w, &end, 10) : 0;
	json_t *plan;
	int rc;

	if (w && (*end || wait < 0 || wait > MAX_WAIT))
		return respond_errorf(req, 400, "wait must be a number of seconds from 0 to %d", MAX_WAIT);
	if (wait > 0 && !req->resumed && plan_wait(req, wait))
		return MHD_YES;
	rc = boot_plan(req->agent_host, &plan);
	return rc < 0 ? respond_error(req, rc) : respond_json(req, 200, plan);
}

enum MHD_Result handle_agent_events(struct request *req)
{
	json_t *event;
	int rc = hosts_agent_event(req->agent_host, req->json, &event);

	return rc < 0 ? respond_error(req, rc) : respond_json(req, 201, event);
}

enum MHD_Result handle_agent_done(struct request *req)
{
	struct host h;
	json_t *o;
	int rc = hosts_agent_done(req->agent_host, req->agent_mode, req->json, &h);

	if (rc < 0)
		return respond_error(req, rc);
	o = host_to_json(&h, false);
	host_free(&h);
	return respond_json(req, 200, o);
}

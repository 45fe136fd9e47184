/*
 * The agent endpoints (per-boot agent token; req->agent_host is the token's host).
 * GET /api/v1/agent/plan?wait=SECONDS is a long poll (http_wait.c): while the host has
 * nothing to do but discover, the request sleeps until that changes or the wait is over.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define MAX_WAIT 110 /* seconds; below libmicrohttpd's connection timeout of 120 s */

/* cls: the request's agent token (the request outlives its suspension). */
static bool plan_ready(void *cls)
{
	return !boot_plan_pending(cls);
}

enum MHD_Result handle_agent_inventory(struct request *req)
{
	struct host h;
	json_t *o;
	/* a compact body is stored as it came (it parsed: valid UTF-8, no duplicate keys) */
	int rc = hosts_record_inventory_text(req->agent_host, req->json, req->scan.spaced ? NULL : req->body,
					     req->json_rest, &h);

	if (rc < 0)
		return respond_error(req, rc);
	o = host_to_json(&h, false);
	host_free(&h);
	return respond_json(req, 200, o);
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
	if (!req->wait_until)
		req->wait_until = time(NULL) + wait;
	/* Runs again each time the connection is resumed: sleep on while nothing changed. */
	for (int tries = 0; tries < 5 && time(NULL) < req->wait_until; tries++) {
		uint64_t seen = notify_generation();

		if (!boot_plan_pending(&req->agent))
			break;
		if (wait_for_change(req->conn, seen, req->wait_until, req->agent_host, plan_ready, &req->agent))
			return MHD_YES;
		if (waiters_stopping())
			break;
	}
	rc = boot_plan(&req->agent, &plan);
	return rc < 0 ? respond_error(req, rc) : respond_json(req, 200, plan);
}

enum MHD_Result handle_agent_events(struct request *req)
{
	json_t *event;
	int rc = hosts_agent_event(req->agent_host, req->json, &event);

	return rc < 0 ? respond_error(req, rc) : respond_json(req, 201, event);
}

/* The installer asks for the token it writes into the installed system, before it ends the
 * boot with done (which revokes the agent token). */
enum MHD_Result handle_agent_phone_home_token(struct request *req)
{
	json_t *o;
	int rc;

	rc = hosts_phone_home_token(&req->agent, &o);
	return rc < 0 ? respond_error(req, rc) : respond_json(req, 201, o);
}

enum MHD_Result handle_phone_home(struct request *req)
{
	struct host h;
	json_t *o;
	int rc = hosts_phone_home(req->agent_host, req->json, &h);

	if (rc < 0)
		return respond_error(req, rc);
	o = host_to_json(&h, false);
	host_free(&h);
	return respond_json(req, 200, o);
}

/* The outcome of a BMC enroll the plan carried (bmc_enroll.c). */
enum MHD_Result handle_agent_bmc_enroll(struct request *req)
{
	struct host h;
	json_t *o;
	int rc = bmc_enroll_result(&req->agent, req->json, &h);

	if (rc < 0)
		return respond_error(req, rc);
	o = host_to_json(&h, false);
	host_free(&h);
	return respond_json(req, 200, o);
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

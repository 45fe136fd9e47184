/* The agent endpoints (per-boot agent token; req->agent_host is the token's host). */
#include "http.h"

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

enum MHD_Result handle_agent_plan(struct request *req)
{
	json_t *plan;
	int rc = boot_plan(req->agent_host, &plan);

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

/* The webhook endpoints under /api/v1/webhooks (admin role only): thin glue over webhooks.c. */
#include <errno.h>
#include <stdlib.h>

#include "http.h"

enum MHD_Result handle_webhooks_list(struct request *req)
{
	json_t *out = NULL;
	int rc = webhooks_list(&out);

	return respond_result(req, 200, rc, out);
}

/* POST /api/v1/webhooks: the answer carries the secret, the only time anemosd shows it. */
enum MHD_Result handle_webhooks_create(struct request *req)
{
	json_t *out = NULL;
	int rc = webhooks_create(req->json, &out);

	return respond_result(req, 201, rc, out);
}

enum MHD_Result handle_webhook_get(struct request *req)
{
	json_t *out = NULL;
	int rc = webhooks_get(req->cap[0], &out);

	return respond_result(req, 200, rc, out);
}

enum MHD_Result handle_webhook_patch(struct request *req)
{
	json_t *out = NULL;
	int rc = webhooks_patch(req->cap[0], req->json, &out);

	return respond_result(req, 200, rc, out);
}

enum MHD_Result handle_webhook_delete(struct request *req)
{
	int rc = webhooks_delete(req->cap[0]);

	return rc < 0 ? respond_error(req, rc) : respond_buffer(req, 204, NULL, "", 0);
}

/* GET /api/v1/webhooks/ID/deliveries[?limit=N]: the newest first, at most 100. */
enum MHD_Result handle_webhook_deliveries(struct request *req)
{
	const char *l = request_arg(req, "limit");
	char *end = NULL;
	long limit = l ? strtol(l, &end, 10) : 20;
	json_t *out = NULL;
	int rc;

	if (l && (*end || limit < 1 || limit > 100))
		return respond_errorf(req, 400, "limit must be a number from 1 to 100");
	rc = webhooks_deliveries(req->cap[0], (int)limit, &out);
	return respond_result(req, 200, rc, out);
}

/* POST /api/v1/webhooks/ID/test: a ping sent now; 200 with the delivery, failed or not. */
enum MHD_Result handle_webhook_test(struct request *req)
{
	json_t *out = NULL;
	int rc = webhooks_test(req->cap[0], &out);

	return respond_result(req, 200, rc, out);
}

/* The operator API under /api/v1 (admin token): thin glue over hosts.c and images.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"

static enum MHD_Result respond_host(struct request *req, unsigned status, int rc, struct host *h)
{
	json_t *o;

	if (rc < 0)
		return respond_error(req, rc);
	if ((rc = db_host_load_inventory(h)) < 0) {
		host_free(h);
		return respond_error(req, rc);
	}
	o = host_to_json(h, true);
	host_free(h);
	return respond_json(req, status, o);
}

/* GET /api/v1/meta: the host lifecycle (lib/lifecycle.h) as data, so that clients spell no
 * status or action themselves: the statuses in display order, the next-boot actions, and
 * per status where each operator event leads ("transitions": {"new": {"ready": "ready", ...}},
 * only the moves the table allows and that change something), and the URL machines are told
 * ("public_url": --public-url's, or null: each request's Host). docs/api.md has its shape. */
enum MHD_Result handle_meta(struct request *req)
{
	json_t *statuses = json_array(), *actions = json_array(), *moves = json_object();

	for (int i = 0; i < HOST_STATUS_COUNT; i++) {
		enum host_status s = (enum host_status)i, to;
		enum host_event ev;
		json_t *from = json_object();

		json_array_append_new(statuses, json_pack("{s:s, s:s, s:b, s:b}", "name", host_status_name(s),
							  "help", host_status_help(s),
							  "operator", host_operator_event(s, &ev) == 0,
							  "confirm", host_status_confirm(s)));
		for (int t = 0; t < HOST_STATUS_COUNT; t++)
			if (host_operator_event((enum host_status)t, &ev) == 0 &&
			    host_lifecycle_next(s, ev, &to) == 0 && to != s)
				json_object_set_new(from, host_status_name((enum host_status)t),
						    json_string(host_status_name(to)));
		json_object_set_new(moves, host_status_name(s), from);
	}
	for (int i = 0; i < BOOT_ACTION_COUNT; i++) {
		enum boot_action a = (enum boot_action)i;

		json_array_append_new(actions, json_pack("{s:s, s:s, s:b, s:b, s:b}", "name", boot_action_name(a),
							 "help", boot_action_help(a), "agent", boot_action_runs_agent(a),
							 "image", boot_action_takes_image(a),
							 "network", boot_action_boots_network(a)));
	}
	/* The URL machines are told: --public-url's, or null when each answer names the address
	 * its request came by (its Host); `you`: the caller's token. */
	return respond_json(req, 200, json_pack("{s:o, s:o, s:o, s:{s:s, s:s}, s:s?}", "statuses", statuses,
						"next_boot", actions, "transitions", moves, "you", "name",
						req->admin.name, "role", admin_role_name(req->admin.role), "public_url",
						cfg.public_url_given ? cfg.public_url : NULL));
}

/* A query value that must be a whole number from min to max (absent: dflt); false if not. */
static bool arg_number(struct request *req, const char *key, long long min, long long max, long long dflt,
		       long long *out)
{
	const char *v = request_arg(req, key);
	char *end;

	*out = dflt;
	if (!v)
		return true;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return *v && !*end && !errno && *out >= min && *out <= max;
}

/*
 * The list of every host is streamed: read LIST_PAGE hosts at a time by id, each page
 * formatted when libmicrohttpd has sent the one before. One answer for 100,000 hosts is
 * 50 MB of JSON; built whole, it took over 80 MiB of memory besides. Each host is in the list
 * once, as it was when its page was read; a host enrolled meanwhile is in it if its id is
 * above those already sent.
 */
#define LIST_PAGE 500
struct list_stream {
	struct request *req; /* its bytes counted: libmicrohttpd reads no more after completion */
	char *query;    /* q, or NULL */
	int64_t after;  /* the last host formatted */
	bool more;      /* hosts after it to read */
	bool any;       /* a host was formatted: the next one needs a comma before it */
	char *text;     /* formatted, not yet handed to libmicrohttpd; NULL before the first page */
	size_t len, off;
};

static void list_stream_free(void *cls)
{
	struct list_stream *s = cls;

	free(s->query);
	free(s->text);
	free(s);
}

/* Formats the next page (a page of hosts_list) into s->text; the first opens the object,
 * the last closes it. */
static int list_fill(struct list_stream *s)
{
	bool first = !s->text;
	json_t *page, *h;
	size_t i;
	FILE *f;
	int rc = hosts_list(s->query, s->after, LIST_PAGE, &page);

	if (rc < 0)
		return rc;
	free(s->text);
	s->text = NULL;
	s->len = s->off = 0;
	if (!(f = open_memstream(&s->text, &s->len))) {
		json_decref(page);
		return err_set(-ENOMEM, "out of memory");
	}
	fputs(first ? "{\"hosts\":[" : "", f);
	json_array_foreach(json_object_get(page, "hosts"), i, h) {
		/* one write a host: json_dumpf would write each token through stdio */
		char *one = json_dumps(h, JSON_COMPACT);

		if (one)
			fprintf(f, "%s%s", s->any ? "," : "", one);
		else
			rc = -ENOMEM;
		free(one);
		s->after = json_integer_value(json_object_get(h, "id"));
		s->any = true;
	}
	s->more = json_is_string(json_object_get(page, "next"));
	fputs(s->more ? "" : "]}\n", f);
	json_decref(page);
	rc = ferror(f) ? -ENOMEM : rc;
	if (fclose(f) != 0 || rc < 0) {
		free(s->text);
		s->text = NULL;
		s->len = 0;
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

static ssize_t list_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct list_stream *s = cls;
	size_t n;

	(void)pos;
	if (s->off == s->len) {
		if (!s->more)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (list_fill(s) < 0) {
			log_error("host list: %s; the answer is cut short", err_msg());
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->text + s->off, n);
	s->off += n;
	s->req->bytes += n;
	return (ssize_t)n;
}

/* Every host: the first page read now (a search that does not parse is a 400), the rest as
 * it is sent. */
static enum MHD_Result hosts_list_stream(struct request *req, int64_t after)
{
	struct list_stream *s = calloc(1, sizeof(*s));
	const char *q = request_arg(req, "q");
	struct MHD_Response *r;
	int rc;

	if (!s || (q && !(s->query = strdup(q)))) {
		free(s);
		return respond_error(req, err_set(-ENOMEM, "out of memory"));
	}
	s->after = after;
	s->req = req;
	if ((rc = list_fill(s)) < 0) {
		list_stream_free(s);
		return respond_error(req, rc);
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, list_read, s, list_stream_free);
	if (!r) {
		list_stream_free(s);
		return MHD_NO;
	}
	response_common_headers(r, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return respond_response(req, 200, r, 0);
}

/* GET /api/v1/hosts[?q=TEXT][&limit=N&after=CURSOR]: without limit, every host (streamed);
 * with it, a page and the cursor of the next ("next", null on the last). */
enum MHD_Result handle_hosts_list(struct request *req)
{
	long long limit, after;
	json_t *list;
	int rc;

	if (!arg_number(req, "limit", 1, 1000, 0, &limit))
		return respond_errorf(req, 400, "limit must be a number of hosts from 1 to 1000");
	if (!arg_number(req, "after", 0, INT64_MAX, 0, &after))
		return respond_errorf(req, 400, "after must be the \"next\" of the page before");
	if (limit == 0)
		return hosts_list_stream(req, after);
	rc = hosts_list(request_arg(req, "q"), after, limit, &list);
	return rc < 0 ? respond_error(req, rc) : respond_json(req, 200, list);
}

/* POST /api/v1/hosts: one host (an object), or many at once (an array, all or none). */
enum MHD_Result handle_hosts_create(struct request *req)
{
	struct host h;
	json_t *list;
	int rc;

	if (json_is_array(req->json)) {
		rc = hosts_enroll_many(req->json, &list);
		return rc < 0 ? respond_error(req, rc) : respond_json(req, 201, list);
	}
	return respond_host(req, 201, hosts_enroll(req->json, &h), &h);
}

enum MHD_Result handle_host_get(struct request *req)
{
	struct host h;

	return respond_host(req, 200, hosts_get(req->cap[0], &h), &h);
}

enum MHD_Result handle_host_patch(struct request *req)
{
	struct host h;

	return respond_host(req, 200, hosts_patch(req->cap[0], req->json, &h), &h);
}

enum MHD_Result handle_host_kexec(struct request *req)
{
	json_t *answer = NULL;
	int rc = hosts_kexec(req->cap[0], req->json, &answer);

	return rc < 0 ? respond_error(req, rc) : respond_json(req, 200, answer);
}

enum MHD_Result handle_host_kexec_cancel(struct request *req)
{
	struct host h;

	return respond_host(req, 200, hosts_kexec_cancel(req->cap[0], req->json, &h), &h);
}

enum MHD_Result handle_inventory_adopt(struct request *req)
{
	struct host h;

	return respond_host(req, 200, hosts_adopt(req->json, request_arg(req, "host"), &h), &h);
}

enum MHD_Result handle_host_delete(struct request *req)
{
	int rc = hosts_delete(req->cap[0]);

	return rc < 0 ? respond_error(req, rc) : respond_buffer(req, 204, NULL, "", 0);
}

enum MHD_Result handle_host_events(struct request *req)
{
	const char *l = request_arg(req, "limit");
	char *end = NULL;
	long limit = l ? strtol(l, &end, 10) : 100;
	json_t *events;
	int rc;

	if (l && (*end || limit < 1 || limit > 1000))
		return respond_errorf(req, 400, "limit must be a number from 1 to 1000");
	rc = hosts_events(req->cap[0], (int)limit, &events);
	return rc < 0 ? respond_error(req, rc) : respond_json(req, 200, events);
}

static enum MHD_Result respond_image(struct request *req, int rc, struct image *im)
{
	json_t *o;

	if (rc < 0)
		return respond_error(req, rc);
	o = image_to_json(im);
	image_free(im);
	return respond_json(req, 201, o);
}

enum MHD_Result handle_images_list(struct request *req)
{
	struct image *images;
	json_t *list;
	size_t n;
	int rc = db_image_list(&images, &n);

	if (rc < 0)
		return respond_error(req, rc);
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, image_to_json(&images[i]));
		image_free(&images[i]);
	}
	free(images);
	return respond_json(req, 200, json_pack("{s:o}", "images", list));
}

enum MHD_Result handle_images_create(struct request *req)
{
	struct image im;

	return respond_image(req, images_register(req->json, &im), &im);
}

/* First call of PUT /api/v1/images/NAME: validate and open the destination before a byte of
 * the body is read, so a bad request is refused at once. */
enum MHD_Result handle_image_upload_begin(struct request *req)
{
	int rc = upload_begin(req->cap[0], request_arg(req, "file"), request_arg(req, "format"),
			      request_arg(req, "sha256"), &req->upload);

	return rc < 0 ? respond_error(req, rc) : MHD_YES;
}

/* Last call of the upload: the body has been streamed into req->upload. */
enum MHD_Result handle_image_upload(struct request *req)
{
	struct upload *up = req->upload;
	struct image im;
	int rc;

	req->upload = NULL;
	if (req->upload_rc < 0) {
		upload_abort(up);
		return respond_error(req, req->upload_rc);
	}
	rc = upload_finish(up, &im);
	return respond_image(req, rc, &im);
}

enum MHD_Result handle_image_delete(struct request *req)
{
	int rc = images_delete(req->cap[0]);

	return rc < 0 ? respond_error(req, rc) : respond_buffer(req, 204, NULL, "", 0);
}

/* Admin tokens: listed (never their text), made (the text answered once), revoked. */
enum MHD_Result handle_tokens_list(struct request *req)
{
	json_t *list = json_array();
	int rc = db_admin_token_list(list);

	if (rc < 0) {
		json_decref(list);
		return respond_error(req, rc);
	}
	return respond_json(req, 200, json_pack("{s:o, s:I}", "tokens", list, "yours", (json_int_t)req->admin.id));
}

enum MHD_Result handle_tokens_create(struct request *req)
{
	static const char *const allowed[] = { "name", "expires_in", "role", NULL };
	json_t *ttl = json_object_get(req->json, "expires_in");
	const char *role_name = json_string_value(json_object_get(req->json, "role"));
	enum admin_role role = ROLE_ADMIN;
	char token[128];
	int64_t id;
	int rc;

	if ((rc = fields_check(req->json, allowed, NULL)) < 0 ||
	    (json_object_get(req->json, "role") && (rc = admin_role_parse(role_name, &role)) < 0))
		return respond_error(req, rc);
	if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) <= 0))
		return respond_errorf(req, 400, "expires_in must be a positive number of seconds");
	if (!json_is_string(json_object_get(req->json, "name")))
		return respond_errorf(req, 400, "\"name\" is required (1-64 letters, digits, '.', '_' or '-')");
	rc = token_admin_create(json_string_value(json_object_get(req->json, "name")),
				ttl ? (int64_t)json_integer_value(ttl) : 0, role, token, sizeof(token), &id);
	if (rc < 0)
		return respond_error(req, rc);
	return respond_json(req, 201, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name",
						json_string_value(json_object_get(req->json, "name")), "role",
						admin_role_name(role), "token", token));
}

enum MHD_Result handle_token_delete(struct request *req)
{
	int rc = token_admin_revoke(req->cap[0]);

	return rc < 0 ? respond_error(req, rc) : respond_buffer(req, 204, NULL, "", 0);
}

/* POST /api/v1/hosts/REF/power: queued for a power worker (power.c); 202 at once. */
enum MHD_Result handle_host_power(struct request *req)
{
	json_t *out;
	int rc = power_request(req->cap[0], req->json, req->admin.id, &out);

	return rc < 0 ? respond_error(req, rc) : respond_json(req, 202, out);
}

/* Discovery rules (rules.c): read by any admin token, changed by an admin's only (route_role). */

enum MHD_Result handle_rules_list(struct request *req)
{
	json_t *o = NULL;
	int rc = rules_list(&o);

	return respond_result(req, 200, rc, o);
}

enum MHD_Result handle_rules_create(struct request *req)
{
	json_t *o = NULL;
	int rc = rules_create(req->json, &o);

	return respond_result(req, 201, rc, o);
}

/* POST /api/v1/rules/test: the query in the body ({"query": ...}) or in ?q=. */
enum MHD_Result handle_rules_test(struct request *req)
{
	static const char *const allowed[] = { "query", NULL };
	const char *q = request_arg(req, "q");
	json_t *o = NULL, *v = json_object_get(req->json, "query");
	int rc = req->json ? fields_check(req->json, allowed, NULL) : 0;

	if (rc < 0)
		return respond_error(req, rc);
	if (v && !json_is_string(v))
		return respond_errorf(req, 400, "\"query\" must be a string (a search)");
	if (v && q)
		return respond_errorf(req, 400, "send the query once: in the body or in ?q=, not both");
	rc = rules_test(v ? json_string_value(v) : q, &o);
	return respond_result(req, 200, rc, o);
}

enum MHD_Result handle_rule_get(struct request *req)
{
	json_t *o = NULL;
	int rc = rules_get(req->cap[0], &o);

	return respond_result(req, 200, rc, o);
}

enum MHD_Result handle_rule_put(struct request *req)
{
	json_t *o = NULL;
	bool created = false;
	int rc = rules_put(req->cap[0], req->json, &created, &o);

	return respond_result(req, created ? 201 : 200, rc, o);
}

enum MHD_Result handle_rule_patch(struct request *req)
{
	json_t *o = NULL;
	int rc = rules_patch(req->cap[0], req->json, &o);

	return respond_result(req, 200, rc, o);
}

enum MHD_Result handle_rule_delete(struct request *req)
{
	int rc = rules_delete(req->cap[0]);

	return rc < 0 ? respond_error(req, rc) : respond_buffer(req, 204, NULL, "", 0);
}

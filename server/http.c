/*
 * The libmicrohttpd daemon and the request cycle: route, authenticate, collect the body
 * within its limit, call the handler, and log one line per request when it completes.
 * Handlers stay thin: they validate and call the operations of hosts.c, boot.c, images.c.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

#define RETRY_AFTER "5"          /* seconds, with every 503 */

static struct MHD_Daemon *daemon_handle;

static const struct route routes[] = {
	{ "GET", "/healthz", "/healthz", AUTH_NONE, BODY_NONE, handle_healthz },
	{ "GET", "/metrics", "/metrics", AUTH_NONE, BODY_NONE, handle_metrics },
	{ "GET", "/boot.ipxe", "/boot.ipxe", AUTH_NONE, BODY_NONE, handle_boot_entry },
	{ "GET", "/ipxe", "/ipxe", AUTH_NONE, BODY_NONE, handle_ipxe },
	{ "GET", "/boot/*", "/boot/*", AUTH_NONE, BODY_NONE, handle_boot_file },
	{ "GET", "/images/*/*", "/images/*/*", AUTH_NONE, BODY_NONE, handle_image_file },
	{ "GET", "/api/v1/meta", "/api/v1/meta", AUTH_ADMIN, BODY_NONE, handle_meta },
	{ "GET", "/api/v1/hosts", "/api/v1/hosts", AUTH_ADMIN, BODY_NONE, handle_hosts_list },
	{ "POST", "/api/v1/hosts", "/api/v1/hosts", AUTH_ADMIN, BODY_JSON, handle_hosts_create },
	{ "GET", "/api/v1/hosts/*", "/api/v1/hosts/*", AUTH_ADMIN, BODY_NONE, handle_host_get },
	{ "PATCH", "/api/v1/hosts/*", "/api/v1/hosts/*", AUTH_ADMIN, BODY_JSON, handle_host_patch },
	{ "DELETE", "/api/v1/hosts/*", "/api/v1/hosts/*", AUTH_ADMIN, BODY_NONE, handle_host_delete },
	{ "GET", "/api/v1/hosts/*/events", "/api/v1/hosts/*/events", AUTH_ADMIN, BODY_NONE, handle_host_events },
	{ "POST", "/api/v1/hosts/*/kexec", "/api/v1/hosts/*/kexec", AUTH_ADMIN, BODY_JSON, handle_host_kexec },
	{ "POST", "/api/v1/hosts/*/kexec/cancel", "/api/v1/hosts/*/kexec/cancel", AUTH_ADMIN, BODY_JSON, handle_host_kexec_cancel },
	{ "POST", "/api/v1/inventory", "/api/v1/inventory", AUTH_ADMIN, BODY_INVENTORY, handle_inventory_adopt },
	{ "GET", "/kexec.sh", "/kexec.sh", AUTH_NONE, BODY_NONE, handle_kexec_script },
	{ "GET", "/api/v1/events/stream", "/api/v1/events/stream", AUTH_ADMIN, BODY_NONE, handle_events_stream },
	{ "GET", "/api/v1/images", "/api/v1/images", AUTH_ADMIN, BODY_NONE, handle_images_list },
	{ "POST", "/api/v1/images", "/api/v1/images", AUTH_ADMIN, BODY_JSON, handle_images_create },
	{ "PUT", "/api/v1/images/*", "/api/v1/images/*", AUTH_ADMIN, BODY_STREAM, handle_image_upload },
	{ "DELETE", "/api/v1/images/*", "/api/v1/images/*", AUTH_ADMIN, BODY_NONE, handle_image_delete },
	{ "POST", "/api/v1/agent/inventory", "/api/v1/agent/inventory", AUTH_AGENT, BODY_INVENTORY, handle_agent_inventory },
	{ "GET", "/api/v1/agent/plan", "/api/v1/agent/plan", AUTH_AGENT, BODY_NONE, handle_agent_plan },
	{ "POST", "/api/v1/agent/events", "/api/v1/agent/events", AUTH_AGENT, BODY_JSON, handle_agent_events },
	{ "POST", "/api/v1/agent/done", "/api/v1/agent/done", AUTH_AGENT, BODY_JSON, handle_agent_done },
	{ "POST", "/api/v1/agent/phone-home-token", "/api/v1/agent/phone-home-token", AUTH_AGENT, BODY_NONE, handle_agent_phone_home_token },
	{ "POST", "/api/v1/phone-home", "/api/v1/phone-home", AUTH_PHONE_HOME, BODY_JSON, handle_phone_home },
	{ "GET", "/", "/", AUTH_NONE, BODY_NONE, handle_web_index },
	{ "GET", "/ui/*", "/ui/*", AUTH_NONE, BODY_NONE, handle_web_file },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Matches path against a pattern segment by segment; '*' takes one non-empty segment. */
static bool pattern_match(const char *pattern, char *path, const char *cap[MAX_CAPTURES])
{
	const char *p = pattern;
	char *s = path;
	int ncap = 0;

	for (int i = 0; i < MAX_CAPTURES; i++)
		cap[i] = NULL;
	while (*p && *s) {
		if (*p == '*') {
			size_t len = strcspn(s, "/");

			if (len == 0 || ncap == MAX_CAPTURES)
				return false;
			cap[ncap++] = s;
			s += len;
			p++;
		} else if (*p++ != *s++) {
			return false;
		}
	}
	return *p == '\0' && *s == '\0';
}

/* Finds the route for method and path. *path_matched tells a 405 from a 404. Captures are
 * NUL-terminated in req->path (a copy) once a route is chosen. */
static const struct route *route_find(struct request *req, bool *path_matched)
{
	const char *cap[MAX_CAPTURES];
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;

	*path_matched = false;
	for (size_t i = 0; i < NROUTES; i++) {
		if (!pattern_match(routes[i].pattern, req->path, cap))
			continue;
		*path_matched = true;
		if (strcmp(routes[i].method, method) != 0)
			continue;
		memcpy(req->cap, cap, sizeof(cap));
		for (int c = 0; c < MAX_CAPTURES; c++)
			if (req->cap[c])
				((char *)req->cap[c])[strcspn(req->cap[c], "/")] = '\0';
		return &routes[i];
	}
	return NULL;
}

/* 405 with an Allow header listing what the path does accept. */
static enum MHD_Result respond_not_allowed(struct request *req)
{
	const char *cap[MAX_CAPTURES];
	char allow[128], *copy = strdup(req->path);
	struct MHD_Response *r;
	size_t o = 0;
	char *msg = NULL;
	int n;

	allow[0] = '\0';
	for (size_t i = 0; copy && i < NROUTES; i++)
		if (pattern_match(routes[i].pattern, copy, cap) && o + 16 < sizeof(allow))
			o += (size_t)snprintf(allow + o, sizeof(allow) - o, "%s%s%s", o ? ", " : "",
					      routes[i].method, strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
	free(copy);
	n = asprintf(&msg, "{\"error\":\"method %s not allowed here; allowed: %s\"}\n", req->method, allow);
	if (n < 0)
		return MHD_NO;
	r = MHD_create_response_from_buffer((size_t)n, msg, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(msg);
		return MHD_NO;
	}
	response_common_headers(r, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return respond_response(req, 405, r, (uint64_t)n);
}

void response_common_headers(struct MHD_Response *r, const char *content_type)
{
	if (content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

enum MHD_Result respond_response(struct request *req, unsigned status, struct MHD_Response *r,
				 uint64_t bytes)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", RETRY_AFTER);
	req->status = status;
	req->bytes = strcmp(req->method, "HEAD") == 0 ? 0 : bytes;
	ret = MHD_queue_response(req->conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result respond_buffer(struct request *req, unsigned status, const char *content_type,
			       const void *data, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);

	if (!r)
		return MHD_NO;
	response_common_headers(r, content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return respond_response(req, status, r, len);
}

/* Takes ownership of body; sends it compact, with a final newline. */
enum MHD_Result respond_json(struct request *req, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char *line = NULL;
	struct MHD_Response *r;
	int n;

	json_decref(body);
	n = text ? asprintf(&line, "%s\n", text) : -1;
	free(text);
	if (n < 0)
		return respond_buffer(req, 503, "application/json", "{\"error\":\"out of memory\"}\n", 26);
	r = MHD_create_response_from_buffer((size_t)n, line, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(line);
		return MHD_NO;
	}
	response_common_headers(r, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return respond_response(req, status, r, (uint64_t)n);
}

enum MHD_Result respond_errorf(struct request *req, unsigned status, const char *fmt, ...)
{
	char message[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return respond_json(req, status, json_pack("{s:s}", "error", message));
}

/* The one place where an operation's return code becomes an HTTP status. */
enum MHD_Result respond_error(struct request *req, int rc)
{
	unsigned status;
	const char *msg = err_msg();

	switch (rc) {
	case -EINVAL: status = 400; break;
	case -EPERM: status = 401; break;
	case -EACCES: status = 403; break;
	case -ENOENT: status = 404; break;
	case -EEXIST: case -EBUSY: status = 409; break;
	case -E2BIG: status = 413; break;
	case -EAGAIN: case -EMFILE: case -ENFILE: case -ENOMEM: status = 503; break;
	default: status = 500; break;
	}
	if (status == 500) {
		log_error("%s %s: %s (%s)", req->method, req->path, msg[0] ? msg : "internal error", strerror(-rc));
		msg = "internal error; see the anemosd log";
	} else if (status == 503 && rc != -EAGAIN) {
		log_warn("%s %s: %s (%s)", req->method, req->path, msg[0] ? msg : "out of resources", strerror(-rc));
	}
	return respond_errorf(req, status, "%s", msg[0] ? msg : strerror(-rc));
}

const char *request_arg(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *request_header(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

/* Checks the bearer token the route needs; answers 401/403 itself when it is wrong. */
static int authenticate(struct request *req)
{
	const char *h = request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *token;
	int rc;

	if (req->route->auth == AUTH_NONE)
		return 0;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !*(token = h + 7 + strspn(h + 7, " "))) {
		respond_errorf(req, 401, "%s", req->route->auth == AUTH_ADMIN
			       ? "missing admin token: send \"Authorization: Bearer <token>\" (anemosd token create makes one)"
			       : "missing token: send \"Authorization: Bearer <token>\"");
		return -EPERM;
	}
	if (strlen(token) > 256) {
		respond_errorf(req, 401, "token too long");
		return -EPERM;
	}
	switch (req->route->auth) {
	case AUTH_ADMIN: rc = token_authenticate_admin(token); break;
	case AUTH_AGENT: rc = token_authenticate_agent(token, &req->agent_host, req->agent_mode); break;
	default: rc = token_authenticate_phone_home(token, &req->agent_host); break;
	}
	if (rc < 0) {
		respond_error(req, rc);
		return rc;
	}
	return 0;
}

/* Appends a piece of the request body, refusing to grow past the route's limit. */
static void body_append(struct request *req, const char *data, size_t len)
{
	if (req->body_too_large || req->body_len + len > req->body_limit) {
		req->body_too_large = true;
		return;
	}
	if (req->body_len + len + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 4096;
		char *grown;

		while (cap < req->body_len + len + 1)
			cap *= 2;
		if (!(grown = realloc(req->body, cap))) {
			req->body_too_large = true;
			return;
		}
		req->body = grown;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
}

static enum MHD_Result request_begin(struct request *req)
{
	const char *cl;
	bool path_matched;

	req->route = route_find(req, &path_matched);
	if (!req->route && !path_matched)
		return respond_errorf(req, 404, "no such path: %s", req->path);
	if (!req->route)
		return respond_not_allowed(req);
	if (authenticate(req) < 0)
		return req->status ? MHD_YES : MHD_NO;
	switch (req->route->body) {
	case BODY_NONE:
		req->body_limit = 0;
		break;
	case BODY_JSON:
		req->body_limit = cfg.max_body;
		break;
	case BODY_INVENTORY:
		req->body_limit = cfg.max_inventory_body;
		break;
	case BODY_STREAM:
		return handle_image_upload_begin(req);
	}
	cl = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > req->body_limit)
		return respond_errorf(req, 413, "request body of %s bytes is over the limit of %zu bytes",
				      cl, req->body_limit);
	return MHD_YES;
}

static enum MHD_Result request_dispatch(struct request *req)
{
	json_error_t jerr;

	if (req->route->body == BODY_STREAM)
		return req->route->handler(req);
	if (req->body_too_large)
		return respond_errorf(req, 413, "request body over the limit of %zu bytes", req->body_limit);
	if (req->route->body != BODY_NONE) {
		if (!req->body_len)
			return respond_errorf(req, 400, "a JSON body is required");
		req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!req->json && json_error_code(&jerr) == json_error_out_of_memory)
			return respond_error(req, err_set(-ENOMEM, "out of memory parsing the body; try again later"));
		if (!req->json)
			return respond_errorf(req, 400, "malformed JSON at line %d, column %d: %s",
					      jerr.line, jerr.column, jerr.text);
	}
	err_clear();
	return req->route->handler(req);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct request *req = *req_cls;

	(void)cls;
	(void)version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		req->conn = conn;
		req->method = method;
		req->path = strdup(url);
		*req_cls = req;
		if (!req->path)
			return MHD_NO;
		err_clear();
		return request_begin(req);
	}
	if (req->status) { /* answered already (an early error): drop what is still coming */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (req->route->body == BODY_STREAM) {
			if (req->upload_rc == 0)
				req->upload_rc = upload_write(req->upload, upload_data, *upload_data_size);
		} else {
			body_append(req, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return request_dispatch(req);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct request *req = *req_cls;
	struct timespec end;
	long long usec;

	(void)cls;
	(void)conn;
	if (!req)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	usec = (end.tv_sec - req->start.tv_sec) * 1000000LL + (end.tv_nsec - req->start.tv_nsec) / 1000;
	/* The path is logged without its query string: nothing secret travels in either, and
	 * tokens only ever travel in the Authorization header, which is never logged. */
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_info("%s %s %u %llu %lldus", req->method, req->path, req->status,
			 (unsigned long long)req->bytes, usec);
	else
		log_info("%s %s %u %llu %lldus aborted (%d)", req->method, req->path, req->status,
			 (unsigned long long)req->bytes, usec, (int)toe);
	metrics_request(req->route ? req->route->label : "other", req->status, req->bytes);
	upload_abort(req->upload);
	json_decref(req->json);
	free(req->body);
	free(req->path);
	free(req);
	*req_cls = NULL;
}

/* Percent-decoding of paths and query values. Unlike the default it never produces a NUL
 * (which would cut a name short and hide what follows): %00 becomes DEL, a byte that no
 * name, MAC or identifier accepts, so such a request fails validation instead. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *out = s;

	(void)cls;
	(void)conn;
	for (const char *in = s; *in; in++) {
		int hi, lo;

		if (*in == '%' && in[1] && in[2] &&
		    (hi = (in[1] >= '0' && in[1] <= '9') ? in[1] - '0'
			  : ((in[1] | 0x20) >= 'a' && (in[1] | 0x20) <= 'f') ? (in[1] | 0x20) - 'a' + 10 : -1) >= 0 &&
		    (lo = (in[2] >= '0' && in[2] <= '9') ? in[2] - '0'
			  : ((in[2] | 0x20) >= 'a' && (in[2] | 0x20) <= 'f') ? (in[2] | 0x20) - 'a' + 10 : -1) >= 0) {
			char c = (char)(hi * 16 + lo);

			*out++ = c ? c : 0x7f;
			in += 2;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t len;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_warn("http: %s", msg);
}

int http_start(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[256];
	const char *port, *colon = strrchr(cfg.listen, ':');
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	size_t hlen;
	int rc;

	if (!colon || colon == cfg.listen || !colon[1])
		return err_set(-EINVAL, "--listen wants ADDR:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
	hlen = (size_t)(colon - cfg.listen);
	if (cfg.listen[0] == '[' && hlen >= 2 && cfg.listen[hlen - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)hlen - 2, cfg.listen + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)hlen, cfg.listen);
	port = colon + 1;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0)
		return err_set(-EINVAL, "--listen %s: %s", cfg.listen, gai_strerror(rc));
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	daemon_handle = MHD_start_daemon(
		flags, 0, NULL, NULL, access_handler, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		MHD_OPTION_THREAD_POOL_SIZE, cfg.threads,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!daemon_handle)
		return err_set(-EADDRINUSE, "cannot listen on %s (in use, or not an address of this host)", cfg.listen);
	return waiters_start();
}

void http_stop(void)
{
	waiters_stop();
	if (daemon_handle)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}

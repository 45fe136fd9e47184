/*
 * The libmicrohttpd daemon and the request cycle: route, authenticate, collect the body
 * within its limit, call the handler, and log one line per request when it completes.
 * Handlers stay thin: they validate and call the operations of hosts.c, boot.c, images.c.
 *
 * What a hostile client can send is bounded here, before any handler runs: connections at
 * once (in all, and from one address), the time to send headers (http_conn.c), requests
 * that wait (http_wait.c), body sizes, JSON depth and size, and paths and query values
 * that are not UTF-8. Running out of descriptors or memory is a 503 with Retry-After.
 *
 * Two listeners share the routes: the plain one (--listen) and, with --listen-tls, an
 * HTTPS one. With both, the plain one serves the boot path only (iPXE, boot and image
 * files, the agent, phone-home, /healthz, /metrics): the dashboard, the operator API and
 * /kexec.sh answer 403 there, naming the HTTPS URL, so an admin token or the script a cloud
 * host runs as root never works over plain HTTP. When the dashboard is served, every
 * request must name this anemosd in its Host header (--public-url, --operator-url or a
 * listen address): a page elsewhere that makes a browser resolve its own name to anemosd
 * (DNS rebinding) gets 421 instead of answers.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "http.h"
#include "log.h"
#include "utf8.h"

/* A request whose body or JSON answer was over BIG_BYTES (a bulk enroll, say) has the heap's
 * free pages given back to the system soon after it completes: glibc keeps what a worker
 * thread's arena grew to, so one such answer would stay in the RSS of an idle anemosd. */
#define BIG_BYTES (1024 * 1024)
#define JSON_MAX_DEPTH 32        /* nesting of arrays and objects in a request body */
#define JSON_MAX_VALUES 65536    /* values in a request body: jansson spends about 40 bytes
				  * of memory per byte of "[0,0,...]", so the count, not the
				  * body's size, bounds what parsing one may cost */
#define RETRY_AFTER "5"          /* seconds, with every 503 */
/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL ciphers otherwise. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define PEM_MAX (1u << 20)       /* bytes of a certificate chain or key file */
#define METRICS_TOKEN_MAX 256    /* bytes of the metrics token */
/* Bytes of each connection's memory pool (libmicrohttpd's default: 32 KiB): the request's
 * line and headers and the I/O buffers. libmicrohttpd zeroes the pool before every request
 * of a kept-alive connection, and every waiting agent holds one: half of the default is ample
 * for the headers of iPXE, agents, curl and browsers (a larger header set is answered 431). */
#define CONNECTION_MEMORY (16 * 1024)
#define MAX_HOST_NAMES 8         /* names a Host header may give (see host_names_init) */

/* A listening daemon; its address is the access handler's closure. */
struct listener {
	struct MHD_Daemon *daemon;
	bool tls;
};
static struct listener plain = { .tls = false }, secure = { .tls = true };
static char *tls_cert, *tls_key;          /* PEM text of the HTTPS listener, until http_stop */
static size_t tls_key_len;
static char metrics_token_hash[SHA256_HEX_LEN + 1]; /* of --metrics-token-file; "" for none */
static char host_names[MAX_HOST_NAMES][256];        /* lower-case, no port */
static size_t nhost_names;
static char host_names_text[600];                   /* "a, b, c", for the 421 message */

static const struct route routes[] = {
	{ "GET", "/healthz", "/healthz", AUTH_NONE, BODY_NONE, handle_healthz, WAIT_NEVER },
	{ "GET", "/metrics", "/metrics", AUTH_METRICS, BODY_NONE, handle_metrics, WAIT_NEVER },
	{ "GET", "/boot.ipxe", "/boot.ipxe", AUTH_NONE, BODY_NONE, handle_boot_entry, WAIT_NEVER },
	{ "GET", "/ipxe", "/ipxe", AUTH_NONE, BODY_NONE, handle_ipxe, WAIT_NEVER },
	{ "GET", "/boot/*", "/boot/*", AUTH_NONE, BODY_NONE, handle_boot_file, WAIT_NEVER },
	{ "GET", "/images/*/*", "/images/*/*", AUTH_NONE, BODY_NONE, handle_image_file, WAIT_NEVER },
	{ "GET", "/api/v1/meta", "/api/v1/meta", AUTH_ADMIN, BODY_NONE, handle_meta, WAIT_NEVER },
	{ "GET", "/api/v1/tokens", "/api/v1/tokens", AUTH_ADMIN, BODY_NONE, handle_tokens_list, WAIT_NEVER },
	{ "POST", "/api/v1/tokens", "/api/v1/tokens", AUTH_ADMIN, BODY_JSON, handle_tokens_create, WAIT_NEVER },
	{ "DELETE", "/api/v1/tokens/*", "/api/v1/tokens/*", AUTH_ADMIN, BODY_NONE, handle_token_delete, WAIT_NEVER },
	{ "GET", "/api/v1/searches", "/api/v1/searches", AUTH_ADMIN, BODY_NONE, handle_searches_list, WAIT_NEVER },
	{ "PUT", "/api/v1/searches/*", "/api/v1/searches/*", AUTH_ADMIN, BODY_JSON, handle_search_put, WAIT_NEVER },
	{ "DELETE", "/api/v1/searches/*", "/api/v1/searches/*", AUTH_ADMIN, BODY_NONE, handle_search_delete, WAIT_NEVER },
	{ "GET", "/api/v1/hosts", "/api/v1/hosts", AUTH_ADMIN, BODY_NONE, handle_hosts_list, WAIT_NEVER },
	{ "POST", "/api/v1/hosts", "/api/v1/hosts", AUTH_ADMIN, BODY_JSON, handle_hosts_create, WAIT_NEVER },
	{ "GET", "/api/v1/hosts/*", "/api/v1/hosts/*", AUTH_ADMIN, BODY_NONE, handle_host_get, WAIT_NEVER },
	{ "PATCH", "/api/v1/hosts/*", "/api/v1/hosts/*", AUTH_ADMIN, BODY_JSON, handle_host_patch, WAIT_NEVER },
	{ "DELETE", "/api/v1/hosts/*", "/api/v1/hosts/*", AUTH_ADMIN, BODY_NONE, handle_host_delete, WAIT_NEVER },
	{ "GET", "/api/v1/hosts/*/events", "/api/v1/hosts/*/events", AUTH_ADMIN, BODY_NONE, handle_host_events, WAIT_NEVER },
	{ "POST", "/api/v1/hosts/*/kexec", "/api/v1/hosts/*/kexec", AUTH_ADMIN, BODY_JSON, handle_host_kexec, WAIT_NEVER },
	{ "POST", "/api/v1/hosts/*/kexec/cancel", "/api/v1/hosts/*/kexec/cancel", AUTH_ADMIN, BODY_JSON, handle_host_kexec_cancel, WAIT_NEVER },
	{ "POST", "/api/v1/hosts/*/power", "/api/v1/hosts/*/power", AUTH_ADMIN, BODY_JSON, handle_host_power, WAIT_NEVER },
	{ "POST", "/api/v1/inventory", "/api/v1/inventory", AUTH_ADMIN, BODY_INVENTORY, handle_inventory_adopt, WAIT_NEVER },
	{ "GET", "/kexec.sh", "/kexec.sh", AUTH_NONE, BODY_NONE, handle_kexec_script, WAIT_NEVER },
	{ "GET", "/api/v1/events/stream", "/api/v1/events/stream", AUTH_ADMIN, BODY_NONE, handle_events_stream, WAIT_ALWAYS },
	{ "GET", "/api/v1/rules", "/api/v1/rules", AUTH_ADMIN, BODY_NONE, handle_rules_list, WAIT_NEVER },
	{ "POST", "/api/v1/rules", "/api/v1/rules", AUTH_ADMIN, BODY_JSON, handle_rules_create, WAIT_NEVER },
	{ "POST", "/api/v1/rules/test", "/api/v1/rules/test", AUTH_ADMIN, BODY_JSON, handle_rules_test, WAIT_NEVER },
	{ "GET", "/api/v1/rules/*", "/api/v1/rules/*", AUTH_ADMIN, BODY_NONE, handle_rule_get, WAIT_NEVER },
	{ "PUT", "/api/v1/rules/*", "/api/v1/rules/*", AUTH_ADMIN, BODY_JSON, handle_rule_put, WAIT_NEVER },
	{ "PATCH", "/api/v1/rules/*", "/api/v1/rules/*", AUTH_ADMIN, BODY_JSON, handle_rule_patch, WAIT_NEVER },
	{ "DELETE", "/api/v1/rules/*", "/api/v1/rules/*", AUTH_ADMIN, BODY_NONE, handle_rule_delete, WAIT_NEVER },
	{ "GET", "/api/v1/webhooks", "/api/v1/webhooks", AUTH_ADMIN, BODY_NONE, handle_webhooks_list, WAIT_NEVER },
	{ "POST", "/api/v1/webhooks", "/api/v1/webhooks", AUTH_ADMIN, BODY_JSON, handle_webhooks_create, WAIT_NEVER },
	{ "GET", "/api/v1/webhooks/*", "/api/v1/webhooks/*", AUTH_ADMIN, BODY_NONE, handle_webhook_get, WAIT_NEVER },
	{ "PATCH", "/api/v1/webhooks/*", "/api/v1/webhooks/*", AUTH_ADMIN, BODY_JSON, handle_webhook_patch, WAIT_NEVER },
	{ "DELETE", "/api/v1/webhooks/*", "/api/v1/webhooks/*", AUTH_ADMIN, BODY_NONE, handle_webhook_delete, WAIT_NEVER },
	{ "GET", "/api/v1/webhooks/*/deliveries", "/api/v1/webhooks/*/deliveries", AUTH_ADMIN, BODY_NONE, handle_webhook_deliveries, WAIT_NEVER },
	{ "POST", "/api/v1/webhooks/*/test", "/api/v1/webhooks/*/test", AUTH_ADMIN, BODY_NONE, handle_webhook_test, WAIT_NEVER },
	{ "GET", "/api/v1/images", "/api/v1/images", AUTH_ADMIN, BODY_NONE, handle_images_list, WAIT_NEVER },
	{ "POST", "/api/v1/images", "/api/v1/images", AUTH_ADMIN, BODY_JSON, handle_images_create, WAIT_NEVER },
	{ "PUT", "/api/v1/images/*", "/api/v1/images/*", AUTH_ADMIN, BODY_STREAM, handle_image_upload, WAIT_NEVER },
	{ "DELETE", "/api/v1/images/*", "/api/v1/images/*", AUTH_ADMIN, BODY_NONE, handle_image_delete, WAIT_NEVER },
	{ "POST", "/api/v1/agent/inventory", "/api/v1/agent/inventory", AUTH_AGENT, BODY_AGENT_INVENTORY, handle_agent_inventory, WAIT_NEVER },
	{ "GET", "/api/v1/agent/plan", "/api/v1/agent/plan", AUTH_AGENT, BODY_NONE, handle_agent_plan, WAIT_IF_ASKED },
	{ "POST", "/api/v1/agent/events", "/api/v1/agent/events", AUTH_AGENT, BODY_JSON, handle_agent_events, WAIT_NEVER },
	{ "POST", "/api/v1/agent/done", "/api/v1/agent/done", AUTH_AGENT, BODY_JSON, handle_agent_done, WAIT_NEVER },
	{ "POST", "/api/v1/agent/bmc-enroll", "/api/v1/agent/bmc-enroll", AUTH_AGENT, BODY_JSON, handle_agent_bmc_enroll, WAIT_NEVER },
	{ "POST", "/api/v1/agent/phone-home-token", "/api/v1/agent/phone-home-token", AUTH_AGENT, BODY_NONE, handle_agent_phone_home_token, WAIT_NEVER },
	{ "POST", "/api/v1/phone-home", "/api/v1/phone-home", AUTH_PHONE_HOME, BODY_JSON, handle_phone_home, WAIT_NEVER },
	{ "GET", "/", "/", AUTH_NONE, BODY_NONE, handle_web_index, WAIT_NEVER },
	{ "GET", "/ui/*", "/ui/*", AUTH_NONE, BODY_NONE, handle_web_file, WAIT_NEVER },
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
	req->big = req->big || n > BIG_BYTES;
	response_common_headers(r, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return respond_response(req, status, r, (uint64_t)n);
}

static bool utf8_valid(const char *s)
{
	return s[utf8_valid_len(s)] == '\0';
}

enum MHD_Result respond_errorf(struct request *req, unsigned status, const char *fmt, ...)
{
	char message[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	/* JSON strings are UTF-8: a message cut short mid-character, or quoting bytes a client
	 * sent, ends before the first byte that is not, instead of failing as a 500. */
	message[utf8_valid_len(message)] = '\0';
	return respond_json(req, status, json_pack("{s:s}", "error", message));
}

enum MHD_Result respond_result(struct request *req, unsigned status, int rc, json_t *body)
{
	if (rc < 0) {
		json_decref(body);
		return respond_error(req, rc);
	}
	return respond_json(req, status, body);
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

/* The client's address as text ("192.0.2.7", "2001:db8::7"; an IPv4-mapped IPv6 address as
 * IPv4), kept in the request; "" when libmicrohttpd does not say. */
const char *request_peer(struct request *req)
{
	const union MHD_ConnectionInfo *info;
	const struct sockaddr *sa;

	if (req->peer[0])
		return req->peer;
	info = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!info || !(sa = info->client_addr))
		return req->peer;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, req->peer, sizeof(req->peer));
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], req->peer, sizeof(req->peer));
		else
			inet_ntop(AF_INET6, a, req->peer, sizeof(req->peer));
	}
	return req->peer;
}

/* 0 when token is the metrics token, else -EPERM. The digests are compared, in constant
 * time, so neither the time nor the length of the given token tells anything. */
static int metrics_token_check(const char *token)
{
	char hash[SHA256_HEX_LEN + 1];

	sha256_hex(token, strlen(token), hash);
	if (CRYPTO_memcmp(hash, metrics_token_hash, SHA256_HEX_LEN) != 0)
		return err_set(-EPERM, "wrong metrics token (the one in anemosd's --metrics-token-file)");
	return 0;
}

/* The role an admin token needs for a route: the token endpoints, the changes of discovery
 * rules and the webhook endpoints admin (a webhook's URL may carry a receiver's credentials in
 * its query, and a webhook sends every event out), any other read (a rule's test too: it
 * changes nothing) viewer, any other change operator. */
static enum admin_role route_role(const struct route *route)
{
	if (route->handler == handle_tokens_list || route->handler == handle_tokens_create ||
	    route->handler == handle_token_delete || route->handler == handle_rules_create ||
	    route->handler == handle_rule_put || route->handler == handle_rule_patch ||
	    route->handler == handle_rule_delete || strncmp(route->pattern, "/api/v1/webhooks", 16) == 0)
		return ROLE_ADMIN;
	if (route->handler == handle_rules_test)
		return ROLE_VIEWER;
	return strcmp(route->method, "GET") == 0 ? ROLE_VIEWER : ROLE_OPERATOR;
}

/* 0 when the request's admin token has the role its route needs, else -EACCES (403). */
static int role_check(const struct request *req)
{
	enum admin_role needs = route_role(req->route);

	if (req->admin.role >= needs)
		return 0;
	return err_set(-EACCES, "this admin token's role is %s; %s %s needs %s (anemosd token create --role %s makes one)",
		       admin_role_name(req->admin.role), req->method, req->route->pattern, admin_role_name(needs),
		       admin_role_name(needs));
}

/* Checks the bearer token the route needs; answers 401/403 itself when it is wrong. */
static int authenticate(struct request *req)
{
	const char *h = request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *token;
	int rc;

	if (req->route->auth == AUTH_NONE || (req->route->auth == AUTH_METRICS && !metrics_token_hash[0]))
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
	case AUTH_ADMIN:
		if ((rc = token_authenticate_admin(token, &req->admin)) == 0)
			rc = role_check(req);
		break;
	case AUTH_AGENT:
		rc = token_authenticate_agent(token, request_peer(req), &req->agent);
		req->agent_host = req->agent.host_id;
		snprintf(req->agent_mode, sizeof(req->agent_mode), "%s", req->agent.mode);
		break;
	case AUTH_METRICS: rc = metrics_token_check(token); break;
	default: rc = token_authenticate_phone_home(token, &req->agent_host); break;
	}
	if (rc < 0) {
		respond_error(req, rc);
		return rc;
	}
	return 0;
}

/* Appends a piece of the request body, refusing to grow past the route's limit. */
/* Feeds a piece of a JSON body to the scan; -EINVAL once the body is nested deeper than
 * JSON_MAX_DEPTH or holds more than JSON_MAX_VALUES values. It counts brackets and commas
 * outside strings as the body comes in, so such a body is refused before it is buffered
 * whole and before jansson builds anything; a body that is not JSON at all is left for
 * jansson to describe. */
static int json_scan_feed(struct json_scan *js, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++, js->pos++) {
		if (js->escape) {
			js->escape = false;
			continue;
		}
		if (js->in_string) {
			if (s[i] == '\\')
				js->escape = true;
			else if (s[i] == '"')
				js->in_string = false;
			continue;
		}
		switch (s[i]) {
		case '"':
			js->in_string = true;
			break;
		case '[': case '{':
			if (++js->depth > JSON_MAX_DEPTH)
				return -EINVAL;
			js->values++;
			break;
		case ']': case '}':
			js->depth--;
			break;
		case ',':
			js->values++;
			break;
		case ' ': case '\t': case '\n': case '\r':
			js->spaced = true;
			break;
		}
		if (js->values > JSON_MAX_VALUES)
			return -EINVAL;
	}
	return 0;
}

/* The answer to a body refused as it came in (req->body_rc). */
static enum MHD_Result respond_body_refused(struct request *req)
{
	switch (req->body_rc) {
	case -E2BIG:
		return respond_errorf(req, 413, "request body over the limit of %" PRIu64 " bytes", req->body_limit);
	case -ENOMEM:
		return respond_error(req, err_set(-ENOMEM, "out of memory for the request body; try again later"));
	default:
		if (req->scan.depth > JSON_MAX_DEPTH)
			return respond_errorf(req, 400, "JSON nested deeper than %d levels (at byte %" PRIu64 ")",
					      JSON_MAX_DEPTH, req->scan.pos);
		return respond_errorf(req, 400, "JSON with more than %d values (at byte %" PRIu64 ")",
				      JSON_MAX_VALUES, req->scan.pos);
	}
}

/* Appends a piece of the request body, checking it on the way; sets req->body_rc when the
 * body is to be refused. */
static void body_append(struct request *req, const char *data, size_t len)
{
	if (req->body_len + len > req->body_limit) {
		req->body_rc = -E2BIG;
		return;
	}
	if ((req->body_rc = json_scan_feed(&req->scan, data, len)) < 0)
		return;
	if (req->body_len + len + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 4096;
		char *grown;

		while (cap < req->body_len + len + 1)
			cap *= 2;
		if (!(grown = realloc(req->body, cap))) {
			req->body_rc = -ENOMEM;
			return;
		}
		req->body = grown;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
}

/* MHD_KeyValueIterator: stops at the first query argument that is not UTF-8, naming it in
 * *cls. */
static enum MHD_Result argument_check(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	const char **bad = cls;

	(void)kind;
	if (utf8_valid(key) && (!value || utf8_valid(value)))
		return MHD_YES;
	*bad = key;
	return MHD_NO;
}

/* True when the request may wait for a change (see enum route_wait). */
static bool request_may_wait(struct request *req)
{
	const char *w;

	switch (req->route->wait) {
	case WAIT_ALWAYS:
		return true;
	case WAIT_IF_ASKED:
		w = request_arg(req, "wait");
		return w && strtol(w, NULL, 10) > 0;
	default:
		return false;
	}
}

/* The host of an authority ("name:port", "[v6]:port", "name") into out, lower-cased and
 * without a final dot; false when it names none. */
static bool authority_host(const char *s, size_t len, char out[256])
{
	const char *colon, *bracket;
	size_t n;

	if (len && *s == '[') {
		if (!(bracket = memchr(s, ']', len)))
			return false;
		n = (size_t)(bracket - ++s);
	} else {
		n = (colon = memchr(s, ':', len)) ? (size_t)(colon - s) : len;
	}
	if (n && s[n - 1] == '.')
		n--;
	if (!n || n >= 256)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	return true;
}

static void host_name_add(const char *authority, size_t len)
{
	char name[256];

	if (nhost_names == MAX_HOST_NAMES || !authority_host(authority, len, name) ||
	    !strcmp(name, "0.0.0.0") || !strcmp(name, "::"))
		return;
	for (size_t i = 0; i < nhost_names; i++)
		if (!strcmp(host_names[i], name))
			return;
	memcpy(host_names[nhost_names++], name, strlen(name) + 1);
}

/* Adds the host of url (scheme://[user@]authority[/...]). */
static void host_name_add_url(const char *url)
{
	const char *a = url ? strstr(url, "://") : NULL, *at;
	size_t len;

	if (!a)
		return;
	a += 3;
	len = strcspn(a, "/?#");
	if ((at = memrchr(a, '@', len))) {
		len -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	host_name_add(a, len);
}

/* The names a request may give in Host when the dashboard is served: the hosts of
 * --public-url, --operator-url and the listen addresses (wildcards name nothing), and
 * localhost beside a loopback address (no page elsewhere can make a browser send that). */
static void host_names_init(void)
{
	const char *listens[] = { cfg.listen, cfg.listen_tls };
	size_t n, o = 0;

	nhost_names = 0;
	host_name_add_url(cfg.public_url);
	host_name_add_url(cfg.operator_url);
	for (size_t i = 0; i < 2; i++)
		if (listens[i])
			host_name_add(listens[i], strlen(listens[i]));
	n = nhost_names;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(host_names[i], "127.", 4) || !strcmp(host_names[i], "::1"))
			host_name_add("localhost", 9);
	host_names_text[0] = '\0';
	for (size_t i = 0; i < nhost_names && o < sizeof(host_names_text); i++)
		o += (size_t)snprintf(host_names_text + o, sizeof(host_names_text) - o, "%s%s", i ? ", " : "",
				      host_names[i]);
}

static bool host_allowed(const char *header)
{
	char name[256];

	if (!header || !authority_host(header, strlen(header), name))
		return false;
	for (size_t i = 0; i < nhost_names; i++)
		if (!strcmp(name, host_names[i]))
			return true;
	return false;
}

/* The routes only operators use: with an HTTPS listener, they are served there only. The
 * dashboard's files and the script anemosctl runs as root need no token, but belong here. */
static bool route_for_operators(const struct route *route)
{
	return route->auth == AUTH_ADMIN || route->handler == handle_web_index ||
	       route->handler == handle_web_file || route->handler == handle_kexec_script;
}

static enum MHD_Result request_begin(struct request *req)
{
	const char *cl, *host, *bad = NULL;
	bool path_matched;

	/* Everything a client names ends up in JSON (answers, events, the store), which is UTF-8. */
	if (!utf8_valid(req->path))
		return respond_errorf(req, 400, "the path is not UTF-8");
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, argument_check, &bad);
	if (bad)
		return respond_errorf(req, 400, "query argument '%s' is not UTF-8", bad);
	req->route = route_find(req, &path_matched);
	if (!req->route && !path_matched)
		return respond_errorf(req, 404, "no such path: %s", req->path);
	if (!req->route)
		return respond_not_allowed(req);
	/* Without --public-url the boot path names each request's own Host (urls.c): a machine
	 * behind NAT reaches us by an address that is none of ours, and must be answered. */
	host = request_header(req, MHD_HTTP_HEADER_HOST);
	/* DNS rebinding always brings a DNS name: a Host that is an address (a machine behind
	 * NAT, a wildcard listener's, a monitor on loopback) is answered, and on the boot path
	 * no Host at all (HTTP/1.0 firmware); a DNS name only if it is one of anemosd's. */
	if (cfg.web_dir && (host ? !host_allowed(host) && !url_host_is_address(host)
				 : route_for_operators(req->route)))
		return respond_errorf(req, 421, "Host '%s' is not a name of this anemosd (%s): use one of those, "
				      "or give yours with anemosd --operator-url", host ? host : "", host_names_text);
	if (secure.daemon && !req->tls && route_for_operators(req->route))
		return respond_errorf(req, 403, "the dashboard, the operator API and /kexec.sh are served over "
				      "HTTPS only, at %s", cfg.operator_url);
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
	case BODY_AGENT_INVENTORY:
		req->body_limit = cfg.max_inventory_body;
		break;
	case BODY_STREAM:
		req->body_limit = cfg.max_image_size;
		break;
	}
	cl = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > req->body_limit)
		return respond_errorf(req, 413, "request body of %s bytes is over the limit of %" PRIu64 " bytes%s",
				      cl, req->body_limit, req->route->body == BODY_STREAM ? " (--max-image-size)" : "");
	if (request_may_wait(req)) {
		if (!wait_place_take())
			return respond_errorf(req, 503, "%u requests are waiting already (--max-waiting); ask again later",
					      cfg.max_waiting);
		req->wait_place = true;
	}
	if (req->route->body == BODY_STREAM)
		return handle_image_upload_begin(req);
	return MHD_YES;
}

static enum MHD_Result request_dispatch(struct request *req)
{
	json_error_t jerr;

	if (req->route->body == BODY_STREAM) {
		if (req->upload_rc < 0) /* the message of the failure, not of what ran since */
			err_set(req->upload_rc, "%s", req->upload_error ? req->upload_error : "");
		return req->route->handler(req);
	}
	if (req->body_rc < 0)
		return respond_body_refused(req);
	if (req->route->body != BODY_NONE) {
		if (!req->body_len)
			return respond_errorf(req, 400, "a JSON body is required");
		/* a compact inventory (an agent's) is stored as sent: the members only stored need
		 * no tree (a spaced one is written out again from its tree, all of it) */
		if (req->route->body == BODY_AGENT_INVENTORY && !req->scan.spaced)
			req->json = inventory_body_parse(req->body, req->body_len, &req->json_rest, &jerr);
		else
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
	enum MHD_Result ret;

	(void)version;
	/* Every call (a resumed long poll too): the URLs this answer names follow its Host. */
	public_url_begin(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
			 ((const struct listener *)cls)->tls);
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		req->conn = conn;
		req->tls = ((const struct listener *)cls)->tls;
		req->method = method;
		req->path = strdup(url);
		*req_cls = req;
		conn_request_begins(conn);
		if (!req->path)
			return MHD_NO;
		err_clear();
		ret = request_begin(req);
		/* A JSON body must arrive whole in six header deadlines (a minute by default):
		 * trickling one byte now and then would renew the idle timeout for good. */
		if (ret == MHD_YES && !req->status && req->route &&
		    req->route->body != BODY_NONE && req->route->body != BODY_STREAM)
			conn_body_deadline(conn);
		return ret;
	}
	if (req->status) { /* answered already (an early error): drop what is still coming */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* Once a body is refused or a stream failed (over --max-image-size, a full disk),
		 * the rest is dropped as it comes: libmicrohttpd can answer only before the body
		 * or after all of it. A failed upload is removed at once. */
		if (req->route->body != BODY_STREAM) {
			if (!req->body_rc)
				body_append(req, upload_data, *upload_data_size);
		} else if (!req->upload_rc &&
			   (req->upload_rc = upload_write(req->upload, upload_data, *upload_data_size)) < 0) {
			req->upload_error = strdup(err_msg());
			upload_abort(req->upload);
			req->upload = NULL;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	conn_request_begins(conn); /* the body is whole: no deadline while it is handled */
	/* The operator's events of this request name its admin token (hosts_actor_set). */
	if (req->route->auth == AUTH_ADMIN)
		hosts_actor_set(req->admin.name[0] ? req->admin.name : "an unnamed admin token");
	ret = request_dispatch(req);
	hosts_actor_set(NULL);
	return ret;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct request *req = *req_cls;
	struct timespec end;
	long long usec;

	(void)cls;
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
	if (req->wait_place)
		wait_place_release();
	conn_request_ends(conn);
	upload_abort(req->upload);
	free(req->upload_error);
	json_decref(req->json);
	free(req->json_rest);
	free(req->body);
	free(req->path);
	if (req->big || req->body_cap > BIG_BYTES)
		conn_heap_trim_soon(); /* the heap's free pages back after a bulk enroll, say */
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

/* Reads the file at path (option names it in messages) into a new NUL-terminated buffer
 * *out of *len bytes, which the caller frees (wiped first when secret): a regular file of at
 * most max bytes, which, when secret, neither its group nor others may open. 0, or a
 * negative errno with err_set. */
static int file_read(const char *option, const char *path, size_t max, bool secret, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), err;
	struct stat st;
	size_t have = 0;
	char *buf;
	ssize_t n;

	if (fd < 0) {
		err = errno;
		return err_set(-err, "%s %s: %s", option, path, strerror(err));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return err_set(-EINVAL, "%s %s is not a regular file of at most %zu bytes", option, path, max);
	}
	if (secret && (st.st_mode & 077)) {
		close(fd);
		return err_set(-EACCES, "%s %s may be read by its group or others (mode %04o): make it mode "
			       "0600, owned by the user anemosd runs as (chmod 600 %s)", option, path,
			       (unsigned)(st.st_mode & 07777), path);
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return err_set(-ENOMEM, "out of memory");
	}
	while (have < (size_t)st.st_size && (n = read(fd, buf + have, (size_t)st.st_size - have)) > 0)
		have += (size_t)n;
	close(fd);
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

/* Reads --metrics-token-file and keeps only the token's digest. */
static int metrics_token_load(void)
{
	char *token;
	size_t len;
	int rc;

	metrics_token_hash[0] = '\0';
	if (!cfg.metrics_token_file)
		return 0;
	if ((rc = file_read("--metrics-token-file", cfg.metrics_token_file, 4096, true, &token, &len)) < 0)
		return rc;
	while (len && isspace((unsigned char)token[len - 1]))
		token[--len] = '\0';
	if (!len || len > METRICS_TOKEN_MAX || strlen(token) != len || strpbrk(token, " \t\r\n")) {
		rc = err_set(-EINVAL, "--metrics-token-file %s: the token must be one word of 1 to %d visible "
			     "characters (e.g. openssl rand -hex 32)", cfg.metrics_token_file, METRICS_TOKEN_MAX);
	} else {
		sha256_hex(token, len, metrics_token_hash);
	}
	OPENSSL_cleanse(token, len);
	free(token);
	return rc;
}

/* Reads the HTTPS listener's certificate and key (kept until http_stop). */
static int tls_files_load(void)
{
	size_t len;
	int rc;

	if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		return err_set(-ENOTSUP, "this libmicrohttpd is built without HTTPS (GnuTLS): --listen-tls cannot work");
	if ((rc = file_read("--tls-cert", cfg.tls_cert_file, PEM_MAX, false, &tls_cert, &len)) < 0 ||
	    (rc = file_read("--tls-key", cfg.tls_key_file, PEM_MAX, true, &tls_key, &tls_key_len)) < 0)
		return rc;
	if (!strstr(tls_cert, "-----BEGIN CERTIFICATE-----"))
		return err_set(-EINVAL, "--tls-cert %s holds no PEM certificate", cfg.tls_cert_file);
	if (!strstr(tls_key, "-----BEGIN ") || !strstr(tls_key, "PRIVATE KEY-----"))
		return err_set(-EINVAL, "--tls-key %s holds no PEM private key", cfg.tls_key_file);
	return 0;
}

/* Starts l's daemon on listen (option names it in messages) with threads workers and at
 * most connections connections; HTTPS with the certificate and key loaded when l->tls. */
static int listener_start(struct listener *l, const char *option, const char *listen, unsigned threads,
			  unsigned connections)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct MHD_OptionItem tls_options[] = {
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct addrinfo *ai = NULL;
	char host[256];
	const char *port, *colon = strrchr(listen, ':');
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME | (l->tls ? MHD_USE_TLS : 0);
	size_t hlen;
	int rc;

	if (!colon || colon == listen || !colon[1])
		return err_set(-EINVAL, "%s wants ADDR:PORT, e.g. 127.0.0.1:8080 or [::1]:8080", option);
	hlen = (size_t)(colon - listen);
	if (listen[0] == '[' && hlen >= 2 && listen[hlen - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)hlen - 2, listen + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)hlen, listen);
	port = colon + 1;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0)
		return err_set(-EINVAL, "%s %s: %s", option, listen, gai_strerror(rc));
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	l->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, access_handler, l,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
		MHD_OPTION_CONNECTION_LIMIT, connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg.max_per_address,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_NOTIFY_CONNECTION, conn_notify, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_ARRAY, l->tls ? tls_options : &tls_options[3],
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!l->daemon && l->tls)
		return err_set(-EADDRINUSE, "cannot serve HTTPS on %s: in use, not an address of this host, or "
			       "the certificate and key were refused (see above)", listen);
	if (!l->daemon)
		return err_set(-EADDRINUSE, "cannot listen on %s (in use, or not an address of this host)", listen);
	return 0;
}

int http_start(void)
{
	/* With HTTPS, it takes a quarter of the connections: operators need few. */
	unsigned tls_connections = !cfg.listen_tls ? 0 : cfg.max_connections / 4 > 8 ? cfg.max_connections / 4 : 8;
	int rc;

	host_names_init();
	if ((rc = metrics_token_load()) < 0)
		return rc;
	if (cfg.listen_tls && ((rc = tls_files_load()) < 0 ||
			       (rc = listener_start(&secure, "--listen-tls", cfg.listen_tls, cfg.tls_threads,
						    tls_connections)) < 0))
		return rc;
	if ((rc = listener_start(&plain, "--listen", cfg.listen, cfg.threads, cfg.max_connections - tls_connections)) < 0 ||
	    (rc = conn_guard_start()) < 0)
		return rc;
	return waiters_start();
}

void http_stop(void)
{
	conn_guard_stop();
	waiters_stop();
	if (plain.daemon)
		MHD_stop_daemon(plain.daemon);
	if (secure.daemon)
		MHD_stop_daemon(secure.daemon);
	plain.daemon = secure.daemon = NULL;
	if (tls_key)
		OPENSSL_cleanse(tls_key, tls_key_len);
	free(tls_key);
	free(tls_cert);
	tls_key = tls_cert = NULL;
}

/*
 * The HTTP layer's own interfaces: the per-request state that libmicrohttpd carries in
 * *req_cls, the route table, and the response helpers every handler uses.
 */
#ifndef ANEMOSD_HTTP_H
#define ANEMOSD_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "anemosd.h"

/* AUTH_METRICS: the --metrics-token-file token when there is one, else none. */
enum route_auth { AUTH_NONE, AUTH_ADMIN, AUTH_AGENT, AUTH_PHONE_HOME, AUTH_METRICS };
/* BODY_INVENTORY: JSON up to --max-inventory-body; BODY_AGENT_INVENTORY the same, parsed by
 * inventory_body_parse (the members anemosd only stores kept as text in json_rest). */
enum route_body { BODY_NONE, BODY_JSON, BODY_INVENTORY, BODY_AGENT_INVENTORY, BODY_STREAM };
/* Whether a request of the route may wait for a change, and so takes a place in the waiting
 * budget (http_wait.c): never, always (an event stream), or when its ?wait= is above 0. */
enum route_wait { WAIT_NEVER, WAIT_ALWAYS, WAIT_IF_ASKED };

struct request;
typedef enum MHD_Result (*handler_fn)(struct request *req);

struct route {
	const char *method;  /* "GET" also answers HEAD */
	const char *pattern; /* '*' matches one path segment, captured in order */
	const char *label;   /* metrics label */
	enum route_auth auth;
	enum route_body body;
	handler_fn handler;
	enum route_wait wait;
};

#define MAX_CAPTURES 2

/* What http.c has seen of a JSON body so far, outside its strings (see json_scan_feed). */
struct json_scan {
	uint64_t pos;         /* bytes scanned */
	unsigned values;      /* values begun: containers and commas */
	int depth;            /* arrays and objects open */
	bool in_string, escape;
	bool spaced;          /* whitespace outside strings: not compact JSON text */
};

struct request {
	struct MHD_Connection *conn;
	bool tls;                    /* it came to the HTTPS listener */
	const struct route *route;
	const char *method;
	char *path;                  /* copy of the decoded path; captures point into it */
	const char *cap[MAX_CAPTURES];
	struct timespec start;
	json_t *json;                /* parsed body of the routes with a JSON body */
	char *json_rest;             /* BODY_AGENT_INVENTORY: the members not in json, as text
				      * (",..."), or NULL; owned */
	char *body;
	size_t body_len, body_cap;
	uint64_t body_limit;         /* bytes: --max-body, --max-inventory-body, --max-image-size */
	int body_rc;                 /* 0, or why the body was refused as it came in: -E2BIG,
				      * -ENOMEM, or -EINVAL (too deep or too many values) */
	struct json_scan scan;
	struct upload *upload;       /* BODY_STREAM: the image being received */
	int upload_rc;               /* first error while streaming, 0 if none */
	char *upload_error;          /* and its message */
	int64_t agent_host;          /* AUTH_AGENT, AUTH_PHONE_HOME: the host the token belongs to */
	char agent_mode[16];         /* AUTH_AGENT: the boot mode the token was issued for */
	struct agent_token agent;    /* AUTH_AGENT: the token itself (its hash, address, served) */
	struct admin_who admin;      /* AUTH_ADMIN: the admin token: id, role, name */
	char peer[64];               /* request_peer's answer, once asked */
	time_t wait_until;           /* a long poll's deadline; 0 before it first waits */
	bool wait_place;             /* holds a place in the waiting budget until it completes */
	unsigned status;             /* what we answered, for the log line and metrics */
	uint64_t bytes;
	bool big;                    /* a body or JSON answer over BIG_BYTES was built in memory */
};

/* http.c: responses. Each queues exactly one response and records status and size. */
enum MHD_Result respond_buffer(struct request *req, unsigned status, const char *content_type,
			       const void *data, size_t len);
enum MHD_Result respond_json(struct request *req, unsigned status, json_t *body);
enum MHD_Result respond_error(struct request *req, int rc);
/* An operation's outcome: respond_error(rc) when rc < 0 (body, if any, released), else
 * respond_json(status, body). Call it after the operation, not with it as an argument (C
 * leaves the order of arguments' evaluation open). */
enum MHD_Result respond_result(struct request *req, unsigned status, int rc, json_t *body);
enum MHD_Result respond_errorf(struct request *req, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum MHD_Result respond_response(struct request *req, unsigned status, struct MHD_Response *r,
				 uint64_t bytes);
void response_common_headers(struct MHD_Response *r, const char *content_type);
const char *request_arg(struct request *req, const char *key);
const char *request_header(struct request *req, const char *key);
const char *request_peer(struct request *req);

/* http_boot.c */
enum MHD_Result handle_boot_entry(struct request *req);
enum MHD_Result handle_ipxe(struct request *req);
enum MHD_Result handle_healthz(struct request *req);
enum MHD_Result handle_metrics(struct request *req);

/* http_files.c */
enum MHD_Result handle_boot_file(struct request *req);
enum MHD_Result handle_kexec_script(struct request *req);
enum MHD_Result handle_image_file(struct request *req);
enum MHD_Result handle_web_index(struct request *req);
enum MHD_Result handle_web_file(struct request *req);

/* http_api.c: operator endpoints */
enum MHD_Result handle_meta(struct request *req);
enum MHD_Result handle_tokens_list(struct request *req);
enum MHD_Result handle_tokens_create(struct request *req);
enum MHD_Result handle_token_delete(struct request *req);
enum MHD_Result handle_searches_list(struct request *req);
enum MHD_Result handle_search_put(struct request *req);
enum MHD_Result handle_search_delete(struct request *req);
enum MHD_Result handle_hosts_list(struct request *req);
enum MHD_Result handle_hosts_create(struct request *req);
enum MHD_Result handle_host_get(struct request *req);
enum MHD_Result handle_host_patch(struct request *req);
enum MHD_Result handle_host_delete(struct request *req);
enum MHD_Result handle_host_events(struct request *req);
enum MHD_Result handle_host_kexec(struct request *req);
enum MHD_Result handle_host_kexec_cancel(struct request *req);
enum MHD_Result handle_host_power(struct request *req);
enum MHD_Result handle_inventory_adopt(struct request *req);
enum MHD_Result handle_images_list(struct request *req);
enum MHD_Result handle_images_create(struct request *req);
enum MHD_Result handle_image_upload_begin(struct request *req);
enum MHD_Result handle_image_upload(struct request *req);
enum MHD_Result handle_image_delete(struct request *req);
enum MHD_Result handle_rules_list(struct request *req);
enum MHD_Result handle_rules_create(struct request *req);
enum MHD_Result handle_rules_test(struct request *req);
enum MHD_Result handle_rule_get(struct request *req);
enum MHD_Result handle_rule_put(struct request *req);
enum MHD_Result handle_rule_patch(struct request *req);
enum MHD_Result handle_rule_delete(struct request *req);

/* http_webhooks.c: webhook endpoints (admin role) */
enum MHD_Result handle_webhooks_list(struct request *req);
enum MHD_Result handle_webhooks_create(struct request *req);
enum MHD_Result handle_webhook_get(struct request *req);
enum MHD_Result handle_webhook_patch(struct request *req);
enum MHD_Result handle_webhook_delete(struct request *req);
enum MHD_Result handle_webhook_deliveries(struct request *req);
enum MHD_Result handle_webhook_test(struct request *req);

/* http_agent.c: agent endpoints */
enum MHD_Result handle_agent_inventory(struct request *req);
enum MHD_Result handle_agent_plan(struct request *req);
enum MHD_Result handle_agent_events(struct request *req);
enum MHD_Result handle_agent_bmc_enroll(struct request *req);
enum MHD_Result handle_agent_done(struct request *req);
enum MHD_Result handle_agent_phone_home_token(struct request *req);
enum MHD_Result handle_phone_home(struct request *req);

/* http_events.c: the Server-Sent Events stream of host changes */
enum MHD_Result handle_events_stream(struct request *req);

/* http_wait.c: suspended connections waiting for a change (see the file). */
typedef bool (*wait_ready_fn)(void *cls);
/* Takes one of the cfg.max_waiting places for a request that may wait; false when all are
 * taken (the request is then answered 503 at once). Each true is paired with one release. */
bool wait_place_take(void);
void wait_place_release(void);
int waiters_start(void);
void waiters_stop(void);
bool waiters_stopping(void);
/* Suspends conn until a change after generation `seen` to host `host` (0: to any host)
 * makes ready(cls) true (NULL: any such change), or until deadline. Call from conn's access
 * handler or content reader, after reading `seen` with notify_generation() and then
 * checking what one waits for. Returns false, not suspending, when a change came in
 * between (look again), anemosd is stopping, or there is no memory. */
bool wait_for_change(struct MHD_Connection *conn, uint64_t seen, time_t deadline, int64_t host,
		     wait_ready_fn ready, void *cls);

/* http_conn.c: the header deadline (see the file). */
void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		 enum MHD_ConnectionNotificationCode code);
/* The request on conn has sent its headers: its connection's deadline is off. */
void conn_request_begins(struct MHD_Connection *conn);
/* The request on conn is answered: the next one has cfg.header_timeout from now. */
/* A request with a JSON body: the body must be whole within 6 x --header-timeout. */
void conn_body_deadline(struct MHD_Connection *conn);
void conn_request_ends(struct MHD_Connection *conn);
/* The deadline thread gives the heap's free pages back (malloc_trim) at its next tick, within
 * a second: after a request that held a big body or answer. Not at once: libmicrohttpd frees
 * an answer after the request's completion callback, and a run of such requests trims once. */
void conn_heap_trim_soon(void);
int conn_guard_start(void);
void conn_guard_stop(void);

#endif

/*
 * GET /api/v1/events/stream: Server-Sent Events telling the dashboard which hosts changed
 * (`event: host`, data {"id": N}); it then fetches what it shows. When a reader fell too far
 * behind it gets `event: resync` and reloads everything. A comment line every 15 s keeps
 * proxies from closing an idle stream and lets anemosd notice a client that went away. The
 * stream ends when its admin token is revoked (a revocation wakes every stream) or expires.
 * Between messages the connection is suspended (http_wait.c), holding no worker thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define KEEPALIVE 15 /* seconds */
#define BATCH 64     /* hosts told in one go; more and the reader resyncs */

struct sse_client {
	struct MHD_Connection *conn;
	int64_t admin_id; /* the stream ends once this admin token is revoked or expires */
	uint64_t revocations; /* token_admin_revocations() when the token was last checked */
	time_t checked;       /* and when: an expiry is noticed at the next keepalive */
	uint64_t seen;    /* the last change generation told */
	time_t last_sent;
	char buf[BATCH * 40 + 64];
	size_t len, off;  /* what is formatted and not yet handed to libmicrohttpd */
};

/* Formats what there is to say into s->buf; 0 when there is nothing. */
static size_t stream_fill(struct sse_client *s)
{
	int64_t ids[BATCH];
	int n = notify_since(&s->seen, ids, BATCH);
	size_t o = 0;

	if (n == -ERANGE)
		o = (size_t)snprintf(s->buf, sizeof(s->buf), "event: resync\ndata: {}\n\n");
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(s->buf + o, sizeof(s->buf) - o, "event: host\ndata: {\"id\":%" PRId64 "}\n\n",
				      ids[i]);
	if (!o && time(NULL) - s->last_sent >= KEEPALIVE)
		o = (size_t)snprintf(s->buf, sizeof(s->buf), ": keepalive\n\n");
	s->len = o;
	s->off = 0;
	return o;
}

/* Whether the stream's admin token still stands: read from the store only after a
 * revocation or once a keepalive period, never on every change told. */
static bool token_still_valid(struct sse_client *s)
{
	uint64_t r = token_admin_revocations();
	time_t now = time(NULL);

	if (r == s->revocations && now - s->checked < KEEPALIVE)
		return true;
	s->revocations = r;
	s->checked = now;
	return db_admin_token_valid(s->admin_id, (int64_t)now) != -ENOENT;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse_client *s = cls;
	size_t n;

	(void)pos;
	for (int tries = 0; s->off == s->len && tries < 5; tries++) {
		uint64_t seen = s->seen;

		if (waiters_stopping() || !token_still_valid(s))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (stream_fill(s))
			break;
		if (wait_for_change(s->conn, seen, s->last_sent + KEEPALIVE, 0, NULL, NULL))
			return 0; /* suspended: called again when resumed */
	}
	if (s->off == s->len)
		return 0;
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	s->last_sent = time(NULL);
	return (ssize_t)n;
}

enum MHD_Result handle_events_stream(struct request *req)
{
	struct sse_client *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;

	if (!s)
		return respond_error(req, -ENOMEM);
	s->conn = req->conn;
	s->admin_id = req->admin.id;
	s->revocations = token_admin_revocations();
	s->checked = time(NULL);
	s->seen = notify_generation();
	s->last_sent = time(NULL);
	s->len = (size_t)snprintf(s->buf, sizeof(s->buf), "retry: 3000\n: connected\n\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, free);
	if (!r) {
		free(s);
		return MHD_NO;
	}
	response_common_headers(r, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return respond_response(req, 200, r, 0);
}

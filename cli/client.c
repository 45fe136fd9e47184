/*
 * anemosctl's HTTP client: one libcurl easy handle per request to anemosd, the admin token
 * in an Authorization header, the answer collected in memory and parsed as JSON. Errors
 * from anemosd ({"error": "..."} with a 4xx/5xx status) are reported here, once, in the
 * form "anemosctl: <error> (HTTP <status>)", followed by the next step when the status says
 * what the operator can do about it (a refused token, a host that does not exist). Event
 * streams (text/event-stream) are read as they come, through a libcurl multi handle so that
 * the caller can wait on one with a timeout. An https:// anemosd's certificate is always
 * verified, against --ca (or $ANEMOS_CA) when given, else the system's CAs: what anemosctl
 * fetches includes the script it runs as root on cloud hosts.
 */
#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "anemosctl.h"

#define CALL_TIMEOUT	30L		/* seconds for a whole API call, upload excepted */
#define CONNECT_TIMEOUT	10L		/* seconds to establish a connection */
#define STALL_SPEED	1024L		/* an upload slower than this, in bytes/s, ... */
#define STALL_TIME	60L		/* ... for this many seconds is given up */
#define ANSWER_MAX	(64u << 20)	/* largest answer accepted, in bytes */
#define ANSWER_CHUNK	16384u		/* first allocation for an answer, in bytes */
#define STREAM_SILENCE	45L		/* seconds without a byte after which an event stream
					 * is given up (anemosd sends a keepalive every 15 s) */
#define STREAM_LINE_MAX	4096		/* longest line of an event stream kept, in bytes */
#define STREAM_NAME_MAX	64		/* longest event name kept, in bytes */

/* One request to anemosd and everything it owns. */
struct api_request {
	const struct ctl *ctl;		/* where it goes, and where the URL and token came from */
	const char *path;		/* what it asks for, from "/api/v1"; not owned */
	const char *method;		/* "GET", "POST"...; not owned */
	char *url;			/* ctl->url followed by the path */
	const char *ca;			/* ctl->ca; not owned */
	CURL *curl;
	struct curl_slist *headers;
	char error[CURL_ERROR_SIZE];	/* libcurl's explanation of a failure */
	char *answer;			/* the answer's body */
	size_t length;			/* bytes in @answer */
	size_t room;			/* bytes allocated for @answer */
	int too_large;			/* the answer went past ANSWER_MAX */
};

/* An event stream being read; its lines are taken apart as they arrive. */
struct event_stream {
	struct api_request req;		/* the GET; its answer holds an error's body only */
	CURLM *multi;			/* drives req.curl, so that a wait can time out */
	event_handler *on_event;	/* called for each event, and once when the stream opens */
	void *ctx;			/* for @on_event; not owned */
	int open;			/* a 200 answer's body has begun */
	char line[STREAM_LINE_MAX];	/* the line being received */
	size_t line_len;		/* bytes in @line; a longer line is cut there */
	char name[STREAM_NAME_MAX];	/* the event's name ("event:"), "" until given */
	char *data;			/* its "data:" lines joined by '\n'; owned */
	size_t data_len;		/* bytes in @data */
};

/* A file streamed as a request body. */
struct upload_body {
	FILE *file;			/* read from its current position; not owned */
	uint64_t sent;			/* bytes handed to libcurl so far */
	struct progress progress;
	int read_errno;			/* why reading @file failed, 0 while it did not */
};

/* libcurl write callback: appends a piece of the answer. Returns 0 to abort the transfer. */
static size_t collect_answer(char *data, size_t size, size_t count, void *user)
{
	struct api_request *req = user;
	size_t len = size * count;	/* libcurl promises size == 1 */
	size_t room;
	char *grown;

	if (len > ANSWER_MAX - req->length) {
		req->too_large = 1;
		return 0;
	}
	if (req->length + len > req->room) {
		for (room = req->room ? req->room : ANSWER_CHUNK; room < req->length + len; )
			room *= 2;
		if (!(grown = realloc(req->answer, room)))
			return 0;
		req->answer = grown;
		req->room = room;
	}
	memcpy(req->answer + req->length, data, len);
	req->length += len;
	return len;
}

/* libcurl read callback: the next piece of an upload. */
static size_t read_upload(char *buf, size_t size, size_t count, void *user)
{
	struct upload_body *upload = user;
	size_t len;

	len = fread(buf, 1, size * count, upload->file);
	if (len == 0 && ferror(upload->file)) {
		upload->read_errno = errno ? errno : EIO;
		progress_end(&upload->progress, upload->sent);
		return CURL_READFUNC_ABORT;
	}
	upload->sent += len;
	progress_update(&upload->progress, upload->sent);
	return len;
}

/* Releases everything @req holds; safe on a request whose request_init() failed. */
static void request_free(struct api_request *req)
{
	curl_easy_cleanup(req->curl);
	curl_slist_free_all(req->headers);
	free(req->answer);
	free(req->url);
}

/* Appends the header line made from @fmt to @req. Returns 0 or -ENOMEM (with the message). */
static int __attribute__((format(printf, 2, 3)))
request_header(struct api_request *req, const char *fmt, ...)
{
	struct curl_slist *headers;
	va_list ap;
	char *line;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (len < 0)
		return err_set(-ENOMEM, "out of memory");
	headers = curl_slist_append(req->headers, line);	/* copies @line */
	free(line);
	if (!headers)
		return err_set(-ENOMEM, "out of memory");
	req->headers = headers;
	return 0;
}

/*
 * Prepares @req: @method on ctl->url + @path with the admin token (which only @optional
 * requests may go without), sending a body of @content_type if that is non-NULL,
 * collecting the answer. Call request_free() whatever this returns. Returns 0, -EACCES
 * when there is no token, or -ENOMEM; both with the message (err_set).
 */
static int request_init(struct api_request *req, const struct ctl *ctl, const char *method,
			const char *path, const char *content_type, bool optional)
{
	int rc;

	memset(req, 0, sizeof(*req));
	req->method = method;
	req->ca = ctl->ca;
	req->ctl = ctl;
	req->path = path;
	if (!ctl->token && !optional)
		return err_set(-EACCES, "no admin token: after `make run`, export ANEMOS_TOKEN=$(cat var/admin-token)"
			       " (an installed appliance keeps it in /etc/anemos/admin-token);"
			       " `anemosd token create --data DIR` makes another; --token and $ANEMOS_TOKEN_FILE work too");
	if (asprintf(&req->url, "%s%s", ctl->url, path) < 0) {
		req->url = NULL;
		return err_set(-ENOMEM, "out of memory");
	}
	if ((ctl->token && (rc = request_header(req, "Authorization: Bearer %s", ctl->token)) != 0) ||
	    (rc = request_header(req, "Accept: application/json")) != 0 ||
	    (content_type && (rc = request_header(req, "Content-Type: %s", content_type)) != 0))
		return rc;
	if (!(req->curl = curl_easy_init()) ||
	    curl_easy_setopt(req->curl, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_HTTPHEADER, req->headers) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_USERAGENT, "anemosctl") != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_WRITEFUNCTION, collect_answer) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_WRITEDATA, req) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_ERRORBUFFER, req->error) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(req->curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (ctl->ca && curl_easy_setopt(req->curl, CURLOPT_CAINFO, ctl->ca) != CURLE_OK))
		return err_set(-ENOMEM, "cannot set up a request with libcurl (out of memory?)");
	return 0;
}

/* A transfer that libcurl could not complete with @res: a negative errno, with the message. */
static int report_failure(const struct api_request *req, CURLcode res)
{
	const char *why = req->error[0] ? req->error : curl_easy_strerror(res);

	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		if (!req->ctl->url_origin)
			return err_set(-ECONNREFUSED, "cannot reach anemosd at %s: %s; $ANEMOS_URL is not set, so"
				       " that is the default. Start anemosd with `make run` (it prints its URL and an"
				       " admin token), or point anemosctl at yours: export ANEMOS_URL=http://HOST:PORT"
				       " (or --url)", req->url, why);
		return err_set(-ECONNREFUSED, "cannot reach anemosd at %s (from %s): %s; is it running there? Point"
			       " anemosctl at it with --url or $ANEMOS_URL", req->url, req->ctl->url_origin, why);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(-ETIMEDOUT, "%s %s: %s; check --url or $ANEMOS_URL", req->method, req->url, why);
	case CURLE_PEER_FAILED_VERIFICATION:
		if (req->ca)
			return err_set(-EACCES, "anemosd's certificate at %s is not one the CA in %s signed for that"
				       " name (%s): check --url and --ca (or $ANEMOS_CA)", req->url, req->ca, why);
		return err_set(-EACCES, "cannot verify anemosd's certificate at %s (%s): give the CA that signed it"
			       " with --ca FILE or $ANEMOS_CA", req->url, why);
	case CURLE_SSL_CACERT_BADFILE:
		return err_set(-EACCES, "cannot use the CA file %s: %s", req->ca ? req->ca : "of the system", why);
	case CURLE_SSL_CONNECT_ERROR:
		return err_set(-EPROTO, "no TLS session with %s: %s; is that anemosd's HTTPS port (--listen-tls)?",
			       req->url, why);
	case CURLE_GOT_NOTHING:
		return err_set(-EPROTO, "%s %s: %s; if that is anemosd's HTTPS port (--listen-tls), use an https://"
			       " URL", req->method, req->url, why);
	case CURLE_WRITE_ERROR:
		if (req->too_large)
			return err_set(-ENOMEM, "%s %s: the answer is larger than %u MiB", req->method, req->url,
				       ANSWER_MAX >> 20);
		return err_set(-ENOMEM, "%s %s: out of memory for the answer", req->method, req->url);
	default:
		return err_set(-EIO, "%s %s: %s", req->method, req->url, why);
	}
}

/* What the operator can do about an error status, beyond anemosd's own message. */
static const struct error_hint {
	long status;
	const char *path;	/* the requests it is for: those whose path starts so */
	const char *hint;
} error_hints[] = {
	{ 404, "/api/v1/hosts/", "`anemosctl host list` shows the hosts anemosd knows: a machine is"
	  " there once it network-booted, or after `anemosctl host add MAC`" },
	{ 404, "/api/v1/images/", "`anemosctl image list` shows the images; `anemosctl image add`"
	  " adds one" },
};

/* Adds to the message, on a line of its own, what the operator can do after @req was
 * answered @status, when there is a next step. */
static void add_next_step(const struct api_request *req, long status)
{
	size_t i;

	if (status == 401) {
		/* Where the token came from, and where a good one is. */
		err_set(0, "%s\nthe admin token%s%s was refused; after `make run` it is in var/admin-token"
			" (export ANEMOS_TOKEN=$(cat var/admin-token)), on an installed appliance in"
			" /etc/anemos/admin-token; `anemosd token create --data DIR` makes another", err_msg(),
			req->ctl->token_origin ? " from " : "", req->ctl->token_origin ? req->ctl->token_origin : "");
		return;
	}
	for (i = 0; i < sizeof(error_hints) / sizeof(error_hints[0]); i++)
		if (status == error_hints[i].status &&
		    strncmp(req->path, error_hints[i].path, strlen(error_hints[i].path)) == 0) {
			err_set(0, "%s\n%s", err_msg(), error_hints[i].hint);
			return;
		}
}

/*
 * Interprets the outcome @res of performing @req: on a 2xx answer sets *@reply to the
 * parsed JSON (NULL for an empty answer). Returns 0, or a negative errno (never -EINVAL)
 * with the message (err_set; a next step on a line of its own).
 */
static int request_finish(const struct api_request *req, CURLcode res, json_t **reply)
{
	json_error_t error;
	const char *message;
	json_t *answer = NULL;
	long status = 0;

	*reply = NULL;
	if (res != CURLE_OK)
		return report_failure(req, res);
	if (curl_easy_getinfo(req->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		return err_set(-EPROTO, "%s %s: no HTTP status", req->method, req->url);
	if (req->length > 0)
		answer = json_loadb(req->answer, req->length, 0, &error);
	if (status >= 200 && status < 300) {
		if (req->length > 0 && !answer)
			return err_set(-EPROTO, "%s %s: the answer is not JSON: %s", req->method, req->url, error.text);
		*reply = answer;
		return 0;
	}
	if ((message = json_string_value(json_object_get(answer, "error")))) {
		err_set(0, "%s (HTTP %ld)", message, status);
		add_next_step(req, status);
	} else {
		err_set(0, "%s %s: HTTP %ld without an error message; is --url pointing at anemosd?",
			req->method, req->url, status);
	}
	json_decref(answer);
	return status == 409 ? -EEXIST : -EREMOTEIO;
}

int api_call(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, json_t **reply)
{
	struct api_request req;
	char *text = NULL;
	int rc;

	*reply = NULL;
	if ((rc = request_init(&req, ctl, method, path, body ? "application/json" : NULL, false)) != 0)
		goto out;
	if (body) {
		if (!(text = json_dumps(body, JSON_COMPACT))) {
			rc = err_set(-ENOMEM, "out of memory");
			goto out;
		}
		/* libcurl does not copy POSTFIELDS: @text lives until the transfer is done. */
		if (curl_easy_setopt(req.curl, CURLOPT_POSTFIELDS, text) != CURLE_OK ||
		    curl_easy_setopt(req.curl, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)strlen(text)) != CURLE_OK) {
			rc = err_set(-ENOMEM, "cannot set the request body with libcurl");
			goto out;
		}
	}
	if (curl_easy_setopt(req.curl, CURLOPT_TIMEOUT, CALL_TIMEOUT) != CURLE_OK) {
		rc = err_set(-ENOMEM, "cannot set a timeout with libcurl");
		goto out;
	}
	rc = request_finish(&req, curl_easy_perform(req.curl), reply);
out:
	request_free(&req);
	free(text);
	return rc;
}

int api_get_text(const struct ctl *ctl, const char *path, char **text)
{
	struct api_request req;
	CURLcode res;
	long status = 0;
	int rc;

	*text = NULL;
	if ((rc = request_init(&req, ctl, "GET", path, NULL, true)) != 0)
		goto out;
	if (curl_easy_setopt(req.curl, CURLOPT_TIMEOUT, CALL_TIMEOUT) != CURLE_OK) {
		rc = -ENOMEM; /* without words, as ever */
		err_clear();
		goto out;
	}
	if ((res = curl_easy_perform(req.curl)) != CURLE_OK) {
		rc = report_failure(&req, res);
		goto out;
	}
	curl_easy_getinfo(req.curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		rc = err_set(-EREMOTEIO, "GET %s: HTTP %ld", req.url, status);
		goto out;
	}
	if (!(*text = strndup(req.answer ? req.answer : "", req.length)))
		rc = err_set(-ENOMEM, "out of memory");
out:
	request_free(&req);
	return rc;
}

int api_upload(const struct ctl *ctl, const char *path, FILE *file, uint64_t size,
	       json_t **reply)
{
	struct upload_body upload = { .file = file, .sent = 0 };
	struct api_request req;
	CURLcode res;
	int rc;

	*reply = NULL;
	if ((rc = request_init(&req, ctl, "PUT", path, "application/octet-stream", false)) != 0)
		goto out;
	if (curl_easy_setopt(req.curl, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_READFUNCTION, read_upload) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_READDATA, &upload) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_LOW_SPEED_LIMIT, STALL_SPEED) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_LOW_SPEED_TIME, STALL_TIME) != CURLE_OK) {
		rc = err_set(-ENOMEM, "cannot set up the upload with libcurl");
		goto out;
	}
	progress_start(&upload.progress, "uploading", size);
	res = curl_easy_perform(req.curl);
	progress_end(&upload.progress, upload.sent);
	rc = request_finish(&req, res, reply);
	if (rc < 0 && upload.read_errno) /* what read_upload met, said first */
		err_set(rc, "reading the image file: %s\n%s", strerror(upload.read_errno), err_msg());
out:
	request_free(&req);
	return rc;
}

/* Hands the event gathered in @stream to its handler, and starts the next one. */
static void stream_dispatch(struct event_stream *stream)
{
	if (stream->name[0] || stream->data) {
		stream->on_event(stream->ctx, stream->name[0] ? stream->name : "message",
				 stream->data ? stream->data : "");
	}
	stream->name[0] = '\0';
	free(stream->data);
	stream->data = NULL;
	stream->data_len = 0;
}

/*
 * Takes in one complete line of @stream (without its line break): a field of the event
 * being gathered, a comment, or the empty line that ends the event. Returns 0, or -ENOMEM.
 */
static int stream_line(struct event_stream *stream, const char *line, size_t len)
{
	const char *value;
	char *grown;
	size_t value_len;

	if (len == 0) {
		stream_dispatch(stream);
		return 0;
	}
	if (line[0] == ':')
		return 0;	/* a comment: the keepalive, or "connected" */
	/* "field: value", or a field alone, whose value is empty. */
	value = memchr(line, ':', len);
	value = value ? value + 1 : line + len;
	if (value < line + len && *value == ' ')
		value++;
	value_len = len - (size_t)(value - line);
	if (len >= 6 && memcmp(line, "event:", 6) == 0) {
		snprintf(stream->name, sizeof(stream->name), "%.*s", (int)value_len, value);
	} else if (len >= 5 && memcmp(line, "data:", 5) == 0) {
		/* Lines of data are joined by '\n'; one byte more for the NUL. */
		if (!(grown = realloc(stream->data, stream->data_len + value_len + 2)))
			return -ENOMEM;
		stream->data = grown;
		if (stream->data_len > 0)
			stream->data[stream->data_len++] = '\n';
		memcpy(stream->data + stream->data_len, value, value_len);
		stream->data_len += value_len;
		stream->data[stream->data_len] = '\0';
	}
	return 0;	/* "id:", "retry:" and unknown fields change nothing here */
}

/*
 * libcurl write callback of an event stream: an error's body is collected as any answer;
 * a 200's is cut into lines. Returns 0 to abort the transfer.
 */
static size_t stream_write(char *data, size_t size, size_t count, void *user)
{
	struct event_stream *stream = user;
	size_t len = size * count, i;
	long status = 0;

	curl_easy_getinfo(stream->req.curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return collect_answer(data, size, count, &stream->req);
	if (!stream->open) {
		stream->open = 1;
		stream->on_event(stream->ctx, NULL, NULL);
	}
	for (i = 0; i < len; i++) {
		if (data[i] == '\n') {
			if (stream->line_len > 0 && stream->line[stream->line_len - 1] == '\r')
				stream->line_len--;
			if (stream_line(stream, stream->line, stream->line_len) != 0)
				return 0;
			stream->line_len = 0;
		} else if (stream->line_len < sizeof(stream->line)) {
			stream->line[stream->line_len++] = data[i];
		}
	}
	return len;
}

int event_stream_open(const struct ctl *ctl, const char *path, event_handler *on_event, void *ctx,
		      struct event_stream **stream)
{
	struct event_stream *s;
	int rc;

	*stream = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return err_set(-ENOMEM, "out of memory");
	s->on_event = on_event;
	s->ctx = ctx;
	if ((rc = request_init(&s->req, ctl, "GET", path, NULL, false)) != 0)
		goto err;
	if (curl_easy_setopt(s->req.curl, CURLOPT_WRITEFUNCTION, stream_write) != CURLE_OK ||
	    curl_easy_setopt(s->req.curl, CURLOPT_WRITEDATA, s) != CURLE_OK ||
	    curl_easy_setopt(s->req.curl, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->req.curl, CURLOPT_LOW_SPEED_TIME, STREAM_SILENCE) != CURLE_OK ||
	    !(s->multi = curl_multi_init()) ||
	    curl_multi_add_handle(s->multi, s->req.curl) != CURLM_OK) {
		rc = err_set(-ENOMEM, "cannot set up the event stream with libcurl (out of memory?)");
		goto err;
	}
	*stream = s;
	return 0;
err:
	event_stream_free(s);
	return rc;
}

int event_stream_wait(struct event_stream *stream, int timeout_ms)
{
	CURLMsg *msg;
	json_t *ignored = NULL;
	int running = 0, left, rc;

	if (curl_multi_perform(stream->multi, &running) != CURLM_OK ||
	    (running && (curl_multi_poll(stream->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK ||
			 curl_multi_perform(stream->multi, &running) != CURLM_OK)))
		return err_set(-ENOMEM, "GET %s: libcurl failed (out of memory?)", stream->req.url);
	if (running)
		return 0;
	msg = curl_multi_info_read(stream->multi, &left);
	if (stream->open)
		return -EPIPE;
	/* It ended before it began: anemosd unreachable, or refusing with an error. */
	rc = request_finish(&stream->req, msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_RECV_ERROR,
			    &ignored);
	json_decref(ignored);
	return rc != 0 ? rc : -EPIPE;
}

void event_stream_free(struct event_stream *stream)
{
	if (!stream)
		return;
	if (stream->multi) {
		curl_multi_remove_handle(stream->multi, stream->req.curl);
		curl_multi_cleanup(stream->multi);
	}
	request_free(&stream->req);
	free(stream->data);
	free(stream);
}

char *url_escape(const char *text)
{
	char *escaped, *copy;

	/* Since libcurl 7.82 the handle argument is unused. */
	if (!(escaped = curl_easy_escape(NULL, text, 0))) {
		warnx("out of memory");
		return NULL;
	}
	/* Copied so that callers free it like every other string, with free(). */
	copy = strdup(escaped);
	curl_free(escaped);
	if (!copy)
		warnx("out of memory");
	return copy;
}

const json_t *answer_array(const json_t *answer, const char *key)
{
	const json_t *array = json_object_get(answer, key);

	if (!json_is_array(array))
		warnx("anemosd's answer has no \"%s\" list; is --url pointing at anemosd?", key);
	return json_is_array(array) ? array : NULL;
}

int json_set(json_t *object, const char *key, json_t *value)
{
	/* json_object_set_new() releases @value when it fails. */
	if (!value || json_object_set_new(object, key, value) != 0) {
		warnx("out of memory");
		return -ENOMEM;
	}
	return 0;
}

int json_text_new(const char *text, json_t **value)
{
	json_t *unchecked;

	if ((*value = json_string(text)))
		return 0;
	/* json_string() fails on invalid UTF-8 and on lack of memory: tell which. */
	if ((unchecked = json_string_nocheck(text))) {
		json_decref(unchecked);
		warnx("'%s' is not valid UTF-8", text);
		return -EINVAL;
	}
	warnx("out of memory");
	return -ENOMEM;
}

int json_set_text(json_t *object, const char *key, const char *text)
{
	json_t *value;
	int rc;

	if ((rc = json_text_new(text, &value)) != 0)
		return rc;
	return json_set(object, key, value);
}

/*
 * anemosctl's side of the API client (lib/api_client.h does the requests): the admin token
 * and the URL from struct ctl, one attempt per call, and what the operator can do next added
 * to the message of a failure (a refused token, a host that does not exist, an anemosd not
 * reached or whose certificate is not verified: the options that change it). Event streams
 * (text/event-stream) are read as they come, through a libcurl multi handle so that the caller
 * can wait on one with a timeout. An https:// anemosd's certificate is always verified,
 * against --ca (or $ANEMOS_CA) when given, else the system's CAs: what anemosctl fetches
 * includes the script it runs as root on cloud hosts.
 */
#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "anemosctl.h"
#include "api_client.h"

#define CALL_TIMEOUT	30L		/* seconds for a whole API call, upload excepted */
#define STALL_SPEED	1024L		/* an upload slower than this, in bytes/s, ... */
#define STALL_TIME	60L		/* ... for this many seconds is given up */
#define STREAM_SILENCE	45L		/* seconds without a byte after which an event stream
					 * is given up (anemosd sends a keepalive every 15 s) */
#define STREAM_LINE_MAX	4096		/* longest line of an event stream kept, in bytes */
#define STREAM_NAME_MAX	64		/* longest event name kept, in bytes */

/* An event stream being read; its lines are taken apart as they arrive. */
struct event_stream {
	const struct ctl *ctl;		/* for what the operator can do when it fails */
	struct api_client client;	/* where it goes */
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

/* The API client of @ctl: its URL, admin token and CA. Returns 0, or -EACCES with the message
 * when there is no token and the request is not @optional. */
static int ctl_client(const struct ctl *ctl, bool optional, struct api_client *client)
{
	*client = (struct api_client){ .url = ctl->url, .token = ctl->token, .ca = ctl->ca,
				       .user_agent = "anemosctl" };
	if (!ctl->token && !optional)
		return err_set(-EACCES, "no admin token: after `make run`, export ANEMOS_TOKEN=$(cat var/admin-token)"
			       " (an installed appliance keeps it in /etc/anemos/admin-token);"
			       " `anemosd token create --data DIR` makes another; --token and $ANEMOS_TOKEN_FILE work too");
	return 0;
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

/* What the operator can do when a transfer to @ctl's anemosd failed with @res: a hint naming
 * anemosctl's options, or NULL. */
static const char *transfer_hint(const struct ctl *ctl, CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		if (!ctl->url_origin)
			return "; $ANEMOS_URL is not set, so that is the default. Start anemosd with `make run` (it"
			       " prints its URL and an admin token), or point anemosctl at yours: export"
			       " ANEMOS_URL=http://HOST:PORT (or --url)";
		return NULL;	/* said with the origin, below */
	case CURLE_OPERATION_TIMEDOUT:
		return "; check --url or $ANEMOS_URL";
	case CURLE_PEER_FAILED_VERIFICATION:
		return ctl->ca ? ": check --url and --ca (or $ANEMOS_CA)"
			       : ": give the CA that signed it with --ca FILE or $ANEMOS_CA";
	default:
		return NULL;
	}
}

/* Adds to the message of the failed @path of @ctl's, which got @answer, what the operator can
 * do next; returns @rc. */
static int next_step(const struct ctl *ctl, const char *path, const struct api_answer *answer, int rc)
{
	const char *hint;
	size_t i;

	if (answer->status == 0) {
		if ((hint = transfer_hint(ctl, answer->result)))
			return err_set(rc, "%s%s", err_msg(), hint);
		if (rc == -ECONNREFUSED)
			return err_set(rc, "%s; the URL is from %s: is anemosd running there? Point anemosctl at it"
				       " with --url or $ANEMOS_URL", err_msg(), ctl->url_origin);
		return rc;
	}
	if (answer->status == 401)
		/* Where the token came from, and where a good one is. */
		return err_set(rc, "%s\nthe admin token%s%s was refused; after `make run` it is in var/admin-token"
			       " (export ANEMOS_TOKEN=$(cat var/admin-token)), on an installed appliance in"
			       " /etc/anemos/admin-token; `anemosd token create --data DIR` makes another", err_msg(),
			       ctl->token_origin ? " from " : "", ctl->token_origin ? ctl->token_origin : "");
	for (i = 0; i < sizeof(error_hints) / sizeof(error_hints[0]); i++)
		if (answer->status == error_hints[i].status &&
		    strncmp(path, error_hints[i].path, strlen(error_hints[i].path)) == 0)
			return err_set(rc, "%s\n%s", err_msg(), error_hints[i].hint);
	return rc;
}

int api_call(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, json_t **reply)
{
	struct api_answer answer = { 0 };
	struct api_client client;
	int rc;

	*reply = NULL;
	if ((rc = ctl_client(ctl, false, &client)) != 0)
		return rc;
	rc = api_client_call(&client, method, path, body, CALL_TIMEOUT, NULL, &answer);
	api_client_free(&client);
	if (rc < 0)
		return next_step(ctl, path, &answer, rc);
	*reply = answer.json;
	return 0;
}

int api_get_text(const struct ctl *ctl, const char *path, char **text)
{
	struct api_answer answer = { 0 };
	struct api_client client;
	struct api_request req;
	CURLcode res;
	int rc;

	*text = NULL;
	ctl_client(ctl, true, &client);
	if ((rc = api_request_init(&req, &client, "GET", path, NULL)) != 0)
		goto out;
	if (curl_easy_setopt(req.curl, CURLOPT_TIMEOUT, CALL_TIMEOUT) != CURLE_OK) {
		rc = err_set(-ENOMEM, "cannot set a timeout with libcurl");
		goto out;
	}
	if ((res = curl_easy_perform(req.curl)) != CURLE_OK) {
		rc = next_step(ctl, path, &answer, api_request_finish(&req, res, &answer));
		goto out;
	}
	curl_easy_getinfo(req.curl, CURLINFO_RESPONSE_CODE, &answer.status);
	if (answer.status != 200) {
		rc = err_set(-EREMOTEIO, "GET %s: HTTP %ld", req.url, answer.status);
		goto out;
	}
	if (!(*text = strndup(req.answer ? req.answer : "", req.length)))
		rc = err_set(-ENOMEM, "out of memory");
out:
	api_request_free(&req);
	return rc;
}

int api_upload(const struct ctl *ctl, const char *path, FILE *file, uint64_t size,
	       json_t **reply)
{
	struct upload_body upload = { .file = file, .sent = 0 };
	struct api_answer answer = { 0 };
	struct api_client client;
	struct api_request req;
	CURLcode res;
	int rc;

	*reply = NULL;
	if ((rc = ctl_client(ctl, false, &client)) != 0)
		return rc;
	if ((rc = api_request_init(&req, &client, "PUT", path, "application/octet-stream")) != 0)
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
	if ((rc = api_request_finish(&req, res, &answer)) < 0)
		rc = next_step(ctl, path, &answer, rc);
	*reply = answer.json;
	if (rc < 0 && upload.read_errno) /* what read_upload met, said first */
		err_set(rc, "reading the image file: %s\n%s", strerror(upload.read_errno), err_msg());
out:
	api_request_free(&req);
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
		return api_request_collect(data, size, count, &stream->req);
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
	s->ctl = ctl;
	if ((rc = ctl_client(ctl, false, &s->client)) != 0 ||
	    (rc = api_request_init(&s->req, &s->client, "GET", path, NULL)) != 0)
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
	struct api_answer answer = { 0 };
	CURLMsg *msg;
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
	rc = api_request_finish(&stream->req, msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_RECV_ERROR,
				&answer);
	json_decref(answer.json);
	return rc != 0 ? next_step(stream->ctl, stream->req.path, &answer, rc) : -EPIPE;
}

void event_stream_free(struct event_stream *stream)
{
	if (!stream)
		return;
	if (stream->multi) {
		curl_multi_remove_handle(stream->multi, stream->req.curl);
		curl_multi_cleanup(stream->multi);
	}
	api_request_free(&stream->req);
	free(stream->data);
	free(stream);
}

char *url_escape(const char *text)
{
	char *escaped, *copy;

	/* Since libcurl 7.82 the handle argument is unused. */
	if (!(escaped = curl_easy_escape(NULL, text, 0))) {
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	/* Copied so that callers free it like every other string, with free(). */
	copy = strdup(escaped);
	curl_free(escaped);
	if (!copy)
		err_set(-ENOMEM, "out of memory");
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
	if (!value || json_object_set_new(object, key, value) != 0)
		return err_set(-ENOMEM, "out of memory");
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
		return err_set(-EINVAL, "'%s' is not valid UTF-8", text);
	}
	return err_set(-ENOMEM, "out of memory");
}

int json_set_text(json_t *object, const char *key, const char *text)
{
	json_t *value;
	int rc;

	if ((rc = json_text_new(text, &value)) != 0)
		return rc;
	return json_set(object, key, value);
}

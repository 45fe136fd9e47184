/*
 * anemosctl's HTTP client: one libcurl easy handle per request to anemosd, the admin token
 * in an Authorization header, the answer collected in memory and parsed as JSON. Errors
 * from anemosd ({"error": "..."} with a 4xx/5xx status) are reported here, once, in the
 * form "anemosctl: <error> (HTTP <status>)". An https:// anemosd's certificate is always
 * verified, against --ca (or $ANEMOS_CA) when given, else the system's CAs: what anemosctl
 * fetches includes the script it runs as root on cloud hosts.
 */
#include <err.h>
#include <errno.h>
#include <stdarg.h>
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

/* One request to anemosd and everything it owns. */
struct request {
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

/* A file streamed as a request body. */
struct upload {
	FILE *file;			/* read from its current position; not owned */
	uint64_t sent;			/* bytes handed to libcurl so far */
	struct progress progress;
};

/* libcurl write callback: appends a piece of the answer. Returns 0 to abort the transfer. */
static size_t collect_answer(char *data, size_t size, size_t count, void *user)
{
	struct request *req = user;
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
	struct upload *upload = user;
	size_t len;

	len = fread(buf, 1, size * count, upload->file);
	if (len == 0 && ferror(upload->file)) {
		progress_end(&upload->progress, upload->sent);
		warn("reading the image file");
		return CURL_READFUNC_ABORT;
	}
	upload->sent += len;
	progress_update(&upload->progress, upload->sent);
	return len;
}

/* Releases everything @req holds; safe on a request whose request_init() failed. */
static void request_free(struct request *req)
{
	curl_easy_cleanup(req->curl);
	curl_slist_free_all(req->headers);
	free(req->answer);
	free(req->url);
}

/* Appends the header line made from @fmt to @req. Returns 0 or -ENOMEM (reported). */
static int __attribute__((format(printf, 2, 3)))
request_header(struct request *req, const char *fmt, ...)
{
	struct curl_slist *headers;
	va_list ap;
	char *line;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (len < 0) {
		warnx("out of memory");
		return -ENOMEM;
	}
	headers = curl_slist_append(req->headers, line);	/* copies @line */
	free(line);
	if (!headers) {
		warnx("out of memory");
		return -ENOMEM;
	}
	req->headers = headers;
	return 0;
}

/*
 * Prepares @req: @method on ctl->url + @path with the admin token, sending a body of
 * @content_type if that is non-NULL, collecting the answer. Call request_free() whatever
 * this returns. Returns 0, -EACCES when there is no token, or -ENOMEM; all reported.
 */
static int request_init(struct request *req, const struct ctl *ctl, const char *method,
			const char *path, const char *content_type)
{
	int rc;

	memset(req, 0, sizeof(*req));
	req->method = method;
	req->ca = ctl->ca;
	if (!ctl->token) {
		warnx("no admin token: set $ANEMOS_TOKEN (or $ANEMOS_TOKEN_FILE) or pass --token;"
		      " `anemosd token create --data DIR` makes one");
		return -EACCES;
	}
	if (asprintf(&req->url, "%s%s", ctl->url, path) < 0) {
		req->url = NULL;
		warnx("out of memory");
		return -ENOMEM;
	}
	if ((rc = request_header(req, "Authorization: Bearer %s", ctl->token)) != 0 ||
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
	    (ctl->ca && curl_easy_setopt(req->curl, CURLOPT_CAINFO, ctl->ca) != CURLE_OK)) {
		warnx("cannot set up a request with libcurl (out of memory?)");
		return -ENOMEM;
	}
	return 0;
}

/* Reports a transfer that libcurl could not complete with @res. Returns a negative errno. */
static int report_failure(const struct request *req, CURLcode res)
{
	const char *why = req->error[0] ? req->error : curl_easy_strerror(res);

	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		warnx("cannot reach anemosd at %s: %s; is it running there? Point anemosctl at it"
		      " with --url or $ANEMOS_URL", req->url, why);
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		warnx("%s %s: %s; check --url or $ANEMOS_URL", req->method, req->url, why);
		return -ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		if (req->ca)
			warnx("anemosd's certificate at %s is not one the CA in %s signed for that name (%s):"
			      " check --url and --ca (or $ANEMOS_CA)", req->url, req->ca, why);
		else
			warnx("cannot verify anemosd's certificate at %s (%s): give the CA that signed it"
			      " with --ca FILE or $ANEMOS_CA", req->url, why);
		return -EACCES;
	case CURLE_SSL_CACERT_BADFILE:
		warnx("cannot use the CA file %s: %s", req->ca ? req->ca : "of the system", why);
		return -EACCES;
	case CURLE_SSL_CONNECT_ERROR:
		warnx("no TLS session with %s: %s; is that anemosd's HTTPS port (--listen-tls)?", req->url, why);
		return -EPROTO;
	case CURLE_GOT_NOTHING:
		warnx("%s %s: %s; if that is anemosd's HTTPS port (--listen-tls), use an https:// URL",
		      req->method, req->url, why);
		return -EPROTO;
	case CURLE_WRITE_ERROR:
		if (req->too_large)
			warnx("%s %s: the answer is larger than %u MiB", req->method, req->url,
			      ANSWER_MAX >> 20);
		else
			warnx("%s %s: out of memory for the answer", req->method, req->url);
		return -ENOMEM;
	default:
		warnx("%s %s: %s", req->method, req->url, why);
		return -EIO;
	}
}

/*
 * Interprets the outcome @res of performing @req: on a 2xx answer sets *@reply to the
 * parsed JSON (NULL for an empty answer). Returns 0, or a negative errno (never -EINVAL)
 * after reporting the failure.
 */
static int request_finish(const struct request *req, CURLcode res, json_t **reply)
{
	json_error_t error;
	const char *message;
	json_t *answer = NULL;
	long status = 0;

	*reply = NULL;
	if (res != CURLE_OK)
		return report_failure(req, res);
	if (curl_easy_getinfo(req->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
		warnx("%s %s: no HTTP status", req->method, req->url);
		return -EPROTO;
	}
	if (req->length > 0)
		answer = json_loadb(req->answer, req->length, 0, &error);
	if (status >= 200 && status < 300) {
		if (req->length > 0 && !answer) {
			warnx("%s %s: the answer is not JSON: %s", req->method, req->url, error.text);
			return -EPROTO;
		}
		*reply = answer;
		return 0;
	}
	if ((message = json_string_value(json_object_get(answer, "error"))))
		warnx("%s (HTTP %ld)", message, status);
	else
		warnx("%s %s: HTTP %ld without an error message; is --url pointing at anemosd?",
		      req->method, req->url, status);
	json_decref(answer);
	return -EREMOTEIO;
}

int api_call(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, json_t **reply)
{
	struct request req;
	char *text = NULL;
	int rc;

	*reply = NULL;
	if ((rc = request_init(&req, ctl, method, path, body ? "application/json" : NULL)) != 0)
		goto out;
	if (body) {
		if (!(text = json_dumps(body, JSON_COMPACT))) {
			warnx("out of memory");
			rc = -ENOMEM;
			goto out;
		}
		/* libcurl does not copy POSTFIELDS: @text lives until the transfer is done. */
		if (curl_easy_setopt(req.curl, CURLOPT_POSTFIELDS, text) != CURLE_OK ||
		    curl_easy_setopt(req.curl, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)strlen(text)) != CURLE_OK) {
			warnx("cannot set the request body with libcurl");
			rc = -ENOMEM;
			goto out;
		}
	}
	if (curl_easy_setopt(req.curl, CURLOPT_TIMEOUT, CALL_TIMEOUT) != CURLE_OK) {
		warnx("cannot set a timeout with libcurl");
		rc = -ENOMEM;
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
	struct request req;
	CURLcode res;
	long status = 0;
	int rc;

	*text = NULL;
	if ((rc = request_init(&req, ctl, "GET", path, NULL)) != 0)
		goto out;
	if (curl_easy_setopt(req.curl, CURLOPT_TIMEOUT, CALL_TIMEOUT) != CURLE_OK) {
		rc = -ENOMEM;
		goto out;
	}
	if ((res = curl_easy_perform(req.curl)) != CURLE_OK) {
		rc = report_failure(&req, res);
		goto out;
	}
	curl_easy_getinfo(req.curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		warnx("GET %s: HTTP %ld", req.url, status);
		rc = -EREMOTEIO;
		goto out;
	}
	if (!(*text = strndup(req.answer ? req.answer : "", req.length))) {
		warnx("out of memory");
		rc = -ENOMEM;
	}
out:
	request_free(&req);
	return rc;
}

int api_upload(const struct ctl *ctl, const char *path, FILE *file, uint64_t size,
	       json_t **reply)
{
	struct upload upload = { .file = file, .sent = 0 };
	struct request req;
	CURLcode res;
	int rc;

	*reply = NULL;
	if ((rc = request_init(&req, ctl, "PUT", path, "application/octet-stream")) != 0)
		goto out;
	if (curl_easy_setopt(req.curl, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_READFUNCTION, read_upload) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_READDATA, &upload) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_LOW_SPEED_LIMIT, STALL_SPEED) != CURLE_OK ||
	    curl_easy_setopt(req.curl, CURLOPT_LOW_SPEED_TIME, STALL_TIME) != CURLE_OK) {
		warnx("cannot set up the upload with libcurl");
		rc = -ENOMEM;
		goto out;
	}
	progress_start(&upload.progress, "uploading", size);
	res = curl_easy_perform(req.curl);
	progress_end(&upload.progress, upload.sent);
	rc = request_finish(&req, res, reply);
out:
	request_free(&req);
	return rc;
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

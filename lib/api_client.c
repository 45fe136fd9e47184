/*
 * The one client of anemosd's HTTP API (api_client.h): anemosctl's calls, uploads and event
 * streams, and the agent's calls with their retries, all prepared and read here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_client.h"
#include "errors.h"

#define ANSWER_CHUNK	16384u	/* first allocation for an answer, in bytes */
#define DETAIL_MAX	240	/* longest description of a failed attempt, in bytes */

size_t api_request_collect(char *data, size_t size, size_t count, void *user)
{
	struct api_request *req = user;
	size_t len = size * count;	/* libcurl promises size == 1 */
	size_t max = req->client->answer_max ? req->client->answer_max : API_ANSWER_MAX;
	size_t room;
	char *grown;

	if (len > max - req->length) {
		req->too_large = true;
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

/* The options every request of @c's has, on @curl. Returns 0 or -ENOMEM with the message. */
static int request_setup(struct api_request *req, const struct api_client *c)
{
	CURL *curl = req->curl;

	if (curl_easy_setopt(curl, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, req->headers) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, c->user_agent) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, api_request_collect) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, req) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, req->error) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, API_CONNECT_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (c->ca && curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca) != CURLE_OK))
		return err_set(-ENOMEM, "cannot set up a request with libcurl (out of memory?)");
	return 0;
}

/* api_request_init on @curl, the client's own handle (reset first) or NULL for a new one. */
static int request_open(struct api_request *req, const struct api_client *c, CURL *curl, const char *method,
			const char *path, const char *content_type)
{
	int rc;

	memset(req, 0, sizeof(*req));
	req->client = c;
	req->method = method;
	req->path = path;
	if (asprintf(&req->url, "%s%s", c->url, path) < 0) {
		req->url = NULL;
		return err_set(-ENOMEM, "out of memory");
	}
	if ((c->token && (rc = request_header(req, "Authorization: Bearer %s", c->token)) != 0) ||
	    (rc = request_header(req, "Accept: application/json")) != 0 ||
	    (content_type && (rc = request_header(req, "Content-Type: %s", content_type)) != 0))
		return rc;
	if (curl) {
		curl_easy_reset(curl);
		req->borrowed = true;
	} else if (!(curl = curl_easy_init())) {
		return err_set(-ENOMEM, "cannot set up a request with libcurl (out of memory?)");
	}
	req->curl = curl;
	return request_setup(req, c);
}

int api_request_init(struct api_request *req, const struct api_client *c, const char *method,
		     const char *path, const char *content_type)
{
	return request_open(req, c, NULL, method, path, content_type);
}

void api_request_free(struct api_request *req)
{
	if (!req->borrowed)
		curl_easy_cleanup(req->curl);
	curl_slist_free_all(req->headers);
	free(req->answer);
	free(req->url);
	req->curl = NULL;
	req->headers = NULL;
	req->answer = NULL;
	req->url = NULL;
}

/* A transfer that libcurl could not complete with @res: a negative errno, with the message. */
static int transfer_failure(const struct api_request *req, CURLcode res)
{
	const char *why = req->error[0] ? req->error : curl_easy_strerror(res);
	const char *ca = req->client->ca;

	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return err_set(-ECONNREFUSED, "cannot reach anemosd at %s: %s", req->url, why);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(-ETIMEDOUT, "%s %s: %s", req->method, req->url, why);
	case CURLE_PEER_FAILED_VERIFICATION:
		if (ca)
			return err_set(-EACCES, "anemosd's certificate at %s is not one the CA in %s signed for that"
				       " name (%s)", req->url, ca, why);
		return err_set(-EACCES, "cannot verify anemosd's certificate at %s (%s)", req->url, why);
	case CURLE_SSL_CACERT_BADFILE:
		return err_set(-EACCES, "cannot use the CA file %s: %s", ca ? ca : "of the system", why);
	case CURLE_SSL_CONNECT_ERROR:
		return err_set(-EPROTO, "no TLS session with %s: %s; is that anemosd's HTTPS port (--listen-tls)?",
			       req->url, why);
	case CURLE_GOT_NOTHING:
		return err_set(-EPROTO, "%s %s: %s; if that is anemosd's HTTPS port (--listen-tls), use an https://"
			       " URL", req->method, req->url, why);
	case CURLE_WRITE_ERROR:
		if (req->too_large)
			return err_set(-ENOMEM, "%s %s: the answer is larger than %zu MiB", req->method, req->url,
				       (req->client->answer_max ? req->client->answer_max : API_ANSWER_MAX) >> 20);
		return err_set(-ENOMEM, "%s %s: out of memory for the answer", req->method, req->url);
	default:
		return err_set(-EIO, "%s %s: %s", req->method, req->url, why);
	}
}

int api_request_finish(const struct api_request *req, CURLcode res, struct api_answer *answer)
{
	json_error_t error;
	const char *message;
	json_t *body = NULL;

	answer->status = 0;
	answer->result = res;
	answer->json = NULL;
	if (res != CURLE_OK)
		return transfer_failure(req, res);
	if (curl_easy_getinfo(req->curl, CURLINFO_RESPONSE_CODE, &answer->status) != CURLE_OK)
		return err_set(-EPROTO, "%s %s: no HTTP status", req->method, req->url);
	if (req->length > 0)
		body = json_loadb(req->answer, req->length, 0, &error);
	if (answer->status >= 200 && answer->status < 300) {
		if (req->length > 0 && !body)
			return err_set(-EPROTO, "%s %s: the answer is not JSON: %s", req->method, req->url, error.text);
		answer->json = body;
		return 0;
	}
	if ((message = json_string_value(json_object_get(body, "error"))))
		err_set(0, "%s (HTTP %ld)", message, answer->status);
	else
		err_set(0, "%s %s: HTTP %ld without an error message; is that anemosd?", req->method, req->url,
			answer->status);
	json_decref(body);
	return answer->status == 409 ? -EEXIST : -EREMOTEIO;
}

/* What went wrong with the attempt @req that got @answer, for a retry's line: libcurl's words,
 * or "HTTP 503" and anemosd's error. */
static void describe_attempt(const struct api_request *req, const struct api_answer *answer, char *detail)
{
	json_t *body;
	const char *message;

	if (answer->status == 0) {
		snprintf(detail, DETAIL_MAX, "%.230s", req->error[0] ? req->error : curl_easy_strerror(answer->result));
		return;
	}
	body = req->length > 0 ? json_loadb(req->answer, req->length, 0, NULL) : NULL;
	message = json_string_value(json_object_get(body, "error"));
	snprintf(detail, DETAIL_MAX, "HTTP %ld%s%.160s", answer->status, message ? ": " : "", message ? message : "");
	json_decref(body);
}

/* One attempt of api_client_call, on @c's handle. */
static int attempt(struct api_client *c, const char *method, const char *path, const char *body, long timeout,
		   struct api_answer *answer, long *retry_after, char *detail)
{
	struct api_request req;
	curl_off_t after = 0;
	int rc;

	*retry_after = 0;
	if (!c->curl && !(c->curl = curl_easy_init())) {
		answer->status = 0;
		answer->json = NULL;
		return err_set(-ENOMEM, "cannot set up a request with libcurl (out of memory?)");
	}
	if ((rc = request_open(&req, c, c->curl, method, path, body ? "application/json" : NULL)) != 0 ||
	    (body && curl_easy_setopt(req.curl, CURLOPT_POSTFIELDS, body) != CURLE_OK) ||
	    (timeout > 0 && curl_easy_setopt(req.curl, CURLOPT_TIMEOUT, timeout) != CURLE_OK)) {
		api_request_free(&req);
		answer->status = 0;
		answer->json = NULL;
		return rc ? rc : err_set(-ENOMEM, "cannot set up a request with libcurl (out of memory?)");
	}
	rc = api_request_finish(&req, curl_easy_perform(req.curl), answer);
	if (rc < 0)
		describe_attempt(&req, answer, detail);
	if (curl_easy_getinfo(req.curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
		*retry_after = (long)after;
	api_request_free(&req);
	return rc;
}

/* The pause before the next attempt, in milliseconds: @base seconds and up to half as much
 * again at random, never past @give_up. */
static long pause_ms(const struct api_retry *retry, long base)
{
	long ms = base * 1000 + (long)(rand_r(retry->seed) % (unsigned)(base * 500 + 1));
	long left = (long)(retry->give_up - time(NULL)) * 1000;

	return ms < left ? ms : left;
}

static void sleep_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Whether an attempt that failed with @answer is one to try again: no answer, or a 5xx. */
static bool worth_retrying(const struct api_answer *answer)
{
	return answer->status == 0 || answer->status >= 500;
}

int api_client_call(struct api_client *c, const char *method, const char *path, const json_t *body,
		    long timeout, const struct api_retry *retry, struct api_answer *answer)
{
	char *text = NULL, detail[DETAIL_MAX];
	time_t started = time(NULL);
	long pause = 1, base, retry_after, ms;
	int rc;

	answer->status = 0;
	answer->result = CURLE_OK;
	answer->json = NULL;
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return err_set(-ENOMEM, "out of memory");
	while ((rc = attempt(c, method, path, text, timeout, answer, &retry_after, detail)) < 0 &&
	       retry && worth_retrying(answer)) {
		/* A busy anemosd says when to ask again; otherwise the pauses grow. */
		if (answer->status == 503 && retry_after > 0) {
			base = retry_after < retry->retry_after_max ? retry_after : retry->retry_after_max;
		} else {
			base = pause;
			pause = pause * 2 > retry->pause_max ? retry->pause_max : pause * 2;
		}
		if ((ms = pause_ms(retry, base)) <= 0) {
			rc = err_set(-ETIMEDOUT, "%s %s: %s; giving up after %ld s", method, path, detail,
				     (long)(time(NULL) - started));
			break;
		}
		if (retry->on_retry)
			retry->on_retry(retry->ctx, method, path, detail, ms);
		sleep_ms(ms);
	}
	free(text);
	return rc;
}

void api_client_free(struct api_client *c)
{
	curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

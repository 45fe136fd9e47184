/*
 * lib/api_client.h: the one client of anemosd's HTTP API, for anemosctl (the admin token) and
 * anemos-agent (a boot's agent token).
 *
 * A call is libcurl with a bearer token, JSON in and JSON out, an answer of bounded size, and
 * https verified against the given CA or the system's. One that gets no answer, or a 5xx, is
 * tried again with growing, jittered pauses when the caller says until when (struct
 * api_retry); without one it is tried once. Errors follow lib/errors.h: 0 or -errno, with the
 * message set, and nothing printed.
 *
 * Event streams and uploads drive a request's libcurl handle themselves: api_request_init()
 * prepares it as api_client_call() does, and api_request_finish() reads its outcome the same
 * way.
 */
#ifndef ANEMOS_API_CLIENT_H
#define ANEMOS_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define API_ANSWER_MAX		(64u << 20)	/* default largest answer taken, in bytes */
#define API_CONNECT_TIMEOUT	10L		/* seconds to establish a connection */

/* Where the calls go and how they say who they are. */
struct api_client {
	const char *url;	/* anemosd's base URL, without a trailing slash; not owned */
	const char *token;	/* sent as "Authorization: Bearer TOKEN"; NULL: none; not owned */
	const char *ca;		/* PEM file of the CAs that may sign an https anemosd; NULL: the
				 * system's; not owned */
	const char *user_agent;	/* "anemosctl", "anemos-agent"; not owned */
	size_t answer_max;	/* largest answer taken, in bytes; 0: API_ANSWER_MAX */
	CURL *curl;		/* api_client_call's handle, kept between calls so that the
				 * connection is reused; NULL until the first call; owned */
};

/*
 * How api_client_call tries again a call that got no answer or a 5xx, until give_up: after a
 * 503 with Retry-After as long as it says (at most retry_after_max seconds), otherwise after
 * pauses that double from 1 s to pause_max seconds; each with up to half as much again of
 * random jitter, none reaching past give_up.
 */
struct api_retry {
	time_t give_up;		/* a time(): the call gives up when a pause would reach past it */
	long pause_max;		/* seconds */
	long retry_after_max;	/* seconds */
	unsigned *seed;		/* the jitter's rand_r() state; seeded per boot by the caller, so
				 * that machines that booted together do not ask together */
	/* Told before each pause what went wrong ("HTTP 503: busy", libcurl's words) and how
	 * long the pause is; may be NULL. */
	void (*on_retry)(void *ctx, const char *method, const char *path, const char *why, long pause_ms);
	void *ctx;		/* for @on_retry */
};

/* What a call got back. */
struct api_answer {
	long status;		/* the HTTP status; 0 when none came */
	CURLcode result;	/* libcurl's outcome of the last attempt */
	json_t *json;		/* a 2xx answer's body; NULL when it was empty; the caller's to
				 * json_decref() */
};

/* One request and everything it owns, for a caller that drives the transfer itself. */
struct api_request {
	const struct api_client *client;
	const char *method;		/* "GET", "POST"...; not owned */
	const char *path;		/* from "/api/v1" on; not owned */
	char *url;			/* the client's URL followed by @path; owned */
	CURL *curl;			/* owned unless @borrowed */
	bool borrowed;			/* @curl is the client's own handle */
	struct curl_slist *headers;	/* owned */
	char error[CURL_ERROR_SIZE];	/* libcurl's explanation of a failure */
	char *answer;			/* the answer's body, as received (not NUL-terminated); owned */
	size_t length;			/* bytes in @answer */
	size_t room;			/* bytes allocated for @answer */
	bool too_large;			/* the answer went past the client's answer_max */
};

/*
 * Sends @method @path to @c with @body as JSON (NULL: no body), @timeout seconds for each
 * attempt (0: no limit but libcurl's connect timeout), trying again as @retry says (NULL: one
 * attempt). Fills @answer (status, libcurl's result, the JSON of a 2xx answer) whatever it
 * returns.
 * Returns 0 for a 2xx answer; -EEXIST for 409 and -EREMOTEIO for any other error status, the
 * message being anemosd's {"error"} and the status ("no such host (HTTP 404)"); -ETIMEDOUT when
 * @retry gave up ("...; giving up after N s"); -ECONNREFUSED (cannot reach anemosd),
 * -ETIMEDOUT, -EACCES (a certificate not verified), -EPROTO (not HTTP, or not TLS), -ENOMEM or
 * -EIO for an attempt that got no answer; each with the message. Takes no ownership of @body.
 */
int api_client_call(struct api_client *c, const char *method, const char *path, const json_t *body,
		    long timeout, const struct api_retry *retry, struct api_answer *answer);
/* Releases @c's handle; @c may be called again afterwards. */
void api_client_free(struct api_client *c);

/*
 * Prepares @req: @method on @c's URL + @path with its token, headers for a JSON answer and,
 * when @content_type is not NULL, for a body of that type; the answer is collected into
 * @req (api_request_collect is the write function). Call api_request_free() whatever this
 * returns. Returns 0, or -ENOMEM with the message.
 */
int api_request_init(struct api_request *req, const struct api_client *c, const char *method,
		     const char *path, const char *content_type);
/* libcurl write function collecting into the api_request @user; returns 0 (abort) past the
 * client's answer_max or without memory. */
size_t api_request_collect(char *data, size_t size, size_t count, void *user);
/*
 * Reads the outcome @res of performing @req into @answer (status, result, the JSON of a 2xx
 * answer). Returns as api_client_call does, without retrying, and additionally -EPROTO for a
 * 2xx answer that is not JSON.
 */
int api_request_finish(const struct api_request *req, CURLcode res, struct api_answer *answer);
/* Releases everything @req holds; safe on one whose api_request_init() failed. */
void api_request_free(struct api_request *req);

#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

struct buffer {
	char *data;
	size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *user)
{
	struct buffer *b = user;
	size_t len = size * n;
	char *grown;

	if (b->len + len > (8u << 20)) /* no answer of anemosd's is this large */
		return 0;
	if (!(grown = realloc(b->data, b->len + len + 1)))
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

#define PAUSE_MAX 30        /* seconds: the longest pause after errors without Retry-After */
#define RETRY_AFTER_MAX 60  /* seconds: the longest Retry-After honoured */

/* The jitter's state, seeded per boot: machines that booted together must not ask again
 * together (their clocks and PIDs are alike, their kernels' random bytes and tokens are not). */
static unsigned jitter_seed;

static void jitter_init(const struct agent *a)
{
	unsigned seed = 2166136261u;

	if (getrandom(&jitter_seed, sizeof(jitter_seed), GRND_NONBLOCK) == (ssize_t)sizeof(jitter_seed))
		return;
	for (const char *c = a->token; *c; c++)
		seed = (seed ^ (unsigned char)*c) * 16777619u;
	jitter_seed = seed ^ (unsigned)time(NULL) ^ (unsigned)getpid();
}

int client_init(struct agent *a)
{
	jitter_init(a);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(a->curl = curl_easy_init()))
		return -ENOMEM;
	return 0;
}

void client_free(struct agent *a)
{
	curl_easy_cleanup(a->curl);
	curl_global_cleanup();
}

/* One attempt. Returns the HTTP status (with the seconds of its Retry-After in *retry_after,
 * 0 when it has none), or a negative errno with *why set. */
static int attempt(struct agent *a, const char *method, const char *url, const char *body,
		   long timeout, struct buffer *answer, long *retry_after, const char **why)
{
	curl_off_t after = 0;
	struct curl_slist *headers = NULL;
	char auth[200];
	long status = 0;
	CURLcode res;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->token);
	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "anemos-agent");
	if (body)
		curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	res = curl_easy_perform(a->curl);
	curl_slist_free_all(headers);
	if (res != CURLE_OK) {
		*why = curl_easy_strerror(res);
		return -EIO;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(a->curl, CURLINFO_RETRY_AFTER, &after) != CURLE_OK || after < 0)
		after = 0;
	*retry_after = after > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)after;
	return (int)status;
}

/* The pause before the next attempt, in milliseconds: base seconds and up to half as much
 * again at random, never past give_up. */
static long pause_ms(long base, time_t give_up)
{
	long ms = base * 1000 + (long)(rand_r(&jitter_seed) % (unsigned)(base * 500 + 1));
	long left = (long)(give_up - time(NULL)) * 1000;

	return ms < left ? ms : left;
}

static void sleep_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

int client_call_until(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		      time_t give_up, json_t **reply)
{
	char url[1024], *text = NULL;
	time_t started = time(NULL);
	long pause = 1, ms;
	int status;

	if (reply)
		*reply = NULL;
	if (a->deploy)
		return -ENOTCONN;
	snprintf(url, sizeof(url), "%s%s", a->url, path);
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return -ENOMEM;
	for (;;) {
		struct buffer answer = { 0 };
		const char *why = NULL;
		long retry_after = 0, base;
		char detail[240];

		status = attempt(a, method, url, text, timeout, &answer, &retry_after, &why);
		if (status >= 200 && status < 500) {
			if (reply && answer.data)
				*reply = json_loads(answer.data, 0, NULL);
			free(answer.data);
			break;
		}
		if (status < 0) {
			snprintf(detail, sizeof(detail), "%s", why);
		} else {
			json_t *error = answer.data ? json_loads(answer.data, 0, NULL) : NULL;
			const char *message = json_string_value(json_object_get(error, "error"));

			snprintf(detail, sizeof(detail), "HTTP %d%s%.160s", status, message ? ": " : "",
				 message ? message : "");
			json_decref(error);
		}
		free(answer.data);
		/* A busy anemosd says when to ask again; otherwise the pauses grow. */
		if (status == 503 && retry_after > 0) {
			base = retry_after;
		} else {
			base = pause;
			pause = pause * 2 > PAUSE_MAX ? PAUSE_MAX : pause * 2;
		}
		if ((ms = pause_ms(base, give_up)) <= 0) {
			fprintf(stderr, "anemos-agent: %s %s: %s; giving up after %ld s\n", method, path,
				detail, (long)(time(NULL) - started));
			status = -ETIMEDOUT;
			break;
		}
		fprintf(stderr, "anemos-agent: %s %s: %s; retrying in %ld.%ld s\n", method, path, detail,
			ms / 1000, ms % 1000 / 100);
		sleep_ms(ms);
	}
	free(text);
	return status;
}

int client_call(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		json_t **reply)
{
	return client_call_until(a, method, path, body, timeout, time(NULL) + a->retry_for, reply);
}

void client_report(struct agent *a, const char *level, const char *phase, const char *fmt, ...)
{
	char message[1024];
	long saved = a->retry_for;
	json_t *event;
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fprintf(stderr, "anemos-agent: %s\n", message);
	if (a->deploy) {
		deploy_phase(phase, level, message, 0, 0);
		return;
	}
	event = json_pack("{s:s, s:s, s:s}", "phase", phase, "level", level, "message", message);
	if (a->retry_for > 60)
		a->retry_for = 60;
	status = event ? client_call(a, "POST", "/api/v1/agent/events", event, 20, NULL) : -ENOMEM;
	a->retry_for = saved;
	json_decref(event);
	if (status != 201)
		fprintf(stderr, "anemos-agent: could not report that to %s (%d)\n", a->url, status);
}

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "errors.h"

#define PAUSE_MAX 30        /* seconds: the longest pause after errors without Retry-After */
#define RETRY_AFTER_MAX 60  /* seconds: the longest Retry-After honoured */
#define ANSWER_MAX (8u << 20) /* bytes: no answer of anemosd's is this large */

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
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(-ENOMEM, "cannot initialise libcurl");
	a->client = (struct api_client){ .url = a->url, .token = a->token, .user_agent = "anemos-agent",
					 .answer_max = ANSWER_MAX };
	return 0;
}

void client_free(struct agent *a)
{
	api_client_free(&a->client);
	curl_global_cleanup();
}

/* api_retry's on_retry: each pause is said on the console. */
static void say_retry(void *ctx, const char *method, const char *path, const char *why, long ms)
{
	(void)ctx;
	fprintf(stderr, "anemos-agent: %s %s: %s; retrying in %ld.%ld s\n", method, path, why, ms / 1000,
		ms % 1000 / 100);
}

int client_call_until(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		      time_t give_up, long *status, json_t **reply)
{
	struct api_retry retry = { .give_up = give_up, .pause_max = PAUSE_MAX, .retry_after_max = RETRY_AFTER_MAX,
				   .seed = &jitter_seed, .on_retry = say_retry };
	struct api_answer answer;
	int rc;

	if (reply)
		*reply = NULL;
	if (status)
		*status = 0;
	if (a->deploy)
		return err_set(-ENOTCONN, "%s %s: a deploy has no anemosd to ask", method, path);
	rc = api_client_call(&a->client, method, path, body, timeout, &retry, &answer);
	if (status)
		*status = answer.status;
	if (reply)
		*reply = answer.json;
	else
		json_decref(answer.json);
	return rc;
}

int client_call(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		long *status, json_t **reply)
{
	return client_call_until(a, method, path, body, timeout, time(NULL) + a->retry_for, status, reply);
}

int client_event(struct agent *a, json_t *event, long retry_for, bool say)
{
	long saved = a->retry_for;
	char kept[512];
	int rc;

	/* Best effort: whatever failure the caller is in the middle of keeps its words. */
	snprintf(kept, sizeof(kept), "%s", err_msg());
	if (a->retry_for > retry_for)
		a->retry_for = retry_for;
	rc = event ? client_call(a, "POST", "/api/v1/agent/events", event, 20, NULL, NULL)
		   : err_set(-ENOMEM, "out of memory");
	a->retry_for = saved;
	if (rc < 0 && say)
		fprintf(stderr, "anemos-agent: could not report that to %s: %s\n", a->url, err_msg());
	err_set(0, "%s", kept);
	return rc;
}

void client_report(struct agent *a, const char *level, const char *phase, const char *fmt, ...)
{
	char message[1024];
	json_t *event;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fprintf(stderr, "anemos-agent: %s\n", message);
	if (a->deploy) {
		deploy_phase(phase, level, message, 0, 0);
		return;
	}
	event = json_pack("{s:s, s:s, s:s}", "phase", phase, "level", level, "message", message);
	client_event(a, event, 60, true);
	json_decref(event);
}

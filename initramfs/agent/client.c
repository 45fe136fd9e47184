#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int client_init(struct agent *a)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(a->curl = curl_easy_init()))
		return -ENOMEM;
	return 0;
}

void client_free(struct agent *a)
{
	curl_easy_cleanup(a->curl);
	curl_global_cleanup();
}

/* One attempt. Returns the HTTP status, or a negative errno with *why set. */
static int attempt(struct agent *a, const char *method, const char *url, const char *body,
		   long timeout, struct buffer *answer, const char **why)
{
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
	return (int)status;
}

int client_call(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		json_t **reply)
{
	char url[1024], *text = NULL;
	time_t give_up = time(NULL) + a->retry_for;
	unsigned pause = 1;
	int status;

	if (reply)
		*reply = NULL;
	snprintf(url, sizeof(url), "%s%s", a->url, path);
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return -ENOMEM;
	for (;;) {
		struct buffer answer = { 0 };
		const char *why = NULL;
		char detail[160];

		status = attempt(a, method, url, text, timeout, &answer, &why);
		if (status >= 500)
			snprintf(detail, sizeof(detail), "HTTP %d", status);
		else if (status < 0)
			snprintf(detail, sizeof(detail), "%s", why);
		if (status >= 200 && status < 500) {
			if (reply && answer.data)
				*reply = json_loads(answer.data, 0, NULL);
			free(answer.data);
			break;
		}
		free(answer.data);
		if (time(NULL) + pause > give_up) {
			fprintf(stderr, "anemos-agent: %s %s: %s; giving up after %ld s\n", method, path,
				detail, a->retry_for);
			status = -ETIMEDOUT;
			break;
		}
		fprintf(stderr, "anemos-agent: %s %s: %s; retrying in %u s\n", method, path, detail, pause);
		sleep(pause);
		pause = pause * 2 > 30 ? 30 : pause * 2;
	}
	free(text);
	return status;
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
	event = json_pack("{s:s, s:s, s:s}", "phase", phase, "level", level, "message", message);
	if (a->retry_for > 60)
		a->retry_for = 60;
	status = event ? client_call(a, "POST", "/api/v1/agent/events", event, 20, NULL) : -ENOMEM;
	a->retry_for = saved;
	json_decref(event);
	if (status != 201)
		fprintf(stderr, "anemos-agent: could not report that to %s (%d)\n", a->url, status);
}

/*
 * Webhooks: host events POSTed as JSON to operators' URLs, signed with HMAC-SHA256 under a
 * secret of each webhook's own, by one delivery thread of their own (never by an HTTP
 * worker: the request that caused an event only inserted the event's row; only a test ping
 * is sent by the request that asked for it, for at most PING_TIMEOUT seconds).
 *
 * Durable and ordered: each webhook has a cursor into the events table (last_event_id). The
 * thread takes the next event after it that passes the webhook's filter, and in one
 * transaction records a pending delivery of it (with the body it sends, the same bytes on
 * every attempt) and moves the cursor past it. A webhook has at most one pending delivery,
 * so its events go out in order, one at a time; the next is taken once the pending one
 * succeeded or was given up (--webhook-attempts, after exponential backoff: 1 s, 2 s, 4 s ...
 * at most WEBHOOK_BACKOFF_MAX). A kill -9 loses nothing: a pending delivery is sent again
 * after a restart (at least once: one the receiver got just before the kill is sent twice,
 * with the same X-Anemos-Delivery), and events not yet taken are still after the cursor.
 *
 * Bounded: at most WEBHOOK_INFLIGHT_MAX deliveries are in flight at once (libcurl's multi
 * interface, one thread), one per webhook, each bounded by --webhook-timeout; a slow or
 * dead receiver holds its own webhook only. Memory holds the in-flight ones only; the
 * database keeps each webhook's newest 100 deliveries.
 *
 * The secret is sealed with secret.c (context "webhook:ID"); it is shown once, in the answer
 * that creates the webhook, and never in another answer, an event, a log line or /metrics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "anemosd.h"
#include "log.h"
#include "utf8.h"

#define PING_TIMEOUT 10         /* seconds a test ping may take: it holds the HTTP worker that asked */
#define WEBHOOKS_MAX 64          /* webhooks at most */
#define WEBHOOK_INFLIGHT_MAX 16  /* deliveries in flight at once, over all webhooks */
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SECRET_MIN 16    /* bytes of a secret an operator gives */
#define WEBHOOK_SECRET_MAX 256
#define WEBHOOK_FILTER_MAX 32    /* words in an events filter */
#define EVENTS_PAGE 256          /* events read at a time after a cursor */
#define ANSWER_KEPT 200          /* bytes of a receiver's answer kept for the error */
#define DELIVERIES_SHOWN_MAX 100

/* The names an events filter takes besides phase:, level:, source:, "*" and "progress";
 * each stands for a level or a phase of the events (hosts.c, boot.c, power.c, the agent). */
static const struct event_kind {
	const char *name, *level, *phase;
} kinds[] = {
	{ "deployed", NULL, "deployed" },   /* an installed system phoned home */
	{ "failed", "error", NULL },        /* any error: a failed install, a refused boot ... */
	{ "warning", "warn", NULL },        /* any warning */
	{ "power", NULL, "power" },         /* power actions and power-state changes */
	{ "drift", NULL, "drift" },         /* hardware changes */
	{ "changed", NULL, "change" },      /* an operator's change of a host */
	{ "enrolled", NULL, "enroll" },
	{ "inventory", NULL, "inventory" },
	{ "boot", NULL, "boot" },
	{ "install", NULL, "install" },
	{ "security", NULL, "security" },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

int webhook_sign(const void *key, size_t key_len, const void *body, size_t body_len,
		 char out[WEBHOOK_SIGNATURE_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!HMAC(EVP_sha256(), key, (int)key_len, body, body_len, md, &md_len) || md_len != 32)
		return err_set(-EIO, "cannot compute the signature");
	memcpy(out, "sha256=", 7);
	for (unsigned i = 0; i < md_len; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 15];
	}
	out[WEBHOOK_SIGNATURE_LEN] = '\0';
	return 0;
}

unsigned webhook_backoff(int attempt)
{
	if (attempt < 1)
		return 1;
	if (attempt > 9) /* 2^9 = 512 is past the cap already */
		return WEBHOOK_BACKOFF_MAX;
	return (1u << (attempt - 1)) < WEBHOOK_BACKOFF_MAX ? 1u << (attempt - 1) : WEBHOOK_BACKOFF_MAX;
}

/* True for a word of [a-z0-9_-], 1..64 bytes. */
static bool word_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

/* 0 when w is a word an events filter takes, else -EINVAL with err_set. */
static int filter_word_check(const char *w)
{
	if (strcmp(w, "*") == 0 || strcmp(w, "progress") == 0)
		return 0;
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(w, kinds[i].name) == 0)
			return 0;
	if (strncmp(w, "level:", 6) == 0 &&
	    (strcmp(w + 6, "info") == 0 || strcmp(w + 6, "warn") == 0 || strcmp(w + 6, "error") == 0))
		return 0;
	if ((strncmp(w, "phase:", 6) == 0 || strncmp(w, "source:", 7) == 0) && word_valid(strchr(w, ':') + 1))
		return 0;
	return err_set(-EINVAL, "events: '%.64s' is not an event kind: use *, progress, deployed, failed, warning, "
		       "power, drift, changed, enrolled, inventory, boot, install, security, level:info|warn|error, "
		       "phase:NAME or source:NAME", w);
}

/* Appends word w to the filter text out (of outsz), unless it is there already. */
static int filter_add(char *out, size_t outsz, const char *w)
{
	size_t len = strlen(out), wl = strlen(w);
	int rc;

	if ((rc = filter_word_check(w)) < 0)
		return rc;
	for (const char *p = out; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
		if (strncmp(p, w, wl) == 0 && (p[wl] == ',' || p[wl] == '\0'))
			return 0;
	if (len + (len > 0) + wl + 1 > outsz)
		return err_set(-EINVAL, "events: too many kinds (at most %d)", WEBHOOK_FILTER_MAX);
	snprintf(out + len, outsz - len, "%s%s", len ? "," : "", w);
	return 0;
}

int webhook_events_parse(json_t *events, char *out, size_t outsz)
{
	char word[80];
	size_t n = 0, i;
	json_t *v;
	int rc;

	out[0] = '\0';
	if (json_is_string(events)) {
		const char *s = json_string_value(events);

		while (*s) {
			size_t len = strcspn(s, ",");

			if (len == 0 || len >= sizeof(word))
				return err_set(-EINVAL, "events: an empty or overlong kind in \"%.80s\"", json_string_value(events));
			memcpy(word, s, len);
			word[len] = '\0';
			if (++n > WEBHOOK_FILTER_MAX)
				return err_set(-EINVAL, "events: too many kinds (at most %d)", WEBHOOK_FILTER_MAX);
			if ((rc = filter_add(out, outsz, word)) < 0)
				return rc;
			s += len + (s[len] == ',');
			if (s[-1] == ',' && !*s)
				return err_set(-EINVAL, "events: an empty kind at the end");
		}
	} else if (json_is_array(events)) {
		if (json_array_size(events) > WEBHOOK_FILTER_MAX)
			return err_set(-EINVAL, "events: too many kinds (at most %d)", WEBHOOK_FILTER_MAX);
		json_array_foreach(events, i, v)
			if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(word))
				return err_set(-EINVAL, "events: each kind must be a short string");
			else if ((rc = filter_add(out, outsz, json_string_value(v))) < 0)
				return rc;
	} else {
		return err_set(-EINVAL, "events must be an array of event kinds (or one string of them, "
			       "comma-separated), e.g. [\"deployed\", \"failed\"] or \"*\"");
	}
	if (!out[0])
		return err_set(-EINVAL, "events: name at least one kind (\"*\" for every event but progress)");
	return 0;
}

/* True when event passes the one filter word w (a progress event only "progress"). */
static bool word_matches(const char *w, json_t *event, bool progress)
{
	const char *level = json_string_value(json_object_get(event, "level"));
	const char *phase = json_string_value(json_object_get(event, "phase"));
	const char *source = json_string_value(json_object_get(event, "source"));

	if (strcmp(w, "progress") == 0 || progress)
		return strcmp(w, "progress") == 0 && progress;
	if (strcmp(w, "*") == 0)
		return true;
	if (strncmp(w, "level:", 6) == 0)
		return level && strcmp(level, w + 6) == 0;
	if (strncmp(w, "phase:", 6) == 0)
		return phase && strcmp(phase, w + 6) == 0;
	if (strncmp(w, "source:", 7) == 0)
		return source && strcmp(source, w + 7) == 0;
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(w, kinds[i].name) == 0)
			return kinds[i].level ? level && strcmp(level, kinds[i].level) == 0
					      : phase && strcmp(phase, kinds[i].phase) == 0;
	return false;
}

bool webhook_event_matches(const char *filter, json_t *event)
{
	bool progress = json_is_integer(json_object_get(event, "total"));
	char word[80];

	for (const char *p = filter; *p;) {
		size_t len = strcspn(p, ",");

		if (len < sizeof(word)) {
			memcpy(word, p, len);
			word[len] = '\0';
			if (word_matches(word, event, progress))
				return true;
		}
		p += len + (p[len] == ',');
	}
	return false;
}

int webhook_url_check(const char *url)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
	int rc = 0;

	if (!url || !*url)
		return err_set(-EINVAL, "url is required: http://HOST[:PORT]/PATH or https://...");
	if (strlen(url) > WEBHOOK_URL_MAX)
		return err_set(-EINVAL, "url is longer than %d bytes", WEBHOOK_URL_MAX);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(-EINVAL, "url holds a space or a control character");
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return err_set(-EINVAL, "url must start with http:// or https://");
	if (!(u = curl_url()))
		return err_set(-ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		rc = err_set(-EINVAL, "url is not a valid URL with a host");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
		 curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
		rc = err_set(-EINVAL, "url must not carry a user or password (URLs are shown in answers): the "
			     "receiver checks X-Anemos-Signature instead");
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return rc;
}

/* t as ISO 8601 in a JSON string, or null for 0. */
static json_t *time_json(int64_t t)
{
	char when[32];

	if (!t)
		return json_null();
	time_iso8601((time_t)t, when);
	return json_string(when);
}

json_t *delivery_to_json(const struct delivery *d)
{
	json_t *body = json_loads(d->body, 0, NULL);

	return json_pack("{s:I, s:I, s:o, s:s, s:s, s:i, s:o, s:o, s:s?, s:o, s:o, s:o}", "id", (json_int_t)d->id,
			 "webhook_id", (json_int_t)d->webhook_id,
			 "event_id", d->event_id ? json_integer(d->event_id) : json_null(), "kind", d->kind,
			 "status", d->status, "attempts", d->attempts,
			 "next_attempt", strcmp(d->status, "pending") == 0 ? time_json(d->next_attempt) : json_null(),
			 "last_status", d->last_status ? json_integer(d->last_status) : json_null(),
			 "last_error", d->last_error, "created", time_json(d->created), "updated", time_json(d->updated),
			 "body", body ? body : json_null());
}

/* The webhook as the API shows it (never its secret): a new reference. */
static json_t *webhook_to_json(const struct webhook *w)
{
	json_t *events = json_array();

	for (const char *p = w->events; *p;) {
		size_t len = strcspn(p, ",");

		json_array_append_new(events, json_stringn(p, len));
		p += len + (p[len] == ',');
	}
	return json_pack("{s:I, s:s, s:o, s:b, s:o, s:o, s:I, s:s?, s:o, s:o, s:s?}", "id", (json_int_t)w->id,
			 "url", w->url, "events", events, "enabled", w->enabled, "created", time_json(w->created),
			 "updated", time_json(w->updated), "last_event_id", (json_int_t)w->last_event_id,
			 "last_result", w->last_result, "last_delivery", time_json(w->last_delivery),
			 "failing_since", time_json(w->failing_since), "last_error", w->last_error);
}

/* The webhook id ref names: 0, or -ENOENT with err_set. */
static int ref_parse(const char *ref, int64_t *id)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(ref, &end, 10);
	if (!*ref || *end || errno || v <= 0)
		return err_set(-ENOENT, "no webhook '%.64s': name one by its id (anemosctl webhook list)", ref);
	*id = v;
	return 0;
}

/* Webhook id as the API shows it into *out (a new reference). */
static int webhook_answer(int64_t id, json_t **out)
{
	struct webhook w;
	int rc;

	if ((rc = db_webhook_get(id, &w)) < 0)
		return rc;
	*out = webhook_to_json(&w);
	webhook_free(&w);
	return *out ? 0 : err_set(-ENOMEM, "out of memory");
}

/* A secret the operator sent: a one-line string of WEBHOOK_SECRET_MIN..MAX bytes. */
static int secret_check(json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = s ? strlen(s) : 0;

	if (!s || len < WEBHOOK_SECRET_MIN || len > WEBHOOK_SECRET_MAX)
		return err_set(-EINVAL, "secret must be a string of %d to %d bytes (or leave it out: anemosd makes one)",
			       WEBHOOK_SECRET_MIN, WEBHOOK_SECRET_MAX);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return err_set(-EINVAL, "secret must not hold control characters or line breaks");
	return 0;
}

/* 64 hex digits of 32 random bytes into out. */
static int secret_generate(char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return err_set(-EIO, "cannot make a random secret");
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

struct webhook_create_work {
	const char *url, *filter, *secret;
	bool enabled;
	int64_t id;                 /* the new webhook's */
};

/* Adds w's webhook with its secret sealed, unless there are WEBHOOKS_MAX already: 0 (w->id
 * its id) or -errno. */
static int webhook_create_work(void *arg)
{
	struct webhook_create_work *w = arg;
	char context[40], *sealed;
	int64_t count;
	int rc;

	if ((rc = db_webhook_count(&count)) < 0)
		return rc;
	if (count >= WEBHOOKS_MAX)
		return err_set(-EBUSY, "there are %d webhooks already, the most anemosd keeps: remove one first",
			       WEBHOOKS_MAX);
	if ((rc = db_webhook_insert(w->url, w->filter, w->enabled, &w->id)) < 0)
		return rc;
	snprintf(context, sizeof(context), "webhook:%lld", (long long)w->id);
	if (!(sealed = secret_seal(w->secret, context)))
		return -EIO;
	rc = db_webhook_set_secret(w->id, sealed);
	free(sealed);
	return rc;
}

int webhooks_create(json_t *req, json_t **out)
{
	static const char *const allowed[] = { "url", "events", "secret", "enabled", NULL };
	const char *url = json_string_value(json_object_get(req, "url"));
	json_t *events = json_object_get(req, "events"), *enabled = json_object_get(req, "enabled");
	json_t *secret_v = json_object_get(req, "secret"), *every = json_string("*");
	char filter[1024], generated[65] = "";
	struct webhook_create_work w = { .url = url, .filter = filter };
	int rc;

	rc = fields_check(req, allowed, NULL);
	if (rc == 0 && (rc = webhook_url_check(url)) == 0)
		rc = webhook_events_parse(events ? events : every, filter, sizeof(filter));
	json_decref(every);
	if (rc < 0)
		return rc;
	if (enabled && !json_is_boolean(enabled))
		return err_set(-EINVAL, "enabled must be true or false");
	if (secret_v && (rc = secret_check(secret_v)) < 0)
		return rc;
	if (!secret_v && (rc = secret_generate(generated)) < 0)
		return rc;
	w.secret = secret_v ? json_string_value(secret_v) : generated;
	w.enabled = enabled ? json_is_true(enabled) : true;
	if ((rc = db_txn(webhook_create_work, &w)) < 0 || (rc = webhook_answer(w.id, out)) < 0)
		goto wipe;
	json_object_set_new(*out, "secret", json_string(w.secret));
	log_info("webhook %lld added (events %s)", (long long)w.id, filter);
	webhooks_wake();
wipe:
	OPENSSL_cleanse(generated, sizeof(generated));
	return rc;
}

int webhooks_list(json_t **out)
{
	struct webhook *list;
	size_t n;
	json_t *arr;
	int rc;

	if ((rc = db_webhook_list(&list, &n)) < 0)
		return rc;
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, webhook_to_json(&list[i]));
		webhook_free(&list[i]);
	}
	free(list);
	*out = json_pack("{s:o}", "webhooks", arr);
	return *out ? 0 : err_set(-ENOMEM, "out of memory");
}

int webhooks_get(const char *ref, json_t **out)
{
	int64_t id;
	int rc;

	if ((rc = ref_parse(ref, &id)) < 0)
		return rc;
	return webhook_answer(id, out);
}

struct webhook_patch_work {
	int64_t id;
	const char *url, *filter;   /* the new ones, NULL: unchanged */
	json_t *enabled;            /* true or false, NULL: unchanged */
};

/* Changes webhook p->id as p says; a delivery of it waiting for its backoff becomes due
 * now. 0 or -errno. */
static int webhook_patch_work(void *arg)
{
	struct webhook_patch_work *p = arg;
	struct webhook w;
	int rc;

	if ((rc = db_webhook_get(p->id, &w)) < 0)
		return rc;
	if (p->url) {
		free(w.url);
		w.url = strdup(p->url);
	}
	if (p->filter) {
		free(w.events);
		w.events = strdup(p->filter);
	}
	if (p->enabled)
		w.enabled = json_is_true(p->enabled);
	/* any change makes a delivery waiting for its backoff due now: the operator fixed
	 * something and wants to know at once */
	if (!w.url || !w.events)
		rc = err_set(-ENOMEM, "out of memory");
	else if ((rc = db_webhook_update(&w)) == 0)
		rc = db_delivery_due_now(p->id);
	webhook_free(&w);
	return rc;
}

int webhooks_patch(const char *ref, json_t *req, json_t **out)
{
	static const char *const allowed[] = { "url", "events", "enabled", NULL };
	json_t *url = json_object_get(req, "url"), *events = json_object_get(req, "events");
	json_t *enabled = json_object_get(req, "enabled");
	struct webhook_patch_work p = { .url = json_string_value(url), .enabled = enabled };
	char filter[1024];
	int rc;

	if ((rc = ref_parse(ref, &p.id)) < 0 || (rc = fields_check(req, allowed, NULL)) < 0 ||
	    (url && (rc = webhook_url_check(json_string_value(url))) < 0) ||
	    (events && (rc = webhook_events_parse(events, filter, sizeof(filter))) < 0))
		return rc;
	if (enabled && !json_is_boolean(enabled))
		return err_set(-EINVAL, "enabled must be true or false");
	if (events)
		p.filter = filter;
	if ((rc = db_txn(webhook_patch_work, &p)) < 0)
		return rc;
	webhooks_wake();
	return webhook_answer(p.id, out);
}

/* Deletes the webhook whose id *arg (an int64_t) is. */
static int webhook_delete_work(void *arg)
{
	return db_webhook_delete(*(const int64_t *)arg);
}

int webhooks_delete(const char *ref)
{
	int64_t id;
	int rc;

	if ((rc = ref_parse(ref, &id)) < 0 || (rc = db_txn(webhook_delete_work, &id)) < 0)
		return rc;
	log_info("webhook %lld removed", (long long)id);
	return 0;
}

int webhooks_deliveries(const char *ref, int limit, json_t **out)
{
	struct webhook w;
	json_t *arr;
	int64_t id;
	int rc;

	if ((rc = ref_parse(ref, &id)) < 0 || (rc = db_webhook_get(id, &w)) < 0)
		return rc;
	webhook_free(&w);
	if (limit <= 0 || limit > DELIVERIES_SHOWN_MAX)
		limit = DELIVERIES_SHOWN_MAX;
	arr = json_array();
	if ((rc = db_delivery_list(id, limit, arr)) < 0) {
		json_decref(arr);
		return rc;
	}
	*out = json_pack("{s:o}", "deliveries", arr);
	return *out ? 0 : err_set(-ENOMEM, "out of memory");
}

/* One delivery on its way: the libcurl handle and everything it points into. */
struct transfer {
	int64_t webhook_id;
	struct delivery d;
	CURL *easy;
	struct curl_slist *headers;
	char error[CURL_ERROR_SIZE];
	char answer[ANSWER_KEPT + 1];
	size_t answer_len;
};

static size_t answer_write(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, room = ANSWER_KEPT - t->answer_len;

	memcpy(t->answer + t->answer_len, data, len < room ? len : room);
	t->answer_len += len < room ? len : room;
	t->answer[t->answer_len] = '\0';
	return len;
}

/* Frees t and what it holds (its easy handle must be out of any multi handle). */
static void transfer_free(struct transfer *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	delivery_free(&t->d);
	free(t);
}

/* Adds one header "name: value" to t: 0 or -ENOMEM. */
static int header_add(struct transfer *t, const char *name, const char *value)
{
	char line[160];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	if (!(l = curl_slist_append(t->headers, line)))
		return err_set(-ENOMEM, "out of memory");
	t->headers = l;
	return 0;
}

/* A transfer of delivery d (taken over: t owns it, also on failure) to webhook w, signed:
 * 0 with *out, or -errno with err_set (the secret does not open, out of memory). */
static int transfer_new(const struct webhook *w, struct delivery *d, struct transfer **out)
{
	struct transfer *t = calloc(1, sizeof(*t));
	char context[40], signature[WEBHOOK_SIGNATURE_LEN + 1], delivery[24], hook[24], event[24], *secret;
	int rc;

	if (!t) {
		delivery_free(d);
		return err_set(-ENOMEM, "out of memory");
	}
	t->webhook_id = w->id;
	t->d = *d;
	memset(d, 0, sizeof(*d));
	snprintf(context, sizeof(context), "webhook:%lld", (long long)w->id);
	if (!(secret = secret_open(w->secret_sealed, context))) {
		transfer_free(t);
		return -EACCES;
	}
	rc = webhook_sign(secret, strlen(secret), t->d.body, strlen(t->d.body), signature);
	secret_wipe(secret);
	if (rc < 0 || !(t->easy = curl_easy_init())) {
		transfer_free(t);
		return rc < 0 ? rc : err_set(-ENOMEM, "out of memory");
	}
	snprintf(delivery, sizeof(delivery), "%lld", (long long)t->d.id);
	snprintf(hook, sizeof(hook), "%lld", (long long)w->id);
	if (t->d.event_id)
		snprintf(event, sizeof(event), "%lld", (long long)t->d.event_id);
	else
		snprintf(event, sizeof(event), "ping");
	if ((rc = header_add(t, "Content-Type", "application/json")) < 0 ||
	    (rc = header_add(t, "X-Anemos-Signature", signature)) < 0 ||
	    (rc = header_add(t, "X-Anemos-Delivery", delivery)) < 0 ||
	    (rc = header_add(t, "X-Anemos-Webhook", hook)) < 0 ||
	    (rc = header_add(t, "X-Anemos-Event", event)) < 0 ||
	    (rc = header_add(t, "Expect", "")) < 0) { /* no "100-continue" round trip */
		transfer_free(t);
		return rc;
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, w->url);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)cfg.webhook_timeout * 1000L);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg.webhook_timeout < 5 ? cfg.webhook_timeout : 5) * 1000L);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "anemosd-webhook");
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->d.body);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->d.body));
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	*out = t;
	return 0;
}

/* What the attempt of t came to (c: libcurl's result), into t->d: ok, or why not. */
static bool transfer_outcome(struct transfer *t, CURLcode c)
{
	long status = 0;
	char why[300];

	t->d.attempts++;
	if (c == CURLE_OK)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	t->d.last_status = status;
	free(t->d.last_error);
	t->d.last_error = NULL;
	if (c == CURLE_OK && status >= 200 && status < 300)
		return true;
	if (c != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", t->error[0] ? t->error : curl_easy_strerror(c));
	} else {
		for (char *p = t->answer; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				*p = ' ';
		snprintf(why, sizeof(why), "the receiver answered HTTP %ld%s%s", status, t->answer[0] ? ": " : "",
			 t->answer);
	}
	t->d.last_error = strdup(utf8_scrub(why));	/* an answer in Latin-1, or cut mid-character */
	return false;
}

struct delivery_work {
	const struct delivery *d;
	int64_t webhook_id;
	const char *result;         /* also the webhook's last result; NULL: the delivery's only */
};

/* Writes the result of delivery w->d, and with w->result the last result of its webhook:
 * 0 or -errno. */
static int delivery_work(void *arg)
{
	struct delivery_work *w = arg;
	int rc;

	if ((rc = db_delivery_result(w->d)) < 0 || !w->result)
		return rc;
	return db_webhook_result(w->webhook_id, w->result, w->d->last_error);
}

/* Records the outcome of t's attempt (a delivery of the queue) and says so in the log and
 * /metrics. */
static void transfer_record(struct transfer *t, bool ok)
{
	struct delivery_work w = { .d = &t->d, .webhook_id = t->webhook_id };
	const char *result;

	if (ok) {
		result = "ok";
		free(t->d.status);
		t->d.status = strdup("ok");
	} else if (t->d.attempts >= (int)cfg.webhook_attempts) {
		result = "failed";
		free(t->d.status);
		t->d.status = strdup("failed");
		log_warn("webhook %lld: delivery %lld (event %lld) given up after %d attempts: %s", (long long)t->webhook_id,
			 (long long)t->d.id, (long long)t->d.event_id, t->d.attempts, t->d.last_error ? t->d.last_error : "?");
	} else {
		result = "retry";
		t->d.next_attempt = (int64_t)time(NULL) + webhook_backoff(t->d.attempts);
		log_info("webhook %lld: delivery %lld (event %lld) attempt %d failed, next in %u s: %s",
			 (long long)t->webhook_id, (long long)t->d.id, (long long)t->d.event_id, t->d.attempts,
			 webhook_backoff(t->d.attempts), t->d.last_error ? t->d.last_error : "?");
	}
	metrics_webhook(result);
	if (!t->d.status) {
		log_error("webhook %lld: delivery %lld: out of memory", (long long)t->webhook_id, (long long)t->d.id);
		return;
	}
	w.result = result;
	/* not recorded, the delivery stays as it was: attempted again */
	if (db_txn(delivery_work, &w) < 0)
		log_error("webhook %lld: cannot record delivery %lld: %s", (long long)t->webhook_id, (long long)t->d.id, err_msg());
}

/* The body of a delivery of event to webhook id: malloc'd JSON text, NULL out of memory. */
static char *event_body(int64_t webhook_id, json_t *event)
{
	json_t *o = json_pack("{s:s, s:I, s:O}", "type", "event", "webhook", (json_int_t)webhook_id, "event", event);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

/* A delivery's result written in a transaction of its own. */
static int delivery_store(const struct delivery *d)
{
	struct delivery_work w = { .d = d };

	return db_txn(delivery_work, &w);
}

struct ping_work {
	int64_t webhook_id;
	const char *body;
	int64_t *id;                /* the delivery's, once added */
};

/* Adds a ping of webhook w->webhook_id as a delivery "sending": 0 or -errno. */
static int ping_work(void *arg)
{
	struct ping_work *w = arg;

	return db_delivery_add(w->webhook_id, 0, "ping", w->body, "sending", w->id);
}

/* A ping of webhook id recorded as a delivery "sending", filled into *d (delivery_free). */
static int ping_start(int64_t id, struct delivery *d)
{
	struct ping_work w = { .webhook_id = id, .id = &d->id };
	char now[32], *body;
	json_t *o;
	int rc;

	time_iso8601(time(NULL), now);
	o = json_pack("{s:s, s:I, s:s}", "type", "ping", "webhook", (json_int_t)id, "time", now);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return err_set(-ENOMEM, "out of memory");
	w.body = body;
	if ((rc = db_txn(ping_work, &w)) < 0) {
		free(body);
		return rc;
	}
	d->webhook_id = id;
	d->kind = strdup("ping");
	d->status = strdup("sending");
	d->body = body;
	if (!d->kind || !d->status) {
		delivery_free(d);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

int webhooks_test(const char *ref, json_t **out)
{
	struct webhook w;
	struct delivery d = { 0 };
	struct transfer *t = NULL;
	int64_t id, delivery_id;
	bool ok;
	int rc;

	if ((rc = ref_parse(ref, &id)) < 0 || (rc = db_webhook_get(id, &w)) < 0)
		return rc;
	if ((rc = ping_start(id, &d)) < 0)
		goto done;
	delivery_id = d.id;	/* transfer_new takes d over, and empties it even when it fails */
	if ((rc = transfer_new(&w, &d, &t)) < 0) {
		/* it cannot be signed (the key file changed): a failed ping, not a row "sending" */
		struct delivery failed = { .id = delivery_id, .status = "failed", .attempts = 1,
					   .last_error = (char *)err_msg() };

		delivery_store(&failed);
		goto done;
	}
	/* The ping holds the HTTP worker that asked for it: at most PING_TIMEOUT seconds. */
	if (cfg.webhook_timeout > PING_TIMEOUT)
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, PING_TIMEOUT * 1000L);
	ok = transfer_outcome(t, curl_easy_perform(t->easy));
	free(t->d.status);
	t->d.status = strdup(ok ? "ok" : "failed");
	metrics_webhook(ok ? "ok" : "failed");
	if (!t->d.status)
		rc = err_set(-ENOMEM, "out of memory");
	else if ((rc = delivery_store(&t->d)) == 0)
		rc = (*out = json_pack("{s:o}", "delivery", delivery_to_json(&t->d))) ? 0 : err_set(-ENOMEM, "out of memory");
done:
	transfer_free(t);
	webhook_free(&w);
	return rc;
}

/* The delivery thread's state. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping, started, woken;
	pthread_t thread;
	CURLM *multi;
	struct transfer *inflight[WEBHOOK_INFLIGHT_MAX];
	size_t ninflight;
} wh = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

void webhooks_wake(void)
{
	pthread_mutex_lock(&wh.lock);
	wh.woken = true;
	pthread_cond_signal(&wh.wake);
	if (wh.multi)
		curl_multi_wakeup(wh.multi);
	pthread_mutex_unlock(&wh.lock);
}

static bool webhook_inflight(int64_t id)
{
	for (size_t i = 0; i < wh.ninflight; i++)
		if (wh.inflight[i]->webhook_id == id)
			return true;
	return false;
}

struct cursor_work {
	int64_t webhook_id, last;   /* the webhook's cursor goes to last */
	const char *body;           /* the event's delivery to add first; NULL: none */
	int64_t id;                 /* the delivery's, once added */
};

/* Adds w->body as a pending delivery (if any) and moves the cursor to w->last: 0 or -errno. */
static int cursor_work(void *arg)
{
	struct cursor_work *w = arg;
	int rc;

	if (w->body && (rc = db_delivery_add(w->webhook_id, w->last, "event", w->body, "pending", &w->id)) < 0)
		return rc;
	return db_webhook_cursor(w->webhook_id, w->last);
}

/* Takes the next event after w's cursor that passes its filter as a pending delivery into
 * *d (0), moving the cursor past the events it read; -ENOENT when none is there yet (or
 * more pages remain: *more is set then). */
static int queue_next(struct webhook *w, struct delivery *d, bool *more)
{
	json_t *events = json_array(), *ev, *match = NULL;
	struct cursor_work q = { .webhook_id = w->id };
	int64_t last = 0;
	char *body = NULL;
	size_t i;
	int rc;

	if (!events)
		return err_set(-ENOMEM, "out of memory");
	if ((rc = db_events_after(w->last_event_id, EVENTS_PAGE, events)) < 0)
		goto done;
	json_array_foreach(events, i, ev) {
		last = json_integer_value(json_object_get(ev, "id"));
		if (webhook_event_matches(w->events, ev)) {
			match = ev;
			break;
		}
	}
	*more = !match && json_array_size(events) == EVENTS_PAGE;
	if (!last) {
		rc = -ENOENT;
		goto done;
	}
	if (match && !(body = event_body(w->id, match))) {
		rc = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	q.last = last;
	q.body = body;
	if ((rc = db_txn(cursor_work, &q)) < 0)
		goto done;
	w->last_event_id = last;
	rc = match ? db_delivery_pending(w->id, d) : -ENOENT;
done:
	free(body);
	json_decref(events);
	return rc;
}

/* Starts what is due: for each enabled webhook with nothing in flight, its pending
 * delivery, or the next event it takes. *due: the soonest backoff still waiting (unix
 * seconds, 0 none); *more: events remain to be read. */
static void schedule(int64_t *due, bool *more)
{
	struct webhook *list;
	struct delivery d;
	struct transfer *t;
	size_t n;
	int rc;

	*due = 0;
	*more = false;
	if (db_webhook_list(&list, &n) < 0) {
		log_error("webhooks: %s", err_msg());
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool page_more = false;

		if (!list[i].enabled || webhook_inflight(list[i].id) || wh.ninflight == WEBHOOK_INFLIGHT_MAX)
			continue;
		rc = db_delivery_pending(list[i].id, &d);
		if (rc == -ENOENT)
			rc = queue_next(&list[i], &d, &page_more);
		*more = *more || page_more;
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			log_error("webhook %lld: %s", (long long)list[i].id, err_msg());
			continue;
		}
		if (d.next_attempt > (int64_t)time(NULL)) {
			if (!*due || d.next_attempt < *due)
				*due = d.next_attempt;
			delivery_free(&d);
			continue;
		}
		if ((rc = transfer_new(&list[i], &d, &t)) < 0) {
			/* cannot even be signed (the key file changed): an attempt that failed */
			struct transfer failed = { .webhook_id = list[i].id };

			if (db_delivery_pending(list[i].id, &failed.d) == 0) {
				failed.d.attempts++;
				free(failed.d.last_error);
				failed.d.last_error = strdup(err_msg());
				transfer_record(&failed, false);
				delivery_free(&failed.d);
			}
			continue;
		}
		if (curl_multi_add_handle(wh.multi, t->easy) != CURLM_OK) {
			transfer_free(t);
			continue;
		}
		wh.inflight[wh.ninflight++] = t;
	}
	for (size_t i = 0; i < n; i++)
		webhook_free(&list[i]);
	free(list);
}

/* Records every transfer that finished and forgets it. */
static void collect(void)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(wh.multi, &left))) {
		struct transfer *t = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(wh.multi, m->easy_handle);
		transfer_record(t, transfer_outcome(t, m->data.result));
		for (size_t i = 0; i < wh.ninflight; i++)
			if (wh.inflight[i] == t) {
				wh.inflight[i] = wh.inflight[--wh.ninflight];
				break;
			}
		transfer_free(t);
	}
}

static void *delivery_main(void *arg)
{
	uint64_t seen = (uint64_t)-1;
	int64_t due = 0;
	bool more = false, stopping = false;
	time_t last_schedule = 0;
	int running;

	(void)arg;
	while (!stopping) {
		uint64_t gen = notify_generation();
		time_t now = time(NULL);
		bool woken;

		pthread_mutex_lock(&wh.lock);
		woken = wh.woken;
		wh.woken = false;
		pthread_mutex_unlock(&wh.lock);
		/* the database is read when events may have come (a host changed, or a second
		 * went by: not every event tells notify.c), a backoff ended, or more is waiting */
		if (woken || more || gen != seen || (due && now >= due) || now != last_schedule) {
			seen = gen;
			last_schedule = now;
			schedule(&due, &more);
		}
		if (wh.ninflight) {
			curl_multi_perform(wh.multi, &running);
			collect();
			curl_multi_poll(wh.multi, NULL, 0, more ? 0 : 100, NULL);
			curl_multi_perform(wh.multi, &running);
			collect();
		} else if (!more) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L)
				until.tv_sec++, until.tv_nsec -= 1000000000L;
			pthread_mutex_lock(&wh.lock);
			if (!wh.woken && !wh.stopping)
				pthread_cond_timedwait(&wh.wake, &wh.lock, &until);
			pthread_mutex_unlock(&wh.lock);
		}
		pthread_mutex_lock(&wh.lock);
		stopping = wh.stopping;
		pthread_mutex_unlock(&wh.lock);
	}
	/* in-flight deliveries stay pending in the database: sent again after a restart */
	for (size_t i = 0; i < wh.ninflight; i++) {
		curl_multi_remove_handle(wh.multi, wh.inflight[i]->easy);
		transfer_free(wh.inflight[i]);
	}
	wh.ninflight = 0;
	db_thread_end();
	return NULL;
}

/* Marks the pings a stop left "sending" failed (arg unused): 0 or -errno. */
static int abandoned_work(void *arg)
{
	(void)arg;
	return db_delivery_abandoned();
}

int webhooks_start(void)
{
	int rc;

	if ((rc = db_txn(abandoned_work, NULL)) < 0)
		return rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(-EIO, "cannot initialise libcurl");
	if (!(wh.multi = curl_multi_init())) {
		curl_global_cleanup();
		return err_set(-ENOMEM, "cannot start the webhook deliveries");
	}
	curl_multi_setopt(wh.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)WEBHOOK_INFLIGHT_MAX);
	wh.stopping = false;
	if ((rc = pthread_create(&wh.thread, NULL, delivery_main, NULL)) != 0) {
		curl_multi_cleanup(wh.multi);
		wh.multi = NULL;
		curl_global_cleanup();
		return err_set(-rc, "cannot start the webhook deliveries");
	}
	wh.started = true;
	return 0;
}

void webhooks_stop(void)
{
	CURLM *multi;

	if (!wh.started)
		return;
	pthread_mutex_lock(&wh.lock);
	wh.stopping = true;
	pthread_cond_signal(&wh.wake);
	curl_multi_wakeup(wh.multi);
	pthread_mutex_unlock(&wh.lock);
	pthread_join(wh.thread, NULL);
	pthread_mutex_lock(&wh.lock);
	multi = wh.multi;
	wh.multi = NULL;
	wh.started = false;
	pthread_mutex_unlock(&wh.lock);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
}

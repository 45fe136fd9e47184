/*
 * Power control through a host's BMC: the operator's actions and a background poller of
 * power states, both run by a few power workers of their own (--power-workers), never by an
 * HTTP worker. An action is recorded (who asked, as an event) and queued in one transaction
 * and answered 202 at once; a worker then calls the BMC (bmc.c, each exchange bounded by
 * --bmc-timeout) and records the outcome: the host's power state, when it was read, why a
 * call failed, and an event. The queue is bounded: when it is full an action is refused
 * (503, nothing recorded) and a poll is skipped. A host's poll is skipped while a call to
 * its BMC is queued or running, so a slow BMC holds one worker at a time at most, and a
 * host's calls run one at a time, in the order they were asked.
 *
 * An acknowledged action is also a row of power_requests, written in the transaction that
 * acknowledges it and deleted in the one that records its outcome: after a kill -9 or a
 * restart, power_start queues what was left again (at least once: an action the BMC did
 * just before the kill is done again).
 *
 * The BMC settings live in the host's row as JSON whose password is sealed with secret.c;
 * the password is never in an answer, an event, a log line or /metrics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "anemosd.h"
#include "log.h"

#define POWER_QUEUE_MAX 256
#define POWER_WORKERS_MAX 64

static const char *const action_names[BMC_ACTION_COUNT] = {
	[BMC_STATUS] = "status", [BMC_ON] = "on", [BMC_OFF] = "off", [BMC_SOFT_OFF] = "soft-off",
	[BMC_CYCLE] = "cycle", [BMC_RESET] = "reset",
};
static const char *const boot_names[BMC_BOOT_COUNT] = {
	[BMC_BOOT_NONE] = "none", [BMC_BOOT_NETWORK] = "network", [BMC_BOOT_DISK] = "disk",
};
/* The power states a host can have; "unreachable" and "refused" say the BMC did not answer
 * in time or refused the credentials, "error" anything else. */
#define POWER_ON "on"
#define POWER_OFF "off"
#define POWER_UNREACHABLE "unreachable"
#define POWER_REFUSED "refused"
#define POWER_ERROR "error"

const char *power_action_name(enum bmc_action a)
{
	return a < BMC_ACTION_COUNT ? action_names[a] : NULL;
}

const char *power_boot_name(enum bmc_boot b)
{
	return b < BMC_BOOT_COUNT ? boot_names[b] : NULL;
}

struct power_job {
	int64_t host_id;
	int64_t request_id; /* its row in power_requests; 0 for a poll */
	enum bmc_action action;
	enum bmc_boot boot;
	bool poll;          /* the poller's, not an operator's */
	char who[80];       /* the admin token's name, for the events */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake, poll_wake;
	struct power_job queue[POWER_QUEUE_MAX];
	size_t head, count, reserved;
	int64_t running[POWER_WORKERS_MAX]; /* each worker's host, 0 when idle */
	pthread_t workers[POWER_WORKERS_MAX], poller;
	unsigned nworkers;
	bool poller_started, stopping;
} pw = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
	 .poll_wake = PTHREAD_COND_INITIALIZER };

/* Parses a name of table into *out: 0 or -EINVAL. */
static int name_parse(const char *const *table, int n, const char *name, int *out)
{
	for (int i = 0; name && i < n; i++)
		if (strcmp(table[i], name) == 0)
			return (*out = i), 0;
	return -EINVAL;
}

/* True when a call to host_id's BMC is running (pw.lock held). */
static bool host_running(int64_t host_id)
{
	for (unsigned i = 0; i < pw.nworkers; i++)
		if (pw.running[i] == host_id)
			return true;
	return false;
}

/* True when a call to host_id's BMC is queued or running (pw.lock held). */
static bool host_busy(int64_t host_id)
{
	for (size_t i = 0; i < pw.count; i++)
		if (pw.queue[(pw.head + i) % POWER_QUEUE_MAX].host_id == host_id)
			return true;
	return host_running(host_id);
}

/* Takes the oldest queued job whose host has no call running into *job (pw.lock held): a
 * host's jobs thus run in order, one at a time. False when there is none. */
static bool queue_take(struct power_job *job)
{
	for (size_t i = 0; i < pw.count; i++) {
		size_t at = (pw.head + i) % POWER_QUEUE_MAX;

		if (host_running(pw.queue[at].host_id))
			continue;
		*job = pw.queue[at];
		for (size_t j = i; j > 0; j--)
			pw.queue[(pw.head + j) % POWER_QUEUE_MAX] = pw.queue[(pw.head + j - 1) % POWER_QUEUE_MAX];
		pw.head = (pw.head + 1) % POWER_QUEUE_MAX;
		pw.count--;
		return true;
	}
	return false;
}

/* Adds job to the queue (pw.lock held; a place must be free). */
static void queue_push(const struct power_job *job)
{
	pw.queue[(pw.head + pw.count) % POWER_QUEUE_MAX] = *job;
	pw.count++;
	pthread_cond_signal(&pw.wake);
}

/* Takes a place in the queue for an operator's action: 0, or -EAGAIN when it is full. */
static int queue_reserve(void)
{
	int rc = 0;

	pthread_mutex_lock(&pw.lock);
	if (pw.stopping || pw.count + pw.reserved >= POWER_QUEUE_MAX)
		rc = err_set(-EAGAIN, "too many power actions are waiting for their BMCs; try again later");
	else
		pw.reserved++;
	pthread_mutex_unlock(&pw.lock);
	return rc;
}

/* Fills the place queue_reserve took with job, or (job NULL) gives it back. */
static void queue_fill(const struct power_job *job)
{
	pthread_mutex_lock(&pw.lock);
	pw.reserved--;
	if (job)
		queue_push(job);
	pthread_mutex_unlock(&pw.lock);
}

/* Sets *dst to a copy of s: 0 or -ENOMEM. */
static int set_text(char **dst, const char *s)
{
	char *copy = s ? strdup(s) : NULL;

	if (s && !copy)
		return err_set(-ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

/* True for BMC settings that speak Redfish (else IPMI). */
static bool redfish(json_t *bmc)
{
	const char *p = json_string_value(json_object_get(bmc, "protocol"));

	return p && strcmp(p, "redfish") == 0;
}

/* Merges the fields of v other than the password into bmc, with the defaults. A change of
 * where the password goes (address, port, protocol, username, certificate check) forgets the
 * sealed one unless v brings one: else an operator could point the BMC settings at a server
 * of theirs and have anemosd send it the password it keeps. */
static void bmc_merge(json_t *bmc, json_t *v)
{
	static const char *const destination[] = { "address", "port", "protocol", "username", "insecure" };
	const char *key;
	json_t *value;
	bool was_redfish = redfish(bmc);

	for (size_t i = 0; i < sizeof(destination) / sizeof(destination[0]); i++)
		if (json_object_get(v, destination[i]) &&
		    !json_equal(json_object_get(v, destination[i]), json_object_get(bmc, destination[i])))
			json_object_del(bmc, "password_sealed");
	json_object_foreach(v, key, value)
		if (strcmp(key, "password") != 0)
			json_object_set(bmc, key, value);
	if (!json_object_get(bmc, "protocol"))
		json_object_set_new(bmc, "protocol", json_string("ipmi"));
	if (!json_object_get(v, "port") && redfish(bmc) != was_redfish)
		json_object_del(bmc, "port"); /* another protocol: its own default port */
	if (!json_object_get(bmc, "port"))
		json_object_set_new(bmc, "port", json_integer(redfish(bmc) ? 443 : 623));
}

int power_bmc_apply(struct host *h, json_t *v)
{
	json_t *bmc;
	char context[32], *sealed = NULL, *text;
	const char *password;
	int rc;

	if (json_is_null(v)) {
		free(h->power_state), free(h->power_error);
		h->power_state = h->power_error = NULL;
		h->power_checked = 0;
		return set_text(&h->bmc, NULL);
	}
	if ((rc = bmc_settings_check(v)) < 0)
		return rc;
	bmc = h->bmc ? json_loads(h->bmc, 0, NULL) : json_object();
	if (!json_is_object(bmc))
		return json_decref(bmc), err_set(-ENOMEM, "out of memory");
	bmc_merge(bmc, v);
	snprintf(context, sizeof(context), "bmc:%lld", (long long)h->id);
	if ((password = json_string_value(json_object_get(v, "password"))) &&
	    (!(sealed = secret_seal(password, context)) ||
	     json_object_set_new(bmc, "password_sealed", json_string(sealed)) < 0))
		rc = sealed ? err_set(-ENOMEM, "out of memory") : -EIO;
	free(sealed);
	if (rc == 0 && (!json_object_get(bmc, "address") || !json_object_get(bmc, "username") ||
			!json_object_get(bmc, "password_sealed")))
		rc = err_set(-EINVAL, "bmc needs an address, a username and a password (a new address, port, "
			     "protocol, username or certificate check needs the password again)");
	if (rc == 0 && !(text = json_dumps(bmc, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = err_set(-ENOMEM, "out of memory");
	json_decref(bmc);
	if (rc < 0)
		return rc;
	free(h->bmc);
	h->bmc = text;
	return 0;
}

json_t *power_bmc_to_json(const struct host *h)
{
	json_t *bmc = h->bmc ? json_loads(h->bmc, 0, NULL) : NULL;

	if (!json_is_object(bmc))
		return json_decref(bmc), json_null();
	json_object_set_new(bmc, "password_set", json_boolean(json_object_get(bmc, "password_sealed") != NULL));
	json_object_del(bmc, "password_sealed");
	return bmc;
}

json_t *power_state_to_json(const struct host *h)
{
	char checked[32];

	if (!h->power_checked)
		return json_pack("{s:s?, s:n, s:n}", "state", h->power_state, "checked", "error");
	time_iso8601((time_t)h->power_checked, checked);
	return json_pack("{s:s?, s:s, s:s?}", "state", h->power_state, "checked", checked, "error",
			 h->power_error);
}

/* What power_request records in its transaction. */
struct request_ctx {
	struct power_job *job;
	int64_t event_id;
};

static int request_change(struct host *h, void *arg)
{
	struct request_ctx *r = arg;
	struct power_job *job = r->job;
	int rc;
	struct event ev = { .host_id = h->id, .source = "operator", .level = "info", .phase = "power",
			    .bytes = -1, .total = -1, .actor = job->who };
	char message[256];

	if (!h->bmc)
		return err_set(-EINVAL, "host %lld has no BMC; set one first (anemosctl host set REF --bmc "
			       "ipmi://USER@ADDRESS --bmc-password-file FILE)", (long long)h->id);
	snprintf(message, sizeof(message), "power %s%s%s asked by %s", power_action_name(job->action),
		 job->boot != BMC_BOOT_NONE ? ", next boot " : "",
		 job->boot != BMC_BOOT_NONE ? power_boot_name(job->boot) : "", job->who);
	ev.message = message;
	if ((rc = db_event_add(&ev, &r->event_id)) < 0)
		return rc;
	return db_power_request_add(h->id, power_action_name(job->action),
				    job->boot != BMC_BOOT_NONE ? power_boot_name(job->boot) : NULL, job->who,
				    &job->request_id);
}

/* The job a request body asks for: 0, or -EINVAL with err_set. */
static int request_parse(json_t *req, struct power_job *job)
{
	static const char *const allowed[] = { "action", "boot", NULL };
	const char *boot = json_string_value(json_object_get(req, "boot"));
	int a, b = BMC_BOOT_NONE, rc;

	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	if (name_parse(action_names, BMC_ACTION_COUNT, json_string_value(json_object_get(req, "action")), &a) < 0)
		return err_set(-EINVAL, "\"action\" must be status, on, off, soft-off, cycle or reset");
	if (json_object_get(req, "boot") && (name_parse(boot_names + 1, BMC_BOOT_COUNT - 1, boot, &b) < 0 ||
					     a == BMC_STATUS || a == BMC_OFF || a == BMC_SOFT_OFF))
		return err_set(-EINVAL, "\"boot\" must be network or disk, with on, cycle or reset");
	job->action = (enum bmc_action)a;
	job->boot = json_object_get(req, "boot") ? (enum bmc_boot)(b + 1) : BMC_BOOT_NONE;
	return 0;
}

int power_request(const char *ref, json_t *req, int64_t admin_id, json_t **out)
{
	struct power_job job = { 0 };
	struct request_ctx r = { .job = &job };
	struct host h;
	int rc;

	if ((rc = request_parse(req, &job)) < 0)
		return rc;
	if (db_admin_token_name(admin_id, job.who, sizeof(job.who)) < 0)
		snprintf(job.who, sizeof(job.who), "token %lld", (long long)admin_id);
	if ((rc = queue_reserve()) < 0)
		return rc;
	if ((rc = hosts_update(ref, 0, request_change, &r, &h)) < 0) {
		queue_fill(NULL);
		return rc;
	}
	job.host_id = h.id;
	host_free(&h);
	queue_fill(&job);
	*out = json_pack("{s:s, s:s?, s:I, s:b}", "action", power_action_name(job.action), "boot",
			 job.boot != BMC_BOOT_NONE ? power_boot_name(job.boot) : NULL, "event",
			 (json_int_t)r.event_id, "queued", 1);
	return *out ? 0 : err_set(-ENOMEM, "out of memory");
}

/* What one call to a BMC gave. */
struct outcome {
	const struct power_job *job;
	int rc;
	bool on;
	char why[256];
	char bmc[300]; /* "ADDRESS:PORT" for the messages */
};

/* The power state an outcome says. */
static const char *outcome_state(const struct outcome *o)
{
	if (o->rc == 0)
		return o->on ? POWER_ON : POWER_OFF;
	return o->rc == -ETIMEDOUT ? POWER_UNREACHABLE : o->rc == -EACCES ? POWER_REFUSED : POWER_ERROR;
}

/* True when an action goes on in the BMC after its answer. */
static bool action_is_async(enum bmc_action action)
{
	return action == BMC_SOFT_OFF || action == BMC_CYCLE || action == BMC_RESET;
}

/* The event an outcome makes: always for an operator's action, for a poll only when the
 * state changed (a BMC that stays unreachable is told once). */
static int outcome_event(struct host *h, const struct outcome *o, const char *was)
{
	const struct power_job *job = o->job;
	const char *state = outcome_state(o), *level = o->rc == 0 ? "info" : "error";

	/* A cycle, a reset or a soft-off goes on in the BMC after it answered: the state it
	 * reads then is not the outcome (the poller reads that). */
	if (!job->poll && o->rc == 0 && action_is_async(job->action))
		return hosts_add_event(h->id, "bmc", level, "power", "power %s accepted by the BMC (asked by %s)",
				       power_action_name(job->action), job->who);
	if (!job->poll && o->rc == 0)
		return hosts_add_event(h->id, "bmc", level, "power", "power %s done (asked by %s): power is %s",
				       power_action_name(job->action), job->who, state);
	if (!job->poll)
		return hosts_add_event(h->id, "bmc", level, "power", "power %s failed (asked by %s): BMC %s %s: %s",
				       power_action_name(job->action), job->who, o->bmc, state, o->why);
	if (was && strcmp(was, state) == 0)
		return 0;
	if (o->rc == 0)
		return hosts_add_event(h->id, "bmc", level, "power", "power is %s (was %s)", state,
				       was ? was : "unknown");
	return hosts_add_event(h->id, "bmc", level, "power", "BMC %s %s: %s", o->bmc, state, o->why);
}

static int outcome_change(struct host *h, void *arg)
{
	const struct outcome *o = arg;
	char *was = h->power_state ? strdup(h->power_state) : NULL;
	int rc;

	if (!h->bmc) { /* removed meanwhile: nothing to record but that it is over */
		free(was);
		return o->job->request_id ? db_power_request_done(o->job->request_id) : HOSTS_UNCHANGED;
	}
	if (o->job->request_id && (rc = db_power_request_done(o->job->request_id)) < 0) {
		free(was);
		return rc;
	}
	/* A poll that finds what the host had is only a time: the host is not "updated" (nor
	 * every dashboard told) once a minute for nothing. */
	if (!o->job->request_id && was && !strcmp(was, outcome_state(o)) &&
	    (h->power_error ? o->rc && !strcmp(h->power_error, o->why) : o->rc == 0)) {
		free(was);
		return (rc = db_host_power_read(h->id, (int64_t)time(NULL))) < 0 ? rc : HOSTS_QUIET;
	}
	if ((rc = set_text(&h->power_state, outcome_state(o))) == 0 &&
	    (rc = set_text(&h->power_error, o->rc ? o->why : NULL)) == 0) {
		h->power_checked = (int64_t)time(NULL);
		rc = outcome_event(h, o, was);
	}
	free(was);
	return rc;
}

/* Fills call from the host's BMC settings, its password opened into *password (the
 * caller wipes it): 0, or -errno with the reason in o->why. */
static int call_prepare(const struct host *h, json_t *bmc, struct bmc_call *call, char **password,
			struct outcome *o)
{
	char context[32];
	const char *firmware = NULL;
	json_t *inv = h->summary ? json_loads(h->summary, 0, NULL) : NULL;

	call->address = json_string_value(json_object_get(bmc, "address"));
	call->port = (unsigned)json_integer_value(json_object_get(bmc, "port"));
	call->username = json_string_value(json_object_get(bmc, "username"));
	call->timeout_ms = cfg.bmc_timeout * 1000;
	call->insecure = json_is_true(json_object_get(bmc, "insecure"));
	if ((firmware = json_string_value(json_object_get(inv, "firmware"))))
		call->efi = strcmp(firmware, "uefi") == 0;
	json_decref(inv);
	snprintf(o->bmc, sizeof(o->bmc), "%s:%u", call->address ? call->address : "?", call->port);
	snprintf(context, sizeof(context), "bmc:%lld", (long long)h->id);
	if (!call->address || !call->username ||
	    !(*password = secret_open(json_string_value(json_object_get(bmc, "password_sealed")) ?
				      json_string_value(json_object_get(bmc, "password_sealed")) : "", context))) {
		snprintf(o->why, sizeof(o->why), "%s", call->address ? err_msg() : "no BMC address");
		return -EIO;
	}
	call->password = *password;
	return 0;
}

/* Runs one job: calls the BMC and records what it said. */
static void job_run(const struct power_job *job)
{
	struct outcome o = { .job = job };
	struct bmc_call call = { .action = job->action, .boot = job->boot };
	struct host h;
	json_t *bmc;
	char *password = NULL;

	if (db_host_get(job->host_id, &h) < 0)
		return; /* removed meanwhile, with its power requests */
	bmc = h.bmc ? json_loads(h.bmc, 0, NULL) : NULL;
	if (!bmc)
		o.rc = -ENOENT; /* outcome_change forgets the request */
	else if ((o.rc = call_prepare(&h, bmc, &call, &password, &o)) == 0)
		o.rc = (redfish(bmc) ? bmc_redfish_call : bmc_ipmi_call)(&call, &o.on, o.why, sizeof(o.why));
	secret_wipe(password);
	json_decref(bmc);
	host_free(&h);
	if (o.rc < 0 && !job->poll && o.bmc[0])
		log_warn("host %lld: power %s: BMC %s: %s", (long long)job->host_id,
			 power_action_name(job->action), o.bmc, o.why);
	if (hosts_update(NULL, job->host_id, outcome_change, &o, NULL) < 0)
		log_warn("host %lld: cannot record the power state: %s", (long long)job->host_id, err_msg());
}

static void *worker_main(void *arg)
{
	unsigned self = (unsigned)(uintptr_t)arg;
	struct power_job job;

	pthread_mutex_lock(&pw.lock);
	for (;;) {
		while (!pw.stopping && !queue_take(&job))
			pthread_cond_wait(&pw.wake, &pw.lock);
		if (pw.stopping)
			break;
		pw.running[self] = job.host_id;
		pthread_mutex_unlock(&pw.lock);
		job_run(&job);
		pthread_mutex_lock(&pw.lock);
		pw.running[self] = 0;
		pthread_cond_broadcast(&pw.wake); /* a job of that host may wait */
	}
	pthread_mutex_unlock(&pw.lock);
	return NULL;
}

/* Queues a status poll of every host with a BMC that has no call queued or running. */
static void poll_all(void)
{
	struct power_job job = { .action = BMC_STATUS, .poll = true };
	int64_t *ids = NULL;
	size_t n = 0;

	snprintf(job.who, sizeof(job.who), "the poller");
	if (db_host_with_bmc(&ids, &n) < 0) {
		log_warn("power poll: %s", err_msg());
		return;
	}
	pthread_mutex_lock(&pw.lock);
	for (size_t i = 0; i < n && pw.count + pw.reserved < POWER_QUEUE_MAX; i++) {
		if (host_busy(ids[i]))
			continue;
		job.host_id = ids[i];
		queue_push(&job);
	}
	pthread_mutex_unlock(&pw.lock);
	free(ids);
}

static void *poller_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&pw.lock);
	while (!pw.stopping) {
		pthread_mutex_unlock(&pw.lock);
		poll_all();
		pthread_mutex_lock(&pw.lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += cfg.power_poll;
		while (!pw.stopping && pthread_cond_timedwait(&pw.poll_wake, &pw.lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&pw.lock);
	return NULL;
}

/* Queues the actions acknowledged before the last stop that were not carried out. */
static int requests_reload(void)
{
	json_t *list = json_array(), *r;
	struct power_job job = { 0 };
	size_t i;
	int a, b, rc;

	if ((rc = db_power_request_list(list)) < 0) {
		json_decref(list);
		return rc;
	}
	json_array_foreach(list, i, r) {
		if (pw.count >= POWER_QUEUE_MAX ||
		    name_parse(action_names, BMC_ACTION_COUNT, json_string_value(json_object_get(r, "action")), &a) < 0)
			continue;
		if (name_parse(boot_names, BMC_BOOT_COUNT, json_string_value(json_object_get(r, "boot")), &b) < 0)
			b = BMC_BOOT_NONE;
		job.host_id = json_integer_value(json_object_get(r, "host_id"));
		job.request_id = json_integer_value(json_object_get(r, "id"));
		job.action = (enum bmc_action)a;
		job.boot = (enum bmc_boot)b;
		snprintf(job.who, sizeof(job.who), "%s", json_string_value(json_object_get(r, "who")));
		queue_push(&job);
	}
	if (i > 0)
		log_info("%zu power action(s) asked before the last stop queued again", i);
	json_decref(list);
	return 0;
}

int power_start(void)
{
	int rc;

	pw.stopping = false;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(-ENOMEM, "cannot set up libcurl (Redfish)");
	if ((rc = requests_reload()) < 0)
		return rc;

	pw.nworkers = cfg.power_workers < POWER_WORKERS_MAX ? cfg.power_workers : POWER_WORKERS_MAX;
	for (unsigned i = 0; i < pw.nworkers; i++)
		if ((rc = pthread_create(&pw.workers[i], NULL, worker_main, (void *)(uintptr_t)i)) != 0) {
			pw.nworkers = i;
			power_stop();
			return err_set(-rc, "cannot start the power workers: %s", strerror(rc));
		}
	if (cfg.power_poll && (rc = pthread_create(&pw.poller, NULL, poller_main, NULL)) != 0) {
		power_stop();
		return err_set(-rc, "cannot start the power poller: %s", strerror(rc));
	}
	pw.poller_started = cfg.power_poll != 0;
	return 0;
}

void power_stop(void)
{
	pthread_mutex_lock(&pw.lock);
	pw.stopping = true;
	pthread_cond_broadcast(&pw.wake);
	pthread_cond_broadcast(&pw.poll_wake);
	pthread_mutex_unlock(&pw.lock);
	if (pw.poller_started)
		pthread_join(pw.poller, NULL);
	for (unsigned i = 0; i < pw.nworkers; i++)
		pthread_join(pw.workers[i], NULL);
	pw.poller_started = false;
	pw.nworkers = 0;
}

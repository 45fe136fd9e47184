/*
 * Host operations: finding a booting machine, enrolling, changing and deleting hosts,
 * recording inventory and what agents report. Each public operation is one transaction,
 * most of them through hosts_update (find, change, write, commit and notify, or roll back);
 * hosts_identify runs inside its caller's (boot.c), so that identifying a machine and
 * issuing its token commit together. Status changes go through host_transition, which
 * follows the lifecycle table (lib/lifecycle.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anemosd.h"
#include "log.h"
#include "utf8.h"

static json_t *json_string_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *time_or_null(int64_t t)
{
	char when[32];

	if (!t)
		return json_null();
	time_iso8601((time_t)t, when);
	return json_string(when);
}

/* The install progress as the API shows it: bytes, total, percent, time and message. */
static json_t *progress_to_json(const char *text)
{
	json_t *p = text ? json_loads(text, 0, NULL) : NULL;
	json_int_t bytes, total;
	char when[32];

	if (!json_is_object(p)) {
		json_decref(p);
		return json_null();
	}
	bytes = json_integer_value(json_object_get(p, "bytes"));
	total = json_integer_value(json_object_get(p, "total"));
	time_iso8601((time_t)json_integer_value(json_object_get(p, "time")), when);
	json_object_set_new(p, "time", json_string(when));
	json_object_set_new(p, "percent", json_real(total > 0 ? 100.0 * (double)bytes / (double)total : 0.0));
	return p;
}

/* The install settings as answers show them: secrets as SECRET_MASK, and how long each is
 * into *sizes ({"cloud_init_user_data": {"bytes": N}}, a new object). */
static json_t *install_masked(const char *text, json_t **sizes)
{
	json_t *install = json_loads(text ? text : "{}", 0, NULL), *v;
	const char *key;

	*sizes = json_object();
	json_object_foreach(install, key, v)
		if (install_setting_secret(key) && json_is_string(v)) {
			json_object_set_new(*sizes, key, json_pack("{s:I}", "bytes", (json_int_t)json_string_length(v)));
			json_object_set_new(install, key, json_string(SECRET_MASK));
		}
	return install;
}

json_t *host_to_json(const struct host *h, bool with_inventory)
{
	json_t *macs = json_array(), *keys, *inventory = NULL, *o, *sizes;

	for (size_t i = 0; i < h->nmacs; i++)
		json_array_append_new(macs, json_string(h->macs[i]));
	keys = json_loads(h->ssh_keys, 0, NULL);
	if (!json_is_array(keys)) {
		json_decref(keys);
		keys = json_array();
	}
	if (with_inventory && h->inventory)
		inventory = json_loads(h->inventory, 0, NULL);
	o = json_pack("{s:I, s:o, s:s, s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		      "id", (json_int_t)h->id,
		      "hostname", json_string_or_null(h->hostname),
		      "status", host_status_name(h->status),
		      "next_boot", boot_action_name(h->next_boot),
		      "image", json_string_or_null(h->image),
		      "once", h->once,
		      "macs", macs,
		      "uuid", json_string_or_null(h->uuid),
		      "serial", json_string_or_null(h->serial),
		      "vendor", json_string_or_null(h->vendor),
		      "product", json_string_or_null(h->product),
		      "asset", json_string_or_null(h->asset),
		      "ssh_authorized_keys", keys,
		      "inventory", inventory ? inventory : json_null(),
		      "last_seen", time_or_null(h->last_seen),
		      "created", time_or_null(h->created),
		      "updated", time_or_null(h->updated));
	json_object_set_new(o, "progress", progress_to_json(h->progress));
	json_object_set_new(o, "summary", h->summary ? json_loads(h->summary, 0, NULL) : json_null());
	json_object_set_new(o, "install", install_masked(h->install, &sizes));
	json_object_set_new(o, "install_secrets", sizes);
	json_object_set_new(o, "tags", json_loads(h->tags ? h->tags : "[]", 0, NULL));
	json_object_set_new(o, "attributes", json_loads(h->attributes ? h->attributes : "{}", 0, NULL));
	json_object_set_new(o, "bmc", power_bmc_to_json(h));
	json_object_set_new(o, "bmc_enroll", bmc_enroll_to_json(h));
	json_object_set_new(o, "power", power_state_to_json(h));
	json_object_set_new(o, "drift", h->drift ? json_loads(h->drift, 0, NULL) : json_null());
	return o;
}

/* A host write transaction (db_begin), after the boot records queued so far (seen.c): a
 * host's events stay in the order they happened. */
static int hosts_begin(void)
{
	seen_flush();
	return db_begin();
}

int hosts_commit(int64_t host_id)
{
	int rc = db_commit();

	if (rc == 0)
		notify_host_changed(host_id);
	return rc;
}

/* The work of one host write transaction other than a change of one host (hosts_update):
 * 0 or -errno; *host_id the host to notify once committed (0: none). */
typedef int (*hosts_work_fn)(void *arg, int64_t *host_id);

struct hosts_txn {
	hosts_work_fn work;
	void *arg;
	int64_t host_id;
};

static int hosts_txn_work(void *arg)
{
	struct hosts_txn *t = arg;

	return t->work(t->arg, &t->host_id);
}

/* Runs work(arg, ...) as one transaction (db_txn), after the boot records queued so far
 * (hosts_begin); the host it named is notified once committed. */
static int hosts_txn(hosts_work_fn work, void *arg)
{
	struct hosts_txn t = { .work = work, .arg = arg };
	int rc;

	seen_flush();
	if ((rc = db_txn(hosts_txn_work, &t)) == 0 && t.host_id > 0)
		notify_host_changed(t.host_id);
	return rc;
}

/* Who this thread's request acts for (hosts_actor_set), or "". */
static __thread char actor[65];

void hosts_actor_set(const char *name)
{
	snprintf(actor, sizeof(actor), "%s", name ? name : "");
}

int hosts_add_event(int64_t host_id, const char *source, const char *level, const char *phase,
		    const char *fmt, ...)
{
	struct event ev = { .host_id = host_id, .source = source, .level = level, .phase = phase,
			    .bytes = -1, .total = -1, .actor = actor[0] ? actor : NULL };
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	ev.message = utf8_scrub(message);	/* cut mid-character, or an agent's bytes */
	return db_event_add(&ev, NULL);
}

bool hosts_event_throttled(int64_t host_id, const char *kind)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { int64_t host_id; const char *kind; time_t last; } slots[64];
	time_t now = time(NULL);
	size_t i = (size_t)((uint64_t)host_id * 31 + (uintptr_t)kind) % 64;
	bool throttled;

	pthread_mutex_lock(&lock);
	throttled = slots[i].host_id == host_id && slots[i].kind == kind && now - slots[i].last < 10;
	if (!throttled) {
		slots[i].host_id = host_id;
		slots[i].kind = kind;
		slots[i].last = now;
	}
	pthread_mutex_unlock(&lock);
	return throttled;
}

int host_transition(struct host *h, enum host_event event)
{
	enum host_status to;

	if (host_lifecycle_next(h->status, event, &to) < 0)
		return err_set(-EBUSY, "host %lld is %s: %s is refused in that status", (long long)h->id,
			       host_status_name(h->status), host_event_name(event));
	h->status = to;
	return 0;
}

/* Turns a constraint failure on insert/update into a message naming the culprit. */
static int explain_conflict(int rc, const struct host *h)
{
	if (rc == -EEXIST && h->hostname)
		return err_set(-EEXIST, "hostname '%s' is taken by another host", h->hostname);
	return rc;
}

int hosts_update(const char *ref, int64_t id, host_change_fn change, void *arg, struct host *out)
{
	struct host h;
	int rc;

	if ((rc = hosts_begin()) < 0)
		return rc;
	if ((rc = ref ? db_host_find_by_ref(ref, &h) : db_host_get(id, &h)) < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = change(&h, arg)) == HOSTS_UNCHANGED || rc == HOSTS_QUIET) {
		rc = rc == HOSTS_QUIET ? db_commit() : (db_rollback(), 0);
		if (out && rc == 0)
			*out = h;
		else
			host_free(&h);
		return rc;
	}
	if (rc < 0 || (rc = explain_conflict(db_host_update(&h), &h)) < 0 ||
	    (out && (rc = db_host_get(h.id, out)) < 0)) {
		db_rollback();
		host_free(&h);
		return rc;
	}
	if ((rc = hosts_commit(h.id)) < 0 && out)
		host_free(out);
	host_free(&h);
	return rc;
}

/* Identifies a booting machine: a known MAC first, then the SMBIOS UUID, then the serial.
 * Placeholder UUIDs and serials are dropped first: they are neither matched nor stored. A
 * machine found by UUID or serial booting from a NIC we did not know gets that MAC added,
 * so it stays one host whichever NIC it boots from. Unknown machines become new hosts that
 * discover (with create; else -ENOENT and nothing written). Must run inside a transaction:
 * two NICs of one machine asking at once then see each other's work instead of racing. */
int hosts_identify(const struct boot_identity *given, bool create, struct host *out)
{
	struct boot_identity ident = *given;
	struct host fresh = { 0 };
	const char *how = "MAC";
	size_t held;
	int64_t id;
	int rc;

	if (ident.uuid && uuid_is_placeholder(ident.uuid))
		ident.uuid = NULL;
	if (ident.serial && serial_is_placeholder(ident.serial))
		ident.serial = NULL;
	rc = db_host_find_by_mac(ident.mac, &id);
	if (rc == -ENOENT && ident.uuid) {
		how = "SMBIOS UUID";
		rc = db_host_find_by_uuid(ident.uuid, &id);
	}
	if (rc == -ENOENT && ident.serial) {
		how = "serial";
		rc = db_host_find_by_serial(ident.serial, ident.vendor, &id);
	}
	if (rc == 0 && strcmp(how, "MAC") != 0) {
		if ((rc = db_host_get(id, out)) < 0)
			return rc;
		held = out->nmacs;
		host_free(out);
		/* A host holds at most HOST_MACS_MAX MACs, never a zero or multicast one: a
		 * UUID or serial (printed on stickers) must not let anyone pile MACs onto it. */
		if (!mac_is_nic(ident.mac) || held >= HOST_MACS_MAX)
			rc = hosts_add_event(id, "server", "warn", "boot", "booted from NIC %s (matched by %s), "
					     "not added: %s", ident.mac, how, mac_is_nic(ident.mac)
					     ? "the host has its most MACs already" : "not a NIC's MAC");
		else if ((rc = db_host_add_mac(id, ident.mac)) == 0)
			rc = hosts_add_event(id, "server", "info", "boot", "booted from a new NIC %s (matched by %s)",
					     ident.mac, how);
		if (rc < 0)
			return rc;
	} else if (rc == -ENOENT && !create) {
		return rc;
	} else if (rc == -ENOENT) {
		if ((rc = db_host_insert(&fresh, &id)) < 0 || (rc = db_host_add_mac(id, ident.mac)) < 0 ||
		    (rc = hosts_add_event(id, "server", "info", "boot", "first seen, booting from %s",
					  ident.mac)) < 0)
			return rc;
		log_info("new host %lld (%s)", (long long)id, ident.mac);
	} else if (rc < 0) {
		return rc;
	}
	if ((rc = db_host_seen(id, &ident)) < 0)
		return rc;
	return db_host_get(id, out);
}

int hosts_list(const char *query, int64_t after, int64_t limit, json_t **out)
{
	struct host *hosts;
	size_t n;
	json_t *list;
	int rc;

	seen_flush(); /* last seen as the boots answered said */
	/* one more than asked: whether there is a next page */
	if ((rc = db_host_list(query, after, limit > 0 ? limit + 1 : 0, &hosts, &n)) < 0)
		return rc;
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		if (limit <= 0 || i < (size_t)limit) {
			json_array_append_new(list, host_to_json(&hosts[i], false));
			after = hosts[i].id;
		}
		host_free(&hosts[i]);
	}
	*out = json_pack("{s:o}", "hosts", list);
	if (limit > 0) {
		char next[24];

		snprintf(next, sizeof(next), "%lld", (long long)after);
		json_object_set_new(*out, "next", n > (size_t)limit ? json_string(next) : json_null());
	}
	free(hosts);
	return 0;
}

int hosts_get(const char *ref, struct host *out)
{
	seen_flush();
	return db_host_find_by_ref(ref, out);
}

/* Replaces a malloc'd string field; takes a copy of value (which may be NULL). */
static int set_field(char **field, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return err_set(-ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* Replaces a malloc'd JSON text field with v's compact text. */
static int set_json_field(char **field, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);

	if (!text)
		return err_set(-ENOMEM, "out of memory");
	free(*field);
	*field = text;
	return 0;
}

static int apply_hostname(struct host *h, json_t *v)
{
	char name[254];
	int rc;

	if (json_is_null(v))
		return set_field(&h->hostname, NULL);
	if (!json_is_string(v))
		return err_set(-EINVAL, "hostname must be a string or null");
	if ((rc = hostname_check(json_string_value(v), name, sizeof(name))) < 0)
		return rc;
	return set_field(&h->hostname, name);
}

static int apply_next_boot(struct host *h, json_t *v)
{
	char names[128];

	if (boot_action_parse(json_string_value(v), &h->next_boot) < 0) {
		boot_action_list(names, sizeof(names), ", ");
		return err_set(-EINVAL, "next_boot must be one of %s", names);
	}
	return 0;
}

static int apply_image(struct host *h, json_t *v)
{
	struct image im;
	int rc;

	if (json_is_null(v))
		return set_field(&h->image, NULL);
	if (!json_is_string(v))
		return err_set(-EINVAL, "image must be an image name or null");
	rc = db_image_get(json_string_value(v), &im);
	if (rc == -ENOENT)
		return err_set(-EINVAL, "no image '%s'; add it first (anemosctl image add)", json_string_value(v));
	if (rc < 0)
		return rc;
	image_free(&im);
	return set_field(&h->image, json_string_value(v));
}

static int apply_once(struct host *h, json_t *v)
{
	if (!json_is_boolean(v))
		return err_set(-EINVAL, "once must be true or false");
	h->once = json_is_true(v);
	return 0;
}

static int apply_status(struct host *h, json_t *v)
{
	enum host_status wanted;
	enum host_event event;
	char names[128];

	if (host_status_parse(json_string_value(v), &wanted) < 0 || host_operator_event(wanted, &event) < 0) {
		host_operator_status_list(names, sizeof(names), ", ");
		return err_set(-EINVAL, "operators may set status to %s", names);
	}
	/* A status set by an operator, even the one the host has, is the operator's word on
	 * what the host does now: it ends the boot in progress (its agent token), wherever
	 * that agent runs. It is how a host whose boot is held elsewhere is released. */
	return host_transition(h, event) < 0 ? -EBUSY : db_agent_token_revoke(h->id, false);
}

static int apply_ssh_keys(struct host *h, json_t *v)
{
	int rc = ssh_keys_check(v);

	return rc < 0 ? rc : set_json_field(&h->ssh_keys, v);
}

/* Puts the host's own value back for each secret that v sends as SECRET_MASK (what a client
 * read in an answer and sends back unchanged). */
static int install_unmask(const struct host *h, json_t *v)
{
	json_t *current = NULL, *value;
	const char *key;
	int rc = 0;

	json_object_foreach(v, key, value) {
		if (!install_setting_secret(key) || !json_is_string(value) || strcmp(json_string_value(value), SECRET_MASK))
			continue;
		if (!current && !(current = json_loads(h->install ? h->install : "{}", 0, NULL))) {
			rc = err_set(-ENOMEM, "out of memory");
			break;
		}
		if (!json_is_string(json_object_get(current, key))) {
			rc = err_set(-EINVAL, "install.%s: \"%s\" stands for the host's value, and it has none", key,
				     SECRET_MASK);
			break;
		}
		json_object_set(v, key, json_object_get(current, key));
	}
	json_decref(current);
	return rc;
}

static int apply_install(struct host *h, json_t *v)
{
	json_t *copy = json_deep_copy(v);
	int rc = !copy ? err_set(-ENOMEM, "out of memory") : install_unmask(h, copy);

	if (rc == 0 && (rc = install_settings_check(copy)) == 0)
		rc = set_json_field(&h->install, copy);
	json_decref(copy);
	return rc;
}

/* "drift": null acknowledges the hardware changes the host keeps; nothing else may be set. */
static int apply_drift(struct host *h, json_t *v)
{
	if (!json_is_null(v))
		return err_set(-EINVAL, "drift can only be acknowledged: send \"drift\": null");
	return set_field(&h->drift, NULL);
}

/* The fields an operator may set, in the order they are applied. */
static const struct {
	const char *key;
	int (*apply)(struct host *h, json_t *value);
} host_fields[] = {
	{ "hostname", apply_hostname },
	{ "next_boot", apply_next_boot },
	{ "image", apply_image },
	{ "once", apply_once },
	{ "status", apply_status },
	{ "ssh_authorized_keys", apply_ssh_keys },
	{ "install", apply_install },
	{ "tags", tags_apply },
	{ "attributes", attributes_apply },
	{ "bmc", power_bmc_apply },
	{ "bmc_enroll", bmc_enroll_apply },
	{ "drift", apply_drift },
};

/* Applies the operator-settable fields present in req to h; validates each. */
int hosts_apply(struct host *h, json_t *req)
{
	json_t *v;
	int rc;

	for (size_t i = 0; i < sizeof(host_fields) / sizeof(host_fields[0]); i++)
		if ((v = json_object_get(req, host_fields[i].key)) && (rc = host_fields[i].apply(h, v)) < 0)
			return rc;
	if (h->next_boot == BOOT_INSTALL && !h->image)
		return err_set(-EINVAL, "next_boot install needs an image; set \"image\" too");
	return 0;
}

/* Enrolls the host req describes, inside the caller's transaction: its id into *id. */
static int enroll_one(json_t *req, int64_t *id)
{
	static const char *const allowed[] = { "mac", "hostname", "next_boot", "image", "once",
					       "ssh_authorized_keys", "install", "tags", "attributes", NULL };
	struct host h = { .status = HOST_NEW, .next_boot = BOOT_DISCOVER };
	char mac[MAC_LEN + 1];
	int rc;

	if (!json_is_object(req))
		return err_set(-EINVAL, "a host to enroll is a JSON object");
	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	if (mac_parse(json_string_value(json_object_get(req, "mac")), mac) < 0)
		return err_set(-EINVAL, "\"mac\" is required, as aa:bb:cc:dd:ee:ff");
	if ((rc = hosts_apply(&h, req)) < 0)
		goto out;
	if (db_host_find_by_mac(mac, id) == 0) {
		rc = err_set(-EEXIST, "MAC %s belongs to host %lld already", mac, (long long)*id);
		goto out;
	}
	if ((rc = db_host_insert(&h, id)) < 0) {
		rc = explain_conflict(rc, &h);
		goto out;
	}
	if ((rc = db_host_add_mac(*id, mac)) == 0)
		rc = hosts_add_event(*id, "operator", "info", "enroll", "enrolled with MAC %s, next boot %s",
				     mac, boot_action_name(h.next_boot));
out:
	host_free(&h);
	return rc;
}

struct enroll_work {
	json_t *req;
	struct host *out;
	bool got;                   /* *out was read (to be freed if the commit fails) */
	json_t *list;               /* hosts_enroll_many: the hosts enrolled, as JSON */
};

static int enroll_work(void *arg, int64_t *id)
{
	struct enroll_work *w = arg;
	int rc;

	if ((rc = enroll_one(w->req, id)) < 0 || (rc = db_host_get(*id, w->out)) < 0)
		return rc;
	w->got = true;
	return 0;
}

int hosts_enroll(json_t *req, struct host *out)
{
	struct enroll_work w = { .req = req, .out = out };
	int rc = hosts_txn(enroll_work, &w);

	if (rc < 0 && w.got)
		host_free(out);
	return rc;
}

#define ENROLL_MANY_MAX 10000

/* Every host of w->req, each as enroll_work, onto w->list; nothing to notify until all
 * are committed. */
static int enroll_many_work(void *arg, int64_t *notify)
{
	struct enroll_work *w = arg;
	struct host h;
	json_t *one;
	int64_t id;
	size_t i;
	int rc;

	(void)notify;
	json_array_foreach(w->req, i, one) {
		if ((rc = enroll_one(one, &id)) < 0 || (rc = db_host_get(id, &h)) < 0) {
			char why[400];

			snprintf(why, sizeof(why), "%s", err_msg());
			return err_set(rc, "host %zu of %zu: %s; none enrolled", i + 1, json_array_size(w->req), why);
		}
		json_array_append_new(w->list, host_to_json(&h, false));
		host_free(&h);
	}
	return 0;
}

int hosts_enroll_many(json_t *req, json_t **out)
{
	struct enroll_work w = { .req = req };
	json_t *list, *one;
	size_t i;
	int rc = 0;

	if (!json_array_size(req) || json_array_size(req) > ENROLL_MANY_MAX)
		return err_set(-EINVAL, "a bulk enroll is an array of 1 to %d hosts", ENROLL_MANY_MAX);
	if (!(w.list = json_array()))
		return err_set(-ENOMEM, "out of memory");
	if ((rc = hosts_txn(enroll_many_work, &w)) < 0) {
		json_decref(w.list);
		return rc;
	}
	list = w.list;
	json_array_foreach(list, i, one)
		notify_host_changed((int64_t)json_integer_value(json_object_get(one, "id")));
	*out = json_pack("{s:o}", "hosts", list);
	return 0;
}

/* Applies an operator's PATCH; its event says what changed, old → new (history.c). */
static int patch_change(struct host *h, void *arg)
{
	json_t *before = host_fields_json(h), *after = NULL;
	char *changes = NULL;
	int rc = before ? hosts_apply(h, arg) : err_set(-ENOMEM, "out of memory");

	if (rc == 0 && (!(after = host_fields_json(h)) || !(changes = host_changes_describe(before, after))))
		rc = err_set(-ENOMEM, "out of memory");
	if (rc == 0)
		rc = hosts_add_event(h->id, "operator", "info", "change", "changed %s", changes);
	free(changes);
	json_decref(before);
	json_decref(after);
	return rc;
}

int hosts_patch(const char *ref, json_t *req, struct host *out)
{
	static const char *const allowed[] = { "hostname", "next_boot", "image", "once", "status",
					       "ssh_authorized_keys", "install", "tags", "attributes", "bmc", "bmc_enroll",
					       "drift", NULL };
	int rc;

	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	return hosts_update(ref, 0, patch_change, req, out);
}

struct delete_work {
	const char *ref;
	int64_t id;
};

static int delete_work(void *arg, int64_t *id)
{
	struct delete_work *w = arg;
	struct host h;
	int rc;

	if ((rc = db_host_find_by_ref(w->ref, &h)) < 0)
		return rc;
	*id = w->id = h.id;
	host_free(&h);
	return db_host_delete(w->id);
}

int hosts_delete(const char *ref)
{
	struct delete_work w = { .ref = ref };
	int rc = hosts_txn(delete_work, &w);

	if (rc == 0)
		log_info("host %lld deleted", (long long)w.id);
	return rc;
}

int hosts_events(const char *ref, int limit, json_t **out)
{
	struct host h;
	json_t *events;
	int rc;

	seen_flush();
	if ((rc = db_host_find_by_ref(ref, &h)) < 0)
		return rc;
	events = json_array();
	rc = db_event_list(h.id, limit, events);
	host_free(&h);
	if (rc < 0) {
		json_decref(events);
		return rc;
	}
	*out = json_pack("{s:o}", "events", events);
	return 0;
}

static const char *inventory_string(json_t *inv, const char *section, const char *key)
{
	return json_string_value(json_object_get(json_object_get(inv, section), key));
}

/* What one inventory may say: more NICs is refused; more MACs nobody holds yet than
 * INVENTORY_NEW_MACS are left unregistered (an agent cannot claim the MACs of machines not
 * yet enrolled), and a host never holds more than HOST_MACS_MAX; identity facts longer than
 * IDENTITY_MAX are not stored. */
#define INVENTORY_NICS_MAX 256
#define INVENTORY_NEW_MACS 32
#define IDENTITY_MAX 128

/* One identity fact into a column, unless it is too long to be one (then a warning). */
static int record_fact(struct host *h, char **field, const char *name, const char *value)
{
	if (strlen(value) > IDENTITY_MAX)
		return hosts_add_event(h->id, "server", "warn", "inventory", "%s of %zu bytes not stored "
				       "(at most %d)", name, strlen(value), IDENTITY_MAX);
	return set_field(field, value);
}

/* The identity facts of an inventory into the host's columns; placeholders are dropped. */
static int record_identity(struct host *h, json_t *inv)
{
	const char *s;
	char uuid[UUID_LEN + 1];
	int rc = 0;

	if ((s = inventory_string(inv, "system", "uuid")) && uuid_parse(s, uuid) == 0 &&
	    !uuid_is_placeholder(uuid) && (rc = set_field(&h->uuid, uuid)) < 0)
		return rc;
	if ((s = inventory_string(inv, "system", "serial")) && !serial_is_placeholder(s) &&
	    (rc = record_fact(h, &h->serial, "serial", s)) < 0)
		return rc;
	if ((s = inventory_string(inv, "system", "vendor")) && (rc = record_fact(h, &h->vendor, "vendor", s)) < 0)
		return rc;
	if ((s = inventory_string(inv, "system", "product")) && (rc = record_fact(h, &h->product, "product", s)) < 0)
		return rc;
	if ((s = inventory_string(inv, "chassis", "asset_tag")) && (rc = record_fact(h, &h->asset, "asset tag", s)) < 0)
		return rc;
	return 0;
}

/* Every NIC's MAC of the inventory onto host h: a MAC another host holds stays there (an
 * error event says so); zero and multicast MACs are no NIC's; at most INVENTORY_NEW_MACS
 * new ones per inventory. */
static int record_macs(const struct host *h, json_t *inv, size_t *added)
{
	size_t i, refused = 0;
	json_t *nic;
	int rc;

	json_array_foreach(json_object_get(inv, "nics"), i, nic) {
		char mac[MAC_LEN + 1];
		int64_t owner;

		if (mac_parse(json_string_value(json_object_get(nic, "mac")), mac) < 0 || !mac_is_nic(mac))
			continue;
		rc = db_host_find_by_mac(mac, &owner);
		if (rc == -ENOENT && (*added == INVENTORY_NEW_MACS || h->nmacs + *added >= HOST_MACS_MAX)) {
			refused++;
		} else if (rc == -ENOENT) {
			if ((rc = db_host_add_mac(h->id, mac)) < 0)
				return rc;
			(*added)++;
		} else if (rc < 0) {
			return rc;
		} else if (owner != h->id &&
			   (rc = hosts_add_event(h->id, "server", "error", "inventory",
						 "NIC %s is registered to host %lld; left there", mac,
						 (long long)owner)) < 0) {
			return rc;
		}
	}
	if (refused)
		return hosts_add_event(h->id, "server", "error", "inventory", "%zu more new MACs not registered: "
				       "an inventory registers at most %d, a host holds at most %d", refused,
				       INVENTORY_NEW_MACS, HOST_MACS_MAX);
	return 0;
}

/* Compares the host's last inventory with inv: each hardware change is a warning event (at
 * most DRIFT_EVENTS_MAX an inventory, then one that counts the rest), and the host keeps the
 * newest DRIFT_KEPT_MAX (h->drift) until an operator acknowledges them: an agent reporting
 * ever other hardware cannot grow the host, its answers or its history without bound. */
#define DRIFT_EVENTS_MAX 16
#define DRIFT_KEPT_MAX 64
static int record_drift(struct host *h, json_t *changes)
{
	json_t *kept, *c;
	size_t i;
	int rc = 0;

	kept = h->drift ? json_loads(h->drift, 0, NULL) : json_array();
	if (!changes || !kept)
		rc = err_set(-ENOMEM, "out of memory");
	json_array_foreach(rc == 0 ? changes : NULL, i, c) {
		char *words = i < DRIFT_EVENTS_MAX ? drift_words(c) : NULL;

		json_object_set_new(c, "time", json_integer((json_int_t)time(NULL)));
		if (i < DRIFT_EVENTS_MAX)
			rc = hosts_add_event(h->id, "server", "warn", "drift", "hardware changed: %s", words ? words : "?");
		else if (i == DRIFT_EVENTS_MAX)
			rc = hosts_add_event(h->id, "server", "warn", "drift", "hardware changed: %zu more changes (host show "
					     "lists the newest %d)", json_array_size(changes) - i, DRIFT_KEPT_MAX);
		free(words);
		if (rc < 0 || json_array_append(kept, c) < 0)
			break;
	}
	while (rc == 0 && json_array_size(kept) > DRIFT_KEPT_MAX)
		json_array_remove(kept, 0);
	if (rc == 0 && json_array_size(changes) > 0)
		rc = set_json_field(&h->drift, kept);
	json_decref(kept);
	return rc;
}

/* A NIC of inv without "lldp" was not listened on (an install or rescue boot, anemos-inventory
 * without --lldp): it keeps the switch port the host's last inventory recorded for its MAC
 * (*changed set when one did). A NIC listened on says so itself ("lldp": null when it heard
 * nothing). */
static int keep_switch_ports(json_t *old, json_t *inv, bool *changed)
{
	json_t *nic, *was;
	size_t i, j;
	int rc = 0;

	json_array_foreach(json_object_get(inv, "nics"), i, nic) {
		const char *mac = json_string_value(json_object_get(nic, "mac"));

		if (!json_is_object(nic) || !mac || json_object_get(nic, "lldp"))
			continue;
		json_array_foreach(json_object_get(old, "nics"), j, was) {
			const char *was_mac = json_string_value(json_object_get(was, "mac"));
			json_t *lldp = json_object_get(was, "lldp");

			if (was_mac && !strcasecmp(was_mac, mac) && json_is_object(lldp)) {
				if (json_object_set(nic, "lldp", lldp) < 0)
					rc = err_set(-ENOMEM, "out of memory");
				*changed = true;
				break;
			}
		}
	}
	return rc;
}

/* An inventory to record: the parsed JSON, and its compact text (the agent's own, or made
 * before the write transaction: writing 11 KB of JSON out is no work for the writers' lock);
 * NULL when there is none. Both the caller's. And what inventory_prepare read and worked out
 * before the transaction from the host's last inventory (its text, parsed, and the drift
 * from it to inv), used when the host still has that text; all NULL when not prepared. */
struct inventory_post {
	json_t *inv;
	const char *text, *rest;
	char *old_text;
	json_t *old, *changes;
};

/* Outside the write transaction: the host's last inventory, parsed, and its drift to the
 * posted one (parsing 11 KB twice under the writers' lock was most of a re-registration's
 * time there). Nothing when the host has none or this fails: inventory_change then works
 * from what the transaction reads. */
static void inventory_prepare(struct inventory_post *post, int64_t host_id)
{
	if (db_host_inventory(host_id, &post->old_text) < 0 || !post->old_text)
		return;
	if ((post->old = json_loads(post->old_text, 0, NULL)))
		post->changes = inventory_drift(post->old, post->inv);
	if (!post->changes) {
		json_decref(post->old);
		post->old = NULL;
	}
}

/* The host's last inventory (h->inventory, not NULL) parsed into *old and its drift to inv
 * into *changes, both new references: what inventory_prepare made when it read the same
 * text, else made now. 0 or -ENOMEM. */
static int inventory_old(const struct host *h, const struct inventory_post *post, json_t **old, json_t **changes)
{
	if (post->old && post->changes && !strcmp(post->old_text, h->inventory)) {
		*old = json_incref(post->old);
		*changes = json_incref(post->changes);
		return 0;
	}
	*old = json_loads(h->inventory, 0, NULL);
	*changes = *old ? inventory_drift(*old, post->inv) : json_array();
	if (!*changes) {
		json_decref(*old);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

/* Stores the posted inventory's text into h->inventory: the one made beforehand unless the
 * switch ports kept from the last inventory changed inv since. */
static int inventory_store(struct host *h, const struct inventory_post *post, bool changed)
{
	char *text = changed || !post->text ? inventory_body_text(post->inv, post->rest) : strdup(post->text);

	if (!text)
		return err_set(-ENOMEM, "out of memory");
	free(h->inventory);
	h->inventory = text;
	h->has_inventory = h->inventory_changed = true;
	return 0;
}

static int inventory_change(struct host *h, void *arg)
{
	const struct inventory_post *post = arg;
	json_t *inv = post->inv;
	bool again = h->has_inventory, changed = false;
	json_t *old = NULL, *changes = NULL;
	size_t added = 0;
	int rc = db_host_load_inventory(h);

	if (rc == 0 && again)
		rc = inventory_old(h, post, &old, &changes);

	if (rc == 0 && again && (rc = record_drift(h, changes)) == 0)
		rc = keep_switch_ports(old, inv, &changed);
	json_decref(old);
	json_decref(changes);
	if (rc < 0 || (rc = inventory_store(h, post, changed)) < 0 ||
	    (rc = record_identity(h, inv)) < 0 ||
	    (rc = host_transition(h, HOST_EV_INVENTORY)) < 0)
		return rc;
	if ((rc = record_macs(h, inv, &added)) < 0 || (rc = db_host_set_facts(h->id, inv)) < 0)
		return rc;
	if ((rc = hosts_add_event(h->id, "agent", "info", "inventory", "%s (%zu NICs, %zu new MACs)",
				  again ? "inventory updated" : "inventory received",
				  json_array_size(json_object_get(inv, "nics")), added)) < 0)
		return rc;
	/* the discovery rules run on a host's first inventory (rules.c) */
	return again ? 0 : rules_fire(h);
}

/* Stores the inventory an agent posted: the raw JSON, the identity facts in columns, and
 * every NIC's MAC on the host (so the next boot from any NIC finds it). A MAC that another
 * host holds stays there and the conflict is recorded as an event, never silently moved. */
int hosts_record_inventory_text(int64_t host_id, json_t *inv, const char *text, const char *rest,
				struct host *out)
{
	struct inventory_post post = { .inv = inv, .text = text, .rest = rest };
	char *made = NULL;
	int rc;

	if (!json_is_object(inv))
		return err_set(-EINVAL, "the inventory must be a JSON object");
	if (json_object_get(inv, "nics") && !json_is_array(json_object_get(inv, "nics")))
		return err_set(-EINVAL, "inventory \"nics\" must be an array");
	if (json_array_size(json_object_get(inv, "nics")) > INVENTORY_NICS_MAX)
		return err_set(-EINVAL, "inventory \"nics\" lists %zu NICs; at most %d",
			       json_array_size(json_object_get(inv, "nics")), INVENTORY_NICS_MAX);
	if (!post.text)
		post.text = made = inventory_body_text(inv, rest);
	inventory_prepare(&post, host_id);
	rc = hosts_update(NULL, host_id, inventory_change, &post, out);
	free(made);
	free(post.old_text);
	json_decref(post.old);
	json_decref(post.changes);
	return rc;
}

int hosts_record_inventory(int64_t host_id, json_t *inv, struct host *out)
{
	return hosts_record_inventory_text(host_id, inv, NULL, NULL, out);
}

static int json_optional_count(json_t *req, const char *key, int64_t *out)
{
	json_t *v = json_object_get(req, key);

	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(-EINVAL, "\"%s\" must be a non-negative integer", key);
	*out = json_integer_value(v);
	return 0;
}

struct event_work {
	const struct event *ev;
	int64_t id;                 /* the new event's */
};

/* Records w->ev, its host to be notified. */
static int event_work(void *arg, int64_t *host_id)
{
	struct event_work *w = arg;

	*host_id = w->ev->host_id;
	return db_event_add(w->ev, &w->id);
}

int hosts_agent_event(int64_t host_id, json_t *req, json_t **out)
{
	static const char *const allowed[] = { "phase", "message", "level", "bytes", "total", NULL };
	struct event ev = { .host_id = host_id, .source = "agent", .level = "info" };
	struct event_work w = { .ev = &ev };
	json_t *v;
	int64_t id;
	int rc;

	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	ev.message = json_string_value(json_object_get(req, "message"));
	if (!ev.message || strlen(ev.message) > 4096)
		return err_set(-EINVAL, "\"message\" is required (a string of at most 4096 bytes)");
	if ((v = json_object_get(req, "phase")) &&
	    (!(ev.phase = json_string_value(v)) || strlen(ev.phase) > 64))
		return err_set(-EINVAL, "\"phase\" must be a short string");
	if ((v = json_object_get(req, "level"))) {
		ev.level = json_string_value(v);
		if (!ev.level || (strcmp(ev.level, "info") && strcmp(ev.level, "warn") && strcmp(ev.level, "error")))
			return err_set(-EINVAL, "\"level\" must be info, warn or error");
	}
	if ((rc = json_optional_count(req, "bytes", &ev.bytes)) < 0 ||
	    (rc = json_optional_count(req, "total", &ev.total)) < 0)
		return rc;
	if ((rc = hosts_txn(event_work, &w)) < 0)
		return rc;
	id = w.id;
	*out = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:o, s:o}", "id", (json_int_t)id, "source", "agent",
			 "level", ev.level, "phase", ev.phase, "message", ev.message,
			 "bytes", ev.bytes >= 0 ? json_integer(ev.bytes) : json_null(),
			 "total", ev.total >= 0 ? json_integer(ev.total) : json_null());
	return 0;
}

struct done_report {
	enum boot_action mode;
	bool ok;
	const char *why;
};

static int done_change(struct host *h, void *arg)
{
	const struct done_report *r = arg;
	const char *mode = boot_action_name(r->mode);
	bool local = r->ok && r->mode == BOOT_INSTALL && h->once;
	int rc;

	if (local)
		h->next_boot = BOOT_LOCAL;
	if (r->ok)
		rc = hosts_add_event(h->id, "agent", "info", mode, "%s finished%s", mode,
				     local ? "; next boot is local" : "");
	else if ((rc = host_transition(h, HOST_EV_AGENT_FAILED)) == 0)
		rc = hosts_add_event(h->id, "agent", "error", mode, "%s failed: %s", mode,
				     r->why ? r->why : "no reason given");
	return rc < 0 ? rc : db_agent_token_revoke(h->id, false);
}

/* The end of a boot: the agent reports success or failure; its token is revoked either way.
 * A successful install with `once` turns the next boot into `local`; a failure marks the
 * host failed with the agent's reason. */
int hosts_agent_done(int64_t host_id, const char *mode, json_t *req, struct host *out)
{
	static const char *const allowed[] = { "ok", "error", NULL };
	json_t *ok = json_object_get(req, "ok");
	struct done_report r = { .why = json_string_value(json_object_get(req, "error")) };
	int rc;

	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	if (!json_is_boolean(ok))
		return err_set(-EINVAL, "\"ok\" (true or false) is required");
	if (boot_action_parse(mode, &r.mode) < 0)
		return err_set(-EIO, "agent token of unknown mode '%s'", mode);
	r.ok = json_is_true(ok);
	return hosts_update(NULL, host_id, done_change, &r, out);
}

struct phone_home_work {
	const struct agent_token *t;
	char token[128];
};

/* Issues the boot's one phone-home token, if the token as it is in this transaction allows
 * it (another request of the boot may have got it since this one authenticated). */
static int phone_home_work(void *arg, int64_t *host_id)
{
	struct phone_home_work *w = arg;
	struct agent_token now;
	int rc;

	if ((rc = db_agent_token_lookup(w->t->hash, (int64_t)time(NULL), &now)) < 0)
		return rc == -ENOENT ? err_set(-EPERM, "agent token revoked or expired") : rc;
	if (strcmp(now.mode, boot_action_name(BOOT_INSTALL)) != 0)
		return err_set(-EACCES, "only an install boot gets a phone-home token");
	if (now.served & AGENT_SERVED_PHONE_HOME)
		return err_set(-EEXIST, "this boot's phone-home token was issued already");
	*host_id = w->t->host_id;
	if ((rc = token_phone_home_issue(w->t->host_id, w->token, sizeof(w->token))) < 0 ||
	    (rc = db_agent_token_update(now.hash, now.mode, now.served | AGENT_SERVED_PHONE_HOME)) < 0)
		return rc;
	return hosts_add_event(w->t->host_id, "server", "info", "install", "phone-home token issued to the installer");
}

int hosts_phone_home_token(const struct agent_token *t, json_t **out)
{
	struct phone_home_work w = { .t = t };
	char *url = NULL;
	int rc;

	/* made first, so that little can fail once the token is committed */
	if (asprintf(&url, "%s/api/v1/phone-home", public_url()) < 0)
		return err_set(-ENOMEM, "out of memory");
	if ((rc = hosts_txn(phone_home_work, &w)) == 0 &&
	    !(*out = json_pack("{s:s, s:s}", "url", url, "token", w.token)))
		rc = err_set(-ENOMEM, "out of memory");
	explicit_bzero(w.token, sizeof(w.token));
	free(url);
	return rc;
}

static int phone_home_change(struct host *h, void *arg)
{
	int rc;

	if ((rc = host_transition(h, HOST_EV_PHONE_HOME)) < 0 ||
	    (rc = db_host_seen(h->id, &(struct boot_identity){ 0 })) < 0)
		return rc;
	return hosts_add_event(h->id, "system", "info", "deployed", "installed system reported in: %.400s",
			       (const char *)arg);
}

/* The installed system reports in: the host is deployed (unless an operator set it aside),
 * and what the system said is kept as an event. */
int hosts_phone_home(int64_t host_id, json_t *report, struct host *out)
{
	char *text;
	int rc;

	if (!json_is_object(report))
		return err_set(-EINVAL, "the report must be a JSON object");
	if (!(text = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS)))
		return err_set(-ENOMEM, "out of memory");
	rc = hosts_update(NULL, host_id, phone_home_change, text, out);
	free(text);
	return rc;
}

/* The host an adopted inventory already names, by a NIC's MAC, its SMBIOS UUID or its
 * serial: 0 with *id and what matched in how (a static string), or -ENOENT. */
static int adopt_find(json_t *inv, int64_t *id, const char **how, char what[64])
{
	const char *s;
	char uuid[UUID_LEN + 1];
	json_t *nic;
	size_t i;

	json_array_foreach(json_object_get(inv, "nics"), i, nic) {
		char m[MAC_LEN + 1];

		if ((s = json_string_value(json_object_get(nic, "mac"))) && mac_parse(s, m) == 0 &&
		    db_host_find_by_mac(m, id) == 0) {
			*how = "MAC";
			snprintf(what, 64, "%s", m);
			return 0;
		}
	}
	if ((s = inventory_string(inv, "system", "uuid")) && uuid_parse(s, uuid) == 0 && !uuid_is_placeholder(uuid) &&
	    db_host_find_by_uuid(uuid, id) == 0) {
		*how = "SMBIOS UUID";
		snprintf(what, 64, "%s", uuid);
		return 0;
	}
	if ((s = inventory_string(inv, "system", "serial")) && !serial_is_placeholder(s) &&
	    db_host_find_by_serial(s, inventory_string(inv, "system", "vendor"), id) == 0) {
		*how = "serial";
		snprintf(what, 64, "%.63s", s);
		return 0;
	}
	return -ENOENT;
}

struct adoption {
	struct inventory_post post;
	const char *how;   /* for the event */
	struct host *out;  /* a new host's record, read back */
	bool got;          /* *out was read (to be freed if the transaction fails) */
};

/* An adopted host: deployed and booting its disk if it was new, and the inventory recorded
 * as an agent's would be (facts, MACs, event). */
static int adopt_change(struct host *h, void *arg)
{
	struct adoption *a = arg;
	int rc;

	if (h->status == HOST_NEW) {
		if ((rc = host_transition(h, HOST_EV_ADOPTED)) < 0)
			return rc;
		h->next_boot = BOOT_LOCAL;
	}
	if ((rc = hosts_add_event(h->id, "operator", "info", "adopt", "adopted over SSH (%s)", a->how)) < 0)
		return rc;
	return inventory_change(h, &a->post);
}

/*
 * Registers the inventory of a running host (anemos-inventory's output, sent by anemosctl
 * adopt). The inventory comes from the host itself, so it is not trusted to say which host
 * it is: it goes onto the host the operator named (ref), or into a new host, never onto a
 * host it merely names by MAC, UUID or serial (that is a 409 that says how to name it).
 * A host created so is running its own system: status deployed, next boot local.
 */
/* A new host for an adoption (a->out, read back): refused when the inventory names a known
 * host, or names no NIC with a MAC. */
static int adopt_new_work(void *arg, int64_t *id)
{
	struct adoption *a = arg;
	struct host h = { .status = HOST_NEW, .next_boot = BOOT_LOCAL };
	const char *how;
	char what[64];
	int rc;

	if ((rc = adopt_find(a->post.inv, id, &how, what)) == 0)
		return err_set(-EEXIST, "the inventory names %s %s of host %lld; if it is that machine, adopt it "
				       "onto it (anemosctl adopt --host %lld, POST /api/v1/inventory?host=%lld)",
			       how, what, (long long)*id, (long long)*id, (long long)*id);
	a->how = "a new host";
	if ((rc = db_host_insert(&h, id)) == 0 && (rc = db_host_get(*id, &h)) == 0 &&
	    (rc = adopt_change(&h, a)) == 0 && (rc = db_host_update(&h)) == 0 &&
	    (rc = db_host_get(*id, a->out)) == 0) {
		a->got = true;
		if (a->out->nmacs == 0)
			rc = err_set(-EINVAL, "the inventory names no NIC with a MAC: cannot identify the host");
	}
	host_free(&h);
	return rc;
}

int hosts_adopt(json_t *inv, const char *ref, struct host *out)
{
	struct adoption a = { .post = { .inv = inv }, .how = "onto the host the operator named", .out = out };
	int rc;

	if (!json_is_object(inv) || !json_is_array(json_object_get(inv, "nics")))
		return err_set(-EINVAL, "the body must be an inventory (anemos-inventory's output) with \"nics\"");
	if (json_array_size(json_object_get(inv, "nics")) > INVENTORY_NICS_MAX)
		return err_set(-EINVAL, "inventory \"nics\" lists %zu NICs; at most %d",
			       json_array_size(json_object_get(inv, "nics")), INVENTORY_NICS_MAX);
	if (ref)
		return hosts_update(ref, 0, adopt_change, &a, out);
	if ((rc = hosts_txn(adopt_new_work, &a)) < 0 && a.got)
		host_free(out);
	else if (rc == 0)
		log_info("new host %lld (adopted)", (long long)out->id);
	return rc;
}

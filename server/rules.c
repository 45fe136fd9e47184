/*
 * Discovery rules (Foreman's discovery rules, Razor's tags): a named search of the host
 * language (lib/query.h), a priority, an optional max_count, and actions that a host gets
 * when the rule fires on it.
 *
 * When a host's first inventory is recorded (hosts.c, from the agent or anemosctl adopt),
 * inside the same transaction, the enabled rules are tried in order (priority, lower
 * first, then name) and the FIRST one that matches the host as that inventory left it, and
 * has room under its max_count, fires: no other rule does. A rule at its max_count is
 * passed over (an event says so) and the next is tried. Firing applies the actions as an
 * operator's PATCH would (hosts_apply: every field checked, the image must exist), records
 * the claim (rule_hosts) and adds an event with actor "rule:NAME" that says what changed,
 * old → new (history.c). The count check and the claim are in the transaction that records
 * the inventory, and write transactions are serialised (db.c), so hosts registering at
 * once can never make a rule claim more than max_count hosts. Claims outlive their hosts:
 * max_count counts every host a rule ever claimed; deleting the rule forgets them.
 *
 * Actions: {"tags": [...] (added), "attributes": {NAME: value, ...} (set; null removes),
 * "image": NAME, "next_boot": ACTION, "once": bool, "install": {...} (merged into the
 * host's install settings, key by key)}. Secret install settings are never answered
 * (SECRET_MASK instead; sent back, it keeps the rule's value) and events only name them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anemosd.h"
#include "log.h"
#include "query.h"
#include "utf8.h"

#define RULE_NAME_MAX 64
#define RULE_PRIORITY_MAX 1000000
#define RULE_MAX_COUNT_MAX 1000000
#define RULE_PRIORITY_DEFAULT 100

/* A rule's name: 1..RULE_NAME_MAX of a-z 0-9 . _ -, starting with a letter or digit (it is
 * a path segment and part of an event's actor). */
static int rule_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > RULE_NAME_MAX || !isalnum((unsigned char)name[0]))
		return err_set(-EINVAL, "a rule's name is 1 to %d characters of a-z, 0-9, '.', '_' and '-', starting "
			       "with a letter or digit", RULE_NAME_MAX);
	for (const char *c = name; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && !strchr("._-", *c))
			return err_set(-EINVAL, "rule name '%s' may hold a-z, 0-9, '.', '_' and '-' only", name);
	return 0;
}

/* The query must compile (and not be blank): -EINVAL naming the position when it does not. */
static int rule_query_check(json_t *v)
{
	const char *text = json_string_value(v);
	struct query q;
	struct query_error qe;
	int rc;

	if (!text || !text[strspn(text, " \t")])
		return err_set(-EINVAL, "\"query\" is required: a search (docs/search.md), e.g. \"vendor:dell memory>=64G\"");
	if ((rc = query_compile(text, 0, &q, &qe)) < 0)
		return rc == -EINVAL ? err_set(-EINVAL, "query: %s (at character %zu)", qe.msg, qe.pos + 1)
				     : err_set(rc, "out of memory");
	query_free(&q);
	/* A rule's search is its own: a saved search could change under it. */
	if ((rc = query_saved_named(text, &qe)) < 0)
		return rc == -EINVAL ? err_set(-EINVAL, "query: %s (at character %zu)", qe.msg, qe.pos + 1)
				     : err_set(rc, "out of memory");
	return 0;
}

static int apply_actions_image(json_t *v)
{
	struct image im;
	int rc;

	if (!json_is_string(v))
		return err_set(-EINVAL, "actions.image must be an image name");
	if ((rc = db_image_get(json_string_value(v), &im)) == -ENOENT)
		return err_set(-EINVAL, "actions.image: no image '%s'; add it first (anemosctl image add)",
			       json_string_value(v));
	if (rc == 0)
		image_free(&im);
	return rc;
}

/* Puts the old actions' value back for each secret install setting v sends as SECRET_MASK. */
static int actions_unmask(json_t *install, json_t *old_actions)
{
	json_t *old = json_object_get(old_actions, "install"), *value;
	const char *key;

	json_object_foreach(install, key, value) {
		if (!install_setting_secret(key) || !json_is_string(value) || strcmp(json_string_value(value), SECRET_MASK))
			continue;
		if (!json_is_string(json_object_get(old, key)))
			return err_set(-EINVAL, "actions.install.%s: \"%s\" stands for the rule's value, and it has none",
				       key, SECRET_MASK);
		json_object_set(install, key, json_object_get(old, key));
	}
	return 0;
}

/* Checks a rule's actions (changing only install secrets sent back masked, from
 * old_actions, which may be NULL): 0, or -EINVAL with err_set naming the first bad one. */
static int actions_check(json_t *a, json_t *old_actions)
{
	static const char *const allowed[] = { "tags", "attributes", "image", "next_boot", "once", "install", NULL };
	struct host scratch = { 0 };
	enum boot_action action = BOOT_DISCOVER;
	json_t *v;
	char names[128], why[400];
	int rc = 0;

	if (!json_is_object(a) || !json_object_size(a))
		return err_set(-EINVAL, "\"actions\" is required: an object of at least one of tags, attributes, image, "
			       "next_boot, once, install");
	if ((rc = fields_check(a, allowed, "actions")) < 0)
		return rc;
	if ((v = json_object_get(a, "tags"))) {
		if (!json_is_array(v) || !json_array_size(v))
			return err_set(-EINVAL, "actions.tags must be an array of the tags to add");
		rc = tags_apply(&scratch, v);
	}
	if (rc == 0 && (v = json_object_get(a, "attributes")))
		rc = json_object_size(v) || !json_is_object(v) ? attributes_apply(&scratch, v)
							      : err_set(-EINVAL, "actions.attributes must name one or more");
	host_free(&scratch);
	if (rc < 0)
		return rc;
	if ((v = json_object_get(a, "image")) && (rc = apply_actions_image(v)) < 0)
		return rc;
	if ((v = json_object_get(a, "next_boot")) && boot_action_parse(json_string_value(v), &action) < 0) {
		boot_action_list(names, sizeof(names), ", ");
		return err_set(-EINVAL, "actions.next_boot must be one of %s", names);
	}
	if (v && action == BOOT_INSTALL && !json_object_get(a, "image"))
		return err_set(-EINVAL, "actions.next_boot install needs an image; set actions.image too");
	if ((v = json_object_get(a, "once")) && !json_is_boolean(v))
		return err_set(-EINVAL, "actions.once must be true or false");
	if ((v = json_object_get(a, "install"))) {
		if (json_is_object(v) && (rc = actions_unmask(v, old_actions)) < 0)
			return rc;
		if ((rc = install_settings_check(v)) < 0) {
			snprintf(why, sizeof(why), "%s", err_msg());
			return err_set(rc, "actions: %s", why);
		}
	}
	return 0;
}

/* Applies the fields of req (each optional here; the callers require what they need) to r,
 * each checked: 0, or -EINVAL with err_set and r partly changed (the callers drop it). */
static int rule_fields_apply(struct rule *r, json_t *req)
{
	json_t *v, *old = NULL;
	char *text;
	int rc;

	if ((v = json_object_get(req, "query"))) {
		if ((rc = rule_query_check(v)) < 0)
			return rc;
		if (!(text = strdup(json_string_value(v))))
			return err_set(-ENOMEM, "out of memory");
		free(r->query);
		r->query = text;
	}
	if ((v = json_object_get(req, "priority"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > RULE_PRIORITY_MAX)
			return err_set(-EINVAL, "priority must be a whole number from 0 to %d (lower is tried first)",
				       RULE_PRIORITY_MAX);
		r->priority = json_integer_value(v);
	}
	if ((v = json_object_get(req, "max_count"))) {
		if (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 1 ||
					 json_integer_value(v) > RULE_MAX_COUNT_MAX))
			return err_set(-EINVAL, "max_count must be a number of hosts from 1 to %d, or null for no limit",
				       RULE_MAX_COUNT_MAX);
		r->max_count = json_is_null(v) ? -1 : json_integer_value(v);
	}
	if ((v = json_object_get(req, "enabled"))) {
		if (!json_is_boolean(v))
			return err_set(-EINVAL, "enabled must be true or false");
		r->enabled = json_is_true(v);
	}
	if (!(v = json_object_get(req, "actions")))
		return 0;
	if (r->actions && !(old = json_loads(r->actions, 0, NULL)))
		return err_set(-ENOMEM, "out of memory");
	rc = actions_check(v, old);
	json_decref(old);
	if (rc < 0)
		return rc;
	if (!(text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS)))
		return err_set(-ENOMEM, "out of memory");
	free(r->actions);
	r->actions = text;
	return 0;
}

/* The rule as the API shows it: secret install settings masked. A new reference. */
static json_t *rule_to_json(const struct rule *r)
{
	json_t *actions = json_loads(r->actions, 0, NULL), *install = json_object_get(actions, "install"), *v;
	const char *key;
	char created[32], updated[32];

	json_object_foreach(install, key, v)
		if (install_setting_secret(key))
			json_object_set_new(install, key, json_string(SECRET_MASK));
	time_iso8601((time_t)r->created, created);
	time_iso8601((time_t)r->updated, updated);
	return json_pack("{s:I, s:s, s:s, s:I, s:o, s:b, s:o, s:I, s:s, s:s}", "id", (json_int_t)r->id, "name", r->name,
			 "query", r->query, "priority", (json_int_t)r->priority, "max_count",
			 r->max_count >= 0 ? json_integer(r->max_count) : json_null(), "enabled", r->enabled, "actions",
			 actions ? actions : json_object(), "claimed", (json_int_t)r->claimed, "created", created,
			 "updated", updated);
}

int rules_list(json_t **out)
{
	struct rule *rules;
	size_t n;
	json_t *list;
	int rc = db_rule_list(&rules, &n);

	if (rc < 0)
		return rc;
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, rule_to_json(&rules[i]));
		rule_free(&rules[i]);
	}
	free(rules);
	*out = json_pack("{s:o}", "rules", list);
	return *out ? 0 : err_set(-ENOMEM, "out of memory");
}

int rules_get(const char *name, json_t **out)
{
	struct rule r = { 0 };
	json_t *hosts = json_array();
	int rc = hosts ? db_rule_get(name, &r) : err_set(-ENOMEM, "out of memory");

	if (rc == 0 && (rc = db_rule_claim_list(r.id, hosts)) == 0) {
		*out = rule_to_json(&r);
		if (!*out || json_object_set(*out, "hosts", hosts) < 0) {
			json_decref(*out);
			*out = NULL;
			rc = err_set(-ENOMEM, "out of memory");
		}
	}
	rule_free(&r);
	json_decref(hosts);
	return rc;
}

/* Inserts the rule arg is (a struct rule), its id into it: 0 or -errno. */
static int rule_insert_work(void *arg)
{
	struct rule *r = arg;

	return db_rule_insert(r, &r->id);
}

/* Inserts r in one transaction. */
static int rule_insert(struct rule *r)
{
	int rc;

	if ((rc = db_txn(rule_insert_work, r)) == 0)
		log_info("rule %s added", r->name);
	return rc;
}

/* A new rule named name from req (which must have query and actions). */
static int rule_new(const char *name, json_t *req, json_t **out)
{
	struct rule r = { .priority = RULE_PRIORITY_DEFAULT, .max_count = -1, .enabled = true };
	int rc;

	if ((rc = rule_name_check(name)) < 0)
		return rc;
	if (!json_object_get(req, "query"))
		return err_set(-EINVAL, "\"query\" is required: a search (docs/search.md), e.g. \"vendor:dell memory>=64G\"");
	if (!json_object_get(req, "actions"))
		return err_set(-EINVAL, "\"actions\" is required: an object of at least one of tags, attributes, image, "
			       "next_boot, once, install");
	if (!(r.name = strdup(name)))
		return err_set(-ENOMEM, "out of memory");
	if ((rc = rule_fields_apply(&r, req)) == 0 && (rc = rule_insert(&r)) == 0)
		rc = rules_get(name, out);
	rule_free(&r);
	return rc;
}

static const char *const rule_keys[] = { "name", "query", "priority", "max_count", "enabled", "actions", NULL };

int rules_create(json_t *req, json_t **out)
{
	int rc;

	if ((rc = fields_check(req, rule_keys, NULL)) < 0)
		return rc;
	if (!json_is_string(json_object_get(req, "name")))
		return err_set(-EINVAL, "\"name\" is required (1 to %d of a-z, 0-9, '.', '_' and '-')", RULE_NAME_MAX);
	return rule_new(json_string_value(json_object_get(req, "name")), req, out);
}

struct rule_change_work {
	const char *name;
	json_t *req;
	bool whole;
	struct rule r;              /* the rule as changed (rule_free) */
};

/* Reads the rule w->name into w->r and writes it back changed by w->req (see rule_change):
 * 0 or -errno. */
static int rule_change_work(void *arg)
{
	struct rule_change_work *w = arg;
	int rc;

	if ((rc = db_rule_get(w->name, &w->r)) == 0 && w->whole) {
		w->r.priority = RULE_PRIORITY_DEFAULT;
		w->r.max_count = -1;
		w->r.enabled = true;
	}
	if (rc == 0 && (rc = rule_fields_apply(&w->r, w->req)) == 0)
		rc = db_rule_update(&w->r);
	return rc;
}

/* Changes the rule named name by req's fields, read and written in one transaction; with
 * whole, req is the whole rule (query and actions required, the rest back to their
 * defaults unless given). Its claims stay. */
static int rule_change(const char *name, json_t *req, bool whole, json_t **out)
{
	struct rule_change_work w = { .name = name, .req = req, .whole = whole };
	int rc;

	if (whole && (!json_object_get(req, "query") || !json_object_get(req, "actions")))
		return err_set(-EINVAL, "a PUT is the whole rule: \"query\" and \"actions\" are required (PATCH "
			       "changes some fields)");
	if ((rc = db_txn(rule_change_work, &w)) == 0) {
		log_info("rule %s changed", w.r.name);
		rc = rules_get(name, out);
	}
	rule_free(&w.r);
	return rc;
}

/* The body of a PUT or PATCH: the rule's fields; "name", when sent, must be the rule's own. */
static int rule_body_check(const char *name, json_t *req)
{
	json_t *v = json_object_get(req, "name");
	int rc;

	if ((rc = fields_check(req, rule_keys, NULL)) < 0)
		return rc;
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), name)))
		return err_set(-EINVAL, "\"name\" must be the rule's own (%s): a rule is not renamed", name);
	return 0;
}

int rules_put(const char *name, json_t *req, bool *created, json_t **out)
{
	struct rule r = { 0 };
	int rc;

	if ((rc = rule_body_check(name, req)) < 0)
		return rc;
	if ((rc = db_rule_get(name, &r)) == -ENOENT) {
		*created = true;
		return rule_new(name, req, out);
	}
	if (rc < 0)
		return rc;
	rule_free(&r);
	*created = false;
	return rule_change(name, req, true, out);
}

int rules_patch(const char *name, json_t *req, json_t **out)
{
	int rc = rule_body_check(name, req);

	return rc < 0 ? rc : rule_change(name, req, false, out);
}

struct rule_delete_work {
	const char *name;
	struct rule r;              /* the rule deleted (rule_free) */
};

/* Reads the rule w->name into w->r and deletes it: 0 or -errno. */
static int rule_delete_work(void *arg)
{
	struct rule_delete_work *w = arg;
	int rc;

	if ((rc = db_rule_get(w->name, &w->r)) < 0)
		return rc;
	return db_rule_delete(w->r.id);
}

int rules_delete(const char *name)
{
	struct rule_delete_work w = { .name = name };
	int rc;

	if ((rc = db_txn(rule_delete_work, &w)) == 0)
		log_info("rule %s removed (it had claimed %lld hosts)", w.r.name, (long long)w.r.claimed);
	rule_free(&w.r);
	return rc;
}

int rules_test(const char *query, json_t **out)
{
	json_t *q = json_string(query ? query : "");
	json_t *hosts = NULL;
	int rc = q ? rule_query_check(q) : err_set(-ENOMEM, "out of memory");

	json_decref(q);
	if (rc < 0 || (rc = hosts_list(query, 0, 0, &hosts)) < 0)
		return rc;
	json_object_set_new(hosts, "query", json_string(query));
	json_object_set_new(hosts, "count", json_integer((json_int_t)json_array_size(json_object_get(hosts, "hosts"))));
	*out = hosts;
	return 0;
}

/* An event of rule r on host id, its actor "rule:NAME". */
static int rule_event(int64_t host_id, const struct rule *r, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int rule_event(int64_t host_id, const struct rule *r, const char *level, const char *fmt, ...)
{
	char actor[RULE_NAME_MAX + 8], message[1024];
	struct event ev = { .host_id = host_id, .source = "rule", .level = level, .phase = "rule",
			    .bytes = -1, .total = -1, .actor = actor, .message = message };
	va_list ap;

	snprintf(actor, sizeof(actor), "rule:%s", r->name);
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	utf8_scrub(message);	/* cut mid-character */
	return db_event_add(&ev, NULL);
}

/* The PATCH body that r's actions make for host c: tags added, the install settings merged
 * into c's. A new reference, NULL out of memory. */
static json_t *actions_body(const struct host *c, json_t *actions)
{
	json_t *body = json_deep_copy(actions), *install;

	if (!body)
		return NULL;
	if (json_object_get(body, "tags"))
		json_object_set_new(body, "tags", json_pack("{s:O}", "add", json_object_get(actions, "tags")));
	if (json_object_get(actions, "install")) {
		if (!(install = json_loads(c->install ? c->install : "{}", 0, NULL)) ||
		    json_object_update(install, json_object_get(actions, "install")) < 0) {
			json_decref(install);
			json_decref(body);
			return NULL;
		}
		json_object_set_new(body, "install", install);
	}
	return body;
}

/* Fires rule r on *h: 0 when it did (*h is the host it made), 1 when its actions could not
 * apply (an error event says why; *h unchanged), or a negative errno. */
static int rule_apply(struct host *h, const struct rule *r)
{
	json_t *actions = json_loads(r->actions, 0, NULL), *body = NULL, *before = NULL, *after = NULL;
	char *changes = NULL, why[400];
	struct host c;
	int rc;

	if ((rc = db_host_get(h->id, &c)) < 0) {
		json_decref(actions);
		return rc;
	}
	if (!actions || !(body = actions_body(&c, actions)) || !(before = host_fields_json(&c))) {
		rc = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = hosts_apply(&c, body)) == -EINVAL || rc == -EBUSY) {
		snprintf(why, sizeof(why), "%s", err_msg());
		rc = rule_event(h->id, r, "error", "rule %s matches, but its actions were not applied: %s", r->name, why);
		rc = rc < 0 ? rc : 1;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (!(after = host_fields_json(&c)) || !(changes = host_changes_describe(before, after))) {
		rc = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = db_rule_claim(r->id, h->id)) < 0 ||
	    (rc = rule_event(h->id, r, "info", "rule %s fired: %s", r->name, changes)) < 0)
		goto out;
	metrics_rule_fired();
	host_free(h);
	*h = c;
	memset(&c, 0, sizeof(c));
out:
	host_free(&c);
	free(changes);
	json_decref(actions);
	json_decref(body);
	json_decref(before);
	json_decref(after);
	return rc;
}

int rules_fire(struct host *h)
{
	struct rule *rules = NULL;
	size_t n = 0, i;
	int64_t claimed;
	bool match, any = false;
	int rc;

	if ((rc = db_rule_list(&rules, &n)) < 0)
		return rc;
	for (i = 0; i < n; i++)
		any |= rules[i].enabled;
	/* with a rule to try, the search must see the host as this inventory leaves it */
	if (any && (rc = db_host_update(h)) < 0)
		any = false;
	for (i = 0; any && i < n; i++) {
		const struct rule *r = &rules[i];

		if (!r->enabled)
			continue;
		if ((rc = db_rule_matches(r->query, h->id, &match)) == -EINVAL) {
			char why[300];

			snprintf(why, sizeof(why), "%s", err_msg());
			if ((rc = rule_event(h->id, r, "error", "rule %s not tried: %s", r->name, why)) < 0)
				break;
			continue;
		}
		if (rc < 0)
			break;
		if (!match)
			continue;
		if (r->max_count >= 0) {
			if ((rc = db_rule_claim_count(r->id, &claimed)) < 0)
				break;
			if (claimed >= r->max_count) {
				if ((rc = rule_event(h->id, r, "info", "rule %s matches, but it has claimed its max_count of "
						     "%lld hosts already; not applied", r->name, (long long)r->max_count)) < 0)
					break;
				continue;
			}
		}
		if ((rc = rule_apply(h, r)) != 1)
			break; /* fired (the first match is the only one), or failed */
	}
	for (i = 0; i < n; i++)
		rule_free(&rules[i]);
	free(rules);
	return rc < 0 ? rc : 0;
}

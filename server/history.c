/*
 * A host's history in words: what an operator's change did, field by field, old → new
 * ("next_boot discover → install; tags +db -retired; install.root_password_hash set"), for
 * the change's event. Secret install settings (install_setting_secret) and the BMC's password
 * are named, never shown: an event reaches every dashboard and event stream.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"

json_t *host_fields_json(const struct host *h)
{
	json_t *keys = json_loads(h->ssh_keys ? h->ssh_keys : "[]", 0, NULL);
	json_t *drift = h->drift ? json_loads(h->drift, 0, NULL) : NULL;
	json_t *o = json_pack("{s:s?, s:s, s:s, s:s?, s:b, s:I, s:o?, s:o?, s:o?, s:o?, s:I}",
			      "hostname", h->hostname, "status", host_status_name(h->status),
			      "next_boot", boot_action_name(h->next_boot), "image", h->image, "once", h->once,
			      "ssh_keys", (json_int_t)json_array_size(keys),
			      "install", json_loads(h->install ? h->install : "{}", 0, NULL),
			      "tags", json_loads(h->tags ? h->tags : "[]", 0, NULL),
			      "attributes", json_loads(h->attributes ? h->attributes : "{}", 0, NULL),
			      "bmc", json_loads(h->bmc ? h->bmc : "{}", 0, NULL),
			      "hardware_changes", (json_int_t)json_array_size(drift));
	const char *enroll = bmc_enroll_state(h);

	json_object_set_new(o, "bmc_enroll", json_string(enroll ? enroll : "none"));

	json_decref(drift);
	/* the sealed BMC password reads as what it is: bmc.password set/changed */
	if (json_object_get(json_object_get(o, "bmc"), "password_sealed")) {
		json_object_set(json_object_get(o, "bmc"), "password",
				json_object_get(json_object_get(o, "bmc"), "password_sealed"));
		json_object_del(json_object_get(o, "bmc"), "password_sealed");
	}

	json_decref(keys);
	return o;
}

/* Appends "; " (unless first) and the formatted text to out. */
static void say(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(FILE *out, const char *fmt, ...)
{
	va_list ap;

	if (ftell(out) > 0)
		fputs("; ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
}

/* A value as it reads in a change: strings bare, null as "none", the rest as JSON. */
static char *value_text(json_t *v)
{
	if (!v || json_is_null(v))
		return strdup("none");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void say_value(FILE *out, const char *name, json_t *old, json_t *new, bool secret)
{
	char *a, *b;

	if (json_equal(old, new) || (!old && json_is_null(new)) || (json_is_null(old) && !new))
		return;
	if (secret) {
		say(out, "%s %s", name, !new || json_is_null(new) ? "removed" : !old || json_is_null(old) ? "set" : "changed");
		return;
	}
	a = value_text(old);
	b = value_text(new);
	say(out, "%s %s → %s", name, a ? a : "?", b ? b : "?");
	free(a);
	free(b);
}

/* "tags +db -retired": the members of one array and not the other. */
static void say_tags(FILE *out, json_t *old, json_t *new)
{
	json_t *t, *u;
	size_t i, j;
	bool any = false;

	for (int pass = 0; pass < 2; pass++) {
		json_t *from = pass ? old : new, *other = pass ? new : old;

		json_array_foreach(from, i, t) {
			json_array_foreach(other, j, u)
				if (json_equal(t, u))
					break;
			if (j < json_array_size(other))
				continue;
			if (!any)
				say(out, "tags");
			fprintf(out, " %c%s", pass ? '-' : '+', json_string_value(t));
			any = true;
		}
	}
}

static bool no_secret(const char *key)
{
	(void)key;
	return false;
}

/* The BMC's password (sealed in the store as password_sealed) is a secret too. */
static bool bmc_secret(const char *key)
{
	return strcmp(key, "password") == 0 || strcmp(key, "password_sealed") == 0;
}

/* One "NAME old → new" per key of either object, as PREFIX.NAME; a key secret() names is
 * said to be set, changed or removed. */
static void say_members(FILE *out, const char *prefix, json_t *old, json_t *new, bool (*secret)(const char *key))
{
	const char *key;
	json_t *v;
	char name[128];

	json_object_foreach(new, key, v) {
		snprintf(name, sizeof(name), "%s.%s", prefix, key);
		say_value(out, name, json_object_get(old, key), v, secret(key));
	}
	json_object_foreach(old, key, v)
		if (!json_object_get(new, key)) {
			snprintf(name, sizeof(name), "%s.%s", prefix, key);
			say_value(out, name, v, NULL, secret(key));
		}
}

char *host_changes_describe(json_t *before, json_t *after)
{
	static const char *const plain[] = { "hostname", "status", "next_boot", "image", "once", "ssh_keys",
					     "hardware_changes", "bmc_enroll" };
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		return NULL;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		say_value(out, plain[i], json_object_get(before, plain[i]), json_object_get(after, plain[i]), false);
	say_tags(out, json_object_get(before, "tags"), json_object_get(after, "tags"));
	say_members(out, "attributes", json_object_get(before, "attributes"), json_object_get(after, "attributes"), no_secret);
	say_members(out, "install", json_object_get(before, "install"), json_object_get(after, "install"),
		    install_setting_secret);
	say_members(out, "bmc", json_object_get(before, "bmc"), json_object_get(after, "bmc"), bmc_secret);
	if (ftell(out) == 0)
		fputs("nothing (every value as it was)", out);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

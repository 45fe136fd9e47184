/*
 * Host operations: finding a booting machine, enrolling, changing and deleting hosts,
 * recording inventory and what agents report. Each public operation is one transaction,
 * except hosts_identify, which runs inside its caller's (boot.c) so that identifying a
 * machine and issuing its token commit together.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anemosd.h"
#include "crypto.h"
#include "log.h"

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

json_t *host_to_json(const struct host *h, bool with_inventory)
{
	json_t *macs = json_array(), *keys, *inventory = NULL, *o;

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
		      "status", h->status,
		      "next_boot", h->next_boot,
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
	json_object_set_new(o, "install", json_loads(h->install ? h->install : "{}", 0, NULL));
	return o;
}

int hosts_commit(int64_t host_id)
{
	int rc = db_commit();

	if (rc == 0)
		notify_host_changed(host_id);
	return rc;
}

int hosts_add_event(int64_t host_id, const char *source, const char *level, const char *phase,
		    const char *fmt, ...)
{
	struct event ev = { .host_id = host_id, .source = source, .level = level, .phase = phase,
			    .bytes = -1, .total = -1 };
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	ev.message = message;
	return db_event_add(&ev, NULL);
}

/* Identifies a booting machine: a known MAC first, then the SMBIOS UUID, then the serial.
 * Placeholder UUIDs and serials are dropped first: they are neither matched nor stored. A
 * machine found by UUID or serial booting from a NIC we did not know gets that MAC added,
 * so it stays one host whichever NIC it boots from. Unknown machines become new hosts that
 * discover. Must run inside a transaction: two NICs of one machine asking at once then see
 * each other's work instead of racing. */
int hosts_identify(const struct boot_identity *given, struct host *out)
{
	struct boot_identity ident = *given;
	struct host fresh = { 0 };
	const char *how = "MAC";
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
		if ((rc = db_host_add_mac(id, ident.mac)) < 0 ||
		    (rc = hosts_add_event(id, "server", "info", "boot",
					  "booted from a new NIC %s (matched by %s)", ident.mac, how)) < 0)
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

int hosts_list(const char *query, json_t **out)
{
	struct host *hosts;
	size_t n;
	json_t *list;
	int rc;

	if ((rc = db_host_list(query, &hosts, &n)) < 0)
		return rc;
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, host_to_json(&hosts[i], false));
		host_free(&hosts[i]);
	}
	free(hosts);
	*out = json_pack("{s:o}", "hosts", list);
	return 0;
}

int hosts_get(const char *ref, struct host *out)
{
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

static int check_known_fields(json_t *req, const char *const *allowed)
{
	const char *key;
	json_t *value;

	if (!json_is_object(req))
		return err_set(-EINVAL, "the body must be a JSON object");
	json_object_foreach(req, key, value) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i])
			return err_set(-EINVAL, "unknown field '%s'", key);
	}
	return 0;
}

static bool string_field(json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	return !v || (s && *s && strlen(s) <= max && !strpbrk(s, "\r\n"));
}

/* Install settings: {"disk": {"serial"|"by_path"|"name": "..."}, "root_password_hash": "$...",
 * "network": {"mode": "dhcp"} | {"mode": "static", "address": "A/N", "gateway": "G",
 * "dns": ["..."]}, "cloud_init_user_data": "...", "kernel_args": "...",
 * "after": "reboot"|"poweroff"|"kexec", "mirror": "http://..."}; every key optional. "mirror"
 * replaces a recipe image's mirror for this host. */
static int install_settings_check(json_t *v)
{
	static const char *const keys[] = { "disk", "root_password_hash", "network",
					    "cloud_init_user_data", "kernel_args", "after", "mirror", NULL };
	const char *mirror = json_string_value(json_object_get(v, "mirror"));
	json_t *disk = json_object_get(v, "disk"), *net = json_object_get(v, "network"), *after;
	const char *mode, *hash;
	int rc;

	if ((rc = check_known_fields(v, keys)) < 0)
		return err_set(rc, "install: %s", err_msg());
	if (disk && (!json_is_object(disk) || json_object_size(disk) != 1 ||
		     !(string_field(disk, "serial", 128) && string_field(disk, "by_path", 256) &&
		       string_field(disk, "name", 32)) ||
		     !(json_object_get(disk, "serial") || json_object_get(disk, "by_path") ||
		       json_object_get(disk, "name"))))
		return err_set(-EINVAL, "install.disk must be {\"serial\": S}, {\"by_path\": P} or {\"name\": N}");
	hash = json_string_value(json_object_get(v, "root_password_hash"));
	if (json_object_get(v, "root_password_hash") && (!hash || hash[0] != '$' || !string_field(v, "root_password_hash", 512)))
		return err_set(-EINVAL, "install.root_password_hash must be a crypt(3) hash such as $6$... "
					"(mkpasswd -m sha-512), never a password");
	if (net) {
		mode = json_string_value(json_object_get(net, "mode"));
		if (!json_is_object(net) || !mode || (strcmp(mode, "dhcp") && strcmp(mode, "static")))
			return err_set(-EINVAL, "install.network.mode must be dhcp or static");
		if (!strcmp(mode, "static") &&
		    (!json_string_value(json_object_get(net, "address")) || !strchr(json_string_value(json_object_get(net, "address")), '/') ||
		     !string_field(net, "address", 64) || !string_field(net, "gateway", 64) ||
		     (json_object_get(net, "dns") && !json_is_array(json_object_get(net, "dns")))))
			return err_set(-EINVAL, "install.network static needs \"address\": \"A.B.C.D/N\" and may have "
						"\"gateway\" and \"dns\" (an array)");
	}
	if (json_object_get(v, "cloud_init_user_data") &&
	    (!json_is_string(json_object_get(v, "cloud_init_user_data")) ||
	     strlen(json_string_value(json_object_get(v, "cloud_init_user_data"))) > 65536))
		return err_set(-EINVAL, "install.cloud_init_user_data must be a string of at most 64 KiB");
	if (json_object_get(v, "kernel_args") &&
	    (!string_field(v, "kernel_args", 1024) || !template_value_safe(json_string_value(json_object_get(v, "kernel_args")))))
		return err_set(-EINVAL, "install.kernel_args must be one line without $ \" ' \\ ; | & # { }");
	after = json_object_get(v, "after");
	if (after && (!json_string_value(after) || (strcmp(json_string_value(after), "reboot") &&
						  strcmp(json_string_value(after), "poweroff") &&
						  strcmp(json_string_value(after), "kexec"))))
		return err_set(-EINVAL, "install.after must be reboot, poweroff or kexec");
	if (json_object_get(v, "mirror") &&
	    (!mirror || (strncmp(mirror, "http://", 7) && strncmp(mirror, "https://", 8)) ||
	     !string_field(v, "mirror", 900) || !template_value_safe(mirror) || strpbrk(mirror, " @")))
		return err_set(-EINVAL, "install.mirror must be an http:// or https:// Debian mirror URL "
					"(at most 900 characters, no user:password@)");
	return 0;
}

/* Applies the operator-settable fields present in req to h; validates each. */
static int apply_host_fields(struct host *h, json_t *req)
{
	json_t *v;
	int rc;

	if ((v = json_object_get(req, "hostname"))) {
		char name[254];

		if (json_is_null(v)) {
			rc = set_field(&h->hostname, NULL);
		} else if (!json_is_string(v)) {
			return err_set(-EINVAL, "hostname must be a string or null");
		} else {
			if ((rc = hostname_normalize(json_string_value(v), name, sizeof(name))) < 0)
				return rc;
			rc = set_field(&h->hostname, name);
		}
		if (rc < 0)
			return rc;
	}
	if ((v = json_object_get(req, "next_boot"))) {
		if (!json_is_string(v) || !next_boot_valid(json_string_value(v)))
			return err_set(-EINVAL, "next_boot must be one of discover, install, local, rescue, none");
		if ((rc = set_field(&h->next_boot, json_string_value(v))) < 0)
			return rc;
	}
	if ((v = json_object_get(req, "image"))) {
		struct image im;

		if (json_is_null(v)) {
			rc = set_field(&h->image, NULL);
		} else if (!json_is_string(v)) {
			return err_set(-EINVAL, "image must be an image name or null");
		} else {
			rc = db_image_get(json_string_value(v), &im);
			if (rc == -ENOENT)
				return err_set(-EINVAL, "no image '%s'; add it first (anemosctl image add)",
					       json_string_value(v));
			if (rc < 0)
				return rc;
			image_free(&im);
			rc = set_field(&h->image, json_string_value(v));
		}
		if (rc < 0)
			return rc;
	}
	if ((v = json_object_get(req, "once"))) {
		if (!json_is_boolean(v))
			return err_set(-EINVAL, "once must be true or false");
		h->once = json_is_true(v);
	}
	if ((v = json_object_get(req, "status"))) {
		const char *s = json_string_value(v);

		if (!s || (strcmp(s, "maintenance") && strcmp(s, "decommissioned") && strcmp(s, "ready")))
			return err_set(-EINVAL, "operators may set status to maintenance, decommissioned or ready");
		if ((rc = set_field(&h->status, s)) < 0)
			return rc;
	}
	if ((v = json_object_get(req, "ssh_authorized_keys"))) {
		size_t i;
		json_t *key;
		char *text;

		if (!json_is_array(v) || json_array_size(v) > 100)
			return err_set(-EINVAL, "ssh_authorized_keys must be an array of at most 100 keys");
		json_array_foreach(v, i, key) {
			const char *k = json_string_value(key);

			if (!k || !*k || strlen(k) > 16384 || strpbrk(k, "\r\n"))
				return err_set(-EINVAL, "ssh_authorized_keys[%zu] must be one non-empty line", i);
		}
		text = json_dumps(v, JSON_COMPACT);
		if (!text)
			return err_set(-ENOMEM, "out of memory");
		free(h->ssh_keys);
		h->ssh_keys = text;
	}
	if ((v = json_object_get(req, "install"))) {
		char *text;

		if (!json_is_object(v))
			return err_set(-EINVAL, "install must be an object of install settings");
		if ((rc = install_settings_check(v)) < 0)
			return rc;
		if (!(text = json_dumps(v, JSON_COMPACT)))
			return err_set(-ENOMEM, "out of memory");
		free(h->install);
		h->install = text;
	}
	if (strcmp(h->next_boot, "install") == 0 && !h->image)
		return err_set(-EINVAL, "next_boot install needs an image; set \"image\" too");
	return 0;
}

/* Turns a constraint failure on insert/update into a message naming the culprit. */
static int explain_conflict(int rc, const struct host *h)
{
	if (rc == -EEXIST && h->hostname)
		return err_set(-EEXIST, "hostname '%s' is taken by another host", h->hostname);
	return rc;
}

int hosts_enroll(json_t *req, struct host *out)
{
	static const char *const allowed[] = { "mac", "hostname", "next_boot", "image", "once",
					       "ssh_authorized_keys", "install", NULL };
	struct host h = { 0 };
	char mac[MAC_LEN + 1];
	int64_t id;
	int rc;

	if ((rc = check_known_fields(req, allowed)) < 0)
		return rc;
	if (mac_parse(json_string_value(json_object_get(req, "mac")), mac) < 0)
		return err_set(-EINVAL, "\"mac\" is required, as aa:bb:cc:dd:ee:ff");
	if (!(h.status = strdup("new")) || !(h.next_boot = strdup("discover")) ||
	    !(h.ssh_keys = strdup("[]")) || !(h.install = strdup("{}"))) {
		host_free(&h);
		return err_set(-ENOMEM, "out of memory");
	}
	if ((rc = db_begin()) < 0) {
		host_free(&h);
		return rc;
	}
	if ((rc = apply_host_fields(&h, req)) < 0)
		goto fail;
	if (db_host_find_by_mac(mac, &id) == 0) {
		rc = err_set(-EEXIST, "MAC %s belongs to host %lld already", mac, (long long)id);
		goto fail;
	}
	if ((rc = db_host_insert(&h, &id)) < 0) {
		rc = explain_conflict(rc, &h);
		goto fail;
	}
	if ((rc = db_host_add_mac(id, mac)) < 0 ||
	    (rc = hosts_add_event(id, "operator", "info", "enroll", "enrolled with MAC %s, next boot %s",
				  mac, h.next_boot)) < 0 ||
	    (rc = db_host_get(id, out)) < 0)
		goto fail;
	host_free(&h);
	if ((rc = hosts_commit(id)) < 0)
		host_free(out);
	return rc;
fail:
	db_rollback();
	host_free(&h);
	return rc;
}

int hosts_patch(const char *ref, json_t *req, struct host *out)
{
	static const char *const allowed[] = { "hostname", "next_boot", "image", "once", "status",
					       "ssh_authorized_keys", "install", NULL };
	struct host h;
	char *changes;
	int rc;

	if ((rc = check_known_fields(req, allowed)) < 0)
		return rc;
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_host_find_by_ref(ref, &h)) < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = apply_host_fields(&h, req)) < 0 || (rc = db_host_update(&h)) < 0) {
		rc = explain_conflict(rc, &h);
		goto fail;
	}
	changes = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	rc = hosts_add_event(h.id, "operator", "info", "change", "changed %s", changes ? changes : "host");
	free(changes);
	if (rc < 0 || (rc = db_host_get(h.id, out)) < 0)
		goto fail;
	if ((rc = hosts_commit(h.id)) < 0)
		host_free(out);
	host_free(&h);
	return rc;
fail:
	db_rollback();
	host_free(&h);
	return rc;
}

int hosts_delete(const char *ref)
{
	struct host h;
	int rc;

	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_host_find_by_ref(ref, &h)) < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = db_host_delete(h.id)) < 0)
		db_rollback();
	else if ((rc = hosts_commit(h.id)) == 0)
		log_info("host %lld deleted", (long long)h.id);
	host_free(&h);
	return rc;
}

int hosts_events(const char *ref, int limit, json_t **out)
{
	struct host h;
	json_t *events;
	int rc;

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

/* Stores the inventory an agent posted: the raw JSON, the identity facts in columns, and
 * every NIC's MAC on the host (so the next boot from any NIC finds it). A MAC that another
 * host holds stays there and the conflict is recorded as an event, never silently moved. */
int hosts_record_inventory(int64_t host_id, json_t *inv, struct host *out)
{
	struct host h;
	json_t *nic;
	size_t i, added = 0;
	char *text;
	const char *s;
	char uuid[UUID_LEN + 1];
	bool again;
	int rc;

	if (!json_is_object(inv))
		return err_set(-EINVAL, "the inventory must be a JSON object");
	if (json_object_get(inv, "nics") && !json_is_array(json_object_get(inv, "nics")))
		return err_set(-EINVAL, "inventory \"nics\" must be an array");
	text = json_dumps(inv, JSON_COMPACT);
	if (!text)
		return err_set(-ENOMEM, "out of memory");
	if ((rc = db_begin()) < 0) {
		free(text);
		return rc;
	}
	if ((rc = db_host_get(host_id, &h)) < 0)
		goto fail;
	again = h.inventory != NULL;
	free(h.inventory);
	h.inventory = text;
	text = NULL;
	if ((s = inventory_string(inv, "system", "uuid")) && uuid_parse(s, uuid) == 0 &&
	    !uuid_is_placeholder(uuid) && (rc = set_field(&h.uuid, uuid)) < 0)
		goto fail_host;
	if ((s = inventory_string(inv, "system", "serial")) && !serial_is_placeholder(s) &&
	    (rc = set_field(&h.serial, s)) < 0)
		goto fail_host;
	if ((s = inventory_string(inv, "system", "vendor")) && (rc = set_field(&h.vendor, s)) < 0)
		goto fail_host;
	if ((s = inventory_string(inv, "system", "product")) && (rc = set_field(&h.product, s)) < 0)
		goto fail_host;
	if ((s = inventory_string(inv, "chassis", "asset_tag")) && (rc = set_field(&h.asset, s)) < 0)
		goto fail_host;
	if (strcmp(h.status, "new") == 0 && (rc = set_field(&h.status, "ready")) < 0)
		goto fail_host;
	if ((rc = db_host_update(&h)) < 0)
		goto fail_host;
	json_array_foreach(json_object_get(inv, "nics"), i, nic) {
		char mac[MAC_LEN + 1];
		int64_t owner;

		if (mac_parse(json_string_value(json_object_get(nic, "mac")), mac) < 0)
			continue;
		rc = db_host_find_by_mac(mac, &owner);
		if (rc == -ENOENT) {
			if ((rc = db_host_add_mac(h.id, mac)) < 0)
				goto fail_host;
			added++;
		} else if (rc < 0) {
			goto fail_host;
		} else if (owner != h.id &&
			   (rc = hosts_add_event(h.id, "server", "error", "inventory",
						 "NIC %s is registered to host %lld; left there", mac,
						 (long long)owner)) < 0) {
			goto fail_host;
		}
	}
	if ((rc = hosts_add_event(h.id, "agent", "info", "inventory", "%s (%zu NICs, %zu new MACs)",
				  again ? "inventory updated" : "inventory received",
				  json_array_size(json_object_get(inv, "nics")), added)) < 0 ||
	    (rc = db_host_get(h.id, out)) < 0)
		goto fail_host;
	host_free(&h);
	if ((rc = hosts_commit(host_id)) < 0)
		host_free(out);
	return rc;
fail_host:
	host_free(&h);
fail:
	db_rollback();
	free(text);
	return rc;
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

int hosts_agent_event(int64_t host_id, json_t *req, json_t **out)
{
	static const char *const allowed[] = { "phase", "message", "level", "bytes", "total", NULL };
	struct event ev = { .host_id = host_id, .source = "agent", .level = "info" };
	json_t *v;
	int64_t id;
	int rc;

	if ((rc = check_known_fields(req, allowed)) < 0)
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
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_event_add(&ev, &id)) < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = hosts_commit(host_id)) < 0)
		return rc;
	*out = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:o, s:o}", "id", (json_int_t)id, "source", "agent",
			 "level", ev.level, "phase", ev.phase, "message", ev.message,
			 "bytes", ev.bytes >= 0 ? json_integer(ev.bytes) : json_null(),
			 "total", ev.total >= 0 ? json_integer(ev.total) : json_null());
	return 0;
}

/* The end of a boot: the agent reports success or failure; its token is revoked either way.
 * A successful install with `once` turns the next boot into `local`; a failure marks the
 * host failed with the agent's reason. */
int hosts_agent_done(int64_t host_id, const char *mode, json_t *req, struct host *out)
{
	static const char *const allowed[] = { "ok", "error", NULL };
	json_t *ok = json_object_get(req, "ok");
	const char *why = json_string_value(json_object_get(req, "error"));
	struct host h;
	int rc;

	if ((rc = check_known_fields(req, allowed)) < 0)
		return rc;
	if (!json_is_boolean(ok))
		return err_set(-EINVAL, "\"ok\" (true or false) is required");
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_host_get(host_id, &h)) < 0)
		goto fail;
	if (json_is_true(ok)) {
		if (strcmp(mode, "install") == 0 && h.once && (rc = set_field(&h.next_boot, "local")) < 0)
			goto fail_host;
		rc = hosts_add_event(h.id, "agent", "info", mode, "%s finished%s", mode,
				     strcmp(mode, "install") == 0 && h.once ? "; next boot is local" : "");
	} else {
		if ((rc = set_field(&h.status, "failed")) < 0)
			goto fail_host;
		rc = hosts_add_event(h.id, "agent", "error", mode, "%s failed: %s", mode,
				     why ? why : "no reason given");
	}
	if (rc < 0 || (rc = db_host_update(&h)) < 0 || (rc = db_agent_token_revoke(h.id, false)) < 0)
		goto fail_host;
	host_free(&h);
	if ((rc = db_host_get(host_id, out)) < 0)
		goto fail;
	if ((rc = hosts_commit(host_id)) < 0)
		host_free(out);
	return rc;
fail_host:
	host_free(&h);
fail:
	db_rollback();
	return rc;
}

int hosts_phone_home_token(int64_t host_id, json_t **out)
{
	char token[128], *url = NULL;
	int rc;

	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = token_phone_home_issue(host_id, token, sizeof(token))) < 0 ||
	    (rc = hosts_add_event(host_id, "server", "info", "install",
				  "phone-home token issued to the installer")) < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = hosts_commit(host_id)) < 0)
		return rc;
	if (asprintf(&url, "%s/api/v1/phone-home", cfg.public_url) < 0)
		return err_set(-ENOMEM, "out of memory");
	*out = json_pack("{s:s, s:s}", "url", url, "token", token);
	free(url);
	return 0;
}

/* The installed system reports in: the host is deployed (unless an operator set it aside),
 * and what the system said is kept as an event. */
int hosts_phone_home(int64_t host_id, json_t *report, struct host *out)
{
	struct host h;
	char *text;
	int rc;

	if (!json_is_object(report))
		return err_set(-EINVAL, "the report must be a JSON object");
	if (!(text = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS)))
		return err_set(-ENOMEM, "out of memory");
	if ((rc = db_begin()) < 0) {
		free(text);
		return rc;
	}
	if ((rc = db_host_get(host_id, &h)) < 0)
		goto fail;
	if (strcmp(h.status, "maintenance") && strcmp(h.status, "decommissioned") &&
	    (rc = set_field(&h.status, "deployed")) < 0)
		goto fail_host;
	if ((rc = db_host_update(&h)) < 0 || (rc = db_host_seen(h.id, &(struct boot_identity){ 0 })) < 0 ||
	    (rc = hosts_add_event(h.id, "system", "info", "deployed", "installed system reported in: %.400s",
				  text)) < 0 ||
	    (rc = db_host_get(h.id, out)) < 0)
		goto fail_host;
	host_free(&h);
	free(text);
	if ((rc = hosts_commit(host_id)) < 0)
		host_free(out);
	return rc;
fail_host:
	host_free(&h);
fail:
	db_rollback();
	free(text);
	return rc;
}

/* ---- hosts reached over SSH (anemosctl reinstall/rescue/adopt --ssh) ---- */

/* The SHA-256 and size of a file of the boot folder, cached until the file changes. */
static int boot_file_digest(const char *name, char hex[SHA256_HEX_LEN + 1], long long *size)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { char name[32]; dev_t dev; ino_t ino; off_t size; struct timespec mtime;
			char hex[SHA256_HEX_LEN + 1]; } cache[2];
	char path[4096];
	struct stat st;
	int rc, slot = strcmp(name, "vmlinuz") == 0 ? 0 : 1;

	snprintf(path, sizeof(path), "%s/%s", cfg.boot_dir, name);
	if (stat(path, &st) < 0)
		return err_set(-EIO, "the boot folder has no %s: build it (make initramfs)", name);
	pthread_mutex_lock(&lock);
	if (strcmp(cache[slot].name, name) == 0 && cache[slot].dev == st.st_dev &&
	    cache[slot].ino == st.st_ino && cache[slot].size == st.st_size &&
	    cache[slot].mtime.tv_sec == st.st_mtim.tv_sec && cache[slot].mtime.tv_nsec == st.st_mtim.tv_nsec) {
		memcpy(hex, cache[slot].hex, SHA256_HEX_LEN + 1);
		*size = st.st_size;
		pthread_mutex_unlock(&lock);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	if ((rc = sha256_file(path, hex, size)) < 0)
		return err_set(-EIO, "cannot read %s", path);
	pthread_mutex_lock(&lock);
	snprintf(cache[slot].name, sizeof(cache[slot].name), "%s", name);
	cache[slot].dev = st.st_dev;
	cache[slot].ino = st.st_ino;
	cache[slot].size = st.st_size;
	cache[slot].mtime = st.st_mtim;
	memcpy(cache[slot].hex, hex, SHA256_HEX_LEN + 1);
	pthread_mutex_unlock(&lock);
	return 0;
}

/*
 * Arms a host to enter the Anemos environment by kexec (or a one-shot boot entry) from its
 * running system: for "install", next boot install once (with the image given, else the
 * host's); for "rescue", nothing about the host changes. Issues the fresh agent token in the
 * same transaction and answers what GET /kexec.sh needs: the boot files' URLs and SHA-256,
 * the command line, the token, and the host's settings before, so a refusal can undo them.
 */
int hosts_kexec(const char *ref, json_t *req, json_t **out)
{
	static const char *const allowed[] = { "mode", "image", NULL };
	const char *mode = json_string_value(json_object_get(req, "mode"));
	json_t *image = json_object_get(req, "image"), *previous = NULL, *arm = NULL;
	char token[128], khex[SHA256_HEX_LEN + 1], ihex[SHA256_HEX_LEN + 1], *cmdline = NULL;
	long long ksize, isize;
	struct host h;
	int rc;

	if ((rc = check_known_fields(req, allowed)) < 0)
		return rc;
	if (!mode || (strcmp(mode, "install") != 0 && strcmp(mode, "rescue") != 0))
		return err_set(-EINVAL, "\"mode\" must be install or rescue");
	if (image && !json_is_string(image))
		return err_set(-EINVAL, "\"image\" must be an image name");
	if (image && strcmp(mode, "install") != 0)
		return err_set(-EINVAL, "\"image\" goes with mode install only");
	if ((rc = boot_file_digest("vmlinuz", khex, &ksize)) < 0 ||
	    (rc = boot_file_digest("initramfs.img", ihex, &isize)) < 0)
		return rc;
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_host_find_by_ref(ref, &h)) < 0) {
		db_rollback();
		return rc;
	}
	if (strcmp(h.status, "decommissioned") == 0) {
		rc = err_set(-EBUSY, "host %lld is decommissioned: set its status first", (long long)h.id);
		db_rollback();
		host_free(&h);
		return rc;
	}
	previous = json_pack("{s:s, s:b, s:s?}", "next_boot", h.next_boot, "once", h.once, "image", h.image);
	if (strcmp(mode, "install") == 0) {
		arm = json_pack("{s:s, s:b}", "next_boot", "install", "once", 1);
		if (image)
			json_object_set(arm, "image", image);
		if ((rc = apply_host_fields(&h, arm)) < 0)
			goto fail;
		if (!h.image) {
			rc = err_set(-EINVAL, "host %lld has no image: give one (--image NAME)", (long long)h.id);
			goto fail;
		}
		if ((rc = db_host_update(&h)) < 0)
			goto fail;
	}
	if ((rc = token_agent_issue(h.id, mode, false, token, sizeof(token))) < 0 ||
	    (rc = hosts_add_event(h.id, "operator", "info", "kexec",
				  strcmp(mode, "install") == 0 ? "%s over SSH: kexec into the Anemos environment to install image %s"
							       : "%s over SSH: kexec into the Anemos environment%s",
				  strcmp(mode, "install") == 0 ? "reinstall" : "rescue",
				  strcmp(mode, "install") == 0 ? h.image : "")) < 0)
		goto fail;
	if (asprintf(&cmdline, "anemos.url=%s anemos.mode=%s %s", cfg.public_url, mode, cfg.kernel_args) < 0) {
		cmdline = NULL;
		rc = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	*out = json_pack("{s:I, s:s?, s:s, s:s, s:s, s:{s:s+, s:s, s:I}, s:{s:s+, s:s, s:I}, s:s, s:o}",
			 "host_id", (json_int_t)h.id, "hostname", h.hostname, "mode", mode,
			 "image", strcmp(mode, "install") == 0 ? h.image : "", "token", token,
			 "kernel", "url", cfg.public_url, "/boot/vmlinuz", "sha256", khex, "size", (json_int_t)ksize,
			 "initrd", "url", cfg.public_url, "/boot/initramfs.img", "sha256", ihex, "size", (json_int_t)isize,
			 "cmdline", cmdline, "previous", previous);
	previous = NULL;
	free(cmdline);
	if (!*out) {
		rc = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	json_decref(arm);
	rc = hosts_commit(h.id);
	host_free(&h);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
fail:
	db_rollback();
	json_decref(previous);
	json_decref(arm);
	host_free(&h);
	return rc;
}

int hosts_kexec_cancel(const char *ref, json_t *previous, struct host *out)
{
	static const char *const allowed[] = { "next_boot", "once", "image", NULL };
	struct host h;
	int rc;

	if (!json_is_object(previous))
		return err_set(-EINVAL, "the body must be the \"previous\" object of the kexec answer");
	if ((rc = check_known_fields(previous, allowed)) < 0)
		return rc;
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_host_find_by_ref(ref, &h)) < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = db_agent_token_revoke(h.id, false)) < 0 || (rc = apply_host_fields(&h, previous)) < 0 ||
	    (rc = db_host_update(&h)) < 0 ||
	    (rc = hosts_add_event(h.id, "operator", "warn", "kexec",
				  "the host refused or could not be reached over SSH; next boot %s again",
				  h.next_boot)) < 0 ||
	    (rc = db_host_get(h.id, out)) < 0) {
		db_rollback();
		host_free(&h);
		return rc;
	}
	rc = hosts_commit(h.id);
	host_free(&h);
	if (rc < 0)
		host_free(out);
	return rc;
}

/*
 * Registers the inventory of a running host (anemos-inventory's output, sent by anemosctl
 * adopt): found by a MAC of its NICs, its SMBIOS UUID or serial as a booting machine is, or
 * created. A host created so is running its own system: status deployed, next boot local.
 */
int hosts_adopt(json_t *inv, struct host *out)
{
	struct boot_identity ident = { .mac = "" };
	const char *mac = NULL, *s;
	char uuid[UUID_LEN + 1];
	json_t *nic;
	struct host h;
	int64_t id;
	size_t i;
	int rc;

	if (!json_is_object(inv) || !json_is_array(json_object_get(inv, "nics")))
		return err_set(-EINVAL, "the body must be an inventory (anemos-inventory's output) with \"nics\"");
	/* Any NIC the host is known by; else the first with a MAC (then UUID and serial). */
	json_array_foreach(json_object_get(inv, "nics"), i, nic) {
		char m[MAC_LEN + 1];
		int64_t known;
		bool found;

		if (!(s = json_string_value(json_object_get(nic, "mac"))) || mac_parse(s, m) < 0 ||
		    strcmp(m, "00:00:00:00:00:00") == 0)
			continue;
		found = db_host_find_by_mac(m, &known) == 0;
		if (!mac || found) {
			memcpy(ident.mac, m, sizeof(m));
			mac = ident.mac;
		}
		if (found)
			break;
	}
	if (!mac)
		return err_set(-EINVAL, "the inventory names no NIC with a MAC: cannot identify the host");
	if ((s = inventory_string(inv, "system", "uuid")) && uuid_parse(s, uuid) == 0)
		ident.uuid = uuid;
	ident.serial = inventory_string(inv, "system", "serial");
	ident.vendor = inventory_string(inv, "system", "vendor");
	ident.product = inventory_string(inv, "system", "product");
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = hosts_identify(&ident, &h)) < 0)
		goto fail;
	if (strcmp(h.status, "new") == 0) {
		json_t *adopted = json_pack("{s:s}", "next_boot", "local");

		rc = apply_host_fields(&h, adopted);
		json_decref(adopted);
		if (rc < 0 || (rc = set_field(&h.status, "deployed")) < 0 || (rc = db_host_update(&h)) < 0)
			goto fail_host;
	}
	if ((rc = hosts_add_event(h.id, "operator", "info", "adopt", "adopted over SSH from %s", mac)) < 0)
		goto fail_host;
	id = h.id;
	rc = hosts_commit(id);
	host_free(&h);
	if (rc < 0)
		return rc;
	/* The inventory goes in as an agent's would (its own transaction: MACs, facts, event). */
	return hosts_record_inventory(id, inv, out);
fail_host:
	host_free(&h);
fail:
	db_rollback();
	return rc;
}

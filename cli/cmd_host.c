/*
 * anemosctl host list|show|add|set|rm|events: hosts over /api/v1/hosts.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"
#include "lifecycle.h"

#define EVENTS_LIMIT_MAX	1000	/* the most events anemosd returns at once */
#define FIELD_NAME_WIDTH	12	/* "host show" aligns values after this many columns */

/* Checks @arg against the names of lib/lifecycle.h: the next-boot actions, or the statuses
 * an operator may set (the others follow from what the host does). 0 or -EINVAL, reported. */
static int check_lifecycle(const char *option, const char *arg, bool operator_status)
{
	const char *names[HOST_STATUS_COUNT + BOOT_ACTION_COUNT + 1];
	enum host_event event;
	size_t n = 0;

	for (int i = 0; operator_status && i < HOST_STATUS_COUNT; i++)
		if (host_operator_event((enum host_status)i, &event) == 0)
			names[n++] = host_status_name((enum host_status)i);
	for (int i = 0; !operator_status && i < BOOT_ACTION_COUNT; i++)
		names[n++] = boot_action_name((enum boot_action)i);
	names[n] = NULL;
	return check_choice(option, arg, names);
}

enum host_option_id {
	OPT_HOSTNAME = 256,
	OPT_NEXT_BOOT,
	OPT_IMAGE,
	OPT_NO_IMAGE,
	OPT_ONCE,
	OPT_ALWAYS,
	OPT_STATUS,
	OPT_SSH_KEY,
	OPT_NO_SSH_KEYS,
	OPT_MIRROR,
	OPT_NO_MIRROR,
	OPT_LIMIT,
};

/*
 * Returns "/api/v1/hosts/REF" followed by @suffix, with @ref escaped, for the caller to
 * free; NULL (reported) when out of memory.
 */
static char *host_path(const char *ref, const char *suffix)
{
	char *escaped, *path;

	if (!(escaped = url_escape(ref)))
		return NULL;
	if (asprintf(&path, "/api/v1/hosts/%s%s", escaped, suffix) < 0) {
		warnx("out of memory");
		path = NULL;
	}
	free(escaped);
	return path;
}

/* Returns the text of the array item @item, "-" if it is not a string. */
static const char *item_text(const json_t *item)
{
	const char *text = json_string_value(item);

	return text ? text : "-";
}

/*
 * Returns the strings of @array joined by @separator for the caller to free, "-" for an
 * empty or missing array; NULL (reported) when out of memory.
 */
static char *join_texts(const json_t *array, const char *separator)
{
	const json_t *item;
	size_t i, len = sizeof("-");
	char *joined, *end;

	json_array_foreach(array, i, item)
		len += strlen(separator) + strlen(item_text(item));
	if (!(joined = malloc(len))) {
		warnx("out of memory");
		return NULL;
	}
	end = stpcpy(joined, json_array_size(array) ? "" : "-");
	json_array_foreach(array, i, item)
		end = stpcpy(stpcpy(end, i ? separator : ""), item_text(item));
	return joined;
}

/*
 * Handles one option of "host add" or "host set", setting the field it names in the
 * request body @ctx (a JSON object).
 */
static int host_option(void *ctx, int option, const char *arg)
{
	json_t *body = ctx, *keys, *key;
	int rc;

	switch (option) {
	case OPT_HOSTNAME:
		return json_set_text(body, "hostname", arg);
	case OPT_NEXT_BOOT:
		if ((rc = check_lifecycle("--next-boot", arg, false)) != 0)
			return rc;
		return json_set_text(body, "next_boot", arg);
	case OPT_IMAGE:
		return json_set_text(body, "image", arg);
	case OPT_NO_IMAGE:
		return json_set(body, "image", json_null());
	case OPT_ONCE:
		return json_set(body, "once", json_true());
	case OPT_ALWAYS:
		return json_set(body, "once", json_false());
	case OPT_STATUS:
		if ((rc = check_lifecycle("--status", arg, true)) != 0)
			return rc;
		return json_set_text(body, "status", arg);
	case OPT_NO_SSH_KEYS:
		return json_set(body, "ssh_authorized_keys", json_array());
	case OPT_MIRROR:
		/* One install setting: host_set merges it into the host's others. */
		return json_set_text(body, "install.mirror", arg);
	case OPT_NO_MIRROR:
		return json_set(body, "install.mirror", json_null());
	case OPT_SSH_KEY:
		/* Each --ssh-key adds to the list; the list replaces the host's keys. */
		if (!(keys = json_object_get(body, "ssh_authorized_keys"))) {
			if ((rc = json_set(body, "ssh_authorized_keys", json_array())) != 0)
				return rc;
			keys = json_object_get(body, "ssh_authorized_keys");
		}
		if ((rc = json_text_new(arg, &key)) != 0)
			return rc;
		if (json_array_append_new(keys, key) != 0) {
			warnx("out of memory");
			return -ENOMEM;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* Prints the one-line confirmation of a change to @host, or with --json the host. */
static void print_host_change(const struct ctl *ctl, const char *done, const json_t *host)
{
	if (ctl->json) {
		print_json(host);
		return;
	}
	printf("%s host %" JSON_INTEGER_FORMAT " ", done,
	       json_integer_value(json_object_get(host, "id")));
	print_text(json_text(host, "hostname"), 0);
	printf(": status %s, next boot %s%s, image ", json_text(host, "status"),
	       json_text(host, "next_boot"),
	       json_is_true(json_object_get(host, "once")) ? " (once)" : "");
	print_text(json_text(host, "image"), 0);
	putchar('\n');
}

/* Prints @hosts as a table. Returns 0 or -ENOMEM (reported). */
static int print_host_table(const json_t *hosts)
{
	static const char *const header[] = {
		"ID", "HOSTNAME", "STATUS", "NEXT-BOOT", "IMAGE", "MACS", "SERIAL", "PRODUCT",
		"LAST-SEEN"
	};
	const size_t columns = sizeof(header) / sizeof(header[0]);
	const json_t *host;
	struct table table;
	char id[24], *macs;
	size_t i;
	int rc;

	if ((rc = table_init(&table, columns, header)) != 0)
		goto out;
	json_array_foreach(hosts, i, host) {
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(host, "id")));
		if (!(macs = join_texts(json_object_get(host, "macs"), ","))) {
			rc = -ENOMEM;
			goto out;
		}
		const char *const row[] = {
			id, json_text(host, "hostname"), json_text(host, "status"),
			json_text(host, "next_boot"), json_text(host, "image"), macs,
			json_text(host, "serial"), json_text(host, "product"),
			json_text(host, "last_seen"),
		};
		rc = table_add_row(&table, row);
		free(macs);
		if (rc != 0)
			goto out;
	}
	table_print(&table);
out:
	table_free(&table);
	return rc;
}

/* Prints "@name: @value" with the values aligned; @name is shorter than FIELD_NAME_WIDTH. */
static void print_field(const char *name, const char *value)
{
	printf("%s:%*s", name, (int)(FIELD_NAME_WIDTH - strlen(name)), "");
	print_text(value, 0);
	putchar('\n');
}

/* Prints a few facts of a host's @inventory: CPU, memory, disks, firmware. */
static void print_inventory(const json_t *inventory)
{
	const json_t *cpu = json_object_get(inventory, "cpu");
	const json_t *memory = json_object_get(json_object_get(inventory, "memory"), "total_bytes");
	const json_t *disks = json_object_get(inventory, "disks");
	json_int_t threads = json_integer_value(json_object_get(cpu, "threads"));
	char text[64];

	print_field("cpu", json_text(cpu, "model"));
	if (threads > 0) {
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, threads);
		print_field("cpu threads", text);
	}
	if (json_is_integer(memory)) {
		snprintf(text, sizeof(text), "%.1f GiB",
			 (double)json_integer_value(memory) / (1024.0 * 1024 * 1024));
		print_field("memory", text);
	}
	if (json_is_array(disks)) {
		snprintf(text, sizeof(text), "%zu", json_array_size(disks));
		print_field("disks", text);
	}
	print_field("firmware", json_text(inventory, "firmware"));
}

/* Prints @host as "name: value" lines. Returns 0 or -ENOMEM (reported). */
static int print_host(const json_t *host)
{
	const json_t *inventory = json_object_get(host, "inventory");
	char text[64], *macs;

	if (!(macs = join_texts(json_object_get(host, "macs"), ", ")))
		return -ENOMEM;
	snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(host, "id")));
	print_field("id", text);
	print_field("hostname", json_text(host, "hostname"));
	print_field("status", json_text(host, "status"));
	print_field("next boot", json_text(host, "next_boot"));
	print_field("once", json_is_true(json_object_get(host, "once")) ? "yes" : "no");
	print_field("image", json_text(host, "image"));
	print_field("MACs", macs);
	print_field("uuid", json_text(host, "uuid"));
	print_field("serial", json_text(host, "serial"));
	print_field("vendor", json_text(host, "vendor"));
	print_field("product", json_text(host, "product"));
	snprintf(text, sizeof(text), "%zu",
		 json_array_size(json_object_get(host, "ssh_authorized_keys")));
	print_field("SSH keys", text);
	print_field("last seen", json_text(host, "last_seen"));
	print_field("created", json_text(host, "created"));
	print_field("updated", json_text(host, "updated"));
	if (json_is_object(inventory))
		print_inventory(inventory);
	else
		print_field("inventory", "none yet");
	free(macs);
	return 0;
}

/* Prints one event on one line, with its progress when it carries bytes. */
static void print_event(const json_t *event)
{
	json_int_t bytes = json_integer_value(json_object_get(event, "bytes"));
	json_int_t total = json_integer_value(json_object_get(event, "total"));
	char done[16], all[16];

	print_text(json_text(event, "time"), 0);
	fputs("  ", stdout);
	print_text(json_text(event, "level"), 5);
	fputs("  ", stdout);
	print_text(json_text(event, "phase"), 10);
	fputs("  ", stdout);
	print_text(json_text(event, "message"), 0);
	if (json_is_integer(json_object_get(event, "bytes")) && bytes >= 0) {
		format_size(done, sizeof(done), (uint64_t)bytes);
		if (total > 0) {
			format_size(all, sizeof(all), (uint64_t)total);
			printf("  [%s / %s, %.0f%%]", done, all, (double)bytes * 100 / (double)total);
		} else {
			printf("  [%s]", done);
		}
	}
	putchar('\n');
}

int host_list(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	const json_t *hosts;
	char *query = NULL, *path = NULL;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 0, 1)) < 0)
		return first;
	if (first < argc && !(query = url_escape(argv[first])))
		return -ENOMEM;
	if (asprintf(&path, "/api/v1/hosts%s%s", query ? "?q=" : "", query ? query : "") < 0) {
		warnx("out of memory");
		path = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = api_call(ctl, "GET", path, NULL, &answer)) != 0)
		goto out;
	if (ctl->json)
		print_json(answer);
	else if ((hosts = answer_array(answer, "hosts")))
		rc = print_host_table(hosts);
	else
		rc = -EPROTO;
out:
	json_decref(answer);
	free(path);
	free(query);
	return rc;
}

int host_show(struct ctl *ctl, int argc, char **argv)
{
	json_t *host = NULL;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = host_path(argv[first], "")))
		return -ENOMEM;
	if ((rc = api_call(ctl, "GET", path, NULL, &host)) == 0) {
		if (ctl->json)
			print_json(host);
		else
			rc = print_host(host);
	}
	json_decref(host);
	free(path);
	return rc;
}

int host_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "next-boot", required_argument, NULL, OPT_NEXT_BOOT },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
		{ NULL, 0, NULL, 0 },
	};
	json_t *body, *host = NULL;
	int first, rc;

	if (!(body = json_object())) {
		warnx("out of memory");
		return -ENOMEM;
	}
	if ((first = parse_command(argc, argv, options, host_option, body, 1, 1)) < 0) {
		rc = first;
		goto out;
	}
	if ((rc = json_set_text(body, "mac", argv[first])) != 0 ||
	    (rc = api_call(ctl, "POST", "/api/v1/hosts", body, &host)) != 0)
		goto out;
	print_host_change(ctl, "added", host);
out:
	json_decref(host);
	json_decref(body);
	return rc;
}

/*
 * PATCH replaces a host's install settings whole: turns body's "install.mirror" (a URL, or
 * null to remove it) into "install", the host's current settings (GET @path) with that one
 * changed. Returns 0 or a negative errno (reported).
 */
static int merge_install(const struct ctl *ctl, const char *path, json_t *body)
{
	json_t *host = NULL, *install, *mirror = json_object_get(body, "install.mirror");
	int rc;

	if ((rc = api_call(ctl, "GET", path, NULL, &host)) != 0)
		return rc;
	install = json_is_object(json_object_get(host, "install")) ? json_deep_copy(json_object_get(host, "install"))
								    : json_object();
	if (json_is_null(mirror))
		json_object_del(install, "mirror");
	else
		json_object_set(install, "mirror", mirror);
	json_decref(host);
	json_object_del(body, "install.mirror");
	return json_set(body, "install", install);
}

int host_set(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "next-boot", required_argument, NULL, OPT_NEXT_BOOT },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "no-image", no_argument, NULL, OPT_NO_IMAGE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "always", no_argument, NULL, OPT_ALWAYS },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
		{ "no-ssh-keys", no_argument, NULL, OPT_NO_SSH_KEYS },
		{ "mirror", required_argument, NULL, OPT_MIRROR },
		{ "no-mirror", no_argument, NULL, OPT_NO_MIRROR },
		{ NULL, 0, NULL, 0 },
	};
	json_t *body, *host = NULL;
	char *path = NULL;
	int first, rc;

	if (!(body = json_object())) {
		warnx("out of memory");
		return -ENOMEM;
	}
	if ((first = parse_command(argc, argv, options, host_option, body, 1, 1)) < 0) {
		rc = first;
		goto out;
	}
	if (json_object_size(body) == 0) {
		warnx("host set: nothing to change; give at least one option");
		rc = -EINVAL;
		goto out;
	}
	if (!(path = host_path(argv[first], ""))) {
		rc = -ENOMEM;
		goto out;
	}
	if (json_object_get(body, "install.mirror") && (rc = merge_install(ctl, path, body)) != 0)
		goto out;
	if ((rc = api_call(ctl, "PATCH", path, body, &host)) != 0)
		goto out;
	print_host_change(ctl, "updated", host);
out:
	free(path);
	json_decref(host);
	json_decref(body);
	return rc;
}

int host_rm(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = host_path(argv[first], "")))
		return -ENOMEM;
	if ((rc = api_call(ctl, "DELETE", path, NULL, &answer)) == 0 && !ctl->json) {
		fputs("removed host ", stdout);
		print_text(argv[first], 0);
		putchar('\n');
	}
	json_decref(answer);
	free(path);
	return rc;
}

/* "host events" option handler: its only option, --limit, into the int @ctx. */
static int events_option(void *ctx, int option, const char *arg)
{
	int *limit = ctx;
	char *end;
	long value;

	(void)option;
	errno = 0;
	value = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || value < 1 || value > EVENTS_LIMIT_MAX) {
		warnx("--limit must be a number from 1 to %d (not '%s')", EVENTS_LIMIT_MAX, arg);
		return -EINVAL;
	}
	*limit = (int)value;
	return 0;
}

int host_events(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	json_t *answer = NULL;
	const json_t *events, *event;
	char suffix[32] = "/events", *path;
	int first, limit = 0, rc;
	size_t i;

	if ((first = parse_command(argc, argv, options, events_option, &limit, 1, 1)) < 0)
		return first;
	if (limit > 0)
		snprintf(suffix, sizeof(suffix), "/events?limit=%d", limit);
	if (!(path = host_path(argv[first], suffix)))
		return -ENOMEM;
	if ((rc = api_call(ctl, "GET", path, NULL, &answer)) != 0)
		goto out;
	if (ctl->json) {
		print_json(answer);
	} else if ((events = answer_array(answer, "events"))) {
		json_array_foreach(events, i, event)
			print_event(event);
	} else {
		rc = -EPROTO;
	}
out:
	json_decref(answer);
	free(path);
	return rc;
}

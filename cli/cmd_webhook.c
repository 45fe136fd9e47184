/*
 * anemosctl webhook add|list|show|rm|test: webhooks over /api/v1/webhooks. The secret a
 * webhook signs with is printed once, by add; a secret of the operator's own comes from a
 * file (--secret-file), never from the command line.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"

#define SECRET_FILE_MAX 4096

enum webhook_option_id {
	OPT_EVENTS = 256,
	OPT_SECRET_FILE,
	OPT_DISABLED,
};

/* What "webhook add" was told. */
struct webhook_options {
	const char *events;		/* --events, or NULL for anemosd's default ("*") */
	const char *secret_file;	/* --secret-file, or NULL: anemosd makes the secret */
	int disabled;			/* --disabled */
};

static int webhook_option(void *ctx, int option, const char *arg)
{
	struct webhook_options *opts = ctx;

	switch (option) {
	case OPT_EVENTS: opts->events = arg; break;
	case OPT_SECRET_FILE: opts->secret_file = arg; break;
	case OPT_DISABLED: opts->disabled = 1; break;
	default: return -EINVAL;
	}
	return 0;
}

/* The events filter of @hook as one comma-separated string into @buf. */
static void events_text(const json_t *hook, char *buf, size_t len)
{
	const json_t *v;
	size_t i, o = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(hook, "events"), i, v)
		if (json_is_string(v) && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", json_string_value(v));
}

/* How the last delivery of @hook went, in a few words, into @buf. */
static void last_text(const json_t *hook, char *buf, size_t len)
{
	const char *result = json_text(hook, "last_result");

	if (strcmp(result, "-") == 0)
		snprintf(buf, len, "%s", json_is_true(json_object_get(hook, "enabled")) ? "none yet" : "disabled");
	else
		snprintf(buf, len, "%s %s%s", result, json_text(hook, "last_delivery"),
			 json_is_true(json_object_get(hook, "enabled")) ? "" : " (disabled)");
}

/* The path of webhook @ref (+ @tail) into *path, malloc'd (the caller frees it). 0, or -EINVAL
 * for a ref that is not a number, -ENOMEM, with the message (*path then NULL). */
static int hook_path(const char *ref, const char *tail, char **path)
{
	char *end;

	*path = NULL;
	strtoll(ref, &end, 10);
	if (!*ref || *end)
		return err_set(-EINVAL, "'%s' is not a webhook id (anemosctl webhook list shows them)", ref);
	if (asprintf(path, "/api/v1/webhooks/%s%s", ref, tail) < 0) {
		*path = NULL;
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

int webhook_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const header[] = { "ID", "URL", "EVENTS", "LAST", "FAILING SINCE", "LAST ERROR" };
	json_t *answer = NULL;
	const json_t *hooks, *hook;
	struct table table = { 0 };
	char events[512], last[96];
	size_t i;
	int rc;

	if ((rc = parse_command(argc, argv, NULL, NULL, NULL, 0, 0)) < 0)
		return rc;
	if ((rc = api_call(ctl, "GET", "/api/v1/webhooks", NULL, &answer)) != 0)
		goto out;
	if (ctl->json) {
		print_json(answer);
		goto out;
	}
	if (!(hooks = answer_array(answer, "webhooks"))) {
		rc = -EPROTO;
		goto out;
	}
	if ((rc = table_init(&table, sizeof(header) / sizeof(header[0]), header)) != 0)
		goto out;
	json_array_foreach(hooks, i, hook) {
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(hook, "id")));
		events_text(hook, events, sizeof(events));
		last_text(hook, last, sizeof(last));
		const char *const row[] = { id, json_text(hook, "url"), events, last, json_text(hook, "failing_since"),
					    json_text(hook, "last_error") };
		if ((rc = table_add_row(&table, row)) != 0)
			goto out;
	}
	table_print(&table);
out:
	table_free(&table);
	json_decref(answer);
	return rc;
}

/* Prints @deliveries (newest first) as a table. */
static int print_deliveries(const json_t *deliveries)
{
	static const char *const header[] = { "DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "UPDATED", "ERROR" };
	const json_t *d;
	struct table table;
	size_t i;
	int rc;

	if ((rc = table_init(&table, sizeof(header) / sizeof(header[0]), header)) != 0)
		goto out;
	json_array_foreach(deliveries, i, d) {
		char id[24], event[24], attempts[16], status[16];
		const char *st = json_text(d, "status");
		char state[64];

		snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(d, "id")));
		if (json_is_integer(json_object_get(d, "event_id")))
			snprintf(event, sizeof(event), "%lld", (long long)json_integer_value(json_object_get(d, "event_id")));
		else
			snprintf(event, sizeof(event), "%s", json_text(d, "kind"));
		snprintf(attempts, sizeof(attempts), "%lld", (long long)json_integer_value(json_object_get(d, "attempts")));
		if (json_is_integer(json_object_get(d, "last_status")))
			snprintf(status, sizeof(status), "%lld", (long long)json_integer_value(json_object_get(d, "last_status")));
		else
			snprintf(status, sizeof(status), "-");
		if (strcmp(st, "pending") == 0 && json_is_string(json_object_get(d, "next_attempt")))
			snprintf(state, sizeof(state), "pending (next %s)", json_text(d, "next_attempt"));
		else
			snprintf(state, sizeof(state), "%s", st);
		const char *const row[] = { id, event, state, attempts, status, json_text(d, "updated"),
					    json_text(d, "last_error") };
		if ((rc = table_add_row(&table, row)) != 0)
			goto out;
	}
	table_print(&table);
out:
	table_free(&table);
	return rc;
}

int webhook_show(struct ctl *ctl, int argc, char **argv)
{
	json_t *hook = NULL, *deliveries = NULL;
	const json_t *list;
	char *path = NULL, *dpath = NULL, events[512], last[96];
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if ((rc = hook_path(argv[first], "", &path)) < 0 ||
	    (rc = hook_path(argv[first], "/deliveries?limit=20", &dpath)) < 0 ||
	    (rc = api_call(ctl, "GET", path, NULL, &hook)) != 0 ||
	    (rc = api_call(ctl, "GET", dpath, NULL, &deliveries)) != 0)
		goto out;
	if (ctl->json) {
		if ((rc = json_set(hook, "deliveries", json_incref(json_object_get(deliveries, "deliveries")))) == 0)
			print_json(hook);
		goto out;
	}
	events_text(hook, events, sizeof(events));
	last_text(hook, last, sizeof(last));
	printf("webhook %lld\n  url:           ", (long long)json_integer_value(json_object_get(hook, "id")));
	print_text(json_text(hook, "url"), 0);
	printf("\n  events:        %s\n  enabled:       %s\n  created:       %s\n  last delivery: %s\n",
	       events, json_is_true(json_object_get(hook, "enabled")) ? "yes" : "no", json_text(hook, "created"), last);
	printf("  failing since: %s\n  last error:    ", json_text(hook, "failing_since"));
	print_text(json_text(hook, "last_error"), 0);
	printf("\n  events read up to id %lld\n\nrecent deliveries (newest first):\n",
	       (long long)json_integer_value(json_object_get(hook, "last_event_id")));
	if ((list = answer_array(deliveries, "deliveries")))
		rc = print_deliveries(list);
	else
		rc = -EPROTO;
out:
	json_decref(hook);
	json_decref(deliveries);
	free(path);
	free(dpath);
	return rc;
}

int webhook_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "disabled", no_argument, NULL, OPT_DISABLED },
		{ NULL, 0, NULL, 0 },
	};
	struct webhook_options opts = { 0 };
	json_t *body = json_object(), *answer = NULL;
	char *secret = NULL;
	size_t len = 0;
	int first, rc;

	if (!body)
		return err_set(-ENOMEM, "out of memory");
	if ((first = parse_command(argc, argv, options, webhook_option, &opts, 1, 1)) < 0) {
		json_decref(body);
		return first;
	}
	if ((rc = json_set_text(body, "url", argv[first])) != 0 ||
	    (opts.events && (rc = json_set_text(body, "events", opts.events)) != 0) ||
	    (opts.disabled && (rc = json_set(body, "enabled", json_false())) != 0))
		goto out;
	if (opts.secret_file) {
		if ((rc = read_file(opts.secret_file, SECRET_FILE_MAX, &secret, &len)) != 0)
			goto out;
		while (len && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
			secret[--len] = '\0';
		if ((rc = json_set_text(body, "secret", secret)) != 0)
			goto out;
	}
	if ((rc = api_call(ctl, "POST", "/api/v1/webhooks", body, &answer)) != 0)
		goto out;
	if (ctl->json) {
		print_json(answer);
	} else {
		printf("added webhook %lld: ", (long long)json_integer_value(json_object_get(answer, "id")));
		print_text(json_text(answer, "url"), 0);
		putchar('\n');
		if (!opts.secret_file)
			printf("secret (shown only now; the receiver checks X-Anemos-Signature with it):\n%s\n",
			       json_text(answer, "secret"));
	}
out:
	if (secret) {
		memset(secret, 0, len);
		free(secret);
	}
	json_decref(body);
	json_decref(answer);
	return rc;
}

int webhook_rm(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if ((rc = hook_path(argv[first], "", &path)) < 0)
		return rc;
	if ((rc = api_call(ctl, "DELETE", path, NULL, &answer)) == 0 && !ctl->json)
		printf("removed webhook %s\n", argv[first]);
	json_decref(answer);
	free(path);
	return rc;
}

int webhook_test(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	const json_t *d;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if ((rc = hook_path(argv[first], "/test", &path)) < 0)
		return rc;
	if ((rc = api_call(ctl, "POST", path, NULL, &answer)) != 0)
		goto out;
	d = json_object_get(answer, "delivery");
	if (ctl->json) {
		print_json(answer);
	} else if (strcmp(json_text(d, "status"), "ok") == 0) {
		printf("ping delivered to webhook %s (HTTP %lld)\n", argv[first],
		       (long long)json_integer_value(json_object_get(d, "last_status")));
	} else {
		printf("ping to webhook %s failed: ", argv[first]);
		print_text(json_text(d, "last_error"), 0);
		putchar('\n');
	}
	if (strcmp(json_text(d, "status"), "ok") != 0)
		rc = -EIO;
out:
	json_decref(answer);
	free(path);
	return rc;
}

/*
 * anemosctl rule add|list|show|rm|test: discovery rules over /api/v1/rules. A rule is a
 * search, a priority and actions that a host gets on its first inventory when the rule is
 * the first to match it (docs/rules.md).
 */
#include <err.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"

enum rule_option_id {
	OPT_QUERY = 256,
	OPT_PRIORITY,
	OPT_MAX_COUNT,
	OPT_TAG,
	OPT_ATTR,
	OPT_IMAGE,
	OPT_NEXT_BOOT,
	OPT_ONCE,
	OPT_INSTALL_SETTING,
	OPT_DISABLED,
};

/* What "rule add" was told: the request body, and its actions inside it. */
struct rule_edit {
	json_t *body;		/* the rule; owned */
	json_t *actions;	/* body's "actions"; borrowed */
};

/* Returns "/api/v1/rules/NAME" (escaped) followed by nothing, for the caller to free; NULL
 * (with the message) when out of memory. */
static char *rule_path(const char *name)
{
	char *escaped = url_escape(name), *path = NULL;

	if (escaped && asprintf(&path, "/api/v1/rules/%s", escaped) < 0) {
		err_set(-ENOMEM, "out of memory");
		path = NULL;
	}
	free(escaped);
	return path;
}

/* Parses @arg as a whole number from @min to @max into *@value. 0, or -EINVAL (with the message). */
static int parse_number(const char *option, const char *arg, long long min, long long max, long long *value)
{
	char *end;

	errno = 0;
	*value = strtoll(arg, &end, 10);
	if (!*arg || *end || errno || *value < min || *value > max)
		return err_set(-EINVAL, "%s takes a whole number from %lld to %lld, not '%s'", option, min, max, arg);
	return 0;
}

/* The object member @key of @object, made when missing; NULL (with the message) out of memory. */
static json_t *object_member(json_t *object, const char *key)
{
	if (!json_object_get(object, key) && json_set(object, key, json_object()) != 0)
		return NULL;
	return json_object_get(object, key);
}

/* --attr NAME=VALUE and --install-setting KEY=VALUE into @object: VALUE as JSON when it
 * reads as an object, array, number or true/false (disk={"serial":"S"}), else as text. */
static int pair_option(json_t *object, const char *option, const char *arg)
{
	const char *eq = strchr(arg, '=');
	json_t *value = NULL;
	char *key;
	int rc = 0;

	if (!object)
		return -ENOMEM;
	if (!eq || eq == arg || !eq[1])
		return err_set(-EINVAL, "%s takes KEY=VALUE, not '%s'", option, arg);
	if (!(key = strndup(arg, (size_t)(eq - arg))))
		return err_set(-ENOMEM, "out of memory");
	if (!(value = json_loads(eq + 1, JSON_DECODE_ANY, NULL)) || json_is_string(value) || json_is_null(value)) {
		json_decref(value);
		value = NULL;
		rc = json_text_new(eq + 1, &value);
	}
	if (rc == 0)
		rc = json_set(object, key, value);
	free(key);
	return rc;
}

static int rule_option(void *ctx, int option, const char *arg)
{
	struct rule_edit *edit = ctx;
	long long n;
	json_t *item;
	int rc;

	switch (option) {
	case OPT_QUERY:
		return json_set_text(edit->body, "query", arg);
	case OPT_PRIORITY:
		if ((rc = parse_number("--priority", arg, 0, 1000000, &n)) != 0)
			return rc;
		return json_set(edit->body, "priority", json_integer(n));
	case OPT_MAX_COUNT:
		if ((rc = parse_number("--max-count", arg, 1, 1000000, &n)) != 0)
			return rc;
		return json_set(edit->body, "max_count", json_integer(n));
	case OPT_DISABLED:
		return json_set(edit->body, "enabled", json_false());
	case OPT_TAG:
		if (!json_object_get(edit->actions, "tags") && (rc = json_set(edit->actions, "tags", json_array())) != 0)
			return rc;
		if ((rc = json_text_new(arg, &item)) != 0)
			return rc;
		if (json_array_append_new(json_object_get(edit->actions, "tags"), item) != 0)
			return err_set(-ENOMEM, "out of memory");
		return 0;
	case OPT_ATTR:
		return pair_option(object_member(edit->actions, "attributes"), "--attr", arg);
	case OPT_INSTALL_SETTING:
		return pair_option(object_member(edit->actions, "install"), "--install-setting", arg);
	case OPT_IMAGE:
		return json_set_text(edit->actions, "image", arg);
	case OPT_NEXT_BOOT:
		return json_set_text(edit->actions, "next_boot", arg);
	case OPT_ONCE:
		return json_set(edit->actions, "once", json_true());
	default:
		return -EINVAL;
	}
}

/* A rule's actions on one line, "tags +db +rack-1; image tiny; next_boot install", malloc'd;
 * NULL (with the message) out of memory. */
static char *actions_text(const json_t *actions)
{
	char *text = NULL, *value;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	const json_t *v, *tag;
	const char *key;

	if (!f) {
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	json_object_foreach((json_t *)actions, key, v) {
		fputs(ftell(f) > 0 ? "; " : "", f);
		if (!strcmp(key, "tags")) {
			fputs("tags", f);
			json_array_foreach(v, i, tag)
				fprintf(f, " +%s", json_string_value(tag) ? json_string_value(tag) : "?");
		} else if (json_is_string(v)) {
			fprintf(f, "%s %s", key, json_string_value(v));
		} else if ((value = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY))) {
			fprintf(f, "%s %s", key, value);
			free(value);
		}
	}
	if (fclose(f) != 0) {
		free(text);
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	return text;
}

/* Prints @rules (as GET /api/v1/rules has them) as a table. 0 or -ENOMEM (with the message). */
static int print_rule_table(const json_t *rules)
{
	static const char *const header[] = { "NAME", "PRIORITY", "CLAIMED", "ENABLED", "QUERY", "ACTIONS" };
	const json_t *rule, *max;
	struct table table;
	char priority[24], claimed[48];
	size_t i;
	int rc;

	if ((rc = table_init(&table, sizeof(header) / sizeof(header[0]), header)) != 0)
		goto out;
	json_array_foreach(rules, i, rule) {
		char *actions = actions_text(json_object_get(rule, "actions"));

		if (!actions) {
			rc = -ENOMEM;
			goto out;
		}
		max = json_object_get(rule, "max_count");
		snprintf(priority, sizeof(priority), "%lld", (long long)json_integer_value(json_object_get(rule, "priority")));
		if (json_is_integer(max))
			snprintf(claimed, sizeof(claimed), "%lld/%lld",
				 (long long)json_integer_value(json_object_get(rule, "claimed")),
				 (long long)json_integer_value(max));
		else
			snprintf(claimed, sizeof(claimed), "%lld",
				 (long long)json_integer_value(json_object_get(rule, "claimed")));
		const char *const row[] = {
			json_text(rule, "name"), priority, claimed,
			json_is_true(json_object_get(rule, "enabled")) ? "yes" : "no", json_text(rule, "query"), actions
		};
		rc = table_add_row(&table, row);
		free(actions);
		if (rc != 0)
			goto out;
	}
	table_print(&table);
out:
	table_free(&table);
	return rc;
}

int rule_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "query", required_argument, NULL, OPT_QUERY },
		{ "priority", required_argument, NULL, OPT_PRIORITY },
		{ "max-count", required_argument, NULL, OPT_MAX_COUNT },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "attr", required_argument, NULL, OPT_ATTR },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "next-boot", required_argument, NULL, OPT_NEXT_BOOT },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "install-setting", required_argument, NULL, OPT_INSTALL_SETTING },
		{ "disabled", no_argument, NULL, OPT_DISABLED },
		{ 0 }
	};
	struct rule_edit edit = { .body = json_object() };
	json_t *answer = NULL;
	int first, rc;

	if (!edit.body || json_set(edit.body, "actions", json_object()) != 0) {
		json_decref(edit.body);
		return err_set(-ENOMEM, "out of memory");
	}
	edit.actions = json_object_get(edit.body, "actions");
	if ((first = parse_command(argc, argv, options, rule_option, &edit, 1, 1)) < 0) {
		rc = first;
		goto out;
	}
	if (!json_object_get(edit.body, "query")) {
		rc = err_set(-EINVAL, "rule add needs --query SEARCH (what hosts it is for)");
		goto out;
	}
	if (!json_object_size(edit.actions)) {
		rc = err_set(-EINVAL, "a rule needs at least one action: --tag, --attr, --image, --next-boot, --once, "
			     "--install-setting");
		goto out;
	}
	if ((rc = json_set_text(edit.body, "name", argv[first])) != 0 ||
	    (rc = api_call(ctl, "POST", "/api/v1/rules", edit.body, &answer)) != 0)
		goto out;
	if (ctl->json) {
		print_json(answer);
	} else {
		fputs("added rule ", stdout);
		print_text(json_text(answer, "name"), 0);
		printf(" (priority %lld)\n", (long long)json_integer_value(json_object_get(answer, "priority")));
	}
out:
	json_decref(answer);
	json_decref(edit.body);
	return rc;
}

int rule_list(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	const json_t *rules;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 0, 0)) < 0)
		return first;
	if ((rc = api_call(ctl, "GET", "/api/v1/rules", NULL, &answer)) != 0)
		return rc;
	if (ctl->json)
		print_json(answer);
	else if ((rules = answer_array(answer, "rules")))
		rc = print_rule_table(rules);
	else
		rc = -EPROTO;
	json_decref(answer);
	return rc;
}

/* "  NAME  VALUE" lines of "rule show". */
static void show_line(const char *name, const char *value)
{
	printf("%-10s ", name);
	print_text(value, 0);
	putchar('\n');
}

int rule_show(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	const json_t *hosts, *host, *max;
	char *path, *actions, number[48];
	int first, rc;
	size_t i;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = rule_path(argv[first])))
		return -ENOMEM;
	rc = api_call(ctl, "GET", path, NULL, &answer);
	free(path);
	if (rc != 0)
		return rc;
	if (ctl->json) {
		print_json(answer);
		goto out;
	}
	show_line("name", json_text(answer, "name"));
	show_line("query", json_text(answer, "query"));
	snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(json_object_get(answer, "priority")));
	show_line("priority", number);
	max = json_object_get(answer, "max_count");
	snprintf(number, sizeof(number), json_is_integer(max) ? "%lld" : "none", (long long)json_integer_value(max));
	show_line("max count", number);
	show_line("enabled", json_is_true(json_object_get(answer, "enabled")) ? "yes" : "no");
	if (!(actions = actions_text(json_object_get(answer, "actions")))) {
		rc = -ENOMEM;
		goto out;
	}
	show_line("actions", actions);
	free(actions);
	snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(json_object_get(answer, "claimed")));
	show_line("claimed", number);
	hosts = json_object_get(answer, "hosts");
	json_array_foreach(hosts, i, host) {
		const json_t *name = json_object_get(host, "hostname");

		printf("  host %lld  ", (long long)json_integer_value(json_object_get(host, "host_id")));
		print_text(json_is_string(name) ? json_string_value(name) : "-", 0);
		printf("  %s\n", json_text(host, "time"));
	}
out:
	json_decref(answer);
	return rc;
}

int rule_rm(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	char *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(path = rule_path(argv[first])))
		return -ENOMEM;
	if ((rc = api_call(ctl, "DELETE", path, NULL, &answer)) == 0 && !ctl->json) {
		fputs("removed rule ", stdout);
		print_text(argv[first], 0);
		putchar('\n');
	}
	json_decref(answer);
	free(path);
	return rc;
}

int rule_test(struct ctl *ctl, int argc, char **argv)
{
	json_t *body = json_object(), *answer = NULL;
	const json_t *hosts;
	int first, rc;

	if (!body)
		return err_set(-ENOMEM, "out of memory");
	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0) {
		json_decref(body);
		return first;
	}
	if ((rc = json_set_text(body, "query", argv[first])) == 0 &&
	    (rc = api_call(ctl, "POST", "/api/v1/rules/test", body, &answer)) == 0) {
		if (ctl->json) {
			print_json(answer);
		} else if ((hosts = answer_array(answer, "hosts"))) {
			rc = print_host_list(hosts, NULL, false);
			if (rc == 0)
				printf("%zu host%s would match\n", json_array_size(hosts), json_array_size(hosts) == 1 ? "" : "s");
		} else {
			rc = -EPROTO;
		}
	}
	json_decref(answer);
	json_decref(body);
	return rc;
}

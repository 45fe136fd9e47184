/*
 * anemosctl search list|save|rm: saved searches (GET /api/v1/searches, PUT and DELETE
 * /api/v1/searches/NAME). `@NAME` in any search stands for the saved one:
 * `anemosctl host list @web -tag:retired`.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"

int search_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const header[] = { "NAME", "QUERY", "BY" };
	json_t *answer = NULL, *s;
	struct table table;
	size_t i;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 0, 0)) < 0)
		return first;
	if ((rc = api_call(ctl, "GET", "/api/v1/searches", NULL, &answer)) != 0)
		return rc;
	if (ctl->json) {
		print_json(answer);
	} else if ((rc = table_init(&table, 3, header)) == 0) {
		json_array_foreach(json_object_get(answer, "searches"), i, s) {
			const char *const row[] = { json_text(s, "name"), json_text(s, "query"), json_text(s, "created_by") };

			if ((rc = table_add_row(&table, row)) != 0)
				break;
		}
		if (rc == 0)
			table_print(&table);
		table_free(&table);
	}
	json_decref(answer);
	return rc;
}

/* PUT or DELETE of /api/v1/searches/NAME with body (or NULL). */
static int search_call(struct ctl *ctl, const char *method, const char *name, json_t *body, json_t **answer)
{
	char *escaped = url_escape(name), *path = NULL;
	int rc;

	if (!escaped)
		return -ENOMEM;
	if (asprintf(&path, "/api/v1/searches/%s", escaped) < 0) {
		err_set(-ENOMEM, "out of memory");
		free(escaped);
		return -ENOMEM;
	}
	rc = api_call(ctl, method, path, body, answer);
	free(path);
	free(escaped);
	return rc;
}

int search_save(struct ctl *ctl, int argc, char **argv)
{
	json_t *body, *answer = NULL;
	size_t len = 1;
	char *text;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 2, 64)) < 0)
		return first;
	for (int i = first + 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!(text = calloc(1, len)))
		return err_set(-ENOMEM, "out of memory");
	for (int i = first + 1; i < argc; i++) {
		strcat(text, i > first + 1 ? " " : "");
		strcat(text, argv[i]);
	}
	body = json_pack("{s:s}", "query", text);
	free(text);
	if (!body)
		return err_set(-EBADMSG, "the search is not UTF-8");
	rc = search_call(ctl, "PUT", argv[first], body, &answer);
	json_decref(body);
	if (rc == 0 && ctl->json) {
		print_json(answer);
	} else if (rc == 0) {
		fputs("saved search @", stdout);
		print_text(argv[first], 0);
		fputs(": ", stdout);
		print_text(json_text(answer, "query"), 0);
		putchar('\n');
	}
	json_decref(answer);
	return rc;
}

int search_rm(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if ((rc = search_call(ctl, "DELETE", argv[first], NULL, &answer)) == 0 && !ctl->json) {
		fputs("removed saved search @", stdout);
		print_text(argv[first], 0);
		putchar('\n');
	}
	json_decref(answer);
	return rc;
}

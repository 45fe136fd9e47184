/*
 * anemosctl host import FILE.csv|FILE.json: enrolls a delivery of machines at once, in one
 * POST /api/v1/hosts with an array, which anemosd takes whole or not at all (the answer
 * names the first bad row).
 *
 * FILE.json: an array of hosts as `host add` would send them ({"mac": ..., "hostname": ...}),
 * or {"hosts": [...]}. FILE.csv: a header line naming columns among mac, hostname,
 * next_boot, image and once, then one host a line; an empty cell leaves that field out;
 * once is true/false (or yes/no, 1/0); a cell may be "quoted", with "" for a quote.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anemosctl.h"

#define IMPORT_MAX_BYTES (16 << 20)
#define CSV_CELLS 16

static const char *const csv_columns[] = { "mac", "hostname", "next_boot", "image", "once", NULL };

/* Splits the CSV line at *p into cells (unquoted in place), advancing *p past it: the count
 * of cells, or -EINVAL (no message) for a quote that does not end. */
static int csv_line(char **p, char **cells, int max)
{
	char *in = *p, *out;
	int n = 0;

	if (!*in)
		return 0;
	for (;;) {
		bool quoted = *in == '"';

		out = in + quoted;
		if (n < max)
			cells[n] = out;
		n++;
		for (char *r = in + quoted;; r++) {
			if (quoted && *r == '"' && r[1] == '"') {
				*out++ = '"';
				r++;
			} else if (quoted && *r == '"') {
				quoted = false;
			} else if (quoted && !*r) {
				return -EINVAL;
			} else if (!quoted && (*r == ',' || *r == '\n' || *r == '\r' || !*r)) {
				char end = *r;

				*out = '\0';
				in = end ? r + 1 : r;
				if (end == '\r' && *in == '\n')
					in++;
				if (end != ',') {
					*p = in;
					return n > max ? max : n;
				}
				break;
			} else {
				*out++ = *r;
			}
		}
	}
}

/* The value of CSV cell @v of column @col as JSON, or NULL (with the message) when it is bad. */
static json_t *csv_value(const char *col, const char *v, int line)
{
	if (strcmp(col, "once") != 0)
		return json_string(v);
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
		return json_true();
	if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0"))
		return json_false();
	err_add(-EINVAL, "line %d: once must be true or false, not '%s'", line, v);
	return NULL;
}

/* The hosts of CSV @text (modified) as a JSON array, or NULL (with the message). */
static json_t *csv_hosts(char *text)
{
	char *cells[CSV_CELLS], *header[CSV_CELLS], *p = text;
	int ncols = csv_line(&p, header, CSV_CELLS), line = 1;
	json_t *hosts = json_array();
	bool bad = false;	/* a row was refused (said): nothing is enrolled */

	for (int c = 0; c < ncols; c++) {
		int k;

		for (k = 0; csv_columns[k] && strcmp(csv_columns[k], header[c]) != 0; k++)
			;
		if (!csv_columns[k]) {
			err_add(-EINVAL, "line 1: unknown column '%s' (mac, hostname, next_boot, image, once)", header[c]);
			ncols = -1;
		}
	}
	while (ncols > 0 && *p) {
		int n = csv_line(&p, cells, CSV_CELLS);
		json_t *host = json_object(), *v;

		line++;
		if (n < 0 || n > ncols) {
			err_add(-EINVAL, "line %d: %s", line, n < 0 ? "a quote that does not end" : "more cells than columns");
			json_decref(host);
			bad = true;
			break;
		}
		for (int c = 0; c < n; c++)
			if (cells[c][0] && ((v = csv_value(header[c], cells[c], line)) == NULL ||
					    json_object_set_new(host, header[c], v) < 0))
				n = -1;
		if (n < 0) {
			json_decref(host);
			bad = true;
			break;
		}
		if (json_object_size(host))
			json_array_append_new(hosts, host);
		else
			json_decref(host);
	}
	if (ncols <= 0 || *p || bad) {
		if (ncols == 0)
			err_add(-EINVAL, "the file is empty: a header line (mac,hostname,...) comes first");
		json_decref(hosts);
		return NULL;
	}
	return hosts;
}

/* The hosts of JSON @text: an array, or an object with "hosts"; NULL (with the message) if not. */
static json_t *json_hosts(const char *text, size_t len)
{
	json_error_t e;
	json_t *doc = json_loadb(text, len, 0, &e), *hosts;

	if (!doc) {
		err_set(-EINVAL, "line %d: %s", e.line, e.text);
		return NULL;
	}
	hosts = json_is_array(doc) ? json_incref(doc) : json_incref(json_object_get(doc, "hosts"));
	json_decref(doc);
	if (!json_is_array(hosts)) {
		err_set(-EINVAL, "the file must hold an array of hosts, or {\"hosts\": [...]}");
		json_decref(hosts);
		return NULL;
	}
	return hosts;
}

int host_import(struct ctl *ctl, int argc, char **argv)
{
	json_t *hosts, *answer = NULL;
	const char *path;
	size_t len;
	char *text;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	path = argv[first];
	if ((rc = read_file(path, IMPORT_MAX_BYTES, &text, &len)) < 0)
		return rc;
	len = strlen(text) < len ? strlen(text) : len;
	hosts = strlen(path) > 4 && !strcasecmp(path + strlen(path) - 4, ".csv") ? csv_hosts(text) : json_hosts(text, len);
	free(text);
	if (!hosts)
		return err_add(-EINVAL, "%s: nothing enrolled", path);
	if (!json_array_size(hosts)) {
		json_decref(hosts);
		return err_set(-EINVAL, "%s holds no host: nothing enrolled", path);
	}
	if ((rc = api_call(ctl, "POST", "/api/v1/hosts", hosts, &answer)) == 0) {
		if (ctl->json)
			print_json(answer);
		else
			printf("enrolled %zu hosts from %s\n", json_array_size(answer_array(answer, "hosts")), path);
	}
	json_decref(answer);
	json_decref(hosts);
	return rc;
}

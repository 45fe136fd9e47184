/*
 * The columns of `anemosctl host list`: which exist, what each shows of a host, and the two
 * ways a list is printed: an aligned table (table_print), or CSV (RFC 4180: every field that
 * holds a comma, quote or line break is quoted, quotes doubled) for a spreadsheet or a
 * script. `--columns hostname,status,tag,rack,memory`: any name that is not a column is the
 * host's attribute of that name.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"

#define COLUMNS_MAX 32

/* One column: its name, its header, and what it shows of a host into buf. */
struct host_column {
	const char *name, *header;
	const char *(*show)(const json_t *host, char *buf, size_t size);
};

static const char *show_id(const json_t *host, char *buf, size_t size)
{
	snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(host, "id")));
	return buf;
}

static const char *joined(const json_t *list, char *buf, size_t size)
{
	char *text = join_texts(list, ",");

	snprintf(buf, size, "%s", text && *text ? text : "-");
	free(text);
	return buf;
}

static const char *show_macs(const json_t *host, char *buf, size_t size)
{
	return joined(json_object_get(host, "macs"), buf, size);
}

static const char *show_tags(const json_t *host, char *buf, size_t size)
{
	return joined(json_object_get(host, "tags"), buf, size);
}

static const char *show_power(const json_t *host, char *buf, size_t size)
{
	(void)buf, (void)size;
	return json_text(json_object_get(host, "power"), "state");
}

static const char *show_memory(const json_t *host, char *buf, size_t size)
{
	const json_t *v = json_object_get(json_object_get(host, "summary"), "memory_bytes");

	if (!json_is_integer(v))
		return "-";
	format_size(buf, size, (uint64_t)json_integer_value(v));
	return buf;
}

static const char *show_cpu(const json_t *host, char *buf, size_t size)
{
	(void)buf, (void)size;
	return json_text(json_object_get(host, "summary"), "cpu_model");
}

static const char *show_firmware(const json_t *host, char *buf, size_t size)
{
	(void)buf, (void)size;
	return json_text(json_object_get(host, "summary"), "firmware");
}

static const char *show_drift(const json_t *host, char *buf, size_t size)
{
	size_t n = json_array_size(json_object_get(host, "drift"));

	if (!n)
		return "-";
	snprintf(buf, size, "%zu change%s", n, n == 1 ? "" : "s");
	return buf;
}

/* A field of the host by its API name. */
#define FIELD(NAME, HEADER, KEY)                                                          \
	static const char *show_##NAME(const json_t *host, char *buf, size_t size)       \
	{                                                                                  \
		(void)buf, (void)size;                                                     \
		return json_text(host, KEY);                                               \
	}
FIELD(hostname, "HOSTNAME", "hostname")
FIELD(status, "STATUS", "status")
FIELD(next, "NEXT-BOOT", "next_boot")
FIELD(image, "IMAGE", "image")
FIELD(serial, "SERIAL", "serial")
FIELD(vendor, "VENDOR", "vendor")
FIELD(product, "PRODUCT", "product")
FIELD(uuid, "UUID", "uuid")
FIELD(asset, "ASSET", "asset")
FIELD(seen, "LAST-SEEN", "last_seen")

static const struct host_column columns[] = {
	{ "id", "ID", show_id },
	{ "hostname", "HOSTNAME", show_hostname },
	{ "status", "STATUS", show_status },
	{ "next_boot", "NEXT-BOOT", show_next },
	{ "image", "IMAGE", show_image },
	{ "macs", "MACS", show_macs },
	{ "serial", "SERIAL", show_serial },
	{ "vendor", "VENDOR", show_vendor },
	{ "product", "PRODUCT", show_product },
	{ "uuid", "UUID", show_uuid },
	{ "asset", "ASSET", show_asset },
	{ "last_seen", "LAST-SEEN", show_seen },
	{ "power", "POWER", show_power },
	{ "tag", "TAGS", show_tags },
	{ "memory", "MEMORY", show_memory },
	{ "cpu", "CPU", show_cpu },
	{ "firmware", "FIRMWARE", show_firmware },
	{ "drift", "HARDWARE", show_drift },
};

const char *const host_columns_default = "id,hostname,status,next_boot,image,macs,serial,product,last_seen,power";

/* What a column named name shows: one of the table, or (NULL) the attribute name. */
static const struct host_column *column_find(const char *name)
{
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		if (!strcmp(columns[i].name, name) || (!strcmp(name, "tags") && !strcmp(columns[i].name, "tag")) ||
		    (!strcmp(name, "next") && !strcmp(columns[i].name, "next_boot")))
			return &columns[i];
	return NULL;
}

/* The value of column name for host: an attribute when name is no column. */
static const char *column_value(const char *name, const json_t *host, char *buf, size_t size)
{
	const struct host_column *c = column_find(name);
	const char *v;

	if (c)
		return c->show(host, buf, size);
	v = json_string_value(json_object_get(json_object_get(host, "attributes"), name));
	return v ? v : "-";
}

/* Splits list ("a,b,c") into at most COLUMNS_MAX names, in place; 0 or -EINVAL (with the message). */
static int column_names(char *list, char **names, size_t *n)
{
	*n = 0;
	for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (*n == COLUMNS_MAX)
			return err_set(-EINVAL, "--columns: at most %d columns", COLUMNS_MAX);
		names[(*n)++] = name;
	}
	if (!*n)
		return err_set(-EINVAL, "--columns needs at least one column, e.g. --columns hostname,status,tag,rack");
	return 0;
}

/* One CSV field: quoted when it must be. */
static void csv_field(const char *v, bool last)
{
	if (strpbrk(v, ",\"\r\n")) {
		putchar('"');
		for (; *v; v++) {
			if (*v == '"')
				putchar('"');
			putchar(*v);
		}
		putchar('"');
	} else {
		fputs(v, stdout);
	}
	putchar(last ? '\n' : ',');
}

static void print_csv(const json_t *hosts, char **names, size_t n)
{
	const json_t *host;
	char buf[256];
	size_t i;

	for (size_t c = 0; c < n; c++)
		csv_field(names[c], c + 1 == n);
	json_array_foreach(hosts, i, host)
		for (size_t c = 0; c < n; c++) {
			const char *v = column_value(names[c], host, buf, sizeof(buf));

			csv_field(strcmp(v, "-") ? v : "", c + 1 == n); /* nothing is an empty cell */
		}
}

/* The SGR colour of a status on a terminal: red failed, green deployed, yellow installing. */
static const char *status_colour(const char *status)
{
	static const struct { const char *status, *sgr; } colours[] = {
		{ "failed", "1;31" }, { "deployed", "32" }, { "installing", "33" }, { "ready", "36" },
		{ "maintenance", "35" }, { "decommissioned", "2" },
	};

	for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++)
		if (!strcmp(status, colours[i].status))
			return colours[i].sgr;
	return NULL;
}

static int print_table(const json_t *hosts, char **names, size_t n)
{
	const char *header[COLUMNS_MAX] = { NULL }, *row[COLUMNS_MAX];
	char bufs[COLUMNS_MAX][256], upper[COLUMNS_MAX][64];
	const json_t *host;
	struct table table;
	size_t i;
	int rc;

	for (size_t c = 0; c < n; c++) {
		const struct host_column *col = column_find(names[c]);

		snprintf(upper[c], sizeof(upper[c]), "%s", col ? col->header : names[c]);
		for (char *p = upper[c]; !col && *p; p++)
			*p = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		header[c] = upper[c];
	}
	if ((rc = table_init(&table, n, header)) != 0)
		return rc;
	for (size_t c = 0; c < n; c++)
		if (!strcmp(names[c], "status")) {
			table.colour = status_colour;
			table.colour_column = c;
		}
	json_array_foreach(hosts, i, host) {
		for (size_t c = 0; c < n; c++)
			row[c] = column_value(names[c], host, bufs[c], sizeof(bufs[c]));
		if ((rc = table_add_row(&table, row)) != 0)
			break;
	}
	if (rc == 0)
		table_print(&table);
	table_free(&table);
	return rc;
}

int print_host_list(const json_t *hosts, const char *list, bool csv)
{
	char *copy = strdup(list ? list : host_columns_default), *names[COLUMNS_MAX];
	size_t n;
	int rc;

	if (!copy)
		return err_set(-ENOMEM, "out of memory");
	if ((rc = column_names(copy, names, &n)) == 0) {
		if (csv)
			print_csv(hosts, names, n);
		else
			rc = print_table(hosts, names, n);
	}
	free(copy);
	return rc;
}

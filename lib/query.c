/* The host search language (query.h): a recursive-descent parser that writes the SQL
 * condition as it goes. Values never enter the SQL text: each is a numbered parameter. Names
 * of inventory fields do (as JSON paths), so they are held to [a-z0-9_] first. */
#include <ctype.h>
#include <errno.h>
#include <math.h> /* isfinite */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lifecycle.h"
#include "query.h"

/* The host's inventory text: a row of its own (server/db.c's host_inventories). */
#define INVENTORY "(SELECT i.inventory FROM host_inventories i WHERE i.host_id = h.id)"

enum kind {
	K_TEXT,   /* compared as text, any case */
	K_NUMBER, /* compared as a number or size; the value must be one */
	K_AUTO,   /* a number when the value is one (or true/false), else text */
	K_STATUS, /* a host status name */
	K_ACTION, /* a next-boot action name */
};

struct parser {
	const char *text;
	size_t pos, len;
	int depth, terms, first;
	FILE *sql;
	struct query_param *params;
	size_t count, cap;
	struct query_error *err;
	bool failed;
};

/* One term, as read: KEY OP VALUE, its position in the text. */
struct term {
	char key[64];
	char op[3];
	char *value; /* malloc'd */
	size_t pos;
};

/* The host's own columns. */
static const struct column {
	const char *key, *expr;
	enum kind kind;
} columns[] = {
	{"hostname", "h.hostname", K_TEXT},     {"status", "h.status", K_STATUS},
	{"next", "h.next_boot", K_ACTION},      {"next_boot", "h.next_boot", K_ACTION},
	{"image", "h.image", K_TEXT},           {"serial", "h.serial", K_TEXT},
	{"uuid", "h.uuid", K_TEXT},             {"vendor", "h.vendor", K_TEXT},
	{"product", "h.product", K_TEXT},       {"asset", "h.asset", K_TEXT},
	{"firmware", "h.firmware", K_TEXT},     {"cpu", "h.cpu_model", K_TEXT},
	{"cpu.model", "h.cpu_model", K_TEXT},   {"cpu.sockets", "h.cpu_sockets", K_NUMBER},
	{"cpu.threads", "h.cpu_threads", K_NUMBER}, {"memory", "h.memory_bytes", K_NUMBER},
	{"disk.count", "h.disk_count", K_NUMBER}, {"disk.total", "h.disk_bytes", K_NUMBER},
};

/* Inventory lists whose elements a term matches one by one: PREFIX.FIELD. */
static const struct each {
	const char *prefix, *path;
} eaches[] = {
	{"nic.", "$.nics"}, {"disk.", "$.disks"}, {"dimm.", "$.memory.dimms"},
};

/* Short names of element fields. */
static const struct alias {
	const char *prefix, *name, *field;
} aliases[] = {
	{"nic.", "speed", "speed_mbps"}, {"disk.", "size", "size_bytes"}, {"dimm.", "size", "size_bytes"},
	{"dimm.", "speed", "speed_mts"},
	/* the switch port a NIC's LLDP names (inventory/lldp.c) */
	{"nic.", "switch", "lldp.switch"}, {"nic.", "port", "lldp.port"}, {"nic.", "vlan", "lldp.vlan"},
};

/* Inventory objects whose facts a term names by path. */
static const char *const paths[] = {"system.", "baseboard.", "chassis.", "bios.", "cpu.", "memory.", "bmc."};

/* What a bare word searches, as before the language: ?N is the word as a LIKE pattern. */
static const char *const word_columns[] = {
	"h.hostname", "h.serial", "h.vendor", "h.product", "h.status", "h.image",
	"h.uuid",     "h.asset",  "h.cpu_model", "h.firmware",
};

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (!p->failed) {
		p->failed = true;
		p->err->pos = pos;
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Adds a parameter; returns its number (?N), or -ENOMEM. text is taken over. */
static int add_param(struct parser *p, enum query_param_type type, char *text, double number)
{
	struct query_param *grown;

	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;

		if (!(grown = realloc(p->params, cap * sizeof(*grown)))) {
			free(text);
			return -ENOMEM;
		}
		p->params = grown;
		p->cap = cap;
	}
	p->params[p->count] = (struct query_param){.type = type, .text = text};
	if (type == QUERY_PARAM_INT)
		p->params[p->count].number = (long long)number;
	else if (type == QUERY_PARAM_REAL)
		p->params[p->count].real = number;
	p->count++;
	return p->first + (int)p->count;
}

static int text_param(struct parser *p, const char *s)
{
	char *copy = strdup(s);

	return copy ? add_param(p, QUERY_PARAM_TEXT, copy, 0) : -ENOMEM;
}

/* The LIKE pattern that finds s anywhere, with % _ and \ escaped. */
static int like_param(struct parser *p, const char *s)
{
	char *pattern = malloc(strlen(s) * 2 + 3), *o = pattern;

	if (!pattern)
		return -ENOMEM;
	*o++ = '%';
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '%';
	*o = '\0';
	return add_param(p, QUERY_PARAM_TEXT, pattern, 0);
}

int query_parse_size(const char *s, double *out)
{
	static const char units[] = "KMGTP";
	const char *unit;
	char *end;
	double v;

	if (!s || !(isdigit((unsigned char)*s) || ((*s == '-' || *s == '.') && s[1])))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	if (*end && (unit = strchr(units, toupper((unsigned char)*end)))) {
		for (const char *u = units; u <= unit; u++)
			v *= 1024;
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
	}
	if (*end || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* A number parameter: an integer when v is one. */
static int number_param(struct parser *p, double v)
{
	if (v > -9.0e18 && v < 9.0e18 && v == (double)(long long)v)
		return add_param(p, QUERY_PARAM_INT, NULL, v);
	return add_param(p, QUERY_PARAM_REAL, NULL, v);
}

/* Writes `expr OP ?N` for a numeric comparison. */
static int emit_number(struct parser *p, const char *expr, const struct term *t, double v)
{
	const char *op = t->op;
	int n = number_param(p, v);

	if (n < 0)
		return n;
	if (!strcmp(op, ":") || !strcmp(op, "="))
		fprintf(p->sql, "%s = ?%d", expr, n);
	else if (!strcmp(op, "!="))
		fprintf(p->sql, "(%s IS NULL OR %s != ?%d)", expr, expr, n);
	else
		fprintf(p->sql, "%s %s ?%d", expr, op, n);
	return 0;
}

/* Writes a text comparison: equal in any case, contains, or ordered (ISO dates). */
static int emit_text(struct parser *p, const char *expr, const struct term *t)
{
	const char *op = t->op;
	int n = !strcmp(op, "~") ? like_param(p, t->value) : text_param(p, t->value);

	if (n < 0)
		return n;
	if (!strcmp(op, "~"))
		fprintf(p->sql, "%s LIKE ?%d ESCAPE '\\'", expr, n);
	else if (!strcmp(op, ":") || !strcmp(op, "="))
		fprintf(p->sql, "%s = ?%d COLLATE NOCASE", expr, n);
	else if (!strcmp(op, "!="))
		fprintf(p->sql, "(%s IS NULL OR %s != ?%d COLLATE NOCASE)", expr, expr, n);
	else
		fprintf(p->sql, "%s %s ?%d", expr, op, n);
	return 0;
}

/* A status or next-boot value must be one the lifecycle knows. */
static int check_name(struct parser *p, const struct term *t, enum kind kind)
{
	enum host_status s;
	enum boot_action a;

	if (!strcmp(t->op, "~") || !strcmp(t->op, "!=") || !strcmp(t->op, ":") || !strcmp(t->op, "="))
		;
	else
		return fail(p, t->pos, "%s cannot be ordered: use %s:VALUE", t->key, t->key);
	if (!strcmp(t->op, "~"))
		return 0;
	if (kind == K_STATUS && host_status_parse(t->value, &s) < 0)
		return fail(p, t->pos, "'%s' is not a status", t->value);
	if (kind == K_ACTION && boot_action_parse(t->value, &a) < 0)
		return fail(p, t->pos, "'%s' is not a next-boot action", t->value);
	return 0;
}

/* Writes the comparison of expr with the term's value, as kind says. */
static int emit_compare(struct parser *p, const char *expr, const struct term *t, enum kind kind)
{
	double v;
	int rc;

	if ((kind == K_STATUS || kind == K_ACTION) && (rc = check_name(p, t, kind)) < 0)
		return rc;
	if (kind == K_NUMBER || kind == K_AUTO) {
		bool is_bool = !strcmp(t->value, "true") || !strcmp(t->value, "false");

		if (strcmp(t->op, "~") && (is_bool || query_parse_size(t->value, &v) == 0))
			return emit_number(p, expr, t, is_bool ? (t->value[0] == 't') : v);
		if (kind == K_NUMBER)
			return fail(p, t->pos, "%s%s needs a number or a size (like 64G), not '%s'", t->key, t->op,
				    t->value);
	}
	return emit_text(p, expr, t);
}

/* [a-z0-9_] words joined by dots: safe inside an SQL string literal as a JSON path. */
static bool path_safe(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' ||
		      (*s == '.' && s[1] && s[1] != '.')))
			return false;
	return true;
}

static int emit_each(struct parser *p, const struct each *e, const struct term *t)
{
	const char *field = t->key + strlen(e->prefix);
	char expr[160];

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(aliases[i].prefix, e->prefix) && !strcmp(aliases[i].name, field))
			field = aliases[i].field;
	if (!path_safe(field))
		return fail(p, t->pos, "'%s' is not an inventory field", t->key);
	snprintf(expr, sizeof(expr), "json_extract(e.value, '$.%s')", field);
	fprintf(p->sql, "EXISTS (SELECT 1 FROM json_each(" INVENTORY ", '%s') e WHERE ", e->path);
	if (emit_compare(p, expr, t, K_AUTO) < 0)
		return -EINVAL;
	fputc(')', p->sql);
	return 0;
}

static int emit_path(struct parser *p, const struct term *t)
{
	char expr[256];

	if (!path_safe(t->key))
		return fail(p, t->pos, "'%s' is not an inventory field", t->key);
	snprintf(expr, sizeof(expr), "json_extract(" INVENTORY ", '$.%s')", t->key);
	return emit_compare(p, expr, t, K_AUTO);
}

/* tag:NAME (or ~ part of a name); mac:MAC likewise, over the host's MACs. */
static int emit_member(struct parser *p, const struct term *t, const char *from, const char *col)
{
	if (strcmp(t->op, ":") && strcmp(t->op, "=") && strcmp(t->op, "~"))
		return fail(p, t->pos, "%s takes %s:VALUE or %s~PART", t->key, t->key, t->key);
	fprintf(p->sql, "EXISTS (SELECT 1 FROM %s WHERE x.host_id = h.id AND ", from);
	if (emit_text(p, col, t) < 0)
		return -ENOMEM;
	fputc(')', p->sql);
	return 0;
}

/* Keys that say whether the host has something: KEY:present|yes or KEY:absent|no. */
static const struct flag {
	const char *key, *expr;
} flags[] = {
	{ "bmc", "json_type(" INVENTORY ", '$.bmc')" }, /* its inventory reports a BMC */
	{ "drift", "h.drift" },                      /* hardware changes not acknowledged */
};

static int emit_flag(struct parser *p, const struct flag *f, const struct term *t)
{
	bool present = !strcmp(t->value, "present") || !strcmp(t->value, "yes");

	if ((strcmp(t->op, ":") && strcmp(t->op, "=")) ||
	    (!present && strcmp(t->value, "absent") && strcmp(t->value, "no")))
		return fail(p, t->pos, "%s takes %s:present (or yes) or %s:absent (or no)", f->key, f->key, f->key);
	fprintf(p->sql, "%s %s NULL", f->expr, present ? "IS NOT" : "IS");
	return 0;
}

/* Any other key: the host's attribute of that name. */
static int emit_attribute(struct parser *p, const struct term *t)
{
	double v;
	bool ordered = t->op[0] == '<' || t->op[0] == '>';
	int n = text_param(p, t->key);

	if (n < 0)
		return n;
	fprintf(p->sql, "EXISTS (SELECT 1 FROM host_attrs a WHERE a.host_id = h.id AND a.name = ?%d AND ", n);
	if (ordered && query_parse_size(t->value, &v) == 0) {
		if (emit_number(p, "a.number", t, v) < 0)
			return -ENOMEM;
	} else if (!strcmp(t->op, "!=")) {
		/* "rack!=r12": hosts whose rack is another; hosts with none are the NOT EXISTS of
		 * rack=r12, which `-rack=r12` says */
		if ((n = text_param(p, t->value)) < 0)
			return n;
		fprintf(p->sql, "a.value != ?%d COLLATE NOCASE", n);
	} else if (emit_text(p, "a.value", t) < 0) {
		return -ENOMEM;
	}
	fputc(')', p->sql);
	return 0;
}

/* True when key names a column, tag, mac, bmc or an inventory path (not an attribute). */
static bool key_known(const char *key)
{
	for (size_t i = 0; i < sizeof(eaches) / sizeof(eaches[0]); i++)
		if (!strncmp(key, eaches[i].prefix, strlen(eaches[i].prefix)))
			return true;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!strncmp(key, paths[i], strlen(paths[i])))
			return true;
	return query_key_reserved(key) && !strchr(key, '.');
}

bool query_key_reserved(const char *name)
{
	static const char *const members[] = {"tag", "mac", "bmc", "drift"};

	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		if (!strcasecmp(columns[i].key, name))
			return true;
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		if (!strcasecmp(members[i], name))
			return true;
	return strchr(name, '.') != NULL;
}

static int emit_term(struct parser *p, const struct term *t)
{
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		if (!strcmp(columns[i].key, t->key))
			return emit_compare(p, columns[i].expr, t, columns[i].kind);
	if (!strcmp(t->key, "tag"))
		return emit_member(p, t, "host_tags x", "x.tag");
	if (!strcmp(t->key, "mac"))
		return emit_member(p, t, "host_macs x", "x.mac");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(t->key, flags[i].key))
			return emit_flag(p, &flags[i], t);
	for (size_t i = 0; i < sizeof(eaches) / sizeof(eaches[0]); i++)
		if (!strncmp(t->key, eaches[i].prefix, strlen(eaches[i].prefix)))
			return emit_each(p, &eaches[i], t);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!strncmp(t->key, paths[i], strlen(paths[i])))
			return emit_path(p, t);
	if (strchr(t->key, '.'))
		return fail(p, t->pos, "'%s' is not a field (fields with a dot: nic.*, disk.*, dimm.*, "
			    "system.*, bios.*, ...)", t->key);
	return emit_attribute(p, t);
}

/* A bare word: contained in any of the columns the list always searched, or a MAC or tag. */
static int emit_word(struct parser *p, const char *word)
{
	int n = like_param(p, word);

	if (n < 0)
		return n;
	fputc('(', p->sql);
	for (size_t i = 0; i < sizeof(word_columns) / sizeof(word_columns[0]); i++)
		fprintf(p->sql, "%s LIKE ?%d ESCAPE '\\' OR ", word_columns[i], n);
	fprintf(p->sql, "EXISTS (SELECT 1 FROM host_macs m WHERE m.host_id = h.id AND m.mac LIKE ?%d ESCAPE '\\')"
		" OR EXISTS (SELECT 1 FROM host_tags t WHERE t.host_id = h.id AND t.tag LIKE ?%d ESCAPE '\\'))",
		n, n);
	return 0;
}

static char peek(const struct parser *p)
{
	return p->pos < p->len ? p->text[p->pos] : '\0';
}

static void skip_space(struct parser *p)
{
	while (isspace((unsigned char)peek(p)))
		p->pos++;
}

/* True (and consumed) when the next word is exactly kw. */
static bool keyword(struct parser *p, const char *kw)
{
	size_t n = strlen(kw);
	char after;

	if (strncmp(p->text + p->pos, kw, n))
		return false;
	after = p->pos + n < p->len ? p->text[p->pos + n] : '\0';
	if (after && !isspace((unsigned char)after) && after != '(' && after != ')')
		return false;
	p->pos += n;
	return true;
}

/* A value: "quoted" (\" and \\ escapes) or a run up to a space or parenthesis. */
static int read_value(struct parser *p, struct term *t)
{
	size_t start = p->pos, o = 0;
	char *v = malloc(p->len - p->pos + 1);

	if (!v)
		return -ENOMEM;
	if (peek(p) == '"') {
		for (p->pos++; peek(p) && peek(p) != '"'; p->pos++) {
			if (peek(p) == '\\' && p->pos + 1 < p->len)
				p->pos++;
			v[o++] = p->text[p->pos];
		}
		if (peek(p) != '"') {
			free(v);
			return fail(p, start, "a quoted value does not end (a \" is missing)");
		}
		p->pos++;
	} else {
		while (peek(p) && !isspace((unsigned char)peek(p)) && peek(p) != '(' && peek(p) != ')')
			v[o++] = p->text[p->pos++];
	}
	v[o] = '\0';
	t->value = v;
	if (!o)
		return fail(p, t->pos, "%s%s needs a value", t->key, t->op);
	return 0;
}

/* KEY: a letter, then letters, digits, _ . and -. */
static size_t read_key(const struct parser *p, char *key, size_t size)
{
	size_t n = 0;

	if (!isalpha((unsigned char)peek(p)))
		return 0;
	while (p->pos + n < p->len && n + 1 < size) {
		char c = p->text[p->pos + n];

		if (!isalnum((unsigned char)c) && c != '_' && c != '.' && c != '-')
			break;
		key[n++] = (char)tolower((unsigned char)c);
	}
	key[n] = '\0';
	return n;
}

static size_t read_op(const struct parser *p, size_t at, char op[3])
{
	static const char *const ops[] = {"!=", "<=", ">=", ":", "=", "<", ">", "~"};
	const char *s = p->text + at;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(s, ops[i], strlen(ops[i]))) {
			strcpy(op, ops[i]);
			return strlen(ops[i]);
		}
	return 0;
}

static int parse_term(struct parser *p)
{
	struct term t = {.pos = p->pos};
	size_t klen = read_key(p, t.key, sizeof(t.key)), olen;
	int rc;

	if (++p->terms > QUERY_MAX_TERMS)
		return fail(p, t.pos, "more than %d terms", QUERY_MAX_TERMS);
	olen = klen ? read_op(p, p->pos + klen, t.op) : 0;
	/* An attribute is KEY=VALUE; "bb:02" (a piece of a MAC) stays a word */
	if (olen && !strcmp(t.op, ":") && !key_known(t.key))
		olen = 0;
	if (klen && olen) {
		p->pos += klen + olen;
		rc = read_value(p, &t);
		if (rc == 0)
			rc = emit_term(p, &t);
	} else {
		t.op[0] = '\0';
		rc = read_value(p, &t);
		if (rc == 0)
			rc = emit_word(p, t.value);
	}
	free(t.value);
	return rc;
}

static int parse_or(struct parser *p);

/* True (and consumed) at "-TERM" or "NOT TERM". */
static bool negation(struct parser *p)
{
	if (peek(p) == '-' && p->pos + 1 < p->len && !isspace((unsigned char)p->text[p->pos + 1])) {
		p->pos++;
		return true;
	}
	return keyword(p, "NOT");
}

static int parse_unary(struct parser *p)
{
	size_t at;
	int rc;

	skip_space(p);
	at = p->pos;
	if (negation(p)) {
		int n = 1;

		/* --x is x: a run of negations is one or none (and never a deep SQL nesting) */
		while (skip_space(p), negation(p))
			if (++n > QUERY_MAX_TERMS)
				return fail(p, at, "more than %d negations in a row", QUERY_MAX_TERMS);
		if (n % 2 == 0)
			return parse_unary(p);
		if (++p->depth > QUERY_MAX_DEPTH)
			return fail(p, at, "nested more than %d deep", QUERY_MAX_DEPTH);
		/* SQL's NOT of NULL (a comparison with an empty column) is NULL, which no row
		 * passes: a term that does not hold must be false, then negated */
		fputs("NOT coalesce((", p->sql);
		rc = parse_unary(p);
		fputs("), 0)", p->sql);
		p->depth--;
		return rc;
	}
	if (peek(p) != '(')
		return peek(p) == ')' ? fail(p, p->pos, "a ')' without its '('") : parse_term(p);
	if (++p->depth > QUERY_MAX_DEPTH)
		return fail(p, p->pos, "nested more than %d deep", QUERY_MAX_DEPTH);
	at = p->pos++;
	fputc('(', p->sql);
	if ((rc = parse_or(p)) < 0)
		return rc;
	skip_space(p);
	if (peek(p) != ')')
		return fail(p, at, "this '(' is not closed");
	p->pos++;
	p->depth--;
	fputc(')', p->sql);
	return 0;
}

/* True at the end of a group: the end of the text or a ')'. */
static bool group_end(struct parser *p)
{
	skip_space(p);
	return !peek(p) || peek(p) == ')';
}

static int parse_and(struct parser *p)
{
	int rc;

	fputc('(', p->sql);
	if (group_end(p))
		return fail(p, p->pos, peek(p) && !p->depth ? "a ')' without its '('" : "a term is missing here");
	if ((rc = parse_unary(p)) < 0)
		return rc;
	while (!group_end(p)) {
		size_t at = p->pos;

		if (keyword(p, "OR")) {
			p->pos = at;
			break;
		}
		keyword(p, "AND");
		if (group_end(p))
			return fail(p, at, "a term is missing after AND");
		fputs(" AND ", p->sql);
		if ((rc = parse_unary(p)) < 0)
			return rc;
	}
	fputc(')', p->sql);
	return 0;
}

static int parse_or(struct parser *p)
{
	int rc;

	fputc('(', p->sql);
	if ((rc = parse_and(p)) < 0)
		return rc;
	while (!group_end(p) && keyword(p, "OR")) {
		fputs(" OR ", p->sql);
		if ((rc = parse_and(p)) < 0)
			return rc;
	}
	fputc(')', p->sql);
	return 0;
}

static bool blank(const char *s)
{
	while (s && isspace((unsigned char)*s))
		s++;
	return !s || !*s;
}

void query_free(struct query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->count; i++)
		free(q->params[i].text);
	free(q->params);
	free(q->where);
	*q = (struct query){0};
}

int query_compile(const char *text, int first, struct query *out, struct query_error *err)
{
	struct parser p = {.text = text, .len = text ? strlen(text) : 0, .first = first, .err = err};
	size_t size = 0;
	int rc;

	*out = (struct query){0};
	*err = (struct query_error){0};
	if (p.len > QUERY_MAX_LEN) {
		snprintf(err->msg, sizeof(err->msg), "longer than %d bytes", QUERY_MAX_LEN);
		return -EINVAL;
	}
	if (!(p.sql = open_memstream(&out->where, &size)))
		return -ENOMEM;
	if (blank(text))
		fputc('1', p.sql);
	rc = blank(text) ? 0 : parse_or(&p);
	if (rc == 0 && (skip_space(&p), peek(&p)))
		rc = fail(&p, p.pos, "a ')' without its '('");
	if (fclose(p.sql) != 0 && rc == 0)
		rc = -ENOMEM;
	out->params = p.params;
	out->count = p.count;
	if (rc < 0)
		query_free(out);
	return rc < 0 ? (p.failed ? -EINVAL : rc) : 0;
}

bool query_search_name_valid(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++)
		if (!islower((unsigned char)name[n]) && !isdigit((unsigned char)name[n]) &&
		    (!n || (name[n] != '-' && name[n] != '_' && name[n] != '.')))
			return false;
	return n >= 1 && n <= QUERY_SEARCH_NAME_MAX;
}

static bool saved_names_another(const char *saved);

int query_expand(const char *text, int (*lookup)(void *ctx, const char *name, char **query), void *ctx,
		 char **out, struct query_error *err)
{
	size_t len = text ? strlen(text) : 0, size = 0, i = 0, out_len = len;
	FILE *f;
	int rc = 0;

	*out = NULL;
	*err = (struct query_error){0};
	if (!(f = open_memstream(out, &size)))
		return -ENOMEM;
	while (i < len && rc == 0) {
		char c = text[i];
		bool starts = !i || isspace((unsigned char)text[i - 1]) || text[i - 1] == '(' ||
			      text[i - 1] == ')' || (text[i - 1] == '-' && (i == 1 || isspace((unsigned char)text[i - 2]) ||
									   text[i - 2] == '('));

		if (c == '"') {		/* a quoted value, copied whole */
			size_t j = i + 1;

			while (j < len && text[j] != '"')
				j += text[j] == '\\' && j + 1 < len ? 2 : 1;
			j = j < len ? j + 1 : len;
			fwrite(text + i, 1, j - i, f);
			i = j;
		} else if (c == '@' && starts) {
			char name[QUERY_SEARCH_NAME_MAX + 2], *saved = NULL;
			size_t j = i + 1, n = 0;

			while (j < len && !isspace((unsigned char)text[j]) && text[j] != '(' && text[j] != ')') {
				if (n < sizeof(name) - 1)
					name[n++] = text[j];
				j++;
			}
			name[n] = '\0';
			if (!query_search_name_valid(name) || j - i - 1 != n) {
				err->pos = i;
				snprintf(err->msg, sizeof(err->msg),
					 "@NAME is a saved search: 1-%d lower-case letters, digits, '.', '_' or '-'",
					 QUERY_SEARCH_NAME_MAX);
				rc = -EINVAL;
			} else if ((rc = lookup(ctx, name, &saved)) == -ENOENT) {
				err->pos = i;
				snprintf(err->msg, sizeof(err->msg), "no saved search '%s'", name);
				rc = -EINVAL;
			} else if (rc == 0 && saved_names_another(saved)) {
				/* Saved searches are checked when saved; one naming another is refused
				 * there, so this is a database edited by hand. */
				err->pos = i;
				snprintf(err->msg, sizeof(err->msg), "saved search '%s' names another one", name);
				rc = -EINVAL;
			} else if (rc == 0 && (out_len += strlen(saved) + 2) > QUERY_MAX_LEN) {
				/* It could not compile: stop before a long list of @NAMEs makes it huge. */
				err->pos = i;
				snprintf(err->msg, sizeof(err->msg), "longer than %d bytes with its saved searches in",
					 QUERY_MAX_LEN);
				rc = -EINVAL;
			} else if (rc == 0) {
				fprintf(f, "(%s)", saved);
			}
			free(saved);
			i = j;
		} else {
			fputc(c, f);
			i++;
		}
	}
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* query_expand's lookup for query_saved_named: there is none. */
static int none_saved(void *ctx, const char *name, char **query)
{
	(void)ctx;
	(void)name;
	*query = NULL;
	return -ENOENT;
}

int query_saved_named(const char *text, struct query_error *err)
{
	char *expanded = NULL;
	int rc;

	*err = (struct query_error){0};
	if (!text || !strchr(text, '@'))
		return 0;
	rc = query_expand(text, none_saved, NULL, &expanded, err);
	free(expanded);
	if (rc == -EINVAL)
		snprintf(err->msg, sizeof(err->msg), "@NAME (a saved search) cannot be used here: write its terms out");
	return rc;
}

/* Whether a saved search's text has an @NAME that query_expand would take (a store edited by
 * hand: saving refuses one); an @ in a value or in quotes (owner=ops@example.com) is text. */
static bool saved_names_another(const char *saved)
{
	struct query_error err;

	return query_saved_named(saved, &err) != 0;
}

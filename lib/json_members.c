/* json_members.h: a strict one-pass check of JSON text, and its top-level members. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "json_members.h"
#include "utf8.h"

/* The scan: fails (ok = false) at the first thing it cannot vouch for. */
struct jm {
	const unsigned char *s;
	size_t len, i;
	bool ok;
};

/* A key seen in the object being scanned: offset and length in the text. */
struct jm_key {
	uint32_t at, len;
};

static bool jm_fail(struct jm *j)
{
	j->ok = false;
	return false;
}

static void jm_space(struct jm *j)
{
	while (j->i < j->len && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

/* A hex digit's value, 16 for what is not one. */
static int jm_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 16;
}

#define JM_NOT_A_UNIT 0x110000L /* no UTF-16 code unit: what jm_u4 gives for bad hex */

/* The code unit of the \uXXXX at j->i (just after the backslash and 'u'), or JM_NOT_A_UNIT. */
static long jm_u4(struct jm *j)
{
	long v = 0;

	if (j->len - j->i < 4)
		return JM_NOT_A_UNIT;
	for (int k = 0; k < 4; k++) {
		int h = jm_hex(j->s[j->i + (size_t)k]);

		if (h > 15)
			return JM_NOT_A_UNIT;
		v = v << 4 | h;
	}
	j->i += 4;
	return v;
}

/* An escape, j->i just after the backslash. \u0000 and lone surrogates: cannot tell. */
static bool jm_escape(struct jm *j)
{
	long cp, lo;

	if (j->i >= j->len)
		return jm_fail(j);
	switch (j->s[j->i++]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return true;
	case 'u':
		break;
	default:
		return jm_fail(j);
	}
	if ((cp = jm_u4(j)) == 0 || cp == JM_NOT_A_UNIT || (cp >= 0xdc00 && cp <= 0xdfff))
		return jm_fail(j);
	if (cp < 0xd800 || cp > 0xdbff)
		return true;
	/* a high surrogate: a low one must follow */
	if (j->len - j->i < 2 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
		return jm_fail(j);
	j->i += 2;
	lo = jm_u4(j);
	return lo >= 0xdc00 && lo <= 0xdfff ? true : jm_fail(j);
}

/* A string, j->i at its opening quote; *escaped: it had a backslash. */
static bool jm_string(struct jm *j, bool *escaped)
{
	size_t n;

	*escaped = false;
	j->i++;
	while (j->i < j->len) {
		unsigned char c = j->s[j->i];

		if (c == '"') {
			j->i++;
			return true;
		}
		if (c < 0x20)
			return jm_fail(j);
		if (c == '\\') {
			*escaped = true;
			j->i++;
			if (!jm_escape(j))
				return false;
		} else if (c < 0x80) {
			j->i++;
		} else if ((n = utf8_sequence(j->s + j->i, j->len - j->i)) != 0) {
			j->i += n;
		} else {
			return jm_fail(j);
		}
	}
	return jm_fail(j);
}

static bool jm_digits(struct jm *j)
{
	size_t from = j->i;

	while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > from;
}

/* A number as RFC 8259 writes it; one that jansson might find out of range (more than 18
 * characters, or an exponent): cannot tell. */
static bool jm_number(struct jm *j)
{
	size_t from = j->i;

	if (j->s[j->i] == '-')
		j->i++;
	if (j->i < j->len && j->s[j->i] == '0')
		j->i++;
	else if (!jm_digits(j))
		return jm_fail(j);
	if (j->i < j->len && j->s[j->i] == '.') {
		j->i++;
		if (!jm_digits(j))
			return jm_fail(j);
	}
	if (j->i < j->len && (j->s[j->i] == 'e' || j->s[j->i] == 'E'))
		return jm_fail(j);
	return j->i - from <= 18 ? true : jm_fail(j);
}

static bool jm_word(struct jm *j, const char *w)
{
	size_t n = strlen(w);

	if (j->len - j->i < n || memcmp(j->s + j->i, w, n) != 0)
		return jm_fail(j);
	j->i += n;
	return true;
}

static bool jm_value(struct jm *j, int depth);

/* Whether key k is one of the object's keys before it. */
static bool jm_duplicate(const struct jm *j, const struct jm_key *keys, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (keys[k].len == keys[n].len && memcmp(j->s + keys[k].at, j->s + keys[n].at, keys[n].len) == 0)
			return true;
	return false;
}

/* An object, j->i at its '{'. With m (the top level): its members, at most max. */
static bool jm_object(struct jm *j, int depth, struct json_member *m, size_t max, size_t *count)
{
	struct jm_key keys[JSON_MEMBERS_KEYS];
	size_t n = 0, at;
	bool escaped;

	j->i++;
	jm_space(j);
	if (j->i < j->len && j->s[j->i] == '}') {
		j->i++;
		*count = 0;
		return true;
	}
	for (;;) {
		if (j->i >= j->len || j->s[j->i] != '"' || n == JSON_MEMBERS_KEYS || (m && n == max))
			return jm_fail(j);
		at = j->i + 1;
		if (!jm_string(j, &escaped) || escaped || j->i - 1 - at > UINT32_MAX || at > UINT32_MAX)
			return jm_fail(j);
		keys[n] = (struct jm_key){ .at = (uint32_t)at, .len = (uint32_t)(j->i - 1 - at) };
		if (jm_duplicate(j, keys, n))
			return jm_fail(j);
		jm_space(j);
		if (j->i >= j->len || j->s[j->i] != ':')
			return jm_fail(j);
		j->i++;
		jm_space(j);
		if (m)
			m[n] = (struct json_member){ .key = at, .key_len = keys[n].len, .value = j->i };
		if (!jm_value(j, depth + 1))
			return false;
		if (m)
			m[n].value_len = j->i - m[n].value;
		n++;
		jm_space(j);
		if (j->i < j->len && j->s[j->i] == ',') {
			j->i++;
			jm_space(j);
			continue;
		}
		if (j->i < j->len && j->s[j->i] == '}') {
			j->i++;
			*count = n;
			return true;
		}
		return jm_fail(j);
	}
}

static bool jm_array(struct jm *j, int depth)
{
	j->i++;
	jm_space(j);
	if (j->i < j->len && j->s[j->i] == ']') {
		j->i++;
		return true;
	}
	for (;;) {
		if (!jm_value(j, depth + 1))
			return false;
		jm_space(j);
		if (j->i < j->len && j->s[j->i] == ',') {
			j->i++;
			jm_space(j);
			continue;
		}
		if (j->i < j->len && j->s[j->i] == ']') {
			j->i++;
			return true;
		}
		return jm_fail(j);
	}
}

static bool jm_value(struct jm *j, int depth)
{
	size_t ignored;
	bool escaped;

	if (depth > JSON_MEMBERS_DEPTH || j->i >= j->len)
		return jm_fail(j);
	switch (j->s[j->i]) {
	case '{': return jm_object(j, depth, NULL, 0, &ignored);
	case '[': return jm_array(j, depth);
	case '"': return jm_string(j, &escaped);
	case 't': return jm_word(j, "true");
	case 'f': return jm_word(j, "false");
	case 'n': return jm_word(j, "null");
	default:
		if (j->s[j->i] == '-' || (j->s[j->i] >= '0' && j->s[j->i] <= '9'))
			return jm_number(j);
		return jm_fail(j);
	}
}

int json_members(const char *text, size_t len, struct json_member *m, size_t max, size_t *n)
{
	struct jm j = { .s = (const unsigned char *)text, .len = len, .ok = true };

	jm_space(&j);
	if (j.i >= len || j.s[j.i] != '{' || !jm_object(&j, 1, m, max, n))
		return 0;
	jm_space(&j);
	return j.ok && j.i == len;
}

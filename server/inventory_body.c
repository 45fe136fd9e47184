/*
 * An agent's inventory as it arrives (POST /api/v1/agent/inventory): jansson builds only the
 * members anemosd reads; the members it only stores and shows (INVENTORY_STORED_ONLY: the PCI
 * devices, most of an inventory's bytes) stay the text they came as, checked by
 * json_members (lib/json_members.h) with jansson's rules. A registration spent about as long
 * in jansson building the 11 KB inventory as in everything else it does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"
#include "json_members.h"

/* Top-level members that no code of anemosd reads from a posted inventory. */
static const char *const stored_only[] = { "pci", NULL };

static bool is_stored_only(const char *text, const struct json_member *m)
{
	for (size_t k = 0; stored_only[k]; k++)
		if (strlen(stored_only[k]) == m->key_len && memcmp(text + m->key, stored_only[k], m->key_len) == 0)
			return true;
	return false;
}

/* Appends member m of text ("KEY":VALUE) to out at *o, after a comma unless first. */
static void put_member(char *out, size_t *o, const char *text, const struct json_member *m)
{
	size_t from = m->key - 1, n = m->value + m->value_len - from; /* from the key's opening quote */

	if (*o > 1)
		out[(*o)++] = ',';
	memcpy(out + *o, text + from, n);
	*o += n;
}

/* The members of text split into a new object text of those anemosd reads ("{...}") and one
 * of the others' (",..." to splice before a closing brace, or NULL when none). */
static int split_members(const char *text, const struct json_member *m, size_t n, char **read, char **rest)
{
	size_t len = m[n - 1].value + m[n - 1].value_len + 3, r = 1, s = 1;
	char *a = malloc(len), *b = malloc(len);

	if (!a || !b) {
		free(a);
		free(b);
		return err_set(-ENOMEM, "out of memory");
	}
	a[0] = '{';
	b[0] = ',';
	for (size_t k = 0; k < n; k++)
		if (is_stored_only(text, &m[k]))
			put_member(b, &s, text, &m[k]);
		else
			put_member(a, &r, text, &m[k]);
	a[r++] = '}';
	a[r] = '\0';
	b[s] = '\0';
	if (s == 1) {
		free(b);
		b = NULL;
	}
	*read = a;
	*rest = b;
	return 0;
}

json_t *inventory_body_parse(const char *text, size_t len, char **rest, json_error_t *err)
{
	struct json_member m[JSON_MEMBERS_KEYS];
	char *read = NULL;
	size_t n = 0;
	json_t *inv = NULL;

	*rest = NULL;
	if (json_members(text, len, m, JSON_MEMBERS_KEYS, &n) == 1 && n > 0 &&
	    split_members(text, m, n, &read, rest) == 0) {
		inv = json_loads(read, JSON_REJECT_DUPLICATES, err);
		free(read);
		if (inv)
			return inv;
		free(*rest);
		*rest = NULL;
	}
	/* anything json_members could not vouch for: jansson on the whole, for its own word */
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
}

char *inventory_body_text(json_t *inv, const char *rest)
{
	char *text = json_dumps(inv, JSON_COMPACT), *whole;
	size_t len;

	if (!text || !rest)
		return text;
	len = strlen(text);
	if (!(whole = malloc(len + strlen(rest) + 1))) {
		free(text);
		return NULL;
	}
	/* "{...}" + ",..." → "{...,...}"; an empty object takes the rest without its comma */
	memcpy(whole, text, len - 1);
	strcpy(whole + len - 1, len == 2 ? rest + 1 : rest);
	strcat(whole, "}");
	free(text);
	return whole;
}

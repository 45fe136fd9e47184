/* libFuzzer: lib/json_members.c against jansson over any bytes. json_members is an
 * accelerator that must never say yes where jansson says no: whenever it vouches for a text
 * (returns 1), jansson must accept the same bytes with JSON_REJECT_DUPLICATES as an object
 * with exactly those members, in that order, each member's value text parsing on its own
 * (JSON_DECODE_ANY) to a value equal to jansson's, and the server's split of the members
 * (inventory_body_parse, inventory_body_text) must give back an object equal to the whole. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "anemosd.h"
#include "json_members.h"
#include "support.h"

static void check_members(const char *text, size_t size, const struct json_member *m, size_t n, json_t *whole)
{
	const char *key;
	json_t *value;
	size_t k = 0;

	if (json_object_size(whole) != n)
		fuzz_fail("json_members found %zu members, jansson %zu", n, json_object_size(whole));
	json_object_foreach(whole, key, value) {
		json_t *alone = json_loadb(text + m[k].value, m[k].value_len, JSON_DECODE_ANY, NULL);

		if (m[k].key_len != strlen(key) || memcmp(text + m[k].key, key, m[k].key_len) != 0)
			fuzz_fail("member %zu: key differs from jansson's \"%s\"", k, key);
		if (m[k].value + m[k].value_len > size || !alone || !json_equal(alone, value))
			fuzz_fail("member %zu (%s): its value text is not jansson's value", k, key);
		json_decref(alone);
		k++;
	}
}

static void check_split(const char *text, size_t size, json_t *whole)
{
	char *rest = NULL, *joined;
	json_t *inv = inventory_body_parse(text, size, &rest, NULL), *back;

	if (!inv)
		fuzz_fail("inventory_body_parse refused what jansson accepts");
	if (!(joined = inventory_body_text(inv, rest)))
		fuzz_fail("inventory_body_text failed");
	back = json_loads(joined, JSON_REJECT_DUPLICATES, NULL);
	if (!back || !json_equal(back, whole))
		fuzz_fail("the split inventory does not join back into the whole: %s", joined);
	json_decref(back);
	json_decref(inv);
	free(joined);
	free(rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_member m[JSON_MEMBERS_KEYS];
	const char *text = (const char *)data;
	size_t n = 0;
	int vouched = json_members(text, size, m, JSON_MEMBERS_KEYS, &n);
	json_t *whole = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);

	if (vouched != 0 && vouched != 1)
		fuzz_fail("json_members returned %d", vouched);
	if (vouched && !json_is_object(whole))
		fuzz_fail("json_members vouched for a text jansson refuses");
	if (vouched)
		check_members(text, size, m, n, whole);
	if (json_is_object(whole))
		check_split(text, size, whole);
	json_decref(whole);
	return 0;
}

/*
 * Unit tests of lib/json_members.c and server/inventory_body.c: a table of texts json_members
 * vouches for (jansson accepts each, as an object of those members) and of texts it must not
 * (each jansson refuses, or json_members cannot tell: escaped keys, \u0000, numbers that
 * could overflow, deep nesting); then the agent inventory's split: the PCI devices kept as
 * text, the rest parsed, and the two joined back into the same object. tests/fuzz/
 * fuzz_json_members.c holds json_members to jansson over any bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "json_members.h"

static void test_vouched(void **state)
{
	static const struct {
		const char *text;
		size_t members;
		const char *first_key;
	} cases[] = {
		{ "{}", 0, NULL },
		{ " {\"a\":1} \n", 1, "a" },
		{ "{\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":{\"e\":\"f\"}}", 3, "a" },
		{ "{\"pci\":[{\"slot\":\"0000:00:1f.2\",\"vendor\":\"8086\"}],\"nics\":[]}", 2, "pci" },
		{ "{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", 1, "s" },      /* 2, 3 and 4 bytes */
		{ "{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00\"}", 1, "s" },
		{ "{\"n\":[0,-0,12,-3.25,0.5,123456789012345678]}", 1, "n" },
		{ "{\"t\":true,\"f\":false,\"z\":null}", 3, "t" },
		{ "{\"a\":{\"a\":{\"a\":1}}}", 1, "a" },  /* the same key in nested objects */
		{ "{\"ab\":1,\"a\":2,\"b\":3}", 3, "ab" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		struct json_member m[8];
		size_t n = 99;
		json_t *j = json_loadb(t, strlen(t), JSON_REJECT_DUPLICATES, NULL);

		printf("vouched: %s\n", t);
		assert_non_null(j); /* the table itself: jansson accepts each */
		assert_int_equal(json_members(t, strlen(t), m, 8, &n), 1);
		assert_int_equal(n, cases[i].members);
		assert_int_equal(json_object_size(j), n);
		if (cases[i].first_key) {
			assert_int_equal(m[0].key_len, strlen(cases[i].first_key));
			assert_memory_equal(t + m[0].key, cases[i].first_key, m[0].key_len);
		}
		json_decref(j);
	}
}

/* {"a":[[...]]} with arrays nested that deep into out: its length. */
static size_t nested(char *out, int arrays)
{
	size_t o = (size_t)sprintf(out, "{\"a\":");

	for (int d = 0; d < arrays; d++)
		out[o++] = '[';
	for (int d = 0; d < arrays; d++)
		out[o++] = ']';
	out[o++] = '}';
	return o;
}

static void test_not_vouched(void **state)
{
	static const char *const cases[] = {
		"", " ", "[]", "\"a\"", "1", "null",                 /* not an object */
		"{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}", "{\"a\":1}x",
		"{\"a\":1}{}", "{a:1}", "{'a':1}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":tru}",
		"{\"a\":nul}", "{\"a\":True}",
		"{\"a\":1,\"a\":2}", "{\"x\":{\"b\":1,\"b\":1}}",   /* duplicates */
		"{\"\\u0061\":1,\"a\":2}",                          /* an escaped key: cannot tell */
		"{\"a\":01}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e5}",
		"{\"a\":1E5}", "{\"a\":1234567890123456789}",        /* could overflow: cannot tell */
		"{\"a\":\"\t\"}", "{\"a\":\"\n\"}", "{\"a\":\"x", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\ud83d\\u0041\"}",
		"{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xe0\x80\xaf\"}",  /* cut, overlong */
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\x80\"}",
		"{\"a\":\"\xff\"}",
	};
	char deep[300];
	struct json_member m[4];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("not vouched: %s\n", cases[i]);
		assert_int_equal(json_members(cases[i], strlen(cases[i]), m, 4, &n), 0);
	}
	/* a NUL inside the length */
	assert_int_equal(json_members("{\"a\":\"\0\"}", 8, m, 4, &n), 0);
	/* more members than room */
	assert_int_equal(json_members("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", 31, m, 4, &n), 0);
	/* JSON_MEMBERS_DEPTH: the top object and 63 arrays in it vouched, 64 not */
	assert_int_equal(json_members(deep, nested(deep, JSON_MEMBERS_DEPTH - 1), m, 4, &n), 1);
	assert_int_equal(json_members(deep, nested(deep, JSON_MEMBERS_DEPTH), m, 4, &n), 0);
}

static void test_inventory_split(void **state)
{
	const char *body = "{\"system\":{\"serial\":\"S1\"},\"pci\":[{\"slot\":\"0000:00:1f.2\"},{\"slot\":\"0000:01:00.0\"}],"
			   "\"nics\":[{\"name\":\"eth0\",\"mac\":\"52:54:00:00:00:01\"}]}";
	char *rest = NULL, *text;
	json_t *inv = inventory_body_parse(body, strlen(body), &rest, NULL), *whole, *back;

	(void)state;
	assert_non_null(inv);
	/* the members anemosd reads are there; the PCI devices only as text */
	assert_non_null(json_object_get(inv, "system"));
	assert_non_null(json_object_get(inv, "nics"));
	assert_null(json_object_get(inv, "pci"));
	assert_non_null(rest);
	assert_string_equal(rest, ",\"pci\":[{\"slot\":\"0000:00:1f.2\"},{\"slot\":\"0000:01:00.0\"}]");
	/* a changed inventory is written out with them */
	json_object_set_new(inv, "firmware", json_string("uefi"));
	text = inventory_body_text(inv, rest);
	whole = json_loads(body, 0, NULL);
	json_object_set_new(whole, "firmware", json_string("uefi"));
	back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, whole));
	json_decref(back);
	json_decref(whole);
	json_decref(inv);
	free(text);
	free(rest);

	/* only PCI devices: the parsed object is empty, the text is the whole */
	inv = inventory_body_parse("{\"pci\":[]}", 10, &rest, NULL);
	assert_int_equal(json_object_size(inv), 0);
	text = inventory_body_text(inv, rest);
	assert_string_equal(text, "{\"pci\":[]}");
	json_decref(inv);
	free(text);
	free(rest);

	/* what json_members cannot vouch for goes to jansson whole: no rest, jansson's answer */
	inv = inventory_body_parse("{\"pci\":[1e5],\"a\":1}", 19, &rest, NULL);
	assert_non_null(json_object_get(inv, "pci"));
	assert_null(rest);
	json_decref(inv);
	{
		json_error_t err;

		assert_null(inventory_body_parse("{\"pci\":1,\"pci\":2}", 17, &rest, &err));
		assert_null(rest);
		assert_non_null(strstr(err.text, "duplicate"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vouched),
		cmocka_unit_test(test_not_vouched),
		cmocka_unit_test(test_inventory_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of server/webhooks.c's pure parts: the signature (against RFC 4231's HMAC-SHA256
 * vectors and one computed by Python's hmac module), the backoff, the events filter (parsed
 * and matched) and the URL check, each a table of cases.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"
#include "utf8.h"

static void test_sign(void **state)
{
	static const struct {
		const char *key, *body, *want;
	} cases[] = {
		/* RFC 4231 test case 2 */
		{ "Jefe", "what do ya want for nothing?",
		  "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		/* hmac.new(b"0123456789abcdef", b'{"type":"ping"}', hashlib.sha256).hexdigest() */
		{ "0123456789abcdef", "{\"type\":\"ping\"}",
		  "sha256=4dd6a68427e5c9a2da414ae9de1fd9e148b9f31c737ceaa4156bb7fc79650f04" },
	};
	char out[WEBHOOK_SIGNATURE_LEN + 1];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(webhook_sign(cases[i].key, strlen(cases[i].key), cases[i].body, strlen(cases[i].body), out), 0);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("webhook_sign(%s, %s) = %s, want %s", shown(cases[i].key), shown(cases[i].body), out,
				 cases[i].want);
	}
	/* RFC 4231 test case 1: a binary key of 20 bytes 0x0b, "Hi There" */
	{
		unsigned char key[20];

		memset(key, 0x0b, sizeof(key));
		assert_int_equal(webhook_sign(key, sizeof(key), "Hi There", 8, out), 0);
		assert_string_equal(out, "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	}
}

static void test_backoff(void **state)
{
	static const struct {
		int attempt;
		unsigned want;
	} cases[] = {
		{ 0, 1 }, { 1, 1 }, { 2, 2 }, { 3, 4 }, { 4, 8 }, { 8, 128 }, { 9, 256 },
		{ 10, WEBHOOK_BACKOFF_MAX }, { 20, WEBHOOK_BACKOFF_MAX }, { 1000, WEBHOOK_BACKOFF_MAX },
		{ -5, 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (webhook_backoff(cases[i].attempt) != cases[i].want)
			fail_msg("webhook_backoff(%d) = %u, want %u", cases[i].attempt, webhook_backoff(cases[i].attempt),
				 cases[i].want);
}

static void test_events_parse(void **state)
{
	static const struct {
		const char *json, *want; /* want NULL: -EINVAL */
	} cases[] = {
		{ "\"*\"", "*" },
		{ "\"deployed,failed,power,drift,changed\"", "deployed,failed,power,drift,changed" },
		{ "[\"deployed\", \"failed\"]", "deployed,failed" },
		{ "\"deployed,deployed,failed\"", "deployed,failed" },
		{ "\"phase:partition,level:warn,source:bmc,progress\"", "phase:partition,level:warn,source:bmc,progress" },
		{ "\"bogus\"", NULL },
		{ "\"deployed,\"", NULL },
		{ "\",deployed\"", NULL },
		{ "\"deployed,,failed\"", NULL },
		{ "\"\"", NULL },
		{ "[]", NULL },
		{ "[1]", NULL },
		{ "7", NULL },
		{ "\"level:debug\"", NULL },
		{ "\"phase:\"", NULL },
		{ "\"phase:UPPER\"", NULL },
		{ "\"source:a b\"", NULL },
	};
	char out[1024];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		int rc = webhook_events_parse(v, out, sizeof(out));

		json_decref(v);
		if (cases[i].want ? rc != 0 || strcmp(out, cases[i].want) != 0 : rc != -EINVAL)
			fail_msg("webhook_events_parse(%s) = %d \"%s\", want %s", cases[i].json, rc, rc ? err_msg() : out,
				 cases[i].want ? cases[i].want : "-EINVAL");
	}
}

static void test_event_matches(void **state)
{
	static const struct {
		const char *filter, *event;
		bool want;
	} cases[] = {
		{ "*", "{\"level\":\"info\",\"phase\":\"boot\",\"source\":\"server\",\"total\":null}", true },
		{ "*", "{\"level\":\"info\",\"phase\":\"download\",\"source\":\"agent\",\"bytes\":5,\"total\":10}", false },
		{ "progress", "{\"level\":\"info\",\"phase\":\"download\",\"source\":\"agent\",\"bytes\":5,\"total\":10}", true },
		{ "progress", "{\"level\":\"info\",\"phase\":\"boot\",\"source\":\"server\"}", false },
		{ "phase:download", "{\"level\":\"info\",\"phase\":\"download\",\"bytes\":5,\"total\":10}", false },
		{ "deployed", "{\"level\":\"info\",\"phase\":\"deployed\",\"source\":\"system\"}", true },
		{ "deployed", "{\"level\":\"info\",\"phase\":\"install\",\"source\":\"agent\"}", false },
		{ "failed", "{\"level\":\"error\",\"phase\":\"install\",\"source\":\"agent\"}", true },
		{ "failed", "{\"level\":\"warn\",\"phase\":\"install\",\"source\":\"agent\"}", false },
		{ "deployed,failed", "{\"level\":\"error\",\"phase\":\"security\"}", true },
		{ "changed", "{\"level\":\"info\",\"phase\":\"change\",\"source\":\"operator\"}", true },
		{ "power,drift", "{\"level\":\"warn\",\"phase\":\"drift\"}", true },
		{ "power,drift", "{\"level\":\"info\",\"phase\":\"enroll\"}", false },
		{ "level:warn", "{\"level\":\"warn\",\"phase\":\"boot\"}", true },
		{ "source:bmc", "{\"level\":\"info\",\"phase\":\"power\",\"source\":\"bmc\"}", true },
		{ "source:bmc", "{\"level\":\"info\",\"phase\":\"power\",\"source\":\"operator\"}", false },
		{ "phase:partition", "{\"level\":\"info\",\"phase\":\"partition\"}", true },
		{ "phase:partition", "{\"level\":\"info\",\"phase\":null}", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *ev = json_loads(cases[i].event, 0, NULL);

		if (!ev)
			fail_msg("bad test JSON %s", cases[i].event);
		if (webhook_event_matches(cases[i].filter, ev) != cases[i].want)
			fail_msg("webhook_event_matches(%s, %s) should be %d", cases[i].filter, cases[i].event, cases[i].want);
		json_decref(ev);
	}
}

static void test_url_check(void **state)
{
	static const struct {
		const char *url;
		int rc;
	} cases[] = {
		{ "http://127.0.0.1:8080/hook", 0 },
		{ "https://hooks.example.org/anemos?token=abc", 0 },
		{ "http://[2001:db8::1]:9000/", 0 },
		{ "http://receiver/", 0 },
		{ "ftp://127.0.0.1/", -EINVAL },
		{ "file:///etc/passwd", -EINVAL },
		{ "127.0.0.1:8080/hook", -EINVAL },
		{ "http://", -EINVAL },
		{ "http://user:pw@127.0.0.1/", -EINVAL },
		{ "http://user@127.0.0.1/", -EINVAL },
		{ "http://127.0.0.1/a b", -EINVAL },
		{ "http://127.0.0.1/\n", -EINVAL },
		{ "", -EINVAL },
		{ NULL, -EINVAL },
	};
	char *longer = malloc(2100);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (webhook_url_check(cases[i].url) != cases[i].rc)
			fail_msg("webhook_url_check(%s) should be %d: %s", shown(cases[i].url), cases[i].rc, err_msg());
	assert_non_null(longer);
	memcpy(longer, "http://a/", 9);
	memset(longer + 9, 'x', 2090);
	longer[2099] = '\0';
	assert_int_equal(webhook_url_check(longer), -EINVAL);
	free(longer);
}

/* A receiver's answer or an agent's error kept for JSON: what is not UTF-8 becomes '?', and
 * what comes out jansson takes; utf8_valid_len (anemosd's error messages) stops at the first. */
static void test_utf8_scrub(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain ascii", "plain ascii" },
		{ "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x96\xa5", "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x96\xa5" },
		{ "latin-1 caf\xe9!", "latin-1 caf?!" },
		{ "cut at the end \xe2\x86", "cut at the end ??" },
		{ "stray \x80\xbf continuation", "stray ?? continuation" },
		{ "overlong \xc0\xaf and \xe0\x80\xaf", "overlong ?? and ???" },
		{ "surrogate \xed\xa0\x80", "surrogate ???" },
		{ "too high \xf4\x90\x80\x80", "too high ????" },
		{ "", "" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j;

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		/* valid up to the first byte the scrub replaces (the inputs have no '?' of their own) */
		assert_int_equal(utf8_valid_len(buf), strcspn(cases[i].out, "?"));
		assert_string_equal(utf8_scrub(buf), cases[i].out);
		assert_non_null(j = json_string(buf));
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_events_parse),
		cmocka_unit_test(test_event_matches),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_utf8_scrub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

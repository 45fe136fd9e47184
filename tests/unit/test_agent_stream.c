/* The agent's image download helpers (initramfs/agent/stream.c) that need no server: what a
 * URL looks like in a log (no user:password@, no query: a signed URL's signature), and the
 * probe a deploy makes before it touches the disk, against a port nothing listens on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "install.h"

static void test_url_for_log(void **state)
{
	static const struct {
		const char *url, *shown;
	} rows[] = {
		{ "http://192.0.2.1/images/a.tar.zst", "http://192.0.2.1/images/a.tar.zst" },
		{ "http://user:pw@192.0.2.1:8080/a.tar.zst?sig=s3cr3t", "http://192.0.2.1:8080/a.tar.zst" },
		{ "http://192.0.2.1/a@b/c.raw", "http://192.0.2.1/a@b/c.raw" },	/* an @ in the path stays */
		{ "http://u@192.0.2.1?x=1", "http://192.0.2.1" },
		{ "http://192.0.2.1/a#frag", "http://192.0.2.1/a" },
		{ "no-scheme/a?b", "no-scheme/a" },
		{ "", "" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		url_for_log(rows[i].url, out, sizeof(out));
		if (strcmp(out, rows[i].shown) != 0)
			fail_msg("%s: shown as %s, not %s", rows[i].url, out, rows[i].shown);
	}
	url_for_log("http://192.0.2.1/a-very-long-path-that-does-not-fit-in-sixteen", out, 16);
	assert_int_equal(strlen(out), 15);
}

static void test_probe_unreachable(void **state)
{
	(void)state;
	err_clear();
	assert_int_not_equal(stream_probe("http://user:pw@127.0.0.1:1/a.tar.zst?sig=s3cr3t"), 0);
	assert_non_null(strstr(err_msg(), "cannot reach the image at http://127.0.0.1:1/a.tar.zst"));
	assert_null(strstr(err_msg(), "s3cr3t"));
	assert_null(strstr(err_msg(), "pw@"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_for_log),
		cmocka_unit_test(test_probe_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of server/cache.c: mirror URLs rewritten into apt-cacher-ng's form, and the
 * hits and misses counted from its log as it grows, is rotated and is truncated.
 * Each test is a table of cases; a failing row names its input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "anemosd.h"
#include "log.h"
#include "support.h"

static void test_mirror_url(void **state)
{
	static const struct {
		const char *cache, *mirror, *want;
	} cases[] = {
		{ "http://192.0.2.1:3142", "http://deb.example.org/debian", "http://192.0.2.1:3142/deb.example.org/debian" },
		{ "http://192.0.2.1:3142", "http://deb.example.org/debian/", "http://192.0.2.1:3142/deb.example.org/debian/" },
		{ "http://192.0.2.1:3142/", "http://deb.example.org/debian", "http://192.0.2.1:3142/deb.example.org/debian" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:8000/debian", "http://192.0.2.1:3142/127.0.0.1:8000/debian" },
		{ "http://192.0.2.1:3142", "http://[2001:db8::1]:8000/debian", "http://192.0.2.1:3142/[2001:db8::1]:8000/debian" },
		{ "http://192.0.2.1:3142", "HTTP://deb.example.org/debian", "http://192.0.2.1:3142/deb.example.org/debian" },
		{ "http://192.0.2.1:3142", "http://deb.example.org", "http://192.0.2.1:3142/deb.example.org" },
		{ "http://cache.example:3142", "http://deb.example.org/debian-security", "http://cache.example:3142/deb.example.org/debian-security" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:32767/debian", "http://192.0.2.1:3142/127.0.0.1:32767/debian" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:/debian", "http://192.0.2.1:3142/127.0.0.1:/debian" },
		{ "http://192.0.2.1:3142", "http://[2001:db8::1]/debian", "http://192.0.2.1:3142/[2001:db8::1]/debian" },
		{ "http://192.0.2.1:3142", "http://mirror:secret@deb.example.org/debian", "http://192.0.2.1:3142/mirror:secret@deb.example.org/debian" },
		/* Ports apt-cacher-ng 3.7.4 cannot reach (it connects elsewhere above 32767), or no
		 * port at all: fetched directly, unchanged. */
		{ "http://192.0.2.1:3142", "http://127.0.0.1:32768/debian", "http://127.0.0.1:32768/debian" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:50000/debian", "http://127.0.0.1:50000/debian" },
		{ "http://192.0.2.1:3142", "http://[2001:db8::1]:40000/debian", "http://[2001:db8::1]:40000/debian" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:0/debian", "http://127.0.0.1:0/debian" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:99999999999999999999/debian", "http://127.0.0.1:99999999999999999999/debian" },
		{ "http://192.0.2.1:3142", "http://127.0.0.1:80x/debian", "http://127.0.0.1:80x/debian" },
		/* Not plain HTTP, or no host: fetched directly, unchanged. */
		{ "http://192.0.2.1:3142", "https://deb.example.org/debian", "https://deb.example.org/debian" },
		{ "http://192.0.2.1:3142", "ftp://deb.example.org/debian", "ftp://deb.example.org/debian" },
		{ "http://192.0.2.1:3142", "file:///srv/mirror/debian", "file:///srv/mirror/debian" },
		{ "http://192.0.2.1:3142", "http://", "http://" },
		{ "http://192.0.2.1:3142", "http:///debian", "http:///debian" },
		{ "http://192.0.2.1:3142", "deb.example.org/debian", "deb.example.org/debian" },
		{ "http://192.0.2.1:3142", "", "" },
		/* No cache configured: a copy. */
		{ NULL, "http://deb.example.org/debian", "http://deb.example.org/debian" },
		{ NULL, "https://deb.example.org/debian", "https://deb.example.org/debian" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got;

		cfg.package_cache = cases[i].cache;
		got = cache_mirror_url(cases[i].mirror);
		if (!got || strcmp(got, cases[i].want) != 0)
			fail_msg("cache_mirror_url(%s) through %s gave %s, want \"%s\"",
				 shown(cases[i].mirror), cases[i].cache ? cases[i].cache : "no cache",
				 got ? got : "NULL", cases[i].want);
		if (got == cases[i].mirror)
			fail_msg("cache_mirror_url(%s) returned its argument, not a copy", shown(cases[i].mirror));
		free(got);
	}
	cfg.package_cache = NULL;
}

static char log_path[] = "/tmp/anemos-unit-cache-XXXXXX";

/* Appends text to the log at path (made if missing). */
static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		fail_msg("cannot append to %s", path);
}

#define DEB "|127.0.0.1|127.0.0.1/debian/pool/main/x/x/x_1_all.deb\n"

static void test_stats(void **state)
{
	char log[64], rotated[80];
	/* Each step changes the log, then (unless it only prepares the next one) the totals must
	 * be as given. Steps run in order. */
	static const struct {
		const char *what;
		int op;            /* 0 append to the log, 1 rotate (rename, new empty log),
				    * 2 append to the rotated file, 3 truncate the log, then append */
		const char *text;
		int rc;
		struct cache_stats want;
	} steps[] = {
		{ "no log yet", 0, NULL, -ENOENT, { 0, 0, 0, 0 } },
		{ "an empty log", 0, "", 0, { 0, 0, 0, 0 } },
		{ "a miss: downloaded, then sent", 0, "1796114992|I|1434" DEB "1796114992|O|1266" DEB, 0,
		  { 0, 1, 1266, 1434 } },
		{ "a hit: sent only", 0, "1796114993|O|1266" DEB, 0, { 1, 1, 2532, 1434 } },
		{ "errors and other lines are not counted", 0,
		  "1796114984|E|832|127.0.0.1| [HTTP error, code: 403]\nnot a log line\n|O|\n1|O|12x|a\n", 0,
		  { 1, 1, 2532, 1434 } },
		{ "a partial line waits for its end", 0, "1796114994|O|10", 0, { 1, 1, 2532, 1434 } },
		{ "... and counts once complete", 0, "0" DEB, 0, { 2, 1, 2632, 1434 } },
		{ "two downloads served to three clients", 0,
		  "2|I|10" DEB "2|I|20" DEB "2|O|1" DEB "2|O|2" DEB "2|O|3" DEB, 0, { 3, 3, 2638, 1464 } },
		{ "rotated", 1, NULL, 0, { 0, 0, 0, 0 } },
		{ "a line written to the old file after the rename", 2, "3|O|5" DEB, 0, { 0, 0, 0, 0 } },
		{ "rotated: the old file's last lines and the new file's count", 0, "4|O|7" DEB, 0,
		  { 5, 3, 2650, 1464 } },
		{ "truncated in place: counted from its start", 3, "5|I|9|x\n5|O|8|x\n", 0,
		  { 5, 4, 2658, 1473 } },
	};
	struct cache_stats got;

	(void)state;
	if (!mkdtemp(log_path))
		fail_msg("mkdtemp");
	snprintf(log, sizeof(log), "%s/apt-cacher.log", log_path);
	snprintf(rotated, sizeof(rotated), "%s/apt-cacher.log.1", log_path);
	cfg.package_cache_log = log;
	log_set_level(LOG_ERROR);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		int rc;

		switch (steps[i].op) {
		case 0: if (steps[i].text) append(log, steps[i].text); break;
		case 1: if (rename(log, rotated) < 0) fail_msg("rename"); append(log, ""); continue;
		case 2: append(rotated, steps[i].text); continue;
		case 3: if (truncate(log, 0) < 0) fail_msg("truncate"); append(log, steps[i].text); break;
		}
		rc = cache_stats(&got);
		if (rc != steps[i].rc || got.hits != steps[i].want.hits || got.misses != steps[i].want.misses ||
		    got.sent_bytes != steps[i].want.sent_bytes || got.fetched_bytes != steps[i].want.fetched_bytes)
			fail_msg("%s: rc %d hits %llu misses %llu sent %llu fetched %llu, want rc %d "
				 "hits %llu misses %llu sent %llu fetched %llu", steps[i].what, rc,
				 (unsigned long long)got.hits, (unsigned long long)got.misses,
				 (unsigned long long)got.sent_bytes, (unsigned long long)got.fetched_bytes,
				 steps[i].rc, (unsigned long long)steps[i].want.hits,
				 (unsigned long long)steps[i].want.misses,
				 (unsigned long long)steps[i].want.sent_bytes,
				 (unsigned long long)steps[i].want.fetched_bytes);
	}
	cache_shutdown();
	cfg.package_cache_log = NULL;
	unlink(log);
	unlink(rotated);
	rmdir(log_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_url),
		cmocka_unit_test(test_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

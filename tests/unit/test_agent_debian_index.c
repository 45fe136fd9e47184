/* Parsing Debian's archive files on the target (initramfs/agent/debian_index.c): the signed
 * Release's SHA256 list, Packages stanzas and a kernel meta package's dependency. Tables of
 * cases; a failing row names its input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "build.h"

static const char release[] =
	"Origin: Anemos test\n"
	"Suite: bookworm\n"
	"MD5Sum:\n"
	" 0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages.xz\n"
	"SHA256:\n"
	" 1111111111111111111111111111111111111111111111111111111111111111 9000 main/binary-amd64/Packages\n"
	" 2222222222222222222222222222222222222222222222222222222222222222 1234 main/binary-amd64/Packages.xz\n"
	" 3333333333333333333333333333333333333333333333333333333333333333 77 main/binary-amd64/Packages.xz.extra\n";

static void test_release_lookup(void **state)
{
	static const struct {
		const char *name;
		int rc;
		const char *sha;
		int64_t size;
	} cases[] = {
		{ "main/binary-amd64/Packages", 0, "1111111111111111111111111111111111111111111111111111111111111111", 9000 },
		/* from the SHA256 list, not the MD5Sum one above it */
		{ "main/binary-amd64/Packages.xz", 0, "2222222222222222222222222222222222222222222222222222222222222222", 1234 },
		{ "main/binary-amd64/Packages.gz", -ENOENT, NULL, 0 },
		{ "main/binary-amd64/Packages.x", -ENOENT, NULL, 0 },
		{ "", -ENOENT, NULL, 0 },
	};
	char sha[SHA256_HEX_LEN + 1];
	int64_t size;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = release_lookup(release, cases[i].name, sha, &size);

		if (rc != cases[i].rc || (rc == 0 && (strcmp(sha, cases[i].sha) || size != cases[i].size)))
			fail_msg("release_lookup(\"%s\"): rc %d size %lld", cases[i].name, rc, (long long)size);
	}
	assert_int_equal(release_lookup("Suite: bookworm\n", "main/binary-amd64/Packages", sha, &size), -ENOENT);
}

static const char packages[] =
	"Package: linux-image-amd64\n"
	"Version: 6.1.192-3\n"
	"Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)\n"
	"Filename: pool/main/l/linux-signed-amd64/linux-image-amd64_6.1.192-3_amd64.deb\n"
	"Size: 1492\n"
	"SHA256: aaaa\n"
	"Description: Linux for 64-bit PCs (meta-package)\n"
	" This package depends on the latest Linux kernel.\n"
	"\n"
	"Package: busybox-static\n"
	"Version: 1:1.35.0-4+b1\n"
	"Pre-Depends: libc6\n"
	"Filename: pool/main/b/busybox/busybox-static_1.35.0-4+b1_amd64.deb\n"
	"Size: 912345\n"
	"SHA256: bbbb\n"
	"\n"
	"Package: busybox\n"
	"Filename: pool/main/b/busybox/busybox_1.35.0-4+b1_amd64.deb\n"
	"Size: 4\n"
	"\n"
	"Package: linux-image-cloud-amd64\n"
	"Depends: linux-image-6.1.0-57-cloud-amd64 | linux-image-6.1.0-56-cloud-amd64, firmware (>= 1)\n";

static void test_index(void **state)
{
	static const struct {
		const char *package, *field, *value; /* value NULL: no such package or field */
	} cases[] = {
		{ "busybox-static", "Filename", "pool/main/b/busybox/busybox-static_1.35.0-4+b1_amd64.deb" },
		{ "busybox-static", "Size", "912345" },
		{ "busybox-static", "Depends", NULL },      /* Pre-Depends is not Depends */
		{ "busybox", "Size", "4" },                  /* not busybox-static's */
		{ "busybox", "SHA256", NULL },               /* not the next stanza's */
		{ "linux-image-amd64", "SHA256", "aaaa" },
		{ "linux-image-amd64", "Description", "Linux for 64-bit PCs (meta-package)" },
		{ "linux-image-cloud-amd64", "Depends",
		  "linux-image-6.1.0-57-cloud-amd64 | linux-image-6.1.0-56-cloud-amd64, firmware (>= 1)" },
		{ "busybox-stat", "Size", NULL },            /* a prefix is not a package */
		{ "dropbear", "Size", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *start, *end;
		char *v = index_find(packages, cases[i].package, &start, &end)
				  ? stanza_field(start, end, cases[i].field) : NULL;

		if ((v == NULL) != (cases[i].value == NULL) || (v && strcmp(v, cases[i].value)))
			fail_msg("%s %s: got %s", cases[i].package, cases[i].field, v ? v : "NULL");
		free(v);
	}
}

static void test_kernel_of(void **state)
{
	static const struct {
		const char *package, *kernel;
	} cases[] = {
		{ "linux-image-amd64", "linux-image-6.1.0-57-amd64" },
		{ "linux-image-cloud-amd64", "linux-image-6.1.0-57-cloud-amd64" },
		{ "busybox-static", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *start, *end;
		char *k;

		assert_true(index_find(packages, cases[i].package, &start, &end));
		k = kernel_of(start, end);
		if ((k == NULL) != (cases[i].kernel == NULL) || (k && strcmp(k, cases[i].kernel)))
			fail_msg("kernel_of(%s): got %s", cases[i].package, k ? k : "NULL");
		free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_lookup),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_kernel_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

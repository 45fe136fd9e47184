/* libFuzzer: the request parsers of server/parse.c, which read query arguments, headers and
 * names that any machine on the provisioning network sends. The first byte picks the parser
 * (its value modulo 8; the seeds use '0'..'7'), the rest is its input:
 *   0 mac_parse   1 uuid_parse   2 hostname_normalize   3 serial_is_placeholder
 *   4 range_parse: "SIZE\nHEADER" (the file's size in decimal, then the Range header)
 *   5 image_format_from_name   6 name_is_safe   7 image_format_valid
 * Besides crashes, each parser's promises are checked: what it accepts it gives back in the
 * canonical form, parsing that again gives the same, and a range lies inside the file. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"
#include "support.h"

/* True when s is `groups` groups of hex digits of the given lengths, joined by sep. */
static bool canonical_hex(const char *s, const int *groups, size_t ngroups, char sep)
{
	for (size_t g = 0; g < ngroups; g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
				return false;
		if (g + 1 < ngroups && *s++ != sep)
			return false;
	}
	return *s == '\0';
}

static void check_mac(const char *in)
{
	static const int groups[] = { 2, 2, 2, 2, 2, 2 };
	char out[MAC_LEN + 1], again[MAC_LEN + 1];

	if (mac_parse(in, out) != 0)
		return;
	if (!canonical_hex(out, groups, 6, ':'))
		fuzz_fail("mac_parse accepted and gave '%s', not aa:bb:cc:dd:ee:ff", out);
	if (mac_parse(out, again) != 0 || strcmp(out, again) != 0)
		fuzz_fail("mac_parse('%s') does not give itself back", out);
}

static void check_uuid(const char *in)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	char out[UUID_LEN + 1], again[UUID_LEN + 1];

	if (uuid_parse(in, out) != 0)
		return;
	if (!canonical_hex(out, groups, 5, '-'))
		fuzz_fail("uuid_parse accepted and gave '%s', not the 8-4-4-4-12 form", out);
	if (uuid_parse(out, again) != 0 || strcmp(out, again) != 0)
		fuzz_fail("uuid_parse('%s') does not give itself back", out);
}

static void check_hostname(const char *in)
{
	char out[254], again[254];

	if (hostname_normalize(in, out, sizeof(out)) != 0) {
		if (!err_msg()[0])
			fuzz_fail("hostname_normalize refused without a message");
		return;
	}
	if (strlen(out) != strlen(in) || strlen(out) > 253 ||
	    strspn(out, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(out))
		fuzz_fail("hostname_normalize accepted and gave '%s'", out);
	if (hostname_normalize(out, again, sizeof(again)) != 0 || strcmp(out, again) != 0)
		fuzz_fail("hostname_normalize('%s') does not give itself back", out);
}

static void check_serial(const char *in)
{
	size_t len = strlen(in);

	while (len && isspace((unsigned char)in[len - 1]))
		len--;
	if (!serial_is_placeholder(in) && len < 3)
		fuzz_fail("serial of %zu characters taken for an identity", len);
}

static void check_range(char *in)
{
	char *fields[2], *end;
	uint64_t size, start = 0, len = 0;
	int rc;

	if (fuzz_split(in, '\n', fields, 2) < 2)
		return;
	errno = 0;
	size = strtoull(fields[0], &end, 10);
	if (errno || end == fields[0])
		return;
	rc = range_parse(fields[1], size, &start, &len);
	if (rc != 0 && rc != 1 && rc != -ERANGE)
		fuzz_fail("range_parse returned %d", rc);
	if (rc == 0 && (len == 0 || start >= size || len > size - start))
		fuzz_fail("range_parse('%s') on %llu bytes gave start %llu length %llu", fields[1],
			  (unsigned long long)size, (unsigned long long)start, (unsigned long long)len);
}

static void check_format_from_name(const char *in)
{
	const char *f = image_format_from_name(in);
	size_t len = strlen(in);

	if (f && (!image_format_valid(f) || len <= strlen(f) || in[len - strlen(f) - 1] != '.' ||
		  strcmp(in + len - strlen(f), f) != 0))
		fuzz_fail("image_format_from_name('%s') gave '%s'", in, f);
}

static void check_safe_name(const char *in)
{
	if (name_is_safe(in) && (!*in || strlen(in) > 128 || in[0] == '.' || strchr(in, '/')))
		fuzz_fail("name_is_safe accepted '%s'", in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size == 0 || !(text = fuzz_text(data + 1, size - 1)))
		return 0;
	err_clear();
	switch (data[0] % 8) {
	case 0: check_mac(text); break;
	case 1: check_uuid(text); break;
	case 2: check_hostname(text); break;
	case 3: check_serial(text); break;
	case 4: check_range(text); break;
	case 5: check_format_from_name(text); break;
	case 6: check_safe_name(text); break;
	case 7: (void)image_format_valid(text); break;
	}
	free(text);
	return 0;
}

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anemosd.h"
#include "placeholder.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -EINVAL;
}

/* Collects exactly `ndigits` hex digits from `in`, skipping the separators iPXE and
 * operators use (':', '-'); anything else, or the wrong count, is -EINVAL. */
static int hex_digits(const char *in, char *digits, size_t ndigits)
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		if (*p == ':' || *p == '-')
			continue;
		if (hexval((unsigned char)*p) < 0 || n == ndigits)
			return -EINVAL;
		digits[n++] = (char)tolower((unsigned char)*p);
	}
	return n == ndigits ? 0 : -EINVAL;
}

int mac_parse(const char *in, char out[MAC_LEN + 1])
{
	char d[12];

	if (!in || hex_digits(in, d, sizeof(d)) < 0)
		return -EINVAL;
	snprintf(out, MAC_LEN + 1, "%.2s:%.2s:%.2s:%.2s:%.2s:%.2s", d, d + 2, d + 4, d + 6, d + 8,
		 d + 10);
	return 0;
}

bool mac_is_nic(const char *mac)
{
	int second = hexval((unsigned char)mac[1]);

	return strcmp(mac, "00:00:00:00:00:00") != 0 && second >= 0 && !(second & 1);
}

int uuid_parse(const char *in, char out[UUID_LEN + 1])
{
	char d[32];

	if (!in || strchr(in, ':') || hex_digits(in, d, sizeof(d)) < 0)
		return -EINVAL;
	snprintf(out, UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", d, d + 8, d + 12, d + 16, d + 20);
	return 0;
}

/* Serials that identify nothing: OEM filler (lib/placeholder.c), anything shorter than three
 * characters, and one character repeated ("1111111", "       "). Never an identity. */
bool serial_is_placeholder(const char *serial)
{
	size_t len = strlen(serial);
	bool same = true;

	while (len && isspace((unsigned char)serial[len - 1]))
		len--;
	if (len < 3 || text_is_placeholder(serial))
		return true;
	for (size_t i = 1; i < len; i++)
		same &= serial[i] == serial[0];
	return same;
}

/* A single path component we are willing to open: letters, digits, '.', '_', '-'; not
 * starting with '.' (so never "." or ".." or a hidden file) and at most 128 bytes. Names
 * reach us already percent-decoded, so "%2e%2e" arrives here as ".." and is refused. */
bool name_is_safe(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 128 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

/* RFC 1123 host names: dot-separated labels of 1-63 letters, digits and '-', not starting
 * or ending with '-', 253 bytes at most. Lower-cased into out. */
int hostname_normalize(const char *in, char *out, size_t outsz)
{
	size_t len = strlen(in), label = 0;

	if (len == 0 || len > 253 || len + 1 > outsz)
		return err_set(-EINVAL, "hostname must be 1-253 characters");
	for (size_t i = 0; i <= len; i++) {
		char c = (char)tolower((unsigned char)in[i]);

		if (c == '.' || c == '\0') {
			if (label == 0 || out[i - 1] == '-')
				return err_set(-EINVAL, "hostname '%s': empty label or label ending in '-'", in);
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '-') {
			if ((label == 0 && c == '-') || ++label > 63)
				return err_set(-EINVAL, "hostname '%s': label starts with '-' or is longer than 63", in);
		} else {
			return err_set(-EINVAL, "hostname '%s': only letters, digits, '-' and '.' are allowed", in);
		}
		out[i] = c;
	}
	/* Every label all digits would read as an address or a host id; require a letter. */
	if (strspn(out, "0123456789.") == len)
		return err_set(-EINVAL, "hostname '%s' must contain a letter", in);
	return 0;
}

/* "recipe": a tar of a recipe folder, which the target builds itself (images.c). */
static const char *const image_formats[] = {
	"tar.zst", "tar.gz", "tar.xz", "tar", "raw.zst", "raw.gz", "raw.xz", "raw", "recipe",
};

bool image_format_valid(const char *format)
{
	for (size_t i = 0; i < sizeof(image_formats) / sizeof(image_formats[0]); i++)
		if (strcmp(format, image_formats[i]) == 0)
			return true;
	return false;
}

/* The format a file or URL name announces by its suffix, or NULL. */
const char *image_format_from_name(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(image_formats) / sizeof(image_formats[0]); i++) {
		size_t flen = strlen(image_formats[i]);

		if (len > flen && name[len - flen - 1] == '.' &&
		    strcmp(name + len - flen, image_formats[i]) == 0)
			return image_formats[i];
	}
	return NULL;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* RFC 9110 single byte range: "bytes=A-B", "bytes=A-", "bytes=-N". Several ranges or a
 * malformed header are ignored (the whole file is sent, which the RFC allows). */
int range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len)
{
	const char *spec, *dash;
	uint64_t a, b;

	if (strncmp(header, "bytes=", 6) != 0)
		return 1;
	spec = header + 6;
	while (*spec == ' ')
		spec++;
	if (strchr(spec, ','))
		return 1;
	dash = strchr(spec, '-');
	if (!dash)
		return 1;
	if (dash == spec) { /* suffix: the last N bytes */
		if (parse_u64(dash + 1, strlen(dash + 1), &b) < 0)
			return 1;
		if (b == 0 || size == 0)
			return -ERANGE;
		if (b > size)
			b = size;
		*start = size - b;
		*len = b;
		return 0;
	}
	if (parse_u64(spec, (size_t)(dash - spec), &a) < 0)
		return 1;
	if (dash[1] == '\0') {
		b = size ? size - 1 : 0;
	} else if (parse_u64(dash + 1, strlen(dash + 1), &b) < 0) {
		return 1;
	} else if (b < a) {
		return 1;
	}
	if (a >= size)
		return -ERANGE;
	if (b >= size)
		b = size - 1;
	*start = a;
	*len = b - a + 1;
	return 0;
}

void time_iso8601(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

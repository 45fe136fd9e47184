/* utf8.h: UTF-8 as JSON takes it: measuring it, and scrubbing text into it. */
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

size_t utf8_sequence(const unsigned char *s, size_t left)
{
	unsigned long cp;
	size_t n, i;

	if (left == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* a NUL ends it too */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

size_t utf8_valid_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (p[i] && (n = utf8_sequence(p + i, SIZE_MAX)) != 0)
		i += n;
	return i;
}

char *utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p) {
		if ((n = utf8_sequence(p, SIZE_MAX)) == 0)
			*p++ = '?';
		else
			p += n;
	}
	return s;
}

/* Turning raw firmware and sysfs text into JSON values: stripping, recognising the strings
 * firmware ships unfilled, and keeping jansson's UTF-8 requirement from losing a value. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inventory_internal.h"
#include "placeholder.h"

static bool is_blank(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

size_t text_strip(char *s)
{
	size_t start = 0, len = strlen(s);

	while (len && is_blank((unsigned char)s[len - 1]))
		len--;
	while (start < len && is_blank((unsigned char)s[start]))
		start++;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	return len - start;
}

/* Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], need, min, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			need = 1;
		else if ((c & 0xf0) == 0xe0)
			need = 2;
		else if ((c & 0xf8) == 0xf0)
			need = 3;
		else
			return false;
		min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000; /* shorter forms are overlong */
		cp = c & (0x3fu >> need);
		if (len - i - 1 < need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* Firmware strings are meant to be ASCII; the odd vendor writes Latin-1. Reading invalid
 * UTF-8 as Latin-1 keeps every byte visible instead of dropping the value. */
static json_t *json_latin1(const unsigned char *s, size_t len)
{
	char *utf8 = malloc(2 * len + 1);
	size_t o = 0;
	json_t *value;

	if (!utf8)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x80) {
			utf8[o++] = (char)s[i];
		} else {
			utf8[o++] = (char)(0xc0 | s[i] >> 6);
			utf8[o++] = (char)(0x80 | (s[i] & 0x3f));
		}
	}
	value = json_stringn(utf8, o);
	free(utf8);
	return value;
}

json_t *json_text(const char *s)
{
	char *copy;
	size_t len;
	json_t *value;

	if (!s)
		return json_null();
	if (!(copy = strdup(s)))
		return NULL;
	len = text_strip(copy);
	if (len == 0)
		value = json_null();
	else if (utf8_valid((const unsigned char *)copy, len))
		value = json_stringn(copy, len);
	else
		value = json_latin1((const unsigned char *)copy, len);
	free(copy);
	return value;
}

json_t *json_firmware_text(const char *s)
{
	if (!s || text_is_placeholder(s))
		return json_null();
	return json_text(s);
}


/* Turning raw firmware and sysfs text into JSON values: stripping, recognising the strings
 * firmware ships unfilled, and keeping jansson's UTF-8 requirement from losing a value. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inventory_internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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

/* Compared case-insensitively with the whole stripped string. Collected from real
 * dmidecode output of boards that were never configured by their vendor. */
static const char *const placeholders[] = {
	"to be filled by o.e.m.", "to be filled by oem", "default string", "default",
	"not specified", "not applicable", "not available", "not present", "not defined",
	"unknown", "undefined", "none", "null", "n/a", "invalid", "empty", "no dimm",
	"oem", "o.e.m.", "0123456789", "123456789", "1234567890", "serial",
	"system manufacturer", "system product name", "system serial number", "system version",
	"system sku", "sku", "chassis manufacture", "chassis manufacturer",
	"chassis serial number", "chassis version", "base board serial number",
	"type1productconfigid", "type2 - board serial number", "type2 - board asset tag",
	"asset-1234567890", "no asset tag", "no asset information",
};

/* A prefix followed by nothing but digits: "SerNum0", "PartNum3", "Manufacturer00",
 * what AMI-based boards put in the memory devices they leave unfilled. */
static const char *const numbered_placeholders[] = {
	"sernum", "partnum", "manufacturer", "assettagnum",
};

static bool numbered_placeholder(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(numbered_placeholders); i++) {
		size_t n = strlen(numbered_placeholders[i]);

		if (len <= n || strncasecmp(s, numbered_placeholders[i], n) != 0)
			continue;
		while (n < len && isdigit((unsigned char)s[n]))
			n++;
		if (n == len)
			return true;
	}
	return false;
}

bool text_is_placeholder(const char *text)
{
	const char *s = text;
	size_t len = strlen(text);
	bool same = true;

	while (len && is_blank((unsigned char)s[len - 1]))
		len--;
	while (len && is_blank((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len == 0)
		return true;
	for (size_t i = 1; i < len; i++)
		same &= s[i] == s[0];
	if (same && strchr("0fFxX.-", s[0])) /* "00000000", "FFFFFFFF", "........" */
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(placeholders); i++)
		if (strlen(placeholders[i]) == len && strncasecmp(s, placeholders[i], len) == 0)
			return true;
	return numbered_placeholder(s, len);
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

bool uuid_is_placeholder(const char *uuid)
{
	bool all0 = true, allf = true;

	if (strcasecmp(uuid, "03000200-0400-0500-0006-000700080009") == 0)
		return true;
	for (const char *p = uuid; *p; p++) {
		if (*p == '-')
			continue;
		all0 &= *p == '0';
		allf &= *p == 'f' || *p == 'F';
	}
	return all0 || allf;
}

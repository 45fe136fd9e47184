/* Recognising the identifiers firmware ships unfilled, so that no program treats them as
 * facts: shared by anemosd (which never matches machines on them) and anemos-inventory
 * (which reports them as null). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "placeholder.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static bool is_blank(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
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

/* All-zero and all-F UUIDs are what firmware reports when it has none (QEMU without
 * -smbios uuid=, many cheap boards), and AMI's unset default is shared by countless boards. */
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

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return NULL;
	memcpy(text, data, size);
	text[size] = '\0';
	return text;
}

size_t fuzz_split(char *text, char sep, char **fields, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < max; i++)
		fields[i] = NULL;
	if (max == 0)
		return 0;
	fields[n++] = text;
	for (char *p = text; n < max && (p = strchr(p, sep)); ) {
		*p++ = '\0';
		fields[n++] = p;
	}
	return n;
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz finding: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* libFuzzer: the {{name}} expander (lib/template_text.c) that renders iPXE scripts in anemosd
 * and per-host files on targets, over any template text with a few known variables. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template_text.h"

static int lookup(void *cls, const char *name, size_t len, const char **value)
{
	(void)cls;
	if (len == 8 && memcmp(name, "hostname", 8) == 0)
		return *value = "web7", 0;
	if (len == 3 && memcmp(name, "bad", 3) == 0)
		return -EINVAL;
	return -ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[200], *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	free(template_expand(text, lookup, NULL, why, sizeof(why)));
	free(text);
	return 0;
}

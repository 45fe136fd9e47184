/* libFuzzer: the agent's parsers of a mirror's Release and Packages text (debian_index.c),
 * which read what a mirror sends once its signature checked out. Input: any bytes, taken as
 * the text of both. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "linux-image-amd64", "busybox-static", "a", "" };
	char sha[SHA256_HEX_LEN + 1], *text = malloc(size + 1);
	const char *start, *end;
	int64_t len;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	release_lookup(text, "main/binary-amd64/Packages.xz", sha, &len);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (index_find(text, names[i], &start, &end)) {
			free(stanza_field(start, end, "Filename"));
			free(stanza_field(start, end, "Size"));
			free(kernel_of(start, end));
		}
	free(text);
	return 0;
}

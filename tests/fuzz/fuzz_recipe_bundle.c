/* libFuzzer: anemosd's check of an uploaded recipe bundle (server/recipe.c): libarchive's tar
 * reader over any bytes, then the recipe's literal assignments. Input: the bundle. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "anemosd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], *meta = NULL;
	int fd = memfd_create("bundle", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (recipe_bundle_read(path, &meta) == 0)
			free(meta);
	}
	close(fd);
	return 0;
}

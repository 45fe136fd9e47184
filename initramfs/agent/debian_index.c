/*
 * Debian's archive files, parsed: the signed Release (its SHA256 list), the Packages index
 * (stanzas of "Field: value" lines) and a kernel meta package's dependency. Pure functions
 * over text already verified by the caller (mirror.c), unit-tested on their own.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"

/* The SHA-256 and size the signed Release gives for the file named `name`. */
int release_lookup(const char *release, const char *name, char sha[SHA256_HEX_LEN + 1], int64_t *size)
{
	const char *p = strstr(release, "\nSHA256:");
	char hex[65], file[256];
	long long sz;

	if (!p)
		return -ENOENT;
	for (p = strchr(p + 1, '\n'); p && p[1] == ' '; p = strchr(p + 1, '\n'))
		if (sscanf(p + 1, " %64s %lld %255s", hex, &sz, file) == 3 && strcmp(file, name) == 0) {
			memcpy(sha, hex, sizeof(hex));
			*size = sz;
			return 0;
		}
	return -ENOENT;
}

/* The value of "Field: value" in the stanza [s, end), as a new string, or NULL. */
char *stanza_field(const char *s, const char *end, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = s; p && p < end; p = memchr(p, '\n', (size_t)(end - p)), p = p ? p + 1 : NULL)
		if ((size_t)(end - p) > n + 1 && strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ')
				v++;
			e = memchr(v, '\n', (size_t)(end - v));
			return strndup(v, (size_t)((e ? e : end) - v));
		}
	return NULL;
}

/* The stanza of package `name` in the index, as [*start, *end). */
bool index_find(const char *index, const char *name, const char **start, const char **end)
{
	size_t n = strlen(name);

	for (const char *p = index; p && *p;) {
		const char *e = strstr(p, "\n\n");

		if (!e)
			e = p + strlen(p);
		if (strncmp(p, "Package: ", 9) == 0 && strncmp(p + 9, name, n) == 0 && p[9 + n] == '\n') {
			*start = p;
			*end = e;
			return true;
		}
		p = *e ? e + 2 : NULL;
	}
	return false;
}

/* The first dependency of a kernel meta package that is a concrete kernel. */
char *kernel_of(const char *start, const char *end)
{
	char *dep = stanza_field(start, end, "Depends"), *tok, *save = NULL, *out = NULL;

	for (tok = dep ? strtok_r(dep, ",|", &save) : NULL; tok && !out; tok = strtok_r(NULL, ",|", &save)) {
		char name[128];

		if (sscanf(tok, " %127[^ (]", name) == 1 && strncmp(name, "linux-image-", 12) == 0 &&
		    name[12] >= '0' && name[12] <= '9')
			out = strdup(name);
	}
	free(dep);
	return out;
}


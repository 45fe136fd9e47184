#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_text.h"

/* Appends n bytes to the growing *out. */
static int append(char **out, size_t *o, size_t *cap, const char *s, size_t n)
{
	if (*o + n + 1 > *cap) {
		size_t want = (*o + n + 1) * 2;
		char *grown = realloc(*out, want);

		if (!grown)
			return -ENOMEM;
		*out = grown;
		*cap = want;
	}
	memcpy(*out + *o, s, n);
	*o += n;
	return 0;
}

char *template_expand(const char *tpl, template_lookup_fn lookup, void *cls, char *why, size_t whysz)
{
	size_t cap = strlen(tpl) + 256, o = 0;
	char *out = malloc(cap);
	const char *p = tpl;

	if (!out)
		goto nomem;
	while (*p) {
		const char *open = strstr(p, "{{"), *close, *value = NULL;
		size_t chunk = open ? (size_t)(open - p) : strlen(p);
		int rc;

		if (append(&out, &o, &cap, p, chunk) < 0)
			goto nomem;
		if (!open)
			break;
		if (!(close = strstr(open + 2, "}}"))) {
			snprintf(why, whysz, "unterminated '{{'");
			goto fail;
		}
		if ((rc = lookup(cls, open + 2, (size_t)(close - open - 2), &value)) < 0) {
			snprintf(why, whysz, "%s '%.*s'", rc == -ENOENT ? "unknown variable" : "unsafe value for",
				 (int)(close - open - 2), open + 2);
			goto fail;
		}
		if (append(&out, &o, &cap, value, strlen(value)) < 0)
			goto nomem;
		p = close + 2;
	}
	out[o] = '\0';
	return out;
nomem:
	snprintf(why, whysz, "out of memory");
fail:
	free(out);
	return NULL;
}

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"
#include "log.h"

/* The templates of ipxe-scripts/, read once at start-up: a script never depends on a file
 * changing under a running server, and a broken template stops the server at start. */
struct template {
	char name[64];
	char *text;
};
static struct template *templates;
static size_t ntemplates;

static char *read_small_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < 65536 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
		if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
			buf[len] = '\0';
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

int templates_load(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (!d)
		return err_set(-errno, "cannot open scripts folder %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct template *grown;

		if (len < 6 || len - 5 >= sizeof(templates->name) ||
		    strcmp(de->d_name + len - 5, ".ipxe") != 0 || de->d_name[0] == '.')
			continue;
		grown = realloc(templates, (ntemplates + 1) * sizeof(*templates));
		if (!grown)
			break;
		templates = grown;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(templates[ntemplates].name, sizeof(templates->name), "%.*s", (int)(len - 5), de->d_name);
		templates[ntemplates].text = read_small_file(path);
		if (!templates[ntemplates].text) {
			closedir(d);
			return err_set(-EIO, "cannot read template %s", path);
		}
		ntemplates++;
	}
	closedir(d);
	log_debug("loaded %zu iPXE templates from %s", ntemplates, dir);
	return 0;
}

void templates_free(void)
{
	for (size_t i = 0; i < ntemplates; i++)
		free(templates[i].text);
	free(templates);
	templates = NULL;
	ntemplates = 0;
}

/* iPXE expands "${...}", ends commands at a newline, and treats "||", "&&", quotes and "#"
 * specially; a value may hold none of these (nor control characters), so nothing a client
 * or operator supplies can add a command to a script. */
bool template_value_safe(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || strchr("$\"'\\`;|&<>#{}", *p))
			return false;
	return true;
}

static const char *lookup(const struct tvar *vars, size_t nvars, const char *name, size_t len)
{
	for (size_t i = 0; i < nvars; i++)
		if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
			return vars[i].value;
	return NULL;
}

char *template_render_text(const char *tpl, const struct tvar *vars, size_t nvars)
{
	size_t cap = strlen(tpl) + 256, o = 0;
	char *out = malloc(cap);
	const char *p = tpl;

	if (!out) {
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	while (*p) {
		const char *open = strstr(p, "{{"), *close = NULL, *value = NULL;
		size_t chunk = open ? (size_t)(open - p) : strlen(p), vlen = 0;

		if (open) {
			close = strstr(open + 2, "}}");
			if (!close) {
				err_set(-EINVAL, "template: unterminated '{{'");
				goto fail;
			}
			value = lookup(vars, nvars, open + 2, (size_t)(close - open - 2));
			if (!value) {
				err_set(-EINVAL, "template: unknown variable '%.*s'", (int)(close - open - 2), open + 2);
				goto fail;
			}
			if (!template_value_safe(value)) {
				err_set(-EINVAL, "template: unsafe value for '%.*s'", (int)(close - open - 2), open + 2);
				goto fail;
			}
			vlen = strlen(value);
		}
		if (o + chunk + vlen + 1 > cap) {
			char *grown;

			cap = (o + chunk + vlen + 1) * 2;
			grown = realloc(out, cap);
			if (!grown) {
				err_set(-ENOMEM, "out of memory");
				goto fail;
			}
			out = grown;
		}
		memcpy(out + o, p, chunk);
		o += chunk;
		if (!open)
			break;
		memcpy(out + o, value, vlen);
		o += vlen;
		p = close + 2;
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

char *template_render(const char *name, const struct tvar *vars, size_t nvars)
{
	for (size_t i = 0; i < ntemplates; i++)
		if (strcmp(templates[i].name, name) == 0)
			return template_render_text(templates[i].text, vars, nvars);
	err_set(-ENOENT, "no iPXE template '%s' in %s", name, cfg.scripts_dir);
	return NULL;
}

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"
#include "log.h"
#include "template_text.h"

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
	templates_free(); /* a second load replaces the first: no template twice */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct template *grown;

		if (len < 6 || len - 5 >= sizeof(templates->name) ||
		    strcmp(de->d_name + len - 5, ".ipxe") != 0 || de->d_name[0] == '.')
			continue;
		grown = realloc(templates, (ntemplates + 1) * sizeof(*templates));
		if (!grown) {
			closedir(d);
			templates_free();
			return err_set(-ENOMEM, "out of memory reading the templates of %s", dir);
		}
		templates = grown;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(templates[ntemplates].name, sizeof(templates->name), "%.*s", (int)(len - 5), de->d_name);
		templates[ntemplates].text = read_small_file(path);
		if (!templates[ntemplates].text) {
			closedir(d);
			templates_free();
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

/* The variables of one rendering, for template_expand. */
struct tvars {
	const struct tvar *vars;
	size_t n;
};

static int lookup(void *cls, const char *name, size_t len, const char **value)
{
	const struct tvars *t = cls;

	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->vars[i].name) == len && memcmp(t->vars[i].name, name, len) == 0) {
			*value = t->vars[i].value;
			return template_value_safe(*value) ? 0 : -EINVAL;
		}
	return -ENOENT;
}

char *template_render_text(const char *tpl, const struct tvar *vars, size_t nvars)
{
	struct tvars t = { vars, nvars };
	char why[200], *out = template_expand(tpl, lookup, &t, why, sizeof(why));

	if (!out)
		err_set(strcmp(why, "out of memory") ? -EINVAL : -ENOMEM, "template: %s", why);
	return out;
}

char *template_render(const char *name, const struct tvar *vars, size_t nvars)
{
	for (size_t i = 0; i < ntemplates; i++)
		if (strcmp(templates[i].name, name) == 0)
			return template_render_text(templates[i].text, vars, nvars);
	err_set(-ENOENT, "no iPXE template '%s' in %s", name, cfg.scripts_dir);
	return NULL;
}

/* Recipes: POSIX sh files with variables and optional functions. The shell reads them, so a
 * recipe may compute its values; mkimg only sees what the shell prints back. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "mkimg.h"
#include "recipe_steps.h"

/* Prints the variables one per line; packages flattened to one line by word splitting. A
 * recipe that fails while being sourced (set -e, a failing command) stops here. */
static const char read_script[] =
	". \"$RECIPE\" || exit 1\n"
	"printf 'name=%s\\n' \"${name:-}\"\n"
	"printf 'base=%s\\n' \"${base:-}\"\n"
	"printf 'format=%s\\n' \"${format:-tar.zst}\"\n"
	"printf 'packages=%s\\n' \"$(echo ${packages:-})\"\n"
	"if command -v provision >/dev/null 2>&1; then echo provision=1; else echo provision=0; fi\n";

static bool name_valid(const char *s)
{
	if (!*s || *s == '.' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Runs sh -c script with RECIPE set; its stdout (at most 64 KiB) into a new string. */
static char *capture(const char *recipe, const char *script, int *status)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	int fds[2];
	pid_t pid;
	ssize_t n;

	if (!buf || pipe(fds) < 0) {
		free(buf);
		return NULL;
	}
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return NULL;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		setenv("RECIPE", recipe, 1);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
		if (len == cap)
			break;
	}
	close(fds[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	return buf;
}

/* The value of "key=value" among the lines of out, as a new string ("" if absent). */
static char *value_of(const char *out, const char *key)
{
	size_t klen = strlen(key);
	const char *p = out, *end;

	while (*p) {
		end = strchr(p, '\n');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
			return strndup(p + klen + 1, (size_t)(end - p) - klen - 1);
		p = *end ? end + 1 : end;
	}
	return strdup("");
}

struct recipe *recipe_load(const char *path)
{
	char abs[PATH_MAX], *out, *slash, *provision = NULL;
	struct recipe *r;
	int status = 0, rc = -EINVAL;

	if (access(path, R_OK) < 0 || !realpath(path, abs)) {
		err_set(-errno, "recipe %s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(r = calloc(1, sizeof(*r))) || !(r->path = strdup(abs)) || !(r->dir = strdup(abs)))
		goto err_nomem;
	slash = strrchr(r->dir, '/');
	slash[slash == r->dir ? 1 : 0] = '\0';
	if (!(out = capture(r->path, read_script, &status)))
		goto err_nomem;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = err_set(-EIO, "recipe %s: sourcing it with /bin/sh failed (exit %d)", r->path,
			     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		free(out);
		goto err;
	}
	r->name = value_of(out, "name");
	r->base = value_of(out, "base");
	r->format = value_of(out, "format");
	r->packages = value_of(out, "packages");
	provision = value_of(out, "provision");
	free(out);
	if (!r->name || !r->base || !r->format || !r->packages || !provision)
		goto err_nomem;
	r->has_provision = strcmp(provision, "1") == 0;
	free(provision);

	if (!*r->name) {
		err_set(-EINVAL, "recipe %s: no name= (every recipe names its image)", r->path);
		goto err;
	}
	if (!name_valid(r->name)) {
		err_set(-EINVAL, "recipe %s: name=%s: use letters, digits, '.', '_' and '-' (at most 64, not starting with '.')",
			r->path, r->name);
		goto err;
	}
	if (strcmp(r->base, "busybox") != 0 && strcmp(r->base, "debootstrap") != 0) {
		err_set(-EINVAL, "recipe %s: base=%s: unknown base system (busybox or debootstrap)", r->path, r->base);
		goto err;
	}
	if (strcmp(r->format, "raw.zst") == 0) {
		err_set(-EINVAL, "recipe %s: format=raw.zst: whole-disk images are not supported yet; use format=tar.zst",
			r->path);
		goto err;
	}
	if (strcmp(r->format, "tar.zst") != 0) {
		err_set(-EINVAL, "recipe %s: format=%s: unknown output format (tar.zst)", r->path, r->format);
		goto err;
	}
	return r;

err_nomem:
	free(provision);
	rc = err_set(-ENOMEM, "recipe %s: out of memory", path);
err:
	recipe_free(r);
	errno = -rc;
	return NULL;
}

void recipe_free(struct recipe *r)
{
	if (!r)
		return;
	free(r->path);
	free(r->dir);
	free(r->name);
	free(r->base);
	free(r->format);
	free(r->packages);
	free(r);
}

int recipe_run_step(const struct recipe *r, const char *step, const char *body)
{
	char *script;
	int status, rc;
	pid_t pid;

	if (asprintf(&script, RECIPE_STEP_SCRIPT, body) < 0)
		return err_set(-ENOMEM, "step %s: out of memory", step);
	log_info("%s: %s", r->name, step);
	if ((pid = fork()) < 0) {
		rc = err_set(-errno, "step %s: fork: %s", step, strerror(errno));
		free(script);
		return rc;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	free(script);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_set(-errno, "step %s: waitpid: %s", step, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			return err_set(-EIO, "%s: step %s failed (exit %d)", r->name, step, WEXITSTATUS(status));
		return err_set(-EIO, "%s: step %s killed by signal %d", r->name, step, WTERMSIG(status));
	}
	return 0;
}

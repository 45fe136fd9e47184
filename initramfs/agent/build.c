/*
 * A recipe image built on the target, the way the original project built systems: the
 * recipe's bundle comes from anemosd (verified), its packages from the Debian mirror the
 * plan names (verified: mirror.c), and the system is assembled on the mounted target disk
 * by the very base scripts anemos-mkimg runs on a build host (lib/recipe_steps.h), so both
 * ways give the same tree. Phases are reported as events, with package bytes and counts:
 * once a second while they change, every PROGRESS_IDLE seconds while they do not (a
 * debootstrap build unpacks and configures for many minutes, and a host keeps only its
 * newest 1000 events: the install's first ones must survive it).
 *
 *   base=busybox      the kernel, busybox-static and the recipe's packages fetched and
 *                     checked here, then unpacked by base/busybox.sh (ANEMOS_OFFLINE=1)
 *   base=debootstrap  debootstrap from the mirror with the recipe's keyring, then
 *                     base/debootstrap.sh's steps in a chroot
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build.h"
#include "recipe_steps.h"

#define PROGRESS_IDLE 30 /* seconds between progress events that report no change */
#define DEB_MAX (1ULL << 30)

int build_fail(struct build *b, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (b->failed)
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	b->failed = true;
	return err_set(-EIO, "%s", text);
}

void build_progress(struct build *b, bool force)
{
	time_t now = time(NULL);
	char msg[256];
	json_t *ev;

	bool changed = b->bytes_done != b->last_bytes || b->pkgs_done != b->last_pkgs || b->phase != b->last_phase;

	if ((!force && (now - b->last_event < 1 || (!changed && now - b->last_event < PROGRESS_IDLE))) ||
	    (!b->a->token[0] && !b->a->deploy))
		return;
	b->last_event = now;
	b->last_bytes = b->bytes_done;
	b->last_pkgs = b->pkgs_done;
	b->last_phase = b->phase;
	if (b->pkgs_total)
		snprintf(msg, sizeof(msg), "%s: %d of %d packages, %.1f of %.1f MiB", b->phase, b->pkgs_done,
			 b->pkgs_total, (double)b->bytes_done / 1048576.0, (double)b->bytes_total / 1048576.0);
	else
		snprintf(msg, sizeof(msg), "%s: %d packages, %.1f MiB fetched", b->phase, b->pkgs_done,
			 (double)b->bytes_done / 1048576.0);
	fprintf(stderr, "anemos-agent: %s\n", msg);
	if (b->a->deploy) {	/* anemosctl reads the phases */
		deploy_phase(b->phase, "progress", msg, b->bytes_done, b->bytes_total);
		return;
	}
	ev = json_pack("{s:s, s:s, s:s, s:I}", "phase", b->phase, "level", "info", "message", msg,
		       "bytes", (json_int_t)b->bytes_done);
	if (b->bytes_total)
		json_object_set_new(ev, "total", json_integer((json_int_t)b->bytes_total));
	client_event(b->a, ev, 5, false); /* progress is worth a few seconds, never the build */
	json_decref(ev);
}

/* Counts the packages base=debootstrap downloads itself, from what it prints, with the sizes
 * the verified index gives them (bytes): debootstrap's "I: Retrieving NAME VERSION" and
 * apt-get's "Get:N URI SUITE/COMPONENT ARCH NAME ARCH VERSION [SIZE]". Index files have
 * fewer words there ("I: Retrieving InRelease", "Get:1 URI bookworm InRelease [...]"). */
static void note_line(struct build *b, const char *line)
{
	char name[128], version[128];
	int end = 0;

	if (!(sscanf(line, "I: Retrieving %127s %127s%n", name, version, &end) == 2 && end > 0) &&
	    !(sscanf(line, "Get:%*u %*s %*s %*s %127s %*s %127s [%n", name, version, &end) == 2 && end > 0))
		return;
	b->pkgs_done++;
	if (b->index) {
		int64_t size = mirror_size(b, name);

		if (size > 0)
			b->bytes_done += (uint64_t)size;
	}
}

/* Runs argv with the output through a pipe: echoed, its tail kept, lines noted, and a
 * progress event a second while it runs. */
int build_run(struct build *b, const char *const argv[], char *out, size_t outsz)
{
	int fds[2], status = 0;
	char buf[4096], line[512];
	size_t tail = 0, ll = 0;
	bool reaped = false;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return build_fail(b, "cannot run %s: %s", argv[0], strerror(errno));
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return build_fail(b, "cannot run %s: %s", argv[0], strerror(errno));
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	if (outsz)
		out[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) == 0) {
			build_progress(b, false);
			/* Exited, but something it started still holds the pipe: done all the same. */
			if (waitpid(pid, &status, WNOHANG) == pid) {
				reaped = true;
				break;
			}
			continue;
		}
		if ((n = read(fds[0], buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stderr);
		for (ssize_t i = 0; i < n; i++) {
			if (outsz > 1) { /* the last outsz-1 bytes */
				if (tail == outsz - 1) {
					memmove(out, out + 1, outsz - 2);
					tail--;
				}
				out[tail++] = buf[i];
				out[tail] = '\0';
			}
			if (buf[i] == '\n' || ll == sizeof(line) - 1) {
				line[ll] = '\0';
				note_line(b, line);
				ll = 0;
			} else {
				line[ll++] = buf[i];
			}
		}
		build_progress(b, false);
	}
	close(fds[0]);
	while (!reaped && waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The last non-empty line of text, for a failure message. */
static const char *last_line(char *text)
{
	char *nl;

	while ((nl = strrchr(text, '\n')) && !nl[1])
		*nl = '\0';
	return (nl = strrchr(text, '\n')) ? nl + 1 : text;
}

/* What the recipe says, read by sourcing it (it may compute its values). */
struct recipe_vars {
	char base[32], suite[64], keyring[256], packages[8192], mirror[1024];
	bool provision;
};

static int read_recipe(struct build *b, const char *plan_base, struct recipe_vars *v)
{
	size_t n = 0, max = 1;
	static const char script[] =
		"cd " BUILD_WORK "/recipe && . ./recipe >/dev/null 2>&1 || exit 1\n"
		"printf 'base=%s\\nsuite=%s\\nkeyring=%s\\npackages=%s\\nmirror=%s\\n' \"${base:-}\" \"${suite:-bookworm}\" \"${keyring:-}\" \"$(echo ${packages:-})\" \"${mirror:-}\"\n"
		"command -v provision >/dev/null 2>&1 && echo provision=1 || echo provision=0\n";
	const char *argv[] = { BUILD_SHELL, "-c", script, NULL };
	char out[9900], *p;

	if (build_run(b, argv, out, sizeof(out)) != 0)
		return build_fail(b, "the recipe fails when sourced by /bin/sh");
	if (strlen(out) == sizeof(out) - 1)
		return build_fail(b, "the recipe prints too much when sourced");
	memset(v, 0, sizeof(*v));
	for (p = strtok(out, "\n"); p; p = strtok(NULL, "\n")) {
		if (!strncmp(p, "base=", 5))
			n = snprintf(v->base, sizeof(v->base), "%s", p + 5), max = sizeof(v->base);
		else if (!strncmp(p, "suite=", 6))
			n = snprintf(v->suite, sizeof(v->suite), "%s", p + 6), max = sizeof(v->suite);
		else if (!strncmp(p, "keyring=", 8))
			n = snprintf(v->keyring, sizeof(v->keyring), "%s", p + 8), max = sizeof(v->keyring);
		else if (!strncmp(p, "packages=", 9))
			n = snprintf(v->packages, sizeof(v->packages), "%s", p + 9), max = sizeof(v->packages);
		else if (!strncmp(p, "mirror=", 7))
			n = snprintf(v->mirror, sizeof(v->mirror), "%s", p + 7), max = sizeof(v->mirror);
		else if (!strcmp(p, "provision=1"))
			v->provision = true;
		if (n >= max)
			return build_fail(b, "the recipe's %.*s is too long", (int)strcspn(p, "="), p);
	}
	if (strcmp(v->base, "busybox") && strcmp(v->base, "debootstrap"))
		return build_fail(b, "the recipe's base=%s is neither busybox nor debootstrap", v->base);
	/* What anemosd showed and verified the plan with must be what the recipe says when it
	 * runs (anemosd reads plain assignments only). */
	if ((b->suite[0] && strcmp(v->suite, b->suite)) || (plan_base && strcmp(v->base, plan_base)))
		return build_fail(b, "the recipe says base=%s suite=%s when sourced, anemosd read base=%s suite=%s: "
				  "give them as plain assignments at the start of a line", v->base, v->suite,
				  plan_base ? plan_base : "?", b->suite);
	if (strstr(v->keyring, "..") || v->keyring[0] == '/')
		return build_fail(b, "the recipe's keyring=%s must name a file in its folder", v->keyring);
	if (!b->suite[0])	/* a deploy's plan (no anemosd read the recipe): as it says */
		snprintf(b->suite, sizeof(b->suite), "%s", v->suite);
	return 0;
}

/* The bundle from anemosd, checked against the plan's SHA-256, unpacked into the work folder. */
static int fetch_bundle(struct build *b, json_t *image)
{
	const char *url = json_string_value(json_object_get(image, "url"));
	const char *sha = json_string_value(json_object_get(image, "sha256"));
	const char *mkdir_argv[] = { "mkdir", "-p", BUILD_WORK "/recipe", NULL };
	const char *tar_argv[] = { "tar", "-x", "--no-same-owner", "-f", BUILD_WORK "/recipe.tar", "-C",
				   BUILD_WORK "/recipe", NULL };
	char out[512];

	if (!url || !sha)
		return build_fail(b, "the plan's recipe image lacks url or sha256");
	if (build_run(b, mkdir_argv, out, sizeof(out)) != 0)
		return build_fail(b, "cannot make %s/recipe: %s", BUILD_WORK, last_line(out));
	if (mirror_fetch(b, false, url, BUILD_WORK "/recipe.tar", RECIPE_BUNDLE_MAX, sha, -1) < 0)
		return -EIO;
	if (build_run(b, tar_argv, out, sizeof(out)) != 0)
		return build_fail(b, "cannot unpack the recipe bundle: %s", last_line(out));
	unlink(BUILD_WORK "/recipe.tar"); /* RAM: the unpacked copy is what the steps use */
	return 0;
}

/* base=busybox: every package the base needs, fetched from the mirror into CACHE/debs as
 * NAME_VERSION_ARCH.deb (Debian's pool names), verified; the kernel package named in
 * CACHE/debs/kernel-package for base/busybox.sh. */
static int fetch_packages(struct build *b, const char *cache, const char *packages)
{
	char names[8300], dir[320], path[700], url[2400], *tok, *save = NULL;
	struct deb debs[256];
	size_t n = 0;
	int rc = -EIO;
	FILE *f;

	snprintf(names, sizeof(names), "linux-image-amd64 busybox-static %s", packages);
	snprintf(dir, sizeof(dir), "%s/debs", cache);
	if (mkdir(cache, 0755) < 0 || mkdir(dir, 0755) < 0)
		return build_fail(b, "cannot make %s: %s", dir, strerror(errno));
	for (tok = strtok_r(names, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (n + 2 > sizeof(debs) / sizeof(debs[0])) {
			build_fail(b, "the recipe names more than %zu packages", sizeof(debs) / sizeof(debs[0]) - 2);
			goto out;
		}
		if (mirror_resolve(b, tok, &debs[n++]) < 0)
			goto out;
		if (debs[n - 1].kernel) {
			snprintf(path, sizeof(path), "%s/kernel-package", dir);
			if (!(f = fopen(path, "we")) || fprintf(f, "%s\n", debs[n - 1].kernel) < 0 || fclose(f) != 0) {
				build_fail(b, "cannot write %s", path);
				goto out;
			}
			n++;
			if (mirror_resolve(b, debs[n - 2].kernel, &debs[n - 1]) < 0)
				goto out;
		}
	}
	b->pkgs_total = (int)n;
	for (size_t i = 0; i < n; i++)
		b->bytes_total += (uint64_t)debs[i].size;
	build_progress(b, true);
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(debs[i].filename, '/') ? strrchr(debs[i].filename, '/') + 1 : debs[i].filename;

		snprintf(url, sizeof(url), "%s/%s", b->mirror, debs[i].filename);
		snprintf(path, sizeof(path), "%s/%s", dir, base);
		if (mirror_fetch(b, true, url, path, DEB_MAX, debs[i].sha256, debs[i].size) < 0)
			goto out;
		b->pkgs_done++;
	}
	build_progress(b, true);
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		deb_free(&debs[i]);
	return rc;
}

/* The recipe's steps, as anemos-mkimg runs them, in the target root. */
static int run_steps(struct build *b, const struct recipe_vars *v)
{
	char script[512], out[1024];
	const char *argv[] = { BUILD_SHELL, "-c", script, NULL };

	for (size_t i = 0; i < RECIPE_STEPS; i++) {
		int status;

		if (recipe_steps[i].provision_only && !v->provision)
			continue;
		/* Every step is said, so that the operator sees where a long build is
		 * (debootstrap's base, then apt's packages, in the same phase). */
		b->phase = recipe_steps[i].phase;
		client_report(b->a, "info", b->phase, "%s: running the recipe's %s step", b->phase, recipe_steps[i].name);
		snprintf(script, sizeof(script), RECIPE_STEP_SCRIPT, recipe_steps[i].call);
		if ((status = build_run(b, argv, out, sizeof(out))) != 0)
			return build_fail(b, "the recipe's %s step failed (exit %d): %s", recipe_steps[i].name,
					  status, last_line(out));
	}
	return 0;
}

/* The environment of the steps: what anemos-mkimg sets, pointed at the target. */
static void step_environment(struct build *b, const char *cache, const struct recipe_vars *v)
{
	char path[600];

	setenv("ROOT", b->root, 1);
	setenv("CACHE", cache, 1);
	setenv("RECIPE", BUILD_WORK "/recipe/recipe", 1);
	setenv("RECIPE_DIR", BUILD_WORK "/recipe", 1);
	snprintf(path, sizeof(path), "%s/work", cache);
	mkdir(path, 0755);
	setenv("MKIMG_WORK", path, 1);
	snprintf(path, sizeof(path), "%s/%s.sh", BUILD_BASE_DIR, v->base);
	setenv("MKIMG_BASE", path, 1);
	setenv("ANEMOS_OFFLINE", "1", 1);
	setenv("ANEMOS_MIRROR", b->mirror, 1);
	setenv("TMPDIR", BUILD_WORK, 1);
}

/* One recipe build between build_open and build_into. */
struct build_job {
	struct build b;
	struct recipe_vars v;
	json_t *image;
};

void build_close(struct build_job *j)
{
	if (!j)
		return;
	free(j->b.index);
	free(j);
}

struct build_job *build_open(struct agent *a, json_t *plan)
{
	json_t *image = json_object_get(plan, "image");
	const char *mirror = json_string_value(json_object_get(image, "mirror"));
	const char *suite = json_string_value(json_object_get(image, "suite"));
	struct build_job *j = calloc(1, sizeof(*j));
	struct build *b;
	char keyring[600];

	if (!j) {
		err_set(-ENOMEM, "out of memory");
		return NULL;
	}
	b = &j->b;
	*b = (struct build){ .a = a, .phase = "bootstrap" };
	j->image = image;
	snprintf(b->work, sizeof(b->work), "%s", BUILD_WORK);
	/* anemosd's plans always name the suite; a deploy's takes the recipe's. */
	snprintf(b->suite, sizeof(b->suite), "%s", suite ? suite : a->deploy ? "" : "bookworm");
	if (!mirror && !a->deploy) {
		build_fail(b, "the recipe names no mirror: set mirror= in it, or the host's install.mirror");
		goto fail;
	}
	if (fetch_bundle(b, image) < 0 ||
	    read_recipe(b, json_string_value(json_object_get(image, "base")), &j->v) < 0)
		goto fail;
	snprintf(b->mirror, sizeof(b->mirror), "%s", mirror ? mirror : j->v.mirror);
	if (strncmp(b->mirror, "http://", 7) && strncmp(b->mirror, "https://", 8)) {
		build_fail(b, "the recipe names no http(s) mirror (mirror=%s): set mirror= in it, or deploy --mirror URL",
			   b->mirror);
		goto fail;
	}
	while (b->mirror[0] && b->mirror[strlen(b->mirror) - 1] == '/')
		b->mirror[strlen(b->mirror) - 1] = '\0';
	client_report(a, "info", "bootstrap", "bootstrap: building %s from %s (suite %s) on this machine",
		      json_string_value(json_object_get(image, "name")), b->mirror, b->suite);
	if (j->v.keyring[0])
		snprintf(keyring, sizeof(keyring), "%s/recipe/%s", BUILD_WORK, j->v.keyring);
	else
		snprintf(keyring, sizeof(keyring), "%s", DEBIAN_KEYRING);
	setenv("ANEMOS_KEYRING", keyring, 1);
	/* For both bases: a clear failure before any disk is touched, and the sizes progress
	 * counts with (debootstrap checks the same signature again itself). */
	if (mirror_open(b, keyring) < 0)
		goto fail;
	return j;
fail:
	build_close(j);
	return NULL;
}

int build_into(struct build_job *j, const char *root)
{
	struct build *b = &j->b;
	char cache[300];
	int rc = -EIO;

	b->root = root;
	snprintf(cache, sizeof(cache), "%s/.anemos-build", root);
	if (strcmp(j->v.base, "busybox") == 0 && fetch_packages(b, cache, j->v.packages) < 0)
		goto out;
	if (strcmp(j->v.base, "busybox") != 0 && mkdir(cache, 0755) < 0) {
		build_fail(b, "cannot make %s: %s", cache, strerror(errno));
		goto out;
	}
	step_environment(b, cache, &j->v);
	if (run_steps(b, &j->v) < 0)
		goto out;
	{
		const char *rm_argv[] = { "rm", "-rf", cache, NULL };
		char out[256];

		if (build_run(b, rm_argv, out, sizeof(out)) != 0) {
			build_fail(b, "cannot remove %s: %s", cache, last_line(out));
			goto out;
		}
	}
	b->phase = "provision";
	client_report(b->a, "info", "provision", "provision: %s built here: %d packages, %.1f MiB fetched from %s",
		      json_string_value(json_object_get(j->image, "name")), b->pkgs_done,
		      (double)b->bytes_done / 1048576.0, b->mirror);
	rc = 0;
out:
	build_close(j);
	return rc;
}

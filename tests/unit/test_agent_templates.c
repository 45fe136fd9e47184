/* The agent's per-host templates (initramfs/agent/templates.c) over a real folder standing in
 * for the target root: the values of the plan, the output's mode, an unknown variable named
 * with its file, and no write leaving the root through a symlink. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "build.h"
#include "errors.h"

static char root[64], outside[64];

static void put(const char *rel, const char *text, mode_t mode)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static char *get(const char *dir, const char *rel, mode_t *mode)
{
	static char buf[1024];
	char path[512];
	struct stat st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (!(f = fopen(path, "r")))
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fstat(fileno(f), &st);
	fclose(f);
	if (mode)
		*mode = st.st_mode & 07777;
	return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/anemos-tpl-root.XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/anemos-tpl-out.XXXXXX");
	return mkdtemp(root) && mkdtemp(outside) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(outside, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* templates_render over the root folder, as an install gives it the mounted target. */
static int render(json_t *p, char *why, size_t whysz)
{
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), rc;

	assert_true(rootfd >= 0);
	err_clear();
	rc = templates_render(p, rootfd);
	snprintf(why, whysz, "%s", err_msg());
	close(rootfd);
	return rc;
}

static json_t *plan(void)
{
	return json_pack("{s:{s:I, s:s, s:[s, s]}, s:{s:s}, s:{s:s, s:{s:s, s:s, s:s, s:[s]}}}",
			 "host", "id", (json_int_t)7, "hostname", "web7", "macs", "52:54:00:00:00:07", "52:54:00:00:00:08",
			 "image", "name", "tiny",
			 "install", "kernel_args", "quiet", "network", "mode", "static", "address", "192.0.2.7/24",
			 "gateway", "192.0.2.1", "dns", "192.0.2.53");
}

static void test_renders_the_plan(void **state)
{
	char why[512] = "";
	json_t *p = plan();
	mode_t mode = 0;

	(void)state;
	mkdir(root, 0755);
	put("etc/anemos/templates/etc/motd.template",
	    "{{hostname}} {{id}} {{image}} {{mac}} [{{macs}}] {{address}} {{gateway}} {{dns}} {{install.kernel_args}}\n", 0640);
	put("etc/anemos/templates/etc/legacy.conf.makeimg.template", "legacy {{hostname}}\n", 0644);
	put("etc/anemos/templates/etc/plain.txt", "not a template {{x}}\n", 0644);
	put("etc/motd", "old\n", 0644);
	assert_int_equal(render(p, why, sizeof(why)), 0);
	assert_string_equal(get(root, "etc/motd", &mode),
			    "web7 7 tiny 52:54:00:00:00:07 [52:54:00:00:00:07 52:54:00:00:00:08] 192.0.2.7/24 192.0.2.1 192.0.2.53 quiet\n");
	assert_int_equal(mode, 0640);
	assert_string_equal(get(root, "etc/legacy.conf", NULL), "legacy web7\n");
	assert_null(get(root, "etc/plain", NULL));
	assert_non_null(get(root, "etc/anemos/templates/etc/motd.template", NULL));
	json_decref(p);
}

static void test_unknown_variable(void **state)
{
	char why[512] = "";
	json_t *p = plan();

	(void)state;
	put("etc/anemos/templates/etc/bad.template", "{{hostname}} {{colour}}\n", 0644);
	assert_int_equal(render(p, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "/etc/anemos/templates/etc/bad.template"));
	assert_non_null(strstr(why, "unknown variable 'colour'"));
	unlink(strcat(strcpy((char[512]){ 0 }, root), "/etc/anemos/templates/etc/bad.template"));
	json_decref(p);
}

/* An image whose folder is a symlink to an absolute path: the output lands inside the root
 * (the link resolves there), never in the installer's own file system. */
static void test_symlink_stays_in_root(void **state)
{
	char why[512] = "", link[512];
	json_t *p = plan();

	(void)state;
	snprintf(link, sizeof(link), "%s/srv", root);
	assert_int_equal(symlink(outside, link), 0);
	put("etc/anemos/templates/srv/escape.template", "{{hostname}}\n", 0644);
	assert_int_equal(render(p, why, sizeof(why)), -EIO);
	assert_null(get(outside, "escape", NULL));
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renders_the_plan),
		cmocka_unit_test(test_unknown_variable),
		cmocka_unit_test(test_symlink_stays_in_root),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

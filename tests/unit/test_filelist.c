/*
 * Unit tests of lib/filelist.c: which paths the list leaves out as per machine, and the exact
 * lines of a real tree (every kind of entry a test may make without root, names that need
 * escaping, a per-host template and its rendered output). That anemos-mkimg's list of a
 * built tree and anemos-agent's of the unpacked image agree is
 * tests/integration/mkimg.test.sh's business.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "filelist.h"
#include "support.h"

#define SHA_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" /* "hello\n" */
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" /* "" */
#define SHA_X     "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" /* "x" */
#define SHA_T     "fe8edeeb98cc6d3b93cf2d57000254b84bd9eba34b4df7ce4b87db8b937b7703" /* "t\n" */

static void test_excluded(void **state)
{
	static const struct {
		const char *path;
		bool excluded;
	} cases[] = {
		{ "lost+found", true },
		{ "lost+found/#1234", true },
		{ "lost+foundx", false },
		{ "boot", false },
		{ "boot/vmlinuz", false },
		{ "boot/efi", true },
		{ "boot/efi/EFI/BOOT/BOOTX64.EFI", true },
		{ "boot/efix", false },
		{ "boot/extlinux", true },
		{ "boot/extlinux/extlinux.conf", true },
		{ "etc", false },
		{ "etc/fstab", true },
		{ "etc/fstab.d", false },
		{ "etc/hostname", true },
		{ "etc/hosts", true },
		{ "etc/resolv.conf", true },
		{ "etc/hosts.allow", false },
		{ "etc/machine-id", true },
		{ "etc/shadow", true },
		{ "etc/gshadow", false },
		{ "etc/passwd", false },
		{ "etc/anemos", false },
		{ "etc/anemos/network", true },
		{ "etc/anemos/phone-home", true },
		{ "etc/anemos/templates/etc/motd.template", false },
		{ "etc/ssh", false },
		{ "etc/ssh/sshd_config", false },
		{ "etc/ssh/ssh_host_rsa_key", true },
		{ "etc/ssh/ssh_host_ed25519_key.pub", true },
		{ "etc/dropbear", false },
		{ "etc/dropbear/dropbear_ed25519_host_key", true },
		{ "etc/dropbear/keys/dropbear_rsa_host_key", false },
		{ "etc/systemd/network/10-anemos.network", true },
		{ "etc/systemd/network/20-wired.network", false },
		{ "etc/systemd/system/anemos-phone-home.service", true },
		{ "etc/systemd/system/multi-user.target.wants/anemos-phone-home.service", true },
		{ "etc/systemd/system/multi-user.target.wants/ssh.service", false },
		{ "usr/local/sbin", false },
		{ "usr/local/sbin/anemos-phone-home", true },
		{ "root", false },
		{ "root/.profile", false },
		{ "root/.ssh", true },
		{ "root/.ssh/authorized_keys", true },
		{ "var/log", false },
		{ "var/log/messages", true },
		{ "var/log/.keep", true },
		{ "var/log/apt/history.log", true },
		{ "var/logs", false },
		{ "var/lib/cloud", false },
		{ "var/lib/cloud/seed", true },
		{ "var/lib/cloud/seed/nocloud/user-data", true },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (filelist_excluded(cases[i].path) != cases[i].excluded)
			fail_msg("filelist_excluded(%s) should be %s", shown(cases[i].path),
				 cases[i].excluded ? "true" : "false");
}

/* What the test tree holds, made in this order under a fresh folder. */
static const struct node {
	char type;           /* f file, d folder, l symlink, p FIFO */
	const char *path;
	mode_t mode;         /* set with chmod (not for symlinks) */
	const char *data;    /* f: the content; l: the target */
} tree[] = {
	{ 'f', "file", 0644, "hello\n" },
	{ 'l', "link", 0, "file" },
	{ 'l', "odd", 0, "a b\\c" },
	{ 'd', "sub", 0750, NULL },
	{ 'f', "sub/x", 0600, "" },
	{ 'p', "fifo", 0640, NULL },
	{ 'f', "a b\nc", 0644, "x" },
	{ 'd', "etc", 0755, NULL },
	{ 'f', "etc/hostname", 0644, "host1\n" },
	{ 'd', "etc/anemos", 0755, NULL },
	{ 'd', "etc/anemos/templates", 0755, NULL },
	{ 'd', "etc/anemos/templates/etc", 0755, NULL },
	{ 'f', "etc/anemos/templates/etc/motd.template", 0644, "t\n" },
	{ 'f', "etc/motd", 0644, "rendered for host1\n" },
	{ 'f', "etc/anemos/templates/etc/issue.makeimg.template", 0644, "t\n" },
	{ 'f', "etc/issue", 0644, "rendered for host1\n" },
	{ 'f', "etc/anemos/templates/etc/absent.template", 0644, "t\n" },
	{ 'd', "var", 0755, NULL },
	{ 'd', "var/log", 0755, NULL },
	{ 'f', "var/log/boot.log", 0644, "booted\n" },
};

/* The list of that tree: sorted, escaped, without etc/hostname, the template outputs
 * etc/motd and etc/issue, and what is in var/log. */
static const char want[] =
	"a\\x20b\\x0ac f 0644 " SHA_X "\n"
	"etc d 0755 -\n"
	"etc/anemos d 0755 -\n"
	"etc/anemos/templates d 0755 -\n"
	"etc/anemos/templates/etc d 0755 -\n"
	"etc/anemos/templates/etc/absent.template f 0644 " SHA_T "\n"
	"etc/anemos/templates/etc/issue.makeimg.template f 0644 " SHA_T "\n"
	"etc/anemos/templates/etc/motd.template f 0644 " SHA_T "\n"
	"fifo p 0640 -\n"
	"file f 0644 " SHA_HELLO "\n"
	"link l 0777 file\n"
	"odd l 0777 a\\x20b\\x5cc\n"
	"sub d 0750 -\n"
	"sub/x f 0600 " SHA_EMPTY "\n"
	"var d 0755 -\n"
	"var/log d 0755 -\n";

static int make_node(const char *dir, const struct node *n)
{
	char path[4096];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, n->path);
	switch (n->type) {
	case 'f':
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
			return -errno;
		if (write(fd, n->data, strlen(n->data)) != (ssize_t)strlen(n->data))
			rc = -EIO;
		close(fd);
		break;
	case 'd': rc = mkdir(path, 0700) < 0 ? -errno : 0; break;
	case 'l': return symlink(n->data, path) < 0 ? -errno : 0;
	case 'p': rc = mkfifo(path, 0600) < 0 ? -errno : 0; break;
	}
	if (rc == 0 && chmod(path, n->mode) < 0)
		rc = -errno;
	return rc;
}

/* *state: the test tree's folder, a fresh mkdtemp one (removed and freed by remove_tree). */
static int make_tree(void **state)
{
	char *dir = strdup("/tmp/anemos-filelist.XXXXXX");
	int rc;

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	for (size_t i = 0; i < ARRAY_SIZE(tree); i++)
		if ((rc = make_node(dir, &tree[i])) < 0) {
			print_error("cannot make %s in %s: %s\n", tree[i].path, dir, strerror(-rc));
			return -1;
		}
	return 0;
}

static int remove_tree(void **state)
{
	int rc = remove_tree_at(*state);

	free(*state);
	return rc;
}

static void test_tree(void **state)
{
	char *got = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&got, &len);
	int rc;

	assert_non_null(out);
	rc = filelist_write(*state, out);
	fclose(out);
	if (rc != 0)
		fail_msg("filelist_write(%s) = %d (%s), want 0", (char *)*state, rc, strerror(-rc));
	if (strcmp(got, want) != 0)
		fail_msg("the list of %s is\n%s\nwant\n%s", (char *)*state, got, want);
	free(got);
}

/* Roots that cannot be listed: the error, and nothing written. */
static void test_bad_root(void **state)
{
	static const struct {
		const char *root; /* relative to the test tree */
		int rc;
	} cases[] = {
		{ "does-not-exist", -ENOENT },
		{ "file", -ENOTDIR },
		{ "etc/hostname/below-a-file", -ENOTDIR },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char root[4096], *got = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&got, &len);
		int rc;

		assert_non_null(out);
		snprintf(root, sizeof(root), "%s/%s", (char *)*state, cases[i].root);
		rc = filelist_write(root, out);
		fclose(out);
		if (rc != cases[i].rc)
			fail_msg("filelist_write(%s) = %d, want %d", shown(cases[i].root), rc, cases[i].rc);
		if (len != 0)
			fail_msg("filelist_write(%s) wrote %s", shown(cases[i].root), shown(got));
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excluded),
		cmocka_unit_test_setup_teardown(test_tree, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_bad_root, make_tree, remove_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The image's root folder on the build host: clearing it between builds and looking into it. */
#include <errno.h>
#include <fts.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mkimg.h"

/* Detaches every mount point under dir, deepest (longest path) first. A debootstrap step
 * that died leaves proc, sys, dev and the package cache mounted inside the image's root:
 * removing the tree through them would empty the host's /dev or the cache. */
static int unmount_under(const char *dir)
{
	char line[4096], mnt[PATH_MAX], found[64][PATH_MAX];
	size_t dlen = strlen(dir), n = 0;
	FILE *f;

	if (!(f = fopen("/proc/self/mounts", "r")))
		return 0;
	while (fgets(line, sizeof(line), f) && n < 64) {
		if (sscanf(line, "%*s %4095s", mnt) != 1)
			continue;
		if (strncmp(mnt, dir, dlen) == 0 && (mnt[dlen] == '/' || mnt[dlen] == '\0'))
			snprintf(found[n++], PATH_MAX, "%s", mnt);
	}
	fclose(f);
	while (n > 0) {
		size_t longest = 0;
		for (size_t i = 1; i < n; i++)
			if (strlen(found[i]) > strlen(found[longest]))
				longest = i;
		if (umount2(found[longest], MNT_DETACH) < 0) {
			log_error("cannot unmount %s, left over from an earlier build: %s", found[longest],
				  strerror(errno));
			return -errno;
		}
		memmove(found[longest], found[n - 1], PATH_MAX);
		n--;
	}
	return 0;
}

int tree_remove(const char *dir)
{
	char *const paths[] = { (char *)dir, NULL };
	struct stat st;
	FTSENT *e;
	FTS *fts;
	int rc = 0;

	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((rc = unmount_under(dir)) < 0)
		return rc;
	if (!(fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL)))
		return -errno;
	while ((e = fts_read(fts))) {
		switch (e->fts_info) {
		case FTS_D:
			/* Owner-only or read-only folders (a provision step's chmod) must still be emptied. */
			chmod(e->fts_accpath, 0700);
			break;
		case FTS_DP:
			if (rmdir(e->fts_accpath) < 0 && !rc)
				rc = -errno;
			break;
		case FTS_DNR:
		case FTS_ERR:
			if (!rc)
				rc = -e->fts_errno;
			break;
		default:
			if (unlink(e->fts_accpath) < 0 && !rc)
				rc = -errno;
			break;
		}
	}
	fts_close(fts);
	return rc;
}

int tree_mkdirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

bool tree_has_file(const char *root, const char *path)
{
	char cur[PATH_MAX], target[PATH_MAX], full[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(cur, sizeof(cur), "%s", path);
	/* A few hops are plenty for /boot/vmlinuz -> vmlinuz-VERSION. */
	for (int hops = 0; hops < 8; hops++) {
		if (snprintf(full, sizeof(full), "%s/%s", root, cur) >= (int)sizeof(full) || lstat(full, &st) < 0)
			return false;
		if (S_ISREG(st.st_mode))
			return true;
		if (!S_ISLNK(st.st_mode) || (n = readlink(full, target, sizeof(target) - 1)) < 0)
			return false;
		target[n] = '\0';
		if (target[0] == '/') {
			snprintf(cur, sizeof(cur), "%s", target + 1);
		} else {
			char *slash = strrchr(cur, '/');
			size_t keep = slash ? (size_t)(slash - cur) + 1 : 0;
			if (keep + strlen(target) >= sizeof(cur))
				return false;
			memcpy(cur + keep, target, strlen(target) + 1);
		}
	}
	return false;
}

/*
 * The installed system's files, from the installer: every path is relative to a descriptor
 * of the target root and resolves as if that root were "/" (openat2 with RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS). "..", absolute symlinks and any other symlink an image holds
 * resolve inside the target: an image can point a write at another of its own files (its
 * /etc/resolv.conf -> ../run/... is fine), never at the installer's file system. Symlinked
 * folders are followed so (an image's /lib -> usr/lib works); the file written is always a
 * new one in its folder, renamed over the name, so a symlink as the last component is
 * replaced, never followed. Everything returns 0 (or a descriptor) or a negative errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

/* path without its leading '/'s; "" (the root itself) as ".". */
static const char *relative(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

int target_open(int rootfd, const char *path, int flags, mode_t mode)
{
	/* A file opened to be read must be a regular file: a FIFO an image put at /etc/hosts
	 * would hang the agent, a device node could do anything on open. So it is opened
	 * without blocking and without a controlling terminal, checked, then made blocking. */
	bool reading = (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_DIRECTORY | O_PATH | O_CREAT));
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC | (reading ? O_NONBLOCK | O_NOCTTY : 0)),
				.mode = (flags & O_CREAT) ? mode : 0,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, rootfd, relative(path), &how, sizeof(how));
	struct stat st;

	if (fd < 0)
		return -errno;
	if (reading && (fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode) ||
			fcntl((int)fd, F_SETFL, flags & ~O_NONBLOCK) < 0)) {
		close((int)fd);
		return -EINVAL;
	}
	return (int)fd;
}

/* The folder of path, resolved in the root (O_PATH), and in *base its last component. */
static int open_parent(int rootfd, const char *path, char *base, size_t basesz)
{
	char dir[TARGET_PATH_MAX];
	const char *rel = relative(path), *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;

	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(rel) >= sizeof(dir))
		return -EINVAL;
	if ((size_t)snprintf(base, basesz, "%s", name) >= basesz)
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - rel) : 1, slash ? rel : ".");
	return target_open(rootfd, dir, O_PATH | O_DIRECTORY, 0);
}

int target_mkdirs(int rootfd, const char *path, mode_t mode)
{
	char prefix[TARGET_PATH_MAX], base[256];
	const char *rel = relative(path);
	size_t len = strlen(rel);

	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	for (size_t i = 0; i <= len; i++) {
		int dfd, rc = 0;

		if (rel[i] != '/' && rel[i] != '\0')
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)i, rel);
		if (!strcmp(prefix, ".") || (i > 0 && rel[i - 1] == '/'))
			continue;
		if ((dfd = open_parent(rootfd, prefix, base, sizeof(base))) < 0)
			return dfd;
		if (mkdirat(dfd, base, rel[i] ? 0755 : mode) < 0 && errno != EEXIST)
			rc = -errno;
		close(dfd);
		if (rc < 0)
			return rc;
	}
	/* What is there now must be a folder inside the root (an image's symlink may not be). */
	{
		int fd = target_open(rootfd, rel, O_PATH | O_DIRECTORY, 0);

		if (fd < 0)
			return fd;
		close(fd);
	}
	return 0;
}

int target_create(int rootfd, const char *path, mode_t mode, struct target_file *f)
{
	int rc;

	f->fd = -1;
	if ((f->dirfd = open_parent(rootfd, path, f->base, sizeof(f->base))) < 0)
		return f->dirfd;
	if ((size_t)snprintf(f->tmp, sizeof(f->tmp), ".%s.anemos-new", f->base) >= sizeof(f->tmp)) {
		rc = -ENAMETOOLONG;
		goto err;
	}
	unlinkat(f->dirfd, f->tmp, 0); /* a previous attempt's */
	if ((f->fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) < 0) {
		rc = -errno;
		goto err;
	}
	if (fchmod(f->fd, mode) < 0) { /* the umask's bits too */
		rc = -errno;
		target_discard(f);
		return rc;
	}
	return 0;
err:
	close(f->dirfd);
	f->dirfd = -1;
	return rc;
}

int target_commit(struct target_file *f)
{
	int rc = close(f->fd) < 0 ? -errno : 0;

	f->fd = -1;
	if (rc == 0 && renameat(f->dirfd, f->tmp, f->dirfd, f->base) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(f->dirfd, f->tmp, 0);
	close(f->dirfd);
	f->dirfd = -1;
	return rc;
}

void target_discard(struct target_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->dirfd >= 0) {
		unlinkat(f->dirfd, f->tmp, 0);
		close(f->dirfd);
	}
	f->fd = f->dirfd = -1;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int target_write(int rootfd, const char *path, mode_t mode, const void *data, size_t len)
{
	struct target_file f;
	int rc;

	if ((rc = target_create(rootfd, path, mode, &f)) < 0)
		return rc;
	if ((rc = write_all(f.fd, data, len)) < 0) {
		target_discard(&f);
		return rc;
	}
	return target_commit(&f);
}

int target_vprintf(int rootfd, const char *path, mode_t mode, const char *fmt, va_list ap)
{
	char *text = NULL;
	int len = vasprintf(&text, fmt, ap), rc;

	if (len < 0)
		return -ENOMEM;
	rc = target_write(rootfd, path, mode, text, (size_t)len);
	free(text);
	return rc;
}

int target_copy(int rootfd, const char *path, mode_t mode, int fromfd)
{
	struct target_file f;
	char buf[65536];
	ssize_t n;
	int rc;

	if ((rc = target_create(rootfd, path, mode, &f)) < 0)
		return rc;
	while ((n = read(fromfd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (rc = write_all(f.fd, buf, (size_t)n)) < 0) {
			rc = n < 0 ? -errno : rc;
			target_discard(&f);
			return rc;
		}
	}
	if (fsync(f.fd) < 0) {
		rc = -errno;
		target_discard(&f);
		return rc;
	}
	return target_commit(&f);
}

int target_symlink(int rootfd, const char *to, const char *path)
{
	char base[256], tmp[272];
	int dfd, rc = 0;

	if ((dfd = open_parent(rootfd, path, base, sizeof(base))) < 0)
		return dfd;
	snprintf(tmp, sizeof(tmp), ".%s.anemos-new", base);
	unlinkat(dfd, tmp, 0);
	if (symlinkat(to, dfd, tmp) < 0 || renameat(dfd, tmp, dfd, base) < 0) {
		rc = -errno;
		unlinkat(dfd, tmp, 0);
	}
	close(dfd);
	return rc;
}

int target_read(int rootfd, const char *path, size_t max, char **text, struct stat *st)
{
	struct stat sb;
	ssize_t n;
	int fd, rc = 0;

	*text = NULL;
	if (!st)
		st = &sb;
	if ((fd = target_open(rootfd, path, O_RDONLY, 0)) < 0)
		return fd;
	if (fstat(fd, st) < 0)
		rc = -errno;
	else if (!S_ISREG(st->st_mode))
		rc = -EINVAL;
	else if ((uint64_t)st->st_size > max)
		rc = -EFBIG;
	else if (!(*text = calloc(1, (size_t)st->st_size + 1)))
		rc = -ENOMEM;
	else if ((n = read(fd, *text, (size_t)st->st_size)) != (ssize_t)st->st_size)
		rc = n < 0 ? -errno : -EIO;
	close(fd);
	if (rc < 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

bool target_exists(int rootfd, const char *path)
{
	int fd = target_open(rootfd, path, O_PATH, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int target_realpath(int rootfd, const char *path, char *out, size_t outsz)
{
	char proc[64];
	int fd = target_open(rootfd, path, O_PATH | O_DIRECTORY, 0);
	ssize_t n;

	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, out, outsz - 1);
	close(fd);
	if (n < 0)
		return -errno;
	if ((size_t)n >= outsz - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

const char *target_strerror(int rootfd, const char *path, int rc, char *buf, size_t bufsz)
{
	char prefix[TARGET_PATH_MAX], link[TARGET_PATH_MAX];
	const char *rel = relative(path);
	size_t len = strlen(rel);

	snprintf(buf, bufsz, "%s", strerror(-rc));
	if (rc != -ENOENT && rc != -ENOTDIR && rc != -ELOOP)
		return buf;
	/* The first symlink of the path that leads nowhere inside the root. */
	for (size_t i = 1; i <= len && i < sizeof(prefix); i++) {
		struct stat st;
		ssize_t n;
		bool last;
		int fd;

		if (rel[i] != '/' && rel[i] != '\0')
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)i, rel);
		if ((fd = target_open(rootfd, prefix, O_PATH | O_NOFOLLOW, 0)) < 0)
			break;
		n = fstat(fd, &st) == 0 && S_ISLNK(st.st_mode) ? readlinkat(fd, "", link, sizeof(link) - 1) : -1;
		close(fd);
		if (n < 0)
			continue;
		link[n] = '\0';
		last = rel[i] == '\0';
		if ((fd = target_open(rootfd, prefix, O_PATH | (last ? 0 : O_DIRECTORY), 0)) >= 0) {
			close(fd);
			continue;
		}
		snprintf(buf, bufsz, "%s (the image's /%s is a symlink to %s, which leads nowhere inside the installed system)",
			 strerror(-rc), prefix, link);
		break;
	}
	return buf;
}

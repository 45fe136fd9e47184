/* Reading files under the inventory's root: sysfs attributes, procfs text, raw tables,
 * symlink targets and directory listings. Every function takes the root and a path inside
 * it, so that a fixture tree reads exactly like a live machine. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory_internal.h"

int path_join(const char *root, const char *rel, char *out, size_t outsz)
{
	size_t rlen = strlen(root);
	int n;

	while (rlen > 1 && root[rlen - 1] == '/')
		rlen--;
	while (*rel == '/')
		rel++;
	if (rlen == 1 && root[0] == '/')
		n = snprintf(out, outsz, "/%s", rel);
	else
		n = snprintf(out, outsz, "%.*s/%s", (int)rlen, root, rel);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

/* Opens rel read-only; -errno on failure. O_NONBLOCK so that a FIFO in a tree never hangs
 * the collection; sysfs and procfs files ignore it. */
static int open_rel(const char *root, const char *rel)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = path_join(root, rel, path, sizeof(path))) < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int file_read_text(const char *root, const char *rel, char *buf, size_t size)
{
	size_t got = 0;
	int fd;

	if (size == 0)
		return -EINVAL;
	buf[0] = '\0';
	if ((fd = open_rel(root, rel)) < 0)
		return fd;
	while (got < size - 1) {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;

			close(fd);
			buf[0] = '\0';
			return rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	/* A NUL inside the data ends the text, as it would for any C reader. */
	text_strip(buf);
	return 0;
}

int file_read_integer(const char *root, const char *rel, long long *value)
{
	char buf[64], *end;
	long long v;
	int rc;

	if ((rc = file_read_text(root, rel, buf, sizeof(buf))) < 0)
		return rc;
	if (!buf[0])
		return -EINVAL;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*value = v;
	return 0;
}

int file_read_all(const char *root, const char *rel, size_t max, char **data, size_t *len)
{
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap + 1);
	int fd, rc = 0;

	*data = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	if ((fd = open_rel(root, rel)) < 0) {
		free(buf);
		return fd;
	}
	for (;;) {
		ssize_t n;

		if (got == cap) {
			char *bigger;

			if (cap >= max) {
				rc = -EFBIG;
				break;
			}
			cap = cap * 2 > max ? max : cap * 2;
			if (!(bigger = realloc(buf, cap + 1))) {
				rc = -ENOMEM;
				break;
			}
			buf = bigger;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

int file_link_name(const char *root, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *name;
	ssize_t n;
	int rc;

	if ((rc = path_join(root, rel, path, sizeof(path))) < 0)
		return rc;
	if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
		return -errno;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (strlen(name) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, name);
	return 0;
}

int file_resolve(const char *root, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX], *real_root, *real;
	size_t rlen;
	const char *inside;
	int rc = 0;

	if ((rc = path_join(root, rel, path, sizeof(path))) < 0)
		return rc;
	if (!(real_root = realpath(root, NULL)))
		return -errno;
	if (!(real = realpath(path, NULL))) {
		rc = -errno;
		free(real_root);
		return rc;
	}
	rlen = strlen(real_root);
	if (strcmp(real_root, "/") == 0)
		inside = real;
	else if (strncmp(real, real_root, rlen) == 0 && (real[rlen] == '/' || !real[rlen]))
		inside = real[rlen] ? real + rlen : "/";
	else
		rc = -EXDEV;
	if (rc == 0 && strlen(inside) >= size)
		rc = -ENAMETOOLONG;
	if (rc == 0)
		strcpy(buf, inside);
	free(real);
	free(real_root);
	return rc;
}

bool file_exists(const char *root, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	return path_join(root, rel, path, sizeof(path)) == 0 && lstat(path, &st) == 0;
}

struct name_order {
	int (*cmp)(const char *, const char *);
};

static int sort_names(const void *a, const void *b, void *arg)
{
	const struct name_order *order = arg;

	return order->cmp(*(char *const *)a, *(char *const *)b);
}

int dir_list(const char *root, const char *rel, int (*cmp)(const char *, const char *),
	     char ***names, size_t *count)
{
	char path[PATH_MAX];
	char **list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;

	*names = NULL;
	*count = 0;
	if (path_join(root, rel, path, sizeof(path)) < 0 || !(dir = opendir(path)))
		return 0;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **bigger = realloc(list, (cap ? cap * 2 : 16) * sizeof(*list));

			if (!bigger)
				goto oom;
			list = bigger;
			cap = cap ? cap * 2 : 16;
		}
		if (!(list[n] = strdup(de->d_name)))
			goto oom;
		n++;
	}
	closedir(dir);
	if (n > 1) {
		struct name_order order = { cmp };

		qsort_r(list, n, sizeof(*list), sort_names, &order);
	}
	*names = list;
	*count = n;
	return 0;
oom:
	closedir(dir);
	dir_list_free(list, n);
	return -ENOMEM;
}

void dir_list_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

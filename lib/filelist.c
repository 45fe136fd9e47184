/* The list of a file tree (see filelist.h): walked with lstat, collected, sorted, written. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "crypto.h"
#include "filelist.h"
#include "recipe_steps.h"

#define TEMPLATES_DIR RECIPE_TEMPLATES_DIR "/"

/*
 * What differs from one machine to the next even when they run the same image: what the
 * installer writes per host (initramfs/agent/install.c), what mkfs and the first boot make.
 * fnmatch(3) patterns with FNM_PATHNAME ('*' does not match '/'), matched against the
 * path relative to the root. A trailing '/' means "this path and everything below it":
 * "boot/efi/" drops the ESP's mount point and its contents; the var/log entry, a wildcard
 * child with the '/', keeps var/log itself and drops everything in it.
 */
static const char *const excluded[] = {
	"lost+found/",                 /* mkfs's */
	"boot/efi/",                   /* the ESP, mounted there on UEFI machines */
	"boot/extlinux/",              /* the BIOS bootloader the installer writes */
	"etc/fstab",
	"etc/hostname",
	"etc/hosts",
	"etc/resolv.conf",             /* the network's, written at boot (DHCP) */
	"etc/machine-id",
	"etc/shadow",
	"etc/anemos/network",
	"etc/anemos/phone-home",
	"etc/systemd/network/10-anemos.network",
	"etc/systemd/system/anemos-phone-home.service",
	"etc/systemd/system/multi-user.target.wants/anemos-phone-home.service",
	"usr/local/sbin/anemos-phone-home",
	"root/.ssh/",                  /* the plan's authorized_keys */
	"var/lib/cloud/seed/",         /* the plan's cloud-init user-data */
	"etc/ssh/ssh_host_*",          /* host keys, made on the first boot */
	"etc/dropbear/*_host_key",
	"var/log/*/",
};

/* One listed path. The line starts with the escaped path, then a space. */
struct entry {
	char *line;        /* "PATH TYPE MODE DATA", no newline */
	size_t path_len;   /* bytes of PATH in line */
	bool dropped;      /* a template's output */
};

struct walk {
	const char *root;
	dev_t dev;              /* root's file system */
	struct entry *v;
	size_t n, cap;
	char **outputs;         /* escaped paths of template outputs */
	size_t n_out, cap_out;
};

/* True if pattern (a table entry without its trailing '/', comps components long) matches
 * the first comps components of path. */
static bool matches_leading(const char *pattern, size_t comps, const char *path)
{
	char prefix[PATH_MAX];
	const char *end = path;
	size_t len;

	for (size_t i = 0; i < comps; i++) {
		if (i > 0) {
			if (!*end)
				return false;
			end++;
		}
		end += strcspn(end, "/");
	}
	len = (size_t)(end - path);
	if (len >= sizeof(prefix))
		return false;
	memcpy(prefix, path, len);
	prefix[len] = '\0';
	return fnmatch(pattern, prefix, FNM_PATHNAME) == 0;
}

bool filelist_excluded(const char *path)
{
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++) {
		const char *p = excluded[i];
		size_t len = strlen(p), comps = 1;
		char pattern[256];

		if (p[len - 1] != '/') {
			if (fnmatch(p, path, FNM_PATHNAME) == 0)
				return true;
			continue;
		}
		/* With FNM_PATHNAME only a literal '/' matches '/': a pattern of N components
		 * can only match a path's first N. */
		snprintf(pattern, sizeof(pattern), "%.*s", (int)(len - 1), p);
		for (const char *c = pattern; *c; c++)
			comps += *c == '/';
		if (matches_leading(pattern, comps, path))
			return true;
	}
	return false;
}

/* s with bytes <= 0x20, 0x7f and '\' as \xHH; NULL when out of memory. Caller frees. */
static char *escape(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char *out = malloc(4 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '\\') {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/* Takes ownership of line. 0 or -ENOMEM (line freed). */
static int add_entry(struct walk *w, char *line)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 1024;
		struct entry *v = realloc(w->v, cap * sizeof(*v));

		if (!v) {
			free(line);
			return -ENOMEM;
		}
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = (struct entry){ .line = line, .path_len = strcspn(line, " ") };
	return 0;
}

/* If rel is a template (TEMPLATES_DIR P.template or P.makeimg.template), records P's
 * escaped path among the outputs to drop. 0 or -ENOMEM. */
static int note_template(struct walk *w, const char *rel)
{
	const char *name = rel + strlen(TEMPLATES_DIR);
	size_t plen;
	char *out, *raw;

	if (strncmp(rel, TEMPLATES_DIR, strlen(TEMPLATES_DIR)) != 0 || !recipe_template_suffix(name))
		return 0;
	plen = strlen(name) - recipe_template_suffix(name);
	if (w->n_out == w->cap_out) {
		size_t cap = w->cap_out ? 2 * w->cap_out : 16;
		char **v = realloc(w->outputs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->outputs = v;
		w->cap_out = cap;
	}
	if (!(raw = strndup(name, plen)))
		return -ENOMEM;
	out = escape(raw);
	free(raw);
	if (!out)
		return -ENOMEM;
	w->outputs[w->n_out++] = out;
	return 0;
}

static int walk_dir(struct walk *w, const char *rel);

/* Lists rel (relative to the root) and, for a folder on the root's file system, what it
 * holds. 0 or -errno. */
static int visit(struct walk *w, const char *rel)
{
	char full[PATH_MAX], target[PATH_MAX], hex[SHA256_HEX_LEN + 1], data[32];
	char *path = NULL, *escaped = NULL, *line = NULL;
	const char *value = "-";
	struct stat st;
	ssize_t n;
	char type;
	int rc;

	if (filelist_excluded(rel))
		return 0;
	if (snprintf(full, sizeof(full), "%s/%s", w->root, rel) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	if (lstat(full, &st) < 0)
		return -errno;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		type = 'f';
		if ((rc = sha256_file(full, hex, NULL)) < 0 || (rc = note_template(w, rel)) < 0)
			return rc;
		value = hex;
		break;
	case S_IFDIR: type = 'd'; break;
	case S_IFLNK:
		type = 'l';
		if ((n = readlink(full, target, sizeof(target) - 1)) < 0)
			return -errno;
		target[n] = '\0';
		if (!(value = escaped = escape(target)))
			return -ENOMEM;
		break;
	case S_IFCHR:
	case S_IFBLK:
		type = S_ISCHR(st.st_mode) ? 'c' : 'b';
		snprintf(data, sizeof(data), "%u,%u", major(st.st_rdev), minor(st.st_rdev));
		value = data;
		break;
	case S_IFIFO: type = 'p'; break;
	case S_IFSOCK: type = 's'; break;
	default: return -EINVAL;
	}
	rc = -ENOMEM;
	if (!(path = escape(rel)) ||
	    asprintf(&line, "%s %c %04o %s", path, type, (unsigned)(st.st_mode & 07777), value) < 0)
		goto out;
	rc = add_entry(w, line);
	if (rc == 0 && type == 'd' && st.st_dev == w->dev)
		rc = walk_dir(w, rel);
out:
	free(path);
	free(escaped);
	return rc;
}

/* Visits everything in the folder rel ("" for the root). 0 or -errno. */
static int walk_dir(struct walk *w, const char *rel)
{
	char full[PATH_MAX], child[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int rc;

	if (snprintf(full, sizeof(full), "%s/%s", w->root, rel) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	if (!(dir = opendir(full)))
		return -errno;
	for (;;) {
		errno = 0;
		if (!(d = readdir(dir))) {
			rc = -errno;
			break;
		}
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", d->d_name) >=
		    (int)sizeof(child)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if ((rc = visit(w, child)) < 0)
			break;
	}
	closedir(dir);
	return rc;
}

static int by_line(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->line, ((const struct entry *)b)->line);
}

/* An escaped path against an entry's, in the order of the lines. */
static int by_path(const void *key, const void *elem)
{
	const struct entry *e = elem;
	const char *k = key;
	int c = strncmp(k, e->line, e->path_len);

	if (c)
		return c;
	return k[e->path_len] ? 1 : 0;
}

int filelist_write(const char *root, FILE *out)
{
	struct walk w = { .root = root };
	struct stat st;
	int rc = 0;

	if (stat(root, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	w.dev = st.st_dev;
	if ((rc = walk_dir(&w, "")) < 0)
		goto out;
	/* The escaped paths hold no byte <= ' ': sorting the lines sorts the paths. */
	qsort(w.v, w.n, sizeof(*w.v), by_line);
	for (size_t i = 0; i < w.n_out; i++) {
		struct entry *e = bsearch(w.outputs[i], w.v, w.n, sizeof(*w.v), by_path);

		if (e)
			e->dropped = true;
	}
	for (size_t i = 0; i < w.n; i++)
		if (!w.v[i].dropped && fprintf(out, "%s\n", w.v[i].line) < 0)
			break;
	if (fflush(out) != 0 || ferror(out))
		rc = -EIO;
out:
	for (size_t i = 0; i < w.n; i++)
		free(w.v[i].line);
	for (size_t i = 0; i < w.n_out; i++)
		free(w.outputs[i]);
	free(w.v);
	free(w.outputs);
	return rc;
}

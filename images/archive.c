/* The image file: the root tree as a pax tar through libarchive's zstd filter, written to
 * disk block by block while SHA-256 and the size are computed on the same bytes. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "mkimg.h"

#define ZSTD_LEVEL "9"   /* a deployable image is written once and downloaded often */

/* Where the compressed bytes go: the output file, the running hash, the byte count. */
struct sink {
	int fd;
	struct sha256_ctx *sha;
	long long size;
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct sink *s = data;
	const char *p = buf;
	size_t left = len;
	ssize_t n;

	while (left > 0) {
		if ((n = write(s->fd, p, left)) < 0) {
			if (errno == EINTR)
				continue;
			archive_set_error(a, errno, "write: %s", strerror(errno));
			return -1; /* -1 allowed: libarchive's write callback contract */
		}
		p += n;
		left -= (size_t)n;
	}
	sha256_update(s->sha, buf, len);
	s->size += (long long)len;
	return (la_ssize_t)len;
}

/* Copies the data of the regular file at path into the archive's current entry: 0, or
 * -errno with the message. */
static int copy_data(struct archive *a, const char *path, long long expect)
{
	static char buf[1 << 16];
	long long total = 0;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_set(-errno, "open %s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(-errno, "read %s: %s", path, strerror(errno));
			close(fd);
			return rc;
		}
		if (archive_write_data(a, buf, (size_t)n) != n) {
			close(fd);
			return err_set(-EIO, "archive %s: %s", path, archive_error_string(a));
		}
		total += n;
	}
	close(fd);
	if (total != expect)
		return err_set(-EIO, "%s changed size while being archived", path);
	return 0;
}

/* Writes one entry's header and data: 0, or -errno with the message. */
static int write_entry(struct archive *a, struct archive_entry *e)
{
	if (archive_write_header(a, e) < ARCHIVE_WARN)
		return err_set(-EIO, "archive %s: %s", archive_entry_pathname(e), archive_error_string(a));
	if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0)
		return copy_data(a, archive_entry_sourcepath(e), archive_entry_size(e));
	return 0;
}

/* Files in name order: the same tree gives the same archive member order. */
static int by_name(const FTSENT **x, const FTSENT **y)
{
	return strcmp((*x)->fts_name, (*y)->fts_name);
}

/* Walks root and writes every entry below it (paths relative to root, without "./"): 0, or
 * -errno with the message (none for -ENOMEM). */
static int write_tree(struct archive *a, struct archive *disk, const char *root, bool root_owner,
		      long long *uncompressed)
{
	char *const paths[] = { (char *)root, NULL };
	struct archive_entry_linkresolver *links;
	struct archive_entry *e, *sparse;
	size_t rlen = strlen(root);
	FTSENT *f;
	FTS *fts;
	int rc = 0;

	if (!(links = archive_entry_linkresolver_new()))
		return -ENOMEM;
	archive_entry_linkresolver_set_strategy(links, archive_format(a));
	if (!(fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, by_name))) {
		rc = err_set(-errno, "%s: %s", root, strerror(errno));
		archive_entry_linkresolver_free(links);
		return rc;
	}
	while (!rc) {
		errno = 0;
		if (!(f = fts_read(fts))) {
			if (errno)
				rc = err_set(-errno, "%s: %s", root, strerror(errno));
			break;
		}
		if (f->fts_level == 0 || f->fts_info == FTS_DP)
			continue;
		if (f->fts_info == FTS_DNR || f->fts_info == FTS_ERR || f->fts_info == FTS_NS) {
			rc = err_set(-f->fts_errno, "%s: %s", f->fts_path, strerror(f->fts_errno));
			break;
		}
		if (!(e = archive_entry_new())) {
			rc = -ENOMEM;
			break;
		}
		archive_entry_copy_pathname(e, f->fts_path + rlen + 1);
		archive_entry_copy_sourcepath(e, f->fts_path);
		if (archive_read_disk_entry_from_file(disk, e, -1, f->fts_statp) < ARCHIVE_WARN) {
			rc = err_set(-EIO, "%s: %s", f->fts_path, archive_error_string(disk));
			archive_entry_free(e);
			break;
		}
		/* Names mean nothing on the machine that extracts the image: numeric owners only. */
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		if (root_owner) {
			archive_entry_set_uid(e, 0);
			archive_entry_set_gid(e, 0);
		}
		if (archive_entry_filetype(e) == AE_IFREG)
			*uncompressed += archive_entry_size(e);
		sparse = NULL;
		/* Hard links: the first path carries the data, the others link to it. */
		archive_entry_linkify(links, &e, &sparse);
		if (e)
			rc = write_entry(a, e);
		if (!rc && sparse)
			rc = write_entry(a, sparse);
		archive_entry_free(e);
		archive_entry_free(sparse);
	}
	/* Entries the resolver still holds (only for formats that defer hard links). */
	for (e = NULL, sparse = NULL, archive_entry_linkify(links, &e, &sparse); !rc && e;
	     archive_entry_linkify(links, &e, &sparse)) {
		rc = write_entry(a, e);
		archive_entry_free(e);
		e = NULL;
	}
	fts_close(fts);
	archive_entry_linkresolver_free(links);
	return rc;
}

int archive_write_tree(const char *root, const char *out_path, bool root_owner, struct image_file *out)
{
	struct sink sink = { .fd = -1 };
	struct archive *a = NULL, *disk = NULL;
	int rc = -EIO;

	out->uncompressed = 0;
	err_clear();
	if ((sink.fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return err_set(-errno, "%s: %s", out_path, strerror(errno));
	if (!(sink.sha = sha256_new()) || !(a = archive_write_new()) || !(disk = archive_read_disk_new())) {
		rc = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	/* Metadata from lstat only: no ACLs, extended attributes or file flags in an image. */
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
						     ARCHIVE_READDISK_NO_FFLAGS);
	archive_read_disk_set_symlink_physical(disk);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(a) != ARCHIVE_OK) {
		err_set(rc, "libarchive: %s (built without zstd?)", archive_error_string(a));
		goto out;
	}
	if (archive_write_set_filter_option(a, "zstd", "compression-level", ZSTD_LEVEL) < ARCHIVE_WARN) {
		err_set(rc, "libarchive: zstd compression level: %s", archive_error_string(a));
		goto out;
	}
	/* Threads help on big images; older libarchives without the option just warn. */
	archive_write_set_filter_option(a, "zstd", "threads", "0");
	/* No zero padding after the zstd frame: the file must end where the compressed data does. */
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open2(a, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
		err_set(rc, "%s: %s", out_path, archive_error_string(a));
		goto out;
	}
	if ((rc = write_tree(a, disk, root, root_owner, &out->uncompressed)) < 0)
		goto out;
	rc = -EIO;
	if (archive_write_close(a) != ARCHIVE_OK) {
		err_set(rc, "%s: %s", out_path, archive_error_string(a));
		goto out;
	}
	if (fsync(sink.fd) < 0 || close(sink.fd) < 0) {
		rc = err_set(-errno, "%s: %s", out_path, strerror(errno));
		sink.fd = -1;
		goto out;
	}
	sink.fd = -1;
	sha256_finish(sink.sha, out->sha256);
	sink.sha = NULL;
	out->size = sink.size;
	rc = 0;
out:
	if (a)
		archive_write_free(a);
	if (disk)
		archive_read_free(disk);
	sha256_abort(sink.sha);
	if (sink.fd >= 0)
		close(sink.fd);
	if (rc < 0)
		unlink(out_path);
	return rc;
}

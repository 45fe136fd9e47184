/* The manifest beside each image: what anemosctl and the installer need to know about the
 * file without opening it; and, on request, the list of the files in it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filelist.h"
#include "errors.h"
#include "mkimg.h"

int manifest_write(const char *path, const struct recipe *r, const struct image_file *img,
		   const char *kernel, const char *initrd)
{
	char created[32], tmp[4096];
	time_t now = time(NULL);
	struct tm tm;
	json_t *m;
	int rc;

	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	m = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
		      "name", r->name, "format", r->format, "compression", "zstd",
		      "size", (json_int_t)img->size, "uncompressed_size", (json_int_t)img->uncompressed,
		      "sha256", img->sha256, "kernel", kernel, "initrd", initrd,
		      "base", r->base, "created", created);
	if (!m)
		return err_set(-ENOMEM, "manifest %s: out of memory", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	rc = json_dump_file(m, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (rc < 0) {
		unlink(tmp);
		return err_set(-EIO, "manifest %s: cannot write", tmp);
	}
	if (rename(tmp, path) < 0) {
		rc = err_set(-errno, "manifest %s: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

int manifest_write_files(const char *path, const char *root)
{
	char tmp[4096];
	FILE *f;
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return err_set(-ENAMETOOLONG, "file list %s: %s", path, strerror(ENAMETOOLONG));
	if (!(f = fopen(tmp, "we")))
		return err_set(-errno, "file list %s: %s", tmp, strerror(errno));
	rc = filelist_write(root, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return err_set(rc, "file list %s of %s: %s", path, root, strerror(-rc));
	}
	return 0;
}

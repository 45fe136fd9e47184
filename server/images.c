/*
 * Images: records of what machines install, and their files under DATA/images/NAME/FILE.
 * An image is either stored here (uploaded, or a file an operator put in the data folder)
 * and served by GET /images/NAME/FILE, or external: targets download it from its URL. Either
 * way its SHA-256 is known before any machine is told to install it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anemosd.h"
#include "crypto.h"
#include "log.h"

struct upload {
	char tmp_path[PATH_MAX + 32];
	char name[65], file[129], format[16], expect[SHA256_HEX_LEN + 1];
	int fd;
	struct sha256_ctx *sha;
	int64_t size;
};

json_t *image_to_json(const struct image *im)
{
	char created[32], *url = NULL;
	json_t *o, *recipe = im->recipe ? json_loads(im->recipe, 0, NULL) : NULL;

	time_iso8601((time_t)im->created, created);
	if (!im->url && asprintf(&url, "%s/images/%s/%s", public_url(), im->name, im->file) < 0)
		url = NULL;
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s?, s:s?, s:s}",
		      "name", im->name, "format", im->format, "sha256", im->sha256,
		      "size", im->size >= 0 ? json_integer(im->size) : json_null(),
		      "source", im->url ? "url" : recipe ? "recipe" : "file",
		      "file", im->file,
		      "url", im->url ? im->url : url,
		      "created", created);
	/* base, suite, mirror, keyring, packages: what the recipe says */
	if (o && json_is_object(recipe))
		json_object_update_missing(o, recipe);
	json_decref(recipe);
	free(url);
	return o;
}

static int image_name_check(const char *name)
{
	if (!name || !name_is_safe(name) || strlen(name) > 64)
		goto bad;
	for (const char *p = name; *p; p++)
		if (isupper((unsigned char)*p))
			goto bad;
	return 0;
bad:
	return err_set(-EINVAL, "image name must be 1-64 characters of a-z, 0-9, '.', '_', '-', "
				"not starting with '.' or '-'");
}

static int images_dir(char *out, size_t outsz, const char *name)
{
	int n = name ? snprintf(out, outsz, "%s/images/%s", cfg.data_dir, name)
		     : snprintf(out, outsz, "%s/images", cfg.data_dir);

	if (n < 0 || (size_t)n >= outsz)
		return err_set(-ENAMETOOLONG, "path too long");
	return 0;
}

static int format_pick(const char *given, const char *from_name, char out[16])
{
	const char *f = given ? given : image_format_from_name(from_name);

	if (!f)
		return err_set(-EINVAL, "cannot tell the format from '%s'; give \"format\" (tar, tar.gz, "
					"tar.xz, tar.zst, raw, raw.gz, raw.xz, raw.zst)", from_name);
	if (!image_format_valid(f))
		return err_set(-EINVAL, "format '%s' is not one of tar, tar.gz, tar.xz, tar.zst, raw, "
					"raw.gz, raw.xz, raw.zst", f);
	snprintf(out, 16, "%s", f);
	return 0;
}

static int url_check(const char *url)
{
	if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) || strlen(url) > 2048)
		return err_set(-EINVAL, "\"url\" must be an http:// or https:// URL");
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return err_set(-EINVAL, "\"url\" must not contain spaces or control characters");
	return 0;
}

/* Hashes DATA/images/NAME/FILE, refusing symlinks and anything but a regular file. */
static int hash_stored_file(const char *name, const char *file, char sha[SHA256_HEX_LEN + 1],
			    long long *size)
{
	char dir[PATH_MAX], path[PATH_MAX + 130];
	struct stat st;
	int rc;

	if ((rc = images_dir(dir, sizeof(dir), name)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(-EINVAL, "%s is not a regular file in the data folder", path);
	if ((rc = sha256_file(path, sha, size)) < 0)
		return err_set(rc, "cannot read %s: %s", path, strerror(-rc));
	return 0;
}

/* What the recipe bundle DATA/images/NAME/FILE says, into *recipe (see recipe_bundle_read). */
static int stored_recipe_read(const char *name, const char *file, char **recipe)
{
	char dir[PATH_MAX], path[PATH_MAX + 130];
	int rc;

	if ((rc = images_dir(dir, sizeof(dir), name)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return recipe_bundle_read(path, recipe);
}

/* The fields of an external image (req's "url"): its SHA-256 is required, its size optional. */
static int register_external(json_t *req, const char *url, const char *format, struct image *im, char fmt[16])
{
	json_t *v;
	int rc;

	if ((rc = url_check(url)) < 0)
		return rc;
	if (!im->sha256)
		return err_set(-EINVAL, "an external image needs its \"sha256\", so targets can verify it");
	if ((v = json_object_get(req, "size"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return err_set(-EINVAL, "\"size\" must be a non-negative integer");
		im->size = json_integer_value(v);
	}
	if ((rc = format_pick(format, url, fmt)) < 0)
		return rc;
	if (strcmp(fmt, "recipe") == 0)
		return err_set(-EINVAL, "a recipe image is stored by anemosd: upload its folder "
					"(anemosctl image add DIR)");
	return 0;
}

/* The fields of a file already in DATA/images/NAME/: hashed here, checked against a given
 * SHA-256 (into computed); a recipe bundle is read. */
static int register_stored(const char *file, const char *format, struct image *im, char fmt[16],
			   char computed[SHA256_HEX_LEN + 1])
{
	long long size = -1;
	int rc;

	if (!name_is_safe(file))
		return err_set(-EINVAL, "\"file\" must be a plain file name inside DATA/images/%s/", im->name);
	if ((rc = format_pick(format, file, fmt)) < 0 || (rc = hash_stored_file(im->name, file, computed, &size)) < 0)
		return rc;
	if (im->sha256 && strcasecmp(im->sha256, computed) != 0)
		return err_set(-EINVAL, "%s has SHA-256 %s, not %s", file, computed, im->sha256);
	im->sha256 = computed;
	im->size = size;
	if (strcmp(fmt, "recipe") == 0 && (rc = stored_recipe_read(im->name, file, &im->recipe)) < 0)
		return rc;
	return 0;
}

struct image_register_work {
	const struct image *im;
	struct image *out;
	bool got;                   /* *out was read (to be freed if the commit fails) */
};

/* Inserts w->im and reads it back into w->out: 0 or -errno. */
static int image_register_work(void *arg)
{
	struct image_register_work *w = arg;
	int rc;

	if ((rc = db_image_insert(w->im)) < 0 || (rc = db_image_get(w->im->name, w->out)) < 0)
		return rc;
	w->got = true;
	return 0;
}

int images_register(json_t *req, struct image *out)
{
	const char *url, *file, *format;
	char computed[SHA256_HEX_LEN + 1], fmt[16];
	struct image im = { .size = -1 };
	struct image_register_work w = { .im = &im, .out = out };
	int rc;

	if (!json_is_object(req))
		return err_set(-EINVAL, "the body must be a JSON object");
	im.name = (char *)json_string_value(json_object_get(req, "name"));
	url = json_string_value(json_object_get(req, "url"));
	file = json_string_value(json_object_get(req, "file"));
	im.sha256 = (char *)json_string_value(json_object_get(req, "sha256"));
	format = json_string_value(json_object_get(req, "format"));
	if ((rc = image_name_check(im.name)) < 0)
		return rc;
	if (!url == !file)
		return err_set(-EINVAL, "give either \"url\" (an external image) or \"file\" (a file in "
					"DATA/images/%s/)", im.name);
	if (im.sha256 && !sha256_hex_valid(im.sha256))
		return err_set(-EINVAL, "\"sha256\" must be 64 hex digits");
	if (json_object_get(req, "format") && !format)
		return err_set(-EINVAL, "\"format\" must be a string");
	rc = url ? register_external(req, url, format, &im, fmt) : register_stored(file, format, &im, fmt, computed);
	if (rc < 0)
		goto out;
	im.format = fmt;
	im.file = (char *)file;
	im.url = (char *)url;
	if ((rc = db_txn(image_register_work, &w)) < 0 && w.got)
		image_free(out);
out:
	free(im.recipe);
	return rc;
}

struct image_delete_work {
	const char *name;
	struct image im;            /* the record deleted */
	bool got;                   /* im was read (to be freed) */
};

/* Reads image w->name into w->im and deletes its record, unless a host uses it (-EBUSY):
 * 0 or -errno. */
static int image_delete_work(void *arg)
{
	struct image_delete_work *w = arg;
	int64_t user;
	int rc;

	if ((rc = db_image_get(w->name, &w->im)) < 0)
		return rc;
	w->got = true;
	rc = db_image_in_use(w->name, &user);
	if (rc == 0)
		return err_set(-EBUSY, "image '%s' is assigned to host %lld; assign another image first",
			       w->name, (long long)user);
	return rc == -ENOENT ? db_image_delete(w->name) : rc;
}

int images_delete(const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX + 130];
	struct image_delete_work w = { .name = name };
	int rc = db_txn(image_delete_work, &w);

	if (!w.got)
		return rc;
	/* Once the record is gone, the file goes; a leftover file is harmless and logged. */
	if (rc == 0 && w.im.file && images_dir(dir, sizeof(dir), name) == 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, w.im.file);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("image %s deleted, but removing %s failed: %s", name, path, strerror(errno));
		rmdir(dir);
	}
	image_free(&w.im);
	return rc;
}

int upload_begin(const char *name, const char *file, const char *format, const char *sha256,
		 struct upload **out)
{
	struct upload *up;
	struct image existing;
	char dir[PATH_MAX];
	int rc;

	if ((rc = image_name_check(name)) < 0)
		return rc;
	if (!file || !*file)
		file = name;
	if (!name_is_safe(file))
		return err_set(-EINVAL, "\"file\" must be a plain file name");
	if (sha256 && !sha256_hex_valid(sha256))
		return err_set(-EINVAL, "\"sha256\" must be 64 hex digits");
	rc = db_image_get(name, &existing);
	if (rc == 0) {
		image_free(&existing);
		return err_set(-EEXIST, "an image named '%s' exists already; delete it first", name);
	}
	if (rc != -ENOENT)
		return rc;
	if (!(up = calloc(1, sizeof(*up))))
		return err_set(-ENOMEM, "out of memory");
	up->fd = -1;
	snprintf(up->name, sizeof(up->name), "%s", name);
	snprintf(up->file, sizeof(up->file), "%s", file);
	snprintf(up->expect, sizeof(up->expect), "%s", sha256 ? sha256 : "");
	if ((rc = format_pick(format, file, up->format)) < 0 ||
	    (rc = images_dir(dir, sizeof(dir), NULL)) < 0)
		goto fail;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		rc = err_set(-errno, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(up->tmp_path, sizeof(up->tmp_path), "%s/.upload-XXXXXX", dir);
	up->fd = mkostemp(up->tmp_path, O_CLOEXEC);
	up->sha = sha256_new();
	if (up->fd < 0)
		up->tmp_path[0] = '\0';
	if (up->fd < 0 || !up->sha) {
		rc = err_set(-EIO, "cannot create a temporary file in %s: %s", dir, strerror(errno));
		goto fail;
	}
	*out = up;
	return 0;
fail:
	upload_abort(up);
	return rc;
}

/* Appends to the upload; -E2BIG once it would pass cfg.max_image_size (the caller then
 * aborts it, and nothing is kept). */
int upload_write(struct upload *up, const void *data, size_t len)
{
	const char *p = data;

	if ((uint64_t)up->size + len > cfg.max_image_size)
		return err_set(-E2BIG, "the image is over the limit of %llu bytes (--max-image-size); nothing was kept",
			       (unsigned long long)cfg.max_image_size);
	sha256_update(up->sha, data, len);
	up->size += (int64_t)len;
	while (len) {
		ssize_t n = write(up->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(-errno, "writing the image failed: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Verifies, makes durable, moves into place and records the image. Always frees up. */
/* Checks a finished upload (its SHA-256 against the one given, a recipe bundle's contents)
 * and makes its bytes durable; sha is its SHA-256, *recipe what a bundle says. */
static int upload_check(struct upload *up, char sha[SHA256_HEX_LEN + 1], char **recipe)
{
	int rc;

	sha256_finish(up->sha, sha);
	up->sha = NULL;
	if (up->expect[0] && strcasecmp(up->expect, sha) != 0)
		return err_set(-EINVAL, "upload has SHA-256 %s, not %s as given; nothing was kept", sha, up->expect);
	if (fsync(up->fd) < 0)
		return err_set(-errno, "fsync failed: %s", strerror(errno));
	if (strcmp(up->format, "recipe") == 0) {
		if ((rc = recipe_bundle_read(up->tmp_path, recipe)) < 0)
			return rc;
		snprintf(up->file, sizeof(up->file), "%s.tar", sha);
	}
	return 0;
}

struct upload_work {
	struct upload *up;
	char *dir, *path, *sha, *recipe;
	struct image *out;
	bool moved, got;            /* the file is at path; *out was read */
};

/* Records upload w->up: creates the image's folder, inserts its record, moves the file into
 * place (made durable: w->moved) and reads the record into w->out (w->got): 0 or -errno. */
static int upload_work(void *arg)
{
	struct upload_work *w = arg;
	struct upload *up = w->up;
	struct image im = { 0 };
	int rc, dfd;

	if (mkdir(w->dir, 0750) < 0 && errno != EEXIST)
		return err_set(-errno, "cannot create %s: %s", w->dir, strerror(errno));
	im.name = up->name;
	im.format = up->format;
	im.sha256 = w->sha;
	im.size = up->size;
	im.file = up->file;
	im.recipe = w->recipe;
	if ((rc = db_image_insert(&im)) < 0)
		return rc;
	if (rename(up->tmp_path, w->path) < 0)
		return err_set(-errno, "cannot move the upload into %s: %s", w->path, strerror(errno));
	w->moved = true;
	up->tmp_path[0] = '\0';
	if ((dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if ((rc = db_image_get(up->name, w->out)) < 0)
		return rc;
	w->got = true;
	return 0;
}

int upload_finish(struct upload *up, struct image *out)
{
	char sha[SHA256_HEX_LEN + 1], dir[PATH_MAX], path[PATH_MAX + 130];
	struct upload_work w = { .up = up, .dir = dir, .path = path, .sha = sha, .out = out };
	int rc;

	if ((rc = upload_check(up, sha, &w.recipe)) < 0 || (rc = images_dir(dir, sizeof(dir), up->name)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, up->file);
	if ((rc = db_txn(upload_work, &w)) < 0) {
		/* nothing was kept: neither the record nor the file moved into place */
		if (w.got)
			image_free(out);
		if (w.moved)
			unlink(path);
		goto out;
	}
	log_info("image %s stored: %s, %lld bytes, sha256 %s", up->name, path, (long long)up->size, sha);
out:
	free(w.recipe);
	upload_abort(up);
	return rc;
}

void upload_abort(struct upload *up)
{
	if (!up)
		return;
	if (up->fd >= 0)
		close(up->fd);
	if (up->tmp_path[0])
		unlink(up->tmp_path);
	sha256_abort(up->sha);
	free(up);
}

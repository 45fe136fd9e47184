/*
 * anemosctl image list|add|rm: images over /api/v1/images. A local file is streamed to
 * anemosd with its SHA-256, so that anemosd can refuse a damaged transfer; a URL is only
 * recorded, for targets to download from; a recipe folder is bundled into a tar
 * (cli/recipe-bundle.sh) and streamed like a file, as format "recipe".
 */
#include <ctype.h>
#include <stdbool.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anemosctl.h"
#include "crypto.h"
#include "recipe-bundle.sh.h"	/* recipe_bundle_sh: cli/recipe-bundle.sh, made by make */

#define HASH_CHUNK	(1u << 20)	/* bytes read at a time while hashing a file */

static const char *const image_formats[] = {
	"tar", "tar.gz", "tar.xz", "tar.zst", "raw", "raw.gz", "raw.xz", "raw.zst", NULL
};

/* File name suffixes that tell an image's format. */
static const struct image_suffix {
	const char *suffix;
	const char *format;
} image_suffixes[] = {
	{ ".tar", "tar" }, { ".tar.gz", "tar.gz" }, { ".tar.xz", "tar.xz" },
	{ ".tar.zst", "tar.zst" }, { ".raw", "raw" }, { ".raw.gz", "raw.gz" },
	{ ".raw.xz", "raw.xz" }, { ".raw.zst", "raw.zst" }, { ".img", "raw" },
	{ ".img.gz", "raw.gz" }, { ".img.xz", "raw.xz" }, { ".img.zst", "raw.zst" },
};

enum image_option_id {
	OPT_NAME = 256,
	OPT_SHA256,
	OPT_FORMAT,
};

/* What "image add" was told. */
struct image_options {
	const char *name;		/* --name, or NULL to take it from the file name */
	const char *format;		/* --format, or NULL to take it from the file name */
	char sha256[SHA256_HEX_LEN + 1];	/* --sha256 in lower case, or "" */
};

/* Prints the confirmation of a new @image, or with --json the image. */
static void print_image_added(const struct ctl *ctl, const json_t *image)
{
	const json_t *size = json_object_get(image, "size");
	char text[16] = "size unknown";

	if (ctl->json) {
		print_json(image);
		return;
	}
	if (json_is_integer(size) && json_integer_value(size) >= 0)
		format_size(text, sizeof(text), (uint64_t)json_integer_value(size));
	fputs("added image ", stdout);
	print_text(json_text(image, "name"), 0);
	printf(" (%s, %s, sha256 %.12s)\n", json_text(image, "format"), text,
	       json_text(image, "sha256"));
}

/* Prints @images as a table. Returns 0 or -ENOMEM (with the message). */
static int print_image_table(const json_t *images)
{
	static const char *const header[] = { "NAME", "FORMAT", "SIZE", "SHA256", "SOURCE" };
	const json_t *image, *size;
	struct table table;
	char bytes[16], sha256[13];
	const char *source;
	size_t i;
	int rc;

	if ((rc = table_init(&table, sizeof(header) / sizeof(header[0]), header)) != 0)
		goto out;
	json_array_foreach(images, i, image) {
		size = json_object_get(image, "size");
		if (json_is_integer(size) && json_integer_value(size) >= 0)
			format_size(bytes, sizeof(bytes), (uint64_t)json_integer_value(size));
		else
			strcpy(bytes, "-");
		snprintf(sha256, sizeof(sha256), "%s", json_text(image, "sha256"));
		/* An external image is best known by its URL; a stored one just as "file". */
		source = json_text(image, "source");
		if (strcmp(source, "url") == 0)
			source = json_text(image, "url");
		const char *const row[] = {
			json_text(image, "name"), json_text(image, "format"), bytes, sha256, source
		};
		if ((rc = table_add_row(&table, row)) != 0)
			goto out;
	}
	table_print(&table);
out:
	table_free(&table);
	return rc;
}

/* "image add" option handler: fills the struct image_options @ctx. */
static int image_option(void *ctx, int option, const char *arg)
{
	struct image_options *opts = ctx;
	size_t i;

	switch (option) {
	case OPT_NAME:
		opts->name = arg;
		return 0;
	case OPT_FORMAT:
		opts->format = arg;
		return check_choice("--format", arg, image_formats);
	case OPT_SHA256:
		if (!sha256_hex_valid(arg))
			return err_set(-EINVAL, "--sha256 must be %d hex digits (not '%s')", SHA256_HEX_LEN, arg);
		for (i = 0; arg[i]; i++)
			opts->sha256[i] = (char)tolower((unsigned char)arg[i]);
		opts->sha256[i] = '\0';
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * Returns the file name at the end of @source, a URL (@is_url) or a local path, for the
 * caller to free; "" when there is none. NULL (with the message) when out of memory.
 */
static char *source_file_name(const char *source, int is_url)
{
	const char *start = source, *end, *slash;
	char *name;

	if (is_url) {
		/* The path starts at the first '/' after the host; query and fragment end it. */
		start = strstr(source, "://") + 3;
		end = start + strcspn(start, "?#");
		slash = memrchr(start, '/', (size_t)(end - start));
		start = slash ? slash + 1 : end;
	} else {
		end = source + strlen(source);
		slash = strrchr(source, '/');
		start = slash ? slash + 1 : source;
	}
	if (!(name = strndup(start, (size_t)(end - start))))
		err_set(-ENOMEM, "out of memory");
	return name;
}

/* Returns the entry of image_suffixes that @file_name ends with, or NULL. */
static const struct image_suffix *find_suffix(const char *file_name)
{
	size_t i, len = strlen(file_name), suffix_len;

	for (i = 0; i < sizeof(image_suffixes) / sizeof(image_suffixes[0]); i++) {
		suffix_len = strlen(image_suffixes[i].suffix);
		if (len > suffix_len &&
		    strcmp(file_name + len - suffix_len, image_suffixes[i].suffix) == 0)
			return &image_suffixes[i];
	}
	return NULL;
}

/*
 * Decides the image's name and format: those given in @opts, else from @file_name (the
 * format from its suffix, the name from what precedes it). Sets *@name to a string the
 * caller frees and *@format to a static string. Returns 0, or -EINVAL or -ENOMEM (with the message).
 */
static int image_identity(const struct image_options *opts, const char *file_name,
			  char **name, const char **format)
{
	const struct image_suffix *suffix = find_suffix(file_name);

	*name = NULL;
	if (!(*format = opts->format ? opts->format : suffix ? suffix->format : NULL))
		return err_set(-EINVAL, "cannot tell the format of '%s' from its name: give --format (tar, tar.gz,"
					" tar.xz, tar.zst, raw, raw.gz, raw.xz or raw.zst)", file_name);
	if (opts->name)
		*name = strdup(opts->name);
	else
		*name = strndup(file_name, strlen(file_name) - (suffix ? strlen(suffix->suffix) : 0));
	if (!*name)
		return err_set(-ENOMEM, "out of memory");
	if (!**name)
		return err_set(-EINVAL, "cannot take an image name from '%s': give --name", file_name);
	return 0;
}

/*
 * Computes the SHA-256 of @file (@size bytes, for the progress line, read from @path) into
 * @hex, reading 1 MiB at a time, and rewinds the file. Returns 0 or -errno (with the message).
 */
static int file_sha256(FILE *file, const char *path, uint64_t size, char *hex)
{
	struct progress progress;
	struct sha256_ctx *sha;
	uint64_t done = 0;
	unsigned char *chunk;
	size_t got;
	int rc = 0;

	chunk = malloc(HASH_CHUNK);
	sha = sha256_new();
	if (!chunk || !sha) {
		rc = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	progress_start(&progress, "hashing", size);
	while ((got = fread(chunk, 1, HASH_CHUNK, file)) > 0) {
		sha256_update(sha, chunk, got);
		done += got;
		progress_update(&progress, done);
	}
	progress_end(&progress, done);
	if (ferror(file)) {
		rc = err_set(-EIO, "reading %s: %s", path, strerror(errno));
	} else if (fseeko(file, 0, SEEK_SET) != 0) {
		rc = err_set(-errno, "rewinding %s: %s", path, strerror(errno));
	} else {
		sha256_finish(sha, hex);
		sha = NULL;
	}
out:
	sha256_abort(sha);
	free(chunk);
	return rc;
}

static bool is_folder(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Records the image at @url. Returns 0 or a negative errno (with the message). */
static int add_url(const struct ctl *ctl, const char *url, const char *name,
		   const char *format, const char *sha256)
{
	json_t *body, *image = NULL;
	int rc;

	if (!(body = json_object()))
		return err_set(-ENOMEM, "out of memory");
	if ((rc = json_set_text(body, "name", name)) == 0 &&
	    (rc = json_set_text(body, "url", url)) == 0 &&
	    (rc = json_set_text(body, "sha256", sha256)) == 0 &&
	    (rc = json_set_text(body, "format", format)) == 0 &&
	    (rc = api_call(ctl, "POST", "/api/v1/images", body, &image)) == 0)
		print_image_added(ctl, image);
	json_decref(image);
	json_decref(body);
	return rc;
}

/*
 * Uploads the local file @path, stored by anemosd as @file_name of image @name. Computes
 * the SHA-256 first unless @sha256 holds one. Returns 0 or a negative errno (with the message).
 */
static int add_file(const struct ctl *ctl, const char *path, const char *file_name,
		    const char *name, const char *format, char *sha256)
{
	char *escaped_name = NULL, *escaped_file = NULL, *request = NULL;
	json_t *image = NULL;
	struct stat st;
	FILE *file;
	int rc;

	if (!(file = fopen(path, "rb")))
		return err_set(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fileno(file), &st) != 0) {
		rc = err_set(-errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* The size goes ahead of the body, and the file is read twice without --sha256. */
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(-EBADF, "%s is not a regular file", path);
		goto out;
	}
	if (!sha256[0] && (rc = file_sha256(file, path, (uint64_t)st.st_size, sha256)) != 0)
		goto out;
	if (!(escaped_name = url_escape(name)) || !(escaped_file = url_escape(file_name))) {
		rc = -ENOMEM;
		goto out;
	}
	if (asprintf(&request, "/api/v1/images/%s?file=%s&format=%s&sha256=%s", escaped_name,
		     escaped_file, format, sha256) < 0) {
		err_set(-ENOMEM, "out of memory");
		request = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = api_upload(ctl, request, file, (uint64_t)st.st_size, &image)) == 0)
		print_image_added(ctl, image);
out:
	json_decref(image);
	free(request);
	free(escaped_file);
	free(escaped_name);
	fclose(file);
	return rc;
}

int bundle_recipe(const char *dir, const char *out, char *name, size_t namesz)
{
	static char *const bundle_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8",
					    "TMPDIR=/tmp", NULL };
	int fds[2], status, rc = 0;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe(fds) < 0)
		return err_set(-errno, "cannot run the recipe bundler: %s", strerror(errno));
	if ((pid = fork()) < 0) {
		rc = err_set(-errno, "cannot run the recipe bundler: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		/* The recipe is sourced to read its name: it gets no token, nothing of ours. */
		execle("/bin/sh", "sh", "-c", recipe_bundle_sh, "recipe-bundle.sh", dir, out, (char *)NULL,
		       bundle_env);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < namesz && (n = read(fds[0], name + len, namesz - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	name[len] = '\0';
	name[strcspn(name, "\n")] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !name[0])
		rc = -ENOEXEC; /* the recipe, not the command line, is wrong */
	return rc;
}

/* Registers the recipe folder @dir as a recipe image (named @name, else as the recipe says). */
static int add_recipe(const struct ctl *ctl, const char *dir, const char *name)
{
	char bundle[] = "/tmp/anemos-bundle.XXXXXX", recipe_name[256], sha256[SHA256_HEX_LEN + 1] = "";
	int fd, rc;

	if ((fd = mkstemp(bundle)) < 0)
		return err_set(-errno, "cannot create a temporary file: %s", strerror(errno));
	close(fd);
	if ((rc = bundle_recipe(dir, bundle, recipe_name, sizeof(recipe_name))) == 0)
		rc = add_file(ctl, bundle, "recipe.tar", name ? name : recipe_name, "recipe", sha256);
	unlink(bundle);
	return rc;
}

int image_list(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	const json_t *images;
	int rc;

	if ((rc = parse_command(argc, argv, NULL, NULL, NULL, 0, 0)) < 0)
		return rc;
	if ((rc = api_call(ctl, "GET", "/api/v1/images", NULL, &answer)) != 0)
		goto out;
	if (ctl->json)
		print_json(answer);
	else if ((images = answer_array(answer, "images")))
		rc = print_image_table(images);
	else
		rc = -EPROTO;
out:
	json_decref(answer);
	return rc;
}

int image_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "sha256", required_argument, NULL, OPT_SHA256 },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	struct image_options opts = { NULL, NULL, "" };
	char *file_name, *name = NULL;
	const char *source, *format;
	int first, is_url, rc;

	if ((first = parse_command(argc, argv, options, image_option, &opts, 1, 1)) < 0)
		return first;
	source = argv[first];
	is_url = is_http_url(source);
	if (!is_url && is_folder(source)) {
		if (opts.format || opts.sha256[0])
			return err_set(-EINVAL, "a recipe folder takes only --name (anemosctl bundles it and computes the SHA-256)");
		return add_recipe(ctl, source, opts.name);
	}
	if (is_url && !opts.sha256[0])
		return err_set(-EINVAL, "--sha256 is required for a URL: targets check what they download against it"
					" (for a local file anemosctl computes it)");
	if (!(file_name = source_file_name(source, is_url)))
		return -ENOMEM;
	if ((rc = image_identity(&opts, file_name, &name, &format)) == 0)
		rc = is_url ? add_url(ctl, source, name, format, opts.sha256)
			    : add_file(ctl, source, file_name, name, format, opts.sha256);
	free(name);
	free(file_name);
	return rc;
}

int image_rm(struct ctl *ctl, int argc, char **argv)
{
	json_t *answer = NULL;
	char *escaped, *path;
	int first, rc;

	if ((first = parse_command(argc, argv, NULL, NULL, NULL, 1, 1)) < 0)
		return first;
	if (!(escaped = url_escape(argv[first])))
		return -ENOMEM;
	if (asprintf(&path, "/api/v1/images/%s", escaped) < 0) {
		err_set(-ENOMEM, "out of memory");
		free(escaped);
		return -ENOMEM;
	}
	if ((rc = api_call(ctl, "DELETE", path, NULL, &answer)) == 0 && !ctl->json) {
		fputs("removed image ", stdout);
		print_text(argv[first], 0);
		putchar('\n');
	}
	json_decref(answer);
	free(path);
	free(escaped);
	return rc;
}

/*
 * Recipe bundles: the tar of a recipe folder that `anemosctl image add DIR` uploads, which
 * the target unpacks and builds itself. anemosd never runs a recipe: it checks the bundle's
 * shape (plain relative paths, no device files, bounded sizes, a `recipe` file) and reads the
 * few literal assignments the API shows (name, base, suite, mirror, keyring, packages).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "anemosd.h"
#include "recipe_steps.h"

#define RECIPE_MAX (64 * 1024)       /* the recipe file itself */
#define BUNDLE_ENTRIES_MAX 10000

/* The keys anemosd reads, and whether a recipe must give each one as a literal. */
static const struct {
	const char *key;
	bool literal; /* required to be literal (the API and the plan depend on it) */
} recipe_keys[] = {
	{ "name", true }, { "base", true }, { "suite", true }, { "mirror", true },
	{ "keyring", true }, { "packages", false },
};

/* A path inside the bundle without "./", or NULL for the bundle's root. */
static const char *bundle_path(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return *p && strcmp(p, ".") != 0 ? p : NULL;
}

static bool bundle_path_safe(const char *p)
{
	const char *seg = p;

	if (*p == '/')
		return false;
	for (;;) {
		size_t n = strcspn(seg, "/");

		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			return false;
		if (!seg[n])
			return true;
		seg += n + 1;
	}
}

/*
 * The value of one assignment at *p (after "key="), as a new string; *p moves past it.
 * Quoted values may span lines. Returns NULL with *literal false when the value uses the
 * shell ($, `, \), which only running the recipe would resolve.
 */
static char *literal_value(const char **p, bool *literal)
{
	const char *s = *p, *end;
	char quote = 0;

	*literal = true;
	if (*s == '"' || *s == '\'')
		quote = *s++;
	end = s;
	if (quote)
		while (*end && *end != quote)
			end++;
	else
		while (*end && !strchr(" \t\n;#", *end))
			end++;
	if ((quote && !*end) || (quote != '\'' && memchr(s, '$', (size_t)(end - s))) ||
	    (quote != '\'' && (memchr(s, '`', (size_t)(end - s)) || memchr(s, '\\', (size_t)(end - s)))))
		*literal = false;
	*p = quote && *end ? end + 1 : end;
	return *literal ? strndup(s, (size_t)(end - s)) : NULL;
}

/* Reads the literal top-level assignments of the recipe text into meta. */
static int recipe_text_parse(const char *text, json_t *meta)
{
	const char *p = text;

	while (*p) {
		size_t klen = strspn(p, "abcdefghijklmnopqrstuvwxyz_");

		if (klen && p[klen] == '=') {
			for (size_t i = 0; i < sizeof(recipe_keys) / sizeof(recipe_keys[0]); i++) {
				bool literal;
				char *v;

				if (strlen(recipe_keys[i].key) != klen || strncmp(p, recipe_keys[i].key, klen))
					continue;
				p += klen + 1;
				v = literal_value(&p, &literal);
				if (!literal && recipe_keys[i].literal)
					return err_set(-EINVAL, "recipe: %s= must be a plain value (anemosd reads it "
								"without running the recipe)", recipe_keys[i].key);
				json_object_set_new(meta, recipe_keys[i].key, v ? json_string(v) : json_null());
				free(v);
				break;
			}
		}
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	return 0;
}

/* Collapses runs of white space in the packages list to single spaces. */
static void packages_normalize(json_t *meta)
{
	const char *v = json_string_value(json_object_get(meta, "packages"));
	char *out, *o;

	if (!v || !(out = o = malloc(strlen(v) + 1)))
		return;
	for (const char *s = v; *s; s++)
		if (!strchr(" \t\n", *s))
			*o++ = *s;
		else if (o > out && o[-1] != ' ')
			*o++ = ' ';
	if (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	json_object_set_new(meta, "packages", json_string(out));
	free(out);
}

/* Checks what the recipe says against the bundle and the two bases a target can build. */
static int recipe_meta_check(json_t *meta, bool has_keyring)
{
	const char *base = json_string_value(json_object_get(meta, "base"));
	const char *mirror = json_string_value(json_object_get(meta, "mirror"));
	const char *keyring = json_string_value(json_object_get(meta, "keyring"));
	const char *suite = json_string_value(json_object_get(meta, "suite"));

	if (!base || (strcmp(base, "busybox") && strcmp(base, "debootstrap")))
		return err_set(-EINVAL, "recipe: base=%s: a target builds base=busybox or base=debootstrap",
			       base ? base : "(none)");
	if (mirror && strncmp(mirror, "http://", 7) && strncmp(mirror, "https://", 8))
		return err_set(-EINVAL, "recipe: mirror=%s must be an http:// or https:// URL", mirror);
	if (mirror && (!template_value_safe(mirror) || strpbrk(mirror, " @") || strlen(mirror) > 900))
		return err_set(-EINVAL, "recipe: mirror= must be a plain URL (no spaces, quotes, shell "
					"characters or user:password@; at most 900 characters)");
	if (keyring && !has_keyring)
		return err_set(-EINVAL, "recipe: keyring=%s is not a file in the recipe's folder", keyring);
	if (suite && !name_is_safe(suite))
		return err_set(-EINVAL, "recipe: suite=%s is not a Debian suite name", suite);
	if (!suite)
		json_object_set_new(meta, "suite", json_string("bookworm"));
	return 0;
}

/* Reads the recipe file's data (at most RECIPE_MAX bytes) into a new string. */
static int read_recipe(struct archive *ar, la_int64_t size, char **out)
{
	char *text;

	if (size > RECIPE_MAX)
		return err_set(-E2BIG, "recipe: the recipe file is larger than %d KiB", RECIPE_MAX / 1024);
	if (!(text = malloc((size_t)size + 1)))
		return err_set(-ENOMEM, "out of memory");
	if (archive_read_data(ar, text, (size_t)size) != (la_ssize_t)size) {
		free(text);
		return err_set(-EINVAL, "recipe bundle: cannot read the recipe file: %s", archive_error_string(ar));
	}
	text[size] = '\0';
	free(*out);
	*out = text;
	return 0;
}

/* The bundle's regular files, and which of them are ASCII-armored OpenPGP keys. */
struct bundle_files {
	char **paths, **armored;
	size_t npaths, narmored;
};

static int list_add(char ***v, size_t *n, const char *p)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(**v));

	if (!grown)
		return err_set(-ENOMEM, "out of memory");
	*v = grown;
	if (!(grown[*n] = strdup(p)))
		return err_set(-ENOMEM, "out of memory");
	(*n)++;
	return 0;
}

static void bundle_files_free(struct bundle_files *f)
{
	for (size_t i = 0; i < f->npaths; i++)
		free(f->paths[i]);
	for (size_t i = 0; i < f->narmored; i++)
		free(f->armored[i]);
	free(f->paths);
	free(f->armored);
}

/* Notes a regular file; an armored key is noted as such (gpgv reads binary keyrings only). */
static int note_file(struct archive *ar, const char *p, la_int64_t size, struct bundle_files *f)
{
	static const char armor[] = "-----BEGIN PGP ";
	char head[sizeof(armor) - 1];
	int rc;

	if ((rc = list_add(&f->paths, &f->npaths, p)) < 0)
		return rc;
	if (size >= (la_int64_t)sizeof(head) && archive_read_data(ar, head, sizeof(head)) == (la_ssize_t)sizeof(head) &&
	    memcmp(head, armor, sizeof(head)) == 0)
		return list_add(&f->armored, &f->narmored, p);
	return 0;
}

/* Walks the bundle: every entry checked, the recipe read, the regular files listed. */
static int bundle_walk(struct archive *ar, char **recipe, struct bundle_files *files)
{
	struct archive_entry *e;
	long long bytes = 0;
	size_t entries = 0;
	int r, rc;

	while ((r = archive_read_next_header(ar, &e)) == ARCHIVE_OK) {
		const char *p = bundle_path(archive_entry_pathname(e));
		mode_t type = archive_entry_filetype(e);

		if (++entries > BUNDLE_ENTRIES_MAX)
			return err_set(-E2BIG, "recipe bundle: more than %d files", BUNDLE_ENTRIES_MAX);
		if (!p)
			continue;
		if (!bundle_path_safe(p))
			return err_set(-EINVAL, "recipe bundle: '%s' leaves the recipe's folder", p);
		if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
			return err_set(-EINVAL, "recipe bundle: '%s' is not a file, folder or symlink", p);
		if ((bytes += archive_entry_size(e)) > RECIPE_BUNDLE_MAX)
			return err_set(-E2BIG, "recipe bundle: more than %lld MiB unpacked", RECIPE_BUNDLE_MAX >> 20);
		if (strcmp(p, "recipe") == 0 && (type != AE_IFREG || *recipe))
			return err_set(-EINVAL, "recipe bundle: 'recipe' must be one regular file");
		if (strcmp(p, "recipe") == 0)
			rc = read_recipe(ar, archive_entry_size(e), recipe);
		else
			rc = type == AE_IFREG ? note_file(ar, p, archive_entry_size(e), files) : 0;
		if (rc < 0)
			return rc;
	}
	if (r != ARCHIVE_EOF)
		return err_set(-EINVAL, "recipe bundle: not a tar archive: %s", archive_error_string(ar));
	if (!*recipe)
		return err_set(-EINVAL, "recipe bundle: no file named 'recipe' at its top");
	return 0;
}

/* Whether path is among the n in v. */
static bool listed(char *const *v, size_t n, const char *path)
{
	for (size_t i = 0; path && i < n; i++)
		if (strcmp(v[i], path) == 0)
			return true;
	return false;
}

int recipe_bundle_read(const char *path, char **out)
{
	struct archive *ar = archive_read_new();
	struct bundle_files files = { 0 };
	json_t *meta = json_object();
	const char *keyring;
	char *recipe = NULL;
	int rc;

	if (!ar || !meta) {
		rc = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(ar);
	if (archive_read_open_filename(ar, path, 65536) != ARCHIVE_OK) {
		rc = err_set(-EINVAL, "recipe bundle: not a tar archive: %s", archive_error_string(ar));
		goto out;
	}
	if ((rc = bundle_walk(ar, &recipe, &files)) < 0 || (rc = recipe_text_parse(recipe, meta)) < 0)
		goto out;
	keyring = json_string_value(json_object_get(meta, "keyring"));
	packages_normalize(meta);
	if ((rc = recipe_meta_check(meta, listed(files.paths, files.npaths, keyring))) < 0)
		goto out;
	if (listed(files.armored, files.narmored, keyring)) {
		rc = err_set(-EINVAL, "recipe: keyring=%s is ASCII-armored; targets check with gpgv, which reads "
				      "binary keyrings: gpg --dearmor it", keyring);
		goto out;
	}
	if (!(*out = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = err_set(-ENOMEM, "out of memory");
out:
	bundle_files_free(&files);
	free(recipe);
	json_decref(meta);
	archive_read_free(ar);
	return rc;
}

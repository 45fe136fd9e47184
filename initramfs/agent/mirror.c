/*
 * Packages from a Debian mirror, checked the way apt checks them: dists/SUITE/InRelease
 * must carry a good signature by the recipe's keyring (gpgv), the Packages index must have
 * the size and SHA-256 the signed Release gives it, and every .deb the size and SHA-256 the
 * index gives it. Nothing unverified is ever kept: a file that fails a check is deleted and
 * the failure names it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>

#include "build.h"

#define INDEX_MAX (512ULL << 20)  /* an uncompressed Packages index */
#define RELEASE_MAX (16ULL << 20)
#define FETCH_TRIES 4

/* One download into a file, hashed and bounded as it arrives. */
struct fetch {
	struct build *b;
	bool count;            /* the bytes count towards the build's progress */
	FILE *out;
	struct sha256_ctx *sha;
	uint64_t got, max;
};

static size_t fetch_write(char *data, size_t size, size_t n, void *cls)
{
	struct fetch *f = cls;
	size_t len = size * n;

	if (f->got + len > f->max || fwrite(data, 1, len, f->out) != len)
		return 0; /* curl stops: too large, or the disk is full */
	sha256_update(f->sha, data, len);
	f->got += len;
	if (f->count)
		f->b->bytes_done += len;
	build_progress(f->b, false);
	return len;
}

/* A progress tick while curl waits for data, so that events keep coming once a second. */
static int fetch_tick(void *cls, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct fetch *f = cls;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	build_progress(f->b, false);
	return 0;
}

/* One attempt, its HTTP status in *status (0: none); 0, or -EIO (-ENOMEM) with the message
 * (curl's error, or the HTTP status). */
static int fetch_once(struct fetch *f, const char *url, long *status)
{
	CURL *c = curl_easy_init();
	char err[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	*status = 0;
	if (!c)
		return err_set(-ENOMEM, "out of memory");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_tick);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	/* A stalled mirror: less than 1 KiB/s for 60 s ends the attempt. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	/* file:// (a deploy's recipe bundle, carried in the initramfs) has no HTTP status. */
	if (rc == CURLE_OK && (*status == 200 || (*status == 0 && strncmp(url, "file://", 7) == 0)))
		return 0;
	if (rc == CURLE_OK)
		return err_set(-EIO, "HTTP %ld", *status);
	if (f->got >= f->max)
		return err_set(-EIO, "larger than %llu bytes", (unsigned long long)f->max);
	return err_set(-EIO, "%s", err[0] ? err : curl_easy_strerror(rc));
}

int mirror_fetch(struct build *b, bool count, const char *url, const char *path, uint64_t max,
		 const char *sha256, int64_t size)
{
	char got[SHA256_HEX_LEN + 1];
	struct fetch f = { .b = b, .count = count, .max = max };
	long status = 0;
	int rc;

	for (int attempt = 1; attempt <= FETCH_TRIES; attempt++) {
		if (count)
			b->bytes_done -= f.got; /* a retry starts the file over */
		f.got = 0;
		if (!(f.out = fopen(path, "we")) || !(f.sha = sha256_new())) {
			if (f.out)
				fclose(f.out);
			return build_fail(b, "cannot write %s: %s", path, strerror(errno));
		}
		if ((rc = fetch_once(&f, url, &status)) == 0 && fflush(f.out) != 0)
			rc = err_set(-EIO, "writing %s: %s", path, strerror(errno));
		if (rc == 0) {
			fclose(f.out);
			sha256_finish(f.sha, got);
			if (sha256 && strcasecmp(got, sha256) != 0) {
				unlink(path);
				return build_fail(b, "%s: SHA-256 %s, but the signed index says %s", url, got, sha256);
			}
			if (size >= 0 && f.got != (uint64_t)size) {
				unlink(path);
				return build_fail(b, "%s: %llu bytes, but the signed index says %lld", url,
						  (unsigned long long)f.got, (long long)size);
			}
			return 0;
		}
		fclose(f.out);
		sha256_abort(f.sha);
		unlink(path);
		if (status >= 400 && status < 500)
			break; /* the mirror does not have it: retrying will not help */
		if (attempt < FETCH_TRIES)
			sleep((unsigned)(attempt * 2));
	}
	return build_fail(b, "cannot download %s: %s", url, err_msg());
}

/* Reads a whole small file into a new string. */
static char *slurp(const char *path, uint64_t max)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	struct stat st;

	if (f && fstat(fileno(f), &st) == 0 && (uint64_t)st.st_size <= max &&
	    (buf = malloc((size_t)st.st_size + 1))) {
		if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
			buf[st.st_size] = '\0';
		else
			buf = (free(buf), NULL);
	}
	if (f)
		fclose(f);
	return buf;
}

/* gpgv over the clearsigned InRelease; the signed text into release_path. Accepted as apt
 * accepts it: at least one good signature by the keyring and no bad one (Debian signs with
 * several keys, and a keyring may hold only some of them, which makes gpgv exit 2). */
static int verify_release(struct build *b, const char *inrelease, const char *keyring, const char *release_path)
{
	const char *argv[] = { "gpgv", "--status-fd", "1", "--keyring", keyring, "--output", release_path,
			       inrelease, NULL };
	char out[8192] = "";
	int status;

	unlink(release_path);
	status = build_run(b, argv, out, sizeof(out));
	if (status >= 0 && strstr(out, "[GNUPG:] GOODSIG ") && !strstr(out, "[GNUPG:] BADSIG ") &&
	    access(release_path, F_OK) == 0)
		return 0;
	/* gpgv's own last words say why ("Can't check signature: No public key", "BAD
	 * signature from ..."): the last line that is not a status line. */
	{
		char *line = NULL;

		for (char *p = strtok(out, "\n"); p; p = strtok(NULL, "\n"))
			if (strncmp(p, "[GNUPG:]", 8) != 0)
				line = p;
		return build_fail(b, "the mirror's dists/%s/InRelease has no good signature by %s: %s",
				  b->suite, keyring, line ? line : "gpgv failed");
	}
}

/* Decompresses the index at path (xz, gz or plain: libarchive tells) into a new string. */
static char *index_text(const char *path)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	la_ssize_t n;

	archive_read_support_filter_all(ar);
	archive_read_support_format_raw(ar);
	if (!buf || archive_read_open_filename(ar, path, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(ar, &e) != ARCHIVE_OK)
		goto fail;
	while ((n = archive_read_data(ar, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 65536) {
			char *grown = cap * 2 <= INDEX_MAX ? realloc(buf, cap * 2) : NULL;

			if (!grown)
				goto fail;
			buf = grown;
			cap *= 2;
		}
	}
	if (n < 0)
		goto fail;
	buf[len] = '\0';
	archive_read_free(ar);
	return buf;
fail:
	archive_read_free(ar);
	free(buf);
	return NULL;
}

/* Refuses a Release past its Valid-Until (a replayed old one, with old packages). */
static int check_valid_until(struct build *b, const char *release)
{
	char *until = stanza_field(release, release + strlen(release), "Valid-Until");
	struct tm tm = { 0 };
	bool expired = false;

	if (until) {
		const char *end = strptime(until, "%a, %d %b %Y %H:%M:%S", &tm);

		expired = end && timegm(&tm) < time(NULL);
	}
	if (expired) {
		build_fail(b, "the mirror's dists/%s/InRelease expired on %s (Valid-Until): a stale or replayed mirror",
			   b->suite, until);
		free(until);
		return -EIO;
	}
	free(until);
	return 0;
}

int mirror_open(struct build *b, const char *keyring)
{
	static const char *const indexes[] = { "Packages.xz", "Packages.gz", "Packages" };
	char url[2300], path[512], sha[SHA256_HEX_LEN + 1], name[64], *release;
	int64_t size = -1;
	size_t i;

	snprintf(url, sizeof(url), "%s/dists/%s/InRelease", b->mirror, b->suite);
	snprintf(path, sizeof(path), "%s/InRelease", b->work);
	if (mirror_fetch(b, false, url, path, RELEASE_MAX, NULL, -1) < 0)
		return -EIO;
	snprintf(url, sizeof(url), "%s/Release", b->work);
	if (verify_release(b, path, keyring, url) < 0)
		return -EIO;
	if (!(release = slurp(url, RELEASE_MAX)))
		return build_fail(b, "cannot read the verified Release");
	{
		char *suite = stanza_field(release, release + strlen(release), "Suite");
		char *codename = stanza_field(release, release + strlen(release), "Codename");
		bool match = (suite && !strcmp(suite, b->suite)) || (codename && !strcmp(codename, b->suite));

		free(suite);
		free(codename);
		if (!match) {
			free(release);
			return build_fail(b, "the mirror's dists/%s/InRelease is signed for another suite", b->suite);
		}
	}
	if (check_valid_until(b, release) < 0) {
		free(release);
		return -EIO;
	}
	for (i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
		snprintf(name, sizeof(name), "main/binary-amd64/%s", indexes[i]);
		if (release_lookup(release, name, sha, &size) == 0)
			break;
	}
	free(release);
	if (i == sizeof(indexes) / sizeof(indexes[0]))
		return build_fail(b, "the mirror's Release lists no main/binary-amd64/Packages index");
	snprintf(url, sizeof(url), "%s/dists/%s/%s", b->mirror, b->suite, name);
	snprintf(path, sizeof(path), "%s/%s", b->work, indexes[i]);
	if (mirror_fetch(b, false, url, path, INDEX_MAX, sha, size) < 0)
		return -EIO;
	if (!(b->index = index_text(path)))
		return build_fail(b, "cannot read the mirror's %s", name);
	unlink(path);
	return 0;
}

int mirror_resolve(struct build *b, const char *name, struct deb *out)
{
	const char *start, *end;
	char *sz;

	memset(out, 0, sizeof(*out));
	if (!index_find(b->index, name, &start, &end))
		return build_fail(b, "package %s is not in the mirror's index", name);
	out->name = strdup(name);
	out->filename = stanza_field(start, end, "Filename");
	out->sha256 = stanza_field(start, end, "SHA256");
	sz = stanza_field(start, end, "Size");
	out->size = sz ? atoll(sz) : -1;
	free(sz);
	if (!out->name || !out->filename || !out->sha256 || out->size < 0 || strstr(out->filename, "..") ||
	    strlen(out->sha256) != SHA256_HEX_LEN)
		return build_fail(b, "package %s: the index gives no Filename, Size and SHA256", name);
	if (strcmp(name, "linux-image-amd64") == 0 && !(out->kernel = kernel_of(start, end)))
		return build_fail(b, "linux-image-amd64 in the mirror depends on no kernel package");
	return 0;
}

int64_t mirror_size(struct build *b, const char *name)
{
	const char *start, *end;
	int64_t size = -ENOENT;
	char *sz;

	if (!b->index || !index_find(b->index, name, &start, &end))
		return -ENOENT;
	if ((sz = stanza_field(start, end, "Size")))
		size = atoll(sz);
	free(sz);
	return size;
}

void deb_free(struct deb *d)
{
	free(d->name);
	free(d->filename);
	free(d->sha256);
	free(d->kernel);
	memset(d, 0, sizeof(*d));
}

/*
 * Files: the kernel and initramfs (GET /boot/FILE), image payloads (GET /images/NAME/FILE)
 * and the dashboard. Each name is one validated path component opened with openat() and
 * O_NOFOLLOW below its folder, so nothing outside the folders is ever served: not "..",
 * not an encoded dot, not a symlink, not a name cut short by a NUL. The body goes out with
 * sendfile (libmicrohttpd does so for fd responses), with HEAD, a single Range, ETag and
 * Last-Modified. A file that cannot be opened for want of descriptors or memory is a 503
 * (busy, ask again), never a 404: a booting machine must not conclude it is missing.
 * The dashboard's files carry a Content-Security-Policy: its pages run only their own
 * scripts and styles, talk only to anemosd, and are never framed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "kexec.sh.h"	/* kexec_sh: target-scripts/kexec.sh, made by make */

/* style.css draws an icon from a data: URL; the event stream is a fetch() (connect-src). */
#define DASHBOARD_CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static void dashboard_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", DASHBOARD_CSP);
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static void http_date(time_t t, char out[40])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static bool not_modified(struct request *req, const char *etag, time_t mtime)
{
	const char *inm = request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *ims = request_header(req, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	struct tm tm = { 0 };

	if (inm)
		return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
	if (ims && strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return mtime <= timegm(&tm);
	return false;
}

static enum MHD_Result not_found(struct request *req, const char *name)
{
	return respond_errorf(req, 404, "no file '%s' here", name);
}

static bool out_of_resources(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
}

/* Answers a failed open or stat of `name` by its errno: 503 when out of descriptors or
 * memory, 500 for an I/O error, else 404. */
static enum MHD_Result open_failed(struct request *req, const char *name, int err)
{
	if (out_of_resources(err))
		return respond_error(req, err_set(-err, "cannot open '%s' now (%s); try again later", name,
						  strerror(err)));
	if (err == EIO)
		return respond_error(req, err_set(-EIO, "cannot read '%s': %s", name, strerror(err)));
	return not_found(req, name);
}

/* Serves `name` from the folder open at dirfd (which this function closes); a file of the
 * dashboard with its headers. */
/* Opens name in dirfd (closing dirfd) as a regular file: fd >= 0 with *st, or answers the
 * request itself (400, 404, 503) and returns -errno (-EINVAL, the open's, -ENOENT) with *ret
 * set. */
static int open_served(struct request *req, int dirfd, const char *name, struct stat *st, enum MHD_Result *ret)
{
	int fd, err;

	if (!name_is_safe(name)) {
		close(dirfd);
		*ret = respond_errorf(req, 400, "invalid file name");
		return -EINVAL;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	err = errno;
	close(dirfd);
	if (fd >= 0 && fstat(fd, st) < 0) {
		err = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		*ret = open_failed(req, name, err);
		return -err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		*ret = not_found(req, name);
		return -ENOENT;
	}
	return fd;
}

/* An empty answer with one header (304 with the validators, 416 with Content-Range). */
static enum MHD_Result respond_empty(struct request *req, unsigned status, const char *header, const char *value,
				     const char *modified, bool dashboard)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, header, value);
	if (modified)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, modified);
	if (dashboard)
		dashboard_headers(r);
	return respond_response(req, status, r, 0);
}

static enum MHD_Result serve_file(struct request *req, int dirfd, const char *name,
				  const char *content_type, bool dashboard)
{
	char etag[80], modified[40], crange[96];
	const char *range, *if_range;
	uint64_t start = 0, len, size;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = 200;
	struct stat st;
	int fd, rc;

	if ((fd = open_served(req, dirfd, name, &st, &ret)) < 0)
		return ret;
	size = len = (uint64_t)st.st_size;
	snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%llx-%llx\"", size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st.st_mtim.tv_nsec,
		 (unsigned long long)st.st_ino);
	http_date(st.st_mtime, modified);
	if (not_modified(req, etag, st.st_mtime)) {
		close(fd);
		return respond_empty(req, 304, MHD_HTTP_HEADER_ETAG, etag, modified, dashboard);
	}
	range = request_header(req, MHD_HTTP_HEADER_RANGE);
	if_range = request_header(req, MHD_HTTP_HEADER_IF_RANGE);
	if (range && (!if_range || strcmp(if_range, etag) == 0 || strcmp(if_range, modified) == 0)) {
		rc = range_parse(range, size, &start, &len);
		if (rc == -ERANGE) {
			close(fd);
			snprintf(crange, sizeof(crange), "bytes */%" PRIu64, size);
			return respond_empty(req, 416, MHD_HTTP_HEADER_CONTENT_RANGE, crange, NULL, false);
		}
		if (rc == 0) {
			status = 206;
			snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
				 start + len - 1, size);
		} else {
			start = 0;
			len = size;
		}
	}
	/* The response owns fd from here on, and closes it when done. */
	r = MHD_create_response_from_fd_at_offset64(len, fd, start);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	response_common_headers(r, content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, modified);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	if (dashboard)
		dashboard_headers(r);
	if (status == 206)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
	return respond_response(req, status, r, len);
}

static int open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

enum MHD_Result handle_boot_file(struct request *req)
{
	int dirfd = open_dir(cfg.boot_dir);

	if (dirfd < 0)
		return open_failed(req, req->cap[0], errno);
	return serve_file(req, dirfd, req->cap[0], "application/octet-stream", false);
}

/* The script anemosctl runs on a host over SSH to kexec into the Anemos environment
 * (target-scripts/kexec.sh, compiled in: the one anemosctl deploy sends, byte for byte). */
enum MHD_Result handle_kexec_script(struct request *req)
{
	return respond_buffer(req, 200, "text/x-shellscript; charset=utf-8", kexec_sh, sizeof(kexec_sh) - 1);
}

enum MHD_Result handle_image_file(struct request *req)
{
	char path[4096];
	int images, dirfd, err;

	if (!name_is_safe(req->cap[0]))
		return respond_errorf(req, 400, "invalid image name");
	snprintf(path, sizeof(path), "%s/images", cfg.data_dir);
	images = open_dir(path);
	if (images < 0)
		return open_failed(req, req->cap[1], errno);
	dirfd = openat(images, req->cap[0], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	close(images);
	if (dirfd < 0)
		return open_failed(req, req->cap[1], err);
	return serve_file(req, dirfd, req->cap[1], "application/octet-stream", false);
}

static const char *web_content_type(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" }, { ".svg", "image/svg+xml" },
		{ ".png", "image/png" }, { ".json", "application/json" }, { ".txt", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* The dashboard's folder, or -1 having answered why there is none. */
static int web_dir_open(struct request *req, const char *name)
{
	int dirfd = cfg.web_dir ? open_dir(cfg.web_dir) : -1;

	if (dirfd < 0 && cfg.web_dir && out_of_resources(errno))
		open_failed(req, name, errno);
	else if (dirfd < 0)
		respond_errorf(req, 404, "no dashboard installed (anemosd --web-dir)");
	return dirfd;
}

enum MHD_Result handle_web_file(struct request *req)
{
	int dirfd = web_dir_open(req, req->cap[0]);

	if (dirfd < 0)
		return req->status ? MHD_YES : MHD_NO;
	return serve_file(req, dirfd, req->cap[0], web_content_type(req->cap[0]), true);
}

enum MHD_Result handle_web_index(struct request *req)
{
	int dirfd = web_dir_open(req, "index.html");

	if (dirfd < 0)
		return req->status ? MHD_YES : MHD_NO;
	return serve_file(req, dirfd, "index.html", "text/html; charset=utf-8", true);
}

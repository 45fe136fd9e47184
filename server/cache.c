/*
 * The package cache: an apt-cacher-ng on the appliance (anemos-cache.service) through which
 * targets fetch Debian packages, so that each package crosses the site's uplink once.
 * anemosd never talks to it: it rewrites mirror URLs into the form the cache proxies, and
 * counts the cache's hits and misses from the cache's own log for /metrics.
 *
 * apt-cacher-ng writes one line per transfer to apt-cacher.log, "TIME|TYPE|BYTES|CLIENT|PATH":
 * TYPE I is a download from the mirror (BYTES received, headers included), O a response to a
 * client (BYTES sent), E an error. Its report page counts a request as a miss when an I line
 * goes with it and as a hit otherwise (hits = O lines - I lines); the counters here agree.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anemosd.h"
#include "log.h"

#define LOG_CHUNK (64 * 1024)            /* bytes read at a time; longer lines are skipped */
#define LOG_READ_MAX (4 * 1024 * 1024)   /* bytes counted per cache_stats call at most */

/* What has been counted of the log, under lock. The file is kept open so that the lines
 * written to it before a rotation (rename, then a new file at the path) are still read. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static dev_t log_dev;
static ino_t log_ino;
static off_t log_offset;       /* bytes of log_fd counted; always the start of a line */
static uint64_t pending;       /* downloads (I lines) whose response (O line) is yet to come */
static struct cache_stats totals;
static bool failing;           /* the last call failed (warned once per failure streak) */
static char chunk[LOG_CHUNK];

/* The port of an http:// URL's authority (HOST, HOST:PORT, [V6]:PORT, USER@...), 80 when it
 * names none, -EINVAL when it is not a number. */
static long authority_port(const char *authority)
{
	size_t len = strcspn(authority, "/?#");
	const char *colon = NULL, *p;
	long port = 0;

	for (p = authority; p < authority + len; p++)
		if (*p == ':')
			colon = p;
		else if (*p == ']' || *p == '@')
			colon = NULL;
	if (!colon || colon + 1 == authority + len)
		return 80;
	for (p = colon + 1; p < authority + len; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return -EINVAL;
		port = port * 10 + (*p - '0');
	}
	return port;
}

char *cache_mirror_url(const char *mirror)
{
	const char *authority;
	size_t base;
	char *url;
	long port;

	/* The cache proxies plain HTTP only: it cannot see inside TLS, so an https:// mirror
	 * (like anything else that is not http://HOST...) is fetched directly. So is a mirror on
	 * a port above 32767: apt-cacher-ng 3.7.4 (Debian 12) connects to another port then. */
	if (!cfg.package_cache || strncasecmp(mirror, "http://", 7) != 0)
		return strdup(mirror);
	authority = mirror + 7;
	port = authority_port(authority);
	if (!*authority || *authority == '/' || port < 1 || port > 32767)
		return strdup(mirror);
	base = strlen(cfg.package_cache);
	while (base && cfg.package_cache[base - 1] == '/')
		base--;
	if (asprintf(&url, "%.*s/%s", (int)base, cfg.package_cache, authority) < 0)
		return NULL;
	return url;
}

/* Counts one log line (without its '\n'); lines of other shapes are ignored. */
static void count_line(const char *line, size_t len)
{
	const char *p = memchr(line, '|', len), *end = line + len;
	uint64_t bytes = 0;
	char type;

	if (!p || end - p < 4 || p[2] != '|' || (p[1] != 'I' && p[1] != 'O'))
		return;
	type = p[1];
	for (p += 3; p < end && *p >= '0' && *p <= '9'; p++)
		bytes = bytes * 10 + (uint64_t)(*p - '0');
	if (p < end && *p != '|')
		return;
	if (type == 'I') {
		totals.misses++;
		totals.fetched_bytes += bytes;
		pending++;
	} else {
		totals.sent_bytes += bytes;
		if (pending)
			pending--;
		else
			totals.hits++;
	}
}

/* Counts the complete lines of log_fd after log_offset, at most *budget bytes of them.
 * Returns 1 at the end of the file (a partial last line waits for its '\n'), 0 when the
 * budget ran out first, or a negative errno. */
static int count_new_lines(size_t *budget)
{
	struct stat st;

	if (fstat(log_fd, &st) < 0)
		return -errno;
	if (st.st_size < log_offset)  /* truncated in place (copytruncate): start over */
		log_offset = 0;
	while (*budget) {
		size_t want = *budget < LOG_CHUNK ? *budget : LOG_CHUNK, used;
		ssize_t n = pread(log_fd, chunk, want, log_offset);
		const char *line = chunk, *nl, *last;

		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		if (n == 0)
			return 1;
		last = memrchr(chunk, '\n', (size_t)n);
		if (!last) {
			if ((size_t)n < want)
				return 1;  /* a partial last line: wait for its end */
			if (want < LOG_CHUNK)
				return 0;  /* the budget ends inside a line */
			used = (size_t)n;  /* no line of apt-cacher-ng's is this long: skip it */
		} else {
			while ((nl = memchr(line, '\n', (size_t)(last + 1 - line)))) {
				count_line(line, (size_t)(nl - line));
				line = nl + 1;
			}
			used = (size_t)(last + 1 - chunk);
		}
		log_offset += (off_t)used;
		*budget -= used;
	}
	return 0;
}

/* Opens the file now at the log's path when it is not the one open (first use, or rotated
 * after the old one was read to its end). Returns 0 or a negative errno. */
static int follow_path(void)
{
	struct stat st;
	int fd;

	if (stat(cfg.package_cache_log, &st) < 0)
		return log_fd >= 0 && errno == ENOENT ? 0 : -errno;  /* rotated, not yet recreated */
	if (log_fd >= 0 && st.st_dev == log_dev && st.st_ino == log_ino)
		return 0;
	if ((fd = open(cfg.package_cache_log, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_dev = st.st_dev;
	log_ino = st.st_ino;
	log_offset = 0;
	return 0;
}

int cache_stats(struct cache_stats *out)
{
	size_t budget = LOG_READ_MAX;
	int rc = 1;

	pthread_mutex_lock(&lock);
	if (log_fd >= 0)
		rc = count_new_lines(&budget);
	if (rc == 1 && (rc = follow_path()) == 0)
		rc = count_new_lines(&budget);
	rc = rc < 0 ? rc : 0;
	if (rc < 0 && !failing)
		log_warn("package cache log %s: %s (anemos_package_cache_log_readable is 0 until it "
			 "can be read)", cfg.package_cache_log, strerror(-rc));
	failing = rc < 0;
	*out = totals;
	pthread_mutex_unlock(&lock);
	return rc;
}

void cache_shutdown(void)
{
	pthread_mutex_lock(&lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_offset = 0;
	pending = 0;
	memset(&totals, 0, sizeof(totals));
	failing = false;
	pthread_mutex_unlock(&lock);
}

/*
 * The image download, shaped for libarchive: stream_read() hands libarchive the next piece
 * of the HTTP body as it arrives (curl's multi interface, driven from inside the read), with
 * the SHA-256 and the byte count kept on the compressed bytes exactly as they came. When the
 * connection breaks, the transfer resumes with a Range request from the last byte received,
 * a bounded number of times; nothing is ever stored but what libarchive writes to the disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "install.h"

#define MAX_RESUMES 20

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
	struct stream *s = user;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	/* A resumed request must continue where we were: a 200 would restart the file. */
	if (s->resumed_at > 0 && status != 206) {
		snprintf(s->error, sizeof(s->error), "the server cannot resume the download (HTTP %ld)", status);
		return 0;
	}
	if (status != 200 && status != 206)
		return len; /* an error page; the status is reported when the transfer ends */
	if (s->fill_len + len > s->fill_cap) {
		size_t cap = s->fill_cap ? s->fill_cap : 1 << 20;
		char *grown;

		while (cap < s->fill_len + len)
			cap *= 2;
		if (!(grown = realloc(s->fill, cap)))
			return 0;
		s->fill = grown;
		s->fill_cap = cap;
	}
	memcpy(s->fill + s->fill_len, data, len);
	s->fill_len += len;
	sha256_update(s->sha, data, len);
	s->received += (uint64_t)len;
	return len;
}

/* Starts (or resumes) the transfer from s->received. */
static int transfer_start(struct stream *s)
{
	if (s->easy) {
		curl_multi_remove_handle(s->multi, s->easy);
		curl_easy_cleanup(s->easy);
	}
	if (!(s->easy = curl_easy_init()))
		return -ENOMEM;
	curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* stalled: resume instead */
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "anemos-agent");
	s->resumed_at = s->received;
	if (s->received)
		curl_easy_setopt(s->easy, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->received);
	curl_multi_add_handle(s->multi, s->easy);
	s->running = 1;
	return 0;
}

int stream_open(struct stream *s, const char *url)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->url, sizeof(s->url), "%s", url);
	s->sha = sha256_new();
	s->multi = curl_multi_init();
	if (!s->sha || !s->multi)
		return -ENOMEM;
	s->started = time(NULL);
	return transfer_start(s);
}

void stream_close(struct stream *s)
{
	if (s->easy) {
		curl_multi_remove_handle(s->multi, s->easy);
		curl_easy_cleanup(s->easy);
	}
	if (s->multi)
		curl_multi_cleanup(s->multi);
	sha256_abort(s->sha);
	free(s->fill);
	free(s->handed);
	memset(s, 0, sizeof(*s));
}

void url_for_log(const char *url, char *out, size_t outsz)
{
	const char *host = strstr(url, "://"), *at, *path;
	size_t cut;

	host = host ? host + 3 : url;
	path = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(path - host));
	cut = strcspn(at ? at + 1 : host, "?#");
	snprintf(out, outsz, "%.*s%.*s", (int)(host - url), url, (int)cut, at ? at + 1 : host);
}

/* Stops the probe's transfer at its first bytes. */
static size_t probe_data(char *data, size_t size, size_t n, void *user)
{
	(void)data, (void)size, (void)n, (void)user;
	return 0;
}

int stream_probe(const char *url)
{
	CURL *easy = curl_easy_init();
	char shown[256];
	long status = 0;
	CURLcode rc;

	url_for_log(url, shown, sizeof(shown));
	if (!easy)
		return err_set(-ENOMEM, "out of memory");
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_RANGE, "0-0");	/* a GET: a URL signed for GET may refuse HEAD */
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, probe_data);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "anemos-agent");
	rc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(easy);
	if ((status == 200 || status == 206) && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR))
		return 0;
	if (status >= 300)
		return err_set(-EIO, "the image is not there: HTTP %ld from %s", status, shown);
	return err_set(-EIO, "cannot reach the image at %s: %s", shown, curl_easy_strerror(rc));
}

/* Runs the transfer until there is data, the end, or a failure that cannot be resumed. */
static int pump(struct stream *s)
{
	while (s->fill_len == 0 && !s->done && !s->error[0]) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(s->multi, &s->running);
		while ((msg = curl_multi_info_read(s->multi, &left))) {
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
			if (msg->data.result == CURLE_OK && (status == 200 || status == 206)) {
				s->done = true;
			} else if (s->error[0]) {
				break;
			} else if (status >= 400) {
				char shown[200];

				url_for_log(s->url, shown, sizeof(shown));
				snprintf(s->error, sizeof(s->error), "download failed: HTTP %ld from %s", status, shown);
			} else if (s->resumes < MAX_RESUMES) {
				s->resumes++;
				fprintf(stderr, "anemos-agent: download interrupted at %llu bytes (%s); resuming (%d)\n",
					(unsigned long long)s->received, curl_easy_strerror(msg->data.result), s->resumes);
				sleep(s->resumes < 5 ? (unsigned)s->resumes : 5);
				if (transfer_start(s) < 0)
					snprintf(s->error, sizeof(s->error), "out of memory");
			} else {
				snprintf(s->error, sizeof(s->error), "download failed after %d resumes: %s",
					 s->resumes, curl_easy_strerror(msg->data.result));
			}
		}
		if (s->fill_len == 0 && !s->done && !s->error[0])
			curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
		if (s->progress)
			s->progress(s);
	}
	return s->error[0] ? -EIO : 0;
}

ssize_t stream_read(struct archive *ar, void *cls, const void **out)
{
	struct stream *s = cls;
	char *swap;
	size_t len, cap;

	if (pump(s) < 0) {
		archive_set_error(ar, EIO, "%s", s->error);
		return -1; /* -1 allowed: libarchive's read callback contract */
	}
	/* Hand libarchive the filled buffer; it is ours again at the next call. */
	swap = s->handed;
	cap = s->handed_cap;
	s->handed = s->fill;
	s->handed_cap = s->fill_cap;
	len = s->fill_len;
	s->fill = swap;
	s->fill_cap = cap;
	s->fill_len = 0;
	*out = s->handed;
	return (ssize_t)len;
}

int stream_drain(struct stream *s)
{
	while (!s->done) {
		if (pump(s) < 0)
			return -EIO;
		s->fill_len = 0;
	}
	return 0;
}

/*
 * libFuzzer: the JSON bodies of the operator API and of the agent endpoints, through the real
 * operations (hosts.c, remote.c, images.c) on a real SQLite store, opened once (db_init) in a
 * temporary folder. Before each input the store is put back to the same state: one image
 * "tiny" and one host "web1" (MAC 52:54:00:00:00:01, next boot install), so that an input
 * gives the same result however often it runs.
 *
 * Input: up to 8 requests separated by NUL bytes; each is one letter naming the operation,
 * then its body, parsed as http.c parses bodies (json_loadb, JSON_REJECT_DUPLICATES):
 *   e POST /api/v1/hosts                 hosts_enroll
 *   p PATCH /api/v1/hosts/web1           hosts_patch (P: the host by its id)
 *   k POST /api/v1/hosts/web1/kexec      hosts_kexec
 *   c POST .../kexec/cancel              hosts_kexec_cancel
 *   a POST /api/v1/inventory             hosts_adopt (A: ?host=web1)
 *   m POST /api/v1/images                images_register (files "tiny.tar.gz" and
 *                                        "other.raw" lie in DATA/images/tiny/ and other/)
 *   i POST /api/v1/agent/inventory       hosts_record_inventory (web1's agent)
 *   v POST /api/v1/agent/events          hosts_agent_event
 *   d POST /api/v1/agent/done            hosts_agent_done (install mode; D: discover)
 *   h POST /api/v1/phone-home            hosts_phone_home
 * Any other first byte picks one by its value. Besides crashes and leaks, findings are: an
 * operation failing with a code http.c answers 500 (a client's body must never cause one)
 * or without a message; a success whose answer cannot be rendered; a request that changes
 * the identity (MACs, hostname, UUID, serial) of a host other than the one it is about
 * (web1 for all but e, a and m, which may only add hosts), or gives web1 more than 32 new
 * MACs at once; and a store left so that listing a host, its JSON or its events fails, or
 * with a hostname that reads as a MAC, a UUID or an id. With ANEMOS_FUZZ_VERBOSE set, each
 * request's result is printed (to see what a reproducer does).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anemosd.h"
#include "log.h"
#include "support.h"

#define WEB1_MAC "52:54:00:00:00:01"

static char dir[PATH_MAX], path_boot[PATH_MAX + 8]; /* the store's folder, under $TMPDIR */
static int64_t web1; /* the baseline host's id in this input */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void store_remove(void)
{
	db_shutdown();
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes a small file at dir/rel (its folder made first when sub is not NULL). */
static void put_file(const char *sub, const char *rel, const char *content)
{
	char path[PATH_MAX + 64];
	FILE *f;

	if (sub) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (!(f = fopen(path, "w")) || fputs(content, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void store_open(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/anemos-fuzz-api-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	log_set_level(LOG_ERROR);
	snprintf(path_boot, sizeof(path_boot), "%s/boot", dir);
	cfg.data_dir = dir;
	cfg.boot_dir = path_boot;
	cfg.public_url = "http://192.0.2.1:8080";
	cfg.agent_token_ttl = 3600;
	cfg.phone_home_ttl = 86400;
	cfg.kernel_args = "console=ttyS0";
	put_file("boot", "boot/vmlinuz", "kernel");
	put_file(NULL, "boot/initramfs.img", "initramfs");
	put_file("images", "images/.keep", "");
	put_file("images/tiny", "images/tiny/tiny.tar.gz", "not really a tar");
	put_file("images/other", "images/other/other.raw", "a disk");
	if (db_init(dir) < 0) {
		fprintf(stderr, "db_init(%s): %s\n", dir, err_msg());
		exit(1);
	}
	atexit(store_remove);
}

static json_t *parse(const char *text)
{
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

	if (!v)
		fuzz_fail("the harness's own JSON is malformed: %s", text);
	return v;
}

/* Back to the baseline: no hosts, no images but "tiny", host web1. */
static void store_reset(void)
{
	struct host *hosts, h;
	struct image *images, im;
	size_t n;
	json_t *req;
	char ref[32];

	if (db_host_list(NULL, 0, 0, &hosts, &n) < 0)
		fuzz_fail("listing the hosts to reset the store: %s", err_msg());
	for (size_t i = 0; i < n; i++) {
		snprintf(ref, sizeof(ref), "%lld", (long long)hosts[i].id);
		if (hosts_delete(ref) < 0)
			fuzz_fail("deleting host %s to reset the store: %s", ref, err_msg());
		host_free(&hosts[i]);
	}
	free(hosts);
	if (db_image_list(&images, &n) < 0 || db_begin() < 0)
		fuzz_fail("listing the images to reset the store: %s", err_msg());
	for (size_t i = 0; i < n; i++) {
		if (db_image_delete(images[i].name) < 0)
			fuzz_fail("deleting image %s to reset the store: %s", images[i].name, err_msg());
		image_free(&images[i]);
	}
	free(images);
	if (db_commit() < 0)
		fuzz_fail("resetting the store: %s", err_msg());
	/* External (no file to hash on every input: sha256_file reads through a 1 MiB buffer). */
	req = parse("{\"name\": \"tiny\", \"url\": \"http://192.0.2.9/tiny.tar.gz\", \"sha256\": "
		    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}");
	if (images_register(req, &im) < 0)
		fuzz_fail("registering the baseline image: %s", err_msg());
	image_free(&im);
	json_decref(req);
	req = parse("{\"mac\": \"" WEB1_MAC "\", \"hostname\": \"web1\", \"image\": \"tiny\", "
		    "\"next_boot\": \"install\"}");
	if (hosts_enroll(req, &h) < 0)
		fuzz_fail("enrolling the baseline host: %s", err_msg());
	web1 = h.id;
	host_free(&h);
	json_decref(req);
}

#define NEW_MACS_MAX 32 /* hosts.c's INVENTORY_NEW_MACS */

/* Who every host is: "hostname uuid serial mac,mac,..." by host id. */
struct identities {
	int64_t *ids;
	char **who;
	size_t *nmacs;
	size_t n;
};

static void identities_take(struct identities *out)
{
	struct host *hosts;
	size_t n;

	if (db_host_list(NULL, 0, 0, &hosts, &n) < 0)
		fuzz_fail("listing the hosts: %s", err_msg());
	out->ids = calloc(n ? n : 1, sizeof(*out->ids));
	out->who = calloc(n ? n : 1, sizeof(*out->who));
	out->nmacs = calloc(n ? n : 1, sizeof(*out->nmacs));
	if (!out->ids || !out->who || !out->nmacs)
		fuzz_fail("out of memory");
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		struct host *h = &hosts[i];
		size_t len = 64;
		char *w;

		for (size_t m = 0; m < h->nmacs; m++)
			len += strlen(h->macs[m]) + 1;
		len += (h->hostname ? strlen(h->hostname) : 0) + (h->uuid ? strlen(h->uuid) : 0) +
		       (h->serial ? strlen(h->serial) : 0);
		if (!(w = malloc(len)))
			fuzz_fail("out of memory");
		snprintf(w, len, "%s %s %s ", h->hostname ? h->hostname : "-", h->uuid ? h->uuid : "-",
			 h->serial ? h->serial : "-");
		for (size_t m = 0; m < h->nmacs; m++) {
			strcat(w, h->macs[m]);
			strcat(w, ",");
		}
		out->ids[i] = h->id;
		out->who[i] = w;
		out->nmacs[i] = h->nmacs;
		host_free(h);
	}
	free(hosts);
}

static void identities_free(struct identities *ids)
{
	for (size_t i = 0; i < ids->n; i++)
		free(ids->who[i]);
	free(ids->ids);
	free(ids->who);
	free(ids->nmacs);
}

/* After request op: every host of *known (taken before it) but target (0: none) is who it
 * was, and target gained at most NEW_MACS_MAX MACs. *known becomes the hosts as they are now. */
static void identities_check(char op, struct identities *known, int64_t target)
{
	const struct identities *before = known;
	struct identities after;

	identities_take(&after);
	for (size_t i = 0; i < before->n; i++) {
		size_t j;

		for (j = 0; j < after.n && after.ids[j] != before->ids[i]; j++)
			;
		if (before->ids[i] == target) {
			if (j < after.n && after.nmacs[j] > before->nmacs[i] + NEW_MACS_MAX)
				fuzz_fail("'%c' gave host %lld %zu new MACs (at most %d)", op,
					  (long long)target, after.nmacs[j] - before->nmacs[i], NEW_MACS_MAX);
			continue;
		}
		if (j == after.n)
			fuzz_fail("'%c' removed host %lld", op, (long long)before->ids[i]);
		if (strcmp(before->who[i], after.who[j]) != 0)
			fuzz_fail("'%c' changed host %lld, which it is not about: '%s' became '%s'", op,
				  (long long)before->ids[i], before->who[i], after.who[j]);
	}
	identities_free(known);
	*known = after;
}

/* What an operation answered, as its handler would render it. */
struct answer {
	bool has_host, has_image;
	struct host host;
	struct image image;
	json_t *json;
};

static int run(char op, json_t *body, struct answer *a)
{
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)web1);
	switch (op) {
	case 'e': a->has_host = true; return hosts_enroll(body, &a->host);
	case 'p': a->has_host = true; return hosts_patch("web1", body, &a->host);
	case 'P': a->has_host = true; return hosts_patch(id, body, &a->host);
	case 'k': return hosts_kexec("web1", body, &a->json);
	case 'c': a->has_host = true; return hosts_kexec_cancel("web1", body, &a->host);
	case 'a': a->has_host = true; return hosts_adopt(body, NULL, &a->host);
	case 'A': a->has_host = true; return hosts_adopt(body, "web1", &a->host);
	case 'm': a->has_image = true; return images_register(body, &a->image);
	case 'i': a->has_host = true; return hosts_record_inventory(web1, body, &a->host);
	case 'v': return hosts_agent_event(web1, body, &a->json);
	case 'd': a->has_host = true; return hosts_agent_done(web1, "install", body, &a->host);
	case 'D': a->has_host = true; return hosts_agent_done(web1, "discover", body, &a->host);
	default: a->has_host = true; return hosts_phone_home(web1, body, &a->host);
	}
}

/* The codes http.c answers with a 4xx (anemosd.h); anything else is a 500 or a 503. */
static bool client_error(int rc)
{
	return rc == -EINVAL || rc == -EPERM || rc == -EACCES || rc == -ENOENT || rc == -EEXIST ||
	       rc == -EBUSY || rc == -E2BIG;
}

/* Fails unless json renders, as respond_json would send it. */
static void renders(json_t *json, char op, const char *what)
{
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;

	if (!text)
		fuzz_fail("'%c' succeeded but %s does not render", op, what);
	free(text);
	json_decref(json);
}

/* One request; *known holds who every host was before it, and after it on return. */
static void request(char op, const char *body_text, size_t len, struct identities *known)
{
	struct answer a = { .has_host = false };
	json_error_t jerr;
	json_t *body = json_loadb(body_text, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (!body)
		return; /* a 400 at the edge */
	err_clear();
	rc = run(op, body, &a);
	if (getenv("ANEMOS_FUZZ_VERBOSE"))
		fprintf(stderr, "'%c' %.*s: %d %s\n", op, (int)len, body_text, rc, rc < 0 ? err_msg() : "");
	if (rc < 0 && !client_error(rc))
		fuzz_fail("'%c' failed with %d (HTTP 500 or 503): %s", op, rc, err_msg());
	if (rc < 0 && !err_msg()[0])
		fuzz_fail("'%c' failed with %d and no message", op, rc);
	if (rc == 0 && a.has_host) {
		renders(host_to_json(&a.host, true), op, "the host");
		host_free(&a.host);
	} else if (rc == 0 && a.has_image) {
		renders(image_to_json(&a.image), op, "the image");
		image_free(&a.image);
	} else if (rc == 0) {
		renders(a.json, op, "the answer");
	}
	identities_check(op, known, strchr("eam", op) ? 0 : web1);
	json_decref(body);
}

/* Every host of the store can still be listed, shown and its events read, and none is named
 * so that a reference to it would find another host. */
static void store_check(void)
{
	json_t *list, *host, *events;
	size_t i;
	int rc;

	if ((rc = hosts_list(NULL, 0, 0, &list)) < 0)
		fuzz_fail("the host list fails after this input: %d %s", rc, err_msg());
	json_array_foreach(json_object_get(list, "hosts"), i, host) {
		json_t *id = json_object_get(host, "id");
		const char *name = json_string_value(json_object_get(host, "hostname"));
		char ref[32], mac[MAC_LEN + 1], uuid[UUID_LEN + 1];
		struct host h;

		if (!json_is_integer(id) || !json_is_object(json_object_get(host, "install")))
			fuzz_fail("host %zu of the list is malformed after this input", i);
		if (name && (mac_parse(name, mac) == 0 || uuid_parse(name, uuid) == 0 ||
			     strspn(name, "0123456789") == strlen(name)))
			fuzz_fail("host %lld is named '%s', which reads as a MAC, a UUID or an id",
				  (long long)json_integer_value(id), name);
		snprintf(ref, sizeof(ref), "%lld", (long long)json_integer_value(id));
		if ((rc = hosts_get(ref, &h)) < 0)
			fuzz_fail("host %s cannot be read after this input: %s", ref, err_msg());
		renders(host_to_json(&h, true), 'g', "a stored host");
		host_free(&h);
		if ((rc = hosts_events(ref, 100, &events)) < 0)
			fuzz_fail("host %s's events cannot be read after this input: %s", ref, err_msg());
		json_decref(events);
	}
	renders(list, 'l', "the host list");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ops[] = "epPkcaAmivdDh";
	static bool opened;
	const char *p = (const char *)data, *end = p + size;
	struct identities known;

	if (!opened) {
		store_open();
		opened = true;
	}
	store_reset();
	identities_take(&known);
	for (int n = 0; n < 8 && p < end; n++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p)), *stop = nul ? nul : end;
		char op = *p;

		if (stop > p) {
			if (!strchr(ops, op))
				op = ops[(unsigned char)op % (sizeof(ops) - 1)];
			request(op, p + 1, (size_t)(stop - p - 1), &known);
		}
		p = stop + 1;
	}
	identities_free(&known);
	store_check();
	return 0;
}

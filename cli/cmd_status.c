/*
 * anemosctl status: the appliance at a glance. Whether anemosd answers (GET /healthz, which
 * takes no token), its hosts counted by status in the order GET /api/v1/meta gives, its
 * images, and the URLs machines boot from and people open: anemosd's --public-url when it has
 * one (GET /api/v1/meta says), else the address each machine reached it by.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "anemosctl.h"

/* The host part of @url ("http://HOST:PORT/..."), for @len bytes at *@host. */
static void url_host(const char *url, const char **host, size_t *len)
{
	const char *start = strstr(url, "://") + 3;

	if (*start == '[') {
		*host = start;
		*len = strcspn(start, "]") + 1;
	} else {
		*host = start;
		*len = strcspn(start, ":/");
	}
}

/* True when @url names this machine only (127.0.0.0/8, ::1, localhost). */
static bool url_is_loopback(const char *url)
{
	const char *host;
	size_t len;

	url_host(url, &host, &len);
	return (len >= 4 && strncmp(host, "127.", 4) == 0) || (len == 5 && strncmp(host, "[::1]", 5) == 0) ||
	       (len == 9 && strncmp(host, "localhost", 9) == 0);
}

/*
 * Counts @hosts by status into a new object, {"new": N, ...}: every status of @meta, in
 * its order, then any other a host has. Returns it for the caller, or NULL (with the message).
 */
static json_t *count_by_status(const json_t *meta, const json_t *hosts)
{
	const json_t *statuses = json_object_get(meta, "statuses"), *item;
	json_t *counts = json_object(), *count;
	const char *name;
	size_t i;

	if (!counts)
		goto nomem;
	json_array_foreach(statuses, i, item)
		if ((name = json_string_value(json_object_get(item, "name"))) &&
		    json_object_set_new(counts, name, json_integer(0)) != 0)
			goto nomem;
	json_array_foreach(hosts, i, item) {
		if (!(name = json_string_value(json_object_get(item, "status"))))
			continue;
		count = json_object_get(counts, name);
		if (json_object_set_new(counts, name, json_integer(json_integer_value(count) + 1)) != 0)
			goto nomem;
	}
	return counts;
nomem:
	json_decref(counts);
	err_set(-ENOMEM, "out of memory");
	return NULL;
}

/* Prints the human form of the status @report (as --json prints it). */
static void print_status(const json_t *report, const char *url)
{
	const json_t *counts = json_object_get(report, "hosts_by_status"), *count;
	json_int_t hosts = json_integer_value(json_object_get(report, "hosts"));
	json_int_t images = json_integer_value(json_object_get(report, "images"));
	const char *name, *host;
	size_t len;
	int listed = 0;

	printf("anemosd:    %s answers: %s\n", url, json_text(report, "health"));
	if (hosts == 0)
		printf("hosts:      none yet; a machine that network-boots from the boot URL appears here,"
		       " or enroll one: anemosctl host add MAC\n");
	else
		printf("hosts:      %" JSON_INTEGER_FORMAT, hosts);
	json_object_foreach((json_t *)counts, name, count) {
		if (json_integer_value(count) == 0)
			continue;
		printf("%s%s %" JSON_INTEGER_FORMAT, listed++ ? ", " : " (", name, json_integer_value(count));
	}
	if (listed)
		printf(")\n");
	if (images == 0)
		printf("images:     none yet; add one: anemosctl image add FILE|URL|DIR\n");
	else
		printf("images:     %" JSON_INTEGER_FORMAT "\n", images);
	printf("boot URL:   %s  (iPXE chains here; `anemosctl dnsmasq config` points PXE at it)\n",
	       json_text(report, "boot_url"));
	if (json_string_value(json_object_get(report, "public_url")))
		printf("machines:   are told %s (anemosd's --public-url)%s\n", json_text(report, "public_url"),
		       url_is_loopback(json_text(report, "public_url")) ? "; only this machine reaches it" : "");
	else
		printf("machines:   are told the address each one reached anemosd by (answered from each"
		       " request's Host; --public-url sets one URL)\n");
	if (!json_string_value(json_object_get(report, "public_url")) && url_is_loopback(url)) {
		/* The same port, as QEMU's user network forwards 10.0.2.2 to this machine. */
		url_host(url, &host, &len);
		printf("            (this machine only; other machines use anemosd's address on their network,"
		       " a QEMU guest on the user network %.*s10.0.2.2%s/boot.ipxe)\n",
		       (int)(strstr(url, "://") + 3 - url), url, host + len);
	}
	printf("dashboard:  %s\n", json_text(report, "dashboard"));
}

/*
 * Gathers the status report, {"url", "health", "hosts", "hosts_by_status", "images",
 * "boot_url", "public_url" (anemosd's --public-url, or null: each request's Host), "dashboard"},
 * into *@report for the caller. Returns 0 or a negative errno
 * (with the message).
 */
static int gather_status(const struct ctl *ctl, json_t **report)
{
	json_t *meta = NULL, *hosts = NULL, *images = NULL, *counts = NULL;
	const json_t *host_list, *image_list, *public_url;
	char *health = NULL, *boot_url = NULL, *dashboard = NULL;
	int rc;

	*report = NULL;
	if ((rc = api_get_text(ctl, "/healthz", &health)) != 0 ||
	    (rc = api_call(ctl, "GET", "/api/v1/meta", NULL, &meta)) != 0 ||
	    (rc = api_call(ctl, "GET", "/api/v1/hosts", NULL, &hosts)) != 0 ||
	    (rc = api_call(ctl, "GET", "/api/v1/images", NULL, &images)) != 0)
		goto out;
	if (!(host_list = answer_array(hosts, "hosts")) || !(image_list = answer_array(images, "images"))) {
		rc = -EPROTO;
		goto out;
	}
	health[strcspn(health, "\r\n")] = '\0';
	/* Machines chain to the public URL when anemosd has one, else to the address they use. */
	public_url = json_object_get(meta, "public_url");
	if (asprintf(&boot_url, "%s/boot.ipxe", json_is_string(public_url) ? json_string_value(public_url) : ctl->url) < 0)
		boot_url = NULL;
	if (asprintf(&dashboard, "%s/", ctl->url) < 0)
		dashboard = NULL;
	if (!(counts = count_by_status(meta, host_list))) {
		rc = -ENOMEM;
		goto out;
	}
	if (!boot_url || !dashboard ||
	    !(*report = json_pack("{s:s, s:s, s:I, s:O, s:I, s:s, s:s?, s:s}", "url", ctl->url, "health", health,
				  "hosts", (json_int_t)json_array_size(host_list), "hosts_by_status", counts,
				  "images", (json_int_t)json_array_size(image_list), "boot_url", boot_url,
				  "public_url", json_string_value(public_url), "dashboard", dashboard))) {
		rc = err_set(-ENOMEM, "out of memory");
	}
out:
	json_decref(meta);
	json_decref(hosts);
	json_decref(images);
	json_decref(counts);
	free(health);
	free(boot_url);
	free(dashboard);
	return rc;
}

int appliance_status(struct ctl *ctl, int argc, char **argv)
{
	json_t *report;
	int rc;

	if ((rc = parse_command(argc, argv, NULL, NULL, NULL, 0, 0)) < 0)
		return rc;
	if ((rc = gather_status(ctl, &report)) != 0)
		return rc;
	if (ctl->json)
		print_json(report);
	else
		print_status(report, ctl->url);
	if (strcmp(json_text(report, "health"), "ok") != 0) {
		rc = err_set(-EPROTO, "%s/healthz did not answer \"ok\"; is --url pointing at anemosd?", ctl->url);
	}
	json_decref(report);
	return rc;
}

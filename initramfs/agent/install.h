/* The install: the plan's image onto the local disk, made bootable, configured per host. */
#ifndef ANEMOS_INSTALL_H
#define ANEMOS_INSTALL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <archive.h>
#include <curl/curl.h>

#include "agent.h"
#include "crypto.h"

/* stream.c: the image download as libarchive's input (see the file). */
struct stream {
	char url[2048];
	CURLM *multi;
	CURL *easy;
	int running;
	bool done;             /* the whole body arrived */
	char error[256];       /* why it failed, "" while it has not */
	int resumes;
	struct sha256_ctx *sha;
	uint64_t received;     /* bytes of the (compressed) image so far */
	uint64_t resumed_at;   /* where the current transfer started, 0 for the first */
	time_t started;
	char *fill, *handed;   /* being filled by curl / lent to libarchive */
	size_t fill_len, fill_cap, handed_cap;
	void (*progress)(struct stream *s); /* called while waiting for data */
	void *cls;             /* the progress callback's */
};
int stream_open(struct stream *s, const char *url);
void stream_close(struct stream *s);
/* libarchive's read callback; cls is the struct stream. */
ssize_t stream_read(struct archive *ar, void *cls, const void **out);
/* Receives (and hashes) whatever libarchive did not need, up to the end of the body. */
int stream_drain(struct stream *s);
/* Whether url answers with the image's first byte (a one-byte range GET): 0, or -errno with
 * the message set (the HTTP status, or what failed). A deploy asks before it touches the disk. */
int stream_probe(const char *url);
/* url as logs may show it: without user:password@ and without the query (a signed URL's
 * signature), at most outsz - 1 bytes. */
void url_for_log(const char *url, char *out, size_t outsz);

/* install.c */

/* Installs per plan, using the inventory the agent posted. Returns an enum agent_exit. */
int install_run(struct agent *a, json_t *plan, json_t *inventory);
/* anemos-agent --unpack: streams an image as an install does (HTTP, libarchive, SHA-256
 * verified) into the folder `to` (archives) or the file `to` (raw images), touching no disk
 * and telling no server. For inspecting images and for bench/. Returns an enum agent_exit. */
int install_unpack(struct agent *a, const char *url, const char *sha256, const char *format, const char *to);

/* network.c */
#define NET_ADDR_MAX 8	/* "addresses": at most this many beside "address" */
#define NET_DNS_MAX 8
enum net_format {
	NET_ANEMOS,	/* /etc/anemos/network, for the busybox images' /sbin/init */
	NET_NETWORKD,	/* a systemd-networkd .network file */
	NET_NOCLOUD,	/* cloud-init's NoCloud network-config, version 2 */
	NET_IFUPDOWN,	/* ifupdown's /etc/network/interfaces */
};
/* install.network from anemos.net's SPEC (lib/boot_contract.h: static,ADDRESS[+ADDRESS...],
 * GATEWAY[+GATEWAY...],DNS[+DNS...][,FLAGS] with FLAGS auto6 and dhcp6 joined by "+"; dhcp
 * with the same fields after it, of which only the IPv6 side is kept; or dhcp) and the NIC's
 * MAC (anemos.mac, may be NULL). A SPEC with no usable address and no dhcp6 is
 * {"mode": "dhcp"}. A new reference, or NULL when out of memory. */
json_t *network_from_boot_arg(const char *spec, const char *mac);
/* Whether install.network @net says more than DHCP alone: a static network, or DHCP with
 * static IPv6 addresses or DHCPv6 without router advertisements beside it (files for those
 * are written; under DHCP alone the image's stay). */
bool network_has_settings(json_t *net);
/* Whether install.network @net asks DHCPv6 ("ipv6": "dhcp"): one DHCP client for it. */
bool network_asks_dhcp6(json_t *net);
/* install.network written as format reads it: a malloc'd text the caller frees, or NULL when
 * out of memory. */
char *network_render(json_t *net, enum net_format format);
/* install.network from anemos.net= and anemos.mac= of the kernel command line in the file
 * @cmdline_path (kexec.sh wrote them from the old system's), or NULL when it has none. */
json_t *network_from_cmdline(const char *cmdline_path);
/* Puts the carried network (network_from_cmdline) into @plan's install settings when they
 * name none or only anemosd's default ({"mode": "dhcp", "default": true}): a host reinstalled
 * over SSH keeps its static addresses in the new system unless its settings say otherwise. */
void network_carry(json_t *plan, const char *cmdline_path);

/* configure.c */
/* What makes a copy of an image this host, written into the target root rootfd (target.c:
 * nothing outside it, whatever symlinks the image holds): fstab when root_uuid is not ""
 * (the ESP too when esp_uuid is not ""), hostname and hosts, root's SSH keys and password
 * hash, the network, the cloud-init seed, the phone-home token (asked of anemosd, in
 * /etc/anemos/phone-home, mode 0600) and, on a systemd image without its own, the phone-home
 * unit copied from a->phone_home_dir. 0, or -EIO with the message (err_set) naming the file
 * and, when an image's symlink is the cause, that symlink. */
int configure_host(struct agent *a, json_t *plan, int rootfd, const char *root_uuid, const char *esp_uuid);

#endif

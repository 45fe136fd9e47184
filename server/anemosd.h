/*
 * anemosd internal interfaces — a map of the program, one banner per file.
 *
 * Layers: http*.c parse, authenticate, validate and respond; they call the operations in
 * hosts.c, boot.c, images.c and tokens.c, which know nothing about HTTP; those call db.c,
 * the only file that speaks SQL. Functions return 0 or a negative errno; the message for
 * the operator is set with err_set() and turned into an HTTP status only at the edge
 * (http.c: -EINVAL 400, -EPERM 401, -EACCES 403, -ENOENT 404, -EEXIST/-EBUSY 409,
 * -E2BIG 413, -EAGAIN/-EMFILE/-ENFILE/-ENOMEM 503 with Retry-After (out of descriptors or
 * memory, or busy: the client asks again later), anything else 500).
 */
#ifndef ANEMOSD_H
#define ANEMOSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "errors.h"
#include "lifecycle.h"
#include "placeholder.h"

#define MAC_LEN 17   /* "aa:bb:cc:dd:ee:ff" */
#define UUID_LEN 36  /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define TOKEN_HASH_LEN 64

/* main.c: the daemon's settings, filled from the command line. Its strings are main()'s (the
 * command line's, literals, or copies main frees at exit): read only to everyone else. */
struct config {
	const char *listen;          /* ADDR:PORT, default 127.0.0.1:8080 */
	const char *data_dir;        /* SQLite database and images/, default ./var */
	const char *boot_dir;        /* vmlinuz and initramfs.img, default DATA/boot */
	const char *public_url;      /* base URL machines use to reach us, no trailing '/' */
	bool public_url_given;       /* --public-url was given: every answer names it; else each
				      * request's own Host does (urls.c) */
	const char *web_dir;         /* dashboard files; NULL serves no dashboard */
	const char *scripts_dir;     /* ipxe-scripts/ templates */
	unsigned threads;            /* worker threads, default 2 x CPUs */
	long agent_token_ttl;        /* seconds an agent token lives, default 3600 */
	long phone_home_ttl;         /* seconds an installed system may phone home, default 30 days */
	size_t max_body;             /* request body limit in bytes, default 1 MiB */
	size_t max_inventory_body;   /* inventory body limit in bytes, default 8 MiB */
	const char *kernel_args;     /* extra kernel arguments of the Anemos environment */
	const char *ssh_keys_file;   /* authorized_keys added to every plan, or NULL */
	const char *package_cache;   /* apt-cacher-ng base URL (http://ADDR:PORT) targets fetch
				      * Debian packages through, or NULL for none */
	const char *package_cache_log; /* that cache's apt-cacher.log, counted for /metrics, or
					* NULL: /metrics then says nothing about the cache */
	unsigned max_connections;    /* connections at once, default 4096; main() lowers it to
				      * what the open-file limit allows (see fd_budget) */
	unsigned max_per_address;    /* connections at once from one client address, default 64;
				      * 0 = no limit */
	unsigned max_waiting;        /* long-polled plans and event streams at once, default (0)
				      * 3/4 of max_connections; main() keeps it below that */
	unsigned header_timeout;     /* seconds from a connection's opening (or from its previous
				      * answer) to a request's complete headers, default 10 */
	uint64_t max_image_size;     /* image upload limit in bytes, default 64 GiB */
	bool unknown_hosts_ignore;   /* --unknown-hosts ignore: unknown machines get the `none`
				      * script and create nothing; default false (discover) */
	bool agent_any_address;      /* agent tokens work from any address (NAT between racks and
				      * anemosd); default false */
	const char *listen_tls;      /* ADDR:PORT of the HTTPS listener, or NULL for none; with it
				      * the plain listener serves the boot path only */
	const char *tls_cert_file;   /* PEM certificate (chain) of the HTTPS listener */
	const char *tls_key_file;    /* its PEM private key: mode 0600 or stricter */
	unsigned tls_threads;        /* worker threads of the HTTPS listener, half of threads
				      * (at least 2); 0 without one */
	const char *operator_url;    /* the URL browsers and anemosctl reach anemosd by, no
				      * trailing '/'; default https:// + listen_tls with TLS, else
				      * NULL (public_url serves) */
	const char *metrics_token_file; /* GET /metrics wants the token in this file (mode 0600
					 * or stricter); NULL: /metrics is open */
	unsigned bmc_timeout;        /* seconds one BMC exchange may take, default 10 */
	unsigned power_workers;      /* BMC calls at once (power.c), default 4 */
	unsigned power_poll;         /* seconds between power-state polls of every BMC, default
				      * 60; 0 polls never */
	unsigned webhook_timeout;    /* seconds one webhook delivery may take, default 10 */
	unsigned webhook_attempts;   /* attempts of a delivery before it is marked failed,
				      * default 20 (about an hour of backoff) */
};
extern struct config cfg;

/* err_set, err_msg, err_clear: lib/errors.h, the one error convention of every program. */

/* parse.c: pure validation and parsing of what clients send. None allocates; on failure the
 * output is untouched unless said otherwise. */
/* A MAC in any of iPXE's and operators' spellings into "aa:bb:cc:dd:ee:ff": 0, or -EINVAL
 * (also for NULL). */
int mac_parse(const char *in, char out[MAC_LEN + 1]);
/* True for a canonical MAC a NIC can have: not all zero, not multicast (nor broadcast). */
bool mac_is_nic(const char *mac);
/* The most MACs one host holds (NICs, and the MACs it booted from). */
#define HOST_MACS_MAX 64
/* A UUID, with or without dashes, into lower-case 8-4-4-4-12 form: 0, or -EINVAL. */
int uuid_parse(const char *in, char out[UUID_LEN + 1]);
/* True for serials firmware ships unset ("To Be Filled By O.E.M.", "0000000", blanks). */
bool serial_is_placeholder(const char *serial);
/* True for one path component safe to open: [A-Za-z0-9._-], not starting with '.' or '-',
 * at most 128 bytes. */
bool name_is_safe(const char *name);
/* An RFC 1123 host name, lower-cased into out: 0, or -EINVAL with err_set (out may hold a
 * partial copy then). */
int hostname_normalize(const char *in, char *out, size_t outsz);
/* True for an image format anemosd knows (tar.zst, raw.gz, recipe, ...). */
bool image_format_valid(const char *format);
/* The format a file name's suffix says (a static string), or NULL. */
const char *image_format_from_name(const char *name);
/* Range header parsing: returns 0 with the range in *start and *len, 1 when the header is to be
 * ignored (serve the whole file), -ERANGE when unsatisfiable (416). */
int range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len);
/* t as "2026-12-01T12:00:00Z" (UTC). */
void time_iso8601(time_t t, char out[32]);

/* template.c: the iPXE script templates of ipxe-scripts/. */
/* One {{name}} of a rendering and its value; both strings are the caller's, read during the
 * call only. */
struct tvar {
	const char *name;
	const char *value;
};
/* Reads every *.ipxe template of dir, keeping them until templates_free (a second call
 * replaces what the first read): 0, or a negative errno with err_set (-errno: dir cannot be
 * opened, what was loaded stays; -EIO: a template cannot be read, or -ENOMEM: none is loaded
 * then). */
int templates_load(const char *dir);
/* Frees every template templates_load read; template_render then finds none (-ENOENT). */
void templates_free(void);
/* Renders template `name` with vars; returns a malloc'd string the caller frees, or NULL
 * with err_set when the template is missing (-ENOENT), names an unknown variable, or a value
 * holds a character that could change the script's meaning (-EINVAL). */
char *template_render(const char *name, const struct tvar *vars, size_t nvars);
/* As template_render, for the template text tpl itself: a malloc'd string the caller frees,
 * or NULL with err_set (-EINVAL: an unknown variable, an unsafe value, an unterminated "{{";
 * -ENOMEM). */
char *template_render_text(const char *tpl, const struct tvar *vars, size_t nvars);
/* True when value may go into a script: no control or non-ASCII byte and none of
 * $ " ' \ ` ; | & < > # { } (template_render refuses any other value). */
bool template_value_safe(const char *value);

/* urls.c: the base URL machines are told, per request (see the file). */
/* True for host[:port] as a Host header may say it (an address or a DNS name). */
bool url_host_valid(const char *host);
/* Starts a request: its Host header (or NULL) becomes the base URL public_url() answers,
 * when no --public-url was given, the Host is valid and the request is not over TLS. */
void public_url_begin(const char *host_header, bool tls);
/* True for a valid Host whose host part is an IPv4 address or a bracketed IPv6 one. */
bool url_host_is_address(const char *host);
/* --public-url, else the current request's http://HOST[:PORT], else the listen address's. */
const char *public_url(void);

/* db.c: the store. Each thread gets its own connection; writers serialise on one mutex.
 * Functions return 0, -ENOENT (no such row), -EEXIST (a constraint: MAC or hostname taken),
 * -ENOMEM/-EMFILE/-ENFILE (503) or -EIO, each with err_set unless a comment says "no
 * message". A struct a function fills is the caller's to free (host_free, image_free, ...),
 * also when a later step fails; a function that fails leaves nothing in it to free. */
/* A host as the store holds it. Every string and the macs array (and each MAC in it) belong
 * to the struct: malloc'd copies made by db.c, freed by host_free; a function that changes one
 * frees the old string. NULL strings are unknown. */
struct host {
	int64_t id;
	enum host_status status;
	enum boot_action next_boot;
	char *hostname, *image, *uuid, *serial, *vendor, *product, *asset;
	char *ssh_keys;  /* JSON array text */
	/* The inventory is a row of its own (host_inventories): the host reads leave it out and
	 * an update writes it only when it changed, so that status changes, tokens and the host
	 * list do not read and write 11 KB each. */
	bool has_inventory; /* the host has an inventory stored */
	char *inventory; /* its JSON object text: NULL until loaded (db_host_load_inventory) or set */
	bool inventory_changed; /* inventory was set and is not written yet: db_host_insert and
				 * db_host_update write it, and clear this */
	char *progress;  /* while installing: the newest progress event as JSON text, else NULL */
	char *summary;   /* the inventory's key facts as JSON text, NULL without inventory */
	char *install;   /* install settings, a JSON object text (see install_settings_check) */
	char *tags;       /* the operator's tags, a JSON array text, sorted, lower case */
	char *attributes; /* the operator's attributes, a JSON object text of strings */
	bool labels_changed; /* tags or attributes were changed: db_host_update writes them */
	char *drift;      /* hardware changes not yet acknowledged, a JSON array text (drift.c),
			   * or NULL for none */
	char *bmc;       /* BMC settings, a JSON object text whose password is sealed (power.c), or
			  * NULL for none */
	char *bmc_enroll; /* an in-band BMC enroll asked for and not done yet: a JSON object text
			   * (power.c: state, username, the password sealed), or NULL */
	char *power_state; /* what the BMC said last (power.c's names), NULL never asked */
	char *power_error; /* why the last call to the BMC failed, NULL when it did not */
	int64_t power_checked; /* unix seconds of that call, 0 = never */
	bool once;
	int64_t last_seen, created, updated; /* unix seconds, 0 = never */
	char **macs;
	size_t nmacs;
};
/* An image record. Every string belongs to the struct (malloc'd by db.c, freed by image_free);
 * NULL strings are absent. A struct passed to db_image_insert may point anywhere instead. */
struct image {
	char *name, *format, *sha256, *file, *url;
	char *recipe; /* format "recipe": {"base","suite","mirror","keyring","packages"} as JSON
		       * text (recipe.c reads it from the bundle); NULL for other images */
	int64_t size; /* bytes, -1 unknown */
	int64_t created;
};
/* An event to add; its strings are the caller's, read during db_event_add only. */
struct event {
	int64_t host_id;
	const char *source, *level, *phase, *message;
	int64_t bytes, total; /* -1 = absent */
	const char *actor;    /* who made an operator's event (the admin token's name), or NULL */
};
/* What an admin token may do, each role all the one before it may: read (viewer); change
 * hosts and images, power, SSH reinstalls (operator); manage tokens (admin). */
enum admin_role { ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN, ROLE_COUNT };
/* The admin token a request came with. */
struct admin_who {
	int64_t id;
	enum admin_role role;
	char name[65]; /* "" when it has none */
};
/* Identifiers a booting machine reports; NULL members are unknown. The strings are the
 * caller's (the request's), read during the call they are passed to only. */
struct boot_identity {
	char mac[MAC_LEN + 1];
	const char *uuid, *serial, *vendor, *product, *asset;
	const char *arch; /* iPXE's ${buildarch}, for the record only */
};

/* Opens (creating, migrating) DATA/anemos.db: 0, or a negative errno with err_set. */
int db_init(const char *data_dir);
/* Stops what db_init started and closes the connections; call once, from the main thread. */
void db_shutdown(void);
/* Closes the calling thread's connection (a thread that ends; it reopens on next use). */
void db_thread_end(void);
/* A write transaction: db_begin takes the writers' mutex and joins the open batch (group
 * commit, see db.c): 0, or a negative errno with err_set and no transaction. Every db_begin
 * that returns 0 is ended, on its thread, by exactly one db_commit or db_rollback. db_commit
 * returns once the batch that holds the transaction is committed (0) or failed (a negative
 * errno with err_set: nothing of it was kept). db_rollback undoes this transaction's writes
 * (the batch's other members stay) and cannot fail. Reads need no transaction. */
int db_begin(void);
int db_commit(void);
void db_rollback(void);
/* The one transaction tail: runs work(arg) between db_begin and db_commit, rolled back
 * instead when work fails. Returns work's failure (-errno, its message kept), db_begin's or
 * db_commit's, or 0 once committed. work must not begin a transaction of its own. */
int db_txn(int (*work)(void *arg), void *arg);
/* Free every string (and MAC) the struct holds and zero it, ready to be filled again; NULL and
 * a zeroed struct are fine. The struct itself stays the caller's. */
void host_free(struct host *host);
void image_free(struct image *image);
/* The host by id, or by REF (tried as a positive numeric id, then as a MAC in any spelling,
 * then as an SMBIOS UUID in any case, with or without dashes, then as a hostname), into *out
 * (host_free): 0, or -ENOENT with err_set. */
int db_host_get(int64_t id, struct host *out);
int db_host_find_by_ref(const char *ref, struct host *out);
/* The id of the host that holds MAC mac (canonical), that has SMBIOS UUID uuid (the lowest id
 * when several), or that has serial serial with vendor vendor or an unknown vendor (vendor
 * NULL: any; the lowest id), into *id: 0, or -ENOENT with no message. */
int db_host_find_by_mac(const char *mac, int64_t *id);
int db_host_find_by_uuid(const char *uuid, int64_t *id);
int db_host_find_by_serial(const char *serial, const char *vendor, int64_t *id);
/* Inside the caller's transaction: a new host of h's hostname, status, next boot, image, once,
 * identifiers, SSH keys, install and last_seen (its inventory when inventory_changed, its tags
 * and attributes when labels_changed; no MACs, BMC or drift), created now; its id into *id.
 * -EEXIST when the hostname is taken. */
int db_host_insert(struct host *host, int64_t *id);
/* Inside the caller's transaction: writes every column of h to host h->id (updated = now; its
 * inventory when inventory_changed, its tags and attributes when labels_changed; not its
 * MACs). -EEXIST when the hostname is taken.
 * No -ENOENT: a host that is gone is not written (0, or -EEXIST when labels_changed). */
int db_host_update(struct host *host);
/* Deletes host id with its MACs, events, tokens, tags, attributes and power requests (its
 * rules' claims stay): 0, or -ENOENT with err_set. */
int db_host_delete(int64_t id);
/* Adds MAC mac (canonical) to host id: 0, or -EEXIST with err_set ("belongs to another host")
 * when any host holds it already, this one included, or when host id is gone. */
int db_host_add_mac(int64_t id, const char *mac);
/* What a boot decision reads of the host that holds MAC mac, in one read: id, status, next
 * boot and the identifiers (malloc'd; host_free); every other field empty. -ENOENT when no
 * host holds it (no message). */
int db_host_boot_by_mac(const char *mac, struct host *out);
/* Inside the caller's transaction: last_seen = now, and the identity facts of ident (uuid,
 * serial, vendor, product, asset) the host lacks; 0 also when the host is gone. */
int db_host_seen(int64_t id, const struct boot_identity *ident);
/* Inside the caller's transaction: host id seen now, with a boot event (level, message) from
 * the server; 0 and nothing written when the host is gone, else a negative errno. */
int db_host_seen_event(int64_t id, const char *level, const char *message);
/* Inside the caller's transaction: the inventory inv's key facts (firmware, CPU, memory,
 * disks) into host id's columns, read from the parsed JSON (no SQL JSON functions under the
 * write lock): 0 or a negative errno with err_set. inv stays the caller's. */
int db_host_set_facts(int64_t id, json_t *inv);
/* The WAL file's size in bytes now (0 when there is none), and into *truncations (may be
 * NULL) how many times the checkpointer truncated it. */
int64_t db_wal_bytes(uint64_t *truncations);
/* How many batches were committed so far, and how many write transactions they held. */
void db_group_commits(uint64_t *batches, uint64_t *transactions);
/* Host id's inventory text as committed now (or as the caller's transaction wrote it) into
 * *text (malloc'd; NULL when it has none, or when there is no such host): 0, or a negative
 * errno with err_set. */
int db_host_inventory(int64_t id, char **text);
/* h->inventory read from the store when h has one that is not loaded yet: 0 (also when there
 * is none, or it is loaded), or a negative errno with err_set. */
int db_host_load_inventory(struct host *h);
/* The hosts matching query (a search, query.h; NULL: all) whose id is above after, in id
 * order, at most limit of them (0: all), into *out, a malloc'd array of *n hosts the caller
 * frees (host_free each, then free; NULL when *n is 0). -EINVAL with err_set naming the
 * position when query does not parse; on failure *out and *n are untouched. */
int db_host_list(const char *query, int64_t after, int64_t limit, struct host **out, size_t *n);
/* {"STATUS": count, ...} into out. */
int db_host_count_by_status(json_t *out);
/* Adds an event (its id into *id, may be NULL) and prunes the host to its newest 1,000. */
int db_event_add(const struct event *ev, int64_t *id);
/* The host's newest `limit` events, oldest first, appended to out (an array). */
int db_event_list(int64_t host_id, int limit, json_t *out);
/* The image named name into *out (image_free): 0, or -ENOENT with err_set. */
int db_image_get(const char *name, struct image *out);
/* A new image record (created now: image->created is not read): 0, or -EEXIST with err_set
 * when the name is taken. The strings stay the caller's. */
int db_image_insert(const struct image *image);
/* Deletes the record named name (not its file: images_delete removes that): 0, -ENOENT with
 * err_set, or -EEXIST while a host names the image. */
int db_image_delete(const char *name);
/* The lowest id of a host whose image is name into *host_id: 0 (in use), or -ENOENT with no
 * message (no host uses it). */
int db_image_in_use(const char *name, int64_t *host_id);
/* Every image, by name, into *out, a malloc'd array of *n (image_free each, then free; NULL
 * when *n is 0); on failure *out and *n are untouched. */
int db_image_list(struct image **out, size_t *n);
/* An agent or phone-home token as stored (only its hash). */
struct agent_token {
	int64_t host_id;
	char hash[TOKEN_HASH_LEN + 1];
	char mode[16];     /* discover, install, rescue (agent) or phone-home */
	char address[64];  /* the address it was issued to or first used from; "" for none yet */
	int served;        /* what this boot was given once: AGENT_SERVED_* bits */
	int64_t expires;
};
#define AGENT_SERVED_SECRETS    1 /* a plan with the install's secrets */
#define AGENT_SERVED_PHONE_HOME 2 /* the phone-home token */
#define AGENT_SERVED_BMC_ENROLL 4 /* a plan with a BMC enroll (bmc_enroll.c) */
/* Inside the caller's transaction: a token of host_id by its hash, in mode, expiring at
 * expires (unix seconds); address may be NULL (bound by its first use). -EEXIST when the hash
 * is taken or the host is gone. */
int db_agent_token_insert(int64_t host_id, const char *hash, const char *mode, const char *address,
			  int64_t expires);
/* The unexpired token of that hash (any mode, phone-home too): 0 with *out, or -ENOENT with no
 * message. */
int db_agent_token_lookup(const char *hash, int64_t now, struct agent_token *out);
/* The host's newest unexpired agent token (not phone-home): 0 with *out, or -ENOENT with no
 * message. */
int db_agent_token_live(int64_t host_id, int64_t now, struct agent_token *out);
/* Binds a token issued unbound to address (only while it is unbound: 0 and nothing changed
 * when it is bound already, or gone). */
int db_agent_token_bind(const char *hash, const char *address);
/* Sets a token's mode and served bits (inside the caller's transaction; 0 also when it is
 * gone). */
int db_agent_token_update(const char *hash, const char *mode, int served);
/* Deletes host_id's agent tokens (phone_home false: every boot's) or its phone-home token
 * (true): 0, also when it had none. */
int db_agent_token_revoke(int64_t host_id, bool phone_home);
/* A new admin token by its hash, named name (may be NULL), with role, created now (expires:
 * unix seconds, 0 = never): 0, or -EEXIST when the hash is taken. */
int db_admin_token_insert(const char *hash, const char *name, int64_t expires, enum admin_role role);
/* The unexpired admin token of that hash into *who (0; a role this anemosd does not know reads
 * as viewer), or -ENOENT with no message. */
int db_admin_token_lookup(const char *hash, int64_t now, struct admin_who *who);
/* 0 while admin token id exists and has not expired, else -ENOENT with no message. */
int db_admin_token_valid(int64_t id, int64_t now);
/* Appends {"id","name","created","expires","role"} of every admin token to out (an array). */
int db_admin_token_list(json_t *out);
/* The ids of the tokens named name, in id order: the first max into ids, and *n says how many
 * there are (more than max when ids could not hold them all). */
int db_admin_token_by_name(const char *name, int64_t *ids, size_t max, size_t *n);
/* Deletes admin token id: 0, or -ENOENT with err_set. */
int db_admin_token_revoke(int64_t id);
/* The name of admin token id ("token ID" when it has none) into out: 0, or -ENOENT. */
int db_admin_token_name(int64_t id, char *out, size_t outsz);
/* Records that host id's power state was read at `when` and found as it was: only
 * power_checked changes (not `updated`, no notice). Inside a transaction. 0 or -errno. */
int db_host_power_read(int64_t id, int64_t when);
/* The ids of the hosts that have BMC settings, in id order, into *ids (malloc'd, the
 * caller frees it; NULL when *n is 0). On failure *ids is untouched. */
int db_host_with_bmc(int64_t **ids, size_t *n);
/* A power action acknowledged and not carried out yet (inside the caller's transaction;
 * boot may be NULL): its id into *id. _done forgets it (inside the transaction that records
 * its outcome; 0 also when it is gone); _list appends {"id","host_id","action","boot","who"}
 * of each, oldest first, to out (an array). A deleted host's are deleted with it. Each
 * returns 0 or a negative errno with err_set. */
int db_power_request_add(int64_t host_id, const char *action, const char *boot, const char *who, int64_t *id);
int db_power_request_done(int64_t id);
int db_power_request_list(json_t *out);
/* A discovery rule as the store holds it (rules.c); strings belong to the struct (rule_free). */
struct rule {
	int64_t id;
	char *name, *query;
	char *actions;     /* a JSON object text (rules.c checks it) */
	int64_t priority;  /* lower is tried first; then by name */
	int64_t max_count; /* at most this many hosts ever claimed; -1 = no limit */
	bool enabled;
	int64_t created, updated; /* unix seconds */
	int64_t claimed;   /* hosts claimed so far (read only) */
};
/* Frees r's strings and zeroes it; NULL is fine. */
void rule_free(struct rule *r);
/* The rule named name into *out (rule_free; -ENOENT with err_set), every rule in the order they
 * are tried (priority, then name; *out malloc'd, NULL when *n is 0: rule_free each, then free),
 * a new one (its id into *id; -EEXIST when the name is taken), a changed one (by id:
 * everything but its name), or one removed with its claims. Update and delete return 0 also
 * when no rule has the id; r's strings stay the caller's. */
int db_rule_get(const char *name, struct rule *out);
int db_rule_list(struct rule **out, size_t *n);
int db_rule_insert(const struct rule *r, int64_t *id);
int db_rule_update(const struct rule *r);
int db_rule_delete(int64_t id);
/* Inside the caller's transaction: records that rule_id claimed host_id now; how many it
 * claimed so far (into *count); {"host_id","hostname" (null once the host is gone),"time"} of
 * each, appended to out (an array). Each returns 0 or a negative errno with err_set. */
int db_rule_claim(int64_t rule_id, int64_t host_id);
int db_rule_claim_count(int64_t rule_id, int64_t *count);
int db_rule_claim_list(int64_t rule_id, json_t *out);
/* Whether host host_id matches the search query now (inside a write transaction: as that
 * transaction has it) into *match: 0; -EINVAL with err_set naming the position when the
 * query does not compile. */
int db_rule_matches(const char *query, int64_t host_id, bool *match);

/* Saved searches (query.h @NAME): their list as {"name","query","created_by","updated"}
 * objects appended to out; one's query into *query (malloc'd, the caller frees it; NULL and
 * -ENOENT with err_set when there is none); put creates or replaces (*created says which), in
 * one transaction of its own; delete too (-ENOENT with err_set when there is none). */
int db_search_list(json_t *out);
int db_search_get(const char *name, char **query);
int db_search_put(const char *name, const char *query, const char *who, bool *created);
int db_search_delete(const char *name);

/* A webhook as the store holds it (webhooks.c); every string belongs to the struct
 * (webhook_free). */
struct webhook {
	int64_t id;
	char *url;
	char *events;        /* the filter, normalised: "deployed,failed" or "*" */
	char *secret_sealed; /* secret.c's text, for context "webhook:ID"; never in an answer */
	bool enabled;
	int64_t created, updated;  /* unix seconds */
	int64_t last_event_id;     /* the delivery cursor: events up to it were taken */
	char *last_result;         /* "ok", "retry" or "failed"; NULL before the first */
	int64_t last_delivery;     /* unix seconds of that result, 0 = never */
	int64_t failing_since;     /* unix seconds of the first failure since the last success, 0 = not failing */
	char *last_error;          /* why the last attempt failed, NULL when it did not */
};
/* One delivery of one event (or a ping) to one webhook; strings belong to it (delivery_free). */
struct delivery {
	int64_t id, webhook_id;
	int64_t event_id;    /* 0 for a ping */
	char *kind;          /* "event" or "ping" */
	char *body;          /* the JSON sent, the same bytes every attempt */
	char *status;        /* "pending", "sending" (a ping), "ok" or "failed" */
	int attempts;
	int64_t next_attempt;      /* unix seconds, while pending */
	int64_t last_status;       /* the receiver's HTTP status, 0 = none (it did not answer) */
	char *last_error;
	int64_t created, updated;
};
/* Free every string the struct holds and zero it; NULL is fine. */
void webhook_free(struct webhook *w);
void delivery_free(struct delivery *d);
/* Inside the caller's transaction: a webhook whose cursor starts at the newest event, its id
 * into *id (its secret is set afterwards, sealed for its id). */
int db_webhook_insert(const char *url, const char *events, bool enabled, int64_t *id);
/* Inside the caller's transaction: webhook id's sealed secret; 0 also when it is gone. */
int db_webhook_set_secret(int64_t id, const char *sealed);
/* How many webhooks there are, into *n. */
int db_webhook_count(int64_t *n);
/* 0 with *out (webhook_free), or -ENOENT with err_set. */
int db_webhook_get(int64_t id, struct webhook *out);
/* Every webhook in id order into *out, a malloc'd array of *n (webhook_free each, then free). */
int db_webhook_list(struct webhook **out, size_t *n);
/* url, events and enabled of w->id; -ENOENT when it is gone. */
int db_webhook_update(const struct webhook *w);
/* Deletes webhook id with its deliveries: 0, or -ENOENT with err_set. */
int db_webhook_delete(int64_t id);
/* Moves the cursor forward to event_id (never back). */
int db_webhook_cursor(int64_t id, int64_t event_id);
/* The result of a delivery's attempt ("ok", "retry", "failed") and its error (NULL). */
int db_webhook_result(int64_t id, const char *result, const char *error);
/* A delivery of event_id (0: a ping) in status, due now; keeps the webhook's newest 100. */
int db_delivery_add(int64_t webhook_id, int64_t event_id, const char *kind, const char *body, const char *status,
		    int64_t *id);
/* The webhook's pending delivery into *out (delivery_free), or -ENOENT with no message when it
 * has none. */
int db_delivery_pending(int64_t webhook_id, struct delivery *out);
/* Writes d's status, attempts, next_attempt, last_status and last_error. */
int db_delivery_result(const struct delivery *d);
/* Makes the webhook's pending delivery due now (an operator changed the webhook). */
int db_delivery_due_now(int64_t webhook_id);
/* Marks the pings still "sending" (a stop cut them short) failed. */
int db_delivery_abandoned(void);
/* The webhook's newest `limit` deliveries, newest first, appended to out (delivery_to_json). */
int db_delivery_list(int64_t webhook_id, int limit, json_t *out);
/* At most limit events of any host whose id is above after, in id order, appended to out as
 * {"id","time","host":{"id","hostname","status"},"source","level","phase","message","bytes",
 * "total","actor"}. */
int db_events_after(int64_t after, int limit, json_t *out);

/* tokens.c: admin and per-boot agent tokens; only hashes are stored. */
/* A new admin token named name, expiring `ttl` seconds from now (0: never); its text into
 * out, its id into *id (may be NULL). One transaction. */
int token_admin_create(const char *name, int64_t ttl, enum admin_role role, char *out, size_t outsz, int64_t *id);
/* A role's name ("viewer", "operator", "admin"; NULL out of range), and back: 0, or -EINVAL
 * with err_set listing the roles. */
const char *admin_role_name(enum admin_role role);
int admin_role_parse(const char *name, enum admin_role *out);
/* Revokes the admin token ref names: its id, or its name when one token has it (-EEXIST
 * when several do, the message lists their ids). One transaction. */
int token_admin_revoke(const char *ref);
/* How many admin tokens were revoked since start (a counter that only grows). */
uint64_t token_admin_revocations(void);
/* A fresh agent token for host_id's boot in mode, revoking its older ones, bound to address
 * (the machine that receives it; NULL: bound by its first use); inside the caller's
 * transaction. */
int token_agent_issue(int64_t host_id, const char *mode, bool retire_phone_home, const char *address,
		      char *out, size_t outsz);
/* 0 with the token's id, role and name in *who (may be NULL) for a live admin token; -EPERM
 * unknown, revoked or expired; -EACCES an agent token; each with err_set. */
int token_authenticate_admin(const char *token, struct admin_who *who);
/* 0 with *out when token is a live agent token used from the address it is bound to (peer;
 * NULL checks no address); a token used from elsewhere is -EPERM and recorded on its host,
 * unless cfg.agent_any_address. */
int token_authenticate_agent(const char *token, const char *peer, struct agent_token *out);
/* 1 with *out when host_id has a live agent token bound to an address other than peer (or not
 * bound yet); 0 when it has none, for a NULL peer or with cfg.agent_any_address; or -errno. */
int token_agent_held_elsewhere(int64_t host_id, const char *peer, struct agent_token *out);
/* Inside the caller's transaction: a fresh phone-home token for host_id, its text into out
 * (at least 78 bytes), revoking the host's older one, expiring cfg.phone_home_ttl from now:
 * 0 or a negative errno with err_set. */
int token_phone_home_issue(int64_t host_id, char *out, size_t outsz);
/* 0 with *host_id for a live phone-home token; -EACCES when token is not one by its prefix,
 * -EPERM unknown, expired or replaced by a newer install; each with err_set. */
int token_authenticate_phone_home(const char *token, int64_t *host_id);
/* True when token starts with the agent (admin) token prefix; nothing is looked up. */
bool token_looks_agent(const char *token);
bool token_looks_admin(const char *token);

/* validate.c: the fields operators send for a host (pure; -EINVAL with err_set). */
/* -EINVAL naming the first key of req that is not in the NULL-terminated allowed list
 * ("unknown field 'install.colour'" with where "install"), or when req is not an object. */
int fields_check(json_t *req, const char *const *allowed, const char *where);
/* hostname_normalize, and refused when the result reads as a MAC or a UUID (numeric ones
 * are refused by hostname_normalize): a host is found by any of them. */
int hostname_check(const char *in, char *out, size_t outsz);
/* 0 for an array of at most 100 keys, each a non-empty line of at most 16 KiB; else -EINVAL. */
int ssh_keys_check(json_t *keys);
/* The install settings object (each key by one checker; see validate.c). */
int install_settings_check(json_t *install);
/* The BMC settings an operator sends ({"protocol","address","port","username","password"},
 * each optional: a PATCH changes the fields it names); the password's text never appears in
 * a message. */
int bmc_settings_check(json_t *bmc);
/* What answers show for a secret install setting, and what a PATCH sends back to keep it. */
#define SECRET_MASK "<secret>"
/* True for an install setting that is a secret (root_password_hash, cloud_init_user_data):
 * answers show SECRET_MASK instead, and a PATCH that sends SECRET_MASK back keeps the host's
 * value. */
bool install_setting_secret(const char *key);

/* labels.c: tags and attributes. A tag is 1..HOST_LABEL_MAX of letters, digits, _ . : -,
 * starting with a letter or digit (kept in lower case); an attribute name 1..HOST_LABEL_MAX of
 * a-z 0-9 _ -, starting with a letter, and not a search key of its own; a value a one-line
 * string of 1..HOST_ATTR_VALUE_MAX or a number. A host has at most HOST_TAGS_MAX tags and
 * HOST_ATTRS_MAX attributes. */
#define HOST_LABEL_MAX 64
#define HOST_ATTR_VALUE_MAX 256
#define HOST_TAGS_MAX 64
#define HOST_ATTRS_MAX 64
/* The checks return 0, or -EINVAL with err_set naming the culprit. tags_apply and
 * attributes_apply change h's tags/attributes text as the body's "tags" / "attributes" says
 * (labels.c's banner; the old text freed), set h->labels_changed, and return 0; on failure
 * -EINVAL (or -ENOMEM) with err_set and h unchanged. v stays the caller's. */
int tag_check(const char *tag);
int attribute_name_check(const char *name);
int tags_apply(struct host *h, json_t *v);
int attributes_apply(struct host *h, json_t *v);

/* history.c: an operator's change in words. host_fields_json returns a new object of the
 * fields an operator sets (install with its secrets; never send it anywhere), NULL on
 * ENOMEM. host_changes_describe returns what differs between two of them, old → new
 * ("next_boot discover → install; tags +db -retired; install.root_password_hash set",
 * secrets named only), or "nothing ..." when nothing does; malloc'd, NULL on ENOMEM. */
json_t *host_fields_json(const struct host *h);
char *host_changes_describe(json_t *before, json_t *after);
/* drift.c: what changed in the hardware between two inventories (drift.c's banner says how
 * parts are matched): a new array of {"part": "disk"|"dimm"|"nic"|"cpu"|"bios", "change":
 * "added"|"removed"|"replaced"|"changed", "what"} or {..., "was", "now"}; [] when nothing
 * did; NULL on ENOMEM. drift_words: one change in words ("disk replaced: sda … → sda …"),
 * malloc'd, NULL on ENOMEM. Both leave their arguments the caller's. */
json_t *inventory_drift(json_t *old_inventory, json_t *new_inventory);
char *drift_words(json_t *change);

/* hosts.c: host operations. Each public one is a transaction of its own unless it says so;
 * on success the host is written to *out (the caller frees it with host_free), on failure
 * *out is untouched and nothing is written. */
/* Moves h->status along the lifecycle table (lib/lifecycle.h) for event, in memory; -EBUSY
 * with a message when the table refuses the event in h's status. */
int host_transition(struct host *h, enum host_event event);
/* What a host_change_fn returns besides 0 (write the host) or a negative errno: see
 * hosts_update. */
#define HOSTS_UNCHANGED 1
#define HOSTS_QUIET 2
typedef int (*host_change_fn)(struct host *h, void *arg);
/* One change of one host as one transaction: begin, find the host by ref (or by id when ref
 * is NULL), change(h, arg) (which changes *h in memory and may add events and other rows),
 * write it, read it back into *out (when out is not NULL), commit and notify. A change that
 * returns HOSTS_UNCHANGED rolls back and answers the host as it was; one that returns
 * HOSTS_QUIET commits what it wrote itself but not the host row, and tells no one (a poll that
 * found what was known); a negative return (or any failure after it) rolls everything back
 * and is returned. */
int hosts_update(const char *ref, int64_t id, host_change_fn change, void *arg, struct host *out);
/* Applies the operator-settable fields of req to *h in memory, each validated (no
 * transaction; the image named must exist). */
int hosts_apply(struct host *h, json_t *req);
/* The host as the API shows it (secret install settings masked, never the BMC password; the
 * inventory only with with_inventory): a new reference the caller owns, NULL out of memory. */
json_t *host_to_json(const struct host *host, bool with_inventory);
/* Inside the caller's transaction: the host a booting machine is, found by MAC, then SMBIOS
 * UUID, then serial (placeholders ignored; a MAC it was not known by is added), or with create
 * a new discovering host; last_seen and the identifiers it lacked recorded; into *out
 * (host_free). -ENOENT with no message (nothing written) when unknown and not create. */
int hosts_identify(const struct boot_identity *ident, bool create, struct host *out);
/* {"hosts": [...]} of the hosts matching query (NULL: all), in id order; with limit > 0 at
 * most limit of those whose id is above after, and "next": the after of the next page (a
 * string), or null on the last page. */
int hosts_list(const char *query, int64_t after, int64_t limit, json_t **out);
/* Enrolls every host of the array req (each as hosts_enroll) in one transaction: all, or
 * none and -errno with err_set naming the first bad entry. *out: {"hosts": [...]}. */
int hosts_enroll_many(json_t *req, json_t **out);
/* POST /api/v1/hosts: a new host from req ("mac" required; hostname, next_boot, image, once,
 * ssh_authorized_keys, install, tags, attributes as hosts_apply), with an event. -EINVAL (a
 * bad or unknown field), -EEXIST (the MAC or hostname is taken). */
int hosts_enroll(json_t *req, struct host *out);
/* PATCH /api/v1/hosts/REF: hosts_apply's fields of req through hosts_update, with an event
 * that says what changed, old → new. -EINVAL (a bad or unknown field), -ENOENT, -EBUSY (the
 * lifecycle refuses the status), -EEXIST (the hostname is taken). */
int hosts_patch(const char *ref, json_t *req, struct host *out);
/* Deletes the host ref names, with all db_host_delete removes: 0, or -ENOENT. */
int hosts_delete(const char *ref);
/* {"events": [...]}: the newest limit events of the host ref names, oldest first, into *out (a
 * new reference); -ENOENT. A read after the queued boot records (seen_flush). */
int hosts_events(const char *ref, int limit, json_t **out);
/* The host ref names into *out (host_free), after the queued boot records (seen_flush): 0, or
 * -ENOENT with err_set. A read. */
int hosts_get(const char *ref, struct host *out);
/* host_id's agent posted its inventory (an object; "nics" an array of at most 256): stored
 * with its identity facts, MACs and key facts, drift against the last one recorded, the status
 * moved (-EBUSY when the lifecycle refuses), the discovery rules fired on a first inventory;
 * through hosts_update. -EINVAL for a bad inventory. inv stays the caller's (a NIC without
 * "lldp" gains the one it had last time). */
int hosts_record_inventory(int64_t host_id, json_t *inventory, struct host *out);
/* inventory_body.c: an agent's inventory body (len bytes of text) parsed into a new object of
 * the members anemosd reads, the members it only stores (the PCI devices) kept as text in a
 * new *rest (",\"pci\":[...]", or NULL when none or when jansson parsed it whole); NULL
 * with err (jansson's) when the text is not an inventory jansson accepts (JSON_REJECT_DUPLICATES). */
json_t *inventory_body_parse(const char *text, size_t len, char **rest, json_error_t *err);
/* The compact text of inv with rest (inventory_body_parse's, or NULL) spliced in: new, or
 * NULL when out of memory. */
char *inventory_body_text(json_t *inv, const char *rest);
/* hosts_record_inventory, given text as well: the compact JSON text inventory was parsed from
 * (no whitespace outside strings; NULL when there is none), stored as it is instead of being
 * written out again (unless a kept switch port changed inventory); and rest, the members
 * inventory_body_parse kept out of inventory (or NULL), written with it. text and rest stay
 * the caller's. */
int hosts_record_inventory_text(int64_t host_id, json_t *inventory, const char *text, const char *rest,
				struct host *out);
/* host_id's agent's event ({"message" (required), "phase", "level": info|warn|error, "bytes",
 * "total"}), in its own transaction; *out: the event as stored, a new reference. -EINVAL for a
 * bad body. */
int hosts_agent_event(int64_t host_id, json_t *req, json_t **out);
/* The end of host_id's boot in mode (its agent token's): {"ok": true} (an install with once
 * makes the next boot local) or {"ok": false, "error"} (the host fails); an event either way,
 * and the host's agent tokens revoked; through hosts_update. -EINVAL for a bad body, -EBUSY
 * when the lifecycle refuses, -EIO for a mode that is no boot action. */
int hosts_agent_done(int64_t host_id, const char *mode, json_t *req, struct host *out);
/* The phone-home token, once per install boot (t): -EACCES for another mode, -EEXIST the
 * second time. */
int hosts_phone_home_token(const struct agent_token *t, json_t **out);
/* host_id's installed system reports in (report, an object, kept in an event, cut at 400
 * bytes): the host is deployed (-EBUSY when the lifecycle refuses) and seen now; through
 * hosts_update. -EINVAL when report is not an object. */
int hosts_phone_home(int64_t host_id, json_t *report, struct host *out);
/* Registers a running host's inventory (anemosctl adopt) onto the host ref names, or, with
 * ref NULL, into a new host; -EEXIST when ref is NULL and the inventory names a known host's
 * MAC, UUID or serial (the message says which host and how to name it). */
int hosts_adopt(json_t *inventory, const char *ref, struct host *out);
/* db_commit() and, when it succeeds, notify_host_changed(host_id). */
int hosts_commit(int64_t host_id);
/* True when an event of kind (a static string) was recorded for host_id less than 10 s ago
 * (and then nothing is noted); else notes now and answers false. For events an attacker
 * could repeat at will. */
bool hosts_event_throttled(int64_t host_id, const char *kind);
/* Inside the caller's transaction: an event of host_id (the message printf-formatted, cut at
 * 511 bytes, made valid UTF-8; the actor hosts_actor_set's), as db_event_add: 0 or -errno. */
int hosts_add_event(int64_t host_id, const char *source, const char *level, const char *phase,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Who the events this thread adds act for (an admin token's name; at most 64 bytes kept), or
 * NULL for nobody. http.c sets it around each operator request; every event the request adds
 * carries it as its actor. */
void hosts_actor_set(const char *name);

/* rules.c: discovery rules (see the file). Each public function but rules_fire is a
 * transaction of its own (or a read); *out is the caller's (json_decref) on success. */
/* GET /api/v1/rules: {"rules": [...]} in the order they are tried. */
int rules_list(json_t **out);
/* GET /api/v1/rules/NAME: the rule with "hosts", the hosts it claimed. */
int rules_get(const char *name, json_t **out);
/* POST /api/v1/rules (the body names it; -EEXIST when taken), PUT /api/v1/rules/NAME
 * (the whole rule: made, or replaced keeping its claims; *created says which), PATCH (the
 * fields sent; -ENOENT for no such rule). Every field is checked first (-EINVAL naming the
 * first bad one: a query that does not parse names its position; an image that does not exist
 * is refused). *out: the rule as rules_get answers it. */
int rules_create(json_t *req, json_t **out);
int rules_put(const char *name, json_t *req, bool *created, json_t **out);
int rules_patch(const char *name, json_t *req, json_t **out);
/* DELETE /api/v1/rules/NAME: the rule and its claims, in one transaction: 0, or -ENOENT with
 * err_set. */
int rules_delete(const char *name);
/* POST /api/v1/rules/test: {"query", "count", "hosts": [...]} of the hosts query matches
 * now; changes nothing. */
int rules_test(const char *query, json_t **out);
/* Inside the caller's transaction (hosts.c, a host's first inventory): tries the enabled
 * rules on h in order; the first that matches and has room under its max_count fires: its
 * actions change *h in memory, it claims the host, and an event (actor "rule:NAME") says
 * what it changed. A rule whose actions cannot apply to h is skipped with an error event.
 * h must be written by the caller afterwards (hosts_update does). 0 or a negative errno
 * (a store failure: everything rolls back). */
int rules_fire(struct host *h);

/* secret.c: secrets stored encrypted under DATA/secret.key (made on first use, mode 0600). */
/* plain sealed for context (what it belongs to, e.g. "bmc:42"): a malloc'd text the caller
 * frees, or NULL with err_set (no key file can be made or read, out of memory). */
char *secret_seal(const char *plain, const char *context);
/* The plain text of sealed, which must have been sealed for context: malloc'd, the caller
 * frees it with secret_wipe; NULL with err_set (-EACCES: another key or context). */
char *secret_open(const char *sealed, const char *context);
/* Overwrites and frees a plain secret (NULL is fine). */
void secret_wipe(char *plain);

/* bmc.c: one call to a BMC over IPMI (libfreeipmi). */
enum bmc_action { BMC_STATUS, BMC_ON, BMC_OFF, BMC_SOFT_OFF, BMC_CYCLE, BMC_RESET, BMC_ACTION_COUNT };
enum bmc_boot { BMC_BOOT_NONE, BMC_BOOT_NETWORK, BMC_BOOT_DISK, BMC_BOOT_COUNT };
/* One call to a BMC; its strings are the caller's, read during the call only. */
struct bmc_call {
	const char *address;       /* the BMC's IP address or DNS name */
	unsigned port;             /* UDP port, 0 = 623 */
	const char *username, *password;
	enum bmc_action action;
	enum bmc_boot boot;        /* a one-time boot device set before the action */
	bool efi;                  /* that boot is a UEFI boot (else BIOS) */
	bool insecure;             /* Redfish: the BMC's certificate is not verified */
	unsigned timeout_ms;       /* per exchange with the BMC, 0 = 10 s */
};
/* Opens a session, reads the power state, sets the boot device, does the action (a cycle
 * or reset of a machine that is off powers it on), reads the state again into *on, closes.
 * Returns 0; -EACCES (the BMC refused the credentials), -ETIMEDOUT (it did not answer in
 * time), -ENOMEM or -EIO, with the reason in why (never the password). Blocks at most a few
 * timeouts. */
int bmc_ipmi_call(const struct bmc_call *call, bool *on, char *why, size_t whysz);

/* redfish.c: the same call over Redfish (HTTPS, libcurl), and its pure parts. */
/* As bmc_ipmi_call; the port defaults to 443. -EACCES for HTTP 401/403, -ETIMEDOUT when the
 * BMC did not answer in time (or said 503/504). */
int bmc_redfish_call(const struct bmc_call *call, bool *on, char *why, size_t whysz);
/* The ResetType ComputerSystem.Reset takes for action on a machine that is on (or off), as
 * bmc.c's chassis controls; NULL: nothing to send. */
const char *redfish_reset_type(enum bmc_action action, bool on);
/* The PATCH body of a one-time boot from boot (network or disk): malloc'd, NULL out of memory. */
char *redfish_boot_body(enum bmc_boot boot, bool efi);
/* The first member's path of a /redfish/v1/Systems answer into path: 0, or -EIO. */
int redfish_system_path(const char *answer, char *path, size_t pathsz);
/* A ComputerSystem's PowerState into *on (PoweringOn counts as off, PoweringOff as on):
 * 0, or -EIO. */
int redfish_power_state(const char *answer, bool *on);
/* The reason of an HTTP error answer (its Redfish error message) into why; returns its
 * -errno (-EACCES, -ETIMEDOUT or -EIO). */
int redfish_failure(long status, const char *answer, char *why, size_t whysz);

/* bmc_enroll.c: --bmc-enroll, a BMC user created in-band by the host's agent (see the file). */
/* The operator's "bmc_enroll" (true: ask, with a new password; false: no longer) applied to
 * *h in memory: 0, or -EINVAL with err_set. */
int bmc_enroll_apply(struct host *h, json_t *v);
/* The host's "bmc_enroll" for its JSON ({"state","username","asked","error"}: never the
 * password), or JSON null; a new reference. */
json_t *bmc_enroll_to_json(const struct host *h);
/* "pending", "sent", "failed", or NULL when the host has no enroll. */
const char *bmc_enroll_state(const struct host *h);
/* True when the agent of token t is to be given the host's enroll in its next plan. */
bool bmc_enroll_due(const struct host *h, const struct agent_token *t);
/* For a plan of token t: when the enroll is due, records it as sent to this boot (t's
 * served bits updated) and sets *out to {"username","password","privilege"} (a new
 * reference; NULL when nothing is due). 0 or -errno. */
int bmc_enroll_serve(struct agent_token *t, json_t **out);
/* POST /api/v1/agent/bmc-enroll: the agent's outcome ({"ok", "error"} or {"ok", "username",
 * "user_id", "channel", "address"}). Success makes the BMC settings (ipmi, the address,
 * port 623, the user, the sealed password); failure is an error event. -EBUSY when no
 * enroll was sent, or when t is not the boot (agent token) it was sent to. */
int bmc_enroll_result(const struct agent_token *t, json_t *req, struct host *out);

/* power.c: power actions and the power-state poller (see the file). */
/* The names of actions and boot devices as the API spells them; NULL past the end. */
const char *power_action_name(enum bmc_action a);
const char *power_boot_name(enum bmc_boot b);
/* Applies the operator's "bmc" field (an object, or null to remove) to *h in memory: merged
 * into what the host has, the password sealed. -EINVAL with err_set when it is not valid. */
int power_bmc_apply(struct host *h, json_t *v);
/* The host's "bmc" for its JSON (never its password: "password_set" instead), JSON null when
 * it has none; a new reference the caller owns. */
json_t *power_bmc_to_json(const struct host *h);
/* The host's "power" for its JSON, always an object {"state","checked","error"} (nulls when
 * never asked); a new reference the caller owns (NULL out of memory). */
json_t *power_state_to_json(const struct host *h);
/* POST /api/v1/hosts/REF/power ({"action", "boot"}): records who asked (the admin token
 * admin_id) as an event and queues the action for a power worker, in one transaction;
 * *out = {"action","boot","event","queued"} (a new reference). -EINVAL (no BMC, a bad
 * body), -ENOENT, -EAGAIN when the queue is full (nothing recorded then). */
int power_request(const char *ref, json_t *req, int64_t admin_id, json_t **out);
/* Starts the power workers and the poller: 0 or -errno with err_set. */
int power_start(void);
/* Stops them, after each finishes its call (each bounded by the BMC timeout). */
void power_stop(void);

/* remote.c: hosts reached over SSH. */
/* Arms a host for kexec from its running system ({"mode": "install"|"rescue", "image"}) and
 * answers the token, boot files, SHA-256s and command line GET /kexec.sh needs. */
int hosts_kexec(const char *ref, json_t *req, json_t **out);
/* Undoes hosts_kexec when the target refused: revokes the host's agent tokens and puts
 * back {"next_boot", "once", "image"}, in one transaction. */
int hosts_kexec_cancel(const char *ref, json_t *previous, struct host *out);

/* boot.c: what a machine boots next, as an iPXE script. */
/* The entry script (GET /boot.ipxe): the "boot" template for the current public_url, which
 * asks /ipxe with the machine's identifiers. Malloc'd, the caller frees it; NULL with err_set
 * (template_render). */
char *boot_entry_script(void);
/* Identifies the machine (hosts_identify), decides its action (its next boot, or none when
 * its status forbids it), issues a fresh agent token when that runs the Anemos environment,
 * and renders its iPXE script into *script (malloc'd, the caller frees it); one transaction.
 * On failure there is no script to free (-EINVAL: platform not pcbios or efi; -EACCES: the
 * host's boot is held from another address, and the refusal is recorded). */
int boot_script_for(const struct boot_identity *ident, const char *platform, const char *peer, char **script);
/* The plan for the agent of token t (its boot): the install's secrets (root password hash,
 * cloud-init user-data) only in the first install plan of the boot, never in a discover or
 * rescue plan; a discover boot whose plan becomes an install becomes an install boot. 0 with
 * *out (a new reference the caller owns), or a negative errno with err_set. */
int boot_plan(const struct agent_token *t, json_t **out);
/* Reads --ssh-keys FILE (authorized_keys lines; NULL: none), replacing the keys read before:
 * 0 or -errno with err_set. */
int boot_default_keys_load(const char *path);
/* Forgets the keys boot_default_keys_load read (plans then carry the hosts' own only). */
void boot_default_keys_free(void);
/* True when the agent of token t has nothing to do yet (it is discovering, no one has
 * given it anything else, and no BMC enroll is due to it): a long-polled plan request waits
 * while this holds. */
bool boot_plan_pending(const struct agent_token *t);

/* images.c: image records and their files under DATA/images/NAME/. */
/* The image as the API shows it: a new reference the caller owns (NULL out of memory). */
json_t *image_to_json(const struct image *image);
/* POST /api/v1/images: an external image (url + sha256) or a file already in the data
 * folder (hashed here); one transaction; *out filled on success. */
int images_register(json_t *req, struct image *out);
/* Removes the record and its stored file; -EBUSY while a host uses it. */
int images_delete(const char *name);
/* An image upload on its way (images.c); the caller holds it from upload_begin to its end. */
struct upload;
/* An upload streamed to a temporary file under DATA/images/: upload_begin checks the name,
 * file, format and sha256 (-EINVAL) and that no image has the name (-EEXIST), and creates it
 * (*out is the caller's: end it with upload_finish or upload_abort, exactly once);
 * upload_write appends (and hashes): -E2BIG past cfg.max_image_size, or -errno (abort it
 * then); upload_finish verifies the SHA-256 (-EINVAL when it differs) and a recipe bundle,
 * moves the file into DATA/images/NAME/ and records the image in one transaction, *out filled
 * (image_free) on success, and frees up whatever it returns; upload_abort removes the file and
 * frees up (NULL is fine). Each failure has err_set. */
int upload_begin(const char *name, const char *file, const char *format, const char *sha256,
		 struct upload **out);
int upload_write(struct upload *up, const void *data, size_t len);
int upload_finish(struct upload *up, struct image *out);
void upload_abort(struct upload *up);

/* recipe.c: recipe bundles (tars of recipe folders that targets build themselves). */
/* Checks the bundle at path (a tar: relative paths only, files, folders and symlinks, at most
 * 10,000 entries and 256 MiB, a `recipe` file at its top) and reads the recipe's literal
 * name, base, suite, mirror, keyring and packages without running it. On success *out is a
 * new JSON object text the caller frees; on failure -errno with err_set and *out untouched. */
int recipe_bundle_read(const char *path, char **out);

/* notify.c: wake-ups for those waiting on host changes (see the file). */
/* After a commit: one more change (the generation grows by one) of host host_id (0: a wake-up
 * that names no host), and every notify_wait wakes. Cannot fail. */
void notify_host_changed(int64_t host_id);
/* The current generation: how many changes were notified so far. */
uint64_t notify_generation(void);
/* Sleeps until the generation differs from `seen` or timeout_ms pass; returns the current one. */
uint64_t notify_wait(uint64_t seen, int timeout_ms);
/* The distinct hosts changed after generation *seen (at most max), into ids; advances *seen;
 * returns how many it wrote. -ERANGE when more changed than can be told (the reader should
 * reload everything; *seen advances then too). */
int notify_since(uint64_t *seen, int64_t *ids, size_t max);

/* seen.c: the boot records (last seen, boot event) of known hosts that boot without a new
 * token, committed in batches by one writer thread, which db_init starts (seen_start: 0, or
 * -ENOMEM/-errno with err_set) and db_shutdown stops (seen_stop, after writing what is
 * queued). seen_record copies message (cut at 239 bytes) but keeps the pointer level (a
 * static string): 0, or -EAGAIN when the queue is full or the writer stopped (the caller
 * writes the record itself). seen_flush returns once every record queued before it is
 * committed (a write failure is logged and the batch dropped: these records promise nothing). */
int seen_start(void);
void seen_stop(void);
int seen_record(int64_t host_id, const char *level, const char *message);
void seen_flush(void);

/* metrics.c: counters for /metrics (thread-safe; nothing allocated but by metrics_render,
 * whose text the caller frees). None of the counting functions can fail. */
/* One answer of route (a static string: the pointer is kept) with status and bytes; past 256
 * route and status pairs a new pair is not counted. */
void metrics_request(const char *route, unsigned status, uint64_t bytes);
/* One boot answered with action (one out of range is ignored). */
void metrics_boot(enum boot_action action);
/* A boot of a machine nobody enrolled, under --unknown-hosts ignore. */
void metrics_unknown_boot(void);
/* One batch of n boot records committed by seen.c. */
void metrics_seen_batch(size_t n);
/* A discovery rule fired (rules.c). */
void metrics_rule_fired(void);
/* The /metrics text (Prometheus text format 0.0.4): malloc'd, the caller frees it; NULL out of
 * memory or when the store cannot count the hosts. */
char *metrics_render(void);

/* One webhook delivery's attempt: result "ok", "retry" (it will be tried again) or "failed"
 * (given up). */
void metrics_webhook(const char *result);

/* webhooks.c: events delivered to operators' URLs (see the file and docs/webhooks.md). */
#define WEBHOOK_SIGNATURE_LEN (7 + 64) /* "sha256=" and 64 hex digits */
#define WEBHOOK_BACKOFF_MAX 300 /* seconds */
/* Pure parts. "sha256=" + the hex HMAC-SHA256 of body under key into out: 0, or -EIO with
 * err_set. */
int webhook_sign(const void *key, size_t key_len, const void *body, size_t body_len,
		 char out[WEBHOOK_SIGNATURE_LEN + 1]);
/* Seconds to wait after a delivery's attempt number `attempt` (1, 2, ...) failed: 1, 2, 4,
 * ... doubling, at most WEBHOOK_BACKOFF_MAX (1 for an attempt below 1). */
unsigned webhook_backoff(int attempt);
/* The "events" filter (an array of strings, or one comma-separated string) normalised into
 * out ("deployed,failed", "*"): 0, or -EINVAL with err_set naming the word it does not know. */
int webhook_events_parse(json_t *events, char *out, size_t outsz);
/* True when an event (db_events_after's object) passes the normalised filter. */
bool webhook_event_matches(const char *filter, json_t *event);
/* 0 for an http:// or https:// URL with a host, no user or password, at most 2048 bytes,
 * else -EINVAL with err_set. */
int webhook_url_check(const char *url);
/* A delivery as the API shows it (its body parsed; never a secret): a new reference. */
json_t *delivery_to_json(const struct delivery *d);
/* The API's operations; *out a new reference the caller owns. ref is the webhook's id: one
 * that is no positive number or names no webhook is -ENOENT with err_set. webhooks_create
 * ({"url","events","secret","enabled"}) answers the secret, the only time it is shown (-EBUSY
 * at 64 webhooks); webhooks_patch changes url, events and enabled and makes a pending delivery
 * due now; a bad field is -EINVAL; create, patch and delete (with its deliveries) are each one
 * transaction. webhooks_get, webhooks_list ({"webhooks"}) and webhooks_deliveries
 * ({"deliveries"}: the newest limit, newest first; limit 1..100, else 100) are reads. */
int webhooks_create(json_t *req, json_t **out);
int webhooks_list(json_t **out);
int webhooks_get(const char *ref, json_t **out);
int webhooks_patch(const char *ref, json_t *req, json_t **out);
int webhooks_delete(const char *ref);
int webhooks_deliveries(const char *ref, int limit, json_t **out);
/* Sends a ping to the webhook now, from the calling thread (bounded by --webhook-timeout),
 * and answers {"delivery"}, the delivery it recorded, ok or failed (a ping that cannot be
 * signed is recorded failed and its error returned instead). */
int webhooks_test(const char *ref, json_t **out);
/* The delivery thread: start (0 or -errno with err_set), a hint that something changed,
 * stop (in-flight deliveries are abandoned and stay pending: sent again after a restart). */
int webhooks_start(void);
void webhooks_wake(void);
void webhooks_stop(void);

/* cache.c: the package cache (apt-cacher-ng) targets fetch Debian packages through. */
/* The URL through which a target fetches the Debian mirror `mirror` (not NULL): with
 * cfg.package_cache set and an http:// mirror, apt-cacher-ng's form that proxies that
 * upstream, CACHE/HOST[:PORT]/PATH (http://deb.example.org/debian through
 * http://192.0.2.1:3142 is http://192.0.2.1:3142/deb.example.org/debian); an https:// mirror
 * (the cache cannot see inside TLS), a mirror on a port above 32767 (which apt-cacher-ng
 * 3.7.4 cannot reach), any other URL, or any URL without a cache configured: a copy of
 * mirror. Returns a malloc'd string the caller frees; NULL only on out of memory. */
char *cache_mirror_url(const char *mirror);
/* Totals counted from the cache's log since anemosd started (or cache_shutdown). */
struct cache_stats {
	uint64_t hits;          /* requests answered from the cache (O lines beyond downloads) */
	uint64_t misses;        /* requests the cache downloaded from the mirror for (I lines) */
	uint64_t sent_bytes;    /* bytes sent to targets, headers included (O lines) */
	uint64_t fetched_bytes; /* bytes downloaded from mirrors, headers included (I lines) */
};
/* Counts the lines added to cfg.package_cache_log since the last call (at most 4 MiB of
 * them per call, so a long log is caught up over several calls; a rotated log's old file is
 * read to its end first) and sets *out to the totals. Returns 0, or a negative errno when
 * the log cannot be read (warned once per streak; *out still holds the totals so far). */
int cache_stats(struct cache_stats *out);
/* Closes the log and forgets the totals. */
void cache_shutdown(void);

/* http.c: the libmicrohttpd daemon and the request cycle. */
/* Loads the metrics token and TLS files and starts the listeners (--listen, --listen-tls),
 * the connection guard and the waiters: 0, or a negative errno with err_set (-EINVAL: a bad
 * ADDR:PORT; -EADDRINUSE: cannot listen); on failure what started runs until http_stop. */
int http_start(void);
/* Stops everything http_start started (also after it failed) and wipes the TLS key. */
void http_stop(void);

#endif

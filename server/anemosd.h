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

#include "lifecycle.h"
#include "placeholder.h"

#define MAC_LEN 17   /* "aa:bb:cc:dd:ee:ff" */
#define UUID_LEN 36  /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define TOKEN_HASH_LEN 64

/* main.c: the daemon's settings, filled from the command line. */
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
};
extern struct config cfg;

/* err.c: a per-thread message that goes with a negative return code. */
int err_set(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *err_msg(void);
void err_clear(void);

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
struct tvar {
	const char *name;
	const char *value;
};
/* Reads every *.ipxe template of dir once: 0, or a negative errno with err_set (nothing kept). */
int templates_load(const char *dir);
void templates_free(void);
/* Renders template `name` with vars; returns a malloc'd string the caller frees, or NULL
 * with err_set when the template is missing, names an unknown variable, or a value holds a
 * character that could change the script's meaning. */
char *template_render(const char *name, const struct tvar *vars, size_t nvars);
char *template_render_text(const char *tpl, const struct tvar *vars, size_t nvars);
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
 * -ENOMEM/-EMFILE/-ENFILE (503) or -EIO, each with err_set. A struct a function fills is the
 * caller's to free (host_free, image_free), also when a later step fails. */
/* A host as the store holds it. Every string and the macs array belong to the struct (freed
 * by host_free); NULL strings are unknown. */
struct host {
	int64_t id;
	enum host_status status;
	enum boot_action next_boot;
	char *hostname, *image, *uuid, *serial, *vendor, *product, *asset;
	char *ssh_keys;  /* JSON array text */
	char *inventory; /* JSON object text or NULL */
	char *progress;  /* while installing: the newest progress event as JSON text, else NULL */
	char *summary;   /* the inventory's key facts as JSON text, NULL without inventory */
	char *install;   /* install settings, a JSON object text (see install_settings_check) */
	bool once;
	int64_t last_seen, created, updated; /* unix seconds, 0 = never */
	char **macs;
	size_t nmacs;
};
struct image {
	char *name, *format, *sha256, *file, *url;
	char *recipe; /* format "recipe": {"base","suite","mirror","keyring","packages"} as JSON
		       * text (recipe.c reads it from the bundle); NULL for other images */
	int64_t size; /* bytes, -1 unknown */
	int64_t created;
};
struct event {
	int64_t host_id;
	const char *source, *level, *phase, *message;
	int64_t bytes, total; /* -1 = absent */
};
/* Identifiers a booting machine reports; NULL members are unknown. */
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
/* A write transaction: takes the writers' mutex and joins the open batch (group commit, see
 * db.c). Every db_begin that returns 0 is ended by exactly one db_commit or db_rollback.
 * db_commit returns once the batch that holds the transaction is committed (0) or failed (a
 * negative errno with err_set: nothing of it was kept). Reads need no transaction. */
int db_begin(void);
int db_commit(void);
void db_rollback(void);
void host_free(struct host *host);
void image_free(struct image *image);
/* The host by id, or by REF (a numeric id, a hostname, any of its MACs or its UUID). */
int db_host_get(int64_t id, struct host *out);
int db_host_find_by_ref(const char *ref, struct host *out);
int db_host_find_by_mac(const char *mac, int64_t *id);
int db_host_find_by_uuid(const char *uuid, int64_t *id);
int db_host_find_by_serial(const char *serial, const char *vendor, int64_t *id);
int db_host_insert(const struct host *host, int64_t *id);
int db_host_update(const struct host *host);
int db_host_delete(int64_t id);
int db_host_add_mac(int64_t id, const char *mac);
/* last_seen = now, and the identity facts ident has that the host lacks. */
/* What a boot decision reads of the host that holds MAC mac, in one read: id, status, next
 * boot and the identifiers (malloc'd; host_free); every other field empty. -ENOENT when no
 * host holds it. */
int db_host_boot_by_mac(const char *mac, struct host *out);
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
/* The hosts matching query (a substring of its facts; NULL: all) whose id is above after,
 * in id order, at most limit of them (0: all), into *out, a malloc'd array of *n hosts the
 * caller frees (host_free each, then free). */
int db_host_list(const char *query, int64_t after, int64_t limit, struct host **out, size_t *n);
/* {"STATUS": count, ...} into out. */
int db_host_count_by_status(json_t *out);
/* Adds an event (its id into *id, may be NULL) and prunes the host to its newest 1,000. */
int db_event_add(const struct event *ev, int64_t *id);
/* The host's newest `limit` events, oldest first, appended to out (an array). */
int db_event_list(int64_t host_id, int limit, json_t *out);
int db_image_get(const char *name, struct image *out);
int db_image_insert(const struct image *image);
int db_image_delete(const char *name);
int db_image_in_use(const char *name, int64_t *host_id);
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
/* address may be NULL (bound by its first use). */
int db_agent_token_insert(int64_t host_id, const char *hash, const char *mode, const char *address,
			  int64_t expires);
/* The unexpired token of that hash: 0 with *out, or -ENOENT. */
int db_agent_token_lookup(const char *hash, int64_t now, struct agent_token *out);
/* The host's newest unexpired agent token (not phone-home): 0 with *out, or -ENOENT. */
int db_agent_token_live(int64_t host_id, int64_t now, struct agent_token *out);
/* Binds a token issued unbound to address (only while it is unbound). */
int db_agent_token_bind(const char *hash, const char *address);
/* Sets a token's mode and served bits (inside the caller's transaction). */
int db_agent_token_update(const char *hash, const char *mode, int served);
int db_agent_token_revoke(int64_t host_id, bool phone_home);
/* expires: unix seconds, 0 = never. */
int db_admin_token_insert(const char *hash, const char *name, int64_t expires);
/* The id of the unexpired admin token of that hash, or -ENOENT. */
int db_admin_token_lookup(const char *hash, int64_t now, int64_t *id);
/* 0 while admin token id exists and has not expired, else -ENOENT. */
int db_admin_token_valid(int64_t id, int64_t now);
/* Appends {"id","name","created","expires"} of every admin token to out (an array). */
int db_admin_token_list(json_t *out);
/* The ids of the tokens named name (at most max into ids; *n counts them all). */
int db_admin_token_by_name(const char *name, int64_t *ids, size_t max, size_t *n);
int db_admin_token_revoke(int64_t id);

/* tokens.c: admin and per-boot agent tokens; only hashes are stored. */
/* A new admin token named name, expiring `ttl` seconds from now (0: never); its text into
 * out, its id into *id (may be NULL). One transaction. */
int token_admin_create(const char *name, int64_t ttl, char *out, size_t outsz, int64_t *id);
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
/* 0 with the token's id in *id (may be NULL) for a live admin token; -EPERM unknown,
 * revoked or expired; -EACCES another kind of token. */
int token_authenticate_admin(const char *token, int64_t *id);
/* 0 with *out when token is a live agent token used from the address it is bound to (peer;
 * NULL checks no address); a token used from elsewhere is -EPERM and recorded on its host,
 * unless cfg.agent_any_address. */
int token_authenticate_agent(const char *token, const char *peer, struct agent_token *out);
/* 1 with *out when host_id has a live agent token bound to an address other than peer. */
int token_agent_held_elsewhere(int64_t host_id, const char *peer, struct agent_token *out);
int token_phone_home_issue(int64_t host_id, char *out, size_t outsz);
int token_authenticate_phone_home(const char *token, int64_t *host_id);
bool token_looks_agent(const char *token);
bool token_looks_admin(const char *token);

/* validate.c: the fields operators send for a host (pure; -EINVAL with err_set). */
/* -EINVAL naming the first key of req that is not in the NULL-terminated allowed list
 * ("unknown field 'install.colour'" with where "install"), or when req is not an object. */
int fields_check(json_t *req, const char *const *allowed, const char *where);
/* hostname_normalize, and refused when the result reads as a MAC or a UUID (numeric ones
 * are refused by hostname_normalize): a host is found by any of them. */
int hostname_check(const char *in, char *out, size_t outsz);
int ssh_keys_check(json_t *keys);
/* The install settings object (each key by one checker; see validate.c). */
int install_settings_check(json_t *install);

/* hosts.c: host operations. Each public one is a transaction of its own unless it says so;
 * on success the host is written to *out (the caller frees it with host_free), on failure
 * *out is untouched and nothing is written. */
/* Moves h->status along the lifecycle table (lib/lifecycle.h) for event, in memory; -EBUSY
 * with a message when the table refuses the event in h's status. */
int host_transition(struct host *h, enum host_event event);
/* One change of one host as one transaction: begin, find the host by ref (or by id when ref
 * is NULL), change(h, arg) (which changes *h in memory and may add events and other rows),
 * write it, read it back into *out (when out is not NULL), commit and notify. A change that
 * returns HOSTS_UNCHANGED rolls back and answers the host as it was; a negative return (or
 * any failure after it) rolls everything back and is returned. */
#define HOSTS_UNCHANGED 1
typedef int (*host_change_fn)(struct host *h, void *arg);
int hosts_update(const char *ref, int64_t id, host_change_fn change, void *arg, struct host *out);
/* Applies the operator-settable fields of req to *h in memory, each validated (no
 * transaction; the image named must exist). */
int hosts_apply(struct host *h, json_t *req);
json_t *host_to_json(const struct host *host, bool with_inventory);
int hosts_identify(const struct boot_identity *ident, bool create, struct host *out);
/* {"hosts": [...]} of the hosts matching query (NULL: all), in id order; with limit > 0 at
 * most limit of those whose id is above after, and "next": the after of the next page (a
 * string), or null on the last page. */
int hosts_list(const char *query, int64_t after, int64_t limit, json_t **out);
/* Enrolls every host of the array req (each as hosts_enroll) in one transaction: all, or
 * none and -errno with err_set naming the first bad entry. *out: {"hosts": [...]}. */
int hosts_enroll_many(json_t *req, json_t **out);
int hosts_enroll(json_t *req, struct host *out);
int hosts_patch(const char *ref, json_t *req, struct host *out);
int hosts_delete(const char *ref);
int hosts_events(const char *ref, int limit, json_t **out);
int hosts_get(const char *ref, struct host *out);
int hosts_record_inventory(int64_t host_id, json_t *inventory, struct host *out);
int hosts_agent_event(int64_t host_id, json_t *req, json_t **out);
int hosts_agent_done(int64_t host_id, const char *mode, json_t *req, struct host *out);
/* The phone-home token, once per install boot (t): -EACCES for another mode, -EEXIST the
 * second time. */
int hosts_phone_home_token(const struct agent_token *t, json_t **out);
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
int hosts_add_event(int64_t host_id, const char *source, const char *level, const char *phase,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* remote.c: hosts reached over SSH. */
/* Arms a host for kexec from its running system ({"mode": "install"|"rescue", "image"}) and
 * answers the token, boot files, SHA-256s and command line GET /kexec.sh needs. */
int hosts_kexec(const char *ref, json_t *req, json_t **out);
/* Undoes hosts_kexec when the target refused: revokes the host's agent tokens and puts
 * back {"next_boot", "once", "image"}, in one transaction. */
int hosts_kexec_cancel(const char *ref, json_t *previous, struct host *out);

/* boot.c: what a machine boots next, as an iPXE script. */
char *boot_entry_script(void);
/* Identifies the machine (hosts_identify), decides its action (its next boot, or none when
 * its status forbids it), issues a fresh agent token when that runs the Anemos environment,
 * and renders its iPXE script into *script (malloc'd, the caller frees it); one transaction. */
int boot_script_for(const struct boot_identity *ident, const char *platform, const char *peer, char **script);
/* The plan for the agent of token t (its boot): the install's secrets (root password hash,
 * cloud-init user-data) only in the first install plan of the boot, never in a discover or
 * rescue plan; a discover boot whose plan becomes an install becomes an install boot. */
int boot_plan(const struct agent_token *t, json_t **out);
/* Reads --ssh-keys FILE (authorized_keys lines; NULL: none): 0 or -errno with err_set. */
int boot_default_keys_load(const char *path);
void boot_default_keys_free(void);
/* True when the agent of host_id has nothing to do yet (it is discovering and no one has
 * given it anything else): a long-polled plan request waits while this holds. */
bool boot_plan_pending(int64_t host_id);

/* images.c: image records and their files under DATA/images/NAME/. */
/* The image as the API shows it: a new reference the caller owns (NULL out of memory). */
json_t *image_to_json(const struct image *image);
/* POST /api/v1/images: an external image (url + sha256) or a file already in the data
 * folder (hashed here); one transaction; *out filled on success. */
int images_register(json_t *req, struct image *out);
/* Removes the record and its stored file; -EBUSY while a host uses it. */
int images_delete(const char *name);
/* An upload streamed to a temporary file in the image's folder: upload_begin checks the
 * name and format and creates it (*out is the caller's: end it with upload_finish or
 * upload_abort, exactly once); upload_write appends (and hashes); upload_finish verifies
 * the SHA-256 (and a recipe bundle), moves the file into place and records the image in one
 * transaction, and frees up whatever it returns; upload_abort removes the file and frees up. */
struct upload;
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
void notify_host_changed(int64_t host_id);
uint64_t notify_generation(void);
/* Sleeps until the generation differs from `seen` or timeout_ms pass; returns the current one. */
uint64_t notify_wait(uint64_t seen, int timeout_ms);
/* The distinct hosts changed after generation *seen (at most max), into ids; advances *seen.
 * -ERANGE when more changed than can be told (the reader should reload everything). */
int notify_since(uint64_t *seen, int64_t *ids, size_t max);

/* seen.c: the boot records (last seen, boot event) of known hosts that boot without a new
 * token, committed in batches by one writer thread, which db_init starts and db_shutdown
 * stops (after writing what is queued). seen_record copies message: 0, or -EAGAIN when the
 * queue is full or the writer stopped (the caller writes the record itself). seen_flush
 * returns once every record queued before it is committed (a write failure is logged and
 * the batch dropped: these records promise nothing). */
int seen_start(void);
void seen_stop(void);
int seen_record(int64_t host_id, const char *level, const char *message);
void seen_flush(void);

/* metrics.c: counters for /metrics (thread-safe; nothing allocated but by metrics_render,
 * whose text the caller frees; NULL out of memory). */
void metrics_request(const char *route, unsigned status, uint64_t bytes);
void metrics_boot(enum boot_action action);
/* A boot of a machine nobody enrolled, under --unknown-hosts ignore. */
void metrics_unknown_boot(void);
/* One batch of n boot records committed by seen.c. */
void metrics_seen_batch(size_t n);
char *metrics_render(void);

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
int http_start(void);
void http_stop(void);

#endif

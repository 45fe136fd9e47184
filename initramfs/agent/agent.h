/*
 * anemos-agent: runs in the Anemos initramfs. It reads anemos.url, anemos.token and
 * anemos.mode from the kernel command line, posts the machine's inventory, follows the plan
 * anemosd gives it, and reports what it does as events. Its exit status tells /init what
 * to do next (see enum agent_exit).
 */
#ifndef ANEMOS_AGENT_H
#define ANEMOS_AGENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api_client.h"
#include "errors.h"

enum agent_exit {
	EXIT_REBOOT = 0,   /* done: reboot */
	EXIT_FAILED = 1,   /* failed: /init says so and leaves a shell on the console */
	EXIT_POWEROFF = 2, /* nothing to do for too long: power off */
	EXIT_RESCUE = 3,   /* rescue: /init starts the SSH server and keeps a shell */
};

struct agent {
	char url[512];       /* anemos.url: anemosd's base URL */
	char token[160];     /* anemos.token: this boot's agent token */
	char mode[16];       /* anemos.mode: discover, install or rescue */
	const char *root;    /* filesystem root inventory is read from, "/" */
	const char *ssh_dir; /* where rescue writes authorized_keys, "/root/.ssh" */
	const char *phone_home_dir; /* the phone-home an install copies, PHONE_HOME_DIR */
	long poweroff_after; /* seconds a discover or install boot waits for a plan, retries
				included, before it powers off, 1800 */
	long retry_for;      /* seconds any other request is retried on network errors and 5xx
				answers, 600 */
	long lldp_wait;      /* anemos.lldp: seconds a discover boot listens for the switches'
				LLDP before posting its inventory, LLDP_WAIT_DEFAULT; 0: not */
	bool deploy;         /* a deploy with no anemosd (deploy.c): no request is sent */
	const char *cmdline; /* the kernel command line's file, /proc/cmdline */
	struct api_client client; /* the requests to anemosd (client.c) */
};

/* The default of anemos.lldp and its upper bound. Switches send LLDP every 30 s by default
 * and often once at link-up: 10 s catches those that answer the link coming up and those
 * set to a shorter interval, and costs 10 s only where a NIC's link partner speaks no LLDP.
 * anemos.lldp=31 catches every switch on the default interval. */
#define LLDP_WAIT_DEFAULT 10
#define LLDP_WAIT_MAX 120

/* The debian recipe's phone-home (images/debian/files: usr/local/sbin/anemos-phone-home and
 * etc/systemd/system/anemos-phone-home.service), which initramfs/build.sh copies here with the
 * same paths below it; an install copies them onto a systemd image that has none. */
#define PHONE_HOME_DIR "/usr/share/anemos/phone-home"

/* client.c: requests to anemosd with the agent token (lib/api_client.h). In a deploy
 * (a->deploy) no request is sent: client_call_until fails with -ENOTCONN at once, and
 * client_report prints the message and writes it as a deploy phase. */
int client_init(struct agent *a);
void client_free(struct agent *a);
/*
 * Sends a request and retries network errors and 5xx answers until give_up (a time()): after
 * a 503 with Retry-After (anemosd is busy) as long as it says, at most 60 s, otherwise with
 * pauses that grow from 1 s to 30 s; each pause with up to half as much again of random
 * jitter, none past give_up, and each said on the console. timeout is the seconds one attempt
 * may take. Sets *status (when not NULL) to the final answer's HTTP status (0: none) and
 * *reply (when not NULL) to a 2xx answer's JSON (the caller's; NULL when empty).
 * Returns 0 for a 2xx answer, or -errno with the message (errors.h): -EEXIST for 409,
 * -EREMOTEIO for another 4xx (anemosd's error and the status: "... (HTTP 403)"), -ETIMEDOUT
 * when anemosd gave no answer in time ("...; giving up after N s"), -ENOTCONN in a deploy.
 * Takes no ownership of body.
 */
int client_call_until(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		      time_t give_up, long *status, json_t **reply);
/* client_call_until, giving up a->retry_for seconds from now. */
int client_call(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		long *status, json_t **reply);
/* Posts event (not consumed; NULL: out of memory) to anemosd, retried for retry_for seconds at
 * most (never longer than a->retry_for), saying so on the console when it fails and say is
 * set. Best effort: the calling thread's message (errors.h) is left as it was. Returns 0 or
 * -errno. */
int client_event(struct agent *a, json_t *event, long retry_for, bool say);
/* Prints the message on the console and posts it as an event; best effort (retried for a
 * minute at most, then only printed). level is "info", "warn" or "error". */
void client_report(struct agent *a, const char *level, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* bmc.c: a plan's "bmc_enroll" (anemosd's --bmc-enroll): creates that user on this machine's
 * BMC in-band and posts the outcome to anemosd; nothing when the plan has none. */
void bmc_enroll_run(struct agent *a, json_t *plan);

/* deploy.c: a deploy with no anemosd (anemosctl deploy --ssh), from the payload appended to
 * the initramfs under DEPLOY_DIR. */
#define DEPLOY_DIR "/etc/anemos-deploy"
/* Whether this boot carries a deploy payload. */
bool deploy_present(void);
/* Follows the payload's plan: the network anemos.net= of cmdline_path carried into it, the
 * host's old name when it names none; then install_run. Returns an enum agent_exit. */
int deploy_run(struct agent *a, const char *cmdline_path);
/* Appends a phase line (what anemosctl deploy shows) to /run/anemos/phases; best effort.
 * bytes and total: progress, when total is not 0. */
void deploy_phase(const char *phase, const char *level, const char *message, uint64_t bytes, uint64_t total);
/* The last steps inside the installed root rootfd: the old system's SSH host keys when
 * kexec.sh carried them (a deploy, or an install by anemosd with --keep-host-keys), and for
 * a deploy (no anemosd) the log so far as /var/log/anemos/install.log. 0, or -errno (-EIO)
 * with the message (err_set). */
int deploy_finish(struct agent *a, int rootfd);
/* How much memory the install needed so far at most (the machine's MemTotal less the least
 * MemAvailable /init saw, each second), as a line on stderr; nothing where either is missing.
 * Called after the build, the install's peak, so the line is in the log a deploy copies. */
void memory_report(void);

/* target.c: the installed system's files, through a descriptor of its root (see the file).
 * Paths are relative to that root ("/etc/hostname" and "etc/hostname" are the same) and
 * resolve inside it, symlinks and ".." included; none can lead a write outside it. Each
 * returns 0 (target_open: a descriptor) or a negative errno, and leaves nothing behind on
 * failure. */
#define TARGET_PATH_MAX 1024

/* A file being written: a new file in the folder of its name until target_commit. */
struct target_file {
	int dirfd, fd;      /* the resolved folder (O_PATH); the new file, for writing */
	char base[256];     /* the name's last component */
	char tmp[272];      /* the new file's name in that folder */
};
/* openat2(rootfd, path, flags | O_CLOEXEC) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS. */
int target_open(int rootfd, const char *path, int flags, mode_t mode);
/* mkdir -p: missing folders 0755, the last one mode. Fails (-ENOENT, -ENOTDIR) when a
 * component is a symlink that leads to no folder inside the root. */
int target_mkdirs(int rootfd, const char *path, mode_t mode);
/* A new file (mode, whatever the umask) in path's resolved folder, for writing f->fd;
 * target_commit renames it over path (replacing a symlink there, not following it),
 * target_discard removes it. Both close it. The folder must exist. */
int target_create(int rootfd, const char *path, mode_t mode, struct target_file *f);
int target_commit(struct target_file *f);
void target_discard(struct target_file *f);
/* path becomes a new file of mode holding data[0..len) (target_create, then commit). */
int target_write(int rootfd, const char *path, mode_t mode, const void *data, size_t len);
/* path becomes a new file of mode holding the formatted text. */
int target_vprintf(int rootfd, const char *path, mode_t mode, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* path becomes a new file of mode holding what is left to read of fromfd, synced. */
int target_copy(int rootfd, const char *path, mode_t mode, int fromfd);
/* path becomes a symlink to `to` (replacing whatever path's last component was). */
int target_symlink(int rootfd, const char *to, const char *path);
/* A regular file of at most max bytes, whole, as a new NUL-terminated string in *text
 * (caller frees; NULL on failure); its stat in *st when st is not NULL. -EINVAL: not a
 * regular file, -EFBIG: larger than max. */
int target_read(int rootfd, const char *path, size_t max, char **text, struct stat *st);
/* Whether path resolves to anything inside the root. */
bool target_exists(int rootfd, const char *path);
/* The folder path resolves to, as the installer names it ("/mnt/target/boot/extlinux"),
 * free of symlinks: for programs that take a path. */
int target_realpath(int rootfd, const char *path, char *out, size_t outsz);
/* strerror(-rc) for a failed operation on path, and, when a symlink of the image on the way
 * leads nowhere inside the root, which one and where to: in buf, which it returns. */
const char *target_strerror(int rootfd, const char *path, int rc, char *buf, size_t bufsz);

#endif

/* Building a recipe image on the target: the system bootstrapped from a verified Debian
 * mirror straight onto the mounted target disk, by the same base scripts anemos-mkimg runs. */
#ifndef ANEMOS_BUILD_H
#define ANEMOS_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "crypto.h"

#define BUILD_WORK "/run/anemos-build"          /* scratch in RAM: the bundle, indexes */
#define BUILD_BASE_DIR "/usr/share/anemos/base"  /* images/base/ in the initramfs */
#define DEBIAN_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"
/* The recipe's shell: dash, Debian's /bin/sh, as on the build hosts of anemos-mkimg (the
 * initramfs's busybox ash would prefer its own applets to GNU tar and zstd). */
#define BUILD_SHELL "/bin/dash"

/* One build; everything in it is owned by it (build_into or build_close frees it). */
struct build {
	struct agent *a;
	const char *root;          /* the mounted target root */
	char work[64];             /* BUILD_WORK */
	char mirror[1024];         /* base URL of the Debian mirror, no trailing '/' */
	char suite[64];
	char *index;               /* the verified Packages index, or NULL */
	const char *phase;         /* the phase events are reported under */
	uint64_t bytes_done, bytes_total;  /* package bytes fetched / to fetch */
	int pkgs_done, pkgs_total;
	time_t last_event;
	uint64_t last_bytes;       /* what the last progress event said */
	int last_pkgs;
	const char *last_phase;
	bool failed;               /* build_fail said why: the first failure is the one told */
};

/* A package as the verified index describes it; strings owned (deb_free). */
struct deb {
	char *name, *filename, *sha256;
	char *kernel;              /* linux-image-amd64 only: the concrete kernel it depends on */
	int64_t size;
};

/* build.c */
/* A recipe build in two steps, so that what can be checked is checked before any disk is
 * touched. build_open: the plan's recipe bundle (image: url, sha256, mirror) fetched and
 * verified into BUILD_WORK, the recipe read, the mirror's InRelease signature and Packages
 * index verified; a new job, or NULL with the message set (errors.h). build_into: the system
 * built into root (partitioned and mounted by the caller, who wipes the disk after a failure),
 * phases and progress reported as events; 0, or -EIO with the message; frees the job either
 * way.
 * build_close frees a job that will not be built (NULL is fine). */
struct build_job;
struct build_job *build_open(struct agent *a, json_t *plan);
int build_into(struct build_job *j, const char *root);
void build_close(struct build_job *j);
/* Sets the message (errors.h) unless this build failed already (the first failure is what is
 * reported); returns -EIO. */
int build_fail(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Posts a progress event for the current phase: at most one a second unless force. */
void build_progress(struct build *b, bool force);
/* Runs argv (no shell); its output (stdout and stderr) goes to the console and its last
 * outsz-1 bytes into out. Returns its exit status, or -errno (the message set, unless the wait
 * failed) if it could not run. */
int build_run(struct build *b, const char *const argv[], char *out, size_t outsz);

/* mirror.c */
/* Downloads url to path, at most max bytes, checking sha256 and size when given (NULL, -1:
 * unchecked); network errors are retried a few times. count: the bytes are package bytes
 * (b->bytes_done). 0, or -EIO with the message naming the URL; a failed file is removed. */
int mirror_fetch(struct build *b, bool count, const char *url, const char *path, uint64_t max,
		 const char *sha256, int64_t size);
/* Fetches dists/SUITE/InRelease, verifies it with gpgv against keyring, then fetches the
 * Packages index it signs and checks it: b->index. 0 or -EIO with the message. */
int mirror_open(struct build *b, const char *keyring);
/* What the index says of package name (after mirror_open). 0 or -EIO with the message. */
int mirror_resolve(struct build *b, const char *name, struct deb *out);
void deb_free(struct deb *d);
/* The Size the index gives package name (after mirror_open), or -ENOENT when it gives none. */
int64_t mirror_size(struct build *b, const char *name);

/* debian_index.c: Debian's archive files, parsed (pure functions). */
/* The SHA-256 (hex) and size the Release text gives for name ("main/binary-amd64/Packages.xz")
 * in its SHA256 list: 0, or -ENOENT. */
int release_lookup(const char *release, const char *name, char sha[SHA256_HEX_LEN + 1], int64_t *size);
/* The value of the "Field: value" line of the stanza [s, end) (its first line only), as a new
 * string, or NULL when the stanza has no such field (or out of memory). */
char *stanza_field(const char *s, const char *end, const char *name);
/* The first stanza of package name in a Packages index, as [*start, *end): true if found. */
bool index_find(const char *index, const char *name, const char **start, const char **end);
/* The concrete kernel package (linux-image-N...) a meta package's stanza depends on first,
 * as a new string, or NULL. */
char *kernel_of(const char *start, const char *end);

/* templates.c */
/* Renders every per-host template under /etc/anemos/templates (NAME.template or
 * NAME.makeimg.template) of the target root rootfd into /NAME, with the plan's values;
 * {{name}} is a variable (see the file for the names). An unknown variable fails with the
 * file and the name: 0, or -EIO with the message (err_set). */
int templates_render(json_t *plan, int rootfd);

#endif

/*
 * anemosctl deploy --ssh: a running host (a cloud VM, a VPS) deployed with no anemosd at all.
 *
 * Over one SSH session it sends, as one stream on stdin: a short script (the settings, then
 * target-scripts/kexec.sh compiled in: the same target checks, network carry-over, kexec or
 * one-shot boot entry as `reinstall`), the Anemos kernel and initramfs, and the payload: newc
 * cpio entries under etc/anemos-deploy/ (the plan, the recipe bundle, the operator's SSH
 * keys) that the target appends, with its own SSH host keys, to the initramfs. Nothing
 * secret is on a command line or in a URL: the root password hash and user-data travel in
 * the plan, inside the stream.
 *
 * Then it follows the deploy: it logs into the Anemos environment (dropbear with the host's
 * own host keys, so no host-key warning) and reads the phases the agent writes to
 * /run/anemos/phases, until the new system (a boot with /var/log/anemos/install.log naming
 * this deploy) answers SSH, or the deploy failed. What it has read it notes in
 * /run/anemos/phases.read, so that the Anemos environment waits for it before rebooting.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "anemosctl.h"
#include "crypto.h"
#include "boot_contract.h"
#include "kexec.sh.h"	/* kexec_sh: target-scripts/kexec.sh, made by make */

#define BOOT_FILE_MAX (512u << 20)	/* largest kernel or initramfs sent, in bytes */
#define SMALL_FILE_MAX (64u << 10)	/* password hash, user-data, a key file */
#define BUNDLE_MAX (256u << 20)		/* the recipe bundle */
#define FOLLOW_POLL 3			/* seconds between looks at the target */
#define FAIL_TAIL 15			/* log lines shown when the deploy failed */
#define DEFAULT_KERNEL_ARGS BOOT_CONSOLE_ARGS
#define PAYLOAD_DIR "etc/anemos-deploy"

/* The remote command: stdin whole into a root-only file in RAM, its first line the length
 * of the script after it, which is then run with ANEMOS_INPUT and ANEMOS_INPUT_AT (where the
 * files start) set; kexec.sh removes the file. */
#define RECEIVE_STREAM \
	"sh -c 'umask 077; f=; for b in /dev/shm /run /tmp; do f=$(mktemp \"$b/anemos-deploy.XXXXXX\" 2>/dev/null) && break; done; " \
	"[ -n \"$f\" ] && cat >\"$f\" || { echo \"anemos: cannot store what anemosctl sends\" >&2; rm -f \"$f\"; exit 1; }; " \
	"IFS= read -r n <\"$f\"; ANEMOS_INPUT=$f; ANEMOS_INPUT_AT=$((${#n} + 2 + n)); " \
	"s=$(tail -c +$((${#n} + 2)) \"$f\" | head -c \"$n\"); eval \"$s\"'"

enum deploy_option_id {
	OPT_SSH = 256,
	OPT_HOSTNAME,
	OPT_SSH_KEY,
	OPT_MIRROR,
	OPT_NETWORK,
	OPT_METHOD,
	OPT_DISK,
	OPT_PASSWORD_FILE,
	OPT_USER_DATA,
	OPT_DETACH,
	OPT_BOOT_DIR,
	OPT_KERNEL_ARGS,
	OPT_TIMEOUT,
	OPT_SHA256,
	OPT_FORMAT,
	OPT_URL,
	OPT_HOST,
	OPT_INVENTORY,
	OPT_BOOT_URL,
	OPT_MIRROR_CA,
};

struct deploy_options {
	const char *ssh;		/* [user@]host[:port] */
	const char *hostname;		/* the new system's; default the host's own */
	json_t *keys;			/* --ssh-key texts, in order; owned */
	const char *mirror;		/* overrides the recipe's mirror= */
	const char *network;		/* auto, dhcp, static (default auto: as the host has it) */
	const char *method;		/* auto, kexec, bootloader */
	json_t *disk;			/* install.disk, {"KIND": "VALUE"}, or NULL; owned */
	const char *disk_arg;		/* --disk's KIND=VALUE as given */
	const char *password_file, *user_data;
	const char *boot_dir;		/* vmlinuz and initramfs.img */
	const char *boot_url;		/* --boot-url: where the target downloads the same two itself */
	const char *kernel_args;	/* the Anemos environment's console arguments */
	bool detach;
	long timeout;			/* seconds the deploy may take once the target booted, 3600 */
	const char *sha256;		/* an image URL's SHA-256 */
	const char *format;		/* an image URL's format (default: from its name) */
	const char *url;		/* --url: anemosd records the host (SOURCE: its image's name) */
	const char *host;		/* --host REF: the host anemosd knows this one as */
	const char *inventory;		/* --inventory PATH: the anemos-inventory sent for --url */
	const char *mirror_ca;		/* --mirror-ca FILE: PEM CA certificates the host trusts too */
	char *own_name;			/* the target's own name, when --hostname became it; owned */
};

static const char *const methods[] = { "auto", "kexec", "bootloader", NULL };
static const char *const networks[] = { "auto", "dhcp", "static", NULL };
static const char *const disk_kinds[] = { "serial", "by_path", "name", NULL };
/* What the agent streams onto a disk (install.c: tar trees, raw disk images; compressed or not). */
static const char *const image_formats[] = { "tar", "tar.gz", "tar.xz", "tar.zst", "raw", "raw.gz", "raw.xz",
					     "raw.zst", NULL };

/* Adds the keys of @text (one a line, comments and blank lines skipped) to @keys. */
static int add_key_lines(json_t *keys, const char *text, const char *from)
{
	char *copy = strdup(text), *line, *save = NULL;
	int added = 0;

	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (!strchr(line, ' ') || strncmp(line, "-----", 5) == 0) {
			err_set(-EINVAL, "%s: '%.20s...' is not an SSH public key (a .pub line)", from, line);
			free(copy);
			return -EINVAL;
		}
		json_array_append_new(keys, json_string(line));
		added++;
	}
	free(copy);
	if (!added)
		return err_set(-EINVAL, "%s holds no SSH public key", from);
	return 0;
}

/* --ssh-key KEY|FILE: a key's text, or a file of keys. */
static int ssh_key_option(struct deploy_options *o, const char *arg)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (strncmp(arg, "ssh-", 4) == 0 || strncmp(arg, "ecdsa-", 6) == 0 || strncmp(arg, "sk-", 3) == 0)
		return add_key_lines(o->keys, arg, "--ssh-key");
	if ((rc = read_file(arg, SMALL_FILE_MAX, &text, &len)) != 0)
		return rc;
	rc = add_key_lines(o->keys, text, arg);
	free(text);
	return rc;
}

static int disk_option(struct deploy_options *o, const char *arg)
{
	const char *equals = strchr(arg, '=');
	char kind[16];

	if (!equals || equals == arg || !equals[1] || (size_t)(equals - arg) >= sizeof(kind))
		return err_set(-EINVAL, "--disk takes serial=SERIAL, by_path=PATH or name=NAME (not '%s')", arg);
	snprintf(kind, sizeof(kind), "%.*s", (int)(equals - arg), arg);
	if (check_choice("--disk's kind", kind, disk_kinds) != 0)
		return -EINVAL;
	json_decref(o->disk);
	o->disk_arg = arg;
	o->disk = json_pack("{s:s}", kind, equals + 1);
	return o->disk ? 0 : -ENOMEM;
}

static bool hostname_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 63 && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n &&
	       name[0] != '-' && name[n - 1] != '-';
}

static int deploy_option(void *ctx, int option, const char *arg)
{
	struct deploy_options *o = ctx;
	char *end;

	switch (option) {
	case OPT_SSH: o->ssh = arg; return 0;
	case OPT_HOSTNAME:
		if (!hostname_valid(arg))
			return err_set(-EINVAL, "--hostname %s: letters, digits and '-' only, at most 63", arg);
		o->hostname = arg;
		return 0;
	case OPT_SSH_KEY: return ssh_key_option(o, arg);
	case OPT_MIRROR:
		if (!is_http_url(arg))
			return err_set(-EINVAL, "--mirror %s: an http:// or https:// URL", arg);
		o->mirror = arg;
		return 0;
	case OPT_NETWORK: o->network = arg; return check_choice("--network", arg, networks);
	case OPT_METHOD: o->method = arg; return check_choice("--method", arg, methods);
	case OPT_DISK: return disk_option(o, arg);
	case OPT_PASSWORD_FILE: o->password_file = arg; return 0;
	case OPT_USER_DATA: o->user_data = arg; return 0;
	case OPT_DETACH: o->detach = true; return 0;
	case OPT_BOOT_DIR: o->boot_dir = arg; return 0;
	case OPT_KERNEL_ARGS: o->kernel_args = arg; return 0;
	case OPT_SHA256:
		if (strlen(arg) != SHA256_HEX_LEN || strspn(arg, "0123456789abcdefABCDEF") != SHA256_HEX_LEN)
			return err_set(-EINVAL, "--sha256 %s: the image's SHA-256, 64 hexadecimal digits", arg);
		o->sha256 = arg;
		return 0;
	case OPT_FORMAT: o->format = arg; return check_choice("--format", arg, image_formats);
	case OPT_URL: o->url = arg; return 0;	/* checked by ctl_set_url */
	case OPT_HOST: o->host = arg; return 0;
	case OPT_INVENTORY: o->inventory = arg; return 0;
	case OPT_MIRROR_CA: o->mirror_ca = arg; return 0;
	case OPT_BOOT_URL:
		/* No user:password@ (it would be on curl's command line), no query or fragment (the
		 * file names are appended), nothing a shell or curl's globbing reads. */
		if (!is_http_url(arg) || strlen(arg) > 1024 ||
		    strpbrk(arg, "'\"\\ \t\n@?#{}[]")) {
			return err_set(-EINVAL, "--boot-url %s: an http:// or https:// URL of at most 1024 bytes, without a "
						"user:password@, a query or a fragment", arg);
		}
		o->boot_url = arg;
		return 0;
	case OPT_TIMEOUT:
		o->timeout = strtol(arg, &end, 10);
		if (*end || o->timeout < 60)
			return err_set(-EINVAL, "--timeout takes seconds, at least 60");
		return 0;
	}
	return -EINVAL;
}

/* The operator's keys when none was given: the SSH agent's, else ~/.ssh/NAME.pub. */
static int default_keys(json_t *keys)
{
	const char *home = getenv("HOME");
	char line[16384], pattern[PATH_MAX];
	glob_t g = { 0 };
	FILE *p = popen("ssh-add -L 2>/dev/null", "r");

	if (p) {
		while (fgets(line, sizeof(line), p))
			if (strchr(line, ' ') && strncmp(line, "The agent", 9) != 0 &&
			    add_key_lines(keys, line, "ssh-add -L") != 0)
				ctl_print_error();	/* said, and the other keys taken */
		if (pclose(p) != 0)
			json_array_clear(keys);
	}
	if (json_array_size(keys) || !home)
		return json_array_size(keys) ? 0 : -ENOENT;
	snprintf(pattern, sizeof(pattern), "%s/.ssh/*.pub", home);
	if (glob(pattern, 0, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++) {
			char *text = NULL;
			size_t len;

			if (read_file(g.gl_pathv[i], SMALL_FILE_MAX, &text, &len) != 0 ||
			    add_key_lines(keys, text, g.gl_pathv[i]) != 0)
				ctl_print_error();	/* said, and the other files read */
			free(text);
		}
	globfree(&g);
	return json_array_size(keys) ? 0 : -ENOENT;
}

/* The boot folder: --boot-dir, $ANEMOS_BOOT_DIR, boot/ beside this program (build/boot),
 * or where deploy/install.sh puts it. */
static char *boot_dir(const char *given)
{
	const char *env = getenv("ANEMOS_BOOT_DIR");
	const char *installed[] = { "/usr/local/share/anemos/boot", "/usr/share/anemos/boot" };
	char self[PATH_MAX], *slash, *path = NULL;
	ssize_t n;

	if (given || (env && *env))
		return strdup(given ? given : env);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')))
			*slash = '\0';
		if (asprintf(&path, "%s/boot", self) >= 0 && access(path, R_OK) == 0)
			return path;
		free(path);
	}
	for (size_t i = 0; i < 2; i++)
		if (access(installed[i], R_OK) == 0)
			return strdup(installed[i]);
	return strdup(installed[0]);
}

/* One newc cpio entry (no trailer) of @name, @mode, @data (@len bytes) onto @f. */
static void cpio_entry(FILE *f, const char *name, unsigned mode, const void *data, size_t len)
{
	static unsigned ino = 100;
	size_t namesize = strlen(name) + 1;
	static const char zeros[4] = { 0 };

	fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino++, mode, 0, 0,
		(mode & 0040000) ? 2 : 1, 0, len, 0, 0, 0, 0, namesize, 0);
	fwrite(name, 1, namesize, f);
	fwrite(zeros, 1, (4 - (110 + namesize) % 4) % 4, f);
	if (len) {
		fwrite(data, 1, len, f);
		fwrite(zeros, 1, (4 - len % 4) % 4, f);
	}
}

struct deploy {
	struct deploy_options *o;
	char id[33];			/* this deploy's random id, in the plan and the log */
	char recipe[256];		/* the recipe's name, or the image's */
	const char *image_url;		/* SOURCE, when it is an image's URL (no bundle then) */
	const char *format;		/* that image's format */
	char *kernel, *initrd, *bundle, *payload, *ca;
	size_t kernel_len, initrd_len, bundle_len, payload_len, ca_len;
	char kernel_sha[SHA256_HEX_LEN + 1], initrd_sha[SHA256_HEX_LEN + 1], bundle_sha[SHA256_HEX_LEN + 1];
	char old_boot[64];		/* the target's boot_id before the deploy */
	char root[300];			/* root@HOST[:PORT]: the Anemos environment and the new
					 * system take the operator's keys for root only */
	time_t started;
};

static void deploy_free(struct deploy *d)
{
	free(d->kernel);
	free(d->initrd);
	free(d->bundle);
	free(d->payload);
	free(d->ca);
}

/* --mirror-ca FILE into d->ca: PEM certificates (at most 1 MiB), which the Anemos environment
 * adds to Debian's CAs for https:// mirrors and images. 0 or -errno (with the message). */
static int read_mirror_ca(struct deploy *d)
{
	int rc;

	if (!d->o->mirror_ca)
		return 0;
	if ((rc = read_file(d->o->mirror_ca, 1 << 20, &d->ca, &d->ca_len)) != 0)
		return rc;
	if (strlen(d->ca) != d->ca_len || !strstr(d->ca, "-----BEGIN CERTIFICATE-----") ||
	    !strstr(d->ca, "-----END CERTIFICATE-----")) {
		return err_set(-EINVAL, "--mirror-ca %s: not PEM CA certificates (-----BEGIN CERTIFICATE----- ...)", d->o->mirror_ca);
	}
	if (strstr(d->ca, "PRIVATE KEY")) {	/* a certificate and its key in one file: not the key */
		return err_set(-EINVAL, "--mirror-ca %s holds a private key: give the CA certificates alone", d->o->mirror_ca);
	}
	return 0;
}

/* The recipe bundle of @dir, read into d->bundle with its SHA-256. */
static int read_bundle(struct deploy *d, const char *dir)
{
	char path[] = "/tmp/anemos-deploy-bundle.XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return err_set(-errno, "mkstemp: %s", strerror(errno));
	close(fd);
	rc = bundle_recipe(dir, path, d->recipe, sizeof(d->recipe));
	if (rc == 0)
		rc = read_file(path, BUNDLE_MAX, &d->bundle, &d->bundle_len);
	unlink(path);
	if (rc == 0)
		sha256_hex(d->bundle, d->bundle_len, d->bundle_sha);
	return rc;
}

static int read_boot_files(struct deploy *d)
{
	char *dir = boot_dir(d->o->boot_dir), *k = NULL, *i = NULL;
	int rc = -ENOMEM;

	if (dir && asprintf(&k, "%s/vmlinuz", dir) >= 0 && asprintf(&i, "%s/initramfs.img", dir) >= 0) {
		if ((rc = read_file(k, BOOT_FILE_MAX, &d->kernel, &d->kernel_len)) == 0 &&
		    (rc = read_file(i, BOOT_FILE_MAX, &d->initrd, &d->initrd_len)) == 0) {
			sha256_hex(d->kernel, d->kernel_len, d->kernel_sha);
			sha256_hex(d->initrd, d->initrd_len, d->initrd_sha);
		} else {
			err_set(rc, "%s\nthe Anemos kernel and initramfs are not in %s (make initramfs; or --boot-dir DIR)",
				err_msg(), dir);
		}
	}
	free(dir);
	free(k);
	free(i);
	return rc;
}

/* The plan the agent follows on the target (the same shape as anemosd's install plans). */
static json_t *make_plan(struct deploy *d)
{
	struct deploy_options *o = d->o;
	json_t *plan, *install = json_object();
	char *text = NULL;
	size_t len;

	if (o->disk)
		json_object_set(install, "disk", o->disk);
	if (o->network && strcmp(o->network, "dhcp") == 0)
		json_object_set_new(install, "network", json_pack("{s:s}", "mode", "dhcp"));
	if (o->password_file) {
		if (read_file(o->password_file, SMALL_FILE_MAX, &text, &len) != 0)
			goto fail;
		text[strcspn(text, "\r\n")] = '\0';
		if (text[0] != '$') {
			err_set(-EINVAL, "%s: not a crypt(3) hash (mkpasswd -m sha-512 makes one)", o->password_file);
			goto fail;
		}
		json_object_set_new(install, "root_password_hash", json_string(text));
		free(text);
		text = NULL;
	}
	if (o->user_data) {
		if (read_file(o->user_data, SMALL_FILE_MAX, &text, &len) != 0)
			goto fail;
		if (json_object_set_new(install, "cloud_init_user_data", json_stringn(text, len)) != 0) {
			err_set(-EINVAL, "%s: the user-data must be UTF-8 text without NUL bytes, as cloud-init takes it",
				o->user_data);
			goto fail;
		}
		free(text);
		text = NULL;
	}
	plan = json_pack("{s:s, s:s, s:{s:i, s:s?}, s:{s:s, s:s, s:s, s:s, s:s?}, s:o, s:O}",
			 "action", "install", "deploy_id", d->id, "host", "id", 0, "hostname", o->hostname,
			 "image", "name", d->recipe, "format", d->image_url ? d->format : "recipe",
			 "url", d->image_url ? d->image_url : "file:///" PAYLOAD_DIR "/recipe.tar",
			 "sha256", d->image_url ? o->sha256 : d->bundle_sha, "mirror", o->mirror,
			 "install", install, "ssh_authorized_keys", o->keys);
	return plan;
fail:
	free(text);
	json_decref(install);
	return NULL;
}

/* The payload's cpio entries: the plan, the bundle and the keys, all root-only. */
static int make_payload(struct deploy *d)
{
	json_t *plan = make_plan(d), *key;
	char *plan_text = plan ? json_dumps(plan, JSON_COMPACT) : NULL, *keys = NULL;
	size_t keys_len = 0, i;
	FILE *f;

	json_decref(plan);
	if (!plan_text || !(f = open_memstream(&keys, &keys_len))) {
		free(plan_text);
		return plan ? -ENOMEM : -EINVAL;
	}
	json_array_foreach(d->o->keys, i, key)
		fprintf(f, "%s\n", json_string_value(key));
	fclose(f);
	if (!(f = open_memstream(&d->payload, &d->payload_len))) {
		free(plan_text);
		free(keys);
		return -ENOMEM;
	}
	cpio_entry(f, PAYLOAD_DIR, 0040700, NULL, 0);
	cpio_entry(f, PAYLOAD_DIR "/plan.json", 0100600, plan_text, strlen(plan_text));
	cpio_entry(f, PAYLOAD_DIR "/authorized_keys", 0100600, keys, keys_len);
	if (d->bundle)
		cpio_entry(f, PAYLOAD_DIR "/recipe.tar", 0100600, d->bundle, d->bundle_len);
	if (d->ca)	/* /init adds it to the CA bundle */
		cpio_entry(f, PAYLOAD_DIR "/ca.pem", 0100644, d->ca, d->ca_len);
	fclose(f);
	free(plan_text);
	free(keys);
	return 0;
}

/* The stream the target receives: "<length of the script>\n", the script, the files. */
static int make_stream(struct deploy *d, char **stream, size_t *len)
{
	const struct deploy_options *o = d->o;
	char *script = NULL, *cmdline = NULL, num[32];
	size_t script_len = 0;
	/* With --boot-url the kernel and initramfs are not sent, only their SHA-256s. */
	size_t sent_kernel = o->boot_url ? 0 : d->kernel_len, sent_initrd = o->boot_url ? 0 : d->initrd_len;
	FILE *f = open_memstream(&script, &script_len);

	if (!f || asprintf(&cmdline, BOOT_ARG_MODE "=deploy %s", o->kernel_args ? o->kernel_args : DEFAULT_KERNEL_ARGS) < 0) {
		if (f)
			fclose(f);
		free(script);
		return -ENOMEM;
	}
	put_var(f, "ANEMOS_MODE", "deploy");
	put_var(f, "ANEMOS_CMDLINE", cmdline);
	put_var(f, "ANEMOS_METHOD", o->method ? o->method : "auto");
	put_var(f, "ANEMOS_NETWORK", o->network ? o->network : "auto");
	put_common_vars(f);
	put_var(f, "ANEMOS_KERNEL_SHA256", d->kernel_sha);
	put_var(f, "ANEMOS_INITRD_SHA256", d->initrd_sha);
	/* Empty unless --boot-url: nothing in the target's environment may turn downloads on. */
	put_var(f, "ANEMOS_KERNEL_URL", "");
	put_var(f, "ANEMOS_INITRD_URL", "");
	if (o->boot_url) {	/* the target downloads them (kexec.sh checks the same SHA-256s) */
		int n = (int)(strlen(o->boot_url) - (o->boot_url[strlen(o->boot_url) - 1] == '/'));
		char url[1100];

		snprintf(url, sizeof(url), "%.*s/vmlinuz", n, o->boot_url);
		put_var(f, "ANEMOS_KERNEL_URL", url);
		snprintf(url, sizeof(url), "%.*s/initramfs.img", n, o->boot_url);
		put_var(f, "ANEMOS_INITRD_URL", url);
	}
	fprintf(f, "ANEMOS_KERNEL_AT=0 ANEMOS_KERNEL_SIZE=%zu\n", sent_kernel);
	fprintf(f, "ANEMOS_INITRD_AT=%zu ANEMOS_INITRD_SIZE=%zu\n", sent_kernel, sent_initrd);
	fprintf(f, "ANEMOS_PAYLOAD_AT=%zu ANEMOS_PAYLOAD_SIZE=%zu\n", sent_kernel + sent_initrd, d->payload_len);
	fprintf(f, "echo \"anemos: deploy %s: boot_id $(cat /proc/sys/kernel/random/boot_id)\"\n", d->id);
	fputs(kexec_sh, f);
	fclose(f);
	free(cmdline);
	snprintf(num, sizeof(num), "%zu\n", script_len);
	*len = strlen(num) + script_len + sent_kernel + sent_initrd + d->payload_len;
	if (!(*stream = malloc(*len))) {
		free(script);
		return -ENOMEM;
	}
	{
		char *p = *stream;

		p = mempcpy(p, num, strlen(num));
		p = mempcpy(p, script, script_len);
		p = mempcpy(p, d->kernel, sent_kernel);
		p = mempcpy(p, d->initrd, sent_initrd);
		memcpy(p, d->payload, d->payload_len);
	}
	free(script);
	return 0;
}

/* ---- following the deploy ---- */

/* Where a phase stands in the whole deploy, for the progress bar (0-100). */
static const struct {
	const char *phase;
	int percent;
} phase_percent[] = {
	{ "sent", 3 }, { "booting", 5 }, { "deploy", 8 }, { "install", 10 }, { "partition", 12 },
	{ "bootstrap", 15 }, { "provision", 80 }, { "configure", 85 }, { "bootloader", 90 },
	{ "rebooting", 95 }, { "deployed", 100 },
};

struct deploy_follow {
	struct deploy *d;
	bool tty, json;
	int lines_seen;		/* of /run/anemos/phases */
	int percent;
	char last_phase[32];
	bool in_anemos;		/* the Anemos environment answered */
	bool failed;
	bool unreachable_said;
};

static void show(struct deploy_follow *w, const char *phase, const char *level, const char *message, double fraction)
{
	long secs = (long)(time(NULL) - w->d->started);

	for (size_t i = 0; i < sizeof(phase_percent) / sizeof(phase_percent[0]); i++)
		if (strcmp(phase_percent[i].phase, phase) == 0) {
			int p = phase_percent[i].percent;

			if (fraction > 0 && i + 1 < sizeof(phase_percent) / sizeof(phase_percent[0]))
				p += (int)((phase_percent[i + 1].percent - p) * (fraction > 1 ? 1 : fraction));
			if (p > w->percent)
				w->percent = p;
		}
	snprintf(w->last_phase, sizeof(w->last_phase), "%s", phase);
	if (w->json) {
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}", "event", "phase", "phase", phase, "level", level,
				       "message", message, "seconds", (json_int_t)secs, "percent", w->percent);

		if (ev) {
			char *text = json_dumps(ev, JSON_COMPACT);

			if (text)
				printf("%s\n", text);
			free(text);
			json_decref(ev);
		}
	} else if (w->tty) {
		char bar[21];
		int filled = w->percent / 5;

		memset(bar, '#', (size_t)filled);
		memset(bar + filled, '.', (size_t)(20 - filled));
		bar[20] = '\0';
		printf("\r\033[K[%s] %3d%% %4lds %.*s", bar, w->percent, secs, 60, message);
		if (strcmp(level, "progress") != 0)
			printf("\n");
	} else if (strcmp(level, "progress") != 0 || fraction < 0) {
		size_t n = strlen(phase);
		bool named = strncmp(message, phase, n) == 0 && message[n] == ':';	/* "bootstrap: ..." */

		printf("%4lds %s%s%s\n", secs, named ? "" : phase, named ? "" : ": ", message);
	}
	fflush(stdout);
}

/* A line "PHASE\tLEVEL\tMESSAGE[\tBYTES\tTOTAL]" of /run/anemos/phases. */
static void phase_line(struct deploy_follow *w, char *line)
{
	char *fields[5] = { 0 }, *save = NULL;
	int n = 0;
	double fraction = 0;

	for (char *t = strtok_r(line, "\t", &save); t && n < 5; t = strtok_r(NULL, "\t", &save))
		fields[n++] = t;
	if (n < 3)
		return;
	if (n == 5 && atof(fields[4]) > 0)
		fraction = atof(fields[3]) / atof(fields[4]);
	if (strcmp(fields[1], "error") == 0 && strstr(fields[2], "failed"))
		w->failed = true;
	show(w, fields[0], fields[1], fields[2], fraction);
}

/* run_ssh with ssh's own complaints hidden: while the host reboots most looks fail, and
 * "Connection timed out" each time says nothing the phases do not. */
static int quiet_ssh(const char *dest, const char *cmd, char **out)
{
	int saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3), null = open("/dev/null", O_WRONLY | O_CLOEXEC), status;

	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	status = run_ssh(dest, cmd, "", 0, out);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null >= 0)
		close(null);
	return status;
}

/* One look at the target: which system answers, and the new phase lines. Returns 1 when the
 * deploy ended (deployed, failed or the old system back), 0 to look again. */
static int look(struct deploy_follow *w, int *rc)
{
	const char *dest = w->d->o->ssh;
	char *out = NULL, *line, *save = NULL, cmd[512];
	int status, n = 0;
	bool initramfs = false, ours = false;
	char boot[64] = "";

	snprintf(cmd, sizeof(cmd),
		 "cat /proc/sys/kernel/random/boot_id; test -e /etc/anemos-initramfs && echo anemos-initramfs; "
		 "grep -qs 'deploy %s' /var/log/anemos/install.log && echo anemos-deployed; echo ---; "
		 "cat /run/anemos/phases 2>/dev/null && wc -l </run/anemos/phases >/run/anemos/phases.read; exit 0", w->d->id);
	/* root first (the Anemos environment and the new system), then the user given (the old
	 * system, which may refuse root, until it switches, or when it is back) */
	status = quiet_ssh(w->d->root, cmd, &out);
	if ((status != 0 || !out) && strcmp(dest, w->d->root)) {
		free(out);
		out = NULL;
		status = quiet_ssh(dest, cmd, &out);
	}
	if (status != 0 || !out) {
		if (!w->unreachable_said && (w->in_anemos || strcmp(w->last_phase, "sent") == 0)) {
			show(w, w->in_anemos ? "rebooting" : "booting", "info",
			     w->in_anemos ? "rebooting into the new system" : "the host boots the Anemos environment", -1);
			w->unreachable_said = true;
		}
		free(out);
		return 0;
	}
	w->unreachable_said = false;
	for (line = strtok_r(out, "\n", &save); line && strcmp(line, "---"); line = strtok_r(NULL, "\n", &save)) {
		if (!boot[0])
			snprintf(boot, sizeof(boot), "%s", line);
		initramfs |= strcmp(line, "anemos-initramfs") == 0;
		ours |= strcmp(line, "anemos-deployed") == 0;
	}
	if (initramfs) {
		if (!w->in_anemos)
			show(w, "deploy", "info", "the Anemos environment answers SSH with the host's own host key", -1);
		w->in_anemos = true;
		for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (++n > w->lines_seen) {
				w->lines_seen = n;
				phase_line(w, line);
			}
	}
	free(out);
	if (initramfs && w->failed) {
		*rc = -EIO;
		return 1;
	}
	if (!initramfs && strcmp(boot, w->d->old_boot) != 0) {
		*rc = ours ? 0 : -EIO;
		return 1;
	}
	return 0;
}

/* Returns @rc with the words for how the deploy failed and what to do next, after the last
 * lines of its log (printed). */
static int tell_failure(struct deploy_follow *w, bool old_back, int rc)
{
	char *out = NULL, cmd[128];
	bool untouched;
	int status;

	if (w->tty)
		printf("\n");
	if (old_back)
		return err_set(rc, "the deploy failed: %s is back in its old system (the one-shot boot entry fell back); "
			       "its console shows why", w->d->o->ssh);
	snprintf(cmd, sizeof(cmd), "tail -n %d /run/anemos/install.log", FAIL_TAIL);
	if ((status = run_ssh(w->d->root, cmd, "", 0, &out)) == 0 && out)
		fprintf(stderr, "%s", out);
	else if (status < 0)
		ctl_print_error();	/* no log to show, and why */
	/* The agent says so when it failed before writing the disk (its mirror check comes first). */
	untouched = out && strstr(out, BOOT_DISK_UNTOUCHED);
	free(out);
	if (untouched)
		return err_set(rc, "the deploy failed; the host stays in the Anemos environment: ssh %s (your key) and read "
			       "/run/anemos/install.log. The disk was not touched: reboot the host (ssh %s reboot) and "
			       "it starts its old system again; fix the cause and deploy again", w->d->root, w->d->root);
	return err_set(rc, "the deploy failed; the host stays in the Anemos environment: ssh %s (your key) and read "
		       "/run/anemos/install.log; a build that had started wiped the disk, so fix the cause and "
		       "deploy again", w->d->root);
}

static int follow(struct deploy *d, bool json)
{
	struct deploy_follow w = { .d = d, .tty = !json && isatty(STDOUT_FILENO), .json = json };
	time_t deadline = time(NULL) + d->o->timeout;
	int rc = -ETIMEDOUT;

	show(&w, "sent", "info", "sent; the host moves into the Anemos environment", -1);
	while (time(NULL) < deadline) {
		sleep(FOLLOW_POLL);
		if (look(&w, &rc))
			break;
	}
	if (rc == 0) {
		show(&w, "deployed", "info", "the new system answers SSH", -1);
		if (w.json)
			printf("{\"event\":\"deployed\",\"seconds\":%ld}\n", (long)(time(NULL) - d->started));
		else
			printf("deployed in %ld s: ssh %s\n", (long)(time(NULL) - d->started), d->root);
		return 0;
	}
	if (rc == -ETIMEDOUT) {
		if (w.tty)
			printf("\n");
		return err_set(rc, "no end of the deploy after %ld s (last phase: %s); look at the host's console", d->o->timeout,
				   w.last_phase);
	}
	return tell_failure(&w, !w.failed, rc);
}

/* The "anemos: ..." lines the target printed, shown; the boot_id noted. */
static void target_said(struct deploy *d, const char *out, bool json)
{
	const char *p = strstr(out, ": boot_id ");

	if (p)
		sscanf(p + 10, "%63s", d->old_boot);
	if (!json)
		fputs(out, stdout);
}

static const struct option deploy_options[] = {
	{ "ssh", required_argument, NULL, OPT_SSH },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
	{ "mirror", required_argument, NULL, OPT_MIRROR },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "method", required_argument, NULL, OPT_METHOD },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "root-password-hash-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "user-data", required_argument, NULL, OPT_USER_DATA },
	{ "detach", no_argument, NULL, OPT_DETACH },
	{ "boot-dir", required_argument, NULL, OPT_BOOT_DIR },
	{ "kernel-args", required_argument, NULL, OPT_KERNEL_ARGS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "sha256", required_argument, NULL, OPT_SHA256 },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "url", required_argument, NULL, OPT_URL },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "inventory", required_argument, NULL, OPT_INVENTORY },
	{ "boot-url", required_argument, NULL, OPT_BOOT_URL },
	{ "mirror-ca", required_argument, NULL, OPT_MIRROR_CA },
	{ NULL, 0, NULL, 0 },
};

/* Whether name ends with "." and format. */
static bool ends_with_format(const char *name, const char *format)
{
	size_t n = strlen(name), m = strlen(format);

	return n > m + 1 && name[n - m - 1] == '.' && strcmp(name + n - m, format) == 0;
}

/* SOURCE as an image's URL: the target streams it from there itself (verified against
 * --sha256), as anemosd's image installs do; its name and format come from the URL's last
 * part unless --format says. 0 (d->image_url set, or not a URL), or -EINVAL (with the message). */
static int image_source(struct deploy *d, const char *source)
{
	char path[2048];
	const char *base;

	if (!is_http_url(source)) {
		if (d->o->sha256 || d->o->format)
			return err_set(-EINVAL, "--sha256 and --format go with an image's URL as SOURCE");
		return 0;
	}
	if (!d->o->sha256)
		return err_set(-EINVAL, "%s: an image's URL needs --sha256 HEX (the target checks what it downloads)", source);
	if (strlen(source) >= 2048)
		return err_set(-EINVAL, "an image's URL of at most 2047 bytes");
	if (d->o->mirror)
		return err_set(-EINVAL, "--mirror goes with a recipe: an image is not built");
	/* The name is the path's last part: a signed URL's query or a fragment is not the name. */
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(source, "?#"), source);
	base = strrchr(path, '/') + 1;
	d->format = d->o->format;
	for (size_t i = 0; !d->format && image_formats[i]; i++)
		if (ends_with_format(base, image_formats[i]))
			d->format = image_formats[i];
	if (!d->format)
		return err_set(-EINVAL, "%s: say the image's format with --format (tar.zst, raw.xz, ...)", source);
	snprintf(d->recipe, sizeof(d->recipe), "%.*s", (int)(strlen(base) - (ends_with_format(base, d->format) ?
									    strlen(d->format) + 1 : 0)), base);
	if (!d->recipe[0] || strspn(d->recipe, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
				     strlen(d->recipe))
		snprintf(d->recipe, sizeof(d->recipe), "image");
	d->image_url = source;
	return 0;
}

/* anemosctl host set's arguments for the per-host settings deploy was given, into @argv
 * (SETTINGS_ARGS + 2 × keys slots); returns their count, 2 when there is nothing to set. */
#define SETTINGS_ARGS 16	/* "set", the id, 5 options with their values, the NULL, and spare */
static int settings_args(const struct deploy_options *o, const char *id, const char **argv)
{
	int n = 0;
	size_t i;
	json_t *key;

	argv[n++] = "set";
	argv[n++] = id;
#define ARG(option, value) do { if (value) { argv[n++] = option; argv[n++] = value; } } while (0)
	ARG("--hostname", o->hostname);
	json_array_foreach(o->keys, i, key)
		ARG("--ssh-key", json_string_value(key));
	ARG("--disk", o->disk_arg);
	ARG("--root-password-hash-file", o->password_file);
	ARG("--user-data", o->user_data);
	ARG("--mirror", o->mirror);
#undef ARG
	argv[n] = NULL;
	return n;
}

/* The host deploy --url deploys, its id into @id: the target's inventory adopted onto --host
 * or a new host, once anemosd has the image; a new host without --hostname gets the target's
 * own name. 0 or -errno (with the message). */
static int recorded_host(struct ctl *ctl, struct deploy_options *o, const char *image, char id[32])
{
	json_t *host = NULL, *list = NULL, *image_json;
	const json_t *images;
	bool known = false;
	char *name = NULL;
	size_t i;
	int rc;

	/* Nothing is recorded for an image anemosd does not have. */
	if ((rc = api_call(ctl, "GET", "/api/v1/images", NULL, &list)) != 0)
		return rc;
	if ((images = answer_array(list, "images")))
		json_array_foreach(images, i, image_json)
			known = known || (json_text(image_json, "name") && strcmp(json_text(image_json, "name"), image) == 0);
	json_decref(list);
	if (!known)
		return err_set(-ENOENT, "anemosd has no image '%s' (anemosctl image list shows its images; "
			       "anemosctl image add adds one)", image);
	if ((rc = remote_adopt_host(ctl, o->ssh, o->inventory, o->host, &host)) != 0) {
		if (rc == -EEXIST && !o->host)
			return err_set(rc, "%s\nthat machine is a host anemosd knows: name it with --host ID", err_msg());
		return rc;
	}
	if (!json_is_integer(json_object_get(host, "id"))) {
		json_decref(host);
		return err_set(-EPROTO, "anemosd's answer to the inventory names no host id");
	}
	snprintf(id, 32, "%lld", (long long)json_integer_value(json_object_get(host, "id")));
	/* A new host's name: the target's own, as a hint (host set may still refuse it). */
	if (!o->hostname && !o->host && (rc = run_ssh(o->ssh, "hostname", "", 0, &name)) < 0)
		ctl_print_error();	/* only a hint is missing: said, and the deploy goes on */
	else if (!o->hostname && !o->host && rc == 0 && name) {
		name[strcspn(name, "\r\n.")] = '\0';
		if (hostname_valid(name) && strpbrk(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		    strcmp(name, "localhost") != 0) {
			o->hostname = o->own_name = name;
			name = NULL;
		}
	}
	free(name);
	if (!ctl->json)
		fprintf(stderr, "anemosctl: %s is host %s on anemosd\n", o->ssh, id);
	json_decref(host);
	return 0;
}

/*
 * deploy --url: anemosd records the host, as `reinstall --ssh` does. The target's inventory
 * goes onto --host REF or a new host (adopt), the per-host settings onto that host (host
 * set), then the host reinstalls with the registered image @image over SSH (remote_boot:
 * anemosd's /kexec.sh and its plan) and anemosctl follows the host's events on anemosd.
 */
static int deploy_recorded(struct ctl *ctl, struct deploy_options *o, const char *image, time_t started)
{
	/* The host keeps its identity, as a deploy without anemosd does. */
	struct remote_boot boot = { .ssh = o->ssh, .image = image, .method = o->method, .network = o->network,
				    .followed = true, .keep_host_keys = true };
	const char **argv = NULL;
	char id[32];
	int argc, rc;

	if (o->url != ctl->url && (rc = ctl_set_url(ctl, o->url, "--url")) != 0)
		return rc;
	/* A new host gets the operator's keys as deploy without anemosd does; a known one keeps
	 * its own unless --ssh-key says. */
	if (!json_array_size(o->keys) && !o->host && default_keys(o->keys) != 0)
		warnx("no SSH key in the SSH agent or ~/.ssh/*.pub: the new system has only anemosd's --ssh-keys");
	if ((rc = recorded_host(ctl, o, image, id)) != 0)
		return rc;
	if (!(argv = calloc(json_array_size(o->keys) * 2 + SETTINGS_ARGS, sizeof(*argv))))
		return -ENOMEM;
	if ((argc = settings_args(o, id, argv)) > 2 && (rc = host_set(ctl, argc, (char **)argv)) != 0 &&
	    o->own_name) {
		/* The target's own name was only a hint (another host may have it): without it. */
		ctl_print_error();
		warnx("host %s keeps no name: anemosd refused the target's own, %s", id, o->own_name);
		o->hostname = NULL;
		rc = (argc = settings_args(o, id, argv)) > 2 ? host_set(ctl, argc, (char **)argv) : 0;
	}
	if (rc != 0)
		goto out;
	fflush(stdout);
	if ((rc = remote_boot(ctl, id, "install", &boot)) != 0)
		goto out;
	if (o->detach) {
		printf("host %s is installing image %s; follow it with: anemosctl host events %s --follow\n", id, image, id);
		goto out;
	}
	rc = follow_host(ctl, id, 1, o->timeout);
	if (rc == 0 && !ctl->json)
		printf("deployed in %lld s\n", (long long)(time(NULL) - started));
out:
	free(argv);
	return rc;
}

/* deploy --url's checks of the other options: 0, or -EINVAL (with the message). */
static int recorded_options(const struct deploy *d, const char *source)
{
	struct stat st;

	if (d->image_url || stat(source, &st) == 0)
		return err_set(-EINVAL, "%s: with --url, SOURCE is the name of an image anemosd has (`anemosctl image add "
					"%s` registers it; then deploy it by its name)", source, source);
	if (d->o->boot_dir || d->o->kernel_args || d->o->boot_url || d->o->mirror_ca)
		return err_set(-EINVAL, "--boot-dir, --boot-url, --kernel-args and --mirror-ca go with a deploy without anemosd: "
					"with --url, anemosd sends its own");
	return 0;
}

/* A deploy without anemosd: the checks of SOURCE and the keys, this deploy's id, then the
 * stream for the target (the caller's to free). 0 or -errno (with the message). */
static int serverless_prepare(struct deploy *d, const char *source, char **stream, size_t *len)
{
	unsigned char raw[16];
	struct stat st;
	int rc = -EINVAL;

	if (d->o->host || d->o->inventory)
		return err_set(rc, "--host and --inventory go with --url: the host anemosd knows this one as, the "
				   "inventory program to send it");
	if (!d->image_url && (stat(source, &st) != 0 || !S_ISDIR(st.st_mode)))
		return err_set(rc, "%s: SOURCE must be a recipe folder, or an image's http(s) URL with --sha256; an image "
				   "anemosd has is deployed by its name with --url", source);
	if (!json_array_size(d->o->keys) && default_keys(d->o->keys) != 0)
		return err_set(rc, "no SSH key to log into the new system with: give --ssh-key KEY|FILE "
				   "(none in the SSH agent or ~/.ssh/*.pub)");
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(d->id + 2 * i, 3, "%02x", raw[i]);
	if ((!d->image_url && (rc = read_bundle(d, source)) != 0) || (rc = read_mirror_ca(d)) != 0 ||
	    (rc = read_boot_files(d)) != 0 || (rc = make_payload(d)) != 0)
		return rc;
	return make_stream(d, stream, len);
}

int deploy_ssh(struct ctl *ctl, int argc, char **argv)
{
	struct deploy_options o = { .keys = json_array(), .timeout = 3600 };
	struct deploy d = { .o = &o, .started = time(NULL) };
	char *stream = NULL, *out = NULL;
	size_t len = 0;
	int first, rc, status;

	if ((first = parse_command(argc, argv, deploy_options, deploy_option, &o, 1, 1)) < 0) {
		rc = first;
		goto out;
	}
	rc = -EINVAL;
	if (!o.ssh) {
		err_set(rc, "--ssh [user@]host[:port] is needed: the host is reached over SSH");
		goto out;
	}
	if (!ssh_dest_valid(o.ssh))
		goto out;
	snprintf(d.root, sizeof(d.root), "root@%s", strchr(o.ssh, '@') ? strchr(o.ssh, '@') + 1 : o.ssh);
	if (image_source(&d, argv[first]) < 0)
		goto out;
	/* anemosctl --url URL deploy ... records the deploy as deploy --url URL does. */
	if (!o.url && ctl->url_origin && strcmp(ctl->url_origin, "--url") == 0)
		o.url = ctl->url;
	if (o.url) {
		if ((rc = recorded_options(&d, argv[first])) == 0)
			rc = deploy_recorded(ctl, &o, argv[first], d.started);
		goto out;
	}
	if ((rc = serverless_prepare(&d, argv[first], &stream, &len)) != 0)
		goto out;
	if (!ctl->json)
		fprintf(stderr, "anemosctl: deploying %s %s onto %s over SSH (%zu MiB to send; no anemosd)\n",
			d.image_url ? "image" : "recipe", d.recipe, o.ssh, len >> 20);
	status = run_ssh(o.ssh, AS_ROOT(RECEIVE_STREAM), stream, len, &out);
	if (out)
		target_said(&d, out, ctl->json);
	if (status != 0) {
		rc = ssh_failure(status, "the target refused or could not be reached", "; nothing was changed there");
		goto out;
	}
	if (o.detach) {
		printf("deploy %s started on %s; follow its console, or ssh %s (the Anemos environment, then the new system)\n",
		       d.id, o.ssh, o.ssh);
		rc = 0;
		goto out;
	}
	rc = follow(&d, ctl->json);
out:
	free(o.own_name);
	json_decref(o.keys);
	json_decref(o.disk);
	deploy_free(&d);
	free(stream);
	free(out);
	return rc;
}

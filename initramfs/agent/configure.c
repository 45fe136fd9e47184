/*
 * What makes a copy of an image this host: fstab, hostname, hosts, root's keys and password,
 * the network, the cloud-init seed and the phone-home. Every file goes into the target
 * through its root descriptor (target.c), so an image's symlinks, absolute ones included,
 * resolve inside it: a hostile image can make the install fail, never make it write outside
 * the target. The failure names the file and the symlink that led nowhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "install.h"

#define SHADOW_MAX (4 << 20)
#define HOSTS_MAX (1 << 20)

struct configure {
	struct agent *a;
	json_t *plan, *settings;
	int rootfd;
};

/* Fails with -EIO, the formatted message set (err_set); c is every caller's context. */
static int failf(struct configure *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(struct configure *c, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	(void)c;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return err_set(-EIO, "%s", text);
}

/* The failure of rc on path, said with the symlink that caused it, if one did. */
static int fail_on(struct configure *c, const char *what, const char *path, int rc)
{
	char err[TARGET_PATH_MAX + 200];

	return failf(c, "cannot %s %s: %s", what, path, target_strerror(c->rootfd, path, rc, err, sizeof(err)));
}

static int make_dirs(struct configure *c, const char *path, mode_t mode)
{
	int rc = target_mkdirs(c->rootfd, path, mode);

	return rc < 0 ? fail_on(c, "make", path, rc) : 0;
}

static int put_text(struct configure *c, const char *path, mode_t mode, const char *text)
{
	int rc = target_write(c->rootfd, path, mode, text, strlen(text));

	return rc < 0 ? fail_on(c, "write", path, rc) : 0;
}

/* path (its folder made first) becomes a new file of mode with the formatted text. */
static int put(struct configure *c, const char *path, mode_t mode, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int put(struct configure *c, const char *path, mode_t mode, const char *fmt, ...)
{
	char dir[TARGET_PATH_MAX];
	va_list ap;
	int rc;

	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	if (dir[0] && make_dirs(c, dir, 0755) < 0)
		return -EIO;
	va_start(ap, fmt);
	rc = target_vprintf(c->rootfd, path, mode, fmt, ap);
	va_end(ap);
	return rc < 0 ? fail_on(c, "write", path, rc) : 0;
}

static const char *hostname_of(struct configure *c, char *buf, size_t len)
{
	json_t *host = json_object_get(c->plan, "host");
	const char *h = json_string_value(json_object_get(host, "hostname"));

	if (h)
		return h;
	snprintf(buf, len, "host-%lld", (long long)json_integer_value(json_object_get(host, "id")));
	return buf;
}

/* Appends the host's name to the image's /etc/hosts (a new file, the old lines first). */
static int add_to_hosts(struct configure *c, const char *name)
{
	char *old = NULL;
	int rc = target_read(c->rootfd, "/etc/hosts", HOSTS_MAX, &old, NULL);

	if (rc < 0 && rc != -ENOENT)
		return fail_on(c, "read", "/etc/hosts", rc);
	rc = put(c, "/etc/hosts", 0644, "%s%s127.0.1.1\t%s\n", old ? old : "",
		 old && *old && old[strlen(old) - 1] != '\n' ? "\n" : "", name);
	free(old);
	return rc;
}

/* Replaces root's password hash in the target's /etc/shadow, if it has one; the new file
 * keeps the old one's mode and owner (group shadow on Debian). */
static int set_root_password(struct configure *c, const char *hash)
{
	struct target_file f;
	struct stat st;
	char *old = NULL, *line, *next;
	FILE *out;
	int rc, copy;

	if (strpbrk(hash, ":\n"))
		return failf(c, "the root password hash holds ':' or a newline: not a crypt(3) string");
	if ((rc = target_read(c->rootfd, "/etc/shadow", SHADOW_MAX, &old, &st)) == -ENOENT)
		return 0;
	if (rc < 0)
		return fail_on(c, "read", "/etc/shadow", rc);
	/* Never more readable than root:shadow 0640, whatever the image had. */
	if ((rc = target_create(c->rootfd, "/etc/shadow", st.st_mode & 0640, &f)) < 0) {
		free(old);
		return fail_on(c, "write", "/etc/shadow", rc);
	}
	copy = dup(f.fd);
	if (fchown(f.fd, st.st_uid, st.st_gid) < 0 || copy < 0 || !(out = fdopen(copy, "w"))) {
		rc = -errno;
		if (copy >= 0)
			close(copy);
		goto err;
	}
	for (line = old; *line; line = next) {
		char *rest;

		next = line + strcspn(line, "\n");
		next += *next == '\n';
		if (strncmp(line, "root:", 5) == 0 && (rest = memchr(line + 5, ':', (size_t)(next - line - 5))))
			fprintf(out, "root:%s%.*s", hash, (int)(next - rest), rest);
		else
			fprintf(out, "%.*s", (int)(next - line), line);
	}
	if (fclose(out) != 0) {
		rc = -EIO;
		goto err;
	}
	free(old);
	rc = target_commit(&f);
	return rc < 0 ? fail_on(c, "write", "/etc/shadow", rc) : 0;
err:
	free(old);
	target_discard(&f);
	return fail_on(c, "write", "/etc/shadow", rc);
}

/* The network (network.c): /etc/anemos/network always, a systemd-networkd file on a systemd
 * image, cloud-init's network-config beside a NoCloud seed for static addresses, and
 * ifupdown's /etc/network/interfaces for static addresses on a system that has ifup (under
 * DHCP alone its own stays, with whatever it sources). Static addresses: a static network,
 * or static IPv6 beside DHCPv4. */
static int configure_network(struct configure *c, bool nocloud)
{
	static const struct {
		enum net_format format;
		const char *path;
	} files[] = {
		{ NET_ANEMOS, "/etc/anemos/network" },
		{ NET_NETWORKD, "/etc/systemd/network/10-anemos.network" },
		{ NET_NOCLOUD, "/var/lib/cloud/seed/nocloud/network-config" },
		{ NET_IFUPDOWN, "/etc/network/interfaces" },
	};
	json_t *net = json_object_get(c->settings, "network");
	const char *mode = json_string_value(json_object_get(net, "mode"));
	json_t *dhcp = json_pack("{s:s}", "mode", "dhcp");
	bool one_client;
	int rc = 0;

	if (!mode || !network_has_settings(net))
		net = dhcp;
	/* Beside DHCP, one DHCP client: ifupdown's only where systemd-networkd is not enabled. */
	one_client = net != dhcp && (strcmp(mode, "static") != 0 || network_asks_dhcp6(net)) &&
			  target_exists(c->rootfd, "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++) {
		char *text;

		if ((files[i].format == NET_NETWORKD && !target_exists(c->rootfd, "/etc/systemd")) ||
		    (files[i].format == NET_NOCLOUD && (!nocloud || net == dhcp)) ||
		    (files[i].format == NET_IFUPDOWN && (net == dhcp || one_client ||
							  (!target_exists(c->rootfd, "/sbin/ifup") &&
							   !target_exists(c->rootfd, "/usr/sbin/ifup")))))
			continue;
		if (!(text = network_render(net, files[i].format)))
			rc = failf(c, "out of memory");
		else
			rc = put(c, files[i].path, files[i].format == NET_NOCLOUD ? 0600 : 0644, "%s", text);
		free(text);
	}
	json_decref(dhcp);
	return rc;
}

/* The phone-home files, copied from a->phone_home_dir to the same paths in the target. */
static const struct {
	const char *path;
	mode_t mode;
} phone_home_files[] = {
	{ "/usr/local/sbin/anemos-phone-home", 0755 },
	{ "/etc/systemd/system/anemos-phone-home.service", 0644 },
};
#define PHONE_HOME_WANTS "/etc/systemd/system/multi-user.target.wants/anemos-phone-home.service"

/* A systemd image without its own phone-home unit gets the debian recipe's, enabled. */
static int install_phone_home(struct configure *c)
{
	char from[TARGET_PATH_MAX], dir[TARGET_PATH_MAX];
	int fd, rc;

	if (!target_exists(c->rootfd, "/etc/systemd/system") ||
	    target_exists(c->rootfd, "/etc/systemd/system/anemos-phone-home.service") ||
	    target_exists(c->rootfd, "/lib/systemd/system/anemos-phone-home.service") ||
	    target_exists(c->rootfd, "/usr/lib/systemd/system/anemos-phone-home.service"))
		return 0;
	for (size_t i = 0; i < sizeof(phone_home_files) / sizeof(phone_home_files[0]); i++) {
		const char *path = phone_home_files[i].path;

		snprintf(from, sizeof(from), "%s%s", c->a->phone_home_dir, path);
		snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
		if ((fd = open(from, O_RDONLY | O_CLOEXEC)) < 0)
			return failf(c, "cannot read %s: %s", from, strerror(errno));
		if (make_dirs(c, dir, 0755) < 0) {
			close(fd);
			return -EIO;
		}
		rc = target_copy(c->rootfd, path, phone_home_files[i].mode, fd);
		close(fd);
		if (rc < 0)
			return fail_on(c, "write", path, rc);
	}
	if (make_dirs(c, "/etc/systemd/system/multi-user.target.wants", 0755) < 0)
		return -EIO;
	if ((rc = target_symlink(c->rootfd, "/etc/systemd/system/anemos-phone-home.service", PHONE_HOME_WANTS)) < 0)
		return fail_on(c, "enable the phone-home unit as", PHONE_HOME_WANTS, rc);
	if (!target_exists(c->rootfd, "/usr/bin/curl") && !target_exists(c->rootfd, "/bin/curl"))
		client_report(c->a, "warn", "configure", "the image has no curl: the installed system cannot phone home "
			      "(the host will not become deployed)");
	return 0;
}

/* The token the installed system reports in with, in a file only root can read: written
 * before done, which ends the agent token's life. */
static int write_phone_home_token(struct configure *c)
{
	json_t *reply = NULL;
	int rc = client_call(c->a, "POST", "/api/v1/agent/phone-home-token", NULL, 30, NULL, &reply);
	const char *url = json_string_value(json_object_get(reply, "url"));
	const char *token = json_string_value(json_object_get(reply, "token"));

	if (rc < 0 || !url || !token || strchr(url, '\n') || strchr(token, '\n')) {
		json_decref(reply);
		return failf(c, "anemosd gave no phone-home token: %s", rc < 0 ? err_msg() : "its answer lacks url or token");
	}
	rc = put(c, "/etc/anemos/phone-home", 0600, "url=%s\ntoken=%s\n", url, token);
	json_decref(reply);
	return rc;
}

int configure_host(struct agent *a, json_t *plan, int rootfd, const char *root_uuid, const char *esp_uuid)
{
	struct configure c = { .a = a, .plan = plan, .settings = json_object_get(plan, "install"), .rootfd = rootfd };
	const char *hash = json_string_value(json_object_get(c.settings, "root_password_hash"));
	const char *user_data = json_string_value(json_object_get(c.settings, "cloud_init_user_data"));
	json_t *keys = json_object_get(plan, "ssh_authorized_keys"), *key;
	char namebuf[64], *text = NULL;
	const char *name = hostname_of(&c, namebuf, sizeof(namebuf));
	size_t i, len = 0;
	FILE *f;
	int rc;

	if (root_uuid[0] &&
	    (esp_uuid[0] ? put(&c, "/etc/fstab", 0644, "UUID=%s / ext4 defaults,errors=remount-ro 0 1\n"
			       "UUID=%s /boot/efi vfat umask=0077 0 2\n", root_uuid, esp_uuid)
			 : put(&c, "/etc/fstab", 0644, "UUID=%s / ext4 defaults,errors=remount-ro 0 1\n", root_uuid)) < 0)
		return -EIO;
	if (put(&c, "/etc/hostname", 0644, "%s\n", name) < 0 || add_to_hosts(&c, name) < 0)
		return -EIO;
	if (!(f = open_memstream(&text, &len)))
		return failf(&c, "out of memory");
	json_array_foreach(keys, i, key)
		if (json_is_string(key))
			fprintf(f, "%s\n", json_string_value(key));
	if (fclose(f) != 0) {
		free(text);
		return failf(&c, "out of memory");
	}
	rc = make_dirs(&c, "/root/.ssh", 0700) < 0 ? -EIO : put_text(&c, "/root/.ssh/authorized_keys", 0600, text);
	free(text);
	if (rc < 0)
		return -EIO;
	if (hash && set_root_password(&c, hash) < 0)
		return -EIO;
	if (configure_network(&c, user_data && target_exists(rootfd, "/etc/cloud")) < 0)
		return -EIO;
	if (user_data && target_exists(rootfd, "/etc/cloud") &&
	    (put(&c, "/var/lib/cloud/seed/nocloud/user-data", 0600, "%s", user_data) < 0 ||
	     put(&c, "/var/lib/cloud/seed/nocloud/meta-data", 0600, "instance-id: anemos-%lld-%ld\nlocal-hostname: %s\n",
		 (long long)json_integer_value(json_object_get(json_object_get(plan, "host"), "id")), (long)time(NULL),
		 name) < 0))
		return -EIO;
	if (a->deploy)	/* with no anemosd: nobody to phone home to */
		return 0;
	if (write_phone_home_token(&c) < 0)
		return -EIO;
	return install_phone_home(&c);
}

/* The install's configure step (initramfs/agent/configure.c) over a real folder standing in
 * for the mounted target, with anemosd's phone-home token stubbed: what it writes for the
 * host, the phone-home it copies (the debian recipe's, byte for byte) and the token file's
 * mode; then hostile images, one a row, whose symlinks (absolute, relative, to folders and
 * to files) point at a folder outside the root: nothing outside is ever written, and each
 * install either lands inside the root or fails naming the symlink. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "errors.h"
#include "install.h"

#define TOKEN "anemos_phone_0123456789abcdef"
#define PHONE_HOME_URL "http://192.0.2.1:8080/api/v1/phone-home"
#define SCRIPT "usr/local/sbin/anemos-phone-home"
#define UNIT "etc/systemd/system/anemos-phone-home.service"

static char root[64], outside[64], reported[512];

/* client.c, stubbed: anemosd hands out the phone-home token; reports are kept. */
int client_call(struct agent *a, const char *method, const char *path, json_t *body, long timeout, long *status,
		json_t **reply)
{
	(void)a, (void)body, (void)timeout;
	assert_string_equal(method, "POST");
	assert_string_equal(path, "/api/v1/agent/phone-home-token");
	*reply = json_pack("{s:s, s:s}", "url", PHONE_HOME_URL, "token", TOKEN);
	if (status)
		*status = 201;
	return 0;
}

void client_report(struct agent *a, const char *level, const char *phase, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(reported, sizeof(reported), "%s %s: ", level, phase);

	(void)a;
	va_start(ap, fmt);
	vsnprintf(reported + n, sizeof(reported) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void mkparents(char *path, size_t from)
{
	for (char *slash = strchr(path + from, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
}

/* dir/rel (parents made) with text and mode; a trailing '/' in rel makes a folder. */
static void put(const char *dir, const char *rel, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	mkparents(path, strlen(dir) + 1);
	if (path[strlen(path) - 1] == '/')
		return;
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* The file dir/rel, whole (NULL if it cannot be read), and its lstat in *st. */
static char *get(const char *dir, const char *rel, struct stat *st)
{
	static char buf[16384];
	char path[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (st && lstat(path, st) < 0)
		return NULL;
	if (!(f = fopen(path, "r")))
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag;
	return ftw->level > 0 ? remove(path) : 0;
}

static int entries;
static int count_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)st, (void)flag, (void)ftw;
	entries++;
	return 0;
}

/* The folder outside the root: what a hostile image aims at. */
static void reset_outside(void)
{
	nftw(outside, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	put(outside, "victim", "untouched\n", 0644);
	put(outside, "hosts", "10.0.0.1 secret-host\n", 0644);
	put(outside, "shadow", "root:outside-hash:19000:0:99999:7:::\n", 0640);
	put(outside, "ssh/", "", 0);
	put(outside, "etc/", "", 0);
}

/* Nothing outside the root changed: the same five entries (and the folder), as they were. */
static void assert_outside_untouched(const char *row)
{
	entries = 0;
	nftw(outside, count_entry, 16, FTW_PHYS);
	if (entries != 6)
		fail_msg("%s: %d entries outside the root, 6 before", row, entries);
	assert_string_equal(get(outside, "victim", NULL), "untouched\n");
	assert_string_equal(get(outside, "hosts", NULL), "10.0.0.1 secret-host\n");
	assert_string_equal(get(outside, "shadow", NULL), "root:outside-hash:19000:0:99999:7:::\n");
}

/* A systemd image, as far as configure looks: shadow, hosts, curl, cloud-init. */
static void reset_root(void)
{
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	put(root, "etc/shadow", "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n", 0640);
	put(root, "etc/hosts", "127.0.0.1\tlocalhost\n", 0644);
	put(root, "etc/systemd/system/", "", 0);
	put(root, "etc/cloud/", "", 0);
	put(root, "usr/bin/curl", "#!/bin/sh\n", 0755);
	put(root, "usr/lib/systemd/network/", "", 0);
	put(root, "root/", "", 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/anemos-cfg-root.XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/anemos-cfg-out.XXXXXX");
	return mkdtemp(root) && mkdtemp(outside) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(outside, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(root);
	rmdir(outside);
	return 0;
}

static json_t *plan(void)
{
	return json_pack("{s:{s:I, s:s}, s:[s], s:{s:s, s:s, s:{s:s, s:s, s:s, s:[s]}}}",
			 "host", "id", (json_int_t)7, "hostname", "web7",
			 "ssh_authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest op@site",
			 "install", "root_password_hash", "$6$salt$hash", "cloud_init_user_data", "#cloud-config\n",
			 "network", "mode", "static", "address", "192.0.2.7/24", "gateway", "192.0.2.1", "dns", "192.0.2.53");
}

/* configure_host over the root folder, as an install gives it the mounted target, with the
 * plan's network replaced by @network (a JSON text) unless NULL. */
static int configure_network_of(const char *network, char *why, size_t whysz)
{
	struct agent a = { .phone_home_dir = ANEMOS_SRC "/images/debian/files" };
	json_t *p = plan();
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), rc;

	assert_true(rootfd >= 0);
	if (network)
		json_object_set_new(json_object_get(p, "install"), "network", json_loads(network, 0, NULL));
	why[0] = reported[0] = '\0';
	err_clear();
	rc = configure_host(&a, p, rootfd, "11111111-2222-3333-4444-555555555555", "ABCD-EF01");
	snprintf(why, whysz, "%s", err_msg());
	close(rootfd);
	json_decref(p);
	return rc;
}

static int configure(char *why, size_t whysz)
{
	return configure_network_of(NULL, why, whysz);
}

static void assert_file(const char *rel, const char *text, mode_t mode)
{
	struct stat st;
	const char *got = get(root, rel, &st);

	if (!got)
		fail_msg("%s: not in the root", rel);
	if (!S_ISREG(st.st_mode))
		fail_msg("%s: not a regular file", rel);
	assert_string_equal(got, text);
	assert_int_equal(st.st_mode & 07777, mode);
}

/* A plain image: every file, its mode, and the phone-home as the debian recipe ships it. */
static void test_configures_the_host(void **state)
{
	char why[512], script[16384];
	struct stat st;
	ssize_t n;

	(void)state;
	reset_root();
	assert_int_equal(configure(why, sizeof(why)), 0);
	assert_file("etc/fstab", "UUID=11111111-2222-3333-4444-555555555555 / ext4 defaults,errors=remount-ro 0 1\n"
		    "UUID=ABCD-EF01 /boot/efi vfat umask=0077 0 2\n", 0644);
	assert_file("etc/hostname", "web7\n", 0644);
	assert_file("etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\tweb7\n", 0644);
	assert_file("root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest op@site\n", 0600);
	assert_int_equal(stat(strcat(strcpy(why, root), "/root/.ssh"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_file("etc/shadow", "root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n", 0640);
	assert_file("etc/anemos/network", "mode=static\naddress=192.0.2.7/24\ngateway=192.0.2.1\ndns=192.0.2.53\n", 0644);
	assert_file("etc/systemd/network/10-anemos.network", "[Match]\nName=en* eth*\n\n[Network]\nAddress=192.0.2.7/24\n"
		    "Gateway=192.0.2.1\nDNS=192.0.2.53\n", 0644);
	assert_file("var/lib/cloud/seed/nocloud/user-data", "#cloud-config\n", 0600);
	assert_file("var/lib/cloud/seed/nocloud/network-config", "version: 2\nethernets:\n  anemos0:\n    match:\n"
		    "      name: \"e*\"\n    dhcp4: false\n    dhcp6: false\n    addresses:\n"
		    "      - \"192.0.2.7/24\"\n    routes:\n      - to: \"0.0.0.0/0\"\n        via: \"192.0.2.1\"\n"
		    "    nameservers:\n      addresses:\n        - \"192.0.2.53\"\n", 0600);
	assert_file("etc/anemos/phone-home", "url=" PHONE_HOME_URL "\ntoken=" TOKEN "\n", 0600);
	/* The phone-home is the recipe's own file, not a second one. */
	strcpy(script, get(ANEMOS_SRC "/images/debian/files", SCRIPT, NULL));
	assert_file(SCRIPT, script, 0755);
	assert_null(strstr(script, "Bearer $token\""));
	assert_file(UNIT, get(ANEMOS_SRC "/images/debian/files", UNIT, NULL), 0644);
	n = readlink(strcat(strcpy(why, root), "/etc/systemd/system/multi-user.target.wants/anemos-phone-home.service"),
		     script, sizeof(script) - 1);
	assert_true(n > 0);
	script[n] = '\0';
	assert_string_equal(script, "/etc/systemd/system/anemos-phone-home.service");
	assert_null(get(root, "etc/.hostname.anemos-new", NULL));
	assert_string_equal(reported, "");
}

/* An image that ships its own unit keeps it; one without curl is warned about. */
static void test_phone_home_choices(void **state)
{
	char why[512];

	(void)state;
	reset_root();
	put(root, "lib/systemd/system/anemos-phone-home.service", "[Service]\nExecStart=/opt/mine\n", 0644);
	assert_int_equal(configure(why, sizeof(why)), 0);
	assert_null(get(root, SCRIPT, NULL));
	assert_null(get(root, UNIT, NULL));
	reset_root();
	unlink(strcat(strcpy(why, root), "/usr/bin/curl"));
	assert_int_equal(configure(why, sizeof(why)), 0);
	assert_non_null(get(root, SCRIPT, NULL));
	assert_non_null(strstr(reported, "the image has no curl"));
}

/* One hostile image: link (in the root) -> to ("%s" is the outside folder). */
struct hostile {
	const char *name;
	const char *link, *to;
	int rc;             /* what configure returns */
	const char *why;    /* -EIO: a part of the failure message */
	const char *inside; /* 0: a file that must be a regular file inside the root, */
	const char *text;   /*    with this text */
};

static const struct hostile hostile[] = {
	{ "/etc to an absolute folder outside", "etc", "%s", -EIO,
	  "cannot make /etc: No such file or directory (the image's /etc is a symlink to /tmp/anemos-cfg-out.", NULL, NULL },
	{ "/etc to an existing folder outside", "etc", "%s/etc", -EIO, "the image's /etc is a symlink", NULL, NULL },
	{ "/etc by '..' past the root", "etc", "../../../../../../..%s", -EIO, "the image's /etc is a symlink", NULL, NULL },
	{ "/etc/hostname to a file outside", "etc/hostname", "%s/victim", 0, NULL, "etc/hostname", "web7\n" },
	{ "/etc/hosts to a file outside, read and written", "etc/hosts", "%s/hosts", 0, NULL, "etc/hosts", "127.0.1.1\tweb7\n" },
	{ "/etc/shadow to a file outside", "etc/shadow", "%s/shadow", 0, NULL, NULL, NULL },
	{ "/etc/fstab to a file outside", "etc/fstab", "%s/victim", 0, NULL, "etc/fstab",
	  "UUID=11111111-2222-3333-4444-555555555555 / ext4 defaults,errors=remount-ro 0 1\n"
	  "UUID=ABCD-EF01 /boot/efi vfat umask=0077 0 2\n" },
	{ "/root/.ssh to a folder outside", "root/.ssh", "%s/ssh", -EIO,
	  "cannot make /root/.ssh: No such file or directory (the image's /root/.ssh is a symlink to", NULL, NULL },
	{ "/root to a folder outside", "root", "%s", -EIO, "the image's /root is a symlink", NULL, NULL },
	{ "authorized_keys to a file outside", "root/.ssh/authorized_keys", "%s/victim", 0, NULL,
	  "root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest op@site\n" },
	{ "/etc/anemos to a folder outside", "etc/anemos", "%s", -EIO, "the image's /etc/anemos is a symlink", NULL, NULL },
	{ "the phone-home token file to a file outside", "etc/anemos/phone-home", "%s/victim", 0, NULL,
	  "etc/anemos/phone-home", "url=" PHONE_HOME_URL "\ntoken=" TOKEN "\n" },
	{ "/etc/systemd/network to a folder outside", "etc/systemd/network", "%s", -EIO,
	  "the image's /etc/systemd/network is a symlink", NULL, NULL },
	{ "/var/lib/cloud to a folder outside", "var/lib/cloud", "%s", -EIO, "the image's /var/lib/cloud is a symlink", NULL, NULL },
	{ "/usr/local/sbin to a folder outside", "usr/local/sbin", "%s", -EIO,
	  "cannot make /usr/local/sbin: No such file or directory (the image's /usr/local/sbin", NULL, NULL },
	{ "the phone-home script to a file outside", SCRIPT, "%s/victim", 0, NULL, SCRIPT, "curl" },
	{ "the unit's wants folder to a folder outside", "etc/systemd/system/multi-user.target.wants", "%s", -EIO,
	  "the image's /etc/systemd/system/multi-user.target.wants is a symlink", NULL, NULL },
	/* A symlinked folder that stays inside the image is the image's business: followed. */
	{ "/etc/systemd/network to a folder of the image", "etc/systemd/network", "/usr/lib/systemd/network", 0, NULL,
	  "usr/lib/systemd/network/10-anemos.network",
	  "[Match]\nName=en* eth*\n\n[Network]\nAddress=192.0.2.7/24\nGateway=192.0.2.1\nDNS=192.0.2.53\n" },
};

static void test_hostile_images(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		char why[1024], path[512], to[512];
		struct stat st;
		int rc;

		reset_root();
		reset_outside();
		snprintf(path, sizeof(path), "%s/%s", root, h->link);
		snprintf(to, sizeof(to), h->to, outside);
		mkparents(path, strlen(root) + 1);
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		rmdir(path);
		unlink(path);
		if (symlink(to, path) < 0)
			fail_msg("%s: symlink: %s", h->name, strerror(errno));
		rc = configure(why, sizeof(why));
		assert_outside_untouched(h->name);
		if (rc != h->rc)
			fail_msg("%s: configure returned %d (%s), not %d", h->name, rc, why, h->rc);
		if (h->why && !strstr(why, h->why))
			fail_msg("%s: the failure says '%s', not '%s'", h->name, why, h->why);
		if (h->inside) {
			const char *got = get(root, h->inside, &st);

			if (!got || !S_ISREG(st.st_mode) || !strstr(got, h->text))
				fail_msg("%s: /%s is not a file inside the root with '%s'", h->name, h->inside, h->text);
		}
		/* The token file is only ever root's, whatever the image holds. */
		if (rc == 0 && (get(root, "etc/anemos/phone-home", &st), S_ISREG(st.st_mode)))
			assert_int_equal(st.st_mode & 07777, 0600);
	}
}

/* anemos.net as kexec.sh writes it, read back as install.network (network.c). */
static void test_network_from_boot_arg(void **state)
{
	static const struct {
		const char *spec, *mac, *json;
	} rows[] = {
		{ "dhcp", NULL, "{\"mode\": \"dhcp\"}" },
		{ NULL, NULL, "{\"mode\": \"dhcp\"}" },
		{ "static,,,", NULL, "{\"mode\": \"dhcp\"}" },		/* no address: DHCP */
		{ "static,192.0.2.7/24,192.0.2.1,192.0.2.53", NULL,
		  "{\"mode\": \"static\", \"dns\": [\"192.0.2.53\"], \"address\": \"192.0.2.7/24\", \"gateway\": \"192.0.2.1\", \"ipv6\": \"off\"}" },
		{ "static,192.0.2.7/24,,", "52:54:00:00:00:07",
		  "{\"mode\": \"static\", \"dns\": [], \"mac\": \"52:54:00:00:00:07\", \"address\": \"192.0.2.7/24\", \"ipv6\": \"off\"}" },
		/* what is not an address is left out: a quote, a prefix past 32, a bad MAC */
		{ "static,192.0.2.7/24+1.2.3.4/24\"#x+192.0.2.8/33+192.0.2.9/2x,1.1.1.1\\,192.0.2.53", "52:54:00:00:00:07\nx",
		  "{\"mode\": \"static\", \"dns\": [\"192.0.2.53\"], \"address\": \"192.0.2.7/24\", \"ipv6\": \"off\"}" },
		/* dual stack, a /128 with a link-local gateway, SLAAC beside */
		{ "static,203.0.113.9/32+2001:db8::50/128,203.0.113.1+fe80::1,203.0.113.53+2001:db8::53,auto6", NULL,
		  "{\"mode\": \"static\", \"gateway\": \"203.0.113.1\", \"gateway6\": \"fe80::1\", \"dns\": "
		  "[\"203.0.113.53\", \"2001:db8::53\"], \"ipv6\": \"auto\", \"address\": \"203.0.113.9/32\", "
		  "\"addresses\": [\"2001:db8::50/128\"]}" },
		/* IPv6 only */
		{ "static,2001:db8::50/128,fe80::1,", NULL,
		  "{\"mode\": \"static\", \"gateway6\": \"fe80::1\", \"dns\": [], \"address\": \"2001:db8::50/128\", \"ipv6\": \"off\"}" },
		/* DHCPv4 and static IPv6 beside it: only the IPv6 side is kept (IPv4 is DHCP's) */
		{ "dhcp,2001:db8::50/64+192.0.2.9/24+2001:db8:1::5/128,fe80::1+192.0.2.1,2001:db8::53+192.0.2.53",
		  "52:54:00:00:00:07",
		  "{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/64\", \"2001:db8:1::5/128\"], \"gateway6\": \"fe80::1\", "
		  "\"dns\": [\"2001:db8::53\", \"192.0.2.53\"], \"ipv6\": \"off\", \"mac\": \"52:54:00:00:00:07\"}" },
		{ "dhcp,2001:db8::50/64,,,auto6", NULL,
		  "{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/64\"], \"dns\": [], \"ipv6\": \"auto\"}" },
		{ "dhcp,192.0.2.9/24,192.0.2.1,", NULL, "{\"mode\": \"dhcp\"}" },	/* nothing of IPv6: DHCP alone */
		{ "dhcpx,2001:db8::50/64,,", NULL, "{\"mode\": \"dhcp\"}" },
		/* DHCPv6 (dhcp6): kept with static IPv6 beside it or alone, with its gateway; auto6
		 * wins (RAs say where DHCPv6 is); an unknown flag or a prefix of one is none */
		{ "dhcp,2001:db8::50/128,fe80::1,,dhcp6", NULL,
		  "{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/128\"], \"gateway6\": \"fe80::1\", \"dns\": [], "
		  "\"ipv6\": \"dhcp\"}" },
		{ "dhcp,,fe80::1,2001:db8::53,dhcp6", "52:54:00:00:00:07",
		  "{\"mode\": \"dhcp\", \"gateway6\": \"fe80::1\", \"dns\": [\"2001:db8::53\"], \"ipv6\": \"dhcp\", "
		  "\"mac\": \"52:54:00:00:00:07\"}" },
		{ "static,,192.0.2.1+fe80::1,,dhcp6", NULL,
		  "{\"mode\": \"dhcp\", \"gateway6\": \"fe80::1\", \"dns\": [], \"ipv6\": \"dhcp\"}" },
		{ "static,192.0.2.7/24,192.0.2.1,,dhcp6+auto6", NULL,
		  "{\"mode\": \"static\", \"dns\": [], \"address\": \"192.0.2.7/24\", \"gateway\": \"192.0.2.1\", "
		  "\"ipv6\": \"auto\"}" },
		{ "static,192.0.2.7/24,,,dhcp66+auto", NULL,
		  "{\"mode\": \"static\", \"dns\": [], \"address\": \"192.0.2.7/24\", \"ipv6\": \"off\"}" },
		{ "dhcp,,,,auto6", NULL, "{\"mode\": \"dhcp\"}" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *net = network_from_boot_arg(rows[i].spec, rows[i].mac), *want = json_loads(rows[i].json, 0, NULL);
		char *got = json_dumps(net, JSON_SORT_KEYS), *wanted = json_dumps(want, JSON_SORT_KEYS);

		if (!json_equal(net, want))
			fail_msg("anemos.net=%s: %s, not %s", rows[i].spec ? rows[i].spec : "(none)", got, wanted);
		free(got);
		free(wanted);
		json_decref(net);
		json_decref(want);
	}
}

/* install.network as each kind of system reads it. */
static void test_network_render(void **state)
{
	static const char dual[] = "{\"mode\": \"static\", \"address\": \"203.0.113.9/32\", \"addresses\": "
		"[\"2001:db8::50/128\"], \"gateway\": \"203.0.113.1\", \"gateway6\": \"fe80::1\", \"dns\": "
		"[\"203.0.113.53\", \"2001:db8::53\"], \"ipv6\": \"auto\", \"mac\": \"52:54:00:00:00:09\"}";
	static const char inside[] = "{\"mode\": \"static\", \"address\": \"2001:db8::5/64\", \"gateway\": \"2001:db8::1\"}";
	static const char beside[] = "{\"mode\": \"dhcp\", \"addresses\": [\"192.0.2.9/24\", \"2001:db8::50/128\"], "
		"\"gateway\": \"192.0.2.1\", \"gateway6\": \"fe80::1\", \"dns\": [\"2001:db8::53\"], \"ipv6\": \"off\", "
		"\"mac\": \"52:54:00:00:00:09\"}";
	static const char dhcp6[] = "{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/128\"], \"gateway6\": "
		"\"fe80::1\", \"dns\": [\"2001:db8::53\"], \"ipv6\": \"dhcp\"}";
	static const char dhcp6_alone[] = "{\"mode\": \"dhcp\", \"gateway6\": \"fe80::1\", \"ipv6\": \"dhcp\"}";
	static const struct {
		const char *json;
		enum net_format format;
		const char *text;
	} rows[] = {
		{ dual, NET_ANEMOS, "mode=static\nmac=52:54:00:00:00:09\naddress=203.0.113.9/32\naddress=2001:db8::50/128\n"
		  "gateway=203.0.113.1\ngateway=fe80::1\ndns=203.0.113.53 2001:db8::53\nipv6=auto\n" },
		/* 203.0.113.1 is outside the /32: a route on the link; fe80::1 is on the link anyway */
		{ dual, NET_NETWORKD, "[Match]\nMACAddress=52:54:00:00:00:09\n\n[Network]\nAddress=203.0.113.9/32\n"
		  "Address=2001:db8::50/128\nGateway=fe80::1\nDNS=203.0.113.53 2001:db8::53\nIPv6AcceptRA=yes\n"
		  "\n[Route]\nGateway=203.0.113.1\nGatewayOnLink=yes\n" },
		{ dual, NET_NOCLOUD, "version: 2\nethernets:\n  anemos0:\n    match:\n      macaddress: \"52:54:00:00:00:09\"\n"
		  "    dhcp4: false\n    dhcp6: false\n    accept-ra: true\n    addresses:\n      - \"203.0.113.9/32\"\n"
		  "      - \"2001:db8::50/128\"\n    routes:\n      - to: \"0.0.0.0/0\"\n        via: \"203.0.113.1\"\n"
		  "        on-link: true\n      - to: \"::/0\"\n        via: \"fe80::1\"\n    nameservers:\n      addresses:\n"
		  "        - \"203.0.113.53\"\n        - \"2001:db8::53\"\n" },
		{ inside, NET_ANEMOS, "mode=static\naddress=2001:db8::5/64\ngateway=2001:db8::1\ndns=\n" },
		{ inside, NET_NETWORKD, "[Match]\nName=en* eth*\n\n[Network]\nAddress=2001:db8::5/64\nGateway=2001:db8::1\n" },
		/* a prefix longer than the family's (the fuzzer's find: it read past the address) */
		{ "{\"mode\": \"static\", \"address\": \"::/2203\", \"gateway\": \"::\"}", NET_NETWORKD,
		  "[Match]\nName=en* eth*\n\n[Network]\nAddress=::/2203\n\n[Route]\nGateway=::\nGatewayOnLink=yes\n" },
		/* ifupdown: the NIC by its MAC; the gateway in the first stanza of its family (ifupdown
		 * routes it onlink), every name server in the first stanza, one stanza an address */
		{ dual, NET_IFUPDOWN, "# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n"
		  "auto mac/52:54:00:00:00:09/=anemos0\n\niface anemos0 inet static\n\taddress 203.0.113.9/32\n"
		  "\tgateway 203.0.113.1\n\tdns-nameservers 203.0.113.53 2001:db8::53\n"
		  "\niface anemos0 inet6 static\n\taddress 2001:db8::50/128\n\tgateway fe80::1\n\taccept_ra 2\n\tautoconf 1\n" },
		{ "{\"mode\": \"static\", \"address\": \"192.0.2.5/24\", \"addresses\": [\"192.0.2.6/24\"], \"gateway\": "
		  "\"192.0.2.1\", \"ipv6\": \"off\"}", NET_IFUPDOWN,
		  "# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n"
		  "auto /e*/1=anemos0\n\niface anemos0 inet static\n\taddress 192.0.2.5/24\n\tgateway 192.0.2.1\n"
		  "\tpre-up sysctl -q -e -w net.ipv6.conf.$IFACE.accept_ra=0 net.ipv6.conf.$IFACE.autoconf=0 "
		  "2>/dev/null || true\n"
		  "\niface anemos0 inet static\n\taddress 192.0.2.6/24\n" },
		{ inside, NET_IFUPDOWN, "# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n"
		  "auto /e*/1=anemos0\n\niface anemos0 inet6 static\n\taddress 2001:db8::5/64\n\tgateway 2001:db8::1\n" },
		{ "{\"mode\": \"dhcp\"}", NET_IFUPDOWN, "# Written by Anemos at install: this host's network.\nauto lo\n"
		  "iface lo inet loopback\n\nauto /e*/1=anemos0\niface anemos0 inet dhcp\niface anemos0 inet6 auto\n" },
		{ "{\"mode\": \"dhcp\"}", NET_ANEMOS, "mode=dhcp\n" },
		{ "{\"mode\": \"dhcp\"}", NET_NETWORKD, "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n" },
		{ "{\"mode\": \"dhcp\"}", NET_NOCLOUD, "version: 2\nethernets:\n  anemos0:\n    match:\n      name: \"e*\"\n"
		  "    dhcp4: true\n    dhcp6: true\n" },
		/* DHCPv4 and static IPv6 beside it: a stray IPv4 address or gateway is not written */
		{ beside, NET_ANEMOS, "mode=dhcp\nmac=52:54:00:00:00:09\naddress=2001:db8::50/128\ngateway=fe80::1\n"
		  "dns=2001:db8::53\nipv6=off\n" },
		{ beside, NET_NETWORKD, "[Match]\nMACAddress=52:54:00:00:00:09\n\n[Network]\nDHCP=ipv4\n"
		  "Address=2001:db8::50/128\nGateway=fe80::1\nDNS=2001:db8::53\nIPv6AcceptRA=no\n" },
		{ beside, NET_NOCLOUD, "version: 2\nethernets:\n  anemos0:\n    match:\n      macaddress: \"52:54:00:00:00:09\"\n"
		  "    dhcp4: true\n    dhcp6: false\n    accept-ra: false\n    addresses:\n      - \"2001:db8::50/128\"\n"
		  "    routes:\n      - to: \"::/0\"\n        via: \"fe80::1\"\n    nameservers:\n      addresses:\n"
		  "        - \"2001:db8::53\"\n" },
		{ beside, NET_IFUPDOWN, "# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n"
		  "auto mac/52:54:00:00:00:09/=anemos0\niface anemos0 inet dhcp\n"
		  "\niface anemos0 inet6 static\n\taddress 2001:db8::50/128\n\tgateway fe80::1\n"
		  "\tdns-nameservers 2001:db8::53\n\taccept_ra 0\n\tautoconf 0\n" },
		/* DHCPv6 asked without router advertisements ("ipv6": "dhcp"), beside a static IPv6
		 * address and alone, with an on-link gateway and a name server */
		{ dhcp6, NET_ANEMOS, "mode=dhcp\naddress=2001:db8::50/128\ngateway=fe80::1\ndns=2001:db8::53\nipv6=dhcp\n" },
		{ dhcp6, NET_NETWORKD, "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\nAddress=2001:db8::50/128\n"
		  "Gateway=fe80::1\nDNS=2001:db8::53\nIPv6AcceptRA=no\n\n[DHCPv6]\nWithoutRA=solicit\nDUIDType=link-layer\n" },
		{ dhcp6, NET_NOCLOUD, "version: 2\nethernets:\n  anemos0:\n    match:\n      name: \"e*\"\n"
		  "    dhcp4: true\n    dhcp6: true\n    accept-ra: false\n    addresses:\n      - \"2001:db8::50/128\"\n"
		  "    routes:\n      - to: \"::/0\"\n        via: \"fe80::1\"\n    nameservers:\n      addresses:\n"
		  "        - \"2001:db8::53\"\n" },
		{ dhcp6, NET_IFUPDOWN, "# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n"
		  "auto /e*/1=anemos0\niface anemos0 inet dhcp\n"
		  "\niface anemos0 inet6 static\n\taddress 2001:db8::50/128\n\tgateway fe80::1\n"
		  "\tdns-nameservers 2001:db8::53\n\taccept_ra 0\n\tautoconf 0\n"
		  "\niface anemos0 inet6 dhcp\n\taccept_ra 0\n" },
		{ dhcp6_alone, NET_ANEMOS, "mode=dhcp\ngateway=fe80::1\ndns=\nipv6=dhcp\n" },
		{ dhcp6_alone, NET_NETWORKD, "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\nGateway=fe80::1\n"
		  "IPv6AcceptRA=no\n\n[DHCPv6]\nWithoutRA=solicit\nDUIDType=link-layer\n" },
		{ dhcp6_alone, NET_NOCLOUD, "version: 2\nethernets:\n  anemos0:\n    match:\n      name: \"e*\"\n"
		  "    dhcp4: true\n    dhcp6: true\n    accept-ra: false\n    routes:\n      - to: \"::/0\"\n"
		  "        via: \"fe80::1\"\n" },
		{ dhcp6_alone, NET_IFUPDOWN, "# Written by Anemos at install: this host's network.\nauto lo\n"
		  "iface lo inet loopback\n\nauto /e*/1=anemos0\niface anemos0 inet dhcp\n"
		  "\niface anemos0 inet6 dhcp\n\taccept_ra 0\n"
		  "\tpost-up ip -6 route replace default via fe80::1 dev $IFACE onlink\n" },
		/* static IPv4 and DHCPv6: networkd asks DHCPv6 alone, ifupdown keeps RAs off */
		{ "{\"mode\": \"static\", \"address\": \"192.0.2.5/24\", \"gateway\": \"192.0.2.1\", \"dns\": "
		  "[\"192.0.2.53\"], \"ipv6\": \"dhcp\"}", NET_NETWORKD,
		  "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv6\nAddress=192.0.2.5/24\nGateway=192.0.2.1\n"
		  "DNS=192.0.2.53\nIPv6AcceptRA=no\n\n[DHCPv6]\nWithoutRA=solicit\nDUIDType=link-layer\n" },
		{ "{\"mode\": \"static\", \"address\": \"192.0.2.5/24\", \"gateway\": \"192.0.2.1\", \"dns\": "
		  "[\"192.0.2.53\"], \"ipv6\": \"dhcp\"}", NET_IFUPDOWN,
		  "# Written by Anemos at install: this host's network.\nauto lo\niface lo inet loopback\n\n"
		  "auto /e*/1=anemos0\n\niface anemos0 inet static\n\taddress 192.0.2.5/24\n\tgateway 192.0.2.1\n"
		  "\tdns-nameservers 192.0.2.53\n"
		  "\tpre-up sysctl -q -e -w net.ipv6.conf.$IFACE.accept_ra=0 net.ipv6.conf.$IFACE.autoconf=0 "
		  "2>/dev/null || true\n"
		  "\niface anemos0 inet6 dhcp\n\taccept_ra 0\n" },
		/* with router advertisements too: DHCPv6 where they say so */
		{ "{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/64\"], \"ipv6\": \"auto\"}", NET_NETWORKD,
		  "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\nAddress=2001:db8::50/64\nIPv6AcceptRA=yes\n" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *net = json_loads(rows[i].json, 0, NULL);
		char *text = network_render(net, rows[i].format);

		assert_non_null(text);
		if (strcmp(text, rows[i].text) != 0)
			fail_msg("row %zu:\n%s\nnot\n%s", i, text, rows[i].text);
		free(text);
		json_decref(net);
	}
}

/* Which network files an install writes: under DHCP alone the image's own stay (no NoCloud
 * network-config, no /etc/network/interfaces); static IPv6 beside DHCP writes them all. */
static void test_network_files(void **state)
{
	char why[512];

	(void)state;
	reset_root();
	put(root, "sbin/ifup", "#!/bin/sh\n", 0755);
	put(root, "etc/network/interfaces", "source /etc/network/interfaces.d/*\n", 0644);
	assert_int_equal(configure_network_of("{\"mode\": \"dhcp\"}", why, sizeof(why)), 0);
	assert_file("etc/anemos/network", "mode=dhcp\n", 0644);
	assert_file("etc/network/interfaces", "source /etc/network/interfaces.d/*\n", 0644);
	assert_null(get(root, "var/lib/cloud/seed/nocloud/network-config", NULL));
	assert_int_equal(configure_network_of("{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/128\"], "
					      "\"gateway6\": \"fe80::1\", \"ipv6\": \"off\"}", why, sizeof(why)), 0);
	assert_file("etc/anemos/network", "mode=dhcp\naddress=2001:db8::50/128\ngateway=fe80::1\ndns=\nipv6=off\n", 0644);
	assert_file("etc/network/interfaces", "# Written by Anemos at install: this host's network.\nauto lo\n"
		    "iface lo inet loopback\n\nauto /e*/1=anemos0\niface anemos0 inet dhcp\n\niface anemos0 inet6 static\n"
		    "\taddress 2001:db8::50/128\n\tgateway fe80::1\n\taccept_ra 0\n\tautoconf 0\n", 0644);
	assert_file("etc/systemd/network/10-anemos.network", "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n"
		    "Address=2001:db8::50/128\nGateway=fe80::1\nIPv6AcceptRA=no\n", 0644);
	assert_non_null(strstr(get(root, "var/lib/cloud/seed/nocloud/network-config", NULL), "dhcp4: true\n    dhcp6: false\n"));
	/* With systemd-networkd enabled, it alone asks DHCP: ifupdown's file stays the image's. */
	reset_root();
	put(root, "sbin/ifup", "#!/bin/sh\n", 0755);
	put(root, "etc/network/interfaces", "source /etc/network/interfaces.d/*\n", 0644);
	put(root, "etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "[Unit]\n", 0644);
	assert_int_equal(configure_network_of("{\"mode\": \"dhcp\", \"addresses\": [\"2001:db8::50/128\"]}", why,
					      sizeof(why)), 0);
	assert_file("etc/network/interfaces", "source /etc/network/interfaces.d/*\n", 0644);
	assert_non_null(strstr(get(root, "etc/systemd/network/10-anemos.network", NULL), "DHCP=ipv4\nAddress=2001:db8::50/128\n"));
	/* DHCPv6 without router advertisements is more than DHCP alone: networkd is told to ask it */
	assert_int_equal(configure_network_of("{\"mode\": \"dhcp\", \"ipv6\": \"dhcp\"}", why, sizeof(why)), 0);
	assert_non_null(strstr(get(root, "etc/systemd/network/10-anemos.network", NULL), "[DHCPv6]\nWithoutRA=solicit\nDUIDType=link-layer\n"));
	assert_file("etc/anemos/network", "mode=dhcp\ndns=\nipv6=dhcp\n", 0644);
	/* A static network asking DHCPv6: networkd alone asks it (not dhclient -6 from ifupdown too) */
	assert_int_equal(configure_network_of("{\"mode\": \"static\", \"address\": \"192.0.2.5/24\", \"ipv6\": \"dhcp\"}",
					      why, sizeof(why)), 0);
	assert_file("etc/network/interfaces", "source /etc/network/interfaces.d/*\n", 0644);
	assert_non_null(strstr(get(root, "etc/systemd/network/10-anemos.network", NULL), "DHCP=ipv6\n"));
}

/* The carried network goes into a plan with no network or anemosd's default, never over an
 * operator's setting, and not without anemos.net on the command line. */
static void test_network_carry(void **state)
{
	static const struct {
		const char *plan, *cmdline, *network;
	} rows[] = {
		{ "{\"install\": {\"network\": {\"mode\": \"dhcp\", \"default\": true}}}",
		  "console=ttyS0 anemos.net=static,192.0.2.50/24,192.0.2.1,192.0.2.53 anemos.mac=52:54:00:00:00:01\n",
		  "{\"address\":\"192.0.2.50/24\",\"dns\":[\"192.0.2.53\"],\"gateway\":\"192.0.2.1\","
		  "\"ipv6\":\"off\",\"mac\":\"52:54:00:00:00:01\",\"mode\":\"static\"}" },
		{ "{\"install\": {}}", "anemos.net=static,192.0.2.50/24,,\n",
		  "{\"address\":\"192.0.2.50/24\",\"dns\":[],\"ipv6\":\"off\",\"mode\":\"static\"}" },
		{ "{\"install\": {\"network\": {\"mode\": \"dhcp\"}}}", "anemos.net=static,192.0.2.50/24,192.0.2.1,\n",
		  "{\"mode\":\"dhcp\"}" },
		{ "{\"install\": {\"network\": {\"mode\": \"dhcp\", \"default\": true}}}", "console=ttyS0\n",
		  "{\"default\":true,\"mode\":\"dhcp\"}" },
	};
	char path[] = "/tmp/anemos-cmdline-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *plan = json_loads(rows[i].plan, 0, NULL);
		FILE *f = fopen(path, "w");
		char *net;

		assert_non_null(f);
		fputs(rows[i].cmdline, f);
		fclose(f);
		network_carry(plan, path);
		net = json_dumps(json_object_get(json_object_get(plan, "install"), "network"), JSON_SORT_KEYS | JSON_COMPACT);
		if (!net || strcmp(net, rows[i].network) != 0)
			fail_msg("row %zu: %s, not %s", i, net ? net : "(none)", rows[i].network);
		free(net);
		json_decref(plan);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configures_the_host),
		cmocka_unit_test(test_phone_home_choices),
		cmocka_unit_test(test_hostile_images),
		cmocka_unit_test(test_network_from_boot_arg),
		cmocka_unit_test(test_network_render),
		cmocka_unit_test(test_network_carry),
		cmocka_unit_test(test_network_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

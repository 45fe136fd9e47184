/*
 * Per-host templates of recipes: files/PATH.template (or PATH.makeimg.template) is kept in
 * the image as /etc/anemos/templates/PATH.template (images/base/files.sh) and rendered here,
 * on the installed system, into /PATH with this host's values. The syntax is the iPXE
 * scripts' ({{name}}, lib/template_text.h). Variables:
 *   hostname, id, image            the host's name (or host-ID), its id, the image's name
 *   mac, macs                      the first MAC, all of them (space-separated)
 *   address, gateway, dns          install.network's static settings ("" under DHCP), or
 *                                  for address under DHCP the IPv4 this boot got, if any
 *   install.KEY                    any install setting that is a string, number or bool
 * The rendered file takes the template's mode. Paths resolve inside the target as if it were
 * the root (its absolute symlinks included, target.c): nothing is written outside it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "errors.h"
#include "recipe_steps.h"
#include "template_text.h"

#define TEMPLATES_DIR RECIPE_TEMPLATES_DIR
#define TEMPLATE_MAX (1 << 20)

/* The values a template may use, each a string owned here. */
struct vars {
	json_t *values; /* name -> string */
};

static void set(struct vars *v, const char *name, const char *value)
{
	json_object_set_new(v->values, name, json_string(value ? value : ""));
}

/* The first IPv4 address of an interface that is up and not loopback. */
static void current_address(char *out, size_t outsz)
{
	struct ifaddrs *ifs, *i;

	out[0] = '\0';
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
		    !(i->ifa_flags & IFF_LOOPBACK)) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)outsz);
			break;
		}
	freeifaddrs(ifs);
}

static void vars_fill(struct vars *v, json_t *plan)
{
	json_t *host = json_object_get(plan, "host"), *install = json_object_get(plan, "install");
	json_t *net = json_object_get(install, "network"), *x;
	const char *key, *hostname = json_string_value(json_object_get(host, "hostname"));
	char buf[1024] = "";
	size_t i, o = 0;

	snprintf(buf, sizeof(buf), "host-%lld", (long long)json_integer_value(json_object_get(host, "id")));
	set(v, "hostname", hostname ? hostname : buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(json_object_get(host, "id")));
	set(v, "id", buf);
	set(v, "image", json_string_value(json_object_get(json_object_get(plan, "image"), "name")));
	buf[0] = '\0';
	json_array_foreach(json_object_get(host, "macs"), i, x)
		if (json_is_string(x) && o + strlen(json_string_value(x)) + 2 < sizeof(buf))
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "", json_string_value(x));
	set(v, "macs", buf);
	set(v, "mac", json_string_value(json_array_get(json_object_get(host, "macs"), 0)));
	if (json_string_value(json_object_get(net, "address"))) {
		set(v, "address", json_string_value(json_object_get(net, "address")));
	} else {
		current_address(buf, sizeof(buf));
		set(v, "address", buf);
	}
	set(v, "gateway", json_string_value(json_object_get(net, "gateway")));
	buf[0] = '\0';
	o = 0;
	json_array_foreach(json_object_get(net, "dns"), i, x)
		if (json_is_string(x) && o + strlen(json_string_value(x)) + 2 < sizeof(buf))
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "", json_string_value(x));
	set(v, "dns", buf);
	json_object_foreach(install, key, x) {
		char name[160];

		snprintf(name, sizeof(name), "install.%s", key);
		if (json_is_string(x))
			set(v, name, json_string_value(x));
		else if (json_is_boolean(x))
			set(v, name, json_is_true(x) ? "true" : "false");
		else if (json_is_integer(x)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(x));
			set(v, name, buf);
		}
	}
}

static int lookup(void *cls, const char *name, size_t len, const char **value)
{
	struct vars *v = cls;
	char key[160];

	if (len >= sizeof(key))
		return -ENOENT;
	memcpy(key, name, len);
	key[len] = '\0';
	*value = json_string_value(json_object_get(v->values, key));
	return *value ? 0 : -ENOENT;
}

/* Renders TEMPLATES_DIR/rel into the file it names (rel without its suffix): 0, or -EIO with
 * the message. */
static int render_one(struct vars *v, int rootfd, const char *rel)
{
	char out[512], path[600], err[TARGET_PATH_MAX + 200], *text, *rendered;
	size_t len = strlen(rel), cut = recipe_template_suffix(rel);
	struct stat st;
	int rc;

	if (!cut)
		return 0;
	snprintf(out, sizeof(out), "/%.*s", (int)(len - cut), rel);
	snprintf(path, sizeof(path), "%s/%s", TEMPLATES_DIR, rel);
	/* A template that is a symlink could render a file written moments ago (the shadow,
	 * the phone-home token) into another: only regular files are templates. */
	if ((rc = target_open(rootfd, path, O_PATH | O_NOFOLLOW, 0)) >= 0) {
		bool link = fstat(rc, &st) == 0 && S_ISLNK(st.st_mode);

		close(rc);
		if (link)
			return err_set(-EIO, "template /etc/anemos/templates/%s: a symlink, not a file", rel);
	}
	if (target_read(rootfd, path, TEMPLATE_MAX, &text, &st) < 0)
		return err_set(-EIO, "template /etc/anemos/templates/%s: not a readable file of at most 1 MiB", rel);
	rendered = template_expand(text, lookup, v, err, sizeof(err));
	free(text);
	if (!rendered)
		return err_set(-EIO, "template /etc/anemos/templates/%s: %s", rel, err);
	rc = target_write(rootfd, out, st.st_mode & 07777, rendered, strlen(rendered));
	free(rendered);
	if (rc < 0)
		return err_set(-EIO, "cannot write %s: %s", out, target_strerror(rootfd, out, rc, err, sizeof(err)));
	fprintf(stderr, "anemos-agent: rendered %s\n", out);
	return 0;
}

/* Walks TEMPLATES_DIR/sub (depth bounded), rendering every template file: 0, or -EIO with
 * the message. */
static int walk(struct vars *v, int rootfd, const char *sub, int depth)
{
	char dir[600], rel[512];
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s%s%s", TEMPLATES_DIR, *sub ? "/" : "", sub);
	if ((fd = target_open(rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)) < 0)
		return fd == -ENOENT && !*sub ? 0 : err_set(-EIO, "cannot read %s", dir);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return err_set(-EIO, "cannot read %s", dir);
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (size_t)snprintf(rel, sizeof(rel), "%s%s%s", sub, *sub ? "/" : "", de->d_name) >= sizeof(rel) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 16)
			rc = walk(v, rootfd, rel, depth + 1);
		else if (S_ISREG(st.st_mode))
			rc = render_one(v, rootfd, rel);
	}
	closedir(d);
	return rc;
}

int templates_render(json_t *plan, int rootfd)
{
	struct vars v = { json_object() };
	int rc;

	vars_fill(&v, plan);
	rc = walk(&v, rootfd, "", 0);
	json_decref(v.values);
	return rc;
}

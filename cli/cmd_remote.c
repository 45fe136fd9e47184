/*
 * anemosctl reinstall | rescue | adopt --ssh: hosts without network boot (cloud VMs), reached
 * with the system's OpenSSH client, so ~/.ssh/config, agents and jump hosts all apply
 * ($ANEMOS_SSH replaces the "ssh" command, e.g. "ssh -i key -o StrictHostKeyChecking=no").
 *
 * reinstall and rescue arm the host on anemosd (POST /api/v1/hosts/REF/kexec: a fresh agent
 * token, and for reinstall next boot install once), then run anemosd's /kexec.sh on the
 * target as root. The settings, the token among them, travel ahead of the script on the SSH
 * session's stdin and are read by the remote shell into memory: they are never in a URL, a
 * command line or a file. When the script refuses (a container, too little memory, no way
 * to boot), the host's next boot is put back as it was.
 *
 * adopt runs anemos-inventory on the target (sending a static build over the same session
 * when the target has none) and registers the result (POST /api/v1/inventory).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anemosctl.h"

/* The payload (stdin) is read whole into the shell's memory first, then evaluated. */
#define EVAL_STDIN "sh -c 's=$(cat); eval \"$s\"'"
#define OUTPUT_MAX (64u << 20)	/* most bytes of a remote command's output kept */
#define INVENTORY_MAX (64u << 20)	/* largest anemos-inventory program sent, in bytes */

enum remote_option_id {
	OPT_SSH = 256,
	OPT_IMAGE,
	OPT_METHOD,
	OPT_NETWORK,
	OPT_KEEP_HOST_KEYS,
	OPT_INVENTORY,
	OPT_HOST,
};

struct remote_options {
	struct remote_boot boot;
	const char *inventory;	/* --inventory PATH: the anemos-inventory to copy over */
	const char *host;	/* adopt --host REF: the host the inventory goes onto */
};

static const char *const methods[] = { "auto", "kexec", "bootloader", NULL };
static const char *const networks[] = { "auto", "dhcp", "static", NULL };

static int remote_option(void *ctx, int option, const char *arg)
{
	struct remote_options *o = ctx;

	switch (option) {
	case OPT_SSH: o->boot.ssh = arg; return 0;
	case OPT_IMAGE: o->boot.image = arg; return 0;
	case OPT_METHOD: o->boot.method = arg; return check_choice("--method", arg, methods);
	case OPT_NETWORK: o->boot.network = arg; return check_choice("--network", arg, networks);
	case OPT_KEEP_HOST_KEYS: o->boot.keep_host_keys = true; return 0;
	case OPT_INVENTORY: o->inventory = arg; return 0;
	case OPT_HOST: o->host = arg; return 0;
	}
	return -EINVAL;
}

/*
 * Splits @dest, "[user@]host[:port]" or "[user@][v6addr]:port", into the argv of ssh after
 * the command: { "-p", port, "user@host" } or { "user@host" }. Returns the count, or
 * -EINVAL (with the message). The strings live in @buf and @userhost.
 */
#define DEST_MAX 512
static int ssh_target(const char *dest, char buf[DEST_MAX], char userhost[DEST_MAX], char *args[3])
{
	const size_t size = DEST_MAX;
	char *at, *host, *port = NULL, *p;
	size_t userlen;

	if (!dest || !*dest || *dest == '-' || strlen(dest) >= size - 1 || strpbrk(dest, " \t\n'\"\\;|&$`"))
		return err_set(-EINVAL, "--ssh needs [user@]host[:port] (not '%s')", dest ? dest : "");
	snprintf(buf, size, "%s", dest);
	at = strrchr(buf, '@');
	host = at ? at + 1 : buf;
	userlen = at ? (size_t)(at - buf) + 1 : 0;
	if (*host == '[') {	/* [v6]:port */
		if (!(p = strchr(host, ']')))
			return err_set(-EINVAL, "--ssh %s: no ']' after the IPv6 address", dest);
		*p = '\0';
		if (p[1] == ':')
			port = p + 2;
		else if (p[1]) {
			return err_set(-EINVAL, "--ssh %s: expected :PORT after ']'", dest);
		}
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else if ((p = strchr(host, ':')) && !strchr(p + 1, ':')) {
		*p = '\0';
		port = p + 1;
	}
	if (!*host || *host == '-' || (port && (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
				 atoi(port) > 65535))) {
		return err_set(-EINVAL, "--ssh %s: the host or port is not valid", dest);
	}
	/* "user@host" again, without brackets or port. */
	p = userhost;
	memcpy(p, buf, userlen);
	memcpy(p + userlen, host, strlen(host) + 1);
	if (port) {
		args[0] = "-p";
		args[1] = port;
		args[2] = p;
		return 3;
	}
	args[0] = p;
	return 1;
}

bool ssh_dest_valid(const char *dest)
{
	char buf[DEST_MAX], userhost[DEST_MAX], *args[3];

	return ssh_target(dest, buf, userhost, args) >= 0;
}

int ssh_failure(int status, const char *what, const char *more)
{
	if (status > 0)	/* a negative status: run_ssh's own words come first */
		err_clear();
	return err_add(-EIO, "%s (exit %d)%s%s", what, status, status == 255 ? ": ssh failed" : "", more);
}

int run_ssh(const char *dest, const char *remote, const char *input, size_t len, char **output)
{
	char target[DEST_MAX], userhost[DEST_MAX], *targs[3], *argv[64], *cmd = NULL, *save, *word;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, n, nt, i, status = 0, rc, saved;
	const char *env = getenv("ANEMOS_SSH");
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_term, old_hup;
	size_t have = 0, cap = 0;
	char *collected = NULL;
	pid_t pid;

	if ((nt = ssh_target(dest, target, userhost, targs)) < 0)
		return nt;
	if (!(cmd = strdup(env && *env ? env : "ssh")))
		return -ENOMEM;
	n = 0;
	for (word = strtok_r(cmd, " \t", &save); word && n < 50; word = strtok_r(NULL, " \t", &save))
		argv[n++] = word;
	argv[n++] = "-T";
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	/* A host that is rebooting (deploy follows one) must not hold a connection for minutes. */
	argv[n++] = "-o";
	argv[n++] = "ConnectTimeout=15";
	argv[n++] = "-o";
	argv[n++] = "ServerAliveInterval=5";
	for (i = 0; i < nt - 1; i++)		/* -p PORT */
		argv[n++] = targs[i];
	argv[n++] = "--";			/* what follows is the destination, never an option */
	argv[n++] = targs[nt - 1];
	argv[n++] = (char *)remote;
	argv[n] = NULL;
	if (pipe2(in, O_CLOEXEC) < 0 || (output && pipe2(out, O_CLOEXEC) < 0)) {
		saved = errno;
		rc = err_set(-saved, "pipe: %s", strerror(saved));
		goto fail;
	}
	/* Ctrl-C or a hang-up reaches ssh, whose end we then see: the caller can still undo. */
	sigaction(SIGINT, &ignore, &old_int);
	sigaction(SIGTERM, &ignore, &old_term);
	sigaction(SIGHUP, &ignore, &old_hup);
	signal(SIGPIPE, SIG_IGN);
	if ((pid = fork()) < 0) {
		saved = errno;
		rc = err_set(-saved, "fork: %s", strerror(saved));
		goto restore;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		dup2(in[0], STDIN_FILENO);
		if (output)
			dup2(out[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "anemosctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	in[0] = -1;
	if (output) {
		close(out[1]);
		out[1] = -1;
	}
	/* The remote commands read all of stdin before they write (it is the script or the
	 * program): write it all, then read. */
	while (len > 0) {
		ssize_t w = write(in[1], input, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* ssh ended early; its status tells why */
		input += w;
		len -= (size_t)w;
	}
	close(in[1]);
	in[1] = -1;
	if (output) {
		for (;;) {
			ssize_t r;

			if (have + 65536 + 1 > cap) {
				char *more;

				if (cap >= OUTPUT_MAX || !(more = realloc(collected, cap = cap ? cap * 2 : 131072)))
					break;	/* too much: the JSON will not parse, reported then */
				collected = more;
			}
			r = read(out[0], collected + have, cap - have - 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		close(out[0]);
		out[0] = -1;
		if (collected)
			collected[have] = '\0';
		*output = collected;
	}
	while ((rc = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		rc = err_set(-ECHILD, "waitpid: %s", strerror(errno));
	} else {
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
	}
restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
fail:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	free(cmd);
	return rc;
}

void put_var(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s='", name);
	for (; value && *value; value++) {
		if (*value == '\'')
			fputs("'\\''", f);
		else
			fputc(*value, f);
	}
	fputs("'\n", f);
}

void put_common_vars(FILE *f)
{
	const char *floor = getenv("ANEMOS_MEMORY_FLOOR_MIB");
	size_t len = floor ? strlen(floor) : 0;

	/* No leading zero: the script's arithmetic would read it as octal. */
	put_var(f, "ANEMOS_MEMORY_FLOOR_MIB", len >= 1 && len <= 4 && strspn(floor, "0123456789") == len &&
						      (len == 1 || floor[0] != '0') ? floor : "");
}

static const char *member_text(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(b ? json_object_get(o, a) : o, b ? b : a));
}

/* reinstall and rescue (and deploy --url): arm the host, send /kexec.sh with its settings,
 * undo on refusal. */
int remote_boot(struct ctl *ctl, const char *ref, const char *mode, const struct remote_boot *o)
{
	json_t *body = NULL, *armed = NULL, *undo = NULL, *ignored = NULL;
	char *escaped = NULL, *path = NULL, *script = NULL, *input = NULL;
	size_t len = 0;
	FILE *f;
	int rc, status;

	if (!o->ssh)
		return err_set(-EINVAL, "--ssh [user@]host[:port] is needed: the host is reached over SSH");
	if (!ssh_dest_valid(o->ssh))
		return -EINVAL;
	if (!(escaped = url_escape(ref)) || asprintf(&path, "/api/v1/hosts/%s/kexec", escaped) < 0) {
		free(escaped);
		return -ENOMEM;
	}
	body = json_pack("{s:s}", "mode", mode);
	if (o->image)
		json_object_set_new(body, "image", json_string(o->image));
	if ((rc = api_get_text(ctl, "/kexec.sh", &script)) != 0 ||
	    (rc = api_call(ctl, "POST", path, body, &armed)) != 0)
		goto out;
	if (!(f = open_memstream(&input, &len))) {
		rc = -ENOMEM;
		goto out;
	}
	put_var(f, "ANEMOS_MODE", mode);
	put_var(f, "ANEMOS_TOKEN", member_text(armed, "token", NULL));
	put_var(f, "ANEMOS_KERNEL_URL", member_text(armed, "kernel", "url"));
	put_var(f, "ANEMOS_KERNEL_SHA256", member_text(armed, "kernel", "sha256"));
	put_var(f, "ANEMOS_INITRD_URL", member_text(armed, "initrd", "url"));
	put_var(f, "ANEMOS_INITRD_SHA256", member_text(armed, "initrd", "sha256"));
	put_var(f, "ANEMOS_CMDLINE", member_text(armed, "cmdline", NULL));
	put_var(f, "ANEMOS_METHOD", o->method ? o->method : "auto");
	put_var(f, "ANEMOS_NETWORK", o->network ? o->network : "auto");
	put_var(f, "ANEMOS_HOST_KEYS", o->keep_host_keys ? "keep" : "new");
	put_common_vars(f);
	fputs(script, f);
	fclose(f);
	fprintf(stderr, "anemosctl: host %lld%s%s: %s over SSH to %s\n",
		(long long)json_integer_value(json_object_get(armed, "host_id")),
		member_text(armed, "hostname", NULL) ? " " : "",
		member_text(armed, "hostname", NULL) ? member_text(armed, "hostname", NULL) : "",
		strcmp(mode, "install") == 0 ? "reinstalling" : "rescue", o->ssh);
	status = run_ssh(o->ssh, AS_ROOT(EVAL_STDIN), input, len, NULL);
	if (status == 0) {
		if (o->followed)
			;
		else if (strcmp(mode, "install") == 0)
			printf("host %s is installing image %s; follow it with: anemosctl host events %s --follow\n",
			       ref, member_text(armed, "image", NULL), ref);
		else
			printf("host %s is booting the rescue environment; then: ssh root@ADDRESS "
			       "(a reboot returns to its installed system)\n", ref);
		rc = 0;
		goto out;
	}
	rc = ssh_failure(status, "the target refused or could not be reached", "");
	ctl_print_error();	/* said before the disarming, which goes on */
	/* Disarm: the fresh token revoked, the next boot as it was (one transaction). */
	undo = json_deep_copy(json_object_get(armed, "previous"));
	free(path);
	path = NULL;
	if (undo && asprintf(&path, "/api/v1/hosts/%s/kexec/cancel", escaped) >= 0 &&
	    (api_call(ctl, "POST", path, undo, &ignored) == 0 || (ctl_print_error(), false)))
		fprintf(stderr, "anemosctl: host %s disarmed: its token is revoked, its next boot is %s again\n",
			ref, member_text(undo, "next_boot", NULL));
	else
		fprintf(stderr, "anemosctl: could not disarm host %s: check its next boot (anemosctl host show %s)\n",
			ref, ref);
out:
	json_decref(body);
	json_decref(armed);
	json_decref(undo);
	json_decref(ignored);
	free(escaped);
	free(path);
	free(script);
	free(input);
	return rc;
}

static const struct option kexec_options[] = {
	{ "ssh", required_argument, NULL, OPT_SSH },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "method", required_argument, NULL, OPT_METHOD },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "keep-host-keys", no_argument, NULL, OPT_KEEP_HOST_KEYS },
	{ NULL, 0, NULL, 0 },
};

int remote_reinstall(struct ctl *ctl, int argc, char **argv)
{
	struct remote_options o = { 0 };
	int first = parse_command(argc, argv, kexec_options, remote_option, &o, 1, 1);

	return first < 0 ? first : remote_boot(ctl, argv[first], "install", &o.boot);
}

int remote_rescue(struct ctl *ctl, int argc, char **argv)
{
	struct remote_options o = { 0 };
	int first = parse_command(argc, argv, kexec_options, remote_option, &o, 1, 1);

	if (first >= 0 && o.boot.image)
		return err_set(-EINVAL, "rescue takes no --image: nothing is installed");
	return first < 0 ? first : remote_boot(ctl, argv[first], "rescue", &o.boot);
}

/* The anemos-inventory to send to a target without one: --inventory, else the static build
 * beside this program, else the one of the same build. */
static char *local_inventory(const char *given)
{
	char self[PATH_MAX], *dir, *path = NULL;
	const char *names[] = { "anemos-inventory-static", "anemos-inventory" };
	ssize_t n;

	if (given)
		return strdup(given);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return NULL;
	self[n] = '\0';
	dir = strrchr(self, '/');
	*dir = '\0';
	for (size_t i = 0; i < 2; i++) {
		free(path);
		if (asprintf(&path, "%s/%s", self, names[i]) < 0)
			return NULL;
		if (access(path, X_OK) == 0)
			return path;
	}
	free(path);
	return NULL;
}

/* Collects the inventory of the host at @ssh (its own anemos-inventory, else @inventory or
 * the static build sent over) and registers it onto the host @ref, or a new one; the host
 * anemosd answers goes to @host (the caller's). 0 or -errno (with the message). */
int remote_adopt_host(struct ctl *ctl, const char *ssh, const char *inventory, const char *ref, json_t **host)
{
	char *out = NULL, *binary = NULL, *local = NULL, *path = NULL, *escaped = NULL;
	json_t *inv = NULL;
	json_error_t error;
	size_t len = 0;
	int status, rc;

	if (!ssh)
		return err_set(-EINVAL, "--ssh [user@]host[:port] is needed");
	if (!ssh_dest_valid(ssh))
		return -EINVAL;
	/* Its own anemos-inventory if it has one; else the static build, sent over stdin into a
	 * private temporary file that is removed afterwards. */
	status = run_ssh(ssh, AS_ROOT("sh -c 'command -v anemos-inventory >/dev/null && exec anemos-inventory; exit 100'"),
			 "", 0, &out);
	if (status == 100) {
		free(out);
		out = NULL;
		if (!(local = local_inventory(inventory)))
			return err_set(-ENOENT, "the target has no anemos-inventory and none was found to send (--inventory PATH)");
		if ((rc = read_file(local, INVENTORY_MAX, &binary, &len)) != 0)
			goto done;
		fprintf(stderr, "anemosctl: sending %s to %s (it has no anemos-inventory)\n", local, ssh);
		/* Stored once, then run from each temporary folder in turn until one lets it run
		 * (/tmp is often noexec: 126); every copy is removed. */
		status = run_ssh(ssh, AS_ROOT("sh -c 'f=$(mktemp) && cat >\"$f\" || exit 1; rc=126; "
					      "for b in /dev/shm /run /tmp /var/tmp /root; do d=$(mktemp -d \"$b/anemos.XXXXXX\" 2>/dev/null) || continue; "
					      "cp \"$f\" \"$d/inv\" && chmod 700 \"$d/inv\" && { \"$d/inv\"; rc=$?; }; rm -rf \"$d\"; "
					      "[ $rc -eq 126 ] || break; done; rm -f \"$f\"; exit $rc'"),
				 binary, len, &out);
	}
	if (status != 0) {
		char what[DEST_MAX + 32];

		snprintf(what, sizeof(what), "anemos-inventory failed on %s", ssh);
		rc = ssh_failure(status, what, "");
		goto done;
	}
	if (!out || !(inv = json_loads(out, 0, &error))) {
		rc = err_set(-EPROTO, "anemos-inventory on %s printed no JSON: %s", ssh, out ? error.text : "no output");
		goto done;
	}
	/* The inventory comes from the target: it goes onto the host named, or a new one. */
	if (ref && (!(escaped = url_escape(ref)) || asprintf(&path, "/api/v1/inventory?host=%s", escaped) < 0)) {
		path = NULL;
		rc = -ENOMEM;
		goto done;
	}
	rc = api_call(ctl, "POST", path ? path : "/api/v1/inventory", inv, host);
done:
	json_decref(inv);
	free(path);
	free(escaped);
	free(out);
	free(binary);
	free(local);
	return rc;
}

int remote_adopt(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "ssh", required_argument, NULL, OPT_SSH },
		{ "inventory", required_argument, NULL, OPT_INVENTORY },
		{ "host", required_argument, NULL, OPT_HOST },
		{ NULL, 0, NULL, 0 },
	};
	struct remote_options o = { 0 };
	json_t *host = NULL;
	int first, rc;

	if ((first = parse_command(argc, argv, options, remote_option, &o, 0, 0)) < 0)
		return first;
	if ((rc = remote_adopt_host(ctl, o.boot.ssh, o.inventory, o.host, &host)) != 0)
		return rc;
	if (ctl->json)
		print_json(host);
	else
		printf("adopted %s as host %lld%s%s\n", o.boot.ssh, (long long)json_integer_value(json_object_get(host, "id")),
		       json_text(host, "hostname") ? " " : "", json_text(host, "hostname") ? json_text(host, "hostname") : "");
	json_decref(host);
	return 0;
}

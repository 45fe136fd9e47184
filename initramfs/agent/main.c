/*
 * anemos-agent: inventory, then the plan. The steps are a straight line; every request is
 * bounded (client_call retries for a->retry_for seconds at most) and so is the wait for a
 * plan, a busy or unreachable anemosd included (a->poweroff_after), so the agent never
 * hangs forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "filelist.h"
#include "install.h"
#include "boot_contract.h"
#include "inventory.h"

#define PLAN_WAIT 60 /* seconds one long-polled plan request may wait on the server */

/* If word is KEY=VALUE, copies VALUE into out (the first occurrence wins). */
static void take(const char *word, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key);

	if (!out[0] && strncmp(word, key, klen) == 0 && word[klen] == '=')
		snprintf(out, outsz, "%s", word + klen + 1);
}

/*
 * The token of a boot entered by kexec from a running system: it comes in a small archive
 * appended to the initramfs (GET /kexec.sh), so that it is on no command line, in no boot
 * entry and in no process list. Read into @a and the file removed.
 */
#define KEXEC_TOKEN_FILE "/etc/anemos-kexec-token"

static void read_token_file(struct agent *a, const char *path)
{
	FILE *f = fopen(path, "re");
	char *nl;

	if (!f)
		return;
	if (fgets(a->token, sizeof(a->token), f) && (nl = strpbrk(a->token, "\r\n")))
		*nl = '\0';
	fclose(f);
	unlink(path);
}

/* Reads anemos.url, anemos.token, anemos.mode and anemos.lldp from a kernel command line
 * into a (the token from KEXEC_TOKEN_FILE when the command line has none). */
static int read_cmdline(struct agent *a, const char *path)
{
	char line[4096], lldp[16] = "", *word, *save = NULL, *end;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "anemos-agent: cannot read %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	for (word = strtok_r(line, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
		take(word, BOOT_ARG_URL, a->url, sizeof(a->url));
		take(word, BOOT_ARG_TOKEN, a->token, sizeof(a->token));
		take(word, BOOT_ARG_MODE, a->mode, sizeof(a->mode));
		take(word, BOOT_ARG_LLDP, lldp, sizeof(lldp));
	}
	if (lldp[0]) {
		long seconds = strtol(lldp, &end, 10);

		if (*end || seconds < 0 || seconds > LLDP_WAIT_MAX)
			fprintf(stderr, "anemos-agent: " BOOT_ARG_LLDP "=%s is not 0-%d seconds; listening %ld s\n",
				lldp, LLDP_WAIT_MAX, a->lldp_wait);
		else
			a->lldp_wait = seconds;
	}
	if (!a->token[0] && strcmp(path, "/proc/cmdline") == 0)
		read_token_file(a, KEXEC_TOKEN_FILE);
	if (!a->url[0] || !a->token[0] || !a->mode[0]) {
		fprintf(stderr, "anemos-agent: %s lacks anemos.url, anemos.token or anemos.mode "
				"(boot through anemosd's /boot.ipxe)\n", path);
		return -EINVAL;
	}
	return 0;
}

/* The machine's IPv4 addresses, for telling the operator where rescue listens. */
static void addresses(char *out, size_t outsz)
{
	struct ifaddrs *ifs, *i;
	size_t o = 0;

	out[0] = '\0';
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		char host[64];

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (getnameinfo(i->ifa_addr, sizeof(struct sockaddr_in), host, sizeof(host), NULL, 0,
				NI_NUMERICHOST) == 0 && o + strlen(host) + 2 < outsz)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s", o ? " " : "", host);
	}
	freeifaddrs(ifs);
}

/* Writes the plan's SSH keys as root's authorized_keys for the rescue SSH server. */
static int write_authorized_keys(struct agent *a, json_t *keys)
{
	char path[512], tmp[520];
	size_t i;
	json_t *key;
	FILE *f;

	if (mkdir(a->ssh_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/authorized_keys", a->ssh_dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (!(f = fopen(tmp, "we")))
		return -errno;
	fchmod(fileno(f), 0600);
	json_array_foreach(keys, i, key)
		if (json_is_string(key))
			fprintf(f, "%s\n", json_string_value(key));
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

/* Ends this boot with anemosd: the token is revoked by the server either way. */
static void finish(struct agent *a, bool ok, const char *error)
{
	json_t *body = ok ? json_pack("{s:b}", "ok", 1) : json_pack("{s:b, s:s}", "ok", 0, "error", error);

	if (client_call(a, "POST", "/api/v1/agent/done", body, 20, NULL, NULL) < 0)
		fprintf(stderr, "anemos-agent: could not tell %s that this boot ended: %s\n", a->url, err_msg());
	json_decref(body);
}

/* In a discover boot, what the switches say of each NIC's port (anemos.lldp seconds at
 * most), printed per NIC on the console. Best effort: a NIC that heard nothing keeps
 * "lldp": null. */
static void listen_lldp(struct agent *a, json_t *inventory)
{
	json_t *nic;
	size_t i;
	int heard, rc;

	if (strcmp(a->mode, "discover") != 0 || a->lldp_wait == 0)
		return;
	fprintf(stderr, "anemos-agent: listening for LLDP on every NIC (up to %ld s)\n", a->lldp_wait);
	if ((rc = lldp_collect(inventory, a->lldp_wait, &heard)) < 0)
		fprintf(stderr, "anemos-agent: LLDP: %s\n", strerror(-rc));
	json_array_foreach(json_object_get(inventory, "nics"), i, nic) {
		json_t *l = json_object_get(nic, "lldp");

		json_int_t vlan = json_integer_value(json_object_get(l, "vlan"));
		const char *sw = json_string_value(json_object_get(l, "switch"));
		const char *port = json_string_value(json_object_get(l, "port"));

		if (!json_is_object(l))
			continue;
		if (!sw)
			sw = json_string_value(json_object_get(l, "chassis_id"));
		fprintf(stderr, "anemos-agent: LLDP on %s: switch %s port %s", json_string_value(json_object_get(nic, "name")),
			sw ? sw : "?", port ? port : "?");
		if (vlan > 0)
			fprintf(stderr, " vlan %lld", (long long)vlan);
		fputc('\n', stderr);
	}
	fprintf(stderr, "anemos-agent: LLDP heard on %d of %zu NICs\n", heard,
		json_array_size(json_object_get(inventory, "nics")));
}

/* Posts the inventory; returns it (the installer picks its disk from it), or NULL. */
static json_t *post_inventory(struct agent *a)
{
	json_t *inventory = inventory_collect(a->root), *reply = NULL;
	int rc;

	if (!inventory) {
		client_report(a, "error", "inventory", "collecting the hardware inventory failed (out of memory)");
		return NULL;
	}
	listen_lldp(a, inventory);
	rc = client_call(a, "POST", "/api/v1/agent/inventory", inventory, 60, NULL, &reply);
	if (rc == 0)
		fprintf(stderr, "anemos-agent: inventory registered: %zu disks, %zu NICs; host %lld is %s\n",
			json_array_size(json_object_get(inventory, "disks")),
			json_array_size(json_object_get(inventory, "nics")),
			(long long)json_integer_value(json_object_get(reply, "id")),
			json_string_value(json_object_get(reply, "status")));
	else
		fprintf(stderr, "anemos-agent: anemosd did not take the inventory: %s\n", err_msg());
	json_decref(reply);
	if (rc < 0) {
		json_decref(inventory);
		return NULL;
	}
	return inventory;
}

/* Asks for the plan until it says something other than "discover" (or, in rescue mode, at
 * once), carrying out the BMC enroll any of them brings. Until the deadline, a busy or unreachable anemosd is asked again (a rescue boot
 * gives up after a->retry_for). Returns the plan, or NULL when the wait is over or anemosd
 * refused. */
static json_t *await_plan(struct agent *a, time_t deadline)
{
	bool rescue = strcmp(a->mode, "rescue") == 0;

	for (;;) {
		long left = (long)(deadline - time(NULL));
		long wait = rescue ? 0 : left < PLAN_WAIT ? left : PLAN_WAIT;
		time_t give_up = rescue ? time(NULL) + a->retry_for : deadline;
		const char *action;
		char path[64];
		json_t *plan = NULL;

		if (wait < 0)
			return NULL;
		snprintf(path, sizeof(path), "/api/v1/agent/plan?wait=%ld", wait);
		if (client_call_until(a, "GET", path, NULL, wait + 30, give_up, NULL, &plan) < 0) {
			fprintf(stderr, "anemos-agent: no plan from %s: %s\n", a->url, err_msg());
			return NULL;
		}
		/* An enroll comes with the plan of any boot, a discover one's long poll included:
		 * it is done first, and a discover boot then waits on. */
		bmc_enroll_run(a, plan);
		action = json_string_value(json_object_get(plan, "action"));
		if (rescue || !action || strcmp(action, "discover") != 0)
			return plan;
		json_decref(plan);
		if (time(NULL) >= deadline)
			return NULL;
	}
}

/* An install plan whose secrets (root password hash, cloud-init user-data) anemosd gave an
 * earlier plan of this boot has them null: the system it would install lacks them, so none
 * is installed. The host fails with the reason; a fresh boot gets them again. */
#define SECRETS_WITHHELD "the install's secrets went to an earlier plan of this boot; " \
			 "reboot the machine for a fresh boot"

static int run(struct agent *a)
{
	time_t deadline = time(NULL) + a->poweroff_after;
	const char *action;
	char where[256];
	json_t *plan, *inventory;
	int rc = EXIT_FAILED;

	client_report(a, "info", a->mode, "anemos-agent started (%s)", a->mode);
	if (!(inventory = post_inventory(a)))
		return EXIT_FAILED;
	if (strcmp(a->mode, "discover") == 0)
		fprintf(stderr, "anemos-agent: waiting for an assignment (up to %ld min)\n", a->poweroff_after / 60);
	plan = await_plan(a, deadline);
	if (!plan) {
		json_decref(inventory);
		if (time(NULL) < deadline)
			return EXIT_FAILED;
		client_report(a, "info", a->mode, "no assignment after %ld minutes; powering off",
			      a->poweroff_after / 60);
		finish(a, true, NULL);
		return EXIT_POWEROFF;
	}
	action = strcmp(a->mode, "rescue") == 0 ? "rescue" : json_string_value(json_object_get(plan, "action"));
	if (!action)
		action = "none";
	if (strcmp(action, "rescue") == 0) {
		if (write_authorized_keys(a, json_object_get(plan, "ssh_authorized_keys")) < 0) {
			client_report(a, "error", "rescue", "cannot write SSH keys: %s", strerror(errno));
		} else {
			addresses(where, sizeof(where));
			client_report(a, "info", "rescue", "rescue environment up: ssh root@%s (%zu keys); "
				      "no disk was touched", where[0] ? where : "(no address)",
				      json_array_size(json_object_get(plan, "ssh_authorized_keys")));
			rc = EXIT_RESCUE;
		}
	} else if (strcmp(action, "install") == 0 && json_is_true(json_object_get(plan, "secrets_withheld"))) {
		fprintf(stderr, "anemos-agent: install refused, no disk touched: %s\n", SECRETS_WITHHELD);
		finish(a, false, SECRETS_WITHHELD);
	} else if (strcmp(action, "install") == 0) {
		network_carry(plan, a->cmdline);
		rc = install_run(a, plan, inventory);
	} else {
		client_report(a, "info", a->mode, "next boot is now %s; rebooting", action);
		finish(a, true, NULL);
		rc = EXIT_REBOOT;
	}
	json_decref(plan);
	json_decref(inventory);
	return rc;
}

/*
 * anemos-agent --network FORMAT: install.network (JSON on stdin, at most 64 KiB), or with
 * @cmdline the network its anemos.net= carries, written as FORMAT (anemos, networkd, nocloud,
 * ifupdown) reads it, on stdout: what an install writes, to look at or to try. Returns the
 * exit status.
 */
static int network_print(const char *format, const char *cmdline)
{
	static const char *const names[] = { [NET_ANEMOS] = "anemos", [NET_NETWORKD] = "networkd",
					     [NET_NOCLOUD] = "nocloud", [NET_IFUPDOWN] = "ifupdown" };
	static char body[65537];
	json_error_t error;
	json_t *net = NULL;
	char *text;
	size_t i, len = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]) && strcmp(names[i], format) != 0; i++)
		;
	if (i == sizeof(names) / sizeof(names[0])) {
		fprintf(stderr, "anemos-agent: --network takes anemos, networkd, nocloud or ifupdown, not %s\n", format);
		return EXIT_FAILED;
	}
	if (cmdline && !(net = network_from_cmdline(cmdline))) {
		fprintf(stderr, "anemos-agent: %s has no %s=\n", cmdline, BOOT_ARG_NET);
		return EXIT_FAILED;
	}
	if (!net && (len = fread(body, 1, sizeof(body), stdin)) == sizeof(body)) {
		fprintf(stderr, "anemos-agent: install.network on stdin is over 64 KiB\n");
		return EXIT_FAILED;
	}
	if (!net && !(net = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error))) {
		fprintf(stderr, "anemos-agent: install.network on stdin: %s (line %d)\n", error.text, error.line);
		return EXIT_FAILED;
	}
	if (!json_is_object(net) || !(text = network_render(net, (enum net_format)i))) {
		fprintf(stderr, "anemos-agent: install.network must be a JSON object\n");
		json_decref(net);
		return EXIT_FAILED;
	}
	fputs(text, stdout);
	free(text);
	json_decref(net);
	return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: anemos-agent [--cmdline FILE] [--root DIR] [--ssh-dir DIR]\n"
		   "                    [--poweroff-after SECONDS] [--retry-for SECONDS]\n"
		   "       anemos-agent --unpack URL --sha256 HEX --format FORMAT --to PATH\n"
		   "                    (an image into a folder, or a raw image into a file; verified)\n"
		   "       anemos-agent --manifest DIR\n"
		   "                    (the list of DIR's files on stdout, as anemos-mkimg --manifest\n"
		   "                    writes it of the tree it built: compare the two with diff)\n"
		   "       anemos-agent --network anemos|networkd|nocloud|ifupdown [--cmdline FILE]\n"
		   "                    (install.network, JSON on stdin, or the network FILE's anemos.net=\n"
		   "                    carries, as an install writes it for that kind of system)\n"
		   "Reads anemos.url, anemos.token, anemos.mode and anemos.lldp from FILE (default /proc/cmdline).\n"
		   "Exit status: 0 reboot, 1 failed, 2 power off, 3 rescue.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cmdline", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "ssh-dir", required_argument, NULL, 's' },
		{ "poweroff-after", required_argument, NULL, 'p' },
		{ "retry-for", required_argument, NULL, 't' },
		{ "unpack", required_argument, NULL, 'u' },
		{ "sha256", required_argument, NULL, 'S' },
		{ "format", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "network", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *unpack = NULL, *sha = NULL, *format = NULL, *to = NULL, *manifest = NULL, *network = NULL;
	struct agent a = { .root = "/", .ssh_dir = "/root/.ssh", .phone_home_dir = PHONE_HOME_DIR,
			   .poweroff_after = 1800, .retry_for = 600, .lldp_wait = LLDP_WAIT_DEFAULT };
	const char *cmdline = "/proc/cmdline";
	bool cmdline_given = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cmdline = optarg; cmdline_given = true; break;
		case 'r': a.root = optarg; break;
		case 's': a.ssh_dir = optarg; break;
		case 'p': a.poweroff_after = strtol(optarg, NULL, 10); break;
		case 't': a.retry_for = strtol(optarg, NULL, 10); break;
		case 'u': unpack = optarg; break;
		case 'S': sha = optarg; break;
		case 'f': format = optarg; break;
		case 'o': to = optarg; break;
		case 'm': manifest = optarg; break;
		case 'n': network = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_FAILED;
		}
	}
	if (a.poweroff_after < 0 || a.retry_for < 1) {
		usage(stderr);
		return EXIT_FAILED;
	}
	if (network)
		return network_print(network, cmdline_given ? cmdline : NULL);
	if (manifest) {
		if (unpack) {
			usage(stderr);
			return EXIT_FAILED;
		}
		if ((rc = filelist_write(manifest, stdout)) < 0) {
			fprintf(stderr, "anemos-agent: cannot list %s: %s\n", manifest, strerror(-rc));
			return EXIT_FAILED;
		}
		return 0;
	}
	if (unpack) {
		if (!sha || !format || !to) {
			usage(stderr);
			return EXIT_FAILED;
		}
		if (client_init(&a) < 0)
			return EXIT_FAILED;
		rc = install_unpack(&a, unpack, sha, format, to);
		client_free(&a);
		return rc;
	}
	if (deploy_present()) {	/* anemosctl deploy --ssh: no anemosd, the plan came along */
		if (client_init(&a) < 0)
			return EXIT_FAILED;
		rc = deploy_run(&a, cmdline);
		client_free(&a);
		return rc;
	}
	if (read_cmdline(&a, cmdline) < 0)
		return EXIT_FAILED;
	a.cmdline = cmdline;
	if (client_init(&a) < 0) {
		fprintf(stderr, "anemos-agent: %s\n", err_msg());
		return EXIT_FAILED;
	}
	rc = run(&a);
	client_free(&a);
	return rc;
}

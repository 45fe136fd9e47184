/*
 * A deploy with no anemosd (anemosctl deploy --ssh): the payload the target appended to this
 * initramfs holds the plan (the same shape as anemosd's install plans), the recipe bundle,
 * the operator's keys and the host's own SSH host keys, under DEPLOY_DIR. The install itself
 * is install_run's, as for any plan; what differs is said here: the network carried over on
 * the command line goes into the plan (network_carry, as for anemosd's plans), the phases go to DEPLOY_PHASES (anemosctl reads them
 * over SSH) instead of to a server, and the host keys and the log go into the new system.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "boot_contract.h"
#include "errors.h"
#include "install.h"
#include "inventory.h"

#define DEPLOY_PLAN DEPLOY_DIR "/plan.json"
#define DEPLOY_HOSTKEYS DEPLOY_DIR "/hostkeys"
#define DEPLOY_LOG "/run/anemos/install.log"	/* /init tees the agent's output there */
#define DEPLOY_PHASES "/run/anemos/phases"
#define DEPLOY_LOG_TARGET "/var/log/anemos/install.log"

bool deploy_present(void)
{
	return access(DEPLOY_PLAN, F_OK) == 0;
}

void deploy_phase(const char *phase, const char *level, const char *message, uint64_t bytes, uint64_t total)
{
	FILE *f = fopen(DEPLOY_PHASES, "ae");

	if (!f)
		return;
	fprintf(f, "%s\t%s\t%.*s", phase, level, (int)strcspn(message, "\t\n"), message);
	if (total)
		fprintf(f, "\t%llu\t%llu", (unsigned long long)bytes, (unsigned long long)total);
	fputc('\n', f);
	fclose(f);
}

/* The host's own name, which kexec.sh carried over, for a plan that names none. */
static void carried_hostname(json_t *plan)
{
	json_t *host = json_object_get(plan, "host");
	char name[72] = "";
	FILE *f;

	if (!json_is_object(host) || json_string_value(json_object_get(host, "hostname")))
		return;
	if ((f = fopen(DEPLOY_DIR "/hostname", "re"))) {
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\r\n")] = '\0';
		fclose(f);
	}
	if (name[0] && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == strlen(name))
		json_object_set_new(host, "hostname", json_string(name));
}

int deploy_run(struct agent *a, const char *cmdline_path)
{
	json_error_t error;
	json_t *plan = json_load_file(DEPLOY_PLAN, 0, &error), *install, *inventory;
	const char *format;
	int rc;

	a->deploy = true;
	snprintf(a->mode, sizeof(a->mode), "deploy");
	if (!plan || !json_is_object(json_object_get(plan, "image"))) {
		client_report(a, "error", "deploy", "deploy failed: %s is not a plan: %s", DEPLOY_PLAN,
			      plan ? "no image" : error.text);
		json_decref(plan);
		return EXIT_FAILED;
	}
	if (!json_is_object(install = json_object_get(plan, "install")))
		json_object_set_new(plan, "install", install = json_object());
	network_carry(plan, cmdline_path);
	carried_hostname(plan);
	format = json_string_value(json_object_get(json_object_get(plan, "image"), "format"));
	client_report(a, "info", "deploy", "deploy %s: %s %s for %s, no anemosd (network: %s)",
		      json_string_value(json_object_get(plan, "deploy_id")),
		      format && strcmp(format, "recipe") == 0 ? "recipe" : "image",
		      json_string_value(json_object_get(json_object_get(plan, "image"), "name")),
		      json_string_value(json_object_get(json_object_get(plan, "host"), "hostname")),
		      json_string_value(json_object_get(json_object_get(install, "network"), "mode")));
	if (!(inventory = inventory_collect(a->root))) {
		client_report(a, "error", "deploy", "deploy failed: collecting the hardware inventory failed");
		json_decref(plan);
		return EXIT_FAILED;
	}
	rc = install_run(a, plan, inventory);
	json_decref(inventory);
	json_decref(plan);
	return rc;
}

/* Copies the file @from to @path of the target, with @mode: 0, or -errno with the message. */
static int copy_into(int rootfd, const char *from, const char *path, mode_t mode)
{
	char err[TARGET_PATH_MAX + 200];
	int fd = open(from, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return err_set(-errno, "cannot read %s: %s", from, strerror(errno));
	rc = target_copy(rootfd, path, mode, fd);
	close(fd);
	if (rc < 0)
		return err_set(-EIO, "cannot write %s: %s", path, target_strerror(rootfd, path, rc, err, sizeof(err)));
	return 0;
}

/* The host keys: dropbear's into /etc/dropbear, OpenSSH's into /etc/ssh, private ones 0600.
 * 0, or -EIO with the message. */
static int install_host_keys(int rootfd)
{
	DIR *dir = opendir(DEPLOY_HOSTKEYS);
	struct dirent *e;
	char from[512], path[512];
	int rc = 0, n = 0;

	if (!dir)
		return 0;
	while (rc == 0 && (e = readdir(dir))) {
		bool dropbear = strncmp(e->d_name, "dropbear_", 9) == 0;
		bool pub = strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".pub") == 0;

		if (!dropbear && strncmp(e->d_name, "ssh_host_", 9) != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", DEPLOY_HOSTKEYS, e->d_name);
		snprintf(path, sizeof(path), "%s/%s", dropbear ? "/etc/dropbear" : "/etc/ssh", e->d_name);
		if ((rc = target_mkdirs(rootfd, dropbear ? "/etc/dropbear" : "/etc/ssh", dropbear ? 0700 : 0755)) < 0) {
			err_set(rc, "cannot make the folder of %s: %s", path, strerror(-rc));
			break;
		}
		rc = copy_into(rootfd, from, path, pub ? 0644 : 0600);
		n += rc == 0;
	}
	closedir(dir);
	if (rc == 0)
		fprintf(stderr, "anemos-agent: %d SSH host keys of the old system installed\n", n);
	return rc < 0 ? -EIO : 0;
}

void memory_report(void)
{
	char line[128];
	long long total = -1, low = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f) && sscanf(line, "MemTotal: %lld kB", &total) != 1)
		;
	if (f)
		fclose(f);
	if ((f = fopen("/run/anemos/memory-low", "re"))) {
		if (fscanf(f, "%lld", &low) != 1)
			low = -1;
		fclose(f);
	}
	if (total > 0 && low >= 0 && low <= total)
		fprintf(stderr, "anemos-agent: memory: at most %lld MiB of the machine's %lld MiB in use (MemTotal less "
				"the least MemAvailable, looked at each second)\n", (total - low) / 1024, total / 1024);
}

int deploy_finish(struct agent *a, int rootfd)
{
	int rc;

	/* An install by anemosd keeps the old system's host keys when kexec.sh carried them
	 * (reinstall --keep-host-keys, deploy --url); it writes no deploy log. */
	if (!a->deploy)
		return install_host_keys(rootfd) < 0 ? -EIO : 0;
	if (install_host_keys(rootfd) < 0)
		return -EIO;
	if ((rc = target_mkdirs(rootfd, "/var/log/anemos", 0755)) < 0)
		return err_set(-EIO, "cannot make /var/log/anemos: %s", strerror(-rc));
	fflush(stderr);
	return copy_into(rootfd, DEPLOY_LOG, DEPLOY_LOG_TARGET, 0600);
}

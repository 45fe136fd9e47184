/*
 * Hosts reached over SSH (anemosctl reinstall/rescue --ssh): arming a running host to
 * kexec into the Anemos environment, and undoing that when the target refused. The digests
 * of the boot files the target verifies before it kexecs are cached here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anemosd.h"
#include "boot_contract.h"
#include "crypto.h"

/* The SHA-256 and size of a file of the boot folder, cached until the file changes. */
static int boot_file_digest(const char *name, char hex[SHA256_HEX_LEN + 1], long long *size)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { char name[32]; dev_t dev; ino_t ino; off_t size; struct timespec mtime;
			char hex[SHA256_HEX_LEN + 1]; } cache[2];
	char path[4096];
	struct stat st;
	int rc, slot = strcmp(name, "vmlinuz") == 0 ? 0 : 1;

	snprintf(path, sizeof(path), "%s/%s", cfg.boot_dir, name);
	if (stat(path, &st) < 0)
		return err_set(-EIO, "the boot folder has no %s: build it (make initramfs)", name);
	pthread_mutex_lock(&lock);
	if (strcmp(cache[slot].name, name) == 0 && cache[slot].dev == st.st_dev &&
	    cache[slot].ino == st.st_ino && cache[slot].size == st.st_size &&
	    cache[slot].mtime.tv_sec == st.st_mtim.tv_sec && cache[slot].mtime.tv_nsec == st.st_mtim.tv_nsec) {
		memcpy(hex, cache[slot].hex, SHA256_HEX_LEN + 1);
		*size = st.st_size;
		pthread_mutex_unlock(&lock);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	if ((rc = sha256_file(path, hex, size)) < 0)
		return err_set(-EIO, "cannot read %s", path);
	pthread_mutex_lock(&lock);
	snprintf(cache[slot].name, sizeof(cache[slot].name), "%s", name);
	cache[slot].dev = st.st_dev;
	cache[slot].ino = st.st_ino;
	cache[slot].size = st.st_size;
	cache[slot].mtime = st.st_mtim;
	memcpy(cache[slot].hex, hex, SHA256_HEX_LEN + 1);
	pthread_mutex_unlock(&lock);
	return 0;
}

struct kexec_arm {
	enum boot_action mode;
	json_t *image;   /* the image asked for, or NULL */
	json_t *answer;  /* what GET /kexec.sh needs; set on success */
};

static int kexec_change(struct host *h, void *arg)
{
	struct kexec_arm *a = arg;
	const char *mode = boot_action_name(a->mode);
	char token[128], khex[SHA256_HEX_LEN + 1], ihex[SHA256_HEX_LEN + 1], *cmdline = NULL;
	json_t *previous, *arm;
	long long ksize, isize;
	int rc;

	if ((rc = boot_file_digest("vmlinuz", khex, &ksize)) < 0 ||
	    (rc = boot_file_digest("initramfs.img", ihex, &isize)) < 0)
		return rc;
	if (!host_may_boot(h->status, a->mode))
		return err_set(-EBUSY, "host %lld is %s: set its status first", (long long)h->id,
			       host_status_name(h->status));
	previous = json_pack("{s:s, s:b, s:s?}", "next_boot", boot_action_name(h->next_boot), "once", h->once,
			     "image", h->image);
	if (a->mode == BOOT_INSTALL) {
		arm = json_pack("{s:s, s:b}", "next_boot", mode, "once", 1);
		if (a->image)
			json_object_set(arm, "image", a->image);
		rc = hosts_apply(h, arm);
		json_decref(arm);
		if (rc < 0)
			goto fail;
	}
	if ((rc = token_agent_issue(h->id, mode, false, NULL, token, sizeof(token))) < 0 ||
	    (rc = hosts_add_event(h->id, "operator", "info", "kexec",
				  a->mode == BOOT_INSTALL ? "%s over SSH: kexec into the Anemos environment to install image %s"
							  : "%s over SSH: kexec into the Anemos environment%s",
				  a->mode == BOOT_INSTALL ? "reinstall" : "rescue",
				  a->mode == BOOT_INSTALL ? h->image : "")) < 0)
		goto fail;
	if (asprintf(&cmdline, BOOT_ARG_URL "=%s " BOOT_ARG_MODE "=%s %s", public_url(), mode, cfg.kernel_args) < 0) {
		rc = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	a->answer = json_pack("{s:I, s:s?, s:s, s:s, s:s, s:{s:s+, s:s, s:I}, s:{s:s+, s:s, s:I}, s:s, s:o}",
			      "host_id", (json_int_t)h->id, "hostname", h->hostname, "mode", mode,
			      "image", a->mode == BOOT_INSTALL ? h->image : "", "token", token,
			      "kernel", "url", public_url(), "/boot/vmlinuz", "sha256", khex, "size", (json_int_t)ksize,
			      "initrd", "url", public_url(), "/boot/initramfs.img", "sha256", ihex, "size", (json_int_t)isize,
			      "cmdline", cmdline, "previous", previous);
	free(cmdline);
	return a->answer ? 0 : err_set(-ENOMEM, "out of memory");
fail:
	json_decref(previous);
	return rc;
}

/*
 * Arms a host to enter the Anemos environment by kexec (or a one-shot boot entry) from its
 * running system: for "install", next boot install once (with the image given, else the
 * host's); for "rescue", nothing about the host changes. Issues the fresh agent token in the
 * same transaction and answers what GET /kexec.sh needs: the boot files' URLs and SHA-256,
 * the command line, the token, and the host's settings before, so a refusal can undo them.
 */
int hosts_kexec(const char *ref, json_t *req, json_t **out)
{
	static const char *const allowed[] = { "mode", "image", NULL };
	struct kexec_arm a = { .image = json_object_get(req, "image") };
	int rc;

	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	if (boot_action_parse(json_string_value(json_object_get(req, "mode")), &a.mode) < 0 ||
	    (a.mode != BOOT_INSTALL && a.mode != BOOT_RESCUE))
		return err_set(-EINVAL, "\"mode\" must be install or rescue");
	if (a.image && !json_is_string(a.image))
		return err_set(-EINVAL, "\"image\" must be an image name");
	if (a.image && a.mode != BOOT_INSTALL)
		return err_set(-EINVAL, "\"image\" goes with mode install only");
	if ((rc = hosts_update(ref, 0, kexec_change, &a, NULL)) < 0) {
		json_decref(a.answer);
		return rc;
	}
	*out = a.answer;
	return 0;
}

static int kexec_cancel_change(struct host *h, void *arg)
{
	int rc;

	if ((rc = db_agent_token_revoke(h->id, false)) < 0 || (rc = hosts_apply(h, arg)) < 0)
		return rc;
	return hosts_add_event(h->id, "operator", "warn", "kexec",
			       "the host refused or could not be reached over SSH; next boot %s again",
			       boot_action_name(h->next_boot));
}

int hosts_kexec_cancel(const char *ref, json_t *previous, struct host *out)
{
	static const char *const allowed[] = { "next_boot", "once", "image", NULL };
	int rc;

	if (!json_is_object(previous))
		return err_set(-EINVAL, "the body must be the \"previous\" object of the kexec answer");
	if ((rc = fields_check(previous, allowed, NULL)) < 0)
		return rc;
	return hosts_update(ref, 0, kexec_cancel_change, previous, out);
}

/*
 * Boot decisions: which iPXE script a machine gets, and the plan its agent receives. All
 * iPXE syntax lives in ipxe-scripts/; this file only chooses a template and its values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemosd.h"

char *boot_entry_script(void)
{
	const struct tvar vars[] = { { "public_url", cfg.public_url } };

	return template_render("boot", vars, 1);
}

/* Identifies the machine, issues a fresh agent token when it is to run the Anemos
 * environment, and renders its script; all in one transaction, so a script that names a
 * token is only ever sent for a token that was committed. *script is malloc'd. */
int boot_script_for(const struct boot_identity *ident, const char *platform, char **script)
{
	char token[128], host_id[24], template_name[64];
	enum boot_action action;
	const char *mode;
	struct host h;
	int64_t id;
	int rc;

	if (!platform || !*platform)
		platform = "pcbios";
	if (strcmp(platform, "pcbios") != 0 && strcmp(platform, "efi") != 0)
		return err_set(-EINVAL, "platform must be pcbios or efi");
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = hosts_identify(ident, &h)) < 0) {
		db_rollback();
		return rc;
	}
	action = host_may_boot(h.status, h.next_boot) ? h.next_boot : BOOT_NONE;
	mode = boot_action_name(action);
	id = h.id;
	snprintf(host_id, sizeof(host_id), "%lld", (long long)h.id);
	token[0] = '\0';
	if (boot_action_runs_agent(action)) {
		snprintf(template_name, sizeof(template_name), "agent");
		rc = token_agent_issue(h.id, mode, true, token, sizeof(token));
	} else if (action == BOOT_LOCAL) {
		snprintf(template_name, sizeof(template_name), "local-%s", platform);
	} else {
		snprintf(template_name, sizeof(template_name), "none");
	}
	if (rc == 0 && action != h.next_boot)
		rc = hosts_add_event(h.id, "server", "warn", "boot", "network boot from %s: next boot %s "
				     "refused, the host is %s; no network boot", ident->mac,
				     boot_action_name(h.next_boot), host_status_name(h.status));
	else if (rc == 0)
		rc = hosts_add_event(h.id, "server", "info", "boot", "network boot from %s (%s, %s): %s",
				     ident->mac, platform, ident->arch ? ident->arch : "unknown arch", mode);
	host_free(&h);
	if (rc == 0) {
		const struct tvar vars[] = {
			{ "public_url", cfg.public_url }, { "host_id", host_id },
			{ "mode", mode }, { "token", token }, { "mac", ident->mac },
			{ "kernel_args", cfg.kernel_args }, { "platform", platform },
		};

		*script = template_render(template_name, vars, sizeof(vars) / sizeof(vars[0]));
		if (!*script)
			rc = -EIO;
	}
	if (rc < 0) {
		db_rollback();
		return rc;
	}
	if ((rc = hosts_commit(id)) < 0) {
		free(*script);
		*script = NULL;
		return rc;
	}
	metrics_boot(action);
	return 0;
}

bool boot_plan_pending(int64_t host_id)
{
	struct host h;
	bool pending;

	if (db_host_get(host_id, &h) < 0)
		return false;
	pending = h.next_boot == BOOT_DISCOVER;
	host_free(&h);
	return pending;
}

/* A host whose agent takes an install plan becomes installing, once; the system being
 * replaced may no longer report in (already so for a network boot). */
static int installing_change(struct host *h, void *arg)
{
	int rc;

	(void)arg;
	if (h->next_boot != BOOT_INSTALL || h->status == HOST_INSTALLING)
		return HOSTS_UNCHANGED;
	if ((rc = host_transition(h, HOST_EV_INSTALL_PLANNED)) < 0 ||
	    (rc = db_agent_token_revoke(h->id, true)) < 0)
		return rc;
	return hosts_add_event(h->id, "server", "info", "install", "install of image %s planned", h->image);
}

/* authorized_keys every plan carries besides the host's own (anemosd --ssh-keys FILE). */
static json_t *default_keys;

int boot_default_keys_load(const char *path)
{
	char line[16384];
	FILE *f;

	json_decref(default_keys);
	default_keys = json_array();
	if (!path)
		return 0;
	if (!(f = fopen(path, "re")))
		return err_set(-errno, "--ssh-keys %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] && line[0] != '#')
			json_array_append_new(default_keys, json_string(line));
	}
	fclose(f);
	return 0;
}

void boot_default_keys_free(void)
{
	json_decref(default_keys);
	default_keys = NULL;
}

/* The install settings with every default filled in, as the agent reads them. */
static json_t *plan_install(const char *settings)
{
	json_t *given = json_loads(settings ? settings : "{}", 0, NULL);
	json_t *out = json_pack("{s:n, s:n, s:{s:s}, s:n, s:s, s:s}", "disk", "root_password_hash",
				"network", "mode", "dhcp", "cloud_init_user_data", "kernel_args", "",
				"after", "reboot");

	if (json_is_object(given))
		json_object_update(out, given);
	json_decref(given);
	return out;
}

/* The host's MACs, for the per-host templates of recipes. */
static json_t *plan_macs(const struct host *h)
{
	json_t *macs = json_array();

	for (size_t i = 0; i < h->nmacs; i++)
		json_array_append_new(macs, json_string(h->macs[i]));
	return macs;
}

/* The host's keys and the server's, each once. */
static json_t *plan_keys(const char *host_keys)
{
	json_t *keys = json_loads(host_keys, 0, NULL), *key;
	size_t i, j;

	if (!json_is_array(keys)) {
		json_decref(keys);
		keys = json_array();
	}
	json_array_foreach(default_keys, i, key) {
		for (j = 0; j < json_array_size(keys); j++)
			if (json_equal(json_array_get(keys, j), key))
				break;
		if (j == json_array_size(keys))
			json_array_append(keys, key);
	}
	return keys;
}

/* A recipe image as the agent builds it: "mirror" is the host's install.mirror, else the
 * recipe's, through the site's package cache when there is one (cache.c). */
static json_t *plan_image(const struct image *im, json_t *install)
{
	json_t *o = image_to_json(im);
	const char *mirror = json_string_value(json_object_get(install, "mirror"));
	char *via;

	if (!o || strcmp(im->format, "recipe") != 0)
		return o;
	if (!mirror)
		mirror = json_string_value(json_object_get(o, "mirror"));
	if (mirror && (via = cache_mirror_url(mirror))) {
		json_object_set_new(o, "mirror", json_string(via));
		free(via);
	}
	return o;
}

/* The plan for the agent of host_id. Only handing out an install plan writes anything. */
int boot_plan(int64_t host_id, json_t **out)
{
	struct image im = { 0 };
	json_t *install;
	struct host h;
	int rc;

	if ((rc = hosts_update(NULL, host_id, installing_change, NULL, &h)) < 0)
		return rc;
	if (h.image && (rc = db_image_get(h.image, &im)) < 0) {
		host_free(&h);
		return rc;
	}
	install = plan_install(h.install);
	*out = json_pack("{s:s, s:{s:I, s:s?, s:o}, s:o, s:b, s:o, s:o}",
			 "action", boot_action_name(h.next_boot),
			 "host", "id", (json_int_t)h.id, "hostname", h.hostname, "macs", plan_macs(&h),
			 "image", h.image ? plan_image(&im, install) : json_null(),
			 "once", h.once,
			 "ssh_authorized_keys", plan_keys(h.ssh_keys),
			 "install", install);
	image_free(&im);
	host_free(&h);
	return 0;
}

/*
 * Boot decisions: which iPXE script a machine gets, and the plan its agent receives. All
 * iPXE syntax lives in ipxe-scripts/; this file only chooses a template and its values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anemosd.h"
#include "log.h"

char *boot_entry_script(void)
{
	const struct tvar vars[] = { { "public_url", public_url() } };

	return template_render("boot", vars, 1);
}

/* The answer to a machine that is not to boot anything: the none script, for host_id. */
static int none_script(const char *host_id, char **script)
{
	const struct tvar vars[] = { { "public_url", public_url() }, { "host_id", host_id } };

	*script = template_render("none", vars, sizeof(vars) / sizeof(vars[0]));
	return *script ? 0 : -EIO;
}

/* Records the refused boot of a host whose live agent token belongs to a machine at
 * another address (someone else asks with its MAC while it runs the Anemos environment),
 * inside the caller's transaction, which commits it (and nothing else of that boot). Releasing the host is an operator's
 * action (setting its status) or the token's expiry. */
static int record_takeover(int64_t host_id, const struct agent_token *t, const char *mac, const char *peer)
{
	char until[32];

	time_iso8601((time_t)t->expires, until);
	log_warn("host %lld: network boot from %s at %s refused (agent at %s)", (long long)host_id, mac, peer,
		 t->address[0] ? t->address : "not bound yet");
	/* At most one event per host every 10 s: a flood of refusals must neither keep the
	 * store's writer busy nor push the host's history out. */
	if (hosts_event_throttled(host_id, "takeover"))
		return 0;
	return hosts_add_event(host_id, "server", "error", "security", "network boot from %s at %s refused: "
			       "the host's %s boot (agent at %s) is running; set its status to release it, "
			       "or it ends at %s", mac, peer, t->mode, t->address[0] ? t->address : "kexec, not yet bound",
			       until);
}

/* What one boot of a known host gets: its template, the action and the token (if any). */
struct boot_answer {
	char template_name[64];
	enum boot_action action;
	char token[128];
};

/* Decides host h's boot and issues its token, inside the caller's transaction; > 0 when the
 * boot is refused because the host's running boot belongs to another address (*live says
 * whose). */
static int boot_decide(const struct host *h, const char *platform, const char *peer,
		       struct agent_token *live, struct boot_answer *a)
{
	int rc;

	a->action = host_may_boot(h->status, h->next_boot) ? h->next_boot : BOOT_NONE;
	a->token[0] = '\0';
	if (a->action == BOOT_LOCAL) {
		snprintf(a->template_name, sizeof(a->template_name), "local-%s", platform);
		return 0;
	}
	if (!boot_action_runs_agent(a->action)) {
		snprintf(a->template_name, sizeof(a->template_name), "none");
		return 0;
	}
	if ((rc = token_agent_held_elsewhere(h->id, peer, live)) != 0)
		return rc;
	snprintf(a->template_name, sizeof(a->template_name), "agent");
	return token_agent_issue(h->id, boot_action_name(a->action), true, peer, a->token, sizeof(a->token));
}

/* The event of a boot: what it does, or why it does nothing (its text into msg, its level
 * returned). */
static const char *boot_event_text(const struct host *h, const struct boot_answer *a,
				   const struct boot_identity *ident, const char *platform, char *msg, size_t size)
{
	if (a->action != h->next_boot) {
		snprintf(msg, size, "network boot from %s: next boot %s refused, the host is %s; no network boot",
			 ident->mac, boot_action_name(h->next_boot), host_status_name(h->status));
		return "warn";
	}
	snprintf(msg, size, "network boot from %s (%s, %s): %s", ident->mac, platform,
		 ident->arch ? ident->arch : "unknown arch", boot_action_name(a->action));
	return "info";
}

static int boot_event(const struct host *h, const struct boot_answer *a, const struct boot_identity *ident,
		      const char *platform)
{
	char msg[240];
	const char *level = boot_event_text(h, a, ident, platform, msg, sizeof(msg));

	return hosts_add_event(h->id, "server", level, "boot", "%s", msg);
}

/* The script of answer a for host host_id (malloc'd), or NULL with err_set. */
static char *boot_render(const struct boot_answer *a, int64_t host_id, const char *mac, const char *platform)
{
	char id[24];
	const struct tvar vars[] = {
		{ "public_url", public_url() }, { "host_id", id },
		{ "mode", boot_action_name(a->action) }, { "token", a->token }, { "mac", mac },
		{ "kernel_args", cfg.kernel_args }, { "platform", platform },
	};

	snprintf(id, sizeof(id), "%lld", (long long)host_id);
	return template_render(a->template_name, vars, sizeof(vars) / sizeof(vars[0]));
}

/* True when the machine sent an identifier that host h lacks (hosts_identify would fill it
 * in: a write). Placeholders are no identifiers (hosts_identify drops them). */
static bool ident_adds(const struct host *h, const struct boot_identity *i)
{
	return (i->uuid && !h->uuid && !uuid_is_placeholder(i->uuid)) ||
	       (i->serial && !h->serial && !serial_is_placeholder(i->serial)) ||
	       (i->vendor && !h->vendor) || (i->product && !h->product) || (i->asset && !h->asset);
}

/* The boot of a known host that needs nothing written now: found by its MAC, nothing new in
 * what it sent, and an answer without a token (its local disk, or nothing). Rendered from
 * reads only; its last-seen time and boot event go to the batch writer (seen.c). 1 when
 * answered so (*script malloc'd), 0 when the caller must take the write path, or a negative
 * errno with err_set. */
static int boot_known(const struct boot_identity *ident, const char *platform, char **script)
{
	struct agent_token live;
	struct boot_answer a;
	char msg[240];
	const char *level;
	struct host h;
	int rc = 0;

	if (db_host_boot_by_mac(ident->mac, &h) < 0)
		return 0; /* unknown: the write path decides (and reports errors) */
	a.action = host_may_boot(h.status, h.next_boot) ? h.next_boot : BOOT_NONE;
	if (!boot_action_runs_agent(a.action) && !ident_adds(&h, ident) &&
	    boot_decide(&h, platform, NULL, &live, &a) == 0) {
		level = boot_event_text(&h, &a, ident, platform, msg, sizeof(msg));
		if (!(*script = boot_render(&a, h.id, ident->mac, platform)))
			rc = -EIO;
		else if (seen_record(h.id, level, msg) < 0) {
			free(*script); /* the queue is full: the write path records it */
			*script = NULL;
		} else {
			metrics_boot(a.action);
			rc = 1;
		}
	}
	host_free(&h);
	return rc;
}

/* A boot on the write path (boot_script_for): what the machine sent, and what came of it. */
struct boot_work {
	const struct boot_identity *ident;
	const char *platform, *peer;
	struct host h;              /* the machine's host, once identified (got) */
	struct agent_token live;    /* refused: the token of the boot running elsewhere */
	struct boot_answer a;
	char *script;               /* rendered (malloc'd), to send once committed */
	bool unknown, got, refused;
};

/* Identifies w's machine, decides its boot (issuing its token), records its event and
 * renders its script: 0 or -errno. w->unknown: no host has the machine and none is made
 * (-ENOENT, nothing written); w->refused: the host's running boot belongs to another
 * address (-EACCES without err_set, only so that nothing the request brought is kept: the
 * caller records the refusal on its own, boot_takeover_work). */
static int boot_work(void *arg)
{
	struct boot_work *w = arg;
	int rc;

	if ((rc = hosts_identify(w->ident, !cfg.unknown_hosts_ignore, &w->h)) < 0) {
		w->unknown = rc == -ENOENT;
		return rc;
	}
	w->got = true;
	if ((rc = boot_decide(&w->h, w->platform, w->peer, &w->live, &w->a)) > 0) {
		w->refused = true;
		return -EACCES;
	}
	if (rc == 0)
		rc = boot_event(&w->h, &w->a, w->ident, w->platform);
	if (rc == 0 && !(w->script = boot_render(&w->a, w->h.id, w->ident->mac, w->platform)))
		rc = -EIO;
	return rc;
}

/* The record of w's refused boot (record_takeover), the only write of that boot. */
static int boot_takeover_work(void *arg)
{
	struct boot_work *w = arg;

	return record_takeover(w->h.id, &w->live, w->ident->mac, w->peer);
}

/* Identifies the machine, issues a fresh agent token when it is to run the Anemos
 * environment, and renders its script; all in one transaction, so a script that names a
 * token is only ever sent for a token that was committed. *script is malloc'd. */
int boot_script_for(const struct boot_identity *ident, const char *platform, const char *peer, char **script)
{
	struct boot_work w = { .ident = ident, .peer = peer };
	int rc;

	if (!platform || !*platform)
		platform = "pcbios";
	if (strcmp(platform, "pcbios") != 0 && strcmp(platform, "efi") != 0)
		return err_set(-EINVAL, "platform must be pcbios or efi");
	if ((rc = boot_known(ident, platform, script)) != 0)
		return rc < 0 ? rc : 0;
	w.platform = platform;
	seen_flush();
	rc = db_txn(boot_work, &w);
	if (w.unknown) {
		/* --unknown-hosts ignore: a machine nobody enrolled gets nothing, and nothing is
		 * written (counted in /metrics only). */
		metrics_boot(BOOT_NONE);
		metrics_unknown_boot();
		return none_script("unknown", script);
	}
	/* Nothing the refused request brought is kept (a MAC it added, last seen): only the
	 * record of the refusal, in a transaction of its own. */
	if (w.refused)
		rc = db_txn(boot_takeover_work, &w);
	if (rc == 0)
		notify_host_changed(w.h.id);
	if (rc == 0 && w.refused)
		rc = err_set(-EACCES, "host %lld is running a %s boot from another address; ask its operator",
			     (long long)w.h.id, w.live.mode);
	if (rc < 0) {
		free(w.script);
		if (w.got) {
			*script = NULL;
			host_free(&w.h);
		}
		return rc;
	}
	host_free(&w.h);
	*script = w.script;
	metrics_boot(w.a.action);
	return 0;
}

bool boot_plan_pending(const struct agent_token *t)
{
	struct host h;
	bool pending;

	if (db_host_get(t->host_id, &h) < 0)
		return false;
	pending = h.next_boot == BOOT_DISCOVER && !bmc_enroll_due(&h, t);
	host_free(&h);
	return pending;
}

/* What a plan request changes: the boot's token (its mode and what it was given), and
 * whether this plan is the one that carries the install's secrets. */
struct plan_boot {
	struct agent_token token;
	bool secrets;
};

/* A host whose agent takes an install plan becomes installing, once (the system being
 * replaced may no longer report in: already so for a network boot); the boot becomes an
 * install boot (a discover boot given an install goes on to install), and its first
 * install plan is the one with the secrets. */
static int plan_change(struct host *h, void *arg)
{
	struct plan_boot *p = arg;
	struct agent_token *t = &p->token;
	bool changed = false;
	int rc;

	/* The token as it is now, in this transaction: a long poll authenticated it up to
	 * 110 s ago, and it may have been revoked or served its secrets since. */
	if ((rc = db_agent_token_lookup(t->hash, (int64_t)time(NULL), t)) == -ENOENT)
		return err_set(-EPERM, "agent token revoked or expired while waiting; reboot the machine for a new one");
	if (rc < 0)
		return rc;
	/* Only a discover boot goes on to install; a rescue boot stays a rescue. */
	if (h->next_boot != BOOT_INSTALL || !strcmp(t->mode, boot_action_name(BOOT_RESCUE)))
		return HOSTS_UNCHANGED;
	if (h->status != HOST_INSTALLING) {
		if ((rc = host_transition(h, HOST_EV_INSTALL_PLANNED)) < 0 ||
		    (rc = db_agent_token_revoke(h->id, true)) < 0 ||
		    (rc = hosts_add_event(h->id, "server", "info", "install", "install of image %s planned",
					  h->image)) < 0)
			return rc;
		changed = true;
	}
	if (strcmp(t->mode, boot_action_name(BOOT_INSTALL)) != 0 || !(t->served & AGENT_SERVED_SECRETS)) {
		snprintf(t->mode, sizeof(t->mode), "%s", boot_action_name(BOOT_INSTALL));
		t->served |= AGENT_SERVED_SECRETS;
		p->secrets = true;
		if ((rc = db_agent_token_update(t->hash, t->mode, t->served)) < 0)
			return rc;
		changed = true;
	}
	return changed ? 0 : HOSTS_UNCHANGED;
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

/* The install settings with every default filled in, as the agent reads them. The default
 * network says it is one ("default": true): the agent then keeps the network a reinstall
 * over SSH carried over from the old system (anemos.net) instead. */
static json_t *plan_install(const char *settings)
{
	json_t *given = json_loads(settings ? settings : "{}", 0, NULL);
	json_t *out = json_pack("{s:n, s:n, s:{s:s, s:b}, s:n, s:s, s:s}", "disk", "root_password_hash",
				"network", "mode", "dhcp", "default", 1, "cloud_init_user_data", "kernel_args", "",
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

/* The plan for the agent of token t. Only the first install plan of a boot writes anything
 * (the host installing, the boot's token); every other plan is a read. */
int boot_plan(const struct agent_token *t, json_t **out)
{
	struct plan_boot p = { .token = *t };
	struct agent_token now = *t;
	struct image im = { 0 };
	json_t *install, *enroll = NULL;
	struct host h;
	bool rescue;
	int rc;

	/* A BMC enroll due to this boot goes with whatever plan it asks for first. */
	if ((rc = bmc_enroll_serve(&now, &enroll)) < 0)
		return rc;
	p.token.served = now.served;
	if ((rc = db_host_get(t->host_id, &h)) < 0) {
		json_decref(enroll);
		return rc;
	}
	rescue = !strcmp(t->mode, boot_action_name(BOOT_RESCUE));
	if (!rescue && h.next_boot == BOOT_INSTALL &&
	    (h.status != HOST_INSTALLING || strcmp(t->mode, boot_action_name(BOOT_INSTALL)) != 0 ||
	     !(t->served & AGENT_SERVED_SECRETS))) {
		host_free(&h);
		if ((rc = hosts_update(NULL, t->host_id, plan_change, &p, &h)) < 0) {
			json_decref(enroll);
			return rc;
		}
	}
	if (h.image && (rc = db_image_get(h.image, &im)) < 0) {
		host_free(&h);
		json_decref(enroll);
		return rc;
	}
	install = plan_install(h.install);
	/* Secrets reach an agent once: a discover or rescue plan never has them, a later plan
	 * of the same install boot says they were withheld. */
	if (!p.secrets) {
		json_object_set_new(install, "root_password_hash", json_null());
		json_object_set_new(install, "cloud_init_user_data", json_null());
	}
	*out = json_pack("{s:s, s:{s:I, s:s?, s:o}, s:o, s:b, s:o, s:o, s:b}",
			 "action", boot_action_name(rescue ? BOOT_RESCUE : h.next_boot),
			 "host", "id", (json_int_t)h.id, "hostname", h.hostname, "macs", plan_macs(&h),
			 "image", h.image ? plan_image(&im, install) : json_null(),
			 "once", h.once,
			 "ssh_authorized_keys", plan_keys(h.ssh_keys),
			 "install", install,
			 "secrets_withheld", !rescue && h.next_boot == BOOT_INSTALL && !p.secrets);
	if (enroll)
		json_object_set_new(*out, "bmc_enroll", enroll);
	image_free(&im);
	host_free(&h);
	return 0;
}

/*
 * Tokens, each 256 random bits after a prefix naming its kind; only SHA-256 hashes are
 * stored, so the database never holds a usable secret.
 * - admin ("anemos_admin_"): made by `anemosd token create`, for operators;
 * - agent ("anemos_agent_"): issued per boot and per host when anemosd hands a machine the
 *   Anemos environment; a newer boot's token revokes the older one, the end of the boot
 *   revokes it, and it expires after --agent-token-ttl;
 * - phone-home ("anemos_phone_"): written into an installed system by the agent, so that the
 *   system can report in (POST /api/v1/phone-home); valid for that host only, replaced by
 *   the next install, expiring after 30 days.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "anemosd.h"
#include "crypto.h"
#include "log.h"

#define ADMIN_PREFIX "anemos_admin_"
#define AGENT_PREFIX "anemos_agent_"
#define PHONE_PREFIX "anemos_phone_"
#define TOKEN_BYTES 32

bool token_looks_admin(const char *t) { return strncmp(t, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0; }
bool token_looks_agent(const char *t) { return strncmp(t, AGENT_PREFIX, strlen(AGENT_PREFIX)) == 0; }

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_VIEWER] = "viewer", [ROLE_OPERATOR] = "operator", [ROLE_ADMIN] = "admin",
};

const char *admin_role_name(enum admin_role role)
{
	return (unsigned)role < ROLE_COUNT ? role_names[role] : NULL;
}

int admin_role_parse(const char *name, enum admin_role *out)
{
	for (int i = 0; name && i < ROLE_COUNT; i++)
		if (strcmp(name, role_names[i]) == 0) {
			*out = (enum admin_role)i;
			return 0;
		}
	return err_set(-EINVAL, "a role is viewer (read only), operator (hosts, images, power; not tokens) "
			       "or admin (everything)");
}

struct token_create_work {
	const char *hash, *name;
	int64_t ttl;
	enum admin_role role;
	int64_t *id;                /* the new token's (may be NULL) */
};

/* Stores the admin token w->hash and reads its id: 0 or -errno. */
static int token_create_work(void *arg)
{
	struct token_create_work *w = arg;
	struct admin_who who;
	int rc;

	if ((rc = db_admin_token_insert(w->hash, w->name, w->ttl ? (int64_t)time(NULL) + w->ttl : 0, w->role)) < 0 ||
	    (rc = db_admin_token_lookup(w->hash, (int64_t)time(NULL), &who)) < 0)
		return rc;
	if (w->id)
		*w->id = who.id;
	return 0;
}

int token_admin_create(const char *name, int64_t ttl, enum admin_role role, char *out, size_t outsz, int64_t *id)
{
	char hash[SHA256_HEX_LEN + 1];
	struct token_create_work w = { .hash = hash, .ttl = ttl, .role = role, .id = id };
	int rc;

	if (!name)
		name = "admin";
	if (!*name || strlen(name) > 64 || !name_is_safe(name) || strspn(name, "0123456789") == strlen(name))
		return err_set(-EINVAL, "a token name is 1-64 letters, digits, '.', '_' or '-', not only digits "
				       "(those are ids)");
	if (ttl < 0 || ttl > 100LL * 365 * 86400)
		return err_set(-EINVAL, "a token's lifetime is a positive number of seconds, at most 100 years");
	if (!admin_role_name(role))
		return err_set(-EINVAL, "unknown role");
	if ((rc = random_token(ADMIN_PREFIX, TOKEN_BYTES, out, outsz)) < 0)
		return err_set(rc, "cannot make a random token");
	sha256_hex(out, strlen(out), hash);
	w.name = name;
	return db_txn(token_create_work, &w);
}

/* Revocations so far: event streams check their token again only when this moved. */
static _Atomic uint64_t revocations;

uint64_t token_admin_revocations(void)
{
	return revocations;
}

struct token_revoke_work {
	const char *ref;
	int64_t id;                 /* the token revoked */
};

/* Revokes the admin token w->ref names, its id into w->id: 0 or -errno. */
static int token_revoke_work(void *arg)
{
	struct token_revoke_work *w = arg;
	int64_t ids[16];
	char *end, list[160] = "";
	size_t n = 0, used = 0;
	int rc;

	w->id = strtoll(w->ref, &end, 10);
	if (*end || w->id <= 0) {
		if ((rc = db_admin_token_by_name(w->ref, ids, 16, &n)) < 0)
			return rc;
		if (n == 0)
			return err_set(-ENOENT, "no admin token named '%s'", w->ref);
		if (n > 1) {
			for (size_t i = 0; i < n && i < 16 && used < sizeof(list); i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%lld", i ? ", " : "",
							 (long long)ids[i]);
			return err_set(-EEXIST, "%zu admin tokens are named '%s' (ids %s): revoke one by its id", n,
				       w->ref, list);
		}
		w->id = ids[0];
	}
	return db_admin_token_revoke(w->id);
}

int token_admin_revoke(const char *ref)
{
	struct token_revoke_work w = { .ref = ref };
	int rc;

	if (!ref || !*ref)
		return err_set(-EINVAL, "name the token to revoke: its id or its name");
	if ((rc = db_txn(token_revoke_work, &w)) < 0)
		return rc;
	log_info("admin token %lld revoked", (long long)w.id);
	revocations++;
	notify_host_changed(0); /* event streams of that token notice and end */
	return 0;
}

/* Must run inside the caller's transaction, so that the token and what the script it goes
 * into says are committed together. */
int token_agent_issue(int64_t host_id, const char *mode, bool retire_phone_home, const char *address,
		      char *out, size_t outsz)
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	if ((rc = random_token(AGENT_PREFIX, TOKEN_BYTES, out, outsz)) < 0)
		return err_set(rc, "cannot make a random token");
	sha256_hex(out, strlen(out), hash);
	/* A new install also retires the phone-home token of the system it replaces (at once
	 * for a network boot; when the install starts for a host armed over SSH). */
	if ((rc = db_agent_token_revoke(host_id, false)) < 0 ||
	    (retire_phone_home && strcmp(mode, boot_action_name(BOOT_INSTALL)) == 0 &&
	     (rc = db_agent_token_revoke(host_id, true)) < 0))
		return rc;
	return db_agent_token_insert(host_id, hash, mode, address, (int64_t)time(NULL) + cfg.agent_token_ttl);
}

int token_phone_home_issue(int64_t host_id, char *out, size_t outsz)
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	if ((rc = random_token(PHONE_PREFIX, TOKEN_BYTES, out, outsz)) < 0)
		return err_set(rc, "cannot make a random token");
	sha256_hex(out, strlen(out), hash);
	if ((rc = db_agent_token_revoke(host_id, true)) < 0)
		return rc;
	return db_agent_token_insert(host_id, hash, "phone-home", NULL, (int64_t)time(NULL) + cfg.phone_home_ttl);
}

int token_authenticate_phone_home(const char *token, int64_t *host_id)
{
	char hash[SHA256_HEX_LEN + 1];
	struct agent_token t;
	int rc;

	if (strncmp(token, PHONE_PREFIX, strlen(PHONE_PREFIX)) != 0)
		return err_set(-EACCES, "phone-home takes the token the installer wrote into the system");
	sha256_hex(token, strlen(token), hash);
	if ((rc = db_agent_token_lookup(hash, (int64_t)time(NULL), &t)) == 0)
		*host_id = t.host_id;
	if (rc == -ENOENT)
		return err_set(-EPERM, "phone-home token unknown, expired or replaced by a newer install");
	return rc;
}

int token_authenticate_admin(const char *token, struct admin_who *who)
{
	char hash[SHA256_HEX_LEN + 1];
	struct admin_who found;
	int rc;

	if (token_looks_agent(token))
		return err_set(-EACCES, "an agent token cannot be used here; use an admin token");
	sha256_hex(token, strlen(token), hash);
	rc = db_admin_token_lookup(hash, (int64_t)time(NULL), &found);
	if (rc == -ENOENT)
		return err_set(-EPERM, "unknown, revoked or expired admin token (make one with `anemosd token create`)");
	if (rc == 0 && who)
		*who = found;
	return rc;
}

struct elsewhere_work {
	const struct agent_token *t;
	const char *peer;
};

/* Records on the token's host that w->peer used it: 0 or -errno. */
static int elsewhere_work(void *arg)
{
	struct elsewhere_work *w = arg;

	return hosts_add_event(w->t->host_id, "server", "error", "security",
			       "agent token of this boot (issued to %s) used from %s: refused", w->t->address,
			       w->peer);
}

/* A valid token from an address other than the one it was issued to: refused, and the
 * attempt recorded on the host (in its own transaction: the refusal itself writes nothing
 * else; best effort). */
static int refuse_elsewhere(const struct agent_token *t, const char *peer)
{
	struct elsewhere_work w = { .t = t, .peer = peer };

	/* At most one recorded refusal per host every 10 s: a flood of them must not keep the
	 * store's one writer busy, nor push the host's history out. */
	if (!hosts_event_throttled(t->host_id, "elsewhere") && db_txn(elsewhere_work, &w) == 0)
		notify_host_changed(t->host_id);
	log_warn("host %lld: agent token issued to %s used from %s: refused", (long long)t->host_id,
		 t->address, peer);
	return err_set(-EPERM, "this agent token was issued to another address; reboot the machine "
			       "for a new one");
}

struct token_bind_work {
	const char *hash, *peer;
	struct agent_token *out;
	bool gone;                  /* the token is not there (expired or revoked) */
};

/* Binds the agent token w->hash to w->peer, unless another first use did, and reads it
 * again into w->out: 0 or -errno (-ENOENT: w->gone). */
static int token_bind_work(void *arg)
{
	struct token_bind_work *w = arg;
	int rc;

	/* Two first uses at once: one binds, the other reads who did. */
	if ((rc = db_agent_token_bind(w->hash, w->peer)) < 0 ||
	    (rc = db_agent_token_lookup(w->hash, (int64_t)time(NULL), w->out)) < 0)
		w->gone = rc == -ENOENT;
	return rc;
}

int token_authenticate_agent(const char *token, const char *peer, struct agent_token *out)
{
	char hash[SHA256_HEX_LEN + 1];
	struct token_bind_work w = { .hash = hash, .peer = peer, .out = out };
	int rc;

	if (!token_looks_agent(token))
		return err_set(token_looks_admin(token) || strncmp(token, PHONE_PREFIX, strlen(PHONE_PREFIX)) == 0
			       ? -EACCES : -EPERM,
			       "agent endpoints take the agent token of a boot (anemos.token), not this token");
	sha256_hex(token, strlen(token), hash);
	rc = db_agent_token_lookup(hash, (int64_t)time(NULL), out);
	if (rc == -ENOENT)
		return err_set(-EPERM, "agent token unknown, expired or revoked; reboot the machine for a new one");
	if (rc < 0 || !peer || cfg.agent_any_address)
		return rc;
	/* A token handed over by anemosctl (kexec) is bound to the first address that uses it. */
	if (!out->address[0] && (rc = db_txn(token_bind_work, &w)) < 0)
		return w.gone ? err_set(-EPERM, "agent token expired or revoked") : rc;
	return strcmp(out->address, peer) == 0 ? 0 : refuse_elsewhere(out, peer);
}

/* The host's agent token that is alive and bound to an address other than peer, if any:
 * 1 with *out filled (the boot of peer must not take the host over), 0 when there is none
 * (or --agent-any-address), or a negative errno. */
int token_agent_held_elsewhere(int64_t host_id, const char *peer, struct agent_token *out)
{
	int rc;

	if (cfg.agent_any_address || !peer)
		return 0;
	rc = db_agent_token_live(host_id, (int64_t)time(NULL), out);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	/* A token not bound yet was handed to anemosctl for a kexec: its host boots by kexec
	 * or a boot entry, never from /ipxe, so any /ipxe for it is someone else. */
	return !out->address[0] || strcmp(out->address, peer) != 0;
}

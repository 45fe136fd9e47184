/*
 * Tokens. Admin tokens ("anemos_admin_" + 256 random bits) are made by `anemosd token create`;
 * agent tokens ("anemos_agent_" + 256 random bits) are issued per boot and per host when
 * anemosd hands a machine the Anemos environment. Only SHA-256 hashes are stored, so the
 * database never holds a usable secret; issuing a host a new agent token revokes its old one.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "anemosd.h"
#include "crypto.h"

#define ADMIN_PREFIX "anemos_admin_"
#define AGENT_PREFIX "anemos_agent_"
#define TOKEN_BYTES 32

bool token_looks_admin(const char *t) { return strncmp(t, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0; }
bool token_looks_agent(const char *t) { return strncmp(t, AGENT_PREFIX, strlen(AGENT_PREFIX)) == 0; }

int token_admin_create(const char *name, char *out, size_t outsz)
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	if ((rc = random_token(ADMIN_PREFIX, TOKEN_BYTES, out, outsz)) < 0)
		return err_set(rc, "cannot make a random token");
	sha256_hex(out, strlen(out), hash);
	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = db_admin_token_insert(hash, name)) < 0) {
		db_rollback();
		return rc;
	}
	return db_commit();
}

/* Must run inside the caller's transaction, so that the token and what the script it goes
 * into says are committed together. */
int token_agent_issue(int64_t host_id, const char *mode, char *out, size_t outsz)
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	if ((rc = random_token(AGENT_PREFIX, TOKEN_BYTES, out, outsz)) < 0)
		return err_set(rc, "cannot make a random token");
	sha256_hex(out, strlen(out), hash);
	return db_agent_token_replace(host_id, hash, mode, (int64_t)time(NULL) + cfg.agent_token_ttl);
}

int token_authenticate_admin(const char *token)
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	if (token_looks_agent(token))
		return err_set(-EACCES, "an agent token cannot be used here; use an admin token");
	sha256_hex(token, strlen(token), hash);
	rc = db_admin_token_lookup(hash);
	if (rc == -ENOENT)
		return err_set(-EPERM, "unknown admin token (make one with `anemosd token create`)");
	return rc;
}

int token_authenticate_agent(const char *token, int64_t *host_id, char mode[16])
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	if (token_looks_admin(token))
		return err_set(-EACCES, "agent endpoints take the agent token of a boot, not an admin token");
	sha256_hex(token, strlen(token), hash);
	rc = db_agent_token_lookup(hash, (int64_t)time(NULL), host_id, mode);
	if (rc == -ENOENT)
		return err_set(-EPERM, "agent token unknown, expired or revoked; reboot the machine for a new one");
	return rc;
}

/*
 * Unit tests of server/tokens.c against a real SQLite store in a fresh temporary folder:
 * the shape of admin and agent tokens, authentication, revocation, expiry, and that the
 * database never holds a token itself (only its SHA-256).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"
#include "crypto.h"
#include "log.h"

#define ADMIN_PREFIX "anemos_admin_"
#define AGENT_PREFIX "anemos_agent_"
#define TOKEN_SIZE 128 /* prefix, 64 hex digits, NUL, with room to spare */

/* True if s is `prefix` followed by exactly 64 lower-case hex digits. */
static bool token_shaped(const char *s, const char *prefix)
{
	size_t plen = strlen(prefix);

	if (strncmp(s, prefix, plen) != 0 || strlen(s) != plen + 64)
		return false;
	return strspn(s + plen, "0123456789abcdef") == 64;
}

/* Ends the transaction a step ran in: commits after success, rolls back after failure.
 * Asserting only afterwards keeps a failed check from leaving the write lock held (which
 * would hang every later test instead of failing one). */
static int finish(int rc)
{
	if (rc < 0) {
		db_rollback();
		return rc;
	}
	return db_commit();
}

static int64_t new_host(void)
{
	struct host h = { .status = HOST_READY, .next_boot = BOOT_INSTALL };
	int64_t id = 0;

	assert_int_equal(db_begin(), 0);
	assert_int_equal(finish(db_host_insert(&h, &id)), 0);
	assert_true(id > 0);
	return id;
}

/* token_authenticate_agent from no particular address, into the host and mode. */
static int auth(const char *token, int64_t *host_id, char mode[16])
{
	struct agent_token t;
	int rc = token_authenticate_agent(token, NULL, &t);

	if (rc == 0) {
		*host_id = t.host_id;
		snprintf(mode, 16, "%s", t.mode);
	}
	return rc;
}

/* Issues host `id` an agent token as boot.c does: inside a transaction. */
static void issue(int64_t id, const char *mode, char token[TOKEN_SIZE])
{
	assert_int_equal(db_begin(), 0);
	assert_int_equal(finish(token_agent_issue(id, mode, true, NULL, token, TOKEN_SIZE)), 0);
}

static void test_looks(void **state)
{
	static const struct {
		const char *token;
		bool admin, agent;
	} cases[] = {
		{ ADMIN_PREFIX "00", true, false },
		{ AGENT_PREFIX "00", false, true },
		{ ADMIN_PREFIX, true, false },
		{ "anemos_admin", false, false },
		{ "ANEMOS_ADMIN_00", false, false },
		{ "", false, false },
		{ "Bearer " ADMIN_PREFIX "00", false, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (token_looks_admin(cases[i].token) != cases[i].admin)
			fail_msg("token_looks_admin(\"%s\") should be %d", cases[i].token, cases[i].admin);
		if (token_looks_agent(cases[i].token) != cases[i].agent)
			fail_msg("token_looks_agent(\"%s\") should be %d", cases[i].token, cases[i].agent);
	}
}

static void test_admin_create(void **state)
{
	char a[TOKEN_SIZE], b[TOKEN_SIZE];

	(void)state;
	assert_int_equal(token_admin_create("first", 0, ROLE_ADMIN, a, sizeof(a), NULL), 0);
	assert_int_equal(token_admin_create(NULL, 0, ROLE_ADMIN, b, sizeof(b), NULL), 0);
	if (!token_shaped(a, ADMIN_PREFIX) || !token_shaped(b, ADMIN_PREFIX))
		fail_msg("admin tokens \"%s\", \"%s\" are not anemos_admin_ + 64 hex", a, b);
	assert_string_not_equal(a, b);
	assert_int_equal(token_authenticate_admin(a, NULL), 0);
	assert_int_equal(token_authenticate_admin(b, NULL), 0);
}

/* A token's role and name come back with it; roles by name both ways. */
static void test_admin_roles(void **state)
{
	char v[TOKEN_SIZE];
	struct admin_who who;
	enum admin_role role;

	(void)state;
	assert_int_equal(token_admin_create("auditor", 0, ROLE_VIEWER, v, sizeof(v), NULL), 0);
	assert_int_equal(token_authenticate_admin(v, &who), 0);
	assert_int_equal(who.role, ROLE_VIEWER);
	assert_string_equal(who.name, "auditor");
	assert_true(who.id > 0);
	for (int i = 0; i < ROLE_COUNT; i++) {
		assert_int_equal(admin_role_parse(admin_role_name((enum admin_role)i), &role), 0);
		assert_int_equal(role, i);
	}
	assert_int_equal(admin_role_parse("root", &role), -EINVAL);
	assert_int_equal(admin_role_parse(NULL, &role), -EINVAL);
	assert_null(admin_role_name(ROLE_COUNT));
	assert_int_equal(token_admin_create("x", 0, ROLE_COUNT, v, sizeof(v), NULL), -EINVAL);
	assert_true(ROLE_VIEWER < ROLE_OPERATOR && ROLE_OPERATOR < ROLE_ADMIN); /* each may what the one before may */
}

static void test_admin_authenticate(void **state)
{
	char good[TOKEN_SIZE], last[TOKEN_SIZE], first[TOKEN_SIZE], cut[TOKEN_SIZE],
	     longer[TOKEN_SIZE + 1], upper[TOKEN_SIZE], agent[TOKEN_SIZE];
	const size_t plen = strlen(ADMIN_PREFIX);
	const struct {
		const char *what, *token;
		int rc;
	} cases[] = {
		{ "the token", good, 0 },
		{ "last digit changed", last, -EPERM },
		{ "first digit changed", first, -EPERM },
		{ "one digit short", cut, -EPERM },
		{ "one character more", longer, -EPERM },
		{ "upper-case digits", upper, -EPERM },
		{ "unknown", ADMIN_PREFIX "0000000000000000000000000000000000000000000000000000000000000000", -EPERM },
		{ "empty", "", -EPERM },
		{ "the digits without the prefix", good + plen, -EPERM },
		{ "agent-looking", agent, -EACCES },
		{ "agent prefix only", AGENT_PREFIX, -EACCES },
	};

	(void)state;
	assert_int_equal(token_admin_create("ops", 0, ROLE_ADMIN, good, sizeof(good), NULL), 0);
	strcpy(last, good);
	last[strlen(last) - 1] = last[strlen(last) - 1] == '0' ? '1' : '0';
	strcpy(first, good);
	first[plen] = first[plen] == '0' ? '1' : '0';
	snprintf(cut, sizeof(cut), "%.*s", (int)strlen(good) - 1, good);
	snprintf(longer, sizeof(longer), "%s0", good);
	strcpy(upper, good);
	for (char *p = upper + plen; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(upper, good) == 0) /* all 64 digits decimal: vanishingly rare */
		upper[plen] = 'X';
	snprintf(agent, sizeof(agent), "%s%s", AGENT_PREFIX, good + plen);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc;

		err_clear();
		rc = token_authenticate_admin(cases[i].token, NULL);
		if (rc != cases[i].rc)
			fail_msg("admin token %s: %d, want %d", cases[i].what, rc, cases[i].rc);
		if (rc < 0 && err_msg()[0] == '\0')
			fail_msg("admin token %s: refused without a message", cases[i].what);
	}
}

static void test_agent_issue_and_authenticate(void **state)
{
	static const char *const modes[] = { "discover", "install", "rescue" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		int64_t id = new_host(), got = -1;
		char token[TOKEN_SIZE], mode[16] = "";

		issue(id, modes[i], token);
		if (!token_shaped(token, AGENT_PREFIX))
			fail_msg("agent token \"%s\" is not anemos_agent_ + 64 hex", token);
		assert_int_equal(auth(token, &got, mode), 0);
		assert_int_equal(got, id);
		assert_string_equal(mode, modes[i]);
	}
}

static void test_agent_reissue_revokes_old(void **state)
{
	int64_t id = new_host(), got = -1;
	char old[TOKEN_SIZE], fresh[TOKEN_SIZE], mode[16];

	(void)state;
	issue(id, "install", old);
	issue(id, "rescue", fresh);
	assert_string_not_equal(old, fresh);
	assert_int_equal(auth(old, &got, mode), -EPERM);
	assert_int_equal(auth(fresh, &got, mode), 0);
	assert_int_equal(got, id);
	assert_string_equal(mode, "rescue");
}

/* Tokens are per host: issuing one host a token leaves every other host's alone. */
static void test_agent_tokens_per_host(void **state)
{
	int64_t a = new_host(), b = new_host(), got;
	char ta[TOKEN_SIZE], tb[TOKEN_SIZE], mode[16];

	(void)state;
	issue(a, "install", ta);
	issue(b, "discover", tb);
	assert_int_equal(auth(ta, &got, mode), 0);
	assert_int_equal(got, a);
	assert_string_equal(mode, "install");
	assert_int_equal(auth(tb, &got, mode), 0);
	assert_int_equal(got, b);
	assert_string_equal(mode, "discover");
}

static void test_agent_revoke(void **state)
{
	int64_t id = new_host(), got;
	char token[TOKEN_SIZE], mode[16];

	(void)state;
	issue(id, "install", token);
	assert_int_equal(auth(token, &got, mode), 0);
	assert_int_equal(db_begin(), 0);
	assert_int_equal(finish(db_agent_token_revoke(id, false)), 0);
	assert_int_equal(auth(token, &got, mode), -EPERM);
	assert_non_null(strstr(err_msg(), "agent token"));
}

/* A rolled-back boot leaves no usable token behind. */
static void test_agent_issue_rolled_back(void **state)
{
	int64_t id = new_host(), got;
	char token[TOKEN_SIZE], mode[16];
	int rc;

	(void)state;
	assert_int_equal(db_begin(), 0);
	rc = token_agent_issue(id, "install", true, NULL, token, sizeof(token));
	db_rollback();
	assert_int_equal(rc, 0);
	assert_int_equal(auth(token, &got, mode), -EPERM);
}

static void test_agent_token_dies_with_host(void **state)
{
	int64_t id = new_host(), got;
	char token[TOKEN_SIZE], mode[16];

	(void)state;
	issue(id, "install", token);
	assert_int_equal(db_begin(), 0);
	assert_int_equal(finish(db_host_delete(id)), 0);
	assert_int_equal(auth(token, &got, mode), -EPERM);
}

static void test_agent_refuses_other_tokens(void **state)
{
	char admin[TOKEN_SIZE], agent[TOKEN_SIZE], bad[TOKEN_SIZE];
	int64_t id = new_host(), got = -1;
	char mode[16] = "";
	const struct {
		const char *what, *token;
		int rc;
	} cases[] = {
		{ "an admin token", admin, -EACCES },
		{ "an admin prefix", ADMIN_PREFIX, -EACCES },
		{ "a changed agent token", bad, -EPERM },
		{ "an unknown agent token", AGENT_PREFIX "0000000000000000000000000000000000000000000000000000000000000000", -EPERM },
		{ "an empty token", "", -EPERM },
	};

	(void)state;
	assert_int_equal(token_admin_create("ops", 0, ROLE_ADMIN, admin, sizeof(admin), NULL), 0);
	issue(id, "install", agent);
	strcpy(bad, agent);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = auth(cases[i].token, &got, mode);

		if (rc != cases[i].rc)
			fail_msg("agent authentication with %s: %d, want %d", cases[i].what, rc, cases[i].rc);
	}
	/* The refusals touched neither the real token nor the outputs' meaning. */
	assert_int_equal(auth(agent, &got, mode), 0);
	assert_int_equal(got, id);
}

static void test_agent_expiry(void **state)
{
	static const long ttls[] = { 0, -1, -3600 };
	long saved = cfg.agent_token_ttl;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ttls); i++) {
		int64_t id = new_host(), got;
		char token[TOKEN_SIZE], mode[16];
		int rc;

		cfg.agent_token_ttl = ttls[i];
		issue(id, "install", token);
		cfg.agent_token_ttl = saved;
		rc = auth(token, &got, mode);
		if (rc != -EPERM)
			fail_msg("a token issued with ttl %ld authenticated: %d, want -EPERM", ttls[i], rc);
	}
}

/* Appends the whole file at path to *buf (growing it); a missing file adds nothing. */
static void slurp(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (!f)
		return;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *grown = realloc(*buf, *len + n);

		assert_non_null(grown);
		*buf = grown;
		memcpy(*buf + *len, chunk, n);
		*len += n;
	}
	fclose(f);
}

static void test_db_holds_no_plaintext(void **state)
{
	static const char *const files[] = { "anemos.db", "anemos.db-wal", "anemos.db-shm" };
	char admin[TOKEN_SIZE], agent[TOKEN_SIZE], path[4096];
	const char *tokens[] = { admin, agent };
	int64_t id = new_host();
	char *bytes = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(token_admin_create("ops", 0, ROLE_ADMIN, admin, sizeof(admin), NULL), 0);
	issue(id, "install", agent);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", store_dir, files[i]);
		slurp(path, &bytes, &len);
	}
	assert_true(len > 0);
	for (size_t i = 0; i < ARRAY_SIZE(tokens); i++) {
		char hash[SHA256_HEX_LEN + 1];
		const char *digits = tokens[i] + strlen(ADMIN_PREFIX); /* both prefixes are 13 */

		if (memmem(bytes, len, tokens[i], strlen(tokens[i])))
			fail_msg("the database files hold the token %s", tokens[i]);
		/* Nor any quarter of its random part (a truncated or re-encoded copy). */
		for (size_t q = 0; q < 64; q += 16)
			if (memmem(bytes, len, digits + q, 16))
				fail_msg("the database files hold digits %zu-%zu of %s", q, q + 15, tokens[i]);
		/* The scan sees what was stored: the token's hash is there. */
		sha256_hex(tokens[i], strlen(tokens[i]), hash);
		if (!memmem(bytes, len, hash, strlen(hash)))
			fail_msg("the hash of %s is not in the database files either", tokens[i]);
	}
	free(bytes);
}

/* Agent tokens are bound to an address: the one /ipxe answered, or the first that uses a
 * token issued unbound (kexec); another address is refused, and told apart by
 * token_agent_held_elsewhere. */
static void test_agent_address_binding(void **state)
{
	int64_t id = new_host(), other = new_host();
	char token[TOKEN_SIZE], unbound[TOKEN_SIZE];
	struct agent_token t;

	(void)state;
	assert_int_equal(db_begin(), 0);
	assert_int_equal(finish(token_agent_issue(id, "install", true, "192.0.2.10", token, TOKEN_SIZE)), 0);
	assert_int_equal(token_authenticate_agent(token, "192.0.2.10", &t), 0);
	assert_int_equal(t.host_id, id);
	assert_string_equal(t.address, "192.0.2.10");
	assert_int_equal(t.served, 0);
	assert_int_equal(token_authenticate_agent(token, "192.0.2.66", &t), -EPERM);
	assert_int_equal(token_agent_held_elsewhere(id, "192.0.2.66", &t), 1);
	assert_string_equal(t.address, "192.0.2.10");
	assert_int_equal(token_agent_held_elsewhere(id, "192.0.2.10", &t), 0);
	assert_int_equal(token_agent_held_elsewhere(other, "192.0.2.66", &t), 0);

	assert_int_equal(db_begin(), 0);
	assert_int_equal(finish(token_agent_issue(other, "rescue", false, NULL, unbound, TOKEN_SIZE)), 0);
	/* Unbound (handed to anemosctl for a kexec): held against any /ipxe, whoever asks. */
	assert_int_equal(token_agent_held_elsewhere(other, "192.0.2.66", &t), 1);
	assert_int_equal(token_authenticate_agent(unbound, "2001:db8::7", &t), 0);   /* binds */
	assert_string_equal(t.address, "2001:db8::7");
	assert_int_equal(token_authenticate_agent(unbound, "2001:db8::7", &t), 0);
	assert_int_equal(token_authenticate_agent(unbound, "192.0.2.10", &t), -EPERM);
	assert_int_equal(token_agent_held_elsewhere(other, "192.0.2.10", &t), 1);

	cfg.agent_any_address = true;
	assert_int_equal(token_authenticate_agent(token, "192.0.2.66", &t), 0);
	assert_int_equal(token_agent_held_elsewhere(id, "192.0.2.66", &t), 0);
	cfg.agent_any_address = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_address_binding),
		cmocka_unit_test(test_looks),
		cmocka_unit_test(test_admin_create),
		cmocka_unit_test(test_admin_authenticate),
		cmocka_unit_test(test_admin_roles),
		cmocka_unit_test(test_agent_issue_and_authenticate),
		cmocka_unit_test(test_agent_reissue_revokes_old),
		cmocka_unit_test(test_agent_tokens_per_host),
		cmocka_unit_test(test_agent_revoke),
		cmocka_unit_test(test_agent_issue_rolled_back),
		cmocka_unit_test(test_agent_token_dies_with_host),
		cmocka_unit_test(test_agent_refuses_other_tokens),
		cmocka_unit_test(test_agent_expiry),
		cmocka_unit_test(test_db_holds_no_plaintext),
	};

	return cmocka_run_group_tests(tests, store_open, store_close);
}

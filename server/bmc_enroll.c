/*
 * --bmc-enroll: anemosd has the host's agent create an Anemos user on the machine's BMC
 * in-band, with a password of anemosd's making, so that no operator types BMC credentials.
 *
 * The operator asks ("bmc_enroll": true in a PATCH): a random password is made and kept
 * sealed (secret.c) in the host's bmc_enroll, state "pending". The first plan of a boot of
 * that host's agent carries {"username", "password", "privilege"} (state "sent"; the boot's
 * token marked AGENT_SERVED_BMC_ENROLL, so a boot gets it once, and a later boot again
 * while no outcome came); a discover boot's long poll ends for it at once. The agent
 * reports to POST /api/v1/agent/bmc-enroll: on success, and only then, the host's BMC
 * settings become {ipmi, the address the agent read (else the inventory's bmc.ip), port 623,
 * the user, the sealed password} and bmc_enroll is gone; a failure is an event with the
 * agent's reason and state "failed" (the password forgotten). The password is in no answer
 * but the plan, in no event, log line or change description, and only sealed on disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "anemosd.h"

#define ENROLL_USER "anemos"
#define ENROLL_PASSWORD_LEN 16 /* IPMI 1.5's limit, which every BMC takes; ~95 bits */

/* A password of ENROLL_PASSWORD_LEN letters and digits from the CSPRNG: 0 or -EIO. */
static int make_password(char out[ENROLL_PASSWORD_LEN + 1])
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char b[64];
	size_t n = 0;

	while (n < ENROLL_PASSWORD_LEN) {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return err_set(-EIO, "cannot make a random password");
		/* 248 = 4 x 62: bytes above are dropped, so that every character is as likely */
		for (size_t i = 0; i < sizeof(b) && n < ENROLL_PASSWORD_LEN; i++)
			if (b[i] < 248)
				out[n++] = set[b[i] % 62];
	}
	out[n] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

static json_t *enroll_load(const struct host *h)
{
	json_t *e = h->bmc_enroll ? json_loads(h->bmc_enroll, 0, NULL) : NULL;

	if (!json_is_object(e)) {
		json_decref(e);
		return NULL;
	}
	return e;
}

static const char *enroll_state(json_t *e)
{
	const char *s = json_string_value(json_object_get(e, "state"));

	return s ? s : "";
}

/* Stores e (taking it; NULL: none) as h's bmc_enroll: 0 or -ENOMEM. */
static int enroll_store(struct host *h, json_t *e)
{
	char *text = NULL;

	if (e && !(text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS))) {
		json_decref(e);
		return err_set(-ENOMEM, "out of memory");
	}
	json_decref(e);
	free(h->bmc_enroll);
	h->bmc_enroll = text;
	return 0;
}

static void context_of(const struct host *h, char *out, size_t outsz)
{
	snprintf(out, outsz, "bmc:%lld", (long long)h->id);
}

/* A new random password for h's enroll, sealed into e's "password_sealed": 0, -EIO, -ENOMEM. */
static int enroll_new_password(const struct host *h, json_t *e)
{
	char password[ENROLL_PASSWORD_LEN + 1], context[32], *sealed;
	int rc;

	if ((rc = make_password(password)) < 0)
		return rc;
	context_of(h, context, sizeof(context));
	sealed = secret_seal(password, context);
	OPENSSL_cleanse(password, sizeof(password));
	if (!sealed)
		return -EIO;
	rc = json_object_set_new(e, "password_sealed", json_string(sealed)) < 0 ? err_set(-ENOMEM, "out of memory") : 0;
	free(sealed);
	return rc;
}

int bmc_enroll_apply(struct host *h, json_t *v)
{
	json_t *e;
	int rc;

	if (!json_is_boolean(v))
		return err_set(-EINVAL, "bmc_enroll must be true (have the agent create a BMC user in-band) or false "
					"(no longer)");
	if (json_is_false(v))
		return enroll_store(h, NULL);
	if (!h->id)
		return err_set(-EINVAL, "bmc_enroll is for a host that exists: enroll it first, then set it");
	e = json_pack("{s:s, s:s, s:I}", "state", "pending", "username", ENROLL_USER, "asked", (json_int_t)time(NULL));
	if (!e)
		return err_set(-ENOMEM, "out of memory");
	if ((rc = enroll_new_password(h, e)) < 0) {
		json_decref(e);
		return rc;
	}
	return enroll_store(h, e);
}

json_t *bmc_enroll_to_json(const struct host *h)
{
	json_t *e = enroll_load(h), *o;
	char asked[32] = "";

	if (!e)
		return json_null();
	if (json_integer_value(json_object_get(e, "asked")))
		time_iso8601((time_t)json_integer_value(json_object_get(e, "asked")), asked);
	o = json_pack("{s:s, s:O?, s:s?, s:O?}", "state", enroll_state(e), "username", json_object_get(e, "username"),
		      "asked", asked[0] ? asked : NULL, "error", json_object_get(e, "error"));
	json_decref(e);
	return o ? o : json_null();
}

const char *bmc_enroll_state(const struct host *h)
{
	json_t *e = enroll_load(h);
	static const char *const states[] = { "pending", "sent", "failed" };
	const char *s = NULL;

	for (size_t i = 0; e && i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(enroll_state(e), states[i]))
			s = states[i];
	json_decref(e);
	return s;
}

bool bmc_enroll_due(const struct host *h, const struct agent_token *t)
{
	const char *s = bmc_enroll_state(h);

	if (!s || !strcmp(t->mode, "phone-home"))
		return false;
	return !strcmp(s, "pending") || (!strcmp(s, "sent") && !(t->served & AGENT_SERVED_BMC_ENROLL));
}

/* In the plan's transaction: the enroll goes to this boot (state sent, the token marked). */
static int serve_change(struct host *h, void *arg)
{
	struct agent_token *t = arg, now;
	char user[64];
	json_t *e;
	int rc;

	if ((rc = db_agent_token_lookup(t->hash, (int64_t)time(NULL), &now)) == -ENOENT)
		return err_set(-EPERM, "agent token revoked or expired while waiting; reboot the machine for a new one");
	if (rc < 0)
		return rc;
	if (!bmc_enroll_due(h, &now) || !(e = enroll_load(h)))
		return HOSTS_UNCHANGED;
	/* Sent to an earlier boot that never said how it went: that boot may have set the
	 * password it was given, so this boot gets another (the agent resets the user "anemos"). */
	if (!strcmp(enroll_state(e), "sent") && (rc = enroll_new_password(h, e)) < 0) {
		json_decref(e);
		return rc;
	}
	json_object_set_new(e, "state", json_string("sent"));
	json_object_set_new(e, "sent", json_integer((json_int_t)time(NULL)));
	snprintf(user, sizeof(user), "%s", json_string_value(json_object_get(e, "username")));
	if ((rc = enroll_store(h, e)) < 0 ||
	    (rc = db_agent_token_update(now.hash, now.mode, now.served | AGENT_SERVED_BMC_ENROLL)) < 0)
		return rc;
	*t = now;
	t->served |= AGENT_SERVED_BMC_ENROLL;
	return hosts_add_event(h->id, "server", "info", "bmc", "BMC enroll sent to the agent (%s boot): user %s",
			       now.mode, user);
}

int bmc_enroll_serve(struct agent_token *t, json_t **out)
{
	char context[32], *password;
	struct host h;
	json_t *e = NULL;
	int rc;

	*out = NULL;
	/* a read first: nearly every plan has no enroll, and needs no write transaction */
	if ((rc = db_host_get(t->host_id, &h)) < 0)
		return rc;
	if (!bmc_enroll_due(&h, t)) {
		host_free(&h);
		return 0;
	}
	host_free(&h);
	if ((rc = hosts_update(NULL, t->host_id, serve_change, t, &h)) < 0)
		return rc;
	/* Served when the token now says so and the host's enroll is the one sent. */
	if (!(t->served & AGENT_SERVED_BMC_ENROLL) || !(e = enroll_load(&h)) || strcmp(enroll_state(e), "sent")) {
		json_decref(e);
		host_free(&h);
		return 0;
	}
	context_of(&h, context, sizeof(context));
	password = secret_open(json_string_value(json_object_get(e, "password_sealed")), context);
	if (password)
		*out = json_pack("{s:O, s:s, s:s}", "username", json_object_get(e, "username"), "password", password,
				 "privilege", "administrator");
	secret_wipe(password);
	json_decref(e);
	host_free(&h);
	return password ? 0 : -EIO;
}

/* A plain IPv4 address (as IPMI's LAN settings hold) in canonical form into out: 0 or -EINVAL. */
static int ipv4_canonical(const char *s, char out[16])
{
	unsigned a, b, c, d;
	char end;

	if (!s || sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) != 4 || a > 255 || b > 255 || c > 255 ||
	    d > 255 || a == 0)
		return -EINVAL;
	snprintf(out, 16, "%u.%u.%u.%u", a, b, c, d);
	return 0;
}

struct enroll_report {
	bool ok;
	const char *error, *address;
	json_int_t user_id, channel;
};

/* The BMC's address into where: the one the agent reported, else its inventory's when power
 * calls can go to it; *known false when neither. 0 or a negative errno. */
static int bmc_address(struct host *h, const char *reported, char where[64], bool *known)
{
	json_t *inv;
	const char *ip;
	int rc;

	*known = true;
	if (reported) {
		snprintf(where, 64, "%s", reported);
		return 0;
	}
	if ((rc = db_host_load_inventory(h)) < 0)
		return rc;
	inv = h->inventory ? json_loads(h->inventory, 0, NULL) : NULL;
	ip = json_string_value(json_object_get(json_object_get(inv, "bmc"), "ip"));
	/* not an address power calls can go to: none */
	*known = ip && ipv4_canonical(ip, where) == 0;
	json_decref(inv);
	return 0;
}

static int result_change(struct host *h, void *arg)
{
	const struct enroll_report *r = arg;
	json_t *e = enroll_load(h), *bmc;
	char *text, where[64], user[64];
	bool known;
	int rc;

	if (!e || strcmp(enroll_state(e), "sent") != 0) {
		json_decref(e);
		return err_set(-EBUSY, "no BMC enroll was sent to this host's agent (or its outcome came already)");
	}
	if (!r->ok) {
		json_object_set_new(e, "state", json_string("failed"));
		json_object_set_new(e, "error", json_string(r->error));
		json_object_del(e, "password_sealed");
		if ((rc = enroll_store(h, e)) < 0)
			return rc;
		return hosts_add_event(h->id, "agent", "error", "bmc", "BMC enroll failed: %s", r->error);
	}
	if ((rc = bmc_address(h, r->address, where, &known)) < 0) {
		json_decref(e);
		return rc;
	}
	snprintf(user, sizeof(user), "%s", json_string_value(json_object_get(e, "username")));
	if (!known) {
		json_object_set_new(e, "state", json_string("failed"));
		json_object_set_new(e, "error", json_string("the user was created, but neither the agent nor the "
							    "inventory knows the BMC's address"));
		json_object_del(e, "password_sealed");
		if ((rc = enroll_store(h, e)) < 0)
			return rc;
		return hosts_add_event(h->id, "agent", "error", "bmc", "BMC enroll failed: user %s was created "
				       "(user %lld), but the BMC's address is unknown (its LAN settings could not be "
				       "read): set it with --bmc", user, (long long)r->user_id);
	}
	bmc = json_pack("{s:s, s:s, s:i, s:s, s:O}", "protocol", "ipmi", "address", where, "port", 623, "username",
			user, "password_sealed", json_object_get(e, "password_sealed"));
	json_decref(e);
	if (!bmc || !(text = json_dumps(bmc, JSON_COMPACT | JSON_SORT_KEYS))) {
		json_decref(bmc);
		return err_set(-ENOMEM, "out of memory");
	}
	json_decref(bmc);
	free(h->bmc);
	h->bmc = text;
	free(h->power_state), free(h->power_error);
	h->power_state = h->power_error = NULL;
	h->power_checked = 0;
	if ((rc = enroll_store(h, NULL)) < 0)
		return rc;
	return hosts_add_event(h->id, "agent", "info", "bmc", "BMC enrolled in-band: user %s (user %lld, channel %lld); "
			       "power control through ipmi://%s@%s:623", user, (long long)r->user_id,
			       (long long)r->channel, user, where);
}

int bmc_enroll_result(const struct agent_token *t, json_t *req, struct host *out)
{
	static const char *const allowed[] = { "ok", "error", "username", "user_id", "channel", "address", NULL };
	struct enroll_report r = { .user_id = json_integer_value(json_object_get(req, "user_id")),
				   .channel = json_integer_value(json_object_get(req, "channel")) };
	json_t *ok = json_object_get(req, "ok"), *address = json_object_get(req, "address");
	char buf[16];
	int rc;

	if ((rc = fields_check(req, allowed, NULL)) < 0)
		return rc;
	if (!(t->served & AGENT_SERVED_BMC_ENROLL))
		return err_set(-EBUSY, "this boot was given no BMC enroll: only the boot whose plan carried it says how it went");
	if (!json_is_boolean(ok))
		return err_set(-EINVAL, "\"ok\" (true or false) is required");
	r.ok = json_is_true(ok);
	r.error = json_string_value(json_object_get(req, "error"));
	if (!r.ok && (!r.error || !r.error[0] || strlen(r.error) > 400))
		return err_set(-EINVAL, "a failed enroll needs \"error\", a reason of at most 400 bytes");
	if (address && !json_is_null(address)) {
		/* the address power calls go to: a plain IPv4 address, as IPMI's LAN settings hold */
		if (ipv4_canonical(json_string_value(address), buf) < 0)
			return err_set(-EINVAL, "\"address\" must be the BMC's IPv4 address, or null");
		r.address = buf;
	}
	if ((json_object_get(req, "user_id") && !json_is_integer(json_object_get(req, "user_id"))) ||
	    r.user_id < 0 || r.user_id > 63 || r.channel < 0 || r.channel > 15)
		return err_set(-EINVAL, "\"user_id\" is 1..63 and \"channel\" 0..15");
	return hosts_update(NULL, t->host_id, result_change, &r, out);
}

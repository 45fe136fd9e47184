/*
 * anemosd's --bmc-enroll on the machine: a plan with "bmc_enroll" ({"username", "password",
 * "privilege"}) has the agent create that user on its own BMC in-band (inventory/ipmi.c,
 * through /dev/ipmi0) and report the outcome, with the BMC's LAN address, to POST
 * /api/v1/agent/bmc-enroll. anemosd keeps the password as the host's BMC settings only
 * when the agent says it worked. The password is printed nowhere and sent nowhere else; the
 * plan's copy of it is overwritten once used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "errors.h"
#include "ipmi.h"

/* Overwrites a JSON string's text in place (jansson owns it; its length stays). */
static void wipe_string(json_t *s)
{
	if (json_is_string(s))
		explicit_bzero((char *)json_string_value(s), json_string_length(s));
}

/* Does the enroll; 0 with *res and lan filled, or -errno with the message (err_set). */
static int enroll(struct agent *a, const char *user, const char *password, unsigned priv, unsigned channel,
		  struct ipmi_enroll_result *res, struct ipmi_lan *lan)
{
	struct ipmi_dev d = { .fd = -1, .timeout_ms = 5000 };
	int rc;

	if ((rc = ipmi_open(a->root, &d)) < 0)
		return err_set(rc, "no IPMI device (/dev/ipmi0: %s): no BMC, or the kernel's IPMI driver found "
			       "no interface to it", strerror(-rc));
	if (!channel && !(channel = ipmi_lan_channel(&d)))
		channel = 1;
	rc = ipmi_enroll(&d, channel, user, password, priv, res);
	if (rc == 0 && ipmi_lan_read(&d, channel, lan) < 0) {
		memset(lan, 0, sizeof(*lan)); /* anemosd then takes the inventory's address */
		err_clear();
	}
	ipmi_close(&d);
	return rc;
}

void bmc_enroll_run(struct agent *a, json_t *plan)
{
	json_t *e = json_object_get(plan, "bmc_enroll"), *body;
	const char *user = json_string_value(json_object_get(e, "username"));
	const char *password = json_string_value(json_object_get(e, "password"));
	const char *privilege = json_string_value(json_object_get(e, "privilege"));
	unsigned priv = privilege && !strcmp(privilege, "operator") ? IPMI_PRIV_OPERATOR : IPMI_PRIV_ADMIN;
	unsigned channel = (unsigned)json_integer_value(json_object_get(e, "channel"));
	struct ipmi_enroll_result res = { 0 };
	struct ipmi_lan lan;
	char why[256];
	int rc, told;

	if (!json_is_object(e))
		return;
	memset(&lan, 0, sizeof(lan));
	if (!user || !password) {
		rc = err_set(-EINVAL, "the plan's bmc_enroll lacks a username or a password");
	} else {
		fprintf(stderr, "anemos-agent: creating the BMC user %s in-band\n", user);
		rc = enroll(a, user, password, priv, channel > 15 ? 0 : channel, &res, &lan);
	}
	/* the failure's words, kept: client_call below carries its own */
	snprintf(why, sizeof(why), "%s", err_msg());
	wipe_string(json_object_get(e, "password"));
	if (rc == 0)
		body = json_pack("{s:b, s:s, s:I, s:I, s:o}", "ok", 1, "username", user, "user_id",
				 (json_int_t)res.user, "channel", (json_int_t)res.channel, "address",
				 lan.ip[0] && strcmp(lan.ip, "0.0.0.0") ? json_string(lan.ip) : json_null());
	else
		body = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	told = client_call(a, "POST", "/api/v1/agent/bmc-enroll", body, 30, NULL, NULL);
	if (rc == 0)
		fprintf(stderr, "anemos-agent: BMC user %s is user %u on channel %u%s%s\n", user, res.user,
			res.channel, lan.ip[0] ? ", BMC at " : "", lan.ip);
	else
		fprintf(stderr, "anemos-agent: creating the BMC user failed: %s\n", why);
	if (told < 0)
		fprintf(stderr, "anemos-agent: anemosd did not take the BMC enroll's outcome: %s\n", err_msg());
	json_decref(body);
}

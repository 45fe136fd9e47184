/*
 * anemosctl host power|reinstall, and the --bmc options of host set: power control through
 * a host's BMC. anemosd queues each action for its power workers and answers at once
 * (POST /api/v1/hosts/REF/power); the outcome arrives as one of the host's events, which
 * these commands wait for.
 */
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anemosctl.h"

#define BMC_PASSWORD_MAX	20	/* IPMI 2.0's longest password, in bytes */
#define OUTCOME_WAIT_MAX	300	/* seconds to wait for a BMC's answer: anemosd bounds each
					 * call itself; this only ends a wait on a stuck anemosd */

int bmc_url_option(json_t *body, const char *url)
{
	const char *rest, *at, *colon;
	bool redfish = strncmp(url, "redfish://", 10) == 0;
	char user[64], address[256];
	json_t *bmc;
	long port = redfish ? 443 : 623;
	char *end;

	rest = url + (redfish ? 10 : 7);
	if ((!redfish && strncmp(url, "ipmi://", 7) != 0) || !(at = strchr(rest, '@')) ||
	    (size_t)(at - rest) >= sizeof(user) || at == rest) {
		return err_set(-EINVAL, "--bmc must be ipmi://USER@ADDRESS[:PORT] or redfish://USER@ADDRESS[:PORT] (not '%s')", url);
	}
	snprintf(user, sizeof(user), "%.*s", (int)(at - rest), rest);
	if (strchr(user, ':')) {
		/* USER:PASSWORD@ would put the password on this command line, and in the user name */
		return err_set(-EINVAL, "--bmc takes no password in the URL (it would be on the command line): give the user alone"
					" and the password with --bmc-password-file FILE");
	}
	colon = strrchr(at + 1, ':');
	if (colon && !strchr(colon, ']')) {
		port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port < 1 || port > 65535)
			return err_set(-EINVAL, "--bmc: the port must be a number from 1 to 65535 (not '%s')", colon + 1);
	}
	snprintf(address, sizeof(address), "%.*s", (int)((colon ? colon : at + 1 + strlen(at + 1)) - at - 1), at + 1);
	if (address[0] == '[' && address[strlen(address) - 1] == ']') {
		memmove(address, address + 1, strlen(address));
		address[strlen(address) - 1] = '\0';
	}
	if (!(bmc = json_object_get(body, "bmc")) && json_set(body, "bmc", bmc = json_object()) != 0)
		return -ENOMEM;
	if (json_set_text(bmc, "protocol", redfish ? "redfish" : "ipmi") != 0 || json_set_text(bmc, "username", user) != 0 ||
	    json_set_text(bmc, "address", address) != 0 || json_set(bmc, "port", json_integer(port)) != 0)
		return -ENOMEM;
	return 0;
}

int bmc_insecure_option(json_t *body)
{
	json_t *bmc;

	if (!(bmc = json_object_get(body, "bmc")) && json_set(body, "bmc", bmc = json_object()) != 0)
		return -ENOMEM;
	return json_set(bmc, "insecure", json_true());
}

int bmc_password_option(json_t *body, const char *path)
{
	char *data;
	size_t len;
	json_t *bmc;
	int rc;

	if ((rc = read_file(path, 4096, &data, &len)) != 0)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (len == 0 || len > BMC_PASSWORD_MAX || strchr(data, '\n')) {
		rc = err_set(-EINVAL, "--bmc-password-file: %s must hold one password of 1 to %d bytes", path, BMC_PASSWORD_MAX);
	} else if (!(bmc = json_object_get(body, "bmc")) && json_set(body, "bmc", bmc = json_object()) != 0) {
		rc = -ENOMEM;
	} else {
		rc = json_set_text(bmc, "password", data);
	}
	explicit_bzero(data, len);
	free(data);
	return rc;
}

/* Waits (bounded) for the outcome of the power action whose request is event @asked: the
 * next "power" event from the BMC that names who asked. Prints its message; returns 0 when it succeeded, -EIO
 * (with the message) when it failed, -ETIMEDOUT when none came. */
static int wait_outcome(const struct ctl *ctl, const char *ref, json_int_t asked, json_t **outcome)
{
	char *path = host_path(ref, "/events?limit=50");
	const json_t *events, *ev;
	json_t *answer = NULL;
	size_t i;
	int rc = -ETIMEDOUT;

	if (!path)
		return -ENOMEM;
	for (int tries = 0; tries < OUTCOME_WAIT_MAX * 4 && rc == -ETIMEDOUT; tries++) {
		json_decref(answer);
		answer = NULL;
		if ((rc = api_call(ctl, "GET", path, NULL, &answer)) != 0 || !(events = answer_array(answer, "events")))
			break;
		rc = -ETIMEDOUT;
		json_array_foreach(events, i, ev)
			/* the outcome of an action names who asked; a poll's ("power is on (was off)")
			 * that ends meanwhile does not */
			if (json_integer_value(json_object_get(ev, "id")) > asked &&
			    !strcmp(json_text(ev, "source"), "bmc") && !strcmp(json_text(ev, "phase"), "power") &&
			    strstr(json_text(ev, "message"), "(asked by ")) {
				*outcome = json_incref((json_t *)ev);
				rc = strcmp(json_text(ev, "level"), "error") ? 0 : -EIO;
				break;
			}
		if (rc == -ETIMEDOUT)
			usleep(250 * 1000);
	}
	if (rc == -ETIMEDOUT) /* after what an api_call that timed out said */
		err_add(rc, "no answer from the BMC of %s after %d s: see anemosctl host events %s", ref, OUTCOME_WAIT_MAX,
			ref);
	json_decref(answer);
	free(path);
	return rc;
}

/* Asks for @action (and the one-time boot device @boot, or NULL) on @ref's BMC; unless
 * @detach, waits for the outcome and prints it. */
static int power_action(const struct ctl *ctl, const char *ref, const char *action, const char *boot, bool detach)
{
	json_t *body = json_object(), *answer = NULL, *outcome = NULL;
	char *path = host_path(ref, "/power");
	int rc;

	if (!path || !body || json_set_text(body, "action", action) != 0 ||
	    (boot && json_set_text(body, "boot", boot) != 0)) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = api_call(ctl, "POST", path, body, &answer)) != 0)
		goto out;
	if (detach) {
		ctl->json ? print_json(answer) : (void)printf("power %s of %s queued\n", action, ref);
		goto out;
	}
	rc = wait_outcome(ctl, ref, json_integer_value(json_object_get(answer, "event")), &outcome);
	if (outcome && ctl->json)
		print_json(outcome);
	else if (outcome) {
		print_text(json_text(outcome, "message"), 0);
		putchar('\n');
	}
	if (rc == -EIO)
		err_add(rc, "power %s of %s failed", action, ref);
out:
	json_decref(outcome);
	json_decref(answer);
	json_decref(body);
	free(path);
	return rc;
}

enum { OPT_BOOT = 300, OPT_DETACH, OPT_IMAGE };

/* What "host power" and "host reinstall" were told. */
struct power_options {
	const char *boot;	/* --boot network|disk, or NULL */
	const char *image;	/* --image NAME, or NULL */
	bool detach;		/* --detach */
};

static int power_option(void *ctx, int option, const char *arg)
{
	static const char *const boots[] = { "network", "disk", NULL };
	struct power_options *o = ctx;

	switch (option) {
	case OPT_BOOT:
		o->boot = arg;
		return check_choice("--boot", arg, boots);
	case OPT_DETACH:
		o->detach = true;
		return 0;
	case OPT_IMAGE:
		o->image = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

int host_power(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "boot", required_argument, NULL, OPT_BOOT },
		{ "detach", no_argument, NULL, OPT_DETACH },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const actions[] = { "status", "on", "off", "soft-off", "cycle", "reset", NULL };
	struct power_options o = { 0 };
	int first, rc;

	if ((first = parse_command(argc, argv, options, power_option, &o, 2, 2)) < 0)
		return first;
	if ((rc = check_choice("ACTION", argv[first + 1], actions)) != 0)
		return rc;
	return power_action(ctl, argv[first], argv[first + 1], o.boot, o.detach);
}

int host_reinstall(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "detach", no_argument, NULL, OPT_DETACH },
		{ NULL, 0, NULL, 0 },
	};
	struct power_options o = { 0 };
	json_t *body = json_object(), *host = NULL;
	char *path = NULL;
	int first, rc;

	if ((first = parse_command(argc, argv, options, power_option, &o, 1, 1)) < 0) {
		json_decref(body);
		return first;
	}
	if (!body || !(path = host_path(argv[first], "")) || json_set_text(body, "next_boot", "install") != 0 ||
	    json_set(body, "once", json_true()) != 0 || (o.image && json_set_text(body, "image", o.image) != 0)) {
		rc = -ENOMEM;
		goto out;
	}
	/* A host without a BMC is refused before anything changes. */
	if ((rc = api_call(ctl, "GET", path, NULL, &host)) != 0)
		goto out;
	if (!json_is_object(json_object_get(host, "bmc"))) {
		rc = err_set(-ENOENT, "host %s has no BMC: set one (anemosctl host set %s --bmc ipmi://USER@ADDRESS "
				      "--bmc-password-file FILE), or reinstall it over SSH (anemosctl reinstall --ssh)", argv[first], argv[first]);
		goto out;
	}
	json_decref(host);
	host = NULL;
	/* Install once, then a network boot now: the machine installs and boots its disk. */
	if ((rc = api_call(ctl, "PATCH", path, body, &host)) != 0 ||
	    (rc = power_action(ctl, argv[first], "cycle", "network", o.detach)) != 0 || o.detach)
		goto out;
	rc = follow_host(ctl, argv[first], 1, 0);
out:
	json_decref(host);
	json_decref(body);
	free(path);
	return rc;
}

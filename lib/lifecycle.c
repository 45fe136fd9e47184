/*
 * The host lifecycle tables (see lifecycle.h): names, help texts, and where each event
 * leads from each status.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lifecycle.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct { const char *name, *help; } statuses[HOST_STATUS_COUNT] = {
	[HOST_NEW]            = { HOST_STATUS_NEW_NAME, "seen, no hardware reported yet" },
	[HOST_READY]          = { "ready", "hardware reported, waiting for a plan" },
	[HOST_INSTALLING]     = { HOST_STATUS_INSTALLING_NAME, "installing its image" },
	[HOST_DEPLOYED]       = { "deployed", "its installed system reported in" },
	[HOST_FAILED]         = { "failed", "its last install or discovery failed" },
	[HOST_MAINTENANCE]    = { "maintenance", "set aside: no install, no discovery, rescue allowed" },
	[HOST_DECOMMISSIONED] = { "decommissioned", "retired: boots nothing from the network" },
};

static const struct { const char *name, *help; } actions[BOOT_ACTION_COUNT] = {
	[BOOT_DISCOVER] = { BOOT_ACTION_DISCOVER_NAME, "report the hardware and wait" },
	[BOOT_INSTALL]  = { "install", "install the host's image" },
	[BOOT_LOCAL]    = { "local", "boot from the local disk" },
	[BOOT_RESCUE]   = { "rescue", "the Anemos environment with SSH" },
	[BOOT_NONE]     = { "none", "no network boot" },
};

static const char *const events[HOST_EVENT_COUNT] = {
	[HOST_EV_INVENTORY]          = "inventory",
	[HOST_EV_INSTALL_PLANNED]    = "install-planned",
	[HOST_EV_AGENT_FAILED]       = "agent-failed",
	[HOST_EV_PHONE_HOME]         = "phone-home",
	[HOST_EV_ADOPTED]            = "adopted",
	[HOST_EV_SET_READY]          = "set-ready",
	[HOST_EV_SET_MAINTENANCE]    = "set-maintenance",
	[HOST_EV_SET_DECOMMISSIONED] = "set-decommissioned",
};

/* A cell of the table: a status, STAY (the event changes nothing) or REFUSE. */
enum { STAY = -1, REFUSE = -2 };
#define N HOST_NEW
#define R HOST_READY
#define I HOST_INSTALLING
#define D HOST_DEPLOYED
#define F HOST_FAILED
#define M HOST_MAINTENANCE
#define X HOST_DECOMMISSIONED
#define S STAY
#define NO REFUSE
/*
 * The whole lifecycle. A machine is new until its agent reports hardware; an install plan
 * makes it installing (never while set aside); its installed system reporting in makes it
 * deployed, unless an operator set it aside meanwhile; a failure reported by its agent makes
 * it failed, except when set aside (a rescue of a host in maintenance that fails leaves it
 * there). An operator may move any host to ready, maintenance or decommissioned.
 */
static const signed char table[HOST_STATUS_COUNT][HOST_EVENT_COUNT] = {
	/*                 inventory planned failed phone-home adopted ready maint. decom. */
	[HOST_NEW]            = { R, I,  F, D, D, R, M, X },
	[HOST_READY]          = { S, I,  F, D, S, S, M, X },
	[HOST_INSTALLING]     = { S, S,  F, D, S, R, M, X },
	[HOST_DEPLOYED]       = { S, I,  F, S, S, R, M, X },
	[HOST_FAILED]         = { S, I,  S, D, S, R, M, X },
	[HOST_MAINTENANCE]    = { S, NO, S, S, S, R, S, X },
	[HOST_DECOMMISSIONED] = { S, NO, S, S, S, R, M, S },
};
#undef N
#undef R
#undef I
#undef D
#undef F
#undef M
#undef X
#undef S
#undef NO

const char *host_status_name(enum host_status s)
{
	return (unsigned)s < COUNT(statuses) ? statuses[s].name : NULL;
}

const char *host_status_help(enum host_status s)
{
	return (unsigned)s < COUNT(statuses) ? statuses[s].help : NULL;
}

const char *boot_action_name(enum boot_action a)
{
	return (unsigned)a < COUNT(actions) ? actions[a].name : NULL;
}

const char *boot_action_help(enum boot_action a)
{
	return (unsigned)a < COUNT(actions) ? actions[a].help : NULL;
}

const char *host_event_name(enum host_event e)
{
	return (unsigned)e < COUNT(events) ? events[e] : NULL;
}

int host_status_parse(const char *name, enum host_status *out)
{
	for (size_t i = 0; name && i < COUNT(statuses); i++)
		if (strcmp(name, statuses[i].name) == 0) {
			*out = (enum host_status)i;
			return 0;
		}
	return -EINVAL;
}

int boot_action_parse(const char *name, enum boot_action *out)
{
	for (size_t i = 0; name && i < COUNT(actions); i++)
		if (strcmp(name, actions[i].name) == 0) {
			*out = (enum boot_action)i;
			return 0;
		}
	return -EINVAL;
}

int host_lifecycle_next(enum host_status from, enum host_event event, enum host_status *to)
{
	signed char cell;

	if ((unsigned)from >= HOST_STATUS_COUNT || (unsigned)event >= HOST_EVENT_COUNT)
		return -EINVAL;
	cell = table[from][event];
	if (cell == REFUSE)
		return -EPERM;
	*to = cell == STAY ? from : (enum host_status)cell;
	return 0;
}

int host_operator_event(enum host_status wanted, enum host_event *out)
{
	switch (wanted) {
	case HOST_READY: *out = HOST_EV_SET_READY; return 0;
	case HOST_MAINTENANCE: *out = HOST_EV_SET_MAINTENANCE; return 0;
	case HOST_DECOMMISSIONED: *out = HOST_EV_SET_DECOMMISSIONED; return 0;
	default: return -EINVAL;
	}
}

bool boot_action_runs_agent(enum boot_action a)
{
	return a == BOOT_DISCOVER || a == BOOT_INSTALL || a == BOOT_RESCUE;
}

bool boot_action_takes_image(enum boot_action a)
{
	return a == BOOT_INSTALL;
}

bool boot_action_boots_network(enum boot_action a)
{
	return (unsigned)a < BOOT_ACTION_COUNT && a != BOOT_NONE;
}

bool host_status_confirm(enum host_status s)
{
	return s == HOST_DECOMMISSIONED;
}

bool host_may_boot(enum host_status s, enum boot_action a)
{
	if (s == HOST_DECOMMISSIONED)
		return !boot_action_runs_agent(a);
	if (s == HOST_MAINTENANCE)
		return a != BOOT_INSTALL && a != BOOT_DISCOVER;
	return (unsigned)a < BOOT_ACTION_COUNT;
}

static void join(char *out, size_t outsz, const char *sep, const char *const *names, size_t n)
{
	size_t used = 0;

	if (!outsz)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < outsz; i++) {
		int w = snprintf(out + used, outsz - used, "%s%s", i ? sep : "", names[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

void boot_action_list(char *out, size_t outsz, const char *sep)
{
	const char *names[BOOT_ACTION_COUNT];

	for (size_t i = 0; i < BOOT_ACTION_COUNT; i++)
		names[i] = actions[i].name;
	join(out, outsz, sep, names, BOOT_ACTION_COUNT);
}

void host_operator_status_list(char *out, size_t outsz, const char *sep)
{
	const char *names[HOST_STATUS_COUNT];
	enum host_event ev;
	size_t n = 0;

	for (size_t i = 0; i < HOST_STATUS_COUNT; i++)
		if (host_operator_event((enum host_status)i, &ev) == 0)
			names[n++] = statuses[i].name;
	join(out, outsz, sep, names, n);
}

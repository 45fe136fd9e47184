/*
 * The host lifecycle, as data: every status a host can be in, every action its next network
 * boot can take, the events that move a host between statuses, and the one table that says
 * where each event leads from each status. anemosd applies it (host_transition in
 * server/hosts.c), anemosctl checks its arguments against it, the dashboard reads it from
 * GET /api/v1/meta. Nothing else spells a status or an action: add one here and every
 * program knows it.
 */
#ifndef ANEMOS_LIFECYCLE_H
#define ANEMOS_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

/* In the order the dashboard lists them. */
enum host_status {
	HOST_NEW,            /* seen or enrolled, no hardware reported yet */
	HOST_READY,          /* hardware reported; waits for an operator's plan */
	HOST_INSTALLING,     /* an agent took an install plan */
	HOST_DEPLOYED,       /* its installed system reported in */
	HOST_FAILED,         /* its agent reported a failure */
	HOST_MAINTENANCE,    /* set aside by an operator: no install, no discovery */
	HOST_DECOMMISSIONED, /* retired by an operator: no Anemos environment at all */
	HOST_STATUS_COUNT
};

/* What the next network boot does. */
enum boot_action {
	BOOT_DISCOVER, /* the Anemos environment reports the hardware and waits for a plan */
	BOOT_INSTALL,  /* the Anemos environment installs the host's image */
	BOOT_LOCAL,    /* boot from the local disk */
	BOOT_RESCUE,   /* the Anemos environment, with SSH, for an operator */
	BOOT_NONE,     /* no network boot: the firmware goes on to its next boot device */
	BOOT_ACTION_COUNT
};

/* What happens to a host; each moves it along host_lifecycle_next's table. */
enum host_event {
	HOST_EV_INVENTORY,         /* an agent reported the hardware */
	HOST_EV_INSTALL_PLANNED,   /* an agent took an install plan */
	HOST_EV_AGENT_FAILED,      /* an agent reported that its work failed */
	HOST_EV_PHONE_HOME,        /* the installed system reported in */
	HOST_EV_ADOPTED,           /* registered over SSH while running its own system */
	HOST_EV_SET_READY,         /* an operator: back to ready */
	HOST_EV_SET_MAINTENANCE,   /* an operator: set aside */
	HOST_EV_SET_DECOMMISSIONED, /* an operator: retire */
	HOST_EVENT_COUNT
};

/* The names that SQL text holds as literals (the schema's defaults, a query's condition on
 * the status): the same strings as lifecycle.c's tables, which are made of these. */
#define HOST_STATUS_NEW_NAME        "new"
#define HOST_STATUS_INSTALLING_NAME "installing"
#define BOOT_ACTION_DISCOVER_NAME   "discover"

/* The name of each value as the API, the database and the CLI spell it ("ready",
 * "install", "set-ready"); NULL for a value out of range. Static strings. */
const char *host_status_name(enum host_status s);
const char *boot_action_name(enum boot_action a);
const char *host_event_name(enum host_event e);
/* A short human description of each, for help texts and the dashboard. */
const char *host_status_help(enum host_status s);
const char *boot_action_help(enum boot_action a);

/* Parses a name; returns 0 and sets *out, or -EINVAL for a name that is none of them (and
 * for NULL). */
int host_status_parse(const char *name, enum host_status *out);
int boot_action_parse(const char *name, enum boot_action *out);

/* Where `event` leads a host in status `from`: returns 0 and sets *to (which may be `from`:
 * the event changes nothing), or -EPERM when the table refuses the event in that status
 * (an install planned for a decommissioned host). */
int host_lifecycle_next(enum host_status from, enum host_event event, enum host_status *to);

/* The status an operator asks for ("ready", "maintenance", "decommissioned") as the event
 * that sets it; -EINVAL for any other status (the others follow from what the host does). */
int host_operator_event(enum host_status wanted, enum host_event *out);

/* True when the action boots the Anemos environment (and so needs an agent token). */
bool boot_action_runs_agent(enum boot_action a);
/* True when the action installs the host's image (and so needs one). */
bool boot_action_takes_image(enum boot_action a);
/* True when the action boots anything over the network (all but none). */
bool boot_action_boots_network(enum boot_action a);
/* True when an operator moving a host to status s should confirm it first (it retires the
 * host). */
bool host_status_confirm(enum host_status s);
/* True when a host in status s may take action a: a host in maintenance never installs or
 * discovers (a rescue or a local boot it may), a decommissioned host runs no Anemos
 * environment at all. */
bool host_may_boot(enum host_status s, enum boot_action a);

/* Writes the names of the values an operator may choose, separated by `sep` ("discover,
 * install, ..."), into out (at most outsz bytes, always terminated); for messages. */
void boot_action_list(char *out, size_t outsz, const char *sep);
void host_operator_status_list(char *out, size_t outsz, const char *sep);

#endif

/*
 * anemos-agent: runs in the Anemos initramfs. It reads anemos.url, anemos.token and
 * anemos.mode from the kernel command line, posts the machine's inventory, follows the plan
 * anemosd gives it, and reports what it does as events. Its exit status tells /init what
 * to do next (see enum agent_exit).
 */
#ifndef ANEMOS_AGENT_H
#define ANEMOS_AGENT_H

#include <stdbool.h>

#include <curl/curl.h>
#include <jansson.h>

enum agent_exit {
	EXIT_REBOOT = 0,   /* done: reboot */
	EXIT_FAILED = 1,   /* failed: /init says so and leaves a shell on the console */
	EXIT_POWEROFF = 2, /* nothing to do for too long: power off */
	EXIT_RESCUE = 3,   /* rescue: /init starts the SSH server and keeps a shell */
};

struct agent {
	char url[512];       /* anemos.url: anemosd's base URL */
	char token[160];     /* anemos.token: this boot's agent token */
	char mode[16];       /* anemos.mode: discover, install or rescue */
	const char *root;    /* filesystem root inventory is read from, "/" */
	const char *ssh_dir; /* where rescue writes authorized_keys, "/root/.ssh" */
	long poweroff_after; /* seconds discover waits for a plan before powering off, 1800 */
	long retry_for;      /* seconds one request is retried on network errors, 600 */
	CURL *curl;
};

/* client.c: requests to anemosd with the agent token. */
int client_init(struct agent *a);
void client_free(struct agent *a);
/* Sends a request and retries network errors and 5xx answers with growing pauses for up to
 * a->retry_for seconds. Returns the HTTP status of the final answer (2xx or 4xx), with its
 * JSON body in *reply (caller frees; may be NULL), or a negative errno when anemosd could
 * not be reached in time. timeout is the seconds one attempt may take. Takes no ownership
 * of body. */
int client_call(struct agent *a, const char *method, const char *path, json_t *body, long timeout,
		json_t **reply);
/* Prints the message on the console and posts it as an event; best effort (retried for a
 * minute at most, then only printed). level is "info", "warn" or "error". */
void client_report(struct agent *a, const char *level, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif

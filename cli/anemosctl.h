/*
 * anemosctl: the operator's command line over anemosd's /api/v1.
 *
 * Every function that can fail returns int rc: 0, or a negative errno with the words of what
 * went wrong carried by err_set (lib/errors.h: "with the message" below); only the edge,
 * run_command (and main before it), prints them on stderr, a line "anemosctl: ..." each. A
 * function that goes on after a failure it said (a warning) prints it first with
 * ctl_print_error(). -EINVAL is kept for a wrong command line (the program then shows the
 * command's usage and exits 2), -EINTR for Ctrl-C (exit 130); any other failure exits 1.
 */
#ifndef ANEMOSCTL_H
#define ANEMOSCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "errors.h"

#define EXIT_USAGE 2

/* The connection to one anemosd, filled in from the global options and the environment. */
struct ctl {
	char *url;		/* base URL without a trailing slash; owned */
	char *token;		/* admin token, or NULL when none was given; owned */
	const char *url_origin;	/* where @url came from ("--url", "$ANEMOS_URL"), or NULL for
				 * the default; static */
	const char *token_origin;	/* where @token came from ("--token", "$ANEMOS_TOKEN", the
				 * file's path), or NULL; not owned */
	int json;		/* print the API's JSON answers instead of human output */
	const char *ca;		/* PEM file of the CAs that may sign anemosd's certificate (--ca,
				 * $ANEMOS_CA), or NULL for the system's; not owned */
};

/* main.c */

/* Prints the calling thread's message (lib/errors.h's err_msg(), set by a function that failed)
 * on stderr, a line "anemosctl: ..." for each of its lines, and empties it; nothing when
 * there is none. run_command does it for the command's failure; a caller that says more
 * after a failure, or goes on, does it first. */
void ctl_print_error(void);

/* Whether @text starts with http:// or https://. */
bool is_http_url(const char *text);
/*
 * Makes @url (http:// or https://, trailing slashes dropped) the anemosd that @ctl talks to,
 * @origin (static, or NULL for the default) saying where it came from; the old URL is freed.
 * Returns 0, or -EINVAL (not an http(s) URL) or -ENOMEM, with the message; @ctl is unchanged then.
 */
int ctl_set_url(struct ctl *ctl, const char *url, const char *origin);

/*
 * Parses the options of one command: argv[0] is the command's verb, @options its long
 * options (ended by a zero entry). @handle is called once per option in command-line order
 * with @ctx; later options override earlier ones. Then between @min and @max positional
 * arguments must remain. Returns the index in argv of the first positional argument, or
 * -EINVAL (or the handler's error) with the words of what is wrong.
 */
int parse_command(int argc, char **argv, const struct option *options,
		  int (*handle)(void *ctx, int option, const char *arg), void *ctx,
		  int min, int max);

/*
 * Checks that @value of @option is one of the NULL-terminated @choices.
 * Returns 0, or -EINVAL after naming the allowed values.
 */
int check_choice(const char *option, const char *value, const char *const *choices);

/* client.c */

/*
 * Sends one request to anemosd: @method on @path (starting with "/api/v1"), with @body as
 * JSON when non-NULL (not consumed). On a 2xx answer returns 0 and sets *@reply to the
 * parsed answer (NULL when the answer is empty, as for 204); the caller owns it. Every
 * failure (no connection, an HTTP error status, an answer that is not JSON) returns a
 * negative errno other than -EINVAL with the message (lib/errors.h: err_set; anemosd's words,
 * and a next step on a line of its own; run_command prints it): -EEXIST for a 409 (a
 * conflict: the thing exists, or its state refuses), -EREMOTEIO for the other error statuses.
 */
int api_call(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, json_t **reply);

/* GETs @path (outside /api/v1 too; with the admin token when there is one) and sets *@text
 * to the answer's body, which must be a 200. Answers like api_call(); the caller frees
 * *@text. */
int api_get_text(const struct ctl *ctl, const char *path, char **text);

/*
 * Called for each event of an event stream with its @name ("message" when it has none) and
 * its @data (the "data:" lines joined by '\n'), both valid during the call only; and once,
 * with both NULL, when the stream opens: whatever happens from then on is told. It runs
 * inside event_stream_wait(), within libcurl: it must not make requests itself.
 */
typedef void event_handler(void *ctx, const char *name, const char *data);

/* A GET of a server-sent event stream (text/event-stream), read as it comes. */
struct event_stream;

/*
 * Starts reading @path as an event stream, @on_event to be called with @ctx. Nothing is
 * sent before the first event_stream_wait(). No overall time limit, but a stream silent for
 * longer than anemosd's keepalives allow is given up. Returns 0 and sets *@stream, which the
 * caller releases with event_stream_free(), or a negative errno with the message.
 */
int event_stream_open(const struct ctl *ctl, const char *path, event_handler *on_event, void *ctx,
		      struct event_stream **stream);

/*
 * Reads what @stream has for at most @timeout_ms milliseconds, handing each complete event
 * to its handler. Returns 0 while the stream goes on; -EPIPE once a stream that had opened
 * ended, for whatever reason (no message: the caller may open another); or, when it never
 * opened, a negative errno with the message saying why (anemosd unreachable, an HTTP error).
 */
int event_stream_wait(struct event_stream *stream, int timeout_ms);

/* Closes @stream and releases everything it holds; nothing for NULL. */
void event_stream_free(struct event_stream *stream);

/*
 * Streams @size bytes of @file, from its current position, as the body of a PUT on @path
 * (application/octet-stream), showing progress when stderr is a terminal. No overall time
 * limit, but a stalled transfer is given up. Answers like api_call().
 */
int api_upload(const struct ctl *ctl, const char *path, FILE *file, uint64_t size,
	       json_t **reply);

/*
 * Percent-encodes @text for use in a URL path segment or query value.
 * Returns a string the caller frees with free(), or NULL (with the message) when out of memory.
 */
char *url_escape(const char *text);

/*
 * Returns the array member @key of anemosd's @answer, or NULL after printing a warning that
 * the answer lacks it (callers that list go on with nothing). The array lives as long as
 * @answer.
 */
const json_t *answer_array(const json_t *answer, const char *key);

/*
 * Sets @object's member @key to @value, taking ownership of @value, which may be NULL when
 * its constructor ran out of memory. Returns 0 or -ENOMEM (with the message).
 */
int json_set(json_t *object, const char *key, json_t *value);

/*
 * Makes *@value a new JSON string of @text, owned by the caller.
 * Returns 0, -EINVAL (with the message) when @text is not UTF-8, or -ENOMEM (with the message).
 */
int json_text_new(const char *text, json_t **value);

/* Sets @object's member @key to the string @text. Returns like json_text_new(). */
int json_set_text(json_t *object, const char *key, const char *text);

/* input.c */

/*
 * Reads the whole file @path (or anything open() reads: a pipe, /dev/stdin), at most @max
 * bytes. Returns 0 and sets *@data to its contents followed by a NUL, which the caller
 * frees, and *@len to its length without that NUL; or a negative errno (with the message: -EFBIG
 * when it is longer than @max), with *@data NULL.
 */
int read_file(const char *path, size_t max, char **data, size_t *len);

/*
 * Asks for root's password on the terminal (/dev/tty, not echoed), twice, naming @whose
 * host, and sets @hash (of @size bytes) to its SHA-512 crypt(3) hash with a random salt;
 * the password itself is wiped from memory. Returns 0, -EINTR on Ctrl-C, or another
 * negative errno (with the message): no terminal, an empty password, two that differ.
 */
int password_prompt_hash(const char *whose, char *hash, size_t size);

/* output.c */

#define TABLE_MAX_COLUMNS 10

/* Rows of text printed in aligned columns; the first row is the header. */
struct table {
	size_t columns;				/* cells per row, at most TABLE_MAX_COLUMNS */
	size_t rows;				/* rows added, the header included */
	size_t room;				/* rows that @cells has room for */
	char **cells;				/* rows * columns copies; owned */
	size_t width[TABLE_MAX_COLUMNS];	/* widest cell of each column, in characters */
	/* The colour of a body cell of @colour_column on a terminal (an SGR code such as
	 * "32"), or NULL; set by the caller after table_init, NULL by default. */
	const char *(*colour)(const char *cell);
	size_t colour_column;
};

/* Starts @table with the @columns cells of @header. Returns 0 or -ENOMEM (with the message). */
int table_init(struct table *table, size_t columns, const char *const *header);

/* Appends a row, copying its table->columns @cells. Returns 0 or -ENOMEM (with the message). */
int table_add_row(struct table *table, const char *const *cells);

/*
 * Prints @table to stdout, columns two spaces apart, the last one unpadded. On a terminal
 * the table is fitted to its width (the widest columns cut, a cut cell ending in "~") and
 * @colour colours its column, unless NO_COLOR is set or TERM is "dumb"; in a pipe every
 * cell is whole and no escape sequence is written.
 */
void table_print(struct table *table);

/* The characters of UTF-8 @text (bytes that do not continue a sequence). */
size_t text_width(const char *text);

/* Releases everything @table holds; safe on a table whose init failed. */
void table_free(struct table *table);

/*
 * Prints @text to stdout with control characters shown as '?' (names and messages come
 * from the machines being provisioned, and must not drive the operator's terminal), then
 * spaces up to @width bytes.
 */
void print_text(const char *text, size_t width);

/* Prints @json to stdout, indented by two, followed by a newline; nothing for NULL. */
void print_json(const json_t *json);

/*
 * Returns the string member @key of @object for display: "-" when it is missing, null,
 * empty or not a string. The result lives as long as @object.
 */
const char *json_text(const json_t *object, const char *key);

/* Writes @bytes as "512 B", "1.5 KiB", "3.0 GiB"... into @buf of @len bytes. */
void format_size(char *buf, size_t len, uint64_t bytes);

/* Prints one of a host's events (as GET /api/v1/hosts/REF/events has them) on one line:
 * time, level, phase, message, and the bytes done of the total when it carries them. */
void print_event(const json_t *event);

/* A progress line on stderr for a long transfer; drawn only when stderr is a terminal. */
struct progress {
	const char *label;		/* what is happening, e.g. "uploading"; not owned */
	uint64_t total;			/* bytes expected; 0 when unknown */
	int shown;			/* stderr is a terminal, so the line is drawn */
	struct timespec start;		/* CLOCK_MONOTONIC time of progress_start() */
	struct timespec drawn;		/* when the line was last drawn */
};

/* Starts @progress for @total bytes. */
void progress_start(struct progress *progress, const char *label, uint64_t total);

/* Redraws the line for @done bytes, at most ten times a second. */
void progress_update(struct progress *progress, uint64_t done);

/* Draws the final state for @done bytes and ends the line; later calls do nothing. */
void progress_end(struct progress *progress, uint64_t done);

/* cmd_host.c: "host" commands; argv[0] is the verb. */

/*
 * Returns "/api/v1/hosts/REF" followed by @suffix, with @ref escaped, for the caller to
 * free; NULL (with the message) when out of memory.
 */
char *host_path(const char *ref, const char *suffix);

int host_list(struct ctl *ctl, int argc, char **argv);
int host_show(struct ctl *ctl, int argc, char **argv);
int host_add(struct ctl *ctl, int argc, char **argv);
int host_set(struct ctl *ctl, int argc, char **argv);
int host_rm(struct ctl *ctl, int argc, char **argv);
int host_events(struct ctl *ctl, int argc, char **argv);
int host_history(struct ctl *ctl, int argc, char **argv);
/* host_columns.c: prints hosts with the columns of list ("hostname,status,tag,rack"; NULL:
 * the default ones; a name that is no column is an attribute) as an aligned table, or with
 * csv as CSV with a header line. Returns 0 or a negative errno (with the message). */
int print_host_list(const json_t *hosts, const char *list, bool csv);
/* The strings of array joined by separator, malloc'd ("-" for an empty or missing array);
 * NULL (with the message) when out of memory. */
char *join_texts(const json_t *array, const char *separator);

/* cmd_power.c */

/* --bmc ipmi://USER@ADDRESS[:PORT] into @body's "bmc" object. 0, -EINVAL or -ENOMEM (with the message). */
int bmc_url_option(json_t *body, const char *url);
/* --bmc-password-file PATH: its one line into @body's "bmc" object (the copy read is
 * wiped). 0 or a negative errno (with the message). */
int bmc_password_option(json_t *body, const char *path);
/* --bmc-insecure: a Redfish BMC's certificate is not verified. 0 or -ENOMEM (with the message). */
int bmc_insecure_option(json_t *body);
int host_power(struct ctl *ctl, int argc, char **argv);
int host_reinstall(struct ctl *ctl, int argc, char **argv);

/* cmd_import.c: "host import FILE.csv|FILE.json", every host in one all-or-nothing request. */
int host_import(struct ctl *ctl, int argc, char **argv);

/* follow.c */

/*
 * "host events REF --follow": prints the host's last @limit events (0: anemosd's default),
 * then each new one as it happens, with a progress bar redrawn in place when stdout is a
 * terminal (plain lines otherwise, one JSON object a line with --json). Returns 0 once the
 * host got to deployed (from another status, or through an install that reported
 * progress), or a negative errno (with the message) once it got to failed so, after @timeout
 * seconds (0: no limit), or when anemosd cannot be reached any more; -EINTR on Ctrl-C.
 */
int follow_host(const struct ctl *ctl, const char *ref, int limit, long timeout);

/* cmd_status.c: "status", the appliance at a glance. */
int appliance_status(struct ctl *ctl, int argc, char **argv);

/* cmd_webhook.c: "webhook" commands; argv[0] is the verb. "webhook test" fails (exit 1)
 * when the ping was not delivered. */
int webhook_add(struct ctl *ctl, int argc, char **argv);
int webhook_list(struct ctl *ctl, int argc, char **argv);
int webhook_show(struct ctl *ctl, int argc, char **argv);
int webhook_rm(struct ctl *ctl, int argc, char **argv);
int webhook_test(struct ctl *ctl, int argc, char **argv);

/* cmd_image.c: "image" commands; argv[0] is the verb. */
int image_list(struct ctl *ctl, int argc, char **argv);
int image_add(struct ctl *ctl, int argc, char **argv);
int image_rm(struct ctl *ctl, int argc, char **argv);
int search_list(struct ctl *ctl, int argc, char **argv);
int search_save(struct ctl *ctl, int argc, char **argv);
int search_rm(struct ctl *ctl, int argc, char **argv);
/*
 * Runs cli/recipe-bundle.sh over @dir, writing the bundle to @out; its first line of output
 * (the recipe's name) goes to @name (@namesz bytes). Returns 0, -ENOEXEC (the script said
 * why on stderr) or -errno. The caller owns @out and removes it.
 */
int bundle_recipe(const char *dir, const char *out, char *name, size_t namesz);

/* cmd_remote.c: reinstall, rescue and adopt over SSH (argv[0] is the command). */
int remote_reinstall(struct ctl *ctl, int argc, char **argv);
int remote_rescue(struct ctl *ctl, int argc, char **argv);
int remote_adopt(struct ctl *ctl, int argc, char **argv);
/* Where and how a host is booted into the Anemos environment over SSH; strings not owned. */
struct remote_boot {
	const char *ssh;	/* [user@]host[:port] */
	const char *image;	/* the image to install (mode install), or NULL for the host's */
	const char *method;	/* auto, kexec, bootloader; NULL: auto */
	const char *network;	/* auto, dhcp, static; NULL: auto */
	bool followed;		/* the caller follows the host: no "follow it with" line */
	bool keep_host_keys;	/* the new system keeps the host's SSH host keys (kexec.sh
				 * carries them in the archive with the token) */
};
/*
 * Arms host @ref on anemosd for @mode ("install" or "rescue": POST /api/v1/hosts/REF/kexec,
 * a fresh agent token) and runs anemosd's /kexec.sh on the target with its settings on
 * stdin. On a refusal the host is disarmed again. 0 once the target is booting, or -errno
 * (with the message: -EIO when the target refused or could not be reached).
 */
int remote_boot(struct ctl *ctl, const char *ref, const char *mode, const struct remote_boot *o);
/*
 * Runs anemos-inventory on the host at @ssh (sending @inventory, or the static build beside
 * anemosctl, when it has none) and registers the result onto host @ref, or a new host when
 * @ref is NULL. anemosd's answer (the host) goes to @host, the caller's to free. 0 or -errno
 * (with the message; -EEXIST when the inventory names a known host and @ref is NULL).
 */
int remote_adopt_host(struct ctl *ctl, const char *ssh, const char *inventory, const char *ref, json_t **host);
/* Runs a command as root on the target: directly when logged in as root, else with sudo -n. */
#define AS_ROOT(cmd) \
	"if [ \"$(id -u)\" = 0 ]; then " cmd "; else sudo -n " cmd "; fi"
/* True when @dest ("[user@]host[:port]") is a usable --ssh target; otherwise says why. */
bool ssh_dest_valid(const char *dest);
/*
 * Runs ssh ($ANEMOS_SSH, else "ssh") to @dest with @remote as the command, feeding it @input
 * (@len bytes) on stdin. With @output non-NULL the command's stdout is collected there
 * (malloc'd, NUL-ended; the caller frees it), else it goes to ours. Returns ssh's exit
 * status (255: ssh itself failed), or a negative errno (with the message).
 */
int run_ssh(const char *dest, const char *remote, const char *input, size_t len, char **output);
/* Returns -EIO with the words for run_ssh's non-zero @status: "@what (exit N)[: ssh failed]@more",
 * after run_ssh's own words when @status is negative (a pipe or fork that failed). */
int ssh_failure(int status, const char *what, const char *more);
/* Appends NAME='VALUE' (single quotes escaped) to the stream @f: a shell assignment. */
void put_var(FILE *f, const char *name, const char *value);
/* Appends the settings every run of kexec.sh gets alike: ANEMOS_MEMORY_FLOOR_MIB, from
 * $ANEMOS_MEMORY_FLOOR_MIB when that is 1-4 digits without a leading zero (make test-slow measures below the stated
 * floor with it), else empty (kexec.sh's floor). */
void put_common_vars(FILE *f);

/* cmd_deploy.c: deploy over SSH with no anemosd (argv[0] is the command). */
int deploy_ssh(struct ctl *ctl, int argc, char **argv);

/* cmd_rule.c: "rule" commands (discovery rules); argv[0] is the verb. */
int rule_add(struct ctl *ctl, int argc, char **argv);
int rule_list(struct ctl *ctl, int argc, char **argv);
int rule_show(struct ctl *ctl, int argc, char **argv);
int rule_rm(struct ctl *ctl, int argc, char **argv);
int rule_test(struct ctl *ctl, int argc, char **argv);

/* cmd_dnsmasq.c: "dnsmasq config", which needs no anemosd. */
int dnsmasq_config(struct ctl *ctl, int argc, char **argv);

#endif

/*
 * anemosctl host events REF --follow: a host's events as they happen. anemosd's event
 * stream (GET /api/v1/events/stream) tells which hosts changed, by id; for this host the
 * new events are then fetched (GET /api/v1/hosts/ID/events) and printed, and its status
 * (GET /api/v1/hosts/ID) says when to stop: once it got to deployed or failed from another
 * status, or back to the one it had after an install that reported progress (a whole
 * install can run between two looks at a quick machine). On a terminal, a run of events
 * that carry bytes and a total is one progress bar, redrawn in place.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "anemosctl.h"
#include "lifecycle.h"

#define WAIT_STEP_MS	250	/* longest wait on the stream between checks of Ctrl-C and --timeout */
#define RECENT_EVENTS	50	/* events asked for after a change; all of them when these are all new */
#define ALL_EVENTS	1000	/* the most a host keeps */
#define BAR_CELLS	24	/* width of the progress bar itself, in characters */
#define LINE_MAX_WIDTH	512	/* widest progress line drawn, in bytes */
#define DEFAULT_COLUMNS	80	/* terminal width when the terminal does not say */

/* One host being followed. */
struct host_follow {
	const struct ctl *ctl;
	json_int_t id;			/* the host's id: the stream names hosts by id */
	char path[64];			/* "/api/v1/hosts/ID" */
	char name[256];			/* the host as messages name it: its hostname, else REF */
	enum host_status start;		/* its status when following began */
	bool moved;			/* its status has been other than @start since */
	bool following;			/* the past events are printed: new ones come now */
	bool progressed;		/* a new event carried bytes: an install ran */
	enum host_status status;	/* its status when last asked */
	json_int_t last_event;		/* the id of the newest event printed, 0 before any */
	bool changed;			/* the stream told of a change not fetched yet */
	bool terminal;			/* stdout is a terminal: progress is drawn as a bar */
	bool bar_drawn;			/* the bar is the terminal's last line, not ended */
};

static volatile sig_atomic_t interrupted;	/* Ctrl-C was pressed */

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* event_handler of the stream: notes a change to the host followed, or to every host. */
static void stream_event(void *ctx, const char *name, const char *data)
{
	struct host_follow *f = ctx;
	json_t *message;

	if (!name || strcmp(name, "resync") == 0) {
		/* Opened (everything from now on is told), or fell behind: ask anyway. */
		f->changed = true;
	} else if (strcmp(name, "host") == 0 && (message = json_loads(data, 0, NULL))) {
		if (json_integer_value(json_object_get(message, "id")) == f->id)
			f->changed = true;
		json_decref(message);
	}
}

/* Returns the terminal's width in columns. */
static size_t terminal_columns(void)
{
	struct winsize size;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
		return size.ws_col;
	return DEFAULT_COLUMNS;
}

/* Draws @event's progress as the terminal's last line, in place of the line there. */
static void draw_bar(struct host_follow *f, const json_t *event, uint64_t bytes, uint64_t total)
{
	char line[LINE_MAX_WIDTH], done[16], all[16];
	unsigned percent = bytes >= total ? 100 : (unsigned)(bytes * 100 / total);
	size_t width = terminal_columns(), cells = percent * BAR_CELLS / 100, len, i;
	const char *message = json_text(event, "message");

	format_size(done, sizeof(done), bytes);
	format_size(all, sizeof(all), total);
	len = (size_t)snprintf(line, sizeof(line), "%s [", json_text(event, "phase"));
	for (i = 0; i < BAR_CELLS && len + 1 < sizeof(line); i++)
		line[len++] = i < cells ? '#' : '.';
	snprintf(line + len, sizeof(line) - len, "] %3u%%  %s / %s  %s", percent, done, all, message);
	/* One line, narrower than the terminal, with no control character from the machine. */
	if (width > sizeof(line))
		width = sizeof(line);
	line[width - 1] = '\0';
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	printf("\r%s\033[K", line);
	f->bar_drawn = true;
}

/* Prints one new event: a JSON line with --json, the bar for progress on a terminal, else a line. */
static void show_event(struct host_follow *f, const json_t *event)
{
	json_int_t bytes = json_integer_value(json_object_get(event, "bytes"));
	json_int_t total = json_integer_value(json_object_get(event, "total"));

	if (f->ctl->json) {
		if (json_dumpf(event, stdout, JSON_COMPACT) == 0)
			putchar('\n');
		return;
	}
	if (f->terminal && json_is_integer(json_object_get(event, "bytes")) && bytes >= 0 && total > 0) {
		draw_bar(f, event, (uint64_t)bytes, (uint64_t)total);
		return;
	}
	if (f->bar_drawn) {
		putchar('\n');	/* the bar stays as it last was, above what follows */
		f->bar_drawn = false;
	}
	print_event(event);
}

/*
 * Prints the host's events newer than the last one printed: of its last @limit (0:
 * anemosd's default), or when @limit is negative, of as many as it takes. Returns 0 or a
 * negative errno (with the message).
 */
static int print_new_events(struct host_follow *f, int limit)
{
	char path[96];
	const json_t *events, *event;
	json_t *answer = NULL;
	size_t i;
	int rc;

	for (int ask = limit < 0 ? RECENT_EVENTS : limit;; ask = ALL_EVENTS) {
		if (ask > 0)
			snprintf(path, sizeof(path), "%s/events?limit=%d", f->path, ask);
		else
			snprintf(path, sizeof(path), "%s/events", f->path);
		json_decref(answer);
		if ((rc = api_call(f->ctl, "GET", path, NULL, &answer)) != 0)
			return rc;
		if (!(events = answer_array(answer, "events"))) {
			json_decref(answer);
			return -EPROTO;
		}
		/* All of the recent ones new: there may be more between them and the last printed. */
		if (limit >= 0 || ask == ALL_EVENTS || json_array_size(events) < (size_t)ask ||
		    json_integer_value(json_object_get(json_array_get(events, 0), "id")) <= f->last_event)
			break;
	}
	json_array_foreach(events, i, event) {
		json_int_t id = json_integer_value(json_object_get(event, "id"));

		if (id > f->last_event) {
			show_event(f, event);
			f->last_event = id;
			if (f->following && json_is_integer(json_object_get(event, "bytes")))
				f->progressed = true;
		}
	}
	json_decref(answer);
	fflush(stdout);
	return 0;
}

/* Asks for the host's status into f->status. Returns 0 or a negative errno (with the message). */
static int read_status(struct host_follow *f, const char *path)
{
	json_t *host = NULL;
	int rc;

	if ((rc = api_call(f->ctl, "GET", path, NULL, &host)) != 0)
		return rc;
	if (host_status_parse(json_string_value(json_object_get(host, "status")), &f->status) != 0) {
		rc = err_set(-EPROTO, "anemosd's answer has no known host status; is --url pointing at anemosd?");
	}
	if (rc == 0 && f->id == 0) {
		f->id = json_integer_value(json_object_get(host, "id"));
		if (json_string_value(json_object_get(host, "hostname")))
			snprintf(f->name, sizeof(f->name), "%s", json_string_value(json_object_get(host, "hostname")));
		snprintf(f->path, sizeof(f->path), "/api/v1/hosts/%" JSON_INTEGER_FORMAT, f->id);
	}
	json_decref(host);
	return rc;
}

/* True once the host got to deployed or failed from another status, or through an install. */
static bool finished(struct host_follow *f)
{
	if (f->status != f->start)
		f->moved = true;
	return (f->moved || f->progressed) && (f->status == HOST_DEPLOYED || f->status == HOST_FAILED);
}

/* Seconds since @start on CLOCK_MONOTONIC. */
static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Follows the host of @f until it finished, or as follow_host() says otherwise. */
static int follow_loop(struct host_follow *f, long timeout)
{
	struct event_stream *stream = NULL;
	struct timespec start, pause = { 1, 0 };
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (rc == 0) {
		if (interrupted) {
			rc = -EINTR;
			break;
		}
		if (timeout && seconds_since(&start) >= (double)timeout) {
			rc = err_set(-ETIMEDOUT, "host %s is still %s after %ld s (--timeout)", f->name, host_status_name(f->status),
						 timeout);
			break;
		}
		if (!stream && (rc = event_stream_open(f->ctl, "/api/v1/events/stream", stream_event, f, &stream)) != 0)
			break;
		rc = event_stream_wait(stream, WAIT_STEP_MS);
		if (rc == -EPIPE) {
			/* anemosd ended the stream (a restart?): another one, after a pause. */
			event_stream_free(stream);
			stream = NULL;
			nanosleep(&pause, NULL);
			rc = 0;
			continue;
		}
		if (rc == 0 && f->changed) {
			f->changed = false;
			if ((rc = print_new_events(f, -1)) == 0 && (rc = read_status(f, f->path)) == 0 && finished(f))
				break;
		}
	}
	event_stream_free(stream);
	return rc;
}

int follow_host(const struct ctl *ctl, const char *ref, int limit, long timeout)
{
	struct host_follow f = { .ctl = ctl, .terminal = isatty(STDOUT_FILENO) && !ctl->json };
	struct sigaction interrupt = { .sa_handler = on_interrupt }, previous;
	char *path;
	int rc;

	snprintf(f.name, sizeof(f.name), "%s", ref);
	if (!(path = host_path(ref, "")))
		return -ENOMEM;
	rc = read_status(&f, path);
	free(path);
	if (rc != 0)
		return rc;
	f.start = f.status;
	if ((rc = print_new_events(&f, limit)) != 0)
		return rc;
	f.following = true;
	/* Ctrl-C ends the loop rather than the program, so that the bar's line is ended. */
	interrupted = 0;
	sigemptyset(&interrupt.sa_mask);
	sigaction(SIGINT, &interrupt, &previous);
	rc = follow_loop(&f, timeout);
	sigaction(SIGINT, &previous, NULL);
	if (rc < 0 && f.bar_drawn) /* said where the bar stopped, as ever */
		ctl_print_error();
	if (f.bar_drawn)
		putchar('\n');
	if (rc == 0 && f.status == HOST_FAILED) {
		rc = err_set(-ECANCELED, "host %s failed: the events above say why", f.name);
	} else if (rc == 0 && !ctl->json) {
		fputs("host ", stdout);
		print_text(f.name, 0);
		printf(" is %s\n", host_status_name(f.status));
	}
	return rc;
}

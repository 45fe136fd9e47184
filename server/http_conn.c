/*
 * The header deadline: a request must have sent its complete headers within
 * cfg.header_timeout seconds of its connection's opening (or, on a kept-alive connection, of
 * the previous answer), however it trickles them. libmicrohttpd's own timeout is an idle
 * timeout that every byte renews, so a client sending a byte now and then (slowloris) would
 * hold its connection for good. libmicrohttpd has no such deadline and no call that closes a
 * connection from outside, so this file keeps one deadline per connection (through
 * MHD_OPTION_NOTIFY_CONNECTION) and a thread shuts down the socket of each connection past
 * it; libmicrohttpd then reads the end of the stream and closes the connection itself.
 *
 * The same thread, once a second, trims the heap when a request asked (conn_heap_trim_soon).
 *
 * A connection is forgotten (under the lock) in libmicrohttpd's CLOSED notification, which
 * comes before it closes the socket: the thread never shuts down a descriptor number that
 * has been reused for another file.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"
#include "log.h"

struct tracked {
	int fd;
	time_t deadline; /* CLOCK_MONOTONIC seconds; 0 while a request is being handled */
	struct tracked *prev, *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct tracked *tracked;
static pthread_t guard;
static bool running, stopping;
static atomic_bool trim_due;

void conn_heap_trim_soon(void)
{
	atomic_store(&trim_due, true);
}

static time_t monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct tracked *tracked_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		 enum MHD_ConnectionNotificationCode code)
{
	struct tracked *t = *socket_context;
	const union MHD_ConnectionInfo *info;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		/* Without memory the connection goes unwatched: its idle timeout still ends it. */
		if (!info || !(t = calloc(1, sizeof(*t))))
			return;
		t->fd = info->connect_fd;
		t->deadline = monotonic_now() + cfg.header_timeout;
		pthread_mutex_lock(&lock);
		t->next = tracked;
		if (tracked)
			tracked->prev = t;
		tracked = t;
		pthread_mutex_unlock(&lock);
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	pthread_mutex_lock(&lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		tracked = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&lock);
	free(t);
	*socket_context = NULL;
}

static void deadline_set(struct MHD_Connection *conn, time_t deadline)
{
	struct tracked *t = tracked_of(conn);

	if (!t)
		return;
	pthread_mutex_lock(&lock);
	t->deadline = deadline;
	pthread_mutex_unlock(&lock);
}

void conn_request_begins(struct MHD_Connection *conn)
{
	deadline_set(conn, 0);
}

void conn_body_deadline(struct MHD_Connection *conn)
{
	deadline_set(conn, monotonic_now() + 6 * (time_t)cfg.header_timeout);
}

void conn_request_ends(struct MHD_Connection *conn)
{
	deadline_set(conn, monotonic_now() + cfg.header_timeout);
}

/* Once a second, shuts down the connections past their deadline, and trims the heap when
 * asked. */
static void *guard_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		time_t now = monotonic_now();
		unsigned closed = 0;

		for (struct tracked *t = tracked; t; t = t->next) {
			int unsent = 0;

			if (!t->deadline || now < t->deadline)
				continue;
			/* The answer before is still on its way (bytes of it are in the socket's send
			 * queue, unacknowledged): the client cannot be blamed for not asking again yet.
			 * The deadline runs from when it has all been taken. Seen with 1,000 downloads
			 * of 16 MiB at once: a connection's last megabytes took over 10 s to drain. */
			if (ioctl(t->fd, SIOCOUTQ, &unsent) == 0 && unsent > 0) {
				t->deadline = now + cfg.header_timeout;
				continue;
			}
			shutdown(t->fd, SHUT_RDWR);
			t->deadline = 0;
			closed++;
		}
		if (closed)
			log_info("closed %u connection%s that sent no complete request within %u s", closed,
				 closed == 1 ? "" : "s", cfg.header_timeout);
		if (atomic_exchange(&trim_due, false)) {
			/* malloc_trim walks every arena under its lock: not under ours */
			pthread_mutex_unlock(&lock);
			malloc_trim(0);
			pthread_mutex_lock(&lock);
			if (stopping)
				break; /* its signal came while the lock was not held */
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&wake, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int conn_guard_start(void)
{
	int rc;

	stopping = false;
	rc = pthread_create(&guard, NULL, guard_main, NULL);
	if (rc)
		return err_set(-rc, "cannot start the header deadline thread");
	running = true;
	return 0;
}

void conn_guard_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(guard, NULL);
	running = false;
}

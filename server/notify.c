/*
 * Change notification: operations call notify_host_changed() after they commit, and whoever
 * waits for hosts to change (long-polled agent plans today; the dashboard's event stream
 * later) sleeps in notify_wait() instead of polling the database.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "anemosd.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static uint64_t generation;

void notify_host_changed(int64_t host_id)
{
	(void)host_id;
	pthread_mutex_lock(&lock);
	generation++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

uint64_t notify_generation(void)
{
	uint64_t g;

	pthread_mutex_lock(&lock);
	g = generation;
	pthread_mutex_unlock(&lock);
	return g;
}

uint64_t notify_wait(uint64_t seen, int timeout_ms)
{
	struct timespec until;
	uint64_t g;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	while (generation == seen)
		if (pthread_cond_timedwait(&changed, &lock, &until) == ETIMEDOUT)
			break;
	g = generation;
	pthread_mutex_unlock(&lock);
	return g;
}

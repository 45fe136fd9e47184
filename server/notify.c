/*
 * Change notification: operations call notify_host_changed() after they commit. Waiters
 * (long-polled agent plans, the dashboard's event stream) sleep in notify_wait() instead of
 * polling the database, and ask notify_since() which hosts changed while they slept.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "anemosd.h"

#define RING 1024 /* changes remembered for readers that fall behind */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static uint64_t generation;
static int64_t ring[RING]; /* ring[g % RING]: the host of change number g */

void notify_host_changed(int64_t host_id)
{
	pthread_mutex_lock(&lock);
	generation++;
	ring[generation % RING] = host_id;
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

int notify_since(uint64_t *seen, int64_t *ids, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	if (generation - *seen > RING || generation - *seen > max) {
		*seen = generation;
		pthread_mutex_unlock(&lock);
		return -ERANGE;
	}
	for (uint64_t g = *seen + 1; g <= generation; g++) {
		size_t i;

		for (i = 0; i < n && ids[i] != ring[g % RING]; i++)
			;
		if (i == n && ring[g % RING] != 0) /* 0: a wake-up that names no host */
			ids[n++] = ring[g % RING];
	}
	*seen = generation;
	pthread_mutex_unlock(&lock);
	return (int)n;
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

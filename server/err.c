#include <stdarg.h>
#include <stdio.h>

#include "anemosd.h"

/* Each worker thread handles one request at a time, so a thread-local message is enough to
 * carry "why" from an operation back to the HTTP edge next to its return code. */
static __thread char message[512];

int err_set(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return rc;
}

const char *err_msg(void) { return message; }
void err_clear(void) { message[0] = '\0'; }

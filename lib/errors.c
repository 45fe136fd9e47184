#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

/* Each anemosd worker handles one request at a time, and the other programs do their work on
 * one thread: a thread-local message carries "why" from an operation back to the edge next to
 * its return code (errors.h). */
static __thread char message[2048];

int err_set(int rc, const char *fmt, ...)
{
	char text[sizeof(message)];
	va_list ap;

	/* Formatted aside first: the arguments may be err_msg() itself (a wrapped message). */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memcpy(message, text, sizeof(message));
	return rc;
}

int err_add(int rc, const char *fmt, ...)
{
	size_t used = strlen(message);
	va_list ap;

	if (used > 0 && used < sizeof(message) - 1)
		message[used++] = '\n';
	va_start(ap, fmt);
	vsnprintf(message + used, sizeof(message) - used, fmt, ap);
	va_end(ap);
	return rc;
}

const char *err_msg(void) { return message; }
void err_clear(void) { message[0] = '\0'; }

/* lib/errors.h (not err.h: <err.h> is the C library's warn/err, which anemosctl uses).
 *
 * The one error convention of every Anemos program (anemosd, anemosctl, anemos-agent,
 * anemos-mkimg, anemos-inventory):
 *
 *   A function that can fail returns 0 (or a count, a length: >= 0) on success and -errno on
 *   failure (-EINVAL for bad input, -ENOENT for what is not there, -EIO for what went wrong
 *   outside, -ENOMEM, ...). It never returns -1, and it never prints.
 *   The words for the person who reads them go with the code through err_set():
 *   `return err_set(-EINVAL, "disk %s: no such device", name);` fails with both. A caller
 *   that adds context wraps the message (err_set(rc, "install: %s", err_msg())) or adds a
 *   line after it (err_add(rc, "nothing enrolled")), one that handles the failure drops it
 *   (err_clear()). anemosctl prints each line of the message as a line "anemosctl: ...".
 *   Only the edge prints or sends err_msg(): anemosd's HTTP answer, anemosctl's and the
 *   tools' main(), the agent's report to anemosd.
 *   Functions that return a pointer return NULL for failure, with errno set and, where a
 *   person needs more than strerror(errno), the message set.
 *
 * The message is thread-local: each anemosd worker handles one request at a time, and the
 * other programs have one thread that does the work.
 */
#ifndef ANEMOS_ERRORS_H
#define ANEMOS_ERRORS_H

/* Sets the calling thread's message (printf-formatted, cut at 2,047 bytes) and returns rc, so
 * that `return err_set(-EINVAL, "...")` fails with both; it cannot fail itself. The message
 * may name err_msg() itself (err_set(rc, "x: %s", err_msg()) wraps it). */
int err_set(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a line to the calling thread's message (the whole message when it is empty) and
 * returns rc: a caller that says more after the words of what failed inside it. The
 * arguments must not name err_msg(). */
int err_add(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's message ("" before its first err_set): a thread-local buffer, not to
 * be freed, valid until that thread's next err_set or err_clear. */
const char *err_msg(void);
/* Empties the calling thread's message. */
void err_clear(void);

#endif

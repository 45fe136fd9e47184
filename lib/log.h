/* Logging to stderr, one line per message, shared by every Anemos program. */
#ifndef ANEMOS_LOG_H
#define ANEMOS_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug": its level, or -EINVAL (no message) for anything
 * else. */
int log_level_parse(const char *name);
int log_enabled(enum log_level level);
/* Writes "TIME LEVEL message" to stderr; control characters in the message are escaped so
 * that a client-chosen string can never forge a log line. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs and exits with status 1: for failures before serving. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif

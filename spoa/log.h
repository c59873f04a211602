/* log.h - leveled logging to stderr, one line per call, safe from any thread.
 *
 * The only module that writes to stderr. Callers never pass a token, secret or
 * Authorization value: use a fingerprint (tcache_fingerprint()) instead. */
#ifndef OAUTH2_SPOA_LOG_H
#define OAUTH2_SPOA_LOG_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

/* Sets the most verbose level that is printed (default INFO). Call before
 * starting threads. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif

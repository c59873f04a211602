/* log.h - leveled logging to stderr or syslog, one line per call, safe from
 * any thread. Lines are "TIME LEVEL message" (logfmt, the default; structured
 * events are "TIME LEVEL event key=value ...") or one JSON object per line.
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

enum log_format {
	LOG_FMT_LOGFMT = 0,
	LOG_FMT_JSON = 1,
};

/* Output format; may change at any time (SIGHUP), lines stay whole. */
void log_set_format(enum log_format f);

/* Sends every line to syslog(3) (facility daemon, ident "oauth2-spoa")
 * instead of stderr. Call before starting threads. */
void log_use_syslog(void);

/* True when <lvl> is printed: test it before formatting a costly line. */
static inline int log_enabled(enum log_level lvl);

/* A structured line: the event name, then key=value pairs in order. Values
 * are strings (NULL is written as "-"); <num> ones are written unquoted in
 * JSON. logfmt quotes values holding spaces, '"' or '='; JSON escapes. */
struct log_kv {
	const char *key;
	const char *val;
	int num;
};
void log_event(enum log_level lvl, const char *event, const struct log_kv *kv, unsigned n);

/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline int log_enabled(enum log_level lvl)
{
	return (int)log_get_level() >= (int)lvl;
}

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif

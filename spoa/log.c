/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The one process-wide setting: written once at startup, read by all threads. */
static atomic_int log_level = LOG_LVL_INFO;

/* Set at startup and on SIGHUP, read by all threads: the same exception to
 * "no mutable globals" as log_level (stderr and syslog are process-wide). */
static atomic_int log_format = LOG_FMT_LOGFMT;
static atomic_bool log_syslog = false;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void log_set_format(enum log_format f)
{
	atomic_store(&log_format, (int)f);
}

void log_use_syslog(void)
{
	openlog("oauth2-spoa", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_syslog, true);
}

void log_set_level(enum log_level lvl)
{
	atomic_store(&log_level, (int)lvl);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

#define LINE_MAX_LEN 2048

struct line {
	char b[LINE_MAX_LEN];
	size_t n;
};

static void put(struct line *l, const char *s, size_t len)
{
	/* keep one byte for the '\n' */
	if (len > sizeof(l->b) - 1 - l->n)
		len = sizeof(l->b) - 1 - l->n;
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* JSON string contents: escapes quotes, backslashes and control bytes. */
static void put_json(struct line *l, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else {
			put(l, s, 1);
		}
	}
}

/* A logfmt value: bare when safe, else quoted with '"' and '\\' escaped and
 * control bytes replaced by '?'. */
static void put_logfmt(struct line *l, const char *s)
{
	bool quote = !*s || strpbrk(s, " \"=\t") != NULL;

	if (quote)
		put(l, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (quote && (c == '"' || c == '\\'))
			put(l, "\\", 1);
		put(l, c < 0x20 || c == 0x7f ? "?" : s, 1);
	}
	if (quote)
		put(l, "\"", 1);
}

static void begin(struct line *l, enum log_level lvl, bool json, bool to_syslog)
{
	struct timespec ts;
	struct tm tm;
	char t[48];
	size_t n;

	l->n = 0;
	if (to_syslog && !json)
		return; /* syslog stamps and levels the line itself */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t + n, sizeof(t) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	if (json) {
		puts_(l, "{\"ts\":\"");
		puts_(l, t);
		puts_(l, "\",\"level\":\"");
		puts_(l, level_names[lvl]);
		puts_(l, "\",\"msg\":\"");
	} else {
		puts_(l, t);
		put(l, " ", 1);
		puts_(l, level_names[lvl]);
		put(l, " ", 1);
	}
}

static void emit(struct line *l, enum log_level lvl, bool to_syslog)
{
	if (to_syslog) {
		syslog(syslog_prio[lvl], "%.*s", (int)l->n, l->b);
		return;
	}
	l->b[l->n++] = '\n';
	/* One write(2) per line so lines from different threads never interleave. */
	if (write(STDERR_FILENO, l->b, l->n) < 0)
		return;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	struct line l;
	char msg[LINE_MAX_LEN];
	bool json, to_syslog;
	va_list ap;

	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	json = atomic_load_explicit(&log_format, memory_order_relaxed) == LOG_FMT_JSON;
	to_syslog = atomic_load_explicit(&log_syslog, memory_order_relaxed);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	begin(&l, lvl, json, to_syslog);
	if (json) {
		put_json(&l, msg);
		puts_(&l, "\"}");
	} else {
		puts_(&l, msg);
	}
	emit(&l, lvl, to_syslog);
}

void log_event(enum log_level lvl, const char *event, const struct log_kv *kv, unsigned n)
{
	struct line l;
	bool json, to_syslog;

	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	json = atomic_load_explicit(&log_format, memory_order_relaxed) == LOG_FMT_JSON;
	to_syslog = atomic_load_explicit(&log_syslog, memory_order_relaxed);
	begin(&l, lvl, json, to_syslog);
	if (json) {
		put_json(&l, event);
		put(&l, "\"", 1);
	} else {
		puts_(&l, event);
	}
	for (unsigned i = 0; i < n; i++) {
		const char *v = kv[i].val ? kv[i].val : "-";

		if (json) {
			puts_(&l, ",\"");
			put_json(&l, kv[i].key);
			puts_(&l, "\":");
			if (!kv[i].num || !kv[i].val)
				put(&l, "\"", 1);
			put_json(&l, kv[i].val ? v : "");
			if (!kv[i].num || !kv[i].val)
				put(&l, "\"", 1);
		} else {
			put(&l, " ", 1);
			puts_(&l, kv[i].key);
			put(&l, "=", 1);
			put_logfmt(&l, v);
		}
	}
	if (json)
		put(&l, "}", 1);
	emit(&l, lvl, to_syslog);
}

/* log.h - leveled logging to stderr or syslog, safe from any thread. Lines
 * are "TIME LEVEL message" (logfmt, the default; structured events are
 * "TIME LEVEL event key=value ...") or one JSON object per line; every value
 * is escaped (log_fmt.h), so a line is always one line.
 *
 * Batching. A thread that called log_batch_begin() (the workers) formats its
 * lines into its own buffer (LOG_BATCH_MAX bytes) and writes them with
 * log_batch_flush(): a worker calls it when its loop is about to wait and
 * LOG_BATCH_FLUSH bytes wait (a line that brings that much writes them at
 * once), or the last write is LOG_BATCH_DELAY_S old; lines that come sooner
 * wait for company, so one write carries many lines at any rate, and a crash
 * loses at most LOG_BATCH_DELAY_S of them. A refused write (a full pipe) is
 * retried when the loop next waits, or after WORKER_LOG_RETRY_S. Other threads write each line at
 * once. Every write is non-blocking and holds whole lines only, under one process-wide lock, so
 * lines of different threads never interleave; a pipe gets at most PIPE_BUF bytes per write(2), so
 * other writers of the pipe cannot cut ours either. When the sink does not take them (a full pipe,
 * journald under pressure), a batching thread keeps its lines while they fit in its buffer; a line
 * that does not fit, or a direct line the sink refuses, is dropped and counted
 * (log_lines_dropped()), and once the sink takes lines again a warning says
 * how many were lost (at most one per LOG_DROP_WARN_S). Nothing ever waits
 * for the sink, except log_batch_end() at a clean stop, for a bounded time.
 *
 * The only module that writes to stderr. Callers never pass a token, secret or
 * Authorization value: use a fingerprint (tcache_fingerprint()) instead. */
#ifndef OAUTH2_SPOA_LOG_H
#define OAUTH2_SPOA_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "log_fmt.h" /* log_itoa(), the line format */

/* Sets the most verbose level that is printed (default INFO). Call before
 * starting threads. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Output format; may change at any time (SIGHUP), lines stay whole. */
void log_set_format(enum log_format f);

/* Sends every line as one datagram to the local syslog socket (/dev/log,
 * facility daemon, ident "oauth2-spoa", the RFC 3164 header syslog(3)
 * writes) instead of stderr, batched and non-blocking like stderr. Call
 * before starting threads. Returns 0, or -1 with errno when the socket
 * cannot be reached (the lines then stay on stderr). */
int log_use_syslog(void);
int log_use_syslog_at(const char *path); /* the same, another socket (tests) */

/* Sends the lines to <fd> (BORROWED; stays open while logging) instead of
 * stderr. A pipe, FIFO or terminal is reopened non-blocking through
 * /proc/self/fd (so the flags of a descriptor shared with other processes do
 * not change), and a pipe is grown to LOG_PIPE_SIZE when the kernel allows;
 * a socket is written with MSG_DONTWAIT. Call before starting
 * threads (tests). */
void log_use_fd(int fd);

#define LOG_BATCH_MAX	  (256 * 1024)	/* bytes a batching thread holds at most */
#define LOG_BATCH_FLUSH	  (64 * 1024)	/* ...and writes as soon as this much waits */
#define LOG_BATCH_DELAY_S 0.01		/* a worker writes its batch at most once per this */
#define LOG_PIPE_SIZE	  (1024 * 1024) /* a pipe sink is grown to this (F_SETPIPE_SZ) */
#define LOG_DROP_WARN_S	  10.0		/* at most one "lines dropped" warning per this */
#define LOG_STOP_WAIT_MS  2000		/* log_batch_end(): the most it waits for the sink */

/* Makes the calling thread batch its lines. Returns 0, or -1 (out of memory:
 * the thread then writes each line at once). */
int log_batch_begin(void);

/* Gives the calling batching thread a clock for its time stamps: <now>(<ctx>)
 * returns the wall-clock time in seconds, such as the ev_now() its loop caches
 * each iteration, so that a line costs no clock_gettime(); a stamp is then as
 * old as the iteration. <now> NULL: the system clock (the default). Ends with
 * log_batch_end(); does nothing on a thread that does not batch. */
void log_batch_clock(double (*now)(void *ctx), void *ctx);

/* Writes what the calling thread's buffer holds, as far as the sink takes it
 * without blocking. Returns true when lines are still waiting (retry later),
 * false when the buffer is empty or the thread does not batch. */
bool log_batch_flush(void);

/* Bytes waiting in the calling thread's buffer (0 when it does not batch). */
size_t log_batch_pending(void);

/* Flushes the calling thread's buffer, waiting at most LOG_STOP_WAIT_MS for
 * the sink to take it (what is left is dropped and counted), and ends
 * batching on this thread. */
void log_batch_end(void);

/* Lines dropped since the start because the sink did not keep up. Any thread. */
unsigned long long log_lines_dropped(void);

/* True when <lvl> is printed: test it before formatting a costly line. */
static inline int log_enabled(enum log_level lvl);

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

/* log.c - see log.h.
 *
 * The sink (stderr, another descriptor or the syslog socket) is process-wide
 * and guarded by sink.mu: a write holds whole lines, and a line a partial
 * write cut (a stream socket, a terminal) is kept in sink.tail and finished
 * before anything else is written, so no other line can land inside it. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h> /* PIPE_BUF (spoa/limits.h hides <limits.h>) */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log_fmt.h"

/* Process-wide settings and counters: written at startup and on SIGHUP, read
 * by all threads; the same exception to "no mutable globals" as stderr and
 * syslog themselves. */
static atomic_int log_level = LOG_LVL_INFO;
static atomic_int log_format = LOG_FMT_LOGFMT;
static atomic_ullong dropped;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

enum sink_how {
	SINK_WRITE = 0, /* write(2): a file, or a pipe/terminal reopened O_NONBLOCK */
	SINK_SEND,	/* send(2) with MSG_DONTWAIT: a stream socket (journald's stdout) */
	SINK_DGRAM,	/* one datagram per line: the syslog socket */
};

static struct {
	pthread_mutex_t mu;
	int fd;
	int owned; /* a descriptor opened here (closed when replaced), or -1 */
	enum sink_how how;
	bool fifo; /* writes of at most PIPE_BUF bytes: atomic for every writer */
	bool syslog;
	struct sockaddr_un addr; /* SINK_DGRAM: where to reconnect */
	char tail[LOG_LINE_MAX]; /* the rest of a line a partial write cut */
	size_t tail_off, tail_len;
	unsigned long long reported; /* drops already warned about */
	double last_warn;	     /* CLOCK_MONOTONIC of that warning, 0 never */
	char ident[48];		     /* syslog: " oauth2-spoa[PID]: " */
} sink = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = STDERR_FILENO, .owned = -1};

static pthread_once_t sink_once = PTHREAD_ONCE_INIT;

void log_set_format(enum log_format f)
{
	atomic_store(&log_format, (int)f);
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

unsigned long long log_lines_dropped(void)
{
	return atomic_load_explicit(&dropped, memory_order_relaxed);
}

static void drop(unsigned long long n)
{
	atomic_fetch_add_explicit(&dropped, n, memory_order_relaxed);
}

static unsigned long long lines_in(const char *b, size_t n)
{
	unsigned long long k = 0;

	for (const char *e = b + n; (b = memchr(b, '\n', (size_t)(e - b))) != NULL; b++)
		k++;
	return k;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Picks how to write <fd> without ever blocking (see log_use_fd()). */
static void sink_set_fd(int fd)
{
	struct stat st;
	char path[64];
	int nfd;

	if (sink.owned >= 0)
		close(sink.owned);
	sink.owned = -1;
	sink.fd = fd;
	sink.tail_len = 0;
	sink.how = SINK_WRITE;
	sink.fifo = false;
	if (fstat(fd, &st) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		sink.how = SINK_SEND;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return; /* a regular file: writes do not wait for a reader */
	sink.fifo = S_ISFIFO(st.st_mode);
	/* A new open file description: O_NONBLOCK on <fd> itself would also
	 * change it for every process sharing it (the shell, HAProxy...). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_APPEND);
	if (nfd >= 0)
		sink.fd = sink.owned = nfd;
	/* A larger pipe absorbs a reader's short stall instead of dropping lines;
	 * its pages are taken only as it fills. Refused (over the user's limits):
	 * it keeps its size. */
	if (sink.fifo && fcntl(sink.fd, F_GETPIPE_SZ) < LOG_PIPE_SIZE)
		(void)fcntl(sink.fd, F_SETPIPE_SZ, LOG_PIPE_SIZE);
}

static void sink_setup(void)
{
	if (sink.fd == STDERR_FILENO && sink.how == SINK_WRITE)
		sink_set_fd(STDERR_FILENO);
}

void log_use_fd(int fd)
{
	pthread_once(&sink_once, sink_setup);
	pthread_mutex_lock(&sink.mu);
	sink_set_fd(fd);
	sink.syslog = false;
	pthread_mutex_unlock(&sink.mu);
}

int log_use_syslog_at(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	pthread_once(&sink_once, sink_setup);
	pthread_mutex_lock(&sink.mu);
	if (sink.owned >= 0)
		close(sink.owned);
	sink.fd = sink.owned = fd;
	sink.how = SINK_DGRAM;
	sink.tail_len = 0;
	sink.addr = a;
	sink.syslog = true;
	snprintf(sink.ident, sizeof(sink.ident), " oauth2-spoa[%ld]: ", (long)getpid());
	pthread_mutex_unlock(&sink.mu);
	return 0;
}

int log_use_syslog(void)
{
	return log_use_syslog_at("/dev/log");
}

static ssize_t raw_write(const char *b, size_t n)
{
	ssize_t r;

	do {
		if (sink.how == SINK_SEND)
			r = send(sink.fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			r = write(sink.fd, b, n);
	} while (r < 0 && errno == EINTR);
	return r;
}

static bool would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* Stream sinks: writes whole lines of <b> (n bytes, ending with '\n') as far
 * as the sink takes them. Returns the bytes consumed: written, handed to
 * sink.tail, or dropped on a hard error (EPIPE...: they never will be). */
static size_t push_stream(const char *b, size_t n)
{
	size_t done = 0;

	if (sink.tail_len) {
		ssize_t r = raw_write(sink.tail + sink.tail_off, sink.tail_len - sink.tail_off);

		if (r < 0 && would_block())
			return 0;
		sink.tail_off += r < 0 ? sink.tail_len : (size_t)r;
		if (sink.tail_off < sink.tail_len)
			return 0;
		sink.tail_len = 0;
	}
	while (done < n) {
		size_t chunk = n - done;
		ssize_t r;

		if (sink.fifo && chunk > PIPE_BUF) /* lines are < PIPE_BUF: one fits */
			chunk =
			    (size_t)((const char *)memrchr(b + done, '\n', PIPE_BUF) - (b + done)) +
			    1;
		r = raw_write(b + done, chunk);
		if (r < 0) {
			if (would_block())
				break;
			drop(lines_in(b + done, chunk));
			done += chunk;
			continue;
		}
		if ((size_t)r < chunk) {
			const char *cut = b + done + r;

			done += (size_t)r;
			if (r > 0 && cut[-1] != '\n') { /* finish this line before any other */
				size_t rest =
				    (size_t)((const char *)memchr(cut, '\n', chunk - r) - cut) + 1;

				memcpy(sink.tail, cut, rest);
				sink.tail_off = 0;
				sink.tail_len = rest;
				done += rest;
			}
			break;
		}
		done += chunk;
	}
	return done;
}

/* The syslog socket: one datagram per line, without its '\n'. */
static size_t push_dgram(const char *b, size_t n)
{
	size_t done = 0;
	bool retried = false;

	while (done < n) {
		struct mmsghdr m[32];
		struct iovec v[32];
		unsigned k = 0;
		size_t at = done;
		int r;

		for (; k < 32 && at < n; k++) {
			const char *e = memchr(b + at, '\n', n - at);

			v[k] = (struct iovec){.iov_base = (char *)b + at,
					      .iov_len = (size_t)(e - b) - at};
			m[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v[k], .msg_iovlen = 1}};
			at = (size_t)(e - b) + 1;
		}
		r = sendmmsg(sink.fd, m, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && would_block())
			break;
		if (r < 0 && (errno == ECONNREFUSED || errno == ENOTCONN) && !retried) {
			/* the syslog daemon restarted: its socket is a new one */
			retried = true;
			if (connect(sink.fd, (struct sockaddr *)&sink.addr, sizeof(sink.addr)) == 0)
				continue;
		}
		if (r <= 0) { /* this datagram never will be taken */
			drop(1);
			r = 1;
		}
		for (int i = 0; i < r; i++)
			done += v[i].iov_len + 1;
	}
	return done;
}

static size_t format_line(char *out, enum log_level lvl, const char *msg, const struct log_kv *kv,
			  unsigned n);

/* After lines went through: says once per LOG_DROP_WARN_S how many were lost. */
static void warn_drops(void)
{
	unsigned long long d = log_lines_dropped();
	double now;
	char msg[160], line[LOG_LINE_MAX];
	size_t len;

	if (d == sink.reported || log_get_level() < LOG_LVL_WARN)
		return;
	now = mono_now();
	if (sink.last_warn && now - sink.last_warn < LOG_DROP_WARN_S)
		return;
	snprintf(msg, sizeof(msg),
		 "log: %llu lines dropped: the log sink did not keep up "
		 "(oauth2_spoa_log_lines_dropped_total counts them)",
		 d - sink.reported);
	len = format_line(line, LOG_LVL_WARN, msg, NULL, 0);
	if ((sink.how == SINK_DGRAM ? push_dgram(line, len) : push_stream(line, len)) == len) {
		sink.reported = d;
		sink.last_warn = now;
	}
}

/* Hands <b> (whole lines) to the sink; caller holds sink.mu. */
static size_t push(const char *b, size_t n)
{
	size_t done = sink.how == SINK_DGRAM ? push_dgram(b, n) : push_stream(b, n);

	if (done == n && !sink.tail_len)
		warn_drops();
	return done;
}

/* ------------------------------------------------------------ batching */

/* The calling thread's batch (log_batch_begin()): per thread by design, so
 * that formatting a line takes no lock. */
struct tbuf {
	size_t len;
	bool blocked;		  /* the sink refused: no more tries until the next flush */
	double (*now)(void *ctx); /* log_batch_clock(), or NULL */
	void *ctx;
	char b[LOG_BATCH_MAX];
};
static _Thread_local struct tbuf *tb;

int log_batch_begin(void)
{
	if (!tb)
		tb = malloc(sizeof(*tb));
	if (!tb)
		return -1;
	tb->len = 0;
	tb->blocked = false;
	tb->now = NULL;
	return 0;
}

void log_batch_clock(double (*now)(void *ctx), void *ctx)
{
	if (!tb)
		return;
	tb->now = now;
	tb->ctx = ctx;
}

static bool flush_tb(struct tbuf *t)
{
	size_t done;

	pthread_mutex_lock(&sink.mu);
	done = push(t->b, t->len);
	pthread_mutex_unlock(&sink.mu);
	memmove(t->b, t->b + done, t->len - done);
	t->len -= done;
	t->blocked = t->len > 0;
	return t->blocked;
}

bool log_batch_flush(void)
{
	struct tbuf *t = tb;

	if (!t || !t->len)
		return false;
	return flush_tb(t);
}

size_t log_batch_pending(void)
{
	return tb ? tb->len : 0;
}

void log_batch_end(void)
{
	struct tbuf *t = tb;
	double deadline = mono_now() + LOG_STOP_WAIT_MS / 1000.0;

	if (!t)
		return;
	for (;;) {
		bool tail;
		double left;
		struct pollfd p = {.fd = sink.fd, .events = POLLOUT};

		flush_tb(t);
		pthread_mutex_lock(&sink.mu);
		if (sink.tail_len && !t->len)
			push(t->b, 0); /* finishes the tail */
		tail = sink.tail_len > 0;
		pthread_mutex_unlock(&sink.mu);
		left = deadline - mono_now();
		if ((!t->len && !tail) || left <= 0)
			break;
		(void)poll(&p, 1, (int)(left * 1000) + 1);
	}
	drop(lines_in(t->b, t->len));
	free(t);
	tb = NULL;
}

static void emit(const char *line, size_t n)
{
	struct tbuf *t = tb;
	size_t done;

	pthread_once(&sink_once, sink_setup);
	if (t) {
		if (n > sizeof(t->b) - t->len && !t->blocked)
			flush_tb(t);
		if (n > sizeof(t->b) - t->len) {
			drop(1);
			return;
		}
		memcpy(t->b + t->len, line, n);
		t->len += n;
		if (t->len >= LOG_BATCH_FLUSH && !t->blocked)
			flush_tb(t);
		return;
	}
	pthread_mutex_lock(&sink.mu);
	done = push(line, n);
	pthread_mutex_unlock(&sink.mu);
	if (done < n)
		drop(1);
}

/* ------------------------------------------------------------ formatting */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ", from the thread's clock (log_batch_clock()) or
 * the system's, in a per-thread buffer valid until the next call; sets *len.
 * Formatted once per millisecond and thread (the date once per second). */
static const char *stamp(size_t *len)
{
	static _Thread_local struct {
		time_t sec;
		unsigned ms;
		size_t n; /* of the seconds part; 0: none yet */
		char s[32];
	} c;
	struct timespec ts;
	unsigned ms;

	if (tb && tb->now) {
		double t = tb->now(tb->ctx);

		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
	}
	ms = (unsigned)(ts.tv_nsec / 1000000);
	ms = ms > 999 ? 999 : ms;
	if (!c.n || ts.tv_sec != c.sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		c.n = strftime(c.s, sizeof(c.s) - 6, "%Y-%m-%dT%H:%M:%S", &tm);
		c.sec = ts.tv_sec;
		c.ms = 1000;
	}
	if (ms != c.ms) {
		c.s[c.n] = '.';
		c.s[c.n + 1] = (char)('0' + ms / 100);
		c.s[c.n + 2] = (char)('0' + ms / 10 % 10);
		c.s[c.n + 3] = (char)('0' + ms % 10);
		c.s[c.n + 4] = 'Z';
		c.s[c.n + 5] = '\0';
		c.ms = ms;
	}
	*len = c.n + 5;
	return c.s;
}

/* "<PRI>Mmm dd hh:mm:ss oauth2-spoa[PID]: ", local time, as syslog(3). */
static void syslog_head(char *out, size_t size, enum log_level lvl)
{
	static const int sev[] = {3, 4, 6, 7};
	static _Thread_local struct {
		time_t sec;
		char s[24];
	} c;
	time_t now = time(NULL);

	if (!c.s[0] || now != c.sec) {
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(c.s, sizeof(c.s), "%b %e %H:%M:%S", &tm);
		c.sec = now;
	}
	snprintf(out, size, "<%d>%s%s", 3 << 3 | sev[lvl & 3], c.s, sink.ident);
}

static size_t format_line(char *out, enum log_level lvl, const char *msg, const struct log_kv *kv,
			  unsigned n)
{
	enum log_format f =
	    (enum log_format)atomic_load_explicit(&log_format, memory_order_relaxed);
	char head[96];
	struct log_rec r = {.lvl = lvl, .msg = msg, .kv = kv, .n = n};
	bool stamped = true;
	size_t len;

	if (sink.syslog) {
		syslog_head(head, sizeof(head), lvl);
		r.prefix = head;
		stamped = f == LOG_FMT_JSON; /* syslog stamps and levels a logfmt line itself */
	}
	if (stamped) {
		r.ts = stamp(&len);
		r.ts_len = (unsigned)len;
	}
	return log_fmt_line(out, f, &r);
}

/* Formats the line straight into the thread's batch when a whole line fits
 * there (the common case: no copy), else on the stack and through emit(). */
static void log_line(enum log_level lvl, const char *msg, const struct log_kv *kv, unsigned n)
{
	struct tbuf *t = tb;
	char line[LOG_LINE_MAX];

	if (t && sizeof(t->b) - t->len >= LOG_LINE_MAX) {
		pthread_once(&sink_once, sink_setup);
		t->len += format_line(t->b + t->len, lvl, msg, kv, n);
		if (t->len >= LOG_BATCH_FLUSH && !t->blocked)
			flush_tb(t);
		return;
	}
	emit(line, format_line(line, lvl, msg, kv, n));
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(lvl, msg, NULL, 0);
}

void log_event(enum log_level lvl, const char *event, const struct log_kv *kv, unsigned n)
{
	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	log_line(lvl, event, kv, n);
}

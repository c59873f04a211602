/* test_log.c - the sink and the batching of log.h: whole lines only, a
 * bounded buffer, drops counted and warned about, nothing lost at a clean
 * stop, the thread's clock, no interleaving between threads, one datagram per
 * line to syslog. (The formatter: test_log_fmt.c.) */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_fmt.h"
#include "tap.h"

/* ------------------------------------------------------------ batching */

static int pipe_rd = -1, pipe_wr = -1;

static void new_pipe(int size)
{
	int p[2];

	if (pipe_rd >= 0) {
		close(pipe_rd);
		close(pipe_wr);
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	pipe_rd = p[0];
	pipe_wr = p[1];
	fcntl(pipe_rd, F_SETFL, O_NONBLOCK);
	if (size)
		fcntl(pipe_wr, F_SETPIPE_SZ, size);
	log_use_fd(pipe_wr);
}

/* A stream socket instead (journald's stdout): non-blocking sends may be
 * partial, so the sink must finish a cut line before any other. */
static void new_stream_socket(void)
{
	int sp[2], small = 4096;

	if (pipe_rd >= 0) {
		close(pipe_rd);
		close(pipe_wr);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	pipe_rd = sp[0];
	pipe_wr = sp[1];
	fcntl(pipe_rd, F_SETFL, O_NONBLOCK);
	setsockopt(pipe_wr, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(pipe_rd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	log_use_fd(pipe_wr);
}

static char got[1 << 24];
static size_t ngot;

/* Reads what the pipe holds (non-blocking) into got. */
static size_t drain(void)
{
	ssize_t r;
	size_t before = ngot;

	while (ngot < sizeof(got) && (r = read(pipe_rd, got + ngot, sizeof(got) - ngot)) > 0)
		ngot += (size_t)r;
	return ngot - before;
}

static unsigned count_lines(const char *needle)
{
	unsigned k = 0;

	for (const char *p = got; (p = strstr(p, needle)) != NULL; p++)
		k++;
	return k;
}

/* Every line of got is "...seq=N pad=...\n" whole, and they come in order. */
static int whole_lines(unsigned *n)
{
	const char *p = got, *e = got + ngot;
	long last = -1;

	*n = 0;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *s = strstr(p, " seq=");

		if (!nl)
			return 0;
		if (s && s < nl) {
			long v = strtol(s + 5, NULL, 10);

			if (v <= last || !strstr(p, " pad=") || strstr(p, " pad=") > nl)
				return 0;
			last = v;
			(*n)++;
		}
		p = nl + 1;
	}
	return 1;
}

static void event(long seq, size_t pad)
{
	static char padding[1500];
	char s[LOG_ITOA_MAX];
	struct log_kv kv[2] = {{"seq", log_itoa(s, seq), 1, 0}, {"pad", padding, 0, 0}};

	memset(padding, 'p', pad);
	padding[pad] = '\0';
	log_event(LOG_LVL_INFO, "decision", kv, 2);
}

static void test_batch_whole_lines(void)
{
	unsigned n;

	new_pipe(1 << 20); /* holds all of it: no write is refused */
	ngot = 0;
	is_int(log_batch_begin(), 0, "batch: begins");
	for (long i = 0; i < 20; i++)
		event(i, 50);
	is_int(drain(), 0, "batch: nothing written before the flush");
	ok(log_batch_pending() > 20 * 50, "batch: pending counts the bytes waiting");
	ok(!log_batch_flush(), "batch: flush empties the buffer");
	is_int((int)log_batch_pending(), 0, "batch: nothing pending after the flush");
	drain();
	ok(whole_lines(&n) && n == 20, "batch: 20 whole lines, in order, after the flush");
	ngot = 0;
	/* ~ 100 bytes a line: twice LOG_BATCH_FLUSH, written when it is reached */
	const long many = 2 * LOG_BATCH_FLUSH / 100;
	for (long i = 0; i < many; i++)
		event(i, 90);
	ok(drain() >= LOG_BATCH_FLUSH, "batch: the size bound writes before the flush");
	ok(log_batch_pending() < LOG_BATCH_FLUSH,
	   "batch: what the size bound wrote left the buffer");
	log_batch_flush();
	drain();
	ok(whole_lines(&n) && n == many, "batch: every line whole, in order");
	log_batch_end();
}

static double fixed_clock(void *ctx)
{
	return *(const double *)ctx;
}

/* log_batch_clock(): the batch's lines are stamped from the thread's clock,
 * until log_batch_end(). */
static void test_batch_clock(void)
{
	static const double t = 1000000000.123; /* 2001-09-09T01:46:40.123Z */

	new_pipe(1 << 20);
	ngot = 0;
	log_batch_clock(fixed_clock, (void *)&t); /* no batch: ignored */
	log_batch_begin();
	log_batch_clock(fixed_clock, (void *)&t);
	event(1, 10);
	log_batch_flush();
	drain();
	ok(strncmp(got, "2001-09-09T01:46:40.123Z info decision seq=1 ", 45) == 0,
	   "batch clock: the line is stamped from the thread's clock");
	log_batch_end();
	ngot = 0;
	log_batch_begin();
	event(2, 10);
	log_batch_flush();
	drain();
	ok(strncmp(got, "20", 2) == 0 && strncmp(got, "2001-", 5) != 0,
	   "batch clock: a new batch stamps from the system clock");
	log_batch_end();
}

static void test_batch_bound_and_drops(void)
{
	unsigned long long d0 = log_lines_dropped();
	/* ~ 130 bytes a line: three times what the buffer and the pipe hold */
	unsigned n, produced = 3 * (LOG_BATCH_MAX + LOG_PIPE_SIZE) / 130;

	new_pipe(4096); /* nobody reads */
	is_int(fcntl(pipe_wr, F_GETPIPE_SZ), LOG_PIPE_SIZE,
	       "a pipe sink is grown to LOG_PIPE_SIZE");
	ngot = 0;
	log_set_level(LOG_LVL_INFO);
	log_batch_begin();
	for (unsigned i = 0; i < produced; i++) {
		event(i, 100);
		if (i % 50 == 0)
			log_batch_flush();
	}
	ok(log_lines_dropped() - d0 > 0, "blocked sink: lines dropped and counted");
	ok(log_batch_flush(), "blocked sink: lines still waiting");
	/* the reader resumes */
	for (int i = 0; i < 200 && (drain(), log_batch_flush()); i++)
		;
	log_batch_flush();
	drain();
	ok(whole_lines(&n), "blocked sink: every line written is whole");
	is_int(n + (log_lines_dropped() - d0), produced,
	       "blocked sink: written + dropped = produced");
	ok(n >= (LOG_BATCH_MAX - 4096) / 200, "blocked sink: the buffer kept what fit");
	ok(n * 130 < LOG_BATCH_MAX + LOG_PIPE_SIZE + 8192,
	   "blocked sink: memory bounded by LOG_BATCH_MAX (and the pipe)");
	/* the warning comes with the next lines that go through */
	event(1000000, 1);
	log_batch_flush();
	drain();
	is_int(count_lines("lines dropped: the log sink did not keep up"), 1,
	       "a warning once the sink takes lines");
	log_batch_end();
}

static volatile int late_stop;

static void *late_reader(void *arg)
{
	struct timespec ts = {0, 200 * 1000 * 1000};

	(void)arg;
	nanosleep(&ts, NULL);
	for (int i = 0; i < 400 && !late_stop; i++) {
		struct timespec t = {0, 5 * 1000 * 1000};

		drain();
		nanosleep(&t, NULL);
	}
	return NULL;
}

static void test_batch_end_loses_nothing(void)
{
	unsigned long long d0 = log_lines_dropped();
	pthread_t th;
	unsigned n;

	new_pipe(4096);
	ngot = 0;
	log_batch_begin();
	/* lines of ~ 150 bytes: more than the pipe holds, less than it and the buffer */
	const long lines = (LOG_PIPE_SIZE + LOG_BATCH_MAX / 2) / 150;

	for (long i = 0; i < lines; i++)
		event(i, 100);
	pthread_create(&th, NULL, late_reader, NULL);
	log_batch_end(); /* waits for the reader (200 ms later) */
	late_stop = 1;
	pthread_join(th, NULL);
	drain();
	ok(whole_lines(&n) && n == lines, "clean stop: every buffered line written");
	is_int(log_lines_dropped() - d0, 0, "clean stop: nothing dropped");
}

#define NTHREADS   4
#define PER_THREAD 3000

static void *writer(void *arg)
{
	long id = (long)(intptr_t)arg;
	static char pad[NTHREADS][1200];
	char s[LOG_ITOA_MAX], t[LOG_ITOA_MAX];

	log_batch_begin();
	for (long i = 0; i < PER_THREAD; i++) {
		size_t len = (size_t)(i * 37 % 1100) + 1;
		struct log_kv kv[3] = {{"t", log_itoa(t, id), 1, 0},
				       {"seq", log_itoa(s, i), 1, 0},
				       {"pad", pad[id], 0, 0}};

		memset(pad[id], 'a' + (char)id, len);
		pad[id][len] = '\0';
		log_event(LOG_LVL_INFO, "decision", kv, 3);
		if (i % 7 == 0)
			log_batch_flush();
	}
	log_batch_end();
	return NULL;
}

static volatile int readers_stop;

static void *reader(void *arg)
{
	(void)arg;
	while (!readers_stop)
		drain();
	drain();
	return NULL;
}

static void threads_never_interleave(const char *what)
{
	pthread_t w[NTHREADS], r;
	unsigned long long d0 = log_lines_dropped();
	long last[NTHREADS] = {-1, -1, -1, -1};
	unsigned lines = 0, bad = 0;

	ngot = 0;
	readers_stop = 0;
	pthread_create(&r, NULL, reader, NULL);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i], NULL);
	readers_stop = 1;
	pthread_join(r, NULL);
	for (const char *p = got, *e = got + ngot; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *tt = strstr(p, " t="), *pd = strstr(p, " pad=");
		long id, seq;

		if (nl && memmem(p, (size_t)(nl - p), "lines dropped", 13)) { /* the warning */
			p = nl + 1;
			continue;
		}
		if (!nl || !tt || tt > nl || !pd || pd > nl) {
			bad++;
			break;
		}
		id = strtol(tt + 3, NULL, 10);
		seq = strtol(strstr(tt, " seq=") + 5, NULL, 10);
		for (const char *c = pd + 5; c < nl; c++)
			if (*c != 'a' + id)
				bad++;
		if (id < 0 || id >= NTHREADS || seq <= last[id])
			bad++;
		else
			last[id] = seq;
		lines++;
		p = nl + 1;
	}
	if (!tap_ok(bad == 0, __FILE__, __LINE__, what))
		printf("#   %u bad lines\n", bad);
	is_int(lines + (log_lines_dropped() - d0), NTHREADS * PER_THREAD,
	       "threads: written + dropped = produced");
}

static void test_threads_never_interleave(void)
{
	new_pipe(0);
	threads_never_interleave(
	    "threads, pipe: every line whole, none interleaved, each in order");
	new_stream_socket();
	threads_never_interleave("threads, stream socket (partial sends): every line whole");
}

static void test_syslog_datagrams(void)
{
	char path[108], buf[LOG_LINE_MAX + 64], want[64];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_DGRAM, 0), k = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "/tmp/test_log.%ld.sock", (long)getpid());
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	is_int(log_use_syslog_at(path), 0, "syslog: connects");
	log_set_format(LOG_FMT_LOGFMT);
	log_batch_begin();
	event(1, 5);
	log_msg(LOG_LVL_WARN, "two\nlines");
	is_int(recv(s, buf, sizeof(buf), MSG_DONTWAIT), -1, "syslog: batched until the flush");
	log_batch_flush();
	snprintf(want, sizeof(want), " oauth2-spoa[%ld]: ", (long)getpid());
	while ((r = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[r] = '\0';
		if (strstr(buf, "lines dropped")) /* pending from the tests before */
			continue;
		k++;
		ok(strstr(buf, want) != NULL && !strchr(buf, '\n'),
		   "syslog: one datagram per line, header, no LF");
		if (k == 1)
			ok(!strncmp(buf, "<30>", 4) && strstr(buf, ": decision seq=1 pad=ppppp"),
			   "syslog: daemon.info, no time stamp");
		else
			ok(!strncmp(buf, "<28>", 4) && strstr(buf, ": two\\nlines"),
			   "syslog: daemon.warning, LF escaped");
	}
	is_int(k, 2, "syslog: two datagrams");
	log_batch_end();
	close(s);
	unlink(path);
}

int main(void)
{
	test_batch_whole_lines();
	test_batch_clock();
	test_batch_bound_and_drops();
	test_batch_end_loses_nothing();
	test_threads_never_interleave();
	test_syslog_datagrams();
	return done_testing("test_log");
}

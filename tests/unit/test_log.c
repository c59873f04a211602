/* test_log.c - log lines: every value escaped in both formats (no value can
 * forge a line or a field), a JSON line over the cap still valid JSON, and
 * the batching of log.h: whole lines only, a bounded buffer, drops counted
 * and warned about, nothing lost at a clean stop, no interleaving between
 * threads, one datagram per line to syslog. */
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

static char line[LOG_LINE_MAX + 1];

static size_t fmt(enum log_format f, const char *msg, const struct log_kv *kv, unsigned n)
{
	struct log_rec r = {.lvl = LOG_LVL_INFO, .ts = "2026-12-02T10:00:00.000Z", .msg = msg};
	size_t len;

	r.kv = kv;
	r.n = n;
	len = log_fmt_line(line, f, &r);
	line[len] = '\0';
	return len;
}

/* One line: a single '\n', at the end. */
static int one_line(size_t len)
{
	return len > 0 && len <= LOG_LINE_MAX && line[len - 1] == '\n' &&
	       memchr(line, '\n', len - 1) == NULL && memchr(line, '\r', len) == NULL;
}

static void test_logfmt_escaping(void)
{
	const struct log_kv kv[] = {
	    LOG_KV("sub", "alice\ninfo decision forged=1", 0),
	    LOG_KV("client_id", "a\"b\\c", 0),
	    LOG_KV("route", "r\r\x01\x7f", 0),
	    LOG_KV("policy", "plain", 0),
	    LOG_KV("path", "/caf\xc3\xa9/\xff", 0),
	    LOG_KV("empty", "", 0),
	    LOG_KV("none", NULL, 0),
	};
	size_t n = fmt(LOG_FMT_LOGFMT, "decision", kv, 7);

	ok(one_line(n), "logfmt: a value with LF and CR stays one line");
	ok(strstr(line, " sub=\"alice\\ninfo decision forged=1\"") != NULL,
	   "logfmt: LF escaped, quoted");
	ok(strstr(line, " client_id=\"a\\\"b\\\\c\"") != NULL,
	   "logfmt: quote and backslash escaped");
	ok(strstr(line, " route=\"r\\r\\x01\\x7f\"") != NULL, "logfmt: CR, control bytes, DEL");
	ok(strstr(line, " policy=plain ") != NULL, "logfmt: a plain value is bare");
	ok(strstr(line, " path=\"/caf\xc3\xa9/\\xff\"") != NULL,
	   "logfmt: UTF-8 kept, a stray byte escaped");
	ok(strstr(line, " empty=\"\" none=-\n") != NULL, "logfmt: empty quoted, NULL is -");
	{
		const struct log_kv c1[] = {{"sub",
					     "a\xc2\x85"
					     "b\xc2\x9b"
					     "c\xc2\xa0",
					     0, 0}};

		n = fmt(LOG_FMT_LOGFMT, "decision", c1, 1);
		ok(strstr(line, " sub=\"a\\xc2\\x85b\\xc2\\x9bc\xc2\xa0\"\n") != NULL,
		   "logfmt: C1 controls (NEL, CSI) escaped, U+00A0 kept");
	}
	n = fmt(LOG_FMT_LOGFMT, "introspection failed: bad\r\nwarn forged", NULL, 0);
	ok(one_line(n), "logfmt message: CR/LF escaped");
	ok(strstr(line, " info introspection failed: bad\\r\\nwarn forged\n") != NULL,
	   "logfmt message: text otherwise unchanged");
}

static json_t *parse(size_t n)
{
	json_error_t e;

	return json_loadb(line, n - 1, 0, &e);
}

static void test_json_escaping(void)
{
	const struct log_kv kv[] = {
	    LOG_KV("sub", "x\"}\n{\"level\":\"error\"", 0),
	    LOG_KV("path", "/\xc3\xa9\xed\xa0\x80\xf5", 0),
	    LOG_KV("status", "403", 1),
	    LOG_KV("stream", "12; rm", 1),
	};
	size_t n = fmt(LOG_FMT_JSON, "decision", kv, 4);
	json_t *j = parse(n);

	ok(one_line(n), "json: one line");
	ok(j != NULL, "json: valid JSON");
	is_str(json_string_value(json_object_get(j, "sub")), "x\"}\n{\"level\":\"error\"",
	       "json: value round-trips");
	is_str(json_string_value(json_object_get(j, "path")),
	       "/\xc3\xa9\xc3\xad\xc2\xa0\xc2\x80\xc3\xb5",
	       "json: invalid UTF-8 (surrogate, F5) as \\u00XX");
	is_int(json_integer_value(json_object_get(j, "status")), 403, "json: number unquoted");
	is_str(json_string_value(json_object_get(j, "stream")), "12; rm",
	       "json: a non-number is a string");
	ok(json_object_get(j, "truncated") == NULL, "json: no truncation mark when it fits");
	json_decref(j);
	{
		const struct log_kv c1[] = {{"sub",
					     "a\xc2\x85"
					     "b",
					     0, 0}};

		n = fmt(LOG_FMT_JSON, "decision", c1, 1);
		ok(strstr(line, "\"sub\":\"a\\u0085b\"") != NULL, "json: NEL as \\u0085");
		j = parse(n);
		is_str(json_string_value(json_object_get(j, "sub")),
		       "a\xc2\x85"
		       "b",
		       "json: NEL round-trips");
		json_decref(j);
	}
	n = fmt(LOG_FMT_JSON, "a\x1b[31mred\x1b[0m \"q\"", NULL, 0);
	j = parse(n);
	is_str(json_string_value(json_object_get(j, "msg")), "a\x1b[31mred\x1b[0m \"q\"",
	       "json message: escaped");
	json_decref(j);
}

/* Lines over the cap: values cut, every key kept, the mark set. */
static void test_truncation(void)
{
	static char big[5000], esc[3000];
	struct log_kv kv[6] = {
	    {"a", big, 0, 0},	 {"b", esc, 0, 0},  {"n", "42", 1, 0},
	    {"c", "tail", 0, 0}, {"d", NULL, 0, 0}, {"e", big, 0, 0},
	};
	size_t n;
	json_t *j;

	memset(big, 'x', sizeof(big) - 1);
	for (size_t i = 0; i + 1 < sizeof(esc); i++)
		esc[i] = i % 3 ? '\n' : 'y';
	for (int f = 0; f < 2; f++) {
		n = fmt(f ? LOG_FMT_JSON : LOG_FMT_LOGFMT, "decision", kv, 6);
		ok(one_line(n) && n <= LOG_LINE_MAX, f ? "json over the cap: one line, capped"
						       : "logfmt over the cap: one line, capped");
		if (f) {
			j = parse(n);
			ok(j != NULL, "json over the cap: still valid JSON");
			ok(json_is_true(json_object_get(j, "truncated")),
			   "json over the cap: truncated:true");
			ok(json_object_get(j, "e") && json_object_get(j, "d"),
			   "json over the cap: every key present");
			is_int(json_integer_value(json_object_get(j, "n")), 42,
			       "json over the cap: numbers whole");
			json_decref(j);
		} else {
			ok(strstr(line, " truncated=true\n") != NULL,
			   "logfmt over the cap: truncated=true");
			ok(strstr(line, " n=42 c=") && strstr(line, " e="),
			   "logfmt over the cap: every key present");
		}
	}
	/* a cut never splits an escape: every quoted 'b' value ends in \n or y */
	kv[0].val = "short";
	for (size_t cut = 1900; cut < 2040; cut += 7) {
		memset(big, 'x', sizeof(big) - 1);
		big[cut - 1900] = '\0';
		kv[5].val = big;
		n = fmt(LOG_FMT_JSON, "decision", kv, 6);
		j = parse(n);
		if (!ok(j != NULL, "json cut at every offset: valid"))
			printf("#   %s", line);
		json_decref(j);
	}
	memset(big, 'x', sizeof(big) - 1);
	n = fmt(LOG_FMT_JSON, big, NULL, 0);
	j = parse(n);
	ok(j && json_is_true(json_object_get(j, "truncated")),
	   "json message over the cap: valid, marked");
	json_decref(j);
}

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

/* log_itoa() against snprintf("%lld"), the ends of the range included. */
static void test_itoa(void)
{
	static const long long v[] = {0,
				      1,
				      9,
				      10,
				      11,
				      99,
				      100,
				      101,
				      999,
				      1000,
				      -1,
				      -10,
				      -99,
				      -100,
				      1234567,
				      -1234567,
				      200,
				      403,
				      INT64_MAX,
				      INT64_MIN,
				      INT64_MIN + 1,
				      999999999999LL};
	int bad = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char d[LOG_ITOA_MAX], want[32];

		snprintf(want, sizeof(want), "%lld", v[i]);
		if (strcmp(log_itoa(d, v[i]), want) != 0) {
			fprintf(stderr, "# log_itoa(%s) gave %s\n", want, log_itoa(d, v[i]));
			bad++;
		}
	}
	for (long long x = -100000; x <= 100000; x += 7) {
		char d[LOG_ITOA_MAX], want[32];

		snprintf(want, sizeof(want), "%lld", x);
		bad += strcmp(log_itoa(d, x), want) != 0;
	}
	is_int(bad, 0, "itoa: the digits of snprintf(\"%%lld\"), INT64_MIN and INT64_MAX included");
}

/* A key length the caller gives (LOG_KV()) and one measured write the same
 * line, in both formats; a given length over LOG_KEY_MAX is cut as a measured
 * key is; a stamp's given length is its length. */
static void test_known_lengths(void)
{
	static const char long_key[] = "a_key_of_forty_bytes_which_is_long_enough";
	const struct log_kv given[] = {LOG_KV("sub", "alice", 0), LOG_KV("status", "403", 1),
				       LOG_KV(long_key, "v", 0)};
	const struct log_kv measured[] = {
	    {"sub", "alice", 0, 0}, {"status", "403", 1, 0}, {long_key, "v", 0, 0}};
	char a[LOG_LINE_MAX + 1];
	struct log_rec r = {.lvl = LOG_LVL_WARN,
			    .ts = "2026-12-02T10:00:00.000Z-junk",
			    .ts_len = 24,
			    .msg = "decision",
			    .kv = given,
			    .n = 3};

	for (int f = 0; f < 2; f++) {
		size_t n = fmt((enum log_format)f, "decision", given, 3);

		memcpy(a, line, n + 1);
		is_int((int)fmt((enum log_format)f, "decision", measured, 3), (int)n,
		       "known lengths: the same length as measured ones");
		ok(strcmp(a, line) == 0, "known lengths: the same line as measured ones");
		ok(strstr(a, "a_key_of_forty_bytes_which_is_lo") && !strstr(a, "which_is_lon"),
		   "known lengths: a key over LOG_KEY_MAX is cut at it");
	}
	line[log_fmt_line(line, LOG_FMT_LOGFMT, &r)] = '\0';
	ok(strncmp(line, "2026-12-02T10:00:00.000Z warn decision sub=alice ", 49) == 0,
	   "known lengths: the stamp's given length is used");
}

int main(void)
{
	test_logfmt_escaping();
	test_json_escaping();
	test_known_lengths();
	test_itoa();
	test_truncation();
	test_batch_whole_lines();
	test_batch_clock();
	test_batch_bound_and_drops();
	test_batch_end_loses_nothing();
	test_threads_never_interleave();
	test_syslog_datagrams();
	return done_testing("test_log");
}

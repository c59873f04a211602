/* spop_bench.c - a SPOP load generator that talks to the agent as HAProxy
 * 2.x does: HAPROXY-HELLO (pipelining), then NOTIFY frames carrying the
 * message "oauth2-check" with the arguments method, path, host, route and
 * authorization, pipelined up to W per connection on K connections, for D
 * seconds. Prints one line of key=value figures: decisions/s, latency
 * percentiles and, given the agent's pid, its CPU time per decision.
 *
 * Usage:
 *   spop_bench [-H 127.0.0.1] -p PORT [-c K] [-w W] [-d SECONDS] [-T THREADS]
 *              [--route ratings] [--path /ratings/1] [--token TOKEN | --no-token]
 *              [--tokens N] [--warm] [--agent-pid PID] [--label NAME]
 *
 *   --tokens N   cycle through N distinct tokens "<TOKEN>-<i>" (default 1: TOKEN)
 *   --warm       first send every distinct token once (W at a time), wait for
 *                all answers, then measure: fills the agent's cache
 *   --once       send each token exactly once (or --count C frames in all,
 *                cycling through the tokens), wait for every answer, then
 *                stop: no timed run. Fills the cache, or, with one token and
 *                -c 50 -w 20 --count 1000, sends 1000 concurrent requests
 *
 * Only for loopback benchmarks: no TLS, no fragmentation, IPv4 only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "spop_frame.h"
#include "spop_wire.h"

#define MAX_W	  256
#define FRAME_CAP 16380u
#define HIST_SUB  64 /* linear sub-buckets per power of two */
#define HIST_POW  40 /* up to 2^40 ns */
#define HIST_N	  (HIST_SUB * HIST_POW)
#define OBUF_CAP  (256u * 1024u)
#define IBUF_CAP  (256u * 1024u)

struct opts {
	const char *host;
	int port, conns, window, threads;
	double seconds;
	const char *route, *path, *token, *label;
	bool no_token, warm, once;
	long ntokens, count;
	int agent_pid;
};

struct hist {
	uint64_t b[HIST_N];
	uint64_t n;
};

struct bconn {
	int fd;
	bool ready; /* AGENT-HELLO received */
	uint64_t next_sid;
	int inflight;
	int free_top;
	int free_slots[MAX_W];
	uint64_t sent_ns[MAX_W];
	uint8_t ibuf[IBUF_CAP];
	size_t ilen;
	uint8_t obuf[OBUF_CAP];
	size_t olen, ooff;
};

struct thr {
	const struct opts *o;
	pthread_t th;
	struct bconn *c;
	int nc;
	int ep;
	long tok_next, tok_step; /* distinct-token cursor */
	long to_send;		 /* --once/--warm: tokens left to send (-1: unlimited) */
	uint64_t acks, errors, allowed;
	struct hist h;
	volatile const int *phase; /* 0: warm, 1: measure, 2: stop */
	bool measuring;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int hist_idx(uint64_t v)
{
	int p;

	if (v < HIST_SUB)
		return (int)v;
	p = 63 - __builtin_clzll(v); /* v in [2^p, 2^(p+1)) */
	int shift = p - 6;	     /* HIST_SUB == 2^6 */
	int i = (p - 5) * HIST_SUB + (int)((v >> shift) - HIST_SUB);
	return i < HIST_N ? i : HIST_N - 1;
}

static uint64_t hist_val(int i)
{
	int p, sub;

	if (i < HIST_SUB)
		return (uint64_t)i;
	p = i / HIST_SUB + 5;
	sub = i % HIST_SUB;
	return ((uint64_t)(HIST_SUB + sub) << (p - 6)) + (1ull << (p - 6)) / 2;
}

static double hist_pct(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n), acc = 0;

	if (h->n == 0)
		return 0;
	if (want >= h->n)
		want = h->n - 1;
	for (int i = 0; i < HIST_N; i++) {
		acc += h->b[i];
		if (acc > want)
			return (double)hist_val(i) / 1000.0;
	}
	return 0;
}

static int put_kv_str(uint8_t **p, uint8_t *end, const char *k, const char *v)
{
	struct spop_value sv = spop_string(slice_str(v));

	return spop_put_str(p, end, slice_str(k)) || spop_put_value(p, end, &sv);
}

static int put_frame_head(uint8_t **p, uint8_t *end, uint8_t type, uint64_t sid, uint64_t fid)
{
	if ((size_t)(end - *p) < 9)
		return -1;
	*p += 4; /* length, filled in later */
	*(*p)++ = type;
	*(*p)++ = 0, *(*p)++ = 0, *(*p)++ = 0, *(*p)++ = 1; /* FIN */
	return spop_put_varint(p, end, sid) || spop_put_varint(p, end, fid);
}

static void set_len(uint8_t *start, const uint8_t *p)
{
	uint32_t n = (uint32_t)(p - start - 4);

	start[0] = (uint8_t)(n >> 24), start[1] = (uint8_t)(n >> 16);
	start[2] = (uint8_t)(n >> 8), start[3] = (uint8_t)n;
}

static ssize_t enc_hello(uint8_t *out, size_t cap)
{
	uint8_t *p = out, *end = out + cap;
	struct spop_value mfs = spop_uint32(FRAME_CAP);

	if (put_frame_head(&p, end, SPOP_FT_HAPROXY_HELLO, 0, 0) ||
	    put_kv_str(&p, end, "supported-versions", "2.0") ||
	    spop_put_str(&p, end, SLICE_LIT("max-frame-size")) || spop_put_value(&p, end, &mfs) ||
	    put_kv_str(&p, end, "capabilities", "pipelining") ||
	    put_kv_str(&p, end, "engine-id", "spop-bench"))
		return -1;
	set_len(out, p);
	return p - out;
}

static ssize_t enc_notify(const struct opts *o, uint8_t *out, size_t cap, uint64_t sid,
			  uint64_t fid, long tok)
{
	uint8_t *p = out, *end = out + cap;
	char auth[512];

	if (o->no_token)
		auth[0] = '\0';
	else if (o->ntokens > 1)
		snprintf(auth, sizeof(auth), "Bearer %s-%ld", o->token, tok);
	else
		snprintf(auth, sizeof(auth), "Bearer %s", o->token);
	if (put_frame_head(&p, end, SPOP_FT_NOTIFY, sid, fid) ||
	    spop_put_str(&p, end, SLICE_LIT("oauth2-check")) || end - p < 1)
		return -1;
	*p++ = o->no_token ? 4 : 5;
	if (put_kv_str(&p, end, "method", "GET") || put_kv_str(&p, end, "path", o->path) ||
	    put_kv_str(&p, end, "host", "bench.example") || put_kv_str(&p, end, "route", o->route))
		return -1;
	if (!o->no_token && put_kv_str(&p, end, "authorization", auth))
		return -1;
	set_len(out, p);
	return p - out;
}

static int connect_one(const struct opts *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, o->host, &a.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("spop_bench: connect");
		exit(2);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool may_send(struct thr *t)
{
	return *t->phase < 2 && t->to_send != 0;
}

/* Queues NOTIFYs until W are in flight. */
static void fill(struct thr *t, struct bconn *c, uint64_t ts)
{
	while (c->ready && c->inflight < t->o->window && may_send(t) &&
	       OBUF_CAP - c->olen >= 1024) {
		int slot = c->free_slots[--c->free_top];
		ssize_t n = enc_notify(t->o, c->obuf + c->olen, OBUF_CAP - c->olen, c->next_sid++,
				       (uint64_t)slot + 1, t->tok_next);

		if (n < 0) {
			fprintf(stderr, "spop_bench: cannot encode a NOTIFY\n");
			exit(2);
		}
		t->tok_next += t->tok_step;
		if (t->tok_next >= t->o->ntokens)
			t->tok_next %= t->o->ntokens;
		if (t->to_send > 0)
			t->to_send--;
		c->olen += (size_t)n;
		c->sent_ns[slot] = ts;
		c->inflight++;
	}
}

static void flush_out(struct bconn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);

		if (n > 0) {
			c->ooff += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break; /* EPOLLOUT stays armed */
		} else {
			perror("spop_bench: send");
			exit(2);
		}
	}
	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
}

/* Counts an ACK; allowed is read from the first SET-VAR (the agent sends
 * "allowed" first). */
static void on_ack(struct thr *t, struct bconn *c, const struct spop_frame *f, uint64_t ts)
{
	int slot = (int)f->frame_id - 1;

	if (slot < 0 || slot >= t->o->window || c->sent_ns[slot] == 0) {
		fprintf(stderr, "spop_bench: ACK for an unknown frame id %llu\n",
			(unsigned long long)f->frame_id);
		exit(2);
	}
	if (t->measuring) {
		uint64_t d = ts > c->sent_ns[slot] ? ts - c->sent_ns[slot] : 0;

		t->h.b[hist_idx(d)]++;
		t->h.n++;
		t->acks++;
		/* action SET-VAR(1) nb-args(3) scope name("allowed") value */
		const uint8_t *p = f->payload.ptr, *end = p + f->payload.len;
		if (end - p >= 13 && p[0] == 1 && p[3] == 7 && memcmp(p + 4, "allowed", 7) == 0 &&
		    (p[11] & 0x0f) == SPOP_T_BOOL && (p[11] & SPOP_BOOL_TRUE))
			t->allowed++;
	}
	c->sent_ns[slot] = 0;
	c->free_slots[c->free_top++] = slot;
	c->inflight--;
}

static void on_readable(struct thr *t, struct bconn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->ibuf + c->ilen, IBUF_CAP - c->ilen, 0);
		size_t off = 0;
		uint64_t ts;

		if (n == 0) {
			fprintf(stderr, "spop_bench: the agent closed a connection\n");
			exit(2);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			perror("spop_bench: recv");
			exit(2);
		}
		ts = now_ns();
		c->ilen += (size_t)n;
		for (;;) {
			struct slice body;
			struct spop_frame f;
			ssize_t m =
			    spop_frame_split(c->ibuf + off, c->ilen - off, FRAME_CAP, &body);

			if (m == 0)
				break;
			if (m < 0 || spop_frame_decode(body, &f) < 0) {
				fprintf(stderr, "spop_bench: bad frame from the agent\n");
				exit(2);
			}
			off += (size_t)m;
			if (f.type == SPOP_FT_AGENT_HELLO) {
				c->ready = true;
			} else if (f.type == SPOP_FT_ACK) {
				on_ack(t, c, &f, ts);
			} else {
				fprintf(stderr,
					"spop_bench: unexpected frame type %u (DISCONNECT?)\n",
					f.type);
				exit(2);
			}
		}
		memmove(c->ibuf, c->ibuf + off, c->ilen - off);
		c->ilen -= off;
		fill(t, c, ts);
		flush_out(c);
		if ((size_t)n < IBUF_CAP - c->ilen + off)
			return;
	}
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct epoll_event evs[64];
	for (int i = 0; i < t->nc; i++) {
		struct bconn *c = &t->c[i];
		struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
		ssize_t n;
		int fl;

		c->fd = connect_one(t->o);
		for (int s = 0; s < t->o->window; s++)
			c->free_slots[s] = t->o->window - 1 - s;
		c->free_top = t->o->window;
		c->next_sid = 1;
		n = enc_hello(c->obuf, OBUF_CAP);
		c->olen = (size_t)n;
		fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
		flush_out(c);
		epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &e);
	}
	for (;;) {
		int n = epoll_wait(t->ep, evs, 64, 20);
		bool busy = false;

		t->measuring = *t->phase == 1;
		for (int i = 0; i < n; i++) {
			struct bconn *c = evs[i].data.ptr;

			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(t, c);
			if (evs[i].events & EPOLLOUT)
				flush_out(c);
		}
		for (int i = 0; i < t->nc; i++)
			busy |= t->c[i].inflight > 0 || !t->c[i].ready;
		if (*t->phase == 2 && !busy)
			break;
		if (t->to_send == 0 && !busy)
			break;
	}
	for (int i = 0; i < t->nc; i++)
		close(t->c[i].fd);
	return NULL;
}

static int cpu_ticks(int pid, unsigned long long *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* after ") ": state(3) ... utime is field 14, stime 15 */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	*ticks = ut + st;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: spop_bench [-H HOST] -p PORT [-c CONNS] [-w WINDOW] [-d SECONDS] "
		"[-T THREADS]\n"
		"       [--route R] [--path P] [--token T | --no-token] [--tokens N] [--warm] "
		"[--once]\n"
		"       [--agent-pid PID] [--label NAME]\n");
	exit(2);
}

static void run_phase(struct thr *t, int nt)
{
	for (int i = 0; i < nt; i++)
		if (pthread_create(&t[i].th, NULL, thr_main, &t[i]) != 0) {
			fprintf(stderr, "spop_bench: pthread_create failed\n");
			exit(2);
		}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"route", required_argument, NULL, 'r'},
	    {"path", required_argument, NULL, 'P'},
	    {"token", required_argument, NULL, 't'},
	    {"no-token", no_argument, NULL, 'N'},
	    {"tokens", required_argument, NULL, 'n'},
	    {"warm", no_argument, NULL, 'W'},
	    {"once", no_argument, NULL, 'o'},
	    {"agent-pid", required_argument, NULL, 'a'},
	    {"label", required_argument, NULL, 'L'},
	    {"count", required_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {.host = "127.0.0.1",
			 .conns = 4,
			 .window = 20,
			 .threads = 1,
			 .seconds = 5,
			 .route = "route=ratings",
			 .path = "/ratings/1",
			 .token = "bench-token-0123456789abcdef0123456789abcdef",
			 .label = "run",
			 .ntokens = 1};
	volatile int phase = 0;
	struct thr *t;
	struct hist h = {0};
	unsigned long long c0 = 0, c1 = 0;
	uint64_t t0, t1, acks = 0, allowed = 0;
	int ch, per;

	while ((ch = getopt_long(argc, argv, "H:p:c:w:d:T:", lo, NULL)) != -1) {
		switch (ch) {
		case 'H':
			o.host = optarg;
			break;
		case 'p':
			o.port = (int)strtol(optarg, NULL, 10);
			break;
		case 'c':
			o.conns = (int)strtol(optarg, NULL, 10);
			break;
		case 'w':
			o.window = (int)strtol(optarg, NULL, 10);
			break;
		case 'd':
			o.seconds = strtod(optarg, NULL);
			break;
		case 'T':
			o.threads = (int)strtol(optarg, NULL, 10);
			break;
		case 'r':
			o.route = optarg;
			break;
		case 'P':
			o.path = optarg;
			break;
		case 't':
			o.token = optarg;
			break;
		case 'N':
			o.no_token = true;
			break;
		case 'n':
			o.ntokens = strtol(optarg, NULL, 10);
			break;
		case 'W':
			o.warm = true;
			break;
		case 'o':
			o.once = true;
			break;
		case 'a':
			o.agent_pid = (int)strtol(optarg, NULL, 10);
			break;
		case 'L':
			o.label = optarg;
			break;
		case 'C':
			o.count = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (o.port <= 0 || o.conns < 1 || o.window < 1 || o.window > MAX_W || o.threads < 1 ||
	    o.threads > o.conns || o.ntokens < 1 || o.seconds <= 0)
		usage();

	/* Warm-up (or --once): every distinct token once, spread over the
	 * threads, answers not counted. */
	if (o.warm || o.once) {
		long total = o.once && o.count > 0 ? o.count : o.ntokens;

		t = calloc((size_t)o.threads, sizeof(*t));
		per = o.conns / o.threads;
		for (int i = 0; i < o.threads; i++) {
			t[i].o = &o;
			t[i].nc = per + (i < o.conns % o.threads);
			t[i].c = calloc((size_t)t[i].nc, sizeof(*t[i].c));
			t[i].ep = epoll_create1(0);
			t[i].phase = &phase;
			t[i].tok_next = i;
			t[i].tok_step = o.threads;
			t[i].to_send = total / o.threads + (i < total % o.threads);
		}
		t0 = now_ns();
		run_phase(t, o.threads);
		for (int i = 0; i < o.threads; i++) {
			pthread_join(t[i].th, NULL);
			close(t[i].ep);
			free(t[i].c);
		}
		free(t);
		if (o.once) {
			t1 = now_ns();
			printf("label=%s sent=%ld seconds=%.2f per_s=%.0f\n", o.label, total,
			       (double)(t1 - t0) / 1e9, (double)total / ((double)(t1 - t0) / 1e9));
			return 0;
		}
	}

	t = calloc((size_t)o.threads, sizeof(*t));
	per = o.conns / o.threads;
	for (int i = 0; i < o.threads; i++) {
		t[i].o = &o;
		t[i].nc = per + (i < o.conns % o.threads);
		t[i].c = calloc((size_t)t[i].nc, sizeof(*t[i].c));
		t[i].ep = epoll_create1(0);
		t[i].phase = &phase;
		t[i].tok_next = i * (o.ntokens / o.threads);
		t[i].tok_step = 1;
		t[i].to_send = -1;
	}
	run_phase(t, o.threads);
	/* A short ramp so connections are set up, then the measured window. */
	usleep(300 * 1000);
	if (o.agent_pid && cpu_ticks(o.agent_pid, &c0) < 0)
		o.agent_pid = 0;
	t0 = now_ns();
	phase = 1;
	usleep((useconds_t)(o.seconds * 1e6));
	phase = 2;
	t1 = now_ns();
	if (o.agent_pid && cpu_ticks(o.agent_pid, &c1) < 0)
		o.agent_pid = 0;
	for (int i = 0; i < o.threads; i++) {
		pthread_join(t[i].th, NULL);
		close(t[i].ep);
		for (int b = 0; b < HIST_N; b++)
			h.b[b] += t[i].h.b[b];
		h.n += t[i].h.n;
		acks += t[i].acks;
		allowed += t[i].allowed;
		free(t[i].c);
	}
	free(t);
	{
		double secs = (double)(t1 - t0) / 1e9;
		double rate = (double)acks / secs;
		double cpu_us = 0;

		if (o.agent_pid && acks) {
			long hz = sysconf(_SC_CLK_TCK);
			cpu_us = (double)(c1 - c0) / (double)hz * 1e6 / (double)acks;
		}
		printf("label=%s conns=%d window=%d decisions=%llu per_s=%.0f allowed=%.3f "
		       "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f agent_cpu_us=%.2f\n",
		       o.label, o.conns, o.window, (unsigned long long)acks, rate,
		       acks ? (double)allowed / (double)acks : 0, hist_pct(&h, 0.50),
		       hist_pct(&h, 0.90), hist_pct(&h, 0.99), hist_pct(&h, 0.999), cpu_us);
	}
	return 0;
}

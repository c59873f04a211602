/* test_http_client.c - hc against real HTTP servers on 127.0.0.1.
 *
 * The servers are threads of this process using blocking sockets; the client
 * runs on a real libev loop in the main thread. Each server records every
 * request it parses (path, headers, body) so the tests can check what arrived
 * on the wire, byte for byte. */
#include "http_client.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#define MAX_BODY   4096 /* max_body of the main client */
#define TIMEOUT_MS 400	/* timeout_ms of the main client */
#define MAX_CONNS  256
#define MAX_LOG	   512
#define RBUF	   65536

/* ---- the test server ---- */

struct logged {
	char method[16], path[128], ctype[128], accept[128], auth[256];
	bool has_expect;
	char body[512];
	size_t body_len;
};

struct srv {
	int lfd, port, other_port;
	pthread_t acceptor;
	pthread_mutex_t mu;
	int nconns, nreqs;
	pthread_t threads[MAX_CONNS];
	int fds[MAX_CONNS];
	struct logged *log;
	int nlog;
};

struct conn_arg {
	struct srv *s;
	int fd;
};

static int listen_any(int *port, bool do_listen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (do_listen && listen(fd, 128) < 0) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("listen_any");
		exit(2);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *extra, const char *body)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: "
			 "%zu\r\n\r\n",
			 status, extra, strlen(body));

	send_all(fd, hdr, (size_t)n);
	send_all(fd, body, strlen(body));
}

static void respond_chunked(int fd, size_t total)
{
	static const char hdr[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	char chunk[1024 + 16];

	send_all(fd, hdr, sizeof(hdr) - 1);
	while (total) {
		size_t n = total < 1000 ? total : 1000;
		int h = snprintf(chunk, sizeof(chunk), "%zx\r\n", n);

		memset(chunk + h, 'x', n);
		memcpy(chunk + h + n, "\r\n", 2);
		send_all(fd, chunk, (size_t)h + n + 2);
		total -= n;
	}
	send_all(fd, "0\r\n\r\n", 5);
}

/* Waits until the client closes the connection (or ms pass). True if closed. */
static bool wait_close(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) > 0;
}

static void copy_field(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Parses the head in buf[0..hlen) into <l>; returns the Content-Length. */
static size_t parse_head(const char *buf, size_t hlen, struct logged *l)
{
	const char *p = buf, *end = buf + hlen, *eol, *sp1, *sp2;
	size_t cl = 0;

	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (sp1 && sp2) {
		copy_field(l->method, sizeof(l->method), p, (size_t)(sp1 - p));
		copy_field(l->path, sizeof(l->path), sp1 + 1, (size_t)(sp2 - sp1 - 1));
	}
	for (p = eol + 2; p < end && (eol = memmem(p, (size_t)(end - p), "\r\n", 2)); p = eol + 2) {
		const char *colon = memchr(p, ':', (size_t)(eol - p)), *v;

		if (!colon)
			continue;
		for (v = colon + 1; v < eol && *v == ' '; v++)
			;
		size_t nl = (size_t)(colon - p), vl = (size_t)(eol - v);
		if (nl == 12 && strncasecmp(p, "Content-Type", 12) == 0)
			copy_field(l->ctype, sizeof(l->ctype), v, vl);
		else if (nl == 6 && strncasecmp(p, "Accept", 6) == 0)
			copy_field(l->accept, sizeof(l->accept), v, vl);
		else if (nl == 13 && strncasecmp(p, "Authorization", 13) == 0)
			copy_field(l->auth, sizeof(l->auth), v, vl);
		else if (nl == 6 && strncasecmp(p, "Expect", 6) == 0)
			l->has_expect = true;
		else if (nl == 14 && strncasecmp(p, "Content-Length", 14) == 0)
			cl = strtoul(v, NULL, 10);
	}
	return cl;
}

/* Answers one request according to its path; returns false to close. */
static bool answer(struct srv *s, int fd, const char *path)
{
	char loc[256];
	size_t plen = strcspn(path, "?");

#define IS(lit) (plen == sizeof(lit) - 1 && strncmp(path, lit, plen) == 0)
	if (IS("/json")) {
		respond(fd, 200, "", "{\"active\":true,\"sub\":\"alice\"}");
	} else if (IS("/500")) {
		respond(fd, 500, "", "{\"error\":\"boom\"}");
	} else if (IS("/r307")) {
		respond(fd, 307, "Location: json?hop=1\r\n", "");
	} else if (IS("/r308abs")) {
		snprintf(loc, sizeof(loc), "Location: http://127.0.0.1:%d/json\r\n", s->port);
		respond(fd, 308, loc, "");
	} else if (IS("/r307other")) {
		snprintf(loc, sizeof(loc), "Location: http://127.0.0.1:%d/json\r\n", s->other_port);
		respond(fd, 307, loc, "");
	} else if (IS("/r307https")) {
		snprintf(loc, sizeof(loc), "Location: https://127.0.0.1:%d/json\r\n", s->port);
		respond(fd, 307, loc, "");
	} else if (IS("/r307loop")) {
		respond(fd, 307, "Location: /r307loop\r\n", "");
	} else if (IS("/r307noloc")) {
		respond(fd, 307, "", "");
	} else if (IS("/r302")) {
		respond(fd, 302, "Location: /json\r\n", "");
	} else if (IS("/slow")) {
		if (wait_close(fd, 3 * TIMEOUT_MS))
			return false;
		respond(fd, 200, "", "{}");
	} else if (IS("/hang")) {
		wait_close(fd, -1);
		return false;
	} else if (IS("/closemid")) {
		static const char r[] =
		    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"active\":";

		send_all(fd, r, sizeof(r) - 1);
		return false;
	} else if (IS("/big-exact")) {
		respond_chunked(fd, MAX_BODY);
	} else if (IS("/big-over")) {
		respond_chunked(fd, MAX_BODY + 1);
	} else if (IS("/big-cl")) {
		static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n";

		send_all(fd, r, sizeof(r) - 1);
		wait_close(fd, 3 * TIMEOUT_MS);
		return false;
	} else {
		respond(fd, 404, "", "{}");
	}
#undef IS
	return true;
}

static void *conn_main(void *p)
{
	struct conn_arg a = *(struct conn_arg *)p;
	char *buf = malloc(RBUF);
	size_t have = 0;

	free(p);
	for (;;) {
		struct logged l = {0};
		char *eoh;
		size_t hlen, cl;
		ssize_t n;

		while (!(eoh = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == RBUF || (n = read(a.fd, buf + have, RBUF - have)) <= 0)
				goto out;
			have += (size_t)n;
		}
		hlen = (size_t)(eoh - buf) + 4;
		cl = parse_head(buf, hlen, &l);
		if (cl > RBUF - hlen)
			goto out;
		while (have < hlen + cl) {
			if ((n = read(a.fd, buf + have, RBUF - have)) <= 0)
				goto out;
			have += (size_t)n;
		}
		copy_field(l.body, sizeof(l.body), buf + hlen, cl);
		l.body_len = cl < sizeof(l.body) ? cl : sizeof(l.body) - 1;
		pthread_mutex_lock(&a.s->mu);
		a.s->nreqs++;
		if (a.s->nlog < MAX_LOG)
			a.s->log[a.s->nlog++] = l;
		pthread_mutex_unlock(&a.s->mu);
		memmove(buf, buf + hlen + cl, have - hlen - cl);
		have -= hlen + cl;
		if (!answer(a.s, a.fd, l.path))
			break;
	}
out:
	shutdown(a.fd, SHUT_RDWR);
	free(buf);
	return NULL;
}

static void *acceptor_main(void *p)
{
	struct srv *s = p;

	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		struct conn_arg *a;

		if (fd < 0)
			return NULL; /* shutdown() by srv_stop() */
		pthread_mutex_lock(&s->mu);
		if (s->nconns == MAX_CONNS || !(a = malloc(sizeof(*a)))) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		a->s = s;
		a->fd = fd;
		s->fds[s->nconns] = fd;
		if (pthread_create(&s->threads[s->nconns], NULL, conn_main, a) != 0) {
			free(a);
			close(fd);
		} else {
			s->nconns++;
		}
		pthread_mutex_unlock(&s->mu);
	}
}

static void srv_start(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->log = calloc(MAX_LOG, sizeof(*s->log));
	s->lfd = listen_any(&s->port, true);
	pthread_create(&s->acceptor, NULL, acceptor_main, s);
}

static void srv_stop(struct srv *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->acceptor, NULL);
	for (int i = 0; i < s->nconns; i++) {
		shutdown(s->fds[i], SHUT_RDWR);
		pthread_join(s->threads[i], NULL);
		close(s->fds[i]);
	}
	close(s->lfd);
	free(s->log);
	pthread_mutex_destroy(&s->mu);
}

static int srv_get(struct srv *s, int *field)
{
	int v;

	pthread_mutex_lock(&s->mu);
	v = *field;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* Copies the last logged request whose path starts with <prefix>. */
static bool srv_last(struct srv *s, const char *prefix, struct logged *out)
{
	bool found = false;

	pthread_mutex_lock(&s->mu);
	for (int i = s->nlog - 1; i >= 0 && !found; i--) {
		if (strncmp(s->log[i].path, prefix, strlen(prefix)) == 0) {
			*out = s->log[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

static int srv_count(struct srv *s, const char *path)
{
	int n = 0;

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->nlog; i++)
		n += strcmp(s->log[i].path, path) == 0;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- the client side ---- */

struct ctx {
	struct ev_loop *loop;
	int pending;
	ev_timer watchdog;
};

struct result {
	struct ctx *ctx;
	int calls, err, redirects;
	long status;
	char body[MAX_BODY + 1];
	size_t body_len;
	char ctype[HTTP_CLIENT_MAX_MEDIA_TYPE];
	double elapsed, t0, t_cb;     /* t0/t_cb: test-side clock */
	struct http_client *chain_hc; /* when set, the callback posts /json on it */
	struct result *chain_res;
	const char *chain_url;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_done(const struct http_client_response *res, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->t_cb = now_s();
	r->err = res->err;
	r->status = res->status;
	r->redirects = res->redirects;
	r->elapsed = res->elapsed;
	snprintf(r->ctype, sizeof(r->ctype), "%s",
		 res->content_type ? res->content_type : "(null)");
	r->body_len = res->body.len < sizeof(r->body) ? res->body.len : sizeof(r->body);
	if (r->body_len)
		memcpy(r->body, res->body.ptr, r->body_len);
	if (r->chain_hc) {
		struct http_client_request req = {.url = r->chain_url,
						  .body = SLICE_LIT("chained")};

		r->chain_res->ctx = r->ctx;
		r->chain_res->t0 = now_s();
		if (http_client_post(r->chain_hc, &req, on_done, r->chain_res) == 0)
			r->ctx->pending++;
	}
	if (--r->ctx->pending == 0)
		ev_break(r->ctx->loop, EVBREAK_ALL);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until every pending request completed or <secs> passed. */
static bool run(struct ctx *c, double secs)
{
	if (c->pending == 0)
		return true;
	ev_timer_set(&c->watchdog, secs, 0.);
	ev_timer_start(c->loop, &c->watchdog);
	ev_run(c->loop, 0);
	ev_timer_stop(c->loop, &c->watchdog);
	return c->pending == 0;
}

static int post(struct ctx *c, struct http_client *hc, const char *url, const char *body,
		struct result *r)
{
	struct http_client_request req = {.url = url, .body = slice_str(body)};
	int rc;

	memset(r, 0, sizeof(*r));
	r->ctx = c;
	r->t0 = now_s();
	rc = http_client_post(hc, &req, on_done, r);
	if (rc == 0)
		c->pending++;
	return rc;
}

/* POSTs and waits: the common case. */
static void post_wait(struct ctx *c, struct http_client *hc, const char *url, const char *body,
		      struct result *r)
{
	is_int(post(c, hc, url, body, r), 0, url);
	ok(run(c, 5.0), "completes");
	is_int(r->calls, 1, "callback called once");
}

static char *url_of(const struct srv *s, const char *path)
{
	static char bufs[8][256];
	static int next;
	char *u = bufs[next++ % 8];

	snprintf(u, 256, "http://127.0.0.1:%d%s", s->port, path);
	return u;
}

static const char expect_auth[] =
    "Basic c3ZjK2ElM0ExOnAlNDBzcyt3JTJGcmQlMkIlMjUlMjYlM0QlN0UlQzMlQTkqLi1f";

static void test_json_auth(struct ctx *c, struct http_client *hc, struct srv *s)
{
	static const char body[] = "token=abc%2Bdef\0bin&token_type_hint=access_token";
	struct result r = {0};
	struct logged l;
	char *url = strdup(url_of(s, "/json"));
	uint8_t *b = malloc(sizeof(body) - 1);
	char *user = strdup("svc a:1"), *pass = strdup("p@ss w/rd+%&=~\xc3\xa9*.-_");
	struct http_client_request req = {.url = url, .body = slice_from(b, sizeof(body) - 1)};

	memcpy(b, body, sizeof(body) - 1);
	req.user = user;
	req.password = pass;
	r.ctx = c;
	is_int(http_client_post(hc, &req, on_done, &r), 0, "json: accepted");
	c->pending++;
	/* Everything was copied: scribble over and free the caller's buffers. */
	memset(url, 'X', strlen(url));
	memset(b, 'X', sizeof(body) - 1);
	free(url);
	free(b);
	free(user);
	free(pass);
	is_int(r.calls, 0, "json: no callback from inside http_client_post");
	ok(run(c, 5.0), "json: completes");
	is_int(r.calls, 1, "json: one callback");
	is_int(r.err, HTTP_CLIENT_OK, "json: HTTP_CLIENT_OK");
	is_int(r.status, 200, "json: status");
	is_int(r.redirects, 0, "json: no redirect");
	is_mem(r.body, r.body_len, "{\"active\":true,\"sub\":\"alice\"}", 29, "json: body");
	ok(srv_last(s, "/json", &l), "json: server saw it");
	is_str(l.method, "POST", "json: method");
	is_mem(l.body, l.body_len, body, sizeof(body) - 1, "json: body byte-exact on the wire");
	is_str(l.ctype, "application/x-www-form-urlencoded", "json: content-type");
	is_str(l.accept, "application/json", "json: accept");
	ok(strcmp(l.auth, expect_auth) == 0, "json: basic auth form-encoded then base64");
	ok(!l.has_expect, "json: no Expect header");
	is_str(r.ctype, "application/json", "json: the answer's Content-Type handed back");
}

/* An Accept other than application/json (RFC 9701 signed answers). */
static void test_accept(struct ctx *c, struct http_client *hc, struct srv *s)
{
	struct result r = {0};
	struct logged l;
	char acc[HTTP_CLIENT_MAX_MEDIA_TYPE + 1];
	struct http_client_request req = {.url = url_of(s, "/json?acc"),
					  .accept = "application/token-introspection+jwt"};

	r.ctx = c;
	is_int(http_client_post(hc, &req, on_done, &r), 0, "accept: accepted");
	c->pending++;
	ok(run(c, 5.0), "accept: completes");
	ok(srv_last(s, "/json?acc", &l), "accept: server saw it");
	is_str(l.accept, "application/token-introspection+jwt", "accept: sent as asked");
	req.accept = "a/b\r\nX-Evil: 1";
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "accept: CR LF refused");
	memset(acc, 'a', sizeof(acc) - 1);
	acc[sizeof(acc) - 1] = '\0';
	req.accept = acc;
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "accept: too long refused");
	req.accept = "";
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "accept: empty refused");
}

static void test_basic_no_password(struct ctx *c, struct http_client *hc, struct srv *s)
{
	struct result r;
	struct logged l;
	struct http_client_request req = {.url = url_of(s, "/json?nopw"), .user = "u"};

	memset(&r, 0, sizeof(r));
	r.ctx = c;
	is_int(http_client_post(hc, &req, on_done, &r), 0, "nopw: accepted");
	c->pending++;
	ok(run(c, 5.0), "nopw: completes");
	ok(srv_last(s, "/json?nopw", &l), "nopw: server saw it");
	is_str(l.auth, "Basic dTo=", "nopw: NULL password is empty");
	is_int(l.body_len, 0, "nopw: empty body");
}

/* GET (a JWKS fetch): no body, no Content-Type; a 307 is followed as GET. */
static void test_get(struct ctx *c, struct http_client *hc, struct srv *s)
{
	struct result r = {0};
	struct logged l;
	struct http_client_request req = {.url = url_of(s, "/json?get"), .get = true};
	struct http_client_request bad = {
	    .url = url_of(s, "/json"), .body = slice_str("x"), .get = true};

	r.ctx = c;
	is_int(http_client_post(hc, &req, on_done, &r), 0, "get: accepted");
	c->pending++;
	ok(run(c, 5.0), "get: completes");
	is_int(r.status, 200, "get: status");
	ok(srv_last(s, "/json?get", &l), "get: server saw it");
	is_str(l.method, "GET", "get: method");
	is_int(l.body_len, 0, "get: no body");
	is_str(l.ctype, "", "get: no content-type");
	memset(&r, 0, sizeof(r));
	r.ctx = c;
	req.url = url_of(s, "/r307");
	is_int(http_client_post(hc, &req, on_done, &r), 0, "get 307: accepted");
	c->pending++;
	ok(run(c, 5.0), "get 307: completes");
	is_int(r.redirects, 1, "get 307: followed");
	ok(srv_last(s, "/json?hop=1", &l), "get 307: server saw the hop");
	is_str(l.method, "GET", "get 307: still GET");
	is_int(http_client_post(hc, &bad, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "get with a body: refused");
}

/* A bearer credential (the userinfo call): sent as "Authorization: Bearer",
 * on a GET; refused when it could break the header or beside a user. */
static void test_bearer(struct ctx *c, struct http_client *hc, struct srv *s)
{
	struct result r = {0};
	struct logged l;
	static char big[HTTP_CLIENT_MAX_BEARER + 2];
	struct http_client_request req = {
	    .url = url_of(s, "/json?ui"), .get = true, .bearer = slice_str("tok-A.b_c~d+e/f=")};

	r.ctx = c;
	is_int(http_client_post(hc, &req, on_done, &r), 0, "bearer: accepted");
	c->pending++;
	ok(run(c, 5.0), "bearer: completes");
	ok(srv_last(s, "/json?ui", &l), "bearer: server saw it");
	is_str(l.method, "GET", "bearer: a GET");
	is_str(l.auth, "Bearer tok-A.b_c~d+e/f=", "bearer: the Authorization header");
	is_str(l.accept, "application/json", "bearer: accept");
	req.bearer = slice_str("a\r\nX-Evil: 1");
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "bearer: CR LF refused");
	req.bearer = slice_str("a b");
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "bearer: a space refused");
	req.bearer = slice_from("", 0);
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "bearer: empty refused");
	memset(big, 'a', sizeof(big) - 1);
	req.bearer = slice_from(big, HTTP_CLIENT_MAX_BEARER + 1);
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "bearer: too long refused");
	req.bearer = slice_str("tok");
	req.user = "u";
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "bearer: with a user refused");
}

static void test_statuses(struct ctx *c, struct http_client *hc, struct srv *s)
{
	struct result r;

	post_wait(c, hc, url_of(s, "/500"), "x=1", &r);
	is_int(r.err, HTTP_CLIENT_OK, "500: HTTP_CLIENT_OK");
	is_int(r.status, 500, "500: status passed through");
	is_mem(r.body, r.body_len, "{\"error\":\"boom\"}", 16, "500: body passed through");

	int json_before = srv_count(s, "/json");
	post_wait(c, hc, url_of(s, "/r302"), "x=1", &r);
	is_int(r.err, HTTP_CLIENT_OK, "302: HTTP_CLIENT_OK");
	is_int(r.status, 302, "302: plain status");
	is_int(r.redirects, 0, "302: not followed");
	is_int(srv_count(s, "/json"), json_before, "302: target never requested");
}

static void test_redirects(struct ctx *c, struct http_client *hc, struct srv *s, struct srv *other)
{
	struct result r;
	struct logged l1, l2;
	struct http_client_request req = {.url = url_of(s, "/r307"),
					  .body = SLICE_LIT("token=t307"),
					  .user = "svc a:1",
					  .password = "p@ss w/rd+%&=~\xc3\xa9*.-_"};
	struct http_client_stats st;

	memset(&r, 0, sizeof(r));
	r.ctx = c;
	is_int(http_client_post(hc, &req, on_done, &r), 0, "307: accepted");
	c->pending++;
	ok(run(c, 5.0), "307: completes");
	is_int(r.err, HTTP_CLIENT_OK, "307: HTTP_CLIENT_OK");
	is_int(r.status, 200, "307: final status");
	is_int(r.redirects, 1, "307: one hop");
	ok(srv_last(s, "/r307", &l1) && srv_last(s, "/json?hop=1", &l2), "307: both hops seen");
	is_mem(l2.body, l2.body_len, "token=t307", 10, "307: body re-POSTed");
	is_str(l2.method, "POST", "307: still POST");
	ok(strcmp(l2.auth, expect_auth) == 0, "307: same auth");
	is_str(l2.ctype, "application/x-www-form-urlencoded", "307: same content-type");

	post_wait(c, hc, url_of(s, "/r308abs"), "token=t308", &r);
	is_int(r.err, HTTP_CLIENT_OK, "308 absolute: HTTP_CLIENT_OK");
	is_int(r.status, 200, "308 absolute: followed");
	is_int(r.redirects, 1, "308 absolute: one hop");
	ok(srv_last(s, "/json", &l2), "308 absolute: target seen");
	is_mem(l2.body, l2.body_len, "token=t308", 10, "308 absolute: body re-POSTed");

	post_wait(c, hc, url_of(s, "/r307other"), "token=o", &r);
	is_int(r.err, HTTP_CLIENT_ERR_REDIRECT, "307 other port: refused");
	is_int(r.status, 307, "307 other port: status kept");
	is_int(srv_get(other, &other->nconns), 0, "307 other port: no connection there");
	is_int(srv_get(other, &other->nreqs), 0, "307 other port: no request there");

	post_wait(c, hc, url_of(s, "/r307https"), "token=o", &r);
	is_int(r.err, HTTP_CLIENT_ERR_REDIRECT, "307 other scheme: refused");

	post_wait(c, hc, url_of(s, "/r307noloc"), "token=o", &r);
	is_int(r.err, HTTP_CLIENT_ERR_REDIRECT, "307 without Location: refused");

	int before = srv_count(s, "/r307loop");
	post_wait(c, hc, url_of(s, "/r307loop"), "token=o", &r);
	is_int(r.err, HTTP_CLIENT_ERR_REDIRECT, "307 loop: refused");
	is_int(r.redirects, HTTP_CLIENT_MAX_REDIRECTS, "307 loop: max hops followed");
	is_int(srv_count(s, "/r307loop") - before, HTTP_CLIENT_MAX_REDIRECTS + 1,
	       "307 loop: requests");
	http_client_get_stats(hc, &st);
	ok(st.redirects >= 2 + HTTP_CLIENT_MAX_REDIRECTS, "stats: redirects counted");
}

static void check_timeout(struct result *r, const char *what)
{
	double lim = TIMEOUT_MS / 1000.0;
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: HTTP_CLIENT_ERR_TIMEOUT", what);
	is_int(r->err, HTTP_CLIENT_ERR_TIMEOUT, msg);
	snprintf(msg, sizeof(msg), "%s: within timeout+100ms (%.3fs)", what, r->t_cb - r->t0);
	ok(r->t_cb - r->t0 >= lim - 0.01 && r->t_cb - r->t0 <= lim + 0.1, msg);
	snprintf(msg, sizeof(msg), "%s: elapsed reported", what);
	ok(r->elapsed >= lim - 0.01 && r->elapsed <= lim + 0.1, msg);
}

static void test_failures(struct ctx *c, struct http_client *hc, struct srv *s)
{
	struct result r;
	char url[128];
	int port, fd;

	post_wait(c, hc, url_of(s, "/slow"), "x=1", &r);
	check_timeout(&r, "slow");
	post_wait(c, hc, url_of(s, "/hang"), "x=1", &r);
	check_timeout(&r, "hang");

	/* Listening, never accept()ed: the kernel completes the handshake. */
	fd = listen_any(&port, true);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	post_wait(c, hc, url, "x=1", &r);
	check_timeout(&r, "never accepted");
	close(fd);

	/* Bound but not listening: connection refused, port cannot be reused. */
	fd = listen_any(&port, false);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	is_int(post(c, hc, url, "x=1", &r), 0, "refused: accepted by http_client_post");
	is_int(r.calls, 0, "refused: no callback from inside http_client_post");
	ok(run(c, 5.0), "refused: completes");
	is_int(r.err, HTTP_CLIENT_ERR_CONNECT, "refused: HTTP_CLIENT_ERR_CONNECT");
	is_int(r.status, 0, "refused: no status");
	close(fd);

	post_wait(c, hc, url_of(s, "/closemid"), "x=1", &r);
	is_int(r.err, HTTP_CLIENT_ERR_OTHER, "close mid-body: HTTP_CLIENT_ERR_OTHER");
	is_int(r.body_len, 0, "close mid-body: no body");

	post_wait(c, hc, url_of(s, "/big-exact"), "x=1", &r);
	is_int(r.err, HTTP_CLIENT_OK, "max_body bytes exactly: ok");
	is_int(r.body_len, MAX_BODY, "max_body bytes exactly: whole body");
	post_wait(c, hc, url_of(s, "/big-over"), "x=1", &r);
	is_int(r.err, HTTP_CLIENT_ERR_TOO_BIG, "max_body+1 chunked: HTTP_CLIENT_ERR_TOO_BIG");
	post_wait(c, hc, url_of(s, "/big-cl"), "x=1", &r);
	is_int(r.err, HTTP_CLIENT_ERR_TOO_BIG,
	       "Content-Length max_body+1: HTTP_CLIENT_ERR_TOO_BIG");
	ok(r.t_cb - r.t0 < TIMEOUT_MS / 1000.0, "Content-Length too big: fails before the timeout");
}

static void test_invalid(struct http_client *hc)
{
	struct result r = {0};
	struct http_client_request req = {.url = "ftp://127.0.0.1/x"};
	static uint8_t huge[HTTP_CLIENT_MAX_REQUEST_BODY + 1];
	char longuser[1100];

	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID, "ftp:// refused");
	req.url = "file:///etc/passwd";
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID, "file:// refused");
	req.url = "http://[::1";
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID, "bad URL refused");
	req.url = NULL;
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "NULL url refused");
	req.url = "http://127.0.0.1:1/";
	is_int(http_client_post(hc, &req, NULL, &r), HTTP_CLIENT_ERR_INVALID,
	       "NULL callback refused");
	is_int(http_client_post(NULL, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "NULL hc refused");
	req.body = slice_from(huge, sizeof(huge));
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "huge body refused");
	req.body = SLICE_NULL;
	memset(longuser, 'a', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	req.user = longuser;
	is_int(http_client_post(hc, &req, on_done, &r), HTTP_CLIENT_ERR_INVALID,
	       "long user refused");
	is_int(r.calls, 0, "refused requests never call back");
}

static void test_concurrency(struct ctx *c, struct ev_loop *loop, struct srv *s)
{
	struct http_client_options o = {.timeout_ms = 5000, .max_connections_per_endpoint = 8};
	struct http_client *hc = http_client_new(loop, &o);
	struct result *r = calloc(50, sizeof(*r));
	struct http_client_stats st;
	int conns0 = srv_get(s, &s->nconns), conns1, all_ok = 1;
	char url[128];

	for (int i = 0; i < 50; i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/json?i=%d", s->port, i);
		if (post(c, hc, url, "token=c", &r[i]) != 0)
			all_ok = 0;
	}
	ok(all_ok, "50 concurrent: all accepted");
	http_client_get_stats(hc, &st);
	is_int(st.inflight, 50, "50 concurrent: in flight");
	ok(run(c, 10.0), "50 concurrent: all complete");
	for (int i = 0; i < 50; i++)
		if (r[i].calls != 1 || r[i].err != HTTP_CLIENT_OK || r[i].status != 200)
			all_ok = 0;
	ok(all_ok, "50 concurrent: all 200, one callback each");
	conns1 = srv_get(s, &s->nconns);
	ok(conns1 - conns0 <= 8, "50 concurrent: at most 8 connections");
	http_client_get_stats(hc, &st);
	is_int(st.connects, conns1 - conns0, "stats: connects match the server's count");
	is_int(st.inflight, 0, "stats: nothing in flight");
	is_int(st.completed, 50, "stats: completed");
	is_int(st.by_error[0], 50, "stats: ok count");

	/* A second wave reuses the cached connections. */
	for (int i = 0; i < 20; i++)
		post(c, hc, url_of(s, "/json?wave2"), "token=c", &r[i]);
	ok(run(c, 10.0), "second wave completes");
	ok(srv_get(s, &s->nconns) - conns0 < 20 + 50,
	   "keep-alive: fewer connections than requests");
	is_int(srv_get(s, &s->nconns), conns1, "keep-alive: second wave opened no connection");
	http_client_free(hc);
	free(r);
}

static void test_inflight_cap(struct ctx *c, struct ev_loop *loop, struct srv *s, struct srv *b)
{
	struct http_client_options o = {.max_inflight_per_endpoint = 2};
	struct http_client *hc = http_client_new(loop, &o);
	struct result r[4];
	struct http_client_stats st;

	is_int(post(c, hc, url_of(s, "/hang"), "", &r[0]), 0, "cap: 1st accepted");
	is_int(post(c, hc, url_of(s, "/hang"), "", &r[1]), 0, "cap: 2nd accepted");
	is_int(post(c, hc, url_of(s, "/json"), "", &r[2]), HTTP_CLIENT_ERR_OVERLOADED,
	       "cap: 3rd overloaded");
	is_int(post(c, hc, url_of(b, "/hang"), "", &r[3]), 0, "cap: other endpoint accepted");
	http_client_get_stats(hc, &st);
	is_int(st.inflight, 3, "cap: 3 in flight");
	is_int(st.by_error[HTTP_CLIENT_ERR_INDEX(HTTP_CLIENT_ERR_OVERLOADED)], 1,
	       "cap: overload counted");
	run(c, 0.1); /* let the connections open */
	http_client_cancel_all(hc);
	is_int(r[0].calls + r[1].calls + r[3].calls, 3, "cancel_all: every callback called");
	is_int(r[2].calls, 0, "cap: refused request never called back");
	is_int(r[0].err, HTTP_CLIENT_ERR_CANCELLED, "cancel_all: HTTP_CLIENT_ERR_CANCELLED");
	is_int(r[3].err, HTTP_CLIENT_ERR_CANCELLED,
	       "cancel_all: HTTP_CLIENT_ERR_CANCELLED (other endpoint)");
	http_client_get_stats(hc, &st);
	is_int(st.inflight, 0, "cancel_all: nothing in flight");
	is_int(post(c, hc, url_of(s, "/json"), "", &r[2]), 0, "cap: room again after cancel");
	ok(run(c, 5.0), "cap: completes");
	is_int(r[2].err, HTTP_CLIENT_OK, "cap: ok");
	http_client_free(hc);
}

static void test_chain_and_free(struct ctx *c, struct ev_loop *loop, struct srv *s)
{
	struct http_client *hc = http_client_new(loop, NULL);
	struct result r1, r2, r3;

	post(c, hc, url_of(s, "/json?first"), "a=1", &r1);
	memset(&r2, 0, sizeof(r2));
	r1.chain_hc = hc;
	r1.chain_res = &r2;
	r1.chain_url = url_of(s, "/json?second");
	ok(run(c, 5.0), "chain: both complete");
	is_int(r1.err, HTTP_CLIENT_OK, "chain: first ok");
	is_int(r2.calls, 1, "chain: http_client_post from a callback works");
	is_int(r2.err, HTTP_CLIENT_OK, "chain: second ok");

	/* http_client_free with a request in flight: dropped, no callback, no leak. */
	is_int(post(c, hc, url_of(s, "/hang"), "", &r3), 0, "free: accepted");
	run(c, 0.1);
	http_client_free(hc);
	c->pending--;
	is_int(r3.calls, 0, "free: pending callback dropped");
}

static void test_options(struct ev_loop *loop)
{
	struct http_client_options o = {.max_body = HTTP_CLIENT_MAX_BODY_LIMIT + 1};

	ok(http_client_new(loop, &o) == NULL, "max_body over the limit refused");
	o.max_body = 0;
	o.timeout_ms = HTTP_CLIENT_MAX_TIMEOUT_MS + 1;
	ok(http_client_new(loop, &o) == NULL, "timeout over the limit refused");
	ok(http_client_new(NULL, NULL) == NULL, "NULL loop refused");
	is_str(http_client_strerror(HTTP_CLIENT_ERR_TIMEOUT), "timeout", "strerror");
	is_str(http_client_strerror(1), "unknown error", "strerror positive");
	is_str(http_client_strerror(-HTTP_CLIENT_NERRORS), "unknown error",
	       "strerror out of range");
	for (int e = 0; e > -HTTP_CLIENT_NERRORS; e--)
		ok(http_client_strerror(e) != NULL &&
		       strcmp(http_client_strerror(e), "unknown error") != 0,
		   "every error has a name");
}

int main(void)
{
	struct srv a, b;
	struct ctx c = {0};
	struct http_client_options o = {.timeout_ms = TIMEOUT_MS, .max_body = MAX_BODY};
	struct http_client *hc;

	if (http_client_global_init() != 0) {
		printf("http_client_global_init failed\n");
		return 1;
	}
	srv_start(&a);
	srv_start(&b);
	a.other_port = b.port;
	c.loop = ev_loop_new(EVFLAG_AUTO);
	ev_init(&c.watchdog, on_watchdog);
	hc = http_client_new(c.loop, &o);
	ok(hc != NULL, "http_client_new");

	test_options(c.loop);
	test_json_auth(&c, hc, &a);
	test_accept(&c, hc, &a);
	test_basic_no_password(&c, hc, &a);
	test_get(&c, hc, &a);
	test_bearer(&c, hc, &a);
	test_statuses(&c, hc, &a);
	test_redirects(&c, hc, &a, &b);
	test_failures(&c, hc, &a);
	test_invalid(hc);
	test_concurrency(&c, c.loop, &a);
	test_inflight_cap(&c, c.loop, &a, &b);
	test_chain_and_free(&c, c.loop, &a);

	http_client_free(hc);
	ev_loop_destroy(c.loop);
	srv_stop(&a);
	srv_stop(&b);
	http_client_global_cleanup();
	return done_testing("http_client");
}

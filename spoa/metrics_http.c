/* metrics_http.c - see metrics_http.h. */
#include "metrics_http.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

struct metrics_http_server {
	int fd;
	pthread_t thread;
	atomic_bool stop;
	metrics_http_render_cb render;
	void *arg;
};

int metrics_http_parse_request_line(const char *buf, size_t len, enum metrics_http_target *out,
				    int *head)
{
	const char *eol = memchr(buf, '\n', len);
	const char *sp1, *sp2, *end;
	size_t mlen, tlen;

	*head = 0;
	if (!eol)
		return 0;
	end = eol > buf && eol[-1] == '\r' ? eol - 1 : eol;
	sp1 = memchr(buf, ' ', (size_t)(end - buf));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	*out = METRICS_HTTP_BAD_REQUEST;
	if (!sp1 || !sp2 || (size_t)(end - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return 1;
	mlen = (size_t)(sp1 - buf);
	tlen = (size_t)(sp2 - sp1 - 1);
	if (!tlen || sp1[1] != '/') /* origin-form only */
		return 1;
	if (!(mlen == 3 && !memcmp(buf, "GET", 3)) && !(mlen == 4 && !memcmp(buf, "HEAD", 4))) {
		*out = METRICS_HTTP_BAD_METHOD;
		return 1;
	}
	*head = mlen == 4;
	for (size_t i = 0; i < tlen; i++)
		if (sp1[1 + i] == '?') {
			tlen = i;
			break;
		}
	if (tlen == 8 && !memcmp(sp1 + 1, "/metrics", 8))
		*out = METRICS_HTTP_METRICS;
	else if (tlen == 8 && !memcmp(sp1 + 1, "/healthz", 8))
		*out = METRICS_HTTP_HEALTHZ;
	else
		*out = METRICS_HTTP_NOT_FOUND;
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until the end of the headers, the size cap or the deadline. Returns
 * the bytes read, or -1 (timeout, error, peer gone). */
static ssize_t read_request(int fd, char *buf, size_t cap, int64_t deadline)
{
	size_t len = 0;

	while (len < cap) {
		struct pollfd p = {fd, POLLIN, 0};
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		r = recv(fd, buf + len, cap - len, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		len += (size_t)r;
		if (len >= 4 && memmem(buf, len, "\r\n\r\n", 4))
			return (ssize_t)len;
		if (len >= 2 && memmem(buf, len, "\n\n", 2))
			return (ssize_t)len;
	}
	return (ssize_t)len; /* full: the caller answers 431 */
}

static void write_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n) {
		struct pollfd pf = {fd, POLLOUT, 0};
		int64_t left = deadline - now_ms();
		ssize_t w;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return;
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int code, const char *reason, const char *ctype, const char *body,
		    size_t blen, bool head, int64_t deadline)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, reason, ctype, blen);

	write_all(fd, hdr, (size_t)n, deadline);
	if (!head)
		write_all(fd, body, blen, deadline);
}

static void serve_one(struct metrics_http_server *s, int fd)
{
	char buf[METRICS_HTTP_MAX_REQUEST];
	int64_t deadline = now_ms() + METRICS_HTTP_IO_TIMEOUT_MS;
	ssize_t n = read_request(fd, buf, sizeof(buf), deadline);
	enum metrics_http_target t;
	int head;
	static const char text[] = "text/plain; charset=utf-8";

	if (n < 0)
		return;
	if (metrics_http_parse_request_line(buf, (size_t)n, &t, &head) == 0) {
		respond(fd, 431, "Request Header Fields Too Large", text, "too large\n", 10, false,
			deadline);
		return;
	}
	switch (t) {
	case METRICS_HTTP_METRICS: {
		struct prom_buf b = {0};

		s->render(s->arg, &b);
		if (b.truncated)
			respond(fd, 500, "Internal Server Error", text, "metrics too large\n", 18,
				head, deadline);
		else
			respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
				b.p ? b.p : "", b.len, head, deadline);
		prom_free(&b);
		return;
	}
	case METRICS_HTTP_HEALTHZ:
		respond(fd, 200, "OK", text, "ok\n", 3, head, deadline);
		return;
	case METRICS_HTTP_NOT_FOUND:
		respond(fd, 404, "Not Found", text, "not found\n", 10, head, deadline);
		return;
	case METRICS_HTTP_BAD_METHOD:
		respond(fd, 405, "Method Not Allowed", text, "GET only\n", 9, false, deadline);
		return;
	case METRICS_HTTP_BAD_REQUEST:
		break;
	}
	respond(fd, 400, "Bad Request", text, "bad request\n", 12, false, deadline);
}

static void *server_main(void *arg)
{
	struct metrics_http_server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {s->fd, POLLIN, 0};
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				struct timespec ts = {0, 100 * 1000 * 1000};

				nanosleep(&ts, NULL); /* out of fds: do not spin */
			}
			continue;
		}
		serve_one(s, fd);
		close(fd);
	}
	return NULL;
}

struct metrics_http_server *metrics_http_start(const char *addr, metrics_http_render_cb render,
					       void *arg, struct err *e)
{
	struct metrics_http_server *s;
	sigset_t all, old;
	int rc;

	if (listener_is_unix(addr)) {
		err_set(e, 0, 0, "metrics: a HOST:PORT address is needed");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		err_set(e, 0, 0, "out of memory");
		return NULL;
	}
	s->render = render;
	s->arg = arg;
	s->fd = listener_open(addr, false, true, LISTENER_DEFAULT_UNIX_MODE, e);
	if (s->fd < 0) {
		free(s);
		return NULL;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->thread, NULL, server_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		close(s->fd);
		free(s);
		err_set(e, 0, 0, "metrics: cannot start thread: %s", strerror(rc));
		return NULL;
	}
	return s;
}

void metrics_http_stop(struct metrics_http_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	free(s);
}

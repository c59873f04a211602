/* floor_agent.c - the cheapest SPOP agent we can write, as a yardstick for
 * `make bench`: one thread, epoll, one read and one write per wakeup, and
 * every NOTIFY answered with a FIXED ACK, without looking at its arguments.
 * What HAProxy spends with this agent is the part of an exchange no agent
 * can save; what oauth2-spoa spends on top of it is ours to shrink.
 *
 * Usage: floor_agent -p PORT [--vars all|allowed]
 *   all      the SET-VARs oauth2-spoa sends for an allowed cache hit with its
 *            default --variables: allowed, status, reason, policy, sub,
 *            client_id, scope (values as the fault IdP's default claims)
 *   allowed  only txn.oauth2.allowed = true
 *
 * Only for loopback benchmarks: IPv4, no fragmentation, no timeouts; a
 * malformed frame closes the connection. Runs until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spop_frame.h"
#include "spop_wire.h"

#define MAX_FRAME 16384u
#define BUF_CAP	  (256u * 1024u)
#define MAX_FD	  4096

struct fconn {
	int fd;
	bool want_out;
	size_t ilen, olen;
	uint8_t in[BUF_CAP], out[BUF_CAP];
};

static struct fconn *conns[MAX_FD];
static int ep;
static bool all_vars = true;

#define TXN(name) SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, name)
static const struct spop_var_head h_allowed = TXN("allowed"), h_status = TXN("status"),
				  h_reason = TXN("reason"), h_policy = TXN("policy"),
				  h_sub = TXN("sub"), h_client_id = TXN("client_id"),
				  h_scope = TXN("scope");

static void put_str(struct spop_ack *a, const struct spop_var_head *h, const char *s)
{
	(void)spop_ack_put_str(a, h, s, strlen(s));
}

static ssize_t encode_ack(uint8_t *out, size_t cap, uint64_t sid, uint64_t fid)
{
	struct spop_ack a;
	struct spop_value v = spop_bool(true);

	if (spop_ack_begin(&a, out, cap, sid, fid) < 0 || spop_ack_put_var(&a, &h_allowed, &v) < 0)
		return -1;
	if (all_vars) {
		v = spop_int(200);
		(void)spop_ack_put_var(&a, &h_status, &v);
		put_str(&a, &h_reason, "ok");
		put_str(&a, &h_policy, "bench/bench");
		put_str(&a, &h_sub, "user-1");
		put_str(&a, &h_client_id, "svc-a");
		put_str(&a, &h_scope, "read write");
	}
	return (ssize_t)spop_ack_end(&a);
}

static void drop(struct fconn *c)
{
	close(c->fd);
	conns[c->fd] = NULL;
	free(c);
}

static void set_out_interest(struct fconn *c, bool want)
{
	struct epoll_event e = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = c->fd};

	if (want != c->want_out && epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->want_out = want;
}

/* Returns false when the connection must close. */
static bool flush(struct fconn *c)
{
	if (c->olen) {
		ssize_t n = send(c->fd, c->out, c->olen, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (n > 0) {
			memmove(c->out, c->out + n, c->olen - (size_t)n);
			c->olen -= (size_t)n;
		}
	}
	set_out_interest(c, c->olen > 0);
	return true;
}

/* Answers one frame; false closes the connection. */
static bool on_frame(struct fconn *c, struct slice body)
{
	struct spop_frame f;
	uint8_t *o = c->out + c->olen;
	size_t room = BUF_CAP - c->olen;
	ssize_t n;

	if (spop_frame_decode(body, &f) < 0)
		return false;
	if (f.type == SPOP_FT_HAPROXY_HELLO) {
		struct spop_hello h;
		struct spop_nego nego;

		if (spop_hello_decode(f.payload, &h) < 0 ||
		    spop_negotiate(&h, MAX_FRAME, SPOP_CAP_PIPELINING, &nego) < 0)
			return false;
		n = spop_encode_agent_hello(o, room, &nego);
	} else if (f.type == SPOP_FT_NOTIFY) {
		n = encode_ack(o, room, f.stream_id, f.frame_id);
	} else if (f.type == SPOP_FT_HAPROXY_DISCONNECT) {
		n = spop_encode_agent_disconnect(o, room, 0, "normal");
		if (n > 0)
			c->olen += (size_t)n;
		(void)flush(c);
		return false;
	} else {
		return false;
	}
	if (n < 0)
		return false;
	c->olen += (size_t)n;
	return true;
}

static void on_readable(struct fconn *c)
{
	ssize_t n = recv(c->fd, c->in + c->ilen, BUF_CAP - c->ilen, 0);
	size_t off = 0;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(c);
		return;
	}
	if (n > 0)
		c->ilen += (size_t)n;
	for (;;) {
		struct slice body;
		ssize_t fl = spop_frame_split(c->in + off, c->ilen - off, MAX_FRAME, &body);

		if (fl < 0) {
			drop(c);
			return;
		}
		/* Leave room for the answers: stop reading frames when out is nearly full. */
		if (fl == 0 || BUF_CAP - c->olen < 4096)
			break;
		if (!on_frame(c, body)) {
			drop(c);
			return;
		}
		off += (size_t)fl;
	}
	memmove(c->in, c->in + off, c->ilen - off);
	c->ilen -= off;
	if (!flush(c))
		drop(c);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 1024) < 0)
		return -1;
	return fd;
}

static int listen_on(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"vars", required_argument, NULL, 'v'},
					   {"unix", required_argument, NULL, 'u'},
					   {NULL, 0, NULL, 0}};
	const char *unix_path = NULL;
	int port = 0, opt, lfd;
	struct epoll_event e = {.events = EPOLLIN};

	while ((opt = getopt_long(argc, argv, "p:", lo, NULL)) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'u')
			unix_path = optarg;
		else if (opt == 'v' && (!strcmp(optarg, "all") || !strcmp(optarg, "allowed")))
			all_vars = !strcmp(optarg, "all");
		else
			port = -1;
	}
	if ((port <= 0 || port > 65535) && !unix_path) {
		fprintf(stderr, "usage: floor_agent -p PORT | --unix PATH [--vars all|allowed]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = unix_path ? listen_unix(unix_path) : listen_on(port);
	ep = epoll_create1(0);
	if (lfd < 0 || lfd >= MAX_FD || ep < 0) {
		perror("floor_agent: listen");
		return 1;
	}
	e.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
	for (;;) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == lfd) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;
				struct fconn *c;

				if (cfd < 0)
					continue;
				c = cfd < MAX_FD ? calloc(1, sizeof(*c)) : NULL;
				if (!c) {
					close(cfd);
					continue;
				}
				c->fd = cfd;
				conns[cfd] = c;
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				e.data.fd = cfd;
				epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
			} else if (conns[fd]) {
				struct fconn *c = conns[fd];

				if ((ev[i].events & EPOLLOUT) && !flush(c)) {
					drop(c);
					continue;
				}
				if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					on_readable(c);
			}
		}
	}
}

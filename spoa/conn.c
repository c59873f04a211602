/* conn.c - one SPOP connection: see conn.h.
 *
 * recv() writes straight into the core's input buffer (spop_conn_room), and
 * the answers of a whole batch leave in one send() per loop iteration:
 * a connection whose core queued output goes on env->dirty, which
 * conn_flush_dirty() writes from the worker's ev_prepare. When the core
 * stops taking input (CONN_MAX_INFLIGHT decisions waiting, or the peer not
 * reading our output), the read watcher stops. */
#include "conn.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"

#define READS_PER_WAKEUP 4 /* fairness between connections */

struct conn {
	struct spop_conn sc; /* the protocol; everything else here is I/O */
	struct conn_env *env;
	uint64_t id;
	int fd;
	ev_io rio, wio;
	ev_timer timer;
	int depth; /* >0 while one of our callbacks is on the stack */
	bool dead; /* destroy when depth drops to 0 */
	bool in_dirty;
	struct conn *next_dirty;
};

static struct conn *of_core(struct spop_conn *sc)
{
	return (struct conn *)((char *)sc - offsetof(struct conn, sc));
}

uint64_t conn_id(const struct conn *c)
{
	return c->id;
}

unsigned conn_inflight(const struct conn *c)
{
	return spop_conn_inflight(&c->sc);
}

static void destroy(struct conn *c)
{
	struct conn **pp;

	ev_io_stop(c->env->loop, &c->rio);
	ev_io_stop(c->env->loop, &c->wio);
	ev_timer_stop(c->env->loop, &c->timer);
	if (c->in_dirty) {
		for (pp = &c->env->dirty; *pp; pp = &(*pp)->next_dirty) {
			if (*pp == c) {
				*pp = c->next_dirty;
				break;
			}
		}
	}
	close(c->fd);
	if (c->env->on_close)
		c->env->on_close(c->env->arg, c);
	spop_conn_free(&c->sc);
	free(c);
}

/* Marks <c> for destruction; it happens when no callback of ours is running. */
static void kill_conn(struct conn *c)
{
	c->dead = true;
	if (c->depth == 0)
		destroy(c);
}

static void enter(struct conn *c)
{
	c->depth++;
}

/* Returns false when <c> was destroyed. */
static bool leave(struct conn *c)
{
	if (--c->depth == 0 && c->dead) {
		destroy(c);
		return false;
	}
	return true;
}

static size_t pending(const struct conn *c)
{
	return spop_conn_output(&c->sc).len;
}

/* After a call into the core that started with <before> bytes to write:
 * new output is flushed this loop iteration; a DEAD core closes now. */
static void after_core(struct conn *c, size_t before)
{
	if (pending(c) > before && !c->in_dirty) {
		c->in_dirty = true;
		c->next_dirty = c->env->dirty;
		c->env->dirty = c;
	}
	if (spop_conn_state(&c->sc) == SPOP_CONN_DEAD)
		kill_conn(c);
}

static void update_interest(struct conn *c)
{
	bool want_read = spop_conn_wants_input(&c->sc);

	if (c->dead)
		return;
	if (want_read && !ev_is_active(&c->rio))
		ev_io_start(c->env->loop, &c->rio);
	else if (!want_read && ev_is_active(&c->rio))
		ev_io_stop(c->env->loop, &c->rio);
	if (pending(c) == 0 && ev_is_active(&c->wio))
		ev_io_stop(c->env->loop, &c->wio);
	/* writes start from conn_flush_dirty() */
}

static int core_decide(void *arg, struct spop_conn *sc, const struct authz_req *req,
		       uint64_t stream_id, uint64_t frame_id, struct verdict *out)
{
	struct conn_env *env = arg;
	struct conn *c = of_core(sc);
	struct authz_ticket t = {c->id, stream_id, frame_id, ev_now(env->loop)};

	return authz_decide(env->authz, req, &t, out);
}

static void core_event(void *arg, struct spop_conn *sc, const struct spop_conn_event *ev)
{
	struct conn_env *env = arg;
	unsigned long long id = (unsigned long long)of_core(sc)->id;

	switch (ev->type) {
	case SPOP_CONN_EV_HELLO:
		log_debug("conn %llu: HELLO done, max-frame-size %u, caps 0x%x%s", id,
			  ev->max_frame_size, ev->caps, env->spop.draining ? " (draining)" : "");
		break;
	case SPOP_CONN_EV_ERROR:
		log_debug("conn %llu: protocol error, AGENT-DISCONNECT %d (%s)", id, ev->status,
			  spop_status_str(ev->status));
		break;
	case SPOP_CONN_EV_PEER_DISCONNECT:
		if (ev->status != SPOP_ST_NORMAL)
			log_debug("conn %llu: HAPROXY-DISCONNECT %u \"%.*s\"", id,
				  (unsigned)ev->status,
				  (int)(ev->message.len > 255 ? 255 : ev->message.len),
				  (const char *)ev->message.ptr);
		break;
	}
}

void conn_env_init(struct conn_env *env, struct ev_loop *loop)
{
	env->loop = loop;
	env->spop.decide = core_decide;
	env->spop.event = core_event;
	env->spop.arg = env;
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, rio));
	size_t before = pending(c);
	int i;

	(void)revents;
	enter(c);
	for (i = 0; i < READS_PER_WAKEUP && !c->dead && spop_conn_wants_input(&c->sc); i++) {
		size_t room;
		uint8_t *p = spop_conn_room(&c->sc, &room);
		ssize_t n;

		if (!p)
			break; /* full, or could not grow (the core queued DISCONNECT 13) */
		n = recv(c->fd, p, room, 0);
		if (n > 0) {
			spop_conn_received(&c->sc, (size_t)n, ev_now(loop));
			if ((size_t)n < room)
				break;
		} else if (n == 0) {
			kill_conn(c); /* EOF is a normal close */
			break;
		} else if (errno == EINTR) {
			continue;
		} else {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				kill_conn(c); /* ECONNRESET and friends: a normal close too */
			break;
		}
	}
	after_core(c, before);
	update_interest(c);
	leave(c);
}

/* Sends queued output. Returns false when the connection failed. */
static bool do_write(struct conn *c)
{
	struct slice out;

	while ((out = spop_conn_output(&c->sc)).len) {
		ssize_t n = send(c->fd, out.ptr, out.len, MSG_NOSIGNAL);

		if (n > 0) {
			spop_conn_sent(&c->sc, (size_t)n, ev_now(c->env->loop));
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!ev_is_active(&c->wio))
				ev_io_start(c->env->loop, &c->wio);
			return true;
		} else {
			return false;
		}
	}
	if (ev_is_active(&c->wio))
		ev_io_stop(c->env->loop, &c->wio);
	return true;
}

/* After output progressed: close when done, resume reading when unblocked. */
static void after_write(struct conn *c)
{
	size_t before = pending(c);

	if (spop_conn_state(&c->sc) == SPOP_CONN_CLOSING && before == 0) {
		kill_conn(c);
		return;
	}
	spop_conn_resume(&c->sc, ev_now(c->env->loop));
	after_core(c, before);
	update_interest(c);
}

static void write_now(struct conn *c)
{
	enter(c);
	if (!do_write(c))
		kill_conn(c);
	else
		after_write(c);
	leave(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	write_now((struct conn *)((char *)w - offsetof(struct conn, wio)));
}

void conn_flush_dirty(struct conn_env *env)
{
	while (env->dirty) {
		struct conn *c = env->dirty;

		env->dirty = c->next_dirty;
		c->in_dirty = false;
		c->next_dirty = NULL;
		write_now(c);
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, timer));
	double now = ev_now(loop), deadline = spop_conn_deadline(&c->sc, now);
	size_t before;

	(void)revents;
	if (now < deadline) {
		w->repeat = deadline - now;
		ev_timer_again(loop, w);
		return;
	}
	enter(c);
	log_debug("conn %llu: timeout", (unsigned long long)c->id);
	before = pending(c);
	spop_conn_timeout(&c->sc, now);
	after_core(c, before);
	update_interest(c);
	/* The DISCONNECT gets one more write-timeout period to leave. */
	w->repeat = CONN_WRITE_TIMEOUT_S;
	if (!c->dead)
		ev_timer_again(loop, w);
	leave(c);
}

struct conn *conn_new(struct conn_env *env, int fd, uint64_t id)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	spop_conn_init(&c->sc, &env->spop, ev_now(env->loop));
	c->env = env;
	c->id = id;
	c->fd = fd;
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_timer_init(&c->timer, timer_cb, 0., CONN_HELLO_TIMEOUT_S);
	ev_timer_again(env->loop, &c->timer);
	ev_io_start(env->loop, &c->rio);
	return c;
}

void conn_deliver(struct conn *c, uint64_t stream_id, uint64_t frame_id, struct verdict *v)
{
	size_t before = pending(c);

	enter(c);
	spop_conn_deliver(&c->sc, stream_id, frame_id, v, ev_now(c->env->loop));
	after_core(c, before);
	update_interest(c);
	leave(c);
}

void conn_drain(struct conn *c)
{
	size_t before = pending(c);

	enter(c);
	spop_conn_drain(&c->sc);
	after_core(c, before);
	update_interest(c);
	leave(c);
}

void conn_abort(struct conn *c, int status)
{
	enter(c);
	spop_conn_abort(&c->sc, status);
	(void)do_write(c);
	kill_conn(c);
	leave(c);
}

/* conn.c - one SPOP connection: see conn.h.
 *
 * Input is read into rbuf, split into whole frames and handled in place; the
 * answers of a whole batch go into wbuf and leave in one send() per loop
 * iteration (conn_flush_dirty() runs from the worker's ev_prepare). Decisions
 * that wait are counted in <inflight>; when it reaches CONN_MAX_INFLIGHT, or
 * when the peer stops reading our output, we stop reading its input. */
#include "conn.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "spop_frame.h"
#include "spop_reasm.h"

#define RBUF_INITIAL	       4096u
#define CONN_PARTIAL_TIMEOUT_S 30.0 /* a frame started but not finished */
#define CONN_WRITE_TIMEOUT_S   30.0 /* output pending, no progress */
#define READS_PER_WAKEUP       4    /* fairness between connections */

enum conn_state {
	ST_HELLO,    /* waiting for HAPROXY-HELLO */
	ST_RUNNING,  /* NOTIFY/ACK */
	ST_DRAINING, /* shutting down: no reading, pending ACKs still go out */
	ST_CLOSING,  /* flush what is queued, then close */
};

struct conn {
	struct conn_env *env;
	uint64_t id;
	int fd;
	enum conn_state state;
	ev_io rio, wio;
	ev_timer timer;
	uint32_t max_frame; /* the size every later frame is checked against */
	unsigned caps;
	unsigned inflight;
	int depth; /* >0 while one of our callbacks is on the stack */
	bool dead; /* destroy when depth drops to 0 */
	bool in_dirty;
	struct conn *next_dirty;
	double created, last_frame, last_write;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *wbuf;
	size_t woff, wlen, wcap;
	struct spop_reasm reasm; /* one fragmented NOTIFY (HAProxy 2.6-3.0) */
};

static void update_interest(struct conn *c);
static void process_input(struct conn *c);

uint64_t conn_id(const struct conn *c)
{
	return c->id;
}

unsigned conn_inflight(const struct conn *c)
{
	return c->inflight;
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
	free(c->rbuf);
	free(c->wbuf);
	spop_reasm_free(&c->reasm);
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

static void mark_dirty(struct conn *c)
{
	if (!c->in_dirty) {
		c->in_dirty = true;
		c->next_dirty = c->env->dirty;
		c->env->dirty = c;
	}
}

/* Makes room for <need> more bytes at the end of wbuf. */
static uint8_t *out_reserve(struct conn *c, size_t need)
{
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
	} else if (c->woff > c->wcap / 2) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wcap - c->wlen < need) {
		size_t ncap = c->wcap ? c->wcap : 1024;
		uint8_t *nb;

		while (ncap - c->wlen < need)
			ncap *= 2;
		nb = realloc(c->wbuf, ncap);
		if (!nb)
			return NULL;
		c->wbuf = nb;
		c->wcap = ncap;
	}
	return c->wbuf + c->wlen;
}

static void out_commit(struct conn *c, size_t n)
{
	c->wlen += n;
	counter_inc(&c->env->frames_out);
	mark_dirty(c);
}

/* Queues AGENT-DISCONNECT <status> and closes once it is written. */
static void send_disconnect(struct conn *c, int status)
{
	uint8_t *p = out_reserve(c, 300);
	ssize_t n;

	c->state = ST_CLOSING;
	c->rlen = 0;
	if (!p) {
		kill_conn(c);
		return;
	}
	n = spop_encode_agent_disconnect(p, 300, status, NULL);
	if (n > 0)
		out_commit(c, (size_t)n);
	counter_inc(&c->env->disconnects_sent);
	counter_inc(&c->env->disconnects_by_status[(unsigned)status < CONN_STATUS_SLOTS - 1
						       ? (unsigned)status
						       : CONN_STATUS_SLOTS - 1]);
	update_interest(c);
}

static void protocol_error(struct conn *c, int status)
{
	log_debug("conn %llu: protocol error, AGENT-DISCONNECT %d (%s)", (unsigned long long)c->id,
		  status, spop_status_str(status));
	send_disconnect(c, status);
}

static void queue_ack(struct conn *c, uint64_t sid, uint64_t fid, const struct verdict *v)
{
	size_t cap = (size_t)c->max_frame + 4;
	uint8_t *p = out_reserve(c, cap);
	struct spop_ack a;

	if (!p || spop_ack_begin(&a, p, cap, sid, fid) < 0 ||
	    verdict_encode(v, c->env->vars, &a) < 0) {
		protocol_error(c, SPOP_ST_RES);
		return;
	}
	out_commit(c, spop_ack_end(&a));
}

static void maybe_finish_drain(struct conn *c)
{
	if (c->state == ST_DRAINING && c->inflight == 0)
		send_disconnect(c, SPOP_ST_NORMAL);
}

static struct slice arg_bytes(const struct spop_value *v)
{
	if (v->type == SPOP_T_STRING || v->type == SPOP_T_BINARY)
		return v->str;
	return SLICE_NULL;
}

/* Where the argument called <name> goes in <req>, or NULL for an argument
 * we do not use. By length first: this runs for every argument of every
 * NOTIFY. */
static struct slice *arg_slot(struct authz_req *req, struct slice name)
{
	switch (name.len) {
	case 4:
		return slice_eq_lit(name, "path")   ? &req->path
		       : slice_eq_lit(name, "host") ? &req->host
						    : NULL;
	case 5:
		return slice_eq_lit(name, "route") ? &req->route : NULL;
	case 6:
		return slice_eq_lit(name, "method") ? &req->method : NULL;
	case 13:
		return slice_eq_lit(name, "authorization") ? &req->authorization : NULL;
	default:
		return NULL;
	}
}

/* Handles one complete NOTIFY payload. */
static void dispatch(struct conn *c, uint64_t sid, uint64_t fid, struct slice payload)
{
	struct spop_msg_iter it = spop_msg_iter_init(payload);
	struct spop_msg m;
	struct authz_req req = {0};
	struct authz_ticket t = {c->id, sid, fid, ev_now(c->env->loop)};
	struct verdict v;
	bool found = false;
	int rc;

	counter_inc(&c->env->notifies);
	while ((rc = spop_msg_next(&it, &m)) > 0) {
		struct spop_arg a;

		if (found || !slice_eq(m.name, c->env->message))
			continue;
		found = true;
		while (spop_arg_next(&m.args, &a) > 0) {
			struct slice *slot = arg_slot(&req, a.name);

			if (slot)
				*slot = arg_bytes(&a.value);
		}
	}
	if (rc < 0) {
		protocol_error(c, -rc);
		return;
	}
	if (!found) {
		/* Not ours (or an empty NOTIFY): answer, but never allow. */
		verdict_deny(&v, 403, "unknown_message");
		queue_ack(c, sid, fid, &v);
		return;
	}
	if (authz_decide(c->env->authz, &req, &t, &v)) {
		queue_ack(c, sid, fid, &v);
		verdict_release(&v);
	} else {
		c->inflight++;
	}
}

/* A NOTIFY, or an UNSET continuation of a fragmented one (HAProxy 2.6-3.0). */
static void handle_notify(struct conn *c, const struct spop_frame *f)
{
	struct slice payload;
	int ev = spop_reasm_feed(&c->reasm, f, c->caps & SPOP_CAP_FRAGMENTATION, &payload);

	switch (ev) {
	case SPOP_REASM_PASS:
		dispatch(c, f->stream_id, f->frame_id, f->payload);
		break;
	case SPOP_REASM_DONE:
		dispatch(c, f->stream_id, f->frame_id, payload);
		break;
	case SPOP_REASM_REFUSE: {
		/* Too big to reassemble: refuse this NOTIFY only, HAProxy fails the
		 * event (set-on-error) and the connection lives on. */
		uint8_t *p = out_reserve(c, 32);
		ssize_t n = p ? spop_encode_ack_abort(p, 32, f->stream_id, f->frame_id) : -1;

		if (n > 0)
			out_commit(c, (size_t)n);
		break;
	}
	case SPOP_REASM_MORE:
	case SPOP_REASM_DROPPED:
		break;
	default:
		protocol_error(c, -ev);
		break;
	}
}

static void handle_hello(struct conn *c, const struct spop_frame *f)
{
	struct spop_hello h;
	struct spop_nego nego;
	uint8_t *p;
	ssize_t n;
	int rc;

	if (f->type != SPOP_FT_HAPROXY_HELLO || !(f->flags & SPOP_FL_FIN) || f->stream_id ||
	    f->frame_id || spop_hello_decode(f->payload, &h) < 0) {
		protocol_error(c, SPOP_ST_INVALID);
		return;
	}
	rc = spop_negotiate(&h, c->env->max_frame_size, c->env->caps, &nego);
	if (rc < 0) {
		protocol_error(c, -rc);
		return;
	}
	p = out_reserve(c, 128);
	n = p ? spop_encode_agent_hello(p, 128, &nego) : -1;
	if (n < 0) {
		kill_conn(c);
		return;
	}
	out_commit(c, (size_t)n);
	c->max_frame = nego.max_frame_size;
	c->caps = nego.caps;
	if (h.healthcheck) {
		c->state = ST_CLOSING; /* answer, then close: no NOTIFY follows */
		return;
	}
	c->state = ST_RUNNING;
	log_debug("conn %llu: HELLO done, max-frame-size %u, caps 0x%x%s",
		  (unsigned long long)c->id, nego.max_frame_size, nego.caps,
		  c->env->draining ? " (draining)" : "");
	if (c->env->draining)
		conn_drain(c);
}

static void handle_disconnect(struct conn *c, const struct spop_frame *f)
{
	struct spop_disconnect d;

	if (spop_disconnect_decode(f->payload, &d) == 0 && d.status != SPOP_ST_NORMAL)
		log_debug("conn %llu: HAPROXY-DISCONNECT %u \"%.*s\"", (unsigned long long)c->id,
			  d.status, (int)(d.message.len > 255 ? 255 : d.message.len),
			  (const char *)d.message.ptr);
	send_disconnect(c, SPOP_ST_NORMAL);
}

static void handle_frame(struct conn *c, struct slice body)
{
	struct spop_frame f;

	counter_inc(&c->env->frames_in);
	if (spop_frame_decode(body, &f) < 0) {
		protocol_error(c, SPOP_ST_INVALID);
		return;
	}
	if (c->state == ST_HELLO) {
		handle_hello(c, &f);
		return;
	}
	switch (f.type) {
	case SPOP_FT_NOTIFY:
	case SPOP_FT_UNSET:
		handle_notify(c, &f);
		break;
	case SPOP_FT_HAPROXY_DISCONNECT:
		handle_disconnect(c, &f);
		break;
	default:
		protocol_error(c, SPOP_ST_INVALID);
		break;
	}
}

static bool can_take_frames(const struct conn *c)
{
	return (c->state == ST_HELLO || c->state == ST_RUNNING) && !c->dead &&
	       c->inflight < CONN_MAX_INFLIGHT && c->wlen - c->woff < CONN_WBUF_MAX;
}

/* Handles every complete frame in rbuf, as long as we may take more work. */
static void process_input(struct conn *c)
{
	size_t off = 0;

	while (off < c->rlen && can_take_frames(c)) {
		uint32_t limit = c->state == ST_HELLO ? SPOP_HELLO_MAX : c->max_frame;
		struct slice body;
		ssize_t n = spop_frame_split(c->rbuf + off, c->rlen - off, limit, &body);

		if (n == 0)
			break;
		if (n < 0) {
			protocol_error(c, (int)-n);
			return;
		}
		off += (size_t)n;
		c->last_frame = ev_now(c->env->loop);
		handle_frame(c, body);
	}
	if (c->state == ST_CLOSING || c->dead) {
		c->rlen = 0;
		return;
	}
	if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

/* Makes sure rbuf can hold the frame that starts it. Returns false when it
 * could not grow. */
static bool rbuf_make_room(struct conn *c)
{
	size_t need = RBUF_INITIAL;
	uint8_t *nb;

	if (c->rlen >= 4) {
		const uint8_t *b = c->rbuf;
		size_t limit = c->state == ST_HELLO ? SPOP_HELLO_MAX : c->max_frame;

		need = 4 + ((size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3]);
		if (need > limit + 4) /* spop_frame_split() refuses it anyway */
			need = limit + 4;
	}
	if (need <= c->rcap && c->rlen < c->rcap)
		return true;
	if (need <= c->rcap)
		need = c->rcap; /* full of whole frames we may not take yet */
	if (need == c->rcap)
		return true;
	nb = realloc(c->rbuf, need);
	if (!nb)
		return false;
	c->rbuf = nb;
	c->rcap = need;
	return true;
}

static void update_interest(struct conn *c)
{
	bool want_read = can_take_frames(c);
	bool want_write = c->wlen > c->woff;

	if (c->dead)
		return;
	if (want_read && !ev_is_active(&c->rio))
		ev_io_start(c->env->loop, &c->rio);
	else if (!want_read && ev_is_active(&c->rio))
		ev_io_stop(c->env->loop, &c->rio);
	if (!want_write && ev_is_active(&c->wio))
		ev_io_stop(c->env->loop, &c->wio);
	(void)want_write; /* writes start from conn_flush_dirty() */
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, rio));
	int i;

	(void)loop;
	(void)revents;
	enter(c);
	for (i = 0; i < READS_PER_WAKEUP && can_take_frames(c); i++) {
		ssize_t n;
		size_t room;

		if (!rbuf_make_room(c)) {
			protocol_error(c, SPOP_ST_RES);
			break;
		}
		room = c->rcap - c->rlen;
		if (room == 0)
			break;
		n = recv(c->fd, c->rbuf + c->rlen, room, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			process_input(c);
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
	update_interest(c);
	leave(c);
}

/* Sends queued output. Returns false when the connection failed. */
static bool do_write(struct conn *c)
{
	while (c->wlen > c->woff) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n > 0) {
			c->woff += (size_t)n;
			c->last_write = ev_now(c->env->loop);
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
	c->woff = c->wlen = 0;
	if (ev_is_active(&c->wio))
		ev_io_stop(c->env->loop, &c->wio);
	return true;
}

/* After output progressed: close when done, resume reading when unblocked. */
static void after_write(struct conn *c)
{
	if (c->state == ST_CLOSING && c->wlen == c->woff) {
		kill_conn(c);
		return;
	}
	if (c->rlen && can_take_frames(c))
		process_input(c);
	update_interest(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, wio));

	(void)loop;
	(void)revents;
	enter(c);
	if (!do_write(c))
		kill_conn(c);
	else
		after_write(c);
	leave(c);
}

void conn_flush_dirty(struct conn_env *env)
{
	while (env->dirty) {
		struct conn *c = env->dirty;

		env->dirty = c->next_dirty;
		c->in_dirty = false;
		c->next_dirty = NULL;
		enter(c);
		if (!do_write(c))
			kill_conn(c);
		else
			after_write(c);
		leave(c);
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, timer));
	double now = ev_now(loop), deadline;

	(void)revents;
	if (c->state == ST_HELLO)
		deadline = c->created + CONN_HELLO_TIMEOUT_S;
	else if (c->wlen > c->woff)
		deadline = c->last_write + CONN_WRITE_TIMEOUT_S;
	else if (c->rlen > 0)
		deadline = c->last_frame + CONN_PARTIAL_TIMEOUT_S;
	else if (c->inflight == 0)
		deadline = c->last_frame + CONN_IDLE_TIMEOUT_S;
	else
		deadline = now + CONN_PARTIAL_TIMEOUT_S; /* decisions are bounded elsewhere */
	if (now < deadline) {
		w->repeat = deadline - now;
		ev_timer_again(loop, w);
		return;
	}
	enter(c);
	log_debug("conn %llu: timeout", (unsigned long long)c->id);
	if (c->state == ST_CLOSING)
		kill_conn(c);
	else
		send_disconnect(c, SPOP_ST_TIMEOUT);
	/* The DISCONNECT gets one more write-timeout period to leave. */
	c->last_write = now;
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
	c->env = env;
	c->id = id;
	c->fd = fd;
	c->state = ST_HELLO;
	c->max_frame = SPOP_HELLO_MAX;
	c->created = c->last_frame = c->last_write = ev_now(env->loop);
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_timer_init(&c->timer, timer_cb, 0., CONN_HELLO_TIMEOUT_S);
	ev_timer_again(env->loop, &c->timer);
	ev_io_start(env->loop, &c->rio);
	return c;
}

void conn_deliver(struct conn *c, uint64_t stream_id, uint64_t frame_id, struct verdict *v)
{
	enter(c);
	if (c->inflight)
		c->inflight--;
	if (c->state == ST_RUNNING || c->state == ST_DRAINING)
		queue_ack(c, stream_id, frame_id, v);
	verdict_release(v);
	maybe_finish_drain(c);
	if (c->rlen && can_take_frames(c))
		process_input(c);
	update_interest(c);
	leave(c);
}

void conn_drain(struct conn *c)
{
	enter(c);
	if (c->state == ST_HELLO) {
		kill_conn(c);
	} else if (c->state == ST_RUNNING) {
		c->state = ST_DRAINING;
		maybe_finish_drain(c);
		update_interest(c);
	}
	leave(c);
}

void conn_abort(struct conn *c, int status)
{
	enter(c);
	if (c->state != ST_CLOSING && c->state != ST_HELLO)
		send_disconnect(c, status);
	(void)do_write(c);
	kill_conn(c);
	leave(c);
}

/* spop_conn.c - the SPOP connection state machine: see spop_conn.h.
 *
 * Input is split into whole frames and handled in place; the answers of a
 * whole batch are appended to the output buffer, which the caller writes in
 * one go. A frame that does not fit the output buffer's current room grows
 * it; every growth is bounded by the checks in spop_conn_wants_input(). */
#include "spop_conn.h"

#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "limits.h"
#include "spop_frame.h"

#define RBUF_INITIAL 4096u

static void process_input(struct spop_conn *sc, double now);

void spop_conn_init(struct spop_conn *sc, struct spop_conn_env *env, double now)
{
	memset(sc, 0, sizeof(*sc));
	sc->_env = env;
	sc->_state = SPOP_CONN_HELLO;
	sc->_max_frame = SPOP_HELLO_MAX;
	sc->_created = sc->_last_frame = sc->_last_write = now;
}

void spop_conn_free(struct spop_conn *sc)
{
	free(sc->_rbuf);
	free(sc->_wbuf);
	spop_reasm_free(&sc->_reasm);
	sc->_rbuf = sc->_wbuf = NULL;
	sc->_rlen = sc->_rcap = sc->_woff = sc->_wlen = sc->_wcap = 0;
	sc->_state = SPOP_CONN_DEAD;
}

enum spop_conn_state spop_conn_state(const struct spop_conn *sc)
{
	return sc->_state;
}

unsigned spop_conn_inflight(const struct spop_conn *sc)
{
	return sc->_inflight;
}

bool spop_conn_wants_input(const struct spop_conn *sc)
{
	return (sc->_state == SPOP_CONN_HELLO || sc->_state == SPOP_CONN_RUNNING) &&
	       sc->_inflight < CONN_MAX_INFLIGHT && sc->_wlen - sc->_woff < CONN_WBUF_MAX;
}

static void emit(struct spop_conn *sc, const struct spop_conn_event *ev)
{
	if (sc->_env->event)
		sc->_env->event(sc->_env->arg, sc, ev);
}

/* Makes room for <need> more bytes at the end of the output buffer. */
static uint8_t *out_reserve(struct spop_conn *sc, size_t need)
{
	if (sc->_woff == sc->_wlen) {
		sc->_woff = sc->_wlen = 0;
	} else if (sc->_woff > sc->_wcap / 2) {
		memmove(sc->_wbuf, sc->_wbuf + sc->_woff, sc->_wlen - sc->_woff);
		sc->_wlen -= sc->_woff;
		sc->_woff = 0;
	}
	if (sc->_wcap - sc->_wlen < need) {
		size_t ncap = sc->_wcap ? sc->_wcap : 1024;
		uint8_t *nb;

		while (ncap - sc->_wlen < need)
			ncap *= 2;
		nb = realloc(sc->_wbuf, ncap);
		if (!nb)
			return NULL;
		sc->_wbuf = nb;
		sc->_wcap = ncap;
	}
	return sc->_wbuf + sc->_wlen;
}

static void out_commit(struct spop_conn *sc, size_t n)
{
	sc->_wlen += n;
	counter_inc(&sc->_env->frames_out);
}

/* Queues AGENT-DISCONNECT <status>; the connection closes once it is written. */
static void send_disconnect(struct spop_conn *sc, int status)
{
	struct spop_conn_env *env = sc->_env;
	uint8_t *p = out_reserve(sc, 300);
	ssize_t n;

	sc->_state = SPOP_CONN_CLOSING;
	sc->_rlen = 0;
	if (!p) {
		sc->_state = SPOP_CONN_DEAD;
		return;
	}
	n = spop_encode_agent_disconnect(p, 300, status, NULL);
	if (n > 0)
		out_commit(sc, (size_t)n);
	counter_inc(&env->disconnects_sent);
	counter_inc(&env->disconnects_by_status[(unsigned)status < SPOP_CONN_STATUS_SLOTS - 1
						    ? (unsigned)status
						    : SPOP_CONN_STATUS_SLOTS - 1]);
}

static void protocol_error(struct spop_conn *sc, int status)
{
	struct spop_conn_event ev = {.type = SPOP_CONN_EV_ERROR, .status = status};

	emit(sc, &ev);
	send_disconnect(sc, status);
}

static void queue_ack(struct spop_conn *sc, uint64_t sid, uint64_t fid, const struct verdict *v)
{
	size_t cap = (size_t)sc->_max_frame + 4;
	uint8_t *p = out_reserve(sc, cap);
	struct spop_ack a;
	int left_out;

	if (!p || spop_ack_begin(&a, p, cap, sid, fid) < 0 ||
	    (left_out = verdict_encode(v, sc->_env->vars, &a)) < 0) {
		protocol_error(sc, SPOP_ST_RES);
		return;
	}
	if (left_out > 0)
		counter_add_shared(&sc->_env->claim_vars_omitted, (uint64_t)left_out);
	out_commit(sc, spop_ack_end(&a));
}

static void maybe_finish_drain(struct spop_conn *sc)
{
	if (sc->_state == SPOP_CONN_DRAINING && sc->_inflight == 0)
		send_disconnect(sc, SPOP_ST_NORMAL);
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
static void dispatch(struct spop_conn *sc, uint64_t sid, uint64_t fid, struct slice payload)
{
	struct spop_conn_env *env = sc->_env;
	struct spop_msg_iter it = spop_msg_iter_init(payload);
	struct spop_msg m;
	struct authz_req req = {0};
	struct verdict v;
	bool found = false;
	int rc;

	counter_inc(&env->notifies);
	while ((rc = spop_msg_next(&it, &m)) > 0) {
		struct spop_arg a;

		if (found || !slice_eq(m.name, env->message))
			continue;
		found = true;
		while (spop_arg_next(&m.args, &a) > 0) {
			struct slice *slot = arg_slot(&req, a.name);

			if (slot)
				*slot = arg_bytes(&a.value);
		}
	}
	if (rc < 0) {
		protocol_error(sc, -rc);
		return;
	}
	if (!found) {
		/* Not ours (or an empty NOTIFY): answer, but never allow. */
		verdict_deny(&v, 403, "unknown_message");
		queue_ack(sc, sid, fid, &v);
		return;
	}
	if (env->decide(env->arg, sc, &req, sid, fid, &v)) {
		queue_ack(sc, sid, fid, &v);
		verdict_release(&v);
	} else {
		sc->_inflight++;
	}
}

/* A NOTIFY, or an UNSET continuation of a fragmented one (HAProxy 2.6-3.0). */
static void handle_notify(struct spop_conn *sc, const struct spop_frame *f)
{
	struct slice payload;
	int ev = spop_reasm_feed(&sc->_reasm, f, sc->_caps & SPOP_CAP_FRAGMENTATION, &payload);

	switch (ev) {
	case SPOP_REASM_PASS:
		dispatch(sc, f->stream_id, f->frame_id, f->payload);
		break;
	case SPOP_REASM_DONE:
		dispatch(sc, f->stream_id, f->frame_id, payload);
		break;
	case SPOP_REASM_REFUSE: {
		/* Too big to reassemble: refuse this NOTIFY only, HAProxy fails the
		 * event (set-on-error) and the connection lives on. */
		uint8_t *p = out_reserve(sc, 32);
		ssize_t n = p ? spop_encode_ack_abort(p, 32, f->stream_id, f->frame_id) : -1;

		if (n > 0)
			out_commit(sc, (size_t)n);
		break;
	}
	case SPOP_REASM_MORE:
	case SPOP_REASM_DROPPED:
		break;
	default:
		protocol_error(sc, -ev);
		break;
	}
}

static void handle_hello(struct spop_conn *sc, const struct spop_frame *f)
{
	struct spop_conn_env *env = sc->_env;
	struct spop_hello h;
	struct spop_nego nego;
	uint8_t *p;
	ssize_t n;
	int rc;

	if (f->type != SPOP_FT_HAPROXY_HELLO || !(f->flags & SPOP_FL_FIN) || f->stream_id ||
	    f->frame_id || spop_hello_decode(f->payload, &h) < 0) {
		protocol_error(sc, SPOP_ST_INVALID);
		return;
	}
	rc = spop_negotiate(&h, env->max_frame_size, env->caps, &nego);
	if (rc < 0) {
		protocol_error(sc, -rc);
		return;
	}
	p = out_reserve(sc, 128);
	n = p ? spop_encode_agent_hello(p, 128, &nego) : -1;
	if (n < 0) {
		sc->_state = SPOP_CONN_DEAD;
		return;
	}
	out_commit(sc, (size_t)n);
	sc->_max_frame = nego.max_frame_size;
	sc->_caps = nego.caps;
	if (h.healthcheck) {
		sc->_state = SPOP_CONN_CLOSING; /* answer, then close: no NOTIFY follows */
		return;
	}
	sc->_state = SPOP_CONN_RUNNING;
	emit(sc, &(struct spop_conn_event){.type = SPOP_CONN_EV_HELLO,
					   .max_frame_size = nego.max_frame_size,
					   .caps = nego.caps});
	if (env->draining)
		spop_conn_drain(sc);
}

static void handle_disconnect(struct spop_conn *sc, const struct spop_frame *f)
{
	struct spop_disconnect d;

	if (spop_disconnect_decode(f->payload, &d) == 0)
		emit(sc, &(struct spop_conn_event){.type = SPOP_CONN_EV_PEER_DISCONNECT,
						   .status = (int)d.status,
						   .message = d.message});
	send_disconnect(sc, SPOP_ST_NORMAL);
}

static void handle_frame(struct spop_conn *sc, struct slice body)
{
	struct spop_frame f;

	counter_inc(&sc->_env->frames_in);
	if (spop_frame_decode(body, &f) < 0) {
		protocol_error(sc, SPOP_ST_INVALID);
		return;
	}
	if (sc->_state == SPOP_CONN_HELLO) {
		handle_hello(sc, &f);
		return;
	}
	switch (f.type) {
	case SPOP_FT_NOTIFY:
	case SPOP_FT_UNSET:
		handle_notify(sc, &f);
		break;
	case SPOP_FT_HAPROXY_DISCONNECT:
		handle_disconnect(sc, &f);
		break;
	default:
		protocol_error(sc, SPOP_ST_INVALID);
		break;
	}
}

static uint32_t frame_limit(const struct spop_conn *sc)
{
	return sc->_state == SPOP_CONN_HELLO ? SPOP_HELLO_MAX : sc->_max_frame;
}

/* Handles every complete frame in the input buffer, as long as input is taken. */
static void process_input(struct spop_conn *sc, double now)
{
	size_t off = 0;

	while (off < sc->_rlen && spop_conn_wants_input(sc)) {
		struct slice body;
		ssize_t n =
		    spop_frame_split(sc->_rbuf + off, sc->_rlen - off, frame_limit(sc), &body);

		if (n == 0)
			break;
		if (n < 0) {
			protocol_error(sc, (int)-n);
			return;
		}
		off += (size_t)n;
		sc->_last_frame = now;
		handle_frame(sc, body);
	}
	if (sc->_state == SPOP_CONN_CLOSING || sc->_state == SPOP_CONN_DEAD) {
		sc->_rlen = 0;
		return;
	}
	if (off) {
		memmove(sc->_rbuf, sc->_rbuf + off, sc->_rlen - off);
		sc->_rlen -= off;
	}
}

/* Makes sure the input buffer can hold the frame that starts it. Returns
 * false when it could not grow. */
static bool rbuf_make_room(struct spop_conn *sc)
{
	size_t need = RBUF_INITIAL;
	uint8_t *nb;

	if (sc->_rlen >= 4) {
		const uint8_t *b = sc->_rbuf;
		size_t limit = frame_limit(sc);

		need = 4 + ((size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3]);
		if (need > limit + 4) /* spop_frame_split() refuses it anyway */
			need = limit + 4;
	}
	if (need <= sc->_rcap && sc->_rlen < sc->_rcap)
		return true;
	if (need <= sc->_rcap)
		need = sc->_rcap; /* full of whole frames we may not take yet */
	if (need == sc->_rcap)
		return true;
	nb = realloc(sc->_rbuf, need);
	if (!nb)
		return false;
	sc->_rbuf = nb;
	sc->_rcap = need;
	return true;
}

uint8_t *spop_conn_room(struct spop_conn *sc, size_t *room)
{
	*room = 0;
	if (!spop_conn_wants_input(sc))
		return NULL;
	if (!rbuf_make_room(sc)) {
		protocol_error(sc, SPOP_ST_RES);
		return NULL;
	}
	*room = sc->_rcap - sc->_rlen;
	return *room ? sc->_rbuf + sc->_rlen : NULL;
}

void spop_conn_received(struct spop_conn *sc, size_t n, double now)
{
	sc->_rlen += n;
	process_input(sc, now);
}

size_t spop_conn_feed(struct spop_conn *sc, const uint8_t *data, size_t len, double now)
{
	size_t off = 0;

	while (off < len) {
		size_t room, n;
		uint8_t *p = spop_conn_room(sc, &room);

		if (!p)
			break;
		n = len - off < room ? len - off : room;
		memcpy(p, data + off, n);
		off += n;
		spop_conn_received(sc, n, now);
	}
	return off;
}

void spop_conn_resume(struct spop_conn *sc, double now)
{
	if (sc->_rlen && spop_conn_wants_input(sc))
		process_input(sc, now);
}

struct slice spop_conn_output(const struct spop_conn *sc)
{
	if (sc->_wlen == sc->_woff)
		return SLICE_NULL; /* also before the buffer exists: NULL + 0 is undefined */
	return slice_from(sc->_wbuf + sc->_woff, sc->_wlen - sc->_woff);
}

void spop_conn_sent(struct spop_conn *sc, size_t n, double now)
{
	sc->_woff += n;
	sc->_last_write = now;
	if (sc->_woff == sc->_wlen)
		sc->_woff = sc->_wlen = 0;
}

void spop_conn_deliver(struct spop_conn *sc, uint64_t stream_id, uint64_t frame_id,
		       struct verdict *v, double now)
{
	if (sc->_inflight)
		sc->_inflight--;
	if (sc->_state == SPOP_CONN_RUNNING || sc->_state == SPOP_CONN_DRAINING)
		queue_ack(sc, stream_id, frame_id, v);
	verdict_release(v);
	maybe_finish_drain(sc);
	spop_conn_resume(sc, now);
}

void spop_conn_drain(struct spop_conn *sc)
{
	if (sc->_state == SPOP_CONN_HELLO) {
		sc->_state = SPOP_CONN_DEAD;
	} else if (sc->_state == SPOP_CONN_RUNNING) {
		sc->_state = SPOP_CONN_DRAINING;
		maybe_finish_drain(sc);
	}
}

void spop_conn_abort(struct spop_conn *sc, int status)
{
	if (sc->_state == SPOP_CONN_RUNNING || sc->_state == SPOP_CONN_DRAINING)
		send_disconnect(sc, status);
}

double spop_conn_deadline(const struct spop_conn *sc, double now)
{
	if (sc->_state == SPOP_CONN_HELLO)
		return sc->_created + CONN_HELLO_TIMEOUT_S;
	if (sc->_wlen > sc->_woff)
		return sc->_last_write + CONN_WRITE_TIMEOUT_S;
	if (sc->_rlen > 0)
		return sc->_last_frame + CONN_PARTIAL_TIMEOUT_S;
	if (sc->_inflight == 0)
		return sc->_last_frame + CONN_IDLE_TIMEOUT_S;
	return now + CONN_PARTIAL_TIMEOUT_S; /* decisions are bounded elsewhere */
}

void spop_conn_timeout(struct spop_conn *sc, double now)
{
	if (sc->_state == SPOP_CONN_CLOSING)
		sc->_state = SPOP_CONN_DEAD;
	else if (sc->_state != SPOP_CONN_DEAD)
		send_disconnect(sc, SPOP_ST_TIMEOUT);
	sc->_last_write = now;
}

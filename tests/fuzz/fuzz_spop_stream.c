/* fuzz_spop_stream.c - a byte stream from "HAProxy" through the real SPOP
 * connection core (spoa/spop_conn.c, what conn.c runs): HELLO negotiation,
 * NOTIFY dispatch, fragment reassembly, decisions answered at once or later
 * (spop_conn_deliver), output written back in pieces, drain, abort, timeout.
 *
 * The first input byte picks the settings and how the stream is driven:
 *   bits 0-1  our max-frame-size (32764, 256, 1024, 65532)
 *   bit 2     no "fragmentation" capability
 *   bit 3     some decisions wait (frame-id bit 1 set) and arrive later
 *   bits 4-5  read size: as much as the core takes, 1-7 bytes, 64, 4096
 *   bits 6-7  at the end: nothing, a drain halfway, a timeout, an abort
 * the rest is the stream.
 *
 * Checked on every input: each frame the core writes is whole, within the
 * negotiated size, an AGENT-HELLO (first, once), an ACK or an
 * AGENT-DISCONNECT (last, with the status of the error reported); an ACK
 * never allows what the decide callback denied; the buffers and the
 * requests in decision stay within their bounds; and a connection that is
 * neither closing nor waiting for anything always takes more input. */
#include <stdlib.h>
#include <string.h>

#include "bearer.h"
#include "limits.h"
#include "spop_conn.h"
#include "spop_frame.h"

struct waiting {
	uint64_t sid, fid;
};

struct run {
	struct spop_conn sc;
	struct spop_conn_env env;
	uint32_t our_max, max_frame; /* max_frame: negotiated, 0 before */
	bool async, hello_out, disconnect_out;
	int expect_status; /* status of the last reported error, -1 for none */
	size_t checked;	   /* bytes at the head of the output already checked */
	struct waiting wait[CONN_MAX_INFLIGHT];
	unsigned nwait;
	double now;
	uint8_t sink; /* keeps the bytes read from requests alive */
};

static void touch(struct run *r, struct slice s)
{
	for (size_t i = 0; i < s.len; i++)
		r->sink ^= s.ptr[i]; /* ASan: a slice outside its buffer faults here */
}

static void fill(struct verdict *v, uint64_t fid)
{
	verdict_clear(v);
	v->allowed = fid & 1;
	v->status = v->allowed ? 200 : 401;
	v->reason = v->allowed ? "ok" : "invalid_token";
	memset(v->policy, 'p', 40);
	v->policy[40] = '\0';
	if (!v->allowed) { /* long enough to be dropped from small frames */
		memset(v->www_authenticate, 'w', VERDICT_CHALLENGE_LEN - 1);
		v->www_authenticate[VERDICT_CHALLENGE_LEN - 1] = '\0';
	}
}

static int decide(void *arg, struct spop_conn *sc, const struct authz_req *req, uint64_t sid,
		  uint64_t fid, struct verdict *out)
{
	struct run *r = arg;
	struct slice tok;

	if (sc != &r->sc || spop_conn_state(sc) != SPOP_CONN_RUNNING)
		abort(); /* requests are decided only while running */
	touch(r, req->method);
	touch(r, req->path);
	touch(r, req->host);
	touch(r, req->route);
	touch(r, req->authorization);
	if (bearer_parse(req->authorization, 0, &tok) == BEARER_OK &&
	    (tok.ptr < req->authorization.ptr ||
	     tok.ptr + tok.len > req->authorization.ptr + req->authorization.len))
		abort();
	if (r->async && (fid & 2)) {
		if (r->nwait >= CONN_MAX_INFLIGHT)
			abort(); /* the core must stop taking input at the cap */
		r->wait[r->nwait++] = (struct waiting){sid, fid};
		return 0;
	}
	fill(out, fid);
	return 1;
}

static void event(void *arg, struct spop_conn *sc, const struct spop_conn_event *ev)
{
	struct run *r = arg;

	(void)sc;
	switch (ev->type) {
	case SPOP_CONN_EV_HELLO:
		if (ev->max_frame_size < SPOP_MIN_FRAME_SIZE || ev->max_frame_size > r->our_max ||
		    (ev->caps & ~r->env.caps))
			abort();
		r->max_frame = ev->max_frame_size;
		break;
	case SPOP_CONN_EV_ERROR:
		if (ev->status <= 0 || (ev->status > SPOP_ST_RES && ev->status != SPOP_ST_UNKNOWN))
			abort(); /* every error path must carry a valid SPOP status */
		r->expect_status = ev->status;
		break;
	case SPOP_CONN_EV_PEER_DISCONNECT:
		touch(r, ev->message);
		break;
	}
}

/* An ACK for a NOTIFY we denied must not allow: its first action is
 * SET-VAR txn "allowed" = BOOL. */
static void check_ack(const struct spop_frame *f)
{
	static const uint8_t head[] = {1,   3,	SPOP_SCOPE_TRANSACTION, 7, 'a', 'l', 'l', 'o', 'w',
				       'e', 'd'};
	const uint8_t *p = f->payload.ptr;

	if (f->flags == (SPOP_FL_FIN | SPOP_FL_ABORT)) {
		if (f->payload.len)
			abort(); /* a refusal carries no action */
		return;
	}
	if (f->flags != SPOP_FL_FIN || f->payload.len < sizeof(head) + 1 ||
	    memcmp(p, head, sizeof(head)) != 0)
		abort();
	p += sizeof(head);
	if ((*p & 0x0f) != SPOP_T_BOOL || ((*p & SPOP_BOOL_TRUE) && !(f->frame_id & 1)))
		abort();
}

static void check_frame(struct run *r, const struct spop_frame *f, size_t len)
{
	struct spop_disconnect d;

	if (r->disconnect_out)
		abort(); /* nothing after an AGENT-DISCONNECT */
	switch (f->type) {
	case SPOP_FT_AGENT_HELLO:
		if (r->hello_out)
			abort();
		r->hello_out = true;
		break;
	case SPOP_FT_ACK:
		if (!r->hello_out || !r->max_frame || len - 4 > r->max_frame)
			abort(); /* an ACK fits the negotiated size */
		check_ack(f);
		break;
	case SPOP_FT_AGENT_DISCONNECT:
		if (spop_disconnect_decode(f->payload, &d) < 0)
			abort();
		if (r->expect_status >= 0 && d.status != (uint32_t)r->expect_status)
			abort(); /* the status we reported is the one on the wire */
		r->disconnect_out = true;
		break;
	default:
		abort();
	}
}

/* Checks the output not seen yet (whole frames only), then "writes" part of
 * it (all, half, or one byte, as <how> says) and resumes input, as conn.c
 * does after a write. */
static void drain_output(struct run *r, unsigned how)
{
	struct slice out = spop_conn_output(&r->sc);
	uint32_t limit = r->max_frame ? r->max_frame : SPOP_MAX_FRAME_SIZE;
	size_t n;

	if (out.len > CONN_WBUF_MAX + (size_t)(CONN_MAX_INFLIGHT + 2) * (limit + 4))
		abort(); /* the output buffer is bounded */
	while (r->checked < out.len) {
		struct slice body;
		struct spop_frame f;
		ssize_t len = spop_frame_split(out.ptr + r->checked, out.len - r->checked,
					       limit > 300 ? limit : 300, &body);

		if (len <= 0 || spop_frame_decode(body, &f) < 0)
			abort(); /* the core writes whole, valid frames only */
		check_frame(r, &f, (size_t)len);
		r->checked += (size_t)len;
	}
	n = how == 0 ? out.len : how == 1 ? out.len / 2 : out.len ? 1 : 0;
	if (n) {
		spop_conn_sent(&r->sc, n, r->now);
		r->checked -= n;
	}
	spop_conn_resume(&r->sc, r->now);
}

/* Delivers the answers waiting, the last one first, <all> or one. */
static void deliver(struct run *r, bool all)
{
	while (r->nwait) {
		struct waiting w = r->wait[--r->nwait];
		struct verdict v;

		fill(&v, w.fid);
		spop_conn_deliver(&r->sc, w.sid, w.fid, &v, r->now);
		if (spop_conn_inflight(&r->sc) != r->nwait)
			abort();
		if (!all)
			break;
	}
}

static size_t read_size(unsigned mode, size_t off)
{
	static const size_t sizes[4] = {(size_t)-1, 0, 64, 4096};

	return mode == 1 ? 1 + off % 7 : sizes[mode];
}

static bool taking(const struct spop_conn *sc)
{
	enum spop_conn_state st = spop_conn_state(sc);

	return st == SPOP_CONN_HELLO || st == SPOP_CONN_RUNNING;
}

/* Feeds <data> as the knobs say until it is used up or the core stops. */
static void run_stream(struct run *r, const uint8_t *data, size_t size, unsigned knobs)
{
	unsigned rmode = (knobs >> 4) & 3, end = knobs >> 6;
	size_t off = 0;
	bool drained = false;
	unsigned stalls = 0;

	while (off < size && taking(&r->sc)) {
		size_t want = read_size(rmode, off), took;

		if (want > size - off)
			want = size - off;
		took = spop_conn_feed(&r->sc, data + off, want, r->now);
		off += took;
		r->now += 0.001;
		drain_output(r, (unsigned)(off % 3));
		if (r->nwait > 8)
			deliver(r, false);
		if (took == 0) {
			/* Not taking input: once it has what it waits for, it must. */
			if (++stalls > 1 && taking(&r->sc))
				abort();
			deliver(r, true);
			drain_output(r, 0);
			if (taking(&r->sc) && !spop_conn_wants_input(&r->sc))
				abort();
		} else {
			stalls = 0;
		}
		if (end == 1 && !drained && off >= size / 2) {
			spop_conn_drain(&r->sc);
			drained = true;
		}
		/* The input buffer never outgrows a frame (a private field, read only). */
		if (r->sc._rcap > (r->our_max + 4 > 4096 ? r->our_max + 4 : 4096))
			abort();
	}
}

static void finish(struct run *r, unsigned end)
{
	if (end == 2 && spop_conn_state(&r->sc) != SPOP_CONN_DEAD) {
		double dl = spop_conn_deadline(&r->sc, r->now);

		if (spop_conn_state(&r->sc) != SPOP_CONN_CLOSING)
			r->expect_status = SPOP_ST_TIMEOUT;
		spop_conn_timeout(&r->sc, dl);
	} else if (end == 3) {
		enum spop_conn_state st = spop_conn_state(&r->sc);

		if (st == SPOP_CONN_RUNNING || st == SPOP_CONN_DRAINING)
			r->expect_status = SPOP_ST_NORMAL;
		spop_conn_abort(&r->sc, SPOP_ST_NORMAL);
	}
	drain_output(r, 0);
	deliver(r, true); /* also after the close: no ACK may follow a DISCONNECT */
	drain_output(r, 0);
	if (r->nwait || spop_conn_inflight(&r->sc))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[4] = {SPOP_DEFAULT_FRAME_SIZE, SPOP_MIN_FRAME_SIZE, 1024,
					  SPOP_MAX_FRAME_SIZE};
	struct run r = {0};

	if (size < 1)
		return 0;
	r.our_max = maxes[data[0] & 3];
	r.async = data[0] & 8;
	r.expect_status = -1;
	r.env.max_frame_size = r.our_max;
	r.env.caps = SPOP_CAP_PIPELINING | ((data[0] & 4) ? 0 : SPOP_CAP_FRAGMENTATION);
	r.env.message = SLICE_LIT("oauth2-check");
	r.env.vars = VERDICT_VARS_ALL;
	r.env.decide = decide;
	r.env.event = event;
	r.env.arg = &r;
	spop_conn_init(&r.sc, &r.env, 0.);
	run_stream(&r, data + 1, size - 1, data[0]);
	finish(&r, data[0] >> 6);
	spop_conn_free(&r.sc);
	return 0;
}

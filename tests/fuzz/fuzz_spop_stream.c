/* fuzz_spop_stream.c - a byte stream from "HAProxy" through the SPOP decoders
 * the way spoa/conn.c drives them: frames split with spop_frame_split() (2048
 * bytes before the HELLO, the negotiated size after), the HAPROXY-HELLO
 * negotiated, then NOTIFY frames dispatched, fragmented NOTIFYs (HAProxy
 * 2.6-3.0) reassembled by spoa/spop_reasm.c, the module conn.c uses (FIN,
 * ABORT, interlaced ids, overflow -> ACK-ABORT), and each complete payload
 * walked message by message with its arguments picked like conn.c's
 * dispatch() and the authorization value given to bearer_parse().
 *
 * The first input byte picks our max-frame-size and capabilities; the rest
 * is the stream. A protocol error ends the stream, as it ends a connection.
 * Keep the frame routing here in step with conn.c (handle_frame). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bearer.h"
#include "limits.h"
#include "spop_frame.h"
#include "spop_reasm.h"

enum st { ST_HELLO, ST_RUNNING, ST_CLOSING };

struct conn {
	enum st state;
	uint32_t our_max, max_frame;
	unsigned our_caps, caps;
	struct spop_reasm reasm;
	int error; /* the DISCONNECT status conn.c would send, 0 while fine */
	unsigned acks;
};

static void protocol_error(struct conn *c, int status)
{
	if (status <= 0 || status > SPOP_ST_UNKNOWN)
		abort(); /* every error path must carry a valid SPOP status */
	c->error = status;
}

static void dispatch(struct conn *c, struct slice payload)
{
	static const struct slice msgname = SLICE_LIT("oauth2-check");
	struct spop_msg_iter it = spop_msg_iter_init(payload);
	struct spop_msg m;
	struct slice auth = SLICE_NULL, tok;
	bool found = false;
	int rc;

	while ((rc = spop_msg_next(&it, &m)) > 0) {
		struct spop_arg a;
		unsigned n = 0;

		if (m.name.len > payload.len)
			abort();
		while ((rc = spop_arg_next(&m.args, &a)) > 0) {
			n++;
			if ((a.value.type == SPOP_T_STRING || a.value.type == SPOP_T_BINARY) &&
			    (a.value.str.ptr < payload.ptr ||
			     a.value.str.ptr + a.value.str.len > payload.ptr + payload.len))
				abort(); /* a borrowed slice outside the payload */
			if (found || !slice_eq(m.name, msgname))
				continue;
			if (slice_eq_lit(a.name, "authorization") &&
			    (a.value.type == SPOP_T_STRING || a.value.type == SPOP_T_BINARY))
				auth = a.value.str;
		}
		if (rc < 0 || n != m.nargs)
			abort(); /* spop_msg_next() validated every argument */
		if (slice_eq(m.name, msgname))
			found = true;
	}
	if (rc < 0) {
		protocol_error(c, -rc);
		return;
	}
	if (found && bearer_parse(auth, 0, &tok) == BEARER_OK &&
	    (tok.ptr < auth.ptr || tok.ptr + tok.len > auth.ptr + auth.len))
		abort();
	c->acks++;
}

static void handle_hello(struct conn *c, const struct spop_frame *f)
{
	struct spop_hello h;
	struct spop_nego nego;
	uint8_t out[128];
	int rc;

	if (f->type != SPOP_FT_HAPROXY_HELLO || !(f->flags & SPOP_FL_FIN) || f->stream_id ||
	    f->frame_id || spop_hello_decode(f->payload, &h) < 0) {
		protocol_error(c, SPOP_ST_INVALID);
		return;
	}
	rc = spop_negotiate(&h, c->our_max, c->our_caps, &nego);
	if (rc < 0) {
		protocol_error(c, -rc);
		return;
	}
	if (nego.max_frame_size < SPOP_MIN_FRAME_SIZE || nego.max_frame_size > c->our_max ||
	    (nego.caps & ~c->our_caps))
		abort();
	if (spop_encode_agent_hello(out, sizeof(out), &nego) < 0)
		abort(); /* conn.c reserves 128 bytes for it */
	c->max_frame = nego.max_frame_size;
	c->caps = nego.caps;
	c->state = h.healthcheck ? ST_CLOSING : ST_RUNNING;
}

static void handle_notify(struct conn *c, const struct spop_frame *f)
{
	struct slice payload = SLICE_NULL;
	uint8_t out[32];
	int ev = spop_reasm_feed(&c->reasm, f, c->caps & SPOP_CAP_FRAGMENTATION, &payload);

	switch (ev) {
	case SPOP_REASM_PASS:
		dispatch(c, f->payload);
		break;
	case SPOP_REASM_DONE:
		if (payload.len > SPOP_REASSEMBLY_MAX || (payload.len && !payload.ptr))
			abort();
		dispatch(c, payload);
		break;
	case SPOP_REASM_REFUSE:
		if (spop_encode_ack_abort(out, sizeof(out), f->stream_id, f->frame_id) <= 0)
			abort(); /* conn.c reserves 32 bytes for it */
		c->acks++;
		break;
	case SPOP_REASM_MORE:
	case SPOP_REASM_DROPPED:
		break;
	default:
		protocol_error(c, -ev);
		break;
	}
}

static void handle_frame(struct conn *c, struct slice body)
{
	struct spop_frame f;

	if (spop_frame_decode(body, &f) < 0) {
		protocol_error(c, SPOP_ST_INVALID);
		return;
	}
	if (f.payload.ptr < body.ptr || f.payload.ptr + f.payload.len != body.ptr + body.len)
		abort();
	if (c->state == ST_HELLO) {
		handle_hello(c, &f);
		return;
	}
	switch (f.type) {
	case SPOP_FT_NOTIFY:
	case SPOP_FT_UNSET:
		handle_notify(c, &f);
		break;
	case SPOP_FT_HAPROXY_DISCONNECT: {
		struct spop_disconnect d;

		(void)spop_disconnect_decode(f.payload, &d);
		c->state = ST_CLOSING;
		break;
	}
	default:
		protocol_error(c, SPOP_ST_INVALID);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[4] = {SPOP_DEFAULT_FRAME_SIZE, SPOP_MIN_FRAME_SIZE, 1024,
					  SPOP_MAX_FRAME_SIZE};
	struct conn c = {0};
	size_t off = 0;

	if (size < 1)
		return 0;
	c.our_max = maxes[data[0] & 3];
	c.our_caps = SPOP_CAP_PIPELINING | ((data[0] & 4) ? 0 : SPOP_CAP_FRAGMENTATION);
	data++;
	size--;
	while (off < size && c.state != ST_CLOSING && !c.error) {
		uint32_t limit = c.state == ST_HELLO ? SPOP_HELLO_MAX : c.max_frame;
		struct slice body;
		ssize_t n = spop_frame_split(data + off, size - off, limit, &body);

		if (n == 0)
			break; /* an incomplete frame: conn.c waits for more */
		if (n < 0) {
			protocol_error(&c, (int)-n);
			break;
		}
		if ((size_t)n > size - off || (size_t)n != body.len + 4 ||
		    body.ptr != data + off + 4)
			abort();
		/* The same frame one byte short is "need more", never a frame. */
		{
			struct slice b2;

			if (spop_frame_split(data + off, (size_t)n - 1, limit, &b2) != 0)
				abort();
		}
		off += (size_t)n;
		handle_frame(&c, body);
	}
	spop_reasm_free(&c.reasm);
	return 0;
}

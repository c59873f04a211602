/* spop_frame.h - SPOP frames (doc/SPOE.txt section 3.2): splitting a byte
 * stream into frames, decoding what HAProxy sends, encoding what the agent
 * answers, and the HELLO negotiation.
 *
 * Pure: no I/O, no allocation, no logging, no clock. Decoders return 0 or a
 * negative SPOP status and fill caller-owned structs whose slices are BORROWED
 * from the input. Encoders write one complete frame, 4-byte length included,
 * into a caller buffer and return its total size, or -SPOP_ST_TOO_BIG. */
#ifndef OAUTH2_SPOA_SPOP_FRAME_H
#define OAUTH2_SPOA_SPOP_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "spop_wire.h"

enum spop_frame_type {
	SPOP_FT_UNSET = 0, /* a NOTIFY continuation fragment (HAProxy 2.x) */
	SPOP_FT_HAPROXY_HELLO = 1,
	SPOP_FT_HAPROXY_DISCONNECT = 2,
	SPOP_FT_NOTIFY = 3,
	SPOP_FT_AGENT_HELLO = 101,
	SPOP_FT_AGENT_DISCONNECT = 102,
	SPOP_FT_ACK = 103,
};

#define SPOP_FL_FIN   0x00000001u
#define SPOP_FL_ABORT 0x00000002u

#define SPOP_FRAME_MIN_LEN 7u /* type + flags + one-byte stream-id and frame-id */

/* Capabilities, as a bit set. */
#define SPOP_CAP_PIPELINING    0x1u
#define SPOP_CAP_ASYNC	       0x2u
#define SPOP_CAP_FRAGMENTATION 0x4u

struct spop_frame {
	uint8_t type;
	uint32_t flags;
	uint64_t stream_id, frame_id;
	struct slice payload;
};

/* Looks for one frame at the start of [in, in+avail).
 * Returns the frame's total size (4 + LENGTH) when it is all there and sets
 * <body> to its LENGTH bytes; 0 when more bytes are needed (never when LENGTH
 * is out of range); -SPOP_ST_TOO_BIG when LENGTH > <max_len>;
 * -SPOP_ST_INVALID when LENGTH < 7. Looks only at the 4-byte prefix to decide
 * the size, so a too-big frame is refused before it is buffered. */
ssize_t spop_frame_split(const uint8_t *in, size_t avail, uint32_t max_len, struct slice *body);

/* Decodes the header of a frame body returned by spop_frame_split(). */
int spop_frame_decode(struct slice body, struct spop_frame *f);

/* HAPROXY-HELLO payload. Unknown keys are skipped. */
struct spop_hello {
	bool has_versions, has_max_frame_size, has_capabilities, healthcheck;
	struct slice versions;	   /* "2.0" */
	uint64_t max_frame_size;   /* as sent; negotiation bounds it */
	struct slice capabilities; /* "pipelining,async" */
	struct slice engine_id;	   /* empty in health checks */
};
int spop_hello_decode(struct slice payload, struct spop_hello *h);

/* The outcome of a HELLO: what to announce in the AGENT-HELLO. */
struct spop_nego {
	uint32_t max_frame_size;
	unsigned caps; /* SPOP_CAP_* offered by HAProxy and in <our_caps> */
};

/* Negotiates with HAProxy's HELLO: needs a 2.x version (else -SPOP_ST_BAD_VSN;
 * a missing key gives -SPOP_ST_NO_VSN / _NO_FRAME_SIZE / _NO_CAP), takes
 * min(HAProxy's size, <our_max>) which must be >= 256 (else
 * -SPOP_ST_BAD_FRAME_SIZE), and keeps the capabilities both sides have,
 * plus SPOP_CAP_FRAGMENTATION when it is in <our_caps> and this is not a
 * health check: that one announces what we can receive, and HAProxy never
 * offers it. */
int spop_negotiate(const struct spop_hello *h, uint32_t our_max, unsigned our_caps,
		   struct spop_nego *out);

/* Parses a capabilities list ("pipelining, async,foo") into SPOP_CAP_* bits;
 * unknown tokens are ignored. */
unsigned spop_caps_parse(struct slice list);

/* HAPROXY-DISCONNECT payload. */
struct spop_disconnect {
	uint32_t status; /* SPOP_ST_UNKNOWN when absent */
	struct slice message;
};
int spop_disconnect_decode(struct slice payload, struct spop_disconnect *d);

/* NOTIFY payload: a list of messages, each a name and NB-ARGS named values.
 * Iterate with spop_msg_next(), then each message's arguments with
 * spop_arg_next(). spop_msg_next() validates every argument of the message
 * it returns, so spop_arg_next() cannot fail on a message it produced. */
struct spop_msg_iter {
	const uint8_t *p, *end;
};
struct spop_msg {
	struct slice name;
	unsigned nargs;
	struct spop_msg_iter args; /* iterator over the arguments */
};
struct spop_arg {
	struct slice name; /* empty for an unnamed argument */
	struct spop_value value;
};

static inline struct spop_msg_iter spop_msg_iter_init(struct slice payload)
{
	return (struct spop_msg_iter){payload.ptr, payload.ptr + payload.len};
}
/* Returns 1 with <m> filled, 0 at the end of the list, or -SPOP_ST_INVALID. */
int spop_msg_next(struct spop_msg_iter *it, struct spop_msg *m);
/* Returns 1 with <a> filled, 0 after the last argument, or -SPOP_ST_INVALID. */
int spop_arg_next(struct spop_msg_iter *it, struct spop_arg *a);

/* Encoders. Every frame is written with flags FIN (or FIN|ABORT) and sizes
 * that never go below 7. */
ssize_t spop_encode_agent_hello(uint8_t *out, size_t cap, const struct spop_nego *n);
ssize_t spop_encode_agent_disconnect(uint8_t *out, size_t cap, int status, const char *message);
/* An ACK with FIN|ABORT refusing a fragmented NOTIFY still arriving. */
ssize_t spop_encode_ack_abort(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t frame_id);

/* ACK builder. spop_ack_begin() reserves the header; each spop_ack_* action
 * either appends a complete action or, if it does not fit in the remaining
 * room, returns -SPOP_ST_TOO_BIG and leaves the ACK unchanged, so a caller can
 * drop optional actions. spop_ack_end() patches the length and returns the
 * total size. */
enum spop_scope {
	SPOP_SCOPE_PROCESS = 0,
	SPOP_SCOPE_SESSION = 1,
	SPOP_SCOPE_TRANSACTION = 2,
	SPOP_SCOPE_REQUEST = 3,
	SPOP_SCOPE_RESPONSE = 4,
};
struct spop_ack {
	uint8_t *start, *p, *end;
};
int spop_ack_begin(struct spop_ack *a, uint8_t *out, size_t cap, uint64_t stream_id,
		   uint64_t frame_id);
int spop_ack_set_var(struct spop_ack *a, enum spop_scope scope, struct slice name,
		     const struct spop_value *v);
int spop_ack_unset_var(struct spop_ack *a, enum spop_scope scope, struct slice name);

/* A SET-VAR action up to its value (type, argument count, scope, name
 * length, name), fixed at compile time by SPOP_VAR_HEAD() so that answering
 * a request only copies bytes. <lit> is a string literal of at most 32 bytes
 * (a longer one does not compile). */
struct spop_var_head {
	uint8_t fixed[4];
	char name[32];
};
#define SPOP_VAR_HEAD(scope, lit)                                                                  \
	{                                                                                          \
		{1, 3, (scope), sizeof(lit) - 1}, lit                                              \
	}
/* spop_ack_set_var() with a pre-encoded head; same contract. */
int spop_ack_put_var(struct spop_ack *a, const struct spop_var_head *h, const struct spop_value *v);
/* The same for a STRING value of <len> bytes at <s> (borrowed). */
int spop_ack_put_str(struct spop_ack *a, const struct spop_var_head *h, const char *s, size_t len);
size_t spop_ack_end(struct spop_ack *a);

#endif

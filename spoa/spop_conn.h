/* spop_conn.h - the SPOP connection state machine without I/O: bytes from
 * HAProxy in, frames for HAProxy out (doc/SPOE.txt sections 3.2-3.5).
 *
 * It negotiates the HELLO, splits and dispatches frames, reassembles
 * fragmented NOTIFYs (spop_reasm), hands each request to the decide callback,
 * builds the ACKs (now, or later through spop_conn_deliver()), answers a
 * HAPROXY-DISCONNECT and turns every protocol error into an AGENT-DISCONNECT
 * with its status. It never touches a socket, an event loop or the clock: the
 * caller moves the bytes (conn.c with recv/send, the tests with memcpy) and
 * passes the time in.
 *
 * Buffers. Input and output live in two buffers owned by the struct and
 * freed by spop_conn_free(). The input buffer grows to hold the frame at its
 * start, never past the limit of the current state plus 4 (SPOP_HELLO_MAX
 * before the HELLO, the negotiated max-frame-size after). The output buffer
 * grows by at most one frame (max-frame-size + 4) past CONN_WBUF_MAX: above
 * that, no more input is taken until the caller writes some out. Requests in
 * decision are bounded by CONN_MAX_INFLIGHT the same way. No allocation per
 * request: a NOTIFY is decided from slices of the input buffer (or of the
 * reassembly buffer, SPOP_REASSEMBLY_MAX).
 *
 * One struct per connection, used from one thread; the env it points to is
 * shared by every connection of that thread. Callbacks must not call back
 * into the same struct spop_conn. */
#ifndef OAUTH2_SPOA_SPOP_CONN_H
#define OAUTH2_SPOA_SPOP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz.h"
#include "buf.h"
#include "spop_reasm.h"
#include "verdict.h"

#define SPOP_CONN_STATUS_SLOTS 16 /* DISCONNECT status counters: 0..14, then "other" */

struct spop_conn;

enum spop_conn_state {
	SPOP_CONN_HELLO = 0, /* waiting for HAPROXY-HELLO */
	SPOP_CONN_RUNNING,   /* NOTIFY/ACK */
	SPOP_CONN_DRAINING,  /* shutting down: no input, pending ACKs still go out */
	SPOP_CONN_CLOSING,   /* write what is queued, then close */
	SPOP_CONN_DEAD,	     /* close now, without writing (out of memory, drained in HELLO) */
};

/* Things worth a log line; the core itself logs nothing. */
enum spop_conn_event_type {
	SPOP_CONN_EV_HELLO = 0,	     /* HELLO negotiated (a health check's is not reported) */
	SPOP_CONN_EV_ERROR,	     /* protocol error: AGENT-DISCONNECT <status> queued */
	SPOP_CONN_EV_PEER_DISCONNECT /* a HAPROXY-DISCONNECT with <status> and <message> */
};
struct spop_conn_event {
	enum spop_conn_event_type type;
	int status;
	uint32_t max_frame_size; /* HELLO */
	unsigned caps;		 /* HELLO */
	struct slice message;	 /* PEER_DISCONNECT: BORROWED for the call only */
};

/* Decides <req> (BORROWED for the call only) for the NOTIFY <stream_id>,
 * <frame_id> of <sc>. Returns 1 when the answer is known now (<out> filled,
 * owned by the core), or 0 when it comes later through spop_conn_deliver(). */
typedef int (*spop_conn_decide_fn)(void *arg, struct spop_conn *sc, const struct authz_req *req,
				   uint64_t stream_id, uint64_t frame_id, struct verdict *out);
typedef void (*spop_conn_event_fn)(void *arg, struct spop_conn *sc,
				   const struct spop_conn_event *ev);

/* What the connections of one thread share; owned by the caller, BORROWED by
 * every spop_conn, so it must outlive them. The settings are read when used:
 * <draining> set later makes a HELLO finished afterwards drain at once. */
struct spop_conn_env {
	uint32_t max_frame_size; /* our limit, announced in AGENT-HELLO */
	unsigned caps;		 /* SPOP_CAP_* we implement */
	struct slice message;	 /* the spoe-message name we decide on */
	unsigned vars;		 /* enum verdict_var bits sent in every ACK */
	bool draining;		 /* shutting down: no new work */
	spop_conn_decide_fn decide;
	spop_conn_event_fn event; /* may be NULL */
	void *arg;		  /* passed to both */
	/* Written by the owning thread only (counter_inc), read by any. */
	_Atomic uint64_t frames_in, frames_out, notifies, disconnects_sent;
	_Atomic uint64_t disconnects_by_status[SPOP_CONN_STATUS_SLOTS]; /* AGENT-DISCONNECTs sent */
	_Atomic uint64_t claim_vars_omitted; /* mapped variables left out of full ACKs */
};

/* Fields are private (the leading _): use the functions below. */
struct spop_conn {
	struct spop_conn_env *_env;
	enum spop_conn_state _state;
	uint32_t _max_frame; /* the size every later frame is checked against */
	unsigned _caps;	     /* negotiated */
	unsigned _inflight;  /* decide() returned 0, no spop_conn_deliver() yet */
	double _created, _last_frame, _last_write;
	uint8_t *_rbuf;
	size_t _rlen, _rcap;
	uint8_t *_wbuf;
	size_t _woff, _wlen, _wcap;
	struct spop_reasm _reasm; /* one fragmented NOTIFY (HAProxy 2.6-3.0) */
};

/* Starts a connection in SPOP_CONN_HELLO at time <now>. Allocates nothing. */
void spop_conn_init(struct spop_conn *sc, struct spop_conn_env *env, double now);

/* Releases both buffers and the reassembly buffer. Answers still owed are
 * forgotten: a later spop_conn_deliver() on <sc> is not allowed. */
void spop_conn_free(struct spop_conn *sc);

enum spop_conn_state spop_conn_state(const struct spop_conn *sc);
unsigned spop_conn_inflight(const struct spop_conn *sc);

/* True while the core takes input: HELLO or RUNNING, fewer than
 * CONN_MAX_INFLIGHT decisions waiting, less than CONN_WBUF_MAX to write. */
bool spop_conn_wants_input(const struct spop_conn *sc);

/* Input, without a copy: returns where up to *room bytes may be written,
 * then spop_conn_received() says how many were. The buffer is first grown to
 * hold the frame at its start (4096 bytes while its length is unknown), so
 * one read can take a whole frame, or several small ones. Returns NULL
 * with *room = 0 when no input is taken now, or when the buffer cannot grow
 * (then AGENT-DISCONNECT 13 is queued). The pointer is valid until the next
 * call on <sc>. */
uint8_t *spop_conn_room(struct spop_conn *sc, size_t *room);

/* Handles every complete frame received so far, as long as input is taken;
 * the rest stays buffered. <n> <= the last *room. */
void spop_conn_received(struct spop_conn *sc, size_t n, double now);

/* spop_conn_room() + memcpy() + spop_conn_received() until <data> is used up
 * or no more input is taken. Returns how many bytes were taken. */
size_t spop_conn_feed(struct spop_conn *sc, const uint8_t *data, size_t len, double now);

/* Handles frames left buffered while input was not taken (output backlog,
 * CONN_MAX_INFLIGHT), if it is taken again. */
void spop_conn_resume(struct spop_conn *sc, double now);

/* The bytes to write, in order: a slice of the output buffer, valid until
 * the next call on <sc>. Empty when there are none. */
struct slice spop_conn_output(const struct spop_conn *sc);

/* <n> (<= spop_conn_output().len) bytes were written, at time <now>. Once
 * done writing, call spop_conn_resume(): room in the output may let the
 * buffered input go on. */
void spop_conn_sent(struct spop_conn *sc, size_t n, double now);

/* The answer to a request for which decide() returned 0. Takes ownership of
 * <v> (released here). Queues its ACK unless the connection is closing, then
 * finishes a drain that waited for it and resumes input. */
void spop_conn_deliver(struct spop_conn *sc, uint64_t stream_id, uint64_t frame_id,
		       struct verdict *v, double now);

/* Graceful shutdown: no more input; AGENT-DISCONNECT 0 once no decision is
 * waiting. In HELLO the connection is DEAD at once. */
void spop_conn_drain(struct spop_conn *sc);

/* Queues AGENT-DISCONNECT <status> unless the connection is in HELLO or
 * already closing. The caller writes what it can and closes. */
void spop_conn_abort(struct spop_conn *sc, int status);

/* When the connection times out if nothing happens: HELLO not received
 * (CONN_HELLO_TIMEOUT_S), output not moving (CONN_WRITE_TIMEOUT_S), a frame
 * left unfinished (CONN_PARTIAL_TIMEOUT_S), or idle (CONN_IDLE_TIMEOUT_S). */
double spop_conn_deadline(const struct spop_conn *sc, double now);

/* The deadline passed: AGENT-DISCONNECT 2 (the connection is CLOSING and gets
 * one more CONN_WRITE_TIMEOUT_S to write it), or DEAD when already closing. */
void spop_conn_timeout(struct spop_conn *sc, double now);

#endif

/* conn.h - one SPOP connection from HAProxy: the protocol state machine
 * (HELLO, NOTIFY/ACK pipelining, fragment reassembly, DISCONNECT) on top of a
 * non-blocking socket. The only SPOP code that calls read or write.
 *
 * A conn lives on one worker's loop and is used only from that thread. It is
 * freed by the module itself when the connection ends (after calling
 * env->on_close), so other modules must refer to it by id, never keep the
 * pointer across loop iterations. */
#ifndef OAUTH2_SPOA_CONN_H
#define OAUTH2_SPOA_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "authz.h"
#include "buf.h"
#include "counter.h"

#define CONN_STATUS_SLOTS 16 /* DISCONNECT status counters: 0..14, then "other" */

struct ev_loop;
struct conn;

/* What the connections of one worker share; owned by the worker. */
struct conn_env {
	struct ev_loop *loop;
	struct authz *authz;
	uint32_t max_frame_size; /* our limit, announced in AGENT-HELLO */
	unsigned caps;		 /* SPOP_CAP_* we implement */
	struct slice message;	 /* the spoe-message name we decide on */
	unsigned vars;		 /* enum verdict_var bits sent in every ACK */
	bool draining;		 /* shutting down: no new work */
	struct conn *dirty;	 /* connections with output to flush */
	/* Written by this worker only (counter_inc), read by the metrics thread. */
	_Atomic uint64_t frames_in, frames_out, notifies, disconnects_sent;
	_Atomic uint64_t disconnects_by_status[CONN_STATUS_SLOTS]; /* AGENT-DISCONNECTs sent */
	_Atomic uint64_t conns_opened, conns_closed;
	/* Called once just before a conn is freed, so its id can be forgotten. */
	void (*on_close)(void *arg, struct conn *c);
	void *arg;
};

/* Takes ownership of the connected, non-blocking <fd>. Returns NULL (and
 * closes fd) on allocation failure. */
struct conn *conn_new(struct conn_env *env, int fd, uint64_t id);

uint64_t conn_id(const struct conn *c);
unsigned conn_inflight(const struct conn *c);

/* Delivers an answer decided later. Takes ownership of <v>. */
void conn_deliver(struct conn *c, uint64_t stream_id, uint64_t frame_id, struct verdict *v);

/* Writes the output of every dirty connection (one write per connection and
 * loop iteration); closes those that failed or finished. */
void conn_flush_dirty(struct conn_env *env);

/* Graceful shutdown: stop reading, send AGENT-DISCONNECT 0 once every
 * pending ACK is written, then close. */
void conn_drain(struct conn *c);

/* Closes at once, after a best-effort AGENT-DISCONNECT with <status>. */
void conn_abort(struct conn *c, int status);

#endif

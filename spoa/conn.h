/* conn.h - one SPOP connection from HAProxy on a non-blocking socket: the
 * socket, its libev watchers and its timer around the I/O-free state machine
 * of spop_conn.h. The only SPOP code that calls read or write.
 *
 * A conn lives on one worker's loop and is used only from that thread. It is
 * freed by the module itself when the connection ends (after calling
 * env->on_close), so other modules must refer to it by id, never keep the
 * pointer across loop iterations. */
#ifndef OAUTH2_SPOA_CONN_H
#define OAUTH2_SPOA_CONN_H

#include <stdint.h>

#include "authz.h"
#include "spop_conn.h"

struct ev_loop;
struct conn;

/* What the connections of one worker share; owned by the worker. */
struct conn_env {
	struct spop_conn_env spop; /* settings and SPOP counters; its callbacks are conn.c's */
	struct ev_loop *loop;
	struct authz *authz;
	struct conn *dirty; /* connections with output to flush */
	/* Written by this worker only (counter_inc), read by the metrics thread. */
	_Atomic uint64_t conns_opened, conns_closed;
	/* Called once just before a conn is freed, so its id can be forgotten. */
	void (*on_close)(void *arg, struct conn *c);
	void *arg;
};

/* Sets the loop and the core's callbacks of a zeroed <env>; the caller fills
 * the settings of env->spop, authz and on_close. */
void conn_env_init(struct conn_env *env, struct ev_loop *loop);

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

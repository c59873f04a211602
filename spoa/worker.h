/* worker.h - one worker thread: its own libev loop, its share of the
 * listening sockets, the connections it accepted and its struct authz.
 *
 * worker_new() and worker_free() run on the main thread; worker_start()
 * spawns the thread; worker_stop() may be called from any thread. */
#ifndef OAUTH2_SPOA_WORKER_H
#define OAUTH2_SPOA_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "authz.h"

struct worker;
struct ev_loop;
struct mailbox;

struct worker_config {
	uint32_t max_frame_size;
	unsigned caps;
	const char *message; /* spoe-message name */
	unsigned vars;	     /* enum verdict_var bits sent in every ACK */
	/* Builds this worker's decision module on its loop; called on the
	 * worker's thread before it serves. <mb> is the worker's mailbox: it
	 * outlives the decision module. */
	struct authz *(*authz_new)(void *arg, struct mailbox *mb, struct ev_loop *loop,
				   authz_done_cb done, void *done_arg);
	void (*authz_free)(struct authz *az);
	void *authz_arg;
};

/* <fds> are BORROWED listening sockets (closed by the caller after
 * worker_free()). Returns NULL on allocation failure. */
struct worker *worker_new(int index, const struct worker_config *cfg, const int *fds, size_t nfds);

/* Returns 0, or -1 with errno when the thread could not start. */
int worker_start(struct worker *w);

/* Asks the worker to shut down gracefully: stop accepting, finish pending
 * ACKs (for at most AGENT_SHUTDOWN_GRACE_S), DISCONNECT, exit its loop. */
void worker_stop(struct worker *w);

void worker_join(struct worker *w);
void worker_free(struct worker *w);

int worker_index(const struct worker *w);

/* The SPOP counters of one worker, for the metrics. Any thread; each value
 * is exact but they are not one snapshot. */
#define WORKER_STATUS_SLOTS 16 /* = SPOP_CONN_STATUS_SLOTS: 0..14, then "other" */
struct worker_conn_stats {
	uint64_t opened, closed;
	uint64_t frames_in, frames_out, notifies;
	uint64_t claim_vars_omitted;
	uint64_t disconnects[WORKER_STATUS_SLOTS]; /* AGENT-DISCONNECTs sent, by status */
};
void worker_conn_stats(struct worker *w, struct worker_conn_stats *out);

#endif

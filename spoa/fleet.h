/* fleet.h - purges across a fleet of agents: the executor behind POST
 * /purge, and the Redis subscriber that applies other agents' purges.
 *
 * A purge evicts from the local cache (tcache_remove or a tcache_remove_if
 * scan: no local index), then, with `redis:`, deletes the Redis entries (by
 * key; by sub/client_id through the Redis index sets that l2_set() keeps,
 * which expire with their longest entry; `all` by SCAN) and PUBLISHes a
 * purge_msg on <keyPrefix>purge. Every agent with `redis:` runs a subscriber
 * thread on that channel and evicts locally within milliseconds; after it
 * lost the subscription (Redis restarted, network), it flushes its whole
 * local cache once it is back, since purges may have been missed.
 *
 * Runs on its own threads with blocking hiredis calls bounded by timeouts:
 * never on a worker loop. */
#ifndef OAUTH2_SPOA_FLEET_H
#define OAUTH2_SPOA_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "purge.h"

struct authz_shared;
struct config;
struct fleet;

struct fleet_result {
	size_t local;	 /* entries evicted here */
	long long redis; /* Redis entries deleted, -1 when Redis failed or is off */
	bool published;	 /* the channel message went out */
};

/* Starts the subscriber (with `redis:`). <sh> and its cache must outlive
 * the fleet. Returns NULL with <e> on failure (out of memory, thread). */
struct fleet *fleet_start(struct authz_shared *sh, const struct config *c, struct err *e);

/* Stops the subscriber (within ~200 ms) and frees. NULL allowed. */
void fleet_stop(struct fleet *f);

/* Runs <r> (borrowed; a token is hashed here and not kept). Blocking, for
 * the admin thread. Returns 0, or -1 when nothing could be done at all. */
int fleet_purge(struct fleet *f, const struct purge_req *r, struct fleet_result *out);

/* Evicts what <m> names from the local cache. Returns the count. */
size_t fleet_evict_local(struct fleet *f, const struct purge_msg *m);

#endif

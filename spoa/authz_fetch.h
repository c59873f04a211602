/* authz_fetch.h - the cache layer around one validation step (validator.h):
 * the token cache with single-flight, the shared cache (Redis) in front of
 * an I/O step, and the storing of a step's result with its policy's TTL
 * rules. The same for every step: a step only computes or fetches.
 *
 * Runs on the worker's thread of <az>. The token is BORROWED for the call
 * (copied while the shared-cache GET runs, wiped after). A result that is
 * not known at once reaches the pipeline through need->msg.fn, on the
 * owner's thread: called directly when this request led the fetch, posted
 * to need->owner's mailbox when it waited behind another request's fetch
 * (on any worker). */
#ifndef OAUTH2_SPOA_AUTHZ_FETCH_H
#define OAUTH2_SPOA_AUTHZ_FETCH_H

#include <stdint.h>

#include "buf.h"

struct authz;
struct authz_need;
struct claims;

enum authz_fetch_result {
	AUTHZ_FETCH_HIT = 0, /* need->claims from the token cache */
	AUTHZ_FETCH_LOCAL,   /* computed now by a local step (need->claims; NULL: no memory) */
	AUTHZ_FETCH_FAILED,  /* an I/O step could not start: need->claims NULL */
	AUTHZ_FETCH_WAIT,    /* need->msg.fn follows, exactly once */
};

/* Gets <need>'s result (need->v, need->first, need->key, need->waiter and
 * need->msg set up by the caller): a cache hit, a local step's result, or
 * an I/O step started (or waited for) under single-flight. <so_far> is the
 * claims of the policy's previous step (NULL for the first), BORROWED for
 * the call; <endpoint_slot> is the step's stats slot. <now> and <leeway_s>
 * are for a local step. */
enum authz_fetch_result authz_fetch(struct authz *az, struct authz_need *need, struct slice token,
				    const struct claims *so_far, unsigned endpoint_slot, double now,
				    int64_t leeway_s);

#endif

/* authz_fetch.h - the single-flight fetch of one need's result (see
 * authz_int.h): the token cache's leader asks the shared cache, then the
 * introspection endpoint, stores the result and wakes every request queued
 * behind it; a JWT policy's result is computed locally.
 *
 * Runs on the worker's thread of <az>. The token is BORROWED for the call
 * (copied while the shared-cache GET runs, wiped after). The result lands in
 * need->claims and reaches the pipeline through authz_need_done(); a waiter
 * on another worker is woken through its owner's mailbox. */
#ifndef OAUTH2_SPOA_AUTHZ_FETCH_H
#define OAUTH2_SPOA_AUTHZ_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct authz;
struct authz_need;

/* Starts fetching <need>'s result: <cached> when this request leads the
 * tcache entry (it must then be completed, whatever happens), false for
 * TCACHE_BYPASS. Returns true when authz_need_done() will follow, false when
 * the fetch could not even start: the need then counts as failed (and a led
 * entry is already completed empty). */
bool authz_fetch_start(struct authz *az, struct authz_need *need, struct slice token, bool cached);

/* A JWT policy's result, computed here and now into need->claims (NULL:
 * failed), and stored like an introspection answer when <cached> (leads).
 * Never calls authz_need_done(). */
void authz_fetch_local(struct authz *az, struct authz_need *need, struct slice token, bool cached,
		       double now, int64_t leeway_s);

#endif

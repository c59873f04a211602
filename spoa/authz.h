/* authz.h - the decision interface between the SPOP engine and token
 * validation.
 *
 * One struct authz per worker thread, used only from that thread's loop. The
 * engine hands over each request with a ticket (connection id + SPOP ids);
 * the answer comes back either at once or later through the done callback,
 * always on the worker's own thread. A ticket is an id, not a pointer: the
 * connection may be gone when the answer arrives, and the callback must cope. */
#ifndef OAUTH2_SPOA_AUTHZ_H
#define OAUTH2_SPOA_AUTHZ_H

#include <stdint.h>

#include "authz-t.h"
#include "buf.h"
#include "verdict.h"

struct ev_loop;
struct authz;
struct authz_shared;

/* Shared by all workers: the token cache, the HTTP client settings and the
 * current snapshot (policy set + reloadable settings).
 *
 * A snapshot is immutable and reference-counted. The shared state holds one
 * reference to the current snapshot; each worker holds one to the snapshot it
 * last saw, and checks on every decision (one atomic pointer load) whether a
 * newer one was published; each request that waits for introspection holds
 * one until it is answered. So a reload never changes the policies under a
 * request in progress, and the old set is freed by whoever drops the last
 * reference, on any thread.
 *
 * authz_shared_new() and authz_shared_publish() steal <set> (also on failure)
 * and run on the main thread. Returns NULL / -1 on allocation failure. */
struct config;
struct policy_set;
struct stats;
struct tcache;
struct mailbox;
struct authz_shared *authz_shared_new(const struct config *c, struct policy_set *set,
				      struct stats *st);
int authz_shared_publish(struct authz_shared *sh, const struct config *c, struct policy_set *set);
void authz_shared_free(struct authz_shared *sh);

/* The token cache (NULL when disabled), BORROWED: for its statistics. */
struct tcache *authz_shared_cache(const struct authz_shared *sh);

/* The shared (Redis) cache's settings and counters (NULL when off), BORROWED. */
struct l2_shared;
const struct l2_shared *authz_shared_l2(const struct authz_shared *sh);

/* Writes into keys[0..max) the distinct cache keys <token> (borrowed) has
 * under the current policies (one per validation step identity: introspection
 * endpoint, JWT key set), for a purge by token. Returns how many. Any thread. */
size_t authz_shared_token_keys(struct authz_shared *sh, struct slice token, uint8_t (*keys)[32],
			       size_t max);

/* Builds the decision module of one worker, on that worker's thread (the
 * signature of worker_config.authz_new; <arg> is the struct authz_shared).
 * <mb> BORROWED, must outlive the module: results fetched on other threads
 * are posted to it.
 * <done> is called on <loop>'s thread only, never from inside
 * authz_decide(). */
struct authz *authz_setup_worker(void *arg, struct mailbox *mb, struct ev_loop *loop,
				 authz_done_cb done, void *done_arg);

/* Frees a worker's module. Requests still waiting are answered with
 * introspection_error through <done> first. */
void authz_free(struct authz *az);

/* Decides <req>. Returns 1 when the answer is known now (<out> is filled and
 * owned by the caller), or 0 when it will be delivered through the done
 * callback. Never fails: every error becomes a denying verdict. */
int authz_decide(struct authz *az, const struct authz_req *req, const struct authz_ticket *t,
		 struct verdict *out);

#endif

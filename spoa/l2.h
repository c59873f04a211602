/* l2.h - the shared (L2) token cache in Redis, behind the local tcache.
 *
 * One struct l2_shared per process (settings and counters, read-only after
 * l2_shared_new() but for the atomic counters); one struct l2 per worker,
 * with its own hiredis async connection driven by that worker's libev loop
 * and used only from that thread. Nothing here blocks: the address is an IP
 * literal or a unix path (no name resolution), connecting is non-blocking,
 * and every GET has a timer of redis.timeout.
 *
 * Entries are keyed by keyPrefix + hex(tcache key), so they carry no token;
 * the value is l2_codec's (claims + the absolute time it stops being valid).
 * A failing Redis (refused, slow, garbage) is an error for that request,
 * which then goes to the IdP; consecutive errors open a per-worker circuit
 * breaker so that a dead Redis costs nothing per request. An answer that
 * does not decode is never a result: it is an error, counted.
 *
 * Trust: whoever can write to Redis can write cache entries, exactly as the
 * IdP can: protect it (network, AUTH password, ACL). */
#ifndef OAUTH2_SPOA_L2_H
#define OAUTH2_SPOA_L2_H

#include <stdint.h>

#include "claims.h"
#include "prom.h"
#include "redis_config.h"
#include "tcache.h"

#define L2_BREAKER_FAILS    3	 /* consecutive errors that open the breaker */
#define L2_BREAKER_COOLDOWN 1.0	 /* seconds before a probe */
#define L2_MAX_INFLIGHT	    4096 /* GETs in flight per worker; more skip Redis */

struct ev_loop;
struct l2_shared;
struct l2;

enum l2_result {
	L2_HIT = 0,	 /* claims and until are valid */
	L2_MISS = 1,	 /* no entry (or an expired one) */
	L2_ERROR = 2,	 /* timeout, connection, bad reply or value: ask the IdP */
	L2_SHUTDOWN = 3, /* l2_free() is running: answer the request as failed */
};

/* Called once per l2_get() that returned 0, on the worker's thread, never
 * from inside l2_get(). On L2_HIT <c> is a new reference the callee owns and
 * <until> (seconds since the epoch) is when the writer stopped trusting it. */
typedef void (*l2_get_cb)(void *arg, enum l2_result r, struct claims *c, double until);

/* Copies what it needs from <rc> (the password included). NULL when
 * rc->address is NULL or memory is short (check rc->address). */
struct l2_shared *l2_shared_new(const struct redis_config *rc);
void l2_shared_free(struct l2_shared *s);

/* Appends the oauth2_spoa_l2_* families. NULL renders nothing. Any thread. */
void l2_shared_render(const struct l2_shared *s, struct prom_buf *b);

/* A worker's client on <loop>; connects lazily. NULL when out of memory. */
struct l2 *l2_new(struct l2_shared *s, struct ev_loop *loop);

/* Answers every GET in flight with L2_SHUTDOWN, then frees. NULL allowed. */
void l2_free(struct l2 *l);

/* Starts the GET for <key>. Returns 0 (<cb> will be called), or -1 when
 * Redis is skipped for this request (breaker open, not connectable, too
 * many in flight): the caller asks the IdP at once. */
int l2_get(struct l2 *l, const uint8_t key[TCACHE_KEY_LEN], l2_get_cb cb, void *arg);

/* Stores <c> (borrowed) for <ttl> seconds from <now> (epoch seconds),
 * fire-and-forget. Does nothing when the breaker is not closed, ttl < 1 ms,
 * or the value does not encode. */
void l2_set(struct l2 *l, const uint8_t key[TCACHE_KEY_LEN], const struct claims *c, double ttl,
	    double now);

#endif

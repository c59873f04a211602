/* tcache.h - the token cache: introspection results keyed by a SHA-256 of
 * (endpoint, token), shared by all worker threads, with single-flight.
 * Two files: tcache.c is the cache, tcache_key.c the keys and fingerprints.
 *
 * - The raw token is never stored: entries are keyed by tcache_key(), and
 *   logs show tcache_fingerprint() instead of the token.
 * - Entries hold a reference on a struct claims: positive (claims->active)
 *   or negative (!claims->active) results alike. The cache never decides
 *   policy: callers evaluate the route's checks (scope, aud, exp...) on
 *   every hit.
 * - Time is an input (seconds as a double, e.g. ev_now()); the cache never
 *   reads a clock. An entry is fresh while now < stored_at + ttl.
 * - Bounded: at most max_entries entries (pending ones included). When a
 *   shard is full, its least-recently-used ready entry is evicted; entries
 *   with a fetch in flight are never evicted.
 * - Thread-safe: every function may be called from any thread, except
 *   tcache_new/tcache_free. The table is split into up to TCACHE_MAX_SHARDS
 *   shards, each with its own mutex; the shard and bucket come from a
 *   SipHash of the key under a random per-cache seed, so clients cannot
 *   choose tokens that pile up in one bucket. */
#ifndef OAUTH2_SPOA_TCACHE_H
#define OAUTH2_SPOA_TCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "claims.h"

#define TCACHE_KEY_LEN	   32u
#define TCACHE_MAX_SHARDS  64u	      /* fewer for small caches, see tcache_new() */
#define TCACHE_SHARD_MIN   64u	      /* entries per shard before another shard is added */
#define TCACHE_MAX_ENTRIES (1u << 24) /* ceiling for max_entries (~16.7 M, ~1.2 GB) */

/* A caller-owned, intrusive queue link: a request waiting for another
 * thread's fetch of the same key. The cache only uses <next>; <arg> is the
 * caller's (e.g. a (worker, conn_id, stream_id, frame_id) record, per
 * convention 17). */
struct tcache_waiter {
	struct tcache_waiter *next;
	void *arg;
};

enum tcache_result {
	TCACHE_HIT = 0,	   /* fresh entry: *out is a new reference (check ->active) */
	TCACHE_MISS = 1,   /* caller is the single-flight leader: fetch, then
			    * call tcache_complete() exactly once for this key */
	TCACHE_WAIT = 2,   /* a fetch is in flight: <w> was queued and will be
			    * returned by the leader's tcache_complete() */
	TCACHE_BYPASS = 3, /* the shard is full of in-flight fetches: fetch
			    * without caching and do NOT call tcache_complete() */
};

struct tcache_stats {
	uint64_t hits;		/* every TCACHE_HIT, negative ones included */
	uint64_t negative_hits; /* the TCACHE_HITs whose claims are !active */
	uint64_t misses;	/* TCACHE_MISS (expired entries included) */
	uint64_t expired;	/* the misses that found an expired entry */
	uint64_t waits;		/* TCACHE_WAIT */
	uint64_t bypasses;	/* TCACHE_BYPASS */
	uint64_t evictions;	/* ready entries dropped to make room */
	uint64_t entries;	/* entries now held, pending ones included */
	uint64_t pending;	/* of which fetches in flight */
	uint64_t capacity;	/* the real bound, <= max_entries */
};

struct tcache; /* opaque */

/* Computes the cache key SHA-256(endpoint || 0x00 || token) into <out>.
 * Both slices are borrowed; either may be empty. Returns 0 (-1, with <out>
 * zeroed, is reserved for a digest that cannot be computed; the current
 * implementation never fails). Thread-safe. */
int tcache_key(struct slice endpoint, struct slice token, uint8_t out[TCACHE_KEY_LEN]);

/* The endpoint half of a key: the SHA-256 state after absorbing
 * (endpoint || 0x00). Built once per endpoint, it is finished per token by
 * tcache_key_finish(), which gives exactly tcache_key(endpoint, token)
 * without hashing the endpoint again. A plain value: copy it freely; it holds
 * a digest state of the endpoint (which may include a client secret), so
 * tcache_key_prefix_clear() it before the memory is reused. */
struct tcache_key_prefix {
	_Alignas(8) uint8_t state[128]; /* opaque */
};

/* Fills <kp> from <endpoint> (borrowed; may be empty). Never fails. */
void tcache_key_prefix_init(struct tcache_key_prefix *kp, struct slice endpoint);

/* Writes SHA-256(endpoint || 0x00 || token) into <out>, <endpoint> being the
 * one <kp> was built from. <kp> is not modified; <token> is borrowed. Never
 * fails. Thread-safe (each call works on its own copy of the state). */
void tcache_key_finish(const struct tcache_key_prefix *kp, struct slice token,
		       uint8_t out[TCACHE_KEY_LEN]);

/* Absorbs <more> (borrowed) into <kp>, as if it ended the endpoint after
 * its 0x00: a per-request extension of a copied prefix (e.g. the generation
 * of the key set a JWT is checked with). Never fails. */
void tcache_key_prefix_absorb(struct tcache_key_prefix *kp, struct slice more);

/* Wipes <kp>. */
void tcache_key_prefix_clear(struct tcache_key_prefix *kp);

/* Writes the first 4 bytes of <key> as 8 lower-case hex digits and a NUL into
 * <out>: what logs show instead of a token. */
void tcache_fingerprint(const uint8_t key[TCACHE_KEY_LEN], char out[9]);

/* Creates a cache holding at most <max_entries> entries (1..TCACHE_MAX_ENTRIES).
 * The number of shards is the largest power of two <= TCACHE_MAX_SHARDS that
 * leaves at least TCACHE_SHARD_MIN entries per shard (so a cache smaller than
 * 2 * TCACHE_SHARD_MIN has one shard, and exact LRU), and each shard holds
 * max_entries / shards (the remainder is dropped; tcache_stats().capacity
 * says the real bound). Slots are calloc'ed up front, about 72 bytes each
 * (see tcache_entry_size()), and touched lazily.
 * Returns a new cache (release with tcache_free), or NULL when <max_entries>
 * is out of range, memory is short or no random seed could be obtained. */
struct tcache *tcache_new(size_t max_entries);

/* Frees <tc> and drops its claims references. NULL is allowed. No other
 * thread may use it any more, and no fetch may be pending: waiters still
 * queued are forgotten (never returned). */
void tcache_free(struct tcache *tc);

/* Looks <key> up at time <now>.
 *  - TCACHE_HIT: *out is a new claims reference (caller unrefs); the entry
 *    becomes the most recently used.
 *  - TCACHE_MISS: absent or expired; a pending entry now stands for the key
 *    and the caller must fetch and then call tcache_complete() exactly once,
 *    whatever happens (error, timeout, shutdown), or waiters hang.
 *  - TCACHE_WAIT: a fetch is pending; <w> (caller-owned, w->next is
 *    overwritten) is queued and must stay alive until tcache_complete()
 *    returns it or tcache_cancel() removes it.
 *  - TCACHE_BYPASS: nothing could be stored (every entry in the shard is
 *    pending), or a fetch is pending and <w> is NULL (a caller that cannot
 *    wait); fetch without single-flight and do not call tcache_complete().
 * *out is NULL except on TCACHE_HIT. */
enum tcache_result tcache_lookup(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN], double now,
				 struct tcache_waiter *w, struct claims **out);

/* Serve-stale. An active entry may carry a stale window of <stale_s>
 * seconds (floored, at most 65535) after its ttl: a lookup in that window is
 * still a TCACHE_MISS (the caller asks the IdP again), but the pending entry
 * keeps the expired claims, and only tcache_fail() hands them out, when the
 * fetch failed. Negative results never get a window. The expired entry keeps
 * its slot (it counts against max_entries and is evicted by LRU like any
 * other); tcache_remove() and tcache_remove_if() drop it, pending or not.
 * The caller bounds <stale_s> (e.g. by the token's exp). */
struct tcache_waiter *tcache_complete_stale(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
					    struct claims *c, double ttl, double stale_s,
					    double now);

/* Ends the fetch started by the TCACHE_MISS for <key> as failed. When the
 * entry it replaced is still inside its stale window at <now>, that entry is
 * kept (expired) and *stale is a new reference on its claims for the caller
 * (and, by the caller, its waiters) to serve; otherwise the entry is removed
 * and *stale is NULL. Returns the waiters as tcache_complete() does. */
struct tcache_waiter *tcache_fail(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN], double now,
				  struct claims **stale);

/* Ends the fetch started by the TCACHE_MISS for <key>. When <c> is not NULL
 * and <ttl> > 0 the entry is kept until now + ttl with the cache's own
 * reference on <c> (the caller keeps its own); otherwise (c == NULL: the
 * fetch failed; ttl <= 0 or NaN: not cacheable) the entry is removed. The
 * caller chooses the ttl, e.g. min(cache_timeout, exp - now) for active
 * claims or the negative cache timeout.
 * Returns the queued waiters in arrival order, linked by ->next (NULL-
 * terminated), now owned by the caller again: it gives each one the same
 * outcome (<c> or the failure). Returns NULL when there are none or when no
 * fetch is pending for <key> (a contract violation; nothing changes). */
struct tcache_waiter *tcache_complete(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
				      struct claims *c, double ttl, double now);

/* Removes waiter <w> from the queue of the pending fetch of <key> (e.g. its
 * connection closed). Returns true when removed (the caller may free <w>),
 * false when it was not queued (already returned by tcache_complete(), which
 * another thread may be dispatching: the caller must let that finish). */
bool tcache_cancel(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN], struct tcache_waiter *w);

/* Drops the cached result for <key> (e.g. an admin revocation). Returns true
 * when a ready entry was removed, or a pending fetch's stale claims (the
 * fetch itself is left alone). */
bool tcache_remove(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN]);

/* Drops every ready entry whose claims <match> (called under a shard lock:
 * it must only read the claims) says true, e.g. a purge by sub. Scans the
 * whole table, shard by shard, in batches: no index, no memory. Pending
 * fetches are left alone. Returns the number removed. */
size_t tcache_remove_if(struct tcache *tc, bool (*match)(const struct claims *c, void *arg),
			void *arg);

/* Fills <out> with the counters. Lock-free: each value is exact but they are
 * not a single snapshot. */
void tcache_stats(const struct tcache *tc, struct tcache_stats *out);

/* sizeof one slot (the per-entry cost is this plus 8 bytes of bucket heads),
 * for capacity planning and tests. */
size_t tcache_entry_size(void);

#endif

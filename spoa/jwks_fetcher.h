/* jwks_fetcher.h - fetches one remote JWKS URL on one event loop and
 * publishes each good answer into a jwks_slot for every worker.
 *
 * One fetcher per URL, owned by the thread that runs its loop (meant for
 * the main thread, so no worker ever waits on a fetch). Its schedule is
 * jwks_sched.h: first fetch at once, refresh every refresh_ms, an
 * unknown-kid refetch at most once per kid_ms, single flight. A fetch that
 * fails (transport, status other than 200, over JWKS_MAX_DOC_SIZE, a
 * document jwks_parse() refuses) publishes nothing: the last good set stays
 * in the slot; it is logged and counted. A good answer identical to the
 * last one published is counted but not published again, so the slot's
 * generation only moves when the keys change. Each outcome is also noted in
 * the slot (jwks_slot_note_fetch()) for /metrics. TLS verification is
 * http_client's (always on).
 *
 * jwks_fetcher_kick() is the only function another thread may call. */
#ifndef OAUTH2_SPOA_JWKS_FETCHER_H
#define OAUTH2_SPOA_JWKS_FETCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "jwks_slot.h"

struct ev_loop;
struct jwks_fetcher; /* opaque */

struct jwks_fetch_stats {
	uint64_t ok, failed;		/* completed fetches by outcome */
	uint64_t kid_asked, kid_merged; /* unknown-kid asks, of which coalesced */
	bool loaded;			/* a set was published once */
};

/* Creates a fetcher of <url> (copied) into <slot> (BORROWED: must outlive
 * the fetcher) on <loop>, with TLS trust from <ca_file> (NULL: system;
 * copied) and a total timeout of <timeout_ms> per fetch. Starts the first
 * fetch from the loop. Returns NULL when out of memory. */
struct jwks_fetcher *jwks_fetcher_new(struct ev_loop *loop, const char *url, int64_t refresh_ms,
				      int64_t kid_ms, unsigned timeout_ms, const char *ca_file,
				      struct jwks_slot *slot);

/* Thread-safe: a reader of the slot saw a kid no key of generation <gen>
 * has. Wakes the fetcher, which refetches if its schedule allows. */
void jwks_fetcher_kick(struct jwks_fetcher *f, uint64_t gen);

/* Counters; from the fetcher's thread. */
void jwks_fetcher_stats(const struct jwks_fetcher *f, struct jwks_fetch_stats *out);

/* Cancels a fetch in flight, stops the watchers, frees <f>. From the
 * fetcher's thread, not from inside its loop callbacks. NULL allowed. */
void jwks_fetcher_free(struct jwks_fetcher *f);

#endif

/* jwks_sched.h - when a remote JWKS is fetched: the schedule of one URL.
 *
 * Pure: no I/O, no clock (every call takes <now> in milliseconds of a
 * monotonic clock), no locks, no allocation. One struct jwks_sched belongs
 * to the one fetcher of its URL and is only touched from that fetcher's
 * thread; workers never see it (they only ask the fetcher, which then calls
 * jwks_sched_want_kid()).
 *
 * The rules it enforces:
 *  - single flight: at most one fetch of the URL at a time;
 *  - the first fetch is due at once; after a success the next one is due
 *    refresh_ms later; after a failure it is due sooner (kid_ms doubled per
 *    consecutive failure, never later than refresh_ms), while the last good
 *    set stays in use (the caller keeps it: this module only counts);
 *  - an unknown "kid" asks for a fetch now, but two fetches never start
 *    closer than kid_ms apart because of unknown kids: a request inside the
 *    window is remembered (coalesced into one) and served when the window
 *    ends; a request while a fetch is in flight is served by one more fetch
 *    after it, under the same window. So a flood of tokens naming made-up
 *    kids costs at most one fetch per kid_ms. */
#ifndef OAUTH2_SPOA_JWKS_SCHED_H
#define OAUTH2_SPOA_JWKS_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct jwks_sched {
	int64_t refresh_ms;  /* periodic refresh interval */
	int64_t kid_ms;	     /* smallest gap between unknown-kid fetches */
	int64_t due_ms;	     /* the next periodic (or retry) fetch */
	int64_t last_start;  /* start of the last fetch; INT64_MIN when none */
	unsigned fails;	     /* consecutive failures */
	bool inflight;	     /* a fetch is running */
	bool kid_wanted;     /* an unknown-kid fetch is owed */
	bool loaded;	     /* a fetch has succeeded once */
	uint64_t ok, failed; /* completed fetches by outcome */
	uint64_t kid_asked;  /* unknown-kid requests received */
	uint64_t kid_merged; /* of which coalesced into another fetch */
};

/* Starts a schedule with <refresh_ms> and <kid_ms> (both > 0): the first
 * fetch is due at <now>. */
void jwks_sched_init(struct jwks_sched *s, int64_t refresh_ms, int64_t kid_ms, int64_t now);

/* A worker saw a token whose kid no key has. Returns true when a fetch may
 * start now (then call jwks_sched_start()); false when it is coalesced
 * into a fetch in flight or deferred to the end of the rate window. */
bool jwks_sched_want_kid(struct jwks_sched *s, int64_t now);

/* Milliseconds until the next fetch may start (0: now), or -1 while one is
 * in flight. For the fetcher's timer. */
int64_t jwks_sched_wait(const struct jwks_sched *s, int64_t now);

/* Returns true, and marks a fetch in flight, when one is due at <now>;
 * false otherwise (nothing changes). */
bool jwks_sched_start(struct jwks_sched *s, int64_t now);

/* The fetch in flight finished at <now>: <ok> when a set was parsed and
 * published. Without a fetch in flight it does nothing. */
void jwks_sched_done(struct jwks_sched *s, int64_t now, bool ok);

#endif

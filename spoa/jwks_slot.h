/* jwks_slot.h - the current key set of one remote JWKS URL, shared by every
 * worker thread and replaced by its one fetcher.
 *
 * A slot holds at most one key set (jwks.h: immutable, refcounted). The
 * fetcher publishes a new set; readers take a reference to the set current
 * at that moment and keep using it even if it is replaced meanwhile (the
 * old set is freed with its last reference). Each publish increments a
 * generation, so a reader can tell which set a result was computed with.
 * Readers also raise the "unknown kid" flag, which only the fetcher
 * consumes (its schedule, jwks_sched.h, decides whether to act on it), and
 * the slot keeps the fetch counters /metrics reads, so that they survive
 * the fetcher being replaced on a reload.
 *
 * Thread-safe: every function may be called from any thread. The critical
 * section is a pointer copy and a reference increment. */
#ifndef OAUTH2_SPOA_JWKS_SLOT_H
#define OAUTH2_SPOA_JWKS_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "jwks.h"

struct jwks_slot; /* opaque */

/* A NEW empty slot (no set, generation 0), or NULL when out of memory. */
struct jwks_slot *jwks_slot_new(void);

/* Frees <s> and drops its reference to its set. No other thread may be
 * using <s>. NULL allowed. */
void jwks_slot_free(struct jwks_slot *s);

/* Makes <ks> (not NULL; the slot takes its OWN reference, the caller keeps
 * its own) the current set, and returns the new generation (1 for the
 * first). A failed fetch publishes nothing: the last good set stays. */
uint64_t jwks_slot_publish(struct jwks_slot *s, struct jwks *ks);

/* A NEW reference to the current set (release with jwks_unref), or NULL
 * when nothing was ever published: the caller must then refuse the token.
 * *gen (may be NULL) gets the set's generation (0 with NULL). */
struct jwks *jwks_slot_get(struct jwks_slot *s, uint64_t *gen);

/* Raises the unknown-kid flag (a reader saw a kid no key of generation
 * <gen> has). A flag raised for an older generation than the current one
 * is ignored: a newer set was already published since. */
void jwks_slot_ask(struct jwks_slot *s, uint64_t gen);

/* Returns true, and lowers the flag, when it was raised. For the fetcher. */
bool jwks_slot_take_ask(struct jwks_slot *s);

/* The generation of the current set (0: none yet), without a reference:
 * what a reader mixes into a cache key. */
uint64_t jwks_slot_gen(struct jwks_slot *s);

/* The fetcher records each completed fetch: <ok> with the wall-clock time
 * <wall_s> of its end (an identical document counts as a success even
 * though nothing new is published). */
void jwks_slot_note_fetch(struct jwks_slot *s, bool ok, double wall_s);

/* What /metrics shows about a slot; a consistent copy. */
struct jwks_slot_stats {
	uint64_t ok, failed; /* completed fetches by outcome */
	uint64_t asks;	     /* jwks_slot_ask() calls: unknown kids, no set yet */
	uint64_t gen;	     /* generation of the current set */
	size_t keys;	     /* usable keys in it (0: none) */
	double last_ok;	     /* wall-clock seconds of the last good fetch; 0: never */
};
void jwks_slot_stats(struct jwks_slot *s, struct jwks_slot_stats *out);

#endif

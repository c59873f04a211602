/* breaker.h - a circuit breaker for a dependency that may die (the shared
 * Redis cache): after <threshold> consecutive failures it opens and every
 * request skips the dependency for <cooldown> seconds; then one probe is let
 * through (half-open): success closes it, failure opens it again.
 *
 * Pure: time is an input (seconds, e.g. ev_now()), no clock, no locking. A
 * caller-owned struct used by one thread (each worker has its own). */
#ifndef OAUTH2_SPOA_BREAKER_H
#define OAUTH2_SPOA_BREAKER_H

#include <stdbool.h>

enum breaker_state {
	BREAKER_CLOSED = 0, /* the dependency is used */
	BREAKER_OPEN,	    /* skipped until open_until */
	BREAKER_HALF_OPEN,  /* one probe is in flight; others skip */
};

struct breaker {
	enum breaker_state state;
	unsigned fails;	    /* consecutive failures while closed */
	unsigned threshold; /* >= 1 */
	double cooldown;    /* seconds open before a probe */
	double open_until;
	unsigned long opened; /* times it opened, for metrics/tests */
};

/* A closed breaker. <threshold> 0 is taken as 1. */
void breaker_init(struct breaker *b, unsigned threshold, double cooldown);

/* May the caller use the dependency at <now>? In the open state past the
 * cooldown this moves to half-open and answers true once (the probe); the
 * caller must then report breaker_success() or breaker_failure(). */
bool breaker_allow(struct breaker *b, double now);

void breaker_success(struct breaker *b);
void breaker_failure(struct breaker *b, double now);

#endif

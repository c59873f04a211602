/* counter.h - 64-bit counters with one writer thread and any number of
 * readers (the metrics endpoint).
 *
 * counter_inc() is a relaxed load and store, not a locked read-modify-write:
 * it costs what a plain ++ costs, and is only correct when a single thread
 * writes the counter (e.g. a worker's own connection counters). Counters
 * written by several threads use counter_add_shared(). */
#ifndef OAUTH2_SPOA_COUNTER_H
#define OAUTH2_SPOA_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

static inline void counter_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline void counter_add_shared(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t counter_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

#endif

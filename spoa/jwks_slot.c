/* jwks_slot.c - a key set published by one thread, read by all. */
#include "jwks_slot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct jwks_slot {
	pthread_mutex_t mu; /* guards ks, gen's writes and the counters */
	struct jwks *ks;    /* owned reference; NULL until the first publish */
	_Atomic uint64_t gen;
	atomic_bool ask;
	uint64_t ok, failed, asks;
	double last_ok;
};

struct jwks_slot *jwks_slot_new(void)
{
	struct jwks_slot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return NULL;
	}
	atomic_init(&s->ask, false);
	atomic_init(&s->gen, 0);
	return s;
}

void jwks_slot_free(struct jwks_slot *s)
{
	if (!s)
		return;
	jwks_unref(s->ks);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

uint64_t jwks_slot_publish(struct jwks_slot *s, struct jwks *ks)
{
	struct jwks *old;
	uint64_t gen;

	jwks_ref(ks);
	pthread_mutex_lock(&s->mu);
	old = s->ks;
	s->ks = ks;
	gen = atomic_load_explicit(&s->gen, memory_order_relaxed) + 1;
	atomic_store_explicit(&s->gen, gen, memory_order_release);
	pthread_mutex_unlock(&s->mu);
	jwks_unref(old); /* outside the lock: may free a whole set */
	return gen;
}

struct jwks *jwks_slot_get(struct jwks_slot *s, uint64_t *gen)
{
	struct jwks *ks;
	uint64_t g;

	pthread_mutex_lock(&s->mu);
	ks = jwks_ref(s->ks);
	g = atomic_load_explicit(&s->gen, memory_order_relaxed);
	pthread_mutex_unlock(&s->mu);
	if (gen)
		*gen = g;
	return ks;
}

void jwks_slot_ask(struct jwks_slot *s, uint64_t gen)
{
	pthread_mutex_lock(&s->mu);
	s->asks++;
	pthread_mutex_unlock(&s->mu);
	if (gen >= jwks_slot_gen(s))
		atomic_store(&s->ask, true);
}

bool jwks_slot_take_ask(struct jwks_slot *s)
{
	return atomic_exchange(&s->ask, false);
}

uint64_t jwks_slot_gen(struct jwks_slot *s)
{
	return atomic_load_explicit(&s->gen, memory_order_acquire);
}

void jwks_slot_note_fetch(struct jwks_slot *s, bool ok, double wall_s)
{
	pthread_mutex_lock(&s->mu);
	if (ok) {
		s->ok++;
		s->last_ok = wall_s;
	} else {
		s->failed++;
	}
	pthread_mutex_unlock(&s->mu);
}

void jwks_slot_stats(struct jwks_slot *s, struct jwks_slot_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = (struct jwks_slot_stats){.ok = s->ok,
					.failed = s->failed,
					.asks = s->asks,
					.gen = atomic_load_explicit(&s->gen, memory_order_relaxed),
					.keys = s->ks ? jwks_count(s->ks) : 0,
					.last_ok = s->last_ok};
	pthread_mutex_unlock(&s->mu);
}

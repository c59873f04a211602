/* jwks_slot.c - a key set published by one thread, read by all. */
#include "jwks_slot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct jwks_slot {
	pthread_mutex_t mu; /* guards ks and gen */
	struct jwks *ks;    /* owned reference; NULL until the first publish */
	uint64_t gen;
	atomic_bool ask;
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
	gen = ++s->gen;
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
	g = s->gen;
	pthread_mutex_unlock(&s->mu);
	if (gen)
		*gen = g;
	return ks;
}

void jwks_slot_ask(struct jwks_slot *s, uint64_t gen)
{
	uint64_t cur;

	pthread_mutex_lock(&s->mu);
	cur = s->gen;
	pthread_mutex_unlock(&s->mu);
	if (gen >= cur)
		atomic_store(&s->ask, true);
}

bool jwks_slot_take_ask(struct jwks_slot *s)
{
	return atomic_exchange(&s->ask, false);
}

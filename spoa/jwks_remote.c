/* jwks_remote.c - see jwks_remote.h. */
#include "jwks_remote.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jwks_fetcher.h"

struct jwks_remote {
	atomic_uint refs;
	uint64_t id;
	char *url;
	struct jwks_slot *slot;
	pthread_mutex_t mu;	/* guards f: a kick never races its free */
	struct jwks_fetcher *f; /* main thread's; NULL when detached */
	_Atomic int64_t hint_s; /* last "no key set" hint */
};

static _Atomic uint64_t next_id = 1;

struct jwks_remote *jwks_remote_new(const char *url)
{
	struct jwks_remote *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (!(r->url = strdup(url)) || !(r->slot = jwks_slot_new()) ||
	    pthread_mutex_init(&r->mu, NULL) != 0) {
		jwks_slot_free(r->slot);
		free(r->url);
		free(r);
		return NULL;
	}
	atomic_init(&r->refs, 1);
	atomic_init(&r->hint_s, INT64_MIN);
	r->id = atomic_fetch_add(&next_id, 1);
	return r;
}

struct jwks_remote *jwks_remote_ref(struct jwks_remote *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void jwks_remote_unref(struct jwks_remote *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* The registry detached the fetcher before dropping its reference. */
	pthread_mutex_destroy(&r->mu);
	jwks_slot_free(r->slot);
	free(r->url);
	free(r);
}

const char *jwks_remote_url(const struct jwks_remote *r)
{
	return r->url;
}

struct jwks_slot *jwks_remote_slot(struct jwks_remote *r)
{
	return r->slot;
}

uint64_t jwks_remote_id(const struct jwks_remote *r)
{
	return r->id;
}

void jwks_remote_kick(struct jwks_remote *r, uint64_t gen)
{
	pthread_mutex_lock(&r->mu);
	if (r->f)
		jwks_fetcher_kick(r->f, gen);
	else
		jwks_slot_ask(r->slot, gen); /* counted; nobody refetches */
	pthread_mutex_unlock(&r->mu);
}

bool jwks_remote_hint_due(struct jwks_remote *r, int64_t now_s, int64_t every_s)
{
	int64_t last = atomic_load_explicit(&r->hint_s, memory_order_relaxed);

	if (last != INT64_MIN && now_s - last < every_s)
		return false;
	return atomic_compare_exchange_strong(&r->hint_s, &last, now_s);
}

struct jwks_fetcher *jwks_remote_attach(struct jwks_remote *r, struct jwks_fetcher *f)
{
	struct jwks_fetcher *old;

	pthread_mutex_lock(&r->mu);
	old = r->f;
	r->f = f;
	pthread_mutex_unlock(&r->mu);
	return old;
}

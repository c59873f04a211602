/* tcache.c - sharded token cache with single-flight (see tcache.h).
 *
 * Layout: each shard owns a fixed array of 64-byte slots, a power-of-two
 * array of bucket heads and its mutex. Links (hash chain, LRU list, free
 * list) are 32-bit slot indices stored as index + 1, so 0 means "none" and
 * calloc'ed memory is a valid empty table: pages are only touched as the
 * cache fills. Slots below <fresh> have been used at least once; freed ones
 * go to the free list. Only READY slots are on the LRU list, which is how
 * pending fetches are protected from eviction.
 *
 * Claims references dropped while the lock is held are released after it
 * is let go, so free() never runs inside the critical section. */
#include "tcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum slot_state {
	SLOT_FREE = 0,
	SLOT_PENDING = 1,
	SLOT_READY = 2,
};

struct slot {
	uint8_t key[TCACHE_KEY_LEN];
	union {
		struct claims *claims;	       /* READY */
		struct tcache_waiter *waiters; /* PENDING: newest first */
	} u;
	double expires; /* READY: fresh while now < expires (PENDING: the old one) */
	union {
		/* LRU list, READY only; prev is towards the head. */
		struct {
			uint32_t prev, next;
		} l;
		/* PENDING: the expired entry's claims, kept for tcache_fail(). */
		struct claims *stale;
	} v;
	uint32_t hnext; /* hash chain, or free list when FREE */
	uint8_t state;
	uint16_t stale_s; /* READY/PENDING: usable on error until expires + stale_s */
};

struct shard {
	_Alignas(64) pthread_mutex_t lock;
	struct slot *slots;
	uint32_t *buckets;
	uint32_t cap, bucket_mask;
	uint32_t fresh;	    /* slots [0, fresh) have been handed out once */
	uint32_t free_head; /* free list through hnext */
	uint32_t lru_head, lru_tail;
	/* Written under the lock, read lock-free by tcache_stats(). */
	_Atomic uint64_t hits, negative_hits, misses, expired, waits, bypasses, evictions;
	_Atomic uint64_t entries, pending;
};

struct tcache {
	uint64_t seed[2]; /* SipHash key */
	uint32_t nshards;
	struct shard *shards;
};

#define IDX(i) ((i)-1)	 /* link value -> array index */
#define LNK(i) ((i) + 1) /* array index -> link value */

/* SipHash-1-3 (the variant hash tables use: one round per block, three to
 * finish) of the 32-byte key: the key bytes are SHA-256 output, but the
 * token that feeds SHA-256 is client-chosen, so bucket placement must not be
 * predictable from it (hash flooding). */
static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

static uint64_t key_hash(const struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN])
{
	uint64_t v[4] = {
	    0x736f6d6570736575ULL ^ tc->seed[0],
	    0x646f72616e646f6dULL ^ tc->seed[1],
	    0x6c7967656e657261ULL ^ tc->seed[0],
	    0x7465646279746573ULL ^ tc->seed[1],
	};
	uint64_t m;

	for (int i = 0; i < 4; i++) {
		memcpy(&m, key + 8 * i, 8);
		m = le64toh(m);
		v[3] ^= m;
		sipround(v);
		v[0] ^= m;
	}
	m = (uint64_t)TCACHE_KEY_LEN << 56;
	v[3] ^= m;
	sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 3; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static struct shard *shard_of(const struct tcache *tc, uint64_t h)
{
	return &tc->shards[(uint32_t)(h >> 32) & (tc->nshards - 1)];
}

static uint32_t *bucket_of(struct shard *sh, uint64_t h)
{
	return &sh->buckets[(uint32_t)h & sh->bucket_mask];
}

/* ---------------------------------------------------------------------- */
/* Shard internals (lock held)                                            */

/* Counters have a single writer at a time (the lock holder), so a relaxed
 * load + store is enough and avoids a locked instruction. */
static void cnt_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
			      memory_order_relaxed);
}

static uint32_t find(struct shard *sh, uint64_t h, const uint8_t key[TCACHE_KEY_LEN])
{
	for (uint32_t l = *bucket_of(sh, h); l; l = sh->slots[IDX(l)].hnext)
		if (memcmp(sh->slots[IDX(l)].key, key, TCACHE_KEY_LEN) == 0)
			return l;
	return 0;
}

static void hash_unlink(struct shard *sh, uint64_t h, uint32_t l)
{
	uint32_t *pl = bucket_of(sh, h);

	while (*pl != l)
		pl = &sh->slots[IDX(*pl)].hnext;
	*pl = sh->slots[IDX(l)].hnext;
}

static void lru_unlink(struct shard *sh, uint32_t l)
{
	struct slot *s = &sh->slots[IDX(l)];

	if (s->v.l.prev)
		sh->slots[IDX(s->v.l.prev)].v.l.next = s->v.l.next;
	else
		sh->lru_head = s->v.l.next;
	if (s->v.l.next)
		sh->slots[IDX(s->v.l.next)].v.l.prev = s->v.l.prev;
	else
		sh->lru_tail = s->v.l.prev;
	s->v.l.prev = s->v.l.next = 0;
}

static void lru_push_front(struct shard *sh, uint32_t l)
{
	struct slot *s = &sh->slots[IDX(l)];

	s->v.l.prev = 0;
	s->v.l.next = sh->lru_head;
	if (sh->lru_head)
		sh->slots[IDX(sh->lru_head)].v.l.prev = l;
	else
		sh->lru_tail = l;
	sh->lru_head = l;
}

/* Unhooks READY or PENDING slot <l> (READY: from the LRU too) and puts it on
 * the free list. Returns the claims reference it held, for the caller to
 * drop after unlocking. */
static struct claims *slot_release(const struct tcache *tc, struct shard *sh, uint32_t l)
{
	struct slot *s = &sh->slots[IDX(l)];
	struct claims *c = NULL;

	hash_unlink(sh, key_hash(tc, s->key), l);
	if (s->state == SLOT_READY) {
		lru_unlink(sh, l);
		c = s->u.claims;
	} else {
		c = s->v.stale;
	}
	memset(s, 0, sizeof(*s));
	s->hnext = sh->free_head;
	sh->free_head = l;
	cnt_add(&sh->entries, -1);
	return c;
}

/* Returns a FREE slot, evicting the least recently used READY one if the
 * shard is full (its claims go to *drop), or 0 when every slot is pending. */
static uint32_t slot_alloc(const struct tcache *tc, struct shard *sh, struct claims **drop)
{
	uint32_t l;

	if (!sh->free_head && sh->fresh == sh->cap) {
		if (!sh->lru_tail)
			return 0;
		*drop = slot_release(tc, sh, sh->lru_tail);
		cnt_add(&sh->evictions, 1);
	}
	if (sh->free_head) {
		l = sh->free_head;
		sh->free_head = sh->slots[IDX(l)].hnext;
		sh->slots[IDX(l)].hnext = 0;
	} else {
		l = LNK(sh->fresh++);
	}
	cnt_add(&sh->entries, 1);
	return l;
}

/* ---------------------------------------------------------------------- */
/* API                                                                    */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

struct tcache *tcache_new(size_t max_entries)
{
	struct tcache *tc;
	uint32_t nshards = 1, per;

	if (max_entries == 0 || max_entries > TCACHE_MAX_ENTRIES)
		return NULL;
	while (nshards < TCACHE_MAX_SHARDS && max_entries / (2u * nshards) >= TCACHE_SHARD_MIN)
		nshards <<= 1;
	per = (uint32_t)(max_entries / nshards);

	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	if (getrandom(tc->seed, sizeof(tc->seed), 0) != (ssize_t)sizeof(tc->seed)) {
		free(tc);
		return NULL;
	}
	tc->shards = aligned_alloc(_Alignof(struct shard), nshards * sizeof(struct shard));
	if (!tc->shards) {
		free(tc);
		return NULL;
	}
	memset(tc->shards, 0, nshards * sizeof(struct shard));
	for (uint32_t i = 0; i < nshards; i++) {
		struct shard *sh = &tc->shards[i];
		uint32_t nb = pow2_at_least(per);

		sh->cap = per;
		sh->bucket_mask = nb - 1;
		sh->slots = calloc(per, sizeof(*sh->slots));
		sh->buckets = calloc(nb, sizeof(*sh->buckets));
		tc->nshards = i + 1;
		if (!sh->slots || !sh->buckets || pthread_mutex_init(&sh->lock, NULL) != 0) {
			free(sh->slots);
			free(sh->buckets);
			sh->slots = NULL;
			sh->buckets = NULL;
			tc->nshards = i;
			tcache_free(tc);
			return NULL;
		}
	}
	return tc;
}

void tcache_free(struct tcache *tc)
{
	if (!tc)
		return;
	for (uint32_t i = 0; i < tc->nshards; i++) {
		struct shard *sh = &tc->shards[i];

		for (uint32_t j = 0; j < sh->fresh; j++)
			if (sh->slots[j].state == SLOT_READY)
				claims_unref(sh->slots[j].u.claims);
			else if (sh->slots[j].state == SLOT_PENDING)
				claims_unref(sh->slots[j].v.stale);
		pthread_mutex_destroy(&sh->lock);
		free(sh->slots);
		free(sh->buckets);
	}
	free(tc->shards);
	explicit_bzero(tc->seed, sizeof(tc->seed));
	free(tc);
}

enum tcache_result tcache_lookup(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN], double now,
				 struct tcache_waiter *w, struct claims **out)
{
	const uint64_t h = key_hash(tc, key);
	struct shard *sh = shard_of(tc, h);
	struct claims *drop = NULL;
	enum tcache_result r;
	struct slot *s;
	uint32_t l;

	*out = NULL;
	pthread_mutex_lock(&sh->lock);
	l = find(sh, h, key);
	if (l) {
		s = &sh->slots[IDX(l)];
		if (s->state == SLOT_PENDING) {
			if (w) {
				w->next = s->u.waiters;
				s->u.waiters = w;
				cnt_add(&sh->waits, 1);
				r = TCACHE_WAIT;
			} else {
				cnt_add(&sh->bypasses, 1);
				r = TCACHE_BYPASS;
			}
		} else if (now < s->expires) {
			lru_unlink(sh, l);
			lru_push_front(sh, l);
			*out = claims_ref(s->u.claims);
			cnt_add(&sh->hits, 1);
			if (!s->u.claims->active)
				cnt_add(&sh->negative_hits, 1);
			r = TCACHE_HIT;
		} else {
			/* Expired: reuse the slot as the pending entry, keeping
			 * an active result still inside its stale window. */
			lru_unlink(sh, l);
			if (s->u.claims->active && now < s->expires + s->stale_s) {
				s->v.stale = s->u.claims;
			} else {
				drop = s->u.claims;
				s->stale_s = 0;
			}
			s->u.waiters = NULL;
			s->state = SLOT_PENDING;
			cnt_add(&sh->expired, 1);
			cnt_add(&sh->misses, 1);
			cnt_add(&sh->pending, 1);
			r = TCACHE_MISS;
		}
	} else {
		l = slot_alloc(tc, sh, &drop);
		if (!l) {
			cnt_add(&sh->bypasses, 1);
			r = TCACHE_BYPASS;
		} else {
			uint32_t *b = bucket_of(sh, h);

			s = &sh->slots[IDX(l)];
			memcpy(s->key, key, TCACHE_KEY_LEN);
			s->state = SLOT_PENDING;
			s->u.waiters = NULL;
			s->hnext = *b;
			*b = l;
			cnt_add(&sh->misses, 1);
			cnt_add(&sh->pending, 1);
			r = TCACHE_MISS;
		}
	}
	pthread_mutex_unlock(&sh->lock);
	claims_unref(drop);
	return r;
}

/* Under the lock: the pending slot for <key> (0 when none), its waiters
 * moved to *list in arrival order (the queue is newest-first). */
static uint32_t take_pending(const struct tcache *tc, struct shard *sh,
			     const uint8_t key[TCACHE_KEY_LEN], struct tcache_waiter **list)
{
	uint32_t l = find(sh, key_hash(tc, key), key);
	struct tcache_waiter *w, *next;

	*list = NULL;
	if (!l || sh->slots[IDX(l)].state != SLOT_PENDING)
		return 0;
	for (w = sh->slots[IDX(l)].u.waiters; w; w = next) {
		next = w->next;
		w->next = *list;
		*list = w;
	}
	cnt_add(&sh->pending, -1);
	return l;
}

struct tcache_waiter *tcache_complete_stale(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
					    struct claims *c, double ttl, double stale_s,
					    double now)
{
	struct shard *sh = shard_of(tc, key_hash(tc, key));
	struct tcache_waiter *list;
	struct claims *drop = NULL;
	struct slot *s;
	uint32_t l;

	pthread_mutex_lock(&sh->lock);
	l = take_pending(tc, sh, key, &list);
	if (l && c && ttl > 0) {
		s = &sh->slots[IDX(l)];
		drop = s->v.stale;
		s->u.claims = claims_ref(c);
		s->expires = now + ttl;
		/* Floored: the window never ends later than the caller said. */
		s->stale_s =
		    c->active && stale_s >= 1 ? (uint16_t)(stale_s < 65535 ? stale_s : 65535) : 0;
		s->state = SLOT_READY;
		lru_push_front(sh, l);
	} else if (l) {
		drop = slot_release(tc, sh, l);
	}
	pthread_mutex_unlock(&sh->lock);
	claims_unref(drop);
	return list;
}

struct tcache_waiter *tcache_complete(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
				      struct claims *c, double ttl, double now)
{
	return tcache_complete_stale(tc, key, c, ttl, 0, now);
}

struct tcache_waiter *tcache_fail(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN], double now,
				  struct claims **stale)
{
	struct shard *sh = shard_of(tc, key_hash(tc, key));
	struct tcache_waiter *list;
	struct claims *drop = NULL;
	struct slot *s;
	uint32_t l;

	*stale = NULL;
	pthread_mutex_lock(&sh->lock);
	l = take_pending(tc, sh, key, &list);
	s = l ? &sh->slots[IDX(l)] : NULL;
	if (s && s->v.stale && now < s->expires + s->stale_s) {
		/* Back to the expired entry: the next lookup asks again. */
		struct claims *c = s->v.stale;

		s->u.claims = c;
		s->v.stale = NULL;
		s->state = SLOT_READY;
		lru_push_front(sh, l);
		*stale = claims_ref(c);
	} else if (s) {
		drop = slot_release(tc, sh, l);
	}
	pthread_mutex_unlock(&sh->lock);
	claims_unref(drop);
	return list;
}

bool tcache_cancel(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN], struct tcache_waiter *w)
{
	const uint64_t h = key_hash(tc, key);
	struct shard *sh = shard_of(tc, h);
	bool found = false;
	uint32_t l;

	pthread_mutex_lock(&sh->lock);
	l = find(sh, h, key);
	if (l && sh->slots[IDX(l)].state == SLOT_PENDING) {
		for (struct tcache_waiter **pw = &sh->slots[IDX(l)].u.waiters; *pw;
		     pw = &(*pw)->next) {
			if (*pw == w) {
				*pw = w->next;
				w->next = NULL;
				found = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&sh->lock);
	return found;
}

bool tcache_remove(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN])
{
	const uint64_t h = key_hash(tc, key);
	struct shard *sh = shard_of(tc, h);
	struct claims *drop = NULL;
	uint32_t l;

	pthread_mutex_lock(&sh->lock);
	l = find(sh, h, key);
	if (l && sh->slots[IDX(l)].state == SLOT_READY) {
		drop = slot_release(tc, sh, l);
	} else if (l) {
		/* A fetch in flight keeps going, but not its stale fallback. */
		drop = sh->slots[IDX(l)].v.stale;
		sh->slots[IDX(l)].v.stale = NULL;
	}
	pthread_mutex_unlock(&sh->lock);
	claims_unref(drop);
	return drop != NULL;
}

size_t tcache_remove_if(struct tcache *tc, bool (*match)(const struct claims *c, void *arg),
			void *arg)
{
	struct claims *drop[64];
	size_t removed = 0;

	for (uint32_t s = 0; s < tc->nshards; s++) {
		struct shard *sh = &tc->shards[s];
		uint32_t i = 0, n;

		do {
			/* Slot indices stay valid across the unlock: resume at <i>. */
			n = 0;
			pthread_mutex_lock(&sh->lock);
			for (; i < sh->fresh && n < 64; i++) {
				struct slot *sl = &sh->slots[i];

				if (sl->state == SLOT_READY && match(sl->u.claims, arg)) {
					drop[n++] = slot_release(tc, sh, LNK(i));
				} else if (sl->state == SLOT_PENDING && sl->v.stale &&
					   match(sl->v.stale, arg)) {
					drop[n++] = sl->v.stale;
					sl->v.stale = NULL;
				}
			}
			pthread_mutex_unlock(&sh->lock);
			for (uint32_t k = 0; k < n; k++)
				claims_unref(drop[k]);
			removed += n;
		} while (n == 64);
	}
	return removed;
}

void tcache_stats(const struct tcache *tc, struct tcache_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < tc->nshards; i++) {
		const struct shard *sh = &tc->shards[i];

#define ADD(f) out->f += atomic_load_explicit(&sh->f, memory_order_relaxed)
		ADD(hits);
		ADD(negative_hits);
		ADD(misses);
		ADD(expired);
		ADD(waits);
		ADD(bypasses);
		ADD(evictions);
		ADD(entries);
		ADD(pending);
#undef ADD
		out->capacity += sh->cap;
	}
}

size_t tcache_entry_size(void)
{
	return sizeof(struct slot);
}

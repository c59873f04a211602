/* test_tcache.c - token cache: keys, TTL with a fake clock, negative entries,
 * LRU eviction at the bound, single-flight, and a multi-thread stress (also
 * built with -fsanitize=thread). */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tcache.h"

static struct claims *mk(bool active, int64_t tag)
{
	struct claims *c = claims_new(0);

	c->active = active;
	c->has_exp = true;
	c->exp = tag;
	return c;
}

static void key_n(unsigned n, uint8_t k[TCACHE_KEY_LEN])
{
	char tok[32];

	snprintf(tok, sizeof(tok), "tok-%u", n);
	tcache_key(SLICE_LIT("http://idp/introspect"), slice_str(tok), k);
}

static int refs(struct claims *c)
{
	return atomic_load(&c->refs);
}

static void test_key(void)
{
	uint8_t k[TCACHE_KEY_LEN], k2[TCACHE_KEY_LEN];
	char fp[9];
	static const uint8_t want[8] = {0x3f, 0x22, 0xdb, 0xff, 0x25, 0xb4, 0xbb, 0x4d};

	is_int(tcache_key(SLICE_LIT("http://127.0.0.1:4445/admin/oauth2/introspect"),
			  SLICE_LIT("ory_at_abc"), k),
	       0, "key: ok");
	is_mem(k, 8, want, 8, "key: SHA-256(endpoint 0x00 token)");
	tcache_fingerprint(k, fp);
	is_str(fp, "3f22dbff", "fingerprint: 8 lower-case hex");
	tcache_key(SLICE_NULL, SLICE_NULL, k2);
	is_int(k2[0], 0x6e, "key: both empty = SHA-256 of one zero byte");
	/* The separator makes (a, bc) and (ab, c) different keys. */
	tcache_key(SLICE_LIT("a"), SLICE_LIT("bc"), k);
	tcache_key(SLICE_LIT("ab"), SLICE_LIT("c"), k2);
	ok(memcmp(k, k2, TCACHE_KEY_LEN) != 0, "key: endpoint/token boundary matters");
	tcache_key(SLICE_LIT("http://a"), SLICE_LIT("t"), k);
	tcache_key(SLICE_LIT("http://b"), SLICE_LIT("t"), k2);
	ok(memcmp(k, k2, TCACHE_KEY_LEN) != 0, "key: scoped per endpoint");
}

/* The midstate path must give exactly tcache_key(), for every length around
 * the 64-byte SHA-256 block (endpoint and token each). */
static void test_key_prefix(void)
{
	char ep[200], tok[200];
	uint8_t k[TCACHE_KEY_LEN], k2[TCACHE_KEY_LEN];
	struct tcache_key_prefix kp;
	int bad = 0;

	for (int i = 0; i < (int)sizeof(ep); i++)
		ep[i] = (char)('a' + i % 26), tok[i] = (char)('A' + i % 26);
	for (size_t el = 0; el < 140; el += 7) {
		tcache_key_prefix_init(&kp, slice_from(ep, el));
		for (size_t tl = 0; tl < 140; tl++) {
			tcache_key(slice_from(ep, el), slice_from(tok, tl), k);
			tcache_key_finish(&kp, slice_from(tok, tl), k2);
			bad += memcmp(k, k2, TCACHE_KEY_LEN) != 0;
		}
		tcache_key_prefix_clear(&kp);
	}
	is_int(bad, 0, "key prefix: finish == tcache_key for every length");
	tcache_key_prefix_init(&kp, SLICE_NULL);
	tcache_key_finish(&kp, SLICE_NULL, k2);
	is_int(k2[0], 0x6e, "key prefix: both empty = SHA-256 of one zero byte");
}

static void test_new(void)
{
	struct tcache_stats st;
	struct tcache *tc;

	ok(tcache_new(0) == NULL, "new(0) fails");
	ok(tcache_new((size_t)TCACHE_MAX_ENTRIES + 1) == NULL, "new(max + 1) fails");
	tc = tcache_new(1000);
	tcache_stats(tc, &st);
	ok(st.capacity == 1000, "new(1000): capacity 1000 (8 shards of 125)");
	tcache_free(tc);
	tc = tcache_new(100000);
	tcache_stats(tc, &st);
	ok(st.capacity <= 100000 && st.capacity > 100000 - TCACHE_MAX_SHARDS,
	   "new(100000): capacity within a shard count");
	tcache_free(tc);
	tcache_free(NULL);
	printf("# slot size %zu bytes (+ <= 8 bytes of bucket heads per slot)\n",
	       tcache_entry_size());
	ok(tcache_entry_size() + 8 <= 300, "per-entry memory <= 300 bytes");
	ok(tcache_entry_size() <= 64, "a slot fits a cache line");
}

static void test_single_flight_and_ttl(void)
{
	struct tcache *tc = tcache_new(16);
	struct tcache_waiter w1 = {0}, w2 = {0}, w3 = {0}, *list;
	struct claims *c = mk(true, 1), *got;
	struct tcache_stats st;
	uint8_t k[TCACHE_KEY_LEN];

	key_n(1, k);
	is_int(tcache_lookup(tc, k, 100.0, &w1, &got), TCACHE_MISS, "first lookup: MISS (leader)");
	ok(got == NULL, "MISS: *out NULL");
	is_int(tcache_lookup(tc, k, 100.1, &w1, &got), TCACHE_WAIT, "second: WAIT");
	is_int(tcache_lookup(tc, k, 100.2, &w2, &got), TCACHE_WAIT, "third: WAIT");
	is_int(tcache_lookup(tc, k, 100.3, &w3, &got), TCACHE_WAIT, "fourth: WAIT");
	ok(got == NULL, "WAIT: *out NULL");
	is_int(tcache_lookup(tc, k, 100.3, NULL, &got), TCACHE_BYPASS,
	       "pending and no waiter: BYPASS");
	ok(tcache_cancel(tc, k, &w2), "cancel a queued waiter");
	ok(!tcache_cancel(tc, k, &w2), "cancel it twice: false");
	ok(!tcache_remove(tc, k), "remove leaves a pending entry alone");
	tcache_stats(tc, &st);
	ok(st.pending == 1 && st.entries == 1, "stats: one pending entry");

	list = tcache_complete(tc, k, c, 10.0, 100.5);
	ok(list == &w1 && w1.next == &w3 && w3.next == NULL, "complete: waiters in arrival order");
	is_int(refs(c), 2, "complete: cache holds its own reference");
	ok(tcache_complete(tc, k, c, 10.0, 100.5) == NULL, "complete twice: NULL, no change");
	is_int(refs(c), 2, "complete twice: no extra reference");

	is_int(tcache_lookup(tc, k, 110.4, &w1, &got), TCACHE_HIT, "HIT before expiry");
	ok(got == c, "HIT: same claims");
	is_int(refs(c), 3, "HIT: new reference");
	claims_unref(got);
	is_int(tcache_lookup(tc, k, 110.5, &w1, &got), TCACHE_MISS, "MISS at now == expiry");
	is_int(refs(c), 1, "expired entry dropped its reference");
	tcache_stats(tc, &st);
	ok(st.hits == 1 && st.misses == 2 && st.expired == 1 && st.waits == 3 && st.bypasses == 1,
	   "stats: hits/misses/expired/waits/bypasses");

	/* Failed fetch: nothing cached, waiters still returned. */
	is_int(tcache_lookup(tc, k, 111.0, &w1, &got), TCACHE_WAIT, "WAIT on the new fetch");
	ok(tcache_complete(tc, k, NULL, 10.0, 111.0) == &w1 && w1.next == NULL,
	   "failed fetch: waiter returned");
	is_int(tcache_lookup(tc, k, 111.0, &w1, &got), TCACHE_MISS, "failed fetch: not cached");
	/* ttl <= 0 and NaN: not cached. */
	ok(tcache_complete(tc, k, c, 0.0, 111.0) == NULL, "ttl 0");
	is_int(tcache_lookup(tc, k, 111.0, &w1, &got), TCACHE_MISS, "ttl 0: not cached");
	tcache_complete(tc, k, c, -1.0, 111.0);
	is_int(tcache_lookup(tc, k, 111.0, &w1, &got), TCACHE_MISS, "ttl < 0: not cached");
	tcache_complete(tc, k, c, NAN, 111.0);
	is_int(tcache_lookup(tc, k, 111.0, &w1, &got), TCACHE_MISS, "ttl NaN: not cached");
	is_int(refs(c), 1, "uncached completes take no reference");
	tcache_complete(tc, k, c, 5.0, 111.0);
	ok(tcache_remove(tc, k), "remove a ready entry");
	is_int(refs(c), 1, "remove drops the reference");
	ok(!tcache_remove(tc, k), "remove again: false");
	is_int(tcache_lookup(tc, k, 111.0, &w1, &got), TCACHE_MISS, "removed: MISS");
	tcache_complete(tc, k, NULL, 0, 0);
	tcache_stats(tc, &st);
	ok(st.entries == 0 && st.pending == 0, "stats: empty again");

	{
		uint8_t other[TCACHE_KEY_LEN];

		key_n(2, other);
		ok(tcache_complete(tc, other, c, 1, 1) == NULL, "complete of an unknown key: NULL");
		ok(!tcache_cancel(tc, other, &w1), "cancel on an unknown key: false");
	}
	claims_unref(c);
	tcache_free(tc);
}

static void test_negative(void)
{
	struct tcache *tc = tcache_new(16);
	struct claims *neg = mk(false, 0), *got;
	struct tcache_stats st;
	uint8_t k[TCACHE_KEY_LEN];

	key_n(7, k);
	tcache_lookup(tc, k, 0, NULL, &got);
	tcache_complete(tc, k, neg, 3.0, 0);
	is_int(tcache_lookup(tc, k, 2.9, NULL, &got), TCACHE_HIT, "negative entry: HIT");
	ok(got == neg && !got->active, "negative entry: inactive claims");
	claims_unref(got);
	is_int(tcache_lookup(tc, k, 3.0, NULL, &got), TCACHE_MISS, "negative entry expires");
	tcache_stats(tc, &st);
	ok(st.hits == 1 && st.negative_hits == 1, "stats: negative hit counted");
	/* Leave a pending entry and a ready one at free time: no leak. */
	{
		uint8_t k2[TCACHE_KEY_LEN];

		key_n(8, k2);
		tcache_lookup(tc, k2, 0, NULL, &got);
		tcache_complete(tc, k2, neg, 100, 0);
	}
	tcache_free(tc);
	is_int(refs(neg), 1, "free drops the cache's references");
	claims_unref(neg);
}

static bool match_all(const struct claims *c, void *arg)
{
	(void)c;
	(void)arg;
	return true;
}

/* Serve-stale with a fake clock: ttl 2, stale window 3 (so stale until 5). */
static void test_stale(void)
{
	struct tcache *tc = tcache_new(16);
	struct claims *pos = mk(true, 100), *neg = mk(false, 0), *got, *st;
	struct tcache_waiter w = {0}, *list;
	struct tcache_stats s;
	uint8_t k[TCACHE_KEY_LEN], kn[TCACHE_KEY_LEN];

	key_n(40, k);
	key_n(41, kn);
	tcache_lookup(tc, k, 0, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 0);
	is_int(tcache_lookup(tc, k, 1.9, NULL, &got), TCACHE_HIT, "stale: fresh before ttl");
	claims_unref(got);
	is_int(tcache_lookup(tc, k, 2.5, NULL, &got), TCACHE_MISS, "stale: past ttl is a MISS");
	ok(got == NULL, "stale: a MISS hands out nothing");
	is_int(tcache_lookup(tc, k, 2.6, &w, &got), TCACHE_WAIT, "stale: a second request waits");
	list = tcache_fail(tc, k, 2.7, &st);
	ok(st == pos, "stale: fail hands out the expired claims");
	ok(list == &w && !w.next, "stale: fail returns the waiters");
	claims_unref(st);
	tcache_stats(tc, &s);
	ok(s.entries == 1 && s.pending == 0, "stale: the expired entry keeps its slot");
	/* Still inside the window: again a MISS, again stale on failure. */
	is_int(tcache_lookup(tc, k, 4.9, NULL, &got), TCACHE_MISS, "stale: MISS at 4.9");
	tcache_fail(tc, k, 4.95, &st);
	ok(st == pos, "stale: served until the window ends");
	claims_unref(st);
	/* The window is over: the entry is dropped. */
	is_int(tcache_lookup(tc, k, 5.0, NULL, &got), TCACHE_MISS, "stale: MISS at 5");
	tcache_fail(tc, k, 5.0, &st);
	ok(st == NULL, "stale: nothing after the window");
	tcache_stats(tc, &s);
	is_int((int)s.entries, 0, "stale: entry gone after the window");
	/* A window that ends while the fetch is in flight. */
	tcache_lookup(tc, k, 10, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 10);
	tcache_lookup(tc, k, 14.5, NULL, &got);
	tcache_fail(tc, k, 15.5, &st);
	ok(st == NULL, "stale: fail after the window ends gives nothing");
	/* A successful refetch replaces the stale claims. */
	tcache_lookup(tc, k, 20, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 20);
	tcache_lookup(tc, k, 23, NULL, &got);
	tcache_complete_stale(tc, k, neg, 2.0, 3.0, 23);
	is_int(tcache_lookup(tc, k, 26, NULL, &got), TCACHE_MISS, "stale: negative past ttl: MISS");
	tcache_fail(tc, k, 26, &st);
	ok(st == NULL, "stale: never for negative results");
	/* Negative results never get a window. */
	tcache_lookup(tc, kn, 0, NULL, &got);
	tcache_complete_stale(tc, kn, neg, 2.0, 3.0, 0);
	tcache_lookup(tc, kn, 2.5, NULL, &got);
	tcache_fail(tc, kn, 2.5, &st);
	ok(st == NULL, "stale: a negative entry is never stale");
	/* Without a window (tcache_complete): nothing on failure. */
	tcache_lookup(tc, kn, 10, NULL, &got);
	tcache_complete(tc, kn, pos, 2.0, 10);
	tcache_lookup(tc, kn, 12.1, NULL, &got);
	tcache_fail(tc, kn, 12.1, &st);
	ok(st == NULL, "stale: off by default");
	/* Purges: of the expired entry, and during the refetch. */
	tcache_lookup(tc, k, 30, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 30);
	ok(tcache_remove(tc, k), "stale: purge removes the entry");
	tcache_lookup(tc, k, 32.5, NULL, &got);
	tcache_fail(tc, k, 32.5, &st);
	ok(st == NULL, "stale: nothing after a purge");
	tcache_lookup(tc, k, 40, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 40);
	is_int(tcache_lookup(tc, k, 42.5, NULL, &got), TCACHE_MISS, "stale: refetch starts");
	ok(tcache_remove(tc, k), "stale: purge during the refetch drops the stale claims");
	tcache_fail(tc, k, 42.6, &st);
	ok(st == NULL, "stale: nothing after a purge during the refetch");
	tcache_lookup(tc, k, 50, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 50);
	tcache_lookup(tc, k, 52.5, NULL, &got);
	is_int((int)tcache_remove_if(tc, match_all, NULL), 1, "stale: purge by match, in flight");
	tcache_fail(tc, k, 52.6, &st);
	ok(st == NULL, "stale: nothing after a purge by match");
	/* A stale fallback left pending at free time: no leak. */
	tcache_lookup(tc, k, 60, NULL, &got);
	tcache_complete_stale(tc, k, pos, 2.0, 3.0, 60);
	tcache_lookup(tc, k, 62.5, NULL, &got);
	tcache_free(tc);
	is_int(refs(pos), 1, "stale: free drops every reference");
	is_int(refs(neg), 1, "stale: free drops the negative's references");
	claims_unref(pos);
	claims_unref(neg);
}

static void test_eviction(void)
{
	struct tcache *tc = tcache_new(4); /* one shard: exact LRU */
	struct claims *c[8], *got;
	struct tcache_stats st;
	uint8_t k[8][TCACHE_KEY_LEN];

	for (int i = 0; i < 8; i++) {
		key_n(100 + (unsigned)i, k[i]);
		c[i] = mk(true, i);
	}
	for (int i = 0; i < 4; i++) {
		tcache_lookup(tc, k[i], i, NULL, &got);
		tcache_complete(tc, k[i], c[i], 1000, i);
	}
	tcache_stats(tc, &st);
	ok(st.entries == 4 && st.evictions == 0 && st.capacity == 4, "full, nothing evicted");
	is_int(tcache_lookup(tc, k[0], 10, NULL, &got), TCACHE_HIT, "touch k0");
	claims_unref(got);
	is_int(tcache_lookup(tc, k[4], 11, NULL, &got), TCACHE_MISS, "k4: MISS");
	tcache_complete(tc, k[4], c[4], 1000, 11);
	tcache_stats(tc, &st);
	ok(st.entries == 4 && st.evictions == 1, "one eviction at the bound");
	is_int(refs(c[1]), 1, "LRU k1 evicted, reference dropped");
	is_int(refs(c[0]), 2, "touched k0 kept");
	for (int i = 2; i <= 4; i++)
		is_int(refs(c[i]), 2, "others kept");

	/* Pending entries are never evicted; all pending -> BYPASS. */
	tcache_free(tc);
	tc = tcache_new(2);
	is_int(tcache_lookup(tc, k[0], 0, NULL, &got), TCACHE_MISS, "p0 pending");
	is_int(tcache_lookup(tc, k[1], 0, NULL, &got), TCACHE_MISS, "p1 pending");
	is_int(tcache_lookup(tc, k[2], 0, NULL, &got), TCACHE_BYPASS, "full of pending: BYPASS");
	tcache_complete(tc, k[0], c[0], 10, 0);
	is_int(tcache_lookup(tc, k[2], 0, NULL, &got), TCACHE_MISS, "room made by evicting p0");
	is_int(refs(c[0]), 1, "p0 (ready) was the one evicted");
	is_int(tcache_lookup(tc, k[3], 0, NULL, &got), TCACHE_BYPASS, "again full of pending");
	ok(tcache_complete(tc, k[1], NULL, 0, 0) == NULL, "p1 fails");
	is_int(tcache_lookup(tc, k[3], 0, NULL, &got), TCACHE_MISS, "freed slot reused");
	tcache_complete(tc, k[2], NULL, 0, 0);
	tcache_complete(tc, k[3], NULL, 0, 0);
	tcache_stats(tc, &st);
	ok(st.entries == 0 && st.pending == 0 && st.bypasses == 2 && st.evictions == 1,
	   "stats after the pending dance");
	tcache_free(tc);

	/* Many shards: the bound holds overall. */
	tc = tcache_new(1000);
	for (unsigned i = 0; i < 20000; i++) {
		uint8_t kk[TCACHE_KEY_LEN];

		key_n(i, kk);
		if (tcache_lookup(tc, kk, i, NULL, &got) == TCACHE_MISS)
			tcache_complete(tc, kk, c[5], 1e9, i);
	}
	tcache_stats(tc, &st);
	ok(st.entries <= 1000 && st.entries > 900, "20000 keys into 1000: bounded, nearly full");
	ok(st.evictions == 20000 - st.entries, "every excess key evicted one entry");
	is_int(refs(c[5]), 1 + (long long)st.entries, "one reference per entry");
	tcache_free(tc);
	for (int i = 0; i < 8; i++) {
		is_int(refs(c[i]), 1, "all references back");
		claims_unref(c[i]);
	}
}

/* ---- multi-thread stress ---- */

#define STRESS_KEYS 512u

struct wrec {
	struct tcache_waiter w;
	_Atomic int done;
	struct claims *c; /* written by the leader before done = 1 */
};

struct stress {
	struct tcache *tc;
	uint8_t keys[STRESS_KEYS][TCACHE_KEY_LEN];
	unsigned iters;
	_Atomic uint64_t ops, bad;
};

struct worker {
	struct stress *s;
	unsigned seed;
};

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void check_claims(struct stress *s, struct claims *c, unsigned ki)
{
	if (c && (c->exp != (int64_t)ki || c->active != (ki % 3 != 0)))
		atomic_fetch_add(&s->bad, 1);
}

static void *stress_thread(void *arg)
{
	struct worker *wk = arg;
	struct stress *s = wk->s;

	for (unsigned i = 0; i < s->iters; i++) {
		unsigned ki = rnd(&wk->seed) % STRESS_KEYS;
		double now = i * 0.01;
		struct wrec rec = {.w = {.arg = NULL}};
		struct claims *got;
		enum tcache_result r;

		rec.w.arg = &rec;
		r = tcache_lookup(s->tc, s->keys[ki], now, &rec.w, &got);
		atomic_fetch_add(&s->ops, 1);
		if (r == TCACHE_HIT) {
			check_claims(s, got, ki);
			claims_unref(got);
		} else if (r == TCACHE_MISS || r == TCACHE_BYPASS) {
			unsigned x = rnd(&wk->seed) % 10;
			struct claims *c = x == 0 ? NULL : mk(ki % 3 != 0, ki);
			struct tcache_waiter *list, *next;

			if (r == TCACHE_BYPASS) {
				claims_unref(c);
				continue;
			}
			list =
			    tcache_complete(s->tc, s->keys[ki], c, x == 1 ? 0 : 0.5 + x * 0.2, now);
			for (; list; list = next) {
				struct wrec *wr = list->arg;

				next = list->next; /* read before handing over */
				wr->c = claims_ref(c);
				atomic_store_explicit(&wr->done, 1, memory_order_release);
			}
			claims_unref(c);
		} else { /* TCACHE_WAIT */
			if ((rnd(&wk->seed) & 7) == 0 && tcache_cancel(s->tc, s->keys[ki], &rec.w))
				continue;
			while (!atomic_load_explicit(&rec.done, memory_order_acquire))
				sched_yield();
			check_claims(s, rec.c, ki);
			claims_unref(rec.c);
		}
	}
	return NULL;
}

static void test_stress(unsigned nthreads, unsigned iters, size_t max_entries)
{
	struct stress *s = calloc(1, sizeof(*s));
	pthread_t th[16];
	struct worker wk[16];
	struct tcache_stats st;

	s->tc = tcache_new(max_entries);
	s->iters = iters;
	for (unsigned i = 0; i < STRESS_KEYS; i++)
		key_n(i, s->keys[i]);
	for (unsigned i = 0; i < nthreads; i++) {
		wk[i].s = s;
		wk[i].seed = i * 7919u + 1;
		pthread_create(&th[i], NULL, stress_thread, &wk[i]);
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	tcache_stats(s->tc, &st);
	is_int(atomic_load(&s->bad), 0, "stress: every result matches its key");
	is_int(st.pending, 0, "stress: nothing left pending");
	ok(st.entries <= st.capacity, "stress: bounded");
	is_int(st.hits + st.misses + st.waits + st.bypasses, atomic_load(&s->ops),
	       "stress: every lookup counted once");
	printf("# stress %u threads x %u: hits %llu (neg %llu) misses %llu waits %llu "
	       "bypasses %llu evictions %llu entries %llu\n",
	       nthreads, iters, (unsigned long long)st.hits, (unsigned long long)st.negative_hits,
	       (unsigned long long)st.misses, (unsigned long long)st.waits,
	       (unsigned long long)st.bypasses, (unsigned long long)st.evictions,
	       (unsigned long long)st.entries);
	tcache_free(s->tc);
	free(s);
}

int main(int argc, char **argv)
{
	/* An argument scales the stress down (the TSan and valgrind runs). */
	unsigned iters = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000u;

	test_key();
	test_key_prefix();
	test_new();
	test_single_flight_and_ttl();
	test_negative();
	test_eviction();
	test_stale();
	test_stress(8, iters, 256);	  /* 4 shards of 64: heavy eviction and contention */
	test_stress(8, iters / 2, 20000); /* many shards, everything fits */
	return done_testing("tcache");
}

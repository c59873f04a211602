/* authz_fetch.c - see authz_fetch.h.
 *
 * The leader of a token's single-flight for an I/O step asks the shared
 * cache (l2) first when there is one, then starts the step; its result
 * completes the tcache entry, which hands it to every waiter (on their own
 * worker, through their mailbox), and then to the leader's own request. A
 * local step never waits: when another request is computing the same
 * result, it computes it too, without storing it. */
#include "authz_fetch.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "authz_int.h"
#include "claims.h"
#include "l2.h"
#include "log.h"
#include "policy.h"
#include "stats.h"
#include "validator.h"

/* The cache rules of one result: the policy's, copied, since the leader's
 * request may be answered (and its snapshot released) before waiters are. */
struct rules {
	int64_t ttl_ms, neg_ttl_ms, stale_ms;
};

/* The leader's I/O step in flight. */
struct fetch {
	struct authz *az;
	struct authz_need *need;
	uint8_t key[TCACHE_KEY_LEN];
	bool cached; /* false: TCACHE_BYPASS, no tcache_complete() */
	struct rules ru;
	char fp[9];
};

static struct rules rules_of(const struct policy *p)
{
	return (struct rules){policy_cache_timeout_ms(p), policy_negative_cache_timeout_ms(p),
			      policy_stale_if_error_ms(p)};
}

/* Hands <c> (may be NULL) to every request that queued behind a fetch. A
 * waiter's struct authz may already be freed (its worker is shutting down
 * and left the request orphaned, see authz_free()): only the need itself and
 * its owner worker may be touched, and nothing at all once it is posted. */
static void wake_waiters(struct stats *st, struct tcache_waiter *wt, struct claims *c, bool stale)
{
	while (wt) {
		struct tcache_waiter *next = wt->next;
		struct authz_need *need = wt->arg;

		stats_waiters(st, -1);
		need->claims = claims_ref(c);
		need->stale = stale && c;
		mailbox_post(need->owner, &need->msg);
		wt = next;
	}
}

static double result_ttl(const struct rules *ru, const struct claims *c, double now)
{
	double ttl;

	if (!c->active)
		return (double)ru->neg_ttl_ms / 1000.0;
	ttl = (double)ru->ttl_ms / 1000.0;
	if (c->has_exp && (double)c->exp - now < ttl)
		ttl = (double)c->exp - now; /* never cache past expiry */
	return ttl;
}

/* How long after <ttl> active claims <c> may be served on error: the
 * policy's staleIfError, never past the token's exp. */
static double stale_window(const struct rules *ru, const struct claims *c, double ttl, double now)
{
	double s = (double)ru->stale_ms / 1000.0;

	if (!c->active || s <= 0)
		return 0;
	if (c->has_exp && (double)c->exp - (now + ttl) < s)
		s = (double)c->exp - (now + ttl);
	return s > 0 ? s : 0;
}

static struct tcache_waiter *cache_store(struct authz *az, const uint8_t *key,
					 const struct rules *ru, struct claims *c, double ttl,
					 double now)
{
	double s = stale_window(ru, c, ttl, now);

	if (s > 0)
		return tcache_complete_stale(az->sh->cache, key, c, ttl, s, now);
	return tcache_complete(az->sh->cache, key, c, ttl, now);
}

/* A failed fetch: *stale is the stale result to serve, or NULL. */
static struct tcache_waiter *cache_fail(struct authz *az, const struct fetch *f, double now,
					struct claims **stale)
{
	*stale = NULL;
	if (f->ru.stale_ms > 0)
		return tcache_fail(az->sh->cache, f->key, now, stale);
	return tcache_complete(az->sh->cache, f->key, NULL, 0, now);
}

/* The leader's need is done: its continuation runs now, on this thread. */
static void leader_done(struct authz_need *need)
{
	need->msg.fn(&need->msg);
}

/* The I/O step's answer (validator_done_cb). */
static void fetch_done(void *arg, struct claims *c, bool cacheable)
{
	struct fetch *f = arg;
	struct authz *az = f->az;
	struct claims *stale = NULL;
	double now = ev_now(az->loop);

	stats_claims(az->sh->st, c); /* a computed result's cut values */
	if (!cacheable) {
		/* A refusal that must not be stored (nor replaced by a stale
		 * result): handed to the waiters as it is. */
		if (f->cached)
			wake_waiters(az->sh->st,
				     tcache_complete(az->sh->cache, f->key, NULL, 0, now), c,
				     false);
	} else if (f->cached && c) {
		double ttl = result_ttl(&f->ru, c, now);

		wake_waiters(az->sh->st, cache_store(az, f->key, &f->ru, c, ttl, now), c, false);
		if (ttl > 0 && az->l2)
			l2_set(az->l2, f->key, c, ttl, now);
	} else if (f->cached) {
		/* Two statements: C leaves the order of argument evaluation open,
		 * and <stale> is only set by cache_fail(). */
		struct tcache_waiter *wt = cache_fail(az, f, now, &stale);

		wake_waiters(az->sh->st, wt, stale, true);
		if (stale)
			log_warn("serving a stale cached result (staleIfError, token %s)", f->fp);
	}
	if (!c)
		c = stale;
	f->need->claims = c; /* the leader keeps the step's (or the stale) reference */
	f->need->stale = c && c == stale;
	leader_done(f->need);
	free(f);
}

/* Starts <need>'s I/O step (this request leads when <cached>). Returns false
 * when it could not even start: the step then counts as failed. */
static bool start_step(struct authz *az, struct authz_need *need, struct slice token,
		       const struct claims *so_far, unsigned endpoint_slot, int64_t leeway_s,
		       bool cached)
{
	struct fetch *f = malloc(sizeof(*f));
	struct validator_io io = {az->hc, az->sh->st, endpoint_slot, "", az->loop, leeway_s};

	if (f) {
		f->az = az;
		f->need = need;
		f->cached = cached;
		f->ru = rules_of(need->first);
		memcpy(f->key, need->key, sizeof(f->key));
		tcache_fingerprint(need->key, f->fp);
		io.fp = f->fp;
		if (need->v->start(&io, need->first, token, so_far, fetch_done, f))
			return true;
		free(f);
	}
	if (cached)
		wake_waiters(az->sh->st,
			     tcache_complete(az->sh->cache, need->key, NULL, 0, ev_now(az->loop)),
			     NULL, false);
	return false;
}

/* The shared-cache stage of a leader's fetch: the token is copied while
 * the GET runs (the step may follow), wiped after. */
struct l2_stage {
	struct authz *az;
	struct authz_need *need;
	struct claims *so_far; /* a reference */
	unsigned endpoint_slot;
	int64_t leeway_s;
	size_t len;
	char token[];
};

static void l2_stage_free(struct l2_stage *ls)
{
	claims_unref(ls->so_far);
	explicit_bzero(ls->token, ls->len);
	free(ls);
}

/* The GET's answer: a hit completes the single-flight like the step would;
 * a miss or an error runs the step, within the same single-flight. */
static void l2_done(void *arg, enum l2_result r, struct claims *c, double until)
{
	struct l2_stage *ls = arg;
	struct authz *az = ls->az;
	struct authz_need *need = ls->need;
	double now = ev_now(az->loop);

	if (r == L2_HIT) {
		struct rules ru = rules_of(need->first);
		double ttl = result_ttl(&ru, c, now);

		if (until - now < ttl)
			ttl = until - now;
		wake_waiters(az->sh->st, cache_store(az, need->key, &ru, c, ttl, now), c, false);
		need->pend->l2 = true;
		need->claims = c;
		leader_done(need);
	} else if (r == L2_SHUTDOWN) {
		wake_waiters(az->sh->st, tcache_complete(az->sh->cache, need->key, NULL, 0, now),
			     NULL, false);
		need->claims = NULL;
		leader_done(need);
	} else if (!start_step(az, need, slice_from(ls->token, ls->len), ls->so_far,
			       ls->endpoint_slot, ls->leeway_s, true)) {
		need->claims = NULL;
		leader_done(need);
	}
	l2_stage_free(ls);
}

/* Starts an I/O step: through the shared cache first when this request
 * leads the entry. */
static bool start_io(struct authz *az, struct authz_need *need, struct slice token,
		     const struct claims *so_far, unsigned endpoint_slot, int64_t leeway_s,
		     bool cached)
{
	struct l2_stage *ls;

	if (cached && az->l2 && (ls = malloc(sizeof(*ls) + token.len))) {
		ls->az = az;
		ls->need = need;
		ls->so_far = claims_ref((struct claims *)so_far);
		ls->endpoint_slot = endpoint_slot;
		ls->leeway_s = leeway_s;
		ls->len = token.len;
		memcpy(ls->token, token.ptr, token.len);
		if (l2_get(az->l2, need->key, l2_done, ls) == 0)
			return true;
		l2_stage_free(ls);
	}
	return start_step(az, need, token, so_far, endpoint_slot, leeway_s, cached);
}

/* A local step's result, computed here and now into need->claims (NULL: no
 * memory), and stored when <cached> (this request leads the entry). */
static void run_local(struct authz *az, struct authz_need *need, struct slice token,
		      const struct claims *so_far, bool cached, double now, int64_t leeway_s)
{
	struct rules ru = rules_of(need->first);
	bool cacheable = true;
	double ttl;

	need->claims =
	    need->v->check(need->first, token, so_far, (int64_t)now, leeway_s, &cacheable);
	stats_claims(az->sh->st, need->claims);
	if (!cached)
		return;
	ttl = need->claims && cacheable ? result_ttl(&ru, need->claims, now) : 0;
	wake_waiters(az->sh->st, tcache_complete(az->sh->cache, need->key, need->claims, ttl, now),
		     need->claims, false);
}

enum authz_fetch_result authz_fetch(struct authz *az, struct authz_need *need, struct slice token,
				    const struct claims *so_far, unsigned endpoint_slot, double now,
				    int64_t leeway_s)
{
	struct tcache *tc = az->sh->cache;
	bool local = need->v->kind == VALIDATOR_LOCAL;
	enum tcache_result r;

	/* A local step never waits: it computes instead (no waiter given). */
	r = tc ? tcache_lookup(tc, need->key, now, local ? NULL : &need->waiter, &need->claims)
	       : TCACHE_BYPASS;
	if (r == TCACHE_HIT)
		return AUTHZ_FETCH_HIT;
	if (local) {
		run_local(az, need, token, so_far, r == TCACHE_MISS, now, leeway_s);
		return AUTHZ_FETCH_LOCAL;
	}
	if (r == TCACHE_WAIT) {
		stats_waiters(az->sh->st, 1);
		return AUTHZ_FETCH_WAIT;
	}
	if (!start_io(az, need, token, so_far, endpoint_slot, leeway_s, r == TCACHE_MISS))
		return AUTHZ_FETCH_FAILED;
	return AUTHZ_FETCH_WAIT;
}

/* authz_fetch.c - see authz_fetch.h.
 *
 * The leader of a token's single-flight: shared cache (l2) first when there
 * is one, then the introspection call; its result completes the tcache entry,
 * which hands it to every waiter (on their own worker, through their
 * mailbox), and then to the leader's own request. */
#include "authz_fetch.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "authz_int.h"
#include "claim_map.h"
#include "claims.h"
#include "err.h"
#include "introspect.h"
#include "jwt_local.h"
#include "l2.h"
#include "log.h"
#include "policy.h"
#include "stats.h"

/* The leader's HTTP call. */
struct fetch {
	struct authz *az;
	struct authz_need *need; /* NULL when the leader was cancelled at shutdown */
	uint8_t key[TCACHE_KEY_LEN];
	bool cached; /* false: TCACHE_BYPASS, no tcache_complete() */
	unsigned endpoint_slot;
	int64_t ttl_ms, neg_ttl_ms, stale_ms;
	struct claim_map *map; /* a reference: the policy may be reloaded away */
	char fp[9];
};

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

static double result_ttl(const struct fetch *f, const struct claims *c, double now)
{
	double ttl;

	if (!c->active)
		return (double)f->neg_ttl_ms / 1000.0;
	ttl = (double)f->ttl_ms / 1000.0;
	if (c->has_exp && (double)c->exp - now < ttl)
		ttl = (double)c->exp - now; /* never cache past expiry */
	return ttl;
}

/* How long after <ttl> active claims <c> may be served on error: the
 * policy's staleIfError, never past the token's exp. */
static double stale_window(const struct fetch *f, const struct claims *c, double ttl, double now)
{
	double s = (double)f->stale_ms / 1000.0;

	if (!c->active || s <= 0)
		return 0;
	if (c->has_exp && (double)c->exp - (now + ttl) < s)
		s = (double)c->exp - (now + ttl);
	return s > 0 ? s : 0;
}

static struct tcache_waiter *cache_store(struct authz *az, const struct fetch *f, struct claims *c,
					 double ttl, double now)
{
	double s = stale_window(f, c, ttl, now);

	if (s > 0)
		return tcache_complete_stale(az->sh->cache, f->key, c, ttl, s, now);
	return tcache_complete(az->sh->cache, f->key, c, ttl, now);
}

/* A failed fetch: *stale is the stale result to serve, or NULL. */
static struct tcache_waiter *cache_fail(struct authz *az, const struct fetch *f, double now,
					struct claims **stale)
{
	*stale = NULL;
	if (f->stale_ms > 0)
		return tcache_fail(az->sh->cache, f->key, now, stale);
	return tcache_complete(az->sh->cache, f->key, NULL, 0, now);
}

static void fetch_done(const struct http_client_response *res, void *arg)
{
	struct fetch *f = arg;
	struct authz *az = f->az;
	struct claims *c = NULL, *stale = NULL;
	struct err e = {0};
	double now = ev_now(az->loop);
	unsigned outcome = res->err != HTTP_CLIENT_OK ? HTTP_CLIENT_ERR_INDEX(res->err) : 0;

	stats_inflight(az->sh->st, -1);
	if (res->err != HTTP_CLIENT_OK) {
		log_warn("introspection failed: %s%s%s (token %s)", http_client_strerror(res->err),
			 res->detail[0] ? ": " : "", res->detail, f->fp);
	} else if (res->status != 200) {
		log_warn("introspection failed: HTTP status %ld (token %s)", res->status, f->fp);
		outcome = STATS_INTRO_HTTP_STATUS;
	} else if (introspect_parse_mapped((const char *)res->body.ptr, res->body.len, f->map, &c,
					   &e) < 0) {
		log_warn("introspection failed: bad response: %s (token %s)", e.msg, f->fp);
		c = NULL;
		outcome = STATS_INTRO_BAD_RESPONSE;
	}
	if (outcome < STATS_INTRO_COUNT)
		stats_introspection(az->sh->st, f->endpoint_slot, outcome, res->elapsed);
	stats_claims(az->sh->st, c);
	if (f->cached && c) {
		double ttl = result_ttl(f, c, now);

		wake_waiters(az->sh->st, cache_store(az, f, c, ttl, now), c, false);
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
	if (f->need) {
		f->need->claims = c; /* the leader keeps the parse's (or stale) reference */
		f->need->stale = c && c == stale;
		authz_need_done(f->need);
	} else {
		claims_unref(c);
	}
	claim_map_unref(f->map);
	free(f);
}

/* Starts the introspection call for <need> (this request leads). Returns false
 * when it could not even start: the endpoint then counts as failed. */
static bool start_introspection(struct authz *az, struct authz_need *need, struct slice token,
				bool cached)
{
	/* After a shared-cache miss the request waits: its own snapshot. */
	struct authz_snap *sn = need->pend->snap ? need->pend->snap : az->snap;
	const struct policy_introspection *pi = policy_introspection(need->first);
	bool post = pi->auth_method == POLICY_AUTH_CLIENT_SECRET_POST ||
		    (pi->auth_method == POLICY_AUTH_NONE && pi->client_id);
	size_t cap = token.len * 3 + 1024 +
		     (pi->client_secret ? 3 * strlen(pi->client_secret) : 0) +
		     (pi->client_id ? 3 * strlen(pi->client_id) : 0);
	char *body = malloc(cap);
	struct fetch *f = calloc(1, sizeof(*f));
	struct http_client_request rq = {.url = pi->url};
	ssize_t blen;
	int rc = HTTP_CLIENT_ERR_NOMEM;

	if (body && f) {
		blen = introspect_form_body(
		    token, post, pi->client_id,
		    pi->auth_method == POLICY_AUTH_NONE ? NULL : pi->client_secret, body, cap);
		if (blen >= 0) {
			rq.body = slice_from(body, (size_t)blen);
			if (pi->auth_method == POLICY_AUTH_CLIENT_SECRET_BASIC) {
				rq.user = pi->client_id;
				rq.password = pi->client_secret;
			}
			f->az = az;
			f->need = need;
			f->cached = cached;
			f->endpoint_slot = sn->endpoint_slot[policy_index(need->first)];
			memcpy(f->key, need->key, sizeof(f->key));
			f->ttl_ms = policy_cache_timeout_ms(need->first);
			f->neg_ttl_ms = policy_negative_cache_timeout_ms(need->first);
			f->stale_ms = policy_stale_if_error_ms(need->first);
			f->map = claim_map_ref(policy_claim_map(need->first));
			tcache_fingerprint(need->key, f->fp);
			rc = http_client_post(az->hc, &rq, fetch_done, f);
		}
		explicit_bzero(body, cap);
	}
	free(body);
	if (rc == 0) {
		stats_inflight(az->sh->st, 1);
		return true;
	}
	log_warn("introspection not started: %s", http_client_strerror(rc));
	if (f && HTTP_CLIENT_ERR_INDEX(rc) < STATS_INTRO_COUNT)
		stats_introspection(az->sh->st, sn->endpoint_slot[policy_index(need->first)],
				    HTTP_CLIENT_ERR_INDEX(rc), 0);
	if (f)
		claim_map_unref(f->map);
	free(f);
	if (cached)
		wake_waiters(az->sh->st,
			     tcache_complete(az->sh->cache, need->key, NULL, 0, ev_now(az->loop)),
			     NULL, false);
	return false;
}

/* The shared-cache stage of a leader's fetch: the token is copied while
 * the GET runs (an introspection may follow), wiped after. */
struct l2_stage {
	struct authz *az;
	struct authz_need *need;
	size_t len;
	char token[];
};

static void l2_stage_free(struct l2_stage *ls)
{
	explicit_bzero(ls->token, ls->len);
	free(ls);
}

/* The GET's answer: a hit completes the single-flight like an introspection
 * would; a miss or an error asks the IdP, within the same single-flight. */
static void l2_done(void *arg, enum l2_result r, struct claims *c, double until)
{
	struct l2_stage *ls = arg;
	struct authz *az = ls->az;
	struct authz_need *need = ls->need;
	double now = ev_now(az->loop);

	if (r == L2_HIT) {
		struct fetch tf = {.ttl_ms = policy_cache_timeout_ms(need->first),
				   .neg_ttl_ms = policy_negative_cache_timeout_ms(need->first),
				   .stale_ms = policy_stale_if_error_ms(need->first)};
		double ttl = result_ttl(&tf, c, now);

		if (until - now < ttl)
			ttl = until - now;
		memcpy(tf.key, need->key, sizeof(tf.key));
		wake_waiters(az->sh->st, cache_store(az, &tf, c, ttl, now), c, false);
		need->pend->l2 = true;
		need->claims = c;
		authz_need_done(need);
	} else if (r == L2_SHUTDOWN) {
		wake_waiters(az->sh->st, tcache_complete(az->sh->cache, need->key, NULL, 0, now),
			     NULL, false);
		need->claims = NULL;
		authz_need_done(need);
	} else if (!start_introspection(az, need, slice_from(ls->token, ls->len), true)) {
		need->claims = NULL;
		authz_need_done(need);
	}
	l2_stage_free(ls);
}

bool authz_fetch_start(struct authz *az, struct authz_need *need, struct slice token, bool cached)
{
	struct l2_stage *ls;

	if (cached && az->l2 && (ls = malloc(sizeof(*ls) + token.len))) {
		ls->az = az;
		ls->need = need;
		ls->len = token.len;
		memcpy(ls->token, token.ptr, token.len);
		if (l2_get(az->l2, need->key, l2_done, ls) == 0)
			return true;
		l2_stage_free(ls);
	}
	return start_introspection(az, need, token, cached);
}

void authz_fetch_local(struct authz *az, struct authz_need *need, struct slice token, bool cached,
		       double now, int64_t leeway_s)
{
	const struct policy *p = need->first;
	int64_t ttl_ms;
	double ttl;
	bool cacheable;

	need->claims = jwt_local_check(policy_jwt(p), token, (int64_t)now, leeway_s, &cacheable);
	if (need->claims && need->claims->active &&
	    claim_map_apply_jwt(policy_claim_map(p), token, need->claims) < 0) {
		claims_unref(need->claims);
		need->claims = NULL; /* without its mapped variables: an error, never cached */
	}
	stats_claims(az->sh->st, need->claims);
	if (!need->claims) {
		if (cached)
			wake_waiters(az->sh->st,
				     tcache_complete(az->sh->cache, need->key, NULL, 0, now), NULL,
				     false);
		return;
	}
	ttl_ms =
	    need->claims->active ? policy_cache_timeout_ms(p) : policy_negative_cache_timeout_ms(p);
	ttl = (double)ttl_ms / 1000.0;
	if (need->claims->active && (double)need->claims->exp - now < ttl)
		ttl = (double)need->claims->exp - now; /* never cache past expiry */
	if (!cacheable)
		ttl = 0; /* no key set, or a refetch asked for: decide again next time */
	if (cached)
		wake_waiters(az->sh->st,
			     tcache_complete(az->sh->cache, need->key, need->claims, ttl, now),
			     need->claims, false);
}

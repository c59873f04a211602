/* authz.c - the decision pipeline for one request:
 *
 *   route -> policies -> bearer token -> cache (single-flight) -> [miss:
 *   introspection over HTTP] -> every policy's checks -> verdict
 *
 * A request whose answer is not in the cache becomes a struct pend, which
 * waits for one result per distinct introspection endpoint. The first request
 * for a token leads the fetch; concurrent ones, on any worker, queue behind
 * it in the cache and are woken through their own worker's mailbox. The
 * policy snapshot lives in authz_snap.c. */
#include "authz.h"

#include <ev.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz_snap.h"
#include "bearer.h"
#include "config.h"
#include "http_client.h"
#include "introspect.h"
#include "jwt_local.h"
#include "l2.h"
#include "limits.h"
#include "log.h"
#include "mailbox.h"
#include "path.h"
#include "policy.h"
#include "reason.h"
#include "stats.h"
#include "tcache.h"

#define AUTHZ_MAX_POLICIES  32 /* policies that may apply to one request */
#define AUTHZ_MAX_ENDPOINTS 4  /* distinct introspection endpoints per request */
#define REALM		    "oauth2-spoa"

struct authz_shared {
	struct authz_snap_cell snaps; /* the published snapshot */
	struct tcache *cache;
	struct l2_shared *l2s; /* NULL: no shared cache */
	struct stats *st;
	unsigned no_policy_slot;
	struct http_client_options hc;
	char *ca_file; /* hc.ca_file points here */
};

struct pend;

/* One introspection result a request needs. */
struct ep {
	struct pend *pend;
	/* Whom to wake (copied from pend->az->mb): another worker's fetch may
	 * complete while this one is shutting down and its struct authz is
	 * gone, so wake_waiters() never goes through pend->az. The mailbox
	 * outlives every struct authz. */
	struct mailbox *owner;
	const struct policy *first; /* a policy using this endpoint */
	uint8_t key[TCACHE_KEY_LEN];
	struct claims *claims; /* NULL: failed (or not yet known) */
	bool stale;	       /* <claims> is an expired result served on error */
	bool done;
	struct tcache_waiter waiter;
	struct mailbox_msg msg; /* wakes the owner when another thread fetched */
};

struct pend {
	struct authz *az;
	struct pend *prev, *next; /* az->pends */
	bool orphan;		  /* az is gone: just free when all eps are done */
	bool l2;		  /* a result came from the shared cache (logged cache=l2) */
	struct authz_snap *snap;  /* a reference: pol[] points into snap->set */
	char route[64];		  /* for the log line, truncated */
	struct authz_ticket t;
	const struct policy *pol[AUTHZ_MAX_POLICIES];
	size_t npol;
	bool base_deny; /* no enforcing policy applies and defaultDecision: deny */
	struct ep ep[AUTHZ_MAX_ENDPOINTS];
	size_t nep, outstanding;
};

/* The leader's HTTP call. */
struct fetch {
	struct authz *az;
	struct ep *ep; /* NULL when the leader was cancelled at shutdown */
	uint8_t key[TCACHE_KEY_LEN];
	bool cached; /* false: TCACHE_BYPASS, no tcache_complete() */
	unsigned ep_slot;
	int64_t ttl_ms, neg_ttl_ms, stale_ms;
	char fp[9];
};

struct authz {
	struct authz_shared *sh;
	struct authz_snap *snap; /* a reference to the newest snapshot seen */
	struct mailbox *mb;
	struct ev_loop *loop;
	struct http_client *hc;
	struct l2 *l2; /* NULL: no shared cache */
	authz_done_cb done;
	void *done_arg;
	struct pend *pends;
	struct pend *spare;	      /* reused by decisions that answer at once */
	double too_long_logged;	      /* ev_now() of the last token_too_long warning */
	unsigned long too_long_quiet; /* refused since then without a line */
	/* A decoded request path, for policy matching only (decide()). */
	uint8_t path_buf[REQ_MAX_ARG_LEN];
};

/* The worker's snapshot, refreshed when a newer one was published. Comparing
 * the pointers is safe: az->snap is referenced, so no new snapshot can be
 * allocated at its address. */
static struct authz_snap *current(struct authz *az)
{
	if (!authz_snap_cell_holds(&az->sh->snaps, az->snap)) {
		struct authz_snap *old = az->snap;

		az->snap = authz_snap_cell_get(&az->sh->snaps);
		authz_snap_unref(old);
	}
	return az->snap;
}

struct authz_shared *authz_shared_new(const struct config *c, struct policy_set *set,
				      struct stats *st)
{
	struct authz_shared *sh = calloc(1, sizeof(*sh));
	struct authz_snap *sn;

	if (!sh) {
		policy_set_free(set);
		return NULL;
	}
	sh->st = st;
	sh->no_policy_slot = stats_policy_slot(st, "");
	sn = authz_snap_new(st, c, set);
	authz_snap_cell_init(&sh->snaps, sn);
	sh->hc.timeout_ms = c->introspect_timeout_ms;
	sh->hc.max_inflight_per_endpoint = c->max_inflight;
	sh->hc.max_body = INTROSPECT_MAX_BODY;
	if (c->ca_file && !(sh->ca_file = strdup(c->ca_file))) {
		authz_shared_free(sh);
		return NULL;
	}
	sh->hc.ca_file = sh->ca_file;
	if (!sn) {
		authz_shared_free(sh);
		return NULL;
	}
	if (c->cache_entries) {
		sh->cache = tcache_new(c->cache_entries);
		if (!sh->cache) {
			authz_shared_free(sh);
			return NULL;
		}
	}
	if (c->redis.address && !(sh->l2s = l2_shared_new(&c->redis))) {
		authz_shared_free(sh);
		return NULL;
	}
	return sh;
}

int authz_shared_publish(struct authz_shared *sh, const struct config *c, struct policy_set *set)
{
	struct authz_snap *sn = authz_snap_new(sh->st, c, set);

	if (!sn)
		return -1;
	authz_snap_cell_publish(&sh->snaps, sn);
	return 0;
}

struct tcache *authz_shared_cache(const struct authz_shared *sh)
{
	return sh->cache;
}

const struct l2_shared *authz_shared_l2(const struct authz_shared *sh)
{
	return sh->l2s;
}

size_t authz_shared_token_keys(struct authz_shared *sh, struct slice token,
			       uint8_t (*keys)[TCACHE_KEY_LEN], size_t max)
{
	struct authz_snap *sn = authz_snap_cell_get(&sh->snaps);
	size_t n = 0, np = policy_set_count(sn->set);

	for (size_t i = 0; i < np && n < max; i++) {
		bool dup = false;

		if (policy_is_public(policy_set_get(sn->set, i)))
			continue; /* no key prefix: it never caches */
		tcache_key_finish(&sn->kp[i], token, keys[n]);
		for (size_t j = 0; j < n && !dup; j++)
			dup = !memcmp(keys[j], keys[n], TCACHE_KEY_LEN);
		n += !dup;
	}
	authz_snap_unref(sn);
	return n;
}

void authz_shared_free(struct authz_shared *sh)
{
	if (!sh)
		return;
	tcache_free(sh->cache);
	l2_shared_free(sh->l2s);
	authz_snap_cell_destroy(&sh->snaps);
	free(sh->ca_file);
	free(sh);
}

static void set_reason(struct verdict *v, enum authz_reason r)
{
	v->allowed =
	    r == AUTHZ_OK || r == AUTHZ_NO_POLICY || r == AUTHZ_PUBLIC_ROUTE || r == AUTHZ_STALE;
	v->status = reason_status(r);
	v->reason = reason_name(r);
}

/* RFC 6750 section 3: the challenge HAProxy can send with a 401 or 403. */
static void set_challenge(struct verdict *v, enum authz_reason r, const struct policy *p)
{
	const char *err = NULL, *desc = NULL;
	size_t n = sizeof(v->www_authenticate);

	switch (r) {
	case AUTHZ_MISSING_TOKEN:
		snprintf(v->www_authenticate, n, "Bearer realm=\"" REALM "\"");
		return;
	case AUTHZ_MALFORMED_TOKEN:
		err = "invalid_request";
		desc = "The Authorization header is not a valid bearer credential";
		break;
	case AUTHZ_INACTIVE_TOKEN:
		err = "invalid_token";
		desc = "The access token is not active";
		break;
	case AUTHZ_INVALID_TOKEN:
		err = "invalid_token";
		desc = "The access token is not a valid signed token";
		break;
	case AUTHZ_NOT_ACCESS_TOKEN:
		err = "invalid_token";
		desc = "The token is not an access token";
		break;
	case AUTHZ_TOKEN_TOO_LONG:
		err = "invalid_token";
		desc = "The access token is longer than this server accepts";
		break;
	case AUTHZ_AUDIENCE_MISMATCH:
		err = "invalid_token";
		desc = "The access token is not meant for this resource";
		break;
	case AUTHZ_ISSUER_MISMATCH:
		err = "invalid_token";
		desc = "The access token was issued by an untrusted issuer";
		break;
	case AUTHZ_INSUFFICIENT_SCOPE:
		snprintf(v->www_authenticate, n,
			 "Bearer realm=\"" REALM "\", error=\"insufficient_scope\", "
			 "error_description=\"The access token lacks a required scope\", "
			 "scope=\"%s\"",
			 p ? policy_required_scopes(p) : "");
		return;
	default:
		return;
	}
	snprintf(v->www_authenticate, n,
		 "Bearer realm=\"" REALM "\", error=\"%s\", error_description=\"%s\"", err, desc);
}

static void set_policy(struct verdict *v, const struct policy *p)
{
	if (p) {
		const char *name = policy_name(p);
		size_t n = strnlen(name, sizeof(v->policy) - 1);

		memcpy(v->policy, name, n);
		v->policy[n] = '\0';
	}
}

static void deny(struct verdict *v, enum authz_reason r, const struct policy *p)
{
	verdict_clear(v);
	set_reason(v, r);
	set_policy(v, p);
	set_challenge(v, r, p);
}

/* What decided a request, for the log line and the metrics. */
struct outcome {
	const struct policy *p; /* NULL: no policy applied */
	enum authz_reason r;
	bool shadow;	  /* <p> is in shadow mode: answered allowed */
	struct claims *c; /* borrowed, for the log line only; may be NULL */
};

/* Shadow mode: allowed, status 200, reason "shadow:<reason>", and no
 * identity unless the token was active and passed every check. */
static void shadow_allow(struct verdict *v, enum authz_reason r, const struct policy *p,
			 struct outcome *oc)
{
	verdict_clear(v);
	v->allowed = true;
	v->status = 200;
	v->reason = reason_shadow_name(r);
	set_policy(v, p);
	*oc = (struct outcome){p, r, true, NULL};
}

/* Shadow policies never change the enforced answer: when no enforcing (nor
 * public) policy applies under defaultDecision: deny, the answer is that
 * default's, whatever the shadow policies said; <oc> keeps their outcome for
 * the log line and the metrics. Claims an allowed verdict held go back to
 * <pd> (NULL: it held none), which outlives the log line. */
static void base_decision(bool base_deny, struct verdict *v, struct pend *pd)
{
	if (!base_deny || !v->allowed)
		return;
	if (pd && !pd->ep[0].claims) {
		pd->ep[0].claims = v->claims;
		v->claims = NULL;
	}
	claims_unref(v->claims);
	verdict_clear(v);
	v->status = 403;
	v->reason = reason_name(AUTHZ_NO_POLICY);
}

static bool only_shadow(const struct policy *const *pol, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!policy_is_shadow(pol[i]))
			return false;
	return true;
}

/* A refusal that happens before any policy's checks run (no token, bad
 * token, internal limits): the first enforcing policy among pol[0..n)
 * refuses; when every one is in shadow mode, the request is allowed, unless
 * <base_deny> (see base_decision()). */
static void refuse(struct verdict *v, enum authz_reason r, const struct policy *const *pol,
		   size_t n, bool base_deny, struct outcome *oc)
{
	for (size_t i = 0; i < n; i++) {
		if (!policy_is_shadow(pol[i])) {
			deny(v, r, pol[i]);
			*oc = (struct outcome){pol[i], r, false, NULL};
			return;
		}
	}
	shadow_allow(v, r, pol[0], oc);
	base_decision(base_deny, v, NULL);
}

static bool opt_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Two policies share an introspection result only when they ask the same
 * endpoint as the same client (an answer obtained with good credentials must
 * never serve a policy whose credentials are wrong) and cache it alike (the
 * result is stored under one key, with one lifetime). */
static bool same_endpoint(const struct policy *a, const struct policy *b)
{
	const struct policy_introspection *x = policy_introspection(a);
	const struct policy_introspection *y = policy_introspection(b);

	if (policy_jwt(a) || policy_jwt(b))
		return a == b; /* a locally verified result holds that policy's rules */
	return strcmp(x->url, y->url) == 0 && x->auth_method == y->auth_method &&
	       opt_eq(x->client_id, y->client_id) && opt_eq(x->client_secret, y->client_secret) &&
	       policy_cache_timeout_ms(a) == policy_cache_timeout_ms(b) &&
	       policy_negative_cache_timeout_ms(a) == policy_negative_cache_timeout_ms(b);
}

static struct ep *ep_of(struct pend *pd, const struct policy *p)
{
	for (size_t i = 0; i < pd->nep; i++)
		if (same_endpoint(pd->ep[i].first, p))
			return &pd->ep[i];
	return NULL;
}

/* The cache key: SHA-256 over the endpoint identity and the token; only the
 * hash is kept. The identity's part comes from the snapshot (authz_snap.c). */
static void endpoint_key(const struct authz_snap *sn, const struct policy *p, struct slice token,
			 uint8_t key[TCACHE_KEY_LEN])
{
	tcache_key_finish(&sn->kp[policy_index(p)], token, key);
}

/* Every enforcing policy must allow; the first that does not decides the
 * answer. A shadow policy that would refuse only changes the reason of an
 * allowed answer (the first such policy is reported). */
static void evaluate(struct authz *az, const struct authz_snap *sn, struct pend *pd,
		     struct verdict *v, struct outcome *oc)
{
	int64_t now = (int64_t)ev_now(az->loop);
	const struct policy *shadow = NULL;
	enum authz_reason shadow_r = AUTHZ_OK, ok_r = AUTHZ_OK;
	struct claims *shadow_c = NULL;

	for (size_t i = 0; i < pd->npol; i++) {
		struct ep *ep = ep_of(pd, pd->pol[i]);
		enum authz_reason r;

		if (!ep || !ep->claims)
			r = AUTHZ_INTROSPECTION_ERROR;
		else if (!ep->claims->active && ep->claims->refusal)
			r = (enum authz_reason)ep->claims->refusal;
		else
			r = policy_check(pd->pol[i], ep->claims, now, sn->leeway_s);
		if (r == AUTHZ_OK)
			continue;
		if (!policy_is_shadow(pd->pol[i])) {
			deny(v, r, pd->pol[i]);
			*oc = (struct outcome){pd->pol[i], r, false, ep ? ep->claims : NULL};
			return;
		}
		if (!shadow) {
			shadow = pd->pol[i];
			shadow_r = r;
			shadow_c = ep ? ep->claims : NULL;
		}
	}
	if (shadow) {
		shadow_allow(v, shadow_r, shadow, oc);
		oc->c = shadow_c;
		return;
	}
	for (size_t i = 0; i < pd->nep; i++)
		ok_r = pd->ep[i].stale ? AUTHZ_STALE : ok_r;
	verdict_clear(v);
	set_reason(v, ok_r);
	set_policy(v, pd->pol[0]);
	/* The verdict takes over the pend's reference: nothing reads ep[0]'s
	 * claims after evaluate(), and the log line reads them from <v>. */
	v->claims = pd->ep[0].claims;
	pd->ep[0].claims = NULL;
	*oc = (struct outcome){pd->pol[0], ok_r, policy_is_shadow(pd->pol[0]), v->claims};
}

static void pend_free(struct pend *pd)
{
	for (size_t i = 0; i < pd->nep; i++)
		claims_unref(pd->ep[i].claims);
	authz_snap_unref(pd->snap);
	free(pd);
}

/* A cleared pend for a new decision: the worker's spare when it has one, so
 * that decisions answered at once (cache hits) never allocate. Only the
 * header is cleared; decide() sets up each ep it uses. */
static struct pend *pend_get(struct authz *az)
{
	struct pend *pd = az->spare;

	if (!pd)
		return calloc(1, sizeof(*pd));
	az->spare = NULL;
	pd->prev = pd->next = NULL;
	pd->orphan = false;
	pd->npol = pd->nep = pd->outstanding = 0;
	return pd;
}

/* Ends a decision that answered at once: <pd> never left this thread and no
 * waiter of it is queued anywhere, so it becomes the spare again. */
static void pend_recycle(struct authz *az, struct pend *pd)
{
	for (size_t i = 0; i < pd->nep; i++) {
		claims_unref(pd->ep[i].claims);
		pd->ep[i].claims = NULL;
	}
	if (az->spare)
		free(pd);
	else
		az->spare = pd;
}

static void pend_unlink(struct authz *az, struct pend *pd)
{
	if (pd->prev)
		pd->prev->next = pd->next;
	else
		az->pends = pd->next;
	if (pd->next)
		pd->next->prev = pd->prev;
}

/* Counts the decision and writes its info line (formatted only when info is
 * enabled). Never logs the token: only its fingerprint <fp>. */
static void finish(struct authz *az, const struct authz_snap *sn, const struct authz_ticket *t,
		   const struct verdict *v, const struct outcome *oc, const char *route,
		   const char *fp, const char *how)
{
	char stream[LOG_ITOA_MAX], status[LOG_ITOA_MAX], lat[LOG_ITOA_MAX];
	const struct claims *c = oc->c ? oc->c : v->claims;
	unsigned slot = oc->p ? sn->pol_slot[policy_index(oc->p)] : az->sh->no_policy_slot;

	stats_decision(az->sh->st, slot, oc->r, oc->shadow);
	if (!log_enabled(LOG_LVL_INFO))
		return;
	{
		const struct log_kv kv[] = {
		    {"stream", log_itoa(stream, (long long)t->stream_id), 1},
		    {"policy", v->policy[0] ? v->policy : NULL, 0},
		    {"reason", v->reason, 0},
		    {"status", log_itoa(status, v->status), 1},
		    {"token", fp, 0},
		    {"cache", how, 0},
		    {"latency_us",
		     log_itoa(lat, (long long)((ev_now(az->loop) - t->started) * 1e6 + 0.5)), 1},
		    {"route", route && route[0] ? route : NULL, 0},
		    {"sub", c ? c->sub : NULL, 0},
		    {"client_id", c ? c->client_id : NULL, 0},
		    {"mode", oc->shadow ? "shadow" : "enforce", 0},
		};

		log_event(LOG_LVL_INFO, "decision", kv, sizeof(kv) / sizeof(kv[0]));
	}
}

/* Copies the route labels for the log line (printable ASCII only). */
static void copy_route(char *dst, size_t n, struct slice r)
{
	size_t len = r.len < n - 1 ? r.len : n - 1;

	for (size_t i = 0; i < len; i++)
		dst[i] = r.ptr[i] >= 0x20 && r.ptr[i] < 0x7f ? (char)r.ptr[i] : '?';
	dst[len] = '\0';
}

/* One endpoint result is in: answer when it was the last one. */
static void ep_done(struct ep *ep)
{
	struct pend *pd = ep->pend;
	struct authz *az = pd->az;
	struct verdict v;
	struct outcome oc;
	char fp[9];

	ep->done = true;
	if (--pd->outstanding)
		return;
	if (pd->orphan) {
		pend_free(pd);
		return;
	}
	pend_unlink(az, pd);
	evaluate(az, pd->snap, pd, &v, &oc);
	base_decision(pd->base_deny, &v, pd);
	tcache_fingerprint(pd->ep[0].key, fp);
	finish(az, pd->snap, &pd->t, &v, &oc, pd->route, fp,
	       oc.r == AUTHZ_STALE ? "stale"
	       : pd->l2		   ? "l2"
				   : "miss");
	az->done(az->done_arg, &pd->t, &v);
	pend_free(pd);
}

/* Runs on the owner's thread: a result another request fetched. */
static void ep_msg(struct mailbox_msg *m)
{
	struct ep *ep = (struct ep *)((char *)m - offsetof(struct ep, msg));

	ep_done(ep);
}

/* Hands <c> (may be NULL) to every request that queued behind a fetch. A
 * waiter's struct authz may already be freed (its worker is shutting down
 * and left the request orphaned, see authz_free()): only the ep itself and
 * its owner worker may be touched, and nothing at all once it is posted. */
static void wake_waiters(struct stats *st, struct tcache_waiter *wt, struct claims *c, bool stale)
{
	while (wt) {
		struct tcache_waiter *next = wt->next;
		struct ep *ep = wt->arg;

		stats_waiters(st, -1);
		ep->claims = claims_ref(c);
		ep->stale = stale && c;
		mailbox_post(ep->owner, &ep->msg);
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
	} else if (introspect_parse_response((const char *)res->body.ptr, res->body.len, &c, &e) <
		   0) {
		log_warn("introspection failed: bad response: %s (token %s)", e.msg, f->fp);
		c = NULL;
		outcome = STATS_INTRO_BAD_RESPONSE;
	}
	if (outcome < STATS_INTRO_COUNT)
		stats_introspection(az->sh->st, f->ep_slot, outcome, res->elapsed);
	if (f->cached && c) {
		double ttl = result_ttl(f, c, now);

		wake_waiters(az->sh->st, cache_store(az, f, c, ttl, now), c, false);
		if (ttl > 0 && az->l2)
			l2_set(az->l2, f->key, c, ttl, now);
	} else if (f->cached) {
		wake_waiters(az->sh->st, cache_fail(az, f, now, &stale), stale, true);
		if (stale)
			log_warn("serving a stale cached result (staleIfError, token %s)", f->fp);
	}
	if (!c)
		c = stale;
	if (f->ep) {
		f->ep->claims = c; /* the leader keeps the parse's (or stale) reference */
		f->ep->stale = c && c == stale;
		ep_done(f->ep);
	} else {
		claims_unref(c);
	}
	free(f);
}

/* Starts the introspection call for <ep> (this request leads). Returns false
 * when it could not even start: the endpoint then counts as failed. */
static bool start_introspection(struct authz *az, struct ep *ep, struct slice token, bool cached)
{
	/* After a shared-cache miss the request waits: its own snapshot. */
	struct authz_snap *sn = ep->pend->snap ? ep->pend->snap : az->snap;
	const struct policy_introspection *pi = policy_introspection(ep->first);
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
			f->ep = ep;
			f->cached = cached;
			f->ep_slot = sn->ep_slot[policy_index(ep->first)];
			memcpy(f->key, ep->key, sizeof(f->key));
			f->ttl_ms = policy_cache_timeout_ms(ep->first);
			f->neg_ttl_ms = policy_negative_cache_timeout_ms(ep->first);
			f->stale_ms = policy_stale_if_error_ms(ep->first);
			tcache_fingerprint(ep->key, f->fp);
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
		stats_introspection(az->sh->st, sn->ep_slot[policy_index(ep->first)],
				    HTTP_CLIENT_ERR_INDEX(rc), 0);
	free(f);
	if (cached)
		wake_waiters(az->sh->st,
			     tcache_complete(az->sh->cache, ep->key, NULL, 0, ev_now(az->loop)),
			     NULL, false);
	return false;
}

/* The shared-cache stage of a leader's fetch: the token is copied while
 * the GET runs (an introspection may follow), wiped after. */
struct l2_stage {
	struct authz *az;
	struct ep *ep;
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
	struct ep *ep = ls->ep;
	double now = ev_now(az->loop);

	if (r == L2_HIT) {
		struct fetch tf = {.ttl_ms = policy_cache_timeout_ms(ep->first),
				   .neg_ttl_ms = policy_negative_cache_timeout_ms(ep->first),
				   .stale_ms = policy_stale_if_error_ms(ep->first)};
		double ttl = result_ttl(&tf, c, now);

		if (until - now < ttl)
			ttl = until - now;
		memcpy(tf.key, ep->key, sizeof(tf.key));
		wake_waiters(az->sh->st, cache_store(az, &tf, c, ttl, now), c, false);
		ep->pend->l2 = true;
		ep->claims = c;
		ep_done(ep);
	} else if (r == L2_SHUTDOWN) {
		wake_waiters(az->sh->st, tcache_complete(az->sh->cache, ep->key, NULL, 0, now),
			     NULL, false);
		ep->claims = NULL;
		ep_done(ep);
	} else if (!start_introspection(az, ep, slice_from(ls->token, ls->len), true)) {
		ep->claims = NULL;
		ep_done(ep);
	}
	l2_stage_free(ls);
}

/* A leader (<cached>) asks the shared cache first when there is one. */
static bool start_fetch(struct authz *az, struct ep *ep, struct slice token, bool cached)
{
	struct l2_stage *ls;

	if (cached && az->l2 && (ls = malloc(sizeof(*ls) + token.len))) {
		ls->az = az;
		ls->ep = ep;
		ls->len = token.len;
		memcpy(ls->token, token.ptr, token.len);
		if (l2_get(az->l2, ep->key, l2_done, ls) == 0)
			return true;
		l2_stage_free(ls);
	}
	return start_introspection(az, ep, token, cached);
}

/* A jwt policy's result, computed here and now (no I/O), and stored like
 * an introspection answer when this request leads (<cached>). */
static void local_result(struct authz *az, struct ep *ep, struct slice token, bool cached,
			 double now, int64_t leeway_s)
{
	const struct policy *p = ep->first;
	int64_t ttl_ms;
	double ttl;

	ep->claims = jwt_local_check(policy_jwt(p), token, (int64_t)now, leeway_s);
	if (!ep->claims) {
		if (cached)
			wake_waiters(az->sh->st,
				     tcache_complete(az->sh->cache, ep->key, NULL, 0, now), NULL,
				     false);
		return;
	}
	ttl_ms =
	    ep->claims->active ? policy_cache_timeout_ms(p) : policy_negative_cache_timeout_ms(p);
	ttl = (double)ttl_ms / 1000.0;
	if (ep->claims->active && (double)ep->claims->exp - now < ttl)
		ttl = (double)ep->claims->exp - now; /* never cache past expiry */
	if (cached)
		wake_waiters(az->sh->st,
			     tcache_complete(az->sh->cache, ep->key, ep->claims, ttl, now),
			     ep->claims, false);
}

static int decide(struct authz *az, struct authz_snap *sn, const struct authz_req *req,
		  const struct authz_ticket *t, struct verdict *out, struct outcome *oc, char fp[9],
		  const char **how, struct pend **used);

/* Removes the public policies from pol[0..n), keeping the order of the
 * others, and stores the first one in *pub (NULL when none). Returns how many
 * are left: a public policy never weakens another one that applies. */
static size_t drop_public(const struct policy **pol, size_t n, const struct policy **pub)
{
	size_t k = 0;

	*pub = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!policy_is_public(pol[i]))
			pol[k++] = pol[i];
		else if (!*pub)
			*pub = pol[i];
	}
	return k;
}

/* No policy that checks tokens applies: public_route when the public policy
 * <pub> selected the request, else defaultDecision (no_policy). */
static void no_checks(const struct authz_snap *sn, const struct policy *pub, struct verdict *out,
		      struct outcome *oc)
{
	enum authz_reason r = pub ? AUTHZ_PUBLIC_ROUTE : AUTHZ_NO_POLICY;

	*oc = (struct outcome){pub, r, false, NULL};
	if (!pub && sn->default_deny) {
		deny(out, AUTHZ_NO_POLICY, NULL);
		out->allowed = false;
		out->status = 403;
		return;
	}
	verdict_clear(out);
	set_reason(out, r);
	set_policy(out, pub);
}

/* route_unknown means the HAProxy configuration is wrong, not the client:
 * say so, at most once a minute for the whole process. */
static void warn_route_unknown(double now)
{
	static _Atomic long long next;
	long long t = (long long)now, n = atomic_load_explicit(&next, memory_order_relaxed);

	if (t < n || !atomic_compare_exchange_strong(&next, &n, t + 60))
		return;
	log_warn("route_unknown: a request came without the \"route\" argument (NULL: txn.route "
		 "was never set) while policies select by route label, so it was denied. Likely "
		 "cause: the SPOE message runs on an \"event\" (on-frontend-http-request), which "
		 "fires before the http-request rules that set txn.route; use \"groups\" and "
		 "\"http-request send-spoe-group\" after the set-var rule (README, Route labels). "
		 "Logged at most once a minute.");
}

/* The checks before policy selection (policy_request_check()); on success
 * <pr>'s path becomes the decoded one policies match. Returns false with
 * <out> and <oc> filled when the request is refused. */
static bool admit(struct authz *az, const struct authz_snap *sn, struct policy_request *pr,
		  struct verdict *out, struct outcome *oc)
{
	enum authz_reason r = policy_request_check(sn->set, pr);

	if (r == AUTHZ_OK) {
		pr->path = path_decode(pr->path, az->path_buf, sizeof(az->path_buf));
		if (pr->path.ptr)
			return true;
		r = AUTHZ_PATH_NOT_CANONICAL; /* longer than a NOTIFY can be */
	}
	if (r == AUTHZ_ROUTE_UNKNOWN)
		warn_route_unknown(ev_now(az->loop));
	deny(out, r, NULL);
	*oc = (struct outcome){NULL, r, false, NULL};
	return false;
}

/* Names the limit an operator may have to raise; at most one line per
 * TOO_LONG_LOG_S per worker, since a client can send these at will. The
 * header's length only: never a byte of it. */
#define TOO_LONG_LOG_S 10.0
static void warn_too_long(struct authz *az, size_t header_len, size_t max, double now)
{
	if (az->too_long_logged > 0 && now - az->too_long_logged < TOO_LONG_LOG_S) {
		az->too_long_quiet++;
		return;
	}
	log_warn("bearer token refused (token_too_long): the Authorization header has %zu bytes, "
		 "the token may have at most maxTokenLength=%zu (--max-token-length); %lu more "
		 "in the last %.0f s",
		 header_len, max, az->too_long_quiet, TOO_LONG_LOG_S);
	az->too_long_logged = now;
	az->too_long_quiet = 0;
}

int authz_decide(struct authz *az, const struct authz_req *req, const struct authz_ticket *t,
		 struct verdict *out)
{
	char fp[9] = "-", route[64] = "";
	const char *how = "none";
	struct authz_snap *sn = current(az);
	struct outcome oc = {0};
	struct pend *used = NULL;
	int rc = decide(az, sn, req, t, out, &oc, fp, &how, &used);

	/* Answers that wait are logged when they complete (ep_done()). */
	if (rc == 1) {
		if (log_enabled(LOG_LVL_INFO))
			copy_route(route, sizeof(route), req->route);
		finish(az, sn, t, out, &oc, route, fp, how);
		/* Only now: the log line borrowed the claims that <used> holds. */
		if (used)
			pend_recycle(az, used);
	}
	return rc;
}

/* authz_decide() without the log line. <fp> gets the token fingerprint (only
 * when info lines are logged) and <how> the cache outcome, when known. An
 * answer given at once may leave in *used the struct pend whose claims the
 * outcome borrows: the caller recycles it after logging. */
static int decide(struct authz *az, struct authz_snap *sn, const struct authz_req *req,
		  const struct authz_ticket *t, struct verdict *out, struct outcome *oc, char fp[9],
		  const char **how, struct pend **used)
{
	struct authz_shared *sh = az->sh;
	struct policy_request pr = {req->method, req->path, req->host, req->route};
	const struct policy *pol[AUTHZ_MAX_POLICIES], *pub;
	struct pend *pd;
	struct slice token;
	size_t n;
	bool all_known = true, base_deny, local = false;
	double now = ev_now(az->loop);

	if (!admit(az, sn, &pr, out, oc))
		return 1;
	n = policy_set_match(sn->set, &pr, pol, AUTHZ_MAX_POLICIES);
	if (n > AUTHZ_MAX_POLICIES) {
		/* pol[] misses some, and an enforcing one may be among them: no
		 * answer built from pol[] can be right, not even a shadow allow. */
		log_warn("%zu policies apply to one request; at most %d are supported: denied", n,
			 AUTHZ_MAX_POLICIES);
		*oc = (struct outcome){NULL, AUTHZ_TOO_MANY_POLICIES, false, NULL};
		deny(out, AUTHZ_TOO_MANY_POLICIES, NULL);
		return 1;
	}
	if ((n = drop_public(pol, n, &pub)) == 0) {
		no_checks(sn, pub, out, oc);
		return 1;
	}
	base_deny = sn->default_deny && !pub && only_shadow(pol, n);
	switch (bearer_parse(req->authorization, sn->max_token_len, &token)) {
	case BEARER_OK:
		break;
	case BEARER_MISSING:
		refuse(out, AUTHZ_MISSING_TOKEN, pol, n, base_deny, oc);
		return 1;
	case BEARER_TOO_LONG:
		warn_too_long(az, req->authorization.len, sn->max_token_len, now);
		refuse(out, AUTHZ_TOKEN_TOO_LONG, pol, n, base_deny, oc);
		return 1;
	default:
		refuse(out, AUTHZ_MALFORMED_TOKEN, pol, n, base_deny, oc);
		return 1;
	}

	pd = pend_get(az);
	if (!pd) {
		refuse(out, AUTHZ_INTROSPECTION_ERROR, pol, n, base_deny, oc);
		return 1;
	}
	pd->snap = NULL; /* referenced only if the request has to wait */
	pd->l2 = false;
	pd->az = az;
	pd->t = *t;
	pd->npol = n;
	pd->base_deny = base_deny;
	for (size_t i = 0; i < n; i++)
		pd->pol[i] = pol[i];
	for (size_t i = 0; i < n; i++) {
		struct ep *ep;

		if (ep_of(pd, pol[i]))
			continue;
		if (pd->nep == AUTHZ_MAX_ENDPOINTS) {
			log_warn("more than %d introspection endpoints for one request",
				 AUTHZ_MAX_ENDPOINTS);
			pend_recycle(az, pd);
			refuse(out, AUTHZ_INTROSPECTION_ERROR, pol, n, base_deny, oc);
			return 1;
		}
		/* Field by field, not memset(): that compiles to `rep stos`, which
		 * costs more than the rest of a cache hit's bookkeeping. */
		ep = &pd->ep[pd->nep++];
		ep->pend = pd;
		ep->owner = az->mb;
		ep->first = pol[i];
		ep->claims = NULL;
		ep->stale = false;
		ep->done = false;
		ep->waiter.next = NULL;
		ep->waiter.arg = ep;
		ep->msg.next = NULL;
		ep->msg.fn = ep_msg;
		endpoint_key(sn, pol[i], token, ep->key);
	}
	if (log_enabled(LOG_LVL_INFO))
		tcache_fingerprint(pd->ep[0].key, fp);
	/* Look everything up first: the common case answers without waiting. */
	for (size_t i = 0; i < pd->nep; i++) {
		struct ep *ep = &pd->ep[i];
		enum tcache_result r;

		if (ep->done)
			continue;
		r = sh->cache ? tcache_lookup(sh->cache, ep->key, now, &ep->waiter, &ep->claims)
			      : TCACHE_BYPASS;
		if (r == TCACHE_HIT) {
			ep->done = true;
			continue;
		}
		if (r != TCACHE_WAIT && policy_jwt(ep->first)) {
			local_result(az, ep, token, r == TCACHE_MISS, now, sn->leeway_s);
			ep->done = local = true;
			continue;
		}
		all_known = false;
		pd->outstanding++;
		if (r == TCACHE_WAIT) {
			stats_waiters(sh->st, 1);
			continue;
		}
		if (!start_fetch(az, ep, token, r == TCACHE_MISS)) {
			pd->outstanding--;
			ep->done = true;
		}
	}
	if (all_known || pd->outstanding == 0) {
		evaluate(az, sn, pd, out, oc);
		base_decision(pd->base_deny, out, pd);
		*how = !all_known ? "error" : local ? "local" : "hit";
		*used = pd;
		return 1;
	}
	pd->snap = authz_snap_ref(sn);
	copy_route(pd->route, sizeof(pd->route), req->route);
	pd->next = az->pends;
	if (az->pends)
		az->pends->prev = pd;
	az->pends = pd;
	return 0;
}

struct authz *authz_setup_worker(void *arg, struct mailbox *mb, struct ev_loop *loop,
				 authz_done_cb done, void *done_arg)
{
	struct authz_shared *sh = arg;
	struct authz *az = calloc(1, sizeof(*az));

	if (!az)
		return NULL;
	az->sh = sh;
	az->mb = mb;
	az->loop = loop;
	az->done = done;
	az->done_arg = done_arg;
	az->hc = http_client_new(loop, &sh->hc);
	if (sh->l2s)
		az->l2 = l2_new(sh->l2s, loop);
	if (!az->hc || (sh->l2s && !az->l2)) {
		http_client_free(az->hc);
		free(az);
		return NULL;
	}
	az->snap = authz_snap_cell_get(&sh->snaps);
	return az;
}

void authz_free(struct authz *az)
{
	if (!az)
		return;
	/* Our own fetches end now (their waiters elsewhere get a failure). */
	l2_free(az->l2);
	az->l2 = NULL;
	http_client_cancel_all(az->hc);
	while (az->pends) {
		struct pend *pd = az->pends;
		size_t still = 0;

		pend_unlink(az, pd);
		for (size_t i = 0; i < pd->nep; i++) {
			struct ep *ep = &pd->ep[i];

			if (ep->done)
				continue;
			/* Queued behind another worker's fetch: take it back, or, if
			 * that fetch is completing right now, let its message free
			 * the request later. */
			if (az->sh->cache && tcache_cancel(az->sh->cache, ep->key, &ep->waiter)) {
				pd->outstanding--;
				stats_waiters(az->sh->st, -1);
			} else
				still++;
		}
		if (still) {
			pd->orphan = true;
		} else {
			pend_free(pd);
		}
	}
	http_client_free(az->hc);
	authz_snap_unref(az->snap);
	free(az->spare);
	free(az);
}

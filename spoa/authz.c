/* authz.c - the decision pipeline for one request:
 *
 *   route -> policies -> bearer token -> cache (single-flight) -> [miss:
 *   introspection over HTTP] -> every policy's checks -> verdict
 *
 * A request whose answer is not in the cache becomes a struct pend, which
 * waits for one result per distinct introspection endpoint. The first request
 * for a token leads the fetch; concurrent ones, on any worker, queue behind
 * it in the cache and are woken through their own worker's inbox. */
#include "authz.h"

#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bearer.h"
#include "http_client.h"
#include "introspect.h"
#include "log.h"
#include "options.h"
#include "policy.h"
#include "reason.h"
#include "tcache.h"
#include "worker.h"

#define AUTHZ_MAX_POLICIES 32 /* policies that may apply to one request */
#define AUTHZ_MAX_ENDPOINTS 4 /* distinct introspection endpoints per request */
#define REALM "oauth2-spoa"

struct authz_shared {
	struct policy_set *set;
	struct tcache *cache;
	bool default_deny;
	int64_t leeway_s;
	size_t max_token_len;
	struct hc_options hc;
};

struct pend;

/* One introspection result a request needs. */
struct ep {
	struct pend *pend;
	const struct policy *first; /* a policy using this endpoint */
	uint8_t key[TCACHE_KEY_LEN];
	struct claims *claims; /* NULL: failed (or not yet known) */
	bool done;
	struct tcache_waiter waiter;
	struct worker_msg msg; /* wakes the owner when another thread fetched */
};

struct pend {
	struct authz *az;
	struct pend *prev, *next; /* az->pends */
	bool orphan;              /* az is gone: just free when all eps are done */
	struct authz_ticket t;
	const struct policy *pol[AUTHZ_MAX_POLICIES];
	size_t npol;
	struct ep ep[AUTHZ_MAX_ENDPOINTS];
	size_t nep, outstanding;
};

/* The leader's HTTP call. */
struct fetch {
	struct authz *az;
	struct ep *ep; /* NULL when the leader was cancelled at shutdown */
	uint8_t key[TCACHE_KEY_LEN];
	bool cached; /* false: TCACHE_BYPASS, no tcache_complete() */
	int64_t ttl_ms, neg_ttl_ms;
	char fp[9];
};

struct authz {
	struct authz_shared *sh;
	struct worker *w;
	struct ev_loop *loop;
	struct hc *hc;
	authz_done_cb done;
	void *done_arg;
	struct pend *pends;
};

struct authz_shared *authz_shared_new(const struct options *o, struct policy_set *set)
{
	struct authz_shared *sh = calloc(1, sizeof(*sh));

	if (!sh) {
		policy_set_free(set);
		return NULL;
	}
	sh->set = set;
	sh->default_deny = o->default_deny;
	sh->leeway_s = o->leeway_s;
	sh->max_token_len = o->max_token_len;
	sh->hc.timeout_ms = o->introspect_timeout_ms;
	sh->hc.max_inflight_per_endpoint = o->max_inflight;
	sh->hc.ca_file = o->ca_file;
	sh->hc.max_body = INTROSPECT_MAX_BODY;
	if (o->cache_entries) {
		sh->cache = tcache_new(o->cache_entries);
		if (!sh->cache) {
			authz_shared_free(sh);
			return NULL;
		}
	}
	return sh;
}

void authz_shared_free(struct authz_shared *sh)
{
	if (!sh)
		return;
	tcache_free(sh->cache);
	policy_set_free(sh->set);
	free(sh);
}

static void set_reason(struct verdict *v, enum authz_reason r)
{
	v->allowed = r == AUTHZ_OK || r == AUTHZ_NO_POLICY;
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
	if (p)
		snprintf(v->policy, sizeof(v->policy), "%s", policy_name(p));
}

static void deny(struct verdict *v, enum authz_reason r, const struct policy *p)
{
	memset(v, 0, sizeof(*v));
	set_reason(v, r);
	set_policy(v, p);
	set_challenge(v, r, p);
}

static bool opt_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Two policies share an introspection result only when they ask the same
 * endpoint as the same client: an answer obtained with good credentials must
 * never serve a policy whose credentials are wrong. */
static bool same_endpoint(const struct policy *a, const struct policy *b)
{
	const struct policy_introspection *x = policy_introspection(a);
	const struct policy_introspection *y = policy_introspection(b);

	return strcmp(x->url, y->url) == 0 && x->auth_method == y->auth_method &&
	       opt_eq(x->client_id, y->client_id) && opt_eq(x->client_secret, y->client_secret);
}

static struct ep *ep_of(struct pend *pd, const struct policy *p)
{
	for (size_t i = 0; i < pd->nep; i++)
		if (same_endpoint(pd->ep[i].first, p))
			return &pd->ep[i];
	return NULL;
}

/* The cache key: SHA-256 over the endpoint identity (URL, auth method,
 * client id and secret, NUL-separated) and the token. Only the hash is kept. */
static int endpoint_key(const struct policy *p, struct slice token, uint8_t key[TCACHE_KEY_LEN])
{
	const struct policy_introspection *pi = policy_introspection(p);
	const char *parts[3] = {pi->url, pi->client_id ? pi->client_id : "",
				pi->client_secret ? pi->client_secret : ""};
	char id[3 * 4097 + 8];
	size_t n = 0;
	int rc;

	for (int i = 0; i < 3; i++) {
		size_t len = strlen(parts[i]);

		if (len > 4096)
			return -1;
		memcpy(id + n, parts[i], len);
		n += len;
		id[n++] = '\0';
	}
	id[n++] = (char)('0' + pi->auth_method);
	rc = tcache_key(slice_from(id, n), token, key);
	explicit_bzero(id, n);
	return rc;
}

/* Every policy must allow; the first that does not decides the answer. */
static void evaluate(struct authz *az, struct pend *pd, struct verdict *v)
{
	int64_t now = (int64_t)ev_now(az->loop);

	for (size_t i = 0; i < pd->npol; i++) {
		struct ep *ep = ep_of(pd, pd->pol[i]);
		enum authz_reason r;

		if (!ep || !ep->claims) {
			deny(v, AUTHZ_INTROSPECTION_ERROR, pd->pol[i]);
			return;
		}
		r = policy_check(pd->pol[i], ep->claims, now, az->sh->leeway_s);
		if (r != AUTHZ_OK) {
			deny(v, r, pd->pol[i]);
			return;
		}
	}
	memset(v, 0, sizeof(*v));
	set_reason(v, AUTHZ_OK);
	set_policy(v, pd->pol[0]);
	v->claims = claims_ref(pd->ep[0].claims);
}

static void pend_free(struct pend *pd)
{
	for (size_t i = 0; i < pd->nep; i++)
		claims_unref(pd->ep[i].claims);
	free(pd);
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

static void log_decision(const struct authz_ticket *t, const struct verdict *v, double now,
			 const char *fp, const char *how)
{
	log_debug("decision stream=%llu policy=%s reason=%s status=%d token=%s cache=%s "
		  "latency_us=%.0f",
		  (unsigned long long)t->stream_id, v->policy[0] ? v->policy : "-", v->reason,
		  v->status, fp, how, (now - t->started) * 1e6);
}

/* One endpoint result is in: answer when it was the last one. */
static void ep_done(struct ep *ep)
{
	struct pend *pd = ep->pend;
	struct authz *az = pd->az;
	struct verdict v;
	char fp[9];

	ep->done = true;
	if (--pd->outstanding)
		return;
	if (pd->orphan) {
		pend_free(pd);
		return;
	}
	pend_unlink(az, pd);
	evaluate(az, pd, &v);
	tcache_fingerprint(pd->ep[0].key, fp);
	log_decision(&pd->t, &v, ev_now(az->loop), fp, "miss");
	az->done(az->done_arg, &pd->t, &v);
	pend_free(pd);
}

/* Runs on the owner's thread: a result another request fetched. */
static void ep_msg(struct worker *w, struct worker_msg *m)
{
	struct ep *ep = (struct ep *)((char *)m - offsetof(struct ep, msg));

	(void)w;
	ep_done(ep);
}

/* Hands <c> (may be NULL) to every request that queued behind a fetch. */
static void wake_waiters(struct tcache_waiter *wt, struct claims *c)
{
	while (wt) {
		struct tcache_waiter *next = wt->next;
		struct ep *ep = wt->arg;

		ep->claims = claims_ref(c);
		worker_post(ep->pend->az->w, &ep->msg);
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

static void fetch_done(const struct hc_response *res, void *arg)
{
	struct fetch *f = arg;
	struct authz *az = f->az;
	struct claims *c = NULL;
	struct err e = {0};
	double now = ev_now(az->loop);

	if (res->err != HC_OK) {
		log_warn("introspection failed: %s%s%s (token %s)", hc_strerror(res->err),
			 res->detail[0] ? ": " : "", res->detail, f->fp);
	} else if (res->status != 200) {
		log_warn("introspection failed: HTTP status %ld (token %s)", res->status, f->fp);
	} else if (introspect_parse_response((const char *)res->body.ptr, res->body.len, &c, &e) <
		   0) {
		log_warn("introspection failed: bad response: %s (token %s)", e.msg, f->fp);
		c = NULL;
	}
	if (f->cached) {
		double ttl = c ? result_ttl(f, c, now) : 0;

		wake_waiters(tcache_complete(az->sh->cache, f->key, c, ttl, now), c);
	}
	if (f->ep) {
		f->ep->claims = c; /* the leader keeps the parse's reference */
		ep_done(f->ep);
	} else {
		claims_unref(c);
	}
	free(f);
}

/* Starts the introspection call for <ep> (this request leads). Returns false
 * when it could not even start: the endpoint then counts as failed. */
static bool start_fetch(struct authz *az, struct ep *ep, struct slice token, bool cached)
{
	const struct policy_introspection *pi = policy_introspection(ep->first);
	bool post = pi->auth_method == POLICY_AUTH_CLIENT_SECRET_POST ||
		    (pi->auth_method == POLICY_AUTH_NONE && pi->client_id);
	size_t cap = token.len * 3 + 1024 + (pi->client_secret ? 3 * strlen(pi->client_secret) : 0) +
		     (pi->client_id ? 3 * strlen(pi->client_id) : 0);
	char *body = malloc(cap);
	struct fetch *f = calloc(1, sizeof(*f));
	struct hc_request rq = {.url = pi->url};
	ssize_t blen;
	int rc = HC_ERR_NOMEM;

	if (body && f) {
		blen = introspect_form_body(token, post, pi->client_id,
					    pi->auth_method == POLICY_AUTH_NONE ? NULL
										 : pi->client_secret,
					    body, cap);
		if (blen >= 0) {
			rq.body = slice_from(body, (size_t)blen);
			if (pi->auth_method == POLICY_AUTH_CLIENT_SECRET_BASIC) {
				rq.user = pi->client_id;
				rq.password = pi->client_secret;
			}
			f->az = az;
			f->ep = ep;
			f->cached = cached;
			memcpy(f->key, ep->key, sizeof(f->key));
			f->ttl_ms = policy_cache_timeout_ms(ep->first);
			f->neg_ttl_ms = policy_negative_cache_timeout_ms(ep->first);
			tcache_fingerprint(ep->key, f->fp);
			rc = hc_post(az->hc, &rq, fetch_done, f);
		}
		explicit_bzero(body, cap);
	}
	free(body);
	if (rc == 0)
		return true;
	log_warn("introspection not started: %s", hc_strerror(rc));
	free(f);
	if (cached)
		wake_waiters(tcache_complete(az->sh->cache, ep->key, NULL, 0, ev_now(az->loop)),
			     NULL);
	return false;
}

static int decide(struct authz *az, const struct authz_req *req, const struct authz_ticket *t,
		  struct verdict *out, char fp[9], const char **how);

int authz_decide(struct authz *az, const struct authz_req *req, const struct authz_ticket *t,
		 struct verdict *out)
{
	char fp[9] = "-";
	const char *how = "none";
	int rc = decide(az, req, t, out, fp, &how);

	/* Answers that wait are logged when they complete (ep_done()). */
	if (rc == 1)
		log_decision(t, out, ev_now(az->loop), fp, how);
	return rc;
}

/* authz_decide() without the log line: <fp> gets the token fingerprint and
 * <how> the cache outcome when they are known. */
static int decide(struct authz *az, const struct authz_req *req, const struct authz_ticket *t,
		  struct verdict *out, char fp[9], const char **how)
{
	struct authz_shared *sh = az->sh;
	struct policy_request pr = {req->method, req->path, req->host, req->route};
	const struct policy *pol[AUTHZ_MAX_POLICIES];
	struct pend *pd;
	struct slice token;
	size_t n;
	bool all_known = true;
	double now = ev_now(az->loop);

	n = policy_set_match(sh->set, &pr, pol, AUTHZ_MAX_POLICIES);
	if (n == 0) {
		if (sh->default_deny) {
			deny(out, AUTHZ_NO_POLICY, NULL);
			out->allowed = false;
			out->status = 403;
		} else {
			memset(out, 0, sizeof(*out));
			set_reason(out, AUTHZ_NO_POLICY);
		}
		return 1;
	}
	if (n > AUTHZ_MAX_POLICIES) {
		log_warn("%zu policies apply to one request; at most %d are supported", n,
			 AUTHZ_MAX_POLICIES);
		deny(out, AUTHZ_INTROSPECTION_ERROR, pol[0]);
		return 1;
	}
	switch (bearer_parse(req->authorization, sh->max_token_len, &token)) {
	case BEARER_OK:
		break;
	case BEARER_MISSING:
		deny(out, AUTHZ_MISSING_TOKEN, pol[0]);
		return 1;
	default:
		deny(out, AUTHZ_MALFORMED_TOKEN, pol[0]);
		return 1;
	}

	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		deny(out, AUTHZ_INTROSPECTION_ERROR, pol[0]);
		return 1;
	}
	pd->az = az;
	pd->t = *t;
	pd->npol = n;
	memcpy(pd->pol, pol, n * sizeof(pol[0]));
	for (size_t i = 0; i < n; i++) {
		struct ep *ep;

		if (ep_of(pd, pol[i]))
			continue;
		if (pd->nep == AUTHZ_MAX_ENDPOINTS) {
			log_warn("more than %d introspection endpoints for one request",
				 AUTHZ_MAX_ENDPOINTS);
			pend_free(pd);
			deny(out, AUTHZ_INTROSPECTION_ERROR, pol[i]);
			return 1;
		}
		ep = &pd->ep[pd->nep++];
		ep->pend = pd;
		ep->first = pol[i];
		ep->waiter.arg = ep;
		ep->msg.fn = ep_msg;
		if (endpoint_key(pol[i], token, ep->key) < 0) {
			ep->done = true; /* counts as an introspection error */
			continue;
		}
	}
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
		all_known = false;
		pd->outstanding++;
		if (r == TCACHE_WAIT)
			continue;
		if (!start_fetch(az, ep, token, r == TCACHE_MISS)) {
			pd->outstanding--;
			ep->done = true;
		}
	}
	if (all_known || pd->outstanding == 0) {
		evaluate(az, pd, out);
		*how = all_known ? "hit" : "error";
		pend_free(pd);
		return 1;
	}
	pd->next = az->pends;
	if (az->pends)
		az->pends->prev = pd;
	az->pends = pd;
	return 0;
}

struct authz *authz_setup_worker(void *arg, struct worker *w, struct ev_loop *loop,
				 authz_done_cb done, void *done_arg)
{
	struct authz_shared *sh = arg;
	struct authz *az = calloc(1, sizeof(*az));

	if (!az)
		return NULL;
	az->sh = sh;
	az->w = w;
	az->loop = loop;
	az->done = done;
	az->done_arg = done_arg;
	az->hc = hc_new(loop, &sh->hc);
	if (!az->hc) {
		free(az);
		return NULL;
	}
	return az;
}

void authz_free(struct authz *az)
{
	if (!az)
		return;
	/* Our own fetches end now (their waiters elsewhere get a failure). */
	hc_cancel_all(az->hc);
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
			if (az->sh->cache && tcache_cancel(az->sh->cache, ep->key, &ep->waiter))
				pd->outstanding--;
			else
				still++;
		}
		if (still) {
			pd->orphan = true;
		} else {
			pend_free(pd);
		}
	}
	hc_free(az->hc);
	free(az);
}

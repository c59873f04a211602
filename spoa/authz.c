/* authz.c - the decision pipeline for one request:
 *
 *   route -> policies -> bearer token -> each policy's steps in order
 *   (validator.h: jwt, introspection), one need per step identity, each
 *   through the cache layer (authz_fetch.c) -> every policy's checks ->
 *   verdict (authz_answer.c) -> log (authz_log.c)
 *
 * A policy goes to its next step only when the step before said continue:
 * a step that refuses ends the policy (its later steps are never started).
 * A request whose needs are not all known at once becomes a struct pend,
 * which waits for them. The first request for a token leads the fetch;
 * concurrent ones, on any worker, queue behind it in the cache and are woken
 * through their own worker's mailbox. The policy snapshot lives in
 * authz_snap.c; the types the authz_* files share in authz_int.h. */
#include "authz.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "authz_answer.h"
#include "authz_fetch.h"
#include "authz_int.h"
#include "authz_log.h"
#include "authz_pend.h"
#include "authz_snap.h"
#include "bearer.h"
#include "claims.h"
#include "l2.h"
#include "log.h"
#include "path.h"
#include "policy.h"
#include "stats.h"
#include "validator.h"

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

static bool only_shadow(const struct policy *const *pol, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!policy_is_shadow(pol[i]))
			return false;
	return true;
}

static const struct authz_steps *steps_of(const struct authz_snap *sn, const struct policy *p)
{
	return &sn->steps[policy_index(p)];
}

/* A verdict holds the answer's claims and, for their mapped variables, those
 * of every other need. */
_Static_assert(AUTHZ_MAX_NEEDS - 1 <= VERDICT_MAX_MORE,
	       "a verdict must hold the mapped claims of every other need");

/* The need of step <v> of <p> in <pd>: one per step identity. */
static struct authz_need *need_of(struct pend *pd, const struct validator *v,
				  const struct policy *p)
{
	for (size_t i = 0; i < pd->nneed; i++)
		if (pd->need[i].v == v && v->same(pd->need[i].first, p))
			return &pd->need[i];
	return NULL;
}

/* Where the claims of an allowed answer come from (and go back to, see
 * authz_answer_base_decision()): the first policy's last step that
 * validates (a userinfo step after it only adds claims). */
static struct claims **answer_claims(struct pend *pd)
{
	return &pd->need[pd->walk[0].ident].claims;
}

/* What policy <i> of <pd> says: a step's refusal, or its checks on the
 * claims of its last step that validates; *c the claims it judged. */
static enum authz_reason policy_outcome(const struct authz_snap *sn, const struct pend *pd,
					size_t i, int64_t now, struct claims **c)
{
	const struct pol_walk *w = &pd->walk[i];

	*c = pd->need[w->ident].claims;
	if (!w->ended)
		return AUTHZ_INTROSPECTION_ERROR; /* never: every need is done */
	if (w->r != AUTHZ_OK)
		return (enum authz_reason)w->r;
	return policy_check(pd->pol[i], *c, now, sn->leeway_s);
}

/* Every enforcing policy must allow; the first that does not decides the
 * answer. A shadow policy that would refuse only changes the reason of an
 * allowed answer (the first such policy is reported). */
static void evaluate(struct authz *az, const struct authz_snap *sn, struct pend *pd,
		     struct verdict *v, struct authz_outcome *oc)
{
	int64_t now = (int64_t)ev_now(az->loop);
	const struct policy *shadow = NULL;
	enum authz_reason shadow_r = AUTHZ_OK, ok_r = AUTHZ_OK;
	struct claims *shadow_c = NULL;

	for (size_t i = 0; i < pd->npol; i++) {
		struct claims *c;
		enum authz_reason r = policy_outcome(sn, pd, i, now, &c);

		if (r == AUTHZ_OK)
			continue;
		if (!policy_is_shadow(pd->pol[i])) {
			authz_answer_deny(v, r, pd->pol[i]);
			*oc = (struct authz_outcome){pd->pol[i], r, false, c};
			return;
		}
		if (!shadow) {
			shadow = pd->pol[i];
			shadow_r = r;
			shadow_c = c;
		}
	}
	if (shadow) {
		authz_answer_shadow_allow(v, shadow_r, shadow, oc);
		oc->c = shadow_c;
		return;
	}
	for (size_t i = 0; i < pd->nneed; i++)
		ok_r = pd->need[i].stale ? AUTHZ_STALE : ok_r;
	authz_answer_allow(v, ok_r, pd->pol[0]);
	/* The verdict takes over the pend's reference: nothing reads these
	 * claims in the pend after evaluate(), and the log line reads them from
	 * <v>. The other needs' claims follow, in need (so policy) order, for
	 * their mapped variables: the first policy wins a name both map. */
	v->claims = *answer_claims(pd);
	*answer_claims(pd) = NULL;
	for (size_t i = 0; i < pd->nneed; i++)
		verdict_add_claims(v, &pd->need[i].claims);
	*oc = (struct authz_outcome){pd->pol[0], ok_r, policy_is_shadow(pd->pol[0]), v->claims};
}

static void advance(struct authz *az, const struct authz_snap *sn, struct pend *pd,
		    const struct slice *token, double now);

/* One need's result is in: answer when it was the last one. */
static void need_done(struct authz_need *need)
{
	struct pend *pd = need->pend;
	struct authz *az = pd->az;
	struct verdict v;
	struct authz_outcome oc;
	char fp[9];

	need->done = true;
	pd->outstanding--;
	if (pd->orphan) {
		if (!pd->outstanding)
			pend_free(pd);
		return;
	}
	/* Judges the steps that were waiting, and starts the steps after them
	 * with the kept token (none: they fail, closed; none either while the
	 * worker shuts down, whose client starts nothing more). */
	if (pd->tok && !az->closing) {
		struct slice tok = slice_from(pd->tok, pd->tok_len);

		advance(az, pd->snap, pd, &tok, ev_now(az->loop));
	} else {
		advance(az, pd->snap, pd, NULL, ev_now(az->loop));
	}
	if (pd->outstanding)
		return;
	pend_unlink(az, pd);
	evaluate(az, pd->snap, pd, &v, &oc);
	authz_answer_base_decision(pd->base_deny, &v, answer_claims(pd));
	tcache_fingerprint(pd->need[0].key, fp);
	authz_log_decision(az, pd->snap, &pd->t, &v, &oc, pd->route, fp,
			   oc.r == AUTHZ_STALE ? "stale"
			   : pd->l2	       ? "l2"
					       : "miss");
	az->done(az->done_arg, &pd->t, &v);
	pend_free(pd);
}

/* The continuation of a need whose result was not known at once (see
 * authz_fetch.h): on the owner's thread, from the leader's fetch or from the
 * mailbox. */
static void need_msg(struct mailbox_msg *m)
{
	struct authz_need *need =
	    (struct authz_need *)((char *)m - offsetof(struct authz_need, msg));

	need_done(need);
}

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
		      struct authz_outcome *oc)
{
	enum authz_reason r = pub ? AUTHZ_PUBLIC_ROUTE : AUTHZ_NO_POLICY;

	*oc = (struct authz_outcome){pub, r, false, NULL};
	if (!pub && sn->default_deny)
		authz_answer_deny(out, AUTHZ_NO_POLICY, NULL);
	else
		authz_answer_allow(out, r, pub);
}

/* The checks before policy selection (policy_request_check()); on success
 * <pr>'s path becomes the decoded one policies match. Returns false with
 * <out> and <oc> filled when the request is refused. */
static bool admit(struct authz *az, const struct authz_snap *sn, struct policy_request *pr,
		  struct verdict *out, struct authz_outcome *oc)
{
	enum authz_reason r = policy_request_check(sn->set, pr);

	if (r == AUTHZ_OK) {
		pr->path = path_decode(pr->path, az->path_buf, sizeof(az->path_buf));
		if (pr->path.ptr)
			return true;
		r = AUTHZ_PATH_NOT_CANONICAL; /* longer than a NOTIFY can be */
	}
	if (r == AUTHZ_ROUTE_UNKNOWN)
		authz_log_route_unknown(ev_now(az->loop));
	authz_answer_deny(out, r, NULL);
	*oc = (struct authz_outcome){NULL, r, false, NULL};
	return false;
}

/* One decision in progress, on authz_decide()'s stack: what the steps below
 * share, and what the log line needs besides the verdict. */
struct decision {
	struct authz *az;
	struct authz_snap *sn;
	struct verdict *out;
	struct authz_outcome oc;
	char fp[9];	   /* the token fingerprint, only when info lines are logged */
	const char *how;   /* the cache outcome, when known */
	struct pend *used; /* answered at once: the pend whose claims oc borrows */
};

/* Admits the request and selects the policies that check tokens into pol[],
 * with *base_deny (see authz_answer_base_decision()). Returns how many, or 0
 * with the answer in d->out when none needs a token. */
static size_t select_policies(struct decision *d, const struct authz_req *req,
			      const struct policy **pol, bool *base_deny)
{
	struct policy_request pr = {req->method, req->path, req->host, req->route};
	const struct policy *pub;
	size_t n;

	if (!admit(d->az, d->sn, &pr, d->out, &d->oc))
		return 0;
	n = policy_set_match(d->sn->set, &pr, pol, AUTHZ_MAX_POLICIES);
	if (n > AUTHZ_MAX_POLICIES) {
		/* pol[] misses some, and an enforcing one may be among them: no
		 * answer built from pol[] can be right, not even a shadow allow. */
		log_warn("%zu policies apply to one request; at most %d are supported: denied", n,
			 AUTHZ_MAX_POLICIES);
		d->oc = (struct authz_outcome){NULL, AUTHZ_TOO_MANY_POLICIES, false, NULL};
		authz_answer_deny(d->out, AUTHZ_TOO_MANY_POLICIES, NULL);
		return 0;
	}
	if ((n = drop_public(pol, n, &pub)) == 0) {
		no_checks(d->sn, pub, d->out, &d->oc);
		return 0;
	}
	*base_deny = d->sn->default_deny && !pub && only_shadow(pol, n);
	return n;
}

/* The bearer token of <authorization> into *token; false with the refusal
 * in d->out when there is none usable. */
static bool read_token(struct decision *d, struct slice authorization,
		       const struct policy *const *pol, size_t n, bool base_deny,
		       struct slice *token)
{
	size_t max = d->sn->max_token_len;
	enum authz_reason r;

	switch (bearer_parse(authorization, max, token)) {
	case BEARER_OK:
		return true;
	case BEARER_MISSING:
		r = AUTHZ_MISSING_TOKEN;
		break;
	case BEARER_TOO_LONG:
		authz_log_too_long(d->az, authorization.len, max, ev_now(d->az->loop));
		r = AUTHZ_TOKEN_TOO_LONG;
		break;
	default:
		r = AUTHZ_MALFORMED_TOKEN;
		break;
	}
	authz_answer_refuse(d->out, r, pol, n, base_deny, &d->oc);
	return false;
}

/* Sets up need <need> of <pd> for step <k> (<v>) of <p>: its identity only;
 * the key is computed when the walk reaches it (need_begin()). */
static void need_init(struct authz_need *need, struct pend *pd, const struct validator *v, size_t k,
		      const struct policy *p)
{
	/* Field by field, not memset(): that compiles to `rep stos`, which
	 * costs more than the rest of a cache hit's bookkeeping. */
	need->pend = pd;
	need->v = v;
	need->step = (uint8_t)k;
	need->started = false;
	need->owner = pd->az->mb;
	need->first = p;
	need->claims = NULL;
	need->stale = false;
	need->done = false;
	need->waiter.next = NULL;
	need->waiter.arg = need;
	need->msg.next = NULL;
	need->msg.fn = need_msg;
}

/* A pend for pol[0..n) with one need per distinct step identity. NULL when
 * out of memory or when the request needs too many. */
static struct pend *pend_start(struct decision *d, const struct authz_ticket *t,
			       const struct policy *const *pol, size_t n, bool base_deny)
{
	struct pend *pd = pend_get(d->az);

	if (!pd)
		return NULL;
	pd->snap = NULL; /* referenced only if the request has to wait */
	pd->tok = NULL;
	pd->l2 = pd->failed = pd->local = false;
	pd->az = d->az;
	pd->t = *t;
	pd->npol = n;
	pd->base_deny = base_deny;
	for (size_t i = 0; i < n; i++) {
		const struct authz_steps *s = steps_of(d->sn, pol[i]);

		pd->pol[i] = pol[i];
		pd->walk[i] = (struct pol_walk){0, 0, 0, false, AUTHZ_OK};
		for (size_t k = 0; k < s->n; k++) {
			if (need_of(pd, s->v[k], pol[i]))
				continue;
			if (pd->nneed == AUTHZ_MAX_NEEDS) {
				log_warn("more than %d validation steps for one request",
					 AUTHZ_MAX_NEEDS);
				pend_recycle(d->az, pd);
				return NULL;
			}
			need_init(&pd->need[pd->nneed++], pd, s->v[k], k, pol[i]);
		}
	}
	return pd;
}

/* Looks <need> up through the cache layer (the walk reached it, with the
 * claims <so_far> of the policy's step before). Without a token (a request
 * resumed by a result) it cannot start: it fails, closed. */
static void need_begin(struct authz *az, const struct authz_snap *sn, struct pend *pd,
		       struct authz_need *need, const struct slice *token,
		       const struct claims *so_far, double now)
{
	const struct policy *p = need->first;

	need->started = true;
	if (!token) {
		need->done = pd->failed = true;
		return;
	}
	need->v->key(&steps_of(sn, p)->kp[need->step], p, *token, need->key);
	switch (authz_fetch(az, need, *token, so_far, steps_of(sn, p)->slot[need->step], now,
			    sn->leeway_s)) {
	case AUTHZ_FETCH_HIT:
		need->done = true;
		break;
	case AUTHZ_FETCH_LOCAL:
		need->done = pd->local = true;
		break;
	case AUTHZ_FETCH_FAILED:
		need->done = pd->failed = true;
		break;
	case AUTHZ_FETCH_WAIT:
		pd->outstanding++;
		break;
	}
}

/* Walks every policy through its steps as far as the known results allow:
 * a step that continues leads to the policy's next one, a refusal ends the
 * policy; a step reached for the first time is looked up (and started).
 * <token> NULL: only judges (see need_begin()). */
static void advance(struct authz *az, const struct authz_snap *sn, struct pend *pd,
		    const struct slice *token, double now)
{
	for (size_t i = 0; i < pd->npol; i++) {
		const struct authz_steps *s = steps_of(sn, pd->pol[i]);
		struct pol_walk *w = &pd->walk[i];
		while (!w->ended) {
			struct authz_need *need = need_of(pd, s->v[w->step], pd->pol[i]);
			/* The claims of the steps before: the last that validates. */
			const struct claims *so_far = w->step ? pd->need[w->ident].claims : NULL;
			enum authz_reason r;

			w->need = (uint8_t)(need - pd->need);
			if (!need->started)
				need_begin(az, sn, pd, need, token, so_far, now);
			if (!need->done)
				break; /* waits for an I/O result */
			r = validator_judge(need->claims);
			if (r == AUTHZ_OK && need->v->agrees)
				r = need->v->agrees(need->claims, so_far, need->key);
			if (!w->step || !need->v->adds_claims)
				w->ident = w->need;
			/* A step that only adds claims (userinfo) runs once the
			 * policy's checks passed: a refused token is never sent. */
			if (r == AUTHZ_OK && w->step + 1u < s->n && s->v[w->step + 1]->adds_claims)
				r = policy_check(pd->pol[i], pd->need[w->ident].claims,
						 (int64_t)now, sn->leeway_s);
			if (r != AUTHZ_OK || ++w->step == s->n) {
				w->r = (unsigned char)r;
				w->ended = true;
			}
		}
	}
}

/* authz_decide() without the log line. Returns 1 with the answer in d->out,
 * or 0 when the request waits (answered through az->done). */
static int decide(struct decision *d, const struct authz_req *req, const struct authz_ticket *t)
{
	const struct policy *pol[AUTHZ_MAX_POLICIES];
	struct slice token;
	struct pend *pd;
	bool base_deny;
	size_t n = select_policies(d, req, pol, &base_deny);

	if (n == 0 || !read_token(d, req->authorization, pol, n, base_deny, &token))
		return 1;
	pd = pend_start(d, t, pol, n, base_deny);
	if (!pd) {
		authz_answer_refuse(d->out, AUTHZ_INTROSPECTION_ERROR, pol, n, base_deny, &d->oc);
		return 1;
	}
	/* Looks every step up first: the common case answers without waiting. */
	advance(d->az, d->sn, pd, &token, ev_now(d->az->loop));
	if (log_enabled(LOG_LVL_INFO))
		tcache_fingerprint(pd->need[0].key, d->fp); /* the first step is always begun */
	if (!pd->outstanding) {
		d->how = pd->failed ? "error" : pd->local ? "local" : "hit";
		evaluate(d->az, d->sn, pd, d->out, &d->oc);
		authz_answer_base_decision(pd->base_deny, d->out, answer_claims(pd));
		d->used = pd;
		return 1;
	}
	pd->snap = authz_snap_ref(d->sn);
	authz_log_copy_route(pd->route, sizeof(pd->route), req->route);
	pend_keep_token(d->sn, pd, token);
	pend_link(d->az, pd);
	return 0;
}

int authz_decide(struct authz *az, const struct authz_req *req, const struct authz_ticket *t,
		 struct verdict *out)
{
	char route[64] = "";
	struct decision d = {.az = az, .sn = current(az), .out = out, .fp = "-", .how = "none"};
	int rc = decide(&d, req, t);

	/* Answers that wait are logged when they complete (need_done()). */
	if (rc == 1) {
		if (log_enabled(LOG_LVL_INFO))
			authz_log_copy_route(route, sizeof(route), req->route);
		authz_log_decision(az, d.sn, t, out, &d.oc, route, d.fp, d.how);
		/* Only now: the log line borrowed the claims that <used> holds. */
		if (d.used)
			pend_recycle(az, d.used);
	}
	return rc;
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
	az->closing = true;
	l2_free(az->l2);
	az->l2 = NULL;
	http_client_cancel_all(az->hc);
	while (az->pends) {
		struct pend *pd = az->pends;
		size_t still = 0;

		pend_unlink(az, pd);
		for (size_t i = 0; i < pd->nneed; i++) {
			struct authz_need *need = &pd->need[i];

			if (need->done || !need->started)
				continue;
			/* Queued behind another worker's fetch: take it back, or, if
			 * that fetch is completing right now, let its message free
			 * the request later. */
			if (az->sh->cache &&
			    tcache_cancel(az->sh->cache, need->key, &need->waiter)) {
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
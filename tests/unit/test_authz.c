/* test_authz.c - the decision pipeline (authz.c) with real policies, a real
 * token cache, real workers' mailboxes and a real HTTP client talking to an
 * introspection server thread of this process.
 *
 * Pins: public routes under defaultDecision deny, shadow-only routes staying
 * denied under it, too_many_policies (never an
 * unseen enforcing policy ignored), a policy's cacheTimeout applying to its
 * own requests when another policy shares the endpoint, a single-flight
 * waiter never touched after its worker freed it at shutdown, and the steps
 * of a jwt + introspection policy (a JWT refused locally is never
 * introspected; the introspection answer decides the rest).
 *
 * The shutdown race needs an exact interleaving: another worker's fetch
 * dequeues the waiter (tcache_complete) and only then hands it the result.
 * The binary is linked with -Wl,--wrap=tcache_complete (see the Makefile) so
 * that the test can free the waiter's worker module right in between, as a
 * worker thread shutting down at that moment would. */
#include "authz_idp.h"

#include "prom.h"

/* ---- metrics ---- */

static bool metric(const char *needle)
{
	struct prom_buf b = {0};
	bool found;

	stats_render(st, &b);
	found = b.p && strstr(b.p, needle);
	prom_free(&b);
	return found;
}

#define PUBLIC(name, route)                                                                        \
	"---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: " name "}\n"       \
	"spec:\n  applyToRoutes:\n  - route: {labels: {route: " route "}}\n"                       \
	"  config: {public: true}\n"

static void test_public_and_default_deny(const char *url)
{
	char yaml[4096], one[1024];
	struct side a;

	snprintf(yaml, sizeof(yaml), "%s%s%s", PUBLIC("health", "health"),
		 policy(one, sizeof(one), "ratings", "ratings", "enforce", url, ""),
		 PUBLIC("ratings-public", "ratings"));
	shared_up("defaultDecision: deny\n", yaml);
	side_up(&a, 0);
	expect(ask(&a, "other", NULL), false, 403, "no_policy", "", "unselected route: 403");
	expect(ask(&a, "health", NULL), true, 200, "public_route", "health",
	       "public route, no token: 200");
	expect(ask(&a, "health", "anything"), true, 200, "public_route", "health",
	       "public route ignores a token");
	expect(ask(&a, "ratings", NULL), false, 401, "missing_token", "ratings",
	       "a public policy never weakens an enforcing one");
	expect(ask(&a, "ratings", "tok-1"), true, 200, "ok", "ratings", "protected, valid token");
	ok(metric("policy=\"health\",reason=\"public_route\",mode=\"enforce\"} 2"),
	   "public_route is counted");
	side_down(&a);
	shared_down();
}

/* Shadow policies never change the enforced answer: under defaultDecision
 * deny, a route that only shadow policies select stays denied (no_policy),
 * whether they would refuse or pass; their outcome is still counted. With a
 * public policy beside them, or under defaultDecision allow, it is allowed. */
static void test_shadow_only_default_deny(const char *url)
{
	char yaml[8192], p1[1024], p2[1024], p3[1024];
	struct side a;

	snprintf(yaml, sizeof(yaml), "%s%s%s%s",
		 policy(p1, sizeof(p1), "stage", "staged", "shadow", url,
			"            requiredScopes: [write]\n"),
		 policy(p2, sizeof(p2), "stage-ok", "stageok", "shadow", url, ""),
		 policy(p3, sizeof(p3), "stage-pub", "pub", "shadow", url, ""),
		 PUBLIC("pub", "pub"));
	shared_up("defaultDecision: deny\n", yaml);
	side_up(&a, 0);
	expect(ask(&a, "staged", NULL), false, 403, "no_policy", "",
	       "shadow only, no token, default deny: 403");
	expect(ask(&a, "staged", "tok-1"), false, 403, "no_policy", "",
	       "shadow only, would refuse, default deny: 403");
	expect(ask(&a, "stageok", "tok-1"), false, 403, "no_policy", "",
	       "shadow only, would pass, default deny: 403");
	ok(a.ans.v.claims == NULL, "a denied answer carries no identity");
	expect(ask(&a, "stageok", "tok-1"), false, 403, "no_policy", "", "the same from the cache");
	ok(metric("policy=\"stage\",reason=\"insufficient_scope\",mode=\"shadow\"} 1"),
	   "the shadow outcome is still counted");
	expect(ask(&a, "pub", NULL), true, 200, "shadow:missing_token", "stage-pub",
	       "shadow beside a public policy: allowed");
	side_down(&a);
	shared_down();

	shared_up("defaultDecision: allow\n", yaml);
	side_up(&a, 0);
	expect(ask(&a, "staged", NULL), true, 200, "shadow:missing_token", "stage",
	       "shadow only, default allow: allowed");
	side_down(&a);
	shared_down();
}

/* A purge by token evicts the keys of the policies that cache: a public
 * policy has none, so it must not take one of the PURGE_MAX_KEYS slots. */
static void test_token_keys_skip_public(const char *url)
{
	char yaml[4096], one[1024];
	uint8_t keys[8][TCACHE_KEY_LEN];

	snprintf(yaml, sizeof(yaml), "%s%s", PUBLIC("health", "health"),
		 policy(one, sizeof(one), "ratings", "ratings", "enforce", url, ""));
	shared_up("", yaml);
	is_int((int)authz_shared_token_keys(sh, SLICE_LIT("tok-1"), keys, 8), 1,
	       "token keys: one per caching identity, none for a public policy");
	shared_down();
}

/* 32 shadow policies and one enforcing policy all select route=r: with the
 * limit at 32, the enforcing one is the unseen one. */
static void test_too_many(const char *url)
{
	static char yaml[64 * 1024];
	char one[1024], name[16];
	size_t len = 0;
	struct side a;

	for (int i = 0; i < 33; i++) {
		snprintf(name, sizeof(name), "p%02d", i);
		len += (size_t)snprintf(
		    yaml + len, sizeof(yaml) - len, "%s",
		    policy(one, sizeof(one), name, "r", i < 32 ? "shadow" : "enforce", url, ""));
	}
	shared_up("", yaml);
	side_up(&a, 0);
	expect(ask(&a, "r", NULL), false, 500, "too_many_policies", "",
	       "33 policies: denied, not a shadow allow");
	expect(ask(&a, "r", "tok-1"), false, 500, "too_many_policies", "",
	       "also with a valid token");
	ok(metric("policy=\"\",reason=\"too_many_policies\",mode=\"enforce\"} 2"),
	   "too_many_policies is counted");
	side_down(&a);
	shared_down();
}

/* Two policies share one endpoint; one caches for 10m, one says
 * cacheTimeout: 0. */
static void test_cache_timeout(struct idp *idp, const char *url)
{
	char yaml[4096], p1[1024], p2[1024];
	struct side a;
	int base;

	snprintf(yaml, sizeof(yaml), "%s%s",
		 policy(p1, sizeof(p1), "cached", "cached", "enforce", url,
			"            cacheTimeout: 10m\n"),
		 policy(p2, sizeof(p2), "fresh", "fresh", "enforce", url,
			"            cacheTimeout: 0\n"));
	shared_up("", yaml);
	side_up(&a, 0);
	base = atomic_load(&idp->calls);
	expect(ask(&a, "cached", "tok-c"), true, 200, "ok", "cached", "cached route, first call");
	expect(ask(&a, "cached", "tok-c"), true, 200, "ok", "cached", "cached route, again");
	is_int(atomic_load(&idp->calls) - base, 1, "the 10m policy caches");
	expect(ask(&a, "fresh", "tok-c"), true, 200, "ok", "fresh", "cacheTimeout 0 route");
	is_int(atomic_load(&idp->calls) - base, 2,
	       "cacheTimeout: 0 asks the IdP although the other policy cached the token");
	expect(ask(&a, "fresh", "tok-c"), true, 200, "ok", "fresh", "cacheTimeout 0 route, again");
	is_int(atomic_load(&idp->calls) - base, 3, "and asks it every time");
	expect(ask(&a, "cached", "tok-c"), true, 200, "ok", "cached", "cached route, third call");
	is_int(atomic_load(&idp->calls) - base, 3, "while the 10m policy still hits");
	side_down(&a);
	shared_down();
}

/* ---- jwt + introspection in one policy (issue 13 item 2) ---- */

/* A copy of <tok> with one signature character changed. */
static char *tampered(const char *tok)
{
	char *t = strdup(tok);
	size_t n = t ? strlen(t) : 0;

	if (!t || n < 12) {
		fprintf(stderr, "tampered: no token\n");
		exit(2);
	}
	t[n - 10] = t[n - 10] == 'A' ? 'B' : 'A';
	return t;
}

static void test_jwt_then_introspection(struct idp *idp, const char *url)
{
	EVP_PKEY *ec = fx_keygen(FX_EC256), *other = fx_keygen(FX_EC256);
	char *jwk = fx_jwk(ec, "e1", ""), *tok = jwt_token(ec, "e1", "t1", 600, "read");
	char *bad = tampered(tok), *unknown = jwt_token(other, "e2", "t2", 600, "read");
	char *expired = jwt_token(ec, "e1", "t3", -600, "read");
	char *writer = jwt_token(ec, "e1", "t4", 600, "write");
	char *revoked = jwt_token(ec, "e1", "t5", 600, "read");
	char *pair = jwt_token(ec, "e1", "t6", 600, "read");
	static char yaml[32 * 1024];
	char jwt[1024], extra[1536], p[5][2048];
	struct side a;
	int base;

	snprintf(jwt, sizeof(jwt),
		 "            jwt:\n              localJwks: {inlineString: '{\"keys\":[%s]}'}\n",
		 jwk);
	snprintf(extra, sizeof(extra), "%s            requiredScopes: [write]\n", jwt);
	snprintf(yaml, sizeof(yaml), "%s%s%s%s%s",
		 policy(p[0], sizeof(p[0]), "both", "both", "enforce", url, jwt),
		 policy(p[1], sizeof(p[1]), "both-write", "write", "enforce", url, extra),
		 policy(p[2], sizeof(p[2]), "both-shadow", "shadow", "shadow", url, jwt),
		 policy(p[3], sizeof(p[3]), "pair-intro", "pair", "enforce", url, ""),
		 policy(p[4], sizeof(p[4]), "pair-both", "pair", "enforce", url, jwt));
	shared_up("", yaml);
	side_up(&a, 0);
	base = atomic_load(&idp->calls);
	expect(ask(&a, "both", bad), false, 401, "invalid_token", "both",
	       "jwt + introspection, tampered signature: invalid_token");
	expect(ask(&a, "both", unknown), false, 401, "invalid_token", "both",
	       "jwt + introspection, unknown key: invalid_token");
	expect(ask(&a, "both", expired), false, 401, "inactive_token", "both",
	       "jwt + introspection, expired: inactive_token");
	is_int(atomic_load(&idp->calls) - base, 0, "a JWT refused locally is never introspected");
	expect(ask(&a, "both", tok), true, 200, "ok", "both",
	       "jwt ok, introspection active: allowed");
	is_int(atomic_load(&idp->calls) - base, 1, "a JWT that passes is introspected");
	ok(a.ans.v.claims && a.ans.v.claims->sub && !strcmp(a.ans.v.claims->sub, "alice"),
	   "the identity is the introspection answer's");
	expect(ask(&a, "both", tok), true, 200, "ok", "both", "the same token again: allowed");
	is_int(atomic_load(&idp->calls) - base, 1, "cache hit on the second request: no call");
	expect(ask(&a, "write", writer), false, 403, "insufficient_scope", "both-write",
	       "requiredScopes checked on the introspection answer, not on the JWT");
	is_int(atomic_load(&idp->calls) - base, 2, "(that one was introspected)");
	atomic_store(&idp->inactive, 1);
	expect(ask(&a, "both", revoked), false, 401, "inactive_token", "both",
	       "jwt ok, introspection inactive (revoked): inactive_token");
	is_int(atomic_load(&idp->calls) - base, 3, "the revoked token was introspected");
	expect(ask(&a, "both", revoked), false, 401, "inactive_token", "both",
	       "again: from the negative cache");
	is_int(atomic_load(&idp->calls) - base, 3, "no call for the cached refusal");
	atomic_store(&idp->inactive, 0);
	expect(ask(&a, "shadow", bad), true, 200, "shadow:invalid_token", "both-shadow",
	       "shadow: a refused JWT is allowed, reason shadow:invalid_token");
	is_int(atomic_load(&idp->calls) - base, 3, "shadow: not introspected either");
	expect(ask(&a, "pair", bad), false, 401, "invalid_token", "pair-both",
	       "two policies: the jwt one refuses the tampered token");
	is_int(atomic_load(&idp->calls) - base, 4, "the introspection-only policy still asks");
	expect(ask(&a, "pair", pair), true, 200, "ok", "pair-intro", "two policies: both allow");
	is_int(atomic_load(&idp->calls) - base, 5, "both share one introspection");
	ok(metric("policy=\"both\",reason=\"invalid_token\",mode=\"enforce\"} 2"),
	   "the local refusals are counted");
	side_down(&a);
	shared_down();
	free(jwk);
	free(tok);
	free(bad);
	free(unknown);
	free(expired);
	free(writer);
	free(revoked);
	free(pair);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
}

/* ---- the single-flight shutdown race ---- */

struct tcache_waiter *__real_tcache_complete(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
					     struct claims *c, double ttl, double now);

static struct authz *free_in_complete; /* freed right after the waiters are dequeued */

struct tcache_waiter *__wrap_tcache_complete(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
					     struct claims *c, double ttl, double now)
{
	struct tcache_waiter *w = __real_tcache_complete(tc, key, c, ttl, now);

	if (free_in_complete) {
		authz_free(free_in_complete); /* the waiter's worker shuts down now */
		free_in_complete = NULL;
	}
	return w;
}

static void test_waiter_after_owner_freed(void)
{
	char one[1024];
	struct side a, b;
	struct authz_req rq = {.method = SLICE_LIT("GET"),
			       .path = SLICE_LIT("/x"),
			       .host = SLICE_LIT("h"),
			       .route = SLICE_LIT("r"),
			       .authorization = SLICE_LIT("Bearer shared-token")};
	struct authz_ticket t = {.conn_id = 7, .stream_id = 1, .frame_id = 1};
	struct verdict v;
	struct tcache_stats ts;

	/* Port 1 on loopback: the fetch never completes before shutdown. */
	shared_up("", policy(one, sizeof(one), "p", "r", "enforce", "http://127.0.0.1:1/i", ""));
	side_up(&a, 0);
	side_up(&b, 1);
	is_int(authz_decide(a.az, &rq, &t, &v), 0, "worker A leads the fetch");
	is_int(authz_decide(b.az, &rq, &t, &v), 0, "worker B waits behind it");
	tcache_stats(authz_shared_cache(sh), &ts);
	is_int(ts.waits, 1, "B is queued on A's fetch");
	/* A shuts down: its fetch is cancelled and completes; B shuts down in
	 * between, so its request is orphaned and freed with worker B. */
	free_in_complete = b.az;
	authz_free(a.az);
	ok(free_in_complete == NULL, "B's module was freed inside A's completion");
	is_int(a.ans.n, 1, "A's own request was answered");
	is_str(a.ans.v.reason, "introspection_error", "with introspection_error");
	is_int(b.ans.n, 0, "B's orphaned request is not answered");
	mailbox_free(b.mb); /* the late result B was posted: only frees the request */
	mailbox_free(a.mb);
	ev_loop_destroy(a.loop);
	ev_loop_destroy(b.loop);
	verdict_release(&a.ans.v);
	shared_down();
}

int main(void)
{
	struct idp idp;
	char url[64];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_authz.XXXXXX");
	if (!mkdtemp(tmpdir) || http_client_global_init() < 0) {
		perror("setup");
		return 2;
	}
	log_set_level(LOG_LVL_ERROR); /* decision lines are not what is tested */
	idp_start(&idp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/introspect", idp.port);
	test_public_and_default_deny(url);
	test_shadow_only_default_deny(url);
	test_token_keys_skip_public(url);
	test_too_many(url);
	test_cache_timeout(&idp, url);
	test_jwt_then_introspection(&idp, url);
	test_waiter_after_owner_freed();
	idp_stop(&idp);
	http_client_global_cleanup();
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/p.yaml", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	return done_testing("authz");
}

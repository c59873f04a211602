/* test_authz_fetch.c - single-flight, reloads and cache lifetimes (the
 * fetch's concern, authz_fetch.c), through authz.h with a fake clock and a
 * fake HTTP client (authz_fake.h): every worker runs on this thread with its
 * own loop and mailbox, so the test chooses exactly when the one call
 * completes and when each worker's loop runs.
 *
 * Pins: concurrent requests for one token, on one worker or two, make one
 * call and are all answered, a waiter on its own worker's loop only; the
 * leader's failure, or its negative answer, reaches every waiter
 * (introspection_error, or stale within staleIfError; inactive_token); with
 * the cache off every request makes its own call; a waiter whose worker
 * shuts down is never touched again, and a waiter whose leader's worker
 * shuts down gets introspection_error; a reload does not change the
 * policies under a waiting request; a positive answer lives until
 * cacheTimeout or the token's exp, whichever is first, a negative one for
 * negativeCacheTimeout; a jwt + introspection policy's waiters on two
 * workers share one call after the local check, and a JWT refused locally
 * makes none. */
#include "authz_fake.h"
#include "jwt_fixture.h"

#include "prom.h"

#define CFG "leeway: 0s\n"

static void one_policy(const char *extra)
{
	char y[2048];

	shared_up(CFG, policy(y, sizeof(y), "p", "r", extra));
}

static unsigned waits(void)
{
	struct tcache_stats ts;

	tcache_stats(authz_shared_cache(sh), &ts);
	return (unsigned)ts.waits;
}

static bool metric(const char *needle)
{
	struct prom_buf pb = {0};
	bool found;

	stats_render(st, &pb);
	found = pb.p && strstr(pb.p, needle);
	prom_free(&pb);
	return found;
}

/* Requests ids [from, to) on <s> are each answered once with <reason>. */
static void all_answered(const struct side *s, unsigned from, unsigned to, bool allowed, int status,
			 const char *reason, const char *what)
{
	unsigned good = 0;

	for (unsigned i = from; i < to; i++)
		good += s->times[i] == 1 && s->v[i].allowed == allowed &&
			s->v[i].status == status && s->v[i].reason &&
			strcmp(s->v[i].reason, reason) == 0;
	is_int(good, to - from, what);
}

static void submit_n(struct side *s, unsigned from, unsigned to, const char *token,
		     const char *what)
{
	unsigned waiting = 0;

	for (unsigned i = from; i < to; i++)
		waiting += submit(s, i, "r", token) == 0;
	is_int(waiting, to - from, what);
}

static void test_one_worker(void)
{
	struct side a;
	unsigned posts = fk.posts;

	one_policy("");
	side_up(&a);
	submit_n(&a, 0, 5, "sf-1", "five requests for one token all wait");
	is_int(fk.posts - posts, 1, "one worker: one call for five requests");
	is_int(waits(), 4, "four queue behind the first");
	fake_settle();
	all_answered(&a, 0, 5, true, 200, "ok", "all five answered ok, once each");
	is_int(submit(&a, 10, "r", "sf-1"), 1, "the next one is a cache hit");
	is_int(fk.posts - posts, 1, "and makes no call");
	side_down(&a);
	shared_down();
}

static void test_two_workers(void)
{
	struct side a, b;
	unsigned posts = fk.posts;

	one_policy("");
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 3, "sf-2", "worker A: three wait");
	submit_n(&b, 0, 3, "sf-2", "worker B: three wait");
	is_int(fk.posts - posts, 1, "two workers: one call for six requests");
	is_int(fk.npending, 1, "which is pending");
	fake_answer(0);
	is_int(a.answers, 1, "the leader is answered by its own fetch");
	is_int(b.answers, 0, "B's waiters are not answered on A's thread");
	side_pump(&a);
	side_pump(&b);
	all_answered(&a, 0, 3, true, 200, "ok", "A: all answered ok once their loop ran");
	all_answered(&b, 0, 3, true, 200, "ok", "B: all answered ok once their loop ran");
	ok(b.v[2].claims && strcmp(b.v[2].claims->sub, "alice") == 0,
	   "a waiter gets the leader's claims");
	side_down(&a);
	side_down(&b);
	shared_down();
}

static void inactive(const struct fake_call *c, struct fake_reply *r)
{
	(void)c;
	r->body = INACTIVE;
}

/* The leader's negative answer is every waiter's, and is cached. */
static void test_negative_shared(void)
{
	struct side a, b;
	unsigned posts = fk.posts;

	one_policy("");
	fk.respond = inactive;
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 2, "sf-9", "A: two wait");
	submit_n(&b, 0, 2, "sf-9", "B: two wait");
	fake_settle();
	all_answered(&a, 0, 2, false, 401, "inactive_token", "inactive: A's all 401");
	all_answered(&b, 0, 2, false, 401, "inactive_token", "inactive: B's all 401");
	is_int(submit(&b, 2, "r", "sf-9"), 1, "then a negative cache hit");
	is_int(fk.posts - posts, 1, "one call in all");
	side_down(&a);
	side_down(&b);
	shared_down();
}

/* cacheEntries: 0 turns the cache (and so single-flight) off: every
 * request makes its own call, and all are answered. */
static void test_no_cache(void)
{
	char y[2048];
	struct side a;
	unsigned posts = fk.posts;

	shared_up("cacheEntries: 0\n", policy(y, sizeof(y), "p", "r", ""));
	side_up(&a);
	ok(authz_shared_cache(sh) == NULL, "no cache");
	submit_n(&a, 0, 3, "sf-10", "three wait");
	is_int(fk.posts - posts, 3, "without a cache: one call each");
	fake_settle();
	all_answered(&a, 0, 3, true, 200, "ok", "all answered ok");
	side_down(&a);
	shared_down();
}

static void fail_500(const struct fake_call *c, struct fake_reply *r)
{
	(void)c;
	r->status = 500;
}

static void test_leader_fails(void)
{
	struct side a, b;
	unsigned posts = fk.posts;

	one_policy("");
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 3, "sf-3", "A: three wait");
	submit_n(&b, 0, 3, "sf-3", "B: three wait");
	fake_fail(0, HTTP_CLIENT_ERR_CONNECT);
	fake_settle();
	all_answered(&a, 0, 3, false, 503, "introspection_error", "leader fails: A's all 503");
	all_answered(&b, 0, 3, false, 503, "introspection_error", "leader fails: B's all 503");
	/* Not cached: the next request leads a new call; an HTTP error status
	 * fails the same way. */
	fk.respond = fail_500;
	submit_n(&b, 3, 5, "sf-3", "B: two more wait");
	is_int(fk.posts - posts, 2, "a failure is not cached: a second call");
	fake_settle();
	all_answered(&b, 3, 5, false, 503, "introspection_error", "HTTP 500: both 503");
	side_down(&a);
	side_down(&b);
	shared_down();
}

static void test_leader_fails_stale(void)
{
	struct side a, b;

	one_policy("            cacheTimeout: 10s\n            staleIfError: 1m\n");
	side_up(&a);
	side_up(&b);
	ask(&a, "r", "sf-4");
	fk.now += 20; /* expired, within staleIfError */
	submit_n(&a, 0, 3, "sf-4", "stale window: A's three wait for a refresh");
	submit_n(&b, 0, 2, "sf-4", "stale window: B's two wait too");
	is_int(fk.npending, 1, "one refresh call");
	fake_fail(0, HTTP_CLIENT_ERR_TIMEOUT);
	fake_settle();
	all_answered(&a, 0, 3, true, 200, "stale", "refresh fails: A's all stale");
	all_answered(&b, 0, 2, true, 200, "stale", "refresh fails: B's all stale");
	ok(b.v[1].claims && strcmp(b.v[1].claims->sub, "alice") == 0,
	   "a stale waiter gets the cached claims");
	fk.now += 100; /* past the window */
	submit_n(&a, 3, 5, "sf-4", "past the window: A's two wait");
	submit_n(&b, 2, 4, "sf-4", "past the window: B's two wait");
	fake_fail(0, HTTP_CLIENT_ERR_TIMEOUT);
	fake_settle();
	all_answered(&a, 3, 5, false, 503, "introspection_error", "past staleIfError: A's 503");
	all_answered(&b, 2, 4, false, 503, "introspection_error", "past staleIfError: B's 503");
	side_down(&a);
	side_down(&b);
	shared_down();
}

/* B's worker shuts down while its requests wait behind A's fetch: they are
 * taken back from the cache, so A's completion never touches them. */
static void test_waiter_worker_shuts_down(void)
{
	struct side a, b;
	int freed;

	one_policy("");
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 1, "sf-5", "A leads");
	submit_n(&b, 0, 2, "sf-5", "B waits twice");
	is_int(waits(), 2, "B is queued");
	ok(metric("oauth2_spoa_singleflight_waiters 2\n"), "two waiters");
	side_free_module(&b);
	freed = b.answers;
	ok(metric("oauth2_spoa_singleflight_waiters 0\n"), "B's waiters are taken back");
	fake_settle();
	all_answered(&a, 0, 1, true, 200, "ok", "A is answered");
	is_int(b.answers, freed, "B's requests are not answered after its module is freed");
	ok(b.times[0] <= 1 && b.times[1] <= 1 && !b.v[0].allowed && !b.v[1].allowed,
	   "and never more than once, never allowed");
	is_int(submit(&a, 1, "r", "sf-5"), 1, "the result was cached for the others");
	side_down(&a);
	side_down(&b);
	shared_down();
}

/* A's worker (the leader's) shuts down while B waits: A's call is
 * cancelled, every request on it gets introspection_error, and B's next
 * request leads a call of its own. */
static void test_leader_worker_shuts_down(void)
{
	struct side a, b;
	unsigned posts = fk.posts;

	one_policy("");
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 2, "sf-6", "A leads and waits");
	submit_n(&b, 0, 2, "sf-6", "B waits");
	side_free_module(&a);
	is_int(fk.npending, 0, "A's call is cancelled");
	all_answered(&a, 0, 1, false, 503, "introspection_error",
		     "A's leading request is answered before the free returns");
	side_pump(&b);
	all_answered(&b, 0, 2, false, 503, "introspection_error", "B's waiters get 503");
	submit_n(&b, 2, 3, "sf-6", "B asks again");
	is_int(fk.posts - posts, 2, "and leads a new call");
	fake_settle();
	all_answered(&b, 2, 3, true, 200, "ok", "which answers");
	side_down(&a);
	side_down(&b);
	shared_down();
}

/* Requests waiting when a reload publishes new policies are answered under
 * the snapshot they started with; those started after it, under the new
 * one, although all wait for the same call. */
static void test_reload_while_waiting(void)
{
	char y[2048];
	struct side a, b;
	unsigned posts = fk.posts;

	shared_up(CFG, policy(y, sizeof(y), "v1", "r", ""));
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 2, "sf-7", "v1: A waits");
	submit_n(&b, 0, 2, "sf-7", "v1: B waits");
	shared_publish(CFG,
		       policy(y, sizeof(y), "v2", "r", "            requiredScopes: [write]\n"));
	submit_n(&a, 2, 3, "sf-7", "v2: A waits");
	submit_n(&b, 2, 3, "sf-7", "v2: B waits");
	is_int(fk.posts - posts, 1, "one call for the same endpoint and token across the reload");
	fake_settle();
	all_answered(&a, 0, 2, true, 200, "ok", "A's started under v1: v1's answer");
	all_answered(&b, 0, 2, true, 200, "ok", "B's started under v1: v1's answer");
	is_str(b.v[1].policy, "v1", "named after v1's policy");
	all_answered(&a, 2, 3, false, 403, "insufficient_scope", "A's started under v2: refused");
	all_answered(&b, 2, 3, false, 403, "insufficient_scope", "B's started under v2: refused");
	is_str(b.v[2].policy, "v2", "by v2's policy");
	/* A reload that removes the policy under a waiting request. */
	submit_n(&a, 3, 4, "sf-8", "v2: A waits");
	shared_publish(CFG, PUBLIC("v3", "other"));
	is_int(submit(&a, 4, "r", "sf-8"), 1, "v3: nothing applies, answered at once");
	fake_settle();
	all_answered(&a, 3, 4, false, 403, "insufficient_scope", "v2's request still v2's answer");
	all_answered(&a, 4, 5, true, 200, "no_policy", "v3's request: no_policy");
	side_down(&a);
	side_down(&b);
	shared_down();
}

/* ---- lifetimes, on the fake clock ---- */

static void respond_ttl(const struct fake_call *c, struct fake_reply *r)
{
	static char buf[256];

	if (strcmp(c->token, "ttl-neg") == 0) {
		r->body = INACTIVE;
		return;
	}
	/* ttl-exp30: exp 30 s after the start; others 300 s. */
	snprintf(buf, sizeof(buf), "{\"active\":true,\"sub\":\"alice\",\"exp\":%lld}",
		 (long long)FAKE_T0 + (strcmp(c->token, "ttl-exp30") == 0 ? 30 : 300));
	r->body = buf;
}

/* Asks at <at> seconds after the start; checks the reason and whether a
 * call was made. */
static void ask_at(struct side *a, double at, const char *token, const char *reason, bool called,
		   const char *what)
{
	unsigned posts = fk.posts;

	fk.now = FAKE_T0 + at;
	is_str(ask(a, "r", token)->reason, reason, what);
	is_int(fk.posts - posts, called, what);
}

static void test_ttl(void)
{
	struct side a;

	one_policy("            cacheTimeout: 60s\n            negativeCacheTimeout: 5s\n");
	fk.respond = respond_ttl;
	side_up(&a);
	ask_at(&a, 0, "ttl-long", "ok", true, "cacheTimeout first: first call");
	ask_at(&a, 59.9, "ttl-long", "ok", false, "cacheTimeout first: hit before 60s");
	ask_at(&a, 60, "ttl-long", "ok", true, "cacheTimeout first: expired at 60s");
	ask_at(&a, 60.5, "ttl-long", "ok", false, "cached again");

	ask_at(&a, 0, "ttl-exp30", "ok", true, "exp first: first call");
	ask_at(&a, 29.9, "ttl-exp30", "ok", false, "exp first: hit before exp");
	ask_at(&a, 30, "ttl-exp30", "inactive_token", true,
	       "exp first: expired at exp, not at cacheTimeout");

	ask_at(&a, 0, "ttl-neg", "inactive_token", true, "negative: first call");
	ask_at(&a, 4.9, "ttl-neg", "inactive_token", false, "negative: hit before 5s");
	ask_at(&a, 5, "ttl-neg", "inactive_token", true, "negative: expired at 5s");
	side_down(&a);
	shared_down();
}

/* jwt + introspection: the JWT step runs on each worker (the second from
 * the cache), the introspection step under one single-flight. */
static void test_jwt_then_introspection(void)
{
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *jwk = fx_jwk(ec, "e1", ""),
	     hdr[] = "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}";
	char pl[256], extra[1024], y[4096], *tok, *bad, *gone;
	struct side a, b;
	unsigned posts = fk.posts;

	snprintf(extra, sizeof(extra),
		 "            jwt:\n              localJwks: {inlineString: '{\"keys\":[%s]}'}\n",
		 jwk);
	shared_up(CFG, policy(y, sizeof(y), "p", "r", extra));
	snprintf(pl, sizeof(pl), "{\"sub\":\"alice-jwt\",\"jti\":\"1\",\"iat\":%.0f,\"exp\":%.0f}",
		 fk.now - 10, fk.now + 600);
	tok = fx_sign(ec, "ES256", hdr, pl, NULL);
	snprintf(pl, sizeof(pl), "{\"sub\":\"alice-jwt\",\"jti\":\"2\",\"iat\":%.0f,\"exp\":%.0f}",
		 fk.now - 10, fk.now + 600);
	gone = fx_sign(ec, "ES256", hdr, pl, NULL);
	bad = strdup(tok);
	bad[strlen(bad) - 10] = bad[strlen(bad) - 10] == 'A' ? 'B' : 'A';
	side_up(&a);
	side_up(&b);
	submit_n(&a, 0, 3, tok, "jwt + introspection, worker A: three wait");
	submit_n(&b, 0, 3, tok, "jwt + introspection, worker B: three wait");
	is_int(fk.posts - posts, 1, "one introspection call for six requests");
	fake_settle();
	all_answered(&a, 0, 3, true, 200, "ok", "A: all allowed once introspected");
	all_answered(&b, 0, 3, true, 200, "ok", "B: all allowed once introspected");
	ok(b.v[1].claims && strcmp(b.v[1].claims->sub, "alice") == 0,
	   "a waiter gets the introspection answer's identity");
	is_int(submit(&a, 5, "r", bad), 1, "a tampered JWT is answered at once");
	verdict_is(&a.v[5], false, 401, "invalid_token", "p", "tampered: invalid_token");
	is_int(fk.posts - posts, 1, "and is never introspected");
	fk.respond = inactive;
	submit_n(&a, 6, 8, gone, "revoked, worker A: two wait");
	submit_n(&b, 6, 8, gone, "revoked, worker B: two wait");
	is_int(fk.posts - posts, 2, "one call for the revoked token");
	fake_settle();
	all_answered(&a, 6, 8, false, 401, "inactive_token",
		     "A: the IdP's inactive answer decides");
	all_answered(&b, 6, 8, false, 401, "inactive_token",
		     "B: the IdP's inactive answer decides");
	side_down(&a);
	side_down(&b);
	shared_down();
	free(jwk);
	free(tok);
	free(bad);
	free(gone);
	EVP_PKEY_free(ec);
}

int main(void)
{
	fake_init("test_authz_fetch");
	test_one_worker();
	test_two_workers();
	test_leader_fails();
	test_negative_shared();
	test_no_cache();
	test_leader_fails_stale();
	test_waiter_worker_shuts_down();
	test_leader_worker_shuts_down();
	test_reload_while_waiting();
	test_ttl();
	test_jwt_then_introspection();
	is_int((int)fk.npending, 0, "no introspection call left pending");
	is_int((int)fk.clients, 0, "every HTTP client freed");
	fake_cleanup();
	return done_testing("authz_fetch");
}

/* test_validator_userinfo.c - the userinfo step (validator_userinfo.c)
 * through the decision pipeline, with a fake clock and a fake HTTP client
 * (authz_fake.h) that answers the introspection POST and the userinfo GET.
 *
 * Pins: after introspection, a GET with the token as its bearer credential;
 * a 200 JSON object's claims reach the mapping (the identity and the checks
 * stay the introspection answer's); a hit makes no call; 401 and 403 are
 * inactive_token, cached; another status, a transport error, bad JSON and a
 * non-object are introspection_error, never cached, counted under the
 * userinfo URL; a "sub" other than the introspection answer's is refused
 * (cached answer or not); an inactive token, or one the policy's checks
 * refuse (requiredScopes), is never sent to userinfo; two
 * requests for one token make one GET (single-flight); alone, a 200 allows
 * and its "sub" is the subject; a worker shutting down between the two
 * calls starts no GET. */
#include "authz_fake.h"

#include "prom.h"

#define CFG	 "leeway: 0s\n"
#define UI_URL	 "http://idp.test/userinfo"
#define UI_EXTRA "            userinfoUrl: " UI_URL "\n"
#define MAP	 "            dynamicMetadataFromClaims: {email: email, client_id: cid}\n"

static unsigned gets; /* userinfo GETs answered */

/* Introspection: every token active as alice, but "tok-inactive". Userinfo:
 * by token. */
static void respond(const struct fake_call *c, struct fake_reply *r)
{
	if (!c->get) {
		if (!strcmp(c->token, "tok-inactive"))
			r->body = INACTIVE;
		return;
	}
	gets++;
	ok(!strcmp(c->url, UI_URL), "the GET goes to userinfoUrl");
	r->body = "{\"sub\":\"alice\",\"email\":\"alice@example.test\"}";
	if (!strcmp(c->token, "tok-401"))
		r->status = 401;
	else if (!strcmp(c->token, "tok-403"))
		r->status = 403;
	else if (!strcmp(c->token, "tok-500"))
		r->status = 500;
	else if (!strcmp(c->token, "tok-garbage"))
		r->body = "<html>not json</html>";
	else if (!strcmp(c->token, "tok-array"))
		r->body = "[{\"sub\":\"alice\"}]";
	else if (!strcmp(c->token, "tok-bob"))
		r->body = "{\"sub\":\"bob\",\"email\":\"bob@example.test\"}";
	else if (!strcmp(c->token, "tok-nosub"))
		r->body = "{\"email\":\"x@example.test\"}";
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

/* The value a verdict sends for mapped variable <name> (first source). */
static const char *mapped(const struct verdict *v, const char *name)
{
	const struct claims *src[1 + VERDICT_MAX_MORE] = {v->claims};

	for (unsigned i = 0; i < v->n_more; i++)
		src[1 + i] = v->more[i];
	for (unsigned k = 0; k < 1 + v->n_more; k++)
		for (size_t i = 0; src[k] && src[k]->mapped && i < src[k]->mapped->n; i++)
			if (!strcmp(src[k]->mapped->v[i].name, name))
				return src[k]->mapped->v[i].value;
	return NULL;
}

static void up(const char *extra)
{
	char y[2048];

	fk.respond = respond;
	shared_up(CFG, policy(y, sizeof(y), "p", "r", extra));
}

static void test_claims_and_hit(void)
{
	struct side a;
	unsigned posts = fk.posts, g = gets;
	const struct verdict *v;

	up(UI_EXTRA MAP "            requiredScopes: [read]\n");
	side_up(&a);
	v = ask(&a, "r", "tok-ok");
	verdict_is(v, true, 200, "ok", "p", "introspection + userinfo: allowed");
	is_int(fk.posts - posts, 2, "one POST, then one GET");
	is_int(gets - g, 1, "the GET is the userinfo call");
	is_str(mapped(v, "email"), "alice@example.test", "the userinfo claim is mapped");
	is_str(mapped(v, "cid"), "svc", "and the introspection answer's");
	ok(v->claims && v->claims->client_id && !strcmp(v->claims->client_id, "svc") &&
	       v->claims->scope && !strcmp(v->claims->scope, "read"),
	   "the identity sent upstream is the introspection answer's");
	v = ask(&a, "r", "tok-ok");
	is_int(fk.posts - posts, 2, "a cache hit: no call at all");
	verdict_is(v, true, 200, "ok", "p", "the hit allows");
	is_str(mapped(v, "email"), "alice@example.test", "with the same variables");
	ok(metric("oauth2_spoa_introspection_calls_total{endpoint=\"" UI_URL "\",outcome=\"ok\"} "
		  "1\n"),
	   "the userinfo call is counted under its URL");
	side_down(&a);
	shared_down();
}

static void test_refusals(void)
{
	static const struct {
		const char *tok;
		bool cached;
		int status;
		const char *reason, *what;
	} cases[] = {
	    {"tok-401", true, 401, "inactive_token", "userinfo 401: inactive_token"},
	    {"tok-403", true, 401, "inactive_token", "userinfo 403: inactive_token"},
	    {"tok-500", false, 503, "introspection_error", "userinfo 500: introspection_error"},
	    {"tok-garbage", false, 503, "introspection_error", "not JSON: introspection_error"},
	    {"tok-array", false, 503, "introspection_error", "not an object: introspection_error"},
	    {"tok-bob", true, 503, "introspection_error", "another sub: refused"},
	};
	struct side a;

	up(UI_EXTRA "            negativeCacheTimeout: 30s\n");
	side_up(&a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned g = gets;

		verdict_is(ask(&a, "r", cases[i].tok), false, cases[i].status, cases[i].reason, "p",
			   cases[i].what);
		verdict_is(ask(&a, "r", cases[i].tok), false, cases[i].status, cases[i].reason, "p",
			   cases[i].what);
		is_int(gets - g, cases[i].cached ? 1 : 2,
		       cases[i].cached ? "a definite answer is cached" : "a failure is not cached");
	}
	verdict_is(ask(&a, "r", "tok-nosub"), true, 200, "ok", "p",
		   "an answer without sub: nothing to compare");
	ok(metric("oauth2_spoa_introspection_calls_total{endpoint=\"" UI_URL
		  "\",outcome=\"http_status\"} 2\n"),
	   "the 500s are counted");
	ok(metric("oauth2_spoa_introspection_calls_total{endpoint=\"" UI_URL
		  "\",outcome=\"bad_response\"} 4\n"),
	   "the bad answers are counted");
	side_down(&a);
	shared_down();
}

static void test_transport_and_inactive(void)
{
	struct side a;
	unsigned g = gets;

	up(UI_EXTRA);
	side_up(&a);
	is_int(submit(&a, 0, "r", "tok-t"), 0, "waits for introspection");
	fake_answer(0);
	is_int((int)fk.npending, 1, "then for the userinfo GET");
	ok(fk.npending && fk.pending[0]->get && !strcmp(fk.pending[0]->token, "tok-t"),
	   "a GET carrying the token as its bearer credential");
	fake_fail(0, HTTP_CLIENT_ERR_TIMEOUT);
	verdict_is(&a.v[0], false, 503, "introspection_error", "p",
		   "a timeout: introspection_error");
	fake_settle();
	is_int(a.times[0], 1, "answered once");
	verdict_is(ask(&a, "r", "tok-inactive"), false, 401, "inactive_token", "p",
		   "an inactive token is refused by introspection");
	is_int(gets - g, 0, "and never sent to userinfo");
	side_down(&a);
	shared_down();
}

/* The policy's checks run before userinfo: a token they refuse is not sent. */
static void test_checks_first(void)
{
	struct side a;
	unsigned g = gets;

	up(UI_EXTRA "            requiredScopes: [write]\n");
	side_up(&a);
	verdict_is(ask(&a, "r", "tok-ok"), false, 403, "insufficient_scope", "p",
		   "a scope the token lacks: insufficient_scope");
	is_int(gets - g, 0, "and no userinfo call");
	side_down(&a);
	shared_down();
}

static void test_single_flight(void)
{
	struct side a, b;
	unsigned g = gets;

	up(UI_EXTRA MAP);
	side_up(&a);
	side_up(&b);
	is_int(submit(&a, 0, "r", "tok-sf"), 0, "A leads");
	is_int(submit(&b, 0, "r", "tok-sf"), 0, "B waits");
	is_int(submit(&a, 1, "r", "tok-sf"), 0, "A's second waits");
	fake_settle();
	is_int(gets - g, 1, "three requests, one GET");
	verdict_is(&a.v[0], true, 200, "ok", "p", "the leader is allowed");
	verdict_is(&a.v[1], true, 200, "ok", "p", "its waiter too");
	verdict_is(&b.v[0], true, 200, "ok", "p", "the other worker's waiter too");
	is_str(mapped(&b.v[0], "email"), "alice@example.test", "with the userinfo claims");
	side_down(&a);
	side_down(&b);
	shared_down();
}

/* A policy with only userinfoUrl: its 200 is the proof. */
static void test_alone(void)
{
	char y[2048];
	struct side a;
	const struct verdict *v;

	snprintf(y, sizeof(y),
		 "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: u}\n"
		 "spec:\n  applyToRoutes:\n  - route: {labels: {route: u}}\n"
		 "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
		 "          accessTokenValidation:\n" UI_EXTRA MAP);
	fk.respond = respond;
	shared_up(CFG, y);
	side_up(&a);
	v = ask(&a, "u", "tok-ok");
	verdict_is(v, true, 200, "ok", "u", "userinfo alone: a 200 allows");
	ok(v->claims && v->claims->sub && !strcmp(v->claims->sub, "alice"),
	   "its sub is the subject");
	is_str(mapped(v, "email"), "alice@example.test", "its claims are mapped");
	verdict_is(ask(&a, "u", "tok-401"), false, 401, "inactive_token", "u",
		   "userinfo alone: a 401 refuses");
	verdict_is(ask(&a, "u", "tok-bob"), true, 200, "ok", "u", "alone, no sub to compare with");
	side_down(&a);
	shared_down();
}

/* The worker shuts down while introspection is in flight: the cancelled
 * call ends the request, and no GET starts on a client being freed. */
static void test_shutdown(void)
{
	struct side a;

	up(UI_EXTRA);
	side_up(&a);
	is_int(submit(&a, 0, "r", "tok-sd"), 0, "waits for introspection");
	side_free_module(&a);
	is_int((int)fk.npending, 0, "no call left, no GET started");
	side_down(&a);
	shared_down();
}

int main(void)
{
	fake_init("test_validator_userinfo");
	test_claims_and_hit();
	test_refusals();
	test_transport_and_inactive();
	test_checks_first();
	test_single_flight();
	test_alone();
	test_shutdown();
	is_int((int)fk.npending, 0, "no call left pending");
	is_int((int)fk.clients, 0, "every HTTP client freed");
	fake_cleanup();
	return done_testing("validator_userinfo");
}

/* test_authz_answer.c - every reason the decision pipeline gives, through
 * authz.h, with the status, the allowed flag, the policy and the exact RFC
 * 6750 WWW-Authenticate challenge HAProxy receives (authz_answer.c's
 * concern), driven by a fake clock and a fake HTTP client (authz_fake.h).
 *
 * The last checks fail when reason.h gains a reason that no case here
 * produces. */
#include "authz_fake.h"
#include "jwt_fixture.h"
#include "reason.h"

#define CH		  "Bearer realm=\"oauth2-spoa\""
#define CH_ERR(err, desc) CH ", error=\"" err "\", error_description=\"" desc "\""
#define CH_INVALID(desc)  CH_ERR("invalid_token", desc)
#define CH_NONE		  ""

static bool seen[AUTHZ_REASON_COUNT];

static enum authz_reason reason_of(const char *name)
{
	for (int r = 0; r < AUTHZ_REASON_COUNT; r++)
		if (strcmp(name, reason_name((enum authz_reason)r)) == 0)
			return (enum authz_reason)r;
	return AUTHZ_REASON_COUNT;
}

static void mark_seen(const char *reason)
{
	for (int r = 0; r < AUTHZ_REASON_COUNT; r++)
		if (reason && strcmp(reason, reason_name((enum authz_reason)r)) == 0)
			seen[r] = true;
}

/* One request and everything HAProxy gets back. */
struct row {
	const char *what;
	const char *route, *path, *auth; /* route NULL: no route argument */
	bool allowed;
	int status;
	const char *reason, *policy, *challenge;
};

static void check(const struct side *s, const struct verdict *v, const struct row *r)
{
	(void)s;
	mark_seen(v->reason);
	verdict_is(v, r->allowed, r->status, r->reason, r->policy, r->what);
	is_str(v->www_authenticate, r->challenge, r->what);
	if (!r->allowed)
		ok(v->claims == NULL, "a denied answer carries no identity");
	else if (strcmp(r->reason, "ok") == 0 || strcmp(r->reason, "stale") == 0)
		ok(v->claims && v->claims->sub && strcmp(v->claims->sub, "alice") == 0,
		   "an allowed answer carries the identity");
}

static void run_row(struct side *s, const struct row *r)
{
	static unsigned id;
	unsigned k = id++ % FAKE_MAX_REQ;
	int before = s->times[k];

	submit_path(s, k, r->route, r->path ? r->path : "/x", r->auth);
	fake_settle();
	if (!ok(s->times[k] == before + 1, "answered exactly once"))
		return;
	check(s, &s->v[k], r);
}

static EVP_PKEY *sig_key; /* the IdP's RFC 9701 signing key */

/* The signed endpoint (p-signed): t-ok gets a good RFC 9701 answer, any
 * other token a plain JSON one. */
static void respond_signed(const struct fake_call *c, struct fake_reply *r)
{
	static char *tok, pl[512];

	if (strcmp(c->token, "t-ok") != 0) {
		r->body = "{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\"}";
		return;
	}
	snprintf(pl, sizeof(pl),
		 "{\"iss\":\"https://idp.test/\",\"aud\":\"c1\",\"iat\":%lld,"
		 "\"token_introspection\":{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\"}}",
		 (long long)fk.now);
	free(tok);
	tok = fx_sign(sig_key, "ES256",
		      "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"token-introspection+jwt\"}", pl,
		      NULL);
	r->body = tok;
	r->content_type = "application/token-introspection+jwt";
}

/* The IdP: the token's name says what it answers. */
static void respond(const struct fake_call *c, struct fake_reply *r)
{
	static char buf[512];

	if (strstr(c->url, "/signed")) {
		respond_signed(c, r);
		return;
	}

	if (strcmp(c->token, "t-inactive") == 0)
		r->body = INACTIVE;
	else if (strcmp(c->token, "t-expired") == 0) {
		snprintf(buf, sizeof(buf),
			 "{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\",\"exp\":%lld}",
			 (long long)fk.now - 10);
		r->body = buf;
	} else if (strcmp(c->token, "t-early") == 0) {
		snprintf(buf, sizeof(buf),
			 "{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\",\"nbf\":%lld}",
			 (long long)fk.now + 600);
		r->body = buf;
	} else if (strcmp(c->token, "t-aud") == 0)
		r->body =
		    "{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\",\"aud\":\"other\"}";
	else if (strcmp(c->token, "t-iss") == 0)
		r->body = "{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\","
			  "\"iss\":\"https://evil.test/\"}";
	else if (strcmp(c->token, "t-refresh") == 0)
		r->body = "{\"active\":true,\"sub\":\"alice\",\"token_use\":\"refresh_token\"}";
	else if (strcmp(c->token, "t-down") == 0 || strncmp(c->token, "t-stale", 7) == 0)
		r->err = HTTP_CLIENT_ERR_CONNECT;
	else if (strcmp(c->token, "t-500") == 0)
		r->status = 500;
	else if (strcmp(c->token, "t-badjson") == 0)
		r->body = "{\"active\":";
}

#define CFG "maxTokenLength: 32\nleeway: 0s\n"

static const char *const shadow_extra[] = {"", "            requiredScopes: [write]\n",
					   "            audiences: [api]\n",
					   "            issuers: ['https://idp.test/']\n"};

static char *policies(char *y, size_t n, const char *jwks)
{
	static char p[7][8192], sh4[4][1024], ps[8192];
	size_t len = 0;

	policy(p[0], sizeof(p[0]), "p-ok", "ok", "");
	policy(p[1], sizeof(p[1]), "p-scope", "scope", "            requiredScopes: [write]\n");
	policy(p[2], sizeof(p[2]), "p-aud", "aud", "            audiences: [api]\n");
	policy(p[3], sizeof(p[3]), "p-iss", "iss", "            issuers: ['https://idp.test/']\n");
	policy(p[4], sizeof(p[4]), "p-stale", "stale",
	       "            cacheTimeout: 10s\n            staleIfError: 1m\n");
	snprintf(p[5], sizeof(p[5]),
		 "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: p-jwt}\n"
		 "spec:\n  applyToRoutes:\n  - route: {labels: {route: jwt}}\n"
		 "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
		 "          accessTokenValidation:\n            jwt:\n"
		 "              localJwks: {inlineString: '%s'}\n",
		 jwks);
	/* Never bound to a fetched key set (no registry here): no keys yet. */
	snprintf(
	    p[6], sizeof(p[6]),
	    "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: p-rjwks}\n"
	    "spec:\n  applyToRoutes:\n  - route: {labels: {route: rjwt}}\n"
	    "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
	    "          accessTokenValidation:\n            jwt:\n"
	    "              remoteJwks: {url: 'http://127.0.0.1:1/jwks', refreshInterval: 5m}\n");
	/* RFC 9701: answers must be signed by the key of <jwks>. */
	snprintf(
	    ps, sizeof(ps),
	    "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: p-signed}\n"
	    "spec:\n  applyToRoutes:\n  - route: {labels: {route: signed}}\n"
	    "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
	    "          accessTokenValidation:\n            introspection:\n"
	    "              introspectionUrl: http://idp.test/signed\n"
	    "              clientId: c1\n              authMethod: none\n"
	    "              signedResponse:\n                issuer: https://idp.test/\n"
	    "                localJwks: {inlineString: '%s'}\n",
	    jwks);
	len += (size_t)snprintf(y + len, n - len, "%s%s%s%s%s%s%s%s%s", p[0], p[1], p[2], p[3],
				p[4], p[5], p[6], ps, PUBLIC("p-pub", "pub"));
	/* Shadow twins of p-ok, p-scope, p-aud and p-iss (see test_shadow()). */
	for (int i = 0; i < 4; i++) {
		static const char *const route[] = {"ok", "scope", "aud", "iss"};
		char name[16], r[16];

		snprintf(name, sizeof(name), "s-%s", route[i]);
		snprintf(r, sizeof(r), "s%s", route[i]);
		policy2(sh4[i], sizeof(sh4[i]), name, "shadow", r, NULL,
			"http://idp.test/introspect", shadow_extra[i]);
		len += (size_t)snprintf(y + len, n - len, "%s", sh4[i]);
	}
	for (int i = 0; i < 33; i++) { /* one more than a request can check */
		char name[16];

		snprintf(name, sizeof(name), "many%02d", i);
		len += (size_t)snprintf(y + len, n - len, "%s",
					policy(p[6], sizeof(p[6]), name, "many", ""));
	}
	return y;
}

static const struct row rows[] = {
    {"ok: active, every check passes", "ok", NULL, "Bearer t-ok", true, 200, "ok", "p-ok", CH_NONE},
    {"no_policy under defaultDecision allow", "none", NULL, NULL, true, 200, "no_policy", "",
     CH_NONE},
    {"public_route", "pub", NULL, NULL, true, 200, "public_route", "p-pub", CH_NONE},
    {"missing_token: no Authorization", "ok", NULL, NULL, false, 401, "missing_token", "p-ok", CH},
    {"missing_token: another scheme", "ok", NULL, "Basic dTpw", false, 401, "missing_token", "p-ok",
     CH},
    {"malformed_token: Bearer without a token", "ok", NULL, "Bearer", false, 401, "malformed_token",
     "p-ok",
     CH_ERR("invalid_request", "The Authorization header is not a valid bearer credential")},
    {"malformed_token: two tokens", "ok", NULL, "Bearer a b", false, 401, "malformed_token", "p-ok",
     CH_ERR("invalid_request", "The Authorization header is not a valid bearer credential")},
    {"token_too_long: 33 bytes, maxTokenLength 32", "ok", NULL,
     "Bearer 123456789012345678901234567890123", false, 401, "token_too_long", "p-ok",
     CH_INVALID("The access token is longer than this server accepts")},
    {"inactive_token: active false", "ok", NULL, "Bearer t-inactive", false, 401, "inactive_token",
     "p-ok", CH_INVALID("The access token is not active")},
    {"inactive_token: past exp", "ok", NULL, "Bearer t-expired", false, 401, "inactive_token",
     "p-ok", CH_INVALID("The access token is not active")},
    {"inactive_token: before nbf", "ok", NULL, "Bearer t-early", false, 401, "inactive_token",
     "p-ok", CH_INVALID("The access token is not active")},
    {"insufficient_scope", "scope", NULL, "Bearer t-ok", false, 403, "insufficient_scope",
     "p-scope",
     CH ", error=\"insufficient_scope\", error_description=\"The access token lacks a "
	"required scope\", scope=\"write\""},
    {"audience_mismatch", "aud", NULL, "Bearer t-aud", false, 403, "audience_mismatch", "p-aud",
     CH_INVALID("The access token is not meant for this resource")},
    {"audience_mismatch: no aud", "aud", NULL, "Bearer t-ok", false, 403, "audience_mismatch",
     "p-aud", CH_INVALID("The access token is not meant for this resource")},
    {"issuer_mismatch", "iss", NULL, "Bearer t-iss", false, 403, "issuer_mismatch", "p-iss",
     CH_INVALID("The access token was issued by an untrusted issuer")},
    {"issuer_mismatch: no iss", "iss", NULL, "Bearer t-ok", false, 403, "issuer_mismatch", "p-iss",
     CH_INVALID("The access token was issued by an untrusted issuer")},
    {"not_access_token: a refresh token", "ok", NULL, "Bearer t-refresh", false, 401,
     "not_access_token", "p-ok", CH_INVALID("The token is not an access token")},
    {"introspection_error: connect failed", "ok", NULL, "Bearer t-down", false, 503,
     "introspection_error", "p-ok", CH_NONE},
    {"introspection_error: HTTP 500", "ok", NULL, "Bearer t-500", false, 503, "introspection_error",
     "p-ok", CH_NONE},
    {"introspection_error: bad JSON", "ok", NULL, "Bearer t-badjson", false, 503,
     "introspection_error", "p-ok", CH_NONE},
    {"too_many_policies: 33 apply", "many", NULL, "Bearer t-ok", false, 500, "too_many_policies",
     "", CH_NONE},
    {"path_not_canonical: dot segment", "ok", "/a/../x", "Bearer t-ok", false, 400,
     "path_not_canonical", "", CH_NONE},
    {"path_not_canonical: also on a public route", "pub", "/a/%2e%2e/x", NULL, false, 400,
     "path_not_canonical", "", CH_NONE},
    {"route_unknown: no route argument", NULL, NULL, "Bearer t-ok", false, 403, "route_unknown", "",
     CH_NONE},
    {"jwks_unavailable: remoteJwks without a key set yet", "rjwt", NULL, "Bearer a.b.c", false, 503,
     "jwks_unavailable", "p-rjwks", CH_NONE},
    {"ok: a signed answer (RFC 9701)", "signed", NULL, "Bearer t-ok", true, 200, "ok", "p-signed",
     CH_NONE},
    {"introspection_unverified: plain JSON where signed is required", "signed", NULL,
     "Bearer t-plain", false, 503, "introspection_unverified", "p-signed", CH_NONE},
    {"invalid_token: not a JWS", "jwt", NULL, "Bearer not.a.jwt", false, 401, "invalid_token",
     "p-jwt", CH_INVALID("The access token is not a valid signed token")},
};

static void test_rows(const char *yaml)
{
	struct side a;
	unsigned posts;

	shared_up(CFG, yaml);
	fk.respond = respond;
	side_up(&a);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&a, &rows[i]);
	/* introspection_error is never cached: the next request asks again. */
	posts = fk.posts;
	run_row(&a, &(struct row){"introspection_error: asked again", "ok", NULL, "Bearer t-down",
				  false, 503, "introspection_error", "p-ok", CH_NONE});
	is_int((int)(fk.posts - posts), 1, "a failed introspection is not cached");
	posts = fk.posts;
	run_row(&a, &(struct row){"introspection_unverified: asked again", "signed", NULL,
				  "Bearer t-plain", false, 503, "introspection_unverified",
				  "p-signed", CH_NONE});
	is_int((int)(fk.posts - posts), 1, "a refused signed answer is not cached");
	posts = fk.posts;
	run_row(&a, &(struct row){"ok: the signed answer was cached", "signed", NULL, "Bearer t-ok",
				  true, 200, "ok", "p-signed", CH_NONE});
	is_int((int)(fk.posts - posts), 0, "a verified signed answer is cached");
	/* Refused before any byte is sent (max inflight reached). */
	fk.refuse = HTTP_CLIENT_ERR_OVERLOADED;
	run_row(&a, &(struct row){"introspection_error: refused at once (overloaded)", "ok", NULL,
				  "Bearer t-fresh", false, 503, "introspection_error", "p-ok",
				  CH_NONE});
	fk.refuse = 0;
	side_down(&a);
	shared_down();
}

/* staleIfError: a cached active answer past cacheTimeout is served when the
 * IdP fails, within the window only. */
static void test_stale(const char *yaml)
{
	struct side a;

	shared_up(CFG, yaml);
	side_up(&a);
	run_row(&a, &(struct row){"stale: first answer cached", "stale", NULL, "Bearer t-stale",
				  true, 200, "ok", "p-stale", CH_NONE});
	fk.respond = respond; /* from now on the IdP fails for t-stale */
	fk.now += 20;
	run_row(&a, &(struct row){"stale: IdP down, within staleIfError", "stale", NULL,
				  "Bearer t-stale", true, 200, "stale", "p-stale", CH_NONE});
	fk.now += 60;
	run_row(&a,
		&(struct row){"stale: IdP down, past staleIfError", "stale", NULL, "Bearer t-stale",
			      false, 503, "introspection_error", "p-stale", CH_NONE});
	side_down(&a);
	shared_down();
}

/* The same requests on shadow twins: every refusal is only reported
 * ("shadow:<reason>"), the request is allowed, no challenge is sent. */
static void test_shadow(const char *yaml)
{
	struct side a;
	unsigned n = 0;

	shared_up(CFG, yaml);
	fk.respond = respond;
	side_up(&a);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		char route[16], pol[16], what[128];
		struct row t = *r;

		if (!r->route || r->path ||
		    (strcmp(r->route, "ok") && strcmp(r->route, "scope") &&
		     strcmp(r->route, "aud") && strcmp(r->route, "iss")))
			continue;
		snprintf(route, sizeof(route), "s%s", r->route);
		snprintf(pol, sizeof(pol), "s-%s", r->route);
		snprintf(what, sizeof(what), "shadow: %s", r->what);
		t = (struct row){what, route, NULL, r->auth, true, 200, r->reason, pol, CH_NONE};
		if (strcmp(r->reason, "ok") != 0)
			t.reason = reason_shadow_name(reason_of(r->reason));
		run_row(&a, &t);
		n++;
	}
	is_int(n, 18, "every row on a token policy was also run in shadow mode");
	side_down(&a);
	shared_down();
}

static void test_default_deny(const char *yaml)
{
	struct side a;

	shared_up("defaultDecision: deny\n" CFG, yaml);
	side_up(&a);
	run_row(&a, &(struct row){"no_policy under defaultDecision deny", "none", NULL, NULL, false,
				  403, "no_policy", "", CH_NONE});
	run_row(&a, &(struct row){"defaultDecision deny leaves public routes", "pub", NULL, NULL,
				  true, 200, "public_route", "p-pub", CH_NONE});
	side_down(&a);
	shared_down();
}

int main(void)
{
	static char yaml[96 * 1024];
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *k = fx_jwk(ec, "e1", ""), jwks[4096];

	fake_init("test_authz_answer");
	snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", k);
	free(k);
	sig_key = ec;
	policies(yaml, sizeof(yaml), jwks);
	test_rows(yaml);
	test_stale(yaml);
	test_shadow(yaml);
	test_default_deny(yaml);
	for (int r = 0; r < AUTHZ_REASON_COUNT; r++) {
		char what[96];

		snprintf(what, sizeof(what), "reason %s is produced and checked",
			 reason_name((enum authz_reason)r));
		ok(seen[r], what);
	}
	is_int((int)fk.npending, 0, "no introspection call left pending");
	is_int((int)fk.clients, 0, "every HTTP client freed");
	EVP_PKEY_free(sig_key);
	fake_cleanup();
	return done_testing("authz_answer");
}

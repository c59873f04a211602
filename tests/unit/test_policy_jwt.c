/* test_policy_jwt.c - the accessTokenValidation.jwt block: localJwks as a
 * JWKS or a PEM key, algorithms, typ, issuer; bad remoteJwks settings, HS*,
 * none and bad key documents refused with the field named (a good
 * remoteJwks: test_jwt_remote.c); jwt + introspection loaded as both
 * steps; introspection.signedResponse (RFC 9701), which shares the key
 * settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jwt_fixture.h"
#include "policy.h"
#include "tap.h"

static char path[64];

#define HEAD                                                                                       \
	"apiVersion: security.policy.gloo.solo.io/v2\n"                                            \
	"kind: ExtAuthPolicy\n"                                                                    \
	"metadata: {name: p}\n"                                                                    \
	"spec:\n"                                                                                  \
	"  config:\n"                                                                              \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation:\n"                                                       \
	"            jwt:\n"

static struct policy_set *load(const char *yaml, struct err *e)
{
	FILE *f = fopen(path, "w");
	const char *pv[1] = {path};
	struct policy_set *set = NULL;

	if (!f || fputs(yaml, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
	memset(e, 0, sizeof(*e));
	return policy_set_load(pv, 1, &set, e) ? NULL : set;
}

static void expect_err(const char *yaml, const char *msg, const char *what)
{
	struct err e;
	struct policy_set *set = load(yaml, &e);

	ok(set == NULL, what);
	policy_set_free(set);
	if (!ok(strstr(e.msg, msg) != NULL, what))
		printf("#   message \"%s\" lacks \"%s\"\n", e.msg, msg);
}

static void test_good(const char *jwks, const char *pem)
{
	char y[16384];
	struct err e;
	struct policy_set *set;
	const struct policy_jwt *pj;

	snprintf(y, sizeof(y),
		 HEAD "              issuer: https://idp.test/\n"
		      "              algorithms: [ES256, EdDSA]\n"
		      "              typ: jwt\n"
		      "              localJwks: {inlineString: '%s'}\n"
		      "            audiences: [api]\n",
		 jwks);
	set = load(y, &e);
	if (!ok(set != NULL, "a jwt policy loads"))
		printf("#   %s (line %d)\n", e.msg, e.line);
	pj = set ? policy_jwt(policy_set_get(set, 0)) : NULL;
	ok(pj && pj->keys, "policy_jwt() has the key set");
	is_int(pj ? pj->rules.algs : 0, JWT_ALG_ES256 | JWT_ALG_EDDSA, "algorithms");
	ok(pj && pj->rules.typ_lenient, "typ: jwt is lenient");
	ok(pj && pj->rules.issuer && strcmp(pj->rules.issuer, "https://idp.test/") == 0, "issuer");
	ok(set && !policy_introspection(policy_set_get(set, 0)), "no introspection endpoint");
	policy_set_free(set);

	snprintf(y, sizeof(y), HEAD "              localJwks:\n                inlineString: |\n");
	for (const char *l = pem; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);

		snprintf(y + strlen(y), sizeof(y) - strlen(y), "                  %.*s\n", (int)n,
			 l);
		l += n + (nl != NULL);
	}
	set = load(y, &e);
	if (!ok(set != NULL, "a PEM localJwks loads"))
		printf("#   %s (line %d)\n", e.msg, e.line);
	pj = set ? policy_jwt(policy_set_get(set, 0)) : NULL;
	is_int(pj ? pj->rules.algs : 0, JWT_ALG_ALL, "default: every asymmetric algorithm");
	ok(pj && !pj->rules.typ_lenient && !pj->rules.issuer, "default typ strict, no issuer");
	policy_set_free(set);
}

static void test_refused(const char *jwks)
{
	char y[16384];

	expect_err(HEAD "              remoteJwks: {url: 'http://idp/jwks', refreshInterval: 1s}\n",
		   "refreshInterval is below the minimum of 10s", "remoteJwks: refresh too short");
	expect_err(HEAD "              remoteJwks: {url: 'ftp://idp/jwks'}\n",
		   "is not an http:// or https:// URL", "remoteJwks: not http(s)");
	expect_err(HEAD "              remoteJwks: {refreshInterval: 5m}\n",
		   "missing required key \"url\"", "remoteJwks: no url");
	expect_err(HEAD "              remoteJwks: {url: 'https://idp/jwks', timeout: 1s}\n",
		   "unknown key \"timeout\"", "remoteJwks: unknown field named");
	snprintf(y, sizeof(y),
		 HEAD "              remoteJwks: {url: 'https://idp/jwks'}\n"
		      "              localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "set localJwks or remoteJwks, not both", "localJwks and remoteJwks");
	snprintf(y, sizeof(y),
		 HEAD "              algorithms: [RS256, HS256]\n"
		      "              localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "\"HS256\" is not an allowed algorithm", "HS256 in algorithms");
	snprintf(y, sizeof(y),
		 HEAD "              algorithms: [none]\n"
		      "              localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "\"none\" is not an allowed algorithm", "none in algorithms");
	snprintf(y, sizeof(y),
		 HEAD "              typ: whatever\n"
		      "              localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "expected at+jwt or jwt", "typ value");
	expect_err(HEAD "              issuer: x\n", "missing required key \"localJwks\"",
		   "no localJwks");
	expect_err(HEAD "              localJwks: {inlineString: '{\"keys\":[]}'}\n",
		   "localJwks.inlineString: no usable signing key", "empty JWKS");
	expect_err(HEAD "              localJwks: {inlineString: 'garbage'}\n",
		   "localJwks.inlineString: not a JSON document", "garbage JWKS");
	expect_err(HEAD "              localJwks: {inlineString: '{\"keys\":[{\"kty\":\"oct\","
			"\"k\":\"c2VjcmV0\"}]}'}\n",
		   "symmetric (oct) keys are refused", "oct key");
	expect_err(HEAD "              localJwks: {file: x}\n", "unknown key \"file\"",
		   "localJwks.file");
}

/* Both at once (issue 13 item 2): the policy has both steps. */
static void test_with_introspection(const char *jwks)
{
	char y[8192];
	struct err e;
	struct policy_set *set;
	const struct policy *p;

	snprintf(y, sizeof(y),
		 HEAD "              localJwks: {inlineString: '%s'}\n"
		      "            introspectionUrl: http://idp/x\n",
		 jwks);
	set = load(y, &e);
	p = set ? policy_set_get(set, 0) : NULL;
	ok(p && policy_jwt(p) && policy_introspection(p), "jwt + introspection: both loaded");
	ok(p && !strcmp(policy_introspection(p)->url, "http://idp/x"),
	   "jwt + introspection: the endpoint");
	policy_set_free(set);
}

#define HEAD_SIGNED                                                                                \
	"apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: p}\n"                   \
	"spec:\n  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"                       \
	"          accessTokenValidation:\n            introspection:\n"                           \
	"              introspectionUrl: http://127.0.0.1:1/x\n"

static void test_signed(const char *jwks)
{
	char y[16384];
	struct err e;
	struct policy_set *set;
	const struct policy_introspection *pi;
	const struct policy_signed_response *sr;

	snprintf(y, sizeof(y),
		 HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			     "              signedResponse:\n"
			     "                issuer: https://idp/\n"
			     "                algorithms: [ES256]\n                maxAge: 2m\n"
			     "                localJwks: {inlineString: '%s'}\n",
		 jwks);
	set = load(y, &e);
	if (!ok(set != NULL, "a signedResponse policy loads"))
		printf("#   %s\n", e.msg);
	pi = set ? policy_introspection(policy_set_get(set, 0)) : NULL;
	sr = pi ? pi->signed_response : NULL;
	ok(sr && sr->keys.keys && !sr->keys.remote_url, "its key set");
	ok(sr && strcmp(sr->keys.rules.issuer, "https://idp/") == 0, "its issuer");
	ok(sr && sr->keys.rules.algs == JWT_ALG_ES256 && sr->max_age_s == 120,
	   "its algorithms and maxAge");
	ok(set && !policy_jwt(policy_set_get(set, 0)), "still an introspection policy");
	policy_set_free(set);
	snprintf(y, sizeof(y),
		 HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			     "              signedResponse:\n"
			     "                issuer: https://idp/\n"
			     "                remoteJwks: {url: 'http://127.0.0.1:1/jwks'}\n");
	set = load(y, &e);
	pi = set ? policy_introspection(policy_set_get(set, 0)) : NULL;
	sr = pi ? pi->signed_response : NULL;
	ok(sr && sr->keys.remote_url && sr->max_age_s == 60, "remoteJwks, default maxAge 60s");
	policy_set_free(set);
	set =
	    load(HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n", &e);
	pi = set ? policy_introspection(policy_set_get(set, 0)) : NULL;
	ok(pi && !pi->signed_response, "no signedResponse: plain JSON answers");
	policy_set_free(set);

	snprintf(y, sizeof(y),
		 HEAD_SIGNED "              signedResponse:\n                issuer: https://idp/\n"
			     "                localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y,
		   "introspection.signedResponse requires "
		   "accessTokenValidation.introspection.clientId (the answer's aud)",
		   "signedResponse without clientId");
	snprintf(y, sizeof(y),
		 HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			     "              signedResponse:\n"
			     "                localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "signedResponse: missing required key \"issuer\"", "no issuer");
	expect_err(HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			       "              signedResponse: {issuer: x}\n",
		   "signedResponse: missing required key \"localJwks\" or \"remoteJwks\"",
		   "no key set");
	snprintf(y, sizeof(y),
		 HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			     "              signedResponse:\n                issuer: x\n"
			     "                maxAge: 2h\n"
			     "                localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "signedResponse.maxAge: from 1s to 1h", "maxAge too long");
	snprintf(y, sizeof(y),
		 HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			     "              signedResponse:\n                issuer: x\n"
			     "                algorithms: [HS256]\n"
			     "                localJwks: {inlineString: '%s'}\n",
		 jwks);
	expect_err(y, "signedResponse.algorithms[0]: \"HS256\" is not an allowed algorithm",
		   "HS256 for signed answers");
	expect_err(HEAD_SIGNED "              clientId: spoa\n              authMethod: none\n"
			       "              signedResponse: {issuer: x, typ: jwt}\n",
		   "unknown key \"typ\"", "typ is a jwt policy's setting only");
}

int main(void)
{
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *k = fx_jwk(ec, "e1", ""), jwks[4096], *pem = fx_pem(ec);
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_policy_jwt.XXXXXX");
	if ((fd = mkstemp(path)) < 0) {
		perror("mkstemp");
		return 2;
	}
	close(fd);
	snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", k);
	test_good(jwks, pem);
	test_refused(jwks);
	test_with_introspection(jwks);
	test_signed(jwks);
	unlink(path);
	free(k);
	free(pem);
	EVP_PKEY_free(ec);
	return done_testing("policy_jwt");
}

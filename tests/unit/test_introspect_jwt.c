/* test_introspect_jwt.c - RFC 9701 signed introspection answers: a good
 * answer (RS256, ES256) gives the claims introspect_parse_response() makes
 * of token_introspection; a plain JSON answer, tampering, alg none, HS256
 * keyed with the public key, an unknown kid, wrong typ/iss/aud, a stale or
 * future iat, an expired exp, a missing or bad token_introspection are each
 * refused with their own result; a policy's claims mapping applies to the
 * verified token_introspection. Keys and answers are made here. */
#include <stdlib.h>
#include <string.h>

#include "claim_map.h"
#include "introspect_jwt.h"
#include "jwt_fixture.h"
#include "tap.h"

#define NOW   1900000000LL
#define ISS   "https://idp.test/"
#define CID   "spoa-client"
#define CT    "application/token-introspection+jwt"
#define INNER "{\"active\":true,\"sub\":\"alice\",\"scope\":\"read\",\"exp\":1900000300}"

static EVP_PKEY *rsa, *ec;
static struct jwks *ks;
static char *rsa_jwk;
static const struct ijwt_rules rules = {JWT_ALG_ALL, ISS, CID, 60};

#define HDR_RS "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"token-introspection+jwt\"}"
#define HDR_ES "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"application/token-introspection+jwt\"}"

/* The answer's claims: iss, aud, iat (NOW - <age>), then <extra>, then
 * token_introspection unless <extra> says "NOTI". */
static char *payload(const char *iss, const char *aud, long long age, const char *extra)
{
	static char p[2048];
	bool no_ti = strcmp(extra, "NOTI") == 0;

	snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":%s,\"iat\":%lld%s%s%s}", iss, aud,
		 NOW - age, no_ti ? "" : extra,
		 no_ti ? "" : ",\"token_introspection\":", no_ti ? "" : INNER);
	return p;
}

static enum ijwt_result run(const char *ct, const char *body, struct claims **c)
{
	struct err e = {0};
	enum ijwt_result r =
	    introspect_jwt_verify(ct, body, strlen(body), ks, &rules, NOW, 5, c, &e);

	ok(r == IJWT_OK || (e.msg[0] && !strstr(e.msg, "alice")), "a message, never the body");
	return r;
}

static void expect(EVP_PKEY *pk, const char *alg, const char *hdr, const char *pl,
		   enum ijwt_result want, const char *what)
{
	char *tok = fx_sign(pk, alg, hdr, pl, rsa_jwk);
	struct claims *c = (struct claims *)1;

	is_int(run(CT, tok, &c), want, what);
	ok(want == IJWT_OK ? c != NULL : c == NULL, "claims only on success");
	claims_unref(c);
	free(tok);
}

static void test_good(void)
{
	char *tok = fx_sign(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 10, ""), NULL);
	char *nl = malloc(strlen(tok) + 2);
	struct claims *c = NULL;

	is_int(run(CT, tok, &c), IJWT_OK, "RS256 answer");
	ok(c && c->active && c->sub && strcmp(c->sub, "alice") == 0, "inner claims: active, sub");
	ok(c && c->scope && strcmp(c->scope, "read") == 0 && c->has_exp && c->exp == NOW + 300,
	   "inner claims: scope, exp");
	claims_unref(c);
	c = NULL;
	is_int(run("Application/Token-Introspection+JWT; charset=utf-8", tok, &c), IJWT_OK,
	       "media type: case and parameters ignored");
	claims_unref(c);
	c = NULL;
	strcpy(nl, tok);
	strcat(nl, "\n");
	is_int(run(CT, nl, &c), IJWT_OK, "a trailing newline is fine");
	claims_unref(c);
	free(nl);
	free(tok);
	expect(ec, "ES256", HDR_ES, payload(ISS, "[\"x\",\"" CID "\"]", 0, ""), IJWT_OK,
	       "ES256, aud array, typ with application/");
	expect(rsa, "RS256", HDR_RS,
	       "{\"iss\":\"" ISS "\",\"aud\":\"" CID "\",\"iat\":1900000000,"
	       "\"token_introspection\":{\"active\":false}}",
	       IJWT_OK, "an inactive answer is verified too (policy_check() refuses it)");
}

static void test_refusals(void)
{
	char *tok = fx_sign(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 10, ""), NULL), *evil;
	struct claims *c = NULL;

	is_int(run("application/json", INNER, &c), IJWT_NOT_SIGNED, "plain JSON answer");
	is_int(run(NULL, tok, &c), IJWT_NOT_SIGNED, "no Content-Type");
	is_int(run("application/jwt", tok, &c), IJWT_NOT_SIGNED, "Keycloak's application/jwt");
	is_int(run("application/token-introspection+jwtx", tok, &c), IJWT_NOT_SIGNED,
	       "a longer media type");
	is_int(run(CT, INNER, &c), IJWT_MALFORMED, "JSON body labelled as a JWT");
	is_int(run(CT, "", &c), IJWT_MALFORMED, "empty body");
	/* Tampered claims under the genuine signature. */
	evil = fx_sign(rsa, "none", HDR_RS, payload(ISS, "\"" CID "\"", 10, ",\"x\":1"), NULL);
	evil = realloc(evil, strlen(evil) + strlen(tok) + 1);
	strcpy(strrchr(evil, '.'), strrchr(tok, '.'));
	is_int(run(CT, evil, &c), IJWT_BAD_SIGNATURE, "tampered payload");
	free(evil);
	tok[strlen(tok) - 3] = tok[strlen(tok) - 3] == 'A' ? 'B' : 'A';
	is_int(run(CT, tok, &c), IJWT_BAD_SIGNATURE, "flipped signature");
	ok(c == NULL, "no claims");
	free(tok);
	expect(rsa, "none", "{\"alg\":\"none\",\"typ\":\"token-introspection+jwt\"}",
	       payload(ISS, "\"" CID "\"", 10, ""), IJWT_ALG_REFUSED, "alg none");
	expect(rsa, "HS256",
	       "{\"alg\":\"HS256\",\"kid\":\"r1\",\"typ\":\"token-introspection+jwt\"}",
	       payload(ISS, "\"" CID "\"", 10, ""), IJWT_ALG_REFUSED, "HS256 keyed with the JWK");
	expect(rsa, "RS256",
	       "{\"alg\":\"RS256\",\"kid\":\"zz\",\"typ\":\"token-introspection+jwt\"}",
	       payload(ISS, "\"" CID "\"", 10, ""), IJWT_UNKNOWN_KID, "unknown kid");
	{
		EVP_PKEY *other = fx_keygen(FX_EC256);

		expect(other, "ES256", HDR_ES, payload(ISS, "\"" CID "\"", 10, ""),
		       IJWT_BAD_SIGNATURE, "signed by a stranger's key under a known kid");
		EVP_PKEY_free(other);
	}
	expect(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}",
	       payload(ISS, "\"" CID "\"", 10, ""), IJWT_TYP, "an access token's typ");
	expect(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	       payload(ISS, "\"" CID "\"", 10, ""), IJWT_TYP, "no typ");
	expect(rsa, "RS256", HDR_RS, payload("https://evil.test/", "\"" CID "\"", 10, ""),
	       IJWT_ISSUER, "wrong iss");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "\"other\"", 10, ""), IJWT_AUDIENCE, "wrong aud");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "[\"a\",\"b\"]", 10, ""), IJWT_AUDIENCE,
	       "aud array without us");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "null", 10, ""), IJWT_AUDIENCE, "aud null");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 66, ""), IJWT_STALE,
	       "iat older than maxAge + leeway");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 64, ""), IJWT_OK,
	       "iat within maxAge + leeway");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", -6, ""), IJWT_IAT_FUTURE,
	       "iat in the future beyond the leeway");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 0, ",\"exp\":1899999990"),
	       IJWT_STALE, "expired exp");
	expect(rsa, "RS256", HDR_RS,
	       "{\"iss\":\"" ISS "\",\"aud\":\"" CID "\",\"token_introspection\":" INNER "}",
	       IJWT_MALFORMED, "no iat");
	expect(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 0, "NOTI"), IJWT_NO_INTROSPECTION,
	       "no token_introspection");
	expect(rsa, "RS256", HDR_RS,
	       "{\"iss\":\"" ISS "\",\"aud\":\"" CID "\",\"iat\":1900000000,"
	       "\"token_introspection\":\"{\\\"active\\\":true}\"}",
	       IJWT_NO_INTROSPECTION, "token_introspection as a string");
	expect(rsa, "RS256", HDR_RS,
	       "{\"iss\":\"" ISS "\",\"aud\":\"" CID "\",\"iat\":1900000000,"
	       "\"token_introspection\":{\"active\":\"true\"}}",
	       IJWT_BAD_INTROSPECTION, "an RFC 7662 rule broken inside (active a string)");
}

/* The mapping reads token_introspection (the inner answer), never the
 * signed envelope's own claims. */
static void test_mapped(void)
{
	char *tok = fx_sign(rsa, "RS256", HDR_RS, payload(ISS, "\"" CID "\"", 10, ""), NULL);
	struct claim_map *m = claim_map_new();
	struct claims *c = NULL;
	struct err e = {0};

	if (!m || claim_map_add(m, "scope", "sc", NULL) < 0 ||
	    claim_map_add(m, "iss", "is", NULL) < 0 ||
	    claim_map_set_user_id(m, "scope", NULL) < 0) {
		fprintf(stderr, "claim map\n");
		exit(2);
	}
	is_int(introspect_jwt_verify_mapped(CT, tok, strlen(tok), ks, &rules, m, NOW, 5, &c, &e),
	       IJWT_OK, "a signed answer with a mapping");
	ok(c && c->mapped && c->mapped->n == 1 && strcmp(c->mapped->v[0].name, "sc") == 0 &&
	       strcmp(c->mapped->v[0].value, "read") == 0,
	   "the inner answer's scope mapped; the envelope's iss is not the inner answer's");
	ok(c && c->sub && strcmp(c->sub, "read") == 0, "userIdAttributeName on the inner answer");
	claims_unref(c);
	claim_map_unref(m);
	free(tok);
}

static void test_names(void)
{
	is_str(ijwt_result_name(IJWT_BAD_SIGNATURE), "bad_signature", "a name");
	is_str(ijwt_result_name(IJWT_RESULT_COUNT), "unknown", "out of range");
	for (int r = 0; r < IJWT_RESULT_COUNT; r++)
		ok(strcmp(ijwt_result_name((enum ijwt_result)r), "unknown") != 0,
		   "every result named");
}

int main(void)
{
	char doc[8192];
	char *ej;
	struct err e = {0};

	rsa = fx_keygen(FX_RSA);
	ec = fx_keygen(FX_EC256);
	rsa_jwk = fx_jwk(rsa, "r1", "");
	ej = fx_jwk(ec, "e1", "");
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", rsa_jwk, ej);
	if (jwks_parse(doc, strlen(doc), &ks, &e)) {
		fprintf(stderr, "jwks: %s\n", e.msg);
		return 1;
	}
	test_good();
	test_refusals();
	test_mapped();
	test_names();
	jwks_unref(ks);
	free(ej);
	free(rsa_jwk);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	return done_testing("introspect_jwt");
}

/* test_jwt.c - JWS verification and claims: good RS256/PS256/ES256/EdDSA
 * tokens pass; tampering, alg none, HS256 keyed with the public key, wrong
 * kid/alg, time claims, issuer and typ fail with their own result; the
 * decision reasons they map to. Keys and tokens are made here. */
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "jwt_fixture.h"
#include "jwt_local.h"
#include "tap.h"

#define NOW 1900000000LL
#define ISS "https://idp.test/"

static EVP_PKEY *rsa, *ec, *ed;
static struct jwks *ks;
static char *rsa_jwk;

static char *payload(const char *extra)
{
	static char p[2048];

	snprintf(p, sizeof(p),
		 "{\"iss\":\"" ISS
		 "\",\"sub\":\"alice\",\"aud\":[\"api\",\"x\"],\"client_id\":\"c1\","
		 "\"scope\":\"read write\",\"iat\":%lld,\"exp\":%lld%s}",
		 NOW - 10, NOW + 300, extra);
	return p;
}

static enum jwt_result run(const char *tok, const struct jwt_rules *r, struct claims **c)
{
	return jwt_verify(tok, strlen(tok), ks, r, NOW, 30, c);
}

static void expect(EVP_PKEY *pk, const char *alg, const char *hdr, const char *pl,
		   const struct jwt_rules *r, enum jwt_result want, const char *what)
{
	char *tok = fx_sign(pk, alg, hdr, pl, rsa_jwk);
	struct claims *c = (struct claims *)1;
	enum jwt_result got = run(tok, r, &c);

	is_int(got, want, what);
	ok(want == JWT_OK ? c != NULL : c == NULL, "claims only on success");
	claims_unref(c);
	free(tok);
}

static const struct jwt_rules strict = {JWT_ALG_ALL, ISS, false};

static void test_good(void)
{
	struct claims *c = NULL;
	char *tok = fx_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}",
			    payload(""), NULL);

	is_int(run(tok, &strict, &c), JWT_OK, "RS256 at+jwt");
	ok(c && c->active && c->has_exp && c->exp == NOW + 300, "active, exp");
	ok(c && c->sub && strcmp(c->sub, "alice") == 0, "sub");
	ok(c && c->client_id && strcmp(c->client_id, "c1") == 0, "client_id");
	ok(c && c->scope && strcmp(c->scope, "read write") == 0, "scope");
	ok(c && c->n_aud == 2 && strcmp(c->aud[1], "x") == 0, "aud array");
	ok(c && c->iss && strcmp(c->iss, ISS) == 0, "iss");
	claims_unref(c);
	free(tok);
	expect(rsa, "PS256", "{\"alg\":\"PS256\",\"kid\":\"r1\",\"typ\":\"application/at+jwt\"}",
	       payload(""), &strict, JWT_OK, "PS256, typ application/at+jwt");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"AT+JWT\"}", payload(""),
	       &strict, JWT_OK, "ES256, typ in upper case");
	expect(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"d1\",\"typ\":\"at+jwt\"}", payload(""),
	       &strict, JWT_OK, "EdDSA (OpenSSL, not cjose)");

	/* scp as an array (Okta/Azure style), azp for the client. */
	tok =
	    fx_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}",
		    "{\"iss\":\"" ISS "\",\"exp\":1900000300,\"scp\":[\"a\",\"b:c\"],\"azp\":\"z\","
		    "\"aud\":\"one\",\"preferred_username\":\"bob\"}",
		    NULL);
	c = NULL;
	is_int(run(tok, &strict, &c), JWT_OK, "scp array token");
	ok(c && c->scope && strcmp(c->scope, "a b:c") == 0, "scp joined with spaces");
	ok(c && c->client_id && strcmp(c->client_id, "z") == 0, "azp as client_id");
	ok(c && c->n_aud == 1 && strcmp(c->aud[0], "one") == 0, "aud string");
	ok(c && c->username && strcmp(c->username, "bob") == 0, "preferred_username");
	claims_unref(c);
	free(tok);
}

static void test_signature_attacks(void)
{
	const char *h = "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}";
	char *tok = fx_sign(rsa, "RS256", h, payload(""), NULL), *dot, *evil;
	struct claims *c = NULL;

	/* Tampered payload: the same signature over other claims. */
	evil = fx_sign(rsa, "none", h, payload(",\"admin\":true"), NULL);
	dot = strrchr(tok, '.');
	evil = realloc(evil, strlen(evil) + strlen(dot) + 1);
	strcpy(strrchr(evil, '.'), dot);
	is_int(run(evil, &strict, &c), JWT_BAD_SIGNATURE, "tampered payload");
	free(evil);
	/* One flipped signature character. */
	tok[strlen(tok) - 3] = tok[strlen(tok) - 3] == 'A' ? 'B' : 'A';
	is_int(run(tok, &strict, &c), JWT_BAD_SIGNATURE, "flipped signature");
	free(tok);
	expect(rsa, "none", "{\"alg\":\"none\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}", payload(""),
	       &strict, JWT_ALG_REFUSED, "alg none");
	expect(rsa, "HS256", "{\"alg\":\"HS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}", payload(""),
	       &strict, JWT_ALG_REFUSED, "HS256 keyed with the public JWK");
	expect(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"nope\",\"typ\":\"at+jwt\"}", payload(""),
	       &strict, JWT_UNKNOWN_KID, "unknown kid");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}", payload(""),
	       &strict, JWT_KEY_MISMATCH, "ES256 naming an RSA kid");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"d1\",\"typ\":\"at+jwt\"}", payload(""),
	       &strict, JWT_KEY_MISMATCH, "ES256 naming the Ed25519 kid");
	/* Signed by another key of the same type under a known kid. */
	{
		EVP_PKEY *other = fx_keygen(FX_EC256);

		expect(other, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}",
		       payload(""), &strict, JWT_BAD_SIGNATURE, "ES256 by a stranger's key");
		EVP_PKEY_free(other);
	}
	{
		const struct jwt_rules rs_only = {JWT_ALG_RS256, ISS, false};

		expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}",
		       payload(""), &rs_only, JWT_ALG_REFUSED, "ES256 not in the allow-list");
	}
	expect(rsa, "RS256",
	       "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"x\"],\"typ\":\"at+jwt\"}",
	       payload(""), &strict, JWT_MALFORMED, "crit header");
	expect(rsa, "RS256", "{\"alg\":\"RS256\",\"alg\":\"RS256\",\"kid\":\"r1\"}", payload(""),
	       &strict, JWT_MALFORMED, "duplicate header member");
}

static void test_claims(void)
{
	const char *h = "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}";
	const struct jwt_rules lenient = {JWT_ALG_ALL, NULL, true};
	char pl[512];

	snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"exp\":%lld}", NOW - 31);
	expect(ec, "ES256", h, pl, &strict, JWT_EXPIRED, "expired beyond the leeway");
	snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"exp\":%lld}", NOW - 29);
	expect(ec, "ES256", h, pl, &strict, JWT_OK, "expired within the leeway");
	snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"exp\":%lld,\"nbf\":%lld}", NOW + 99,
		 NOW + 31);
	expect(ec, "ES256", h, pl, &strict, JWT_NOT_YET_VALID, "nbf in the future");
	snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"exp\":%lld,\"iat\":%lld}", NOW + 99,
		 NOW + 31);
	expect(ec, "ES256", h, pl, &strict, JWT_IAT_FUTURE, "iat in the future");
	expect(ec, "ES256", h, "{\"iss\":\"" ISS "\"}", &strict, JWT_MALFORMED, "no exp");
	expect(ec, "ES256", h, "{\"iss\":\"" ISS "\",\"exp\":\"soon\"}", &strict, JWT_MALFORMED,
	       "exp a string");
	expect(ec, "ES256", h, payload(",\"aud2\":1,\"scp\":[1]"), &strict, JWT_OK,
	       "scp ignored when scope is present");
	expect(ec, "ES256", h, "{\"iss\":\"https://evil/\",\"exp\":1900000300}", &strict,
	       JWT_ISSUER_MISMATCH, "wrong iss");
	expect(ec, "ES256", h, "{\"exp\":1900000300}", &strict, JWT_ISSUER_MISMATCH, "no iss");
	expect(ec, "ES256", h, "{\"exp\":1900000300,\"aud\":[1]}", &lenient, JWT_MALFORMED,
	       "aud not strings");
	/* typ: RFC 9068 strict by default, lenient takes JWT or none. */
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JWT\"}", payload(""),
	       &strict, JWT_NOT_ACCESS_TOKEN, "typ JWT refused when strict");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", payload(""), &strict,
	       JWT_NOT_ACCESS_TOKEN, "no typ refused when strict");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JWT\"}", payload(""),
	       &lenient, JWT_OK, "typ JWT taken when lenient");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", payload(""), &lenient, JWT_OK,
	       "no typ taken when lenient");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"rt+jwt\"}", payload(""),
	       &lenient, JWT_NOT_ACCESS_TOKEN, "typ rt+jwt: a refresh token");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JWT\"}",
	       payload(",\"typ\":\"Refresh\""), &lenient, JWT_NOT_ACCESS_TOKEN,
	       "Keycloak typ claim Refresh");
	expect(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JWT\"}",
	       payload(",\"typ\":\"ID\""), &lenient, JWT_NOT_ACCESS_TOKEN, "Keycloak typ claim ID");
}

static void test_malformed(void)
{
	static const char *const bad[] = {"",	"abc",	    "a.b",	  "a.b.c.d.e",
					  "..", "e30.e30.", "!!!.e30.AA", "e30.e30.AA"};
	struct claims *c = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum jwt_result r = run(bad[i], &strict, &c);

		ok(r == JWT_MALFORMED || r == JWT_ALG_REFUSED, "garbage token refused");
	}
	is_int(jwt_verify("x.y.z", 5, NULL, &strict, NOW, 0, &c), JWT_MALFORMED, "no key set");
	is_str(jwt_result_name(JWT_BAD_SIGNATURE), "bad_signature", "result name");
	is_str(jwt_result_name(JWT_RESULT_COUNT), "unknown", "out of range name");
}

static void test_reasons(void)
{
	is_int(jwt_local_reason(JWT_OK), AUTHZ_OK, "ok");
	is_int(jwt_local_reason(JWT_BAD_SIGNATURE), AUTHZ_INVALID_TOKEN, "signature: invalid");
	is_int(jwt_local_reason(JWT_ALG_REFUSED), AUTHZ_INVALID_TOKEN, "alg: invalid");
	is_int(jwt_local_reason(JWT_UNKNOWN_KID), AUTHZ_INVALID_TOKEN, "kid: invalid");
	is_int(jwt_local_reason(JWT_EXPIRED), AUTHZ_INACTIVE_TOKEN, "expired: inactive");
	is_int(jwt_local_reason(JWT_ISSUER_MISMATCH), AUTHZ_ISSUER_MISMATCH, "iss");
	is_int(reason_status(AUTHZ_INVALID_TOKEN), 401, "invalid_token is a 401");
	is_str(reason_name(AUTHZ_INVALID_TOKEN), "invalid_token", "its name");
}

int main(void)
{
	char *a, *b, *c, doc[8192];
	struct err e = {0};

	rsa = fx_keygen(FX_RSA);
	ec = fx_keygen(FX_EC256);
	ed = fx_keygen(FX_ED25519);
	a = fx_jwk(rsa, "r1", "");
	b = fx_jwk(ec, "e1", "");
	c = fx_jwk(ed, "d1", "");
	rsa_jwk = a;
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", a, b, c);
	if (jwks_parse(doc, strlen(doc), &ks, &e)) {
		printf("not ok - fixture JWKS: %s\n", e.msg);
		return 1;
	}
	test_good();
	test_signature_attacks();
	test_claims();
	test_malformed();
	test_reasons();
	jwks_unref(ks);
	free(a);
	free(b);
	free(c);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	return done_testing("jwt");
}

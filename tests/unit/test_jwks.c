/* test_jwks.c - key sets: JWKS and PEM parsing, the bounds, private and
 * symmetric keys refused, lookup by kid and algorithm. Keys are generated
 * here (jwt_fixture.h). */
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "jwt_fixture.h"
#include "limits.h"
#include "tap.h"

static struct jwks *load(const char *doc, struct err *e)
{
	struct jwks *ks = NULL;

	memset(e, 0, sizeof(*e));
	if (jwks_parse(doc, strlen(doc), &ks, e) != 0)
		return NULL;
	return ks;
}

static void test_kinds(EVP_PKEY *rsa, EVP_PKEY *ec, EVP_PKEY *ed)
{
	char *a = fx_jwk(rsa, "r1", ""), *b = fx_jwk(ec, "e1", ",\"use\":\"sig\"");
	char *c = fx_jwk(ed, "d1", ",\"alg\":\"EdDSA\""), doc[16384];
	struct jwks *ks;
	struct err e;
	bool known;

	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", a, b, c);
	ks = load(doc, &e);
	ok(ks != NULL, "RSA + EC + OKP JWKS loads");
	is_int(jwks_count(ks), 3, "three keys");
	ok(jwks_find(ks, JWT_ALG_RS256, "r1", 2, &known) != NULL, "RS256 finds r1");
	ok(jwks_find(ks, JWT_ALG_PS512, "r1", 2, &known) != NULL, "PS512 finds r1 (no alg pin)");
	ok(!jwks_find(ks, JWT_ALG_ES256, "r1", 2, &known) && known, "ES256 with an RSA kid: known");
	ok(!jwks_find(ks, JWT_ALG_RS256, "zz", 2, &known) && !known, "unknown kid");
	ok(jwks_find(ks, JWT_ALG_ES256, "e1", 2, &known) != NULL, "ES256 finds e1");
	ok(!jwks_find(ks, JWT_ALG_ES384, "e1", 2, &known), "ES384 does not fit a P-256 key");
	ok(jwks_find(ks, JWT_ALG_EDDSA, "d1", 2, &known) != NULL, "EdDSA finds d1");
	ok(jwks_find(ks, JWT_ALG_EDDSA, NULL, 0, &known) != NULL, "no kid: the one EdDSA key");
	jwks_unref(ks);

	/* Two RSA keys: a token without kid is ambiguous. */
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", a, a);
	ks = load(doc, &e);
	ok(ks && !jwks_find(ks, JWT_ALG_RS256, NULL, 0, &known), "no kid, two candidates: none");
	jwks_unref(ks);

	/* alg pin: an RS256-pinned key never verifies PS256. */
	free(a);
	a = fx_jwk(rsa, "r1", ",\"alg\":\"RS256\"");
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", a);
	ks = load(doc, &e);
	ok(ks && jwks_find(ks, JWT_ALG_RS256, "r1", 2, &known), "pinned RS256 key: RS256");
	ok(ks && !jwks_find(ks, JWT_ALG_PS256, "r1", 2, &known) && known, "pinned: not PS256");
	jwks_unref(ks);

	/* Encryption keys and unknown types are skipped, not fatal. */
	free(b);
	b = fx_jwk(ec, "enc", ",\"use\":\"enc\"");
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,{\"kty\":\"XYZ\"}]}", b, c);
	ks = load(doc, &e);
	is_int(jwks_count(ks), 1, "enc key and unknown kty skipped");
	jwks_unref(ks);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", b);
	ok(!load(doc, &e), "only an enc key: no usable key");
	ok(strstr(e.msg, "no usable") != NULL, "message says so");
	free(a);
	free(b);
	free(c);
}

static void test_pem(EVP_PKEY *rsa, EVP_PKEY *ec, EVP_PKEY *ed)
{
	EVP_PKEY *keys[3] = {rsa, ec, ed};
	unsigned algs[3] = {JWT_ALG_RS256, JWT_ALG_ES256, JWT_ALG_EDDSA};
	struct err e;
	bool known;

	for (int i = 0; i < 3; i++) {
		char *pem = fx_pem(keys[i]);
		struct jwks *ks = load(pem, &e);

		ok(ks && jwks_find(ks, algs[i], NULL, 0, &known), "PEM public key loads and fits");
		jwks_unref(ks);
		free(pem);
	}
	ok(!load("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", &e),
	   "PEM private key refused");
}

static void test_refused(EVP_PKEY *rsa)
{
	struct err e;
	char *big, *a = fx_jwk(rsa, "r1", ",\"d\":\"AAAA\""), doc[8192];
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	size_t n = 10u * 1024u * 1024u;

	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", a);
	ok(!load(doc, &e) && strstr(e.msg, "private"), "a private RSA JWK is refused");
	ok(!load("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", &e) && strstr(e.msg, "oct"),
	   "oct key refused");
	ok(!load("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}", &e),
	   "short OKP x refused");
	ok(!load("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", &e),
	   "a 24-bit RSA key refused");
	free(a);
	a = fx_jwk(small, "s", "");
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", a);
	ok(!load(doc, &e) && strstr(e.msg, "1024 bits"), "RSA-1024 refused");
	EVP_PKEY_free(small);
	free(a);
	ok(!load("", &e), "empty document");
	ok(!load("{\"keys\":{}}", &e), "keys not an array");
	ok(!load("[]", &e), "not an object");
	ok(!load("{\"keys\":[]}", &e), "no key");
	ok(!load("{\"keys\":[1]}", &e), "entry not an object");
	ok(!load("{\"keys\":[],\"keys\":[]}", &e), "duplicate member");
	ok(!load("\x01\x02garbage", &e), "garbage");
	ok(!load("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}", &e),
	   "EC point not on the curve");
	/* cjose's decoder asserts on '=' inside a value: it must never see one. */
	ok(!load("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"uwwmLEmvfUni09KvLwHokjWUnos"
		 "zB=V5-z2Gwi-8Mko\",\"y\":\"Rtyp6AAAA\"}]}",
		 &e),
	   "base64 with '=' inside: refused, no abort");
	ok(!load("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQ=B\",\"e\":\"AQAB\"}]}", &e),
	   "RSA n with '=' inside: refused");
	ok(!load("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", &e), "RSA without n");
	ok(!load("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}]}", &e),
	   "EC without y");
	big = malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"keys\":[", 9);
	big[n - 2] = ']';
	big[n - 1] = '}';
	big[n] = '\0';
	ok(!load(big, &e) && strstr(e.msg, "larger than"), "a 10 MB JWKS is refused unparsed");
	free(big);
	{
		char *many = malloc(JWKS_MAX_ENTRIES * 16 + 64);
		size_t off = (size_t)sprintf(many, "{\"keys\":[");

		for (unsigned i = 0; i <= JWKS_MAX_ENTRIES; i++)
			off += (size_t)sprintf(many + off, "%s{\"kty\":\"X\"}", i ? "," : "");
		strcpy(many + off, "]}");
		ok(!load(many, &e) && strstr(e.msg, "entries"), "too many entries");
		free(many);
	}
}

static void test_algs(void)
{
	is_int(jwt_alg_from_name("RS256", 5), JWT_ALG_RS256, "RS256");
	is_int(jwt_alg_from_name("EdDSA", 5), JWT_ALG_EDDSA, "EdDSA");
	is_int(jwt_alg_from_name("none", 4), 0, "none has no bit");
	is_int(jwt_alg_from_name("HS256", 5), 0, "HS256 has no bit");
	is_int(jwt_alg_from_name("rs256", 5), 0, "case-sensitive");
	is_str(jwt_alg_name(JWT_ALG_PS384), "PS384", "name of PS384");
}

int main(void)
{
	EVP_PKEY *rsa = fx_keygen(FX_RSA), *ec = fx_keygen(FX_EC256), *ed = fx_keygen(FX_ED25519);

	test_algs();
	test_kinds(rsa, ec, ed);
	test_pem(rsa, ec, ed);
	test_refused(rsa);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	return done_testing("jwks");
}

/* fuzz_jwt.c - the JWS and JWKS parsers on arbitrary input. The first byte
 * picks the target:
 *   0: jwks_parse() of the rest (JWKS or PEM);
 *   1: jwt_verify() of the rest as a compact token, against a fixed key set;
 *   2: the rest is "<header JSON>\n<payload JSON>", signed here with a fixed
 *      Ed25519 key and verified, so arbitrary claims reach the payload checks.
 * A success must come with claims, a failure without. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/jwt_fixture.h"
#include "jwks.h"
#include "jwt.h"

static EVP_PKEY *key;
static struct jwks *ks;

/* A fixed test key (a made-up seed, not a key from anywhere), so runs replay. */
static void init(void)
{
	static const unsigned char seed[32] = "oauth2-spoa fuzz_jwt test seed!";
	EVP_PKEY *rsa = fx_keygen(FX_RSA), *ec = fx_keygen(FX_EC256);
	char *jwk, *jr, *je, doc[4096];
	struct err e;

	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (!key)
		abort();
	/* RSA and EC keys (random: no token verifies) route tokens into cjose. */
	jwk = fx_jwk(key, "k1", "");
	jr = fx_jwk(rsa, "r", "");
	je = fx_jwk(ec, "e", "");
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", jwk, jr, je);
	free(jwk);
	free(jr);
	free(je);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	if (jwks_parse(doc, strlen(doc), &ks, &e))
		abort();
}

static void verify(const char *tok, size_t len)
{
	static const struct jwt_rules rules = {JWT_ALG_ALL, NULL, true};
	struct claims *c = NULL;
	enum jwt_result r = jwt_verify(tok, len, ks, &rules, 1900000000, 60, &c);

	if ((r == JWT_OK) != (c != NULL) || (c && !c->active) || (unsigned)r >= JWT_RESULT_COUNT)
		abort();
	claims_unref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwks *got = NULL;
	struct err e;
	char *s, *nl, *tok;

	if (!ks)
		init();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (jwks_parse((const char *)data + 1, size - 1, &got, &e) == 0 &&
		    (!got || jwks_count(got) == 0))
			abort();
		jwks_unref(got);
		break;
	case 1:
		verify((const char *)data + 1, size - 1);
		break;
	default:
		if (!(s = strndup((const char *)data + 1, size - 1)) || !(nl = strchr(s, '\n'))) {
			free(s);
			break;
		}
		*nl = '\0';
		tok = fx_sign(key, "EdDSA", s, nl + 1, NULL);
		verify(tok, strlen(tok));
		free(tok);
		free(s);
	}
	return 0;
}

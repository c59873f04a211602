/* fuzz_introspect_jwt.c - RFC 9701 signed introspection answers on
 * arbitrary input. The first byte picks the target:
 *   0: the rest is the body, sent as application/token-introspection+jwt,
 *      verified against a fixed key set;
 *   1: the rest is "<header JSON>\n<payload JSON>", signed here with a fixed
 *      Ed25519 key and verified, so arbitrary claims (typ, iss, aud, iat,
 *      token_introspection) reach the checks after the signature.
 * A success must come with claims, a failure without and with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/jwt_fixture.h"
#include "introspect_jwt.h"

#define NOW 1900000000

static EVP_PKEY *key;
static struct jwks *ks;

/* A fixed test key (a made-up seed, not a key from anywhere), so runs replay. */
static void init(void)
{
	static const unsigned char seed[32] = "oauth2-spoa fuzz_ijwt test seed";
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *jwk, *je, doc[4096];
	struct err e;

	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (!key)
		abort();
	jwk = fx_jwk(key, "k1", "");
	je = fx_jwk(ec, "e", ""); /* random: routes ES256 answers into cjose */
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", jwk, je);
	free(jwk);
	free(je);
	EVP_PKEY_free(ec);
	if (jwks_parse(doc, strlen(doc), &ks, &e))
		abort();
}

static void verify(const char *body, size_t len)
{
	static const struct ijwt_rules rules = {JWT_ALG_ALL, "https://idp.test/", "spoa", 60};
	struct claims *c = NULL;
	struct err e = {0};
	enum ijwt_result r =
	    introspect_jwt_verify(IJWT_MEDIA_TYPE, body, len, ks, &rules, NOW, 5, &c, &e);

	if ((r == IJWT_OK) != (c != NULL) || (unsigned)r >= IJWT_RESULT_COUNT ||
	    (r != IJWT_OK && !e.msg[0]))
		abort();
	claims_unref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *nl, *tok;

	if (!ks)
		init();
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		verify((const char *)data + 1, size - 1);
		return 0;
	}
	if (!(s = strndup((const char *)data + 1, size - 1)) || !(nl = strchr(s, '\n'))) {
		free(s);
		return 0;
	}
	*nl = '\0';
	tok = fx_sign(key, "EdDSA", s, nl + 1, NULL);
	verify(tok, strlen(tok));
	free(tok);
	free(s);
	return 0;
}

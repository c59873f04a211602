/* jwks.c - JWKS and PEM public keys into an immutable key set. RSA and EC
 * keys are cjose JWKs (cjose imports and verifies them); Ed25519 keys are
 * OpenSSL EVP_PKEYs, because cjose 0.6 knows no OKP key type. */
#include "jwks.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "limits.h"

struct jwks_key {
	char *kid; /* NULL: none */
	size_t kid_len;
	unsigned algs;	  /* the algorithms this key may verify */
	cjose_jwk_t *jwk; /* RSA and EC */
	EVP_PKEY *ed;	  /* Ed25519 */
};

struct jwks {
	atomic_int refs;
	size_t n;
	struct jwks_key keys[JWKS_MAX_KEYS];
};

static const struct {
	const char *name;
	unsigned bit;
} alg_names[] = {
    {"RS256", JWT_ALG_RS256}, {"RS384", JWT_ALG_RS384}, {"RS512", JWT_ALG_RS512},
    {"PS256", JWT_ALG_PS256}, {"PS384", JWT_ALG_PS384}, {"PS512", JWT_ALG_PS512},
    {"ES256", JWT_ALG_ES256}, {"ES384", JWT_ALG_ES384}, {"ES512", JWT_ALG_ES512},
    {"EdDSA", JWT_ALG_EDDSA},
};

#define RSA_ALGS                                                                                   \
	(JWT_ALG_RS256 | JWT_ALG_RS384 | JWT_ALG_RS512 | JWT_ALG_PS256 | JWT_ALG_PS384 |           \
	 JWT_ALG_PS512)

unsigned jwt_alg_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (strlen(alg_names[i].name) == len && memcmp(alg_names[i].name, name, len) == 0)
			return alg_names[i].bit;
	return 0;
}

const char *jwt_alg_name(unsigned alg)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (alg_names[i].bit == alg)
			return alg_names[i].name;
	return "?";
}

static void key_clear(struct jwks_key *k)
{
	free(k->kid);
	if (k->jwk)
		cjose_jwk_release(k->jwk);
	EVP_PKEY_free(k->ed);
	memset(k, 0, sizeof(*k));
}

struct jwks *jwks_ref(struct jwks *ks)
{
	if (ks)
		atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
	return ks;
}

void jwks_unref(struct jwks *ks)
{
	if (!ks || atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < ks->n; i++)
		key_clear(&ks->keys[i]);
	free(ks);
}

size_t jwks_count(const struct jwks *ks)
{
	return ks ? ks->n : 0;
}

/* The algorithms a cjose RSA or EC key fits, or 0 when it is unusable. */
static unsigned cjose_algs(const cjose_jwk_t *jwk, struct err *e, size_t i)
{
	cjose_err ce;

	if (cjose_jwk_get_kty(jwk, &ce) == CJOSE_JWK_KTY_RSA) {
		size_t bits = cjose_jwk_get_keysize(jwk, &ce);

		if (bits < JWKS_MIN_RSA_BITS || bits > JWKS_MAX_RSA_BITS) {
			err_set(e, 0, 0, "keys[%zu]: an RSA key of %zu bits (allowed %u to %u)", i,
				bits, JWKS_MIN_RSA_BITS, JWKS_MAX_RSA_BITS);
			return 0;
		}
		return RSA_ALGS;
	}
	switch (cjose_jwk_EC_get_curve(jwk, &ce)) {
	case CJOSE_JWK_EC_P_256:
		return JWT_ALG_ES256;
	case CJOSE_JWK_EC_P_384:
		return JWT_ALG_ES384;
	case CJOSE_JWK_EC_P_521:
		return JWT_ALG_ES512;
	default:
		err_set(e, 0, 0, "keys[%zu]: an EC key on an unsupported curve", i);
		return 0;
	}
}

static int load_okp(json_t *o, struct jwks_key *k, struct err *e, size_t i)
{
	const char *x = json_string_value(json_object_get(o, "x"));
	unsigned char raw[33];
	ssize_t n;

	if (!x)
		return err_set(e, 0, 0, "keys[%zu]: an OKP key needs a string \"x\"", i);
	n = b64url_decode(x, strlen(x), raw, sizeof(raw));
	if (n != 32)
		return err_set(e, 0, 0, "keys[%zu]: \"x\" is not a base64url Ed25519 public key",
			       i);
	k->ed = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	if (!k->ed)
		return err_set(e, 0, 0, "keys[%zu]: not a valid Ed25519 public key", i);
	k->algs = JWT_ALG_EDDSA;
	return 0;
}

/* Decodes member <name> of <o> (strict base64url) into a new buffer of at
 * most <max> bytes; 0 on success. cjose's own decoder is not given hostile
 * text: it asserts on some of it. */
static int member_bytes(json_t *o, const char *name, size_t max, uint8_t **out, size_t *len)
{
	json_t *v = json_object_get(o, name);
	ssize_t n;

	*out = NULL;
	if (!json_is_string(v) || b64url_decoded_len(json_string_length(v)) > max ||
	    !(*out = malloc(max ? max : 1)))
		return -1;
	n = b64url_decode(json_string_value(v), json_string_length(v), *out, max);
	if (n <= 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

static cjose_jwk_t *import_rsa(json_t *o)
{
	cjose_jwk_rsa_keyspec s = {0};
	cjose_jwk_t *jwk = NULL;
	cjose_err ce;

	if (member_bytes(o, "n", JWKS_MAX_RSA_BITS / 8, &s.n, &s.nlen) == 0 &&
	    member_bytes(o, "e", 8, &s.e, &s.elen) == 0)
		jwk = cjose_jwk_create_RSA_spec(&s, &ce);
	free(s.n);
	free(s.e);
	return jwk;
}

static cjose_jwk_t *import_ec(json_t *o)
{
	const char *crv = json_string_value(json_object_get(o, "crv"));
	cjose_jwk_ec_keyspec s = {.crv = CJOSE_JWK_EC_INVALID};
	cjose_jwk_t *jwk = NULL;
	size_t fl = 0;
	cjose_err ce;

	if (crv && strcmp(crv, "P-256") == 0)
		s.crv = CJOSE_JWK_EC_P_256, fl = 32;
	else if (crv && strcmp(crv, "P-384") == 0)
		s.crv = CJOSE_JWK_EC_P_384, fl = 48;
	else if (crv && strcmp(crv, "P-521") == 0)
		s.crv = CJOSE_JWK_EC_P_521, fl = 66;
	if (fl && member_bytes(o, "x", fl, &s.x, &s.xlen) == 0 &&
	    member_bytes(o, "y", fl, &s.y, &s.ylen) == 0 && s.xlen == fl && s.ylen == fl)
		jwk = cjose_jwk_create_EC_spec(&s, &ce);
	free(s.x);
	free(s.y);
	return jwk;
}

static int load_cjose(json_t *o, struct jwks_key *k, struct err *e, size_t i, bool rsa)
{
	k->jwk = rsa ? import_rsa(o) : import_ec(o);
	if (!k->jwk)
		return err_set(e, 0, 0, "keys[%zu]: not a valid %s public key", i,
			       rsa ? "RSA" : "EC (P-256, P-384, P-521)");
	k->algs = cjose_algs(k->jwk, e, i);
	return k->algs ? 0 : -1;
}

/* 1: loaded into <k>, 0: skipped (not a signing key we know), -1: error. */
static int load_entry(json_t *o, struct jwks_key *k, struct err *e, size_t i)
{
	static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
	const char *kty = json_string_value(json_object_get(o, "kty"));
	json_t *use = json_object_get(o, "use"), *kid = json_object_get(o, "kid");
	json_t *alg = json_object_get(o, "alg");
	const char *crv = json_string_value(json_object_get(o, "crv"));
	unsigned pin = JWT_ALG_ALL;

	if (!json_is_object(o) || !kty)
		return err_set(e, 0, 0, "keys[%zu] must be an object with a string \"kty\"", i);
	if (strcmp(kty, "oct") == 0)
		return err_set(e, 0, 0, "keys[%zu]: symmetric (oct) keys are refused", i);
	for (size_t j = 0; j < sizeof(priv) / sizeof(priv[0]); j++)
		if (json_object_get(o, priv[j]))
			return err_set(e, 0, 0,
				       "keys[%zu] holds private key material (\"%s\"): publish "
				       "only public keys",
				       i, priv[j]);
	if ((use && !json_is_string(use)) || (kid && !json_is_string(kid)) ||
	    (alg && !json_is_string(alg)))
		return err_set(e, 0, 0, "keys[%zu]: \"use\", \"kid\" and \"alg\" must be strings",
			       i);
	if (use && strcmp(json_string_value(use), "sig") != 0)
		return 0;
	if (alg && !(pin = jwt_alg_from_name(json_string_value(alg), json_string_length(alg))))
		return 0; /* pinned to an algorithm we never accept */
	if (strcmp(kty, "OKP") == 0) {
		if (!crv || strcmp(crv, "Ed25519") != 0)
			return 0;
		if (load_okp(o, k, e, i))
			return -1;
	} else if (strcmp(kty, "RSA") == 0 || strcmp(kty, "EC") == 0) {
		if (load_cjose(o, k, e, i, strcmp(kty, "RSA") == 0))
			return -1;
	} else {
		return 0;
	}
	k->algs &= pin;
	if (kid) {
		k->kid_len = json_string_length(kid);
		if (k->kid_len > JWKS_MAX_KID_LEN || memchr(json_string_value(kid), 0, k->kid_len))
			return err_set(e, 0, 0, "keys[%zu]: \"kid\" is longer than %u bytes", i,
				       JWKS_MAX_KID_LEN);
		if (!(k->kid = strdup(json_string_value(kid))))
			return err_set(e, 0, 0, "out of memory");
	}
	return 1;
}

static int parse_jwks(struct jwks *ks, const char *doc, size_t len, struct err *e)
{
	json_error_t je;
	json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je), *keys;
	int rc = -1;

	if (!root)
		return err_set(e, je.line, je.column, "not a JSON document: %s", je.text);
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys)) {
		err_set(e, 0, 0, "a JWKS is an object with a \"keys\" array");
		goto out;
	}
	if (json_array_size(keys) > JWKS_MAX_ENTRIES) {
		err_set(e, 0, 0, "more than %u entries in \"keys\"", JWKS_MAX_ENTRIES);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(keys); i++) {
		struct jwks_key *k;
		int r;

		if (ks->n == JWKS_MAX_KEYS) {
			err_set(e, 0, 0, "more than %u usable keys", JWKS_MAX_KEYS);
			goto out;
		}
		k = &ks->keys[ks->n];
		r = load_entry(json_array_get(keys, i), k, e, i);
		if (r < 0) {
			key_clear(k);
			goto out;
		}
		if (r == 0 || !k->algs)
			key_clear(k);
		else
			ks->n++;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* An RSA or EC public key from OpenSSL, rebuilt as a cjose JWK. */
static cjose_jwk_t *pem_to_cjose(EVP_PKEY *pk)
{
	BIGNUM *a = NULL, *b = NULL;
	unsigned char *ab = NULL, *bb = NULL;
	cjose_jwk_t *jwk = NULL;
	cjose_err ce;
	bool rsa = EVP_PKEY_is_a(pk, "RSA");
	char group[32] = "";

	if (rsa) {
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &a);
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &b);
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					       NULL);
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &a);
		EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &b);
	}
	if (a && b && (ab = malloc((size_t)BN_num_bytes(a) + 1)) &&
	    (bb = malloc((size_t)BN_num_bytes(b) + 1))) {
		size_t al = (size_t)BN_bn2bin(a, ab), bl = (size_t)BN_bn2bin(b, bb);

		if (rsa) {
			cjose_jwk_rsa_keyspec s = {.n = ab, .nlen = al, .e = bb, .elen = bl};

			jwk = cjose_jwk_create_RSA_spec(&s, &ce);
		} else {
			cjose_jwk_ec_keyspec s = {.x = ab, .xlen = al, .y = bb, .ylen = bl};

			s.crv = strcmp(group, "prime256v1") == 0  ? CJOSE_JWK_EC_P_256
				: strcmp(group, "secp384r1") == 0 ? CJOSE_JWK_EC_P_384
				: strcmp(group, "secp521r1") == 0 ? CJOSE_JWK_EC_P_521
								  : CJOSE_JWK_EC_INVALID;
			if (s.crv != CJOSE_JWK_EC_INVALID)
				jwk = cjose_jwk_create_EC_spec(&s, &ce);
		}
	}
	free(ab);
	free(bb);
	BN_free(a);
	BN_free(b);
	return jwk;
}

static int parse_pem(struct jwks *ks, const char *doc, size_t len, struct err *e)
{
	BIO *bio = BIO_new_mem_buf(doc, (int)len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	struct jwks_key *k = &ks->keys[0];
	int rc = -1;

	BIO_free(bio);
	if (!pk)
		return err_set(e, 0, 0, "not a PEM public key (BEGIN PUBLIC KEY)");
	if (EVP_PKEY_is_a(pk, "ED25519")) {
		k->ed = pk;
		k->algs = JWT_ALG_EDDSA;
		pk = NULL;
	} else if (!(k->jwk = pem_to_cjose(pk))) {
		err_set(e, 0, 0, "the PEM key is not an RSA, EC (P-256/384/521) or Ed25519 key");
		goto out;
	} else if (!(k->algs = cjose_algs(k->jwk, e, 0))) {
		goto out;
	}
	ks->n = 1;
	rc = 0;
out:
	if (rc)
		key_clear(k);
	EVP_PKEY_free(pk);
	return rc;
}

int jwks_parse(const char *doc, size_t len, struct jwks **out, struct err *e)
{
	struct jwks *ks;
	size_t skip = 0;
	int rc;

	*out = NULL;
	if (len > JWKS_MAX_DOC_SIZE)
		return err_set(e, 0, 0, "the key document is larger than %u bytes",
			       JWKS_MAX_DOC_SIZE);
	if (!(ks = calloc(1, sizeof(*ks))))
		return err_set(e, 0, 0, "out of memory");
	atomic_init(&ks->refs, 1);
	while (skip < len && strchr(" \t\r\n", doc[skip]) && doc[skip])
		skip++;
	if (len - skip >= 10 && memcmp(doc + skip, "-----BEGIN", 10) == 0)
		rc = parse_pem(ks, doc, len, e);
	else
		rc = parse_jwks(ks, doc, len, e);
	if (rc == 0 && ks->n == 0)
		rc = err_set(e, 0, 0, "no usable signing key (RSA, EC or Ed25519, use \"sig\")");
	if (rc) {
		jwks_unref(ks);
		return -1;
	}
	*out = ks;
	return 0;
}

const struct jwks_key *jwks_find(const struct jwks *ks, unsigned alg, const char *kid,
				 size_t kid_len, bool *kid_known)
{
	const struct jwks_key *only = NULL;
	size_t fits = 0;

	*kid_known = false;
	for (size_t i = 0; i < ks->n; i++) {
		const struct jwks_key *k = &ks->keys[i];

		if (kid) {
			if (!k->kid || k->kid_len != kid_len || memcmp(k->kid, kid, kid_len) != 0)
				continue;
			*kid_known = true;
			if (k->algs & alg)
				return k;
		} else if (k->algs & alg) {
			only = k;
			fits++;
		}
	}
	return fits == 1 ? only : NULL;
}

bool jwks_verify(const struct jwks_key *key, unsigned alg, const char *compact, size_t compact_len,
		 const unsigned char *input, size_t input_len, const unsigned char *sig,
		 size_t sig_len)
{
	bool good = false;

	if (!(key->algs & alg))
		return false;
	if (key->ed) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		good = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->ed) == 1 &&
		       EVP_DigestVerify(ctx, sig, sig_len, input, input_len) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		cjose_err ce;
		cjose_jws_t *jws = cjose_jws_import(compact, compact_len, &ce);

		good = jws && cjose_jws_verify(jws, key->jwk, &ce);
		if (jws)
			cjose_jws_release(jws);
	}
	return good;
}

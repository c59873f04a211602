/* jwt_fixture.h - test keys and tokens made at run time with OpenSSL: no
 * private key is ever committed. Used by test_jwt.c, test_jwks.c, the
 * jwt_mint tool (e2e) and the bench. Static functions, test code only:
 * errors abort. */
#ifndef OAUTH2_SPOA_JWT_FIXTURE_H
#define OAUTH2_SPOA_JWT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

enum fx_kind { FX_RSA, FX_EC256, FX_ED25519 };

static inline void fx_die(const char *what)
{
	fprintf(stderr, "jwt_fixture: %s failed\n", what);
	abort();
}

static inline EVP_PKEY *fx_keygen(enum fx_kind k)
{
	EVP_PKEY *pk = k == FX_RSA     ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
		       : k == FX_EC256 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
				       : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (!pk)
		fx_die("keygen");
	return pk;
}

/* base64url without padding of <n> bytes into <out> (room for 4n/3+4). */
static inline size_t fx_b64url(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = t[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = t[v & 63];
	}
	out[o] = '\0';
	return o;
}

static inline void fx_bn_b64(EVP_PKEY *pk, const char *param, size_t pad, char *out)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	if (!EVP_PKEY_get_bn_param(pk, param, &bn))
		fx_die("get_bn_param");
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	fx_b64url(buf, (size_t)n, out);
}

/* One JWK (public part only) as JSON; <extra> is spliced in (e.g. ",\"alg\":\"RS256\""). */
static inline char *fx_jwk(EVP_PKEY *pk, const char *kid, const char *extra)
{
	char a[1500], b[1500], *out = malloc(4096);

	if (!out)
		fx_die("malloc");
	if (EVP_PKEY_is_a(pk, "RSA")) {
		fx_bn_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0, a);
		fx_bn_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0, b);
		snprintf(out, 4096, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}",
			 kid, a, b, extra);
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		fx_bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32, a);
		fx_bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32, b);
		snprintf(
		    out, 4096,
		    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}",
		    kid, a, b, extra);
	} else {
		unsigned char raw[32];
		size_t n = sizeof(raw);

		if (!EVP_PKEY_get_raw_public_key(pk, raw, &n))
			fx_die("raw_public_key");
		fx_b64url(raw, n, a);
		snprintf(out, 4096,
			 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\",\"x\":\"%s\"%s}", kid,
			 a, extra);
	}
	return out;
}

/* The public key as a PEM "PUBLIC KEY" block (malloc'd). */
static inline char *fx_pem(EVP_PKEY *pk)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	if (!bio || !PEM_write_bio_PUBKEY(bio, pk))
		fx_die("PEM_write_bio_PUBKEY");
	n = BIO_get_mem_data(bio, &p);
	out = strndup(p, (size_t)n);
	BIO_free(bio);
	return out;
}

/* A raw r||s ECDSA signature from OpenSSL's DER one. */
static inline size_t fx_der_to_raw(const unsigned char *der, size_t len, unsigned char *out)
{
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &der, (long)len);
	const BIGNUM *r, *ss;

	if (!s)
		fx_die("d2i_ECDSA_SIG");
	ECDSA_SIG_get0(s, &r, &ss);
	BN_bn2binpad(r, out, 32);
	BN_bn2binpad(ss, out + 32, 32);
	ECDSA_SIG_free(s);
	return 64;
}

/* Signs "<header>.<payload>" (JSON texts, encoded here) with <alg> and
 * returns the compact token (malloc'd). alg "none" leaves the signature
 * empty; "HS256" uses <hmac_key> as the secret (the key confusion attack). */
static inline char *fx_sign(EVP_PKEY *pk, const char *alg, const char *header, const char *payload,
			    const char *hmac_key)
{
	size_t hl = strlen(header), pl = strlen(payload), cap = (hl + pl) * 2 + 2048;
	char *tok = malloc(cap);
	unsigned char sig[1024], raw[132];
	size_t sl = sizeof(sig), off;

	if (!tok)
		fx_die("malloc");
	off = fx_b64url((const unsigned char *)header, hl, tok);
	tok[off++] = '.';
	off += fx_b64url((const unsigned char *)payload, pl, tok + off);
	if (strcmp(alg, "none") == 0) {
		tok[off++] = '.';
		tok[off] = '\0';
		return tok;
	}
	if (strcmp(alg, "HS256") == 0) {
		unsigned int ml = 0;

		HMAC(EVP_sha256(), hmac_key ? hmac_key : "", (int)strlen(hmac_key ? hmac_key : ""),
		     (unsigned char *)tok, off, sig, &ml);
		sl = ml;
	} else {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		const EVP_MD *md = strcmp(alg, "EdDSA") == 0 ? NULL : EVP_sha256();

		if (!ctx || EVP_DigestSignInit(ctx, &pctx, md, NULL, pk) != 1)
			fx_die("DigestSignInit");
		if (alg[0] == 'P' &&
		    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1))
			fx_die("PSS");
		if (EVP_DigestSign(ctx, sig, &sl, (unsigned char *)tok, off) != 1)
			fx_die("DigestSign");
		EVP_MD_CTX_free(ctx);
		if (alg[0] == 'E' && alg[1] == 'S') {
			sl = fx_der_to_raw(sig, sl, raw);
			memcpy(sig, raw, sl);
		}
	}
	tok[off++] = '.';
	fx_b64url(sig, sl, tok + off);
	return tok;
}

#endif

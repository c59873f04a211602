/* jwt_mint.c - test keys and JWT access tokens for the e2e tests, made with
 * OpenSSL at run time (no key is ever committed).
 *
 *   jwt_mint init DIR                    RSA-2048, P-256 and Ed25519 keys: DIR/{rsa,ec,ed}.key
 *                                        (private, PKCS#8 PEM) and DIR/jwks.json (public, kids
 *                                        r1, e1, d1), DIR/ec.pub (public PEM)
 *   jwt_mint sign DIR KEY ALG HDR PAYLOAD  prints HDR.PAYLOAD signed with DIR/KEY.key (rsa, ec,
 *                                        ed) as ALG (RS256, PS256, ES256, EdDSA); ALG none
 *                                        leaves the signature empty, HS256 keys an HMAC with
 *                                        the text of DIR/jwks.json (the key confusion attack)
 * HDR and PAYLOAD are JSON texts, encoded here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/jwt_fixture.h"

static char *slurp(const char *dir, const char *name)
{
	char p[4096], *buf;
	FILE *f;
	long n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!(f = fopen(p, "rb")) || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) || !(buf = calloc(1, (size_t)n + 1)) ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "jwt_mint: %s: %s\n", p, strerror(errno));
		exit(2);
	}
	fclose(f);
	return buf;
}

static void write_to(const char *dir, const char *name, const char *text)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!(f = fopen(p, "w")) || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "jwt_mint: %s: %s\n", p, strerror(errno));
		exit(2);
	}
}

static void write_key(const char *dir, const char *name, EVP_PKEY *pk)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!(f = fopen(p, "w")) || !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f)) {
		fprintf(stderr, "jwt_mint: %s: cannot write\n", p);
		exit(2);
	}
}

static int init(const char *dir)
{
	EVP_PKEY *r = fx_keygen(FX_RSA), *e = fx_keygen(FX_EC256), *d = fx_keygen(FX_ED25519);
	char *jr = fx_jwk(r, "r1", ""), *je = fx_jwk(e, "e1", ""), *jd = fx_jwk(d, "d1", "");
	char *pem = fx_pem(e), doc[8192];

	write_key(dir, "rsa.key", r);
	write_key(dir, "ec.key", e);
	write_key(dir, "ed.key", d);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}\n", jr, je, jd);
	write_to(dir, "jwks.json", doc);
	write_to(dir, "ec.pub", pem);
	free(jr);
	free(je);
	free(jd);
	free(pem);
	EVP_PKEY_free(r);
	EVP_PKEY_free(e);
	EVP_PKEY_free(d);
	return 0;
}

static int sign(const char *dir, const char *key, const char *alg, const char *hdr,
		const char *payload)
{
	char name[64], *pemtxt, *jwks = slurp(dir, "jwks.json"), *tok;
	BIO *bio;
	EVP_PKEY *pk;

	snprintf(name, sizeof(name), "%s.key", key);
	pemtxt = slurp(dir, name);
	bio = BIO_new_mem_buf(pemtxt, -1);
	pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (!pk) {
		fprintf(stderr, "jwt_mint: %s: not a private key\n", name);
		return 2;
	}
	/* The HMAC secret is the JWKS text without its final newline. */
	jwks[strcspn(jwks, "\n")] = '\0';
	tok = fx_sign(pk, alg, hdr, payload, jwks);
	puts(tok);
	free(tok);
	free(jwks);
	free(pemtxt);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "init") == 0)
		return init(argv[2]);
	if (argc == 7 && strcmp(argv[1], "sign") == 0)
		return sign(argv[2], argv[3], argv[4], argv[5], argv[6]);
	fprintf(stderr, "usage: jwt_mint init DIR | jwt_mint sign DIR KEY ALG HDR PAYLOAD\n");
	return 2;
}

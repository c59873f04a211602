/* jwt_bench.c - the cost of one uncached local JWT verification
 * (jwt_verify(): split, header, key lookup, signature, claims), per
 * algorithm, on one thread. A figure, never pass/fail:
 *   build/bench/jwt_bench [ITERATIONS=2000]
 * prints "ALG  median_us  min_us" over 5 rounds of ITERATIONS each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/jwt_fixture.h"
#include "jwt.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void run(const char *alg, enum fx_kind kind, long iters)
{
	EVP_PKEY *pk = fx_keygen(kind);
	char *jwk = fx_jwk(pk, "k", ""), doc[4096], hdr[128], pl[256], *tok;
	struct jwks *ks;
	struct err e;
	struct jwt_rules rules = {JWT_ALG_ALL, "https://idp/", false};
	double r[5];
	int64_t t0 = (int64_t)time(NULL);

	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk);
	if (jwks_parse(doc, strlen(doc), &ks, &e)) {
		fprintf(stderr, "jwks: %s\n", e.msg);
		exit(1);
	}
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k\",\"typ\":\"at+jwt\"}", alg);
	snprintf(pl, sizeof(pl),
		 "{\"iss\":\"https://idp/\",\"sub\":\"alice\",\"aud\":\"api\",\"scope\":\"read "
		 "write\",\"client_id\":\"c\",\"iat\":%lld,\"exp\":%lld}",
		 (long long)t0, (long long)t0 + 3600);
	tok = fx_sign(pk, alg, hdr, pl, NULL);
	for (int k = 0; k < 5; k++) {
		double start = now_us();

		for (long i = 0; i < iters; i++) {
			struct claims *c = NULL;

			if (jwt_verify(tok, strlen(tok), ks, &rules, t0, 30, &c) != JWT_OK)
				exit(1);
			claims_unref(c);
		}
		r[k] = (now_us() - start) / (double)iters;
	}
	qsort(r, 5, sizeof(r[0]), cmp);
	printf("%-6s %8.1f %8.1f\n", alg, r[2], r[0]);
	jwks_unref(ks);
	free(tok);
	free(jwk);
	EVP_PKEY_free(pk);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 2000;

	printf("alg    median_us  min_us  (uncached jwt_verify, one thread, %ld per round)\n",
	       iters);
	run("RS256", FX_RSA, iters);
	run("PS256", FX_RSA, iters);
	run("ES256", FX_EC256, iters);
	run("EdDSA", FX_ED25519, iters);
	return 0;
}

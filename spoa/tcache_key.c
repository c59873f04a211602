/* tcache_key.c - the token cache's keys (tcache.h): SHA-256 of an endpoint
 * identity and the token, with a reusable midstate per identity, and the
 * short fingerprint logs show instead of a token. Apart from the cache
 * itself (tcache.c): the keys are also what Redis (l2.c) and purge use.
 *
 * The low-level SHA-256 calls are deprecated in OpenSSL 3 in favour of EVP,
 * but EVP costs a provider lookup, a read lock and an allocation per digest
 * (about a fifth of the agent's CPU on the cache-hit path), and it cannot
 * copy a midstate without allocating. These calls are plain code on a plain
 * struct. */
#include "tcache.h"

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct tcache_key_prefix *)0)->state),
	       "struct tcache_key_prefix is too small for SHA256_CTX");

void tcache_key_prefix_init(struct tcache_key_prefix *kp, struct slice endpoint)
{
	static const uint8_t sep = 0;
	SHA256_CTX *ctx = (SHA256_CTX *)(void *)kp->state;

	SHA256_Init(ctx);
	if (endpoint.len)
		SHA256_Update(ctx, endpoint.ptr, endpoint.len);
	SHA256_Update(ctx, &sep, 1);
}

void tcache_key_finish(const struct tcache_key_prefix *kp, struct slice token,
		       uint8_t out[TCACHE_KEY_LEN])
{
	SHA256_CTX ctx;

	memcpy(&ctx, kp->state, sizeof(ctx));
	if (token.len)
		SHA256_Update(&ctx, token.ptr, token.len);
	SHA256_Final(out, &ctx);
	/* The state holds the tail of the token. */
	explicit_bzero(&ctx, sizeof(ctx));
}

void tcache_key_prefix_absorb(struct tcache_key_prefix *kp, struct slice more)
{
	if (more.len)
		SHA256_Update((SHA256_CTX *)(void *)kp->state, more.ptr, more.len);
}

void tcache_key_prefix_clear(struct tcache_key_prefix *kp)
{
	explicit_bzero(kp, sizeof(*kp));
}

int tcache_key(struct slice endpoint, struct slice token, uint8_t out[TCACHE_KEY_LEN])
{
	struct tcache_key_prefix kp;

	tcache_key_prefix_init(&kp, endpoint);
	tcache_key_finish(&kp, token, out);
	tcache_key_prefix_clear(&kp);
	return 0;
}

void tcache_fingerprint(const uint8_t key[TCACHE_KEY_LEN], char out[9])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 4; i++) {
		out[2 * i] = hex[key[i] >> 4];
		out[2 * i + 1] = hex[key[i] & 15];
	}
	out[8] = '\0';
}

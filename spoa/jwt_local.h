/* jwt_local.h - the decision pipeline's side of local JWT validation: a
 * policy's jwt settings applied to one token, with the outcome in the form
 * the token cache stores (a struct claims).
 *
 * No I/O, no allocation beyond the claims, thread-safe; the time is an
 * argument. Never logs or copies the token. A remoteJwks policy reads the
 * current key set of its URL (jwks_remote.h) and, on an unknown "kid",
 * asks its fetcher for a refetch (rate-limited there). */
#ifndef OAUTH2_SPOA_JWT_LOCAL_H
#define OAUTH2_SPOA_JWT_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "claims.h"
#include "policy.h"
#include "reason.h"
#include "tcache.h"

/* How often the "no key set yet" hint is logged per URL, at most. */
#define JWT_LOCAL_HINT_EVERY_S 10

/* The reason a jwt_verify() result is refused with: invalid_token for a
 * token whose format, algorithm, key or signature fails; inactive_token for
 * exp, nbf and iat, and for a refresh or ID token; issuer_mismatch for
 * "iss". AUTHZ_OK for JWT_OK. */
enum authz_reason jwt_local_reason(enum jwt_result r);

/* Verifies <token> with <pj> at <now>. Returns a NEW claims (release with
 * claims_unref): the verified claims (active true), or, when refused, an
 * empty one with active false and refusal = jwt_local_reason(); NULL only
 * when out of memory. A remoteJwks policy whose URL has no key set yet is
 * refused with AUTHZ_JWKS_UNAVAILABLE (with a rate-limited log hint, and a
 * fetch asked for as for an unknown kid).
 * *cacheable (not NULL) is false for the outcomes that must not be stored:
 * no key set, and an unknown kid of a remote set (a refetch was asked for;
 * caching the refusal would hide the rotation). */
struct claims *jwt_local_check(const struct policy_jwt *pj, struct slice token, int64_t now,
			       int64_t leeway_s, bool *cacheable);

/* Fills <kp> with the identity of <pj> (key set text or remote URL, issuer,
 * algorithms, typ switch) and of the policy's cache rules (<cache_ms>,
 * <neg_cache_ms>), so that results of two differently configured policies,
 * or of one policy before and after a reload that changed its keys, never
 * share a cache entry. Returns 0, or -1 when out of memory. */
int jwt_local_key_prefix(struct tcache_key_prefix *kp, const struct policy_jwt *pj,
			 int64_t cache_ms, int64_t neg_cache_ms);

/* The cache key of <token> for <pj> (<kp> from jwt_local_key_prefix()):
 * tcache_key_finish() for local keys; for a remote set, the handle's id and
 * the generation of its current set are absorbed first, so that a result
 * computed with one key set is never served once another replaced it. */
void jwt_local_key(const struct tcache_key_prefix *kp, const struct policy_jwt *pj,
		   struct slice token, uint8_t key[TCACHE_KEY_LEN]);

#endif

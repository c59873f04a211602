/* jwt_local.h - the decision pipeline's side of local JWT validation: a
 * policy's jwt settings applied to one token, with the outcome in the form
 * the token cache stores (a struct claims).
 *
 * No I/O, no allocation beyond the claims, thread-safe; the time is an
 * argument. Never logs or copies the token. */
#ifndef OAUTH2_SPOA_JWT_LOCAL_H
#define OAUTH2_SPOA_JWT_LOCAL_H

#include <stdint.h>

#include "buf.h"
#include "claims.h"
#include "policy.h"
#include "reason.h"
#include "tcache.h"

/* The reason a jwt_verify() result is refused with: invalid_token for a
 * token whose format, algorithm, key or signature fails; inactive_token for
 * exp, nbf and iat, and for a refresh or ID token; issuer_mismatch for
 * "iss". AUTHZ_OK for JWT_OK. */
enum authz_reason jwt_local_reason(enum jwt_result r);

/* Verifies <token> with <pj> at <now>. Returns a NEW claims (release with
 * claims_unref): the verified claims (active true), or, when refused, an
 * empty one with active false and refusal = jwt_local_reason(); NULL only
 * when out of memory. */
struct claims *jwt_local_check(const struct policy_jwt *pj, struct slice token, int64_t now,
			       int64_t leeway_s);

/* Fills <kp> with the identity of <pj> (key set text, issuer, algorithms,
 * typ switch) and of the policy's cache rules (<cache_ms>, <neg_cache_ms>),
 * so that results of two differently configured policies, or of one policy
 * before and after a reload that changed its keys, never share a cache
 * entry. Returns 0, or -1 when out of memory. */
int jwt_local_key_prefix(struct tcache_key_prefix *kp, const struct policy_jwt *pj,
			 int64_t cache_ms, int64_t neg_cache_ms);

#endif

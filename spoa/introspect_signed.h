/* introspect_signed.h - the introspection step's side of RFC 9701 signed
 * answers: a policy's introspection.signedResponse applied to one HTTP
 * answer (introspect_jwt.h), with the outcome in the form the step hands on
 * (a struct claims), and the settings' share of the step's identity.
 *
 * No I/O; thread-safe; the time is an argument. Never logs or copies the
 * token or the body: refusals are logged (a warning at most once per
 * INTROSPECT_SIGNED_LOG_EVERY_S per process, debug lines otherwise) with the
 * token's fingerprint. A remoteJwks key set is read from its URL's slot
 * (jwks_remote.h); an unknown "kid" asks its fetcher for a refetch
 * (rate-limited there). */
#ifndef OAUTH2_SPOA_INTROSPECT_SIGNED_H
#define OAUTH2_SPOA_INTROSPECT_SIGNED_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "claims.h"
#include "policy.h"
#include "tcache.h"

#define INTROSPECT_SIGNED_LOG_EVERY_S 10

/* What one call checks its answer with: a copy of a policy's settings that
 * outlives the policy (an answer may arrive after a reload freed it). */
struct introspect_signed;

/* A NEW copy of <pi>'s signedResponse (pi->signed_response and
 * pi->client_id not NULL), holding references on its key set or remote
 * handle; NULL when out of memory. */
struct introspect_signed *introspect_signed_new(const struct policy_introspection *pi);
void introspect_signed_free(struct introspect_signed *s); /* NULL allowed */

/* Checks an answer (<content_type>, NULL allowed, and <body>) with <s> at
 * <now>. Returns a NEW claims (release with claims_unref): the verified RFC
 * 7662 claims with *verified true, or, when refused (not signed, bad
 * signature, wrong typ/iss/aud, stale, no key set yet, ...), an empty one
 * with active false, refusal AUTHZ_INTROSPECTION_UNVERIFIED and *verified
 * false: the caller must never cache it. NULL (with *verified false) only
 * when out of memory. <fp> is the token's fingerprint. <map> (borrowed for
 * the call; NULL: nothing) is the policy's claims mapping, applied to the
 * verified answer (introspect_parse_mapped()). */
struct claim_map;
struct claims *introspect_signed_check(const struct introspect_signed *s, const char *content_type,
				       struct slice body, const struct claim_map *map, int64_t now,
				       int64_t leeway_s, const char *fp, bool *verified);

/* Absorbs the identity of <sr> (NULL: nothing, so plain-JSON policies keep
 * their keys) into <kp>: issuer, algorithms, maxAge, key set text or URL. */
void introspect_signed_absorb(struct tcache_key_prefix *kp,
			      const struct policy_signed_response *sr);

/* True when <a> and <b> (NULL allowed) verify answers alike. */
bool introspect_signed_same(const struct policy_signed_response *a,
			    const struct policy_signed_response *b);

#endif

/* introspect_jwt.h - RFC 9701 JWT introspection answers: the signed
 * document an IdP sends for "Accept: application/token-introspection+jwt",
 * verified against the IdP's key set (jwks.h, jwt.h's JWS checks) and the
 * policy's rules, then its "token_introspection" claim handed, unchanged,
 * to introspect_parse_response() so that every RFC 7662 rule applies.
 *
 * Pure: no I/O, no clock, no globals; the time is an argument. Thread-safe
 * on a shared key set and rules. Never copies the body into a message.
 *
 * The checks, in order (the first failure is the result):
 *  1. the Content-Type is application/token-introspection+jwt (case
 *     ignored, parameters after ';' ignored): else IJWT_NOT_SIGNED (a
 *     plain JSON answer when a signed one was asked for);
 *  2. the body (trailing whitespace ignored) is a JWS compact document whose
 *     "alg" is in rules->algs (never none or HS*), signed by a key of the
 *     set: jwt_jws_verify()'s result, as IJWT_MALFORMED, IJWT_ALG_REFUSED,
 *     IJWT_UNKNOWN_KID, IJWT_KEY_MISMATCH or IJWT_BAD_SIGNATURE;
 *  3. the header "typ" is token-introspection+jwt ("application/" prefix
 *     and case ignored, RFC 7515 4.1.9): else IJWT_TYP;
 *  4. "iss" is a string equal to rules->issuer: else IJWT_ISSUER;
 *  5. "aud" is a string equal to rules->audience, or an array of strings
 *     holding it: else IJWT_AUDIENCE;
 *  6. "iat" is an integer (else IJWT_MALFORMED), not after now + leeway
 *     (else IJWT_IAT_FUTURE) and not before now - max_age - leeway (else
 *     IJWT_STALE); an "exp", when present, an integer after now - leeway
 *     (else IJWT_STALE);
 *  7. "token_introspection" is a JSON object: else IJWT_NO_INTROSPECTION;
 *     it must then pass introspect_parse_response(): else
 *     IJWT_BAD_INTROSPECTION. */
#ifndef OAUTH2_SPOA_INTROSPECT_JWT_H
#define OAUTH2_SPOA_INTROSPECT_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claims.h"
#include "err.h"
#include "jwks.h"

#define IJWT_MEDIA_TYPE	       "application/token-introspection+jwt"
#define IJWT_MAX_AGE_DEFAULT_S 60 /* iat freshness when a policy sets none */

enum ijwt_result {
	IJWT_OK = 0,
	IJWT_NOT_SIGNED,
	IJWT_MALFORMED,
	IJWT_ALG_REFUSED,
	IJWT_UNKNOWN_KID,
	IJWT_KEY_MISMATCH,
	IJWT_BAD_SIGNATURE,
	IJWT_TYP,
	IJWT_ISSUER,
	IJWT_AUDIENCE,
	IJWT_IAT_FUTURE,
	IJWT_STALE,
	IJWT_NO_INTROSPECTION,
	IJWT_BAD_INTROSPECTION,
	IJWT_RESULT_COUNT
};

/* A policy's rules; borrowed. issuer and audience must not be NULL. */
struct ijwt_rules {
	unsigned algs;	      /* allowed enum jwt_alg bits; 0 refuses every answer */
	const char *issuer;   /* the IdP: "iss" must equal it */
	const char *audience; /* our introspection client id */
	int64_t max_age_s;    /* how old "iat" may be; <= 0: IJWT_MAX_AGE_DEFAULT_S */
};

/* Verifies the answer <body> (<len> bytes, need not be NUL-terminated)
 * sent with <content_type> (NULL or "" when none) at <now> (seconds since
 * the epoch) with <leeway_s> (negative counts as 0). On IJWT_OK stores in
 * *out a NEW claims (refs 1, release with claims_unref): what
 * introspect_parse_response() made of "token_introspection" (active or
 * not). On any other result *out is NULL and <e> (may be NULL) holds a
 * message that names the check but never quotes the body. */
enum ijwt_result introspect_jwt_verify(const char *content_type, const char *body, size_t len,
				       const struct jwks *ks, const struct ijwt_rules *rules,
				       int64_t now, int64_t leeway_s, struct claims **out,
				       struct err *e);

/* introspect_jwt_verify(), with <map> (borrowed; NULL or empty: nothing)
 * applied to "token_introspection" as introspect_parse_mapped() does. */
struct claim_map;
enum ijwt_result introspect_jwt_verify_mapped(const char *content_type, const char *body,
					      size_t len, const struct jwks *ks,
					      const struct ijwt_rules *rules,
					      const struct claim_map *map, int64_t now,
					      int64_t leeway_s, struct claims **out, struct err *e);

/* A snake_case name for logs and tests ("bad_signature"); "unknown" when
 * out of range. */
const char *ijwt_result_name(enum ijwt_result r);

/* True when <content_type> (NULL allowed) names IJWT_MEDIA_TYPE. */
bool ijwt_is_media_type(const char *content_type);

#endif

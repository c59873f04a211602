/* jwt.h - local validation of a JWT access token (RFC 7519, RFC 9068):
 * a JWS compact serialization verified against a key set (jwks.h) and a
 * policy's rules, turned into the same struct claims introspection gives.
 *
 * Pure: no I/O, no globals; the time is an argument. Thread-safe on a shared
 * key set and rules. Never copies the token into a message.
 *
 * The checks, in order (the first failure is the result):
 *  1. three base64url parts, a header of at most JWT_MAX_HEADER_LEN bytes
 *     that is a JSON object (no duplicate member) with a string "alg", no
 *     "crit", and string "kid"/"typ" when present: else JWT_MALFORMED.
 *     Header keys that point at keys ("jwk", "jku", "x5u", "x5c") are never
 *     used: only the configured key set is trusted;
 *  2. "alg" in rules->algs (which can never hold none or HS*): else
 *     JWT_ALG_REFUSED;
 *  3. a key (jwks_find()): a "kid" no key has is JWT_UNKNOWN_KID (a remote
 *     key set may refetch); a kid whose key does not fit "alg", or no kid and
 *     not exactly one key fitting "alg", is JWT_KEY_MISMATCH;
 *  4. the signature: else JWT_BAD_SIGNATURE;
 *  5. the payload is a JSON object (no duplicates) whose members below have
 *     the right types ("exp" is required, RFC 9068 2.2): else JWT_MALFORMED;
 *  6. the token type: a header "typ" naming a refresh or ID token
 *     ("rt+jwt", "refresh+jwt", "id+jwt") or a payload "typ" claim
 *     "Refresh", "ID", "Offline" or "Logout" (Keycloak) is
 *     JWT_NOT_ACCESS_TOKEN; so is, unless rules->typ_lenient, a header "typ"
 *     other than "at+jwt" (an "application/" prefix and case are ignored);
 *     lenient also takes "JWT" or no "typ" (IdPs predating RFC 9068);
 *  7. exp <= now - leeway: JWT_EXPIRED; nbf > now + leeway:
 *     JWT_NOT_YET_VALID; iat > now + leeway: JWT_IAT_FUTURE;
 *  8. rules->issuer set and "iss" absent or different: JWT_ISSUER_MISMATCH.
 * Audiences and scopes are left to policy_check(), so they mean the same as
 * for introspection. */
#ifndef OAUTH2_SPOA_JWT_H
#define OAUTH2_SPOA_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claims.h"
#include "jwks.h"

enum jwt_result {
	JWT_OK = 0,
	JWT_MALFORMED,
	JWT_ALG_REFUSED,
	JWT_UNKNOWN_KID,
	JWT_KEY_MISMATCH,
	JWT_BAD_SIGNATURE,
	JWT_NOT_ACCESS_TOKEN,
	JWT_EXPIRED,
	JWT_NOT_YET_VALID,
	JWT_IAT_FUTURE,
	JWT_ISSUER_MISMATCH,
	JWT_RESULT_COUNT
};

/* A policy's rules; borrowed by jwt_verify(). */
struct jwt_rules {
	unsigned algs;	    /* allowed enum jwt_alg bits; 0 refuses every token */
	const char *issuer; /* NULL: any "iss" */
	bool typ_lenient;   /* also accept typ "JWT" or no typ */
};

/* Verifies <token> (<len> bytes, need not be NUL-terminated) at <now>
 * (seconds since the epoch) with <leeway_s> (negative counts as 0).
 * On JWT_OK stores in *out a NEW claims (refs 1, active true; release with
 * claims_unref) filled from the payload: "exp", "nbf", "iat"; "iss", "sub";
 * "client_id" (else "azp"); "username" (else "preferred_username"); "aud"
 * (a string or an array of at most INTROSPECT_MAX_AUD strings); "scope"
 * (a space-separated string) or else "scp" (a string or an array of strings,
 * joined with spaces). Strings over INTROSPECT_MAX_STR_LEN bytes are
 * JWT_MALFORMED. On any other result *out is NULL. */
enum jwt_result jwt_verify(const char *token, size_t len, const struct jwks *ks,
			   const struct jwt_rules *rules, int64_t now, int64_t leeway_s,
			   struct claims **out);

struct json_t; /* jansson's */

/* Steps 1 to 4 only, and the payload's JSON, for JWS documents other than
 * access tokens (RFC 9701 introspection answers): the header's "alg" must
 * be in <algs>. On JWT_OK stores NEW jansson objects (the header and the
 * payload, each a JSON object with no duplicate member) in *header and
 * *payload, which the caller releases with json_decref(); else both NULL.
 * The header's "typ" and every claim are left to the caller. */
enum jwt_result jwt_jws_verify(const char *token, size_t len, const struct jwks *ks, unsigned algs,
			       struct json_t **header, struct json_t **payload);

/* A snake_case name for logs and tests ("bad_signature"); "unknown" when
 * out of range. */
const char *jwt_result_name(enum jwt_result r);

#endif

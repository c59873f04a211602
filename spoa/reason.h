/* reason.h - why a request was allowed or refused: the one outcome vocabulary
 * shared by the policy engine, the decision logic, the SPOE variables and the
 * metrics labels.
 *
 * Pure constant tables: no allocation, no state, thread-safe. */
#ifndef OAUTH2_SPOA_REASON_H
#define OAUTH2_SPOA_REASON_H

enum authz_reason {
	AUTHZ_OK = 0,		   /* a policy applied and every check passed */
	AUTHZ_NO_POLICY,	   /* no policy applies to the request: allowed */
	AUTHZ_MISSING_TOKEN,	   /* a policy applies but no bearer token was sent */
	AUTHZ_MALFORMED_TOKEN,	   /* Authorization header unusable (scheme, charset, size) */
	AUTHZ_INACTIVE_TOKEN,	   /* active false, expired, not yet valid */
	AUTHZ_INSUFFICIENT_SCOPE,  /* requiredScopes not granted */
	AUTHZ_AUDIENCE_MISMATCH,   /* audiences not satisfied (or "aud" absent) */
	AUTHZ_ISSUER_MISMATCH,	   /* "iss" absent or not in issuers */
	AUTHZ_INTROSPECTION_ERROR, /* the endpoint could not give an answer */
	AUTHZ_PUBLIC_ROUTE,	   /* only public policies (spec.config.public) apply: allowed */
	AUTHZ_TOO_MANY_POLICIES,   /* more policies apply than one request can check */
	AUTHZ_PATH_NOT_CANONICAL,  /* the path is not canonical (path.h): refused, always */
	AUTHZ_ROUTE_UNKNOWN,	   /* route NULL or missing while policies select by label */
	AUTHZ_STALE,	     /* allowed on a stale cached result: the IdP failed (staleIfError) */
	AUTHZ_INVALID_TOKEN, /* a JWT failed local validation (format, alg, key, signature) */
	AUTHZ_NOT_ACCESS_TOKEN, /* active, but the IdP marks it as a refresh, ID, ... token */
	AUTHZ_TOKEN_TOO_LONG,	/* a bearer token longer than maxTokenLength: not sent */
	AUTHZ_JWKS_UNAVAILABLE, /* a remoteJwks policy has no key set yet (never fetched) */
	AUTHZ_INTROSPECTION_UNVERIFIED, /* signedResponse: the answer was not a valid RFC 9701 JWT
					 */
	AUTHZ_REASON_COUNT		/* not a reason: the number of reasons */
};

/* Returns the snake_case name of <r> ("ok", "no_policy", "missing_token",
 * "malformed_token", "inactive_token", "insufficient_scope",
 * "audience_mismatch", "issuer_mismatch", "introspection_error",
 * "public_route", "too_many_policies", "path_not_canonical",
 * "route_unknown", "stale", "invalid_token", "not_access_token",
 * "token_too_long", "jwks_unavailable", "introspection_unverified"), a static string. Any value
 * outside the enum gives "unknown". */
const char *reason_name(enum authz_reason r);

/* Returns the HTTP status HAProxy should answer with for <r>: 200 for ok,
 * no_policy, public_route and stale; 401 for missing_token, malformed_token,
 * inactive_token, not_access_token and token_too_long; 403 for insufficient_scope,
 * audience_mismatch and issuer_mismatch; 503 for introspection_error, jwks_unavailable and
 * introspection_unverified; 500 for
 * too_many_policies (a policy set the agent cannot enforce); 400 for path_not_canonical (what
 * haproxy.cfg answers for the same paths); 403 for route_unknown (a configuration fault, but the
 * request is refused as not authorized, never as retryable); 401 for invalid_token (a JWT that
 * failed local validation). Any value outside the enum gives 500. */
int reason_status(enum authz_reason r);

/* "shadow:" followed by reason_name(r) ("shadow:insufficient_scope"), a
 * static string: the reason a shadow-mode policy answers with. */
const char *reason_shadow_name(enum authz_reason r);

#endif

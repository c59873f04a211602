/* reason.c - names and HTTP statuses of the authorization outcomes. */
#include "reason.h"

#include <stddef.h>

static const struct {
	const char *name;
	int status;
} reasons[AUTHZ_REASON_COUNT] = {
    [AUTHZ_OK] = {"ok", 200},
    [AUTHZ_NO_POLICY] = {"no_policy", 200},
    [AUTHZ_MISSING_TOKEN] = {"missing_token", 401},
    [AUTHZ_MALFORMED_TOKEN] = {"malformed_token", 401},
    [AUTHZ_INACTIVE_TOKEN] = {"inactive_token", 401},
    [AUTHZ_INSUFFICIENT_SCOPE] = {"insufficient_scope", 403},
    [AUTHZ_AUDIENCE_MISMATCH] = {"audience_mismatch", 403},
    [AUTHZ_ISSUER_MISMATCH] = {"issuer_mismatch", 403},
    [AUTHZ_INTROSPECTION_ERROR] = {"introspection_error", 503},
    [AUTHZ_PUBLIC_ROUTE] = {"public_route", 200},
    [AUTHZ_TOO_MANY_POLICIES] = {"too_many_policies", 500},
    [AUTHZ_PATH_NOT_CANONICAL] = {"path_not_canonical", 400},
    [AUTHZ_ROUTE_UNKNOWN] = {"route_unknown", 403},
    [AUTHZ_STALE] = {"stale", 200},
    [AUTHZ_INVALID_TOKEN] = {"invalid_token", 401},
    [AUTHZ_NOT_ACCESS_TOKEN] = {"not_access_token", 401},
    [AUTHZ_TOKEN_TOO_LONG] = {"token_too_long", 401},
    [AUTHZ_JWKS_UNAVAILABLE] = {"jwks_unavailable", 503},
    [AUTHZ_INTROSPECTION_UNVERIFIED] = {"introspection_unverified", 503},
};

/* The enum may hold any int value, so compare as unsigned to reject negatives
 * and values past the table in one test. */
const char *reason_name(enum authz_reason r)
{
	if ((unsigned)r >= (unsigned)AUTHZ_REASON_COUNT)
		return "unknown";
	return reasons[r].name;
}

int reason_status(enum authz_reason r)
{
	if ((unsigned)r >= (unsigned)AUTHZ_REASON_COUNT)
		return 500;
	return reasons[r].status;
}

const char *reason_shadow_name(enum authz_reason r)
{
	static const char *const names[AUTHZ_REASON_COUNT] = {
	    [AUTHZ_OK] = "shadow:ok",
	    [AUTHZ_NO_POLICY] = "shadow:no_policy",
	    [AUTHZ_MISSING_TOKEN] = "shadow:missing_token",
	    [AUTHZ_MALFORMED_TOKEN] = "shadow:malformed_token",
	    [AUTHZ_INACTIVE_TOKEN] = "shadow:inactive_token",
	    [AUTHZ_INSUFFICIENT_SCOPE] = "shadow:insufficient_scope",
	    [AUTHZ_AUDIENCE_MISMATCH] = "shadow:audience_mismatch",
	    [AUTHZ_ISSUER_MISMATCH] = "shadow:issuer_mismatch",
	    [AUTHZ_INTROSPECTION_ERROR] = "shadow:introspection_error",
	    [AUTHZ_PUBLIC_ROUTE] = "shadow:public_route",
	    [AUTHZ_TOO_MANY_POLICIES] = "shadow:too_many_policies",
	    [AUTHZ_PATH_NOT_CANONICAL] = "shadow:path_not_canonical",
	    [AUTHZ_ROUTE_UNKNOWN] = "shadow:route_unknown",
	    [AUTHZ_STALE] = "shadow:stale",
	    [AUTHZ_INVALID_TOKEN] = "shadow:invalid_token",
	    [AUTHZ_NOT_ACCESS_TOKEN] = "shadow:not_access_token",
	    [AUTHZ_TOKEN_TOO_LONG] = "shadow:token_too_long",
	    [AUTHZ_JWKS_UNAVAILABLE] = "shadow:jwks_unavailable",
	    [AUTHZ_INTROSPECTION_UNVERIFIED] = "shadow:introspection_unverified",
	};

	if ((unsigned)r >= (unsigned)AUTHZ_REASON_COUNT)
		return "shadow:unknown";
	return names[r];
}

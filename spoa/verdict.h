/* verdict.h - the answer for one request, and how it becomes SET-VAR actions.
 *
 * Variables (txn scope; HAProxy adds the SPOE var-prefix):
 *   allowed (bool), status (int), reason (string), policy, sub, client_id,
 *   scope, www_authenticate (strings; set only when known), then the
 *   claims the policies map (claims->mapped, claim_map.h).
 * Pure apart from claims_unref(). */
#ifndef OAUTH2_SPOA_VERDICT_H
#define OAUTH2_SPOA_VERDICT_H

#include <stdbool.h>

#include "claims.h"
#include "spop_frame.h"

#define VERDICT_POLICY_LEN    128
#define VERDICT_CHALLENGE_LEN 512
#define VERDICT_MAX_MORE      7 /* claims of the other needs (authz: 8 per request) */

struct verdict {
	bool allowed;
	int status;			 /* 200, 401, 403, 503 */
	const char *reason;		 /* a static string such as "ok" or "missing_token" */
	char policy[VERDICT_POLICY_LEN]; /* "" when no policy decided */
	struct claims *claims;		 /* owned reference, or NULL */
	char www_authenticate[VERDICT_CHALLENGE_LEN]; /* "" when none */
	/* Owned references to the claims of the other policies that applied,
	 * for their mapped variables only (see verdict_add_claims()). */
	unsigned n_more;
	struct claims *more[VERDICT_MAX_MORE];
};

/* An empty verdict: denied, no status, reason, policy, claims or challenge.
 * Clears the strings by their first byte only: a memset() of the ~700-byte
 * struct would cost more than the rest of a cache hit's bookkeeping. */
static inline void verdict_clear(struct verdict *v)
{
	v->allowed = false;
	v->status = 0;
	v->reason = NULL;
	v->policy[0] = '\0';
	v->claims = NULL;
	v->www_authenticate[0] = '\0';
	v->n_more = 0;
}

/* A verdict that denies with <status> and <reason> (a static string). */
void verdict_deny(struct verdict *v, int status, const char *reason);

/* The variables an ACK may carry, as bits of a mask. "allowed" is not among
 * them: it is always sent, since HAProxy's deny rule reads it. Each SET-VAR
 * costs HAProxy a little CPU per request (2.6: a formatted name and, for a
 * string, an allocation), so an operator may send only what haproxy.cfg
 * reads. */
enum verdict_var {
	VERDICT_VAR_STATUS = 1u << 0,
	VERDICT_VAR_REASON = 1u << 1,
	VERDICT_VAR_POLICY = 1u << 2,
	VERDICT_VAR_SUB = 1u << 3,
	VERDICT_VAR_CLIENT_ID = 1u << 4,
	VERDICT_VAR_SCOPE = 1u << 5,
	VERDICT_VAR_WWW_AUTHENTICATE = 1u << 6,
};
#define VERDICT_VARS_ALL 0x7fu

/* The bit of the variable named <name>: 0 for "allowed" (always sent), -1
 * for an unknown name. */
int verdict_var_bit(struct slice name);

/* Parses a comma-separated list of variable names ("allowed,sub,scope"; "all"
 * means every one) into *mask. Returns 0, or -1 with *mask unchanged for an
 * empty list or an unknown name. */
int verdict_vars_parse(const char *list, unsigned *mask);

/* When *c (may be NULL) has mapped variables and there is room, the verdict
 * takes over that reference (*c becomes NULL); otherwise *c is untouched.
 * Call it for each further policy's claims, in policy order: on a name that
 * two of them map, the earlier one's value is sent (v->claims first). */
void verdict_add_claims(struct verdict *v, struct claims **c);

/* Drops the claims references; the verdict may be reused afterwards. */
void verdict_release(struct verdict *v);

/* Appends the verdict's SET-VAR actions to <a>: "allowed", then those of
 * <vars> (enum verdict_var bits) that have a value, "status" and "reason"
 * first, then every mapped variable (whatever <vars> says), each name once;
 * the optional strings are left out when they do not fit in the frame.
 * Returns how many mapped variables were left out for want of room (0 when
 * all fit), or -SPOP_ST_TOO_BIG when not even "allowed" fits (the caller
 * then has no usable ACK). */
int verdict_encode(const struct verdict *v, unsigned vars, struct spop_ack *a);

#endif

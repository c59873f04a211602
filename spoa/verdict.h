/* verdict.h - the answer for one request, and how it becomes SET-VAR actions.
 *
 * Variables (txn scope; HAProxy adds the SPOE var-prefix):
 *   allowed (bool), status (int), reason (string), policy, sub, client_id,
 *   scope, www_authenticate (strings; set only when known).
 * Pure apart from claims_unref(). */
#ifndef OAUTH2_SPOA_VERDICT_H
#define OAUTH2_SPOA_VERDICT_H

#include <stdbool.h>

#include "claims.h"
#include "spop_frame.h"

#define VERDICT_POLICY_LEN    128
#define VERDICT_CHALLENGE_LEN 512

struct verdict {
	bool allowed;
	int status;			 /* 200, 401, 403, 503 */
	const char *reason;		 /* a static string such as "ok" or "missing_token" */
	char policy[VERDICT_POLICY_LEN]; /* "" when no policy decided */
	struct claims *claims;		 /* owned reference, or NULL */
	char www_authenticate[VERDICT_CHALLENGE_LEN]; /* "" when none */
};

/* A verdict that denies with <status> and <reason> (a static string). */
void verdict_deny(struct verdict *v, int status, const char *reason);

/* Drops the claims reference; the verdict may be reused afterwards. */
void verdict_release(struct verdict *v);

/* Appends the verdict's SET-VAR actions to <a>. "allowed", "status" and
 * "reason" always go first; the optional strings are left out when they do
 * not fit in the frame. Returns 0, or -SPOP_ST_TOO_BIG when not even
 * "allowed" fits (the caller then has no usable ACK). */
int verdict_encode(const struct verdict *v, struct spop_ack *a);

#endif

/* authz_answer.h - the verdict of one decision: allowed or not, status,
 * reason, deciding policy and the RFC 6750 challenge.
 *
 * Deny is the default: authz_answer_deny() builds every refusal, and only
 * authz_answer_allow() (for a reason that allows) or
 * authz_answer_shadow_allow() set <allowed>. Each call rebuilds <v> from
 * scratch: it does not release claims <v> held (the caller owns them). Pure
 * apart from claims_unref() in authz_answer_base_decision(); no allocation. */
#ifndef OAUTH2_SPOA_AUTHZ_ANSWER_H
#define OAUTH2_SPOA_AUTHZ_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "reason.h"

struct claims;
struct policy;
struct verdict;
struct authz_outcome;

/* Refuses with <r> for policy <p> (NULL: none): status of <r> (403 for a
 * reason that would allow, e.g. no_policy under defaultDecision: deny), and
 * the challenge HAProxy can send with a 401 or 403. */
void authz_answer_deny(struct verdict *v, enum authz_reason r, const struct policy *p);

/* Allows with <r> (ok, no_policy, public_route or stale) for <p> (NULL:
 * none). Any other reason fails closed: the verdict denies with it. */
void authz_answer_allow(struct verdict *v, enum authz_reason r, const struct policy *p);

/* Shadow mode: allowed, status 200, reason "shadow:<r>", no identity; <oc>
 * says that shadow policy <p> decided. */
void authz_answer_shadow_allow(struct verdict *v, enum authz_reason r, const struct policy *p,
			       struct authz_outcome *oc);

/* A refusal that happens before any policy's checks run (no token, bad
 * token, internal limits): the first enforcing policy among pol[0..n)
 * refuses; when every one is in shadow mode, the request is allowed, unless
 * <base_deny> (see authz_answer_base_decision()). */
void authz_answer_refuse(struct verdict *v, enum authz_reason r, const struct policy *const *pol,
			 size_t n, bool base_deny, struct authz_outcome *oc);

/* Shadow policies never change the enforced answer: when no enforcing (nor
 * public) policy applies under defaultDecision: deny (<base_deny>), an
 * allowed <v> becomes that default's no_policy refusal; the outcome the
 * caller keeps for the log line is not touched. Claims the allowed verdict
 * held go to *keep when it is empty (it must outlive the log line), else
 * are dropped; <keep> may be NULL. */
void authz_answer_base_decision(bool base_deny, struct verdict *v, struct claims **keep);

#endif

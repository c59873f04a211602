/* authz_answer.c - see authz_answer.h. */
#include "authz_answer.h"

#include <stdio.h>
#include <string.h>

#include "authz_log.h"
#include "policy.h"
#include "verdict.h"

#define REALM "oauth2-spoa"

static bool reason_allows(enum authz_reason r)
{
	return r == AUTHZ_OK || r == AUTHZ_NO_POLICY || r == AUTHZ_PUBLIC_ROUTE || r == AUTHZ_STALE;
}

/* RFC 6750 section 3: the challenge HAProxy can send with a 401 or 403. */
static void set_challenge(struct verdict *v, enum authz_reason r, const struct policy *p)
{
	const char *err = NULL, *desc = NULL;
	size_t n = sizeof(v->www_authenticate);

	switch (r) {
	case AUTHZ_MISSING_TOKEN:
		snprintf(v->www_authenticate, n, "Bearer realm=\"" REALM "\"");
		return;
	case AUTHZ_MALFORMED_TOKEN:
		err = "invalid_request";
		desc = "The Authorization header is not a valid bearer credential";
		break;
	case AUTHZ_INACTIVE_TOKEN:
		err = "invalid_token";
		desc = "The access token is not active";
		break;
	case AUTHZ_INVALID_TOKEN:
		err = "invalid_token";
		desc = "The access token is not a valid signed token";
		break;
	case AUTHZ_NOT_ACCESS_TOKEN:
		err = "invalid_token";
		desc = "The token is not an access token";
		break;
	case AUTHZ_TOKEN_TOO_LONG:
		err = "invalid_token";
		desc = "The access token is longer than this server accepts";
		break;
	case AUTHZ_AUDIENCE_MISMATCH:
		err = "invalid_token";
		desc = "The access token is not meant for this resource";
		break;
	case AUTHZ_ISSUER_MISMATCH:
		err = "invalid_token";
		desc = "The access token was issued by an untrusted issuer";
		break;
	case AUTHZ_INSUFFICIENT_SCOPE:
		snprintf(v->www_authenticate, n,
			 "Bearer realm=\"" REALM "\", error=\"insufficient_scope\", "
			 "error_description=\"The access token lacks a required scope\", "
			 "scope=\"%s\"",
			 p ? policy_required_scopes(p) : "");
		return;
	default:
		return;
	}
	snprintf(v->www_authenticate, n,
		 "Bearer realm=\"" REALM "\", error=\"%s\", error_description=\"%s\"", err, desc);
}

static void set_policy(struct verdict *v, const struct policy *p)
{
	if (p) {
		const char *name = policy_name(p);
		size_t n = strnlen(name, sizeof(v->policy) - 1);

		memcpy(v->policy, name, n);
		v->policy[n] = '\0';
	}
}

void authz_answer_deny(struct verdict *v, enum authz_reason r, const struct policy *p)
{
	verdict_clear(v); /* denied */
	v->status = reason_allows(r) ? 403 : reason_status(r);
	v->reason = reason_name(r);
	set_policy(v, p);
	set_challenge(v, r, p);
}

void authz_answer_allow(struct verdict *v, enum authz_reason r, const struct policy *p)
{
	if (!reason_allows(r)) {
		authz_answer_deny(v, r, p);
		return;
	}
	verdict_clear(v);
	v->allowed = true;
	v->status = reason_status(r);
	v->reason = reason_name(r);
	set_policy(v, p);
}

void authz_answer_shadow_allow(struct verdict *v, enum authz_reason r, const struct policy *p,
			       struct authz_outcome *oc)
{
	verdict_clear(v);
	v->allowed = true;
	v->status = 200;
	v->reason = reason_shadow_name(r);
	set_policy(v, p);
	*oc = (struct authz_outcome){p, r, true, NULL};
}

void authz_answer_refuse(struct verdict *v, enum authz_reason r, const struct policy *const *pol,
			 size_t n, bool base_deny, struct authz_outcome *oc)
{
	for (size_t i = 0; i < n; i++) {
		if (!policy_is_shadow(pol[i])) {
			authz_answer_deny(v, r, pol[i]);
			*oc = (struct authz_outcome){pol[i], r, false, NULL};
			return;
		}
	}
	authz_answer_shadow_allow(v, r, pol[0], oc);
	authz_answer_base_decision(base_deny, v, NULL);
}

void authz_answer_base_decision(bool base_deny, struct verdict *v, struct claims **keep)
{
	if (!base_deny || !v->allowed)
		return;
	if (keep && !*keep) {
		*keep = v->claims;
		v->claims = NULL;
	}
	verdict_release(v); /* the other policies' claims too */
	authz_answer_deny(v, AUTHZ_NO_POLICY, NULL);
}

/* validator.c - a policy's steps and the verdict of one step; see
 * validator.h. */
#include "validator.h"

#include "claim_map.h"
#include "policy.h"

size_t validator_steps(const struct policy *p, const struct validator **v)
{
	size_t n = 0;

	/* The local check first: a token it refuses costs no I/O. */
	if (policy_jwt(p))
		v[n++] = &validator_jwt;
	if (policy_introspection(p))
		v[n++] = &validator_introspection;
	/* Only adds claims: after the steps that validate the token. */
	if (policy_userinfo_url(p))
		v[n++] = &validator_userinfo;
	return n;
}

enum authz_reason validator_judge(const struct claims *c)
{
	if (!c)
		return AUTHZ_INTROSPECTION_ERROR;
	if (!c->active)
		return c->refusal ? (enum authz_reason)c->refusal : AUTHZ_INACTIVE_TOKEN;
	return AUTHZ_OK;
}

void validator_key_claim_map(struct tcache_key_prefix *kp, const struct claim_map *m)
{
	if (claim_map_is_empty(m))
		return;
	tcache_key_prefix_absorb(kp, slice_from("\0claims\0", 8));
	tcache_key_prefix_absorb(kp, claim_map_identity(m));
}

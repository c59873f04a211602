/* validator_jwt.c - the local JWT step (accessTokenValidation.jwt): a
 * VALIDATOR_LOCAL validator over jwt_local.c. No I/O. */
#include "claim_map.h"
#include "jwt_local.h"
#include "policy.h"
#include "validator.h"

/* The mapping this step applies: the policy's, unless introspection follows,
 * whose answer then gives the variables (as it gives the identity). */
static const struct claim_map *jwt_map(const struct policy *p)
{
	return policy_introspection(p) ? NULL : policy_claim_map(p);
}

static int jwt_key_prefix(struct tcache_key_prefix *kp, const struct policy *p)
{
	if (jwt_local_key_prefix(kp, policy_jwt(p), policy_cache_timeout_ms(p),
				 policy_negative_cache_timeout_ms(p)) < 0)
		return -1;
	validator_key_claim_map(kp, jwt_map(p));
	return 0;
}

static void jwt_key(const struct tcache_key_prefix *kp, const struct policy *p, struct slice token,
		    uint8_t key[TCACHE_KEY_LEN])
{
	jwt_local_key(kp, policy_jwt(p), token, key);
}

/* A verified result holds its policy's jwt rules, cache rules and mapped
 * claims: two policies share it only when they are the same policy. */
static bool jwt_same(const struct policy *a, const struct policy *b)
{
	return a == b;
}

static struct claims *jwt_check(const struct policy *p, struct slice token,
				const struct claims *so_far, int64_t now, int64_t leeway_s,
				bool *cacheable)
{
	struct claims *c = jwt_local_check(policy_jwt(p), token, now, leeway_s, cacheable);

	(void)so_far; /* the first step */
	if (c && c->active && claim_map_apply_jwt(jwt_map(p), token, c) < 0) {
		claims_unref(c);
		*cacheable = false;
		return NULL; /* without its mapped variables: an error, never cached */
	}
	return c;
}

const struct validator validator_jwt = {
    .name = "jwt",
    .kind = VALIDATOR_LOCAL,
    .key_prefix = jwt_key_prefix,
    .key = jwt_key,
    .same = jwt_same,
    .check = jwt_check,
};

/* validator_jwt.c - the local JWT step (accessTokenValidation.jwt): a
 * VALIDATOR_LOCAL validator over jwt_local.c. No I/O. */
#include "jwt_local.h"
#include "policy.h"
#include "validator.h"

static int jwt_key_prefix(struct tcache_key_prefix *kp, const struct policy *p)
{
	return jwt_local_key_prefix(kp, policy_jwt(p), policy_cache_timeout_ms(p),
				    policy_negative_cache_timeout_ms(p));
}

static void jwt_key(const struct tcache_key_prefix *kp, const struct policy *p, struct slice token,
		    uint8_t key[TCACHE_KEY_LEN])
{
	jwt_local_key(kp, policy_jwt(p), token, key);
}

/* A verified result holds its policy's jwt rules and cache rules: two
 * policies share it only when they are the same policy. */
static bool jwt_same(const struct policy *a, const struct policy *b)
{
	return a == b;
}

static struct claims *jwt_check(const struct policy *p, struct slice token,
				const struct claims *so_far, int64_t now, int64_t leeway_s,
				bool *cacheable)
{
	(void)so_far; /* the first step */
	return jwt_local_check(policy_jwt(p), token, now, leeway_s, cacheable);
}

const struct validator validator_jwt = {
    .name = "jwt",
    .kind = VALIDATOR_LOCAL,
    .key_prefix = jwt_key_prefix,
    .key = jwt_key,
    .same = jwt_same,
    .check = jwt_check,
};

/* jwt_local.c - a jwt policy's verification as a cacheable result. */
#include "jwt_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "log.h"

enum authz_reason jwt_local_reason(enum jwt_result r)
{
	switch (r) {
	case JWT_OK:
		return AUTHZ_OK;
	case JWT_NOT_ACCESS_TOKEN:
		return AUTHZ_NOT_ACCESS_TOKEN;
	case JWT_EXPIRED:
	case JWT_NOT_YET_VALID:
	case JWT_IAT_FUTURE:
		return AUTHZ_INACTIVE_TOKEN;
	case JWT_ISSUER_MISMATCH:
		return AUTHZ_ISSUER_MISMATCH;
	default:
		return AUTHZ_INVALID_TOKEN;
	}
}

struct claims *jwt_local_check(const struct policy_jwt *pj, struct slice token, int64_t now,
			       int64_t leeway_s)
{
	struct claims *c = NULL;
	enum jwt_result r =
	    jwt_verify((const char *)token.ptr, token.len, pj->keys, &pj->rules, now, leeway_s, &c);

	if (r == JWT_OK)
		return c;
	log_debug("jwt refused: %s", jwt_result_name(r));
	if ((c = claims_new(0)))
		c->refusal = (unsigned char)jwt_local_reason(r);
	return c;
}

int jwt_local_key_prefix(struct tcache_key_prefix *kp, const struct policy_jwt *pj,
			 int64_t cache_ms, int64_t neg_cache_ms)
{
	const char *iss = pj->rules.issuer ? pj->rules.issuer : "";
	size_t il = strlen(iss), sl = strlen(pj->source), n = 80 + il + sl;
	char *id = malloc(n);
	int len;

	if (!id)
		return -1;
	len = snprintf(id, n, "jwt%c%x%c%d%c%lld/%lld%c", 0, pj->rules.algs, 0,
		       pj->rules.typ_lenient, 0, (long long)cache_ms, (long long)neg_cache_ms, 0);
	memcpy(id + len, iss, il + 1);
	memcpy(id + len + il + 1, pj->source, sl);
	tcache_key_prefix_init(kp, slice_from(id, (size_t)len + il + 1 + sl));
	free(id);
	return 0;
}

/* jwt_local.c - a jwt policy's verification as a cacheable result. */
#include "jwt_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwks_remote.h"
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

static struct claims *refused(enum authz_reason r)
{
	struct claims *c = claims_new(0);

	if (c)
		c->refusal = (unsigned char)r;
	return c;
}

/* A remoteJwks policy: the URL's current set, then as for local keys. */
static struct claims *check_remote(const struct policy_jwt *pj, struct slice token, int64_t now,
				   int64_t leeway_s, bool *cacheable)
{
	struct jwks *ks = NULL;
	struct claims *c = NULL;
	enum jwt_result r;
	uint64_t gen = 0;

	if (pj->remote)
		ks = jwks_slot_get(jwks_remote_slot(pj->remote), &gen);
	if (!ks) {
		*cacheable = false;
		if (!pj->remote)
			return refused(AUTHZ_JWKS_UNAVAILABLE);
		/* A request for a fetch now, rate-limited like an unknown kid: the
		 * endpoint may be back before the retry is due. */
		jwks_remote_kick(pj->remote, gen);
		if (jwks_remote_hint_due(pj->remote, now, JWT_LOCAL_HINT_EVERY_S))
			log_warn("jwks %s: no key set yet (first fetch not done or failing): "
				 "jwt tokens are refused with jwks_unavailable",
				 pj->remote_url);
		return refused(AUTHZ_JWKS_UNAVAILABLE);
	}
	r = jwt_verify((const char *)token.ptr, token.len, ks, &pj->rules, now, leeway_s, &c);
	jwks_unref(ks);
	if (r == JWT_OK)
		return c;
	if (r == JWT_UNKNOWN_KID) {
		*cacheable = false;
		jwks_remote_kick(pj->remote, gen);
	}
	log_debug("jwt refused: %s", jwt_result_name(r));
	return refused(jwt_local_reason(r));
}

struct claims *jwt_local_check(const struct policy_jwt *pj, struct slice token, int64_t now,
			       int64_t leeway_s, bool *cacheable)
{
	struct claims *c = NULL;
	enum jwt_result r;

	*cacheable = true;
	if (pj->remote_url)
		return check_remote(pj, token, now, leeway_s, cacheable);
	r = jwt_verify((const char *)token.ptr, token.len, pj->keys, &pj->rules, now, leeway_s, &c);
	if (r == JWT_OK)
		return c;
	log_debug("jwt refused: %s", jwt_result_name(r));
	return refused(jwt_local_reason(r));
}

int jwt_local_key_prefix(struct tcache_key_prefix *kp, const struct policy_jwt *pj,
			 int64_t cache_ms, int64_t neg_cache_ms)
{
	const char *iss = pj->rules.issuer ? pj->rules.issuer : "";
	/* A remote set's identity is its URL here, its generation per request. */
	const char *src = pj->remote_url ? pj->remote_url : pj->source;
	size_t il = strlen(iss), sl = strlen(src), n = 80 + il + sl;
	char *id = malloc(n);
	int len;

	if (!id)
		return -1;
	len = snprintf(id, n, "%s%c%x%c%d%c%lld/%lld%c", pj->remote_url ? "jwt-remote" : "jwt", 0,
		       pj->rules.algs, 0, pj->rules.typ_lenient, 0, (long long)cache_ms,
		       (long long)neg_cache_ms, 0);
	memcpy(id + len, iss, il + 1);
	memcpy(id + len + il + 1, src, sl);
	tcache_key_prefix_init(kp, slice_from(id, (size_t)len + il + 1 + sl));
	free(id);
	return 0;
}

void jwt_local_key(const struct tcache_key_prefix *kp, const struct policy_jwt *pj,
		   struct slice token, uint8_t key[TCACHE_KEY_LEN])
{
	struct tcache_key_prefix k;
	uint64_t tag[2];

	if (!pj->remote) {
		tcache_key_finish(kp, token, key);
		return;
	}
	/* A result stored by a request that read generation N while N+1 was
	 * being published may hold N+1's verdict under N's key: harmless, as
	 * only requests racing that publish can still compute N's key. */
	tag[0] = jwks_remote_id(pj->remote);
	tag[1] = jwks_slot_gen(jwks_remote_slot(pj->remote));
	k = *kp;
	tcache_key_prefix_absorb(&k, slice_from(tag, sizeof(tag)));
	tcache_key_finish(&k, token, key);
	tcache_key_prefix_clear(&k);
}

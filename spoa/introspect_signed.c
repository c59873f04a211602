/* introspect_signed.c - see introspect_signed.h. */
#include "introspect_signed.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "introspect_jwt.h"
#include "jwks_remote.h"
#include "jwks_slot.h"
#include "log.h"

struct introspect_signed {
	struct jwks *keys;	    /* localJwks: a reference */
	struct jwks_remote *remote; /* remoteJwks: a reference (NULL until bound) */
	bool is_remote;
	struct ijwt_rules rules; /* issuer and audience: the copies below */
	char strs[];		 /* issuer NUL client id NUL */
};

static _Atomic int64_t last_log;

struct introspect_signed *introspect_signed_new(const struct policy_introspection *pi)
{
	const struct policy_signed_response *sr = pi->signed_response;
	size_t il = strlen(sr->keys.rules.issuer) + 1, cl = strlen(pi->client_id) + 1;
	struct introspect_signed *s = malloc(sizeof(*s) + il + cl);

	if (!s)
		return NULL;
	memcpy(s->strs, sr->keys.rules.issuer, il);
	memcpy(s->strs + il, pi->client_id, cl);
	s->rules = (struct ijwt_rules){sr->keys.rules.algs, s->strs, s->strs + il, sr->max_age_s};
	s->is_remote = sr->keys.remote_url != NULL;
	s->keys = s->is_remote ? NULL : jwks_ref((struct jwks *)sr->keys.keys);
	s->remote = sr->keys.remote ? jwks_remote_ref(sr->keys.remote) : NULL;
	return s;
}

void introspect_signed_free(struct introspect_signed *s)
{
	if (!s)
		return;
	jwks_unref(s->keys);
	jwks_remote_unref(s->remote);
	free(s);
}

/* One warning per INTROSPECT_SIGNED_LOG_EVERY_S, whichever thread wins. */
static bool log_due(int64_t now)
{
	int64_t prev = atomic_load_explicit(&last_log, memory_order_relaxed);

	return now - prev >= INTROSPECT_SIGNED_LOG_EVERY_S &&
	       atomic_compare_exchange_strong(&last_log, &prev, now);
}

static struct claims *refuse(int64_t now, const char *why, const char *fp)
{
	struct claims *c = claims_new(0);

	if (log_due(now))
		log_warn("introspection answer refused: %s (signedResponse; token %s)", why, fp);
	else
		log_debug("introspection answer refused: %s (token %s)", why, fp);
	if (c)
		c->refusal = (unsigned char)AUTHZ_INTROSPECTION_UNVERIFIED;
	return c;
}

struct claims *introspect_signed_check(const struct introspect_signed *s, const char *content_type,
				       struct slice body, const struct claim_map *map, int64_t now,
				       int64_t leeway_s, const char *fp, bool *verified)
{
	struct jwks *ks = NULL;
	struct claims *c = NULL;
	struct err e = {0};
	enum ijwt_result r;
	uint64_t gen = 0;

	*verified = false;
	if (s->is_remote) {
		if (s->remote)
			ks = jwks_slot_get(jwks_remote_slot(s->remote), &gen);
		if (!ks) {
			if (s->remote)
				jwks_remote_kick(s->remote, gen);
			return refuse(now, "no key set yet (remoteJwks)", fp);
		}
	} else {
		ks = jwks_ref(s->keys);
	}
	r = introspect_jwt_verify_mapped(content_type, (const char *)body.ptr, body.len, ks,
					 &s->rules, map, now, leeway_s, &c, &e);
	jwks_unref(ks);
	if (r == IJWT_OK) {
		*verified = true;
		return c;
	}
	if (r == IJWT_UNKNOWN_KID && s->remote)
		jwks_remote_kick(s->remote, gen);
	return refuse(now, r == IJWT_BAD_INTROSPECTION ? e.msg : ijwt_result_name(r), fp);
}

void introspect_signed_absorb(struct tcache_key_prefix *kp, const struct policy_signed_response *sr)
{
	const char *src;
	char head[96];
	int n;

	if (!sr)
		return;
	src = sr->keys.remote_url ? sr->keys.remote_url : sr->keys.source;
	n = snprintf(head, sizeof(head), "signed%c%x%c%lld%c%d%c", 0, sr->keys.rules.algs, 0,
		     (long long)sr->max_age_s, 0, sr->keys.remote_url != NULL, 0);
	tcache_key_prefix_absorb(kp, slice_from(head, (size_t)n));
	tcache_key_prefix_absorb(
	    kp, slice_from(sr->keys.rules.issuer, strlen(sr->keys.rules.issuer) + 1));
	tcache_key_prefix_absorb(kp, slice_from(src, strlen(src)));
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool introspect_signed_same(const struct policy_signed_response *a,
			    const struct policy_signed_response *b)
{
	if (!a || !b)
		return a == b;
	return a->keys.rules.algs == b->keys.rules.algs && a->max_age_s == b->max_age_s &&
	       str_eq(a->keys.rules.issuer, b->keys.rules.issuer) &&
	       str_eq(a->keys.remote_url, b->keys.remote_url) &&
	       str_eq(a->keys.source, b->keys.source);
}

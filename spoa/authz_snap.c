/* authz_snap.c - see authz_snap.h. */
#include "authz_snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim_map.h"
#include "config.h"
#include "jwt_local.h"
#include "policy.h"
#include "stats.h"
#include "tcache.h"

/* The endpoint identity (URL, client id, secret, the cache rules,
 * NUL-separated, then the auth method) absorbed into <kp>. The cache rules
 * are part of it so that a policy's cacheTimeout applies to its own requests:
 * an entry stored for a policy that caches for 10m is never a hit for one
 * that says cacheTimeout: 0 on the same endpoint. Returns 0, or -1 when out
 * of memory. */
static int key_prefix_init(struct tcache_key_prefix *kp, const struct policy *p)
{
	const struct policy_introspection *pi = policy_introspection(p);
	char rules[72];
	const char *parts[4] = {pi->url, pi->client_id ? pi->client_id : "",
				pi->client_secret ? pi->client_secret : "", rules};
	size_t len[4], n = 0;
	char *id;

	snprintf(rules, sizeof(rules), "%lld/%lld/%lld", (long long)policy_cache_timeout_ms(p),
		 (long long)policy_negative_cache_timeout_ms(p),
		 (long long)policy_stale_if_error_ms(p));
	for (int i = 0; i < 4; i++)
		n += (len[i] = strlen(parts[i])) + 1;
	id = malloc(n + 1);
	if (!id)
		return -1;
	n = 0;
	for (int i = 0; i < 4; i++) {
		memcpy(id + n, parts[i], len[i]);
		n += len[i];
		id[n++] = '\0';
	}
	id[n++] = (char)('0' + pi->auth_method);
	tcache_key_prefix_init(kp, slice_from(id, n));
	explicit_bzero(id, n);
	free(id);
	return 0;
}

/* A cached result holds the values its policy's claim mapping extracted, so
 * the mapping is part of the key; a policy that maps nothing keeps the key
 * it had before mappings existed. */
static void map_key(struct tcache_key_prefix *kp, const struct policy *p)
{
	const struct claim_map *m = policy_claim_map(p);

	if (m) {
		tcache_key_prefix_absorb(kp, slice_from("\0claims\0", 8));
		tcache_key_prefix_absorb(kp, claim_map_identity(m));
	}
}

void authz_snap_key(const struct authz_snap *sn, const struct policy *p, struct slice token,
		    uint8_t key[TCACHE_KEY_LEN])
{
	const struct policy_jwt *pj = policy_jwt(p);
	const struct tcache_key_prefix *kp = &sn->kp[policy_index(p)];

	if (pj)
		jwt_local_key(kp, pj, token, key);
	else
		tcache_key_finish(kp, token, key);
}

struct authz_snap *authz_snap_ref(struct authz_snap *sn)
{
	atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
	return sn;
}

void authz_snap_unref(struct authz_snap *sn)
{
	if (!sn || atomic_fetch_sub_explicit(&sn->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (sn->kp) {
		for (size_t i = 0; i < policy_set_count(sn->set); i++)
			tcache_key_prefix_clear(&sn->kp[i]);
		free(sn->kp);
	}
	policy_set_free(sn->set);
	free(sn->pol_slot);
	free(sn->endpoint_slot);
	free(sn);
}

struct authz_snap *authz_snap_new(struct stats *st, const struct config *c, struct policy_set *set)
{
	struct authz_snap *sn = calloc(1, sizeof(*sn));
	size_t n = policy_set_count(set);

	if (!sn) {
		policy_set_free(set);
		return NULL;
	}
	atomic_init(&sn->refs, 1);
	sn->set = set;
	sn->default_deny = c->default_deny;
	sn->leeway_s = c->leeway_s;
	sn->max_token_len = c->max_token_len;
	sn->pol_slot = calloc(n ? n : 1, sizeof(*sn->pol_slot));
	sn->endpoint_slot = calloc(n ? n : 1, sizeof(*sn->endpoint_slot));
	sn->kp = calloc(n ? n : 1, sizeof(*sn->kp));
	if (!sn->pol_slot || !sn->endpoint_slot || !sn->kp) {
		authz_snap_unref(sn);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct policy *p = policy_set_get(set, i);

		sn->pol_slot[i] = stats_policy_slot(st, policy_name(p));
		if (policy_is_public(p))
			continue; /* no endpoint: never introspected */
		if (policy_jwt(p)) {
			sn->endpoint_slot[i] = STATS_MAX_ENDPOINTS; /* no endpoint: never counted */
			if (jwt_local_key_prefix(&sn->kp[i], policy_jwt(p),
						 policy_cache_timeout_ms(p),
						 policy_negative_cache_timeout_ms(p)) < 0) {
				authz_snap_unref(sn);
				return NULL;
			}
			map_key(&sn->kp[i], p);
			continue;
		}
		sn->endpoint_slot[i] = stats_endpoint_slot(st, policy_introspection(p)->url);
		if (key_prefix_init(&sn->kp[i], p) < 0) {
			authz_snap_unref(sn);
			return NULL;
		}
		map_key(&sn->kp[i], p);
	}
	return sn;
}

void authz_snap_cell_init(struct authz_snap_cell *cell, struct authz_snap *sn)
{
	pthread_mutex_init(&cell->mu, NULL);
	atomic_init(&cell->cur, sn);
}

struct authz_snap *authz_snap_cell_get(struct authz_snap_cell *cell)
{
	struct authz_snap *sn;

	pthread_mutex_lock(&cell->mu);
	sn = atomic_load_explicit(&cell->cur, memory_order_relaxed);
	atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&cell->mu);
	return sn;
}

bool authz_snap_cell_holds(struct authz_snap_cell *cell, const struct authz_snap *sn)
{
	return atomic_load_explicit(&cell->cur, memory_order_acquire) == sn;
}

void authz_snap_cell_publish(struct authz_snap_cell *cell, struct authz_snap *sn)
{
	struct authz_snap *old;

	pthread_mutex_lock(&cell->mu);
	old = atomic_load_explicit(&cell->cur, memory_order_relaxed);
	atomic_store_explicit(&cell->cur, sn, memory_order_release);
	pthread_mutex_unlock(&cell->mu);
	authz_snap_unref(old); /* workers and waiting requests may still hold it */
}

void authz_snap_cell_destroy(struct authz_snap_cell *cell)
{
	authz_snap_unref(atomic_load(&cell->cur));
	pthread_mutex_destroy(&cell->mu);
}

/* authz_shared.c - the part of authz.h all workers share: the published
 * policy snapshot (authz_snap.c), the token cache, the shared (Redis) cache's
 * settings and the HTTP client settings. Built, republished and freed on the
 * main thread; authz_shared_token_keys() runs on any thread. */
#include "authz.h"

#include <stdlib.h>
#include <string.h>

#include "authz_int.h"
#include "authz_snap.h"
#include "config.h"
#include "introspect.h"
#include "l2.h"
#include "policy.h"
#include "stats.h"
#include "tcache.h"

struct authz_shared *authz_shared_new(const struct config *c, struct policy_set *set,
				      struct stats *st)
{
	struct authz_shared *sh = calloc(1, sizeof(*sh));
	struct authz_snap *sn;

	if (!sh) {
		policy_set_free(set);
		return NULL;
	}
	sh->st = st;
	sh->no_policy_slot = stats_policy_slot(st, "");
	sn = authz_snap_new(st, c, set);
	authz_snap_cell_init(&sh->snaps, sn);
	sh->hc.timeout_ms = c->introspect_timeout_ms;
	sh->hc.max_inflight_per_endpoint = c->max_inflight;
	sh->hc.max_body = INTROSPECT_MAX_BODY;
	if (c->ca_file && !(sh->ca_file = strdup(c->ca_file))) {
		authz_shared_free(sh);
		return NULL;
	}
	sh->hc.ca_file = sh->ca_file;
	if (!sn) {
		authz_shared_free(sh);
		return NULL;
	}
	if (c->cache_entries) {
		sh->cache = tcache_new(c->cache_entries);
		if (!sh->cache) {
			authz_shared_free(sh);
			return NULL;
		}
	}
	if (c->redis.address && !(sh->l2s = l2_shared_new(&c->redis))) {
		authz_shared_free(sh);
		return NULL;
	}
	return sh;
}

int authz_shared_publish(struct authz_shared *sh, const struct config *c, struct policy_set *set)
{
	struct authz_snap *sn = authz_snap_new(sh->st, c, set);

	if (!sn)
		return -1;
	authz_snap_cell_publish(&sh->snaps, sn);
	return 0;
}

struct tcache *authz_shared_cache(const struct authz_shared *sh)
{
	return sh->cache;
}

const struct l2_shared *authz_shared_l2(const struct authz_shared *sh)
{
	return sh->l2s;
}

size_t authz_shared_token_keys(struct authz_shared *sh, struct slice token,
			       uint8_t (*keys)[TCACHE_KEY_LEN], size_t max)
{
	struct authz_snap *sn = authz_snap_cell_get(&sh->snaps);
	size_t n = 0, np = policy_set_count(sn->set);

	/* Every step's key: a purge drops the JWT and the introspection results. */
	for (size_t i = 0; i < np; i++) {
		const struct authz_steps *s = &sn->steps[i]; /* none for a public policy */

		for (size_t k = 0; k < s->n && n < max; k++) {
			bool dup = false;

			s->v[k]->key(&s->kp[k], policy_set_get(sn->set, i), token, keys[n]);
			for (size_t j = 0; j < n && !dup; j++)
				dup = !memcmp(keys[j], keys[n], TCACHE_KEY_LEN);
			n += !dup;
		}
	}
	authz_snap_unref(sn);
	return n;
}

void authz_shared_free(struct authz_shared *sh)
{
	if (!sh)
		return;
	tcache_free(sh->cache);
	l2_shared_free(sh->l2s);
	authz_snap_cell_destroy(&sh->snaps);
	free(sh->ca_file);
	free(sh);
}

/* authz_snap.c - see authz_snap.h. */
#include "authz_snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "stats.h"
#include "tcache.h"
#include "validator.h"

/* <p>'s steps, each with the endpoint half of its cache key. */
static int steps_init(struct authz_steps *s, const struct policy *p)
{
	s->n = validator_steps(p, s->v);
	for (size_t k = 0; k < s->n; k++)
		if (s->v[k]->key_prefix(&s->kp[k], p) < 0)
			return -1;
	return 0;
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
	if (sn->steps) {
		for (size_t i = 0; i < policy_set_count(sn->set); i++)
			for (size_t k = 0; k < VALIDATOR_MAX_STEPS; k++)
				tcache_key_prefix_clear(&sn->steps[i].kp[k]);
		free(sn->steps);
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
	sn->steps = calloc(n ? n : 1, sizeof(*sn->steps));
	if (!sn->pol_slot || !sn->endpoint_slot || !sn->steps) {
		authz_snap_unref(sn);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct policy *p = policy_set_get(set, i);

		sn->pol_slot[i] = stats_policy_slot(st, policy_name(p));
		if (policy_is_public(p))
			continue; /* no step: never validates a token */
		if (steps_init(&sn->steps[i], p) < 0) {
			authz_snap_unref(sn);
			return NULL;
		}
		/* A jwt-only policy has no endpoint: never counted. */
		sn->endpoint_slot[i] = policy_introspection(p)
					   ? stats_endpoint_slot(st, policy_introspection(p)->url)
					   : STATS_MAX_ENDPOINTS;
		/* A step with its own endpoint (userinfo) is counted under it. */
		for (size_t k = 0; k < sn->steps[i].n; k++) {
			const struct validator *v = sn->steps[i].v[k];

			sn->steps[i].slot[k] =
			    v->url ? stats_endpoint_slot(st, v->url(p)) : sn->endpoint_slot[i];
		}
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

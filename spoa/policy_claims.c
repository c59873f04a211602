/* policy_claims.c - loads accessTokenValidation.dynamicMetadataFromClaims and
 * introspection.userIdAttributeName into a policy's struct claim_map. */
#include <stdlib.h>
#include <string.h>

#include "claim_map.h"
#include "policy_int.h"

static int ensure_map(struct pol_ld *l, struct policy *p, const yaml_node_t *n)
{
	if (!p->claim_map && !(p->claim_map = claim_map_new()))
		return pol_fail(l, n, "out of memory");
	return 0;
}

int pol_load_claim_map(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	if (n->type != YAML_MAPPING_NODE)
		return pol_fail(l, n, "%s must be a mapping (claim: variable name), not %s", where,
				pol_kind(n));
	if (ensure_map(l, p, n))
		return -1;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *k = pol_node(l, pr->key), *v = pol_node(l, pr->value);
		char w[200], *claim = NULL, *name = NULL;
		struct err e = {.msg = ""};
		int rc;

		pol_at(w, sizeof(w), "%s key", where);
		if (pol_scalar(l, k, w, false, &claim))
			return -1;
		pol_at(w, sizeof(w), "%s.%.64s", where, claim);
		if (pol_scalar(l, v, w, false, &name)) {
			free(claim);
			return -1;
		}
		rc = claim_map_add(p->claim_map, claim, name, &e);
		free(claim);
		free(name);
		if (rc < 0)
			return pol_fail(l,
					claim_map_count(p->claim_map) == CLAIM_MAP_MAX_VARS ? k : v,
					"%s: %s", w, e.msg);
	}
	return 0;
}

int pol_load_user_id(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	struct err e = {.msg = ""};
	char *claim;
	int rc;

	if (pol_scalar(l, n, where, false, &claim))
		return -1;
	if (ensure_map(l, p, n)) {
		free(claim);
		return -1;
	}
	rc = claim_map_set_user_id(p->claim_map, claim, &e);
	free(claim);
	return rc < 0 ? pol_fail(l, n, "%s: %s", where, e.msg) : 0;
}

const struct claim_map *policy_claim_map(const struct policy *p)
{
	return claim_map_is_empty(p->claim_map) ? NULL : p->claim_map;
}

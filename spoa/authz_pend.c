/* authz_pend.c - see authz_pend.h. */
#include "authz_pend.h"

#include <stdlib.h>
#include <string.h>

#include "authz_snap.h"
#include "claims.h"
#include "policy.h"

void pend_free(struct pend *pd)
{
	if (pd->tok) {
		explicit_bzero(pd->tok, pd->tok_len);
		free(pd->tok);
	}
	for (size_t i = 0; i < pd->nneed; i++)
		claims_unref(pd->need[i].claims);
	authz_snap_unref(pd->snap);
	free(pd);
}

struct pend *pend_get(struct authz *az)
{
	struct pend *pd = az->spare;

	if (!pd)
		return calloc(1, sizeof(*pd));
	az->spare = NULL;
	pd->prev = pd->next = NULL;
	pd->orphan = false;
	pd->npol = pd->nneed = pd->outstanding = 0;
	return pd;
}

void pend_recycle(struct authz *az, struct pend *pd)
{
	for (size_t i = 0; i < pd->nneed; i++) {
		claims_unref(pd->need[i].claims);
		pd->need[i].claims = NULL;
	}
	if (az->spare)
		free(pd);
	else
		az->spare = pd;
}

void pend_link(struct authz *az, struct pend *pd)
{
	pd->prev = NULL;
	pd->next = az->pends;
	if (az->pends)
		az->pends->prev = pd;
	az->pends = pd;
}

void pend_unlink(struct authz *az, struct pend *pd)
{
	if (pd->prev)
		pd->prev->next = pd->next;
	else
		az->pends = pd->next;
	if (pd->next)
		pd->next->prev = pd->prev;
}

void pend_keep_token(const struct authz_snap *sn, struct pend *pd, struct slice token)
{
	for (size_t i = 0; i < pd->npol; i++) {
		const struct pol_walk *w = &pd->walk[i];

		if (w->ended || w->step + 1u >= sn->steps[policy_index(pd->pol[i])].n)
			continue;
		if ((pd->tok = malloc(token.len ? token.len : 1))) {
			memcpy(pd->tok, token.ptr, token.len);
			pd->tok_len = token.len;
		}
		return;
	}
}

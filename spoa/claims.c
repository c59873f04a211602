/* claims.c - allocation and reference counting of struct claims. */
#include "claims.h"

#include <stdint.h>
#include <stdlib.h>

struct claims *claims_new(size_t extra)
{
	struct claims *c;

	if (extra > SIZE_MAX - sizeof(*c))
		return NULL;
	c = calloc(1, sizeof(*c) + extra);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	return c;
}

struct claim_vars *claim_vars_new(size_t n, size_t strbytes, char **area)
{
	struct claim_vars *cv;
	size_t head = sizeof(*cv);

	if (n > (SIZE_MAX - head) / sizeof(cv->v[0]))
		return NULL;
	head += n * sizeof(cv->v[0]);
	if (strbytes > SIZE_MAX - head)
		return NULL;
	cv = calloc(1, head + strbytes);
	if (!cv)
		return NULL;
	*area = (char *)cv + head;
	return cv;
}

struct claims *claims_ref(struct claims *c)
{
	/* Relaxed is enough: the caller already holds a reference, so the
	 * object cannot go away concurrently (same reasoning as shared_ptr). */
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void claims_unref(struct claims *c)
{
	if (!c)
		return;
	/* acq_rel: our reads of the object happen before the free done by
	 * whichever thread drops the last reference. (A release decrement plus
	 * an acquire fence would do, but TSan does not model fences.) */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
		free(c->mapped);
		free(c);
	}
}

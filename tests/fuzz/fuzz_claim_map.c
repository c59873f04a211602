/* fuzz_claim_map.c - a fixed claims mapping (nested paths, a dotted full
 * name, a user id claim) applied to arbitrary introspection answers. On
 * success every mapped value must be non-empty, within its bounds, free of
 * control bytes, named by the mapping, and survive the shared-cache value
 * (l2v_encode/l2v_decode) unchanged. */
#include <stdlib.h>
#include <string.h>

#include "claim_map.h"
#include "introspect.h"
#include "l2_codec.h"

static struct claim_map *the_map(void)
{
	static const char *const pairs[] = {"email",
					    "email",
					    "realm_access.roles",
					    "roles",
					    "a.b.c",
					    "abc",
					    "https://x.io/t",
					    "t",
					    "aud",
					    "aud",
					    "n",
					    "n",
					    "big",
					    "big",
					    "resource_access.x.roles",
					    "xr"};
	struct claim_map *m = claim_map_new();

	for (size_t i = 0; m && i < sizeof(pairs) / sizeof(pairs[0]); i += 2)
		if (claim_map_add(m, pairs[i], pairs[i + 1], NULL) < 0)
			abort();
	if (!m || claim_map_set_user_id(m, "preferred_username", NULL) < 0)
		abort();
	return m;
}

static void check(const struct claims *c)
{
	size_t total = 0;
	uint8_t buf[L2V_MAX_LEN];
	struct claims *d = NULL;
	int64_t until;
	ssize_t n;

	for (size_t i = 0; c->mapped && i < c->mapped->n; i++) {
		const char *v = c->mapped->v[i].value;
		size_t len = strlen(v);

		if (len == 0 || len > CLAIM_MAP_MAX_VALUE ||
		    claim_map_name_problem(c->mapped->v[i].name))
			abort();
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)v[k] < 0x20 || v[k] == 0x7f)
				abort();
		total += len;
	}
	if (total > CLAIM_MAP_MAX_TOTAL || (c->sub && strlen(c->sub) > CLAIM_MAP_MAX_VALUE))
		abort();
	n = l2v_encode(c, 1, buf, sizeof(buf));
	if (n < 0)
		return; /* too big to share: allowed */
	if (l2v_decode(buf, (size_t)n, &d, &until) < 0)
		abort();
	if ((c->mapped ? c->mapped->n : 0) != (d->mapped ? d->mapped->n : 0))
		abort();
	for (size_t i = 0; d->mapped && i < d->mapped->n; i++)
		if (strcmp(c->mapped->v[i].name, d->mapped->v[i].name) ||
		    strcmp(c->mapped->v[i].value, d->mapped->v[i].value))
			abort();
	claims_unref(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct claim_map *m;
	struct claims *c = NULL;
	struct err e;

	if (!m)
		m = the_map();
	memset(&e, 0, sizeof(e));
	if (introspect_parse_mapped((const char *)data, size, m, &c, &e) == 0) {
		if (!c)
			abort();
		if (c->active)
			check(c);
		else if (c->mapped)
			abort();
		claims_unref(c);
	} else if (c) {
		abort();
	}
	return 0;
}

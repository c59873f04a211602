/* fuzz_l2_value.c - l2v_decode() on arbitrary bytes (what a broken or hostile
 * Redis could answer). On success the claims must be self-consistent and
 * re-encode to exactly the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "l2_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[L2V_MAX_LEN];
	struct claims *c = NULL;
	int64_t until = 0;
	ssize_t n;

	if (l2v_decode(data, size, &c, &until) != 0) {
		if (c)
			abort();
		return 0;
	}
	if (!c || atomic_load(&c->refs) != 1 || c->n_aud > L2V_MAX_AUD)
		abort();
	for (size_t i = 0; i < c->n_aud; i++)
		if (!c->aud[i] || strlen(c->aud[i]) >= L2V_ABSENT)
			abort();
	n = l2v_encode(c, until, again, sizeof(again));
	if (n < 0 || (size_t)n != size || memcmp(again, data, size))
		abort();
	claims_unref(c);
	return 0;
}

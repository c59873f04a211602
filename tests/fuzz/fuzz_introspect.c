/* fuzz_introspect.c - introspect_parse_response() on arbitrary bodies, plus
 * the form-body encoder with the input as the token. On success the claims
 * must be self-consistent (strings readable, aud within its cap). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "introspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claims *c = NULL;
	struct err e;
	char *out;
	size_t outlen;
	ssize_t n;

	memset(&e, 0, sizeof(e));
	if (introspect_parse_response((const char *)data, size, &c, &e) == 0) {
		if (!c || atomic_load(&c->refs) != 1 || c->n_aud > INTROSPECT_MAX_AUD)
			abort();
		if (!c->active && (c->scope || c->sub || c->n_aud || c->has_exp))
			abort();
		for (size_t i = 0; i < c->n_aud; i++)
			if (strlen(c->aud[i]) > INTROSPECT_MAX_STR_LEN)
				abort();
		if (c->scope && strlen(c->scope) > INTROSPECT_MAX_STR_LEN)
			abort();
		claims_unref(c);
	} else if (c || e.msg[0] == '\0' || !memchr(e.msg, '\0', sizeof(e.msg))) {
		abort();
	}

	/* Encoder: the worst case is 3 output bytes per token byte. */
	outlen = 3 * size + 128;
	out = malloc(outlen);
	if (!out)
		return 0;
	n = introspect_form_body(slice_from(data, size), size & 1, "id", "s e", out, outlen);
	if (n < 0 || (size_t)n >= outlen || strlen(out) != (size_t)n)
		abort();
	/* One byte short of the exact fit must fail. */
	if (introspect_form_body(slice_from(data, size), size & 1, "id", "s e", out, (size_t)n) !=
	    -1)
		abort();
	free(out);
	return 0;
}

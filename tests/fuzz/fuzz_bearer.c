/* fuzz_bearer.c - bearer_parse() on arbitrary header values. The first byte
 * (when present) picks max_len, so the length cap is exercised too; on
 * BEARER_OK the token must lie inside the input and match the grammar; any
 * other result leaves no token. */
#include <stdint.h>
#include <stdlib.h>

#include "bearer.h"

static int b64token_byte(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slice tok;
	size_t max_len = 0;
	enum bearer_result r;

	if (size > 0) {
		max_len = data[0] & 0x3f; /* 0 = the default cap */
		data++;
		size--;
	}
	r = bearer_parse(slice_from(data, size), max_len, &tok);
	if (r == BEARER_OK) {
		if (tok.len == 0 || tok.ptr < data || tok.ptr + tok.len > data + size)
			abort();
		if (tok.len > (max_len ? max_len : BEARER_DEFAULT_MAX_LEN))
			abort();
		for (size_t i = 0; i < tok.len; i++)
			if (!b64token_byte(tok.ptr[i]))
				abort();
	} else if (r != BEARER_MISSING && r != BEARER_MALFORMED && r != BEARER_TOO_LONG) {
		abort();
	} else if (tok.ptr || tok.len) {
		abort();
	}
	return 0;
}

/* fuzz_purge_msg.c - purge_msg_decode() on arbitrary bytes (what the Redis
 * channel could carry) and purge_parse_body() on arbitrary admin bodies. A
 * decoded message must re-encode to exactly its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "purge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char again[PURGE_MSG_MAX + 1];
	struct purge_msg m;
	struct purge_req r;
	struct err e;
	int n;

	if (purge_msg_decode((const char *)data, size, &m) == 0) {
		if (m.kind == PURGE_TOKEN && (m.nkeys == 0 || m.nkeys > PURGE_MAX_KEYS))
			abort();
		n = purge_msg_encode(&m, again, sizeof(again));
		if (n < 0 || (size_t)n != size || memcmp(again, data, size))
			abort();
	}
	if (purge_parse_body((const char *)data, size, &r, &e) == 0) {
		if ((r.kind == PURGE_ALL) != (r.value == NULL))
			abort();
		if (r.value && strlen(r.value) != r.len)
			abort();
		purge_req_clear(&r);
	}
	return 0;
}

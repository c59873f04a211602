/* fuzz_spop_frame.c - one frame through every SPOP decoder, and what the
 * decoders return re-encoded where an encoder exists. */
#include <stdint.h>
#include <string.h>

#include "spop_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slice body;
	struct spop_frame f;
	ssize_t n = spop_frame_split(data, size, 65532, &body);

	if (n <= 0)
		body = slice_from(data, size); /* decode the raw bytes anyway */
	if (spop_frame_decode(body, &f) < 0)
		return 0;
	{
		struct spop_hello h;
		struct spop_nego nego;
		uint8_t out[256];

		if (spop_hello_decode(f.payload, &h) == 0 &&
		    spop_negotiate(&h, 16380, SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION,
				   &nego) == 0 &&
		    spop_encode_agent_hello(out, sizeof(out), &nego) < 0)
			__builtin_trap(); /* an AGENT-HELLO always fits in 256 bytes */
	}
	{
		struct spop_disconnect d;
		(void)spop_disconnect_decode(f.payload, &d);
	}
	{
		struct spop_msg_iter it = spop_msg_iter_init(f.payload);
		struct spop_msg m;

		while (spop_msg_next(&it, &m) > 0) {
			struct spop_arg a;
			unsigned count = 0;

			while (spop_arg_next(&m.args, &a) > 0)
				count++;
			if (count != m.nargs)
				__builtin_trap(); /* validated messages iterate fully */
		}
	}
	return 0;
}

/* test_reasm.c - reassembly of fragmented NOTIFY payloads: every event and
 * every error, and the cap. */
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "spop_reasm.h"
#include "tap.h"

static struct spop_frame fr(uint8_t type, uint32_t flags, uint64_t sid, uint64_t fid,
			    const char *payload, size_t len)
{
	return (struct spop_frame){type, flags, sid, fid, slice_from(payload, len)};
}

int main(void)
{
	struct spop_reasm r = {0};
	struct slice p = SLICE_NULL;
	struct spop_frame f;
	char *big;

	f = fr(SPOP_FT_NOTIFY, SPOP_FL_FIN, 1, 1, "abc", 3);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_PASS, "a whole NOTIFY passes");

	f = fr(SPOP_FT_NOTIFY, 0, 7, 2, "hello ", 6);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_MORE, "first fragment kept");
	f = fr(SPOP_FT_UNSET, 0, 7, 2, "fragm", 5);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_MORE, "middle fragment kept");
	f = fr(SPOP_FT_UNSET, SPOP_FL_FIN, 7, 2, "ented", 5);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_DONE, "last fragment completes");
	is_mem(p.ptr, p.len, "hello fragmented", 16, "payload concatenated in order");

	f = fr(SPOP_FT_NOTIFY, 0, 8, 1, "x", 1);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_MORE, "reusable after DONE");
	f = fr(SPOP_FT_UNSET, SPOP_FL_FIN | SPOP_FL_ABORT, 8, 1, "", 0);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_DROPPED, "ABORT drops, no answer");
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_DROPPED, "a stray ABORT is harmless");
	f = fr(SPOP_FT_UNSET, SPOP_FL_FIN, 8, 1, "y", 1);
	is_int(spop_reasm_feed(&r, &f, true, &p), -SPOP_ST_INVALID,
	       "continuation with nothing open");

	f = fr(SPOP_FT_NOTIFY, 0, 9, 1, "x", 1);
	is_int(spop_reasm_feed(&r, &f, false, &p), -SPOP_ST_FRAG_NOT_SUPPORTED,
	       "fragment when fragmentation was not announced");
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_MORE, "open one");
	f = fr(SPOP_FT_NOTIFY, SPOP_FL_FIN, 10, 1, "z", 1);
	is_int(spop_reasm_feed(&r, &f, true, &p), -SPOP_ST_INTERLACED_FRAMES,
	       "a new NOTIFY while one is open");
	f = fr(SPOP_FT_UNSET, 0, 9, 2, "z", 1);
	is_int(spop_reasm_feed(&r, &f, true, &p), -SPOP_ST_INTERLACED_FRAMES, "other frame-id");
	f = fr(SPOP_FT_ACK, SPOP_FL_FIN, 9, 1, "", 0);
	is_int(spop_reasm_feed(&r, &f, true, &p), -SPOP_ST_INVALID, "not a NOTIFY or UNSET");
	spop_reasm_free(&r);

	/* Over the cap: nothing kept, the end is a refusal. */
	big = malloc(SPOP_REASSEMBLY_MAX);
	memset(big, 'a', SPOP_REASSEMBLY_MAX);
	f = fr(SPOP_FT_NOTIFY, 0, 11, 1, big, SPOP_REASSEMBLY_MAX);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_MORE, "exactly the cap is kept");
	f = fr(SPOP_FT_UNSET, 0, 11, 1, "b", 1);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_MORE, "one byte over: still reading");
	f = fr(SPOP_FT_UNSET, SPOP_FL_FIN, 11, 1, "c", 1);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_REFUSE, "over the cap: refused");
	f = fr(SPOP_FT_NOTIFY, 0, 12, 1, big, 100);
	spop_reasm_feed(&r, &f, true, &p);
	f = fr(SPOP_FT_UNSET, SPOP_FL_FIN, 12, 1, big, 100);
	is_int(spop_reasm_feed(&r, &f, true, &p), SPOP_REASM_DONE, "fine again after a refusal");
	is_int(p.len, 200, "and complete");
	free(big);
	spop_reasm_free(&r);
	return done_testing("reasm");
}

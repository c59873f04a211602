/* spop_reasm.h - reassembly of fragmented NOTIFY payloads (HAProxy 2.6-3.0,
 * doc/SPOE.txt section 3.2.1): a NOTIFY without FIN starts a payload, UNSET
 * frames with the same ids continue it, FIN ends it, ABORT drops it.
 *
 * No I/O, no clock, no globals. The one allocation is the payload buffer,
 * grown with realloc() up to SPOP_REASSEMBLY_MAX and released by
 * spop_reasm_free(); a payload that would pass the cap (or an allocation
 * failure) is not kept, and its end is reported as SPOP_REASM_REFUSE. One
 * struct per connection, zero-initialised before the first call. */
#ifndef OAUTH2_SPOA_SPOP_REASM_H
#define OAUTH2_SPOA_SPOP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "spop_frame.h"

struct spop_reasm {
	bool _active, _overflow;
	uint64_t _sid, _fid;
	uint8_t *_buf;
	size_t _len, _cap;
};

enum spop_reasm_event {
	SPOP_REASM_PASS = 0, /* an unfragmented NOTIFY: use the frame's payload as is */
	SPOP_REASM_MORE,     /* a fragment was kept; nothing to answer yet */
	SPOP_REASM_DONE,     /* the last fragment: *payload is the whole payload */
	SPOP_REASM_REFUSE,   /* the last fragment of a payload over the cap: refuse it
			      * with an ACK carrying FIN|ABORT and the frame's ids */
	SPOP_REASM_DROPPED,  /* HAProxy aborted the payload (or a stray ABORT): no answer */
};

/* Feeds one NOTIFY or UNSET frame <f>. <allowed> says whether we announced
 * "fragmentation". Returns an enum spop_reasm_event, or a negative SPOP status:
 * -SPOP_ST_INTERLACED_FRAMES (a new NOTIFY, or other ids, while a payload is
 * open), -SPOP_ST_FRAG_NOT_SUPPORTED (a fragment we never allowed),
 * -SPOP_ST_INVALID (a continuation with nothing open, or another frame type).
 * On SPOP_REASM_DONE, *payload is BORROWED from <r> and valid until the next
 * call; the ids are the frame's. */
int spop_reasm_feed(struct spop_reasm *r, const struct spop_frame *f, bool allowed,
		    struct slice *payload);

/* Releases the buffer; <r> may be fed again afterwards (it starts empty). */
void spop_reasm_free(struct spop_reasm *r);

#endif

/* spop_reasm.c - see spop_reasm.h. */
#include "spop_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "limits.h"

static void finish(struct spop_reasm *r)
{
	r->_active = false;
	r->_overflow = false;
	r->_len = 0;
}

static void append(struct spop_reasm *r, struct slice part)
{
	if (r->_overflow)
		return;
	if (part.len > SPOP_REASSEMBLY_MAX - r->_len) {
		r->_overflow = true;
		return;
	}
	if (r->_cap - r->_len < part.len) {
		size_t ncap = r->_len + part.len;
		uint8_t *nb;

		if (ncap < 2 * r->_cap)
			ncap = 2 * r->_cap;
		if (ncap > SPOP_REASSEMBLY_MAX)
			ncap = SPOP_REASSEMBLY_MAX;
		nb = realloc(r->_buf, ncap);
		if (!nb) {
			r->_overflow = true;
			return;
		}
		r->_buf = nb;
		r->_cap = ncap;
	}
	if (part.len)
		memcpy(r->_buf + r->_len, part.ptr, part.len);
	r->_len += part.len;
}

static int feed_notify(struct spop_reasm *r, const struct spop_frame *f, bool allowed)
{
	if (r->_active)
		return -SPOP_ST_INTERLACED_FRAMES;
	if (f->flags & SPOP_FL_FIN)
		return SPOP_REASM_PASS;
	if (!allowed)
		return -SPOP_ST_FRAG_NOT_SUPPORTED;
	r->_active = true;
	r->_sid = f->stream_id;
	r->_fid = f->frame_id;
	append(r, f->payload);
	return SPOP_REASM_MORE;
}

static int feed_unset(struct spop_reasm *r, const struct spop_frame *f, struct slice *payload)
{
	if (!r->_active)
		/* An ABORT for a NOTIFY we already answered or refused is harmless. */
		return (f->flags & SPOP_FL_ABORT) ? SPOP_REASM_DROPPED : -SPOP_ST_INVALID;
	if (f->stream_id != r->_sid || f->frame_id != r->_fid)
		return -SPOP_ST_INTERLACED_FRAMES;
	if (f->flags & SPOP_FL_ABORT) {
		finish(r); /* HAProxy gave up on it: no ACK expected */
		return SPOP_REASM_DROPPED;
	}
	append(r, f->payload);
	if (!(f->flags & SPOP_FL_FIN))
		return SPOP_REASM_MORE;
	if (r->_overflow) {
		finish(r);
		return SPOP_REASM_REFUSE;
	}
	*payload = slice_from(r->_buf, r->_len);
	finish(r); /* the bytes stay in _buf until the next append */
	return SPOP_REASM_DONE;
}

int spop_reasm_feed(struct spop_reasm *r, const struct spop_frame *f, bool allowed,
		    struct slice *payload)
{
	if (f->type == SPOP_FT_NOTIFY)
		return feed_notify(r, f, allowed);
	if (f->type == SPOP_FT_UNSET)
		return feed_unset(r, f, payload);
	return -SPOP_ST_INVALID;
}

void spop_reasm_free(struct spop_reasm *r)
{
	free(r->_buf);
	memset(r, 0, sizeof(*r));
}

/* spop_frame.c - SPOP frame layer. See spop_frame.h. */
#include "spop_frame.h"

#include <string.h>

#include "ascii.h"
#include "limits.h"

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

ssize_t spop_frame_split(const uint8_t *in, size_t avail, uint32_t max_len, struct slice *body)
{
	uint32_t len;

	if (avail < 4)
		return 0;
	len = get_be32(in);
	if (len > max_len)
		return -SPOP_ST_TOO_BIG;
	if (len < SPOP_FRAME_MIN_LEN)
		return -SPOP_ST_INVALID;
	if (avail - 4 < len)
		return 0;
	*body = slice_from(in + 4, len);
	return (ssize_t)len + 4;
}

int spop_frame_decode(struct slice body, struct spop_frame *f)
{
	const uint8_t *p = body.ptr, *end = body.ptr + body.len;

	if (body.len < 5)
		return -SPOP_ST_INVALID;
	f->type = p[0];
	f->flags = get_be32(p + 1);
	p += 5;
	if (spop_get_varint(&p, end, &f->stream_id) < 0 ||
	    spop_get_varint(&p, end, &f->frame_id) < 0)
		return -SPOP_ST_INVALID;
	f->payload = slice_from(p, (size_t)(end - p));
	return 0;
}

/* Walks a KV-LIST, calling <fn> for each item; stops at the first error. */
static int kv_walk(struct slice payload, int (*fn)(void *, struct slice, const struct spop_value *),
		   void *arg)
{
	const uint8_t *p = payload.ptr, *end = payload.ptr + payload.len;

	while (p < end) {
		struct slice key;
		struct spop_value v;
		int rc;

		if (spop_get_str(&p, end, &key) < 0 || key.len == 0 ||
		    spop_get_value(&p, end, &v) < 0)
			return -SPOP_ST_INVALID;
		rc = fn(arg, key, &v);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool value_is_int(const struct spop_value *v)
{
	return v->type >= SPOP_T_INT32 && v->type <= SPOP_T_UINT64;
}

static int hello_item(void *arg, struct slice key, const struct spop_value *v)
{
	struct spop_hello *h = arg;

	if (slice_eq_lit(key, "supported-versions")) {
		if (v->type != SPOP_T_STRING)
			return -SPOP_ST_INVALID;
		h->has_versions = true;
		h->versions = v->str;
	} else if (slice_eq_lit(key, "max-frame-size")) {
		if (!value_is_int(v))
			return -SPOP_ST_INVALID;
		h->has_max_frame_size = true;
		h->max_frame_size = v->u;
	} else if (slice_eq_lit(key, "capabilities")) {
		if (v->type != SPOP_T_STRING)
			return -SPOP_ST_INVALID;
		h->has_capabilities = true;
		h->capabilities = v->str;
	} else if (slice_eq_lit(key, "engine-id")) {
		if (v->type != SPOP_T_STRING)
			return -SPOP_ST_INVALID;
		h->engine_id = v->str;
	} else if (slice_eq_lit(key, "healthcheck")) {
		if (v->type != SPOP_T_BOOL)
			return -SPOP_ST_INVALID;
		h->healthcheck = v->b;
	}
	return 0;
}

int spop_hello_decode(struct slice payload, struct spop_hello *h)
{
	memset(h, 0, sizeof(*h));
	return kv_walk(payload, hello_item, h);
}

/* Calls <fn> on each comma-separated token of <list>, trimmed of spaces. */
static void for_each_token(struct slice list, void (*fn)(void *, struct slice), void *arg)
{
	size_t i = 0;

	while (i < list.len) {
		size_t b, e;

		while (i < list.len && ascii_is_ows(list.ptr[i]))
			i++;
		b = i;
		while (i < list.len && list.ptr[i] != ',')
			i++;
		e = i;
		while (e > b && ascii_is_ows(list.ptr[e - 1]))
			e--;
		fn(arg, slice_from(list.ptr + b, e - b));
		i++; /* skip the comma */
	}
}

static void cap_token(void *arg, struct slice tok)
{
	unsigned *caps = arg;

	if (slice_eq_lit(tok, "pipelining"))
		*caps |= SPOP_CAP_PIPELINING;
	else if (slice_eq_lit(tok, "async"))
		*caps |= SPOP_CAP_ASYNC;
	else if (slice_eq_lit(tok, "fragmentation"))
		*caps |= SPOP_CAP_FRAGMENTATION;
}

unsigned spop_caps_parse(struct slice list)
{
	unsigned caps = 0;

	for_each_token(list, cap_token, &caps);
	return caps;
}

/* A version token is MAJOR.MINOR with decimal parts; we speak any 2.x. */
static void version_token(void *arg, struct slice tok)
{
	bool *found = arg;
	size_t i = 0, digits = 0;
	unsigned long major = 0;

	while (i < tok.len && tok.ptr[i] >= '0' && tok.ptr[i] <= '9' && digits < 6) {
		major = major * 10 + (unsigned long)(tok.ptr[i] - '0');
		i++;
		digits++;
	}
	if (!digits || i >= tok.len || tok.ptr[i] != '.' || i + 1 >= tok.len)
		return;
	for (i++; i < tok.len; i++)
		if (tok.ptr[i] < '0' || tok.ptr[i] > '9')
			return;
	if (major == 2)
		*found = true;
}

int spop_negotiate(const struct spop_hello *h, uint32_t our_max, unsigned our_caps,
		   struct spop_nego *out)
{
	bool v2 = false;
	uint64_t size;

	if (!h->has_versions)
		return -SPOP_ST_NO_VSN;
	if (!h->has_max_frame_size)
		return -SPOP_ST_NO_FRAME_SIZE;
	if (!h->has_capabilities)
		return -SPOP_ST_NO_CAP;
	for_each_token(h->versions, version_token, &v2);
	if (!v2)
		return -SPOP_ST_BAD_VSN;
	size = h->max_frame_size < our_max ? h->max_frame_size : our_max;
	if (size < SPOP_MIN_FRAME_SIZE)
		return -SPOP_ST_BAD_FRAME_SIZE;
	out->max_frame_size = (uint32_t)size;
	out->caps = spop_caps_parse(h->capabilities) & our_caps;
	/* "fragmentation" announces what we can RECEIVE: HAProxy never offers
	 * it (it cannot receive fragments), yet 2.6-3.0 send fragmented NOTIFY
	 * frames to an agent that announces it. A health check gets the plain
	 * intersection, as HAProxy's own spop-check test expects. */
	if (!h->healthcheck)
		out->caps |= our_caps & SPOP_CAP_FRAGMENTATION;
	return 0;
}

static int disc_item(void *arg, struct slice key, const struct spop_value *v)
{
	struct spop_disconnect *d = arg;

	if (slice_eq_lit(key, "status-code")) {
		if (!value_is_int(v))
			return -SPOP_ST_INVALID;
		d->status = v->u > SPOP_ST_UNKNOWN ? SPOP_ST_UNKNOWN : (uint32_t)v->u;
	} else if (slice_eq_lit(key, "message")) {
		if (v->type != SPOP_T_STRING)
			return -SPOP_ST_INVALID;
		d->message = v->str;
	}
	return 0;
}

int spop_disconnect_decode(struct slice payload, struct spop_disconnect *d)
{
	memset(d, 0, sizeof(*d));
	d->status = SPOP_ST_UNKNOWN;
	return kv_walk(payload, disc_item, d);
}

int spop_msg_next(struct spop_msg_iter *it, struct spop_msg *m)
{
	const uint8_t *p = it->p, *end = it->end;
	unsigned i;

	if (p >= end)
		return 0;
	if (spop_get_str(&p, end, &m->name) < 0 || p >= end)
		return -SPOP_ST_INVALID;
	m->nargs = *p++;
	m->args.p = p;
	for (i = 0; i < m->nargs; i++) {
		struct slice name;
		struct spop_value v;

		if (spop_get_str(&p, end, &name) < 0 || spop_get_value(&p, end, &v) < 0)
			return -SPOP_ST_INVALID;
	}
	m->args.end = p;
	it->p = p;
	return 1;
}

int spop_arg_next(struct spop_msg_iter *it, struct spop_arg *a)
{
	const uint8_t *p = it->p;

	if (p >= it->end)
		return 0;
	if (spop_get_str(&p, it->end, &a->name) < 0 || spop_get_value(&p, it->end, &a->value) < 0)
		return -SPOP_ST_INVALID;
	it->p = p;
	return 1;
}

/* Writes the 4-byte length placeholder and the header; returns the cursor
 * after it, or NULL when <cap> is too small. */
static uint8_t *put_hdr(uint8_t *out, size_t cap, uint8_t type, uint32_t flags, uint64_t sid,
			uint64_t fid)
{
	uint8_t *p = out + 9, *end = out + cap;

	if (cap < 9)
		return NULL;
	out[4] = type;
	put_be32(out + 5, flags);
	if (spop_put_varint(&p, end, sid) < 0 || spop_put_varint(&p, end, fid) < 0)
		return NULL;
	return p;
}

static size_t finish(uint8_t *out, const uint8_t *p)
{
	size_t total = (size_t)(p - out);

	put_be32(out, (uint32_t)(total - 4));
	return total;
}

static int put_kv(uint8_t **p, uint8_t *end, const char *key, const struct spop_value *v)
{
	uint8_t *q = *p;

	if (spop_put_str(&q, end, slice_str(key)) < 0 || spop_put_value(&q, end, v) < 0)
		return -SPOP_ST_TOO_BIG;
	*p = q;
	return 0;
}

ssize_t spop_encode_agent_hello(uint8_t *out, size_t cap, const struct spop_nego *n)
{
	uint8_t *p = put_hdr(out, cap, SPOP_FT_AGENT_HELLO, SPOP_FL_FIN, 0, 0);
	uint8_t *end = out + cap;
	/* Only what both sides have: "async" is never announced (see README). */
	struct slice caps = SLICE_LIT("");
	struct spop_value v;

	if (!p)
		return -SPOP_ST_TOO_BIG;
	if ((n->caps & SPOP_CAP_PIPELINING) && (n->caps & SPOP_CAP_FRAGMENTATION))
		caps = SLICE_LIT("pipelining,fragmentation");
	else if (n->caps & SPOP_CAP_PIPELINING)
		caps = SLICE_LIT("pipelining");
	else if (n->caps & SPOP_CAP_FRAGMENTATION)
		caps = SLICE_LIT("fragmentation");
	v = spop_string(SLICE_LIT("2.0"));
	if (put_kv(&p, end, "version", &v) < 0)
		return -SPOP_ST_TOO_BIG;
	v = spop_uint32(n->max_frame_size);
	if (put_kv(&p, end, "max-frame-size", &v) < 0)
		return -SPOP_ST_TOO_BIG;
	v = spop_string(caps);
	if (put_kv(&p, end, "capabilities", &v) < 0)
		return -SPOP_ST_TOO_BIG;
	return (ssize_t)finish(out, p);
}

ssize_t spop_encode_agent_disconnect(uint8_t *out, size_t cap, int status, const char *message)
{
	uint8_t *p = put_hdr(out, cap, SPOP_FT_AGENT_DISCONNECT, SPOP_FL_FIN, 0, 0);
	uint8_t *end = out + cap;
	struct slice msg = slice_str(message ? message : spop_status_str(status));
	struct spop_value v;

	if (!p)
		return -SPOP_ST_TOO_BIG;
	if (msg.len > 255) /* HAProxy 2.x rejects longer messages */
		msg.len = 255;
	v = spop_uint32((uint32_t)status);
	if (put_kv(&p, end, "status-code", &v) < 0)
		return -SPOP_ST_TOO_BIG;
	v = spop_string(msg);
	if (put_kv(&p, end, "message", &v) < 0)
		return -SPOP_ST_TOO_BIG;
	return (ssize_t)finish(out, p);
}

ssize_t spop_encode_ack_abort(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t frame_id)
{
	uint8_t *p =
	    put_hdr(out, cap, SPOP_FT_ACK, SPOP_FL_FIN | SPOP_FL_ABORT, stream_id, frame_id);

	if (!p)
		return -SPOP_ST_TOO_BIG;
	return (ssize_t)finish(out, p);
}

int spop_ack_begin(struct spop_ack *a, uint8_t *out, size_t cap, uint64_t stream_id,
		   uint64_t frame_id)
{
	uint8_t *p = put_hdr(out, cap, SPOP_FT_ACK, SPOP_FL_FIN, stream_id, frame_id);

	if (!p)
		return -SPOP_ST_TOO_BIG;
	a->start = out;
	a->p = p;
	a->end = out + cap;
	return 0;
}

int spop_ack_set_var(struct spop_ack *a, enum spop_scope scope, struct slice name,
		     const struct spop_value *v)
{
	uint8_t *p = a->p;

	if (3 > a->end - p)
		return -SPOP_ST_TOO_BIG;
	*p++ = 1; /* SET-VAR */
	*p++ = 3;
	*p++ = (uint8_t)scope;
	if (spop_put_str(&p, a->end, name) < 0 || spop_put_value(&p, a->end, v) < 0)
		return -SPOP_ST_TOO_BIG;
	a->p = p;
	return 0;
}

/* Copies a pre-encoded head of <n> name bytes (room checked by the caller).
 * With room for the whole struct, one fixed-size copy: a variable-length one
 * compiles to `rep movs`, slow for a few bytes; the bytes past 4 + n are
 * overwritten by what follows or lie beyond the frame. */
static uint8_t *put_head(uint8_t *p, const uint8_t *end, const struct spop_var_head *h, size_t n)
{
	if ((size_t)(end - p) >= sizeof(*h)) {
		memcpy(p, h, sizeof(*h));
	} else {
		memcpy(p, h->fixed, 4);
		memcpy(p + 4, h->name, n);
	}
	return p + 4 + n;
}

int spop_ack_put_var(struct spop_ack *a, const struct spop_var_head *h, const struct spop_value *v)
{
	size_t n = h->fixed[3];
	uint8_t *p = a->p;

	if (4 + n > (size_t)(a->end - p))
		return -SPOP_ST_TOO_BIG;
	p = put_head(p, a->end, h, n);
	if (spop_put_value(&p, a->end, v) < 0)
		return -SPOP_ST_TOO_BIG;
	a->p = p;
	return 0;
}

int spop_ack_put_str(struct spop_ack *a, const struct spop_var_head *h, const char *s, size_t len)
{
	size_t n = h->fixed[3];
	uint8_t *p = a->p;

	if (4 + n + 1 > (size_t)(a->end - p))
		return -SPOP_ST_TOO_BIG;
	p = put_head(p, a->end, h, n);
	*p++ = SPOP_T_STRING;
	if (spop_put_str(&p, a->end, slice_from(s, len)) < 0)
		return -SPOP_ST_TOO_BIG;
	a->p = p;
	return 0;
}

int spop_ack_unset_var(struct spop_ack *a, enum spop_scope scope, struct slice name)
{
	uint8_t *p = a->p;

	if (3 > a->end - p)
		return -SPOP_ST_TOO_BIG;
	*p++ = 2; /* UNSET-VAR */
	*p++ = 2;
	*p++ = (uint8_t)scope;
	if (spop_put_str(&p, a->end, name) < 0)
		return -SPOP_ST_TOO_BIG;
	a->p = p;
	return 0;
}

size_t spop_ack_end(struct spop_ack *a)
{
	return finish(a->start, a->p);
}

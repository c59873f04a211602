/* spop_wire.c - SPOP varints and typed data. See spop_wire.h. */
#include "spop_wire.h"

#include <string.h>

const char *spop_status_str(int status)
{
	switch (status) {
	case SPOP_ST_NORMAL:
		return "normal";
	case SPOP_ST_IO:
		return "I/O error";
	case SPOP_ST_TIMEOUT:
		return "a timeout occurred";
	case SPOP_ST_TOO_BIG:
		return "frame is too big";
	case SPOP_ST_INVALID:
		return "invalid frame received";
	case SPOP_ST_NO_VSN:
		return "version value not found";
	case SPOP_ST_NO_FRAME_SIZE:
		return "max-frame-size value not found";
	case SPOP_ST_NO_CAP:
		return "capabilities value not found";
	case SPOP_ST_BAD_VSN:
		return "unsupported version";
	case SPOP_ST_BAD_FRAME_SIZE:
		return "max-frame-size too big or too small";
	case SPOP_ST_FRAG_NOT_SUPPORTED:
		return "fragmentation not supported";
	case SPOP_ST_INTERLACED_FRAMES:
		return "invalid interlaced frames";
	case SPOP_ST_FRAMEID_NOTFOUND:
		return "frame-id not found";
	case SPOP_ST_RES:
		return "resource allocation error";
	default:
		return "an unknown error occurred";
	}
}

/* The decoder adds each whole byte (continuation bit included) shifted into
 * place: that is what undoes the encoder's "-240" and "-128" steps. */
int spop_get_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	uint64_t r;
	unsigned shift = 4;

	if (q >= end)
		return -SPOP_ST_INVALID;
	r = *q++;
	if (r >= 240) {
		for (;;) {
			uint8_t b;

			if (q >= end || q - *p >= SPOP_VARINT_MAX)
				return -SPOP_ST_INVALID;
			b = *q++;
			/* The tenth byte may only carry the top bits of a 64-bit value. */
			if (shift == 60 && b > 0x0f)
				return -SPOP_ST_INVALID;
			r += (uint64_t)b << shift;
			shift += 7;
			if (b < 128)
				break;
		}
	}
	*v = r;
	*p = q;
	return 0;
}

int spop_put_varint_long(uint8_t **p, uint8_t *end, uint64_t v)
{
	uint8_t tmp[SPOP_VARINT_MAX];
	size_t n = 0;

	if (v < 240) {
		tmp[n++] = (uint8_t)v;
	} else {
		tmp[n++] = (uint8_t)(v | 0xf0);
		v = (v - 240) >> 4;
		while (v >= 128) {
			tmp[n++] = (uint8_t)(v | 0x80);
			v = (v - 128) >> 7;
		}
		tmp[n++] = (uint8_t)v;
	}
	if (n > (size_t)(end - *p))
		return -SPOP_ST_TOO_BIG;
	memcpy(*p, tmp, n);
	*p += n;
	return 0;
}

int spop_put_str(uint8_t **p, uint8_t *end, struct slice s)
{
	uint8_t *q = *p;

	if (spop_put_varint(&q, end, s.len) < 0 || s.len > (size_t)(end - q))
		return -SPOP_ST_TOO_BIG;
	if (s.len)
		memcpy(q, s.ptr, s.len);
	*p = q + s.len;
	return 0;
}

int spop_get_value_long(const uint8_t **p, const uint8_t *end, struct spop_value *v)
{
	const uint8_t *q = *p;
	uint8_t tb;
	size_t fixed = 0;

	if (q >= end)
		return -SPOP_ST_INVALID;
	tb = *q++;
	memset(v, 0, sizeof(*v));
	v->type = (enum spop_type)(tb & 0x0f);
	switch (v->type) {
	case SPOP_T_NULL:
		break;
	case SPOP_T_BOOL:
		v->b = (tb & 0xf0) == SPOP_BOOL_TRUE;
		break;
	case SPOP_T_INT32:
	case SPOP_T_UINT32:
	case SPOP_T_INT64:
	case SPOP_T_UINT64:
		if (spop_get_varint(&q, end, &v->u) < 0)
			return -SPOP_ST_INVALID;
		break;
	case SPOP_T_IPV4:
		fixed = 4;
		break;
	case SPOP_T_IPV6:
		fixed = 16;
		break;
	case SPOP_T_STRING:
	case SPOP_T_BINARY:
		if (spop_get_str(&q, end, &v->str) < 0)
			return -SPOP_ST_INVALID;
		break;
	default:
		return -SPOP_ST_INVALID;
	}
	if (fixed) {
		if (fixed > (size_t)(end - q))
			return -SPOP_ST_INVALID;
		v->str = slice_from(q, fixed);
		q += fixed;
	}
	*p = q;
	return 0;
}

int spop_put_value(uint8_t **p, uint8_t *end, const struct spop_value *v)
{
	uint8_t *q = *p;
	uint8_t tb = (uint8_t)v->type;
	size_t fixed = 0;

	if (v->type == SPOP_T_BOOL && v->b)
		tb |= SPOP_BOOL_TRUE;
	if (q >= end)
		return -SPOP_ST_TOO_BIG;
	*q++ = tb;
	switch (v->type) {
	case SPOP_T_NULL:
	case SPOP_T_BOOL:
		break;
	case SPOP_T_INT32:
	case SPOP_T_UINT32:
	case SPOP_T_INT64:
	case SPOP_T_UINT64:
		if (spop_put_varint(&q, end, v->u) < 0)
			return -SPOP_ST_TOO_BIG;
		break;
	case SPOP_T_IPV4:
		fixed = 4;
		break;
	case SPOP_T_IPV6:
		fixed = 16;
		break;
	case SPOP_T_STRING:
	case SPOP_T_BINARY:
		if (spop_put_str(&q, end, v->str) < 0)
			return -SPOP_ST_TOO_BIG;
		break;
	default:
		return -SPOP_ST_INVALID;
	}
	if (fixed) {
		if (v->str.len != fixed)
			return -SPOP_ST_INVALID;
		if (fixed > (size_t)(end - q))
			return -SPOP_ST_TOO_BIG;
		memcpy(q, v->str.ptr, fixed);
		q += fixed;
	}
	*p = q;
	return 0;
}

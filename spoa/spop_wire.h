/* spop_wire.h - SPOP primitives: varints, typed data, strings (doc/SPOE.txt
 * section 3.1).
 *
 * Pure: no I/O, no allocation, no logging, no globals. Every reader takes a
 * cursor <*p> and the end of the input, returns 0 on success or a negative
 * SPOP status (-SPOP_ST_INVALID), and advances *p only on success. Every
 * writer takes a cursor into [*p, end), returns 0 or -SPOP_ST_TOO_BIG when the
 * output does not fit, and advances *p only on success. Slices filled by the
 * readers are BORROWED from the input. */
#ifndef OAUTH2_SPOA_SPOP_WIRE_H
#define OAUTH2_SPOA_SPOP_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* DISCONNECT status codes (SPOE.txt section 3.5); decoders return their negation. */
enum spop_status {
	SPOP_ST_NORMAL = 0,
	SPOP_ST_IO = 1,
	SPOP_ST_TIMEOUT = 2,
	SPOP_ST_TOO_BIG = 3,
	SPOP_ST_INVALID = 4,
	SPOP_ST_NO_VSN = 5,
	SPOP_ST_NO_FRAME_SIZE = 6,
	SPOP_ST_NO_CAP = 7,
	SPOP_ST_BAD_VSN = 8,
	SPOP_ST_BAD_FRAME_SIZE = 9,
	SPOP_ST_FRAG_NOT_SUPPORTED = 10,
	SPOP_ST_INTERLACED_FRAMES = 11,
	SPOP_ST_FRAMEID_NOTFOUND = 12,
	SPOP_ST_RES = 13,
	SPOP_ST_UNKNOWN = 99,
};

/* The text HAProxy itself uses for each status (never NULL). */
const char *spop_status_str(int status);

/* Typed data: the type is the LOW nibble of the type byte, flags the high one. */
enum spop_type {
	SPOP_T_NULL = 0,
	SPOP_T_BOOL = 1,
	SPOP_T_INT32 = 2,
	SPOP_T_UINT32 = 3,
	SPOP_T_INT64 = 4,
	SPOP_T_UINT64 = 5,
	SPOP_T_IPV4 = 6,
	SPOP_T_IPV6 = 7,
	SPOP_T_STRING = 8,
	SPOP_T_BINARY = 9,
};

#define SPOP_BOOL_TRUE 0x10 /* flag bit carried by a BOOL's type byte */

struct spop_value {
	enum spop_type type;
	bool b;		  /* BOOL */
	uint64_t u;	  /* the four integer types, as the 64-bit wire pattern */
	struct slice str; /* STRING, BINARY, and the raw bytes of IPV4/IPV6 */
};

#define SPOP_VARINT_MAX 10 /* bytes needed for any 64-bit value */

/* Varints below 240 take one byte: that case is inline, being most of the
 * lengths and ids on the wire; the _long functions do the general case. */
int spop_get_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v);
int spop_put_varint_long(uint8_t **p, uint8_t *end, uint64_t v);

static inline int spop_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	if (*p < end && **p < 240) {
		*v = *(*p)++;
		return 0;
	}
	return spop_get_varint_long(p, end, v);
}

static inline int spop_put_varint(uint8_t **p, uint8_t *end, uint64_t v)
{
	if (v < 240 && *p < end) {
		*(*p)++ = (uint8_t)v;
		return 0;
	}
	return spop_put_varint_long(p, end, v);
}

/* A length-prefixed byte string (varint length + bytes), as in KV names. */
static inline int spop_get_str(const uint8_t **p, const uint8_t *end, struct slice *s)
{
	const uint8_t *q = *p;
	uint64_t len;

	if (spop_get_varint(&q, end, &len) < 0 || len > (uint64_t)(end - q))
		return -SPOP_ST_INVALID;
	*s = slice_from(q, (size_t)len);
	*p = q + len;
	return 0;
}
int spop_put_str(uint8_t **p, uint8_t *end, struct slice s);

/* One typed value. Reserved types 10..15 are invalid: their size is unknown.
 * A STRING (every argument HAProxy sends us) is decoded inline; the _long
 * function does every type, and is what the inline part falls back to. */
int spop_get_value_long(const uint8_t **p, const uint8_t *end, struct spop_value *v);

static inline int spop_get_value(const uint8_t **p, const uint8_t *end, struct spop_value *v)
{
	const uint8_t *q = *p;

	if (q < end && (*q & 0x0f) == SPOP_T_STRING) { /* the upper nibble is ignored */
		q++;
		if (spop_get_str(&q, end, &v->str) < 0)
			return -SPOP_ST_INVALID;
		v->type = SPOP_T_STRING;
		v->b = false;
		v->u = 0;
		*p = q;
		return 0;
	}
	return spop_get_value_long(p, end, v);
}
int spop_put_value(uint8_t **p, uint8_t *end, const struct spop_value *v);

/* Value constructors for writers. */
static inline struct spop_value spop_bool(bool b)
{
	return (struct spop_value){.type = SPOP_T_BOOL, .b = b};
}
static inline struct spop_value spop_int(int64_t i)
{
	return (struct spop_value){.type = SPOP_T_INT64, .u = (uint64_t)i};
}
static inline struct spop_value spop_uint32(uint32_t u)
{
	return (struct spop_value){.type = SPOP_T_UINT32, .u = u};
}
static inline struct spop_value spop_string(struct slice s)
{
	return (struct spop_value){.type = SPOP_T_STRING, .str = s};
}

#endif

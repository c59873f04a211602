/* path.c - canonical request paths (see path.h for the rules). */
#include "path.h"

#include <string.h>

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool upper_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool unreserved(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* The raw bytes a canonical path may hold besides unreserved ones. */
static bool raw_ok(uint8_t c)
{
	return unreserved(c) || c == '/' || c == '%' || (c && strchr("!$&'()*+,=:@", c));
}

/* An escape whose decoded byte <v> is refused: it would decode into a
 * character that needs no escape (an unreserved one), into a separator, a
 * path parameter, a control, or, for '%', into another escape. <next> and
 * <left> are the bytes after the escape. */
static bool bad_escape(int v, const uint8_t *next, size_t left)
{
	if (unreserved((uint8_t)v) || v == '/' || v == '\\' || v == ';' || v < 0x20 || v == 0x7f)
		return true;
	return v == '%' && left >= 2 && hexval(next[0]) >= 0 && hexval(next[1]) >= 0;
}

/* True when the segment [s, e) is "." or "..". */
static bool dot_segment(const uint8_t *s, const uint8_t *e)
{
	return (e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.');
}

bool path_is_canonical(struct slice p)
{
	const uint8_t *q, *end, *seg;

	if (!p.len || p.ptr[0] != '/')
		return false;
	end = p.ptr + p.len;
	seg = p.ptr + 1;
	for (q = p.ptr + 1; q < end; q++) {
		if (!raw_ok(*q))
			return false;
		if (*q == '/') {
			if (q == seg || dot_segment(seg, q))
				return false; /* "//" or "/./" or "/../" */
			seg = q + 1;
		} else if (*q == '%') {
			if (end - q < 3 || !upper_hex(q[1]) || !upper_hex(q[2]))
				return false;
			if (bad_escape(hexval(q[1]) * 16 + hexval(q[2]), q + 3,
				       (size_t)(end - q - 3)))
				return false;
			q += 2;
		}
	}
	return !dot_segment(seg, end);
}

struct slice path_decode(struct slice p, uint8_t *out, size_t cap)
{
	size_t i, n = 0;

	if (!p.len || !memchr(p.ptr, '%', p.len))
		return p;
	if (cap < p.len)
		return SLICE_NULL;
	for (i = 0; i < p.len; i++) {
		if (p.ptr[i] == '%' && i + 2 < p.len && hexval(p.ptr[i + 1]) >= 0 &&
		    hexval(p.ptr[i + 2]) >= 0) {
			out[n++] = (uint8_t)(hexval(p.ptr[i + 1]) * 16 + hexval(p.ptr[i + 2]));
			i += 2;
		} else {
			out[n++] = p.ptr[i];
		}
	}
	return slice_from(out, n);
}

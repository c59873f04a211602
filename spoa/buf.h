/* buf.h - byte slices: the only byte container shared between modules.
 *
 * A slice is BORROWED: it points into memory someone else owns and is valid
 * only as long as that memory is. Wire data is never NUL-terminated; compare
 * with slice_eq_lit() and print with "%.*s". */
#ifndef OAUTH2_SPOA_BUF_H
#define OAUTH2_SPOA_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct slice {
	const uint8_t *ptr;
	size_t len;
};

#define SLICE_NULL   ((struct slice){NULL, 0})
#define SLICE_LIT(s) ((struct slice){(const uint8_t *)(s), sizeof(s) - 1})

static inline struct slice slice_from(const void *p, size_t len)
{
	return (struct slice){(const uint8_t *)p, len};
}

static inline struct slice slice_str(const char *s)
{
	return (struct slice){(const uint8_t *)s, s ? strlen(s) : 0};
}

/* True when <a> holds exactly the bytes of <b> (lengths compared first). */
static inline bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool slice_eq_str(struct slice a, const char *s)
{
	return slice_eq(a, slice_str(s));
}

#define slice_eq_lit(a, lit) slice_eq((a), SLICE_LIT(lit))

#endif

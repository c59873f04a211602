/* path.h - canonical request paths: the one form that route labels, policy
 * path selectors and the application all agree on.
 *
 * A path (HAProxy's `path` fetch: no query string) is canonical when RFC 3986
 * normalisation would not change it and no common decoder can turn it into
 * another path:
 *   - it starts with '/' and has no empty segment ("//");
 *   - no segment is "." or "..";
 *   - every raw byte is an unreserved character, '/', '%' or one of
 *     "!$&'()*+,=:@" (';' is refused: servlet containers strip ";params"
 *     from segments; '\', controls, spaces and non-ASCII are refused);
 *   - every '%' starts an escape with two UPPER-case hex digits that does not
 *     encode an unreserved character, '/', '\', ';', a control (00-1F, 7F),
 *     or '%' followed by two hex digits (a second decoding would see an
 *     escape).
 * haproxy/haproxy.cfg refuses exactly the same set with 400, with regexes.
 *
 * Pure functions on borrowed slices: no allocation, no state, thread-safe. */
#ifndef OAUTH2_SPOA_PATH_H
#define OAUTH2_SPOA_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* True when <p> is canonical (see above). A NULL or empty slice is not. */
bool path_is_canonical(struct slice p);

/* The path an application sees once it decodes <p>, which must be canonical:
 * <p> itself when it holds no '%' (nothing copied), else its escapes decoded
 * into out[0..cap) and a slice of <out> (<out> may be p.ptr: decoding in
 * place is safe, the output never runs ahead of the input). Decoding a canonical path never
 * creates a '/', a dot segment or a NUL. Returns SLICE_NULL when cap < p.len. */
struct slice path_decode(struct slice p, uint8_t *out, size_t cap);

#endif

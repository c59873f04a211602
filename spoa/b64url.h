/* b64url.h - strict base64url (RFC 4648 section 5) as JOSE uses it (RFC 7515
 * section 2): no padding, no whitespace, and the unused low bits of the last
 * character must be zero, so every byte string has exactly one encoding.
 *
 * Pure, allocation-free, thread-safe. */
#ifndef OAUTH2_SPOA_B64URL_H
#define OAUTH2_SPOA_B64URL_H

#include <stddef.h>
#include <sys/types.h>

/* The number of bytes <len> characters decode to (an upper bound is not
 * needed: the result is exact for valid input). */
static inline size_t b64url_decoded_len(size_t len)
{
	return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

/* Decodes <in> (<len> characters) into <out> (room for <cap> bytes).
 * Returns the number of bytes written, or -1 for a character outside
 * A-Z a-z 0-9 - _, a length of 1 modulo 4, non-zero unused bits, or when
 * the result does not fit. */
ssize_t b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif

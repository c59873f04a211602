/* form.h - application/x-www-form-urlencoded encoding, and the
 * client_secret_basic credentials built from it.
 *
 * The one encoder of the agent: the introspection body (introspect.c) and the
 * HTTP client's Authorization header both use it, so a value is escaped the
 * same way wherever it goes.
 *
 * Which encoding: the WHATWG URL standard's application/x-www-form-urlencoded
 * serializer (URL Standard §5.2), which is what servers' form decoders
 * implement. A-Z a-z 0-9 and "*-._" are kept, SP becomes "+", every other
 * byte (UTF-8 bytes, "~", "+", "%", "&", "=" ...) becomes %XX with upper-case
 * hex. RFC 6749 Appendix B points at the same media type (via HTML 4.01),
 * and any conforming decoder reads back the exact bytes whichever of the
 * historical safe sets the sender used.
 *
 * Pure: no allocation, no I/O, thread-safe. Neither function copies its
 * input anywhere but <out>. */
#ifndef OAUTH2_SPOA_FORM_H
#define OAUTH2_SPOA_FORM_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Encodes <in> (any bytes) into <out>. Returns the length of the encoding
 * (at most 3 * in.len); writes it, NOT NUL-terminated, only when it fits in
 * <outlen> bytes, and writes nothing at all otherwise, so a caller that sees
 * a return above <outlen> has no partial value to clean up. */
size_t form_encode(struct slice in, char *out, size_t outlen);

/* Writes the client_secret_basic Authorization header VALUE (without the
 * "Authorization: " name), RFC 6749 §2.3.1 (which RFC 7662 §2.1 uses):
 *   "Basic " base64(form_encode(user) ":" form_encode(password))
 * into <out>, NUL-terminated. Both must be non-NULL (may be empty).
 * Returns its length (without the NUL), or -1 when it does not fit in
 * <outlen> bytes or an argument is NULL; on -1 the first <outlen> bytes of
 * <out> are zeroed. No temporary copy of the password is made: the encoded
 * bytes stream straight into the base64 encoder. */
ssize_t form_basic_auth(const char *user, const char *password, char *out, size_t outlen);

#endif

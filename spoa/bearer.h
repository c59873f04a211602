/* bearer.h - extracting an RFC 6750 bearer token from an Authorization value.
 *
 * Pure: no allocation, no I/O, no globals. Thread-safe. */
#ifndef OAUTH2_SPOA_BEARER_H
#define OAUTH2_SPOA_BEARER_H

#include <stddef.h>

#include "buf.h"

/* Token bytes accepted when max_len is 0. Keycloak access tokens carrying
 * many roles pass 10 KB; the shipped HAProxy files carry this much. */
#define BEARER_DEFAULT_MAX_LEN 16384u

enum bearer_result {
	BEARER_OK = 0,
	BEARER_MISSING = -1,   /* no bearer token: RFC 6750 §3.1, 401 without error code */
	BEARER_MALFORMED = -2, /* a Bearer credential that is not valid: 400 invalid_request */
	BEARER_TOO_LONG = -3,  /* a well-formed token longer than max_len */
};

/* Extracts the token from <authorization>, the value of the Authorization
 * header as HAProxy's req.hdr(authorization) returns it (several headers
 * joined with ","). The value is not NUL-terminated; any bytes may appear.
 *
 * Grammar accepted (RFC 9110 §11.4 credentials, RFC 6750 §2.1):
 *   [OWS] scheme 1*SP b64token [OWS]
 * where OWS is SP / HTAB (stripped as an HTTP parser would), the scheme is
 * compared case-insensitively with "Bearer", and
 *   b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * Returns:
 *  - BEARER_OK: *token is the b64token, BORROWED from <authorization>
 *    (1 <= token->len <= max_len);
 *  - BEARER_MISSING: <authorization> is NULL or empty (or only OWS), or
 *    its scheme is not Bearer (Basic, Digest, "Bearerxyz", ...), and no
 *    later comma-separated element starts with the Bearer scheme;
 *  - BEARER_MALFORMED: the scheme is Bearer but: no token ("Bearer",
 *    "Bearer   "); the separator is not SP (e.g. HTAB); the token has a
 *    byte outside b64token (NUL, non-ASCII, ",", "=" before the end, ...);
 *    more than one token ("Bearer a b").
 *    Also MALFORMED: any value where an element after a "," starts with the
 *    Bearer scheme, e.g. "Basic x, Bearer y" - two Authorization headers
 *    joined by HAProxy - so a second bearer header cannot be ignored.
 *  - BEARER_TOO_LONG: a token that would be BEARER_OK but is longer than
 *    max_len (the whole header is checked first, so a malformed long one
 *    is BEARER_MALFORMED).
 * On any result other than BEARER_OK, *token is SLICE_NULL.
 * <max_len> is the longest token accepted; 0 means BEARER_DEFAULT_MAX_LEN.
 * <token> must not be NULL. */
enum bearer_result bearer_parse(struct slice authorization, size_t max_len, struct slice *token);

/* "ok", "missing", "malformed", "too long", or "unknown" for other values.
 * Never NULL. */
const char *bearer_strerror(int result);

#endif

/* introspect.h - RFC 7662 token introspection: building the request body and
 * parsing the JSON response into a struct claims. (client_secret_basic is
 * form_basic_auth() in form.h, sent by the HTTP client.)
 *
 * Pure: no I/O, no clock, no globals; only introspect_parse_response()
 * allocates (through jansson and one malloc for the claims). Thread-safe
 * provided jansson's allocator functions are not changed concurrently.
 * Nothing here ever copies a token or a secret into an error message. */
#ifndef OAUTH2_SPOA_INTROSPECT_H
#define OAUTH2_SPOA_INTROSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "claims.h"
#include "err.h"

/* Limits on an introspection response (convention 13). The HTTP client should
 * cap the body it reads at INTROSPECT_MAX_BODY too. */
#define INTROSPECT_MAX_BODY    (64u * 1024u) /* bytes of JSON */
#define INTROSPECT_MAX_DEPTH   32u	     /* nesting of [ and {, anywhere (e.g. in "ext") */
#define INTROSPECT_MAX_STR_LEN 8192u	     /* bytes of any one copied string member */
#define INTROSPECT_MAX_AUD     64u	     /* entries of "aud" */

/* Writes the application/x-www-form-urlencoded request body
 *   token=<tok>&token_type_hint=access_token
 * followed, when <post_client_auth> (client_secret_post), by
 *   &client_id=<id>[&client_secret=<secret>]
 * into <out>, NUL-terminated. Values are encoded by form_encode() (form.h):
 * A-Z a-z 0-9 * - . _ are kept, SP becomes "+", every other byte becomes %XX
 * (upper-case hex), so a token's "+", "/" and "=" are sent as %2B, %2F, %3D.
 * <token> is borrowed and may hold any bytes. <client_id> must not be NULL
 * when <post_client_auth>; a NULL <client_secret> omits the parameter. Both are
 * ignored when !<post_client_auth>.
 * Returns the body length (without the NUL), or -1 when it does not fit in
 * <outlen> bytes including the NUL, or when <client_id> is missing; on -1 the
 * whole of <out> is zeroed so no partial token or secret is left behind. */
ssize_t introspect_form_body(struct slice token, bool post_client_auth, const char *client_id,
			     const char *client_secret, char *out, size_t outlen);

/* Parses an introspection response body (<body>, <len> bytes, need not be
 * NUL-terminated; trailing whitespace such as Hydra's "\n" is fine).
 *
 * Rules:
 *  - the body must be at most INTROSPECT_MAX_BODY bytes, nest at most
 *    INTROSPECT_MAX_DEPTH deep, be one JSON object with no duplicate key
 *    at any level, valid UTF-8, no "\u0000" in strings, and numbers that
 *    jansson can represent (an integer beyond int64 anywhere is an error);
 *  - "active" must be present and a JSON boolean ("true" the string, 1 and
 *    null are errors);
 *  - when active is false, the result has active=false and nothing else:
 *    the other members are neither checked nor copied;
 *  - when active is true: "scope", "client_id", "sub", "username", "iss",
 *    "token_use" must be strings; "exp", "nbf", "iat" integers (1.5 or
 *    "123" are errors); "aud" a string (n_aud = 1) or an array of strings
 *    (n_aud = its length, 0 for [] in which case aud is NULL). A member
 *    that is absent or JSON null is left unset (NULL / has_x = false).
 *    Strings are capped at INTROSPECT_MAX_STR_LEN bytes and aud at
 *    INTROSPECT_MAX_AUD entries; beyond that it is an error. "typ" and
 *    "token_type", when present, must be strings;
 *  - not_access_token is set when "token_use" is present and is not exactly
 *    "access_token" (Hydra), or "typ" or "token_type" is, ignoring case,
 *    "Refresh", "Offline", "ID", "Logout" (Keycloak), "refresh_token" or
 *    "id_token". Other values ("Bearer", "DPoP", ...) leave it false. Other
 *    members ("ext", "azp", ...) are ignored.
 *
 * Returns 0 and stores in *out a new claims (refs 1, release with
 * claims_unref), or -1 with *out = NULL and <e> (may be NULL) filled with
 * line/column when known and a message that names members but never
 * quotes the body. Out of memory is also -1 (jansson reports its own
 * allocation failures as a syntax error; ours say "out of memory"). */
int introspect_parse_response(const char *body, size_t len, struct claims **out, struct err *e);

/* introspect_parse_response(), then, for an active token, <map> (borrowed;
 * NULL or empty: nothing) applied to the answer: claims->mapped and, with a
 * userIdAttributeName, claims->sub (claim_map_apply()). */
struct claim_map;
int introspect_parse_mapped(const char *body, size_t len, const struct claim_map *map,
			    struct claims **out, struct err *e);

#endif

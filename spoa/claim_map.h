/* claim_map.h - a policy's claims-to-variables mapping (Gloo's
 * dynamicMetadataFromClaims and introspection.userIdAttributeName), and its
 * application to one token's claims (a JSON object).
 *
 * Pure: no I/O, no clock, no globals, no logging. A struct claim_map is built
 * by the policy loader, immutable afterwards and reference-counted, so an
 * introspection call in flight can keep it past a reload.
 *
 * Extraction rules (the README documents them for operators):
 *  - a claim is found by its full name first (Auth0's "https://x/roles"),
 *    else by its dotted path through nested objects ("realm_access.roles");
 *  - a string is sent as is; an integer as decimal; a real as %.15g; a
 *    boolean as "true"/"false"; null, an object, or an absent claim sets no
 *    variable;
 *  - an array becomes its string, number and boolean elements joined by
 *    CLAIM_MAP_SEP (","): inside an element, "%" is written "%25" and ","
 *    "%2C", so splitting at "," gives the elements back; nested arrays,
 *    objects and nulls are skipped; an array with none of the kept kinds
 *    sets no variable;
 *  - every byte below 0x20 and 0x7f becomes "?", so a value never splits a
 *    header line;
 *  - a value is at most CLAIM_MAP_MAX_VALUE bytes, and the values of one
 *    result CLAIM_MAP_MAX_TOTAL bytes together: a longer string is cut at a
 *    UTF-8 character boundary, an array keeps the elements that fit whole,
 *    and each cut counts one in claim_vars.truncated. Variables are taken
 *    in the order of their names (strcmp), which is also the ACK's order. */
#ifndef OAUTH2_SPOA_CLAIM_MAP_H
#define OAUTH2_SPOA_CLAIM_MAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "claims.h"
#include "err.h"

#define CLAIM_MAP_MAX_VARS  16u	  /* mapped variables per policy */
#define CLAIM_MAP_MAX_VALUE 1024u /* bytes of one variable's value */
#define CLAIM_MAP_MAX_TOTAL 4096u /* bytes of all the values of one result */
#define CLAIM_MAP_MAX_NAME  48u	  /* bytes of a variable name */
#define CLAIM_MAP_MAX_PATH  256u  /* bytes of a claim name or dotted path */
#define CLAIM_MAP_SEP	    ','

struct claim_map;

/* A new, empty map (refs 1), or NULL when out of memory. */
struct claim_map *claim_map_new(void);

/* Takes one more reference; returns <m>, which the caller may then release.
 * NULL is allowed. Thread-safe. */
struct claim_map *claim_map_ref(const struct claim_map *m);

/* Drops one reference, freeing the map with the last one. NULL is allowed. */
void claim_map_unref(struct claim_map *m);

/* Whether <name> may be a mapped variable's name: 1 to CLAIM_MAP_MAX_NAME
 * bytes of A-Z a-z 0-9 _ (HAProxy's variable name characters, without the
 * dot), not starting with a digit, and not one of the agent's own variables
 * (allowed, status, reason, policy, sub, client_id, scope, www_authenticate)
 * nor HAProxy's set-on-error "error". Returns NULL when it may, else why not
 * (a static string). */
const char *claim_map_name_problem(const char *name);

/* Adds "<claim> becomes variable <name>" (both copied). Returns 0, or -1 with
 * <e> (may be NULL) saying why: a claim that is empty, longer than
 * CLAIM_MAP_MAX_PATH, or with an empty dotted segment; a bad name (see
 * claim_map_name_problem()); a name already mapped; more than
 * CLAIM_MAP_MAX_VARS entries; out of memory. <m> is unchanged on -1. */
int claim_map_add(struct claim_map *m, const char *claim, const char *name, struct err *e);

/* Sets the claim whose text becomes the subject (claims->sub) instead of
 * "sub" (userIdAttributeName). Same checks of <claim> as claim_map_add(). */
int claim_map_set_user_id(struct claim_map *m, const char *claim, struct err *e);

/* Mapped variables (0..CLAIM_MAP_MAX_VARS). */
size_t claim_map_count(const struct claim_map *m);

/* Whether <m> changes anything (NULL: no). */
bool claim_map_is_empty(const struct claim_map *m);

/* The mapping as bytes (borrowed, valid as long as <m>): equal for equal
 * mappings, different otherwise. Part of the token cache key, since a
 * cached result holds the mapped values. Empty for NULL. */
struct slice claim_map_identity(const struct claim_map *m);

/* Whether <a> and <b> map the same way (NULL is the empty mapping). */
bool claim_map_eq(const struct claim_map *a, const struct claim_map *b);

/* Applies <m> to <root> (a JSON object, borrowed) for the claims <c>, which
 * the caller still owns alone (not yet shared): sets c->mapped (NULL when no
 * variable has a value) and, with a user id claim, c->sub to that claim's
 * text (NULL when it has none). Does nothing for an empty <m>. Returns 0, or
 * -1 when out of memory (c->sub and c->mapped are then NULL: the result
 * must not be used, since it would lack the variables a hit would give). */
int claim_map_apply(const struct claim_map *m, const json_t *root, struct claims *c);

/* claim_map_apply() on the payload of the JWS compact token <token> (its
 * signature already verified by the caller): base64url-decoded and parsed
 * again. Returns 0, or -1 when out of memory or the payload does not parse. */
int claim_map_apply_jwt(const struct claim_map *m, struct slice token, struct claims *c);

#endif

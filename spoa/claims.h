/* claims.h - what an RFC 7662 introspection endpoint said about one token.
 *
 * A struct claims is built once (by introspect_parse_response()), is immutable
 * afterwards and is reference-counted, so the token cache can hand the same
 * object to several worker threads. Every string is NUL-terminated, lives in
 * the same allocation as the struct, and is NULL when the member was absent,
 * except for the mapped claims (claim_map.h), which have their own block
 * that the claims own. The raw token is never stored here. */
#ifndef OAUTH2_SPOA_CLAIMS_H
#define OAUTH2_SPOA_CLAIMS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One claim a policy maps to an SPOE variable (dynamicMetadataFromClaims). */
struct claim_var {
	const char *name;  /* the variable's name, without the var-prefix */
	const char *value; /* its text, never empty, NUL-terminated */
};

/* The mapped claims of one result: one malloc() block, strings included. */
struct claim_vars {
	size_t n;
	unsigned truncated; /* values cut to their bound while extracting */
	struct claim_var v[];
};

struct claims {
	atomic_int refs;
	bool active; /* "active" was the JSON boolean true */
	/* A local verifier's refusal (an enum authz_reason) when !active; 0
	 * for introspection answers, whose refusal policy_check() derives. */
	unsigned char refusal;
	/* The IdP marks it as another kind of token (a refresh or ID token):
	 * never authorizes a request. See introspect_parse_response(). */
	bool not_access_token;
	bool has_exp, has_nbf, has_iat;
	int64_t exp, nbf, iat; /* seconds since the epoch */
	const char *scope;     /* space-separated list */
	const char *client_id;
	const char *sub;
	const char *username;
	const char *iss;
	const char *token_use; /* Hydra: "access_token" or "refresh_token" */
	size_t n_aud;
	const char *const *aud;	   /* n_aud strings; "aud" may be a string or an array */
	struct claim_vars *mapped; /* owned (freed with the claims); NULL: none */
};

/* Allocates one zeroed block holding a struct claims followed by <extra>
 * bytes for its strings and aud array; refs is 1 and active is false.
 * The extra area starts at (char *)(c + 1) and is aligned for pointers.
 * Returns a new claims (release with claims_unref), or NULL when out of
 * memory or when <extra> would overflow the size. */
struct claims *claims_new(size_t extra);

/* Allocates a claim_vars block for <n> variables followed by <strbytes> bytes
 * for their strings, which start at *area. n and truncated are 0. Returns a
 * new block (free() it, or hand it to claims->mapped), or NULL when out of
 * memory or when the size would overflow. */
struct claim_vars *claim_vars_new(size_t n, size_t strbytes, char **area);

/* Takes one more reference; returns <c>. NULL is allowed. Thread-safe. */
struct claims *claims_ref(struct claims *c);

/* Drops one reference and frees the block with the last one. NULL is allowed. */
void claims_unref(struct claims *c);

#endif

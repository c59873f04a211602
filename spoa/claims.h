/* claims.h - what an RFC 7662 introspection endpoint said about one token.
 *
 * A struct claims is built once (by introspect_parse_response()), is immutable
 * afterwards and is reference-counted, so the token cache can hand the same
 * object to several worker threads. Every string is NUL-terminated, lives in
 * the same allocation as the struct, and is NULL when the member was absent.
 * The raw token is never stored here. */
#ifndef OAUTH2_SPOA_CLAIMS_H
#define OAUTH2_SPOA_CLAIMS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	const char *const *aud; /* n_aud strings; "aud" may be a string or an array */
};

/* Allocates one zeroed block holding a struct claims followed by <extra>
 * bytes for its strings and aud array; refs is 1 and active is false.
 * The extra area starts at (char *)(c + 1) and is aligned for pointers.
 * Returns a new claims (release with claims_unref), or NULL when out of
 * memory or when <extra> would overflow the size. */
struct claims *claims_new(size_t extra);

/* Takes one more reference; returns <c>. NULL is allowed. Thread-safe. */
struct claims *claims_ref(struct claims *c);

/* Drops one reference and frees the block with the last one. NULL is allowed. */
void claims_unref(struct claims *c);

#endif

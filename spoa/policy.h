/* policy.h - ExtAuthPolicy documents: loading them from YAML, choosing the
 * ones that apply to a request, and checking introspection claims against
 * them. policies/README.md is the user-facing reference of the format.
 *
 * A policy set is built once by policy_set_load() and is immutable afterwards:
 * every other function only reads it, takes the time as an argument, never
 * allocates and is thread-safe. Everything an accessor returns is BORROWED
 * from the set and valid until policy_set_free(). */
#ifndef OAUTH2_SPOA_POLICY_H
#define OAUTH2_SPOA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "claims.h"
#include "err.h"
#include "jwks.h"
#include "jwt.h"
#include "reason.h"

/* Load-time limits (convention: every growth has a named limit). */
#define POLICY_MAX_FILE_SIZE   (1024u * 1024u)	    /* bytes in one policy file */
#define POLICY_MAX_POLICIES    4096u		    /* policies in one set */
#define POLICY_MAX_FILES       4096u		    /* *.yaml files taken from one directory */
#define POLICY_MAX_LIST	       256u		    /* items in any list or label map */
#define POLICY_MAX_STRING      4096u		    /* bytes in any scalar */
#define POLICY_MAX_SECRET_LEN  4096u		    /* bytes of a client secret */
#define POLICY_MAX_DURATION_MS (24 * 3600 * 1000LL) /* cacheTimeout, negativeCacheTimeout */
#define POLICY_MAX_STALE_MS    (3600 * 1000LL)	    /* staleIfError */

#define POLICY_DEFAULT_CACHE_TIMEOUT_MS		 (600 * 1000LL) /* 10m, as in Gloo */
#define POLICY_DEFAULT_NEGATIVE_CACHE_TIMEOUT_MS (5 * 1000LL)	/* 5s */

struct policy_set; /* opaque */
struct policy;	   /* opaque */

/* How the agent authenticates itself to the introspection endpoint. */
enum policy_auth_method {
	POLICY_AUTH_NONE = 0,		 /* nothing sent (client_id sent as a form field if set) */
	POLICY_AUTH_CLIENT_SECRET_BASIC, /* RFC 6749 2.3.1 HTTP Basic */
	POLICY_AUTH_CLIENT_SECRET_POST,	 /* client_id + client_secret form fields */
};

struct jwks_remote;
struct policy_signed_response;

/* The introspection endpoint of a policy. Transparent, read-only, borrowed. */
struct policy_introspection {
	const char *url;		     /* http:// or https:// URL, never NULL */
	enum policy_auth_method auth_method; /* default: basic with clientId, else none */
	const char *client_id;		     /* NULL when not configured */
	const char *client_secret;	     /* NULL when auth_method is NONE; never log it */
	/* introspection.signedResponse (RFC 9701); NULL: plain JSON answers. */
	const struct policy_signed_response *signed_response;
};

/* Local JWT validation (accessTokenValidation.jwt). Read-only, borrowed.
 * Exactly one of keys (localJwks) and remote_url (remoteJwks) is set. */
struct policy_jwt {
	const struct jwks *keys; /* from localJwks; NULL with remoteJwks */
	struct jwt_rules rules;	 /* algorithms, issuer, typ switch */
	const char *source;	 /* the localJwks text: part of the cache identity */
	const char *remote_url;	 /* remoteJwks.url; NULL with localJwks */
	int64_t refresh_ms;	 /* remoteJwks.refreshInterval */
	/* The URL's shared key set, set by policy_set_bind_jwks(); NULL until
	 * then (every token is then refused: no key set). */
	struct jwks_remote *remote;
};

/* introspection.signedResponse: answers must be RFC 9701 JWTs signed by a
 * key of <keys> (localJwks or remoteJwks, bound by policy_set_bind_jwks()
 * like a jwt policy's), keys.rules.issuer (never NULL) as "iss", the
 * policy's clientId (never NULL then) as "aud", "iat" at most max_age_s old.
 * keys.rules.typ_lenient is unused. Read-only, borrowed. */
struct policy_signed_response {
	struct policy_jwt keys;
	int64_t max_age_s;
};

/* The request attributes HAProxy sends. All slices are BORROWED from the
 * caller and need not be NUL-terminated; an empty slice means "not sent".
 *  - method: as sent, compared case-sensitively ("GET");
 *  - path:   the path without the query string (HAProxy's `path` fetch).
 *            policy_request_check() wants it as sent; policy_set_match()
 *            wants it canonical with its escapes decoded (path_decode()):
 *            what the application serves;
 *  - host:   the Host header; case and a ":port" suffix are ignored;
 *  - route:  the route labels, "key=value,key=value"; a bare item "x" means
 *            "route=x". Spaces and tabs around items, keys and values are
 *            ignored, empty items are skipped. A NULL route.ptr means the
 *            argument was missing or NULL (txn.route never set): unknown,
 *            not "no label", which is the empty string. */
struct policy_request {
	struct slice method, path, host, route;
};

/* Loads every policy found in <paths>. Each path is a YAML file (which may hold
 * several documents) or a directory, in which case its "*.yaml" and "*.yml"
 * entries not starting with '.' are loaded in strcmp() order (not
 * recursively). Empty documents are skipped. n_paths may be 0 (an empty set).
 * An empty set switches protection off, so the agent loads with
 * POLICY_LOAD_REQUIRE_POLICIES unless told that it is intended: then the load
 * fails when there is no path, when a path (file or directory) yields no
 * policy, and when a file in a directory holds none (e.g. it was truncated);
 * policy_set_load() is policy_set_load_flags() with no flag. Client secrets named
 * by clientSecretFile (relative paths are relative to the policy file's
 * directory) or clientSecretEnv are read now.
 *
 * Returns 0 and stores a NEW set in *out (release it with policy_set_free()),
 * or -1 with *out untouched and <err> (may be NULL) filled: err->file is the
 * file, err->line/col the 1-based position of the offending node (0 when the
 * whole file is at fault). Messages never contain a secret. Nothing is kept
 * from a failed load: one bad document fails the whole set. */
int policy_set_load(const char *const *paths, size_t n_paths, struct policy_set **out,
		    struct err *err);

#define POLICY_LOAD_REQUIRE_POLICIES 1u /* refuse an empty set, path or file */
int policy_set_load_flags(const char *const *paths, size_t n_paths, unsigned flags,
			  struct policy_set **out, struct err *err);

/* Releases <set> and everything borrowed from it (secrets are wiped first).
 * NULL is allowed. */
void policy_set_free(struct policy_set *set);

/* Returns the number of policies in <set> (0 for NULL). */
size_t policy_set_count(const struct policy_set *set);

/* Returns the i-th policy in load order, or NULL when i >= count. */
const struct policy *policy_set_get(const struct policy_set *set, size_t i);

/* Finds the policies that apply to <req>, in load order. A policy applies when
 * it has no applyToRoutes, or when ANY of its applyToRoutes items matches; an
 * item matches when ALL of its selectors (route labels, path, hosts, methods)
 * match. Stores at most <max> of them in out[] (out may be NULL when max is 0)
 * and returns how many apply, which may exceed <max>: like snprintf, a return
 * value > max means out[] was truncated. */
size_t policy_set_match(const struct policy_set *set, const struct policy_request *req,
			const struct policy **out, size_t max);

/* Checks what <req> (path as sent) says before any policy is chosen:
 * AUTHZ_PATH_NOT_CANONICAL when its path is not canonical (path.h), whatever
 * the set; else AUTHZ_ROUTE_UNKNOWN when route.ptr is NULL and some policy of
 * <set> selects by route label (it could miss); else AUTHZ_OK. */
enum authz_reason policy_request_check(const struct policy_set *set,
				       const struct policy_request *req);

/* Checks the claims of an introspected token against <p>, in this order:
 *   1. inactive_token: <c> is NULL, "active" is not true, "token_use" is
 *      present and not "access_token", exp <= now - leeway_s, or
 *      nbf > now + leeway_s (exp/nbf only when present);
 *   2. issuer_mismatch: issuers configured and "iss" absent or not listed;
 *   3. audience_mismatch: audiences configured and "aud" does not satisfy
 *      audienceMatch (any: one of them; all: every one); absent "aud" fails;
 *   4. insufficient_scope: requiredScopes configured and "scope" does not
 *      satisfy scopeMatch (all, any, hierarchic).
 * Returns AUTHZ_OK or one of those four reasons. <now> is in seconds since the
 * epoch; a negative <leeway_s> counts as 0. */
enum authz_reason policy_check(const struct policy *p, const struct claims *c, int64_t now,
			       int64_t leeway_s);

/* "namespace/name", or "name" when metadata.namespace is absent. Unique in a set. */
const char *policy_name(const struct policy *p);

/* The file the policy came from, and the 1-based line of its document. */
const char *policy_file(const struct policy *p);
int policy_line(const struct policy *p);

/* The position of <p> in its set (0-based, load order): lets callers keep
 * per-policy data in arrays. */
size_t policy_index(const struct policy *p);

/* True when spec.mode is "shadow": the policy's outcome is computed, logged
 * and counted, but never denies (default "enforce"). */
bool policy_is_shadow(const struct policy *p);

/* True when spec.config is "public: true": the policy selects routes that
 * need no token (reason public_route). A public policy has no introspection
 * endpoint, no scopes and no cache rules, and policy_check() means nothing
 * for it. It never weakens another policy: when an enforcing policy applies
 * to the same request, that one decides. */
bool policy_is_public(const struct policy *p);

/* The introspection endpoint; NULL for a public policy and for a policy that
 * only validates JWTs locally. A policy may have both this and policy_jwt():
 * the JWT is checked first, then introspected (validator_steps()). */
const struct policy_introspection *policy_introspection(const struct policy *p);

/* The OpenID Connect userinfo endpoint (userinfoUrl); NULL for a public
 * policy and for a policy without one. Borrowed, as long as the set. */
const char *policy_userinfo_url(const struct policy *p);

/* The local JWT validation of <p>, or NULL when it has none. */
const struct policy_jwt *policy_jwt(const struct policy *p);

/* Binds every remoteJwks policy (and signedResponse.remoteJwks) of <set> to the handle <get>
 * returns for its URL and refreshInterval (a NEW reference the policy keeps until
 * policy_set_free(); NULL: out of memory). The one exception to the set
 * being immutable: call it once, before the set is shared with another
 * thread. Returns 0, or -1 when <get> returned NULL (the policies bound so
 * far keep their handles; free the set). */
int policy_set_bind_jwks(struct policy_set *set,
			 struct jwks_remote *(*get)(void *arg, const char *url, int64_t refresh_ms),
			 void *arg);

/* The claims-to-variables mapping of <p> (claim_map.h), or NULL when the
 * policy maps nothing and keeps "sub" as the subject. Borrowed: lives as
 * long as the policy set; take a claim_map_ref() to keep it longer. */
struct claim_map;
const struct claim_map *policy_claim_map(const struct policy *p);

/* Positive-result and negative-result cache lifetimes in milliseconds;
 * 0 means "do not cache". */
int64_t policy_cache_timeout_ms(const struct policy *p);
int64_t policy_negative_cache_timeout_ms(const struct policy *p);

/* staleIfError in milliseconds (0: off, at most POLICY_MAX_STALE_MS): how
 * long after its cache TTL an active cached result may still be served when
 * the introspection fails (never past the token's exp). */
int64_t policy_stale_if_error_ms(const struct policy *p);

/* The required scopes joined by single spaces, ready for a WWW-Authenticate
 * scope="..." parameter (scope tokens never contain '"' or '\'); "" when the
 * policy requires none. */
const char *policy_required_scopes(const struct policy *p);

/* True when <url> is plain http:// to a host that is not loopback (127.0.0.0/8,
 * ::1 or "localhost"): the client secret and every token would cross the
 * network in clear. The agent warns about it at load and in --check. False
 * for https://, for loopback and for NULL. */
bool policy_url_is_cleartext(const char *url);

/* "none", "client_secret_basic" or "client_secret_post"; "unknown" otherwise. */
const char *policy_auth_method_name(enum policy_auth_method m);

/* Parses a duration: an integer number of seconds ("30"), or one or more
 * <number><unit> groups ("500ms", "10m", "1h30m", "1.5s") with units ms, s, m
 * and h. Returns 0 and stores milliseconds in *ms, or -1 when the text is
 * malformed, finer than 1ms, or above POLICY_MAX_DURATION_MS. */
int policy_duration_parse(const char *s, int64_t *ms);

#endif

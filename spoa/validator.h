/* validator.h - one step of a policy's accessTokenValidation: the interface
 * every token validator implements (local JWT verification, RFC 7662
 * introspection, the OpenID Connect userinfo call).
 *
 * A policy's validation is an ordered list of steps (validator_steps()).
 * Each step takes the token (and the claims of the steps before it) and
 * answers, through validator_judge() on its result: continue, or deny with
 * a reason; an I/O step first answers "need I/O" (start()) and gives its
 * result later through a callback. The pipeline (authz.c) walks the steps;
 * the token cache and single-flight are one layer around a step
 * (authz_fetch.c), keyed by the step's identity (key_prefix()), never code
 * inside a step. A step's result must depend only on the token and the
 * step's identity: it is cached under them and shared by every policy with
 * the same identity. A step that applies the policy's claims mapping
 * (claim_map.h) makes the mapping part of its identity, key and same().
 *
 * Validators are constant tables; their functions are thread-safe and never
 * keep a token. */
#ifndef OAUTH2_SPOA_VALIDATOR_H
#define OAUTH2_SPOA_VALIDATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "claims.h"
#include "reason.h"
#include "tcache.h"

#define VALIDATOR_MAX_STEPS 3 /* steps of one policy: jwt, introspection, userinfo */

struct claim_map;
struct ev_loop;
struct http_client;
struct policy;
struct stats;

enum validator_kind {
	VALIDATOR_LOCAL = 1, /* no I/O: check() answers at once */
	VALIDATOR_IO,	     /* start() answers later, through a validator_done_cb */
};

/* What an I/O step may use, BORROWED for the start() call: the worker's
 * HTTP client (its loop runs the callback), the counters, the stats slot
 * of the step's endpoint, the token's fingerprint for log lines, and the
 * loop (its ev_now() is the clock) and leeway an answer's own time claims
 * are checked with (RFC 9701). */
struct validator_io {
	struct http_client *hc;
	struct stats *st;
	unsigned endpoint_slot;
	const char *fp;
	struct ev_loop *loop;
	int64_t leeway_s;
};

/* An I/O step's result: <c> a NEW reference the callee owns, NULL when the
 * step failed (no answer: timeout, error, bad response). <cacheable> false:
 * a refusal (inactive claims) that must be neither stored nor replaced by a
 * stale result (an answer that failed its signature, RFC 9701). */
typedef void (*validator_done_cb)(void *arg, struct claims *c, bool cacheable);

struct validator {
	const char *name; /* "jwt", "introspection" */
	enum validator_kind kind;
	/* Fills <kp> with the step's identity for <p> (endpoint and client, or
	 * key set and rules) and the policy's cache rules. Returns 0, or -1
	 * when out of memory. */
	int (*key_prefix)(struct tcache_key_prefix *kp, const struct policy *p);
	/* The cache key of <token> (borrowed): <kp> (from key_prefix()) finished
	 * with the token and with anything else the result depends on (a
	 * remote key set's generation). */
	void (*key)(const struct tcache_key_prefix *kp, const struct policy *p, struct slice token,
		    uint8_t key[TCACHE_KEY_LEN]);
	/* True when the step gives one result for <a> and <b>: they then share
	 * one lookup, one fetch and one cache entry per request. */
	bool (*same)(const struct policy *a, const struct policy *b);
	/* VALIDATOR_LOCAL: the result now, a NEW claims (NULL: out of memory).
	 * *cacheable (preset true) false: the result must not be stored. */
	struct claims *(*check)(const struct policy *p, struct slice token,
				const struct claims *so_far, int64_t now, int64_t leeway_s,
				bool *cacheable);
	/* VALIDATOR_IO: starts the step. Returns true when <done> will be
	 * called exactly once, on <io->hc>'s loop thread, never from inside
	 * start(); false when it could not start (<done> is never called).
	 * <token> and <so_far> are BORROWED for the call. */
	bool (*start)(const struct validator_io *io, const struct policy *p, struct slice token,
		      const struct claims *so_far, validator_done_cb done, void *arg);
	/* NULL, or the endpoint the step calls (its metrics label), borrowed
	 * from <p>. */
	const char *(*url)(const struct policy *p);
	/* True for a step that only adds claims (userinfo): after a step
	 * before it, the policy's checks and the identity sent upstream stay
	 * that step's; alone, its result is judged like any other. */
	bool adds_claims;
	/* NULL, or after validator_judge() continued: AUTHZ_OK when the result
	 * <c> agrees with <so_far>, the claims of the step before (NULL for
	 * the first step), else the refusal; <key> is the result's cache key
	 * (for the token's fingerprint in a log line). Run on every use,
	 * cached or not: the cached result stays independent of the steps
	 * before. */
	enum authz_reason (*agrees)(const struct claims *c, const struct claims *so_far,
				    const uint8_t key[TCACHE_KEY_LEN]);
};

extern const struct validator validator_jwt;
extern const struct validator validator_introspection;
extern const struct validator validator_userinfo;

/* The steps of <p> (not a public policy) in order into v[], at most
 * VALIDATOR_MAX_STEPS: jwt first when the policy has one, then
 * introspection when it has one, then userinfo when it has one (an I/O step
 * after an I/O step: the pipeline keeps the token while it waits).
 * Returns how many. */
size_t validator_steps(const struct policy *p, const struct validator **v);

/* A step's answer on its result <c>: AUTHZ_OK (continue with the next step,
 * or the policy's checks after the last one), or the refusal: NULL (no
 * result) is introspection_error; inactive claims give the step's refusal
 * (claims.refusal) or inactive_token. Pure. */
enum authz_reason validator_judge(const struct claims *c);

/* For a step's key_prefix(): absorbs the claims mapping <m> (borrowed; NULL
 * or empty: nothing) into <kp>, since a cached result holds the values its
 * mapping extracted. A step that maps nothing keeps the key it had before
 * mappings existed. */
void validator_key_claim_map(struct tcache_key_prefix *kp, const struct claim_map *m);

#endif

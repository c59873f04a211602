/* validator_userinfo.c - the OpenID Connect userinfo step (Gloo's
 * accessTokenValidation.userinfoUrl): a VALIDATOR_IO validator. One GET per
 * start() with the token as its bearer credential; the answer's claims go
 * through the policy's claims mapping (claim_map.h).
 *
 * After a validation step (jwt, introspection) it only adds claims: the
 * policy's checks and identity stay that step's, and the answer's "sub"
 * must equal the validated one (OIDC Core 5.3.2), checked by agrees() on
 * every use so that the cached answer depends on the token alone. Alone, a
 * 200 is the proof that the token is valid (the endpoint answers 401 for a
 * bad one, OIDC Core 5.3.3).
 *
 * Answers: 200 with a JSON object: active claims ("sub" and the mapped
 * variables); 401 or 403: inactive (inactive_token, cached as a negative
 * result); anything else (another status, a transport error, a timeout, a
 * body over the client's limit, bad JSON, not an object, a "sub" that is not
 * a string): no result (introspection_error). Caching, the shared cache and
 * single-flight are the caller's (authz_fetch.c). */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claim_map.h"
#include "http_client.h"
#include "log.h"
#include "policy.h"
#include "stats.h"
#include "validator.h"

#define USERINFO_LOG_EVERY_S 10 /* one warning per period, then debug lines */
#define USERINFO_MAX_SUB     1024

static _Atomic int64_t last_log;

/* One warning per USERINFO_LOG_EVERY_S, whichever thread wins. */
static bool log_due(void)
{
	int64_t now = (int64_t)time(NULL);
	int64_t prev = atomic_load_explicit(&last_log, memory_order_relaxed);

	return now - prev >= USERINFO_LOG_EVERY_S &&
	       atomic_compare_exchange_strong(&last_log, &prev, now);
}

#define UI_LOG(...)                                                                                \
	do {                                                                                       \
		if (log_due())                                                                     \
			log_warn(__VA_ARGS__);                                                     \
		else                                                                               \
			log_debug(__VA_ARGS__);                                                    \
	} while (0)

/* The step's identity: the URL, the cache rules (as for introspection: a
 * policy's cacheTimeout applies to its own requests) and the mapping (the
 * result holds the mapped values). */
static int ui_key_prefix(struct tcache_key_prefix *kp, const struct policy *p)
{
	char rules[80];
	int n = snprintf(rules, sizeof(rules), "userinfo%c%lld/%lld/%lld%c", '\0',
			 (long long)policy_cache_timeout_ms(p),
			 (long long)policy_negative_cache_timeout_ms(p),
			 (long long)policy_stale_if_error_ms(p), '\0');

	tcache_key_prefix_init(kp, slice_from(rules, (size_t)n));
	tcache_key_prefix_absorb(kp, slice_str(policy_userinfo_url(p)));
	validator_key_claim_map(kp, policy_claim_map(p));
	return 0;
}

static void ui_key(const struct tcache_key_prefix *kp, const struct policy *p, struct slice token,
		   uint8_t key[TCACHE_KEY_LEN])
{
	(void)p;
	tcache_key_finish(kp, token, key);
}

static bool ui_same(const struct policy *a, const struct policy *b)
{
	return strcmp(policy_userinfo_url(a), policy_userinfo_url(b)) == 0 &&
	       policy_cache_timeout_ms(a) == policy_cache_timeout_ms(b) &&
	       policy_negative_cache_timeout_ms(a) == policy_negative_cache_timeout_ms(b) &&
	       policy_stale_if_error_ms(a) == policy_stale_if_error_ms(b) &&
	       claim_map_eq(policy_claim_map(a), policy_claim_map(b));
}

/* The claims of a 200 answer, or NULL with *why (a static string). */
static struct claims *ui_parse(struct slice body, const struct claim_map *map, const char **why)
{
	json_t *root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, NULL);
	json_t *sub = root ? json_object_get(root, "sub") : NULL;
	size_t sl = sub && json_is_string(sub) ? json_string_length(sub) : 0;
	struct claims *c = NULL;

	if (!root)
		*why = "not JSON";
	else if (!json_is_object(root))
		*why = "not a JSON object";
	else if (sub && (!json_is_string(sub) || sl == 0 || sl > USERINFO_MAX_SUB ||
			 memchr(json_string_value(sub), '\0', sl)))
		*why = "\"sub\" is not a usable string";
	else if (!(c = claims_new(sub ? sl + 1 : 0)))
		*why = "out of memory";
	if (c) {
		c->active = true;
		if (sub)
			c->sub = memcpy((char *)(c + 1), json_string_value(sub), sl + 1);
		if (claim_map_apply(map, root, c) < 0) {
			*why = "out of memory";
			claims_unref(c);
			c = NULL;
		}
	}
	json_decref(root);
	return c;
}

/* One call in flight. */
struct ui_call {
	validator_done_cb done;
	void *arg;
	struct stats *st;
	unsigned endpoint_slot;
	struct claim_map *map; /* a reference: the policy may be reloaded away */
	char fp[9];
};

static void ui_done(const struct http_client_response *res, void *arg)
{
	struct ui_call *uc = arg;
	struct claims *c = NULL;
	const char *why = NULL;
	unsigned outcome = res->err != HTTP_CLIENT_OK ? HTTP_CLIENT_ERR_INDEX(res->err) : 0;

	stats_inflight(uc->st, -1);
	if (res->err != HTTP_CLIENT_OK) {
		UI_LOG("userinfo failed: %s%s%s (token %s)", http_client_strerror(res->err),
		       res->detail[0] ? ": " : "", res->detail, uc->fp);
	} else if (res->status == 401 || res->status == 403) {
		/* The endpoint refuses the token: a definite answer. */
		log_debug("userinfo refused the token: HTTP status %ld (token %s)", res->status,
			  uc->fp);
		c = claims_new(0);
	} else if (res->status != 200) {
		UI_LOG("userinfo failed: HTTP status %ld (token %s)", res->status, uc->fp);
		outcome = STATS_INTRO_HTTP_STATUS;
	} else if (!(c = ui_parse(res->body, uc->map, &why))) {
		UI_LOG("userinfo failed: bad response: %s (token %s)", why, uc->fp);
		outcome = STATS_INTRO_BAD_RESPONSE;
	}
	if (outcome < STATS_INTRO_COUNT)
		stats_introspection(uc->st, uc->endpoint_slot, outcome, res->elapsed);
	claim_map_unref(uc->map);
	uc->done(uc->arg, c, true);
	free(uc);
}

static bool ui_start(const struct validator_io *io, const struct policy *p, struct slice token,
		     const struct claims *so_far, validator_done_cb done, void *arg)
{
	struct ui_call *uc = calloc(1, sizeof(*uc));
	struct http_client_request rq = {.url = policy_userinfo_url(p),
					 .get = true,
					 .accept = "application/json",
					 .bearer = token};
	int rc = HTTP_CLIENT_ERR_NOMEM;

	(void)so_far; /* compared by agrees(), not here: the answer is cached */
	if (uc) {
		*uc = (struct ui_call){
		    done, arg, io->st, io->endpoint_slot, claim_map_ref(policy_claim_map(p)), ""};
		snprintf(uc->fp, sizeof(uc->fp), "%s", io->fp);
		rc = http_client_post(io->hc, &rq, ui_done, uc);
	}
	if (rc == 0) {
		stats_inflight(io->st, 1);
		return true;
	}
	log_warn("userinfo not started: %s", http_client_strerror(rc));
	if (HTTP_CLIENT_ERR_INDEX(rc) < STATS_INTRO_COUNT)
		stats_introspection(io->st, io->endpoint_slot, HTTP_CLIENT_ERR_INDEX(rc), 0);
	if (uc)
		claim_map_unref(uc->map);
	free(uc);
	return false;
}

static const char *ui_url(const struct policy *p)
{
	return policy_userinfo_url(p);
}

/* OIDC Core 5.3.2: the answer is about the validated token's subject, or
 * it is not used. */
static enum authz_reason ui_agrees(const struct claims *c, const struct claims *so_far,
				   const uint8_t key[TCACHE_KEY_LEN])
{
	char fp[9];

	if (!so_far || !so_far->sub || !c->sub || strcmp(so_far->sub, c->sub) == 0)
		return AUTHZ_OK;
	tcache_fingerprint(key, fp);
	UI_LOG("userinfo answer refused: its sub is not the token's (token %s)", fp);
	return AUTHZ_INTROSPECTION_ERROR;
}

const struct validator validator_userinfo = {
    .name = "userinfo",
    .kind = VALIDATOR_IO,
    .key_prefix = ui_key_prefix,
    .key = ui_key,
    .same = ui_same,
    .start = ui_start,
    .url = ui_url,
    .adds_claims = true,
    .agrees = ui_agrees,
};

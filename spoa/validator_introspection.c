/* validator_introspection.c - the RFC 7662 introspection step: a
 * VALIDATOR_IO validator. One POST per start() through the worker's HTTP
 * client; the answer is parsed by introspect.c (or verified by
 * introspect_signed.c) with the policy's claims mapping and counted per
 * endpoint.
 * Caching, the shared cache and single-flight are the caller's
 * (authz_fetch.c). */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim_map.h"
#include "err.h"
#include "http_client.h"
#include "introspect.h"
#include "introspect_jwt.h"
#include "introspect_signed.h"
#include "log.h"
#include "policy.h"
#include "stats.h"
#include "validator.h"

/* The endpoint identity (URL, client id, secret, the cache rules,
 * NUL-separated, then the auth method, then a signedResponse's settings:
 * a plain answer never serves a policy that wants a signed one). The cache rules are part of it so
 * that a policy's cacheTimeout applies to its own requests: an entry stored
 * for a policy that caches for 10m is never a hit for one that says
 * cacheTimeout: 0 on the same endpoint. */
static int intro_key_prefix(struct tcache_key_prefix *kp, const struct policy *p)
{
	const struct policy_introspection *pi = policy_introspection(p);
	char rules[72];
	const char *parts[4] = {pi->url, pi->client_id ? pi->client_id : "",
				pi->client_secret ? pi->client_secret : "", rules};
	size_t len[4], n = 0;
	char *id;

	snprintf(rules, sizeof(rules), "%lld/%lld/%lld", (long long)policy_cache_timeout_ms(p),
		 (long long)policy_negative_cache_timeout_ms(p),
		 (long long)policy_stale_if_error_ms(p));
	for (int i = 0; i < 4; i++)
		n += (len[i] = strlen(parts[i])) + 1;
	id = malloc(n + 1);
	if (!id)
		return -1;
	n = 0;
	for (int i = 0; i < 4; i++) {
		memcpy(id + n, parts[i], len[i]);
		n += len[i];
		id[n++] = '\0';
	}
	id[n++] = (char)('0' + pi->auth_method);
	tcache_key_prefix_init(kp, slice_from(id, n));
	introspect_signed_absorb(kp, pi->signed_response);
	explicit_bzero(id, n);
	free(id);
	validator_key_claim_map(kp, policy_claim_map(p));
	return 0;
}

static void intro_key(const struct tcache_key_prefix *kp, const struct policy *p,
		      struct slice token, uint8_t key[TCACHE_KEY_LEN])
{
	(void)p;
	tcache_key_finish(kp, token, key);
}

static bool opt_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Two policies share an introspection result only when they ask the same
 * endpoint as the same client (an answer obtained with good credentials must
 * never serve a policy whose credentials are wrong), verify it alike (plain
 * or signed, with the same keys and rules), cache it alike (the result is
 * stored under one key, with one lifetime) and map its claims alike (the
 * result holds the mapped values). */
static bool intro_same(const struct policy *a, const struct policy *b)
{
	const struct policy_introspection *x = policy_introspection(a);
	const struct policy_introspection *y = policy_introspection(b);

	return strcmp(x->url, y->url) == 0 && x->auth_method == y->auth_method &&
	       opt_eq(x->client_id, y->client_id) && opt_eq(x->client_secret, y->client_secret) &&
	       introspect_signed_same(x->signed_response, y->signed_response) &&
	       policy_cache_timeout_ms(a) == policy_cache_timeout_ms(b) &&
	       policy_negative_cache_timeout_ms(a) == policy_negative_cache_timeout_ms(b) &&
	       claim_map_eq(policy_claim_map(a), policy_claim_map(b));
}

/* One call in flight. */
struct intro_call {
	validator_done_cb done;
	void *arg;
	struct stats *st;
	unsigned endpoint_slot;
	char fp[9];
	struct introspect_signed *sig; /* signedResponse; NULL: plain JSON */
	struct ev_loop *loop;
	int64_t leeway_s;
	struct claim_map *map; /* a reference: the policy may be reloaded away */
};

static void intro_done(const struct http_client_response *res, void *arg)
{
	struct intro_call *ic = arg;
	struct claims *c = NULL;
	struct err e = {0};
	unsigned outcome = res->err != HTTP_CLIENT_OK ? HTTP_CLIENT_ERR_INDEX(res->err) : 0;
	bool verified = true;

	stats_inflight(ic->st, -1);
	if (res->err != HTTP_CLIENT_OK) {
		log_warn("introspection failed: %s%s%s (token %s)", http_client_strerror(res->err),
			 res->detail[0] ? ": " : "", res->detail, ic->fp);
	} else if (res->status != 200) {
		log_warn("introspection failed: HTTP status %ld (token %s)", res->status, ic->fp);
		outcome = STATS_INTRO_HTTP_STATUS;
	} else if (ic->sig) {
		c = introspect_signed_check(ic->sig, res->content_type, res->body, ic->map,
					    (int64_t)ev_now(ic->loop), ic->leeway_s, ic->fp,
					    &verified);
		if (!verified)
			outcome = STATS_INTRO_UNVERIFIED;
	} else if (introspect_parse_mapped((const char *)res->body.ptr, res->body.len, ic->map, &c,
					   &e) < 0) {
		log_warn("introspection failed: bad response: %s (token %s)", e.msg, ic->fp);
		c = NULL;
		outcome = STATS_INTRO_BAD_RESPONSE;
	}
	if (outcome < STATS_INTRO_COUNT)
		stats_introspection(ic->st, ic->endpoint_slot, outcome, res->elapsed);
	claim_map_unref(ic->map);
	ic->done(ic->arg, c, verified);
	introspect_signed_free(ic->sig);
	free(ic);
}

static bool intro_start(const struct validator_io *io, const struct policy *p, struct slice token,
			const struct claims *so_far, validator_done_cb done, void *arg)
{
	const struct policy_introspection *pi = policy_introspection(p);
	bool post = pi->auth_method == POLICY_AUTH_CLIENT_SECRET_POST ||
		    (pi->auth_method == POLICY_AUTH_NONE && pi->client_id);
	size_t cap = token.len * 3 + 1024 +
		     (pi->client_secret ? 3 * strlen(pi->client_secret) : 0) +
		     (pi->client_id ? 3 * strlen(pi->client_id) : 0);
	char *body = malloc(cap);
	struct intro_call *ic = calloc(1, sizeof(*ic));
	struct http_client_request rq = {.url = pi->url,
					 .accept = pi->signed_response ? IJWT_MEDIA_TYPE : NULL};
	ssize_t blen;
	int rc = HTTP_CLIENT_ERR_NOMEM;

	(void)so_far; /* the IdP's answer decides alone */
	if (body && ic) {
		blen = introspect_form_body(
		    token, post, pi->client_id,
		    pi->auth_method == POLICY_AUTH_NONE ? NULL : pi->client_secret, body, cap);
		if (blen >= 0) {
			rq.body = slice_from(body, (size_t)blen);
			if (pi->auth_method == POLICY_AUTH_CLIENT_SECRET_BASIC) {
				rq.user = pi->client_id;
				rq.password = pi->client_secret;
			}
			*ic = (struct intro_call){done,
						  arg,
						  io->st,
						  io->endpoint_slot,
						  "",
						  NULL,
						  io->loop,
						  io->leeway_s,
						  claim_map_ref(policy_claim_map(p))};
			snprintf(ic->fp, sizeof(ic->fp), "%s", io->fp);
			rc = HTTP_CLIENT_ERR_NOMEM;
			if (!pi->signed_response || (ic->sig = introspect_signed_new(pi)))
				rc = http_client_post(io->hc, &rq, intro_done, ic);
		}
		explicit_bzero(body, cap);
	}
	free(body);
	if (rc == 0) {
		stats_inflight(io->st, 1);
		return true;
	}
	log_warn("introspection not started: %s", http_client_strerror(rc));
	if (ic && HTTP_CLIENT_ERR_INDEX(rc) < STATS_INTRO_COUNT)
		stats_introspection(io->st, io->endpoint_slot, HTTP_CLIENT_ERR_INDEX(rc), 0);
	if (ic) {
		introspect_signed_free(ic->sig);
		claim_map_unref(ic->map); /* NULL when never taken (calloc) */
	}
	free(ic);
	return false;
}

const struct validator validator_introspection = {
    .name = "introspection",
    .kind = VALIDATOR_IO,
    .key_prefix = intro_key_prefix,
    .key = intro_key,
    .same = intro_same,
    .start = intro_start,
};

/* authz_log.c - see authz_log.h. */
#include "authz_log.h"

#include <ev.h>
#include <stdatomic.h>

#include "authz_int.h"
#include "claims.h"
#include "log.h"
#include "policy.h"
#include "stats.h"
#include "verdict.h"

void authz_log_decision(struct authz *az, const struct authz_snap *sn, const struct authz_ticket *t,
			const struct verdict *v, const struct authz_outcome *oc, const char *route,
			const char *fp, const char *how)
{
	char stream[LOG_ITOA_MAX], status[LOG_ITOA_MAX], lat[LOG_ITOA_MAX];
	long long us;
	const struct claims *c = oc->c ? oc->c : v->claims;
	unsigned slot = oc->p ? sn->pol_slot[policy_index(oc->p)] : az->sh->no_policy_slot;

	stats_decision(az->sh->st, slot, oc->r, oc->shadow);
	if (!log_enabled(LOG_LVL_INFO))
		return;
	us = (long long)((ev_now(az->loop) - t->started) * 1e6 + 0.5);
	{
		const struct log_kv kv[] = {
		    LOG_KV("stream", log_itoa(stream, (long long)t->stream_id), 1),
		    LOG_KV("policy", v->policy[0] ? v->policy : NULL, 0),
		    LOG_KV("reason", v->reason, 0),
		    LOG_KV("status", log_itoa(status, v->status), 1),
		    LOG_KV("token", fp, 0),
		    LOG_KV("cache", how, 0),
		    LOG_KV("latency_us", log_itoa(lat, us), 1),
		    LOG_KV("route", route && route[0] ? route : NULL, 0),
		    LOG_KV("sub", c ? c->sub : NULL, 0),
		    LOG_KV("client_id", c ? c->client_id : NULL, 0),
		    LOG_KV("mode", oc->shadow ? "shadow" : "enforce", 0),
		};

		log_event(LOG_LVL_INFO, "decision", kv, sizeof(kv) / sizeof(kv[0]));
	}
}

void authz_log_copy_route(char *dst, size_t n, struct slice r)
{
	size_t len = r.len < n - 1 ? r.len : n - 1;

	for (size_t i = 0; i < len; i++)
		dst[i] = r.ptr[i] >= 0x20 && r.ptr[i] < 0x7f ? (char)r.ptr[i] : '?';
	dst[len] = '\0';
}

void authz_log_route_unknown(double now)
{
	static _Atomic long long next;
	long long t = (long long)now, n = atomic_load_explicit(&next, memory_order_relaxed);

	if (t < n || !atomic_compare_exchange_strong(&next, &n, t + 60))
		return;
	log_warn("route_unknown: a request came without the \"route\" argument (NULL: txn.route "
		 "was never set) while policies select by route label, so it was denied. Likely "
		 "cause: the SPOE message runs on an \"event\" (on-frontend-http-request), which "
		 "fires before the http-request rules that set txn.route; use \"groups\" and "
		 "\"http-request send-spoe-group\" after the set-var rule (README, Route labels). "
		 "Logged at most once a minute.");
}

/* A client can send these at will: names the limit an operator may have to
 * raise, and the header's length only, never a byte of it. */
#define TOO_LONG_LOG_S 10.0
void authz_log_too_long(struct authz *az, size_t header_len, size_t max, double now)
{
	if (az->too_long_logged > 0 && now - az->too_long_logged < TOO_LONG_LOG_S) {
		az->too_long_quiet++;
		return;
	}
	log_warn("bearer token refused (token_too_long): the Authorization header has %zu bytes, "
		 "the token may have at most maxTokenLength=%zu (--max-token-length); %lu more "
		 "in the last %.0f s",
		 header_len, max, az->too_long_quiet, TOO_LONG_LOG_S);
	az->too_long_logged = now;
	az->too_long_quiet = 0;
}

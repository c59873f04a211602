/* stats.c - see stats.h. */
#include "stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "counter.h"

/* Histogram buckets for introspection latency, in seconds. */
static const double lat_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				    0.1,   0.25,   0.5,	  1,	2.5,   5};
#define NBUCKETS (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

static const char *const intro_names[STATS_INTRO_COUNT] = {
    "ok",	 "timeout", "connect", "tls",	"too_big",     "redirect",     "overloaded",
    "cancelled", "invalid", "nomem",   "other", "http_status", "bad_response", "unverified",
};

struct ep_counters {
	_Atomic uint64_t outcome[STATS_INTRO_COUNT];
	_Atomic uint64_t bucket[NBUCKETS]; /* non-cumulative; rendered cumulative */
	_Atomic uint64_t sum_us;
};

struct stats {
	pthread_mutex_t mu; /* guards the name tables and their counts */
	char *pol_names[STATS_MAX_POLICIES];
	unsigned npol;
	_Atomic uint64_t (*dec)[2][AUTHZ_REASON_COUNT]; /* [slot][shadow][reason] */
	char *ep_names[STATS_MAX_ENDPOINTS];
	unsigned nep;
	struct ep_counters *ep;
	_Atomic int64_t inflight, waiters;
	_Atomic uint64_t reloads, reload_failures;
	_Atomic uint64_t claims_truncated;
};

struct stats *stats_new(void)
{
	struct stats *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->dec = calloc(STATS_MAX_POLICIES, sizeof(*st->dec));
	st->ep = calloc(STATS_MAX_ENDPOINTS, sizeof(*st->ep));
	if (!st->dec || !st->ep) {
		free(st->dec);
		free(st->ep);
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->mu, NULL);
	return st;
}

void stats_free(struct stats *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->npol; i++)
		free(st->pol_names[i]);
	for (unsigned i = 0; i < st->nep; i++)
		free(st->ep_names[i]);
	free(st->dec);
	free(st->ep);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* Finds or adds <name>; the last slot is the shared overflow one. */
static unsigned slot_of(struct stats *st, char **names, unsigned *n, unsigned max, const char *name)
{
	unsigned i;

	pthread_mutex_lock(&st->mu);
	for (i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			goto out;
	if (*n < max - 1 && (names[*n] = strdup(name)) != NULL) {
		i = (*n)++;
	} else {
		if (!names[max - 1])
			names[max - 1] = strdup("_overflow");
		i = max - 1;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return i;
}

unsigned stats_policy_slot(struct stats *st, const char *name)
{
	return slot_of(st, st->pol_names, &st->npol, STATS_MAX_POLICIES, name);
}

void stats_endpoint_label(const char *url, char *out, size_t n)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	const char *auth_end = host + strcspn(host, "/?#");
	const char *at = NULL, *end;
	size_t len = 0;

	for (const char *p = host; p < auth_end; p++)
		if (*p == '@')
			at = p;
	end = at ? at + 1 : host;
	end += strcspn(end, "?#");
	if (!n)
		return;
	/* scheme:// then everything after the userinfo, up to '?' or '#' */
	if (scheme_end) {
		size_t k = (size_t)(host - url);

		len = k < n - 1 ? k : n - 1;
		memcpy(out, url, len);
	}
	for (const char *p = at ? at + 1 : host; p < end && len < n - 1; p++)
		out[len++] = *p;
	out[len] = '\0';
}

unsigned stats_endpoint_slot(struct stats *st, const char *url)
{
	char label[STATS_LABEL_MAX];

	stats_endpoint_label(url, label, sizeof(label));
	return slot_of(st, st->ep_names, &st->nep, STATS_MAX_ENDPOINTS, label);
}

void stats_decision(struct stats *st, unsigned policy_slot, enum authz_reason r, bool shadow)
{
	if (policy_slot >= STATS_MAX_POLICIES || (unsigned)r >= AUTHZ_REASON_COUNT)
		return;
	counter_add_shared(&st->dec[policy_slot][shadow][r], 1);
}

void stats_introspection(struct stats *st, unsigned ep_slot, unsigned outcome, double seconds)
{
	struct ep_counters *e;
	size_t b = 0;

	if (ep_slot >= STATS_MAX_ENDPOINTS || outcome >= STATS_INTRO_COUNT)
		return;
	e = &st->ep[ep_slot];
	counter_add_shared(&e->outcome[outcome], 1);
	if (!(seconds >= 0))
		seconds = 0;
	while (b < NBUCKETS && seconds > lat_bounds[b])
		b++;
	if (b < NBUCKETS)
		counter_add_shared(&e->bucket[b], 1);
	counter_add_shared(&e->sum_us, (uint64_t)(seconds * 1e6));
}

void stats_inflight(struct stats *st, int delta)
{
	atomic_fetch_add_explicit(&st->inflight, delta, memory_order_relaxed);
}

void stats_waiters(struct stats *st, int delta)
{
	atomic_fetch_add_explicit(&st->waiters, delta, memory_order_relaxed);
}

void stats_reload(struct stats *st, bool ok)
{
	counter_add_shared(ok ? &st->reloads : &st->reload_failures, 1);
}

void stats_claims(struct stats *st, const struct claims *c)
{
	if (c && c->mapped && c->mapped->truncated)
		counter_add_shared(&st->claims_truncated, c->mapped->truncated);
}

/* Under st->mu: the per-policy and per-endpoint families. */
static void render_decisions(struct stats *st, struct prom_buf *b)
{
	prom_header(b, "oauth2_spoa_decisions_total", "counter",
		    "Decisions by deciding policy (\"\" when none applied), reason and mode.");
	for (unsigned s = 0; s < STATS_MAX_POLICIES; s++) {
		if (!st->pol_names[s])
			continue;
		for (int sh = 0; sh < 2; sh++)
			for (unsigned r = 0; r < AUTHZ_REASON_COUNT; r++) {
				uint64_t v = counter_get(&st->dec[s][sh][r]);

				if (!v)
					continue;
				prom_printf(b, "oauth2_spoa_decisions_total{policy=\"");
				prom_label(b, st->pol_names[s]);
				prom_printf(b, "\",reason=\"%s\",mode=\"%s\"} %llu\n",
					    reason_name((enum authz_reason)r),
					    sh ? "shadow" : "enforce", (unsigned long long)v);
			}
	}
}

static void render_calls(struct stats *st, struct prom_buf *b)
{
	prom_header(b, "oauth2_spoa_introspection_calls_total", "counter",
		    "Introspection calls by endpoint and outcome (ok or the error kind).");
	for (unsigned s = 0; s < STATS_MAX_ENDPOINTS; s++) {
		if (!st->ep_names[s])
			continue;
		for (unsigned o = 0; o < STATS_INTRO_COUNT; o++) {
			uint64_t v = counter_get(&st->ep[s].outcome[o]);

			if (!v && o != 0)
				continue;
			prom_printf(b, "oauth2_spoa_introspection_calls_total{endpoint=\"");
			prom_label(b, st->ep_names[s]);
			prom_printf(b, "\",outcome=\"%s\"} %llu\n", intro_names[o],
				    (unsigned long long)v);
		}
	}
}

static void render_latency(struct stats *st, struct prom_buf *b)
{
	prom_header(b, "oauth2_spoa_introspection_duration_seconds", "histogram",
		    "Introspection call latency by endpoint, redirects included.");
	for (unsigned s = 0; s < STATS_MAX_ENDPOINTS; s++) {
		uint64_t cum = 0;

		if (!st->ep_names[s])
			continue;
		for (size_t k = 0; k < NBUCKETS; k++) {
			cum += counter_get(&st->ep[s].bucket[k]);
			prom_printf(
			    b, "oauth2_spoa_introspection_duration_seconds_bucket{endpoint=\"");
			prom_label(b, st->ep_names[s]);
			prom_printf(b, "\",le=\"%g\"} %llu\n", lat_bounds[k],
				    (unsigned long long)cum);
		}
		{
			uint64_t total = 0;

			for (unsigned o = 0; o < STATS_INTRO_COUNT; o++)
				total += counter_get(&st->ep[s].outcome[o]);
			prom_printf(
			    b, "oauth2_spoa_introspection_duration_seconds_bucket{endpoint=\"");
			prom_label(b, st->ep_names[s]);
			prom_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)total);
			prom_printf(b,
				    "oauth2_spoa_introspection_duration_seconds_sum{endpoint=\"");
			prom_label(b, st->ep_names[s]);
			prom_printf(b, "\"} %.6f\n", (double)counter_get(&st->ep[s].sum_us) / 1e6);
			prom_printf(b,
				    "oauth2_spoa_introspection_duration_seconds_count{endpoint=\"");
			prom_label(b, st->ep_names[s]);
			prom_printf(b, "\"} %llu\n", (unsigned long long)total);
		}
	}
}

void stats_render(struct stats *st, struct prom_buf *b)
{
	pthread_mutex_lock(&st->mu);
	render_decisions(st, b);
	render_calls(st, b);
	render_latency(st, b);
	pthread_mutex_unlock(&st->mu);
	prom_header(b, "oauth2_spoa_introspection_inflight", "gauge",
		    "Introspection calls in flight.");
	prom_printf(b, "oauth2_spoa_introspection_inflight %lld\n",
		    (long long)atomic_load(&st->inflight));
	prom_header(b, "oauth2_spoa_singleflight_waiters", "gauge",
		    "Requests waiting for another request's introspection of the same token.");
	prom_printf(b, "oauth2_spoa_singleflight_waiters %lld\n",
		    (long long)atomic_load(&st->waiters));
	prom_scalar(b, "oauth2_spoa_reloads_total", "counter", "Successful SIGHUP reloads.",
		    counter_get(&st->reloads));
	prom_scalar(b, "oauth2_spoa_reload_failures_total", "counter",
		    "Rejected SIGHUP reloads (the old configuration kept serving).",
		    counter_get(&st->reload_failures));
	prom_scalar(b, "oauth2_spoa_claim_values_truncated_total", "counter",
		    "Mapped claim values cut to their size bound (dynamicMetadataFromClaims).",
		    counter_get(&st->claims_truncated));
}

/* jwks_registry.c - see jwks_registry.h. */
#include "jwks_registry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwks_fetcher.h"
#include "jwks_remote.h"
#include "limits.h"
#include "log.h"
#include "policy.h"
#include "prom.h"

struct entry {
	struct jwks_remote *r; /* the registry's reference */
	int64_t refresh_ms;    /* of the attached fetcher; 0: none */
	int64_t want_ms;       /* min refreshInterval of the bound set */
	unsigned mark;	       /* the bind that last named the URL */
};

struct jwks_registry {
	struct ev_loop *loop;
	unsigned timeout_ms;
	char *ca_file;
	unsigned epoch;	    /* of the last bind */
	bool bound;	    /* the last bind succeeded */
	pthread_mutex_t mu; /* guards v and n against the metrics thread */
	struct entry *v;
	size_t n, cap;
};

struct jwks_registry *jwks_registry_new(struct ev_loop *loop, unsigned timeout_ms,
					const char *ca_file)
{
	struct jwks_registry *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	if ((ca_file && !(g->ca_file = strdup(ca_file))) || pthread_mutex_init(&g->mu, NULL)) {
		free(g->ca_file);
		free(g);
		return NULL;
	}
	g->loop = loop;
	g->timeout_ms = timeout_ms;
	return g;
}

static struct entry *find(struct jwks_registry *g, const char *url)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(jwks_remote_url(g->v[i].r), url))
			return &g->v[i];
	return NULL;
}

static struct entry *add(struct jwks_registry *g, const char *url)
{
	struct jwks_remote *r;

	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 8;
		struct entry *v;

		pthread_mutex_lock(&g->mu);
		v = realloc(g->v, cap * sizeof(*v));
		if (v) {
			g->v = v;
			g->cap = cap;
		}
		pthread_mutex_unlock(&g->mu);
		if (!v)
			return NULL;
	}
	if (!(r = jwks_remote_new(url)))
		return NULL;
	pthread_mutex_lock(&g->mu);
	g->v[g->n] = (struct entry){.r = r};
	g->n++;
	pthread_mutex_unlock(&g->mu);
	return &g->v[g->n - 1];
}

/* policy_set_bind_jwks()'s callback: one handle per URL. */
static struct jwks_remote *get(void *arg, const char *url, int64_t refresh_ms)
{
	struct jwks_registry *g = arg;
	struct entry *e = find(g, url);

	if (!e && !(e = add(g, url)))
		return NULL;
	if (e->mark != g->epoch) {
		e->mark = g->epoch;
		e->want_ms = refresh_ms;
	} else if (refresh_ms < e->want_ms) {
		e->want_ms = refresh_ms;
	}
	return jwks_remote_ref(e->r);
}

/* Gives <e> a fetcher refreshing every want_ms (a new one when the interval
 * changed: the handle, and so the key set, stays). */
static int refresh(struct jwks_registry *g, struct entry *e)
{
	struct jwks_fetcher *f;

	if (e->refresh_ms == e->want_ms)
		return 0;
	f = jwks_fetcher_new(g->loop, jwks_remote_url(e->r), e->want_ms, JWKS_KID_REFETCH_MS,
			     g->timeout_ms, g->ca_file, jwks_remote_slot(e->r));
	if (!f)
		return -1;
	jwks_fetcher_free(jwks_remote_attach(e->r, f));
	if (!e->refresh_ms)
		log_info("jwks %s: fetching every %llds", jwks_remote_url(e->r),
			 (long long)(e->want_ms / 1000));
	e->refresh_ms = e->want_ms;
	return 0;
}

int jwks_registry_bind(struct jwks_registry *g, struct policy_set *set)
{
	g->epoch++;
	g->bound = false;
	if (policy_set_bind_jwks(set, get, g) < 0)
		return -1;
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].mark == g->epoch && refresh(g, &g->v[i]) < 0)
			return -1;
	g->bound = true;
	return 0;
}

void jwks_registry_commit(struct jwks_registry *g)
{
	size_t k = 0;

	if (!g->bound)
		return;
	pthread_mutex_lock(&g->mu); /* the metrics thread waits: a few frees */
	for (size_t i = 0; i < g->n; i++) {
		struct entry e = g->v[i];

		if (e.mark == g->epoch) {
			g->v[k++] = e;
			continue;
		}
		log_info("jwks %s: no policy names it any more; fetching stopped",
			 jwks_remote_url(e.r));
		jwks_fetcher_free(jwks_remote_attach(e.r, NULL));
		jwks_remote_unref(e.r); /* snapshots still holding it keep its set */
	}
	g->n = k;
	pthread_mutex_unlock(&g->mu);
}

/* Starts the sample "<name>{url="<url>"<extra>} ". */
static void sample(struct prom_buf *b, const char *name, const struct jwks_remote *r,
		   const char *extra)
{
	prom_printf(b, "%s{url=\"", name);
	prom_label(b, jwks_remote_url(r));
	prom_printf(b, "\"%s} ", extra);
}

static void render_one(struct prom_buf *b, int m, const char *name, struct jwks_remote *r,
		       double now)
{
	struct jwks_slot_stats st;

	jwks_slot_stats(jwks_remote_slot(r), &st);
	switch (m) {
	case 0:
		sample(b, name, r, ",result=\"ok\"");
		prom_printf(b, "%llu\n", (unsigned long long)st.ok);
		sample(b, name, r, ",result=\"failed\"");
		prom_printf(b, "%llu\n", (unsigned long long)st.failed);
		break;
	case 1:
		sample(b, name, r, "");
		prom_printf(b, "%zu\n", st.keys);
		break;
	case 2:
		sample(b, name, r, "");
		prom_printf(b, "%.0f\n",
			    st.last_ok <= 0    ? -1.0
			    : now > st.last_ok ? now - st.last_ok
					       : 0.0);
		break;
	default:
		sample(b, name, r, "");
		prom_printf(b, "%llu\n", (unsigned long long)st.asks);
	}
}

void jwks_registry_render(struct jwks_registry *g, struct prom_buf *b)
{
	static const char *const m[][3] = {
	    {"oauth2_spoa_jwks_fetches_total", "counter",
	     "Remote JWKS fetches by URL and result (ok: a key set parsed, or the same document "
	     "again)."},
	    {"oauth2_spoa_jwks_keys", "gauge",
	     "Usable keys in the current set of a remote JWKS URL (0: none yet)."},
	    {"oauth2_spoa_jwks_last_success_age_seconds", "gauge",
	     "Seconds since the last good fetch of a remote JWKS URL (-1: never)."},
	    {"oauth2_spoa_jwks_refetch_asks_total", "counter",
	     "Tokens that asked for a refetch (a kid the current set lacks, or no set yet); "
	     "fetches are rate-limited."},
	};
	double now = (double)time(NULL);

	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	for (int k = 0; k < 4; k++) {
		prom_header(b, m[k][0], m[k][1], m[k][2]);
		for (size_t i = 0; i < g->n; i++)
			render_one(b, k, m[k][0], g->v[i].r, now);
	}
	pthread_mutex_unlock(&g->mu);
}

void jwks_registry_free(struct jwks_registry *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		jwks_fetcher_free(jwks_remote_attach(g->v[i].r, NULL));
		jwks_remote_unref(g->v[i].r);
	}
	pthread_mutex_destroy(&g->mu);
	free(g->v);
	free(g->ca_file);
	free(g);
}

/* l2.c - see l2.h. */
#include "l2.h"

#include <adapters/libev.h>
#include <async.h>
#include <ev.h>
#include <hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "counter.h"
#include "l2_codec.h"
#include "log.h"
#include "purge.h"

static const double lat_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
				    0.01,   0.025,   0.05,   0.1,   0.25};
#define NBUCKETS (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

enum { E_TIMEOUT, E_CONNECTION, E_REPLY, E_VALUE, E_COUNT };
static const char *const err_names[E_COUNT] = {"timeout", "connection", "reply", "bad_value"};

struct l2_shared {
	struct redis_addr addr;
	char *prefix, *password;
	int db;
	double timeout;
	_Atomic uint64_t hits, misses, skipped, errors[E_COUNT];
	_Atomic uint64_t writes, write_errors, breaker_opened;
	_Atomic uint64_t bucket[NBUCKETS + 1]; /* non-cumulative; last = +Inf */
	_Atomic uint64_t sum_us, gets;
};

struct l2 {
	struct l2_shared *s;
	struct ev_loop *loop;
	redisAsyncContext *ac; /* NULL: not connected */
	struct breaker br;
	unsigned inflight;
	bool closing;
};

/* One GET. Freed by the reply callback, which hiredis always calls (NULL
 * reply when the connection goes); <done> is set once <cb> was called. */
struct op {
	struct l2 *l;
	l2_get_cb cb;
	void *arg;
	ev_timer tm;
	double started;
	bool done;
};

struct l2_shared *l2_shared_new(const struct redis_config *rc)
{
	struct l2_shared *s;
	const char *why;

	if (!rc->address || !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->prefix = strdup(rc->key_prefix ? rc->key_prefix : REDIS_DEFAULT_PREFIX);
	s->password = rc->password ? strdup(rc->password) : NULL;
	s->db = rc->db;
	s->timeout = rc->timeout_ms / 1000.0;
	if (!s->prefix || (rc->password && !s->password) ||
	    redis_addr_parse(rc->address, &s->addr, &why)) {
		l2_shared_free(s);
		return NULL;
	}
	return s;
}

void l2_shared_free(struct l2_shared *s)
{
	if (!s)
		return;
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->prefix);
	free(s);
}

static void fail(struct l2 *l, unsigned kind)
{
	unsigned long before = l->br.opened;

	counter_inc(&l->s->errors[kind]);
	breaker_failure(&l->br, ev_now(l->loop));
	if (l->br.opened != before) {
		counter_inc(&l->s->breaker_opened);
		log_warn("redis: %s; skipping Redis for %.1fs", err_names[kind],
			 L2_BREAKER_COOLDOWN);
	}
}

/* Drops the connection (not from inside a hiredis callback): GETs in flight
 * are answered through their reply callbacks with a NULL reply. */
static void drop(struct l2 *l)
{
	redisAsyncContext *ac = l->ac;

	l->ac = NULL;
	if (ac) {
		ac->data = NULL;
		redisAsyncFree(ac);
	}
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct l2 *l = ac->data;

	if (l && status != REDIS_OK) {
		l->ac = NULL; /* hiredis frees it */
		fail(l, E_CONNECTION);
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct l2 *l = ac->data;

	if (!l)
		return;
	l->ac = NULL;
	if (status != REDIS_OK)
		fail(l, E_CONNECTION);
}

/* AUTH and SELECT: an error reply means every later command fails too. */
static void on_setup(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct l2 *l = ac->data;

	(void)priv;
	if (l && rep && rep->type == REDIS_REPLY_ERROR) {
		log_warn("redis: AUTH or SELECT refused");
		redisAsyncDisconnect(ac);
	}
}

static int connect_now(struct l2 *l)
{
	const struct redis_addr *a = &l->s->addr;
	redisAsyncContext *ac =
	    a->is_unix ? redisAsyncConnectUnix(a->path) : redisAsyncConnect(a->host, a->port);

	if (!ac)
		return -1;
	if (ac->err || redisLibevAttach(l->loop, ac) != REDIS_OK) {
		redisAsyncFree(ac);
		return -1;
	}
	ac->data = l;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	l->ac = ac;
	if (l->s->password)
		redisAsyncCommand(ac, on_setup, NULL, "AUTH %s", l->s->password);
	if (l->s->db)
		redisAsyncCommand(ac, on_setup, NULL, "SELECT %d", l->s->db);
	return 0;
}

struct l2 *l2_new(struct l2_shared *s, struct ev_loop *loop)
{
	struct l2 *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->s = s;
	l->loop = loop;
	breaker_init(&l->br, L2_BREAKER_FAILS, L2_BREAKER_COOLDOWN);
	return l;
}

void l2_free(struct l2 *l)
{
	if (!l)
		return;
	l->closing = true;
	drop(l);
	free(l);
}

static void observe(struct l2_shared *s, double secs)
{
	size_t k = 0;

	while (k < NBUCKETS && secs > lat_bounds[k])
		k++;
	counter_inc(&s->bucket[k]);
	counter_inc(&s->gets);
	counter_add_shared(&s->sum_us, secs > 0 ? (uint64_t)(secs * 1e6) : 0);
}

/* What a GET reply means. A value that does not decode is an error. */
static enum l2_result classify(struct l2 *l, const redisReply *rep, struct claims **c,
			       double *until)
{
	int64_t until_ms;

	*c = NULL;
	if (!rep)
		return fail(l, E_CONNECTION), L2_ERROR;
	if (rep->type == REDIS_REPLY_NIL) {
		breaker_success(&l->br);
		return L2_MISS;
	}
	if (rep->type != REDIS_REPLY_STRING)
		return fail(l, E_REPLY), L2_ERROR;
	if (l2v_decode((const uint8_t *)rep->str, (size_t)rep->len, c, &until_ms) < 0) {
		log_warn("redis: a cache value that does not decode (%zu bytes)", (size_t)rep->len);
		return fail(l, E_VALUE), L2_ERROR;
	}
	breaker_success(&l->br);
	*until = (double)until_ms / 1000.0;
	if (*until <= ev_now(l->loop)) {
		claims_unref(*c);
		*c = NULL;
		return L2_MISS;
	}
	return L2_HIT;
}

static void on_get(redisAsyncContext *ac, void *r, void *priv)
{
	struct op *op = priv;
	struct l2 *l = op->l;
	struct claims *c = NULL;
	enum l2_result res;
	double until = 0;

	(void)ac;
	l->inflight--;
	if (op->done) {
		free(op);
		return;
	}
	ev_timer_stop(l->loop, &op->tm);
	if (l->closing) {
		res = L2_SHUTDOWN;
	} else {
		observe(l->s, ev_time() - op->started);
		res = classify(l, r, &c, &until);
	}
	if (res == L2_HIT)
		counter_inc(&l->s->hits);
	else if (res == L2_MISS)
		counter_inc(&l->s->misses);
	op->cb(op->arg, res, c, until);
	free(op);
}

static void on_timeout(struct ev_loop *loop, ev_timer *tm, int revents)
{
	struct op *op = (struct op *)((char *)tm - offsetof(struct op, tm));
	struct l2 *l = op->l;
	unsigned long before = l->br.opened;

	(void)loop;
	(void)revents;
	op->done = true; /* the reply callback frees it */
	observe(l->s, l->s->timeout);
	fail(l, E_TIMEOUT);
	op->cb(op->arg, L2_ERROR, NULL, 0);
	/* Open now: a fresh connection for the probe, not a stalled one. */
	if (l->br.opened != before)
		drop(l);
}

int l2_get(struct l2 *l, const uint8_t key[TCACHE_KEY_LEN], l2_get_cb cb, void *arg)
{
	char hex[2 * TCACHE_KEY_LEN + 1];
	struct op *op;

	if (!breaker_allow(&l->br, ev_now(l->loop)) || l->inflight >= L2_MAX_INFLIGHT) {
		counter_inc(&l->s->skipped);
		return -1;
	}
	if (!l->ac && connect_now(l) < 0) {
		fail(l, E_CONNECTION);
		counter_inc(&l->s->skipped);
		return -1;
	}
	if (!(op = calloc(1, sizeof(*op)))) {
		counter_inc(&l->s->skipped);
		return -1;
	}
	for (unsigned i = 0; i < TCACHE_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	op->l = l;
	op->cb = cb;
	op->arg = arg;
	op->started = ev_time();
	if (redisAsyncCommand(l->ac, on_get, op, "GET %s%s", l->s->prefix, hex) != REDIS_OK) {
		free(op);
		fail(l, E_CONNECTION);
		counter_inc(&l->s->skipped);
		return -1;
	}
	l->inflight++;
	ev_timer_init(&op->tm, on_timeout, l->s->timeout, 0);
	ev_timer_start(l->loop, &op->tm);
	return 0;
}

static void on_set(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct l2_shared *s = priv;

	(void)ac;
	if (!rep || rep->type == REDIS_REPLY_ERROR)
		counter_inc(&s->write_errors);
	else
		counter_inc(&s->writes);
}

/* Adds key <hex> to the purge index set of <value>; the set lives as long as
 * its longest-lived member (NX sets a first expiry, GT only extends it). */
static void index_add(struct l2 *l, char kind, const char *value, const char *hex, long long ms)
{
	char idx[PURGE_INDEX_MAX];

	if (purge_index_name(l->s->prefix, kind, value, idx, sizeof(idx)))
		return;
	redisAsyncCommand(l->ac, NULL, NULL, "SADD %s %s%s", idx, l->s->prefix, hex);
	redisAsyncCommand(l->ac, NULL, NULL, "PEXPIRE %s %lld NX", idx, ms);
	redisAsyncCommand(l->ac, NULL, NULL, "PEXPIRE %s %lld GT", idx, ms);
}

void l2_set(struct l2 *l, const uint8_t key[TCACHE_KEY_LEN], const struct claims *c, double ttl,
	    double now)
{
	char hex[2 * TCACHE_KEY_LEN + 1];
	uint8_t val[L2V_MAX_LEN];
	long long ms = (long long)(ttl * 1000.0);
	ssize_t n;

	/* Writes never probe: only a closed breaker with a connection. */
	if (!l->ac || l->br.state != BREAKER_CLOSED || !(ttl >= 0.001))
		return;
	n = l2v_encode(c, (int64_t)((now + ttl) * 1000.0), val, sizeof(val));
	if (n < 0)
		return;
	for (unsigned i = 0; i < TCACHE_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	if (redisAsyncCommand(l->ac, on_set, l->s, "SET %s%s %b PX %lld", l->s->prefix, hex, val,
			      (size_t)n, ms) != REDIS_OK) {
		counter_inc(&l->s->write_errors);
		return;
	}
	if (c->active && c->sub)
		index_add(l, 's', c->sub, hex, ms);
	if (c->active && c->client_id)
		index_add(l, 'c', c->client_id, hex, ms);
}

static void line(struct prom_buf *b, const char *name, const char *labels, _Atomic uint64_t *v)
{
	prom_printf(b, "%s%s %llu\n", name, labels, (unsigned long long)counter_get(v));
}

void l2_shared_render(const struct l2_shared *cs, struct prom_buf *b)
{
	struct l2_shared *s = (struct l2_shared *)cs; /* counters only */
	uint64_t cum = 0;
	char lb[64];

	if (!s)
		return;
	prom_header(b, "oauth2_spoa_l2_lookups_total", "counter",
		    "Shared (Redis) cache lookups by result; skipped: breaker open or not "
		    "connectable.");
	line(b, "oauth2_spoa_l2_lookups_total", "{result=\"hit\"}", &s->hits);
	line(b, "oauth2_spoa_l2_lookups_total", "{result=\"miss\"}", &s->misses);
	line(b, "oauth2_spoa_l2_lookups_total", "{result=\"skipped\"}", &s->skipped);
	prom_header(b, "oauth2_spoa_l2_errors_total", "counter",
		    "Shared cache errors by kind (each one falls back to the IdP).");
	for (unsigned k = 0; k < E_COUNT; k++) {
		snprintf(lb, sizeof(lb), "{kind=\"%s\"}", err_names[k]);
		line(b, "oauth2_spoa_l2_errors_total", lb, &s->errors[k]);
	}
	prom_header(b, "oauth2_spoa_l2_writes_total", "counter", "Shared cache writes by outcome.");
	line(b, "oauth2_spoa_l2_writes_total", "{outcome=\"ok\"}", &s->writes);
	line(b, "oauth2_spoa_l2_writes_total", "{outcome=\"error\"}", &s->write_errors);
	prom_header(b, "oauth2_spoa_l2_breaker_opened_total", "counter",
		    "Times a worker's circuit breaker for Redis opened.");
	line(b, "oauth2_spoa_l2_breaker_opened_total", "", &s->breaker_opened);
	prom_header(b, "oauth2_spoa_l2_get_duration_seconds", "histogram",
		    "Shared cache GET latency (timeouts count as the timeout).");
	for (size_t k = 0; k < NBUCKETS; k++) {
		cum += counter_get(&s->bucket[k]);
		prom_printf(b, "oauth2_spoa_l2_get_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    lat_bounds[k], (unsigned long long)cum);
	}
	prom_printf(b, "oauth2_spoa_l2_get_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		    (unsigned long long)counter_get(&s->gets));
	prom_printf(b, "oauth2_spoa_l2_get_duration_seconds_sum %.6f\n",
		    (double)counter_get(&s->sum_us) / 1e6);
	line(b, "oauth2_spoa_l2_get_duration_seconds_count", "", &s->gets);
}

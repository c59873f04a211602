/* app.c - see app.h.
 *
 * The main thread owns the signals; each worker thread owns a loop, its
 * connections and its HTTP client. TCP listeners are opened once per worker
 * with SO_REUSEPORT, so the kernel spreads new connections; a unix socket is
 * shared by all workers, which race on accept().
 *
 * SIGHUP reloads on the main thread: the config file and every policy are
 * loaded again, and only when all of it is valid is a new snapshot published
 * (authz_shared_publish()); otherwise the running one keeps serving. The
 * settings used to start (listeners, threads...) stay those of a->boot. */
#include "app.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_http.h"
#include "authz.h"
#include "config.h"
#include "cpu_sched.h"
#include "fleet.h"
#include "http_client.h"
#include "jwks_registry.h"
#include "l2.h"
#include "listener.h"
#include "log.h"
#include "metrics_http.h"
#include "policy.h"
#include "spop_frame.h"
#include "stats.h"
#include "tcache.h"
#include "worker.h"

struct app {
	const struct options *o; /* re-applied over the file on every reload */
	struct config boot;	 /* what the agent was started with */
	struct stats *st;
	struct metrics_http_server *metrics;
	struct fleet *fleet;	  /* purges: the Redis subscriber, the executor */
	struct admin_http *admin; /* POST /purge, when admin: is set */
	double started;		  /* wall clock, for the metrics */
	struct authz_shared *shared;
	struct ev_loop *loop;	    /* the main thread's: signals, JWKS fetches */
	struct jwks_registry *jwks; /* remote JWKS URLs, fetched on <loop> */
	struct worker *workers[AGENT_MAX_THREADS];
	unsigned nworkers;
	int fds[AGENT_MAX_LISTENERS * AGENT_MAX_THREADS];
	size_t nfds;
	int per_worker[AGENT_MAX_THREADS][AGENT_MAX_LISTENERS];
};

static unsigned load_flags(const struct config *c)
{
	return c->allow_empty_policies ? 0 : POLICY_LOAD_REQUIRE_POLICIES;
}

static int load_policies(const struct config *c, struct policy_set **set, struct err *e)
{
	return policy_set_load_flags((const char *const *)c->policies, c->npolicies, load_flags(c),
				     set, e);
}

enum url_kind { URL_INTROSPECTION, URL_JWKS, URL_USERINFO };
#define MAX_POLICY_URLS 4

/* The URLs of <p> that tokens or keys travel over, into urls[0..return),
 * with their kinds: its introspection endpoint, its remoteJwks URL, its
 * signedResponse remoteJwks URL and its userinfo endpoint. */
static size_t policy_urls(const struct policy *p, const char *urls[MAX_POLICY_URLS],
			  enum url_kind kind[MAX_POLICY_URLS])
{
	const struct policy_introspection *pi = policy_introspection(p);
	const struct policy_jwt *pj = policy_jwt(p);
	size_t n = 0;

	if (pi) {
		urls[n] = pi->url;
		kind[n++] = URL_INTROSPECTION;
		if (pi->signed_response && pi->signed_response->keys.remote_url) {
			urls[n] = pi->signed_response->keys.remote_url;
			kind[n++] = URL_JWKS;
		}
	}
	if (pj && pj->remote_url) {
		urls[n] = pj->remote_url;
		kind[n++] = URL_JWKS;
	}
	if (policy_userinfo_url(p)) {
		urls[n] = policy_userinfo_url(p);
		kind[n++] = URL_USERINFO;
	}
	return n;
}

/* Whether <url> is among the URLs of the policies before index <i>. */
static bool url_seen(const struct policy_set *set, size_t i, const char *url)
{
	const char *u[MAX_POLICY_URLS];
	enum url_kind j[MAX_POLICY_URLS];

	for (size_t k = 0; k < i; k++)
		for (size_t m = policy_urls(policy_set_get(set, k), u, j); m-- > 0;)
			if (strcmp(u[m], url) == 0)
				return true;
	return false;
}

/* Warns (through <warn>) once per plain-http introspection, userinfo or
 * JWKS URL to a host that is not loopback: the agent's client secret and
 * every token would cross the network in clear, or anyone on the path could
 * substitute the signing keys. Returns the number of such URLs. */
static unsigned warn_cleartext(const struct policy_set *set,
			       void (*warn)(const char *url, enum url_kind kind))
{
	unsigned n = 0;

	for (size_t i = 0; i < policy_set_count(set); i++) {
		const char *u[MAX_POLICY_URLS];
		enum url_kind j[MAX_POLICY_URLS];
		size_t m = policy_urls(policy_set_get(set, i), u, j);

		for (size_t k = 0; k < m; k++) {
			bool dup = false;

			for (size_t q = 0; q < k && !dup; q++)
				dup = strcmp(u[q], u[k]) == 0;
			if (dup || !policy_url_is_cleartext(u[k]) || url_seen(set, i, u[k]))
				continue;
			warn(u[k], j[k]);
			n++;
		}
	}
	return n;
}

#define CLEARTEXT_WARNING                                                                          \
	"introspection URL %s is plain http to a host that is not loopback: the client "           \
	"secret and every token cross the network in clear (use https://)"
#define CLEARTEXT_JWKS_WARNING                                                                     \
	"JWKS URL %s is plain http to a host that is not loopback: anyone on the path can "        \
	"substitute the signing keys (use https://)"
#define CLEARTEXT_USERINFO_WARNING                                                                 \
	"userinfo URL %s is plain http to a host that is not loopback: every token and the "       \
	"user's claims cross the network in clear (use https://)"

static void warn_stderr(const char *url, enum url_kind kind)
{
	if (kind == URL_JWKS)
		fprintf(stderr, "warning: " CLEARTEXT_JWKS_WARNING "\n", url);
	else if (kind == URL_USERINFO)
		fprintf(stderr, "warning: " CLEARTEXT_USERINFO_WARNING "\n", url);
	else
		fprintf(stderr, "warning: " CLEARTEXT_WARNING "\n", url);
}

static void warn_log(const char *url, enum url_kind kind)
{
	if (kind == URL_JWKS)
		log_warn(CLEARTEXT_JWKS_WARNING, url);
	else if (kind == URL_USERINFO)
		log_warn(CLEARTEXT_USERINFO_WARNING, url);
	else
		log_warn(CLEARTEXT_WARNING, url);
}

/* --check: every policy path on its own, so that each bad file is reported
 * (a path stops at its first problem). Returns the number of problems;
 * warnings go to stderr and are not problems. */
static unsigned check_all(const struct config *c, size_t *npol)
{
	unsigned bad = 0;

	*npol = 0;
	for (size_t i = 0; i < c->npolicies; i++) {
		const char *one[1] = {c->policies[i]};
		struct policy_set *set = NULL;
		struct err e = {0};
		char msg[800];

		if (policy_set_load_flags(one, 1, load_flags(c), &set, &e) < 0) {
			err_format(&e, msg, sizeof(msg));
			fprintf(stderr, "%s\n", msg);
			bad++;
			continue;
		}
		*npol += policy_set_count(set);
		policy_set_free(set);
	}
	if (!bad) { /* names must also be unique across paths */
		struct policy_set *set = NULL;
		struct err e = {0};
		char msg[800];

		/* the first pass printed the debug lines of every file already */
		if (log_get_level() > LOG_LVL_INFO)
			log_set_level(LOG_LVL_INFO);

		if (load_policies(c, &set, &e) < 0) {
			err_format(&e, msg, sizeof(msg));
			fprintf(stderr, "%s\n", msg);
			bad++;
		} else {
			warn_cleartext(set, warn_stderr);
		}
		policy_set_free(set);
	}
	return bad;
}

static void apply_log_settings(const struct config *c)
{
	log_set_level((enum log_level)c->log_level);
	log_set_format(c->log_format == CONFIG_LOG_JSON ? LOG_FMT_JSON : LOG_FMT_LOGFMT);
}

/* The purge machinery, only with redis: or admin:. Returns 0 or -1 (logged). */
static int start_fleet(struct app *a)
{
	struct err e = {0};

	if (!a->boot.redis.address && !a->boot.admin.address)
		return 0;
	if (!(a->fleet = fleet_start(a->shared, &a->boot, &e))) {
		log_error("purge subscriber: %s", e.msg);
		return -1;
	}
	if (a->boot.admin.address) {
		if (!(a->admin = admin_http_start(&a->boot.admin, a->fleet, &e))) {
			log_error("admin listener %s: %s", a->boot.admin.address, e.msg);
			return -1;
		}
		log_info("admin listener on %s", a->boot.admin.address);
	}
	return 0;
}

/* The metrics thread's view: everything read here is atomic or immutable
 * while the server runs (workers outlive it). */
static void render_cache(struct tcache *tc, struct prom_buf *b)
{
	struct tcache_stats ts;

	tcache_stats(tc, &ts);
	prom_scalar(b, "oauth2_spoa_cache_hits_total", "counter",
		    "Token cache hits, negative ones included.", ts.hits);
	prom_scalar(b, "oauth2_spoa_cache_negative_hits_total", "counter",
		    "Token cache hits on an inactive-token result.", ts.negative_hits);
	prom_scalar(b, "oauth2_spoa_cache_misses_total", "counter",
		    "Token cache misses (expired entries included).", ts.misses);
	prom_scalar(b, "oauth2_spoa_cache_evictions_total", "counter",
		    "Entries evicted to make room.", ts.evictions);
	prom_scalar(b, "oauth2_spoa_cache_entries", "gauge",
		    "Entries held, pending fetches included.", ts.entries);
	prom_scalar(b, "oauth2_spoa_cache_capacity", "gauge", "Most entries the cache holds.",
		    ts.capacity);
}

/* The SPOP counters, summed over the workers. */
static void render_spop(const struct app *a, struct prom_buf *b)
{
	struct worker_conn_stats sum = {0};

	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker_conn_stats ws;

		worker_conn_stats(a->workers[i], &ws);
		sum.opened += ws.opened;
		sum.closed += ws.closed;
		sum.frames_in += ws.frames_in;
		sum.frames_out += ws.frames_out;
		sum.notifies += ws.notifies;
		sum.claim_vars_omitted += ws.claim_vars_omitted;
		for (unsigned k = 0; k < WORKER_STATUS_SLOTS; k++)
			sum.disconnects[k] += ws.disconnects[k];
	}
	prom_scalar(b, "oauth2_spoa_spop_connections_total", "counter",
		    "SPOP connections accepted from HAProxy.", sum.opened);
	prom_scalar(b, "oauth2_spoa_spop_connections", "gauge", "SPOP connections open.",
		    sum.opened >= sum.closed ? sum.opened - sum.closed : 0);
	prom_header(b, "oauth2_spoa_spop_frames_total", "counter", "SPOP frames by direction.");
	prom_printf(b, "oauth2_spoa_spop_frames_total{direction=\"in\"} %llu\n",
		    (unsigned long long)sum.frames_in);
	prom_printf(b, "oauth2_spoa_spop_frames_total{direction=\"out\"} %llu\n",
		    (unsigned long long)sum.frames_out);
	prom_scalar(b, "oauth2_spoa_spop_notify_total", "counter", "NOTIFY frames handled.",
		    sum.notifies);
	prom_scalar(b, "oauth2_spoa_claim_vars_omitted_total", "counter",
		    "Mapped claim variables left out of an ACK that had no room for them.",
		    sum.claim_vars_omitted);
	prom_header(b, "oauth2_spoa_spop_disconnects_total", "counter",
		    "AGENT-DISCONNECT frames sent, by SPOP status code (\"other\" above 14).");
	for (unsigned k = 0; k < WORKER_STATUS_SLOTS; k++) {
		if (!sum.disconnects[k] && k != 0)
			continue;
		if (k == WORKER_STATUS_SLOTS - 1)
			prom_printf(b,
				    "oauth2_spoa_spop_disconnects_total{status=\"other\"} %llu\n",
				    (unsigned long long)sum.disconnects[k]);
		else
			prom_printf(b, "oauth2_spoa_spop_disconnects_total{status=\"%u\"} %llu\n",
				    k, (unsigned long long)sum.disconnects[k]);
	}
}

static void render_metrics(void *arg, struct prom_buf *b)
{
	struct app *a = arg;
	struct tcache *tc = authz_shared_cache(a->shared);

	prom_header(b, "oauth2_spoa_build_info", "gauge", "Version of the running agent.");
	prom_printf(b, "oauth2_spoa_build_info{version=\"%s\"} 1\n", OAUTH2_SPOA_VERSION);
	prom_header(b, "oauth2_spoa_start_time_seconds", "gauge", "Start time, Unix seconds.");
	prom_printf(b, "oauth2_spoa_start_time_seconds %.0f\n", a->started);
	stats_render(a->st, b);
	prom_scalar(b, "oauth2_spoa_log_lines_dropped_total", "counter",
		    "Log lines dropped because the log sink did not keep up.", log_lines_dropped());
	l2_shared_render(authz_shared_l2(a->shared), b);
	jwks_registry_render(a->jwks, b);
	if (tc)
		render_cache(tc, b);
	render_spop(a, b);
}

static void on_reload_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct app *a = s->data;
	struct config nc;
	struct policy_set *set = NULL;
	struct err e = {0};
	char msg[800], diff[256];

	(void)loop;
	(void)revents;
	log_info("SIGHUP: reloading %s", a->boot.file ? a->boot.file : "the policies");
	if (config_load(a->o, &nc, &e) < 0) {
		err_format(&e, msg, sizeof(msg));
		log_error("reload rejected, the running configuration keeps serving: %s", msg);
		stats_reload(a->st, false);
		return;
	}
	if (load_policies(&nc, &set, &e) < 0) {
		err_format(&e, msg, sizeof(msg));
		log_error("reload rejected, the running configuration keeps serving: %s", msg);
		stats_reload(a->st, false);
		config_free(&nc);
		return;
	}
	warn_cleartext(set, warn_log);
	if (jwks_registry_bind(a->jwks, set) < 0) {
		log_error("reload rejected: out of memory");
		stats_reload(a->st, false);
		policy_set_free(set);
		config_free(&nc);
		return;
	}
	config_restart_diff(&a->boot, &nc, diff, sizeof(diff));
	if (diff[0])
		log_warn("reload: %s changed; needs restart (the running value is kept)", diff);
	{
		size_t n = policy_set_count(set);

		if (authz_shared_publish(a->shared, &nc, set) < 0) {
			log_error("reload rejected: out of memory");
			stats_reload(a->st, false);
			config_free(&nc);
			return;
		}
		jwks_registry_commit(a->jwks);
		apply_log_settings(&nc);
		log_info("reloaded: %zu policies, defaultDecision %s, log level %d, format %s", n,
			 nc.default_deny ? "deny" : "allow", nc.log_level,
			 config_log_format_name(nc.log_format));
	}
	stats_reload(a->st, true);
	config_free(&nc);
}

static int open_listeners(struct app *a)
{
	const struct config *o = &a->boot;

	for (size_t l = 0; l < o->nlisten; l++) {
		struct err e = {0};
		bool is_unix = listener_is_unix(o->listen[l]);

		for (unsigned w = 0; w < a->nworkers; w++) {
			int fd;

			if (is_unix && w > 0) {
				a->per_worker[w][l] = a->per_worker[0][l];
				continue;
			}
			fd = listener_open(o->listen[l], true, w == 0, o->unix_mode, &e);
			if (fd < 0) {
				log_error("%s", e.msg);
				return -1;
			}
			a->fds[a->nfds++] = fd;
			a->per_worker[w][l] = fd;
		}
		log_info("listening on %s", o->listen[l]);
	}
	return 0;
}

static void close_listeners(struct app *a)
{
	for (size_t i = 0; i < a->nfds; i++)
		close(a->fds[i]);
	for (size_t l = 0; l < a->boot.nlisten; l++)
		if (listener_is_unix(a->boot.listen[l]))
			unlink(a->boot.listen[l] + 5);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct app *a = s->data;

	(void)revents;
	log_info("signal %d: stopping (finishing pending answers, at most %.0f s)", s->signum,
		 AGENT_SHUTDOWN_GRACE_S);
	for (unsigned i = 0; i < a->nworkers; i++)
		worker_stop(a->workers[i]);
	ev_break(loop, EVBREAK_ALL);
}

static int serve(struct app *a)
{
	struct ev_loop *loop = a->loop;
	struct worker_config wc = {
	    .max_frame_size = a->boot.max_frame_size,
	    .caps = SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION,
	    .message = a->boot.message,
	    .vars = a->boot.vars,
	    .authz_new = authz_setup_worker,
	    .authz_free = authz_free,
	    .authz_arg = a->shared,
	};
	ev_signal sterm, sint, shup;
	unsigned started = 0;
	int rc = 0;

	for (unsigned i = 0; i < a->nworkers; i++) {
		a->workers[i] = worker_new((int)i, &wc, a->per_worker[i], a->boot.nlisten);
		if (!a->workers[i]) {
			log_error("cannot create worker %u", i);
			rc = 1;
			goto out;
		}
	}
	ev_signal_init(&sterm, on_stop_signal, SIGTERM);
	ev_signal_init(&sint, on_stop_signal, SIGINT);
	ev_signal_init(&shup, on_reload_signal, SIGHUP);
	sterm.data = sint.data = shup.data = a;
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &shup);
	/* Before the workers: the admin socket is bound under a tightened umask. */
	if (start_fleet(a) < 0)
		rc = 2;
	for (; rc == 0 && started < a->nworkers; started++) {
		if (worker_start(a->workers[started]) < 0) {
			log_error("cannot start worker %u: %s", started, strerror(errno));
			rc = 1;
			break;
		}
	}
	if (rc == 0 && a->boot.metrics) {
		struct err e = {0};

		a->metrics = metrics_http_start(a->boot.metrics, render_metrics, a, &e);
		if (!a->metrics) {
			log_error("metrics listener %s: %s", a->boot.metrics, e.msg);
			rc = 2;
			for (unsigned i = 0; i < started; i++)
				worker_stop(a->workers[i]);
		} else {
			log_info("metrics on http://%s/metrics", a->boot.metrics);
		}
	}
	if (rc == 0) {
		log_info("oauth2-spoa %s ready: %u worker threads, message \"%s\", cpu "
			 "scheduling %s",
			 OAUTH2_SPOA_VERSION, a->nworkers, a->boot.message,
			 cpu_sched_name((enum cpu_sched)a->boot.cpu_sched));
		ev_run(loop, 0);
	} else {
		for (unsigned i = 0; i < started; i++)
			worker_stop(a->workers[i]);
	}
	for (unsigned i = 0; i < started; i++)
		worker_join(a->workers[i]);
	metrics_http_stop(a->metrics);
	a->metrics = NULL;
	admin_http_stop(a->admin);
	a->admin = NULL;
	fleet_stop(a->fleet);
	a->fleet = NULL;
	ev_signal_stop(loop, &sterm);
	ev_signal_stop(loop, &sint);
	ev_signal_stop(loop, &shup);
out:
	for (unsigned i = 0; i < a->nworkers; i++)
		worker_free(a->workers[i]);
	return rc;
}

/* --check: loads and checks everything, serves nothing; frees <boot>. */
static int run_check(struct config *boot)
{
	size_t npol;
	unsigned bad;

	apply_log_settings(boot); /* --log-level debug names what is ignored */
	bad = check_all(boot, &npol);
	if (!bad)
		printf("ok: %s%s%zu policies from %zu paths\n", boot->file ? boot->file : "",
		       boot->file ? ": " : "", npol, boot->npolicies);
	config_free(boot);
	return bad ? 2 : 0;
}

/* The log sink and the scheduling class, before any thread starts: they
 * inherit both. */
static void apply_process_settings(const struct config *boot)
{
	apply_log_settings(boot);
	if (boot->log_target == CONFIG_LOG_SYSLOG && log_use_syslog() < 0)
		log_error("syslog: cannot send to /dev/log (%s); logging to stderr",
			  strerror(errno));
	if (cpu_sched_apply((enum cpu_sched)boot->cpu_sched) < 0)
		log_warn("cpuScheduling %s: %s; the default class stays",
			 cpu_sched_name((enum cpu_sched)boot->cpu_sched), strerror(errno));
}

int app_run(const struct options *o)
{
	struct app a = {.o = o};
	struct policy_set *set = NULL;
	struct err e = {0};
	char msg[800];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (config_load(o, &a.boot, &e) < 0) {
		err_format(&e, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		return 2;
	}
	if (o->check)
		return run_check(&a.boot);
	apply_process_settings(&a.boot);
	a.nworkers = a.boot.threads;
	a.started = (double)time(NULL);
	if (load_policies(&a.boot, &set, &e) < 0) {
		err_format(&e, msg, sizeof(msg));
		log_error("%s", msg);
		config_free(&a.boot);
		return 2;
	}
	log_info("%zu policies loaded", policy_set_count(set));
	warn_cleartext(set, warn_log);
	if (http_client_global_init() < 0) {
		log_error("cannot initialise libcurl");
		policy_set_free(set);
		config_free(&a.boot);
		return 1;
	}
	a.loop = ev_default_loop(EVFLAG_AUTO);
	a.jwks =
	    a.loop ? jwks_registry_new(a.loop, a.boot.introspect_timeout_ms, a.boot.ca_file) : NULL;
	a.st = a.jwks && jwks_registry_bind(a.jwks, set) == 0 ? stats_new() : NULL;
	a.shared = a.st ? authz_shared_new(&a.boot, set, a.st) : NULL;
	if (!a.shared) {
		if (!a.st)
			policy_set_free(set);
		log_error("out of memory");
		stats_free(a.st);
		jwks_registry_free(a.jwks);
		if (a.loop)
			ev_loop_destroy(a.loop);
		http_client_global_cleanup();
		config_free(&a.boot);
		return 1;
	}
	jwks_registry_commit(a.jwks);
	if (open_listeners(&a) < 0) {
		rc = 2;
	} else {
		rc = serve(&a);
		log_info("stopped");
	}
	close_listeners(&a);
	jwks_registry_free(a.jwks); /* its fetchers, on the loop: before it goes */
	ev_loop_destroy(a.loop);
	authz_shared_free(a.shared);
	stats_free(a.st);
	http_client_global_cleanup();
	config_free(&a.boot);
	return rc;
}

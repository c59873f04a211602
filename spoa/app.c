/* app.c - see app.h.
 *
 * The main thread owns the signals; each worker thread owns a loop, its
 * connections and its HTTP client. TCP listeners are opened once per worker
 * with SO_REUSEPORT, so the kernel spreads new connections; a unix socket is
 * shared by all workers, which race on accept(). */
#include "app.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"
#include "http_client.h"
#include "listener.h"
#include "log.h"
#include "policy.h"
#include "spop_frame.h"
#include "worker.h"

struct app {
	const struct options *o;
	struct authz_shared *shared;
	struct worker *workers[AGENT_MAX_THREADS];
	unsigned nworkers;
	int fds[AGENT_MAX_LISTENERS * AGENT_MAX_THREADS];
	size_t nfds;
	int per_worker[AGENT_MAX_THREADS][AGENT_MAX_LISTENERS];
};

static int load_policies(const struct options *o, struct policy_set **set)
{
	struct err e = {0};
	char msg[600];

	if (policy_set_load(o->policies, o->npolicies, set, &e) < 0) {
		err_format(&e, msg, sizeof(msg));
		log_error("%s", msg);
		return -1;
	}
	return 0;
}

static int open_listeners(struct app *a)
{
	const struct options *o = a->o;

	for (size_t l = 0; l < o->nlisten; l++) {
		struct err e = {0};
		bool is_unix = listener_is_unix(o->listen[l]);

		for (unsigned w = 0; w < a->nworkers; w++) {
			int fd;

			if (is_unix && w > 0) {
				a->per_worker[w][l] = a->per_worker[0][l];
				continue;
			}
			fd = listener_open(o->listen[l], true, w == 0, &e);
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
	for (size_t l = 0; l < a->o->nlisten; l++)
		if (listener_is_unix(a->o->listen[l]))
			unlink(a->o->listen[l] + 5);
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
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct worker_config wc = {
		.max_frame_size = a->o->max_frame_size,
		.caps = SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION,
		.message = a->o->message,
		.authz_new = authz_setup_worker,
		.authz_free = authz_free,
		.authz_arg = a->shared,
	};
	ev_signal sterm, sint;
	unsigned started = 0;
	int rc = 0;

	for (unsigned i = 0; i < a->nworkers; i++) {
		a->workers[i] = worker_new((int)i, &wc, a->per_worker[i], a->o->nlisten);
		if (!a->workers[i]) {
			log_error("cannot create worker %u", i);
			rc = 1;
			goto out;
		}
	}
	ev_signal_init(&sterm, on_stop_signal, SIGTERM);
	ev_signal_init(&sint, on_stop_signal, SIGINT);
	sterm.data = sint.data = a;
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	for (; started < a->nworkers; started++) {
		if (worker_start(a->workers[started]) < 0) {
			log_error("cannot start worker %u: %s", started, strerror(errno));
			rc = 1;
			break;
		}
	}
	if (rc == 0) {
		log_info("oauth2-spoa %s ready: %u worker threads, message \"%s\"",
			 OAUTH2_SPOA_VERSION, a->nworkers, a->o->message);
		ev_run(loop, 0);
	} else {
		for (unsigned i = 0; i < started; i++)
			worker_stop(a->workers[i]);
	}
	for (unsigned i = 0; i < started; i++)
		worker_join(a->workers[i]);
	ev_signal_stop(loop, &sterm);
	ev_signal_stop(loop, &sint);
out:
	for (unsigned i = 0; i < a->nworkers; i++)
		worker_free(a->workers[i]);
	ev_loop_destroy(loop);
	return rc;
}

int app_run(const struct options *o)
{
	struct app a = {.o = o, .nworkers = o->threads};
	struct policy_set *set = NULL;
	int rc;

	log_set_level((enum log_level)o->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (load_policies(o, &set) < 0)
		return 2;
	if (o->check) {
		printf("ok: %zu policies loaded\n", policy_set_count(set));
		policy_set_free(set);
		return 0;
	}
	log_info("%zu policies loaded", policy_set_count(set));
	if (hc_global_init() < 0) {
		log_error("cannot initialise libcurl");
		policy_set_free(set);
		return 1;
	}
	a.shared = authz_shared_new(o, set);
	if (!a.shared) {
		log_error("out of memory");
		hc_global_cleanup();
		return 1;
	}
	if (open_listeners(&a) < 0) {
		rc = 2;
	} else {
		rc = serve(&a);
		log_info("stopped");
	}
	close_listeners(&a);
	authz_shared_free(a.shared);
	hc_global_cleanup();
	return rc;
}

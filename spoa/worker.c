/* worker.c - see worker.h.
 *
 * Connection ids are (generation << 32 | slot): a late answer for a closed
 * connection finds a different generation in the slot and is dropped. */
#include "worker.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "counter.h"
#include "limits.h"
#include "log.h"
#include "mailbox.h"
#include "spop_frame.h"

struct listen_watch {
	ev_io io;
	struct worker *w;
};

struct worker {
	int index;
	struct worker_config cfg;
	struct ev_loop *loop;
	pthread_t thread;
	bool started;
	struct conn_env env;
	struct authz *authz;
	struct listen_watch *lw;
	size_t nlw;
	ev_timer accept_backoff;
	ev_prepare flush;
	ev_timer log_flush; /* writes the log batch later: LOG_BATCH_DELAY_S, or a retry */
	double log_written; /* ev_now() of the last write of the log batch */
	struct mailbox *mb; /* results fetched by other workers, and the stop request */
	ev_timer grace;
	atomic_bool stop_requested;
	bool stopping;
	bool starved; /* out of descriptors: logged once per episode */
	/* connection table */
	struct conn **slots;
	uint32_t *gens;
	uint32_t *free_slots;
	uint32_t nfree, nconns;
};

int worker_index(const struct worker *w)
{
	return w->index;
}

_Static_assert(WORKER_STATUS_SLOTS == SPOP_CONN_STATUS_SLOTS, "status slot counts differ");

void worker_conn_stats(struct worker *w, struct worker_conn_stats *out)
{
	struct conn_env *e = &w->env;

	out->opened = counter_get(&e->conns_opened);
	out->closed = counter_get(&e->conns_closed);
	out->frames_in = counter_get(&e->spop.frames_in);
	out->frames_out = counter_get(&e->spop.frames_out);
	out->notifies = counter_get(&e->spop.notifies);
	out->claim_vars_omitted = counter_get(&e->spop.claim_vars_omitted);
	for (unsigned i = 0; i < WORKER_STATUS_SLOTS; i++)
		out->disconnects[i] = counter_get(&e->spop.disconnects_by_status[i]);
}

static struct conn *lookup(struct worker *w, uint64_t id)
{
	uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);

	if (slot >= WORKER_MAX_CONNS || w->gens[slot] != gen)
		return NULL;
	return w->slots[slot];
}

static void on_conn_close(void *arg, struct conn *c)
{
	struct worker *w = arg;
	uint32_t slot = (uint32_t)conn_id(c);

	w->slots[slot] = NULL;
	w->gens[slot]++;
	w->free_slots[w->nfree++] = slot;
	w->nconns--;
	counter_inc(&w->env.conns_closed);
	if (w->stopping && w->nconns == 0)
		ev_break(w->loop, EVBREAK_ALL);
}

static void on_verdict(void *arg, const struct authz_ticket *t, struct verdict *v)
{
	struct worker *w = arg;
	struct conn *c = lookup(w, t->conn_id);

	if (c)
		conn_deliver(c, t->stream_id, t->frame_id, v);
	else
		verdict_release(v); /* the connection is gone: drop the answer */
}

static void set_listeners(struct worker *w, bool on)
{
	for (size_t i = 0; i < w->nlw; i++) {
		if (on)
			ev_io_start(w->loop, &w->lw[i].io);
		else
			ev_io_stop(w->loop, &w->lw[i].io);
	}
}

static void backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, accept_backoff));

	(void)loop;
	(void)revents;
	if (!w->stopping)
		set_listeners(w, true);
}

static void accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct listen_watch *lw = (struct listen_watch *)io;
	struct worker *w = lw->w;

	(void)revents;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		uint32_t slot;
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: pause instead of spinning on a
				 * listener that stays readable. */
				if (!w->starved)
					log_warn(
					    "accept: %s; pausing accepts for %.0f ms at a time",
					    strerror(errno), ACCEPT_BACKOFF_S * 1000);
				w->starved = true;
				set_listeners(w, false);
				ev_timer_set(&w->accept_backoff, ACCEPT_BACKOFF_S, 0.);
				ev_timer_start(loop, &w->accept_backoff);
			}
			return;
		}
		if (w->starved) {
			log_info("accept: descriptors available again");
			w->starved = false;
		}
		if (w->nfree == 0) {
			log_warn("worker %d: %u connections, refusing more", w->index,
				 WORKER_MAX_CONNS);
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		slot = w->free_slots[--w->nfree];
		c = conn_new(&w->env, fd, (uint64_t)w->gens[slot] << 32 | slot);
		if (!c) {
			w->free_slots[w->nfree++] = slot;
			continue;
		}
		w->slots[slot] = c;
		w->nconns++;
		counter_inc(&w->env.conns_opened);
	}
}

/* Writes the log batch now; what the sink refused is retried after
 * WORKER_LOG_RETRY_S (or sooner, by flush_cb). */
static void log_write(struct worker *w)
{
	w->log_written = ev_now(w->loop);
	ev_timer_stop(w->loop, &w->log_flush);
	if (log_batch_flush()) {
		ev_timer_set(&w->log_flush, WORKER_LOG_RETRY_S, 0.);
		ev_timer_start(w->loop, &w->log_flush);
	}
}

static void flush_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct worker *w = (struct worker *)((char *)p - offsetof(struct worker, flush));
	size_t n = log_batch_pending();
	double due = w->log_written + LOG_BATCH_DELAY_S - ev_now(loop);

	(void)revents;
	/* The loop is about to wait. The log batch goes now when it is big (a
	 * refused one is retried here while that much waits), or when the last
	 * write is LOG_BATCH_DELAY_S old (the first line after a quiet spell:
	 * out before its answer); else it waits for company, as a write(2) per
	 * iteration cost more than formatting what it carried. */
	if (n >= LOG_BATCH_FLUSH || (n && due <= 0)) {
		log_write(w);
	} else if (n && !ev_is_active(&w->log_flush)) {
		ev_timer_set(&w->log_flush, due, 0.);
		ev_timer_start(loop, &w->log_flush);
	}
	conn_flush_dirty(&w->env);
}

static void log_flush_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	log_write((struct worker *)((char *)t - offsetof(struct worker, log_flush)));
}

static void grace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, grace));

	(void)revents;
	log_warn("worker %d: %u connections still busy after %.0f s, closing them", w->index,
		 w->nconns, AGENT_SHUTDOWN_GRACE_S);
	for (uint32_t i = 0; i < WORKER_MAX_CONNS && w->nconns; i++)
		if (w->slots[i])
			conn_abort(w->slots[i], SPOP_ST_NORMAL);
	ev_break(loop, EVBREAK_ALL);
}

static void begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->env.spop.draining = true;
	set_listeners(w, false);
	ev_timer_stop(w->loop, &w->accept_backoff);
	for (uint32_t i = 0; i < WORKER_MAX_CONNS && w->nconns; i++)
		if (w->slots[i])
			conn_drain(w->slots[i]);
	conn_flush_dirty(&w->env);
	if (w->nconns == 0) {
		ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	ev_timer_set(&w->grace, AGENT_SHUTDOWN_GRACE_S, 0.);
	ev_timer_start(w->loop, &w->grace);
}

/* After each batch from the mailbox: a stop request waits for the answers
 * that arrived with it. */
static void on_wake(void *arg)
{
	struct worker *w = arg;

	if (atomic_load(&w->stop_requested))
		begin_stop(w);
}

struct worker *worker_new(int index, const struct worker_config *cfg, const int *fds, size_t nfds)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->index = index;
	w->cfg = *cfg;
	w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	w->slots = calloc(WORKER_MAX_CONNS, sizeof(*w->slots));
	w->gens = calloc(WORKER_MAX_CONNS, sizeof(*w->gens));
	w->free_slots = calloc(WORKER_MAX_CONNS, sizeof(*w->free_slots));
	w->lw = calloc(nfds ? nfds : 1, sizeof(*w->lw));
	if (!w->loop || !w->slots || !w->gens || !w->free_slots || !w->lw) {
		worker_free(w);
		return NULL;
	}
	for (uint32_t i = 0; i < WORKER_MAX_CONNS; i++)
		w->free_slots[i] = WORKER_MAX_CONNS - 1 - i;
	w->nfree = WORKER_MAX_CONNS;
	w->nlw = nfds;
	for (size_t i = 0; i < nfds; i++) {
		ev_io_init(&w->lw[i].io, accept_cb, fds[i], EV_READ);
		w->lw[i].w = w;
	}
	conn_env_init(&w->env, w->loop);
	w->env.spop.max_frame_size = cfg->max_frame_size;
	w->env.spop.caps = cfg->caps;
	w->env.spop.message = slice_str(cfg->message);
	w->env.spop.vars = cfg->vars;
	w->env.on_close = on_conn_close;
	w->env.arg = w;
	ev_timer_init(&w->accept_backoff, backoff_cb, ACCEPT_BACKOFF_S, 0.);
	ev_timer_init(&w->grace, grace_cb, AGENT_SHUTDOWN_GRACE_S, 0.);
	ev_prepare_init(&w->flush, flush_cb);
	ev_timer_init(&w->log_flush, log_flush_cb, LOG_BATCH_DELAY_S, 0.);
	w->mb = mailbox_new(w->loop, on_wake, w);
	if (!w->mb) {
		worker_free(w);
		return NULL;
	}
	return w;
}

static double loop_now(void *loop)
{
	return ev_now((struct ev_loop *)loop);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* Without a batch (out of memory) each line is written at once. */
	(void)log_batch_begin();
	log_batch_clock(loop_now, w->loop);
	w->authz = w->cfg.authz_new(w->cfg.authz_arg, w->mb, w->loop, on_verdict, w);
	if (!w->authz) {
		log_error("worker %d: cannot set up the decision module", w->index);
		log_batch_end();
		return NULL;
	}
	w->env.authz = w->authz;
	ev_prepare_start(w->loop, &w->flush);
	mailbox_start(w->mb);
	/* Keep the loop alive only through real work, not these helpers. */
	ev_unref(w->loop);
	ev_unref(w->loop);
	set_listeners(w, true);
	ev_run(w->loop, 0);
	log_batch_clock(NULL, NULL); /* the loop's clock stops with it */
	/* Drop whatever is left (grace expired): answers for them are lost. */
	for (uint32_t i = 0; i < WORKER_MAX_CONNS && w->nconns; i++)
		if (w->slots[i])
			conn_abort(w->slots[i], SPOP_ST_NORMAL);
	ev_ref(w->loop);
	ev_ref(w->loop);
	ev_prepare_stop(w->loop, &w->flush);
	mailbox_stop(w->mb);
	ev_timer_stop(w->loop, &w->grace);
	ev_timer_stop(w->loop, &w->log_flush);
	w->cfg.authz_free(w->authz);
	w->authz = NULL;
	/* A clean stop loses no line: wait (bounded) for the sink to take them. */
	log_batch_end();
	return NULL;
}

int worker_start(struct worker *w)
{
	sigset_t all, old;
	int rc;

	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errno = rc;
		return -1;
	}
	w->started = true;
	return 0;
}

void worker_stop(struct worker *w)
{
	atomic_store(&w->stop_requested, true);
	mailbox_wake(w->mb);
}

void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->loop)
		ev_loop_destroy(w->loop);
	/* Late answers posted by other workers during shutdown: each message
	 * finds no connection and only releases what it carries. */
	mailbox_free(w->mb);
	free(w->slots);
	free(w->gens);
	free(w->free_slots);
	free(w->lw);
	free(w);
}

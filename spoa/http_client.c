/* http_client.c - the HTTP client's transport: libcurl multi_socket driven
 * by libev, the per-origin in-flight bound, and completion. What goes on the
 * wire and what comes back is http_request.c's.
 *
 * The glue follows the structure of curl's docs/examples/evhiperfifo.c, minus
 * its demo shortcuts (see style.md 4i):
 *  - curl's socket callback adds, changes or removes one ev_io per socket; the
 *    ev_io lives in a struct http_client_sock attached with curl_multi_assign();
 *  - curl's timer callback ONLY re-arms one ev_timer (timeout_ms / 1000.0). It
 *    never calls back into libcurl: that would re-enter curl_multi_*
 *    (CURLMOPT_TIMERFUNCTION.md), so the work happens when the ev_timer fires;
 *  - both libev callbacks call curl_multi_socket_action() and then drain
 *    curl_multi_info_read(). Finished requests are first unlinked into a local
 *    list and only then handed to user callbacks, so a user callback never runs
 *    while curl's message queue is being walked, and may call http_client_post().
 *
 * A request owns one easy handle for its whole life; for a followed 307/308
 * the same handle is re-added with the new URL, so the body, headers and
 * options are set once. Connections are shared through the multi handle's
 * connection cache. */
#include "http_client.h"

#include <assert.h>
#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_request.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* One socket curl asked us to watch. */
struct http_client_sock {
	ev_io io;
	struct http_client *hc;
	struct http_client_sock *prev, *next;
};

/* In-flight accounting for one scheme://host:port. Exists only while
 * inflight > 0, so the list is bounded by the number of requests in flight. */
struct http_client_endpoint {
	struct http_client_endpoint *next;
	unsigned inflight;
	char key[]; /* "scheme://host:port", lower case */
};

struct http_client {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct http_client_sock *socks;
	struct http_request *reqs;
	struct http_client_endpoint *eps;
	struct http_request_limits lim; /* what each request is given */
	char *ca_file;			/* owned; lim.ca_file borrows it */
	unsigned max_inflight;
	int in_callback; /* > 0 while a user callback runs */
	struct http_client_stats stats;
};

static const char *const http_client_errstr[HTTP_CLIENT_NERRORS] = {
    [0] = "ok",
    [1] = "timeout",
    [2] = "connect failed",
    [3] = "TLS failure",
    [4] = "response too big",
    [5] = "redirect refused",
    [6] = "overloaded",
    [7] = "cancelled",
    [8] = "invalid request",
    [9] = "out of memory",
    [10] = "transfer failed",
};

const char *http_client_strerror(int e)
{
	if (e > 0 || e <= -HTTP_CLIENT_NERRORS)
		return "unknown error";
	return http_client_errstr[-e];
}

int http_client_global_init(void)
{
	const curl_version_info_data *vi;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	vi = curl_version_info(CURLVERSION_NOW);
	/* CURLOPT_PROTOCOLS_STR appeared in 7.85.0. */
	if (!vi || vi->version_num < 0x075500) {
		curl_global_cleanup();
		return -1;
	}
	return 0;
}

void http_client_global_cleanup(void)
{
	curl_global_cleanup();
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- libev <-> curl glue ---- */

static void drain(struct http_client *hc);

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_client_sock *sk = container_of(w, struct http_client_sock, io);
	struct http_client *hc = sk->hc;
	int action = 0, running;

	(void)loop;
	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* May free <sk> through on_curl_socket(CURL_POLL_REMOVE): not touched after. */
	curl_multi_socket_action(hc->multi, w->fd, action, &running);
	drain(hc);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_client *hc = container_of(w, struct http_client, timer);
	int running;

	(void)loop;
	(void)revents;
	curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(hc);
}

static void sock_free(struct http_client *hc, struct http_client_sock *sk)
{
	ev_io_stop(hc->loop, &sk->io);
	if (sk->prev)
		sk->prev->next = sk->next;
	else
		hc->socks = sk->next;
	if (sk->next)
		sk->next->prev = sk->prev;
	free(sk);
}

/* CURLMOPT_SOCKETFUNCTION. Returning -1 makes curl fail every transfer of the
 * multi handle; that only happens when a 40-byte calloc fails. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client *hc = userp;
	struct http_client_sock *sk = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_free(hc, sk);
		return 0;
	}
	if (!sk) {
		sk = calloc(1, sizeof(*sk));
		if (!sk)
			return -1;
		sk->hc = hc;
		sk->next = hc->socks;
		if (hc->socks)
			hc->socks->prev = sk;
		hc->socks = sk;
		ev_init(&sk->io, on_io);
		curl_multi_assign(hc->multi, s, sk);
	} else {
		ev_io_stop(hc->loop, &sk->io);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	/* Always ev_io_set: the fd may be a new socket with a recycled number. */
	ev_io_set(&sk->io, s, events);
	if (events)
		ev_io_start(hc->loop, &sk->io);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: only re-arms the timer (see the top of the file). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *hc = userp;

	(void)multi;
	ev_timer_stop(hc->loop, &hc->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&hc->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(hc->loop, &hc->timer);
	}
	return 0;
}

/* ---- client ---- */

struct http_client *http_client_new(struct ev_loop *loop, const struct http_client_options *opt)
{
	static const struct http_client_options defaults;
	struct http_client *hc;
	char *ca_file = NULL;

	if (!loop)
		return NULL;
	if (!opt)
		opt = &defaults;
	if (opt->max_body > HTTP_CLIENT_MAX_BODY_LIMIT ||
	    opt->timeout_ms > HTTP_CLIENT_MAX_TIMEOUT_MS ||
	    opt->connect_timeout_ms > HTTP_CLIENT_MAX_TIMEOUT_MS)
		return NULL;
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return NULL;
	hc->loop = loop;
	hc->lim.timeout_ms = opt->timeout_ms ? opt->timeout_ms : HTTP_CLIENT_DEFAULT_TIMEOUT_MS;
	hc->lim.connect_timeout_ms =
	    opt->connect_timeout_ms ? opt->connect_timeout_ms : hc->lim.timeout_ms;
	hc->lim.max_body = opt->max_body ? opt->max_body : HTTP_CLIENT_DEFAULT_MAX_BODY;
	hc->max_inflight = opt->max_inflight_per_endpoint ? opt->max_inflight_per_endpoint
							  : HTTP_CLIENT_DEFAULT_MAX_INFLIGHT;
	if (opt->ca_file && !(ca_file = strdup(opt->ca_file)))
		goto fail;
	hc->ca_file = ca_file;
	hc->lim.ca_file = ca_file;
	hc->multi = curl_multi_init();
	if (!hc->multi)
		goto fail;
	ev_init(&hc->timer, on_timer);
	if (curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc) != CURLM_OK ||
	    curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc) != CURLM_OK ||
	    curl_multi_setopt(hc->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			      (long)opt->max_connections_per_endpoint) != CURLM_OK ||
	    /* curl's default (4 x the easy handles added) shrinks the cache to a
	     * few connections whenever the load drops; keep a fixed pool. */
	    curl_multi_setopt(hc->multi, CURLMOPT_MAXCONNECTS,
			      (long)(opt->max_idle_connections ? opt->max_idle_connections
							       : HTTP_CLIENT_DEFAULT_MAX_IDLE)) !=
		CURLM_OK)
		goto fail;
	return hc;
fail:
	if (hc->multi)
		curl_multi_cleanup(hc->multi);
	free(ca_file);
	free(hc);
	return NULL;
}

void http_client_get_stats(const struct http_client *hc, struct http_client_stats *out)
{
	*out = hc->stats;
}

/* ---- endpoints ---- */

static struct http_client_endpoint *endpoint_get(struct http_client *hc, const char *key)
{
	struct http_client_endpoint *ep;
	size_t n = strlen(key);

	for (ep = hc->eps; ep; ep = ep->next)
		if (strcmp(ep->key, key) == 0)
			return ep;
	ep = calloc(1, sizeof(*ep) + n + 1);
	if (!ep)
		return NULL;
	memcpy(ep->key, key, n + 1);
	ep->next = hc->eps;
	hc->eps = ep;
	return ep;
}

/* Drops an endpoint nobody uses any more. */
static void endpoint_put(struct http_client *hc, struct http_client_endpoint *ep)
{
	struct http_client_endpoint **pp;

	if (ep->inflight)
		return;
	for (pp = &hc->eps; *pp; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			free(ep);
			return;
		}
	}
}

/* ---- requests ---- */

/* Takes <r> out of hc->reqs, the multi handle and its endpoint's count. */
static void req_detach(struct http_request *r)
{
	struct http_client *hc = r->hc;

	if (r->prev)
		r->prev->next = r->next;
	else
		hc->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	curl_multi_remove_handle(hc->multi, r->easy);
	r->ep->inflight--;
	endpoint_put(hc, r->ep);
	r->ep = NULL;
	hc->stats.inflight--;
}

/* Calls the user callback of a detached request, then frees it. */
static void req_deliver(struct http_request *r)
{
	struct http_client *hc = r->hc;
	struct http_client_response res = {
	    .err = r->err,
	    .status = r->status,
	    .body = http_request_response_body(r),
	    .elapsed = mono_now() - r->start,
	    .redirects = r->hops,
	    .detail = r->detail ? r->detail : "",
	    .content_type = r->err == HTTP_CLIENT_OK ? r->content_type : "",
	};

	hc->stats.completed++;
	hc->stats.by_error[HTTP_CLIENT_ERR_INDEX(r->err)]++;
	hc->in_callback++;
	r->cb(&res, r->arg);
	hc->in_callback--;
	http_request_free(r);
}

/* Milliseconds left before <r>'s deadline, or 0 when it has passed. */
static long remaining_ms(const struct http_request *r)
{
	double left = (r->deadline - mono_now()) * 1000.0;

	return left < 1.0 ? 0 : (long)left;
}

/* Follows <r>'s 307/308: returns 0 when it was re-added to the multi handle
 * for the next hop, or a negative enum http_client_error (r->detail set)
 * when it must complete now. */
static int follow(struct http_request *r)
{
	struct http_client *hc = r->hc;
	int err;

	if (r->hops >= HTTP_CLIENT_MAX_REDIRECTS) {
		r->detail = "too many redirects";
		return HTTP_CLIENT_ERR_REDIRECT;
	}
	err = http_request_redirect(r, remaining_ms(r));
	if (err)
		return err;
	r->hops++;
	hc->stats.redirects++;
	return curl_multi_add_handle(hc->multi, r->easy) == CURLM_OK ? 0 : HTTP_CLIENT_ERR_OTHER;
}

/* Called once the easy handle of <r> has finished with <rc> and was removed
 * from the multi handle. Returns 0 when <r> goes on (redirect), 1 when it is
 * complete (r->err, r->status, r->detail set). */
static int finish(struct http_request *r, CURLcode rc)
{
	long n = 0;

	if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK && n > 0)
		r->hc->stats.connects += (uint64_t)n;
	if (http_request_finish(r, rc)) {
		r->err = follow(r);
		if (r->err == 0)
			return 0;
	}
	return 1;
}

/* Completes every finished transfer; see the top of the file for the order. */
static void drain(struct http_client *hc)
{
	struct http_request *done = NULL, **tail = &done, *r;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(hc->multi, &left))) {
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		char *priv = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		/* <m> is invalid once the handle is removed: read it first. */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		r = (struct http_request *)(void *)priv;
		curl_multi_remove_handle(hc->multi, easy);
		if (!finish(r, rc))
			continue;
		req_detach(r);
		*tail = r;
		tail = &r->done_next;
	}
	while ((r = done)) {
		done = r->done_next;
		req_deliver(r);
	}
}

static int reject(struct http_client *hc, int err)
{
	if (hc)
		hc->stats.by_error[HTTP_CLIENT_ERR_INDEX(err)]++;
	return err;
}

int http_client_post(struct http_client *hc, const struct http_client_request *req,
		     http_client_done_cb cb, void *arg)
{
	struct http_request *r;
	char *key = NULL;
	int err = HTTP_CLIENT_ERR_INVALID;

	if (!hc || !cb || !(r = http_request_new(req, &err)))
		return reject(hc, err);
	r->hc = hc;
	r->cb = cb;
	r->arg = arg;
	err = HTTP_CLIENT_ERR_NOMEM;
	key = http_request_origin(r);
	if (!key)
		goto fail;
	r->ep = endpoint_get(hc, key);
	free(key);
	if (!r->ep)
		goto fail;
	if (r->ep->inflight >= hc->max_inflight) {
		err = HTTP_CLIENT_ERR_OVERLOADED;
		goto fail;
	}
	if ((err = http_request_setup(r, req, &hc->lim)) != 0)
		goto fail;
	r->start = mono_now();
	r->deadline = r->start + hc->lim.timeout_ms / 1000.0;
	/* Arms the timer (timeout 0) but does no I/O: the callback cannot run
	 * before we return. */
	if (curl_multi_add_handle(hc->multi, r->easy) != CURLM_OK) {
		err = HTTP_CLIENT_ERR_NOMEM;
		goto fail;
	}
	r->ep->inflight++;
	r->next = hc->reqs;
	if (hc->reqs)
		hc->reqs->prev = r;
	hc->reqs = r;
	hc->stats.requests++;
	hc->stats.inflight++;
	return 0;
fail:
	if (r->ep)
		endpoint_put(hc, r->ep);
	http_request_free(r);
	return reject(hc, err);
}

void http_client_cancel_all(struct http_client *hc)
{
	struct http_request *done = NULL, **tail = &done, *r;

	if (!hc)
		return;
	assert(hc->in_callback == 0);
	while ((r = hc->reqs)) {
		req_detach(r);
		r->err = HTTP_CLIENT_ERR_CANCELLED;
		r->status = 0;
		r->detail = "cancelled";
		*tail = r;
		tail = &r->done_next;
	}
	while ((r = done)) {
		done = r->done_next;
		req_deliver(r);
	}
}

void http_client_free(struct http_client *hc)
{
	struct http_request *r;
	struct http_client_endpoint *ep;

	if (!hc)
		return;
	assert(hc->in_callback == 0);
	while ((r = hc->reqs)) {
		req_detach(r);
		http_request_free(r);
	}
	/* May call on_curl_socket()/on_curl_timer() while closing cached
	 * connections: <hc> is still whole here. */
	curl_multi_cleanup(hc->multi);
	while (hc->socks)
		sock_free(hc, hc->socks);
	ev_timer_stop(hc->loop, &hc->timer);
	while ((ep = hc->eps)) {
		hc->eps = ep->next;
		free(ep);
	}
	free(hc->ca_file);
	free(hc);
}

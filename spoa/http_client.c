/* http_client.c - libcurl multi_socket driven by libev.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0 /* before 7.87.0 a short count is the error */
#endif

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define MAX_CREDENTIAL_LEN 1024 /* per user / password, before encoding */
#define MIN_BODY_ALLOC	   1024

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

struct http_client_req {
	struct http_client *hc;
	struct http_client_req *prev, *next; /* hc->reqs while in flight */
	struct http_client_req *done_next;   /* local completion list */
	struct http_client_endpoint *ep;
	CURL *easy;
	CURLU *url; /* URL of the current hop */
	struct curl_slist *headers;
	uint8_t *body; /* request body copy (a secret: wiped on free) */
	size_t body_len;
	uint8_t *rbuf; /* response body, at most hc->max_body bytes */
	size_t rlen, rcap;
	bool too_big;
	bool get; /* GET instead of POST */
	int hops;
	double start, deadline; /* monotonic seconds */
	http_client_done_cb cb;
	void *arg;
	int err;
	long status;
	const char *detail; /* static text or errbuf */
	char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct http_client_sock *socks;
	struct http_client_req *reqs;
	struct http_client_endpoint *eps;
	unsigned timeout_ms, connect_timeout_ms, max_inflight;
	size_t max_body;
	char *ca_file;
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
	hc->timeout_ms = opt->timeout_ms ? opt->timeout_ms : HTTP_CLIENT_DEFAULT_TIMEOUT_MS;
	hc->connect_timeout_ms = opt->connect_timeout_ms ? opt->connect_timeout_ms : hc->timeout_ms;
	hc->max_body = opt->max_body ? opt->max_body : HTTP_CLIENT_DEFAULT_MAX_BODY;
	hc->max_inflight = opt->max_inflight_per_endpoint ? opt->max_inflight_per_endpoint
							  : HTTP_CLIENT_DEFAULT_MAX_INFLIGHT;
	if (opt->ca_file && !(hc->ca_file = strdup(opt->ca_file)))
		goto fail;
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
	free(hc->ca_file);
	free(hc);
	return NULL;
}

void http_client_get_stats(const struct http_client *hc, struct http_client_stats *out)
{
	*out = hc->stats;
}

/* ---- endpoints ---- */

/* Builds "scheme://host:port" for <u> into a new string, or NULL. */
static char *origin_of(CURLU *u)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *key = NULL;
	size_t n;

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		n = strlen(scheme) + strlen(host) + strlen(port) + 5;
		key = malloc(n);
		if (key) {
			snprintf(key, n, "%s://%s:%s", scheme, host, port);
			for (char *p = key; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return key;
}

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

static void wipe_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

/* Frees a request that is in no list and not in the multi handle. */
static void req_free(struct http_client_req *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	if (r->url)
		curl_url_cleanup(r->url);
	for (struct curl_slist *h = r->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data)); /* Authorization */
	curl_slist_free_all(r->headers);
	wipe_free(r->body, r->body_len ? r->body_len : 1);
	wipe_free(r->rbuf, r->rcap);
	free(r);
}

/* Takes <r> out of hc->reqs, the multi handle and its endpoint's count. */
static void req_detach(struct http_client_req *r)
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
static void req_deliver(struct http_client_req *r)
{
	struct http_client *hc = r->hc;
	struct http_client_response res = {
	    .err = r->err,
	    .status = r->status,
	    .body = r->err == HTTP_CLIENT_OK ? slice_from(r->rbuf, r->rlen) : SLICE_NULL,
	    .elapsed = mono_now() - r->start,
	    .redirects = r->hops,
	    .detail = r->detail ? r->detail : "",
	};

	hc->stats.completed++;
	hc->stats.by_error[HTTP_CLIENT_ERR_INDEX(r->err)]++;
	hc->in_callback++;
	r->cb(&res, r->arg);
	hc->in_callback--;
	req_free(r);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_client_req *r = userdata;
	size_t n = size * nmemb, cap;
	uint8_t *nb;

	if (n > r->hc->max_body - r->rlen) {
		r->too_big = true;
		return CURL_WRITEFUNC_ERROR;
	}
	if (r->rlen + n > r->rcap) {
		cap = r->rcap ? r->rcap : MIN_BODY_ALLOC;
		while (cap < r->rlen + n)
			cap *= 2;
		if (cap > r->hc->max_body)
			cap = r->hc->max_body;
		nb = malloc(cap);
		if (!nb)
			return CURL_WRITEFUNC_ERROR;
		if (r->rlen)
			memcpy(nb, r->rbuf, r->rlen);
		wipe_free(r->rbuf, r->rcap); /* the body may hold claims: no stale copies */
		r->rbuf = nb;
		r->rcap = cap;
	}
	memcpy(r->rbuf + r->rlen, ptr, n);
	r->rlen += n;
	return n;
}

static int map_curl_error(const struct http_client_req *r, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_CLIENT_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_CLIENT_ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_CLIENT_ERR_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return HTTP_CLIENT_ERR_TLS;
	case CURLE_WRITE_ERROR:
		return r->too_big ? HTTP_CLIENT_ERR_TOO_BIG : HTTP_CLIENT_ERR_NOMEM;
	case CURLE_FILESIZE_EXCEEDED: /* Content-Length above CURLOPT_MAXFILESIZE */
		return HTTP_CLIENT_ERR_TOO_BIG;
	case CURLE_OUT_OF_MEMORY:
		return HTTP_CLIENT_ERR_NOMEM;
	default:
		return HTTP_CLIENT_ERR_OTHER;
	}
}

/* Milliseconds left before <r>'s deadline, or 0 when it has passed. */
static long remaining_ms(const struct http_client_req *r)
{
	double left = (r->deadline - mono_now()) * 1000.0;

	return left < 1.0 ? 0 : (long)left;
}

static void set_timeouts(struct http_client_req *r, long left)
{
	long conn = (long)r->hc->connect_timeout_ms;

	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, conn < left ? conn : left);
}

static bool same_part(CURLU *a, CURLU *b, CURLUPart part, unsigned flags)
{
	char *x = NULL, *y = NULL;
	bool eq;

	eq = curl_url_get(a, part, &x, flags) == CURLUE_OK &&
	     curl_url_get(b, part, &y, flags) == CURLUE_OK && strcasecmp(x, y) == 0;
	curl_free(x);
	curl_free(y);
	return eq;
}

static bool has_part(CURLU *u, CURLUPart part)
{
	char *x = NULL;
	bool has = curl_url_get(u, part, &x, 0) == CURLUE_OK;

	curl_free(x);
	return has;
}

/* Handles a 307/308 answer: returns 0 when the request was re-added to the
 * multi handle for the next hop, or a negative enum http_client_error (and sets
 * r->detail) when it must complete now. */
static int follow(struct http_client_req *r)
{
	struct http_client *hc = r->hc;
	struct curl_header *loc;
	CURLU *next = NULL;
	char *s = NULL;
	long left;
	int err = HTTP_CLIENT_ERR_REDIRECT;

	if (r->hops >= HTTP_CLIENT_MAX_REDIRECTS) {
		r->detail = "too many redirects";
		return HTTP_CLIENT_ERR_REDIRECT;
	}
	if (curl_easy_header(r->easy, "Location", 0, CURLH_HEADER, -1, &loc) != CURLHE_OK) {
		r->detail = "redirect without Location";
		return HTTP_CLIENT_ERR_REDIRECT;
	}
	/* Setting a relative URL on a copy of the current one resolves it. */
	next = curl_url_dup(r->url);
	if (!next)
		return HTTP_CLIENT_ERR_NOMEM;
	if (curl_url_set(next, CURLUPART_URL, loc->value, 0) != CURLUE_OK) {
		r->detail = "redirect to an invalid Location";
		goto out;
	}
	if (!same_part(r->url, next, CURLUPART_SCHEME, 0) ||
	    !same_part(r->url, next, CURLUPART_HOST, 0) ||
	    !same_part(r->url, next, CURLUPART_PORT, CURLU_DEFAULT_PORT)) {
		r->detail = "redirect to another origin";
		goto out;
	}
	if (has_part(next, CURLUPART_USER) || has_part(next, CURLUPART_PASSWORD)) {
		r->detail = "redirect with credentials in the URL";
		goto out;
	}
	left = remaining_ms(r);
	if (!left) {
		r->detail = "timed out before the redirect";
		err = HTTP_CLIENT_ERR_TIMEOUT;
		goto out;
	}
	err = HTTP_CLIENT_ERR_NOMEM;
	if (curl_url_get(next, CURLUPART_URL, &s, 0) != CURLUE_OK ||
	    curl_easy_setopt(r->easy, CURLOPT_URL, s) != CURLE_OK)
		goto out;
	set_timeouts(r, left);
	r->rlen = 0;
	r->too_big = false;
	r->errbuf[0] = '\0';
	curl_url_cleanup(r->url);
	r->url = next;
	next = NULL;
	r->hops++;
	hc->stats.redirects++;
	err = curl_multi_add_handle(hc->multi, r->easy) == CURLM_OK ? 0 : HTTP_CLIENT_ERR_OTHER;
out:
	curl_free(s);
	curl_url_cleanup(next);
	return err;
}

/* Called once the easy handle of <r> has finished with <rc> and was removed
 * from the multi handle. Returns 0 when <r> goes on (redirect), 1 when it is
 * complete (r->err, r->status, r->detail set). */
static int finish(struct http_client_req *r, CURLcode rc)
{
	long n = 0;

	if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK && n > 0)
		r->hc->stats.connects += (uint64_t)n;
	r->status = 0;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	r->err = map_curl_error(r, rc);
	r->detail = r->errbuf;
	if (r->err == HTTP_CLIENT_OK && (r->status == 307 || r->status == 308)) {
		r->err = follow(r);
		if (r->err == 0)
			return 0;
	}
	return 1;
}

/* Completes every finished transfer; see the top of the file for the order. */
static void drain(struct http_client *hc)
{
	struct http_client_req *done = NULL, **tail = &done, *r;
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
		r = (struct http_client_req *)(void *)priv;
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

/* Bytes the form encoding leaves alone: ALPHA DIGIT * - . _ */
static bool form_safe(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       c == '*' || c == '-' || c == '.' || c == '_';
}

/* application/x-www-form-urlencoded byte serializer (WHATWG URL §5.2), the
 * encoding RFC 6749 §2.3.1 applies to client_secret_basic credentials.
 * Writes at most 3 * strlen(in) bytes at <out>; returns the count. */
static size_t form_encode(const char *in, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (form_safe(*p)) {
			out[n++] = (char)*p;
		} else if (*p == ' ') {
			out[n++] = '+';
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	return n;
}

static size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[n++] = tbl[v >> 18 & 63];
		out[n++] = tbl[v >> 12 & 63];
		out[n++] = tbl[v >> 6 & 63];
		out[n++] = tbl[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[n++] = tbl[v >> 18 & 63];
		out[n++] = tbl[v >> 12 & 63];
		out[n++] = i + 1 < len ? tbl[v >> 6 & 63] : '=';
		out[n++] = '=';
	}
	return n;
}

/* Appends "Authorization: Basic ..." to r->headers. Every temporary holding
 * the credentials is wiped. Returns 0 or a negative enum http_client_error. */
static int add_basic_auth(struct http_client_req *r, const char *user, const char *pass)
{
	static const char prefix[] = "Authorization: Basic ";
	size_t ul = strlen(user), pl = strlen(pass), rawcap, hdrcap, n;
	char *raw = NULL, *hdr = NULL;
	struct curl_slist *l;
	int err = HTTP_CLIENT_ERR_NOMEM;

	if (ul > MAX_CREDENTIAL_LEN || pl > MAX_CREDENTIAL_LEN)
		return HTTP_CLIENT_ERR_INVALID;
	rawcap = 3 * (ul + pl) + 1;
	hdrcap = sizeof(prefix) + 4 * (rawcap / 3 + 1);
	raw = malloc(rawcap);
	hdr = malloc(hdrcap);
	if (!raw || !hdr)
		goto out;
	n = form_encode(user, raw);
	raw[n++] = ':';
	n += form_encode(pass, raw + n);
	memcpy(hdr, prefix, sizeof(prefix) - 1);
	n = base64_encode((const uint8_t *)raw, n, hdr + sizeof(prefix) - 1);
	hdr[sizeof(prefix) - 1 + n] = '\0';
	l = curl_slist_append(r->headers, hdr);
	if (l) {
		r->headers = l;
		err = 0;
	}
out:
	wipe_free(raw, rawcap);
	wipe_free(hdr, hdrcap);
	return err;
}

static int req_headers(struct http_client_req *r, const struct http_client_request *req)
{
	static const char *const fixed[] = {
	    "Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
	    "Expect:", /* no 100-continue round trip for bodies over 1 KiB */
	};

	for (size_t i = req->get ? 1 : 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct curl_slist *l = curl_slist_append(r->headers, fixed[i]);

		if (!l)
			return HTTP_CLIENT_ERR_NOMEM;
		r->headers = l;
	}
	if (req->user)
		return add_basic_auth(r, req->user, req->password ? req->password : "");
	return 0;
}

/* Sets every option of the first hop. Returns 0 or a negative enum http_client_error. */
static int req_setup_easy(struct http_client_req *r, bool https)
{
	struct http_client *hc = r->hc;
	CURL *e = r->easy;
	char *url = NULL;
	long left = (long)hc->timeout_ms;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)

	if (curl_url_get(r->url, CURLUPART_URL, &url, 0) != CURLUE_OK)
		return HTTP_CLIENT_ERR_NOMEM;
	SET(CURLOPT_URL, url);
	curl_free(url);
	SET(CURLOPT_PRIVATE, (void *)r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, ""); /* ignore http_proxy & co. */
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (hc->ca_file)
		SET(CURLOPT_CAINFO, hc->ca_file);
	if (https)
		SET(CURLOPT_PIPEWAIT, 1L); /* prefer one multiplexed HTTP/2 connection */
	SET(CURLOPT_HTTPHEADER, r->headers);
	if (r->get) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		SET(CURLOPT_POSTFIELDS, (const char *)r->body);
	}
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, (void *)r);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)hc->max_body);
#ifdef OAUTH2_SPOA_VERSION
	SET(CURLOPT_USERAGENT, "oauth2-spoa/" OAUTH2_SPOA_VERSION);
#else
	SET(CURLOPT_USERAGENT, "oauth2-spoa");
#endif
#undef SET
	if (rc != CURLE_OK)
		return rc == CURLE_OUT_OF_MEMORY ? HTTP_CLIENT_ERR_NOMEM : HTTP_CLIENT_ERR_INVALID;
	set_timeouts(r, left);
	return 0;
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
	struct http_client_req *r;
	char *scheme = NULL, *key = NULL;
	bool https;
	int err = HTTP_CLIENT_ERR_NOMEM;

	if (!hc || !req || !req->url || !cb || (req->body.len && !req->body.ptr) ||
	    req->body.len > HTTP_CLIENT_MAX_REQUEST_BODY || (req->get && req->body.len))
		return reject(hc, HTTP_CLIENT_ERR_INVALID);
	r = calloc(1, sizeof(*r));
	if (!r)
		return reject(hc, HTTP_CLIENT_ERR_NOMEM);
	r->hc = hc;
	r->get = req->get;
	r->cb = cb;
	r->arg = arg;
	r->url = curl_url();
	if (!r->url)
		goto fail;
	if (curl_url_set(r->url, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
	    curl_url_get(r->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		err = HTTP_CLIENT_ERR_INVALID;
		goto fail;
	}
	https = strcasecmp(scheme, "https") == 0;
	key = origin_of(r->url);
	if (!key)
		goto fail;
	r->ep = endpoint_get(hc, key);
	if (!r->ep)
		goto fail;
	if (r->ep->inflight >= hc->max_inflight) {
		err = HTTP_CLIENT_ERR_OVERLOADED;
		goto fail;
	}
	r->body_len = req->body.len;
	r->body = malloc(r->body_len ? r->body_len : 1);
	if (!r->body)
		goto fail;
	if (r->body_len)
		memcpy(r->body, req->body.ptr, r->body_len);
	r->easy = curl_easy_init();
	if (!r->easy)
		goto fail;
	if ((err = req_headers(r, req)) != 0 || (err = req_setup_easy(r, https)) != 0)
		goto fail;
	r->start = mono_now();
	r->deadline = r->start + hc->timeout_ms / 1000.0;
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
	curl_free(scheme);
	free(key);
	return 0;
fail:
	if (r->ep)
		endpoint_put(hc, r->ep);
	curl_free(scheme);
	free(key);
	req_free(r);
	return reject(hc, err);
}

void http_client_cancel_all(struct http_client *hc)
{
	struct http_client_req *done = NULL, **tail = &done, *r;

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
	struct http_client_req *r;
	struct http_client_endpoint *ep;

	if (!hc)
		return;
	assert(hc->in_callback == 0);
	while ((r = hc->reqs)) {
		req_detach(r);
		req_free(r);
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

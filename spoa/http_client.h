/* http_client.h - asynchronous HTTP POST client: libcurl's multi interface
 * driven by a libev loop.
 *
 * Two files behind this one header: http_client.c is the transport (multi
 * handle, sockets and timers on the loop, per-endpoint in-flight bound,
 * redirects, completion), http_request.c the request/response model (URL,
 * headers, body, credentials, TLS options, bounded response body).
 *
 * One struct http_client per event loop (i.e. per worker thread). A struct http_client and
 * everything reached from it must only be used from the thread that runs its
 * loop: it is NOT thread-safe, and two threads must not share one. Different
 * struct http_client in different threads are independent.
 *
 * The module knows nothing about tokens: it POSTs a form body to a URL and
 * hands back the status and body. It does treat the request body and the
 * credentials as secrets: they are copied, wiped (explicit_bzero) before being
 * freed, and never logged or put in an error message.
 *
 * Fixed policy, not configurable on purpose:
 *  - TLS peer and host verification are always on;
 *  - only http:// and https:// URLs, no proxy (the *_proxy environment
 *    variables are ignored), no signals, no .netrc;
 *  - curl never follows redirects itself. The client follows 307 and 308 only, and
 *    only when the (possibly relative) Location has the same scheme, host and
 *    port as the URL being redirected: the same body and credentials are
 *    POSTed there again, at most HTTP_CLIENT_MAX_REDIRECTS times. Any other 307/308
 *    completes with HTTP_CLIENT_ERR_REDIRECT and is not contacted. Other 3xx are
 *    returned to the caller as plain statuses with HTTP_CLIENT_OK;
 *  - connections are kept alive and reused through the multi handle's
 *    connection cache.
 *
 * Life cycle: http_client_global_init() once per process, then per thread http_client_new(),
 * any number of http_client_post(), http_client_free(); http_client_global_cleanup() at exit. */
#ifndef OAUTH2_SPOA_HTTP_CLIENT_H
#define OAUTH2_SPOA_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct ev_loop;
struct http_client; /* opaque: one per event loop */

/* Defaults (used when the matching option is 0) and hard limits. */
#define HTTP_CLIENT_DEFAULT_TIMEOUT_MS	 1000u
#define HTTP_CLIENT_DEFAULT_MAX_BODY	 (64u * 1024u)
#define HTTP_CLIENT_DEFAULT_MAX_INFLIGHT 256u
#define HTTP_CLIENT_DEFAULT_MAX_IDLE	 64u
#define HTTP_CLIENT_MAX_BODY_LIMIT	 (16u * 1024u * 1024u) /* largest accepted max_body */
#define HTTP_CLIENT_MAX_TIMEOUT_MS	 (10u * 60u * 1000u)   /* largest accepted timeout */
#define HTTP_CLIENT_MAX_REQUEST_BODY	 (1024u * 1024u)       /* largest accepted request body */
#define HTTP_CLIENT_MAX_REDIRECTS	 3

/* Outcome of a request. 0 is success; errors are negative so http_client_post() can
 * return them directly. http_client_strerror() names each one. */
enum http_client_error {
	HTTP_CLIENT_OK = 0,
	HTTP_CLIENT_ERR_TIMEOUT = -1, /* no complete answer within timeout_ms (all hops together) */
	HTTP_CLIENT_ERR_CONNECT =
	    -2,			  /* could not resolve the host or connect (refused, unreachable) */
	HTTP_CLIENT_ERR_TLS = -3, /* TLS handshake or certificate verification failed */
	HTTP_CLIENT_ERR_TOO_BIG = -4, /* the response body exceeded max_body */
	HTTP_CLIENT_ERR_REDIRECT =
	    -5, /* 307/308 not followed: other origin, no Location, too many */
	HTTP_CLIENT_ERR_OVERLOADED =
	    -6, /* max_inflight_per_endpoint reached (only from http_client_post) */
	HTTP_CLIENT_ERR_CANCELLED =
	    -7, /* http_client_cancel_all() was called (only via the callback) */
	HTTP_CLIENT_ERR_INVALID = -8, /* bad argument or URL (only from http_client_post) */
	HTTP_CLIENT_ERR_NOMEM = -9,   /* out of memory */
	HTTP_CLIENT_ERR_OTHER = -10,  /* anything else: peer closed mid-answer, bad HTTP... */
};
#define HTTP_CLIENT_NERRORS                                                                        \
	11 /* number of enum http_client_error values, HTTP_CLIENT_OK included */

/* Index of <e> in struct http_client_stats.by_error[] (0 for HTTP_CLIENT_OK). */
#define HTTP_CLIENT_ERR_INDEX(e) ((unsigned)-(int)(e))

/* Returns a static, human-readable name for <e> (e.g. "timeout"). Any int is
 * accepted; unknown values give "unknown error". Never NULL. */
const char *http_client_strerror(int e);

struct http_client_options {
	unsigned timeout_ms;		    /* total per request, redirects included; 0 = default */
	unsigned connect_timeout_ms;	    /* per connection attempt; 0 = timeout_ms */
	size_t max_body;		    /* cap on response body bytes; 0 = default */
	unsigned max_inflight_per_endpoint; /* per scheme://host:port; 0 = default */
	unsigned max_connections_per_endpoint; /* 0 = no limit; extra requests queue */
	unsigned max_idle_connections;	       /* kept open for reuse, all endpoints; 0 = default */
	const char *ca_file;		       /* PEM CA bundle; NULL = system default. Copied. */
};

/* What the callback receives. Every pointer is BORROWED and valid only during
 * the callback. */
struct http_client_response {
	int err;	    /* HTTP_CLIENT_OK or a negative enum http_client_error */
	long status;	    /* HTTP status of the last hop; 0 when none was received */
	struct slice body;  /* body of the last response (empty on error); not NUL-terminated */
	double elapsed;	    /* seconds from http_client_post() to completion, all hops included */
	int redirects;	    /* 307/308 hops followed */
	const char *detail; /* curl's diagnostic or ""; never contains body or credentials */
};

/* Called exactly once per accepted request, always from the loop (never from
 * inside http_client_post()). The callback may call http_client_post() on the same hc. It must
 * not call http_client_cancel_all() or http_client_free() on that hc. */
typedef void (*http_client_done_cb)(const struct http_client_response *res, void *arg);

struct http_client_request {
	const char *url;      /* http:// or https:// URL, NUL-terminated; copied */
	struct slice body;    /* application/x-www-form-urlencoded body; copied; may be empty */
	const char *user;     /* NULL = no Authorization header; raw, at most 1024 bytes */
	const char *password; /* raw, at most 1024 bytes; NULL is taken as "" */
	bool get;	      /* GET (a JWKS document) instead of POST: body must be empty,
			       * no Content-Type is sent; redirects are followed the same way */
};

struct http_client_stats {
	uint64_t requests;			/* http_client_post() calls that returned 0 */
	uint64_t completed;			/* callbacks delivered (any outcome) */
	uint64_t by_error[HTTP_CLIENT_NERRORS]; /* outcomes by HTTP_CLIENT_ERR_INDEX(); rejections
						 * by http_client_post() are counted here too
						 * (OVERLOADED, INVALID, NOMEM) */
	uint64_t redirects;			/* 307/308 hops followed */
	uint64_t connects; /* new connections opened (a low number means keep-alive works) */
	uint32_t inflight; /* accepted and not yet completed */
};

/* Calls curl_global_init(). Call once, from main(), before any thread starts.
 * Returns 0, or -1 when libcurl could not be initialised or is older than
 * 7.85.0 (CURLOPT_PROTOCOLS_STR). */
int http_client_global_init(void);

/* Calls curl_global_cleanup(). Call once at exit, after every http_client_free(). */
void http_client_global_cleanup(void);

/* Creates a client bound to <loop>. <opt> may be NULL (all defaults); it is
 * read during the call only (ca_file is copied). Returns a NEW client to be
 * released with http_client_free(), or NULL on allocation failure or invalid options
 * (max_body above HTTP_CLIENT_MAX_BODY_LIMIT, timeout above HTTP_CLIENT_MAX_TIMEOUT_MS). The
 * client registers watchers on <loop> only while it has work. */
struct http_client *http_client_new(struct ev_loop *loop, const struct http_client_options *opt);

/* Starts POSTing <req> with headers
 *   Content-Type: application/x-www-form-urlencoded
 *   Accept: application/json
 *   Authorization: Basic base64(enc(user) ":" enc(password))   (when user != NULL)
 * where enc() is application/x-www-form-urlencoded encoding, as RFC 6749
 * §2.3.1 requires for client_secret_basic (form_basic_auth(), form.h).
 *
 * Everything in <req> is copied: the caller may free it as soon as this
 * returns.
 *
 * Returns 0 when the request was accepted: <cb>(res, <arg>) will then be
 * called exactly once, later, from the loop (or from http_client_cancel_all()).
 * Returns a negative enum http_client_error when it was refused, and then <cb> is NEVER
 * called:
 *   HTTP_CLIENT_ERR_INVALID     NULL hc/req/url/cb, URL that does not parse or is not
 *                      http(s), body larger than HTTP_CLIENT_MAX_REQUEST_BODY, user or
 *                      password longer than 1024 bytes;
 *   HTTP_CLIENT_ERR_OVERLOADED  max_inflight_per_endpoint requests to this URL's
 *                      scheme://host:port are already in flight;
 *   HTTP_CLIENT_ERR_NOMEM       allocation failure.
 * Connection problems (refused, DNS...) are never reported here; they arrive
 * through the callback. */
int http_client_post(struct http_client *hc, const struct http_client_request *req,
		     http_client_done_cb cb, void *arg);

/* Aborts every request in flight and calls each one's callback, synchronously
 * from inside this function, with err = HTTP_CLIENT_ERR_CANCELLED. Requests that those
 * callbacks start are not cancelled. Must not be called from an hc callback.
 * NULL is allowed. */
void http_client_cancel_all(struct http_client *hc);

/* Aborts every request in flight WITHOUT calling their callbacks (call
 * http_client_cancel_all() first when the callback arguments must be released), closes
 * every connection, stops every watcher and frees <hc>. Must not be called
 * from an hc callback. NULL is allowed. */
void http_client_free(struct http_client *hc);

/* Copies the counters of <hc> (not NULL) into <out>. */
void http_client_get_stats(const struct http_client *hc, struct http_client_stats *out);

#endif

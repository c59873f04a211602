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
 * credentials (a bearer credential included) as secrets: they are copied, wiped (explicit_bzero)
 * before being freed, and never logged or put in an error message.
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
#include "http_client-t.h"

struct ev_loop;
struct http_client; /* opaque: one per event loop */

/* Returns a static, human-readable name for <e> (e.g. "timeout"). Any int is
 * accepted; unknown values give "unknown error". Never NULL. */
const char *http_client_strerror(int e);

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
 *   Authorization: Bearer <bearer>                             (when bearer is set)
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
 *                      password longer than 1024 bytes, a bearer credential that is
 *                      too long or not printable, or both a user and a bearer;
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

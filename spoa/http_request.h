/* http_request.h - one HTTP exchange of the HTTP client, as data: the
 * request built from a struct http_client_request (URL, headers, form body,
 * client_secret_basic credentials, every curl option of the easy handle) and
 * the response read back (status, body capped at max_body, error mapping,
 * the 307/308 Location check).
 *
 * Internal to the HTTP client: only http_client.c (the transport: multi
 * handle, sockets, timers, endpoints, completion) includes it. It never
 * touches the multi handle, the loop or the clock; the transport hands it
 * the time left. Same thread rules as http_client.h.
 *
 * Ownership: a struct http_request is created by http_request_new() and
 * owned by the transport until http_request_free(). It owns its easy handle,
 * URL, header list, and copies of the request body and of the response body;
 * the request body, the Authorization header and the response body are
 * wiped before being freed. */
#ifndef OAUTH2_SPOA_HTTP_REQUEST_H
#define OAUTH2_SPOA_HTTP_REQUEST_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_client-t.h"

#define HTTP_REQUEST_MAX_CREDENTIAL 1024 /* bytes per user / password, before encoding */

struct http_client_endpoint; /* the transport's in-flight count per origin */

/* What a request needs to know of its client; read by http_request_setup()
 * only. */
struct http_request_limits {
	unsigned timeout_ms;	     /* whole request, redirects included */
	unsigned connect_timeout_ms; /* per connection attempt */
	size_t max_body;	     /* response body cap */
	const char *ca_file;	     /* NULL = system CAs; curl copies it */
};

struct http_request {
	/* The transport's (http_client.c); zeroed by http_request_new(). */
	struct http_client *hc;
	struct http_request *prev, *next; /* hc's in-flight list */
	struct http_request *done_next;	  /* local completion list */
	struct http_client_endpoint *ep;
	int hops;		/* 307/308 followed */
	double start, deadline; /* monotonic seconds */
	http_client_done_cb cb;
	void *arg;

	/* The model's (http_request.c). */
	CURL *easy; /* CURLOPT_PRIVATE points back here */
	CURLU *url; /* URL of the current hop */
	struct curl_slist *headers;
	uint8_t *body; /* request body copy (a secret: wiped on free) */
	size_t body_len;
	uint8_t *rbuf; /* response body, at most max_body bytes */
	size_t rlen, rcap, max_body;
	unsigned connect_timeout_ms;
	bool too_big;
	bool get; /* GET instead of POST */
	bool https;
	char accept[HTTP_CLIENT_MAX_MEDIA_TYPE + 8];   /* "Accept: ..." header line */
	char content_type[HTTP_CLIENT_MAX_MEDIA_TYPE]; /* set by http_request_finish() */
	int err;				       /* outcome, set by http_request_finish() */
	long status;				       /* HTTP status of the last hop */
	const char *detail;			       /* static text or errbuf; never a secret */
	char errbuf[CURL_ERROR_SIZE];
};

/* Checks <req> (body size and pointer, GET without body, the Accept value) and parses its URL
 * (http or https only). Returns a NEW request with no easy handle yet, or
 * NULL with *err set to HTTP_CLIENT_ERR_INVALID or HTTP_CLIENT_ERR_NOMEM.
 * <req> is read during the call only. */
struct http_request *http_request_new(const struct http_client_request *req, int *err);

/* "scheme://host:port" of <r>'s URL, lower case, default port filled in:
 * a NEW string to free(), or NULL when out of memory. */
char *http_request_origin(const struct http_request *r);

/* Copies the body of <req>, creates the easy handle and sets every option
 * of the first hop: headers (Content-Type and Accept, Authorization from
 * form_basic_auth() when req->user is set), TLS peer and host verification,
 * no proxy, no .netrc, no redirect following, http/https only, the body cap
 * and lim->timeout_ms. Returns 0 or a negative enum http_client_error
 * (HTTP_CLIENT_ERR_INVALID for a user or password over
 * HTTP_REQUEST_MAX_CREDENTIAL bytes). */
int http_request_setup(struct http_request *r, const struct http_client_request *req,
		       const struct http_request_limits *lim);

/* Sets the whole-transfer timeout to <left_ms> and the connect timeout to
 * the smaller of that and connect_timeout_ms. */
void http_request_set_timeouts(struct http_request *r, long left_ms);

/* Records the end of a transfer whose result is <rc>: r->status, r->err
 * (a curl code mapped to enum http_client_error), r->detail and
 * r->content_type (a bounded copy, "" when none). Returns
 * true when the answer is a 307/308 the caller may follow. */
bool http_request_finish(struct http_request *r, CURLcode rc);

/* Points <r> at the Location of its 307/308 answer, for a next hop with
 * <left_ms> left, and clears the previous response. Refuses (returns
 * HTTP_CLIENT_ERR_REDIRECT and sets r->detail) a missing or invalid
 * Location, another scheme, host or port, or credentials in the URL;
 * HTTP_CLIENT_ERR_TIMEOUT when <left_ms> is 0. Returns 0 when ready to be
 * added to the multi handle again. */
int http_request_redirect(struct http_request *r, long left_ms);

/* The response body of a successful request (borrowed from <r>), else empty. */
struct slice http_request_response_body(const struct http_request *r);

/* Frees a request that is in no list and not in the multi handle. NULL is
 * allowed. */
void http_request_free(struct http_request *r);

#endif

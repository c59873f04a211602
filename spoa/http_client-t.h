/* http_client-t.h - the HTTP client's types and limits (options, request,
 * response, statistics, error codes), apart from its functions: the
 * request/response model (http_request.h) needs them without depending on
 * the transport (http_client.h), as HAProxy's -t.h headers do. The rules
 * they follow are in http_client.h. */
#ifndef OAUTH2_SPOA_HTTP_CLIENT_T_H
#define OAUTH2_SPOA_HTTP_CLIENT_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Defaults (used when the matching option is 0) and hard limits. */
#define HTTP_CLIENT_DEFAULT_TIMEOUT_MS	 1000u
#define HTTP_CLIENT_DEFAULT_MAX_BODY	 (64u * 1024u)
#define HTTP_CLIENT_DEFAULT_MAX_INFLIGHT 256u
#define HTTP_CLIENT_DEFAULT_MAX_IDLE	 64u
#define HTTP_CLIENT_MAX_BODY_LIMIT	 (16u * 1024u * 1024u) /* largest accepted max_body */
#define HTTP_CLIENT_MAX_TIMEOUT_MS	 (10u * 60u * 1000u)   /* largest accepted timeout */
#define HTTP_CLIENT_MAX_REQUEST_BODY	 (1024u * 1024u)       /* largest accepted request body */
#define HTTP_CLIENT_MAX_REDIRECTS	 3
#define HTTP_CLIENT_MAX_MEDIA_TYPE	 128 /* bytes of an Accept value or a kept Content-Type */
#define HTTP_CLIENT_MAX_BEARER		 (1024u * 1024u) /* bytes of a bearer credential */

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
	/* The last response's Content-Type, at most HTTP_CLIENT_MAX_MEDIA_TYPE - 1
	 * bytes (a longer one is cut), "" when none or on error. */
	const char *content_type;
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
	const char *accept;   /* NULL: "application/json"; else printable ASCII, less
			       * than HTTP_CLIENT_MAX_MEDIA_TYPE bytes; copied */
	/* NULL: none; else "Authorization: Bearer <bearer>" (the OpenID Connect
	 * userinfo call), a secret like the password: 1 to HTTP_CLIENT_MAX_BEARER
	 * bytes of printable ASCII without space, and never with <user>. */
	struct slice bearer;
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

#endif

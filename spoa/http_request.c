/* http_request.c - building one request's easy handle and reading its
 * response (see http_request.h). */
#include "http_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ascii.h"
#include "form.h"

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0 /* before 7.87.0 a short count is the error */
#endif

#define MIN_BODY_ALLOC 1024

static void wipe_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

void http_request_free(struct http_request *r)
{
	if (!r)
		return;
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

/* An Accept value goes into a header line: no control byte may end it. */
static bool accept_ok(const char *a)
{
	size_t n = 0;

	if (!a)
		return true;
	for (; a[n]; n++)
		if ((unsigned char)a[n] < 0x20 || (unsigned char)a[n] > 0x7e)
			return false;
	return n > 0 && n < HTTP_CLIENT_MAX_MEDIA_TYPE;
}

/* A bearer credential goes into a header line: visible ASCII only (RFC
 * 6750's b64token is narrower; the caller already checked it). */
static bool bearer_ok(const struct http_client_request *req)
{
	if (!req->bearer.ptr)
		return true;
	if (req->user || req->bearer.len == 0 || req->bearer.len > HTTP_CLIENT_MAX_BEARER)
		return false;
	for (size_t i = 0; i < req->bearer.len; i++)
		if (req->bearer.ptr[i] <= 0x20 || req->bearer.ptr[i] > 0x7e)
			return false;
	return true;
}

struct http_request *http_request_new(const struct http_client_request *req, int *err)
{
	struct http_request *r;
	char *scheme = NULL;

	*err = HTTP_CLIENT_ERR_INVALID;
	if (!req || !req->url || (req->body.len && !req->body.ptr) ||
	    req->body.len > HTTP_CLIENT_MAX_REQUEST_BODY || (req->get && req->body.len) ||
	    !accept_ok(req->accept) || !bearer_ok(req))
		return NULL;
	*err = HTTP_CLIENT_ERR_NOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->get = req->get;
	snprintf(r->accept, sizeof(r->accept), "Accept: %s",
		 req->accept ? req->accept : "application/json");
	r->url = curl_url();
	if (!r->url)
		goto fail;
	if (curl_url_set(r->url, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
	    curl_url_get(r->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		*err = HTTP_CLIENT_ERR_INVALID;
		goto fail;
	}
	r->https = strcasecmp(scheme, "https") == 0;
	curl_free(scheme);
	return r;
fail:
	curl_free(scheme);
	http_request_free(r);
	return NULL;
}

char *http_request_origin(const struct http_request *r)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *key = NULL;
	size_t n;

	if (curl_url_get(r->url, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(r->url, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(r->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		n = strlen(scheme) + strlen(host) + strlen(port) + 5;
		key = malloc(n);
		if (key) {
			snprintf(key, n, "%s://%s:%s", scheme, host, port);
			for (char *p = key; *p; p++)
				*p = (char)ascii_lower((uint8_t)*p);
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return key;
}

/* ---- request ---- */

/* Appends "Authorization: Basic ..." to r->headers. The one temporary
 * holding the credentials is wiped. Returns 0 or a negative enum
 * http_client_error. */
static int add_basic_auth(struct http_request *r, const char *user, const char *pass)
{
	static const char name[] = "Authorization: ";
	size_t ul = strlen(user), pl = strlen(pass), cap;
	char *hdr;
	struct curl_slist *l = NULL;

	if (ul > HTTP_REQUEST_MAX_CREDENTIAL || pl > HTTP_REQUEST_MAX_CREDENTIAL)
		return HTTP_CLIENT_ERR_INVALID;
	/* "Basic " + base64 of at most 3 bytes per byte, ':' and a NUL. */
	cap = sizeof(name) + 6 + 4 * ((3 * (ul + pl) + 1) / 3 + 1);
	hdr = malloc(cap);
	if (!hdr)
		return HTTP_CLIENT_ERR_NOMEM;
	memcpy(hdr, name, sizeof(name) - 1);
	if (form_basic_auth(user, pass, hdr + sizeof(name) - 1, cap - (sizeof(name) - 1)) >= 0)
		l = curl_slist_append(r->headers, hdr);
	wipe_free(hdr, cap);
	if (!l)
		return HTTP_CLIENT_ERR_NOMEM;
	r->headers = l;
	return 0;
}

/* Appends "Authorization: Bearer <b>" to r->headers; the temporary is
 * wiped. Returns 0 or a negative enum http_client_error. */
static int add_bearer(struct http_request *r, struct slice b)
{
	static const char name[] = "Authorization: Bearer ";
	size_t cap = sizeof(name) + b.len;
	char *hdr = malloc(cap);
	struct curl_slist *l = NULL;

	if (!hdr)
		return HTTP_CLIENT_ERR_NOMEM;
	memcpy(hdr, name, sizeof(name) - 1);
	memcpy(hdr + sizeof(name) - 1, b.ptr, b.len);
	hdr[cap - 1] = '\0';
	l = curl_slist_append(r->headers, hdr);
	wipe_free(hdr, cap);
	if (!l)
		return HTTP_CLIENT_ERR_NOMEM;
	r->headers = l;
	return 0;
}

static int add_headers(struct http_request *r, const struct http_client_request *req)
{
	const char *const fixed[] = {
	    "Content-Type: application/x-www-form-urlencoded", r->accept,
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
	if (req->bearer.ptr)
		return add_bearer(r, req->bearer);
	return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_request *r = userdata;
	size_t n = size * nmemb, cap;
	uint8_t *nb;

	if (n > r->max_body - r->rlen) {
		r->too_big = true;
		return CURL_WRITEFUNC_ERROR;
	}
	if (r->rlen + n > r->rcap) {
		cap = r->rcap ? r->rcap : MIN_BODY_ALLOC;
		while (cap < r->rlen + n)
			cap *= 2;
		if (cap > r->max_body)
			cap = r->max_body;
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

/* Sets every option of the first hop. Returns 0 or a negative enum http_client_error. */
static int setup_easy(struct http_request *r, const struct http_request_limits *lim)
{
	CURL *e = r->easy;
	char *url = NULL;
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
	if (lim->ca_file)
		SET(CURLOPT_CAINFO, lim->ca_file);
	if (r->https)
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
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body);
#ifdef OAUTH2_SPOA_VERSION
	SET(CURLOPT_USERAGENT, "oauth2-spoa/" OAUTH2_SPOA_VERSION);
#else
	SET(CURLOPT_USERAGENT, "oauth2-spoa");
#endif
#undef SET
	if (rc != CURLE_OK)
		return rc == CURLE_OUT_OF_MEMORY ? HTTP_CLIENT_ERR_NOMEM : HTTP_CLIENT_ERR_INVALID;
	http_request_set_timeouts(r, (long)lim->timeout_ms);
	return 0;
}

int http_request_setup(struct http_request *r, const struct http_client_request *req,
		       const struct http_request_limits *lim)
{
	int err;

	r->max_body = lim->max_body;
	r->connect_timeout_ms = lim->connect_timeout_ms;
	r->body_len = req->body.len;
	r->body = malloc(r->body_len ? r->body_len : 1);
	if (!r->body)
		return HTTP_CLIENT_ERR_NOMEM;
	if (r->body_len)
		memcpy(r->body, req->body.ptr, r->body_len);
	r->easy = curl_easy_init();
	if (!r->easy)
		return HTTP_CLIENT_ERR_NOMEM;
	if ((err = add_headers(r, req)) != 0)
		return err;
	return setup_easy(r, lim);
}

void http_request_set_timeouts(struct http_request *r, long left_ms)
{
	long conn = (long)r->connect_timeout_ms;

	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, left_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, conn < left_ms ? conn : left_ms);
}

/* ---- response ---- */

static int map_curl_error(const struct http_request *r, CURLcode rc)
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

bool http_request_finish(struct http_request *r, CURLcode rc)
{
	char *ct = NULL;

	r->status = 0;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	r->content_type[0] = '\0';
	if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
	r->err = map_curl_error(r, rc);
	r->detail = r->errbuf;
	return r->err == HTTP_CLIENT_OK && (r->status == 307 || r->status == 308);
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

/* The absolute URL of <r>'s Location, if it may be followed: a NEW CURLU,
 * or NULL with *err and r->detail set. */
static CURLU *redirect_target(struct http_request *r, int *err)
{
	struct curl_header *loc;
	CURLU *next;

	*err = HTTP_CLIENT_ERR_REDIRECT;
	if (curl_easy_header(r->easy, "Location", 0, CURLH_HEADER, -1, &loc) != CURLHE_OK) {
		r->detail = "redirect without Location";
		return NULL;
	}
	/* Setting a relative URL on a copy of the current one resolves it. */
	next = curl_url_dup(r->url);
	if (!next) {
		*err = HTTP_CLIENT_ERR_NOMEM;
		return NULL;
	}
	if (curl_url_set(next, CURLUPART_URL, loc->value, 0) != CURLUE_OK)
		r->detail = "redirect to an invalid Location";
	else if (!same_part(r->url, next, CURLUPART_SCHEME, 0) ||
		 !same_part(r->url, next, CURLUPART_HOST, 0) ||
		 !same_part(r->url, next, CURLUPART_PORT, CURLU_DEFAULT_PORT))
		r->detail = "redirect to another origin";
	else if (has_part(next, CURLUPART_USER) || has_part(next, CURLUPART_PASSWORD))
		r->detail = "redirect with credentials in the URL";
	else
		return next;
	curl_url_cleanup(next);
	return NULL;
}

int http_request_redirect(struct http_request *r, long left_ms)
{
	CURLU *next;
	char *s = NULL;
	int err;

	next = redirect_target(r, &err);
	if (!next)
		return err;
	if (!left_ms) {
		r->detail = "timed out before the redirect";
		curl_url_cleanup(next);
		return HTTP_CLIENT_ERR_TIMEOUT;
	}
	if (curl_url_get(next, CURLUPART_URL, &s, 0) != CURLUE_OK ||
	    curl_easy_setopt(r->easy, CURLOPT_URL, s) != CURLE_OK) {
		curl_free(s);
		curl_url_cleanup(next);
		return HTTP_CLIENT_ERR_NOMEM;
	}
	curl_free(s);
	http_request_set_timeouts(r, left_ms);
	r->rlen = 0;
	r->too_big = false;
	r->errbuf[0] = '\0';
	curl_url_cleanup(r->url);
	r->url = next;
	return 0;
}

struct slice http_request_response_body(const struct http_request *r)
{
	return r->err == HTTP_CLIENT_OK ? slice_from(r->rbuf, r->rlen) : SLICE_NULL;
}

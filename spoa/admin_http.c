/* admin_http.c - see admin_http.h. */
#include "admin_http.h"

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "listener.h"
#include "log.h"
#include "purge.h"
#include "redis_config.h"

struct admin_http {
	struct MHD_Daemon *d;
	struct fleet *f;
	char *token; /* NULL: none required (unix socket) */
	char *path;  /* unix socket to unlink, or NULL */
	int fd;
};

/* One request's body, wiped when the request ends. */
struct body {
	size_t len;
	bool too_big;
	char buf[PURGE_MAX_BODY];
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *json)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (code == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate",
					"Bearer realm=\"oauth2-spoa-admin\"");
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static bool authorized(const struct admin_http *a, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	size_t tl;

	if (!a->token)
		return true;
	if (!h || strncmp(h, "Bearer ", 7))
		return false;
	h += 7;
	tl = strlen(a->token);
	return strlen(h) == tl && CRYPTO_memcmp(h, a->token, tl) == 0;
}

static enum MHD_Result purge(struct admin_http *a, struct MHD_Connection *c, struct body *b)
{
	struct purge_req r;
	struct fleet_result res;
	struct err e = {0};
	char out[256], redis[32];

	if (b->too_big)
		return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}");
	if (purge_parse_body(b->buf, b->len, &r, &e) < 0) {
		json_t *j = json_pack("{s:s}", "error", e.msg);
		char *txt = j ? json_dumps(j, 0) : NULL;
		enum MHD_Result rc = answer(c, MHD_HTTP_BAD_REQUEST, txt ? txt : "{}");

		free(txt);
		json_decref(j);
		return rc;
	}
	fleet_purge(a->f, &r, &res);
	log_info("purge by %s: %zu local entries, redis %lld, published %s",
		 r.kind == PURGE_TOKEN ? "token"
		 : r.kind == PURGE_SUB ? "sub"
		 : r.kind == PURGE_ALL ? "all"
				       : "client_id",
		 res.local, res.redis, res.published ? "yes" : "no");
	purge_req_clear(&r);
	if (res.redis < 0)
		snprintf(redis, sizeof(redis), "null");
	else
		snprintf(redis, sizeof(redis), "%lld", res.redis);
	snprintf(out, sizeof(out), "{\"local\":%zu,\"redis\":%s,\"published\":%s}\n", res.local,
		 redis, res.published ? "true" : "false");
	return answer(c, MHD_HTTP_OK, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct admin_http *a = cls;
	struct body *b = *state;

	(void)version;
	if (!b) {
		/* First call: headers only. Refuse before reading any body. */
		if (!authorized(a, c))
			return answer(c, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"unauthorized\"}");
		if (strcmp(url, "/purge"))
			return answer(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
		if (strcmp(method, "POST"))
			return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"POST only\"}");
		if (!(b = calloc(1, sizeof(*b))))
			return MHD_NO;
		*state = b;
		return MHD_YES;
	}
	if (*size) {
		if (*size > sizeof(b->buf) - b->len)
			b->too_big = true;
		else
			memcpy(b->buf + b->len, data, *size);
		if (!b->too_big)
			b->len += *size;
		*size = 0;
		return MHD_YES;
	}
	return purge(a, c, b);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode why)
{
	struct body *b = *state;

	(void)cls;
	(void)c;
	(void)why;
	if (b) {
		explicit_bzero(b, sizeof(*b));
		free(b);
		*state = NULL;
	}
}

struct admin_http *admin_http_start(const struct admin_config *ac, struct fleet *f, struct err *e)
{
	struct admin_http *a = calloc(1, sizeof(*a));
	bool is_unix = listener_is_unix(ac->address);

	if (!a)
		return err_set(e, 0, 0, "out of memory"), NULL;
	a->f = f;
	a->fd = -1;
	if ((ac->token && !(a->token = strdup(ac->token))) ||
	    (is_unix && !(a->path = strdup(ac->address + 5)))) {
		admin_http_stop(a);
		return err_set(e, 0, 0, "out of memory"), NULL;
	}
	a->fd = listener_open(ac->address, false, true, 0600, e);
	if (a->fd < 0) {
		admin_http_stop(a);
		return NULL;
	}
	a->d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				on_request, a, MHD_OPTION_LISTEN_SOCKET, a->fd,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNS,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!a->d) {
		admin_http_stop(a);
		return err_set(e, 0, 0, "cannot start the admin HTTP server"), NULL;
	}
	return a;
}

void admin_http_stop(struct admin_http *a)
{
	if (!a)
		return;
	if (a->d)
		MHD_stop_daemon(a->d);
	if (a->fd >= 0)
		close(a->fd);
	if (a->path)
		unlink(a->path);
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	free(a->path);
	free(a);
}

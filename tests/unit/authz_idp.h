/* authz_idp.h - the harness test_authz.c and test_authz_claims.c share: an
 * introspection server thread of this process (every token active, unless
 * told), one worker's decision module on its own loop (side_up(), ask()),
 * the shared state loaded from YAML (shared_up()), and policy and token
 * builders.
 *
 * Static functions, test code only: setup errors exit(2). The including
 * file defines nothing of these names, and creates <tmpdir> (mkdtemp)
 * before shared_up(). */
#ifndef OAUTH2_SPOA_AUTHZ_IDP_H
#define OAUTH2_SPOA_AUTHZ_IDP_H

#include "authz.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "http_client.h"
#include "jwt_fixture.h"
#include "log.h"
#include "mailbox.h"
#include "policy.h"
#include "stats.h"
#include "tap.h"
#include "tcache.h"

/* ---- an introspection server: every token is active, unless told ---- */

struct idp {
	int lfd, port;
	pthread_t th;
	atomic_int calls;
	atomic_int inactive; /* answer {"active":false} (a revoked token) */
};

static void *idp_main(void *arg)
{
	struct idp *s = arg;
	static const char active[] = "{\"active\":true,\"sub\":\"alice\",\"client_id\":\"svc\","
				     "\"scope\":\"read\",\"token_use\":\"access_token\"}";
	static const char inactive[] = "{\"active\":false}";
	char hdr[256], buf[8192];
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		size_t len = 0;
		ssize_t r;
		char *end = NULL;
		long clen = -1;
		const char *body;
		int n;

		/* Headers, then Content-Length bytes of form body. */
		while (len < sizeof(buf) - 1 &&
		       (r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0) {
			len += (size_t)r;
			buf[len] = '\0';
			if (!end && (end = strstr(buf, "\r\n\r\n"))) {
				char *cl = strcasestr(buf, "content-length:");

				clen = cl ? strtol(cl + 15, NULL, 10) : 0;
			}
			if (end && (long)(len - (size_t)(end + 4 - buf)) >= clen)
				break;
		}
		body = atomic_load(&s->inactive) ? inactive : active;
		atomic_fetch_add(&s->calls, 1);
		n = snprintf(hdr, sizeof(hdr),
			     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     strlen(body));
		(void)!send(fd, hdr, (size_t)n, MSG_NOSIGNAL);
		(void)!send(fd, body, strlen(body), MSG_NOSIGNAL);
		close(fd);
	}
	return NULL;
}

static void idp_start(struct idp *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->lfd, 64) < 0 || getsockname(s->lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("idp");
		exit(2);
	}
	s->port = ntohs(sa.sin_port);
	atomic_init(&s->calls, 0);
	atomic_init(&s->inactive, 0);
	pthread_create(&s->th, NULL, idp_main, s);
}

static void idp_stop(struct idp *s)
{
	shutdown(s->lfd, SHUT_RDWR); /* ends the blocking accept() */
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* ---- one worker's decision module on its own loop ---- */

struct answer {
	int n;
	struct verdict v;
};

static void on_done(void *arg, const struct authz_ticket *t, struct verdict *v)
{
	struct answer *a = arg;

	(void)t;
	verdict_release(&a->v);
	a->v = *v;
	a->n++;
}

struct side {
	struct mailbox *mb;
	struct ev_loop *loop;
	struct authz *az;
	struct answer ans;
};

static struct authz_shared *sh;
static struct stats *st;
static char tmpdir[64];

static void side_up(struct side *s, int index)
{
	(void)index;
	memset(s, 0, sizeof(*s));
	s->loop = ev_loop_new(EVFLAG_AUTO);
	/* Never started: what other workers post waits for mailbox_free(). */
	s->mb = s->loop ? mailbox_new(s->loop, NULL, NULL) : NULL;
	s->az = s->mb ? authz_setup_worker(sh, s->mb, s->loop, on_done, &s->ans) : NULL;
	if (!s->az) {
		fprintf(stderr, "cannot set up a worker\n");
		exit(2);
	}
}

static void side_down(struct side *s)
{
	authz_free(s->az);
	mailbox_free(s->mb); /* runs what other workers posted to it */
	ev_loop_destroy(s->loop);
	verdict_release(&s->ans.v);
}

/* Loads <yaml> (policies) with <cfg> (the agent's config file) as the shared
 * state: authz_shared_new() takes the set. */
static void shared_up(const char *cfg, const char *yaml)
{
	char path[128];
	const char *pv[1] = {path};
	struct policy_set *set = NULL;
	struct config c;
	struct err e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f || fputs(yaml, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
	if (config_parse(cfg, strlen(cfg), "c.yaml", &c, &e) < 0 ||
	    policy_set_load(pv, 1, &set, &e) < 0) {
		fprintf(stderr, "setup: %d:%d: %s\n", e.line, e.col, e.msg);
		exit(2);
	}
	st = stats_new();
	sh = st ? authz_shared_new(&c, set, st) : NULL;
	config_free(&c);
	if (!sh) {
		fprintf(stderr, "authz_shared_new failed\n");
		exit(2);
	}
}

static void shared_down(void)
{
	authz_shared_free(sh);
	stats_free(st);
	sh = NULL;
	st = NULL;
}

/* Decides one request; an answer that waits is awaited on the side's loop
 * (bounded). Returns the verdict (valid until the next call on <s>). */
static const struct verdict *ask(struct side *s, const char *route, const char *token)
{
	char auth[2048];
	struct authz_req rq = {.method = SLICE_LIT("GET"),
			       .path = SLICE_LIT("/x"),
			       .host = SLICE_LIT("h"),
			       .route = slice_str(route)};
	struct authz_ticket t = {.conn_id = 1, .stream_id = 1, .frame_id = 1};
	struct verdict v;
	int before = s->ans.n;

	if (token) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		rq.authorization = slice_str(auth);
	}
	if (authz_decide(s->az, &rq, &t, &v) == 1) {
		verdict_release(&s->ans.v);
		s->ans.v = v;
		return &s->ans.v;
	}
	for (int i = 0; i < 2000 && s->ans.n == before; i++)
		ev_run(s->loop, EVRUN_ONCE);
	if (s->ans.n == before) {
		fprintf(stderr, "no answer within the bound\n");
		exit(2);
	}
	return &s->ans.v;
}

static void expect(const struct verdict *v, bool allowed, int status, const char *reason,
		   const char *policy, const char *what)
{
	ok(v->allowed == allowed, what);
	is_int(v->status, status, what);
	is_str(v->reason, reason, what);
	is_str(v->policy, policy, what);
}

/* ---- policies ---- */

static char *policy(char *dst, size_t n, const char *name, const char *route, const char *mode,
		    const char *url, const char *extra)
{
	snprintf(dst, n,
		 "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: %s}\n"
		 "spec:\n  mode: %s\n  applyToRoutes:\n  - route: {labels: {route: %s}}\n"
		 "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
		 "          accessTokenValidation:\n            introspectionUrl: %s\n%s",
		 name, mode, route, url, extra);
	return dst;
}

/* ---- tokens ---- */

/* An ES256 access token signed by <k> as <kid>, expiring <exp_in> s from
 * now. Its "sub" differs from the IdP's ("alice"): the verdict shows whose
 * claims decided. Returns a malloc'd token. */
static char *jwt_token(EVP_PKEY *k, const char *kid, const char *jti, long exp_in,
		       const char *scope)
{
	char hdr[128], pl[512];
	long now = (long)time(NULL);

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", kid);
	snprintf(pl, sizeof(pl),
		 "{\"iss\":\"https://idp.test\",\"sub\":\"alice-jwt\",\"client_id\":\"svc\","
		 "\"scope\":\"%s\",\"jti\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
		 scope, jti, now - 10, now + exp_in);
	return fx_sign(k, "ES256", hdr, pl, NULL);
}

#endif

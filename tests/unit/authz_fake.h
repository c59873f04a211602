/* authz_fake.h - a fake clock and a fake HTTP client for the decision
 * module's unit tests (test_authz_answer.c, test_authz_pipeline.c,
 * test_authz_fetch.c), and the harness around authz.h they share.
 *
 * The seams are link-time only, so production code has none: the binaries
 * are linked with -Wl,--wrap= for ev_now (a real function in libev when
 * EV_MULTIPLICITY, as Debian builds it) and for the http_client.h entry
 * points the decision module calls (see the Makefile). So:
 *   - time is fk.now, moved by the test, never the wall clock;
 *   - an introspection POST (or a userinfo GET) is queued, not sent; the test answers it when
 *     it chooses (fake_answer(), fake_settle()), through fk.respond, from
 *     outside authz_decide() as a real loop would;
 *   - every worker runs on the test's thread, each with its own loop and a
 *     started mailbox, pumped by fake_settle().
 * Only authz.h, http_client.h and mailbox.h are used: the tests hold
 * whatever the pipeline's internals become.
 *
 * Static functions, test code only: setup errors exit(2). */
#ifndef OAUTH2_SPOA_AUTHZ_FAKE_H
#define OAUTH2_SPOA_AUTHZ_FAKE_H

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"
#include "config.h"
#include "http_client.h"
#include "log.h"
#include "mailbox.h"
#include "policy.h"
#include "stats.h"
#include "tap.h"
#include "tcache.h"

#define FAKE_MAX_CALLS 64 /* introspection calls pending at once */
#define FAKE_MAX_REQ   64 /* requests per worker, indexed by ticket frame_id */
#define FAKE_MAX_SIDES 4
#define FAKE_T0	       1800000000.0 /* the clock's start: a plausible epoch time */

/* ---- the fake HTTP client ---- */

struct http_client {
	struct ev_loop *loop;
};

struct fake_call {
	struct http_client *hc;
	http_client_done_cb cb;
	void *arg;
	char url[128];
	char token[256]; /* the form body's token= value (tests use unreserved bytes),
			  * or a GET's bearer credential (the userinfo call) */
	bool get;
};

struct fake_reply {
	int err;		  /* HTTP_CLIENT_OK or a negative enum http_client_error */
	long status;		  /* 200 unless err */
	const char *body;	  /* JSON, NUL-terminated */
	const char *content_type; /* NULL: "application/json" */
};

struct side;

static struct fake {
	double now;
	struct fake_call *pending[FAKE_MAX_CALLS];
	size_t npending;
	unsigned posts;	  /* accepted POSTs since the start */
	int refuse;	  /* nonzero: http_client_post() returns it */
	unsigned clients; /* http_client_new() minus http_client_free() */
	struct side *sides[FAKE_MAX_SIDES];
	/* How a call is answered; NULL: every token active, scope "read". */
	void (*respond)(const struct fake_call *c, struct fake_reply *r);
} fk = {.now = FAKE_T0};

double __wrap_ev_now(struct ev_loop *loop);
double __wrap_ev_now(struct ev_loop *loop)
{
	(void)loop;
	return fk.now;
}

struct http_client *__wrap_http_client_new(struct ev_loop *loop,
					   const struct http_client_options *opt);
struct http_client *__wrap_http_client_new(struct ev_loop *loop,
					   const struct http_client_options *opt)
{
	struct http_client *hc = calloc(1, sizeof(*hc));

	(void)opt;
	if (hc) {
		hc->loop = loop;
		fk.clients++;
	}
	return hc;
}

int __wrap_http_client_post(struct http_client *hc, const struct http_client_request *req,
			    http_client_done_cb cb, void *arg);
int __wrap_http_client_post(struct http_client *hc, const struct http_client_request *req,
			    http_client_done_cb cb, void *arg)
{
	struct fake_call *c;
	const char *b = (const char *)req->body.ptr;
	size_t n = 0;

	if (fk.refuse)
		return fk.refuse;
	if (fk.npending == FAKE_MAX_CALLS || !(c = calloc(1, sizeof(*c)))) {
		fprintf(stderr, "fake http: too many calls\n");
		exit(2);
	}
	c->hc = hc;
	c->cb = cb;
	c->arg = arg;
	snprintf(c->url, sizeof(c->url), "%s", req->url);
	c->get = req->get;
	if (req->bearer.ptr)
		snprintf(c->token, sizeof(c->token), "%.*s", (int)req->bearer.len,
			 (const char *)req->bearer.ptr);
	if (req->body.len > 6 && memcmp(b, "token=", 6) == 0)
		while (6 + n < req->body.len && b[6 + n] != '&' && n < sizeof(c->token) - 1) {
			c->token[n] = b[6 + n];
			n++;
		}
	fk.pending[fk.npending++] = c;
	fk.posts++;
	return 0;
}

/* Takes pending call <i> out of the queue. */
static inline struct fake_call *fake_take(size_t i)
{
	struct fake_call *c = fk.pending[i];

	memmove(&fk.pending[i], &fk.pending[i + 1], (fk.npending - i - 1) * sizeof(fk.pending[0]));
	fk.npending--;
	return c;
}

static inline void fake_complete(struct fake_call *c, const struct fake_reply *r)
{
	struct http_client_response res = {.err = r->err,
					   .status = r->err ? 0 : r->status,
					   .body = slice_str(r->err ? "" : r->body),
					   .detail = "",
					   .content_type = r->err	     ? ""
							   : r->content_type ? r->content_type
									     : "application/json"};

	c->cb(&res, c->arg);
	free(c);
}

void __wrap_http_client_cancel_all(struct http_client *hc);
void __wrap_http_client_cancel_all(struct http_client *hc)
{
	static const struct fake_reply cancelled = {.err = HTTP_CLIENT_ERR_CANCELLED};

	for (size_t i = 0; i < fk.npending;)
		if (fk.pending[i]->hc == hc)
			fake_complete(fake_take(i), &cancelled);
		else
			i++;
}

void __wrap_http_client_free(struct http_client *hc);
void __wrap_http_client_free(struct http_client *hc)
{
	if (!hc)
		return;
	for (size_t i = 0; i < fk.npending;)
		if (fk.pending[i]->hc == hc)
			free(fake_take(i)); /* without a callback, as the real one */
		else
			i++;
	fk.clients--;
	free(hc);
}

#define ACTIVE_READ                                                                                \
	"{\"active\":true,\"sub\":\"alice\",\"client_id\":\"svc\",\"scope\":\"read\","             \
	"\"token_use\":\"access_token\"}"
#define INACTIVE "{\"active\":false}"

/* Answers pending call <i> through fk.respond. */
static inline void fake_answer(size_t i)
{
	struct fake_call *c = fake_take(i);
	struct fake_reply r = {.status = 200, .body = ACTIVE_READ};

	if (fk.respond)
		fk.respond(c, &r);
	fake_complete(c, &r);
}

/* Answers pending call <i> with transport error <err> (a failed fetch). */
static inline void fake_fail(size_t i, int err)
{
	struct fake_reply r = {.err = err};

	fake_complete(fake_take(i), &r);
}

/* ---- workers: one decision module, loop and started mailbox each ---- */

struct side {
	struct mailbox *mb;
	struct ev_loop *loop;
	struct authz *az;
	int answers;			/* done callbacks, all requests */
	int times[FAKE_MAX_REQ];	/* per request: immediate or done answers */
	struct verdict v[FAKE_MAX_REQ]; /* per request: the last answer */
};

static inline void side_done(void *arg, const struct authz_ticket *t, struct verdict *v)
{
	struct side *s = arg;
	unsigned id = (unsigned)t->frame_id % FAKE_MAX_REQ;

	verdict_release(&s->v[id]);
	s->v[id] = *v;
	s->times[id]++;
	s->answers++;
}

static struct authz_shared *sh;
static struct stats *st;
static char tmpdir[64];

static inline void side_up(struct side *s)
{
	size_t i = 0;

	memset(s, 0, sizeof(*s));
	s->loop = ev_loop_new(EVFLAG_AUTO);
	s->mb = s->loop ? mailbox_new(s->loop, NULL, NULL) : NULL;
	if (s->mb)
		mailbox_start(s->mb);
	s->az = s->mb ? authz_setup_worker(sh, s->mb, s->loop, side_done, s) : NULL;
	while (i < FAKE_MAX_SIDES && fk.sides[i])
		i++;
	if (!s->az || i == FAKE_MAX_SIDES) {
		fprintf(stderr, "cannot set up a worker\n");
		exit(2);
	}
	fk.sides[i] = s;
}

/* The worker's loop runs what other workers posted to its mailbox. */
static inline void side_pump(struct side *s)
{
	for (int i = 0; i < 4; i++)
		ev_run(s->loop, EVRUN_NOWAIT);
}

/* Frees the worker's module only (the worker thread shutting down); the
 * loop and mailbox stay for what others still post (side_down()). */
static inline void side_free_module(struct side *s)
{
	authz_free(s->az);
	s->az = NULL;
}

static inline void side_down(struct side *s)
{
	side_free_module(s);
	mailbox_stop(s->mb);
	mailbox_free(s->mb); /* runs what other workers posted to it */
	ev_loop_destroy(s->loop);
	for (size_t i = 0; i < FAKE_MAX_REQ; i++)
		verdict_release(&s->v[i]);
	for (size_t i = 0; i < FAKE_MAX_SIDES; i++)
		if (fk.sides[i] == s)
			fk.sides[i] = NULL;
}

/* Answers every pending call and pumps every worker until nothing moves
 * (bounded). */
static inline void fake_settle(void)
{
	for (int round = 0; round < 16; round++) {
		while (fk.npending)
			fake_answer(0);
		for (size_t i = 0; i < FAKE_MAX_SIDES; i++)
			if (fk.sides[i])
				side_pump(fk.sides[i]);
	}
}

/* Submits request <id> on <s>; an immediate answer is stored like a late
 * one. <route> NULL sends no route argument; <auth> NULL no Authorization.
 * Returns authz_decide()'s result. */
static inline int submit_path(struct side *s, unsigned id, const char *route, const char *path,
			      const char *auth)
{
	struct authz_req rq = {.method = SLICE_LIT("GET"),
			       .path = slice_str(path),
			       .host = SLICE_LIT("h"),
			       .route = route ? slice_str(route) : SLICE_NULL,
			       .authorization = auth ? slice_str(auth) : SLICE_NULL};
	struct authz_ticket t = {.conn_id = 1, .stream_id = 1, .frame_id = id, .started = fk.now};
	struct verdict v;
	int rc = authz_decide(s->az, &rq, &t, &v);

	if (rc == 1) {
		verdict_release(&s->v[id % FAKE_MAX_REQ]);
		s->v[id % FAKE_MAX_REQ] = v;
		s->times[id % FAKE_MAX_REQ]++;
	}
	return rc;
}

/* "Bearer <token>" in a static buffer per call site's use (NULL: none). */
static inline const char *bearer(char *buf, size_t n, const char *token)
{
	if (!token)
		return NULL;
	snprintf(buf, n, "Bearer %s", token);
	return buf;
}

static inline int submit(struct side *s, unsigned id, const char *route, const char *token)
{
	char auth[512];

	return submit_path(s, id, route, "/x", bearer(auth, sizeof(auth), token));
}

/* Decides one request to the end: answers the calls it makes. It uses the
 * upper half of the request ids, so tests keep the lower half for submit(). */
static inline const struct verdict *ask(struct side *s, const char *route, const char *token)
{
	static unsigned next_id;
	unsigned id = FAKE_MAX_REQ / 2 + next_id++ % (FAKE_MAX_REQ / 2);
	int before = s->times[id];

	submit(s, id, route, token);
	fake_settle();
	if (s->times[id] != before + 1) {
		fprintf(stderr, "request %u answered %d times\n", id, s->times[id] - before);
		exit(2);
	}
	return &s->v[id];
}

/* ---- the shared state, from YAML ---- */

static inline void fake_init(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(2);
	}
	log_set_level(LOG_LVL_ERROR); /* decision lines are not what is tested */
}

static inline void fake_cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/p.yaml", tmpdir);
	unlink(p);
	rmdir(tmpdir);
}

/* Loads <yaml> under config <cfg> into *c and *set (exit(2) on error). */
static inline void load(const char *cfg, const char *yaml, struct config *c,
			struct policy_set **set)
{
	char path[128];
	const char *pv[1] = {path};
	struct err e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f || fputs(yaml, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
	*set = NULL;
	if (config_parse(cfg, strlen(cfg), "c.yaml", c, &e) < 0 ||
	    policy_set_load(pv, 1, set, &e) < 0) {
		fprintf(stderr, "setup: %d:%d: %s\n", e.line, e.col, e.msg);
		exit(2);
	}
}

static inline void shared_up(const char *cfg, const char *yaml)
{
	struct policy_set *set;
	struct config c;

	load(cfg, yaml, &c, &set);
	st = stats_new();
	sh = st ? authz_shared_new(&c, set, st) : NULL;
	config_free(&c);
	if (!sh) {
		fprintf(stderr, "authz_shared_new failed\n");
		exit(2);
	}
}

/* A reload: the new policies become the current snapshot. */
static inline void shared_publish(const char *cfg, const char *yaml)
{
	struct policy_set *set;
	struct config c;
	int rc;

	load(cfg, yaml, &c, &set);
	rc = authz_shared_publish(sh, &c, set);
	config_free(&c);
	if (rc < 0) {
		fprintf(stderr, "authz_shared_publish failed\n");
		exit(2);
	}
}

static inline void shared_down(void)
{
	authz_shared_free(sh);
	stats_free(st);
	sh = NULL;
	st = NULL;
	fk.respond = NULL;
	fk.refuse = 0;
	fk.now = FAKE_T0;
}

/* A policy selecting the routes labelled <route> (and <route2> when not
 * NULL), introspecting at <url>; <extra> adds lines under
 * accessTokenValidation (12 spaces of indent). Returns <dst>. */
static inline char *policy2(char *dst, size_t n, const char *name, const char *mode,
			    const char *route, const char *route2, const char *url,
			    const char *extra)
{
	char r2[128] = "";

	if (route2)
		snprintf(r2, sizeof(r2), "  - route: {labels: {route: %s}}\n", route2);
	snprintf(dst, n,
		 "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: %s}\n"
		 "spec:\n  mode: %s\n  applyToRoutes:\n  - route: {labels: {route: %s}}\n%s"
		 "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
		 "          accessTokenValidation:\n            introspectionUrl: %s\n%s",
		 name, mode, route, r2, url, extra);
	return dst;
}

static inline char *policy(char *dst, size_t n, const char *name, const char *route,
			   const char *extra)
{
	return policy2(dst, n, name, "enforce", route, NULL, "http://idp.test/introspect", extra);
}

#define PUBLIC(name, route)                                                                        \
	"---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: " name "}\n"       \
	"spec:\n  applyToRoutes:\n  - route: {labels: {route: " route "}}\n"                       \
	"  config: {public: true}\n"

/* One check for a whole verdict, with the difference printed. */
static inline bool verdict_is(const struct verdict *v, bool allowed, int status, const char *reason,
			      const char *policy_name, const char *what)
{
	bool same = v->allowed == allowed && v->status == status && v->reason &&
		    strcmp(v->reason, reason) == 0 && strcmp(v->policy, policy_name) == 0;

	if (!ok(same, what))
		printf("#   got %s %d %s policy \"%s\"; want %s %d %s policy \"%s\"\n",
		       v->allowed ? "allow" : "deny", v->status, v->reason ? v->reason : "(null)",
		       v->policy, allowed ? "allow" : "deny", status, reason, policy_name);
	return same;
}

#endif

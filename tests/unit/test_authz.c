/* test_authz.c - the decision pipeline (authz.c) with real policies, a real
 * token cache, real workers' mailboxes and a real HTTP client talking to an
 * introspection server thread of this process.
 *
 * Pins: public routes under defaultDecision deny, shadow-only routes staying
 * denied under it, too_many_policies (never an
 * unseen enforcing policy ignored), a policy's cacheTimeout applying to its
 * own requests when another policy shares the endpoint, and a single-flight
 * waiter never touched after its worker freed it at shutdown.
 *
 * The shutdown race needs an exact interleaving: another worker's fetch
 * dequeues the waiter (tcache_complete) and only then hands it the result.
 * The binary is linked with -Wl,--wrap=tcache_complete (see the Makefile) so
 * that the test can free the waiter's worker module right in between, as a
 * worker thread shutting down at that moment would. */
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
#include "prom.h"
#include "stats.h"
#include "tap.h"
#include "tcache.h"

/* ---- an introspection server: every token is active ---- */

struct idp {
	int lfd, port;
	pthread_t th;
	atomic_int calls;
};

static void *idp_main(void *arg)
{
	struct idp *s = arg;
	static const char body[] = "{\"active\":true,\"sub\":\"alice\",\"client_id\":\"svc\","
				   "\"scope\":\"read\",\"token_use\":\"access_token\"}";
	char hdr[256], buf[8192];
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		size_t len = 0;
		ssize_t r;
		char *end = NULL;
		long clen = -1;
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
		atomic_fetch_add(&s->calls, 1);
		n = snprintf(hdr, sizeof(hdr),
			     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     sizeof(body) - 1);
		(void)!send(fd, hdr, (size_t)n, MSG_NOSIGNAL);
		(void)!send(fd, body, sizeof(body) - 1, MSG_NOSIGNAL);
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

static bool metric(const char *needle)
{
	struct prom_buf b = {0};
	bool found;

	stats_render(st, &b);
	found = b.p && strstr(b.p, needle);
	prom_free(&b);
	return found;
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

#define PUBLIC(name, route)                                                                        \
	"---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: " name "}\n"       \
	"spec:\n  applyToRoutes:\n  - route: {labels: {route: " route "}}\n"                       \
	"  config: {public: true}\n"

static void test_public_and_default_deny(const char *url)
{
	char yaml[4096], one[1024];
	struct side a;

	snprintf(yaml, sizeof(yaml), "%s%s%s", PUBLIC("health", "health"),
		 policy(one, sizeof(one), "ratings", "ratings", "enforce", url, ""),
		 PUBLIC("ratings-public", "ratings"));
	shared_up("defaultDecision: deny\n", yaml);
	side_up(&a, 0);
	expect(ask(&a, "other", NULL), false, 403, "no_policy", "", "unselected route: 403");
	expect(ask(&a, "health", NULL), true, 200, "public_route", "health",
	       "public route, no token: 200");
	expect(ask(&a, "health", "anything"), true, 200, "public_route", "health",
	       "public route ignores a token");
	expect(ask(&a, "ratings", NULL), false, 401, "missing_token", "ratings",
	       "a public policy never weakens an enforcing one");
	expect(ask(&a, "ratings", "tok-1"), true, 200, "ok", "ratings", "protected, valid token");
	ok(metric("policy=\"health\",reason=\"public_route\",mode=\"enforce\"} 2"),
	   "public_route is counted");
	side_down(&a);
	shared_down();
}

/* Shadow policies never change the enforced answer: under defaultDecision
 * deny, a route that only shadow policies select stays denied (no_policy),
 * whether they would refuse or pass; their outcome is still counted. With a
 * public policy beside them, or under defaultDecision allow, it is allowed. */
static void test_shadow_only_default_deny(const char *url)
{
	char yaml[8192], p1[1024], p2[1024], p3[1024];
	struct side a;

	snprintf(yaml, sizeof(yaml), "%s%s%s%s",
		 policy(p1, sizeof(p1), "stage", "staged", "shadow", url,
			"            requiredScopes: [write]\n"),
		 policy(p2, sizeof(p2), "stage-ok", "stageok", "shadow", url, ""),
		 policy(p3, sizeof(p3), "stage-pub", "pub", "shadow", url, ""),
		 PUBLIC("pub", "pub"));
	shared_up("defaultDecision: deny\n", yaml);
	side_up(&a, 0);
	expect(ask(&a, "staged", NULL), false, 403, "no_policy", "",
	       "shadow only, no token, default deny: 403");
	expect(ask(&a, "staged", "tok-1"), false, 403, "no_policy", "",
	       "shadow only, would refuse, default deny: 403");
	expect(ask(&a, "stageok", "tok-1"), false, 403, "no_policy", "",
	       "shadow only, would pass, default deny: 403");
	ok(a.ans.v.claims == NULL, "a denied answer carries no identity");
	expect(ask(&a, "stageok", "tok-1"), false, 403, "no_policy", "", "the same from the cache");
	ok(metric("policy=\"stage\",reason=\"insufficient_scope\",mode=\"shadow\"} 1"),
	   "the shadow outcome is still counted");
	expect(ask(&a, "pub", NULL), true, 200, "shadow:missing_token", "stage-pub",
	       "shadow beside a public policy: allowed");
	side_down(&a);
	shared_down();

	shared_up("defaultDecision: allow\n", yaml);
	side_up(&a, 0);
	expect(ask(&a, "staged", NULL), true, 200, "shadow:missing_token", "stage",
	       "shadow only, default allow: allowed");
	side_down(&a);
	shared_down();
}

/* A purge by token evicts the keys of the policies that cache: a public
 * policy has none, so it must not take one of the PURGE_MAX_KEYS slots. */
static void test_token_keys_skip_public(const char *url)
{
	char yaml[4096], one[1024];
	uint8_t keys[8][TCACHE_KEY_LEN];

	snprintf(yaml, sizeof(yaml), "%s%s", PUBLIC("health", "health"),
		 policy(one, sizeof(one), "ratings", "ratings", "enforce", url, ""));
	shared_up("", yaml);
	is_int((int)authz_shared_token_keys(sh, SLICE_LIT("tok-1"), keys, 8), 1,
	       "token keys: one per caching identity, none for a public policy");
	shared_down();
}

/* 32 shadow policies and one enforcing policy all select route=r: with the
 * limit at 32, the enforcing one is the unseen one. */
static void test_too_many(const char *url)
{
	static char yaml[64 * 1024];
	char one[1024], name[16];
	size_t len = 0;
	struct side a;

	for (int i = 0; i < 33; i++) {
		snprintf(name, sizeof(name), "p%02d", i);
		len += (size_t)snprintf(
		    yaml + len, sizeof(yaml) - len, "%s",
		    policy(one, sizeof(one), name, "r", i < 32 ? "shadow" : "enforce", url, ""));
	}
	shared_up("", yaml);
	side_up(&a, 0);
	expect(ask(&a, "r", NULL), false, 500, "too_many_policies", "",
	       "33 policies: denied, not a shadow allow");
	expect(ask(&a, "r", "tok-1"), false, 500, "too_many_policies", "",
	       "also with a valid token");
	ok(metric("policy=\"\",reason=\"too_many_policies\",mode=\"enforce\"} 2"),
	   "too_many_policies is counted");
	side_down(&a);
	shared_down();
}

/* Two policies share one endpoint; one caches for 10m, one says
 * cacheTimeout: 0. */
static void test_cache_timeout(struct idp *idp, const char *url)
{
	char yaml[4096], p1[1024], p2[1024];
	struct side a;
	int base;

	snprintf(yaml, sizeof(yaml), "%s%s",
		 policy(p1, sizeof(p1), "cached", "cached", "enforce", url,
			"            cacheTimeout: 10m\n"),
		 policy(p2, sizeof(p2), "fresh", "fresh", "enforce", url,
			"            cacheTimeout: 0\n"));
	shared_up("", yaml);
	side_up(&a, 0);
	base = atomic_load(&idp->calls);
	expect(ask(&a, "cached", "tok-c"), true, 200, "ok", "cached", "cached route, first call");
	expect(ask(&a, "cached", "tok-c"), true, 200, "ok", "cached", "cached route, again");
	is_int(atomic_load(&idp->calls) - base, 1, "the 10m policy caches");
	expect(ask(&a, "fresh", "tok-c"), true, 200, "ok", "fresh", "cacheTimeout 0 route");
	is_int(atomic_load(&idp->calls) - base, 2,
	       "cacheTimeout: 0 asks the IdP although the other policy cached the token");
	expect(ask(&a, "fresh", "tok-c"), true, 200, "ok", "fresh", "cacheTimeout 0 route, again");
	is_int(atomic_load(&idp->calls) - base, 3, "and asks it every time");
	expect(ask(&a, "cached", "tok-c"), true, 200, "ok", "cached", "cached route, third call");
	is_int(atomic_load(&idp->calls) - base, 3, "while the 10m policy still hits");
	side_down(&a);
	shared_down();
}

/* ---- claims to variables ---- */

/* The value a verdict sends for mapped variable <name>: the first source
 * that maps it, as verdict_encode() does. */
static const char *mapped(const struct verdict *v, const char *name)
{
	const struct claims *src[1 + VERDICT_MAX_MORE] = {v->claims};

	for (unsigned i = 0; i < v->n_more; i++)
		src[1 + i] = v->more[i];
	for (unsigned k = 0; k < 1 + v->n_more; k++)
		for (size_t i = 0; src[k] && src[k]->mapped && i < src[k]->mapped->n; i++)
			if (!strcmp(src[k]->mapped->v[i].name, name))
				return src[k]->mapped->v[i].value;
	return NULL;
}

static void test_claims_to_variables(struct idp *idp, const char *url)
{
	char yaml[8192], p1[1024], p2[1024], p3[1024], p4[1024];
	struct side a;
	int base;
	const struct verdict *v;

	snprintf(yaml, sizeof(yaml),
		 "%s%s%s%s"
		 "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: uid}\n"
		 "spec:\n  applyToRoutes:\n  - route: {labels: {route: uid}}\n"
		 "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
		 "          accessTokenValidation:\n            introspection:\n"
		 "              introspectionUrl: %s\n"
		 "              userIdAttributeName: client_id\n",
		 policy(p1, sizeof(p1), "m1", "m", "enforce", url,
			"            dynamicMetadataFromClaims: {client_id: cid, sub: who}\n"),
		 policy(p2, sizeof(p2), "m2", "m", "enforce", url,
			"            dynamicMetadataFromClaims: {scope: cid, token_use: tu}\n"),
		 policy(p3, sizeof(p3), "same", "same", "enforce", url,
			"            dynamicMetadataFromClaims: {sub: who, client_id: cid}\n"),
		 policy(p4, sizeof(p4), "plain", "plain", "enforce", url, ""), url);
	shared_up("", yaml);
	side_up(&a, 0);
	base = atomic_load(&idp->calls);
	v = ask(&a, "m", "tok-m");
	expect(v, true, 200, "ok", "m1", "two mapping policies allow");
	is_int(atomic_load(&idp->calls) - base, 2, "different mappings: one call each");
	is_str(mapped(v, "cid"), "svc", "a name both map: the first policy's claim");
	is_str(mapped(v, "who"), "alice", "the first policy's other claim");
	is_str(mapped(v, "tu"), "access_token", "and the second policy's");
	v = ask(&a, "m", "tok-m");
	is_int(atomic_load(&idp->calls) - base, 2, "the second request hits the cache");
	ok(mapped(v, "cid") && !strcmp(mapped(v, "cid"), "svc") && mapped(v, "who") &&
	       !strcmp(mapped(v, "who"), "alice") && mapped(v, "tu"),
	   "a hit sends the same variables as the miss");
	v = ask(&a, "same", "tok-m");
	is_int(atomic_load(&idp->calls) - base, 2, "the same mapping (in another order) shares it");
	is_str(mapped(v, "who"), "alice", "with its variables");
	v = ask(&a, "plain", "tok-m");
	is_int(atomic_load(&idp->calls) - base, 3, "no mapping: its own cache entry");
	ok(v->allowed && v->claims && !v->claims->mapped && !mapped(v, "cid"),
	   "and no mapped variable");
	v = ask(&a, "uid", "tok-m");
	ok(v->allowed && v->claims && v->claims->sub && !strcmp(v->claims->sub, "svc"),
	   "userIdAttributeName: client_id becomes the subject");
	side_down(&a);
	shared_down();
}

/* A jwt policy maps claims of the verified payload, on a miss and a hit. */
static void test_jwt_claims(void)
{
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *k = fx_jwk(ec, "e1", ""), yaml[8192], pay[512], *tok;
	long long now = (long long)time(NULL);
	struct side a;
	const struct verdict *v;

	snprintf(yaml, sizeof(yaml),
		 "---\napiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: j}\n"
		 "spec:\n  applyToRoutes:\n  - route: {labels: {route: j}}\n"
		 "  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"
		 "          accessTokenValidation:\n            jwt:\n"
		 "              issuer: https://idp.test/\n"
		 "              localJwks: {inlineString: '{\"keys\":[%s]}'}\n"
		 "            dynamicMetadataFromClaims: {realm_access.roles: roles, "
		 "ext.tenant: tenant}\n",
		 k);
	snprintf(pay, sizeof(pay),
		 "{\"iss\":\"https://idp.test/\",\"sub\":\"alice\",\"iat\":%lld,\"exp\":%lld,"
		 "\"realm_access\":{\"roles\":[\"a\",\"b\"]},\"ext\":{\"tenant\":7}}",
		 now - 10, now + 300);
	tok = fx_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}", pay,
		      NULL);
	shared_up("", yaml);
	side_up(&a, 0);
	v = ask(&a, "j", tok);
	expect(v, true, 200, "ok", "j", "a jwt policy allows");
	is_str(mapped(v, "roles"), "a,b", "its payload's nested roles");
	is_str(mapped(v, "tenant"), "7", "a nested number as text");
	v = ask(&a, "j", tok);
	ok(v->allowed && mapped(v, "roles") && !strcmp(mapped(v, "roles"), "a,b") &&
	       mapped(v, "tenant"),
	   "a cache hit of a jwt result: the same variables");
	side_down(&a);
	shared_down();
	free(tok);
	free(k);
	EVP_PKEY_free(ec);
}

/* ---- the single-flight shutdown race ---- */

struct tcache_waiter *__real_tcache_complete(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
					     struct claims *c, double ttl, double now);

static struct authz *free_in_complete; /* freed right after the waiters are dequeued */

struct tcache_waiter *__wrap_tcache_complete(struct tcache *tc, const uint8_t key[TCACHE_KEY_LEN],
					     struct claims *c, double ttl, double now)
{
	struct tcache_waiter *w = __real_tcache_complete(tc, key, c, ttl, now);

	if (free_in_complete) {
		authz_free(free_in_complete); /* the waiter's worker shuts down now */
		free_in_complete = NULL;
	}
	return w;
}

static void test_waiter_after_owner_freed(void)
{
	char one[1024];
	struct side a, b;
	struct authz_req rq = {.method = SLICE_LIT("GET"),
			       .path = SLICE_LIT("/x"),
			       .host = SLICE_LIT("h"),
			       .route = SLICE_LIT("r"),
			       .authorization = SLICE_LIT("Bearer shared-token")};
	struct authz_ticket t = {.conn_id = 7, .stream_id = 1, .frame_id = 1};
	struct verdict v;
	struct tcache_stats ts;

	/* Port 1 on loopback: the fetch never completes before shutdown. */
	shared_up("", policy(one, sizeof(one), "p", "r", "enforce", "http://127.0.0.1:1/i", ""));
	side_up(&a, 0);
	side_up(&b, 1);
	is_int(authz_decide(a.az, &rq, &t, &v), 0, "worker A leads the fetch");
	is_int(authz_decide(b.az, &rq, &t, &v), 0, "worker B waits behind it");
	tcache_stats(authz_shared_cache(sh), &ts);
	is_int(ts.waits, 1, "B is queued on A's fetch");
	/* A shuts down: its fetch is cancelled and completes; B shuts down in
	 * between, so its request is orphaned and freed with worker B. */
	free_in_complete = b.az;
	authz_free(a.az);
	ok(free_in_complete == NULL, "B's module was freed inside A's completion");
	is_int(a.ans.n, 1, "A's own request was answered");
	is_str(a.ans.v.reason, "introspection_error", "with introspection_error");
	is_int(b.ans.n, 0, "B's orphaned request is not answered");
	mailbox_free(b.mb); /* the late result B was posted: only frees the request */
	mailbox_free(a.mb);
	ev_loop_destroy(a.loop);
	ev_loop_destroy(b.loop);
	verdict_release(&a.ans.v);
	shared_down();
}

int main(void)
{
	struct idp idp;
	char url[64];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_authz.XXXXXX");
	if (!mkdtemp(tmpdir) || http_client_global_init() < 0) {
		perror("setup");
		return 2;
	}
	log_set_level(LOG_LVL_ERROR); /* decision lines are not what is tested */
	idp_start(&idp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/introspect", idp.port);
	test_public_and_default_deny(url);
	test_shadow_only_default_deny(url);
	test_token_keys_skip_public(url);
	test_too_many(url);
	test_cache_timeout(&idp, url);
	test_claims_to_variables(&idp, url);
	test_jwt_claims();
	test_waiter_after_owner_freed();
	idp_stop(&idp);
	http_client_global_cleanup();
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/p.yaml", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	return done_testing("authz");
}

/* test_jwks_registry.c - one handle per distinct remoteJwks URL across the
 * policies of a set; a reload (a second bind + commit) keeps a URL still in
 * use with its key set and generation, and retires the others while the old
 * set still holds them; the metrics list the URLs in use. No network: the
 * URLs point at a closed port, so every fetch fails (and is counted). */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "jwks_registry.h"
#include "jwks_remote.h"
#include "jwt_fixture.h"
#include "jwt_local.h"
#include "policy.h"
#include "prom.h"
#include "tap.h"

#define POL(name, url, extra)                                                                      \
	"apiVersion: security.policy.gloo.solo.io/v2\n"                                            \
	"kind: ExtAuthPolicy\n"                                                                    \
	"metadata: {name: " name "}\n"                                                             \
	"spec:\n"                                                                                  \
	"  config:\n"                                                                              \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation:\n"                                                       \
	"            jwt:\n"                                                                       \
	"              remoteJwks: {url: '" url "'" extra "}\n"

#define U1 "http://127.0.0.1:1/one"
#define U2 "http://127.0.0.1:1/two"

static char path[64];

static struct policy_set *load(const char *yaml)
{
	FILE *f = fopen(path, "w");
	const char *pv[1] = {path};
	struct policy_set *set = NULL;
	struct err e = {0};

	if (!f || fputs(yaml, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
	if (policy_set_load(pv, 1, &set, &e))
		printf("# load: %s\n", e.msg);
	return set;
}

static struct jwks_remote *remote_of(const struct policy_set *set, size_t i)
{
	return policy_jwt(policy_set_get(set, i))->remote;
}

static bool metrics_have(struct jwks_registry *g, const char *what)
{
	struct prom_buf b = {0};
	bool found;

	jwks_registry_render(g, &b);
	found = b.p && strstr(b.p, what);
	prom_free(&b);
	return found;
}

static void run_for(struct ev_loop *loop, double secs)
{
	double end = ev_time() + secs;

	while (ev_time() < end)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(5000);
}

int main(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jwks_registry *g;
	struct policy_set *s1, *s2;
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *k = fx_jwk(ec, "k1", ""), doc[4096];
	struct jwks *ks = NULL;
	struct jwks_remote *r2;
	struct claims *c;
	bool cacheable;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_jwks_registry.XXXXXX");
	if ((fd = mkstemp(path)) < 0 || http_client_global_init())
		return 2;
	close(fd);
	g = jwks_registry_new(loop, 200, NULL);
	s1 = load(POL("a", U1, ", refreshInterval: 60s") "---\n" POL(
	    "b", U1, ", refreshInterval: 30s") "---\n" POL("c", U2, ""));
	if (!ok(g && s1, "registry and first set"))
		return 1;
	is_int(jwks_registry_bind(g, s1), 0, "first set bound");
	jwks_registry_commit(g);
	ok(remote_of(s1, 0) && remote_of(s1, 0) == remote_of(s1, 1),
	   "two policies naming one URL share one handle");
	ok(remote_of(s1, 2) && remote_of(s1, 2) != remote_of(s1, 0), "another URL, another handle");
	run_for(loop, 0.3);
	ok(metrics_have(g, "oauth2_spoa_jwks_fetches_total{url=\"" U1 "\",result=\"failed\"} "),
	   "metrics: fetches of URL one");
	ok(metrics_have(g, "oauth2_spoa_jwks_keys{url=\"" U2 "\"} 0"), "metrics: no keys for two");
	ok(metrics_have(g, "oauth2_spoa_jwks_last_success_age_seconds{url=\"" U1 "\"} -1"),
	   "metrics: never a success");
	ok(!metrics_have(g, "failed\"} 0\n"), "the failing fetches are counted");

	/* A good set arrives for URL one (as a fetch would publish it). */
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", k);
	if (jwks_parse(doc, strlen(doc), &ks, NULL))
		return 2;
	jwks_slot_publish(jwks_remote_slot(remote_of(s1, 0)), ks);
	jwks_unref(ks);

	/* Reload: URL one stays (another interval), URL two goes. */
	s2 = load(POL("a", U1, ", refreshInterval: 45s"));
	is_int(jwks_registry_bind(g, s2), 0, "second set bound");
	ok(remote_of(s2, 0) == remote_of(s1, 0), "a URL still in use keeps its handle");
	is_int((long long)jwks_slot_gen(jwks_remote_slot(remote_of(s2, 0))), 1,
	       "and its key set: same generation");
	ok(metrics_have(g, U2), "before the commit, URL two is still listed");
	jwks_registry_commit(g);
	ok(!metrics_have(g, U2), "after it, URL two is retired");
	ok(metrics_have(g, "oauth2_spoa_jwks_keys{url=\"" U1 "\"} 1"), "URL one: 1 key");

	/* The old set still validates with its retired handle (no fetcher). */
	r2 = remote_of(s1, 2);
	c = jwt_local_check(policy_jwt(policy_set_get(s1, 2)), slice_from("a.b.c", 5), 0, 0,
			    &cacheable);
	ok(c && c->refusal == AUTHZ_JWKS_UNAVAILABLE, "a retired handle still answers");
	claims_unref(c);
	jwks_remote_kick(r2, 0); /* no fetcher: must not crash */
	policy_set_free(s1);	 /* frees URL two's handle (ASan: no leak, no use after free) */
	run_for(loop, 0.1);

	jwks_registry_free(g);
	policy_set_free(s2);
	ev_loop_destroy(loop);
	http_client_global_cleanup();
	unlink(path);
	free(k);
	EVP_PKEY_free(ec);
	return done_testing("jwks_registry");
}

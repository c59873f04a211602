/* test_jwt_remote.c - remoteJwks end to end without a network: the policy
 * block loads, policy_set_bind_jwks() hands each policy a handle, and
 * jwt_local_check()/jwt_local_key() read the handle's slot: no set yet is
 * jwks_unavailable (never cached), a published set verifies, an unknown kid
 * is invalid_token, not cached, and raises the refetch flag; the cache key
 * moves with the generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jwks_remote.h"
#include "jwt_fixture.h"
#include "jwt_local.h"
#include "limits.h"
#include "policy.h"
#include "tap.h"

#define ISS "https://idp.test/"
#define HEAD                                                                                       \
	"apiVersion: security.policy.gloo.solo.io/v2\n"                                            \
	"kind: ExtAuthPolicy\n"                                                                    \
	"metadata: {name: %s}\n"                                                                   \
	"spec:\n"                                                                                  \
	"  config:\n"                                                                              \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation:\n"                                                       \
	"            jwt:\n"                                                                       \
	"              issuer: " ISS "\n"

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

struct binder {
	struct jwks_remote *r[4];
	const char *url[4];
	int64_t refresh[4];
	int n;
};

/* One handle per call (the registry would share them by URL). */
static struct jwks_remote *get(void *arg, const char *url, int64_t refresh_ms)
{
	struct binder *b = arg;

	if (b->n == 4)
		return NULL;
	b->url[b->n] = url;
	b->refresh[b->n] = refresh_ms;
	b->r[b->n] = jwks_remote_new(url);
	return b->r[b->n++] ? jwks_remote_ref(b->r[b->n - 1]) : NULL;
}

static struct policy_set *load_two(void)
{
	char y[4096];

	snprintf(y, sizeof(y),
		 HEAD "              remoteJwks: {url: 'https://idp.test/jwks', refreshInterval: "
		      "90s}\n---\n" HEAD
		      "              remoteJwks: {url: 'http://127.0.0.1:1/jwks'}\n",
		 "a", "b");
	return load(y);
}

static void test_load_bind(void)
{
	struct policy_set *set = load_two();
	const struct policy_jwt *pj = set ? policy_jwt(policy_set_get(set, 0)) : NULL;
	struct binder b = {0};

	if (!ok(pj != NULL, "a remoteJwks policy loads as a jwt policy"))
		return;
	ok(!policy_introspection(policy_set_get(set, 0)), "it does not introspect");
	ok(pj->keys == NULL && pj->remote == NULL, "no keys, unbound after load");
	is_str(pj->remote_url, "https://idp.test/jwks", "url kept");
	is_int(pj->refresh_ms, 90000, "refreshInterval 90s");
	is_int(policy_jwt(policy_set_get(set, 1))->refresh_ms, JWKS_REFRESH_DEFAULT_MS,
	       "default refreshInterval");
	ok(policy_url_is_cleartext("http://idp.test/jwks") &&
	       !policy_url_is_cleartext(policy_jwt(policy_set_get(set, 1))->remote_url),
	   "cleartext rule as for introspectionUrl (loopback http is fine)");
	is_int(policy_set_bind_jwks(set, get, &b), 0, "bound");
	is_int(b.n, 2, "one handle asked per remote policy");
	is_int(b.refresh[0], 90000, "the binder sees the refresh interval");
	ok(pj->remote == b.r[0], "the policy holds its handle");
	is_int(policy_set_bind_jwks(set, get, &b), 0, "binding again is a no-op");
	is_int(b.n, 2, "no second handle");
	for (int i = 0; i < b.n; i++)
		jwks_remote_unref(b.r[i]); /* the policies keep theirs: freed with the set */
	policy_set_free(set);
}

static char *payload(const char *extra)
{
	static char p[512];

	snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"exp\":%d%s}",
		 (int)time(NULL) + 300, extra);
	return p;
}

static void test_check(EVP_PKEY *ec)
{
	struct policy_set *set = load_two();
	struct binder b = {0};
	const struct policy_jwt *pj;
	char *k1 = fx_jwk(ec, "k1", ""), doc[4096], *tok, *tok2;
	struct jwks *ks = NULL;
	struct tcache_key_prefix kp;
	uint8_t key0[TCACHE_KEY_LEN], key1[TCACHE_KEY_LEN], key2[TCACHE_KEY_LEN];
	struct claims *c;
	bool cacheable = true;
	int64_t now = (int64_t)time(NULL);

	if (!ok(set != NULL, "loaded"))
		return;
	pj = policy_jwt(policy_set_get(set, 0));
	tok = fx_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}",
		      payload(""), NULL);
	tok2 = fx_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"k2\",\"typ\":\"at+jwt\"}",
		       payload(""), NULL);

	c = jwt_local_check(pj, slice_from(tok, strlen(tok)), now, 0, &cacheable);
	ok(c && !c->active && c->refusal == AUTHZ_JWKS_UNAVAILABLE && !cacheable,
	   "unbound: jwks_unavailable, not cacheable");
	claims_unref(c);
	policy_set_bind_jwks(set, get, &b);
	is_int(jwt_local_key_prefix(&kp, pj, 600000, 5000), 0, "key prefix of a remote policy");
	jwt_local_key(&kp, pj, slice_from(tok, strlen(tok)), key0);

	cacheable = true;
	c = jwt_local_check(pj, slice_from(tok, strlen(tok)), now, 0, &cacheable);
	ok(c && !c->active && c->refusal == AUTHZ_JWKS_UNAVAILABLE && !cacheable,
	   "no set yet: jwks_unavailable, not cacheable");
	is_int(reason_status(AUTHZ_JWKS_UNAVAILABLE), 503, "jwks_unavailable is a 503");
	is_str(reason_name(AUTHZ_JWKS_UNAVAILABLE), "jwks_unavailable", "its name");
	claims_unref(c);
	ok(jwks_slot_take_ask(jwks_remote_slot(b.r[0])), "no set yet asks for a fetch");

	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", k1);
	if (jwks_parse(doc, strlen(doc), &ks, NULL))
		fx_die("jwks_parse");
	is_int(jwks_slot_publish(jwks_remote_slot(b.r[0]), ks), 1, "set published");
	jwks_unref(ks);
	jwt_local_key(&kp, pj, slice_from(tok, strlen(tok)), key1);
	ok(memcmp(key0, key1, TCACHE_KEY_LEN) != 0, "the cache key moves with the generation");
	c = jwt_local_check(pj, slice_from(tok, strlen(tok)), now, 0, &cacheable);
	ok(c && c->active && cacheable, "a token of a key in the set: verified, cacheable");
	claims_unref(c);
	ok(!jwks_slot_take_ask(jwks_remote_slot(b.r[0])), "no refetch asked");

	c = jwt_local_check(pj, slice_from(tok2, strlen(tok2)), now, 0, &cacheable);
	ok(c && !c->active && c->refusal == AUTHZ_INVALID_TOKEN && !cacheable,
	   "unknown kid: invalid_token, not cacheable");
	claims_unref(c);
	ok(jwks_slot_take_ask(jwks_remote_slot(b.r[0])), "and a refetch is asked for");
	free(tok2);
	tok2 = fx_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}",
		       "{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"exp\":1}", NULL);
	c = jwt_local_check(pj, slice_from(tok2, strlen(tok2)), now, 0, &cacheable);
	ok(c && !c->active && c->refusal == AUTHZ_INACTIVE_TOKEN && cacheable,
	   "an expired token of a known key: inactive_token, cacheable");
	claims_unref(c);

	if (jwks_parse(doc, strlen(doc), &ks, NULL))
		fx_die("jwks_parse");
	jwks_slot_publish(jwks_remote_slot(b.r[0]), ks);
	jwks_unref(ks);
	jwt_local_key(&kp, pj, slice_from(tok, strlen(tok)), key2);
	ok(memcmp(key1, key2, TCACHE_KEY_LEN) != 0, "a new generation: a new key");
	tcache_key_prefix_clear(&kp);

	for (int i = 0; i < b.n; i++)
		jwks_remote_unref(b.r[i]);
	policy_set_free(set);
	free(tok);
	free(tok2);
	free(k1);
}

static void test_hint(void)
{
	struct jwks_remote *r = jwks_remote_new("https://x/");
	struct jwks_remote *s = jwks_remote_new("https://x/");

	ok(r && s && jwks_remote_id(r) != jwks_remote_id(s), "handles have distinct ids");
	ok(jwks_remote_hint_due(r, 100, 10), "first hint due");
	ok(!jwks_remote_hint_due(r, 105, 10), "not again within the window");
	ok(jwks_remote_hint_due(r, 110, 10), "due again after it");
	jwks_remote_kick(r, 0); /* no fetcher attached: counted only */
	{
		struct jwks_slot_stats st;

		jwks_slot_stats(jwks_remote_slot(r), &st);
		is_int((long long)st.asks, 1, "a kick without a fetcher is counted");
		is_int((long long)st.keys, 0, "no keys");
	}
	jwks_remote_unref(r);
	jwks_remote_unref(s);
}

int main(void)
{
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_jwt_remote.XXXXXX");
	if ((fd = mkstemp(path)) < 0) {
		perror("mkstemp");
		return 2;
	}
	close(fd);
	test_load_bind();
	test_check(ec);
	test_hint();
	unlink(path);
	EVP_PKEY_free(ec);
	return done_testing("jwt_remote");
}

/* test_authz_claims.c - claims to variables through the decision pipeline
 * (authz.c) with real policies, a real token cache and a real HTTP client
 * talking to an introspection server thread of this process (authz_idp.h).
 *
 * Pins: the union of the mapped variables of several policies (first policy
 * wins a name), a hit sending what the miss sent, an equal mapping sharing
 * a cache entry and a different one not, userIdAttributeName, a jwt
 * policy's mapping of the verified payload, and, with jwt + introspection in
 * one policy, the variables coming from the introspection answer. */
#include "authz_idp.h"

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

/* jwt + introspection with a mapping: the variables come from the
 * introspection answer, like the identity; a claim only the JWT has is not
 * sent. */
static void test_jwt_intro_claims(struct idp *idp, const char *url)
{
	EVP_PKEY *ec = fx_keygen(FX_EC256);
	char *jwk = fx_jwk(ec, "e1", ""), *tok = jwt_token(ec, "e1", "t7", 600, "read");
	char extra[1536], p[2048];
	const struct verdict *v;
	struct side a;
	int base;

	snprintf(extra, sizeof(extra),
		 "            jwt:\n              localJwks: {inlineString: '{\"keys\":[%s]}'}\n"
		 "            dynamicMetadataFromClaims: {sub: who, jti: jid}\n",
		 jwk);
	shared_up("", policy(p, sizeof(p), "both-map", "bm", "enforce", url, extra));
	side_up(&a, 0);
	base = atomic_load(&idp->calls);
	v = ask(&a, "bm", tok);
	expect(v, true, 200, "ok", "both-map", "jwt + introspection with a mapping: allowed");
	is_str(mapped(v, "who"), "alice", "the variable is the introspection answer's sub");
	ok(!mapped(v, "jid"), "a claim only the JWT has sets no variable");
	v = ask(&a, "bm", tok);
	is_int(atomic_load(&idp->calls) - base, 1, "the second request hits the cache");
	is_str(mapped(v, "who"), "alice", "a hit sends the same variable");
	ok(!mapped(v, "jid"), "and still not the JWT's own claim");
	side_down(&a);
	shared_down();
	free(jwk);
	free(tok);
	EVP_PKEY_free(ec);
}

int main(void)
{
	struct idp idp;
	char url[64];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_authz_claims.XXXXXX");
	if (!mkdtemp(tmpdir) || http_client_global_init() < 0) {
		perror("setup");
		return 2;
	}
	log_set_level(LOG_LVL_ERROR); /* decision lines are not what is tested */
	idp_start(&idp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/introspect", idp.port);
	test_claims_to_variables(&idp, url);
	test_jwt_claims();
	test_jwt_intro_claims(&idp, url);
	idp_stop(&idp);
	http_client_global_cleanup();
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/p.yaml", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	return done_testing("authz_claims");
}

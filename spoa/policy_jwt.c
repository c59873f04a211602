/* policy_jwt.c - accessTokenValidation.jwt: local JWT validation settings.
 *
 *   jwt:
 *     issuer: https://idp.example/          # Gloo: "iss" must equal it
 *     localJwks: {inlineString: "..."}      # Gloo: a JWKS or a PEM public key
 *     remoteJwks: {url: https://..., refreshInterval: 5m}  # Gloo: or fetched
 *     algorithms: [RS256, ES256]            # ours: the allow-list
 *     typ: at+jwt | jwt                     # ours: RFC 9068 strict, or lenient
 *
 * A remoteJwks policy only names its URL here: the key set is fetched by the
 * running agent (jwks_registry.h), bound by policy_set_bind_jwks(). */
#include <stdlib.h>
#include <string.h>

#include "jwks_remote.h"
#include "limits.h"
#include "policy.h"
#include "policy_int.h"

static int load_algs(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	struct strlist sl = {0};
	int rc = 0;

	if (pol_strlist(l, n, where, pol_check_text, false, &sl))
		return -1;
	p->jwt.rules.algs = 0;
	for (size_t i = 0; i < sl.n && rc == 0; i++) {
		unsigned a = jwt_alg_from_name(sl.v[i], strlen(sl.v[i]));

		if (!a)
			rc = pol_fail(
			    l, pol_node(l, n->data.sequence.items.start[i]),
			    "%s[%zu]: \"%.16s\" is not an allowed algorithm (RS256/384/512, "
			    "PS256/384/512, ES256/384/512, EdDSA; never none or HS*)",
			    where, i, sl.v[i]);
		p->jwt.rules.algs |= a;
	}
	pol_strlist_free(&sl);
	return rc;
}

/* localJwks: {inlineString: ...}; larger than a policy scalar may be. */
static int load_local(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	static const char *const keys[] = {"inlineString", NULL};
	yaml_node_t *v[1];
	struct err e = {0};
	size_t len;

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, where, "inlineString");
	if (v[0]->type != YAML_SCALAR_NODE || pol_is_null(v[0]))
		return pol_fail(l, v[0], "%s.inlineString must be a string, not %s", where,
				pol_kind(v[0]));
	len = v[0]->data.scalar.length;
	if (len > JWKS_MAX_DOC_SIZE)
		return pol_fail(l, v[0], "%s.inlineString is longer than %u bytes", where,
				JWKS_MAX_DOC_SIZE);
	if (memchr(v[0]->data.scalar.value, 0, len))
		return pol_fail(l, v[0], "%s.inlineString holds a NUL byte", where);
	if (!(p->jwt_source = strndup((const char *)v[0]->data.scalar.value, len)))
		return pol_fail(l, v[0], "out of memory");
	if (jwks_parse(p->jwt_source, len, &p->jwks, &e))
		return pol_fail(l, v[0], "%s.inlineString: %s", where, e.msg);
	p->jwt.keys = p->jwks;
	p->jwt.source = p->jwt_source;
	return 0;
}

/* remoteJwks: {url, refreshInterval}; the URL follows introspectionUrl's
 * rules (http:// or https://; plain http to a host that is not loopback is
 * warned about at load, as for introspection). */
static int load_remote(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	static const char *const keys[] = {"url", "refreshInterval", NULL};
	yaml_node_t *v[2];
	char w[160];

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, where, "url");
	pol_at(w, sizeof(w), "%s.url", where);
	if (pol_scalar(l, v[0], w, false, &p->jwt_url) || pol_check_url(l, v[0], w, p->jwt_url))
		return -1;
	p->jwt.refresh_ms = JWKS_REFRESH_DEFAULT_MS;
	if (v[1]) {
		pol_at(w, sizeof(w), "%s.refreshInterval", where);
		if (pol_duration(l, v[1], w, &p->jwt.refresh_ms))
			return -1;
		if (p->jwt.refresh_ms < JWKS_REFRESH_MIN_MS)
			return pol_fail(l, v[1], "%s is below the minimum of %ds", w,
					JWKS_REFRESH_MIN_MS / 1000);
	}
	p->jwt.remote_url = p->jwt_url;
	return 0;
}

int policy_set_bind_jwks(struct policy_set *set,
			 struct jwks_remote *(*get)(void *arg, const char *url, int64_t refresh_ms),
			 void *arg)
{
	for (size_t i = 0; i < set->n; i++) {
		struct policy_jwt *pj = &set->v[i]->jwt;

		if (!pj->remote_url || pj->remote)
			continue;
		if (!(pj->remote = get(arg, pj->remote_url, pj->refresh_ms)))
			return -1;
	}
	return 0;
}

int pol_load_jwt(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	enum { K_ISS, K_LOCAL, K_REMOTE, K_ALGS, K_TYP, K_N };
	static const char *const keys[] = {"issuer",	 "localJwks", "remoteJwks",
					   "algorithms", "typ",	      NULL};
	static const char *const typs[] = {"at+jwt", "jwt", NULL};
	yaml_node_t *v[K_N];
	char w[160];
	int m;

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (v[K_REMOTE] && v[K_LOCAL])
		return pol_fail(l, v[K_REMOTE], "%s: set localJwks or remoteJwks, not both", where);
	if (!v[K_LOCAL] && !v[K_REMOTE])
		return pol_fail(l, n, "%s: missing required key \"localJwks\" or \"remoteJwks\"",
				where);
	p->jwt.rules.algs = JWT_ALG_ALL;
	if (v[K_ALGS]) {
		pol_at(w, sizeof(w), "%s.algorithms", where);
		if (load_algs(l, p, v[K_ALGS], w))
			return -1;
	}
	if (v[K_TYP]) {
		pol_at(w, sizeof(w), "%s.typ", where);
		if ((m = pol_choice(l, v[K_TYP], w, typs, "at+jwt or jwt")) < 0)
			return -1;
		p->jwt.rules.typ_lenient = m == 1;
	}
	if (v[K_ISS]) {
		pol_at(w, sizeof(w), "%s.issuer", where);
		if (pol_scalar(l, v[K_ISS], w, false, &p->jwt_issuer) ||
		    pol_check_text(l, v[K_ISS], w, p->jwt_issuer))
			return -1;
		p->jwt.rules.issuer = p->jwt_issuer;
	}
	if (v[K_REMOTE]) {
		pol_at(w, sizeof(w), "%s.remoteJwks", where);
		return load_remote(l, p, v[K_REMOTE], w);
	}
	pol_at(w, sizeof(w), "%s.localJwks", where);
	return load_local(l, p, v[K_LOCAL], w);
}

void pol_jwt_free(struct policy *p)
{
	jwks_unref(p->jwks);
	jwks_remote_unref(p->jwt.remote);
	free(p->jwt_issuer);
	free(p->jwt_source);
	free(p->jwt_url);
}

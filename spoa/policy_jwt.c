/* policy_jwt.c - accessTokenValidation.jwt: local JWT validation settings.
 *
 *   jwt:
 *     issuer: https://idp.example/          # Gloo: "iss" must equal it
 *     localJwks: {inlineString: "..."}      # Gloo: a JWKS or a PEM public key
 *     remoteJwks: {url: https://..., refreshInterval: 5m}  # Gloo: or fetched
 *     algorithms: [RS256, ES256]            # ours: the allow-list
 *     typ: at+jwt | jwt                     # ours: RFC 9068 strict, or lenient
 *
 *   introspection:
 *     signedResponse:                       # ours: RFC 9701 signed answers
 *       issuer: https://idp.example/        # required: "iss" of the answer
 *       localJwks: {...} | remoteJwks: {...}  # the IdP's keys, as above
 *       algorithms: [RS256]                 # as above
 *       maxAge: 60s                         # how old "iat" may be
 *
 * A remoteJwks policy only names its URL here: the key set is fetched by the
 * running agent (jwks_registry.h), bound by policy_set_bind_jwks(). */
#include <stdlib.h>
#include <string.h>

#include "introspect_jwt.h"
#include "jwks_remote.h"
#include "limits.h"
#include "policy.h"
#include "policy_int.h"

/* Where one key-set setting is stored: a jwt policy's or a signedResponse's. */
struct keys_dst {
	struct policy_jwt *pj;
	struct jwks **jwks;
	char **source, **url, **issuer;
};

static int load_algs(struct pol_ld *l, struct policy_jwt *pj, const yaml_node_t *n,
		     const char *where)
{
	struct strlist sl = {0};
	int rc = 0;

	if (pol_strlist(l, n, where, pol_check_text, false, &sl))
		return -1;
	pj->rules.algs = 0;
	for (size_t i = 0; i < sl.n && rc == 0; i++) {
		unsigned a = jwt_alg_from_name(sl.v[i], strlen(sl.v[i]));

		if (!a)
			rc = pol_fail(
			    l, pol_node(l, n->data.sequence.items.start[i]),
			    "%s[%zu]: \"%.16s\" is not an allowed algorithm (RS256/384/512, "
			    "PS256/384/512, ES256/384/512, EdDSA; never none or HS*)",
			    where, i, sl.v[i]);
		pj->rules.algs |= a;
	}
	pol_strlist_free(&sl);
	return rc;
}

/* localJwks: {inlineString: ...}; larger than a policy scalar may be. */
static int load_local(struct pol_ld *l, const struct keys_dst *d, const yaml_node_t *n,
		      const char *where)
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
	if (!(*d->source = strndup((const char *)v[0]->data.scalar.value, len)))
		return pol_fail(l, v[0], "out of memory");
	if (jwks_parse(*d->source, len, d->jwks, &e))
		return pol_fail(l, v[0], "%s.inlineString: %s", where, e.msg);
	d->pj->keys = *d->jwks;
	d->pj->source = *d->source;
	return 0;
}

/* remoteJwks: {url, refreshInterval}; the URL follows introspectionUrl's
 * rules (http:// or https://; plain http to a host that is not loopback is
 * warned about at load, as for introspection). */
static int load_remote(struct pol_ld *l, const struct keys_dst *d, const yaml_node_t *n,
		       const char *where)
{
	static const char *const keys[] = {"url", "refreshInterval", NULL};
	yaml_node_t *v[2];
	char w[160];

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, where, "url");
	pol_at(w, sizeof(w), "%s.url", where);
	if (pol_scalar(l, v[0], w, false, d->url) || pol_check_url(l, v[0], w, *d->url))
		return -1;
	d->pj->refresh_ms = JWKS_REFRESH_DEFAULT_MS;
	if (v[1]) {
		pol_at(w, sizeof(w), "%s.refreshInterval", where);
		if (pol_duration(l, v[1], w, &d->pj->refresh_ms))
			return -1;
		if (d->pj->refresh_ms < JWKS_REFRESH_MIN_MS)
			return pol_fail(l, v[1], "%s is below the minimum of %ds", w,
					JWKS_REFRESH_MIN_MS / 1000);
	}
	d->pj->remote_url = *d->url;
	return 0;
}

int policy_set_bind_jwks(struct policy_set *set,
			 struct jwks_remote *(*get)(void *arg, const char *url, int64_t refresh_ms),
			 void *arg)
{
	for (size_t i = 0; i < 2 * set->n; i++) {
		struct policy *p = set->v[i / 2];
		struct policy_jwt *pj = i % 2 ? &p->sr.keys : &p->jwt;

		if (!pj->remote_url || pj->remote)
			continue;
		if (!(pj->remote = get(arg, pj->remote_url, pj->refresh_ms)))
			return -1;
	}
	return 0;
}

/* The settings a jwt policy and a signedResponse share: keys, algorithms,
 * issuer. <v> holds issuer, localJwks, remoteJwks, algorithms. */
static int load_keys(struct pol_ld *l, const struct keys_dst *d, const yaml_node_t *n,
		     yaml_node_t *const *v, const char *where)
{
	char w[160];

	if (v[2] && v[1])
		return pol_fail(l, v[2], "%s: set localJwks or remoteJwks, not both", where);
	if (!v[1] && !v[2])
		return pol_fail(l, n, "%s: missing required key \"localJwks\" or \"remoteJwks\"",
				where);
	d->pj->rules.algs = JWT_ALG_ALL;
	if (v[3]) {
		pol_at(w, sizeof(w), "%s.algorithms", where);
		if (load_algs(l, d->pj, v[3], w))
			return -1;
	}
	if (v[0]) {
		pol_at(w, sizeof(w), "%s.issuer", where);
		if (pol_scalar(l, v[0], w, false, d->issuer) ||
		    pol_check_text(l, v[0], w, *d->issuer))
			return -1;
		d->pj->rules.issuer = *d->issuer;
	}
	if (v[2]) {
		pol_at(w, sizeof(w), "%s.remoteJwks", where);
		return load_remote(l, d, v[2], w);
	}
	pol_at(w, sizeof(w), "%s.localJwks", where);
	return load_local(l, d, v[1], w);
}

int pol_load_jwt(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	enum { K_ISS, K_LOCAL, K_REMOTE, K_ALGS, K_TYP, K_N };
	static const char *const keys[] = {"issuer",	 "localJwks", "remoteJwks",
					   "algorithms", "typ",	      NULL};
	static const char *const typs[] = {"at+jwt", "jwt", NULL};
	const struct keys_dst d = {&p->jwt, &p->jwks, &p->jwt_source, &p->jwt_url, &p->jwt_issuer};
	yaml_node_t *v[K_N];
	char w[160];
	int m;

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (v[K_TYP]) {
		pol_at(w, sizeof(w), "%s.typ", where);
		if ((m = pol_choice(l, v[K_TYP], w, typs, "at+jwt or jwt")) < 0)
			return -1;
		p->jwt.rules.typ_lenient = m == 1;
	}
	return load_keys(l, &d, n, v, where);
}

/* maxAge: how old an answer's "iat" may be (a duration, 1s to 1h). */
static int load_max_age(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	int64_t ms;

	p->sr.max_age_s = IJWT_MAX_AGE_DEFAULT_S;
	if (!n)
		return 0;
	if (pol_duration(l, n, where, &ms))
		return -1;
	if (ms < 1000 || ms > 3600 * 1000)
		return pol_fail(l, n, "%s: from 1s to 1h", where);
	p->sr.max_age_s = ms / 1000;
	return 0;
}

int pol_load_signed(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	enum { K_ISS, K_LOCAL, K_REMOTE, K_ALGS, K_AGE, K_N };
	static const char *const keys[] = {"issuer",	 "localJwks", "remoteJwks",
					   "algorithms", "maxAge",    NULL};
	const struct keys_dst d = {&p->sr.keys, &p->sr_jwks, &p->sr_source, &p->sr_url,
				   &p->sr_issuer};
	yaml_node_t *v[K_N];
	char w[160];

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (!v[K_ISS])
		return pol_missing(l, n, where, "issuer");
	pol_at(w, sizeof(w), "%s.maxAge", where);
	if (load_max_age(l, p, v[K_AGE], w) || load_keys(l, &d, n, v, where))
		return -1;
	p->intro.signed_response = &p->sr;
	return 0;
}

void pol_jwt_free(struct policy *p)
{
	jwks_unref(p->jwks);
	jwks_remote_unref(p->jwt.remote);
	free(p->jwt_issuer);
	free(p->jwt_source);
	free(p->jwt_url);
	jwks_unref(p->sr_jwks);
	jwks_remote_unref(p->sr.keys.remote);
	free(p->sr_issuer);
	free(p->sr_source);
	free(p->sr_url);
}

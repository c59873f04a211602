/* policy_atv.c - loading accessTokenValidation, the oauth2 config of one
 * policy: which validation steps it has (introspection, jwt, userinfo), how
 * the agent authenticates to the introspection endpoint, and the checks and
 * cache rules applied to every answer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy.h"
#include "policy_int.h"

enum atv_key {
	K_URL,
	K_INTRO,
	K_SCOPES,
	K_SCOPE_MATCH,
	K_SCOPE_SEP,
	K_AUDS,
	K_AUD_MATCH,
	K_ISSUERS,
	K_CACHE,
	K_NEG_CACHE,
	K_STALE,
	K_JWT,
	K_CLAIMS,
	K_USERINFO,
	K_N
};

static const char *const atv_keys[K_N + 1] = {
    [K_URL] = "introspectionUrl",
    [K_INTRO] = "introspection",
    [K_SCOPES] = "requiredScopes",
    [K_SCOPE_MATCH] = "scopeMatch",
    [K_SCOPE_SEP] = "scopeSeparator",
    [K_AUDS] = "audiences",
    [K_AUD_MATCH] = "audienceMatch",
    [K_ISSUERS] = "issuers",
    [K_CACHE] = "cacheTimeout",
    [K_NEG_CACHE] = "negativeCacheTimeout",
    [K_STALE] = "staleIfError",
    [K_JWT] = "jwt",
    [K_CLAIMS] = "dynamicMetadataFromClaims",
    [K_USERINFO] = "userinfoUrl",
    [K_N] = NULL,
};

/* How the agent authenticates to the introspection endpoint: authMethod, the
 * secret from clientSecretFile or clientSecretEnv (v[2], v[3]), and Gloo's
 * disableClientSecret (v[7]: true is authMethod none, the clientId still
 * sent in the body). */
static int load_client_auth(struct pol_ld *l, struct policy *p, const yaml_node_t *n,
			    yaml_node_t *const *v, const char *where)
{
	static const char *const methods[] = {"none", "client_secret_basic", "client_secret_post",
					      NULL};
	static const char *const bools[] = {"false", "true", NULL};
	const yaml_node_t *sn;
	char w[160], *name;
	int m, rc, disable = 0;

	if (v[2] && v[3])
		return pol_fail(l, v[3], "%s: set clientSecretFile or clientSecretEnv, not both",
				where);
	p->intro.auth_method = p->client_id ? POLICY_AUTH_CLIENT_SECRET_BASIC : POLICY_AUTH_NONE;
	if (v[7]) {
		pol_at(w, sizeof(w), "%s.disableClientSecret", where);
		if ((disable = pol_choice(l, v[7], w, bools, "true or false")) < 0)
			return -1;
		if (disable)
			p->intro.auth_method = POLICY_AUTH_NONE;
	}
	if (v[4]) {
		pol_at(w, sizeof(w), "%s.authMethod", where);
		m = pol_choice(l, v[4], w, methods,
			       "none, client_secret_basic or client_secret_post");
		if (m < 0)
			return -1;
		if (disable && m != POLICY_AUTH_NONE)
			return pol_fail(
			    l, v[4], "%s: disableClientSecret: true needs authMethod none", where);
		p->intro.auth_method = (enum policy_auth_method)m;
	}
	if (p->intro.auth_method == POLICY_AUTH_NONE) {
		if (v[2] || v[3])
			return pol_fail(
			    l, v[2] ? v[2] : v[3], "%s: a client secret is set but %s", where,
			    disable ? "disableClientSecret is true" : "authMethod is none");
		return 0;
	}
	if (!p->client_id)
		return pol_fail(l, v[4] ? v[4] : n, "%s: authMethod %s requires clientId", where,
				policy_auth_method_name(p->intro.auth_method));
	if (!v[2] && !v[3])
		return pol_fail(l, v[4] ? v[4] : n,
				"%s: authMethod %s requires clientSecretFile or clientSecretEnv",
				where, policy_auth_method_name(p->intro.auth_method));
	sn = v[2] ? v[2] : v[3];
	pol_at(w, sizeof(w), "%s.%s", where, v[2] ? "clientSecretFile" : "clientSecretEnv");
	if (pol_scalar(l, sn, w, false, &name))
		return -1;
	rc = v[2] ? pol_secret_file(l, sn, w, name, &p->client_secret)
		  : pol_secret_env(l, sn, w, name, &p->client_secret);
	free(name);
	return rc;
}

static int load_introspection(struct pol_ld *l, struct policy *p, const yaml_node_t *n,
			      const char *where)
{
	static const char *const keys[] = {"introspectionUrl",
					   "clientId",
					   "clientSecretFile",
					   "clientSecretEnv",
					   "authMethod",
					   "signedResponse",
					   "userIdAttributeName",
					   "disableClientSecret",
					   NULL};
	yaml_node_t *v[8];
	char w[160];

	if (pol_fields(l, n, where, keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, where, "introspectionUrl");
	if (v[6]) {
		pol_at(w, sizeof(w), "%s.userIdAttributeName", where);
		if (pol_load_user_id(l, p, v[6], w))
			return -1;
	}
	pol_at(w, sizeof(w), "%s.introspectionUrl", where);
	if (pol_scalar(l, v[0], w, false, &p->url) || pol_check_url(l, v[0], w, p->url))
		return -1;
	if (v[1]) {
		pol_at(w, sizeof(w), "%s.clientId", where);
		if (pol_scalar(l, v[1], w, false, &p->client_id) ||
		    pol_check_text(l, v[1], w, p->client_id))
			return -1;
	}
	if (v[5]) {
		/* RFC 9701 answers name us (the client) as their audience. */
		if (!p->client_id)
			return pol_fail(l, v[5],
					"%s.signedResponse requires %s.clientId (the "
					"answer's aud)",
					where, where);
		pol_at(w, sizeof(w), "%s.signedResponse", where);
		if (pol_load_signed(l, p, v[5], w))
			return -1;
	}
	return load_client_auth(l, p, n, v, where);
}

/* The hierarchic check relies on every required scope being a well-formed
 * path: no empty segment anywhere. */
static int check_hier(struct pol_ld *l, const yaml_node_t *list, const char *where,
		      const struct policy *p)
{
	for (size_t i = 0; i < p->scopes.n; i++) {
		const char *s = p->scopes.v[i];
		size_t len = strlen(s);
		char dbl[3] = {p->scope_sep, p->scope_sep, '\0'};

		if (s[0] == p->scope_sep || s[len - 1] == p->scope_sep || strstr(s, dbl))
			return pol_fail(l, pol_node(l, list->data.sequence.items.start[i]),
					"%s[%zu]: \"%.64s\" has an empty '%c'-separated segment",
					where, i, s, p->scope_sep);
	}
	return 0;
}

static int join_scopes(struct pol_ld *l, const yaml_node_t *n, struct policy *p)
{
	size_t len = 1, off = 0;

	for (size_t i = 0; i < p->scopes.n; i++)
		len += strlen(p->scopes.v[i]) + 1;
	p->scopes_joined = malloc(len);
	if (!p->scopes_joined)
		return pol_fail(l, n, "out of memory");
	p->scopes_joined[0] = '\0';
	for (size_t i = 0; i < p->scopes.n; i++) {
		size_t sl = strlen(p->scopes.v[i]);

		if (i)
			p->scopes_joined[off++] = ' ';
		memcpy(p->scopes_joined + off, p->scopes.v[i], sl + 1);
		off += sl;
	}
	return 0;
}

/* The validation steps and what they add: introspection (by URL or as a
 * block), jwt, userinfoUrl and the claims mapped to variables. */
static int load_steps(struct pol_ld *l, struct policy *p, const yaml_node_t *n,
		      yaml_node_t *const *v, const char *where)
{
	char w[160];

	if (v[K_URL] && v[K_INTRO])
		return pol_fail(l, v[K_INTRO],
				"%s: set introspectionUrl or introspection, not both", where);
	if (v[K_URL]) {
		pol_at(w, sizeof(w), "%s.introspectionUrl", where);
		if (pol_scalar(l, v[K_URL], w, false, &p->url) ||
		    pol_check_url(l, v[K_URL], w, p->url))
			return -1;
	} else if (v[K_INTRO]) {
		pol_at(w, sizeof(w), "%s.introspection", where);
		if (load_introspection(l, p, v[K_INTRO], w))
			return -1;
	} else if (!v[K_JWT] && !v[K_USERINFO]) {
		return pol_fail(l, n,
				"%s: missing required key \"introspectionUrl\", \"introspection\" "
				"or \"jwt\" (or \"userinfoUrl\" alone)",
				where);
	}
	/* After the validation steps (validator_steps()); alone, its 200 is
	 * the proof that the token is valid. */
	if (v[K_USERINFO]) {
		pol_at(w, sizeof(w), "%s.userinfoUrl", where);
		if (pol_scalar(l, v[K_USERINFO], w, false, &p->userinfo_url) ||
		    pol_check_url(l, v[K_USERINFO], w, p->userinfo_url))
			return -1;
	}
	/* With introspection too, jwt is checked first (validator_steps()). */
	if (v[K_JWT]) {
		pol_at(w, sizeof(w), "%s.jwt", where);
		if (pol_load_jwt(l, p, v[K_JWT], w))
			return -1;
	}
	if (v[K_CLAIMS]) {
		pol_at(w, sizeof(w), "%s.dynamicMetadataFromClaims", where);
		if (pol_load_claim_map(l, p, v[K_CLAIMS], w))
			return -1;
	}
	return 0;
}

static int load_scope_rules(struct pol_ld *l, struct policy *p, yaml_node_t *const *v,
			    const char *where)
{
	static const char *const scope_words[] = {"all", "any", "hierarchic", NULL};
	char w[160], *s;
	int m;

	p->scope_sep = ':';
	if (v[K_SCOPE_MATCH]) {
		pol_at(w, sizeof(w), "%s.scopeMatch", where);
		if ((m = pol_choice(l, v[K_SCOPE_MATCH], w, scope_words,
				    "all, any or hierarchic")) < 0)
			return -1;
		p->scope_match = (enum scope_match)m;
	}
	if (!v[K_SCOPE_SEP])
		return 0;
	pol_at(w, sizeof(w), "%s.scopeSeparator", where);
	if (pol_scalar(l, v[K_SCOPE_SEP], w, false, &s))
		return -1;
	p->scope_sep = s[0];
	m = strlen(s) != 1 || pol_check_scope(l, v[K_SCOPE_SEP], w, s);
	free(s);
	if (m)
		return pol_fail(l, v[K_SCOPE_SEP],
				"%s must be one printable character other than '\"' and '\\'", w);
	if (p->scope_match != SCOPE_HIERARCHIC)
		return pol_fail(l, v[K_SCOPE_SEP], "%s only applies to scopeMatch: hierarchic", w);
	return 0;
}

static int load_scopes(struct pol_ld *l, struct policy *p, const yaml_node_t *n,
		       yaml_node_t *const *v, const char *where)
{
	static const char *const scope_keys[] = {"scope", NULL};
	yaml_node_t *scopes, *sv[1];
	char w[160];

	if (load_scope_rules(l, p, v, where))
		return -1;
	if ((scopes = v[K_SCOPES])) {
		pol_at(w, sizeof(w), "%s.requiredScopes", where);
		/* Gloo spells it requiredScopes: {scope: [...]}; accept both. */
		if (scopes->type == YAML_MAPPING_NODE) {
			if (pol_fields(l, scopes, w, scope_keys, sv))
				return -1;
			if (!sv[0])
				return pol_missing(l, scopes, w, "scope");
			scopes = sv[0];
			pol_at(w, sizeof(w), "%s.requiredScopes.scope", where);
		}
		if (pol_strlist(l, scopes, w, pol_check_scope, true, &p->scopes))
			return -1;
		if (p->scope_match == SCOPE_HIERARCHIC && check_hier(l, scopes, w, p))
			return -1;
	}
	return join_scopes(l, n, p);
}

static int load_audiences_issuers(struct pol_ld *l, struct policy *p, yaml_node_t *const *v,
				  const char *where)
{
	static const char *const aud_words[] = {"any", "all", NULL};
	char w[160];
	int m;

	if (v[K_AUD_MATCH]) {
		pol_at(w, sizeof(w), "%s.audienceMatch", where);
		if ((m = pol_choice(l, v[K_AUD_MATCH], w, aud_words, "any or all")) < 0)
			return -1;
		p->aud_match = (enum aud_match)m;
	}
	if (v[K_AUDS]) {
		pol_at(w, sizeof(w), "%s.audiences", where);
		if (pol_strlist(l, v[K_AUDS], w, pol_check_text, true, &p->audiences))
			return -1;
	}
	if (v[K_ISSUERS]) {
		pol_at(w, sizeof(w), "%s.issuers", where);
		if (pol_strlist(l, v[K_ISSUERS], w, pol_check_text, true, &p->issuers))
			return -1;
	}
	return 0;
}

static int load_cache_rules(struct pol_ld *l, struct policy *p, yaml_node_t *const *v,
			    const char *where)
{
	char w[160];

	p->cache_ms = POLICY_DEFAULT_CACHE_TIMEOUT_MS;
	p->neg_cache_ms = POLICY_DEFAULT_NEGATIVE_CACHE_TIMEOUT_MS;
	if (v[K_CACHE]) {
		pol_at(w, sizeof(w), "%s.cacheTimeout", where);
		if (pol_duration(l, v[K_CACHE], w, &p->cache_ms))
			return -1;
	}
	if (v[K_NEG_CACHE]) {
		pol_at(w, sizeof(w), "%s.negativeCacheTimeout", where);
		if (pol_duration(l, v[K_NEG_CACHE], w, &p->neg_cache_ms))
			return -1;
	}
	if (v[K_STALE]) {
		pol_at(w, sizeof(w), "%s.staleIfError", where);
		if (pol_duration(l, v[K_STALE], w, &p->stale_ms))
			return -1;
		if (p->stale_ms > POLICY_MAX_STALE_MS)
			return pol_fail(l, v[K_STALE], "%s: at most 1h", w);
	}
	return 0;
}

int pol_load_atv(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where)
{
	yaml_node_t *v[K_N];

	if (pol_fields(l, n, where, atv_keys, v))
		return -1;
	if (load_steps(l, p, n, v, where) || load_scopes(l, p, n, v, where) ||
	    load_audiences_issuers(l, p, v, where) || load_cache_rules(l, p, v, where))
		return -1;
	return 0;
}

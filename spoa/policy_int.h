/* policy_int.h - private to the policy module (policy_load.c, policy_atv.c,
 * policy_yaml.c, policy_value.c, policy_routes.c, policy_jwt.c,
 * policy_claims.c, policy_eval.c): the representation of a loaded policy and
 * the loader's helpers. No other file may include it. */
#ifndef OAUTH2_SPOA_POLICY_INT_H
#define OAUTH2_SPOA_POLICY_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "err.h"
#include "policy.h"

/* A list of NUL-terminated strings; n <= POLICY_MAX_LIST. */
struct strlist {
	size_t n;
	char **v;
};

enum path_kind {
	PATH_ANY = 0, /* no path selector */
	PATH_EXACT,
	PATH_PREFIX,
	PATH_REGEX,
};

struct label {
	char *key, *value;
};

/* One applyToRoutes item. Every selector that is present must match. */
struct selector {
	size_t n_labels;
	struct label *labels;
	enum path_kind path_kind;
	char *path;		/* exact or prefix: canonical, escapes decoded; regex: source */
	bool has_regex;		/* <re> was compiled and must be freed */
	regex_t re;		/* anchored ^(...)$, REG_EXTENDED | REG_NOSUB */
	struct strlist hosts;	/* lower case, no port; "*.x" is a wildcard */
	struct strlist methods; /* upper case */
};

enum scope_match {
	SCOPE_ALL = 0,
	SCOPE_ANY,
	SCOPE_HIERARCHIC,
};

enum aud_match {
	AUD_ANY = 0,
	AUD_ALL,
};

struct policy {
	char *name;
	char *file;
	int line;
	size_t index;	    /* position in the set */
	bool shadow;	    /* spec.mode: shadow */
	bool public_route;  /* spec.config.public: no token, no introspection */
	size_t n_selectors; /* 0: applies to every request */
	struct selector *selectors;

	struct policy_introspection intro; /* strings point at the owned copies below */
	char *url, *client_id, *client_secret;

	int64_t cache_ms, neg_cache_ms;
	int64_t stale_ms; /* staleIfError, 0: off */

	struct strlist scopes;
	enum scope_match scope_match;
	char scope_sep;
	char *scopes_joined;

	struct strlist audiences;
	enum aud_match aud_match;

	struct strlist issuers;

	struct policy_jwt jwt;			 /* keys and remote_url NULL: not a jwt policy */
	struct jwks *jwks;			 /* owned; jwt.keys points here */
	char *jwt_issuer, *jwt_source, *jwt_url; /* owned copies */

	/* introspection.signedResponse; intro.signed_response points at sr */
	struct policy_signed_response sr;
	struct jwks *sr_jwks;		      /* owned; sr.keys.keys points here */
	char *sr_issuer, *sr_source, *sr_url; /* owned copies */

	struct claim_map *claim_map; /* owned; NULL: nothing mapped */
	char *userinfo_url;	     /* owned; NULL: no userinfo step */
};

struct policy_set {
	size_t n, cap;
	struct policy **v;
	bool route_labels; /* some selector has route labels: see policy_request_check() */
};

/* ---- loader helpers ---------------------------------------------------
 * Every pol_* function below that returns int returns 0, or -1 after filling
 * l->err through pol_fail(). <where> is the dotted location of the node
 * ("spec.config.glooAuth...") used in messages. Strings they return are NEW
 * (the caller frees them). */

/* What one YAML document is being loaded with. */
struct pol_ld {
	struct err *err;  /* may be NULL */
	const char *file; /* as given, for messages */
	const char *dir;  /* its directory, for relative clientSecretFile paths */
	yaml_document_t *doc;
};

/* policy_yaml.c */
int pol_fail(struct pol_ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *pol_at(char *w, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
yaml_node_t *pol_node(struct pol_ld *l, yaml_node_item_t i);
bool pol_is_null(const yaml_node_t *n);
const char *pol_kind(const yaml_node_t *n);
size_t pol_seq_len(const yaml_node_t *n);
int pol_fields(struct pol_ld *l, const yaml_node_t *map, const char *where, const char *const *keys,
	       yaml_node_t **vals);
int pol_missing(struct pol_ld *l, const yaml_node_t *map, const char *where, const char *key);
int pol_scalar(struct pol_ld *l, const yaml_node_t *n, const char *where, bool allow_empty,
	       char **out);
int pol_choice(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *const *words,
	       const char *expect);
int pol_strlist(struct pol_ld *l, const yaml_node_t *n, const char *where,
		int (*check)(struct pol_ld *, const yaml_node_t *, const char *, char *),
		bool allow_empty_list, struct strlist *out);
void pol_strlist_free(struct strlist *sl);
int pol_string_map(struct pol_ld *l, const yaml_node_t *n, const char *where);

/* policy_value.c: checks of one string; pol_check_host also rewrites it. */
int pol_check_text(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s);
int pol_check_scope(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s);
int pol_check_method(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s);
int pol_check_host(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s);
int pol_check_url(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *u);
int pol_check_name(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *s);
int pol_duration(struct pol_ld *l, const yaml_node_t *n, const char *where, int64_t *ms);
int pol_secret_file(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *name,
		    char **out);
int pol_secret_env(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *name,
		   char **out);

/* policy_atv.c: loads spec.config...oauth2.accessTokenValidation into <p>:
 * its validation steps, client authentication, scope, audience and issuer
 * checks, and cache rules. */
int pol_load_atv(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where);

/* policy_jwt.c: loads accessTokenValidation.jwt into p->jwt, and
 * introspection.signedResponse into p->sr; frees both. */
int pol_load_jwt(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where);
int pol_load_signed(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where);
void pol_jwt_free(struct policy *p);

/* policy_claims.c: dynamicMetadataFromClaims (a mapping) and
 * userIdAttributeName (a scalar) into p->claim_map. */
int pol_load_claim_map(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where);
int pol_load_user_id(struct pol_ld *l, struct policy *p, const yaml_node_t *n, const char *where);

/* policy_routes.c: loads spec.applyToRoutes into p->selectors; frees one. */
int pol_load_routes(struct pol_ld *l, struct policy *p, const yaml_node_t *n);
void pol_selector_free(struct selector *s);

#endif

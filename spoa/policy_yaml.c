/* policy_yaml.c - walking a libyaml node tree against a fixed schema, with
 * errors that carry the file, line and column of the offending node.
 *
 * Every level of the policy schema has one expected node type and the leaves
 * are scalars, so a walk is bounded by the schema's depth even when aliases
 * make the tree cyclic. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "log.h"
#include "policy_int.h"
#include "yaml_node.h"

/* ---- errors ---------------------------------------------------------- */

/* Fills l->err at the position of <n> (libyaml marks are 0-based). */
int pol_fail(struct pol_ld *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yaml_node_fail(l->err, l->file, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Builds the dotted location of a node ("spec.config...") for messages;
 * truncation only shortens a message. */

const char *pol_at(char *w, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w, n, fmt, ap);
	va_end(ap);
	return w;
}

/* ---- nodes ----------------------------------------------------------- */

yaml_node_t *pol_node(struct pol_ld *l, yaml_node_item_t i)
{
	return yaml_document_get_node(l->doc, i);
}

bool pol_is_null(const yaml_node_t *n)
{
	return yaml_node_is_null(n);
}

const char *pol_kind(const yaml_node_t *n)
{
	return yaml_node_kind(n);
}

size_t pol_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Keys that Gloo accepts but this agent does not implement: a specific
 * message beats "unknown key" for someone migrating a Gloo policy. */
static const struct {
	const char *key, *why;
} unsupported[] = {
    {"applyToDestinations", "only applyToRoutes selects requests"},
    {"server", "the agent is the ext-auth server"},
    {"customAuth", "only glooAuth is supported"},
    {"booleanExpr", "every policy that applies must pass"},
    {"basicAuth", "only oauth2 configs are supported"},
    {"apiKeyAuth", "only oauth2 configs are supported"},
    {"opaAuth", "only oauth2 configs are supported"},
    {"ldap", "only oauth2 configs are supported"},
    {"hmacAuth", "only oauth2 configs are supported"},
    {"passThroughAuth", "only oauth2 configs are supported"},
    {"plugin", "only oauth2 configs are supported"},
    {"oidcAuthorizationCode", "only accessTokenValidation is supported"},
    {"jwt", "only introspection is supported"},
    {"claimsToHeaders", "claims are returned as SPOE variables"},
    {"clientSecretRef", "use clientSecretFile or clientSecretEnv"},
};

/* Keys of Gloo's published and exported documents that change nothing this
 * agent enforces: loaded, skipped, and named in a debug line. Keyed by the
 * location, so the same word elsewhere is still refused or unknown. */
static const struct {
	const char *where, *key, *why;
} ignored[] = {
    {"the document", "status", "written by the Kubernetes controller"},
    {"metadata", "uid", "Kubernetes object metadata"},
    {"metadata", "resourceVersion", "Kubernetes object metadata"},
    {"metadata", "generation", "Kubernetes object metadata"},
    {"metadata", "creationTimestamp", "Kubernetes object metadata"},
    {"metadata", "deletionTimestamp", "Kubernetes object metadata"},
    {"metadata", "deletionGracePeriodSeconds", "Kubernetes object metadata"},
    {"metadata", "managedFields", "Kubernetes object metadata"},
    {"metadata", "finalizers", "Kubernetes object metadata"},
    {"metadata", "ownerReferences", "Kubernetes object metadata"},
    {"metadata", "selfLink", "Kubernetes object metadata"},
    {"metadata", "generateName", "Kubernetes object metadata"},
    {"spec.config", "server", "the ExtAuthServer that runs the policy: oauth2-spoa itself"},
    {"spec.config.glooAuth.configs[0]", "name", "a label of the config"},
};

static bool is_ignored(struct pol_ld *l, const yaml_node_t *k, const char *where, const char *ks)
{
	for (size_t j = 0; j < sizeof(ignored) / sizeof(ignored[0]); j++)
		if (!strcmp(where, ignored[j].where) && !strcmp(ks, ignored[j].key)) {
			bool top = !strcmp(where, "the document");

			log_debug("%s:%d:%d: %s%s%s ignored (%s)", l->file,
				  (int)k->start_mark.line + 1, (int)k->start_mark.column + 1,
				  top ? "" : where, top ? "" : ".", ks, ignored[j].why);
			return true;
		}
	return false;
}

/* Checks that <map> is a mapping whose keys are all in keys[] (NULL
 * terminated), at most once each, and stores each value in vals[i] (NULL when
 * absent). */
int pol_fields(struct pol_ld *l, const yaml_node_t *map, const char *where, const char *const *keys,
	       yaml_node_t **vals)
{
	size_t nk = 0;

	while (keys[nk])
		nk++;
	memset(vals, 0, nk * sizeof(*vals));
	if (map->type != YAML_MAPPING_NODE)
		return pol_fail(l, map, "%s must be a mapping, not %s", where, pol_kind(map));
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = pol_node(l, pr->key), *v = pol_node(l, pr->value);
		const char *ks;
		size_t i;

		if (k->type != YAML_SCALAR_NODE || pol_is_null(k))
			return pol_fail(l, k, "%s: keys must be strings, not %s", where,
					pol_kind(k));
		ks = (const char *)k->data.scalar.value;
		for (i = 0; i < nk; i++)
			if (k->data.scalar.length == strlen(keys[i]) && !strcmp(ks, keys[i]))
				break;
		if (i < nk) {
			if (vals[i])
				return pol_fail(l, k, "duplicate key \"%s\" in %s", keys[i], where);
			vals[i] = v;
			continue;
		}
		if (is_ignored(l, k, where, ks))
			continue;
		for (size_t j = 0; j < sizeof(unsupported) / sizeof(unsupported[0]); j++)
			if (!strcmp(ks, unsupported[j].key))
				return pol_fail(l, k,
						"%s: \"%s\" is not supported by oauth2-spoa (%s)",
						where, ks, unsupported[j].why);
		return pol_fail(l, k, "unknown key \"%.64s\" in %s", ks, where);
	}
	return 0;
}

int pol_missing(struct pol_ld *l, const yaml_node_t *map, const char *where, const char *key)
{
	return pol_fail(l, map, "%s: missing required key \"%s\"", where, key);
}

/* Copies scalar <n> into a new C string. Refuses non-scalars, null, NUL
 * bytes, overlong values and, unless <allow_empty>, "". */
int pol_scalar(struct pol_ld *l, const yaml_node_t *n, const char *where, bool allow_empty,
	       char **out)
{
	size_t len;

	if (n->type != YAML_SCALAR_NODE || pol_is_null(n))
		return pol_fail(l, n, "%s must be a string, not %s", where, pol_kind(n));
	len = n->data.scalar.length;
	if (!len && !allow_empty)
		return pol_fail(l, n, "%s must not be empty", where);
	if (len > POLICY_MAX_STRING)
		return pol_fail(l, n, "%s is longer than %u bytes", where, POLICY_MAX_STRING);
	if (memchr(n->data.scalar.value, '\0', len))
		return pol_fail(l, n, "%s contains a NUL byte", where);
	*out = strndup((const char *)n->data.scalar.value, len);
	if (!*out)
		return pol_fail(l, n, "out of memory");
	return 0;
}

/* A scalar compared to a fixed set of words; returns its index. */
int pol_choice(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *const *words,
	       const char *expect)
{
	char *s;
	int i;

	if (pol_scalar(l, n, where, false, &s))
		return -1;
	for (i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			break;
	if (!words[i])
		pol_fail(l, n, "%s: unknown value \"%.64s\" (expected %s)", where, s, expect);
	free(s);
	return words[i] ? i : -1;
}

void pol_strlist_free(struct strlist *sl)
{
	for (size_t i = 0; i < sl->n; i++)
		free(sl->v[i]);
	free(sl->v);
	sl->v = NULL;
	sl->n = 0;
}

/* Loads a list of distinct strings, each validated (and maybe rewritten) by <check>. */
int pol_strlist(struct pol_ld *l, const yaml_node_t *n, const char *where,
		int (*check)(struct pol_ld *, const yaml_node_t *, const char *, char *),
		bool allow_empty_list, struct strlist *out)
{
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return pol_fail(l, n, "%s must be a list, not %s", where, pol_kind(n));
	count = pol_seq_len(n);
	if (!count && !allow_empty_list)
		return pol_fail(l, n, "%s must not be empty", where);
	if (count > POLICY_MAX_LIST)
		return pol_fail(l, n, "%s has more than %u items", where, POLICY_MAX_LIST);
	out->v = calloc(count ? count : 1, sizeof(*out->v));
	if (!out->v)
		return pol_fail(l, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = pol_node(l, n->data.sequence.items.start[i]);
		char w[160], *s;

		pol_at(w, sizeof(w), "%s[%zu]", where, i);
		if (pol_scalar(l, item, w, false, &s))
			return -1;
		out->v[out->n++] = s;
		if (check(l, item, w, s))
			return -1;
		for (size_t j = 0; j + 1 < out->n; j++)
			if (!strcmp(out->v[j], s))
				return pol_fail(l, item, "%s: duplicate value \"%.64s\"", w, s);
	}
	return 0;
}

/* Ignored, but checked: kept so that Kubernetes manifests load as they are. */
int pol_string_map(struct pol_ld *l, const yaml_node_t *n, const char *where)
{
	log_debug("%s:%d:%d: %s ignored (Kubernetes object metadata)", l->file,
		  (int)n->start_mark.line + 1, (int)n->start_mark.column + 1, where);
	if (n->type != YAML_MAPPING_NODE)
		return pol_fail(l, n, "%s must be a mapping, not %s", where, pol_kind(n));
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *k = pol_node(l, pr->key), *v = pol_node(l, pr->value);

		if (k->type != YAML_SCALAR_NODE || pol_is_null(k))
			return pol_fail(l, k, "%s: keys must be strings, not %s", where,
					pol_kind(k));
		if (v->type != YAML_SCALAR_NODE)
			return pol_fail(l, v, "%s: values must be strings, not %s", where,
					pol_kind(v));
	}
	return 0;
}

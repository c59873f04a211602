/* config_yaml.c - see config_yaml.h. */
#include "config_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "verdict.h"
#include "yaml_node.h"

int config_yaml_fail(struct config_yaml_ld *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yaml_node_fail(l->err, l->file, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* yaml_node_fields() with the loader's document, error and file. */
int config_yaml_fields(struct config_yaml_ld *l, const yaml_node_t *map, const char *where,
		       const char *const *keys, yaml_node_t **vals)
{
	return yaml_node_fields(l->doc, l->err, l->file, map, where, keys, vals);
}

/* A non-empty scalar without NUL bytes, at most 4096 bytes; BORROWED. */
const char *config_yaml_scalar(struct config_yaml_ld *l, const yaml_node_t *n, const char *where)
{
	size_t len;

	if (n->type != YAML_SCALAR_NODE || yaml_node_is_null(n)) {
		config_yaml_fail(l, n, "%s must be a string, not %s", where, yaml_node_kind(n));
		return NULL;
	}
	len = n->data.scalar.length;
	if (!len || len > 4096 || memchr(n->data.scalar.value, '\0', len)) {
		config_yaml_fail(l, n, "%s must be 1..4096 bytes of text", where);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int config_yaml_integer(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
			long long lo, long long hi, long long *out)
{
	const char *s = config_yaml_scalar(l, n, where);
	char *end;
	long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return config_yaml_fail(
		    l, n, "%s: expected an integer in %lld..%lld, not \"%.64s\"", where, lo, hi, s);
	*out = v;
	return 0;
}

/* A duration as policies write it ("30", "500ms", "1m"), in ms, within [lo, hi]. */
int config_yaml_duration(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
			 int64_t lo, int64_t hi, int64_t *ms)
{
	const char *s = config_yaml_scalar(l, n, where);

	if (!s)
		return -1;
	if (policy_duration_parse(s, ms) < 0 || *ms < lo || *ms > hi)
		return config_yaml_fail(
		    l, n, "%s: expected a duration from %lldms to %lldms, not \"%.64s\"", where,
		    (long long)lo, (long long)hi, s);
	return 0;
}

int config_yaml_choice(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
		       const char *const *words, const char *expect)
{
	const char *s = config_yaml_scalar(l, n, where);

	if (!s)
		return -1;
	for (int i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			return i;
	return config_yaml_fail(l, n, "%s: unknown value \"%.64s\" (expected %s)", where, s,
				expect);
}

/* Replaces *dst with a copy of <s>; relative paths get the file's dir. */
int config_yaml_set_str(struct config_yaml_ld *l, const yaml_node_t *n, char **dst, const char *s,
			bool path)
{
	char *v;

	if (path && s[0] != '/' && l->dir[0]) {
		if (asprintf(&v, "%s/%s", l->dir, s) == -1)
			v = NULL;
	} else {
		v = strdup(s);
	}
	if (!v)
		return config_yaml_fail(l, n, "out of memory");
	free(*dst);
	*dst = v;
	return 0;
}

/* A scalar or a list of scalars into dst[0..max). */
int config_yaml_str_list(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
			 char **dst, size_t *count, size_t max, bool path)
{
	size_t len = 1;

	for (size_t i = 0; i < *count; i++) {
		free(dst[i]);
		dst[i] = NULL;
	}
	*count = 0;
	if (n->type == YAML_SCALAR_NODE) {
		const char *s = config_yaml_scalar(l, n, where);

		if (!s || config_yaml_set_str(l, n, &dst[0], s, path))
			return -1;
		*count = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return config_yaml_fail(l, n, "%s must be a string or a list, not %s", where,
					yaml_node_kind(n));
	len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len > max)
		return config_yaml_fail(l, n, "%s: at most %zu items", where, max);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it =
		    yaml_document_get_node(l->doc, n->data.sequence.items.start[i]);
		const char *s = config_yaml_scalar(l, it, where);

		if (!s || config_yaml_set_str(l, it, &dst[i], s, path))
			return -1;
		*count = i + 1;
	}
	return 0;
}

/* "variables": "all", or a list of variable names (verdict.h). */
int config_yaml_variables(struct config_yaml_ld *l, const yaml_node_t *n, unsigned *mask)
{
	const char *s;
	unsigned m = 0;

	if (n->type == YAML_SCALAR_NODE) {
		if (!(s = config_yaml_scalar(l, n, "variables")))
			return -1;
		if (strcmp(s, "all"))
			return config_yaml_fail(l, n,
						"variables must be \"all\" or a list of names");
		*mask = VERDICT_VARS_ALL;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return config_yaml_fail(l, n,
					"variables must be \"all\" or a list of names, not %s",
					yaml_node_kind(n));
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
	     i++) {
		const yaml_node_t *it = yaml_document_get_node(l->doc, *i);
		int bit;

		if (!(s = config_yaml_scalar(l, it, "variables")))
			return -1;
		if ((bit = verdict_var_bit(slice_str(s))) < 0)
			return config_yaml_fail(
			    l, it,
			    "variables: unknown variable \"%s\" (allowed, status, reason, "
			    "policy, sub, client_id, scope, www_authenticate)",
			    s);
		m |= (unsigned)bit;
	}
	*mask = m;
	return 0;
}

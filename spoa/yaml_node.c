/* yaml_node.c - see yaml_node.h. */
#include "yaml_node.h"

#include <stdio.h>
#include <string.h>

int yaml_node_fail(struct err *e, const char *file, const yaml_node_t *n, const char *fmt,
		   va_list ap)
{
	if (!e)
		return -1;
	snprintf(e->file, sizeof(e->file), "%s", file);
	/* libyaml marks are 0-based */
	e->line = n ? (int)n->start_mark.line + 1 : 0;
	e->col = n ? (int)n->start_mark.column + 1 : 0;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

bool yaml_node_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return len == 0 || (len == 1 && v[0] == '~') ||
	       (len == 4 &&
		(!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

const char *yaml_node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		return yaml_node_is_null(n) ? "null" : "a scalar";
	case YAML_NO_NODE:
		break;
	}
	return "nothing";
}

static int fields_fail(struct err *e, const char *file, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fields_fail(struct err *e, const char *file, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yaml_node_fail(e, file, n, fmt, ap);
	va_end(ap);
	return -1;
}

int yaml_node_fields(yaml_document_t *doc, struct err *e, const char *file, const yaml_node_t *map,
		     const char *where, const char *const *keys, yaml_node_t **vals)
{
	size_t nk = 0;

	while (keys[nk])
		nk++;
	memset(vals, 0, nk * sizeof(*vals));
	if (map->type != YAML_MAPPING_NODE)
		return fields_fail(e, file, map, "%s must be a mapping, not %s", where,
				   yaml_node_kind(map));
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key);
		const char *ks;
		size_t i;

		if (k->type != YAML_SCALAR_NODE || yaml_node_is_null(k))
			return fields_fail(e, file, k, "%s: keys must be strings, not %s", where,
					   yaml_node_kind(k));
		ks = (const char *)k->data.scalar.value;
		for (i = 0; i < nk; i++)
			if (k->data.scalar.length == strlen(keys[i]) && !strcmp(ks, keys[i]))
				break;
		if (i == nk)
			return fields_fail(e, file, k, "unknown key \"%.64s\" in %s", ks, where);
		if (vals[i])
			return fields_fail(e, file, k, "duplicate key \"%s\" in %s", keys[i],
					   where);
		vals[i] = yaml_document_get_node(doc, pr->value);
	}
	return 0;
}

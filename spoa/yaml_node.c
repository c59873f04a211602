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

/* yaml_node.h - what the policy loader and the config loader share about
 * libyaml document nodes: positions for error reports, YAML 1.2 nulls, and a
 * node's kind in words. No allocation, no I/O. */
#ifndef OAUTH2_SPOA_YAML_NODE_H
#define OAUTH2_SPOA_YAML_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <yaml.h>

#include "err.h"

/* Fills <e> (may be NULL) with <file>, the 1-based line and column of <n>
 * (0 when <n> is NULL) and the formatted message. Returns -1. */
int yaml_node_fail(struct err *e, const char *file, const yaml_node_t *n, const char *fmt,
		   va_list ap) __attribute__((format(printf, 4, 0)));

/* True for a plain scalar that YAML reads as null: "", "~", "null", "Null", "NULL". */
bool yaml_node_is_null(const yaml_node_t *n);

/* "a mapping", "a list", "null", "a scalar" or "nothing": for messages. */
const char *yaml_node_kind(const yaml_node_t *n);

/* <map>, a node of <doc>, must be a mapping whose keys are all in keys[]
 * (NULL-terminated), at most once each: vals[i] gets the value of keys[i]
 * (borrowed from <doc>; NULL when absent). Returns 0, or yaml_node_fail()'s
 * -1 with <e> naming the node and <where> (the mapping, for messages). */
int yaml_node_fields(yaml_document_t *doc, struct err *e, const char *file, const yaml_node_t *map,
		     const char *where, const char *const *keys, yaml_node_t **vals);

#endif

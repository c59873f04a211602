/* config_yaml.h - typed readers of the config file's YAML nodes (scalars,
 * integers, durations, choices, strings, lists), each failing with the
 * node's file:line:col. PRIVATE to config.c and config_yaml.c.
 *
 * Every reader returns 0 (or the value), or -1 with the loader's error set.
 * Strings it stores are NEW copies owned by the config. */
#ifndef OAUTH2_SPOA_CONFIG_YAML_H
#define OAUTH2_SPOA_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "err.h"

/* One document being read: where errors go and what they name. */
struct config_yaml_ld {
	struct err *err;
	const char *file;
	const char *dir; /* for relative paths; "" when the file has none */
	yaml_document_t *doc;
};

int config_yaml_fail(struct config_yaml_ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *config_yaml_scalar(struct config_yaml_ld *l, const yaml_node_t *n, const char *where);
int config_yaml_fields(struct config_yaml_ld *l, const yaml_node_t *map, const char *where,
		       const char *const *keys, yaml_node_t **vals);
int config_yaml_integer(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
			long long lo, long long hi, long long *out);
int config_yaml_duration(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
			 int64_t lo, int64_t hi, int64_t *ms);
/* The index of the word of <words> (NULL-terminated) the scalar is, or -1
 * with the error naming <expect>. */
int config_yaml_choice(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
		       const char *const *words, const char *expect);
/* Replaces *dst with a copy of <s>; with <path>, a relative path is taken
 * relative to the file's directory. */
int config_yaml_set_str(struct config_yaml_ld *l, const yaml_node_t *n, char **dst, const char *s,
			bool path);
/* A string or a sequence of strings (at most <max>) into dst[0..*count). */
int config_yaml_str_list(struct config_yaml_ld *l, const yaml_node_t *n, const char *where,
			 char **dst, size_t *count, size_t max, bool path);
/* "variables": "all", or a list of variable names (verdict.h), as a mask. */
int config_yaml_variables(struct config_yaml_ld *l, const yaml_node_t *n, unsigned *mask);

#endif

/* policy_routes.c - spec.applyToRoutes: route label selectors and our
 * request matchers (path, hosts, methods), checked and compiled at load. */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "path.h"
#include "policy.h"
#include "policy_int.h"

static int load_labels(struct pol_ld *l, struct selector *s, const yaml_node_t *n,
		       const char *where)
{
	size_t count;

	if (n->type != YAML_MAPPING_NODE)
		return pol_fail(l, n, "%s must be a mapping, not %s", where, pol_kind(n));
	count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (!count)
		return pol_fail(l, n, "%s must not be empty", where);
	if (count > POLICY_MAX_LIST)
		return pol_fail(l, n, "%s has more than %u labels", where, POLICY_MAX_LIST);
	s->labels = calloc(count, sizeof(*s->labels));
	if (!s->labels)
		return pol_fail(l, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
		const yaml_node_t *k = pol_node(l, pr->key), *v = pol_node(l, pr->value);
		struct label *lb = &s->labels[s->n_labels];
		char w[160];

		pol_at(w, sizeof(w), "%s key", where);
		if (pol_scalar(l, k, w, false, &lb->key))
			return -1;
		pol_at(w, sizeof(w), "%s.%.64s", where, lb->key);
		if (pol_scalar(l, v, w, true, &lb->value)) {
			free(lb->key);
			return -1;
		}
		s->n_labels++;
		/* The request carries "k=v,k=v": keys cannot hold '=' or ',',
		 * values cannot hold ','; neither can hold blanks, which are
		 * trimmed from the request. */
		for (const unsigned char *c = (const unsigned char *)lb->key; *c; c++)
			if (*c <= 0x20 || *c >= 0x7f || *c == ',' || *c == '=')
				return pol_fail(
				    l, k,
				    "%s: label key \"%.64s\" may not contain blanks, ',' or '='",
				    where, lb->key);
		for (const unsigned char *c = (const unsigned char *)lb->value; *c; c++)
			if (*c <= 0x20 || *c >= 0x7f || *c == ',')
				return pol_fail(
				    l, v, "%s: label value \"%.64s\" may not contain blanks or ','",
				    w, lb->value);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->labels[j].key, lb->key))
				return pol_fail(l, k, "duplicate key \"%.64s\" in %s", lb->key,
						where);
	}
	return 0;
}

/* glibc's regcomp() copies the tree of a repeated atom once per repetition,
 * so "(a|b)+++++..." or "((a{100}){100}){100}" take gigabytes to compile.
 * Before compiling, estimate the size of the expanded tree: an atom counts 1,
 * a group the sum of its contents, and a repetition multiplies the atom it
 * follows ("+", "*", "?" by 2, "{m,n}" by the larger bound + 1), and the
 * total may not exceed REGEX_MAX_COST (".{1,1000}" compiles to about 8 MB;
 * the memory grows with the square of the count). A repetition
 * right after another one is refused (POSIX leaves it undefined), and so are
 * unbalanced parentheses (they would escape the anchoring). Returns NULL
 * when the regex is within bounds, else why not. Anything else this rough
 * parser does not understand is left to regcomp() to refuse. */
#define REGEX_MAX_COST	1000u
#define REGEX_MAX_DEPTH 32
#define UNBALANCED	"unbalanced parentheses: "

/* <p> is at a bracket expression's '['. Returns its closing ']', or NULL
 * when it has none (regcomp() will refuse it). */
static const char *bracket_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *e = strchr(p + 2, p[1]);

			while (e && e[1] != ']')
				e = strchr(e + 1, p[1]);
			if (!e)
				return NULL;
			p = e + 1;
		}
		p++;
	}
	return *p ? p : NULL;
}

/* <p> is at a bound's '{'. Sets *end to its '}' and *k to how many times the
 * atom before it counts, plus one; *end is NULL when the bound is malformed
 * (regcomp() will judge it). Returns why it is too large, or NULL. */
static const char *brace_bound(const char *p, const char **end, size_t *k)
{
	char *e;
	unsigned long m = strtoul(p + 1, &e, 10), n = m;

	*end = NULL;
	if (e == p + 1)
		return NULL;
	if (*e == ',') {
		n = e[1] == '}' ? m + 1 : strtoul(e + 1, &e, 10);
		if (e[0] == ',')
			e++;
	}
	if (*e != '}')
		return NULL;
	if (n > REGEX_MAX_COST || m > REGEX_MAX_COST)
		return "a repetition count is too large";
	*k = (n > m ? n : m) + 1;
	*end = e;
	return NULL;
}

static const char *regex_too_complex(const char *re)
{
	size_t sum[REGEX_MAX_DEPTH + 1] = {0}, last[REGEX_MAX_DEPTH + 1] = {0};
	int d = 0;
	bool after_rep = false;

	for (const char *p = re; *p; p++) {
		size_t atom = 0, k = 0;

		switch (*p) {
		case '(':
			if (d == REGEX_MAX_DEPTH)
				return "groups nested too deeply";
			d++;
			sum[d] = last[d] = 0;
			after_rep = false;
			continue;
		case ')':
			/* Never leave this to regcomp(): the regex is compiled as
			 * "^(" re ")$", which balances "x)|(a{1001}" again. */
			if (d == 0)
				return UNBALANCED "a ')' closes no group";
			atom = sum[d] ? sum[d] : 1;
			d--;
			break;
		case '|':
			last[d] = 0;
			after_rep = false;
			continue;
		case '[':
			if (!(p = bracket_end(p)))
				return NULL;
			atom = 1;
			break;
		case '\\':
			if (p[1])
				p++;
			atom = 1;
			break;
		case '*':
		case '+':
		case '?':
			k = 2;
			break;
		case '{': {
			const char *e, *why = brace_bound(p, &e, &k);

			if (why)
				return why;
			if (!e)
				return NULL;
			p = e;
			break;
		}
		default:
			atom = 1;
			break;
		}
		if (k) {
			if (after_rep)
				return "a repetition follows another repetition";
			after_rep = true;
			/* the last atom now counts k times instead of once */
			if (last[d] && k - 1 > (REGEX_MAX_COST - sum[d]) / last[d])
				return "repetitions expand it too much";
			sum[d] += last[d] * (k - 1);
			last[d] *= k;
		} else {
			after_rep = false;
			sum[d] += atom;
			last[d] = atom;
		}
		if (sum[d] > REGEX_MAX_COST)
			return "repetitions expand it too much";
	}
	return d ? UNBALANCED "a '(' is never closed" : NULL;
}

/* exact and prefix values are compared with the decoded canonical request
 * path (policy.h), so they must be canonical too, and are kept decoded:
 * "/a%3Ab" and "/a:b" then select the same requests, as the application
 * serves them alike. */
static int canonical_path(struct pol_ld *l, struct selector *s, const yaml_node_t *val,
			  const char *w)
{
	struct slice d;

	if (s->path[0] != '/')
		return pol_fail(l, val, "%s: \"%.64s\" must start with '/'", w, s->path);
	if (!path_is_canonical(slice_str(s->path)))
		return pol_fail(l, val,
				"%s: \"%.64s\" is not a canonical path (no \"//\", \".\" or "
				"\"..\" segments, ';', '\\', or escapes of unreserved characters, "
				"'/', '\\', ';' or controls; escapes in upper case)",
				w, s->path);
	d = path_decode(slice_str(s->path), (uint8_t *)s->path, strlen(s->path));
	s->path[d.len] = '\0';
	return 0;
}

static int load_path(struct pol_ld *l, struct selector *s, const yaml_node_t *n, const char *where)
{
	static const char *const keys[] = {"exact", "prefix", "regex", NULL};
	yaml_node_t *v[3], *val = NULL;
	char w[160], *anchored;
	int kindi = -1, rc;

	if (pol_fields(l, n, where, keys, v))
		return -1;
	for (int i = 0; i < 3; i++) {
		if (!v[i])
			continue;
		if (val)
			return pol_fail(l, v[i], "%s: set exactly one of exact, prefix and regex",
					where);
		val = v[i];
		kindi = i;
	}
	if (!val)
		return pol_fail(l, n, "%s: set exactly one of exact, prefix and regex", where);
	pol_at(w, sizeof(w), "%s.%s", where, keys[kindi]);
	if (pol_scalar(l, val, w, false, &s->path))
		return -1;
	s->path_kind = (enum path_kind)(PATH_EXACT + kindi);
	if (s->path_kind != PATH_REGEX)
		return canonical_path(l, s, val, w);
	{
		const char *why = regex_too_complex(s->path);

		if (why && !strncmp(why, UNBALANCED, strlen(UNBALANCED)))
			return pol_fail(l, val, "%s: invalid regex \"%.64s\": %s", w, s->path, why);
		if (why)
			return pol_fail(l, val, "%s: regex \"%.64s\" is too complex: %s", w,
					s->path, why);
	}
	/* Anchor it: like Envoy's safe_regex, the regex must match the whole
	 * path, not a piece of it. */
	if (asprintf(&anchored, "^(%s)$", s->path) == -1)
		return pol_fail(l, val, "out of memory");
	rc = regcomp(&s->re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc) {
		char msg[128];

		regerror(rc, NULL, msg, sizeof(msg));
		return pol_fail(l, val, "%s: invalid regex \"%.64s\": %s", w, s->path, msg);
	}
	s->has_regex = true;
	return 0;
}

static int load_selector(struct pol_ld *l, struct selector *s, const yaml_node_t *n,
			 const char *where)
{
	static const char *const item_keys[] = {"route", "match", NULL};
	static const char *const route_keys[] = {"labels", NULL};
	static const char *const match_keys[] = {"path", "hosts", "methods", NULL};
	yaml_node_t *v[2], *r[1], *m[3];
	char w[160];

	if (pol_fields(l, n, where, item_keys, v))
		return -1;
	if (!v[0] && !v[1])
		return pol_fail(l, n, "%s: set route, match or both", where);
	if (v[0]) {
		pol_at(w, sizeof(w), "%s.route", where);
		if (pol_fields(l, v[0], w, route_keys, r))
			return -1;
		if (!r[0])
			return pol_missing(l, v[0], w, "labels");
		pol_at(w, sizeof(w), "%s.route.labels", where);
		if (load_labels(l, s, r[0], w))
			return -1;
	}
	if (v[1]) {
		pol_at(w, sizeof(w), "%s.match", where);
		if (pol_fields(l, v[1], w, match_keys, m))
			return -1;
		if (!m[0] && !m[1] && !m[2])
			return pol_fail(l, v[1], "%s: set path, hosts, methods or several", w);
		if (m[0]) {
			pol_at(w, sizeof(w), "%s.match.path", where);
			if (load_path(l, s, m[0], w))
				return -1;
		}
		if (m[1]) {
			pol_at(w, sizeof(w), "%s.match.hosts", where);
			if (pol_strlist(l, m[1], w, pol_check_host, false, &s->hosts))
				return -1;
		}
		if (m[2]) {
			pol_at(w, sizeof(w), "%s.match.methods", where);
			if (pol_strlist(l, m[2], w, pol_check_method, false, &s->methods))
				return -1;
		}
	}
	return 0;
}

int pol_load_routes(struct pol_ld *l, struct policy *p, const yaml_node_t *n)
{
	const char *where = "spec.applyToRoutes";
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return pol_fail(l, n, "%s must be a list, not %s", where, pol_kind(n));
	count = pol_seq_len(n);
	if (!count)
		return pol_fail(l, n, "%s must not be empty (leave it out to apply to every route)",
				where);
	if (count > POLICY_MAX_LIST)
		return pol_fail(l, n, "%s has more than %u items", where, POLICY_MAX_LIST);
	p->selectors = calloc(count, sizeof(*p->selectors));
	if (!p->selectors)
		return pol_fail(l, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		char w[64];

		pol_at(w, sizeof(w), "%s[%zu]", where, i);
		p->n_selectors++;
		if (load_selector(l, &p->selectors[i], pol_node(l, n->data.sequence.items.start[i]),
				  w))
			return -1;
	}
	return 0;
}

void pol_selector_free(struct selector *s)
{
	for (size_t i = 0; i < s->n_labels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	free(s->path);
	if (s->has_regex)
		regfree(&s->re);
	pol_strlist_free(&s->hosts);
	pol_strlist_free(&s->methods);
}

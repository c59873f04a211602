/* policy_load.c - turning ExtAuthPolicy YAML files into a policy set: the
 * document schema (policy_yaml.c walks it, policy_value.c checks the values),
 * directories, files, multi-document streams and the set itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "claim_map.h"
#include "policy.h"
#include "policy_int.h"

#define API_GLOO "security.policy.gloo.solo.io/v2"
#define API_OURS "oauth2-spoa/v1"

static int fail_file(struct err *e, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_file(struct err *e, const char *file, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->line = e->col = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* spec.config.public: true, our extension for a route that needs no token
 * under defaultDecision: deny. Saying it takes care, so that it never happens
 * by accident: our own apiVersion (a Gloo document cannot mean it), the
 * literal true, an applyToRoutes list (never every request), enforce mode and
 * no validation config next to it. */
static int load_public(struct pol_ld *l, struct policy *p, const yaml_node_t *cfg,
		       const yaml_node_t *gloo, const yaml_node_t *pub, bool ours)
{
	const char *w = "spec.config.public";

	if (pub->type != YAML_SCALAR_NODE || strcmp((const char *)pub->data.scalar.value, "true"))
		return pol_fail(
		    l, pub, "%s must be true (leave it out for a policy that checks tokens)", w);
	if (gloo)
		return pol_fail(l, gloo,
				"spec.config: a public policy checks no token, so it cannot have "
				"glooAuth too (write two policies)");
	if (!ours)
		return pol_fail(l, pub, "%s is an oauth2-spoa extension: it needs apiVersion: %s",
				w, API_OURS);
	if (!p->n_selectors)
		return pol_fail(l, cfg,
				"%s: a public policy needs spec.applyToRoutes (it would make every "
				"route public)",
				w);
	if (p->shadow)
		return pol_fail(l, pub, "%s cannot be combined with mode: shadow", w);
	p->public_route = true;
	p->scopes_joined = strdup("");
	if (!p->scopes_joined)
		return pol_fail(l, pub, "out of memory");
	return 0;
}

/* spec.config: exactly one glooAuth config, which is an oauth2 one, or
 * public: true. Several checks are written as several policies, which must
 * all pass. */
static int load_config(struct pol_ld *l, struct policy *p, const yaml_node_t *n, bool ours)
{
	static const char *const cfg_keys[] = {"glooAuth", "disable", "public", NULL};
	static const char *const gloo_keys[] = {"configs", NULL};
	static const char *const item_keys[] = {"oauth2", NULL};
	static const char *const oauth2_keys[] = {"accessTokenValidation", NULL};
	static const char *const bools[] = {"false", "true", NULL};
	yaml_node_t *v[3], *configs, *item;
	const char *w = "spec.config.glooAuth.configs[0]";
	int disable;

	if (pol_fields(l, n, "spec.config", cfg_keys, v))
		return -1;
	/* disable: true would turn authentication off on the selected routes */
	disable = v[1] ? pol_choice(l, v[1], "spec.config.disable", bools, "true or false") : 0;
	if (disable < 0)
		return -1;
	if (disable)
		return pol_fail(l, v[1],
				"spec.config.disable: true is not supported by oauth2-spoa "
				"(delete the policy instead; for routes that need no token "
				"under defaultDecision: deny, see config.public)");
	if (v[2])
		return load_public(l, p, n, v[0], v[2], ours);
	if (!v[0])
		return pol_missing(l, n, "spec.config", "glooAuth");
	n = v[0];
	if (pol_fields(l, n, "spec.config.glooAuth", gloo_keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, "spec.config.glooAuth", "configs");
	configs = v[0];
	if (configs->type != YAML_SEQUENCE_NODE)
		return pol_fail(l, configs, "spec.config.glooAuth.configs must be a list, not %s",
				pol_kind(configs));
	if (pol_seq_len(configs) != 1)
		return pol_fail(
		    l,
		    pol_seq_len(configs) ? pol_node(l, configs->data.sequence.items.start[1])
					 : configs,
		    "spec.config.glooAuth.configs must hold exactly one oauth2 config (write one "
		    "policy per check)");
	item = pol_node(l, configs->data.sequence.items.start[0]);
	if (pol_fields(l, item, w, item_keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, item, w, "oauth2");
	n = v[0];
	if (pol_fields(l, n, "spec.config.glooAuth.configs[0].oauth2", oauth2_keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, "spec.config.glooAuth.configs[0].oauth2",
				   "accessTokenValidation");
	/* Named without its (unique) parents, so long values still fit in messages. */
	if (pol_load_atv(l, p, v[0], "accessTokenValidation"))
		return -1;
	p->intro.url = p->url;
	p->intro.client_id = p->client_id;
	p->intro.client_secret = p->client_secret;
	return 0;
}

/* ---- documents ------------------------------------------------------- */

static void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_selectors; i++)
		pol_selector_free(&p->selectors[i]);
	free(p->selectors);
	free(p->name);
	free(p->file);
	free(p->url);
	free(p->userinfo_url);
	free(p->client_id);
	if (p->client_secret) {
		explicit_bzero(p->client_secret, strlen(p->client_secret));
		free(p->client_secret);
	}
	pol_strlist_free(&p->scopes);
	free(p->scopes_joined);
	pol_strlist_free(&p->audiences);
	pol_strlist_free(&p->issuers);
	pol_jwt_free(p);
	claim_map_unref(p->claim_map);
	free(p);
}

static int load_metadata(struct pol_ld *l, struct policy *p, const yaml_node_t *n)
{
	static const char *const keys[] = {"name", "namespace", "labels", "annotations", NULL};
	yaml_node_t *v[4];
	char *name = NULL, *ns = NULL;
	int rc = -1;

	if (pol_fields(l, n, "metadata", keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, n, "metadata", "name");
	if (pol_scalar(l, v[0], "metadata.name", false, &name) ||
	    pol_check_name(l, v[0], "metadata.name", name))
		goto out;
	if (v[1] && (pol_scalar(l, v[1], "metadata.namespace", false, &ns) ||
		     pol_check_name(l, v[1], "metadata.namespace", ns)))
		goto out;
	if ((v[2] && pol_string_map(l, v[2], "metadata.labels")) ||
	    (v[3] && pol_string_map(l, v[3], "metadata.annotations")))
		goto out;
	if (ns) {
		if (asprintf(&p->name, "%s/%s", ns, name) == -1) {
			p->name = NULL;
			pol_fail(l, n, "out of memory");
			goto out;
		}
	} else {
		p->name = name;
		name = NULL;
	}
	rc = 0;
out:
	free(name);
	free(ns);
	return rc;
}

static int load_doc(struct pol_ld *l, const yaml_node_t *root, struct policy *p)
{
	static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
	static const char *const spec_keys[] = {"applyToRoutes", "config", "mode", NULL};
	static const char *const modes[] = {"enforce", "shadow", NULL};
	static const char *const apis[] = {API_GLOO, API_OURS, NULL};
	static const char *const kinds[] = {"ExtAuthPolicy", NULL};
	yaml_node_t *v[4], *s[3];
	int mode, api;

	if (root->type != YAML_MAPPING_NODE)
		return pol_fail(l, root, "a policy document must be a mapping, not %s",
				pol_kind(root));
	if (pol_fields(l, root, "the document", keys, v))
		return -1;
	if (!v[0])
		return pol_missing(l, root, "the document", "apiVersion");
	if ((api = pol_choice(l, v[0], "apiVersion", apis, API_GLOO " or " API_OURS)) < 0)
		return -1;
	if (!v[1])
		return pol_missing(l, root, "the document", "kind");
	if (pol_choice(l, v[1], "kind", kinds, "ExtAuthPolicy") < 0)
		return -1;
	if (!v[2])
		return pol_missing(l, root, "the document", "metadata");
	if (load_metadata(l, p, v[2]))
		return -1;
	if (!v[3])
		return pol_missing(l, root, "the document", "spec");
	if (pol_fields(l, v[3], "spec", spec_keys, s))
		return -1;
	if (s[0] && pol_load_routes(l, p, s[0]))
		return -1;
	if (s[2]) {
		mode = pol_choice(l, s[2], "spec.mode", modes, "enforce or shadow");
		if (mode < 0)
			return -1;
		p->shadow = mode == 1;
	}
	if (!s[1])
		return pol_missing(l, v[3], "spec", "config");
	return load_config(l, p, s[1], api == 1);
}

/* ---- files ----------------------------------------------------------- */

static int set_add(struct policy_set *set, struct policy *p)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct policy **v = realloc(set->v, cap * sizeof(*v));

		if (!v)
			return -1;
		set->v = v;
		set->cap = cap;
	}
	p->index = set->n;
	set->v[set->n++] = p;
	for (size_t i = 0; i < p->n_selectors; i++)
		set->route_labels |= p->selectors[i].n_labels > 0;
	return 0;
}

/* 1-based line and column of byte <off> of <buf>, for reader errors that
 * carry an offset but no mark. */
static void offset_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int syntax_error(const yaml_parser_t *yp, const char *buf, size_t len, const char *file,
			struct err *e)
{
	if (yp->error == YAML_MEMORY_ERROR)
		return fail_file(e, file, "out of memory");
	fail_file(e, file, "YAML syntax error: %s%s%s", yp->problem ? yp->problem : "unknown",
		  yp->context ? " " : "", yp->context ? yp->context : "");
	if (!e)
		return -1;
	if (yp->error == YAML_READER_ERROR) {
		offset_pos(buf, len, yp->problem_offset, &e->line, &e->col);
	} else {
		e->line = (int)yp->problem_mark.line + 1;
		e->col = (int)yp->problem_mark.column + 1;
	}
	return -1;
}

static int read_file(const char *path, char **out, size_t *outlen, struct err *e)
{
	size_t len = 0, cap = 4096;
	struct stat st;
	char *buf;
	ssize_t r = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return fail_file(e, path, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail_file(e, path, "not a regular file");
	}
	if (st.st_size > (off_t)POLICY_MAX_FILE_SIZE) {
		close(fd);
		return fail_file(e, path, "larger than %u bytes", POLICY_MAX_FILE_SIZE);
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return fail_file(e, path, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			/* The file may have grown since fstat(): the cap still holds. */
			char *nb;

			if (cap > POLICY_MAX_FILE_SIZE)
				break;
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	saved = errno;
	close(fd);
	if (r == -1 || len > POLICY_MAX_FILE_SIZE || len == cap) {
		free(buf);
		if (r == -1)
			return fail_file(e, path, "cannot read: %s", strerror(saved));
		if (len > POLICY_MAX_FILE_SIZE)
			return fail_file(e, path, "larger than %u bytes", POLICY_MAX_FILE_SIZE);
		return fail_file(e, path, "out of memory");
	}
	*out = buf;
	*outlen = len;
	return 0;
}

#define EMPTY_HINT                                                                                 \
	"an empty policy set switches protection off (set allowEmptyPolicySet: true or "           \
	"--allow-empty-policies if that is intended)"

static int load_file(struct policy_set *set, const char *path, unsigned flags, struct err *e)
{
	size_t before = set->n;
	yaml_parser_t yp;
	char *buf = NULL, *dir, *slash;
	size_t len = 0;
	int rc = 0;

	if (read_file(path, &buf, &len, e))
		return -1;
	dir = strdup(path);
	if (!dir) {
		free(buf);
		return fail_file(e, path, "out of memory");
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		dir[0] = '\0';
	if (!yaml_parser_initialize(&yp)) {
		free(dir);
		free(buf);
		return fail_file(e, path, "out of memory");
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (rc == 0) {
		yaml_document_t doc;
		yaml_node_t *root;
		struct pol_ld l = {e, path, dir, &doc};
		struct policy *p;

		if (!yaml_parser_load(&yp, &doc)) {
			rc = syntax_error(&yp, buf, len, path, e);
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		if (pol_is_null(root)) { /* an empty document, e.g. after a trailing "---" */
			yaml_document_delete(&doc);
			continue;
		}
		if (set->n >= POLICY_MAX_POLICIES) {
			rc = pol_fail(&l, root, "too many policies (at most %u)",
				      POLICY_MAX_POLICIES);
		} else if (!(p = calloc(1, sizeof(*p)))) {
			rc = pol_fail(&l, root, "out of memory");
		} else {
			p->line = (int)root->start_mark.line + 1;
			rc = load_doc(&l, root, p);
			if (!rc && !(p->file = strdup(path)))
				rc = pol_fail(&l, root, "out of memory");
			for (size_t i = 0; !rc && i < set->n; i++)
				if (!strcmp(set->v[i]->name, p->name))
					rc = pol_fail(
					    &l, root,
					    "duplicate policy name \"%s\" (first defined at "
					    "%.100s:%d)",
					    p->name, set->v[i]->file, set->v[i]->line);
			if (!rc && set_add(set, p))
				rc = pol_fail(&l, root, "out of memory");
			if (rc)
				policy_free(p);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&yp);
	free(dir);
	free(buf);
	if (rc == 0 && (flags & POLICY_LOAD_REQUIRE_POLICIES) && set->n == before)
		return fail_file(e, path, "holds no policy: " EMPTY_HINT);
	return rc;
}

/* "*.yaml" or "*.yml" as a shell glob sees it: dot files are left out, which
 * also skips the "..data" links of Kubernetes ConfigMap mounts. */
static bool policy_file_name(const char *name)
{
	size_t len = strlen(name);

	if (name[0] == '.')
		return false;
	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct policy_set *set, const char *path, unsigned flags, struct err *e)
{
	char **names = NULL;
	size_t n = 0, i, before = set->n;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir(path);
	if (!d)
		return fail_file(e, path, "cannot open directory: %s", strerror(errno));
	names = calloc(POLICY_MAX_FILES, sizeof(*names));
	if (!names) {
		closedir(d);
		return fail_file(e, path, "out of memory");
	}
	while (rc == 0 && (de = readdir(d))) {
		if (!policy_file_name(de->d_name))
			continue;
		if (n == POLICY_MAX_FILES)
			rc = fail_file(e, path, "more than %u *.yaml and *.yml files",
				       POLICY_MAX_FILES);
		else if (asprintf(&names[n], "%s%s%s", path,
				  path[strlen(path) - 1] == '/' ? "" : "/", de->d_name) == -1)
			rc = fail_file(e, path, "out of memory");
		else
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; rc == 0 && i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		rc = load_file(set, names[i], flags, e);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0 && (flags & POLICY_LOAD_REQUIRE_POLICIES) && set->n == before)
		return fail_file(e, path, "no *.yaml or *.yml policy file: " EMPTY_HINT);
	return rc;
}

int policy_set_load(const char *const *paths, size_t n_paths, struct policy_set **out,
		    struct err *err)
{
	return policy_set_load_flags(paths, n_paths, 0, out, err);
}

int policy_set_load_flags(const char *const *paths, size_t n_paths, unsigned flags,
			  struct policy_set **out, struct err *err)
{
	struct policy_set *set;

	if (err)
		memset(err, 0, sizeof(*err));
	if (n_paths == 0 && (flags & POLICY_LOAD_REQUIRE_POLICIES))
		return fail_file(err, "", "no policy path is configured: " EMPTY_HINT);
	set = calloc(1, sizeof(*set));
	if (!set)
		return fail_file(err, "", "out of memory");
	for (size_t i = 0; i < n_paths; i++) {
		struct stat st;
		int rc;

		if (!paths[i] || !paths[i][0]) {
			rc = fail_file(err, "", "empty policy path");
		} else if (stat(paths[i], &st) == -1) {
			rc = fail_file(err, paths[i], "cannot open: %s", strerror(errno));
		} else {
			rc = S_ISDIR(st.st_mode) ? load_dir(set, paths[i], flags, err)
						 : load_file(set, paths[i], flags, err);
		}
		if (rc) {
			policy_set_free(set);
			return -1;
		}
	}
	*out = set;
	return 0;
}

void policy_set_free(struct policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		policy_free(set->v[i]);
	free(set->v);
	free(set);
}

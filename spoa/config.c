/* config.c - see config.h. The typed YAML readers are config_yaml.c.
 *
 * The YAML walk follows policy_yaml.c: one expected node type per level,
 * leaves are scalars, so the walk is bounded by the schema's depth even with
 * aliases; every error carries the offending node's line and column. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "bearer.h"
#include "config_yaml.h"
#include "cpu_sched.h"
#include "listener.h"
#include "log.h"
#include "policy.h"
#include "verdict.h"
#include "yaml_node.h"

enum {
	K_LISTEN,
	K_THREADS,
	K_MAX_FRAME,
	K_MESSAGE,
	K_LOG,
	K_METRICS,
	K_CACHE,
	K_LEEWAY,
	K_INTRO,
	K_DEFAULT,
	K_MAX_TOKEN,
	K_POLICIES,
	K_VARIABLES,
	K_ALLOW_EMPTY,
	K_UNIX_MODE,
	K_REDIS,
	K_ADMIN,
	K_CPU_SCHED,
	K_COUNT
};

/* listen, threads, maxFrameSize, message, unixSocketMode, cpuScheduling */
static int load_server(struct config_yaml_ld *l, yaml_node_t *const *v, struct config *c)
{
	static const char *const scheds[] = {"batch", "normal", NULL};
	long long n;
	int i;

	if (v[K_LISTEN]) {
		if (config_yaml_str_list(l, v[K_LISTEN], "listen", c->listen, &c->nlisten,
					 AGENT_MAX_LISTENERS, false))
			return -1;
		if (!c->nlisten)
			return config_yaml_fail(l, v[K_LISTEN], "listen must not be empty");
	}
	if (v[K_THREADS]) {
		if (config_yaml_integer(l, v[K_THREADS], "threads", 1, AGENT_MAX_THREADS, &n))
			return -1;
		c->threads = (unsigned)n;
	}
	if (v[K_MAX_FRAME]) {
		if (config_yaml_integer(l, v[K_MAX_FRAME], "maxFrameSize", SPOP_MIN_FRAME_SIZE,
					SPOP_MAX_FRAME_SIZE, &n))
			return -1;
		c->max_frame_size = (uint32_t)n;
	}
	if (v[K_MESSAGE]) {
		const char *s = config_yaml_scalar(l, v[K_MESSAGE], "message");

		if (!s)
			return -1;
		if (strlen(s) > 255)
			return config_yaml_fail(l, v[K_MESSAGE], "message: at most 255 characters");
		if (config_yaml_set_str(l, v[K_MESSAGE], &c->message, s, false))
			return -1;
	}
	if (v[K_UNIX_MODE]) {
		const char *s = config_yaml_scalar(l, v[K_UNIX_MODE], "unixSocketMode");

		if (!s)
			return -1;
		if (listener_mode_parse(s, &c->unix_mode) < 0)
			return config_yaml_fail(
			    l, v[K_UNIX_MODE],
			    "unixSocketMode: expected an octal mode 000..0777 such as "
			    "\"0660\", not \"%.64s\"",
			    s);
	}
	if (v[K_CPU_SCHED]) {
		if ((i = config_yaml_choice(l, v[K_CPU_SCHED], "cpuScheduling", scheds,
					    "batch or normal")) < 0)
			return -1;
		c->cpu_sched = i; /* scheds[] is in enum cpu_sched order */
	}
	return 0;
}

/* log, metrics */
static int load_log(struct config_yaml_ld *l, yaml_node_t *const *v, struct config *c)
{
	static const char *const log_keys[] = {"level", "format", "target", NULL};
	static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
	static const char *const formats[] = {"logfmt", "json", NULL};
	static const char *const targets[] = {"stderr", "syslog", NULL};
	yaml_node_t *sub[3];
	int i;

	if (v[K_LOG]) {
		if (config_yaml_fields(l, v[K_LOG], "log", log_keys, sub))
			return -1;
		if (sub[0] && (i = config_yaml_choice(l, sub[0], "log.level", levels,
						      "error, warn, info or debug")) < 0)
			return -1;
		if (sub[0])
			c->log_level = i;
		if (sub[1] && (i = config_yaml_choice(l, sub[1], "log.format", formats,
						      "logfmt or json")) < 0)
			return -1;
		if (sub[1])
			c->log_format = (enum config_log_format)i;
		if (sub[2] && (i = config_yaml_choice(l, sub[2], "log.target", targets,
						      "stderr or syslog")) < 0)
			return -1;
		if (sub[2])
			c->log_target = (enum config_log_target)i;
	}
	if (v[K_METRICS]) {
		const char *s;

		if (yaml_node_is_null(v[K_METRICS])) {
			free(c->metrics);
			c->metrics = NULL;
		} else if (!(s = config_yaml_scalar(l, v[K_METRICS], "metrics")) ||
			   config_yaml_set_str(l, v[K_METRICS], &c->metrics, s, false)) {
			return -1;
		}
	}
	return 0;
}

/* cacheEntries, leeway, introspection */
static int load_tokens(struct config_yaml_ld *l, yaml_node_t *const *v, struct config *c)
{
	static const char *const intro_keys[] = {"timeout", "maxInflight", "caFile", NULL};
	yaml_node_t *sub[3];
	long long n;
	int64_t ms;

	if (v[K_CACHE]) {
		if (config_yaml_integer(l, v[K_CACHE], "cacheEntries", 0, 100000000, &n))
			return -1;
		c->cache_entries = (size_t)n;
	}
	if (v[K_LEEWAY]) {
		if (config_yaml_duration(l, v[K_LEEWAY], "leeway", 0, 3600 * 1000, &ms))
			return -1;
		c->leeway_s = ms / 1000;
	}
	if (v[K_INTRO]) {
		if (config_yaml_fields(l, v[K_INTRO], "introspection", intro_keys, sub))
			return -1;
		if (sub[0]) {
			if (config_yaml_duration(l, sub[0], "introspection.timeout", 1, 600000,
						 &ms))
				return -1;
			c->introspect_timeout_ms = (unsigned)ms;
		}
		if (sub[1]) {
			if (config_yaml_integer(l, sub[1], "introspection.maxInflight", 1, 100000,
						&n))
				return -1;
			c->max_inflight = (unsigned)n;
		}
		if (sub[2]) {
			const char *s = config_yaml_scalar(l, sub[2], "introspection.caFile");

			if (!s || config_yaml_set_str(l, sub[2], &c->ca_file, s, true))
				return -1;
		}
	}
	return 0;
}

/* defaultDecision, allowEmptyPolicySet, maxTokenLength, variables, redis,
 * admin, policies */
static int load_decisions(struct config_yaml_ld *l, yaml_node_t *const *v, struct config *c)
{
	static const char *const decisions[] = {"allow", "deny", NULL};
	static const char *const bools[] = {"false", "true", NULL};
	long long n;
	int i;

	if (v[K_DEFAULT]) {
		if ((i = config_yaml_choice(l, v[K_DEFAULT], "defaultDecision", decisions,
					    "allow or deny")) < 0)
			return -1;
		c->default_deny = i == 1;
	}
	if (v[K_ALLOW_EMPTY]) {
		if ((i = config_yaml_choice(l, v[K_ALLOW_EMPTY], "allowEmptyPolicySet", bools,
					    "true or false")) < 0)
			return -1;
		c->allow_empty_policies = i == 1;
	}
	if (v[K_MAX_TOKEN]) {
		if (config_yaml_integer(l, v[K_MAX_TOKEN], "maxTokenLength", 16, 1 << 20, &n))
			return -1;
		c->max_token_len = (size_t)n;
	}
	if (v[K_VARIABLES] && config_yaml_variables(l, v[K_VARIABLES], &c->vars))
		return -1;
	if (v[K_REDIS] && !yaml_node_is_null(v[K_REDIS]) &&
	    redis_config_parse(l->err, l->file, l->dir, l->doc, v[K_REDIS], &c->redis))
		return -1;
	if (v[K_ADMIN] && !yaml_node_is_null(v[K_ADMIN]) &&
	    admin_config_parse(l->err, l->file, l->dir, l->doc, v[K_ADMIN], &c->admin))
		return -1;
	if (v[K_POLICIES] && !yaml_node_is_null(v[K_POLICIES]) &&
	    config_yaml_str_list(l, v[K_POLICIES], "policies", c->policies, &c->npolicies,
				 OPTIONS_MAX_POLICY_PATHS, true))
		return -1;
	return 0;
}

static int load_root(struct config_yaml_ld *l, const yaml_node_t *root, struct config *c)
{
	static const char *const keys[] = {"listen",
					   "threads",
					   "maxFrameSize",
					   "message",
					   "log",
					   "metrics",
					   "cacheEntries",
					   "leeway",
					   "introspection",
					   "defaultDecision",
					   "maxTokenLength",
					   "policies",
					   "variables",
					   "allowEmptyPolicySet",
					   "unixSocketMode",
					   "redis",
					   "admin",
					   "cpuScheduling",
					   NULL};
	yaml_node_t *v[K_COUNT];

	if (config_yaml_fields(l, root, "the config", keys, v))
		return -1;
	if (load_server(l, v, c) || load_log(l, v, c) || load_tokens(l, v, c) ||
	    load_decisions(l, v, c))
		return -1;
	return 0;
}

static void defaults(struct config *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->threads = cpus > 0 ? (unsigned)(cpus < AGENT_MAX_THREADS ? cpus : AGENT_MAX_THREADS) : 1;
	c->max_frame_size = SPOP_DEFAULT_FRAME_SIZE;
	c->log_level = LOG_LVL_INFO;
	c->introspect_timeout_ms = 1000;
	c->max_inflight = 256;
	c->cache_entries = 100000;
	c->leeway_s = 30;
	c->max_token_len = BEARER_DEFAULT_MAX_LEN;
	c->vars = VERDICT_VARS_ALL;
	c->cpu_sched = CPU_SCHED_BATCH;
	c->unix_mode = LISTENER_DEFAULT_UNIX_MODE;
	redis_config_defaults(&c->redis);
}

/* Fills the strings that defaults() cannot (they are owned). */
static int default_strings(struct config *c)
{
	if (!c->message && !(c->message = strdup("oauth2-check")))
		return -1;
	if (!c->nlisten) {
		if (!(c->listen[0] = strdup("127.0.0.1:12345")))
			return -1;
		c->nlisten = 1;
	}
	return redis_config_finish(&c->redis);
}

static int parse_doc(const char *buf, size_t len, const char *file, const char *dir,
		     struct config *c, struct err *e)
{
	yaml_parser_t yp;
	yaml_document_t doc;
	struct config_yaml_ld l = {e, file, dir, &doc};
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_initialize(&yp))
		return err_set(e, 0, 0, "out of memory");
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = config_yaml_fail(&l, NULL, "YAML syntax error: %s%s%s",
				      yp.problem ? yp.problem : "unknown", yp.context ? " " : "",
				      yp.context ? yp.context : "");
		if (e && yp.error != YAML_READER_ERROR) {
			e->line = (int)yp.problem_mark.line + 1;
			e->col = (int)yp.problem_mark.column + 1;
		}
		yaml_parser_delete(&yp);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && !yaml_node_is_null(root))
		rc = load_root(&l, root, c);
	yaml_document_delete(&doc);
	if (rc == 0) {
		/* A second document would be silently ignored: refuse it. */
		if (!yaml_parser_load(&yp, &doc)) {
			rc = config_yaml_fail(&l, NULL,
					      "YAML syntax error after the first document");
		} else {
			root = yaml_document_get_root_node(&doc);
			if (root)
				rc =
				    config_yaml_fail(&l, root, "only one YAML document is allowed");
			yaml_document_delete(&doc);
		}
	}
	yaml_parser_delete(&yp);
	return rc;
}

/* The shared cache sits behind the local one (its single-flight). */
static int check_redis(const struct config *c, struct err *e)
{
	if (c->redis.address && !c->cache_entries)
		return err_set(e, 0, 0, "redis needs the local cache: cacheEntries must not be 0");
	return 0;
}

int config_parse(const char *buf, size_t len, const char *file, struct config *out, struct err *e)
{
	defaults(out);
	if (e)
		memset(e, 0, sizeof(*e));
	if (parse_doc(buf, len, file, "", out, e) < 0 || default_strings(out) < 0 ||
	    check_redis(out, e) < 0) {
		if (e && !e->msg[0])
			err_set(e, 0, 0, "out of memory");
		config_free(out);
		return -1;
	}
	return 0;
}

static int read_all(const char *path, char **buf, size_t *len, struct err *e)
{
	struct stat st;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	snprintf(e->file, sizeof(e->file), "%s", path);
	if (fd == -1)
		return err_set(e, 0, 0, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, 0, 0, "not a regular file");
	}
	if (st.st_size > (off_t)CONFIG_MAX_FILE_SIZE) {
		close(fd);
		return err_set(e, 0, 0, "larger than %u bytes", CONFIG_MAX_FILE_SIZE);
	}
	*buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
	*len = 0;
	if (!*buf) {
		close(fd);
		return err_set(e, 0, 0, "out of memory");
	}
	while (*len <= CONFIG_MAX_FILE_SIZE) {
		r = read(fd, *buf + *len, CONFIG_MAX_FILE_SIZE + 1 - *len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			int saved = errno;

			close(fd);
			free(*buf);
			return err_set(e, 0, 0, "cannot read: %s", strerror(saved));
		}
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	close(fd);
	if (*len > CONFIG_MAX_FILE_SIZE) {
		free(*buf);
		return err_set(e, 0, 0, "larger than %u bytes", CONFIG_MAX_FILE_SIZE);
	}
	return 0;
}

static int dup_into(char **dst, const char *s)
{
	char *v = NULL;

	if (s && !(v = strdup(s)))
		return -1;
	free(*dst);
	*dst = v;
	return 0;
}

/* Command-line values win over the file's. */
static int apply_options(const struct options *o, struct config *c)
{
	unsigned g = o->given;

	if (g & OPT_GIVEN_LISTEN) {
		for (size_t i = 0; i < c->nlisten; i++) {
			free(c->listen[i]);
			c->listen[i] = NULL;
		}
		c->nlisten = 0;
		for (size_t i = 0; i < o->nlisten; i++) {
			if (dup_into(&c->listen[i], o->listen[i]))
				return -1;
			c->nlisten = i + 1;
		}
	}
	if (g & OPT_GIVEN_POLICIES) {
		for (size_t i = 0; i < c->npolicies; i++) {
			free(c->policies[i]);
			c->policies[i] = NULL;
		}
		c->npolicies = 0;
		for (size_t i = 0; i < o->npolicies; i++) {
			if (dup_into(&c->policies[i], o->policies[i]))
				return -1;
			c->npolicies = i + 1;
		}
	}
	if (g & OPT_GIVEN_THREADS)
		c->threads = o->threads;
	if (g & OPT_GIVEN_MAX_FRAME)
		c->max_frame_size = o->max_frame_size;
	if ((g & OPT_GIVEN_MESSAGE) && dup_into(&c->message, o->message))
		return -1;
	if (g & OPT_GIVEN_DEFAULT_DECISION)
		c->default_deny = o->default_deny;
	if (g & OPT_GIVEN_ALLOW_EMPTY)
		c->allow_empty_policies = o->allow_empty;
	if (g & OPT_GIVEN_UNIX_MODE)
		c->unix_mode = o->unix_mode;
	if (g & OPT_GIVEN_LOG_LEVEL)
		c->log_level = o->log_level;
	if (g & OPT_GIVEN_LOG_FORMAT)
		c->log_format = (enum config_log_format)o->log_format;
	if (g & OPT_GIVEN_TIMEOUT)
		c->introspect_timeout_ms = o->introspect_timeout_ms;
	if (g & OPT_GIVEN_MAX_INFLIGHT)
		c->max_inflight = o->max_inflight;
	if ((g & OPT_GIVEN_CA_FILE) && dup_into(&c->ca_file, o->ca_file))
		return -1;
	if (g & OPT_GIVEN_CACHE)
		c->cache_entries = o->cache_entries;
	if (g & OPT_GIVEN_LEEWAY)
		c->leeway_s = o->leeway_s;
	if (g & OPT_GIVEN_MAX_TOKEN)
		c->max_token_len = o->max_token_len;
	if ((g & OPT_GIVEN_METRICS) && dup_into(&c->metrics, o->metrics))
		return -1;
	if (g & OPT_GIVEN_VARIABLES)
		c->vars = o->vars;
	if (g & OPT_GIVEN_CPU_SCHED)
		c->cpu_sched = o->cpu_sched;
	return 0;
}

int config_load(const struct options *o, struct config *out, struct err *e)
{
	struct err dummy;
	char *buf = NULL, *dir = NULL, *slash;
	size_t len = 0;
	int rc = 0;

	if (!e)
		e = &dummy;
	memset(e, 0, sizeof(*e));
	defaults(out);
	if (o->config_file) {
		if (read_all(o->config_file, &buf, &len, e) < 0) {
			config_free(out);
			return -1;
		}
		dir = strdup(o->config_file);
		out->file = strdup(o->config_file);
		if (!dir || !out->file) {
			rc = err_set(e, 0, 0, "out of memory");
		} else {
			slash = strrchr(dir, '/');
			if (slash)
				slash[slash == dir ? 1 : 0] = '\0';
			else
				dir[0] = '\0';
			rc = parse_doc(buf, len, o->config_file, dir, out, e);
		}
		free(buf);
		free(dir);
	}
	if (rc == 0 && (apply_options(o, out) < 0 || default_strings(out) < 0))
		rc = err_set(e, 0, 0, "out of memory");
	if (rc == 0 && (o->given & OPT_GIVEN_REDIS))
		rc = redis_config_set_address(&out->redis, o->redis, e);
	if (rc == 0)
		rc = check_redis(out, e);
	if (rc < 0)
		config_free(out);
	return rc;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->file);
	for (size_t i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	for (size_t i = 0; i < c->npolicies; i++)
		free(c->policies[i]);
	free(c->message);
	free(c->metrics);
	free(c->ca_file);
	redis_config_free(&c->redis);
	admin_config_free(&c->admin);
	memset(c, 0, sizeof(*c));
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void add(char *out, size_t n, const char *name)
{
	size_t len = strlen(out);

	snprintf(out + len, n - len, "%s%s", len ? ", " : "", name);
}

void config_restart_diff(const struct config *a, const struct config *b, char *out, size_t n)
{
	bool listen_eq = a->nlisten == b->nlisten;

	out[0] = '\0';
	for (size_t i = 0; listen_eq && i < a->nlisten; i++)
		listen_eq = str_eq(a->listen[i], b->listen[i]);
	if (!listen_eq)
		add(out, n, "listen");
	if (a->unix_mode != b->unix_mode)
		add(out, n, "unixSocketMode");
	if (a->threads != b->threads)
		add(out, n, "threads");
	if (a->cpu_sched != b->cpu_sched)
		add(out, n, "cpuScheduling");
	if (a->max_frame_size != b->max_frame_size)
		add(out, n, "maxFrameSize");
	if (!str_eq(a->message, b->message))
		add(out, n, "message");
	if (a->vars != b->vars)
		add(out, n, "variables");
	if (!str_eq(a->metrics, b->metrics))
		add(out, n, "metrics");
	if (a->log_target != b->log_target)
		add(out, n, "log.target");
	if (a->cache_entries != b->cache_entries)
		add(out, n, "cacheEntries");
	if (a->introspect_timeout_ms != b->introspect_timeout_ms)
		add(out, n, "introspection.timeout");
	if (a->max_inflight != b->max_inflight)
		add(out, n, "introspection.maxInflight");
	if (!str_eq(a->ca_file, b->ca_file))
		add(out, n, "introspection.caFile");
	if (!redis_config_equal(&a->redis, &b->redis))
		add(out, n, "redis");
	if (!admin_config_equal(&a->admin, &b->admin))
		add(out, n, "admin");
}

const char *config_log_format_name(enum config_log_format f)
{
	return f == CONFIG_LOG_JSON ? "json" : "logfmt";
}

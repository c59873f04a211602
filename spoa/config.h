/* config.h - the agent's settings: defaults, the YAML config file (-c FILE)
 * and the command-line overrides, merged into one plain struct.
 *
 * config_load() is pure apart from reading the file: it never logs, never
 * touches process state, and reports the first problem as file:line:col
 * through struct err. A struct config OWNS its strings (config_free()).
 *
 * Which settings a SIGHUP can change is decided by config_restart_diff():
 * listeners (and unixSocketMode), threads, frame size, message name,
 * variables, metrics address, log target, cache size and the introspection
 * client settings need a restart; policies, allowEmptyPolicySet,
 * defaultDecision, leeway, max token length, log level and format do not. */
#ifndef OAUTH2_SPOA_CONFIG_H
#define OAUTH2_SPOA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"
#include "options.h"
#include "redis_config.h"

#define CONFIG_MAX_FILE_SIZE (256u * 1024u) /* bytes in the config file */

enum config_log_format {
	CONFIG_LOG_LOGFMT = 0,
	CONFIG_LOG_JSON,
};

enum config_log_target {
	CONFIG_LOG_STDERR = 0,
	CONFIG_LOG_SYSLOG,
};

struct config {
	char *file; /* the -c file, NULL when none */
	char *listen[AGENT_MAX_LISTENERS];
	size_t nlisten;		 /* default: one, 127.0.0.1:12345 */
	unsigned threads;	 /* default: one per CPU (at most AGENT_MAX_THREADS) */
	uint32_t max_frame_size; /* default SPOP_DEFAULT_FRAME_SIZE */
	char *message;		 /* default "oauth2-check" */
	int log_level;		 /* enum log_level, default info */
	enum config_log_format log_format;
	enum config_log_target log_target;
	char *metrics; /* "HOST:PORT" of the metrics listener; NULL = off */
	size_t cache_entries;
	int64_t leeway_s;
	unsigned introspect_timeout_ms;
	unsigned max_inflight;
	char *ca_file; /* NULL: system CAs */
	bool default_deny;
	bool allow_empty_policies; /* an empty policy set is intended (default: refused) */
	unsigned unix_mode;	   /* of unix socket files, default LISTENER_DEFAULT_UNIX_MODE */
	size_t max_token_len;
	unsigned vars; /* enum verdict_var bits, default all */
	int cpu_sched; /* enum cpu_sched, default batch; at start only */
	char *policies[OPTIONS_MAX_POLICY_PATHS];
	size_t npolicies;
	struct redis_config redis; /* the shared L2 cache; redis.address NULL = off */
	struct admin_config admin; /* the purge listener; admin.address NULL = off */
};

/* Builds the effective configuration: defaults, then o->config_file (when
 * set), then every option given on the command line (o->given). Returns 0
 * with *out filled (release with config_free()), or -1 with <e> filled and
 * *out zeroed. Policy files are not read here. */
int config_load(const struct options *o, struct config *out, struct err *e);

/* Parses a config document from memory (for tests and config_load()); <file>
 * only names it in messages. Applies defaults first. */
int config_parse(const char *buf, size_t len, const char *file, struct config *out, struct err *e);

void config_free(struct config *c);

/* Writes into <out> (NUL-terminated, truncated to <n>) a comma-separated list
 * of the settings that differ between <a> and <b> and need a restart; "" when
 * none do. */
void config_restart_diff(const struct config *a, const struct config *b, char *out, size_t n);

const char *config_log_format_name(enum config_log_format f);

#endif

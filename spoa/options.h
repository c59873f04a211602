/* options.h - the agent's command line.
 *
 * options_parse() fills a plain struct with defaults applied and values
 * validated. Strings point into argv (BORROWED for the process lifetime). */
#ifndef OAUTH2_SPOA_OPTIONS_H
#define OAUTH2_SPOA_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "limits.h"

#define OPTIONS_MAX_POLICY_PATHS 64

/* Bits of options.given: which settings the command line set, so that they
 * override the config file (config_load()). */
enum options_given {
	OPT_GIVEN_LISTEN = 1u << 0,
	OPT_GIVEN_THREADS = 1u << 1,
	OPT_GIVEN_POLICIES = 1u << 2,
	OPT_GIVEN_MAX_FRAME = 1u << 3,
	OPT_GIVEN_MESSAGE = 1u << 4,
	OPT_GIVEN_DEFAULT_DECISION = 1u << 5,
	OPT_GIVEN_LOG_LEVEL = 1u << 6,
	OPT_GIVEN_TIMEOUT = 1u << 7,
	OPT_GIVEN_MAX_INFLIGHT = 1u << 8,
	OPT_GIVEN_CA_FILE = 1u << 9,
	OPT_GIVEN_CACHE = 1u << 10,
	OPT_GIVEN_LEEWAY = 1u << 11,
	OPT_GIVEN_MAX_TOKEN = 1u << 12,
	OPT_GIVEN_METRICS = 1u << 13,
	OPT_GIVEN_LOG_FORMAT = 1u << 14,
	OPT_GIVEN_VARIABLES = 1u << 15,
	OPT_GIVEN_ALLOW_EMPTY = 1u << 16,
	OPT_GIVEN_UNIX_MODE = 1u << 17,
	OPT_GIVEN_REDIS = 1u << 18,
	OPT_GIVEN_CPU_SCHED = 1u << 19,
};

struct options {
	const char *listen[AGENT_MAX_LISTENERS];
	size_t nlisten;		 /* default: one, 127.0.0.1:12345 */
	unsigned threads;	 /* default: one per CPU */
	uint32_t max_frame_size; /* default SPOP_DEFAULT_FRAME_SIZE */
	const char *message;	 /* spoe-message name, default "oauth2-check" */
	const char *policies[OPTIONS_MAX_POLICY_PATHS];
	size_t npolicies;
	bool default_deny;  /* routes no policy selects: deny */
	bool allow_empty;   /* an empty policy set is intended */
	unsigned unix_mode; /* of unix socket files, default LISTENER_DEFAULT_UNIX_MODE */
	int log_level;
	unsigned introspect_timeout_ms; /* default 1000 */
	unsigned max_inflight;		/* introspection calls per endpoint and worker */
	const char *ca_file;		/* NULL: the system's CA bundle */
	size_t cache_entries;		/* default 100000 */
	int64_t leeway_s;		/* clock skew allowed on exp/nbf, default 30 */
	size_t max_token_len;		/* default BEARER_DEFAULT_MAX_LEN */
	const char *metrics;		/* metrics listener HOST:PORT, NULL = off */
	const char *redis;		/* shared cache address, NULL = the file's or off */
	int log_format;			/* enum config_log_format */
	unsigned vars;			/* enum verdict_var bits, default all */
	int cpu_sched;			/* enum cpu_sched, default batch */
	const char *config_file;	/* -c FILE, NULL when none */
	unsigned given;			/* enum options_given bits */
	bool check;			/* load everything, report, exit */
	bool help, version;
};

/* Returns 0, or -1 with <e> filled (the message names the bad option). */
int options_parse(int argc, char **argv, struct options *o, struct err *e);

void options_usage(FILE *out, const char *prog);

#endif

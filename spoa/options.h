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

struct options {
	const char *listen[AGENT_MAX_LISTENERS];
	size_t nlisten;                 /* default: one, 127.0.0.1:12345 */
	unsigned threads;               /* default: one per CPU */
	uint32_t max_frame_size;        /* default SPOP_DEFAULT_FRAME_SIZE */
	const char *message;            /* spoe-message name, default "oauth2-check" */
	const char *policies[OPTIONS_MAX_POLICY_PATHS];
	size_t npolicies;
	bool default_deny;              /* routes no policy selects: deny */
	int log_level;
	unsigned introspect_timeout_ms; /* default 1000 */
	unsigned max_inflight;          /* introspection calls per endpoint and worker */
	const char *ca_file;            /* NULL: the system's CA bundle */
	size_t cache_entries;           /* default 100000 */
	int64_t leeway_s;               /* clock skew allowed on exp/nbf, default 30 */
	size_t max_token_len;           /* default 8192 */
	bool check;                     /* load everything, report, exit */
	bool help, version;
};

/* Returns 0, or -1 with <e> filled (the message names the bad option). */
int options_parse(int argc, char **argv, struct options *o, struct err *e);

void options_usage(FILE *out, const char *prog);

#endif

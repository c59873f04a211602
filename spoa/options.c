/* options.c - see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bearer.h"
#include "cpu_sched.h"
#include "listener.h"
#include "log.h"
#include "verdict.h"

enum {
	OPT_MAX_FRAME = 256,
	OPT_MESSAGE,
	OPT_DEFAULT_DECISION,
	OPT_LOG_LEVEL,
	OPT_TIMEOUT,
	OPT_MAX_INFLIGHT,
	OPT_CA_FILE,
	OPT_CACHE,
	OPT_LEEWAY,
	OPT_MAX_TOKEN,
	OPT_CHECK,
	OPT_METRICS,
	OPT_LOG_FORMAT,
	OPT_VARIABLES,
	OPT_ALLOW_EMPTY,
	OPT_UNIX_MODE,
	OPT_REDIS,
	OPT_CPU_SCHED,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"threads", required_argument, NULL, 't'},
    {"policies", required_argument, NULL, 'p'},
    {"max-frame-size", required_argument, NULL, OPT_MAX_FRAME},
    {"message", required_argument, NULL, OPT_MESSAGE},
    {"default-decision", required_argument, NULL, OPT_DEFAULT_DECISION},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"introspection-timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"cache-entries", required_argument, NULL, OPT_CACHE},
    {"leeway", required_argument, NULL, OPT_LEEWAY},
    {"max-token-length", required_argument, NULL, OPT_MAX_TOKEN},
    {"check", no_argument, NULL, OPT_CHECK},
    {"config", required_argument, NULL, 'c'},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"variables", required_argument, NULL, OPT_VARIABLES},
    {"allow-empty-policies", no_argument, NULL, OPT_ALLOW_EMPTY},
    {"unix-mode", required_argument, NULL, OPT_UNIX_MODE},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"cpu-scheduling", required_argument, NULL, OPT_CPU_SCHED},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void options_usage(FILE *out, const char *prog)
{
	fprintf(
	    out,
	    "Usage: %s [OPTIONS]\n"
	    "HAProxy SPOE agent that validates OAuth 2.0 bearer tokens by introspection.\n\n"
	    "  -c, --config FILE            YAML config file; options given here override it\n"
	    "  -l, --listen ADDR            HOST:PORT, [IPV6]:PORT or unix:PATH (repeatable;\n"
	    "                               default 127.0.0.1:12345)\n"
	    "  -t, --threads N              worker threads (default: one per CPU)\n"
	    "  -p, --policies PATH          policy file or directory of *.yaml/*.yml (repeatable)\n"
	    "      --allow-empty-policies   start (and reload) even when no policy is loaded\n"
	    "      --default-decision D     allow (default) or deny routes no policy selects\n"
	    "      --message NAME           spoe-message to decide on (default oauth2-check)\n"
	    "      --max-frame-size N       largest SPOP frame, 256..65532 (default 32764)\n"
	    "      --introspection-timeout MS  per introspection call (default 1000)\n"
	    "      --max-inflight N         introspection calls in flight per endpoint and\n"
	    "                               thread (default 256)\n"
	    "      --ca-file FILE           CA bundle for https endpoints (default: system)\n"
	    "      --cache-entries N        token cache size (default 100000)\n"
	    "      --leeway S               clock skew allowed on exp/nbf (default 30)\n"
	    "      --max-token-length N     longest bearer token accepted (default 16384)\n"
	    "      --log-level L            error, warn, info (default) or debug\n"
	    "      --log-format F           logfmt (default) or json\n"
	    "      --metrics HOST:PORT      serve Prometheus /metrics and /healthz (default off)\n"
	    "      --unix-mode MODE         mode of unix:PATH socket files (default 0660)\n"
	    "      --redis ADDR             shared token cache: IP:PORT or a unix socket path\n"
	    "                               (default off; see redis: in the config file)\n"
	    "      --cpu-scheduling S       batch (default: no wakeup preemption, fewer context\n"
	    "                               switches beside HAProxy) or normal\n"
	    "      --variables LIST         variables sent to HAProxy, comma-separated, or all\n"
	    "                               (default; \"allowed\" is always sent)\n"
	    "      --check                  load the config and policies, report problems, exit\n"
	    "  -h, --help                   this text\n"
	    "  -V, --version                print the version\n"
	    "\n"
	    "Subcommand: %s purge: the admin listener's client (\"purge -h\" for its usage)\n",
	    prog, prog);
}

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void set_defaults(struct options *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof(*o));
	o->threads = cpus > 0 ? (unsigned)(cpus < AGENT_MAX_THREADS ? cpus : AGENT_MAX_THREADS) : 1;
	o->max_frame_size = SPOP_DEFAULT_FRAME_SIZE;
	o->message = "oauth2-check";
	o->log_level = LOG_LVL_INFO;
	o->introspect_timeout_ms = 1000;
	o->max_inflight = 256;
	o->cache_entries = 100000;
	o->leeway_s = 30;
	o->max_token_len = BEARER_DEFAULT_MAX_LEN;
	o->vars = VERDICT_VARS_ALL;
	o->unix_mode = LISTENER_DEFAULT_UNIX_MODE;
}

/* The options that take a bounded number. Returns 0, -1 (e filled), or 1 when
 * <c> is not one of them. */
static int parse_numeric(int c, struct options *o, struct err *e)
{
	long long n;

	switch (c) {
	case 't':
		o->given |= OPT_GIVEN_THREADS;
		if (parse_num(optarg, 1, AGENT_MAX_THREADS, &n) < 0)
			return err_set(e, 0, 0, "--threads: expected 1..%u", AGENT_MAX_THREADS);
		o->threads = (unsigned)n;
		return 0;
	case OPT_MAX_FRAME:
		o->given |= OPT_GIVEN_MAX_FRAME;
		if (parse_num(optarg, SPOP_MIN_FRAME_SIZE, SPOP_MAX_FRAME_SIZE, &n) < 0)
			return err_set(e, 0, 0, "--max-frame-size: expected %u..%u",
				       SPOP_MIN_FRAME_SIZE, SPOP_MAX_FRAME_SIZE);
		o->max_frame_size = (uint32_t)n;
		return 0;
	case OPT_TIMEOUT:
		o->given |= OPT_GIVEN_TIMEOUT;
		if (parse_num(optarg, 1, 600000, &n) < 0)
			return err_set(e, 0, 0, "--introspection-timeout: 1..600000 ms");
		o->introspect_timeout_ms = (unsigned)n;
		return 0;
	case OPT_MAX_INFLIGHT:
		o->given |= OPT_GIVEN_MAX_INFLIGHT;
		if (parse_num(optarg, 1, 100000, &n) < 0)
			return err_set(e, 0, 0, "--max-inflight: 1..100000");
		o->max_inflight = (unsigned)n;
		return 0;
	case OPT_CACHE:
		o->given |= OPT_GIVEN_CACHE;
		if (parse_num(optarg, 0, 100000000, &n) < 0)
			return err_set(e, 0, 0, "--cache-entries: 0..100000000");
		o->cache_entries = (size_t)n;
		return 0;
	case OPT_LEEWAY:
		o->given |= OPT_GIVEN_LEEWAY;
		if (parse_num(optarg, 0, 3600, &n) < 0)
			return err_set(e, 0, 0, "--leeway: 0..3600 seconds");
		o->leeway_s = n;
		return 0;
	case OPT_MAX_TOKEN:
		o->given |= OPT_GIVEN_MAX_TOKEN;
		if (parse_num(optarg, 16, 1 << 20, &n) < 0)
			return err_set(e, 0, 0, "--max-token-length: 16..1048576");
		o->max_token_len = (size_t)n;
		return 0;
	default:
		return 1;
	}
}

/* The options that take one of a set of words or a formatted value; the same
 * returns. */
static int parse_choice(int c, struct options *o, struct err *e)
{
	switch (c) {
	case OPT_MESSAGE:
		o->given |= OPT_GIVEN_MESSAGE;
		if (!*optarg || strlen(optarg) > 255)
			return err_set(e, 0, 0, "--message: 1..255 characters");
		o->message = optarg;
		return 0;
	case OPT_DEFAULT_DECISION:
		o->given |= OPT_GIVEN_DEFAULT_DECISION;
		if (strcmp(optarg, "allow") && strcmp(optarg, "deny"))
			return err_set(e, 0, 0, "--default-decision: allow or deny");
		o->default_deny = strcmp(optarg, "deny") == 0;
		return 0;
	case OPT_LOG_LEVEL:
		o->given |= OPT_GIVEN_LOG_LEVEL;
		o->log_level = log_level_parse(optarg);
		if (o->log_level < 0)
			return err_set(e, 0, 0, "--log-level: error, warn, info or debug");
		return 0;
	case OPT_CPU_SCHED:
		o->given |= OPT_GIVEN_CPU_SCHED;
		if ((o->cpu_sched = cpu_sched_parse(optarg)) < 0)
			return err_set(e, 0, 0, "--cpu-scheduling: batch or normal");
		return 0;
	case OPT_LOG_FORMAT:
		o->given |= OPT_GIVEN_LOG_FORMAT;
		if (strcmp(optarg, "logfmt") && strcmp(optarg, "json"))
			return err_set(e, 0, 0, "--log-format: logfmt or json");
		o->log_format = strcmp(optarg, "json") == 0;
		return 0;
	case OPT_VARIABLES:
		o->given |= OPT_GIVEN_VARIABLES;
		if (verdict_vars_parse(optarg, &o->vars) < 0)
			return err_set(e, 0, 0,
				       "--variables: \"all\" or a comma-separated list of "
				       "allowed, status, reason, policy, sub, client_id, "
				       "scope, www_authenticate");
		return 0;
	case OPT_UNIX_MODE:
		o->given |= OPT_GIVEN_UNIX_MODE;
		if (listener_mode_parse(optarg, &o->unix_mode) < 0)
			return err_set(e, 0, 0, "--unix-mode: octal 000..0777, e.g. 0660");
		return 0;
	default:
		return 1;
	}
}

/* Paths, addresses and flags; the same returns. */
static int parse_other(int c, struct options *o, struct err *e)
{
	switch (c) {
	case 'l':
		o->given |= OPT_GIVEN_LISTEN;
		if (o->nlisten == AGENT_MAX_LISTENERS)
			return err_set(e, 0, 0, "at most %u --listen", AGENT_MAX_LISTENERS);
		o->listen[o->nlisten++] = optarg;
		return 0;
	case 'p':
		o->given |= OPT_GIVEN_POLICIES;
		if (o->npolicies == OPTIONS_MAX_POLICY_PATHS)
			return err_set(e, 0, 0, "at most %d --policies", OPTIONS_MAX_POLICY_PATHS);
		o->policies[o->npolicies++] = optarg;
		return 0;
	case OPT_CA_FILE:
		o->given |= OPT_GIVEN_CA_FILE;
		o->ca_file = optarg;
		return 0;
	case OPT_CHECK:
		o->check = true;
		return 0;
	case 'c':
		o->config_file = optarg;
		return 0;
	case OPT_METRICS:
		o->given |= OPT_GIVEN_METRICS;
		o->metrics = optarg;
		return 0;
	case OPT_REDIS:
		o->given |= OPT_GIVEN_REDIS;
		o->redis = optarg;
		return 0;
	case OPT_ALLOW_EMPTY:
		o->given |= OPT_GIVEN_ALLOW_EMPTY;
		o->allow_empty = true;
		return 0;
	case 'h':
		o->help = true;
		return 0;
	case 'V':
		o->version = true;
		return 0;
	default:
		return 1;
	}
}

int options_parse(int argc, char **argv, struct options *o, struct err *e)
{
	int c, rc;

	set_defaults(o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:l:t:p:hV", long_opts, NULL)) != -1) {
		if (c == ':')
			return err_set(e, 0, 0, "option %s needs a value", argv[optind - 1]);
		if ((rc = parse_numeric(c, o, e)) == 1 && (rc = parse_choice(c, o, e)) == 1)
			rc = parse_other(c, o, e);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return err_set(e, 0, 0, "unknown option %s", argv[optind - 1]);
	}
	if (optind < argc)
		return err_set(e, 0, 0, "unexpected argument %s", argv[optind]);
	if (o->nlisten == 0)
		o->listen[o->nlisten++] = "127.0.0.1:12345";
	return 0;
}

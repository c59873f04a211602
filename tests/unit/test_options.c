/* test_options.c - the command line (options.h): defaults, every option
 * with its value and its given bit, the bounds, and the refusals. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cpu_sched.h"
#include "log.h"
#include "options.h"
#include "tap.h"
#include "verdict.h"

/* Parses <line> (words split on spaces; argv[0] added) into <o>. */
static int run(const char *line, struct options *o, struct err *e)
{
	static char buf[1024];
	char *argv[64] = {"oauth2-spoa"};
	int argc = 1;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 63; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return options_parse(argc, argv, o, e);
}

static void test_defaults(void)
{
	struct options o;
	struct err e;

	is_int(run("", &o, &e), 0, "no option");
	is_int((int)o.nlisten, 1, "default: one listener");
	is_str(o.listen[0], "127.0.0.1:12345", "default listener");
	ok(o.threads >= 1, "default: at least one thread");
	is_int(o.log_level, LOG_LVL_INFO, "default log level info");
	is_int(o.cpu_sched, CPU_SCHED_BATCH, "default SCHED_BATCH");
	is_int((int)o.given, 0, "nothing given");
	ok(!o.help && !o.version && !o.check && !o.config_file, "no flag set");
}

static void test_numbers(void)
{
	struct options o;
	struct err e;

	is_int(
	    run("--threads 2 --max-frame-size 16384 --introspection-timeout 250 --max-inflight 7 "
		"--cache-entries 0 --leeway 5 --max-token-length 100",
		&o, &e),
	    0, "every numeric option");
	ok(o.threads == 2 && o.max_frame_size == 16384 && o.introspect_timeout_ms == 250 &&
	       o.max_inflight == 7 && o.cache_entries == 0 && o.leeway_s == 5 &&
	       o.max_token_len == 100,
	   "numeric values");
	is_int((int)o.given,
	       OPT_GIVEN_THREADS | OPT_GIVEN_MAX_FRAME | OPT_GIVEN_TIMEOUT |
		   OPT_GIVEN_MAX_INFLIGHT | OPT_GIVEN_CACHE | OPT_GIVEN_LEEWAY |
		   OPT_GIVEN_MAX_TOKEN,
	       "numeric given bits");
	is_int(run("-t 0", &o, &e), -1, "--threads 0 refused");
	ok(strstr(e.msg, "--threads") != NULL, "the message names --threads");
	is_int(run("--max-token-length 15", &o, &e), -1, "--max-token-length under 16 refused");
	is_int(run("--leeway 3601", &o, &e), -1, "--leeway over 3600 refused");
	is_int(run("--introspection-timeout 1x", &o, &e), -1, "a number with junk refused");
}

static void test_choices(void)
{
	struct options o;
	struct err e;

	is_int(run("--message m --default-decision deny --log-level warn --log-format json "
		   "--variables allowed,sub --unix-mode 0600 --cpu-scheduling normal",
		   &o, &e),
	       0, "every choice option");
	is_str(o.message, "m", "message");
	ok(o.default_deny && o.log_level == LOG_LVL_WARN && o.log_format == CONFIG_LOG_JSON &&
	       o.vars == VERDICT_VAR_SUB && o.unix_mode == 0600 && o.cpu_sched == CPU_SCHED_NORMAL,
	   "choice values");
	is_int((int)o.given,
	       OPT_GIVEN_MESSAGE | OPT_GIVEN_DEFAULT_DECISION | OPT_GIVEN_LOG_LEVEL |
		   OPT_GIVEN_LOG_FORMAT | OPT_GIVEN_VARIABLES | OPT_GIVEN_UNIX_MODE |
		   OPT_GIVEN_CPU_SCHED,
	       "choice given bits");
	is_int(run("--default-decision maybe", &o, &e), -1, "--default-decision maybe refused");
	is_int(run("--log-level loud", &o, &e), -1, "--log-level loud refused");
	is_int(run("--log-format xml", &o, &e), -1, "--log-format xml refused");
	is_int(run("--variables token", &o, &e), -1, "--variables token refused");
	is_int(run("--unix-mode 999", &o, &e), -1, "--unix-mode 999 refused");
}

static void test_others(void)
{
	struct options o;
	struct err e;

	is_int(run("-l 127.0.0.1:1 --listen unix@/s -p a.yaml --policies b -c c.yaml --ca-file ca "
		   "--metrics 127.0.0.1:2 --redis 127.0.0.1:3 --check --allow-empty-policies -h -V",
		   &o, &e),
	       0, "every other option");
	ok(o.nlisten == 2 && !strcmp(o.listen[1], "unix@/s") && o.npolicies == 2 &&
	       !strcmp(o.policies[1], "b") && !strcmp(o.config_file, "c.yaml") &&
	       !strcmp(o.ca_file, "ca") && !strcmp(o.metrics, "127.0.0.1:2") &&
	       !strcmp(o.redis, "127.0.0.1:3"),
	   "paths and addresses");
	ok(o.check && o.allow_empty && o.help && o.version, "flags");
	is_int(run("--nope", &o, &e), -1, "an unknown option refused");
	is_str(e.msg, "unknown option --nope", "the message names it");
	is_int(run("--threads", &o, &e), -1, "a missing value refused");
	is_str(e.msg, "option --threads needs a value", "the message names the option");
	is_int(run("-l 127.0.0.1:1 extra", &o, &e), -1, "a positional argument refused");
	is_str(e.msg, "unexpected argument extra", "the message names it");
}

int main(void)
{
	test_defaults();
	test_numbers();
	test_choices();
	test_others();
	return done_testing("options");
}

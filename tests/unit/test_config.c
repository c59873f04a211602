/* test_config.c - the agent config file parser (config.h): fields, refusals,
 * what a reload may change. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cpu_sched.h"
#include "options.h"
#include "tap.h"
#include "verdict.h"

static int parse(const char *text, struct config *c, struct err *e)
{
	return config_parse(text, strlen(text), "t.yaml", c, e);
}

static void test_config(void)
{
	struct config c;
	struct err e;

	is_int(parse("", &c, &e), 0, "empty config: defaults");
	is_int((int)c.nlisten, 1, "default: one listener");
	is_str(c.listen[0], "127.0.0.1:12345", "default listener");
	is_str(c.message, "oauth2-check", "default message");
	is_int((int)c.max_frame_size, 32764, "default frame size");
	is_int((int)c.cache_entries, 100000, "default cache");
	is_int((int)c.leeway_s, 30, "default leeway");
	is_int((int)c.introspect_timeout_ms, 1000, "default timeout");
	is_int((int)c.max_inflight, 256, "default max inflight");
	is_int((int)c.max_token_len, 16384, "default max token");
	ok(!c.default_deny && !c.metrics && !c.ca_file && c.npolicies == 0, "default off/empty");
	is_int(c.log_format, CONFIG_LOG_LOGFMT, "default logfmt");
	is_int(c.log_target, CONFIG_LOG_STDERR, "default stderr");
	is_int((int)c.vars, VERDICT_VARS_ALL, "default: every variable");
	is_int(c.cpu_sched, CPU_SCHED_BATCH, "default: SCHED_BATCH");
	config_free(&c);

	is_int(parse("cpuScheduling: normal\n", &c, &e), 0, "cpuScheduling: normal");
	is_int(c.cpu_sched, CPU_SCHED_NORMAL, "cpuScheduling: normal is the default class");
	config_free(&c);
	is_int(parse("cpuScheduling: batch\n", &c, &e), 0, "cpuScheduling: batch");
	is_int(c.cpu_sched, CPU_SCHED_BATCH, "cpuScheduling: batch");
	config_free(&c);
	is_int(parse("cpuScheduling: fifo\n", &c, &e), -1, "cpuScheduling: fifo refused");
	ok(strstr(e.msg, "batch or normal") != NULL,
	   "cpuScheduling: the message names the choices");
	{
		char a0[] = "oauth2-spoa", a1[] = "--cpu-scheduling", a2[] = "normal", a3[] = "rt";
		char *argv[] = {a0, a1, a2, NULL};
		struct options o;

		is_int(options_parse(3, argv, &o, &e), 0, "--cpu-scheduling normal");
		ok(o.cpu_sched == CPU_SCHED_NORMAL && (o.given & OPT_GIVEN_CPU_SCHED),
		   "--cpu-scheduling: value and given bit");
		argv[2] = a3;
		is_int(options_parse(3, argv, &o, &e), -1, "--cpu-scheduling rt refused");
	}

	is_int(parse("variables: [allowed, sub, client_id, scope]\n", &c, &e), 0, "variables list");
	is_int((int)c.vars, VERDICT_VAR_SUB | VERDICT_VAR_CLIENT_ID | VERDICT_VAR_SCOPE,
	       "variables: the listed ones (allowed has no bit: always sent)");
	config_free(&c);
	is_int(parse("variables: all\n", &c, &e), 0, "variables: all");
	is_int((int)c.vars, VERDICT_VARS_ALL, "variables: all bits");
	config_free(&c);
	is_int(parse("variables: [allowed, subject]\n", &c, &e), -1, "unknown variable");
	ok(strstr(e.msg, "unknown variable \"subject\"") != NULL && e.line == 1 && e.col == 22,
	   "unknown variable: message and position");
	is_int(parse("variables: sub\n", &c, &e), -1, "variables: a single name is not a list");
	is_int(parse("variables: {a: 1}\n", &c, &e), -1, "variables: a mapping");

	is_int(parse("listen: [127.0.0.1:1, 'unix:/tmp/s']\nthreads: 3\nmaxFrameSize: 1024\n"
		     "message: m\nlog: {level: debug, format: json, target: syslog}\n"
		     "metrics: 127.0.0.1:9145\ncacheEntries: 0\nleeway: 1m\n"
		     "introspection: {timeout: 250ms, maxInflight: 9, caFile: /ca.pem}\n"
		     "defaultDecision: deny\nmaxTokenLength: 100\npolicies: [/a, b]\n",
		     &c, &e),
	       0, "every key");
	is_int((int)c.nlisten, 2, "two listeners");
	is_str(c.listen[1], "unix:/tmp/s", "unix listener");
	is_int((int)c.threads, 3, "threads");
	is_int((int)c.max_frame_size, 1024, "frame size");
	is_str(c.message, "m", "message");
	is_int(c.log_level, 3, "debug");
	is_int(c.log_format, CONFIG_LOG_JSON, "json");
	is_int(c.log_target, CONFIG_LOG_SYSLOG, "syslog");
	is_str(c.metrics, "127.0.0.1:9145", "metrics");
	is_int((int)c.cache_entries, 0, "cache off");
	is_int((int)c.leeway_s, 60, "leeway 1m");
	is_int((int)c.introspect_timeout_ms, 250, "timeout 250ms");
	is_int((int)c.max_inflight, 9, "max inflight");
	is_str(c.ca_file, "/ca.pem", "ca file");
	ok(c.default_deny, "deny");
	is_int((int)c.max_token_len, 100, "max token");
	is_int((int)c.npolicies, 2, "two policy paths");
	is_str(c.policies[1], "b", "relative path kept (no file dir)");
	config_free(&c);

	is_int(parse("threads: 2\nlog:\n  level: info\n  colour: red\n", &c, &e), -1,
	       "unknown key");
	is_str(e.file, "t.yaml", "error names the file");
	is_int(e.line, 4, "unknown key: line");
	is_int(e.col, 3, "unknown key: column");
	ok(strstr(e.msg, "unknown key \"colour\" in log") != NULL, "unknown key: message");
	is_int(parse("threads: 0\n", &c, &e), -1, "threads 0");
	is_int(e.line, 1, "threads 0: line");
	is_int(e.col, 10, "threads 0: column");
	is_int(parse("maxFrameSize: 100000\n", &c, &e), -1, "frame size too big");
	is_int(parse("defaultDecision: maybe\n", &c, &e), -1, "bad decision");
	is_int(parse("leeway: 2h\n", &c, &e), -1, "leeway above 1h");
	is_int(parse("threads: 1\nthreads: 2\n", &c, &e), -1, "duplicate key");
	is_int(parse("listen: []\n", &c, &e), -1, "empty listen");
	is_int(parse("- a\n", &c, &e), -1, "not a mapping");
	is_int(parse("a: [\n", &c, &e), -1, "syntax error");
	ok(e.line >= 1 && strstr(e.msg, "YAML syntax error"), "syntax error has a position");
	is_int(parse("threads: 1\n---\nthreads: 2\n", &c, &e), -1, "two documents");

	{
		struct config a, b;
		char diff[256];

		parse("threads: 2\nleeway: 5\n", &a, &e);
		parse("threads: 3\nleeway: 9\nlisten: 127.0.0.1:1\n", &b, &e);
		config_restart_diff(&a, &b, diff, sizeof(diff));
		is_str(diff, "listen, threads", "restart diff names only restart settings");
		config_free(&b);
		parse("threads: 2\nvariables: [allowed]\n", &b, &e);
		config_restart_diff(&a, &b, diff, sizeof(diff));
		is_str(diff, "variables", "variables need a restart");
		config_free(&b);
		parse("threads: 2\nleeway: 5\ncpuScheduling: normal\n", &b, &e);
		config_restart_diff(&a, &b, diff, sizeof(diff));
		is_str(diff, "cpuScheduling", "cpuScheduling needs a restart");
		config_restart_diff(&a, &a, diff, sizeof(diff));
		is_str(diff, "", "no diff");
		config_free(&a);
		config_free(&b);
	}
}

int main(void)
{
	test_config();
	return done_testing("config");
}

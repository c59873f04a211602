/* test_log_fmt.c - the pure line formatter (log_fmt.h): every value escaped
 * in both formats (no value can forge a line or a field), a JSON line over
 * the cap still valid JSON, known key and stamp lengths written as measured
 * ones, and log_itoa(). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log_fmt.h"
#include "tap.h"

static char line[LOG_LINE_MAX + 1];

static size_t fmt(enum log_format f, const char *msg, const struct log_kv *kv, unsigned n)
{
	struct log_rec r = {.lvl = LOG_LVL_INFO, .ts = "2026-12-02T10:00:00.000Z", .msg = msg};
	size_t len;

	r.kv = kv;
	r.n = n;
	len = log_fmt_line(line, f, &r);
	line[len] = '\0';
	return len;
}

/* One line: a single '\n', at the end. */
static int one_line(size_t len)
{
	return len > 0 && len <= LOG_LINE_MAX && line[len - 1] == '\n' &&
	       memchr(line, '\n', len - 1) == NULL && memchr(line, '\r', len) == NULL;
}

static void test_logfmt_escaping(void)
{
	const struct log_kv kv[] = {
	    LOG_KV("sub", "alice\ninfo decision forged=1", 0),
	    LOG_KV("client_id", "a\"b\\c", 0),
	    LOG_KV("route", "r\r\x01\x7f", 0),
	    LOG_KV("policy", "plain", 0),
	    LOG_KV("path", "/caf\xc3\xa9/\xff", 0),
	    LOG_KV("empty", "", 0),
	    LOG_KV("none", NULL, 0),
	};
	size_t n = fmt(LOG_FMT_LOGFMT, "decision", kv, 7);

	ok(one_line(n), "logfmt: a value with LF and CR stays one line");
	ok(strstr(line, " sub=\"alice\\ninfo decision forged=1\"") != NULL,
	   "logfmt: LF escaped, quoted");
	ok(strstr(line, " client_id=\"a\\\"b\\\\c\"") != NULL,
	   "logfmt: quote and backslash escaped");
	ok(strstr(line, " route=\"r\\r\\x01\\x7f\"") != NULL, "logfmt: CR, control bytes, DEL");
	ok(strstr(line, " policy=plain ") != NULL, "logfmt: a plain value is bare");
	ok(strstr(line, " path=\"/caf\xc3\xa9/\\xff\"") != NULL,
	   "logfmt: UTF-8 kept, a stray byte escaped");
	ok(strstr(line, " empty=\"\" none=-\n") != NULL, "logfmt: empty quoted, NULL is -");
	{
		const struct log_kv c1[] = {{"sub",
					     "a\xc2\x85"
					     "b\xc2\x9b"
					     "c\xc2\xa0",
					     0, 0}};

		n = fmt(LOG_FMT_LOGFMT, "decision", c1, 1);
		ok(strstr(line, " sub=\"a\\xc2\\x85b\\xc2\\x9bc\xc2\xa0\"\n") != NULL,
		   "logfmt: C1 controls (NEL, CSI) escaped, U+00A0 kept");
	}
	n = fmt(LOG_FMT_LOGFMT, "introspection failed: bad\r\nwarn forged", NULL, 0);
	ok(one_line(n), "logfmt message: CR/LF escaped");
	ok(strstr(line, " info introspection failed: bad\\r\\nwarn forged\n") != NULL,
	   "logfmt message: text otherwise unchanged");
}

static json_t *parse(size_t n)
{
	json_error_t e;

	return json_loadb(line, n - 1, 0, &e);
}

static void test_json_escaping(void)
{
	const struct log_kv kv[] = {
	    LOG_KV("sub", "x\"}\n{\"level\":\"error\"", 0),
	    LOG_KV("path", "/\xc3\xa9\xed\xa0\x80\xf5", 0),
	    LOG_KV("status", "403", 1),
	    LOG_KV("stream", "12; rm", 1),
	};
	size_t n = fmt(LOG_FMT_JSON, "decision", kv, 4);
	json_t *j = parse(n);

	ok(one_line(n), "json: one line");
	ok(j != NULL, "json: valid JSON");
	is_str(json_string_value(json_object_get(j, "sub")), "x\"}\n{\"level\":\"error\"",
	       "json: value round-trips");
	is_str(json_string_value(json_object_get(j, "path")),
	       "/\xc3\xa9\xc3\xad\xc2\xa0\xc2\x80\xc3\xb5",
	       "json: invalid UTF-8 (surrogate, F5) as \\u00XX");
	is_int(json_integer_value(json_object_get(j, "status")), 403, "json: number unquoted");
	is_str(json_string_value(json_object_get(j, "stream")), "12; rm",
	       "json: a non-number is a string");
	ok(json_object_get(j, "truncated") == NULL, "json: no truncation mark when it fits");
	json_decref(j);
	{
		const struct log_kv c1[] = {{"sub",
					     "a\xc2\x85"
					     "b",
					     0, 0}};

		n = fmt(LOG_FMT_JSON, "decision", c1, 1);
		ok(strstr(line, "\"sub\":\"a\\u0085b\"") != NULL, "json: NEL as \\u0085");
		j = parse(n);
		is_str(json_string_value(json_object_get(j, "sub")),
		       "a\xc2\x85"
		       "b",
		       "json: NEL round-trips");
		json_decref(j);
	}
	n = fmt(LOG_FMT_JSON, "a\x1b[31mred\x1b[0m \"q\"", NULL, 0);
	j = parse(n);
	is_str(json_string_value(json_object_get(j, "msg")), "a\x1b[31mred\x1b[0m \"q\"",
	       "json message: escaped");
	json_decref(j);
}

/* Lines over the cap: values cut, every key kept, the mark set. */
static void test_truncation(void)
{
	static char big[5000], esc[3000];
	struct log_kv kv[6] = {
	    {"a", big, 0, 0},	 {"b", esc, 0, 0},  {"n", "42", 1, 0},
	    {"c", "tail", 0, 0}, {"d", NULL, 0, 0}, {"e", big, 0, 0},
	};
	size_t n;
	json_t *j;

	memset(big, 'x', sizeof(big) - 1);
	for (size_t i = 0; i + 1 < sizeof(esc); i++)
		esc[i] = i % 3 ? '\n' : 'y';
	for (int f = 0; f < 2; f++) {
		n = fmt(f ? LOG_FMT_JSON : LOG_FMT_LOGFMT, "decision", kv, 6);
		ok(one_line(n) && n <= LOG_LINE_MAX, f ? "json over the cap: one line, capped"
						       : "logfmt over the cap: one line, capped");
		if (f) {
			j = parse(n);
			ok(j != NULL, "json over the cap: still valid JSON");
			ok(json_is_true(json_object_get(j, "truncated")),
			   "json over the cap: truncated:true");
			ok(json_object_get(j, "e") && json_object_get(j, "d"),
			   "json over the cap: every key present");
			is_int(json_integer_value(json_object_get(j, "n")), 42,
			       "json over the cap: numbers whole");
			json_decref(j);
		} else {
			ok(strstr(line, " truncated=true\n") != NULL,
			   "logfmt over the cap: truncated=true");
			ok(strstr(line, " n=42 c=") && strstr(line, " e="),
			   "logfmt over the cap: every key present");
		}
	}
	/* a cut never splits an escape: every quoted 'b' value ends in \n or y */
	kv[0].val = "short";
	for (size_t cut = 1900; cut < 2040; cut += 7) {
		memset(big, 'x', sizeof(big) - 1);
		big[cut - 1900] = '\0';
		kv[5].val = big;
		n = fmt(LOG_FMT_JSON, "decision", kv, 6);
		j = parse(n);
		if (!ok(j != NULL, "json cut at every offset: valid"))
			printf("#   %s", line);
		json_decref(j);
	}
	memset(big, 'x', sizeof(big) - 1);
	n = fmt(LOG_FMT_JSON, big, NULL, 0);
	j = parse(n);
	ok(j && json_is_true(json_object_get(j, "truncated")),
	   "json message over the cap: valid, marked");
	json_decref(j);
}

/* log_itoa() against snprintf("%lld"), the ends of the range included. */
static void test_itoa(void)
{
	static const long long v[] = {0,
				      1,
				      9,
				      10,
				      11,
				      99,
				      100,
				      101,
				      999,
				      1000,
				      -1,
				      -10,
				      -99,
				      -100,
				      1234567,
				      -1234567,
				      200,
				      403,
				      INT64_MAX,
				      INT64_MIN,
				      INT64_MIN + 1,
				      999999999999LL};
	int bad = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char d[LOG_ITOA_MAX], want[32];

		snprintf(want, sizeof(want), "%lld", v[i]);
		if (strcmp(log_itoa(d, v[i]), want) != 0) {
			fprintf(stderr, "# log_itoa(%s) gave %s\n", want, log_itoa(d, v[i]));
			bad++;
		}
	}
	for (long long x = -100000; x <= 100000; x += 7) {
		char d[LOG_ITOA_MAX], want[32];

		snprintf(want, sizeof(want), "%lld", x);
		bad += strcmp(log_itoa(d, x), want) != 0;
	}
	is_int(bad, 0, "itoa: the digits of snprintf(\"%%lld\"), INT64_MIN and INT64_MAX included");
}

/* A key length the caller gives (LOG_KV()) and one measured write the same
 * line, in both formats; a given length over LOG_KEY_MAX is cut as a measured
 * key is; a stamp's given length is its length. */
static void test_known_lengths(void)
{
	static const char long_key[] = "a_key_of_forty_bytes_which_is_long_enough";
	const struct log_kv given[] = {LOG_KV("sub", "alice", 0), LOG_KV("status", "403", 1),
				       LOG_KV(long_key, "v", 0)};
	const struct log_kv measured[] = {
	    {"sub", "alice", 0, 0}, {"status", "403", 1, 0}, {long_key, "v", 0, 0}};
	char a[LOG_LINE_MAX + 1];
	struct log_rec r = {.lvl = LOG_LVL_WARN,
			    .ts = "2026-12-02T10:00:00.000Z-junk",
			    .ts_len = 24,
			    .msg = "decision",
			    .kv = given,
			    .n = 3};

	for (int f = 0; f < 2; f++) {
		size_t n = fmt((enum log_format)f, "decision", given, 3);

		memcpy(a, line, n + 1);
		is_int((int)fmt((enum log_format)f, "decision", measured, 3), (int)n,
		       "known lengths: the same length as measured ones");
		ok(strcmp(a, line) == 0, "known lengths: the same line as measured ones");
		ok(strstr(a, "a_key_of_forty_bytes_which_is_lo") && !strstr(a, "which_is_lon"),
		   "known lengths: a key over LOG_KEY_MAX is cut at it");
	}
	line[log_fmt_line(line, LOG_FMT_LOGFMT, &r)] = '\0';
	ok(strncmp(line, "2026-12-02T10:00:00.000Z warn decision sub=alice ", 49) == 0,
	   "known lengths: the stamp's given length is used");
}

int main(void)
{
	test_logfmt_escaping();
	test_json_escaping();
	test_known_lengths();
	test_itoa();
	test_truncation();
	return done_testing("test_log_fmt");
}

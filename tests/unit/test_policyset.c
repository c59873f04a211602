/* test_policyset.c - what keeps a policy set from silently switching
 * protection off: empty sets, *.yml files, public policies, regexes that
 * would escape their anchoring, cleartext introspection URLs, and the
 * settings that go with them (allowEmptyPolicySet, unixSocketMode). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "options.h"
#include "policy.h"
#include "tap.h"

static char tmpdir[64];

#define ATV                                                                                        \
	"  config:\n"                                                                              \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation:\n"                                                       \
	"            introspectionUrl: http://127.0.0.1:1/i\n"

#define POLICY "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: p}\nspec:\n" ATV

/* A public policy for route=health, with <extra> lines appended to spec. */
#define PUBLIC_HEAD                                                                                \
	"apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: health}\nspec:\n"       \
	"  applyToRoutes:\n  - route: {labels: {route: health}}\n"

static const char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static void put(const char *name, const char *data)
{
	FILE *f = fopen(path_of(name), "wb");

	if (!f || fwrite(data, 1, strlen(data), f) != strlen(data)) {
		perror(name);
		exit(2);
	}
	fclose(f);
}

/* Loads the one path <name> with <flags>; returns the count or -1 (error in *e). */
static long load1(const char *name, unsigned flags, struct err *e)
{
	const char *p = path_of(name);
	struct policy_set *set = NULL;
	long n;

	if (policy_set_load_flags(&p, 1, flags, &set, e) < 0)
		return -1;
	n = (long)policy_set_count(set);
	policy_set_free(set);
	return n;
}

static void expect_refused(const char *name, const char *msg, const char *what)
{
	struct err e;

	if (!ok(load1(name, POLICY_LOAD_REQUIRE_POLICIES, &e) == -1, what))
		return;
	if (!ok(strstr(e.msg, msg) && strstr(e.msg, "allowEmptyPolicySet: true"), what))
		printf("#   %s: %s\n", e.file, e.msg);
	is_int(load1(name, 0, &e), 0, "accepted when an empty set is intended");
}

static void test_empty_sets(void)
{
	struct policy_set *set = NULL;
	struct err e;

	mkdir(path_of("empty"), 0700);
	expect_refused("empty", "no *.yaml or *.yml policy file", "an empty directory");

	put("zero.yaml", "");
	expect_refused("zero.yaml", "holds no policy", "a zero-byte file");
	put("comments.yaml", "# nothing yet\n---\n");
	expect_refused("comments.yaml", "holds no policy",
		       "a file of comments and empty documents");

	mkdir(path_of("other"), 0700);
	put("other/README", "not a policy\n");
	put("other/p.json", "{}\n");
	expect_refused("other", "no *.yaml or *.yml policy file",
		       "a directory without policy files");

	/* One truncated file among good ones is refused too: its routes would
	 * lose their policy. */
	mkdir(path_of("mixed"), 0700);
	put("mixed/a.yaml", POLICY);
	put("mixed/b.yaml", "");
	if (!ok(load1("mixed", POLICY_LOAD_REQUIRE_POLICIES, &e) == -1, "an empty file in a dir"))
		return;
	ok(strstr(e.file, "/mixed/b.yaml") && strstr(e.msg, "holds no policy"),
	   "the error names the empty file");
	is_int(load1("mixed", 0, &e), 1, "without the flag the empty file is skipped");

	ok(policy_set_load_flags(NULL, 0, POLICY_LOAD_REQUIRE_POLICIES, &set, &e) == -1 &&
	       strstr(e.msg, "no policy path is configured") && set == NULL,
	   "no path at all is an empty set");
	ok(policy_set_load_flags(NULL, 0, 0, &set, &e) == 0 && policy_set_count(set) == 0,
	   "no path, empty set intended");
	policy_set_free(set);
}

static void test_yml(void)
{
	struct err e;

	mkdir(path_of("ymlonly"), 0700);
	put("ymlonly/a.yml", POLICY);
	is_int(load1("ymlonly", POLICY_LOAD_REQUIRE_POLICIES, &e), 1,
	       "a directory of *.yml files is read, not skipped");
	put("ymlonly/b.yml", "kind: [\n");
	ok(load1("ymlonly", 0, &e) == -1 && strstr(e.file, "/ymlonly/b.yml"),
	   "a broken *.yml fails the load like a broken *.yaml");
	put("ymlonly/.hidden.yml", "kind: [\n");
	unlink(path_of("ymlonly/b.yml"));
	is_int(load1("ymlonly", 0, &e), 1, "dot files are still left out");
}

static void expect_load_error(const char *yaml, const char *msg, const char *what)
{
	struct err e;

	put("t.yaml", yaml);
	if (!ok(load1("t.yaml", 0, &e) == -1, what))
		return;
	if (!ok(strstr(e.msg, msg) != NULL, what))
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
}

static void test_public(void)
{
	const char *p = path_of("pub.yaml");
	struct policy_set *set = NULL;
	const struct policy *pol;
	struct err e;

	put("pub.yaml", PUBLIC_HEAD "  config: {public: true}\n---\n" POLICY);
	if (!ok(policy_set_load(&p, 1, &set, &e) == 0, "a public policy loads"))
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
	pol = policy_set_get(set, 0);
	ok(pol && policy_is_public(pol), "policy_is_public");
	ok(pol && !policy_introspection(pol), "a public policy has no endpoint");
	is_str(pol ? policy_required_scopes(pol) : NULL, "", "and requires no scope");
	pol = policy_set_get(set, 1);
	ok(pol && !policy_is_public(pol) && policy_introspection(pol),
	   "the other one checks tokens");
	policy_set_free(set);

	/* Impossible to write by accident. */
	expect_load_error(PUBLIC_HEAD "  config: {public: false}\n", "must be true",
			  "public: false");
	expect_load_error(PUBLIC_HEAD "  config: {public: 'yes'}\n", "must be true", "public: yes");
	expect_load_error(PUBLIC_HEAD "  config: {public: [true]}\n", "must be true",
			  "public: a list");
	expect_load_error(PUBLIC_HEAD "  config:\n    public: true\n    glooAuth:\n"
				      "      configs:\n      - oauth2:\n"
				      "          accessTokenValidation:\n"
				      "            introspectionUrl: http://127.0.0.1:1/i\n",
			  "cannot have glooAuth too", "public with a validation config");
	expect_load_error("apiVersion: security.policy.gloo.solo.io/v2\nkind: ExtAuthPolicy\n"
			  "metadata: {name: health}\nspec:\n"
			  "  applyToRoutes:\n  - route: {labels: {route: health}}\n"
			  "  config: {public: true}\n",
			  "needs apiVersion: oauth2-spoa/v1", "public under Gloo's apiVersion");
	expect_load_error("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\n"
			  "metadata: {name: all}\nspec:\n  config: {public: true}\n",
			  "needs spec.applyToRoutes", "public for every route");
	expect_load_error(PUBLIC_HEAD "  mode: shadow\n  config: {public: true}\n",
			  "cannot be combined with mode: shadow", "public in shadow mode");
	expect_load_error(PUBLIC_HEAD "  config: {}\n", "missing required key \"glooAuth\"",
			  "an empty config is not public");
}

static void expect_regex(const char *re, const char *msg, const char *what)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: r}\nspec:\n"
		 "  applyToRoutes:\n  - match: {path: {regex: '%s'}}\n" ATV,
		 re);
	if (!msg) {
		struct err e;

		put("re.yaml", yaml);
		if (!ok(load1("re.yaml", 0, &e) == 1, what))
			printf("#   %s\n", e.msg);
		return;
	}
	expect_load_error(yaml, msg, what);
}

static void test_regex_balance(void)
{
	expect_regex("a{1001}", "a repetition count is too large", "a{1001}");
	/* Compiled as ^(re)$, this one would be balanced again. */
	expect_regex("x)|(a{1001}", "a ')' closes no group", "x)|(a{1001} is refused");
	expect_regex("x)|(.*", "a ')' closes no group", "x)|(.* (escapes the anchors)");
	expect_regex("(a", "a '(' is never closed", "an unclosed group");
	expect_regex("/a)", "invalid regex", "a stray ')'");
	expect_regex("/a\\)", NULL, "an escaped ')' is an atom");
	expect_regex("/[)(]x", NULL, "parentheses in a bracket expression");
	expect_regex("/(a|b)(c)", NULL, "balanced groups");
}

static void test_cleartext(void)
{
	static const struct {
		const char *url;
		bool warn;
	} t[] = {
	    {"http://idp.example.com/introspect", true},
	    {"HTTP://idp.example.com:8080/i", true},
	    {"http://10.0.0.5:4445/i", true},
	    {"http://[2001:db8::1]:4445/i", true},
	    {"http://localhost.evil.example/i", true},
	    {"http://128.0.0.1/i", true},
	    {"https://idp.example.com/introspect", false},
	    {"http://127.0.0.1:4445/oauth2/introspect", false},
	    {"http://127.9.8.7/i", false},
	    {"http://localhost:4445/i", false},
	    {"http://LOCALHOST/i", false},
	    {"http://[::1]:4445/i", false},
	    {"http://127.0.0.1?x", false},
	    {NULL, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!ok(policy_url_is_cleartext(t[i].url) == t[i].warn, "policy_url_is_cleartext"))
			printf("#   %s\n", t[i].url ? t[i].url : "(null)");
	}
}

static int parse(const char *doc, struct config *c, struct err *e)
{
	return config_parse(doc, strlen(doc), "c.yaml", c, e);
}

static void test_settings(void)
{
	struct config c;
	struct options o;
	struct err e;
	unsigned m = 1;
	char a0[] = "oauth2-spoa", a1[] = "--allow-empty-policies", a2[] = "--unix-mode",
	     a3[] = "0600", a4[] = "0999";
	char *argv[] = {a0, a1, a2, a3, NULL};

	ok(listener_mode_parse("0660", &m) == 0 && m == 0660, "mode 0660");
	ok(listener_mode_parse("600", &m) == 0 && m == 0600, "mode 600");
	ok(listener_mode_parse("0", &m) == -1 && listener_mode_parse("0888", &m) == -1 &&
	       listener_mode_parse("1777", &m) == -1 && listener_mode_parse("06600", &m) == -1 &&
	       listener_mode_parse("rw-", &m) == -1,
	   "bad modes are refused");

	ok(parse("", &c, &e) == 0, "defaults");
	ok(!c.allow_empty_policies, "an empty set is refused by default");
	is_int(c.unix_mode, 0660, "unix sockets are 0660 by default");
	config_free(&c);
	ok(parse("allowEmptyPolicySet: true\nunixSocketMode: 0600\n", &c, &e) == 0,
	   "allowEmptyPolicySet, unixSocketMode");
	ok(c.allow_empty_policies && c.unix_mode == 0600, "are read");
	config_free(&c);
	ok(parse("unixSocketMode: 666x\n", &c, &e) == -1 &&
	       strstr(e.msg, "unixSocketMode: expected an octal mode"),
	   "a bad unixSocketMode");
	ok(parse("allowEmptyPolicySet: yes\n", &c, &e) == -1 && strstr(e.msg, "true or false"),
	   "allowEmptyPolicySet is true or false");

	ok(options_parse(4, argv, &o, &e) == 0 && o.allow_empty && o.unix_mode == 0600,
	   "--allow-empty-policies --unix-mode 0600");
	ok((o.given & OPT_GIVEN_ALLOW_EMPTY) && (o.given & OPT_GIVEN_UNIX_MODE), "given bits");
	argv[3] = a4;
	ok(options_parse(4, argv, &o, &e) == -1 && strstr(e.msg, "--unix-mode"),
	   "--unix-mode 0999");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_policyset.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_empty_sets();
	test_yml();
	test_public();
	test_regex_balance();
	test_cleartext();
	test_settings();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing("policyset");
}

/* test_policy.c - policy loading, matching and claim checks, plus reason.h. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claims.h"
#include "policy.h"
#include "reason.h"
#include "tap.h"

static char tmpdir[64];

static const char seed[] =
    "apiVersion: security.policy.gloo.solo.io/v2\n"
    "kind: ExtAuthPolicy\n"
    "metadata: {name: ratings-hydra, namespace: bookinfo}\n"
    "spec:\n"
    "  applyToRoutes:\n"
    "  - route: {labels: {route: ratings}}\n"
    "  config:\n"
    "    glooAuth:\n"
    "      configs:\n"
    "      - oauth2:\n"
    "          accessTokenValidation:\n"
    "            introspectionUrl: http://127.0.0.1:4445/oauth2/introspect\n";

/* Lines 1-9 of a policy whose accessTokenValidation body starts at line 10,
 * indented by 12 spaces. */
#define HEAD                                                                                       \
	"apiVersion: security.policy.gloo.solo.io/v2\n"                                            \
	"kind: ExtAuthPolicy\n"                                                                    \
	"metadata: {name: p}\n"                                                                    \
	"spec:\n"                                                                                  \
	"  config:\n"                                                                              \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation:\n"

/* Lines 1-5 of a policy whose applyToRoutes items start at line 6; TAIL
 * follows them. */
#define RHEAD                                                                                      \
	"apiVersion: oauth2-spoa/v1\n"                                                             \
	"kind: ExtAuthPolicy\n"                                                                    \
	"metadata: {name: r}\n"                                                                    \
	"spec:\n"                                                                                  \
	"  applyToRoutes:\n"
#define TAIL                                                                                       \
	"  config:\n"                                                                              \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation:\n"                                                       \
	"            introspectionUrl: http://idp/x\n"

#define URL10 "            introspectionUrl: http://idp/x\n"

static void write_file(const char *name, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static void write_str(const char *name, const char *data)
{
	write_file(name, data, strlen(data));
}

static int load_paths(const char *const *names, size_t n, struct policy_set **set, struct err *e)
{
	char paths[8][256];
	const char *pv[8];

	for (size_t i = 0; i < n; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", tmpdir, names[i]);
		pv[i] = paths[i];
	}
	return policy_set_load(pv, n, set, e);
}

/* Loads <yaml> as one file; NULL (and the error in *e) on failure. */
static struct policy_set *load_yaml(const char *yaml, struct err *e)
{
	const char *name = "t.yaml";
	struct policy_set *set = NULL;

	write_str(name, yaml);
	if (load_paths(&name, 1, &set, e))
		return NULL;
	return set;
}

/* Asserts that <yaml> fails at line:col with a message containing <msg>. */
static void expect_err(const char *yaml, int line, int col, const char *msg, const char *what)
{
	struct err e;
	struct policy_set *set = load_yaml(yaml, &e);
	char want_file[256];

	snprintf(want_file, sizeof(want_file), "%s/t.yaml", tmpdir);
	if (!ok(set == NULL, what)) {
		policy_set_free(set);
		return;
	}
	is_str(e.file, want_file, what);
	is_int(e.line, line, what);
	is_int(e.col, col, what);
	if (!ok(strstr(e.msg, msg) != NULL, what))
		printf("#   message \"%s\" lacks \"%s\"\n", e.msg, msg);
}

/* The names of the policies matching the request, joined by ','. */
static const char *matched(const struct policy_set *set, const char *method, const char *path,
			   const char *host, const char *route)
{
	static char out[512];
	const struct policy *pv[16];
	struct policy_request r = {slice_str(method), slice_str(path), slice_str(host),
				   slice_str(route)};
	size_t n = policy_set_match(set, &r, pv, 16);

	out[0] = '\0';
	for (size_t i = 0; i < n && i < 16; i++) {
		if (i)
			strncat(out, ",", sizeof(out) - strlen(out) - 1);
		strncat(out, policy_name(pv[i]), sizeof(out) - strlen(out) - 1);
	}
	return out;
}

static void test_reason(void)
{
	static const struct {
		enum authz_reason r;
		const char *name;
		int status;
	} t[] = {
	    {AUTHZ_OK, "ok", 200},
	    {AUTHZ_NO_POLICY, "no_policy", 200},
	    {AUTHZ_MISSING_TOKEN, "missing_token", 401},
	    {AUTHZ_MALFORMED_TOKEN, "malformed_token", 401},
	    {AUTHZ_INACTIVE_TOKEN, "inactive_token", 401},
	    {AUTHZ_INSUFFICIENT_SCOPE, "insufficient_scope", 403},
	    {AUTHZ_AUDIENCE_MISMATCH, "audience_mismatch", 403},
	    {AUTHZ_ISSUER_MISMATCH, "issuer_mismatch", 403},
	    {AUTHZ_INTROSPECTION_ERROR, "introspection_error", 503},
	    {AUTHZ_PUBLIC_ROUTE, "public_route", 200},
	    {AUTHZ_TOO_MANY_POLICIES, "too_many_policies", 500},
	    {AUTHZ_PATH_NOT_CANONICAL, "path_not_canonical", 400},
	    {AUTHZ_ROUTE_UNKNOWN, "route_unknown", 403},
	    {AUTHZ_STALE, "stale", 200},
	    {AUTHZ_INVALID_TOKEN, "invalid_token", 401},
	    {AUTHZ_NOT_ACCESS_TOKEN, "not_access_token", 401},
	    {AUTHZ_TOKEN_TOO_LONG, "token_too_long", 401},
	    {AUTHZ_JWKS_UNAVAILABLE, "jwks_unavailable", 503},
	    {AUTHZ_INTROSPECTION_UNVERIFIED, "introspection_unverified", 503},
	};

	is_int(sizeof(t) / sizeof(t[0]), AUTHZ_REASON_COUNT, "every reason is tested");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		is_str(reason_name(t[i].r), t[i].name, "reason_name");
		is_int(reason_status(t[i].r), t[i].status, "reason_status");
	}
	is_str(reason_name(AUTHZ_REASON_COUNT), "unknown", "reason_name out of range");
	is_str(reason_name((enum authz_reason) - 1), "unknown", "reason_name negative");
	is_int(reason_status(AUTHZ_REASON_COUNT), 500, "reason_status out of range");
}

static void test_seed(void)
{
	const char *file = "policies/ratings-hydra.yaml";
	char buf[2048];
	struct policy_set *set = NULL;
	const struct policy *p;
	const struct policy_introspection *in;
	struct err e;
	size_t n = 0;
	FILE *f;

	/* The shipped example is the issue's document, byte for byte. */
	f = fopen(file, "rb");
	if (f) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
	}
	ok(f != NULL, "policies/ratings-hydra.yaml exists (run from the repository root)");
	is_mem(buf, n, seed, strlen(seed), "policies/ratings-hydra.yaml is the seed document");

	ok(policy_set_load(&file, f ? 1 : 0, &set, &e) == 0, "seed file loads");
	policy_set_free(set);

	set = load_yaml(seed, &e);
	if (!ok(set != NULL, "seed loads")) {
		printf("#   %s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
		return;
	}
	is_int(policy_set_count(set), 1, "one policy");
	p = policy_set_get(set, 0);
	ok(policy_set_get(set, 1) == NULL, "get past the end is NULL");
	is_str(policy_name(p), "bookinfo/ratings-hydra", "name is namespace/name");
	is_int(policy_line(p), 1, "document line");
	ok(strstr(policy_file(p), "t.yaml") != NULL, "file recorded");
	in = policy_introspection(p);
	is_str(in->url, "http://127.0.0.1:4445/oauth2/introspect", "introspection url");
	is_int(in->auth_method, POLICY_AUTH_NONE, "no client: auth none");
	ok(in->client_id == NULL && in->client_secret == NULL, "no client id or secret");
	is_int(policy_cache_timeout_ms(p), 600000, "default cacheTimeout 10m");
	is_int(policy_negative_cache_timeout_ms(p), 5000, "default negativeCacheTimeout 5s");
	is_int(policy_stale_if_error_ms(p), 0, "staleIfError off by default");
	is_str(policy_required_scopes(p), "", "no required scopes");

	is_str(matched(set, "GET", "/ratings/1", "h", "ratings"), "bookinfo/ratings-hydra",
	       "bare route ratings matches");
	is_str(matched(set, "GET", "/", "h", "route=ratings"), "bookinfo/ratings-hydra",
	       "route=ratings matches");
	is_str(matched(set, "GET", "/", "h", " route = ratings , team=x"), "bookinfo/ratings-hydra",
	       "route=ratings among other labels, with blanks");
	is_str(matched(set, "GET", "/ratings", "h", "reviews"), "", "reviews does not match");
	is_str(matched(set, "GET", "/", "h", ""), "", "no route does not match");
	is_str(matched(set, "GET", "/", "h", "ratingsx"), "", "no prefix match on labels");
	is_str(matched(set, "GET", "/", "h", "rating"), "", "no prefix match on labels (short)");
	is_str(matched(set, "GET", "/", "h", "team=ratings"), "", "value under another key");
	is_str(matched(set, "GET", "/", "h", "Ratings"), "", "label values are case-sensitive");
	is_int(policy_set_match(set, NULL, NULL, 0), 0, "NULL request: no route");
	policy_set_free(set);
}

static void test_multidoc(void)
{
	struct policy_set *set;
	struct err e;

	set = load_yaml("---\n" HEAD URL10 "---\n"
			"# an empty document is skipped\n"
			"---\n" HEAD URL10 "...\n"
			"---\n" HEAD URL10 "---\n",
			&e);
	ok(set == NULL, "three documents with the same name collide");
	is_int(e.line, 15, "duplicate name reported at the second document");
	is_int(e.col, 1, "duplicate name column");
	ok(strstr(e.msg, "duplicate policy name \"p\"") != NULL, "duplicate name message");

	set = load_yaml("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: one}\n"
			"spec: {config: {glooAuth: {configs: [{oauth2: {accessTokenValidation: "
			"{introspectionUrl: 'http://a/'}}}]}}}\n"
			"---\n"
			"---\n"
			"apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\n"
			"metadata: {name: two, namespace: ns}\n"
			"spec: {config: {glooAuth: {configs: [{oauth2: {accessTokenValidation: "
			"{introspectionUrl: 'https://b:8443/i'}}}]}}}\n",
			&e);
	if (!ok(set != NULL, "multi-document file loads"))
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
	is_int(policy_set_count(set), 2, "two policies");
	is_str(matched(set, "GET", "/", "h", "x"), "one,ns/two", "both apply, in load order");
	is_int(policy_line(policy_set_get(set, 1)), 7, "second document's line");
	is_str(policy_introspection(policy_set_get(set, 1))->url, "https://b:8443/i", "second url");
	policy_set_free(set);

	set = load_yaml("# nothing but a comment\n", &e);
	ok(set != NULL && policy_set_count(set) == 0, "a file without documents is empty");
	policy_set_free(set);
}

static const char *named(const char *name)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: %s}\n"
		 "spec: {config: {glooAuth: {configs: [{oauth2: {accessTokenValidation: "
		 "{introspectionUrl: 'http://a/'}}}]}}}\n",
		 name);
	return buf;
}

static void test_dir(void)
{
	const char *paths[] = {"d", "single.yaml"};
	struct policy_set *set = NULL;
	struct err e;
	char p[256];

	snprintf(p, sizeof(p), "%s/d", tmpdir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/d/sub.yaml", tmpdir);
	mkdir(p, 0700); /* a directory named *.yaml is skipped */
	write_str("d/b.yaml", named("bee"));
	write_str("d/a.yaml", named("ay"));
	write_str("d/c.yml", named("sea")); /* read like *.yaml, never skipped */
	write_str("d/.hidden.yaml", "not: loaded\n");
	write_str("d/README", "not: loaded\n");
	write_str("d/z.yaml", "");
	write_str("single.yaml", named("solo"));
	if (!ok(load_paths(paths, 2, &set, &e) == 0, "directory + file load"))
		printf("#   %s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
	is_int(policy_set_count(set), 4, "four policies");
	is_str(matched(set, "GET", "/", "", ""), "ay,bee,sea,solo",
	       "sorted directory (*.yml too), then the file");
	policy_set_free(set);

	set = NULL;
	ok(load_paths(paths, 0, &set, &e) == 0 && policy_set_count(set) == 0,
	   "no paths: empty set");
	policy_set_free(set);

	write_str("d/c2.yaml", "kind: [\n");
	set = NULL;
	ok(load_paths(paths, 1, &set, &e) == -1 && set == NULL, "a bad file fails the directory");
	ok(strstr(e.file, "/d/c2.yaml") != NULL, "error names the file in the directory");
	snprintf(p, sizeof(p), "%s/d/c2.yaml", tmpdir);
	unlink(p);

	paths[0] = "nonexistent";
	ok(load_paths(paths, 1, &set, &e) == -1, "missing path fails");
	ok(strstr(e.msg, "cannot open") != NULL && e.line == 0, "missing path message");
}

static void test_matching(void)
{
	static const char yaml[] = RHEAD
	    "  - match: {path: {exact: /a}}\n" TAIL "---\n"
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: prefix}\n"
	    "spec:\n  applyToRoutes:\n  - match: {path: {prefix: /api/}}\n" TAIL "---\n"
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: regex}\n"
	    "spec:\n  applyToRoutes:\n  - match: {path: {regex: '/items/[0-9]+'}}\n" TAIL "---\n"
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: host}\n"
	    "spec:\n  applyToRoutes:\n"
	    "  - match: {hosts: [Example.COM, '*.wild.test', '[::1]', 'dot.test.']}\n" TAIL "---\n"
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: method}\n"
	    "spec:\n  applyToRoutes:\n  - match: {methods: [POST, DELETE]}\n" TAIL "---\n"
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: combo}\n"
	    "spec:\n  applyToRoutes:\n"
	    "  - route: {labels: {route: books, team: x}}\n"
	    "    match: {path: {prefix: /v1}, methods: [GET]}\n" TAIL "---\n"
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: or}\n"
	    "spec:\n  applyToRoutes:\n"
	    "  - route: {labels: {route: left}}\n"
	    "  - route: {labels: {route: right}}\n" TAIL;
	struct policy_set *set;
	const struct policy *pv[2];
	struct policy_request all = {SLICE_NULL, SLICE_LIT("/a"), SLICE_NULL, SLICE_LIT("left")};
	struct err e;

	set = load_yaml(yaml, &e);
	if (!ok(set != NULL, "matching policies load")) {
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
		return;
	}
	/* path exact */
	is_str(matched(set, "GET", "/a", "", ""), "r", "exact /a");
	is_str(matched(set, "GET", "/a/", "", ""), "", "exact: /a/ is not /a");
	is_str(matched(set, "GET", "/ab", "", ""), "", "exact: /ab is not /a");
	is_str(matched(set, "GET", "", "", ""), "", "exact: no path");
	/* path prefix */
	is_str(matched(set, "GET", "/api/", "", ""), "prefix", "prefix itself");
	is_str(matched(set, "GET", "/api/x/y", "", ""), "prefix", "prefix below");
	is_str(matched(set, "GET", "/api", "", ""), "", "prefix: shorter path");
	is_str(matched(set, "GET", "/apix/", "", ""), "", "prefix: other path");
	/* path regex, anchored */
	is_str(matched(set, "GET", "/items/42", "", ""), "regex", "regex full match");
	is_str(matched(set, "GET", "/items/42/x", "", ""), "", "regex is anchored at the end");
	is_str(matched(set, "GET", "/x/items/42", "", ""), "", "regex is anchored at the start");
	is_str(matched(set, "GET", "/items/", "", ""), "", "regex needs a digit");
	{
		/* A slice that is not NUL-terminated: "/items/42" then garbage. */
		const char raw[] = "/items/42ZZZ";
		struct policy_request r = {SLICE_NULL, slice_from(raw, 9), SLICE_NULL, SLICE_NULL};

		is_int(policy_set_match(set, &r, pv, 2), 1, "regex on a non-terminated slice");
		r.path = slice_from(raw, 10);
		is_int(policy_set_match(set, &r, pv, 2), 0, "regex sees the slice length");
	}
	/* hosts */
	is_str(matched(set, "GET", "/", "example.com", ""), "host", "host exact");
	is_str(matched(set, "GET", "/", "EXAMPLE.com:8443", ""), "host",
	       "host: case, port ignored");
	is_str(matched(set, "GET", "/", "example.com.", ""), "host", "host: trailing dot");
	is_str(matched(set, "GET", "/", "www.example.com", ""), "", "host: no subdomain match");
	is_str(matched(set, "GET", "/", "example.co", ""), "", "host: shorter");
	is_str(matched(set, "GET", "/", "a.wild.test", ""), "host", "wildcard one label");
	is_str(matched(set, "GET", "/", "a.b.WILD.test:80", ""), "host", "wildcard two labels");
	is_str(matched(set, "GET", "/", "wild.test", ""), "", "wildcard needs a label");
	is_str(matched(set, "GET", "/", "xwild.test", ""), "", "wildcard at a dot boundary");
	is_str(matched(set, "GET", "/", "[::1]:8080", ""), "host", "IPv6 literal with port");
	is_str(matched(set, "GET", "/", "dot.test", ""), "host", "policy host trailing dot");
	is_str(matched(set, "GET", "/", "", ""), "", "no host");
	/* methods */
	is_str(matched(set, "POST", "/", "", ""), "method", "POST");
	is_str(matched(set, "DELETE", "/", "", ""), "method", "DELETE");
	is_str(matched(set, "post", "/", "", ""), "", "methods are case-sensitive");
	is_str(matched(set, "POSTX", "/", "", ""), "", "method exact");
	/* all selectors of an item must match */
	is_str(matched(set, "GET", "/v1/x", "", "route=books,team=x"), "combo", "combo matches");
	is_str(matched(set, "GET", "/v1/x", "", "team=x,books"), "combo", "label order is free");
	is_str(matched(set, "POST", "/v1/x", "", "route=books,team=x"), "method",
	       "combo: wrong method");
	is_str(matched(set, "GET", "/v2", "", "route=books,team=x"), "", "combo: wrong path");
	is_str(matched(set, "GET", "/v1", "", "route=books"), "", "combo: missing label");
	is_str(matched(set, "GET", "/v1", "", "route=books,team=y"), "",
	       "combo: wrong label value");
	is_str(matched(set, "GET", "/v1", "", "route=other,route=books,team=x"), "combo",
	       "a repeated key: any occurrence counts");
	is_str(matched(set, "GET", "/v1", "", ",,route=books,,team=x,"), "combo", "empty items");
	/* any item may match */
	is_str(matched(set, "GET", "/", "", "left"), "or", "first item");
	is_str(matched(set, "GET", "/", "", "right"), "or", "second item");
	is_str(matched(set, "GET", "/", "", "middle"), "", "no item");
	/* truncation: the count is the full count */
	is_int(policy_set_match(set, &all, pv, 1), 2, "count beyond max");
	is_str(policy_name(pv[0]), "r", "first stored");
	is_int(policy_set_match(set, &all, NULL, 0), 2, "count only");
	policy_set_free(set);

	set = load_yaml(HEAD URL10, &e);
	is_str(matched(set, "GET", "/", "", ""), "p", "no applyToRoutes: applies to everything");
	is_str(matched(set, "", "", "", "anything=at,all"), "p", "no applyToRoutes: any route");
	policy_set_free(set);
	ok(policy_set_match(NULL, &all, pv, 2) == 0, "NULL set matches nothing");
	policy_set_free(NULL);
}

static void test_errors(void)
{
	char big[POLICY_MAX_FILE_SIZE + 2];

	/* YAML syntax */
	expect_err("a: b: c\n", 1, 5, "YAML syntax error: mapping values are not allowed",
		   "syntax: mapping value");
	expect_err("apiVersion: [\n", 2, 1, "YAML syntax error", "syntax: unclosed flow");
	expect_err("a: 1\n\tb: 2\n", 2, 1, "YAML syntax error", "syntax: tab indentation");
	expect_err("a: *nope\n", 1, 4, "undefined alias", "syntax: undefined alias");
	expect_err("a: \"\xff\"\n", 1, 5, "invalid", "syntax: invalid UTF-8");
	/* document shape */
	expect_err("- a\n", 1, 1, "a policy document must be a mapping, not a list", "root list");
	expect_err(HEAD URL10 "statuses: {}\n", 11, 1, "unknown key \"statuses\" in the document",
		   "unknown top-level key");
	expect_err("apiVersion: v1\nkind: ExtAuthPolicy\n", 1, 13,
		   "apiVersion: unknown value \"v1\"", "wrong apiVersion");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: AuthConfig\n", 2, 7,
		   "kind: unknown value \"AuthConfig\" (expected ExtAuthPolicy)", "wrong kind");
	expect_err("kind: ExtAuthPolicy\n", 1, 1, "missing required key \"apiVersion\"",
		   "missing apiVersion");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {namespace: x}\n", 3,
		   11, "metadata: missing required key \"name\"", "missing metadata.name");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: [a]}\n", 3,
		   18, "metadata.name must be a string, not a list", "name type");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: 'a b'}\n", 3,
		   18, "is not a valid name", "name charset");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n", 1, 1,
		   "missing required key \"spec\"", "missing spec");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec: {}\n",
		   4, 7, "spec: missing required key \"config\"", "missing spec.config");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec:\n  config:\n    customAuth: {}\n",
		   6, 5, "\"customAuth\" is not supported by oauth2-spoa", "customAuth");
	expect_err(
	    "apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a, name: b}\n", 3,
	    21, "duplicate key \"name\" in metadata", "duplicate key");
	/* glooAuth.configs */
	expect_err(HEAD URL10 "      - oauth2: {}\n", 11, 9, "must hold exactly one oauth2 config",
		   "two configs");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec:\n  config:\n    glooAuth:\n      configs:\n      - basicAuth: {}\n",
		   8, 9, "\"basicAuth\" is not supported by oauth2-spoa", "basicAuth config");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec:\n  config:\n    glooAuth:\n      configs: []\n",
		   7, 16, "must hold exactly one oauth2 config", "no config");
	/* accessTokenValidation */
	expect_err(HEAD URL10 "            foo: 1\n", 11, 13,
		   "unknown key \"foo\" in accessTokenValidation",
		   "unknown key in accessTokenValidation");
	expect_err(HEAD URL10 "            jwt: {}\n", 11, 18,
		   "accessTokenValidation.jwt: missing required key \"localJwks\"",
		   "jwt + introspection: the jwt part is loaded too");
	expect_err(HEAD URL10 URL10, 11, 13, "duplicate key \"introspectionUrl\"",
		   "duplicate introspectionUrl");
	expect_err(HEAD "            cacheTimeout: 1s\n", 10, 13,
		   "missing required key \"introspectionUrl\", \"introspection\" or \"jwt\"",
		   "no endpoint");
	expect_err(HEAD "            introspectionUrl: ftp://idp/x\n", 10, 31,
		   "is not an http:// or https:// URL", "ftp url");
	expect_err(HEAD "            introspectionUrl: http:///x\n", 10, 31, "the URL has no host",
		   "url without host");
	expect_err(HEAD "            introspectionUrl: http://:80/x\n", 10, 31,
		   "the URL has no host", "url with port only");
	expect_err(HEAD "            introspectionUrl: http://u:pw@idp/x\n", 10, 31,
		   "credentials in the URL are not allowed", "url with credentials");
	expect_err(HEAD "            introspectionUrl: http://idp:99999/x\n", 10, 31,
		   "malformed port", "url port too big");
	expect_err(HEAD "            introspectionUrl: 'http://idp/x y'\n", 10, 31,
		   "blank or control character", "url with a blank");
	expect_err(HEAD "            introspectionUrl: http://idp/x#f\n", 10, 31, "#fragment",
		   "url with a fragment");
	expect_err(HEAD "            introspectionUrl:\n", 10, 30, "must be a string, not null",
		   "null url");
	expect_err(HEAD "            introspectionUrl: ''\n", 10, 31, "must not be empty",
		   "empty url");
	expect_err(HEAD URL10 "            cacheTimeout: 10 minutes\n", 11, 27,
		   "invalid duration \"10 minutes\"", "bad duration");
	expect_err(HEAD URL10 "            negativeCacheTimeout: -5s\n", 11, 35, "invalid duration",
		   "negative duration");
	expect_err(HEAD URL10 "            cacheTimeout: 25h\n", 11, 27, "at most 24h",
		   "duration too long");
	expect_err(HEAD URL10 "            staleIfError: 61m\n", 11, 27, "staleIfError: at most 1h",
		   "staleIfError too long");
	expect_err(HEAD URL10 "            staleIfError: soon\n", 11, 27, "invalid duration",
		   "staleIfError not a duration");
	expect_err(HEAD URL10 "            requiredScopes: read\n", 11, 29,
		   "requiredScopes must be a list, not a scalar", "scopes type");
	expect_err(HEAD URL10 "            requiredScopes: [a\\b]\n", 11, 30,
		   "\"a\\b\" is not a valid scope token", "scope charset");
	expect_err(HEAD URL10 "            requiredScopes: [read, read]\n", 11, 36,
		   "duplicate value \"read\"", "duplicate scope");
	expect_err(HEAD URL10 "            requiredScopes: {scopes: [a]}\n", 11, 30,
		   "unknown key \"scopes\"", "Gloo scope list typo");
	expect_err(HEAD URL10 "            scopeMatch: most\n", 11, 25,
		   "unknown value \"most\" (expected all, any or hierarchic)", "scopeMatch value");
	expect_err(HEAD URL10 "            scopeMatch: hierarchic\n"
			      "            requiredScopes: ['read:', b]\n",
		   12, 30, "has an empty ':'-separated segment", "hierarchic empty segment");
	expect_err(HEAD URL10 "            scopeSeparator: '.'\n", 11, 29,
		   "only applies to scopeMatch: hierarchic", "separator without hierarchic");
	expect_err(HEAD URL10 "            scopeMatch: hierarchic\n"
			      "            scopeSeparator: '::'\n",
		   12, 29, "must be one printable character", "separator length");
	expect_err(HEAD URL10 "            audienceMatch: some\n", 11, 28,
		   "unknown value \"some\" (expected any or all)", "audienceMatch value");
	expect_err(HEAD URL10 "            audiences: [a, '']\n", 11, 28, "must not be empty",
		   "empty audience");
	expect_err(HEAD URL10 "            issuers: x\n", 11, 22, "must be a list", "issuers type");
	expect_err(HEAD URL10 "            introspection: {introspectionUrl: http://i/}\n", 11, 28,
		   "set introspectionUrl or introspection, not both", "both endpoint forms");
	expect_err(HEAD "            introspection:\n"
			"              clientId: c\n",
		   11, 15, "missing required key \"introspectionUrl\"",
		   "introspection without url");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n",
		   11, 15, "requires clientSecretFile or clientSecretEnv", "basic without secret");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              authMethod: client_secret_post\n",
		   12, 27, "authMethod client_secret_post requires clientId",
		   "post without client");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientSecretEnv: HOME\n",
		   12, 32, "a client secret is set but authMethod is none",
		   "secret without client");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              authMethod: private_key_jwt\n",
		   12, 27, "unknown value \"private_key_jwt\"", "unknown auth method");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientSecretRef: {name: s}\n",
		   12, 15, "use clientSecretFile or clientSecretEnv", "Gloo clientSecretRef");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretFile: /nonexistent/secret\n",
		   13, 33, "cannot open \"/nonexistent/secret\": No such file or directory",
		   "missing secret file");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretFile: f\n"
			"              clientSecretEnv: E\n",
		   14, 32, "not both", "secret file and env");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretEnv: POLICY_TEST_UNSET_VAR\n",
		   13, 32, "environment variable \"POLICY_TEST_UNSET_VAR\" is not set",
		   "unset env");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretEnv: 'A-B'\n",
		   13, 32, "is not a valid environment variable name", "bad env name");
	/* applyToRoutes */
	expect_err(RHEAD "  - match: {path: {regex: 'a(b'}}\n" TAIL, 6, 27, "invalid regex \"a(b\"",
		   "bad regex");
	expect_err(RHEAD "  - match: {path: {prefix: api}}\n" TAIL, 6, 28, "must start with '/'",
		   "prefix without slash");
	expect_err(RHEAD "  - match: {path: {exact: /a, prefix: /b}}\n" TAIL, 6, 39,
		   "set exactly one of exact, prefix and regex", "two path kinds");
	expect_err(RHEAD "  - match: {path: {}}\n" TAIL, 6, 19,
		   "set exactly one of exact, prefix and regex", "no path kind");
	expect_err(RHEAD "  - match: {methods: [get]}\n" TAIL, 6, 23, "\"get\" must be upper case",
		   "lower-case method");
	expect_err(RHEAD "  - match: {methods: [G T]}\n" TAIL, 6, 23, "is not an HTTP method",
		   "bad method");
	expect_err(RHEAD "  - match: {hosts: [a.com:80]}\n" TAIL, 6, 21, "must not include a port",
		   "host with port");
	expect_err(RHEAD "  - match: {hosts: ['a.*.com']}\n" TAIL, 6, 21,
		   "a wildcard is only allowed as a leading", "host wildcard inside");
	expect_err(RHEAD "  - match: {hosts: []}\n" TAIL, 6, 20, "must not be empty",
		   "empty hosts");
	expect_err(RHEAD "  - match: {}\n" TAIL, 6, 12, "set path, hosts, methods or several",
		   "empty match");
	expect_err(RHEAD "  - {}\n" TAIL, 6, 5, "set route, match or both", "empty item");
	expect_err(RHEAD "  - route: {name: x}\n" TAIL, 6, 13,
		   "unknown key \"name\" in spec.applyToRoutes[0].route", "route by name");
	expect_err(RHEAD "  - route: {labels: {}}\n" TAIL, 6, 21, "must not be empty",
		   "empty labels");
	expect_err(RHEAD "  - route: {labels: {'a=b': x}}\n" TAIL, 6, 22,
		   "may not contain blanks, ',' or '='", "label key with '='");
	expect_err(RHEAD "  - route: {labels: {a: 'x,y'}}\n" TAIL, 6, 25,
		   "label value \"x,y\" may not contain blanks or ','", "label value with ','");
	expect_err(RHEAD "  - route: {labels: {a: [x]}}\n" TAIL, 6, 25,
		   "must be a string, not a list", "label value type");
	expect_err(RHEAD "  - route: {labels: {a: x, a: y}}\n" TAIL, 6, 28, "duplicate key \"a\"",
		   "duplicate label");
	expect_err(RHEAD "  - route: {labels: {a: x}}\n"
			 "  - route: {labels: {b: y}, bogus: 1}\n" TAIL,
		   7, 29, "unknown key \"bogus\" in spec.applyToRoutes[1]", "second item");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec:\n  applyToRoutes: []\n" TAIL,
		   5, 18, "must not be empty (leave it out", "empty applyToRoutes");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec:\n  applyToRoutes: {route: x}\n" TAIL,
		   5, 18, "spec.applyToRoutes must be a list, not a mapping", "applyToRoutes type");
	expect_err("apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: a}\n"
		   "spec:\n  applyToDestinations: []\n" TAIL,
		   5, 3, "\"applyToDestinations\" is not supported", "applyToDestinations");

	/* whole-file errors carry no position */
	memset(big, '#', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	expect_err(big, 0, 0, "larger than 1048576 bytes", "file too large");
}

static void test_secrets(void)
{
	struct policy_set *set;
	const struct policy_introspection *in;
	struct err e;
	char yaml[1024];

	write_str("secret.txt", "s3cr3t\n");
	set = load_yaml(HEAD "            introspection:\n"
			     "              introspectionUrl: https://idp/x\n"
			     "              clientId: svc-a\n"
			     "              clientSecretFile: secret.txt\n",
			&e);
	if (!ok(set != NULL, "relative secret file loads"))
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
	in = policy_introspection(policy_set_get(set, 0));
	is_int(in->auth_method, POLICY_AUTH_CLIENT_SECRET_BASIC, "clientId: basic by default");
	is_str(in->client_id, "svc-a", "client id");
	is_str(in->client_secret, "s3cr3t", "secret without its newline");
	is_str(policy_auth_method_name(in->auth_method), "client_secret_basic", "method name");
	policy_set_free(set);

	write_str("crlf.txt", "pa ss\r\n");
	snprintf(yaml, sizeof(yaml),
		 HEAD "            introspection:\n"
		      "              introspectionUrl: https://idp/x\n"
		      "              clientId: c\n"
		      "              clientSecretFile: %s/crlf.txt\n",
		 tmpdir);
	set = load_yaml(yaml, &e);
	in = set ? policy_introspection(policy_set_get(set, 0)) : NULL;
	ok(in && !strcmp(in->client_secret, "pa ss"), "absolute path, CRLF trimmed");
	policy_set_free(set);

	setenv("POLICY_TEST_SECRET", "from-env", 1);
	set = load_yaml(HEAD "            introspection:\n"
			     "              introspectionUrl: https://idp/x\n"
			     "              clientId: svc-b\n"
			     "              clientSecretEnv: POLICY_TEST_SECRET\n"
			     "              authMethod: client_secret_post\n",
			&e);
	in = set ? policy_introspection(policy_set_get(set, 0)) : NULL;
	ok(in && in->auth_method == POLICY_AUTH_CLIENT_SECRET_POST, "client_secret_post");
	ok(in && !strcmp(in->client_secret, "from-env"), "secret from the environment");
	policy_set_free(set);

	set = load_yaml(HEAD "            introspection:\n"
			     "              introspectionUrl: https://idp/x\n"
			     "              clientId: public\n"
			     "              authMethod: none\n",
			&e);
	in = set ? policy_introspection(policy_set_get(set, 0)) : NULL;
	ok(in && in->auth_method == POLICY_AUTH_NONE && !strcmp(in->client_id, "public") &&
	       in->client_secret == NULL,
	   "authMethod none keeps the client id, no secret");
	is_str(policy_auth_method_name(POLICY_AUTH_NONE), "none", "none name");
	is_str(policy_auth_method_name(POLICY_AUTH_CLIENT_SECRET_POST), "client_secret_post",
	       "post name");
	is_str(policy_auth_method_name((enum policy_auth_method)9), "unknown", "unknown name");
	policy_set_free(set);

	/* Errors about a secret never print it. */
	write_str("two-lines.txt", "TOPSECRET\nmore\n");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretFile: two-lines.txt\n",
		   13, 33, "must hold one line", "multi-line secret file");
	set = load_yaml(HEAD "            introspection:\n"
			     "              introspectionUrl: https://idp/x\n"
			     "              clientId: c\n"
			     "              clientSecretFile: two-lines.txt\n",
			&e);
	ok(!strstr(e.msg, "TOPSECRET"), "the secret is not in the message");
	write_str("empty.txt", "\n");
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretFile: empty.txt\n",
		   13, 33, "is empty", "empty secret file");
	setenv("POLICY_TEST_EMPTY", "", 1);
	expect_err(HEAD "            introspection:\n"
			"              introspectionUrl: https://idp/x\n"
			"              clientId: c\n"
			"              clientSecretEnv: POLICY_TEST_EMPTY\n",
		   13, 32, "is empty", "empty secret env");
}

/* Loads HEAD + URL10 + <atv> and returns its only policy (the set in *set). */
static const struct policy *pol(struct policy_set **set, const char *atv)
{
	char yaml[2048];
	struct err e;

	snprintf(yaml, sizeof(yaml), HEAD URL10 "%s", atv);
	*set = load_yaml(yaml, &e);
	if (!*set) {
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
		exit(1);
	}
	return policy_set_get(*set, 0);
}

static enum authz_reason scope_check(const struct policy *p, const char *scope)
{
	struct claims c = {.active = true, .scope = scope};

	return policy_check(p, &c, 1000, 0);
}

static void test_scopes(void)
{
	struct policy_set *set;
	const struct policy *p;

	p = pol(&set, "            requiredScopes: [read, write]\n");
	is_str(policy_required_scopes(p), "read write", "scope string for WWW-Authenticate");
	is_int(scope_check(p, "read write"), AUTHZ_OK, "all: both");
	is_int(scope_check(p, "write  openid read"), AUTHZ_OK, "all: order, extra, double space");
	is_int(scope_check(p, "read"), AUTHZ_INSUFFICIENT_SCOPE, "all: one missing");
	is_int(scope_check(p, "readwrite"), AUTHZ_INSUFFICIENT_SCOPE, "all: no substring");
	is_int(scope_check(p, "read write:admin"), AUTHZ_INSUFFICIENT_SCOPE, "all: no prefix");
	is_int(scope_check(p, "read:x write:x"), AUTHZ_INSUFFICIENT_SCOPE, "all: no hierarchy");
	is_int(scope_check(p, ""), AUTHZ_INSUFFICIENT_SCOPE, "all: empty scope");
	is_int(scope_check(p, NULL), AUTHZ_INSUFFICIENT_SCOPE, "all: no scope claim");
	policy_set_free(set);

	p = pol(&set, "            requiredScopes: {scope: [read, write]}\n"
		      "            scopeMatch: any\n");
	is_str(policy_required_scopes(p), "read write", "Gloo {scope: [...]} form");
	is_int(scope_check(p, "write"), AUTHZ_OK, "any: one");
	is_int(scope_check(p, "openid read"), AUTHZ_OK, "any: another");
	is_int(scope_check(p, "reader writer"), AUTHZ_INSUFFICIENT_SCOPE, "any: no substring");
	is_int(scope_check(p, "read:all"), AUTHZ_INSUFFICIENT_SCOPE, "any: no prefix");
	is_int(scope_check(p, NULL), AUTHZ_INSUFFICIENT_SCOPE, "any: no scope claim");
	policy_set_free(set);

	p = pol(&set, "            requiredScopes: ['read:books:list', admin]\n"
		      "            scopeMatch: hierarchic\n");
	is_int(scope_check(p, "read admin"), AUTHZ_OK, "hier: top-level parent");
	is_int(scope_check(p, "read:books admin"), AUTHZ_OK, "hier: direct parent");
	is_int(scope_check(p, "read:books:list admin"), AUTHZ_OK, "hier: exact");
	is_int(scope_check(p, "read:books:list:extra admin"), AUTHZ_INSUFFICIENT_SCOPE,
	       "hier: a child does not grant its parent");
	is_int(scope_check(p, "rea admin"), AUTHZ_INSUFFICIENT_SCOPE, "hier: not at a boundary");
	is_int(scope_check(p, "read:book admin"), AUTHZ_INSUFFICIENT_SCOPE,
	       "hier: segment prefix is not a parent");
	is_int(scope_check(p, "read:books:lis admin"), AUTHZ_INSUFFICIENT_SCOPE,
	       "hier: last segment prefix");
	is_int(scope_check(p, "readx admin"), AUTHZ_INSUFFICIENT_SCOPE,
	       "hier: longer first segment");
	is_int(scope_check(p, "read:books"), AUTHZ_INSUFFICIENT_SCOPE, "hier: all are required");
	is_int(scope_check(p, "read: admin"), AUTHZ_INSUFFICIENT_SCOPE, "hier: trailing separator");
	is_int(scope_check(p, "admin:x read"), AUTHZ_INSUFFICIENT_SCOPE,
	       "hier: admin:x does not grant admin");
	policy_set_free(set);

	p = pol(&set, "            requiredScopes: [read]\n"
		      "            scopeMatch: hierarchic\n");
	is_int(scope_check(p, "read:admin"), AUTHZ_INSUFFICIENT_SCOPE,
	       "hier: read:admin does not satisfy read");
	is_int(scope_check(p, "read"), AUTHZ_OK, "hier: read satisfies read");
	policy_set_free(set);

	p = pol(&set, "            requiredScopes: [photos.read]\n"
		      "            scopeMatch: hierarchic\n"
		      "            scopeSeparator: .\n");
	is_int(scope_check(p, "photos"), AUTHZ_OK, "hier '.': parent");
	is_int(scope_check(p, "photos:read"), AUTHZ_INSUFFICIENT_SCOPE, "hier '.': ':' is plain");
	is_int(scope_check(p, "photo"), AUTHZ_INSUFFICIENT_SCOPE, "hier '.': boundary");
	policy_set_free(set);

	p = pol(&set, "            requiredScopes: []\n");
	is_str(policy_required_scopes(p), "", "empty list: no scope string");
	is_int(scope_check(p, NULL), AUTHZ_OK, "empty list: no scope check");
	policy_set_free(set);
}

static void test_claims(void)
{
	static const char *const ab[] = {"https://a.test", "https://b.test"};
	static const char *const b_only[] = {"https://b.test"};
	static const char *const c_only[] = {"https://c.test"};
	static const char *const abc[] = {"https://a.test", "https://b.test", "https://c.test"};
	static const char *const upper[] = {"HTTPS://A.TEST"};
	struct policy_set *set;
	const struct policy *p;
	struct claims c;

	/* The seed: no scope, audience or issuer requirement. */
	p = pol(&set, "");
	c = (struct claims){.active = true};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "bare active token");
	c.active = false;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INACTIVE_TOKEN, "active false");
	is_int(policy_check(p, NULL, 1000, 0), AUTHZ_INACTIVE_TOKEN, "no claims");
	c = (struct claims){.active = true, .not_access_token = true};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_NOT_ACCESS_TOKEN, "not an access token");
	c.has_exp = true, c.exp = 1;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_NOT_ACCESS_TOKEN,
	       "not an access token, before expiry");
	c = (struct claims){.active = false, .not_access_token = true};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INACTIVE_TOKEN, "inactive before the kind");
	c = (struct claims){.active = true, .token_use = "access_token"};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "access token");

	c = (struct claims){.active = true, .has_exp = true, .exp = 999};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INACTIVE_TOKEN, "expired");
	c.exp = 1000;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INACTIVE_TOKEN,
	       "exp == now is expired (RFC 7519)");
	c.exp = 1001;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "exp one second ahead");
	c.exp = 996;
	is_int(policy_check(p, &c, 1000, 5), AUTHZ_OK, "expired within leeway");
	c.exp = 995;
	is_int(policy_check(p, &c, 1000, 5), AUTHZ_INACTIVE_TOKEN, "expired beyond leeway");
	is_int(policy_check(p, &c, 1000, -100), AUTHZ_INACTIVE_TOKEN, "negative leeway is 0");
	c = (struct claims){.active = true, .has_exp = false, .exp = 0};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "exp absent");
	c = (struct claims){.active = true, .has_nbf = true, .nbf = 1001};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INACTIVE_TOKEN, "not yet valid");
	c.nbf = 1000;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "nbf == now");
	c.nbf = 1005;
	is_int(policy_check(p, &c, 1000, 5), AUTHZ_OK, "nbf within leeway");
	c.nbf = 1006;
	is_int(policy_check(p, &c, 1000, 5), AUTHZ_INACTIVE_TOKEN, "nbf beyond leeway");
	c = (struct claims){
	    .active = true, .has_exp = true, .exp = INT64_MIN, .has_nbf = true, .nbf = INT64_MAX};
	is_int(policy_check(p, &c, INT64_MIN, INT64_MAX), AUTHZ_INACTIVE_TOKEN, "extremes, low");
	is_int(policy_check(p, &c, INT64_MAX, INT64_MAX), AUTHZ_INACTIVE_TOKEN, "extremes, high");
	policy_set_free(set);

	p = pol(&set, "            audiences: [https://a.test, https://b.test]\n");
	c = (struct claims){.active = true, .n_aud = 1, .aud = b_only};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "aud any: a single string");
	c.aud = c_only;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_AUDIENCE_MISMATCH, "aud any: other");
	c.aud = upper;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_AUDIENCE_MISMATCH, "aud: case-sensitive");
	c = (struct claims){.active = true, .n_aud = 3, .aud = abc};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "aud any: array");
	c = (struct claims){.active = true};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_AUDIENCE_MISMATCH, "aud absent fails");
	policy_set_free(set);

	p = pol(&set, "            audiences: [https://a.test, https://b.test]\n"
		      "            audienceMatch: all\n");
	c = (struct claims){.active = true, .n_aud = 3, .aud = abc};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "aud all: superset");
	c = (struct claims){.active = true, .n_aud = 2, .aud = ab};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "aud all: same set");
	c = (struct claims){.active = true, .n_aud = 1, .aud = b_only};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_AUDIENCE_MISMATCH, "aud all: one missing");
	policy_set_free(set);

	p = pol(&set, "            issuers: ['http://127.0.0.1:4444/', 'https://idp.test']\n");
	c = (struct claims){.active = true, .iss = "http://127.0.0.1:4444/"};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "issuer listed");
	c.iss = "https://idp.test";
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "second issuer");
	c.iss = "http://127.0.0.1:4444";
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_ISSUER_MISMATCH, "issuer: exact match only");
	c.iss = "https://idp.test.evil";
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_ISSUER_MISMATCH, "issuer: no prefix match");
	c.iss = NULL;
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_ISSUER_MISMATCH, "issuer absent");
	policy_set_free(set);

	/* Order: inactive, issuer, audience, scope. */
	p = pol(&set, "            issuers: [i]\n"
		      "            audiences: [a]\n"
		      "            requiredScopes: [s]\n");
	c = (struct claims){.active = true, .has_exp = true, .exp = 1};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INACTIVE_TOKEN, "inactive comes first");
	c = (struct claims){.active = true};
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_ISSUER_MISMATCH, "then issuer");
	c.iss = "i";
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_AUDIENCE_MISMATCH, "then audience");
	{
		static const char *const a[] = {"a"};

		c.n_aud = 1;
		c.aud = a;
	}
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_INSUFFICIENT_SCOPE, "then scope");
	c.scope = "s";
	is_int(policy_check(p, &c, 1000, 0), AUTHZ_OK, "all pass");
	policy_set_free(set);
}

static void test_durations(void)
{
	static const struct {
		const char *s;
		int64_t ms; /* -1: invalid */
	} t[] = {
	    {"10m", 600000},
	    {"30s", 30000},
	    {"1h", 3600000},
	    {"500ms", 500},
	    {"45", 45000},
	    {"0", 0},
	    {"0s", 0},
	    {"1h30m", 5400000},
	    {"1m500ms", 60500},
	    {"1.5s", 1500},
	    {"0.5m", 30000},
	    {"600s", 600000},
	    {"24h", 86400000},
	    {"86400", 86400000},
	    {"", -1},
	    {"25h", -1},
	    {"86401", -1},
	    {"24h1ms", -1},
	    {"10x", -1},
	    {"10 m", -1},
	    {" 10m", -1},
	    {"-1s", -1},
	    {"1.s", -1},
	    {".5s", -1},
	    {"0.0005s", -1},
	    {"1.0000000001h", -1},
	    {"s", -1},
	    {"1m30", -1},
	    {"99999999999999999999s", -1},
	    {"99999999999999999999", -1},
	    {"1e3s", -1},
	    {"1H", -1},
	};
	struct policy_set *set;
	const struct policy *p;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t ms = -7;
		int rc = policy_duration_parse(t[i].s, &ms);

		if (t[i].ms < 0) {
			if (!ok(rc == -1 && ms == -7, "invalid duration refused"))
				printf("#   \"%s\"\n", t[i].s);
		} else {
			if (!ok(rc == 0 && ms == t[i].ms, "duration parsed"))
				printf("#   \"%s\": got %lld\n", t[i].s, (long long)ms);
		}
	}
	ok(policy_duration_parse(NULL, NULL) == -1, "NULL duration");

	p = pol(&set, "            cacheTimeout: 0\n"
		      "            negativeCacheTimeout: 250ms\n");
	is_int(policy_cache_timeout_ms(p), 0, "cacheTimeout 0 disables the cache");
	is_int(policy_negative_cache_timeout_ms(p), 250, "negativeCacheTimeout 250ms");
	policy_set_free(set);
	p = pol(&set, "            staleIfError: 1h\n");
	is_int(policy_stale_if_error_ms(p), 3600000, "staleIfError 1h");
	policy_set_free(set);
	p = pol(&set, "            cacheTimeout: \"90\"\n");
	is_int(policy_cache_timeout_ms(p), 90000, "quoted integer seconds");
	policy_set_free(set);
}

/* The shipped examples must load (they also document every extension). */
static void test_examples(void)
{
	const char *paths[] = {"policies"};
	struct policy_set *set = NULL;
	struct err e;

	setenv("RATINGS_INTROSPECTION_SECRET", "example-secret", 1);
	if (!ok(policy_set_load(paths, 1, &set, &e) == 0, "policies/ loads"))
		printf("#   %s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
	ok(policy_set_count(set) >= 2, "policies/ has the seed and the examples");
	policy_set_free(set);
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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_policy.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	unsetenv("POLICY_TEST_UNSET_VAR");
	test_reason();
	test_seed();
	test_multidoc();
	test_dir();
	test_matching();
	test_errors();
	test_secrets();
	test_scopes();
	test_claims();
	test_durations();
	test_examples();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing("policy");
}

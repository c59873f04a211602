/* test_path.c - issue 11: canonical request paths (path.h), the checks before
 * policy selection (policy_request_check: path_not_canonical, route_unknown)
 * and policy path selectors acting on the decoded canonical path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "path.h"
#include "policy.h"
#include "reason.h"
#include "tap.h"

/* Paths every upstream serves as themselves: canonical. */
static const char *const good[] = {
    "/",
    "/ratings/1",
    "/ratings/1/",
    "/details/a%20b",
    "/details/caf%C3%A9",
    "/details/.well-known",
    "/details/a..b",
    "/details/...",
    "/details/~user",
    "/details/a:b@c!$&'()*+,=",
    "/a%3Ab",
    "/a%3F",
    "/a%25",
    "/100%25off",
    "/a%25%20",
    "/a%2C",
    "/a%80%FF",
};

/* Forms an upstream may serve as another path, or that RFC 3986
 * normalisation changes: refused. */
static const char *const bad[] = {
    "",
    "ratings/1",
    "*",
    "//ratings/1",
    "/ratings//1",
    "/ratings/1//",
    "/./ratings/1",
    "/x/../ratings/1",
    "/.",
    "/..",
    "/ratings/1/.",
    "/ratings/1/..",
    "/%72atings/1",
    "/%41",
    "/%7E",
    "/%2D",
    "/%5F",
    "/%30",
    "/%2e/ratings/1",
    "/%2E%2E/ratings/1",
    "/x/.%2E/ratings/1",
    "/%2Fratings/1",
    "/%2fratings/1",
    "/%5Cratings/1",
    "/%5cratings/1",
    "/\\ratings/1",
    "/;x/ratings/1",
    "/x/..;/ratings/1",
    "/ratings;jsessionid=1/1",
    "/%3Bx/ratings/1",
    "/%3bx",
    "/%00/../ratings/1",
    "/a%00",
    "/a%0A",
    "/a%1F",
    "/a%7F",
    "/%252Fratings/1",
    "/%2541",
    "/%25a1",
    "/a%c3%a9",
    "/a%",
    "/a%4",
    "/a%G1",
    "/a%%41",
    "/a b",
    "/a\"b",
    "/a<b",
    "/a>b",
    "/a[b",
    "/a]b",
    "/a^b",
    "/a`b",
    "/a{b",
    "/a|b",
    "/a}b",
    "/a#b",
    "/a?b",
    "/a\x7f",
    "/a\x01",
    "/caf\xc3\xa9",
};

static void test_canonical(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ok(path_is_canonical(slice_str(good[i])), "canonical"))
			printf("#   \"%s\"\n", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!ok(!path_is_canonical(slice_str(bad[i])), "not canonical"))
			printf("#   \"%s\"\n", bad[i]);
	ok(!path_is_canonical(SLICE_NULL), "NULL path is not canonical");
	{
		/* A slice, not a C string: the bytes past its end do not count. */
		const char raw[] = "/a/..";

		ok(path_is_canonical(slice_from(raw, 3)), "slice /a/ of /a/..");
		ok(!path_is_canonical(slice_from(raw, 5)), "the whole /a/..");
		ok(!path_is_canonical(slice_from("/a%41", 4)), "an escape cut by the slice end");
		ok(path_is_canonical(slice_from("/a\0b", 2)), "bytes past the end are not read");
		ok(!path_is_canonical(slice_from("/a\0b", 4)), "a NUL inside is refused");
	}
}

static void test_decode(void)
{
	uint8_t buf[64];
	struct slice s, in = slice_str("/ratings/1");

	s = path_decode(in, buf, sizeof(buf));
	ok(s.ptr == in.ptr && s.len == in.len, "no '%': the path itself, not copied");
	s = path_decode(slice_str("/details/a%20b%3A%C3%A9"), buf, sizeof(buf));
	is_mem(s.ptr, s.len, "/details/a b:\xc3\xa9", 15, "escapes decoded");
	ok(s.ptr == buf, "into the buffer");
	s = path_decode(slice_str("/a%20b"), buf, 5);
	ok(s.ptr == NULL && s.len == 0, "buffer shorter than the path: SLICE_NULL");
	{
		char inplace[] = "/x%3Ay%20";
		struct slice d =
		    path_decode(slice_str(inplace), (uint8_t *)inplace, strlen(inplace));

		is_mem(d.ptr, d.len, "/x:y ", 5, "decoding in place");
	}
}

#define POLICY(NAME, SELECTOR)                                                                     \
	"apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: " NAME "}\n"            \
	"spec:\n  applyToRoutes:\n  - " SELECTOR "\n"                                              \
	"  config:\n    glooAuth:\n      configs:\n      - oauth2:\n"                              \
	"          accessTokenValidation:\n            introspectionUrl: http://idp/x\n"

static char tmpfile_path[64];

static struct policy_set *load(const char *yaml, struct err *e)
{
	struct policy_set *set = NULL;
	const char *p = tmpfile_path;
	FILE *f = fopen(tmpfile_path, "wb");

	if (!f || fputs(yaml, f) == EOF || fclose(f)) {
		perror(tmpfile_path);
		exit(2);
	}
	return policy_set_load(&p, 1, &set, e) ? NULL : set;
}

static enum authz_reason check(const struct policy_set *set, const char *path, const char *route)
{
	struct policy_request r = {SLICE_LIT("GET"), slice_str(path), SLICE_NULL,
				   route ? slice_str(route) : SLICE_NULL};

	return policy_request_check(set, &r);
}

static size_t nmatch(const struct policy_set *set, const char *path)
{
	struct policy_request r = {SLICE_LIT("GET"), slice_str(path), SLICE_NULL, SLICE_LIT("")};
	uint8_t buf[256];

	r.path = path_decode(r.path, buf, sizeof(buf));
	return policy_set_match(set, &r, NULL, 0);
}

static void test_request_check(void)
{
	struct err e;
	struct policy_set *labels = load(POLICY("l", "route: {labels: {route: ratings}}"), &e);
	struct policy_set *paths = load(POLICY("p", "match: {path: {prefix: /ratings}}"), &e);

	if (!ok(labels && paths, "policies load"))
		return;
	/* route_unknown: only NULL (missing or NULL argument), only with label selectors */
	is_int(check(labels, "/ratings/1", NULL), AUTHZ_ROUTE_UNKNOWN, "NULL route, label policy");
	is_int(check(labels, "/ratings/1", ""), AUTHZ_OK, "empty route: no label, not unknown");
	is_int(check(labels, "/ratings/1", "ratings"), AUTHZ_OK, "a label");
	is_int(check(paths, "/ratings/1", NULL), AUTHZ_OK, "NULL route, no label selector");
	is_int(check(NULL, "/ratings/1", NULL), AUTHZ_OK, "NULL route, no policy at all");
	/* path_not_canonical: whatever the set, and before route_unknown */
	is_int(check(NULL, "//ratings/1", ""), AUTHZ_PATH_NOT_CANONICAL,
	       "no policy: still refused");
	is_int(check(paths, "/%72atings/1", "x"), AUTHZ_PATH_NOT_CANONICAL, "encoded letter");
	is_int(check(labels, "/x/../ratings", NULL), AUTHZ_PATH_NOT_CANONICAL,
	       "non-canonical path wins over unknown route");
	{
		struct policy_request r = {SLICE_LIT("GET"), SLICE_NULL, SLICE_NULL, SLICE_LIT("")};

		is_int(policy_request_check(paths, &r), AUTHZ_PATH_NOT_CANONICAL,
		       "no path argument");
		is_int(policy_request_check(paths, NULL), AUTHZ_PATH_NOT_CANONICAL, "no request");
	}
	policy_set_free(labels);
	policy_set_free(paths);
}

static void test_selectors(void)
{
	struct err e;
	struct policy_set *set;

	/* exact and prefix values are kept decoded; requests are matched decoded */
	set = load(POLICY("x", "match: {path: {exact: '/a%3Ab'}}") "---\n" POLICY(
		       "y", "match: {path: {prefix: '/files/a b/'}}"),
		   &e);
	ok(set == NULL && strstr(e.msg, "not a canonical path"), "a raw space is refused");
	set = load(
	    POLICY("x", "match: {path: {exact: '/a%3Ab'}}") "---\n" POLICY(
		"y",
		"match: {path: {prefix: '/files/a%20b/'}}") "---\n" POLICY("z",
									   "match: {path: {regex: "
									   "'/r/a:b'}}"),
	    &e);
	if (!ok(set != NULL, "canonical selectors load")) {
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
		return;
	}
	is_int(nmatch(set, "/a%3Ab"), 1, "exact, escaped as in the policy");
	is_int(nmatch(set, "/a:b"), 1, "exact, the same path unescaped");
	is_int(nmatch(set, "/files/a%20b/c"), 1, "prefix through an escape");
	is_int(nmatch(set, "/r/a%3Ab"), 1, "regex sees the decoded path");
	is_int(nmatch(set, "/r/a:b"), 1, "regex, unescaped");
	is_int(nmatch(set, "/a%3Ac"), 0, "another path");
	policy_set_free(set);

	/* what can never equal a canonical request path is refused at load */
	static const char *const refused[] = {
	    "match: {path: {exact: '//a'}}",	     "match: {path: {prefix: /a/../b}}",
	    "match: {path: {prefix: '/%72atings'}}", "match: {path: {exact: '/a%2Fb'}}",
	    "match: {path: {prefix: '/a;b'}}",	     "match: {path: {prefix: '/a%3a'}}",
	    "match: {path: {exact: '/a\\b'}}",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char yaml[1024];

		snprintf(yaml, sizeof(yaml), POLICY("n", "%s"), refused[i]);
		set = load(yaml, &e);
		if (!ok(set == NULL && strstr(e.msg, "not a canonical path"), "refused at load"))
			printf("#   %s\n", refused[i]);
		policy_set_free(set);
	}
}

int main(void)
{
	int fd;

	snprintf(tmpfile_path, sizeof(tmpfile_path), "/tmp/test_path.XXXXXX");
	fd = mkstemp(tmpfile_path);
	if (fd == -1) {
		perror("mkstemp");
		return 2;
	}
	close(fd);
	test_canonical();
	test_decode();
	test_request_check();
	test_selectors();
	unlink(tmpfile_path);
	return done_testing("path");
}

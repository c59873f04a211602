/* test_introspect.c - RFC 7662 request body and response parsing (the form
 * encoding itself and client_secret_basic are test_form.c's). */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "introspect.h"
#include "tap.h"

/* Bodies are copied to the end of a readable region followed by a PROT_NONE
 * page, and never NUL-terminated, so any over-read faults. */
static uint8_t *guard_base;
static size_t guard_len;

static const char *at_guard(const char *p, size_t len)
{
	if (!guard_base) {
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);

		guard_len = 32 * pg;
		guard_base = mmap(NULL, guard_len + pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED || mprotect(guard_base + guard_len, pg, PROT_NONE))
			abort();
	}
	if (len > guard_len)
		return p;
	memcpy(guard_base + guard_len - len, p, len);
	return (const char *)guard_base + guard_len - len;
}

static struct err E;

/* Parses a NUL-terminated literal (without its NUL); returns the claims or NULL. */
static struct claims *parse_n(const char *body, size_t len)
{
	struct claims *c = (struct claims *)&E; /* must be overwritten */

	memset(&E, 0, sizeof(E));
	if (introspect_parse_response(at_guard(body, len), len, &c, &E) != 0) {
		ok(c == NULL, "*out is NULL on error");
		ok(E.msg[0] != '\0', "error message set");
		return NULL;
	}
	return c;
}

static struct claims *parse(const char *body)
{
	return parse_n(body, strlen(body));
}

static void bad(const char *body, const char *msg_part, const char *what)
{
	struct claims *c = parse(body);

	ok(c == NULL, what);
	if (msg_part && !strstr(E.msg, msg_part))
		printf("#   message \"%s\" lacks \"%s\"\n", E.msg, msg_part), ok(0, what);
	claims_unref(c);
}

static void test_hydra_shapes(void)
{
	/* Hydra v2.3.0 client_credentials, as json.NewEncoder writes it. */
	const char *hydra =
	    "{\"active\":true,\"scope\":\"read write\",\"client_id\":\"svc-a\",\"sub\":\"svc-a\","
	    "\"exp\":1795815600,\"iat\":1795812000,\"nbf\":1795812000,"
	    "\"aud\":[\"https://api.example.test\"],\"iss\":\"http://127.0.0.1:4444/\","
	    "\"token_type\":\"Bearer\",\"token_use\":\"access_token\"}\n";
	struct claims *c = parse(hydra);

	ok(c != NULL, "hydra: parsed");
	if (!c)
		return;
	is_int(atomic_load(&c->refs), 1, "hydra: refs 1");
	ok(c->active, "hydra: active");
	is_str(c->scope, "read write", "hydra: scope");
	is_str(c->client_id, "svc-a", "hydra: client_id");
	is_str(c->sub, "svc-a", "hydra: sub");
	ok(c->username == NULL, "hydra: no username");
	is_str(c->iss, "http://127.0.0.1:4444/", "hydra: iss");
	is_str(c->token_use, "access_token", "hydra: token_use");
	ok(c->has_exp && c->exp == 1795815600, "hydra: exp");
	ok(c->has_iat && c->iat == 1795812000, "hydra: iat");
	ok(c->has_nbf && c->nbf == 1795812000, "hydra: nbf");
	is_int(c->n_aud, 1, "hydra: one aud");
	if (c->n_aud == 1)
		is_str(c->aud[0], "https://api.example.test", "hydra: aud[0]");
	/* Strings live in the same block as the struct. */
	ok((const char *)c->scope > (const char *)c && (const char *)c->aud[0] > (const char *)c,
	   "hydra: strings after the struct");
	ok(claims_ref(c) == c, "claims_ref returns its argument");
	is_int(atomic_load(&c->refs), 2, "claims_ref counts");
	claims_unref(c);
	claims_unref(c);
	claims_ref(NULL);
	claims_unref(NULL);

	/* No scope granted: scope absent; aud [] ; ext present; refresh token. */
	c = parse("{\"active\":true,\"client_id\":\"svc-c\",\"sub\":\"svc-c\",\"exp\":1,\"iat\":0,"
		  "\"nbf\":0,\"aud\":[],\"iss\":\"http://h/\",\"token_type\":\"Bearer\","
		  "\"token_use\":\"refresh_token\",\"ext\":{\"a\":[1,{\"b\":null}],\"c\":1.5}}\n");
	ok(c && c->active && !c->scope && c->n_aud == 0 && c->aud == NULL,
	   "hydra: no scope, aud []");
	ok(c && c->token_use && strcmp(c->token_use, "refresh_token") == 0,
	   "hydra: refresh token reported as such");
	ok(c && c->not_access_token, "hydra: a refresh token is not an access token");
	claims_unref(c);

	/* Inactive: exactly what fosite writes. */
	c = parse("{\"active\":false}\n");
	ok(c && !c->active, "inactive");
	ok(c && !c->scope && !c->sub && !c->has_exp && c->n_aud == 0, "inactive: nothing else");
	claims_unref(c);
	c = parse("{\"active\":false,\"exp\":\"junk\",\"aud\":7}");
	ok(c && !c->active, "inactive: other members are not checked");
	claims_unref(c);

	/* aud as a string, several, and null / absent. */
	c = parse("{\"active\":true,\"aud\":\"api\"}");
	ok(c && c->n_aud == 1 && strcmp(c->aud[0], "api") == 0, "aud string");
	claims_unref(c);
	c = parse("{\"active\":true,\"aud\":[\"a\",\"\",\"c\"]}");
	ok(c && c->n_aud == 3 && !strcmp(c->aud[0], "a") && !strcmp(c->aud[1], "") &&
	       !strcmp(c->aud[2], "c"),
	   "aud array of 3 incl. empty");
	claims_unref(c);
	c = parse("{\"active\":true,\"aud\":null,\"sub\":null,\"exp\":null}");
	ok(c && c->active && c->n_aud == 0 && !c->sub && !c->has_exp, "null members are absent");
	claims_unref(c);
	c = parse("{\"active\":true}");
	ok(c && c->active && !c->has_exp && !c->client_id, "active alone");
	claims_unref(c);
	c = parse(" \t\r\n{ \"active\" : true , \"exp\" : -5 } \r\n\t ");
	ok(c && c->has_exp && c->exp == -5, "whitespace and a negative exp");
	claims_unref(c);
	c = parse("{\"active\":true,\"exp\":9223372036854775807,\"iat\":-9223372036854775808}");
	ok(c && c->exp == INT64_MAX && c->iat == INT64_MIN, "int64 extremes");
	claims_unref(c);
	c = parse("{\"active\":true,\"sub\":\"caf\\u00e9 \\\"q\\\" \xe2\x82\xac\"}");
	ok(c && strcmp(c->sub, "caf\xc3\xa9 \"q\" \xe2\x82\xac") == 0, "escapes and UTF-8");
	claims_unref(c);
	c = parse("{\"active\":true,\"username\":\"alice\"}");
	ok(c && c->username && !strcmp(c->username, "alice"), "username");
	claims_unref(c);
}

/* What Keycloak 26.4 answers (only the members that matter kept whole). */
#define KC_HEAD                                                                                    \
	"{\"exp\":1796220120,\"iat\":1796219820,\"jti\":\"j\",\"iss\":\"http://127.0.0.1:1/"       \
	"realms/e2e\","
#define KC_TAIL "\"azp\":\"svc\",\"client_id\":\"svc\",\"username\":\"alice\",\"active\":true}"

static bool kind_other(const char *body, const char *what)
{
	struct claims *c = parse(body);
	bool other = c && c->not_access_token;

	ok(c != NULL, what);
	claims_unref(c);
	return other;
}

static void test_token_kinds(void)
{
	struct claims *c;

	c = parse(KC_HEAD "\"typ\":\"Bearer\",\"scope\":\"openid ratings\","
			  "\"token_type\":\"Bearer\"," KC_TAIL);
	ok(c && c->active && !c->not_access_token, "keycloak: access token");
	ok(c && c->scope && strcmp(c->scope, "openid ratings") == 0, "keycloak: scope");
	claims_unref(c);
	ok(kind_other(KC_HEAD "\"typ\":\"Refresh\",\"token_type\":\"Refresh\"," KC_TAIL,
		      "keycloak: refresh parsed"),
	   "keycloak: refresh token is not an access token");
	ok(kind_other(KC_HEAD "\"typ\":\"ID\",\"sub\":\"u\",\"token_type\":\"ID\"," KC_TAIL,
		      "keycloak: ID parsed"),
	   "keycloak: ID token is not an access token");
	ok(kind_other(KC_HEAD "\"typ\":\"Offline\"," KC_TAIL, "offline parsed"),
	   "keycloak: offline token");
	ok(kind_other(KC_HEAD "\"typ\":\"Logout\"," KC_TAIL, "logout parsed"),
	   "keycloak: logout token");
	/* One member is enough, in any case, whichever of the two says it. */
	ok(kind_other("{\"active\":true,\"typ\":\"rEfReSh\"}", "typ mixed case parsed"),
	   "typ: case ignored");
	ok(kind_other("{\"active\":true,\"token_type\":\"id\"}", "token_type alone parsed"),
	   "token_type alone");
	ok(kind_other("{\"active\":true,\"typ\":\"Bearer\",\"token_type\":\"Refresh\"}",
		      "typ and token_type disagree parsed"),
	   "typ Bearer but token_type Refresh");
	ok(kind_other("{\"active\":true,\"token_type\":\"refresh_token\"}", "rt parsed"),
	   "token_type refresh_token");
	ok(kind_other("{\"active\":true,\"token_type\":\"ID_TOKEN\"}", "idt parsed"),
	   "token_type id_token");
	ok(kind_other("{\"active\":true,\"token_use\":\"\"}", "empty token_use parsed"),
	   "empty token_use");
	ok(kind_other("{\"active\":true,\"token_use\":\"Access_Token\"}", "token_use case"),
	   "token_use is compared exactly (Hydra writes it lower-case)");
	/* Access tokens, and what other IdPs say. */
	ok(!kind_other("{\"active\":true,\"token_use\":\"access_token\",\"token_type\":\"Bearer\"}",
		       "hydra access parsed"),
	   "hydra access token");
	ok(!kind_other("{\"active\":true,\"typ\":\"at+jwt\"}", "at+jwt parsed"), "at+jwt");
	ok(!kind_other("{\"active\":true,\"typ\":\"application/AT+JWT\"}", "app at+jwt parsed"),
	   "application/at+jwt, case ignored");
	/* An allow-list: kinds nobody listed are not access tokens either. */
	ok(kind_other("{\"active\":true,\"token_type\":\"DPoP\"}", "dpop parsed"),
	   "DPoP: sender-constrained, its proof is not checked here");
	ok(kind_other("{\"active\":true,\"typ\":\"Serialized-ID\"}", "serialized id parsed"),
	   "keycloak: Serialized-ID");
	ok(kind_other("{\"active\":true,\"typ\":\"Refreshed\"}", "unknown typ parsed"),
	   "an unknown typ");
	ok(kind_other("{\"active\":true,\"typ\":\"\"}", "empty typ parsed"), "empty typ");
	ok(kind_other("{\"active\":true,\"token_type\":\"Bearer\",\"cnf\":{\"jkt\":\"x\"}}",
		      "cnf parsed"),
	   "cnf: a key-bound token is not a bearer token");
	ok(!kind_other("{\"active\":true,\"typ\":null}", "null typ parsed"), "null typ is absent");
	c = parse("{\"active\":false,\"typ\":\"Refresh\",\"token_type\":7}");
	ok(c && !c->active && !c->not_access_token, "inactive: typ not looked at");
	claims_unref(c);
	bad("{\"active\":true,\"typ\":1}", "\"typ\" is not a string", "typ number");
	bad("{\"active\":true,\"token_type\":[\"Refresh\"]}", "\"token_type\" is not a string",
	    "token_type array");
}

static void test_bad(void)
{
	bad("{\"active\":\"true\"}", "\"active\" is not a boolean", "active string \"true\"");
	bad("{\"active\":1}", "not a boolean", "active 1");
	bad("{\"active\":null}", "not a boolean", "active null");
	bad("{\"active\":[true]}", "not a boolean", "active array");
	bad("{}", "\"active\" is missing", "empty object");
	bad("{\"scope\":\"a\"}", "\"active\" is missing", "active missing");
	bad("{\"Active\":true}", "\"active\" is missing", "key is case-sensitive");
	bad("", "invalid JSON", "empty body");
	bad("\n", "invalid JSON", "only a newline");
	bad("garbage", "invalid JSON", "garbage");
	bad("[]", "not a JSON object", "array");
	bad("[{\"active\":true}]", "not a JSON object", "array of object");
	bad("null", "invalid JSON", "null");
	bad("true", "invalid JSON", "true");
	bad("\"active\"", "invalid JSON", "a string");
	bad("{\"active\":true", "premature end", "truncated");
	bad("{\"active\":true}x", "data after", "trailing garbage");
	bad("{\"active\":true}{\"active\":true}", "data after", "two objects");
	bad("{\"active\":true,}", "invalid JSON", "trailing comma");
	bad("{'active':true}", "invalid JSON", "single quotes");
	bad("{\"active\":true,\"active\":false}", "duplicate", "duplicate active");
	bad("{\"active\":false,\"active\":true}", "duplicate", "duplicate active, other order");
	bad("{\"active\":true,\"sub\":\"a\",\"sub\":\"b\"}", "duplicate", "duplicate sub");
	bad("{\"active\":true,\"ext\":{\"k\":1,\"k\":2}}", "duplicate", "duplicate inside ext");
	bad("{\"active\":true,\"exp\":1.5}", "\"exp\" is not an integer", "exp real");
	bad("{\"active\":true,\"exp\":1e3}", "\"exp\" is not an integer", "exp exponent");
	bad("{\"active\":true,\"exp\":\"1795815600\"}", "\"exp\" is not an integer", "exp string");
	bad("{\"active\":true,\"nbf\":true}", "\"nbf\" is not an integer", "nbf bool");
	bad("{\"active\":true,\"iat\":{}}", "\"iat\" is not an integer", "iat object");
	bad("{\"active\":true,\"exp\":99999999999999999999}", "out of range", "exp > int64");
	bad("{\"active\":true,\"exp\":-99999999999999999999}", "out of range", "exp < int64");
	bad("{\"active\":true,\"exp\":1e400}", "out of range", "exp real overflow");
	bad("{\"active\":true,\"ext\":{\"n\":123456789012345678901234567890}}", "out of range",
	    "huge integer in ext (jansson cannot hold it)");
	bad("{\"active\":true,\"sub\":5}", "\"sub\" is not a string", "sub number");
	bad("{\"active\":true,\"scope\":[\"a\"]}", "\"scope\" is not a string", "scope array");
	bad("{\"active\":true,\"client_id\":false}", "\"client_id\"", "client_id bool");
	bad("{\"active\":true,\"iss\":{}}", "\"iss\"", "iss object");
	bad("{\"active\":true,\"token_use\":1}", "\"token_use\"", "token_use number");
	bad("{\"active\":true,\"username\":[]}", "\"username\"", "username array");
	bad("{\"active\":true,\"aud\":5}", "neither a string nor an array", "aud number");
	bad("{\"active\":true,\"aud\":{}}", "neither", "aud object");
	bad("{\"active\":true,\"aud\":[\"a\",1]}", "non-string entry", "aud [str, num]");
	bad("{\"active\":true,\"aud\":[[\"a\"]]}", "non-string entry", "aud nested");
	bad("{\"active\":true,\"aud\":[null]}", "non-string entry", "aud [null]");
	bad("{\"active\":true,\"sub\":\"a\\u0000b\"}", "\\u0000", "NUL escape in a string");
	bad("{\"active\":true,\"a\\u0000\":1}", "\\u0000", "NUL escape in a key");
	bad("{\"active\":true,\"sub\":\"\xff\"}", "UTF-8", "invalid UTF-8");
	bad("{\"active\":true,\"sub\":\"\xc0\xaf\"}", "UTF-8", "overlong UTF-8");
	bad("{\"active\":true,\"sub\":\"a\nb\"}", "invalid JSON", "raw control char in string");
	ok(parse_n("{\"active\":true}\0", 16) == NULL, "a NUL byte after the object");
	ok(parse_n("{\"active\":\0true}", 16) == NULL, "a NUL byte inside");

	{
		struct claims *c = (struct claims *)&E;

		ok(introspect_parse_response(NULL, 0, &c, NULL) == -1 && c == NULL,
		   "NULL body, NULL err");
		ok(introspect_parse_response("x", 1, &c, NULL) == -1 && c == NULL, "NULL err");
	}
}

/* Errors name members, never quote the body (which could echo a token). */
static void test_no_leak(void)
{
	static const char *const bodies[] = {
	    "{\"active\":true,\"x\":SECRETTOKEN}",
	    "SECRETTOKEN",
	    "{\"SECRETTOKEN\":1,\"SECRETTOKEN\":2,\"active\":true}",
	    "{\"active\":\"SECRETTOKEN\"}",
	    "{\"active\":true,\"sub\":\"SECRETTOKEN\xff\"}",
	    "{\"active\":true,\"sub\":[\"SECRETTOKEN\"]}",
	    "{\"active\":true}SECRETTOKEN",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		ok(parse(bodies[i]) == NULL, "leak test body rejected");
		ok(!strstr(E.msg, "SECRET") && !strstr(E.msg, "TOKEN"),
		   "message has no body bytes");
	}
	parse("{\"active\":true,\n  \"x\": SECRET}");
	ok(E.line == 2, "syntax error: line reported");
	ok(E.col > 0, "syntax error: column reported");
}

static char *repeat(const char *pre, char ch, size_t n, const char *post)
{
	size_t a = strlen(pre), b = strlen(post);
	char *s = malloc(a + n + b + 1);

	memcpy(s, pre, a);
	memset(s + a, ch, n);
	memcpy(s + a + n, post, b + 1);
	return s;
}

static void test_limits(void)
{
	struct claims *c;
	char *s;
	char buf[2048];
	size_t n;

	/* Depth: "active" at depth 1, ext's arrays add the rest. */
	s = malloc(4 * INTROSPECT_MAX_DEPTH + 64);
	n = (size_t)snprintf(s, 64, "{\"active\":true,\"ext\":");
	for (unsigned i = 0; i < INTROSPECT_MAX_DEPTH - 1; i++)
		s[n++] = '[';
	for (unsigned i = 0; i < INTROSPECT_MAX_DEPTH - 1; i++)
		s[n++] = ']';
	s[n++] = '}';
	c = parse_n(s, n);
	ok(c && c->active, "depth == max accepted");
	claims_unref(c);
	memmove(s + 22, s + 21, n - 21); /* one more '[' ... */
	s[21] = '[';
	s[n] = ']'; /* ... and its ']' before the final '}' */
	s[n + 1] = '}';
	ok(parse_n(s, n + 2) == NULL, "depth == max + 1 rejected");
	ok(strstr(E.msg, "nested deeper") != NULL, "depth message");
	free(s);
	s = repeat("{\"active\":true,\"sub\":\"", '[', 1000, "\"}");
	c = parse(s);
	ok(c && strlen(c->sub) == 1000, "brackets inside strings are not nesting");
	claims_unref(c);
	free(s);
	s = repeat("{\"active\":true,\"sub\":\"\\\"", '{', 100, "\"}");
	c = parse(s);
	ok(c && c->sub[0] == '"', "escaped quote does not end the string for the depth scan");
	claims_unref(c);
	free(s);
	s = repeat("", '[', 60000, "");
	ok(parse(s) == NULL, "60000 '[' rejected by the depth scan");
	ok(strstr(E.msg, "nested deeper") != NULL, "deep body: depth message");
	free(s);

	/* String length cap. */
	s = repeat("{\"active\":true,\"scope\":\"", 'a', INTROSPECT_MAX_STR_LEN, "\"}");
	c = parse(s);
	ok(c && strlen(c->scope) == INTROSPECT_MAX_STR_LEN, "scope at the cap");
	claims_unref(c);
	free(s);
	s = repeat("{\"active\":true,\"scope\":\"", 'a', INTROSPECT_MAX_STR_LEN + 1, "\"}");
	ok(parse(s) == NULL && strstr(E.msg, "\"scope\" longer than"), "scope over the cap");
	free(s);
	s = repeat("{\"active\":true,\"aud\":[\"x\",\"", 'a', INTROSPECT_MAX_STR_LEN + 1, "\"]}");
	ok(parse(s) == NULL && strstr(E.msg, "\"aud\" longer than"), "aud entry over the cap");
	free(s);
	s = repeat("{\"active\":true,\"ext\":\"", 'a', INTROSPECT_MAX_STR_LEN * 2, "\"}");
	c = parse(s);
	ok(c != NULL, "long ignored member is fine");
	claims_unref(c);
	free(s);

	/* aud count cap. */
	n = (size_t)snprintf(buf, sizeof(buf), "{\"active\":true,\"aud\":[");
	for (unsigned i = 0; i < INTROSPECT_MAX_AUD; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"a%u\"", i ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "]}");
	c = parse(buf);
	ok(c && c->n_aud == INTROSPECT_MAX_AUD && !strcmp(c->aud[INTROSPECT_MAX_AUD - 1], "a63"),
	   "aud at the cap");
	claims_unref(c);
	snprintf(buf + n, sizeof(buf) - n, ",\"z\"]}");
	ok(parse(buf) == NULL && strstr(E.msg, "more than"), "aud over the cap");

	/* Body size cap. */
	s = repeat("{\"active\":true,\"ext\":\"", 'a', INTROSPECT_MAX_BODY, "\"}");
	ok(parse(s) == NULL && strstr(E.msg, "larger than"), "body over the cap");
	free(s);
	s = repeat("{\"active\":true,\"ext\":\"", 'a', INTROSPECT_MAX_BODY - 24, "\"}");
	c = parse(s);
	ok(c != NULL && strlen(s) == INTROSPECT_MAX_BODY, "body at the cap");
	claims_unref(c);
	free(s);
}

/* Every truncation of a valid response fails cleanly. */
static void test_truncations(void)
{
	const char *full = "{\"active\":true,\"scope\":\"a b\",\"exp\":12,\"aud\":[\"x\",\"y\"]}\n";
	size_t len = strlen(full);
	int fails = 0;

	for (size_t n = 0; n + 1 < len; n++) {
		struct claims *c = NULL;

		memset(&E, 0, sizeof(E));
		if (introspect_parse_response(at_guard(full, n), n, &c, &E) == 0) {
			fails++;
			claims_unref(c);
		}
	}
	is_int(fails, 0, "every strict prefix is rejected");
}

/* Allocation failure injected at each jansson allocation in turn (the final
 * claims_new() is not reachable from here). ASan/valgrind check for leaks. */
static size_t fail_at, alloc_count;

static void *failing_malloc(size_t n)
{
	if (++alloc_count == fail_at)
		return NULL;
	return malloc(n);
}

static void test_failmalloc(void)
{
	const char *body = "{\"active\":true,\"scope\":\"read write\",\"client_id\":\"svc-a\","
			   "\"sub\":\"svc-a\",\"exp\":1,\"aud\":[\"a\",\"b\"],\"ext\":{\"k\":[1]}}";
	int oom = 0, ok_after = 0;

	for (fail_at = 1; fail_at < 200; fail_at++) {
		struct claims *c = NULL;
		struct err e;
		int r;

		memset(&e, 0, sizeof(e));

		alloc_count = 0;
		json_set_alloc_funcs(failing_malloc, free);
		r = introspect_parse_response(body, strlen(body), &c, &e);
		json_set_alloc_funcs(malloc, free);
		if (r == 0) {
			ok_after = c && c->active && c->n_aud == 2;
			claims_unref(c);
			break;
		}
		/* jansson reports its own OOM as a syntax error (code 0 or 8),
		 * so only check that the failure is clean. */
		oom += r == -1 && c == NULL && e.msg[0] != '\0';
	}
	ok(fail_at > 1 && fail_at < 200, "failmalloc: eventually succeeds");
	is_int(oom, (long long)fail_at - 1, "failmalloc: each failure is a clean -1");
	ok(ok_after, "failmalloc: success after failures is complete");
}

static void test_form_body(void)
{
	char out[256];
	ssize_t n;

	n = introspect_form_body(SLICE_LIT("abc"), false, "id", "sec", out, sizeof(out));
	is_str(out, "token=abc&token_type_hint=access_token", "form: plain");
	is_int(n, strlen(out), "form: length");

	introspect_form_body(SLICE_LIT("ory_at_Ab-9._~+/x.SIG=="), false, NULL, NULL, out,
			     sizeof(out));
	is_str(out, "token=ory_at_Ab-9._%7E%2B%2Fx.SIG%3D%3D&token_type_hint=access_token",
	       "form: + / = are escaped");
	introspect_form_body(slice_from("a b\xc3\xa9&%\0z", 9), false, NULL, NULL, out,
			     sizeof(out));
	is_str(out, "token=a+b%C3%A9%26%25%00z&token_type_hint=access_token",
	       "form: space, UTF-8, &, %, NUL");
	introspect_form_body(SLICE_NULL, false, NULL, NULL, out, sizeof(out));
	is_str(out, "token=&token_type_hint=access_token", "form: empty token");

	n = introspect_form_body(SLICE_LIT("t"), true, "svc b", "s&e=c:r%t+", out, sizeof(out));
	is_str(out,
	       "token=t&token_type_hint=access_token&client_id=svc+b&client_secret=s%26e%3Dc%3Ar%"
	       "25t%2B",
	       "form: client_secret_post");
	is_int(n, strlen(out), "form: post length");
	introspect_form_body(SLICE_LIT("t"), true, "svc-b", NULL, out, sizeof(out));
	is_str(out, "token=t&token_type_hint=access_token&client_id=svc-b",
	       "form: post without secret");
	memset(out, 'x', sizeof(out));
	is_int(introspect_form_body(SLICE_LIT("t"), true, NULL, "s", out, sizeof(out)), -1,
	       "form: post without client_id");
	ok(out[0] == 0 && out[sizeof(out) - 1] == 0, "form: wiped on error");

	/* Exact fit and one byte short. */
	{
		const size_t len = strlen("token=abc&token_type_hint=access_token");
		char *b = malloc(len + 1);

		is_int(introspect_form_body(SLICE_LIT("abc"), false, NULL, NULL, b, len + 1), len,
		       "form: exact fit");
		ok(b[len] == '\0', "form: NUL-terminated");
		memset(b, 'x', len + 1);
		is_int(introspect_form_body(SLICE_LIT("abc"), false, NULL, NULL, b, len), -1,
		       "form: one byte short");
		ok(b[0] == 0 && b[len - 1] == 0, "form: partial output wiped");
		is_int(introspect_form_body(SLICE_LIT("abc"), false, NULL, NULL, b, 0), -1,
		       "form: outlen 0");
		free(b);
	}
	/* Every token byte escaped: worst case 3 bytes per byte. */
	{
		uint8_t tok[256];
		char *b = malloc(1024);

		for (int i = 0; i < 256; i++)
			tok[i] = (uint8_t)i;
		n = introspect_form_body(slice_from(tok, 256), false, NULL, NULL, b, 1024);
		ok(n > 0 && n <= 6 + 3 * 256 + 29, "form: all 256 byte values fit");
		ok(strstr(b, "%00%01") == b + 6 && strstr(b, "%FF&token_type_hint") != NULL,
		   "form: upper-case hex, first and last byte");
		free(b);
	}
}

int main(void)
{
	test_hydra_shapes();
	test_token_kinds();
	test_bad();
	test_no_leak();
	test_limits();
	test_truncations();
	test_failmalloc();
	test_form_body();
	return done_testing("introspect");
}

/* test_claim_map.c - claims to variables (claim_map.h): names refused at
 * load, extraction from an introspection answer and a JWT payload, the
 * bounds, the shared-cache value, and what an ACK carries (verdict.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim_map.h"
#include "introspect.h"
#include "l2_codec.h"
#include "spop_frame.h"
#include "tap.h"
#include "verdict.h"

static struct claim_map *map_of(const char *const *pairs, size_t n)
{
	struct claim_map *m = claim_map_new();

	for (size_t i = 0; i + 1 < n; i += 2)
		if (claim_map_add(m, pairs[i], pairs[i + 1], NULL) < 0)
			fprintf(stderr, "# cannot map %s -> %s\n", pairs[i], pairs[i + 1]);
	return m;
}

static const char *var(const struct claims *c, const char *name)
{
	if (!c || !c->mapped)
		return NULL;
	for (size_t i = 0; i < c->mapped->n; i++)
		if (!strcmp(c->mapped->v[i].name, name))
			return c->mapped->v[i].value;
	return NULL;
}

static struct claims *parse(const char *json, const struct claim_map *m)
{
	struct claims *c = NULL;
	struct err e = {.msg = ""};

	if (introspect_parse_mapped(json, strlen(json), m, &c, &e) < 0)
		fprintf(stderr, "# parse: %s\n", e.msg);
	return c;
}

static void test_names(void)
{
	static const char *const own[] = {"allowed", "status", "reason",	   "policy",
					  "sub",     "scope",  "www_authenticate", "client_id"};
	struct claim_map *m = claim_map_new();
	struct err e = {.msg = ""};
	char name[8];

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		ok(verdict_var_bit(slice_str(own[i])) >= 0, "a variable of verdict.h");
		ok(claim_map_name_problem(own[i]) != NULL, "the agent's own name is refused");
	}
	ok(claim_map_name_problem("error") != NULL, "set-on-error's name is refused");
	ok(claim_map_name_problem("roles") == NULL && claim_map_name_problem("_x9") == NULL &&
	       claim_map_name_problem("Sub") == NULL,
	   "letters, digits and _ are fine (case matters: Sub is not sub)");
	ok(claim_map_name_problem("") && claim_map_name_problem("9x") &&
	       claim_map_name_problem("a-b") && claim_map_name_problem("a.b") &&
	       claim_map_name_problem("a b") && claim_map_name_problem("é"),
	   "empty, a leading digit, '-', '.', space, non-ASCII: refused");
	ok(claim_map_name_problem("a234567890123456789012345678901234567890123456789") &&
	       !claim_map_name_problem("a23456789012345678901234567890123456789012345678"),
	   "49 bytes refused, 48 fine");

	is_int(claim_map_add(m, "email", "email", &e), 0, "email -> email");
	is_int(claim_map_add(m, "mail", "email", &e), -1, "a name mapped twice");
	ok(strstr(e.msg, "twice") != NULL, "says twice");
	is_int(claim_map_add(m, "a..b", "ab", &e), -1, "an empty path segment");
	is_int(claim_map_add(m, ".a", "ab", &e), -1, "a leading dot");
	is_int(claim_map_add(m, "", "ab", &e), -1, "an empty claim");
	is_int(claim_map_add(m, "x", "sub", &e), -1, "onto sub");
	for (unsigned i = 1; i < CLAIM_MAP_MAX_VARS; i++) {
		snprintf(name, sizeof(name), "v%u", i);
		claim_map_add(m, "x", name, NULL);
	}
	is_int((int)claim_map_count(m), CLAIM_MAP_MAX_VARS, "16 mapped");
	is_int(claim_map_add(m, "x", "one_more", &e), -1, "a 17th is refused");
	ok(strstr(e.msg, "more than 16") != NULL, "says the bound");
	claim_map_unref(m);
}

static void test_identity(void)
{
	static const char *const a[] = {"email", "email", "realm_access.roles", "roles"};
	static const char *const b[] = {"email", "email", "realm_access.roles", "role"};
	struct claim_map *x = map_of(a, 4), *y = map_of(a, 4), *z = map_of(b, 4);
	struct claim_map *u = claim_map_new();

	ok(claim_map_eq(x, y) && !claim_map_eq(x, z), "same mapping equal, other name differs");
	ok(claim_map_eq(NULL, u) && claim_map_is_empty(u), "empty equals NULL");
	claim_map_set_user_id(u, "email", NULL);
	ok(!claim_map_eq(NULL, u) && !claim_map_is_empty(u), "a user id claim is a mapping");
	ok(claim_map_identity(NULL).len == 0, "NULL: empty identity");
	claim_map_unref(x);
	claim_map_unref(y);
	claim_map_unref(z);
	claim_map_unref(u);
}

static void test_extract(void)
{
	static const char *const pairs[] = {"email",
					    "email",
					    "realm_access.roles",
					    "roles",
					    "https://x.io/tenant",
					    "tenant",
					    "n",
					    "n",
					    "r",
					    "r",
					    "t",
					    "t",
					    "obj",
					    "obj",
					    "nul",
					    "nul",
					    "missing",
					    "missing",
					    "mixed",
					    "mixed",
					    "ctl",
					    "ctl",
					    "empty_arr",
					    "empty_arr",
					    "realm_access.no",
					    "deep_no"};
	struct claim_map *m = map_of(pairs, sizeof(pairs) / sizeof(pairs[0]));
	const char *json =
	    "{\"active\":true,\"sub\":\"u1\",\"email\":\"a@b.c\","
	    "\"realm_access\":{\"roles\":[\"admin\",\"a,b\",\"100%\"]},"
	    "\"https://x.io/tenant\":\"t1\",\"https://x\":{\"io/tenant\":\"no\"},"
	    "\"n\":-42,\"r\":1.5,\"t\":true,\"obj\":{\"a\":1},\"nul\":null,"
	    "\"mixed\":[1,false,null,[2],{\"a\":3},\"s\"],\"ctl\":\"a\\r\\nX-Evil: 1\\u007f\","
	    "\"empty_arr\":[{}]}";
	struct claims *c = parse(json, m);

	ok(c && c->active, "parsed");
	is_str(var(c, "email"), "a@b.c", "a string as is");
	is_str(var(c, "roles"), "admin,a%2Cb,100%25",
	       "nested path; array joined, ',' and '%' escaped");
	is_str(var(c, "tenant"), "t1", "a claim with dots found by its full name first");
	is_str(var(c, "n"), "-42", "an integer");
	is_str(var(c, "r"), "1.5", "a real");
	is_str(var(c, "t"), "true", "a boolean");
	ok(!var(c, "obj") && !var(c, "nul") && !var(c, "missing") && !var(c, "deep_no"),
	   "object, null, absent: no variable");
	is_str(var(c, "mixed"), "1,false,s", "array: nested arrays, objects and nulls skipped");
	is_str(var(c, "ctl"), "a??X-Evil: 1?", "control bytes become '?': no header split");
	ok(!var(c, "empty_arr"), "an array with nothing kept: no variable");
	is_str(c->sub, "u1", "sub untouched without userIdAttributeName");
	is_int((int)c->mapped->truncated, 0, "nothing truncated");
	claims_unref(c);

	c = parse("{\"active\":false,\"email\":\"a@b.c\"}", m);
	ok(c && !c->active && !c->mapped, "inactive: nothing mapped");
	claims_unref(c);
	c = parse("{\"active\":true,\"sub\":\"u1\"}", m);
	ok(c && !c->mapped, "no mapped claim present: no block");
	claims_unref(c);
	claim_map_unref(m);
}

static void test_user_id(void)
{
	struct claim_map *m = claim_map_new();
	struct claims *c;

	claim_map_set_user_id(m, "preferred_username", NULL);
	c = parse("{\"active\":true,\"sub\":\"u1\",\"preferred_username\":\"alice\"}", m);
	is_str(c ? c->sub : NULL, "alice", "userIdAttributeName: the subject is that claim");
	ok(c && c->mapped && c->mapped->n == 0, "and no variable besides");
	claims_unref(c);
	c = parse("{\"active\":true,\"sub\":\"u1\"}", m);
	ok(c && !c->sub, "the claim absent: no subject at all (never the other one)");
	claims_unref(c);
	claim_map_unref(m);
}

/* {"active":true,"big":"<n bytes of ch>", ...} */
static char *big_json(const char *name, size_t n, const char *piece)
{
	size_t pl = strlen(piece), cap = 64 + n * pl + strlen(name);
	char *s = malloc(cap), *p = s;

	p += snprintf(p, cap, "{\"active\":true,\"%s\":\"", name);
	for (size_t i = 0; i < n; i++, p += pl)
		memcpy(p, piece, pl);
	memcpy(p, "\"}", 3);
	return s;
}

static void test_bounds(void)
{
	static const char *const one[] = {"big", "big"};
	struct claim_map *m = map_of(one, 2), *m16 = claim_map_new();
	char *json = big_json("big", 1023, "x"), name[8];
	struct claims *c = parse(json, m);

	is_int((int)strlen(var(c, "big")), 1023, "1023 bytes kept whole");
	claims_unref(c);
	free(json);
	json = big_json("big", 600, "\xc3\xa9"); /* 1200 bytes of "é" */
	c = parse(json, m);
	is_int((int)strlen(var(c, "big")), 1024, "cut to 1024 bytes");
	is_int((int)c->mapped->truncated, 1, "and counted");
	claims_unref(c);
	free(json);
	json = big_json("big", 600,
			"\xc3\xa9"
			"a"); /* byte 1024 is inside an "é" */
	c = parse(json, m);
	is_int((int)strlen(var(c, "big")), 1023, "cut before a split character");
	claims_unref(c);
	free(json);

	/* An array keeps only the elements that fit whole. */
	{
		char arr[4096], *p = arr;

		p += snprintf(p, sizeof(arr), "{\"active\":true,\"big\":[");
		for (int i = 0; i < 200; i++)
			p += snprintf(p, sizeof(arr) - (size_t)(p - arr), "%s\"role-%03d\"",
				      i ? "," : "", i);
		memcpy(p, "]}", 3);
		c = parse(arr, m);
		ok(c && strlen(var(c, "big")) <= 1024 &&
		       !strcmp(var(c, "big") + strlen(var(c, "big")) - 8, "role-112"),
		   "array cut at an element: 113 whole roles of 8 bytes");
		is_int((int)c->mapped->truncated, 1, "counted once");
		claims_unref(c);
	}

	/* 16 variables of 1000 bytes: the total bound (4096) cuts the 5th. */
	for (unsigned i = 0; i < CLAIM_MAP_MAX_VARS; i++) {
		snprintf(name, sizeof(name), "v%u", i);
		claim_map_add(m16, "big", name, NULL);
	}
	json = big_json("big", 1000, "y");
	c = parse(json, m16);
	ok(c && c->mapped && c->mapped->n == 5 && strlen(var(c, "v11")) == 1000 &&
	       strlen(var(c, "v12")) == 96 && !var(c, "v13") && !var(c, "v2"),
	   "4096 bytes in all, in the order of the names (v0 v1 v10 v11 v12 ...): four whole "
	   "values, the fifth cut, the rest empty");
	is_int((int)c->mapped->truncated, 12, "12 values cut (one partly, 11 to nothing)");
	claims_unref(c);
	free(json);
	claim_map_unref(m);
	claim_map_unref(m16);
}

static size_t b64url(const char *in, char *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(in), o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;

		if (k > 1)
			v |= (unsigned char)in[i + 1] << 8;
		if (k > 2)
			v |= (unsigned char)in[i + 2];
		for (size_t j = 0; j < k + 1; j++)
			out[o++] = al[(v >> (18 - 6 * j)) & 63];
	}
	out[o] = '\0';
	return o;
}

static void test_jwt(void)
{
	static const char *const pairs[] = {"realm_access.roles", "roles"};
	struct claim_map *m = map_of(pairs, 2);
	char tok[512], *p = tok;
	struct claims *c = claims_new(0);

	p += b64url("{\"alg\":\"RS256\"}", p);
	*p++ = '.';
	p += b64url("{\"sub\":\"u\",\"realm_access\":{\"roles\":[\"a\",\"b\"]}}", p);
	memcpy(p, ".c2ln", 6);
	c->active = true;
	is_int(claim_map_apply_jwt(m, slice_str(tok), c), 0, "JWT payload mapped");
	is_str(var(c, "roles"), "a,b", "its nested roles");
	claims_unref(c);
	c = claims_new(0);
	is_int(claim_map_apply_jwt(m, slice_str("a.!!.b"), c), -1,
	       "a payload that does not decode");
	is_int(claim_map_apply_jwt(NULL, slice_str("a.!!.b"), c), 0, "no mapping: nothing read");
	claims_unref(c);
	claim_map_unref(m);
}

static void test_l2(void)
{
	static const char *const pairs[] = {"email", "email", "realm_access.roles", "roles"};
	struct claim_map *m = map_of(pairs, 4);
	struct claims *c = parse("{\"active\":true,\"sub\":\"u1\",\"email\":\"a@b.c\","
				 "\"realm_access\":{\"roles\":[\"x\",\"y\"]}}",
				 m),
		      *d = NULL;
	uint8_t buf[4096];
	int64_t until;
	ssize_t n = l2v_encode(c, 5, buf, sizeof(buf));

	ok(n > 0 && buf[4] == 2, "a value with mapped claims is version 2");
	is_int(l2v_decode(buf, (size_t)n, &d, &until), 0, "decodes");
	ok(d && d->mapped && d->mapped->n == 2 && !strcmp(var(d, "email"), "a@b.c") &&
	       !strcmp(var(d, "roles"), "x,y") && !strcmp(d->sub, "u1"),
	   "an L2 hit gives the same variables as the miss");
	claims_unref(d);
	ok(n > 1 && l2v_decode(buf, (size_t)n - 1, &d, &until) == -1, "truncated: refused");
	buf[n - 1] = '\0';
	buf[n - 2] = 0;
	buf[n - 3] = 0;
	ok(l2v_decode(buf, (size_t)n, &d, &until) == -1, "NUL bytes in a value: refused");
	claims_unref(d);
	claims_unref(c);
	c = parse("{\"active\":true,\"sub\":\"u1\"}", m);
	n = l2v_encode(c, 5, buf, sizeof(buf));
	ok(n > 0 && buf[4] == 1, "nothing mapped: still version 1");
	claims_unref(c);
	claim_map_unref(m);
}

static void test_ack(void)
{
	static const char *const p1[] = {"email", "email", "n", "shared"};
	static const char *const p2[] = {"n", "shared", "x", "other"};
	struct claim_map *m1 = map_of(p1, 4), *m2 = map_of(p2, 4);
	struct claims *a = parse("{\"active\":true,\"email\":\"e@x\",\"n\":1}", m1);
	struct claims *b = parse("{\"active\":true,\"n\":2,\"x\":\"xx\"}", m2);
	struct claims *b2 = b;
	struct verdict v;
	uint8_t out[512];
	struct spop_ack ack;
	size_t len;

	verdict_clear(&v);
	v.allowed = true;
	v.status = 200;
	v.reason = "ok";
	v.claims = a;
	verdict_add_claims(&v, &b2);
	ok(!b2 && v.n_more == 1, "the verdict takes the second policy's claims");
	spop_ack_begin(&ack, out, sizeof(out), 1, 1);
	is_int(verdict_encode(&v, VERDICT_VARS_ALL, &ack), 0, "all fit");
	len = spop_ack_end(&ack);
	ok(memmem(out, len, "email", 5) && memmem(out, len, "e@x", 3) &&
	       memmem(out, len, "other", 5) && memmem(out, len, "xx", 2),
	   "the union of both mappings");
	{
		uint8_t *s = memmem(out, len, "shared", 6);
		size_t rest = s ? len - (size_t)(s + 6 - out) : 0;

		ok(s && !memmem(s + 6, rest, "shared", 6), "a name both map is sent once");
		ok(s && s[6] == SPOP_T_STRING && s[7] == 1 && s[8] == '1',
		   "with the first policy's value");
	}
	/* A frame with room for the built-in variables only. */
	spop_ack_begin(&ack, out, 60, 1, 1);
	ok(verdict_encode(&v, VERDICT_VAR_STATUS, &ack) > 0, "no room: mapped left out, counted");
	verdict_release(&v);
	ok(v.n_more == 0 && !v.claims, "released");
	claim_map_unref(m1);
	claim_map_unref(m2);
}

int main(void)
{
	test_names();
	test_identity();
	test_extract();
	test_user_id();
	test_bounds();
	test_jwt();
	test_l2();
	test_ack();
	return done_testing("claim_map");
}

/* test_jwks_slot.c - the shared current key set of a remote JWKS: empty
 * until published, generations, a reader's set survives a replacement, the
 * unknown-kid flag, and readers racing a publisher (run under ASan/UBSan in
 * the asan pass). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jwks_slot.h"
#include "jwt_fixture.h"
#include "tap.h"

static struct jwks *set_of(EVP_PKEY *pk, const char *kid)
{
	char *j = fx_jwk(pk, kid, ""), doc[8192];
	struct jwks *ks = NULL;

	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", j);
	free(j);
	if (jwks_parse(doc, strlen(doc), &ks, NULL))
		fx_die("jwks_parse");
	return ks;
}

static bool has_kid(const struct jwks *ks, const char *kid)
{
	bool known = false;

	return jwks_find(ks, JWT_ALG_ES256, kid, strlen(kid), &known) != NULL;
}

static void test_basics(EVP_PKEY *pk)
{
	struct jwks_slot *s = jwks_slot_new();
	struct jwks *a = set_of(pk, "a"), *b = set_of(pk, "b"), *got;
	uint64_t gen = 99;

	ok(jwks_slot_get(s, &gen) == NULL, "empty until the first publish");
	is_int(gen, 0, "generation 0 when empty");
	is_int(jwks_slot_publish(s, a), 1, "first publish is generation 1");
	jwks_unref(a);
	got = jwks_slot_get(s, &gen);
	ok(got && has_kid(got, "a"), "reader gets set a");
	is_int(gen, 1, "with its generation");
	is_int(jwks_slot_publish(s, b), 2, "second publish is generation 2");
	jwks_unref(b);
	ok(has_kid(got, "a"), "the reader's set survives its replacement");
	jwks_unref(got);
	got = jwks_slot_get(s, &gen);
	ok(got && has_kid(got, "b") && !has_kid(got, "a"), "new readers get set b only");
	jwks_unref(got);
	ok(!jwks_slot_take_ask(s), "no ask raised");
	jwks_slot_ask(s, 1);
	ok(!jwks_slot_take_ask(s), "an ask about an older generation is ignored");
	jwks_slot_ask(s, 2);
	jwks_slot_ask(s, 2);
	ok(jwks_slot_take_ask(s), "an ask about the current generation is seen");
	ok(!jwks_slot_take_ask(s), "and taken once");
	jwks_slot_free(s);
}

struct race {
	struct jwks_slot *s;
	int bad;
};

static void *reader(void *p)
{
	struct race *r = p;
	uint64_t last = 0, gen;

	for (int i = 0; i < 20000; i++) {
		struct jwks *ks = jwks_slot_get(r->s, &gen);

		if (gen < last || (gen && (!ks || jwks_count(ks) != 1)))
			r->bad++;
		last = gen;
		jwks_unref(ks);
	}
	return NULL;
}

static void test_race(EVP_PKEY *pk)
{
	struct race r[3] = {{0}};
	pthread_t t[3];
	struct jwks_slot *s = jwks_slot_new();
	struct jwks *sets[2] = {set_of(pk, "x"), set_of(pk, "y")};

	for (int i = 0; i < 3; i++) {
		r[i].s = s;
		pthread_create(&t[i], NULL, reader, &r[i]);
	}
	for (int i = 0; i < 2000; i++)
		jwks_slot_publish(s, sets[i & 1]);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		is_int(r[i].bad, 0, "race: generations only grow, sets always whole");
	}
	jwks_unref(sets[0]);
	jwks_unref(sets[1]);
	jwks_slot_free(s);
}

int main(void)
{
	EVP_PKEY *pk = fx_keygen(FX_EC256);

	test_basics(pk);
	test_race(pk);
	EVP_PKEY_free(pk);
	return done_testing("jwks_slot");
}

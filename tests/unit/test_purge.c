/* test_purge.c - the admin purge body parser, the channel message codec
 * (round trips, every truncation, junk), the claims matcher, the Redis index
 * name, and tcache_remove_if() on a cache bigger than one batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "purge.h"
#include "tap.h"
#include "tcache.h"

static int body(const char *s, struct purge_req *r, struct err *e)
{
	return purge_parse_body(s, strlen(s), r, e);
}

static void test_body(void)
{
	struct purge_req r;
	struct err e;

	ok(body("{\"token\":\"abc.def\"}", &r, &e) == 0 && r.kind == PURGE_TOKEN && r.len == 7 &&
	       !strcmp(r.value, "abc.def"),
	   "token");
	purge_req_clear(&r);
	ok(!r.value, "cleared");
	ok(body("{\"sub\":\"alice\"}", &r, &e) == 0 && r.kind == PURGE_SUB, "sub");
	purge_req_clear(&r);
	ok(body("{\"client_id\":\"app\"}", &r, &e) == 0 && r.kind == PURGE_CLIENT_ID, "client_id");
	purge_req_clear(&r);
	ok(body("{\"all\":true}", &r, &e) == 0 && r.kind == PURGE_ALL && !r.value, "all");
	ok(body("{\"all\":false}", &r, &e) == -1, "all false");
	ok(body("{}", &r, &e) == -1 && strstr(e.msg, "exactly one"), "empty object");
	ok(body("{\"sub\":\"a\",\"client_id\":\"b\"}", &r, &e) == -1 && !r.value, "two selectors");
	ok(body("{\"sub\":\"\"}", &r, &e) == -1, "empty sub");
	ok(body("{\"sub\":1}", &r, &e) == -1, "a number");
	ok(body("{\"sub\":\"a\\u0000b\"}", &r, &e) == -1, "a NUL inside");
	ok(body("{\"user\":\"a\"}", &r, &e) == -1 && strstr(e.msg, "unknown"), "unknown member");
	ok(body("[\"sub\"]", &r, &e) == -1, "not an object");
	ok(body("{\"sub\":\"a\",\"sub\":\"b\"}", &r, &e) == -1, "duplicate member");
	ok(body("{\"token\":\"secret-xyz\"", &r, &e) == -1 && !strstr(e.msg, "secret-xyz"),
	   "broken JSON; the message never quotes the token");
}

static void test_msg(void)
{
	struct purge_msg m = {.kind = PURGE_TOKEN, .nkeys = 2}, d;
	char buf[PURGE_MSG_MAX + 1];
	int n, bad = 0;

	memset(m.keys[0], 0xab, 32);
	memset(m.keys[1], 0x01, 32);
	n = purge_msg_encode(&m, buf, sizeof(buf));
	is_int(n, 1 + 2 * 65, "two keys: k + 2 x (space + 64 hex)");
	ok(purge_msg_decode(buf, (size_t)n, &d) == 0 && d.kind == PURGE_TOKEN && d.nkeys == 2 &&
	       !memcmp(d.keys[1], m.keys[1], 32),
	   "keys round trip");
	/* Cutting after the first key leaves a valid one-key message. */
	for (int cut = 0; cut < n; cut++)
		bad += purge_msg_decode(buf, (size_t)cut, &d) == 0 && !(cut == 66 && d.nkeys == 1);
	is_int(bad, 0, "every other truncation of a key message is refused");
	buf[5] = 'G';
	ok(purge_msg_decode(buf, (size_t)n, &d) == -1, "a non-hex digit");
	m = (struct purge_msg){.kind = PURGE_SUB};
	strcpy(m.value, "alice smith");
	n = purge_msg_encode(&m, buf, sizeof(buf));
	ok(n > 0 && !strcmp(buf, "s alice smith"), "sub message");
	ok(purge_msg_decode(buf, (size_t)n, &d) == 0 && d.kind == PURGE_SUB &&
	       !strcmp(d.value, "alice smith"),
	   "sub round trip");
	m.kind = PURGE_CLIENT_ID;
	n = purge_msg_encode(&m, buf, sizeof(buf));
	ok(purge_msg_decode(buf, (size_t)n, &d) == 0 && d.kind == PURGE_CLIENT_ID, "client_id");
	m.kind = PURGE_ALL;
	n = purge_msg_encode(&m, buf, sizeof(buf));
	ok(n == 1 && purge_msg_decode(buf, 1, &d) == 0 && d.kind == PURGE_ALL, "all");
	ok(purge_msg_decode("ax", 2, &d) == -1, "all with trailing bytes");
	ok(purge_msg_decode("s ", 2, &d) == -1, "empty sub");
	ok(purge_msg_decode("x y", 3, &d) == -1, "unknown tag");
	ok(purge_msg_decode("s a\0b", 5, &d) == -1, "a NUL in a value");
	ok(purge_msg_decode("", 0, &d) == -1, "empty");
	m = (struct purge_msg){.kind = PURGE_TOKEN};
	ok(purge_msg_encode(&m, buf, sizeof(buf)) == -1, "no keys: nothing to send");
}

static void test_match_and_index(void)
{
	struct claims c = {.sub = "alice", .client_id = "app"};
	struct purge_msg m = {.kind = PURGE_SUB};
	char a[PURGE_INDEX_MAX], b[PURGE_INDEX_MAX];

	strcpy(m.value, "alice");
	ok(purge_match(&c, &m), "sub matches");
	strcpy(m.value, "alic");
	ok(!purge_match(&c, &m), "a prefix does not");
	m.kind = PURGE_CLIENT_ID;
	strcpy(m.value, "app");
	ok(purge_match(&c, &m), "client_id matches");
	c.client_id = NULL;
	ok(!purge_match(&c, &m), "an absent client_id never matches");
	m.kind = PURGE_ALL;
	ok(purge_match(&c, &m), "all matches");
	ok(purge_index_name("p:", 's', "alice", a, sizeof(a)) == 0 && !strncmp(a, "p:i:s:", 6) &&
	       strlen(a) == 6 + 64,
	   "index name: prefix, kind, 64 hex digits");
	ok(purge_index_name("p:", 'c', "alice", b, sizeof(b)) == 0 && strcmp(a, b), "per kind");
	ok(!strstr(a, "alice"), "the value itself is hashed");
	ok(purge_index_name("p:", 's', "alice", a, 20) == -1, "too small a buffer");
}

static bool is_even_sub(const struct claims *c, void *arg)
{
	(void)arg;
	return c->sub && (c->sub[3] - '0') % 2 == 0;
}

static void test_remove_if(void)
{
	struct tcache *tc = tcache_new(1000);
	struct claims *c, *got;
	uint8_t k[TCACHE_KEY_LEN];
	char tok[16];
	int left = 0, wrong = 0;

	for (int i = 0; i < 300; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		tcache_key(SLICE_LIT("ep"), slice_str(tok), k);
		c = claims_new(8);
		c->active = true;
		c->sub = (char *)(c + 1);
		snprintf((char *)(c + 1), 8, "sub%d", i % 10);
		if (tcache_lookup(tc, k, 0, NULL, &got) != TCACHE_MISS)
			wrong++;
		tcache_complete(tc, k, c, 100, 0);
		claims_unref(c);
	}
	/* A pending entry is left alone. */
	tcache_key(SLICE_LIT("ep"), SLICE_LIT("pending"), k);
	tcache_lookup(tc, k, 0, NULL, &got);
	is_int(wrong, 0, "300 misses filled");
	is_int((int)tcache_remove_if(tc, is_even_sub, NULL), 150, "half the entries (> one batch)");
	for (int i = 0; i < 300; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		tcache_key(SLICE_LIT("ep"), slice_str(tok), k);
		if (tcache_lookup(tc, k, 1, NULL, &got) == TCACHE_HIT) {
			left++;
			wrong += (got->sub[3] - '0') % 2 == 0;
			claims_unref(got);
		} else {
			tcache_complete(tc, k, NULL, 0, 1);
		}
	}
	is_int(left, 150, "the others are still there");
	is_int(wrong, 0, "and none of them matched");
	tcache_key(SLICE_LIT("ep"), SLICE_LIT("pending"), k);
	tcache_complete(tc, k, NULL, 0, 1);
	tcache_free(tc);
}

int main(void)
{
	test_body();
	test_msg();
	test_match_and_index();
	test_remove_if();
	return done_testing("purge");
}

/* test_l2.c - the shared-cache value codec (round trip, every truncation,
 * every flipped byte never crashes and never yields a value it was not given,
 * bounds) and the circuit breaker's state machine under a fake clock. */
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "l2_codec.h"
#include "tap.h"

static struct claims *sample(void)
{
	static const char *const aud[] = {"api", "billing"};
	struct claims *c = claims_new(0);

	c->active = true;
	c->has_exp = c->has_iat = true;
	c->exp = 2000000000;
	c->iat = -5;
	c->scope = "read write";
	c->sub = "alice";
	c->client_id = "app";
	c->iss = "http://127.0.0.1/";
	c->n_aud = 2;
	c->aud = aud;
	return c;
}

static void test_round_trip(void)
{
	struct claims *c = sample(), *d = NULL;
	uint8_t buf[1024];
	int64_t until = 0;
	ssize_t n = l2v_encode(c, 1234567890123LL, buf, sizeof(buf));

	ok(n > 0, "encodes");
	is_int(l2v_decode(buf, (size_t)n, &d, &until), 0, "decodes");
	ok(d && d->active && d->has_exp && !d->has_nbf && d->has_iat, "flags");
	is_int(until == 1234567890123LL, 1, "until_ms");
	is_int(d->exp == 2000000000 && d->iat == -5, 1, "times, negative too");
	is_str(d->scope, "read write", "scope");
	is_str(d->sub, "alice", "sub");
	is_str(d->client_id, "app", "client_id");
	ok(!d->username && !d->token_use, "absent stays absent");
	is_int((int)d->n_aud, 2, "n_aud");
	is_str(d->aud[1], "billing", "aud[1]");
	/* An empty string is not an absent one. */
	claims_unref(d);
	c->username = "";
	n = l2v_encode(c, 1, buf, sizeof(buf));
	is_int(l2v_decode(buf, (size_t)n, &d, &until), 0, "empty string decodes");
	ok(d && d->username && !d->username[0], "empty string kept");
	claims_unref(d);
	/* Too small a buffer: refused, never truncated. */
	is_int((int)l2v_encode(c, 1, buf, (size_t)n - 1), -1, "one byte short");
	claims_unref(c);
}

static void test_garbage(void)
{
	struct claims *c = sample(), *d;
	uint8_t buf[1024], m[1024];
	int64_t until;
	ssize_t n = l2v_encode(c, 99, buf, sizeof(buf));
	int bad = 0, accepted = 0;

	for (ssize_t cut = 0; cut < n; cut++)
		if (l2v_decode(buf, (size_t)cut, &d, &until) != -1 || d)
			bad++;
	is_int(bad, 0, "every truncation is refused");
	memcpy(m, buf, (size_t)n);
	m[n] = 0;
	ok(l2v_decode(m, (size_t)n + 1, &d, &until) == -1, "a trailing byte is refused");
	for (ssize_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(m, buf, (size_t)n);
			m[i] ^= (uint8_t)(1u << bit);
			if (l2v_decode(m, (size_t)n, &d, &until) == 0) {
				accepted++;
				claims_unref(d);
			}
		}
	/* Flips inside string bytes or integers still decode (it is not a
	 * MAC), but the magic, version, flags' spare bits and lengths do not. */
	ok(accepted < n * 8, "structural flips are refused");
	memcpy(m, buf, (size_t)n);
	m[4] = 2;
	ok(l2v_decode(m, (size_t)n, &d, &until) == -1, "another version is refused");
	memcpy(m, buf, (size_t)n);
	m[5] |= 0x80;
	ok(l2v_decode(m, (size_t)n, &d, &until) == -1, "unknown flags are refused");
	ok(l2v_decode((const uint8_t *)"{\"active\":true}", 15, &d, &until) == -1,
	   "JSON is not a value");
	claims_unref(c);
}

static void test_nul_and_bounds(void)
{
	uint8_t buf[64] = "O2L2\x01\x01";
	size_t n = 6 + 32;
	struct claims *d;
	int64_t until;

	/* scope = "a\0" (length 2 with a NUL): refused. */
	buf[n++] = 0, buf[n++] = 2, buf[n++] = 'a', buf[n++] = 0;
	for (int i = 0; i < 5; i++)
		buf[n++] = 0xFF, buf[n++] = 0xFF;
	buf[n++] = 0, buf[n++] = 0;
	ok(l2v_decode(buf, n, &d, &until) == -1, "a NUL inside a string is refused");
	buf[6 + 32 + 3] = 'b';
	ok(l2v_decode(buf, n, &d, &until) == 0, "the same value without the NUL decodes");
	claims_unref(d);
	buf[n - 1] = 65; /* 65 audiences */
	ok(l2v_decode(buf, n, &d, &until) == -1, "more than L2V_MAX_AUD audiences");
}

static void test_breaker(void)
{
	struct breaker b;

	breaker_init(&b, 3, 2.0);
	ok(breaker_allow(&b, 0), "closed allows");
	breaker_failure(&b, 0);
	breaker_failure(&b, 0);
	ok(breaker_allow(&b, 0) && b.state == BREAKER_CLOSED, "two failures: still closed");
	breaker_success(&b);
	breaker_failure(&b, 0);
	breaker_failure(&b, 0);
	ok(b.state == BREAKER_CLOSED, "a success resets the count");
	breaker_failure(&b, 10);
	ok(b.state == BREAKER_OPEN && b.opened == 1, "third consecutive failure opens");
	ok(!breaker_allow(&b, 10) && !breaker_allow(&b, 11.99), "open: skipped for the cooldown");
	ok(breaker_allow(&b, 12), "after the cooldown: one probe");
	ok(b.state == BREAKER_HALF_OPEN && !breaker_allow(&b, 12), "only one probe at a time");
	breaker_failure(&b, 12);
	ok(b.state == BREAKER_OPEN && !breaker_allow(&b, 13.9), "probe failed: open again");
	ok(b.opened == 2, "counted");
	ok(breaker_allow(&b, 14), "second probe");
	breaker_success(&b);
	ok(b.state == BREAKER_CLOSED && breaker_allow(&b, 14), "probe ok: closed");
	breaker_init(&b, 0, 1);
	breaker_failure(&b, 0);
	ok(b.state == BREAKER_OPEN, "threshold 0 acts as 1");
}

int main(void)
{
	test_round_trip();
	test_garbage();
	test_nul_and_bounds();
	test_breaker();
	return done_testing("l2");
}

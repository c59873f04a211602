/* test_jwks_sched.c - the remote JWKS fetch schedule with a fake clock:
 * first fetch at once, periodic refresh, single flight, unknown-kid
 * refetches rate-limited and coalesced, retries after failures bounded. */
#include "jwks_sched.h"
#include "tap.h"

#define R 300000 /* refresh */
#define K 10000	 /* unknown-kid window */

static void test_first_and_refresh(void)
{
	struct jwks_sched s;

	jwks_sched_init(&s, R, K, 1000);
	is_int(jwks_sched_wait(&s, 1000), 0, "first fetch due at once");
	ok(jwks_sched_start(&s, 1000), "first fetch starts");
	ok(!jwks_sched_start(&s, 1000), "single flight: no second start");
	is_int(jwks_sched_wait(&s, 1500), -1, "wait is -1 while in flight");
	ok(!s.loaded, "not loaded before the answer");
	jwks_sched_done(&s, 2000, true);
	ok(s.loaded, "loaded after a success");
	is_int(jwks_sched_wait(&s, 2000), R, "next fetch a refresh interval later");
	ok(!jwks_sched_start(&s, 2000 + R - 1), "not before the interval");
	ok(jwks_sched_start(&s, 2000 + R), "periodic refresh starts");
	jwks_sched_done(&s, 2000 + R, true);
	is_int(s.ok, 2, "two successes counted");
}

static void test_kid_rate_limit(void)
{
	struct jwks_sched s;
	int started = 0;

	jwks_sched_init(&s, R, K, 0);
	jwks_sched_start(&s, 0);
	jwks_sched_done(&s, 100, true);
	/* inside the window of the first fetch: deferred, not started */
	ok(!jwks_sched_want_kid(&s, 5000), "unknown kid inside the window is deferred");
	is_int(jwks_sched_wait(&s, 5000), K - 5000, "owed fetch due at the window's end");
	ok(!jwks_sched_want_kid(&s, 6000), "a second ask is coalesced");
	ok(jwks_sched_start(&s, K), "owed fetch starts at the window's end");
	jwks_sched_done(&s, K + 50, true);
	is_int(jwks_sched_wait(&s, K + 50), R, "nothing owed after it");
	/* a flood of made-up kids over 60 s: at most one fetch per window */
	for (int64_t t = K + 100; t < K + 60000; t += 10) {
		if (jwks_sched_want_kid(&s, t) || jwks_sched_wait(&s, t) == 0) {
			ok(jwks_sched_start(&s, t), "a due fetch starts");
			jwks_sched_done(&s, t + 5, true);
			started++;
		}
	}
	ok(started >= 5 && started <= 6, "flood: one fetch per 10 s window");
	is_int(s.kid_asked, 2 + 5990, "every ask counted");
}

static void test_kid_while_inflight(void)
{
	struct jwks_sched s;

	jwks_sched_init(&s, R, K, 0);
	jwks_sched_start(&s, 0);
	jwks_sched_done(&s, 10, true);
	ok(jwks_sched_want_kid(&s, 20000), "unknown kid after the window: fetch now");
	ok(jwks_sched_start(&s, 20000), "it starts");
	ok(!jwks_sched_want_kid(&s, 20001), "ask while in flight is not a second flight");
	ok(!jwks_sched_start(&s, 20001), "still single flight");
	jwks_sched_done(&s, 20100, true);
	is_int(jwks_sched_wait(&s, 20100), K - 100, "one more fetch owed, after the window");
	ok(jwks_sched_start(&s, 20000 + K), "and it runs");
	is_int(s.kid_merged, 1, "the in-flight ask was coalesced");
}

static void test_failures(void)
{
	struct jwks_sched s;
	int64_t t = 0;

	jwks_sched_init(&s, R, K, 0);
	jwks_sched_start(&s, t);
	jwks_sched_done(&s, t, false);
	ok(!s.loaded, "a failed first fetch loads nothing");
	is_int(jwks_sched_wait(&s, t), K, "first retry after the kid window");
	for (int i = 0; i < 10; i++) {
		t += jwks_sched_wait(&s, t);
		ok(jwks_sched_start(&s, t), "retry starts when due");
		jwks_sched_done(&s, t, false);
	}
	is_int(jwks_sched_wait(&s, t), R, "retries back off to the refresh interval");
	is_int(s.failed, 11, "failures counted");
	t += R;
	jwks_sched_start(&s, t);
	jwks_sched_done(&s, t, true);
	is_int(jwks_sched_wait(&s, t), R, "a success resets the back-off");
	jwks_sched_done(&s, t, false);
	is_int(s.failed, 11, "done without a flight is ignored");
}

int main(void)
{
	test_first_and_refresh();
	test_kid_rate_limit();
	test_kid_while_inflight();
	test_failures();
	return done_testing("jwks_sched");
}

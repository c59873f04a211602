/* jwks_sched.c - the fetch schedule of one remote JWKS URL. */
#include "jwks_sched.h"

void jwks_sched_init(struct jwks_sched *s, int64_t refresh_ms, int64_t kid_ms, int64_t now)
{
	*s = (struct jwks_sched){0};
	s->refresh_ms = refresh_ms > 0 ? refresh_ms : 1;
	s->kid_ms = kid_ms > 0 ? kid_ms : 1;
	s->due_ms = now;
	s->last_start = INT64_MIN;
}

/* When the owed unknown-kid fetch may start: the end of the rate window. */
static int64_t kid_due(const struct jwks_sched *s)
{
	if (s->last_start == INT64_MIN)
		return INT64_MIN;
	return s->last_start > INT64_MAX - s->kid_ms ? INT64_MAX : s->last_start + s->kid_ms;
}

static int64_t next_due(const struct jwks_sched *s)
{
	int64_t k;

	if (!s->kid_wanted)
		return s->due_ms;
	k = kid_due(s);
	return k < s->due_ms ? k : s->due_ms;
}

bool jwks_sched_want_kid(struct jwks_sched *s, int64_t now)
{
	s->kid_asked++;
	if (s->inflight || s->kid_wanted || kid_due(s) > now) {
		s->kid_merged += s->kid_wanted || s->inflight;
		s->kid_wanted = true;
		return false;
	}
	s->kid_wanted = true;
	return true;
}

int64_t jwks_sched_wait(const struct jwks_sched *s, int64_t now)
{
	int64_t d;

	if (s->inflight)
		return -1;
	d = next_due(s);
	return d <= now ? 0 : d - now;
}

bool jwks_sched_start(struct jwks_sched *s, int64_t now)
{
	if (s->inflight || next_due(s) > now)
		return false;
	s->inflight = true;
	s->kid_wanted = false;
	s->last_start = now;
	return true;
}

/* The retry delay after <fails> consecutive failures: kid_ms doubled each
 * time, at most refresh_ms. */
static int64_t retry_ms(const struct jwks_sched *s)
{
	int64_t d = s->kid_ms;

	for (unsigned i = 1; i < s->fails && d < s->refresh_ms; i++)
		d *= 2;
	return d < s->refresh_ms ? d : s->refresh_ms;
}

void jwks_sched_done(struct jwks_sched *s, int64_t now, bool ok)
{
	if (!s->inflight)
		return;
	s->inflight = false;
	if (ok) {
		s->ok++;
		s->fails = 0;
		s->loaded = true;
		s->due_ms = now + s->refresh_ms;
		return;
	}
	s->failed++;
	s->fails++;
	s->due_ms = now + retry_ms(s);
}

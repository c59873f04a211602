/* breaker.c - see breaker.h. */
#include "breaker.h"

void breaker_init(struct breaker *b, unsigned threshold, double cooldown)
{
	*b = (struct breaker){.threshold = threshold ? threshold : 1, .cooldown = cooldown};
}

bool breaker_allow(struct breaker *b, double now)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		if (now < b->open_until)
			return false;
		b->state = BREAKER_HALF_OPEN;
		return true;
	case BREAKER_HALF_OPEN:
		return false;
	}
	return false;
}

void breaker_success(struct breaker *b)
{
	b->state = BREAKER_CLOSED;
	b->fails = 0;
}

void breaker_failure(struct breaker *b, double now)
{
	if (b->state == BREAKER_CLOSED && ++b->fails < b->threshold)
		return;
	if (b->state != BREAKER_OPEN)
		b->opened++;
	b->state = BREAKER_OPEN;
	b->fails = 0;
	b->open_until = now + b->cooldown;
}

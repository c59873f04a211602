/* tap.h - a tiny test harness: ok()/is_int()/is_mem() print one line per check
 * and done_testing() prints "N passed, M failed" and returns the exit status. */
#ifndef OAUTH2_SPOA_TAP_H
#define OAUTH2_SPOA_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_pass, tap_fail;

static inline int tap_ok(int cond, const char *file, int line, const char *what)
{
	if (cond) {
		tap_pass++;
	} else {
		tap_fail++;
		printf("not ok %d - %s (%s:%d)\n", tap_pass + tap_fail, what, file, line);
	}
	return cond;
}

#define ok(cond, what) tap_ok(!!(cond), __FILE__, __LINE__, (what))
#define is_int(got, want, what)                                                                    \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (!tap_ok(g_ == w_, __FILE__, __LINE__, (what)))                                 \
			printf("#   got %lld, want %lld\n", g_, w_);                               \
	} while (0)
#define is_mem(got, glen, want, wlen, what)                                                        \
	ok((size_t)(glen) == (size_t)(wlen) && memcmp((got), (want), (wlen)) == 0, (what))
#define is_str(got, want, what)                                                                    \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!tap_ok(g_ && w_ && strcmp(g_, w_) == 0, __FILE__, __LINE__, (what)))          \
			printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_);           \
	} while (0)

static inline int done_testing(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, tap_pass, tap_fail);
	return tap_fail ? 1 : 0;
}

#endif

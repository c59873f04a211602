/* err.h - a caller-owned error report for parsers of human-written input
 * (policy and config files, introspection replies).
 *
 * Functions that take a `struct err *` accept NULL, return 0 or -1, and on
 * failure fill the struct with a message and, when known, the 1-based line and
 * column. err_set() never includes secret values: callers pass only names. */
#ifndef OAUTH2_SPOA_ERR_H
#define OAUTH2_SPOA_ERR_H

#include <stdarg.h>
#include <stdio.h>

#define ERR_MSG_LEN  256
#define ERR_FILE_LEN 256

struct err {
	char file[ERR_FILE_LEN]; /* "" when not about a file */
	int line, col;		 /* 0 when unknown */
	char msg[ERR_MSG_LEN];
};

/* Fills <e> (when not NULL) and returns -1, so callers can `return err_set(...)`. */
static inline int err_set(struct err *e, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline int err_set(struct err *e, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->line = line;
	e->col = col;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Formats <e> as "file:line:col: msg" (parts that are unknown are left out). */
static inline void err_format(const struct err *e, char *out, size_t outlen)
{
	if (e->file[0] && e->line)
		snprintf(out, outlen, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
	else if (e->file[0])
		snprintf(out, outlen, "%s: %s", e->file, e->msg);
	else
		snprintf(out, outlen, "%s", e->msg);
}

#endif

/* prom.c - see prom.h. */
#include "prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct prom_buf *b, size_t more)
{
	size_t cap;
	char *np;

	if (b->truncated)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	if (b->len + more + 1 > PROM_MAX_BYTES) {
		b->truncated = true;
		return false;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap > PROM_MAX_BYTES)
		cap = PROM_MAX_BYTES;
	np = realloc(b->p, cap);
	if (!np) {
		b->truncated = true;
		return false;
	}
	b->p = np;
	b->cap = cap;
	return true;
}

void prom_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void prom_label(struct prom_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			prom_printf(b, "\\\\");
		else if (*s == '"')
			prom_printf(b, "\\\"");
		else if (*s == '\n')
			prom_printf(b, "\\n");
		else
			prom_printf(b, "%c", *s);
	}
}

void prom_header(struct prom_buf *b, const char *name, const char *type, const char *help)
{
	prom_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_scalar(struct prom_buf *b, const char *name, const char *type, const char *help,
		 unsigned long long value)
{
	prom_header(b, name, type, help);
	prom_printf(b, "%s %llu\n", name, value);
}

void prom_free(struct prom_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

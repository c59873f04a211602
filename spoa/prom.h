/* prom.h - building a Prometheus text exposition (format 0.0.4) in memory.
 *
 * A struct prom_buf grows up to PROM_MAX_BYTES; past that, writes are dropped
 * and ->truncated is set (the scrape is then answered with an error). Label
 * values are escaped as the format requires (\\, \" and \n). Single-threaded. */
#ifndef OAUTH2_SPOA_PROM_H
#define OAUTH2_SPOA_PROM_H

#include <stdbool.h>
#include <stddef.h>

#define PROM_MAX_BYTES (8u * 1024u * 1024u)

struct prom_buf {
	char *p; /* OWNED; NUL-terminated when not NULL */
	size_t len, cap;
	bool truncated; /* a write did not fit in PROM_MAX_BYTES, or malloc failed */
};

/* Appends printf-style text. */
void prom_printf(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends <s> escaped for use inside a label value's quotes. */
void prom_label(struct prom_buf *b, const char *s);

/* "# HELP name help\n# TYPE name type\n" */
void prom_header(struct prom_buf *b, const char *name, const char *type, const char *help);

/* A metric without labels: its header, then "name value\n". */
void prom_scalar(struct prom_buf *b, const char *name, const char *type, const char *help,
		 unsigned long long value);

void prom_free(struct prom_buf *b);

#endif

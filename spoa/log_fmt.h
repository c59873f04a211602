/* log_fmt.h - formats one log line (logfmt or JSON) into a caller-owned
 * buffer. Pure: no I/O, no clock, no global; log.c adds the time stamp and
 * the sink.
 *
 * Every value is escaped, so no value can forge a line or a field: CR, LF,
 * every other control byte, DEL and the C1 controls (U+0080..U+009F, NEL
 * among them) are written as escapes in both formats, and so are bytes that
 * are not UTF-8 (JSON: \u00XX; logfmt: \xHH per byte). logfmt
 * values are bare when they hold only printable ASCII other than space, '"',
 * '=' and '\\'; otherwise they are quoted, with '"' and '\\' escaped. Free
 * text (log_msg()) gets the same control-byte escapes.
 *
 * A line is at most LOG_LINE_MAX bytes, '\n' included. When the values do
 * not fit, values are cut (never inside an escape or a UTF-8 sequence), the
 * structure is kept whole (every key, quotes and braces), and the line ends
 * with "truncated=true" (logfmt) or "truncated":true (JSON): a JSON line is
 * always one valid JSON object. Each field not written yet keeps a fixed
 * share of the cap (about 60 bytes), so values are cut a little before the
 * cap itself; more than about 30 fields drop the last ones. */
#ifndef OAUTH2_SPOA_LOG_FMT_H
#define OAUTH2_SPOA_LOG_FMT_H

#include <stddef.h>

#include "log-t.h"

#define LOG_LINE_MAX 2048 /* bytes of one line, '\n' included */
#define LOG_KEY_MAX  32	  /* bytes of a key (longer keys are cut) */

struct log_rec {
	enum log_level lvl;
	const char *ts;		 /* time stamp; NULL: neither it nor the level (logfmt to syslog) */
	unsigned ts_len;	 /* its length when known, 0: measured */
	const char *prefix;	 /* written first, verbatim (a syslog header), or NULL */
	const char *msg;	 /* free text, or the event name when <kv> is set */
	const struct log_kv *kv; /* BORROWED; NULL for a message line */
	unsigned n;
};

/* Formats <r> as format <f> into <out> (LOG_LINE_MAX bytes). Returns the
 * length written, '\n' included (never more than LOG_LINE_MAX). */
size_t log_fmt_line(char *out, enum log_format f, const struct log_rec *r);

/* Writes the decimal digits of <v> at the end of <d> and returns where they
 * start (inside <d>): a cheap snprintf("%lld") for log_kv values. */
#define LOG_ITOA_MAX 24
const char *log_itoa(char d[LOG_ITOA_MAX], long long v);

#endif

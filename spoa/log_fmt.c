/* log_fmt.c - see log_fmt.h.
 *
 * Invariant while a line is built: n + reserve <= LOG_LINE_MAX, where
 * <reserve> is what the rest of the structure needs with empty values (keys,
 * quotes, numbers, the closing brace, the truncation mark and '\n'). A value
 * may only use what is left above that, so cutting values never cuts the
 * structure. */
#include "log_fmt.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* 0: copied everywhere; 1: copied, but a logfmt value holding it is quoted
 * (space, '='); 2: escaped ('"', '\\', control bytes, DEL); 3: >= 0x80, copied
 * only as part of a valid UTF-8 sequence. */
static const uint8_t cls[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

enum ctx {
	CTX_JSON = 0, /* inside a JSON string */
	CTX_QUOTED,   /* inside a quoted logfmt value */
	CTX_TEXT,     /* logfmt free text: only control bytes and non-UTF-8 escaped */
};

struct line {
	char *b;
	size_t n;
	bool trunc;
};

static const char MARK_LOGFMT[] = " truncated=true";
static const char MARK_JSON[] = ",\"truncated\":true";

/* Raw bytes the reservation already paid for. */
static void raw(struct line *l, const char *s, size_t len)
{
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

/* Length of the valid UTF-8 sequence at <s> (2 to 4), or 0. No overlongs, no
 * surrogates, nothing above U+10FFFF; the NUL terminator ends any sequence. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

/* The escape (or copy) of the unit at <s> that is not plain: writes it to
 * <u> and returns its length; *adv = input bytes it stands for. */
static size_t unit(enum ctx x, const unsigned char *s, char u[8], size_t *adv)
{
	static const char hex[] = "0123456789abcdef";
	unsigned c = s[0];
	size_t k;

	*adv = 1;
	if (c >= 0x80) {
		k = utf8_len(s);
		if (k) {
			memcpy(u, s, k);
			*adv = k;
			return k;
		}
	} else if (x == CTX_TEXT && (c == '"' || c == '\\')) {
		u[0] = (char)c;
		return 1;
	} else if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
		u[0] = '\\';
		u[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
		return 2;
	}
	if (x == CTX_JSON) {
		memcpy(u, "\\u00", 4);
		u[4] = hex[c >> 4];
		u[5] = hex[c & 15];
		return 6;
	}
	u[0] = '\\';
	u[1] = 'x';
	u[2] = hex[c >> 4];
	u[3] = hex[c & 15];
	return 4;
}

/* Writes <s> escaped for <x>, up to l->n == lim; sets l->trunc if cut. */
static void put_esc(struct line *l, const char *s, enum ctx x, size_t lim)
{
	const unsigned char *p = (const unsigned char *)s;

	for (;;) {
		const unsigned char *q = p;
		size_t run, k, adv;
		char u[8];

		while (cls[*q] < 2)
			q++;
		run = (size_t)(q - p);
		if (run > lim - l->n) {
			raw(l, (const char *)p, lim - l->n);
			l->trunc = true;
			return;
		}
		raw(l, (const char *)p, run);
		p = q;
		if (!*p)
			return;
		k = unit(x, p, u, &adv);
		if (k > lim - l->n) {
			l->trunc = true;
			return;
		}
		raw(l, u, k);
		p += adv;
	}
}

/* A number goes unquoted in JSON only when it looks like one (and is short). */
static bool is_num(const char *s, size_t *len)
{
	size_t i = 0;

	for (; s[i] && i <= 24; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	*len = i;
	return i > 0 && i <= 24;
}

struct field {
	const char *key, *val;
	size_t klen, vlen; /* vlen: numbers only */
	bool num;
};

/* What field <f> needs with an empty value. */
static size_t skel(enum log_format fm, const struct field *f)
{
	size_t v = f->num ? f->vlen : 2;

	return fm == LOG_FMT_JSON ? 4 + f->klen + v : 2 + f->klen + v;
}

/* A logfmt value: bare when it is not empty and holds only printable ASCII
 * other than ' "=\\' (one scan finds both that and the bytes to copy). */
static void put_logfmt(struct line *l, const char *s, size_t reserve)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run, lim = LOG_LINE_MAX - reserve;

	while (cls[*p] == 0)
		p++;
	run = (size_t)(p - (const unsigned char *)s);
	if (!*p && run) {
		if (run > lim - l->n) {
			run = lim - l->n;
			l->trunc = true;
		}
		if (!run) /* cut to nothing: keep it a value (the quotes are reserved) */
			raw(l, "\"\"", 2);
		raw(l, s, run);
		return;
	}
	raw(l, "\"", 1);
	put_esc(l, s, CTX_QUOTED, lim - 1);
	raw(l, "\"", 1);
}

static void put_field(struct line *l, enum log_format fm, const struct field *f, size_t reserve)
{
	if (fm == LOG_FMT_JSON) {
		raw(l, ",\"", 2);
		raw(l, f->key, f->klen);
		raw(l, "\":", 2);
	} else {
		raw(l, " ", 1);
		raw(l, f->key, f->klen);
		raw(l, "=", 1);
	}
	if (f->num) {
		raw(l, f->val, f->vlen);
	} else if (fm == LOG_FMT_LOGFMT) {
		put_logfmt(l, f->val, reserve);
	} else {
		raw(l, "\"", 1);
		put_esc(l, f->val, CTX_JSON, LOG_LINE_MAX - reserve - 1);
		raw(l, "\"", 1);
	}
}

#define MAX_FIELDS 32

size_t log_fmt_line(char *out, enum log_format fm, const struct log_rec *r)
{
	static const char *const lvl[] = {"error", "warn", "info", "debug"};
	const bool json = fm == LOG_FMT_JSON;
	struct line l = {.b = out};
	struct field fs[MAX_FIELDS];
	unsigned n = r->kv && r->n < MAX_FIELDS ? r->n : r->kv ? MAX_FIELDS : 0;
	size_t mark = json ? sizeof(MARK_JSON) - 1 : sizeof(MARK_LOGFMT) - 1;
	size_t reserve = 1 + mark + (json ? 2 : 0); /* '\n', the mark, "\"}" */

	if (r->kv && r->n > n)
		l.trunc = true;
	for (unsigned i = 0; i < n; i++) {
		const struct log_kv *kv = &r->kv[i];
		struct field *f = &fs[i];

		f->key = kv->key;
		f->klen = strlen(kv->key);
		f->val = kv->val ? kv->val : json ? "" : "-";
		f->num = json && kv->num && kv->val && is_num(f->val, &f->vlen);
		reserve += skel(fm, f);
	}
	/* The fixed head is under 100 bytes; too many fields drop the last ones. */
	while (n && reserve + 160 + (r->prefix ? strlen(r->prefix) : 0) > LOG_LINE_MAX) {
		reserve -= skel(fm, &fs[--n]);
		l.trunc = true;
	}
	if (r->prefix)
		raw(&l, r->prefix, strlen(r->prefix));
	if (json) {
		raw(&l, "{\"ts\":\"", 7);
		if (r->ts) /* ours: digits and punctuation, under 32 bytes */
			raw(&l, r->ts, strlen(r->ts));
		raw(&l, "\",\"level\":\"", 11);
		raw(&l, lvl[r->lvl & 3], strlen(lvl[r->lvl & 3]));
		raw(&l, "\",\"msg\":\"", 9);
		put_esc(&l, r->msg, CTX_JSON, LOG_LINE_MAX - reserve);
		raw(&l, "\"", 1);
		reserve--; /* that quote was reserved */
	} else {
		if (r->ts) {
			raw(&l, r->ts, strlen(r->ts));
			raw(&l, " ", 1);
			raw(&l, lvl[r->lvl & 3], strlen(lvl[r->lvl & 3]));
			raw(&l, " ", 1);
		}
		put_esc(&l, r->msg, CTX_TEXT, LOG_LINE_MAX - reserve);
	}
	for (unsigned i = 0; i < n; i++) {
		reserve -= skel(fm, &fs[i]);
		put_field(&l, fm, &fs[i], reserve);
	}
	if (l.trunc)
		raw(&l, json ? MARK_JSON : MARK_LOGFMT, mark);
	if (json)
		raw(&l, "}", 1);
	raw(&l, "\n", 1);
	return l.n;
}

const char *log_itoa(char d[LOG_ITOA_MAX], long long v)
{
	char tmp[LOG_ITOA_MAX];
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		d[i++] = '-';
	while (n)
		d[i++] = tmp[--n];
	d[i] = '\0';
	return d;
}

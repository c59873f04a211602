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

/* Raw bytes the reservation already paid for. Keys and values are short:
 * up to 16 bytes go as two overlapping fixed-size moves, not a memcpy call. */
static inline void raw(struct line *l, const char *s, size_t len)
{
	char *d = l->b + l->n;

	l->n += len;
	if (len >= 8 && len <= 16) {
		uint64_t a, b;

		memcpy(&a, s, 8);
		memcpy(&b, s + len - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + len - 8, &b, 8);
	} else if (len >= 4 && len < 8) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + len - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + len - 4, &b, 4);
	} else if (len < 4) {
		for (size_t i = 0; i < len; i++)
			d[i] = s[i];
	} else {
		memcpy(d, s, len);
	}
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
		if (k == 2 && c == 0xc2 && s[1] < 0xa0) {
			/* C1 controls (U+0080..U+009F): NEL (U+0085) ends a line for
			 * some readers (Python's splitlines()), so they are escaped
			 * like C0 ones. */
			*adv = 2;
			if (x == CTX_JSON) {
				memcpy(u, "\\u00", 4);
				u[4] = hex[s[1] >> 4];
				u[5] = hex[s[1] & 15];
				return 6;
			}
			memcpy(u, "\\xc2\\x", 6);
			u[6] = hex[s[1] >> 4];
			u[7] = hex[s[1] & 15];
			return 8;
		}
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

#define NUM_MAX 24 /* bytes of an unquoted JSON number */

/* A number goes unquoted in JSON only when it looks like one (and is short). */
static bool is_num(const char *s, size_t *len)
{
	size_t i = 0;

	for (; s[i] && i <= NUM_MAX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	*len = i;
	return i > 0 && i <= NUM_MAX;
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

/* What the rest of the line keeps for each field not written yet: its
 * punctuation, a key of up to LOG_KEY_MAX bytes and a number or "". A fixed
 * bound, so that the common line is written in one pass. */
#define FIELD_RESERVE (4 + LOG_KEY_MAX + NUM_MAX)

static void put_field(struct line *l, enum log_format fm, const struct log_kv *kv, size_t reserve)
{
	size_t klen = kv->klen ? (kv->klen < LOG_KEY_MAX ? kv->klen : LOG_KEY_MAX)
			       : strnlen(kv->key, LOG_KEY_MAX),
	       vlen;
	const char *v = kv->val ? kv->val : fm == LOG_FMT_JSON ? "" : "-";

	if (fm == LOG_FMT_JSON) {
		raw(l, ",\"", 2);
		raw(l, kv->key, klen);
		raw(l, "\":", 2);
		if (kv->num && kv->val && is_num(v, &vlen)) {
			raw(l, v, vlen);
			return;
		}
		raw(l, "\"", 1);
		put_esc(l, v, CTX_JSON, LOG_LINE_MAX - reserve - 1);
		raw(l, "\"", 1);
		return;
	}
	raw(l, " ", 1);
	raw(l, kv->key, klen);
	raw(l, "=", 1);
	put_logfmt(l, v, reserve);
}

size_t log_fmt_line(char *out, enum log_format fm, const struct log_rec *r)
{
	static const struct {
		char s[6];
		size_t n;
	} lvl[] = {{"error", 5}, {"warn", 4}, {"info", 4}, {"debug", 5}};
	const bool json = fm == LOG_FMT_JSON;
	struct line l = {.b = out};
	/* the head (prefix, time stamp, level, punctuation) takes under 160 */
	unsigned max = (LOG_LINE_MAX - 160 - 64) / FIELD_RESERVE;
	unsigned n = r->kv ? (r->n < max ? r->n : max) : 0;
	size_t mark = json ? sizeof(MARK_JSON) - 1 : sizeof(MARK_LOGFMT) - 1;
	/* '\n', the mark, "\"}", then the fields */
	size_t reserve = 1 + mark + (json ? 2 : 0) + n * FIELD_RESERVE;
	size_t ts_len = !r->ts ? 0 : r->ts_len && r->ts_len < 32 ? r->ts_len : strnlen(r->ts, 32);

	if (r->kv && r->n > n)
		l.trunc = true;
	if (r->prefix)
		raw(&l, r->prefix, strnlen(r->prefix, 64));
	if (json) {
		raw(&l, "{\"ts\":\"", 7);
		if (r->ts) /* ours: digits and punctuation, under 32 bytes */
			raw(&l, r->ts, ts_len);
		raw(&l, "\",\"level\":\"", 11);
		raw(&l, lvl[r->lvl & 3].s, lvl[r->lvl & 3].n);
		raw(&l, "\",\"msg\":\"", 9);
		put_esc(&l, r->msg, CTX_JSON, LOG_LINE_MAX - reserve);
		raw(&l, "\"", 1);
		reserve--; /* that quote was reserved */
	} else {
		if (r->ts) {
			raw(&l, r->ts, ts_len);
			raw(&l, " ", 1);
			raw(&l, lvl[r->lvl & 3].s, lvl[r->lvl & 3].n);
			raw(&l, " ", 1);
		}
		put_esc(&l, r->msg, CTX_TEXT, LOG_LINE_MAX - reserve);
	}
	for (unsigned i = 0; i < n; i++) {
		reserve -= FIELD_RESERVE;
		put_field(&l, fm, &r->kv[i], reserve);
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
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char *p = d + LOG_ITOA_MAX - 1;

	*p = '\0';
	for (; u >= 100; u /= 100) { /* two digits a division, from the right */
		p -= 2;
		memcpy(p, pairs + 2 * (u % 100), 2);
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
	if (v < 0)
		*--p = '-';
	return p;
}

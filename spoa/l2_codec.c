/* l2_codec.c - see l2_codec.h. */
#include "l2_codec.h"

#include <stdbool.h>
#include <string.h>

#define MAGIC	     "O2L2"
#define VERSION	     1u
#define VERSION_VARS 2u
#define NSTR	     6u

enum { F_ACTIVE = 1, F_EXP = 2, F_NBF = 4, F_IAT = 8, F_ALL = 15 };

struct wr {
	uint8_t *p;
	size_t n, cap;
	int bad;
};

static void put(struct wr *w, const void *b, size_t n)
{
	if (w->bad || n > w->cap - w->n) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->n, b, n);
	w->n += n;
}

static void put_u16(struct wr *w, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(w, b, 2);
}

static void put_i64(struct wr *w, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (56 - 8 * i));
	put(w, b, 8);
}

static void put_str(struct wr *w, const char *s)
{
	size_t n;

	if (!s) {
		put_u16(w, L2V_ABSENT);
		return;
	}
	n = strlen(s);
	if (n >= L2V_ABSENT) {
		w->bad = 1;
		return;
	}
	put_u16(w, (unsigned)n);
	put(w, s, n);
}

ssize_t l2v_encode(const struct claims *c, int64_t until_ms, uint8_t *out, size_t cap)
{
	struct wr w = {out, 0, cap < L2V_MAX_LEN ? cap : L2V_MAX_LEN, 0};
	const char *str[NSTR] = {c->scope, c->client_id, c->sub, c->username, c->iss, c->token_use};
	size_t nv = c->mapped ? c->mapped->n : 0;
	uint8_t hdr[2] = {nv ? VERSION_VARS : VERSION,
			  (uint8_t)((c->active ? F_ACTIVE : 0) | (c->has_exp ? F_EXP : 0) |
				    (c->has_nbf ? F_NBF : 0) | (c->has_iat ? F_IAT : 0))};

	if (c->n_aud > L2V_MAX_AUD || nv > L2V_MAX_VARS)
		return -1;
	put(&w, MAGIC, 4);
	put(&w, hdr, 2);
	put_i64(&w, until_ms);
	put_i64(&w, c->exp);
	put_i64(&w, c->nbf);
	put_i64(&w, c->iat);
	for (unsigned i = 0; i < NSTR; i++)
		put_str(&w, str[i]);
	put_u16(&w, (unsigned)c->n_aud);
	for (size_t i = 0; i < c->n_aud; i++)
		put_str(&w, c->aud[i]);
	if (nv) {
		put_u16(&w, (unsigned)nv);
		for (size_t i = 0; i < nv; i++) {
			put_str(&w, c->mapped->v[i].name);
			put_str(&w, c->mapped->v[i].value);
		}
	}
	return w.bad ? -1 : (ssize_t)w.n;
}

struct rd {
	const uint8_t *p;
	size_t n, off;
};

static int get(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->n - r->off)
		return -1;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

static int get_u16(struct rd *r, unsigned *v)
{
	const uint8_t *b;

	if (get(r, 2, &b))
		return -1;
	*v = (unsigned)b[0] << 8 | b[1];
	return 0;
}

static int get_i64(struct rd *r, int64_t *v)
{
	const uint8_t *b;
	uint64_t u = 0;

	if (get(r, 8, &b))
		return -1;
	for (int i = 0; i < 8; i++)
		u = u << 8 | b[i];
	*v = (int64_t)u;
	return 0;
}

/* One string slice: *s NULL when absent; checks for NUL bytes. */
static int get_str(struct rd *r, const uint8_t **s, unsigned *len)
{
	if (get_u16(r, len))
		return -1;
	if (*len == L2V_ABSENT) {
		*s = NULL;
		return 0;
	}
	if (get(r, *len, s) || memchr(*s, '\0', *len))
		return -1;
	return 0;
}

struct slices {
	const uint8_t *s[NSTR + L2V_MAX_AUD];
	unsigned len[NSTR + L2V_MAX_AUD];
	unsigned n_aud;
	const uint8_t *var[2 * L2V_MAX_VARS]; /* name, value, name, value ... */
	unsigned var_len[2 * L2V_MAX_VARS];
	unsigned n_vars;
	size_t var_bytes;
};

/* Version 2's mapped variables: names and values present and not empty. */
static int scan_vars(struct rd *r, struct slices *sl)
{
	unsigned n;

	if (get_u16(r, &n) || n == 0 || n > L2V_MAX_VARS)
		return -1;
	sl->n_vars = n;
	for (unsigned i = 0; i < 2 * n; i++) {
		if (get_str(r, &sl->var[i], &sl->var_len[i]) || !sl->var[i] || !sl->var_len[i])
			return -1;
		sl->var_bytes += sl->var_len[i] + 1u;
	}
	return 0;
}

/* First pass: validates and measures. Returns the bytes the strings need. */
static int scan(struct rd *r, struct slices *sl, size_t *need, bool vars)
{
	unsigned n;

	*need = 0;
	sl->n_vars = 0;
	sl->var_bytes = 0;
	for (unsigned i = 0; i < NSTR; i++) {
		if (get_str(r, &sl->s[i], &sl->len[i]))
			return -1;
		if (sl->s[i])
			*need += sl->len[i] + 1u;
	}
	if (get_u16(r, &n) || n > L2V_MAX_AUD)
		return -1;
	sl->n_aud = n;
	for (unsigned i = NSTR; i < NSTR + n; i++) {
		if (get_str(r, &sl->s[i], &sl->len[i]) || !sl->s[i])
			return -1;
		*need += sl->len[i] + 1u;
	}
	if (vars && scan_vars(r, sl))
		return -1;
	return r->off == r->n ? 0 : -1;
}

static const char *copy_out(char **area, const uint8_t *s, unsigned len)
{
	char *d = *area;

	if (!s)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	*area = d + len + 1;
	return d;
}

static struct claim_vars *decode_vars(const struct slices *sl)
{
	char *area;
	struct claim_vars *cv = claim_vars_new(sl->n_vars, sl->var_bytes, &area);

	if (!cv)
		return NULL;
	for (unsigned i = 0; i < sl->n_vars; i++) {
		cv->v[i].name = copy_out(&area, sl->var[2 * i], sl->var_len[2 * i]);
		cv->v[i].value = copy_out(&area, sl->var[2 * i + 1], sl->var_len[2 * i + 1]);
	}
	cv->n = sl->n_vars;
	return cv;
}

int l2v_decode(const uint8_t *in, size_t len, struct claims **out, int64_t *until_ms)
{
	struct rd r = {in, len, 0};
	struct slices sl;
	const uint8_t *b;
	int64_t t[4];
	size_t need, ptrs;
	struct claims *c;
	const char **aud;
	const char *str[NSTR];
	char *area;

	*out = NULL;
	if (len > L2V_MAX_LEN || get(&r, 6, &b) || memcmp(b, MAGIC, 4) ||
	    (b[4] != VERSION && b[4] != VERSION_VARS) || (b[5] & ~F_ALL))
		return -1;
	for (int i = 0; i < 4; i++)
		if (get_i64(&r, &t[i]))
			return -1;
	if (scan(&r, &sl, &need, b[4] == VERSION_VARS))
		return -1;
	ptrs = sl.n_aud * sizeof(char *);
	c = claims_new(ptrs + need);
	if (!c)
		return -1;
	if (sl.n_vars && !(c->mapped = decode_vars(&sl))) {
		claims_unref(c);
		return -1;
	}
	aud = (const char **)(void *)(c + 1);
	area = (char *)(c + 1) + ptrs;
	for (unsigned i = 0; i < NSTR; i++)
		str[i] = copy_out(&area, sl.s[i], sl.len[i]);
	for (unsigned i = 0; i < sl.n_aud; i++)
		aud[i] = copy_out(&area, sl.s[NSTR + i], sl.len[NSTR + i]);
	c->active = b[5] & F_ACTIVE;
	c->has_exp = b[5] & F_EXP;
	c->has_nbf = b[5] & F_NBF;
	c->has_iat = b[5] & F_IAT;
	c->exp = t[1];
	c->nbf = t[2];
	c->iat = t[3];
	c->scope = str[0];
	c->client_id = str[1];
	c->sub = str[2];
	c->username = str[3];
	c->iss = str[4];
	c->token_use = str[5];
	c->n_aud = sl.n_aud;
	c->aud = sl.n_aud ? aud : NULL;
	*until_ms = t[0];
	*out = c;
	return 0;
}

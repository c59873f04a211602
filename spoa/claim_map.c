/* claim_map.c - see claim_map.h.
 *
 * Values are first written into a scratch area on the stack (bounded by
 * CLAIM_MAP_MAX_TOTAL), then copied into one exact-size block, so a cached
 * result costs only the bytes it maps. */
#include "claim_map.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

struct entry {
	char *claim, *name;
};

struct claim_map {
	atomic_int refs;
	size_t n;
	struct entry e[CLAIM_MAP_MAX_VARS];
	char *user_id; /* NULL: "sub" */
	char *ident;   /* see claim_map_identity() */
	size_t ident_len;
};

struct claim_map *claim_map_new(void)
{
	struct claim_map *m = calloc(1, sizeof(*m));

	if (m)
		atomic_init(&m->refs, 1);
	return m;
}

struct claim_map *claim_map_ref(const struct claim_map *cm)
{
	/* The count is the one part of an immutable map that changes. */
	struct claim_map *m = (struct claim_map *)cm;

	if (m)
		atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void claim_map_unref(struct claim_map *m)
{
	if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].claim);
		free(m->e[i].name);
	}
	free(m->user_id);
	free(m->ident);
	free(m);
}

/* Mirrors verdict.h's variables; test_claim_map.c checks they agree. */
static const char *const reserved[] = {
    "allowed",	 "status", "reason",	       "policy", "sub",
    "client_id", "scope",  "www_authenticate", "error",
};

const char *claim_map_name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "the variable name is empty";
	if (len > CLAIM_MAP_MAX_NAME)
		return "the variable name is longer than 48 bytes";
	if (name[0] >= '0' && name[0] <= '9')
		return "the variable name starts with a digit";
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return "a variable name may only hold A-Z a-z 0-9 _";
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(name, reserved[i]) == 0)
			return "the name of one of the agent's own variables";
	return NULL;
}

static int check_claim(const char *claim, struct err *e)
{
	size_t len = strlen(claim);

	if (len == 0)
		return err_set(e, 0, 0, "the claim name is empty");
	if (len > CLAIM_MAP_MAX_PATH)
		return err_set(e, 0, 0, "the claim name is longer than %u bytes",
			       CLAIM_MAP_MAX_PATH);
	if (claim[0] == '.' || claim[len - 1] == '.' || strstr(claim, ".."))
		return err_set(e, 0, 0, "the claim path \"%.64s\" has an empty segment", claim);
	return 0;
}

/* "claim NUL name NUL" for each entry, then "uid NUL claim NUL". */
static int rebuild_identity(struct claim_map *m)
{
	size_t n = 4 + (m->user_id ? strlen(m->user_id) + 1 : 0), off = 0;
	char *id;

	for (size_t i = 0; i < m->n; i++)
		n += strlen(m->e[i].claim) + strlen(m->e[i].name) + 2;
	id = malloc(n);
	if (!id)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		size_t a = strlen(m->e[i].claim) + 1, b = strlen(m->e[i].name) + 1;

		memcpy(id + off, m->e[i].claim, a);
		memcpy(id + off + a, m->e[i].name, b);
		off += a + b;
	}
	memcpy(id + off, "uid", 4);
	off += 4;
	if (m->user_id) {
		memcpy(id + off, m->user_id, strlen(m->user_id) + 1);
		off += strlen(m->user_id) + 1;
	}
	free(m->ident);
	m->ident = id;
	m->ident_len = off;
	return 0;
}

int claim_map_add(struct claim_map *m, const char *claim, const char *name, struct err *e)
{
	const char *why = claim_map_name_problem(name);
	char *nc, *nn;
	size_t pos;

	if (check_claim(claim, e))
		return -1;
	if (why)
		return err_set(e, 0, 0, "variable \"%.64s\": %s", name, why);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].name, name) == 0)
			return err_set(e, 0, 0, "variable \"%s\" is mapped twice", name);
	if (m->n == CLAIM_MAP_MAX_VARS)
		return err_set(e, 0, 0, "more than %u mapped claims", CLAIM_MAP_MAX_VARS);
	/* Kept sorted by name, so that the identity does not depend on the
	 * order of the YAML mapping. */
	for (pos = 0; pos < m->n && strcmp(m->e[pos].name, name) < 0; pos++)
		;
	nc = strdup(claim);
	nn = strdup(name);
	if (!nc || !nn) {
		free(nc);
		free(nn);
		return err_set(e, 0, 0, "out of memory");
	}
	memmove(&m->e[pos + 1], &m->e[pos], (m->n - pos) * sizeof(m->e[0]));
	m->e[pos] = (struct entry){nc, nn};
	m->n++;
	if (rebuild_identity(m) < 0) {
		m->n--;
		memmove(&m->e[pos], &m->e[pos + 1], (m->n - pos) * sizeof(m->e[0]));
		free(nc);
		free(nn);
		return err_set(e, 0, 0, "out of memory");
	}
	return 0;
}

int claim_map_set_user_id(struct claim_map *m, const char *claim, struct err *e)
{
	char *old = m->user_id;

	if (check_claim(claim, e))
		return -1;
	if (!(m->user_id = strdup(claim)) || rebuild_identity(m) < 0) {
		free(m->user_id);
		m->user_id = old;
		return err_set(e, 0, 0, "out of memory");
	}
	free(old);
	return 0;
}

size_t claim_map_count(const struct claim_map *m)
{
	return m ? m->n : 0;
}

bool claim_map_is_empty(const struct claim_map *m)
{
	return !m || (m->n == 0 && !m->user_id);
}

struct slice claim_map_identity(const struct claim_map *m)
{
	if (claim_map_is_empty(m))
		return slice_from("", 0);
	return slice_from(m->ident, m->ident_len);
}

bool claim_map_eq(const struct claim_map *a, const struct claim_map *b)
{
	return slice_eq(claim_map_identity(a), claim_map_identity(b));
}

/* ---- extraction ------------------------------------------------------ */

static json_t *lookup(const json_t *root, const char *path)
{
	json_t *cur = json_object_get(root, path);
	const char *p = path;

	if (cur || !strchr(path, '.'))
		return cur;
	cur = (json_t *)root;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(cur))
			return NULL;
		cur = json_object_getn(cur, p, len);
		if (!dot || !cur)
			return cur;
		p = dot + 1;
	}
}

/* A value being written: at most <cap> bytes at <p>. */
struct out {
	char *p;
	size_t n, cap;
	bool cut;
};

static char clean(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
}

static void put_string(struct out *o, const char *s, size_t len)
{
	if (len > o->cap - o->n) {
		len = o->cap - o->n;
		/* Not inside a UTF-8 sequence: back off its continuation bytes. */
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
		o->cut = true;
	}
	for (size_t i = 0; i < len; i++)
		o->p[o->n++] = clean((unsigned char)s[i]);
}

/* The text of a scalar other than a string, in <buf>; NULL for other kinds. */
static const char *scalar_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_integer(v))
		snprintf(buf, n, "%" PRId64, (int64_t)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%.15g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL;
	return buf;
}

/* One array element, escaped; returns false (nothing written) when it does
 * not fit whole. */
static bool put_element(struct out *o, const char *s, size_t len, bool sep)
{
	size_t need = sep ? 1 : 0;

	for (size_t i = 0; i < len; i++)
		need += s[i] == '%' || s[i] == CLAIM_MAP_SEP ? 3 : 1;
	if (need > o->cap - o->n)
		return false;
	if (sep)
		o->p[o->n++] = CLAIM_MAP_SEP;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' || s[i] == CLAIM_MAP_SEP) {
			o->p[o->n++] = '%';
			o->p[o->n++] = '2';
			o->p[o->n++] = s[i] == '%' ? '5' : 'C';
		} else {
			o->p[o->n++] = clean((unsigned char)s[i]);
		}
	}
	return true;
}

static void put_array(struct out *o, const json_t *a)
{
	size_t i;
	json_t *el;
	bool any = false;

	json_array_foreach(a, i, el)
	{
		char buf[32];
		const char *s =
		    json_is_string(el) ? json_string_value(el) : scalar_text(el, buf, sizeof(buf));
		size_t len = json_is_string(el) ? json_string_length(el) : s ? strlen(s) : 0;

		if (!s)
			continue; /* null, a nested array or object */
		if (!put_element(o, s, len, any)) {
			o->cut = true;
			return;
		}
		any = true;
	}
}

/* Writes the text of <v> (may be NULL) to <o>; o->n stays 0 for no value. */
static void value_text(struct out *o, const json_t *v)
{
	char buf[32];
	const char *s;

	if (json_is_string(v))
		put_string(o, json_string_value(v), json_string_length(v));
	else if (json_is_array(v))
		put_array(o, v);
	else if ((s = scalar_text(v, buf, sizeof(buf))))
		put_string(o, s, strlen(s));
}

struct found {
	const char *name[CLAIM_MAP_MAX_VARS];
	const char *val[CLAIM_MAP_MAX_VARS];
	size_t len[CLAIM_MAP_MAX_VARS];
	size_t n, bytes;
	unsigned truncated;
	const char *uid;
	size_t uid_len;
};

/* Fills <f> with texts written into <scratch>. */
static void extract(const struct claim_map *m, const json_t *root, char *scratch, struct found *f)
{
	size_t used = 0;

	for (size_t i = 0; i < m->n; i++) {
		size_t room = CLAIM_MAP_MAX_TOTAL - used;
		struct out o = {scratch + used, 0,
				room < CLAIM_MAP_MAX_VALUE ? room : CLAIM_MAP_MAX_VALUE, false};

		value_text(&o, lookup(root, m->e[i].claim));
		f->truncated += o.cut;
		if (o.n == 0)
			continue;
		f->name[f->n] = m->e[i].name;
		f->val[f->n] = o.p;
		f->len[f->n++] = o.n;
		f->bytes += o.n + 1 + strlen(m->e[i].name) + 1;
		used += o.n;
	}
	if (m->user_id) {
		struct out o = {scratch + used, 0, CLAIM_MAP_MAX_VALUE, false};

		value_text(&o, lookup(root, m->user_id));
		f->truncated += o.cut;
		if (o.n) {
			f->uid = o.p;
			f->uid_len = o.n;
			f->bytes += o.n + 1;
		}
	}
}

static const char *copy(char **area, const char *s, size_t len)
{
	char *d = *area;

	memcpy(d, s, len);
	d[len] = '\0';
	*area = d + len + 1;
	return d;
}

int claim_map_apply(const struct claim_map *m, const json_t *root, struct claims *c)
{
	char scratch[CLAIM_MAP_MAX_TOTAL + CLAIM_MAP_MAX_VALUE];
	struct found f = {.n = 0};
	struct claim_vars *cv;
	char *area;

	if (claim_map_is_empty(m))
		return 0;
	if (m->user_id)
		c->sub = NULL;
	extract(m, root, scratch, &f);
	if (f.n == 0 && !f.uid && !f.truncated)
		return 0;
	if (!(cv = claim_vars_new(f.n, f.bytes, &area)))
		return -1;
	for (size_t i = 0; i < f.n; i++) {
		cv->v[i].name = copy(&area, f.name[i], strlen(f.name[i]));
		cv->v[i].value = copy(&area, f.val[i], f.len[i]);
	}
	cv->n = f.n;
	cv->truncated = f.truncated;
	if (f.uid)
		c->sub = copy(&area, f.uid, f.uid_len);
	c->mapped = cv;
	return 0;
}

int claim_map_apply_jwt(const struct claim_map *m, struct slice token, struct claims *c)
{
	const char *t = (const char *)token.ptr, *d1, *d2;
	unsigned char *buf;
	ssize_t n;
	json_t *root;
	int rc = -1;

	if (claim_map_is_empty(m))
		return 0;
	if (!(d1 = memchr(t, '.', token.len)) ||
	    !(d2 = memchr(d1 + 1, '.', token.len - (size_t)(d1 + 1 - t))))
		return -1;
	if (!(buf = malloc(b64url_decoded_len((size_t)(d2 - d1 - 1)) + 1)))
		return -1;
	n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf,
			  b64url_decoded_len((size_t)(d2 - d1 - 1)) + 1);
	if (n >= 0 &&
	    (root = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL))) {
		if (json_is_object(root))
			rc = claim_map_apply(m, root, c);
		json_decref(root);
	}
	free(buf);
	return rc;
}

/* purge.c - see purge.h. */
#include "purge.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"token", "sub", "client_id"};

static int one_string(json_t *v, const char *name, struct purge_req *out, struct err *e)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!json_is_string(v) || !n || memchr(s, '\0', n))
		return err_set(e, 0, 0, "\"%s\" must be a non-empty string", name);
	if (n > (strcmp(name, "token") ? PURGE_MAX_VALUE : 16384u))
		return err_set(e, 0, 0, "\"%s\" is too long", name);
	if (!(out->value = malloc(n + 1)))
		return err_set(e, 0, 0, "out of memory");
	memcpy(out->value, s, n + 1);
	out->len = n;
	return 0;
}

int purge_parse_body(const char *body, size_t len, struct purge_req *out, struct err *e)
{
	json_error_t je;
	json_t *root, *v;
	const char *k;
	int found = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	if (len > PURGE_MAX_BODY)
		return err_set(e, 0, 0, "body larger than %u bytes", PURGE_MAX_BODY);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return err_set(e, 0, 0, "the body must be a JSON object");
	}
	json_object_foreach(root, k, v)
	{
		int i;

		if (found++) {
			rc = err_set(e, 0, 0, "exactly one of token, sub, client_id or all");
			break;
		}
		for (i = 0; i < 3 && strcmp(k, names[i]); i++)
			;
		if (i < 3) {
			out->kind = (enum purge_kind)i;
			rc = one_string(v, names[i], out, e);
		} else if (!strcmp(k, "all")) {
			out->kind = PURGE_ALL;
			if (!json_is_true(v))
				rc = err_set(e, 0, 0, "\"all\" must be true");
		} else {
			rc = err_set(e, 0, 0,
				     "unknown member (expected token, sub, client_id or all)");
		}
		if (rc)
			break;
	}
	/* jansson keeps its own copy of the token: wipe it too. */
	if ((v = json_object_get(root, "token")) && json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
	json_decref(root);
	if (!rc && !found)
		rc = err_set(e, 0, 0, "exactly one of token, sub, client_id or all");
	if (rc)
		purge_req_clear(out);
	return rc;
}

void purge_req_clear(struct purge_req *r)
{
	if (r->value)
		explicit_bzero(r->value, r->len);
	free(r->value);
	memset(r, 0, sizeof(*r));
}

int purge_msg_encode(const struct purge_msg *m, char *out, size_t cap)
{
	static const char tag[] = {'k', 's', 'c', 'a'};
	size_t n = 0;
	int w;

	if (cap < 2)
		return -1;
	out[n++] = tag[m->kind];
	if (m->kind == PURGE_TOKEN) {
		if (!m->nkeys || m->nkeys > PURGE_MAX_KEYS)
			return -1;
		for (size_t i = 0; i < m->nkeys; i++) {
			if (cap - n < 66)
				return -1;
			out[n++] = ' ';
			for (int b = 0; b < 32; b++)
				n += (size_t)snprintf(out + n, 3, "%02x", m->keys[i][b]);
		}
	} else if (m->kind != PURGE_ALL) {
		w = snprintf(out + n, cap - n, " %s", m->value);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
	}
	out[n] = '\0';
	return (int)n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int decode_keys(const char *p, size_t len, struct purge_msg *m)
{
	m->nkeys = 0;
	while (len) {
		if (len < 65 || p[0] != ' ' || m->nkeys == PURGE_MAX_KEYS)
			return -1;
		for (int b = 0; b < 32; b++) {
			int hi = hexval(p[1 + 2 * b]), lo = hexval(p[2 + 2 * b]);

			if (hi < 0 || lo < 0)
				return -1;
			m->keys[m->nkeys][b] = (uint8_t)(hi << 4 | lo);
		}
		m->nkeys++;
		p += 65;
		len -= 65;
	}
	return m->nkeys ? 0 : -1;
}

int purge_msg_decode(const char *in, size_t len, struct purge_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (!len || len > PURGE_MSG_MAX)
		return -1;
	switch (in[0]) {
	case 'k':
		m->kind = PURGE_TOKEN;
		return decode_keys(in + 1, len - 1, m);
	case 's':
	case 'c':
		m->kind = in[0] == 's' ? PURGE_SUB : PURGE_CLIENT_ID;
		if (len < 3 || in[1] != ' ' || len - 2 > PURGE_MAX_VALUE ||
		    memchr(in + 2, '\0', len - 2))
			return -1;
		memcpy(m->value, in + 2, len - 2);
		m->value[len - 2] = '\0';
		return 0;
	case 'a':
		m->kind = PURGE_ALL;
		return len == 1 ? 0 : -1;
	}
	return -1;
}

bool purge_match(const struct claims *c, const struct purge_msg *m)
{
	switch (m->kind) {
	case PURGE_ALL:
		return true;
	case PURGE_SUB:
		return c->sub && !strcmp(c->sub, m->value);
	case PURGE_CLIENT_ID:
		return c->client_id && !strcmp(c->client_id, m->value);
	case PURGE_TOKEN:
		break;
	}
	return false;
}

int purge_index_name(const char *prefix, char kind, const char *value, char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t n;
	int w;

	if (!EVP_Digest(value, strlen(value), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	w = snprintf(out, cap, "%si:%c:", prefix, kind);
	if (w < 0 || (size_t)w + 65 > cap)
		return -1;
	n = (size_t)w;
	for (unsigned i = 0; i < 32; i++)
		n += (size_t)snprintf(out + n, 3, "%02x", md[i]);
	return 0;
}

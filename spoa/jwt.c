/* jwt.c - JWS compact tokens checked against a key set and a policy's rules.
 * The signature itself is checked by jwks_verify() (cjose, or OpenSSL for
 * EdDSA); this file splits the token, reads the header and the claims. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "b64url.h"
#include "introspect.h"
#include "limits.h"

#define JWT_MAX_SIG 1024u /* an RSA-8192 signature; ES512 is 132 bytes */

/* A decoded, parsed JOSE header. */
struct hdr {
	json_t *root;
	unsigned alg;
	const char *kid, *typ; /* borrowed from root; NULL when absent */
	size_t kid_len;
};

static json_t *load_obj(const unsigned char *p, size_t n)
{
	json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);

	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static enum jwt_result parse_header(const char *b64, size_t len, unsigned allowed, struct hdr *h)
{
	unsigned char raw[JWT_MAX_HEADER_LEN];
	ssize_t n = b64url_decode(b64, len, raw, sizeof(raw));
	json_t *alg, *kid, *typ;

	if (n <= 0 || !(h->root = load_obj(raw, (size_t)n)))
		return JWT_MALFORMED;
	alg = json_object_get(h->root, "alg");
	kid = json_object_get(h->root, "kid");
	typ = json_object_get(h->root, "typ");
	/* crit names extensions we would have to understand (RFC 7515 4.1.11). */
	if (!json_is_string(alg) || json_object_get(h->root, "crit") ||
	    (kid && !json_is_string(kid)) || (typ && !json_is_string(typ)))
		return JWT_MALFORMED;
	h->alg = jwt_alg_from_name(json_string_value(alg), json_string_length(alg));
	if (!(h->alg & allowed))
		return JWT_ALG_REFUSED;
	if (kid) {
		h->kid = json_string_value(kid);
		h->kid_len = json_string_length(kid);
	}
	h->typ = typ ? json_string_value(typ) : NULL;
	return JWT_OK;
}

/* RFC 7515 4.1.9: "application/" may be left out and the comparison ignores case. */
static bool typ_is(const char *typ, const char *want)
{
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	return strcasecmp(typ, want) == 0;
}

static enum jwt_result check_typ(const struct hdr *h, json_t *pl, bool lenient)
{
	static const char *const not_at[] = {"rt+jwt", "refresh+jwt", "id+jwt"};
	static const char *const kc_not_at[] = {"Refresh", "ID", "Offline", "Logout"};
	const char *ptyp = json_string_value(json_object_get(pl, "typ"));

	for (size_t i = 0; h->typ && i < sizeof(not_at) / sizeof(not_at[0]); i++)
		if (typ_is(h->typ, not_at[i]))
			return JWT_NOT_ACCESS_TOKEN;
	for (size_t i = 0; ptyp && i < sizeof(kc_not_at) / sizeof(kc_not_at[0]); i++)
		if (strcasecmp(ptyp, kc_not_at[i]) == 0)
			return JWT_NOT_ACCESS_TOKEN;
	if (h->typ && typ_is(h->typ, "at+jwt"))
		return JWT_OK;
	if (lenient && (!h->typ || typ_is(h->typ, "jwt")))
		return JWT_OK;
	return JWT_NOT_ACCESS_TOKEN;
}

/* A NumericDate (RFC 7519 2): an integer, or a real truncated to seconds. */
static int get_time(json_t *pl, const char *name, bool *has, int64_t *t)
{
	json_t *v = json_object_get(pl, name);

	*has = false;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*t = (int64_t)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) > -9e15 && json_real_value(v) < 9e15)
		*t = (int64_t)json_real_value(v);
	else
		return -1;
	*has = true;
	return 0;
}

/* The string members copied into the claims, and the space they need. */
enum { S_SCOPE, S_CLIENT, S_SUB, S_USER, S_ISS, S_N };

struct picked {
	json_t *s[S_N];
	json_t *scp;  /* an array: joined with spaces into the scope */
	json_t *aud;  /* a string or an array of strings */
	size_t extra; /* bytes after the struct */
};

static json_t *first_str(json_t *pl, const char *a, const char *b)
{
	json_t *v = json_object_get(pl, a);

	return v || !b ? v : json_object_get(pl, b);
}

static bool str_ok(json_t *v, size_t *extra)
{
	if (!json_is_string(v) || json_string_length(v) > INTROSPECT_MAX_STR_LEN ||
	    memchr(json_string_value(v), 0, json_string_length(v)))
		return false;
	*extra += json_string_length(v) + 1;
	return true;
}

/* Checks the types of every member used and sizes the copy. */
static int pick(json_t *pl, struct picked *pk)
{
	json_t *scp = json_object_get(pl, "scp");
	size_t i;
	json_t *v;

	memset(pk, 0, sizeof(*pk));
	pk->s[S_SCOPE] = json_object_get(pl, "scope");
	pk->s[S_CLIENT] = first_str(pl, "client_id", "azp");
	pk->s[S_SUB] = json_object_get(pl, "sub");
	pk->s[S_USER] = first_str(pl, "username", "preferred_username");
	pk->s[S_ISS] = json_object_get(pl, "iss");
	if (!pk->s[S_SCOPE] && json_is_string(scp))
		pk->s[S_SCOPE] = scp;
	else if (!pk->s[S_SCOPE] && scp) {
		if (!json_is_array(scp) || json_array_size(scp) > JWT_MAX_SCP)
			return -1;
		json_array_foreach(scp, i, v) if (!str_ok(v, &pk->extra)) return -1;
		pk->scp = scp;
		pk->extra += 1;
	}
	for (int k = 0; k < S_N; k++)
		if (pk->s[k] && !str_ok(pk->s[k], &pk->extra))
			return -1;
	pk->aud = json_object_get(pl, "aud");
	if (json_is_array(pk->aud)) {
		if (json_array_size(pk->aud) > INTROSPECT_MAX_AUD)
			return -1;
		pk->extra += json_array_size(pk->aud) * sizeof(char *);
		json_array_foreach(pk->aud, i, v) if (!str_ok(v, &pk->extra)) return -1;
	} else if (pk->aud) {
		pk->extra += sizeof(char *);
		if (!str_ok(pk->aud, &pk->extra))
			return -1;
	}
	pk->extra += _Alignof(char *);
	return 0;
}

static const char *put(char **cur, json_t *v)
{
	char *d = *cur;
	size_t n = json_string_length(v);

	memcpy(d, json_string_value(v), n + 1);
	*cur += n + 1;
	return d;
}

static struct claims *build(const struct picked *pk)
{
	struct claims *c = claims_new(pk->extra);
	const char **aud;
	char *cur;
	size_t n_aud = json_is_array(pk->aud) ? json_array_size(pk->aud) : pk->aud ? 1 : 0;

	if (!c)
		return NULL;
	aud = (const char **)(void *)(c + 1);
	cur = (char *)(aud + n_aud);
	c->active = true;
	for (size_t i = 0; i < n_aud; i++)
		aud[i] = put(&cur, json_is_array(pk->aud) ? json_array_get(pk->aud, i) : pk->aud);
	c->n_aud = n_aud;
	c->aud = n_aud ? aud : NULL;
	if (pk->scp) {
		char *s = cur;

		for (size_t i = 0; i < json_array_size(pk->scp); i++) {
			json_t *v = json_array_get(pk->scp, i);

			if (i)
				*cur++ = ' ';
			memcpy(cur, json_string_value(v), json_string_length(v));
			cur += json_string_length(v);
		}
		*cur++ = '\0';
		c->scope = s;
	}
	if (pk->s[S_SCOPE])
		c->scope = put(&cur, pk->s[S_SCOPE]);
	if (pk->s[S_CLIENT])
		c->client_id = put(&cur, pk->s[S_CLIENT]);
	if (pk->s[S_SUB])
		c->sub = put(&cur, pk->s[S_SUB]);
	if (pk->s[S_USER])
		c->username = put(&cur, pk->s[S_USER]);
	if (pk->s[S_ISS])
		c->iss = put(&cur, pk->s[S_ISS]);
	return c;
}

/* Steps 5 to 8 on the verified payload. */
static enum jwt_result check_payload(const struct hdr *h, json_t *pl, const struct jwt_rules *r,
				     int64_t now, int64_t leeway, struct claims **out)
{
	struct picked pk;
	struct claims tm = {0};
	enum jwt_result res;

	if (get_time(pl, "exp", &tm.has_exp, &tm.exp) || !tm.has_exp ||
	    get_time(pl, "nbf", &tm.has_nbf, &tm.nbf) ||
	    get_time(pl, "iat", &tm.has_iat, &tm.iat) || pick(pl, &pk))
		return JWT_MALFORMED;
	if ((res = check_typ(h, pl, r->typ_lenient)) != JWT_OK)
		return res;
	if (tm.exp <= now - leeway)
		return JWT_EXPIRED;
	if (tm.has_nbf && tm.nbf > now + leeway)
		return JWT_NOT_YET_VALID;
	if (tm.has_iat && tm.iat > now + leeway)
		return JWT_IAT_FUTURE;
	if (r->issuer && (!json_is_string(pk.s[S_ISS]) ||
			  strcmp(json_string_value(pk.s[S_ISS]), r->issuer) != 0))
		return JWT_ISSUER_MISMATCH;
	if (!(*out = build(&pk)))
		return JWT_MALFORMED; /* out of memory: refused all the same */
	(*out)->has_exp = true;
	(*out)->exp = tm.exp;
	(*out)->has_nbf = tm.has_nbf;
	(*out)->nbf = tm.nbf;
	(*out)->has_iat = tm.has_iat;
	(*out)->iat = tm.iat;
	return JWT_OK;
}

/* Steps 3 to 5: the key, the signature, then the payload's JSON. Every
 * part is decoded (strictly) before cjose sees the token: its decoder
 * asserts on some malformed text. */
static enum jwt_result verified_payload(const char *token, size_t len, const char *dot1,
					const char *dot2, const struct jwks *ks,
					const struct hdr *h, json_t **pl)
{
	unsigned char sig[JWT_MAX_SIG], *raw = NULL;
	const char *p64 = dot1 + 1, *s64 = dot2 + 1;
	size_t plen = (size_t)(dot2 - p64), slen = len - (size_t)(s64 - token);
	size_t cap = b64url_decoded_len(plen) + 1;
	ssize_t sn = b64url_decode(s64, slen, sig, sizeof(sig)), pn = -1;
	bool known;
	const struct jwks_key *k = jwks_find(ks, h->alg, h->kid, h->kid_len, &known);
	enum jwt_result r = JWT_MALFORMED;

	if (!k)
		return h->kid && !known ? JWT_UNKNOWN_KID : JWT_KEY_MISMATCH;
	if (sn > 0 && plen > 0 && (raw = malloc(cap)))
		pn = b64url_decode(p64, plen, raw, cap);
	if (pn <= 0)
		goto out;
	if (!jwks_verify(k, h->alg, token, len, (const unsigned char *)token,
			 (size_t)(dot2 - token), sig, (size_t)sn)) {
		r = JWT_BAD_SIGNATURE;
		goto out;
	}
	*pl = load_obj(raw, (size_t)pn);
	r = *pl ? JWT_OK : JWT_MALFORMED;
out:
	free(raw);
	return r;
}

/* Steps 1 to 4 (and the payload's JSON): on JWT_OK, h->root and *pl are
 * NEW references the caller releases, whatever the result. */
static enum jwt_result jws_verify(const char *token, size_t len, const struct jwks *ks,
				  unsigned algs, struct hdr *h, json_t **pl)
{
	const char *dot1 = memchr(token, '.', len), *dot2;
	enum jwt_result r;

	if (!ks || !dot1)
		return JWT_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return JWT_MALFORMED; /* a JWE has five parts */
	r = parse_header(token, (size_t)(dot1 - token), algs, h);
	if (r == JWT_OK)
		r = verified_payload(token, len, dot1, dot2, ks, h, pl);
	return r;
}

enum jwt_result jwt_verify(const char *token, size_t len, const struct jwks *ks,
			   const struct jwt_rules *rules, int64_t now, int64_t leeway_s,
			   struct claims **out)
{
	struct hdr h = {0};
	json_t *pl = NULL;
	enum jwt_result r;

	*out = NULL;
	if (leeway_s < 0)
		leeway_s = 0;
	r = jws_verify(token, len, ks, rules->algs, &h, &pl);
	if (r == JWT_OK)
		r = check_payload(&h, pl, rules, now, leeway_s, out);
	json_decref(pl);
	json_decref(h.root);
	return r;
}

enum jwt_result jwt_jws_verify(const char *token, size_t len, const struct jwks *ks, unsigned algs,
			       struct json_t **header, struct json_t **payload)
{
	struct hdr h = {0};
	json_t *pl = NULL;
	enum jwt_result r = jws_verify(token, len, ks, algs, &h, &pl);

	*header = *payload = NULL;
	if (r != JWT_OK) {
		json_decref(pl);
		json_decref(h.root);
		return r;
	}
	*header = h.root;
	*payload = pl;
	return JWT_OK;
}

const char *jwt_result_name(enum jwt_result r)
{
	static const char *const names[JWT_RESULT_COUNT] = {
	    [JWT_OK] = "ok",
	    [JWT_MALFORMED] = "malformed",
	    [JWT_ALG_REFUSED] = "alg_refused",
	    [JWT_UNKNOWN_KID] = "unknown_kid",
	    [JWT_KEY_MISMATCH] = "key_mismatch",
	    [JWT_BAD_SIGNATURE] = "bad_signature",
	    [JWT_NOT_ACCESS_TOKEN] = "not_access_token",
	    [JWT_EXPIRED] = "expired",
	    [JWT_NOT_YET_VALID] = "not_yet_valid",
	    [JWT_IAT_FUTURE] = "iat_in_future",
	    [JWT_ISSUER_MISMATCH] = "issuer_mismatch",
	};

	if ((unsigned)r >= (unsigned)JWT_RESULT_COUNT)
		return "unknown";
	return names[r];
}

/* introspect_jwt.c - RFC 9701 signed introspection answers: the JWS is
 * jwt.c's, the RFC 7662 claims are introspect.c's; this file checks what
 * lies between (media type, typ, iss, aud, iat) and unwraps the claim. */
#include "introspect_jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "introspect.h"
#include "jwt.h"

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

bool ijwt_is_media_type(const char *ct)
{
	size_t n = sizeof(IJWT_MEDIA_TYPE) - 1;

	if (!ct)
		return false;
	while (ows(*ct))
		ct++;
	if (strncasecmp(ct, IJWT_MEDIA_TYPE, n) != 0)
		return false;
	ct += n;
	while (ows(*ct))
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* RFC 7515 4.1.9: "application/" may be left out; case is ignored. */
static bool typ_ok(json_t *typ)
{
	const char *t = json_string_value(typ);

	if (!t)
		return false;
	if (strncasecmp(t, "application/", 12) == 0)
		t += 12;
	return strcasecmp(t, "token-introspection+jwt") == 0;
}

static bool aud_ok(json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v) if (json_is_string(v) &&
					  strcmp(json_string_value(v), want) == 0) return true;
	return false;
}

/* Steps 4 to 6 on the verified payload. */
static enum ijwt_result check_claims(json_t *pl, const struct ijwt_rules *r, int64_t now,
				     int64_t leeway)
{
	json_t *iss = json_object_get(pl, "iss"), *iat = json_object_get(pl, "iat");
	json_t *exp = json_object_get(pl, "exp");
	int64_t age = r->max_age_s > 0 ? r->max_age_s : IJWT_MAX_AGE_DEFAULT_S;

	if (!json_is_string(iss) || strcmp(json_string_value(iss), r->issuer) != 0)
		return IJWT_ISSUER;
	if (!aud_ok(json_object_get(pl, "aud"), r->audience))
		return IJWT_AUDIENCE;
	if (!json_is_integer(iat) || (exp && !json_is_integer(exp)))
		return IJWT_MALFORMED;
	if (json_integer_value(iat) > now + leeway)
		return IJWT_IAT_FUTURE;
	if (json_integer_value(iat) < now - age - leeway)
		return IJWT_STALE;
	if (exp && json_integer_value(exp) <= now - leeway)
		return IJWT_STALE;
	return IJWT_OK;
}

/* Step 7: the inner answer, serialized again for the RFC 7662 parser (it
 * was read with duplicates refused; its depth is what the parser bounds). */
static enum ijwt_result unwrap(json_t *pl, const struct claim_map *map, struct claims **out,
			       struct err *e)
{
	json_t *ti = json_object_get(pl, "token_introspection");
	char *doc;
	int rc;

	if (!json_is_object(ti)) {
		err_set(e, 0, 0, "no token_introspection object");
		return IJWT_NO_INTROSPECTION;
	}
	if (!(doc = json_dumps(ti, JSON_COMPACT))) {
		err_set(e, 0, 0, "out of memory");
		return IJWT_BAD_INTROSPECTION;
	}
	rc = introspect_parse_mapped(doc, strlen(doc), map, out, e);
	explicit_bzero(doc, strlen(doc));
	free(doc);
	return rc == 0 ? IJWT_OK : IJWT_BAD_INTROSPECTION;
}

static enum ijwt_result from_jwt(enum jwt_result r)
{
	switch (r) {
	case JWT_OK:
		return IJWT_OK;
	case JWT_ALG_REFUSED:
		return IJWT_ALG_REFUSED;
	case JWT_UNKNOWN_KID:
		return IJWT_UNKNOWN_KID;
	case JWT_KEY_MISMATCH:
		return IJWT_KEY_MISMATCH;
	case JWT_BAD_SIGNATURE:
		return IJWT_BAD_SIGNATURE;
	default:
		return IJWT_MALFORMED;
	}
}

enum ijwt_result introspect_jwt_verify(const char *content_type, const char *body, size_t len,
				       const struct jwks *ks, const struct ijwt_rules *rules,
				       int64_t now, int64_t leeway_s, struct claims **out,
				       struct err *e)
{
	return introspect_jwt_verify_mapped(content_type, body, len, ks, rules, NULL, now, leeway_s,
					    out, e);
}

enum ijwt_result introspect_jwt_verify_mapped(const char *content_type, const char *body,
					      size_t len, const struct jwks *ks,
					      const struct ijwt_rules *rules,
					      const struct claim_map *map, int64_t now,
					      int64_t leeway_s, struct claims **out, struct err *e)
{
	json_t *hdr = NULL, *pl = NULL;
	enum ijwt_result r;

	*out = NULL;
	if (leeway_s < 0)
		leeway_s = 0;
	if (!ijwt_is_media_type(content_type)) {
		err_set(e, 0, 0, "not a signed answer (Content-Type is not %s)", IJWT_MEDIA_TYPE);
		return IJWT_NOT_SIGNED;
	}
	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || ows(body[len - 1])))
		len--;
	if (!len || len > INTROSPECT_MAX_BODY)
		r = IJWT_MALFORMED;
	else
		r = from_jwt(jwt_jws_verify(body, len, ks, rules->algs, &hdr, &pl));
	if (r == IJWT_OK && !typ_ok(json_object_get(hdr, "typ")))
		r = IJWT_TYP;
	if (r == IJWT_OK)
		r = check_claims(pl, rules, now, leeway_s);
	if (r == IJWT_OK)
		r = unwrap(pl, map, out, e);
	else
		err_set(e, 0, 0, "signed answer refused: %s", ijwt_result_name(r));
	json_decref(hdr);
	json_decref(pl);
	return r;
}

const char *ijwt_result_name(enum ijwt_result r)
{
	static const char *const names[IJWT_RESULT_COUNT] = {
	    [IJWT_OK] = "ok",
	    [IJWT_NOT_SIGNED] = "not_signed",
	    [IJWT_MALFORMED] = "malformed",
	    [IJWT_ALG_REFUSED] = "alg_refused",
	    [IJWT_UNKNOWN_KID] = "unknown_kid",
	    [IJWT_KEY_MISMATCH] = "key_mismatch",
	    [IJWT_BAD_SIGNATURE] = "bad_signature",
	    [IJWT_TYP] = "wrong_typ",
	    [IJWT_ISSUER] = "wrong_issuer",
	    [IJWT_AUDIENCE] = "wrong_audience",
	    [IJWT_IAT_FUTURE] = "iat_in_future",
	    [IJWT_STALE] = "stale",
	    [IJWT_NO_INTROSPECTION] = "no_token_introspection",
	    [IJWT_BAD_INTROSPECTION] = "bad_token_introspection",
	};

	if ((unsigned)r >= (unsigned)IJWT_RESULT_COUNT)
		return "unknown";
	return names[r];
}

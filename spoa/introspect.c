/* introspect.c - RFC 7662 request body and response parsing (see
 * introspect.h).
 *
 * The body is written through a cursor + end "sink" that records overflow
 * instead of failing at each call, so the caller stays linear and checks
 * once. Values are escaped by form.h, the agent's one form encoder. */
#include "introspect.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "claim_map.h"
#include "form.h"

/* ---------------------------------------------------------------------- */
/* Request body                                                           */

struct sink {
	char *p, *end; /* end leaves room for the NUL */
	bool full;
};

static void sink_init(struct sink *s, char *out, size_t outlen)
{
	s->p = out;
	s->end = outlen ? out + outlen - 1 : out;
	s->full = (outlen == 0);
}

static void sink_lit(struct sink *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->full || n > (size_t)(s->end - s->p)) {
		s->full = true;
		return;
	}
	memcpy(s->p, lit, n);
	s->p += n;
}

/* Appends the form encoding of <v> (form.h). */
static void sink_form(struct sink *s, struct slice v)
{
	size_t room = s->full ? 0 : (size_t)(s->end - s->p), n = form_encode(v, s->p, room);

	if (s->full || n > room) {
		s->full = true;
		return;
	}
	s->p += n;
}

/* Finishes <s>: returns the length written and NUL-terminates, or wipes
 * all <outlen> bytes of <out> and returns -1 on overflow. */
static ssize_t sink_finish(struct sink *s, char *out, size_t outlen)
{
	if (s->full) {
		if (outlen)
			explicit_bzero(out, outlen);
		return -1;
	}
	*s->p = '\0';
	return s->p - out;
}

ssize_t introspect_form_body(struct slice token, bool post_client_auth, const char *client_id,
			     const char *client_secret, char *out, size_t outlen)
{
	struct sink s;

	sink_init(&s, out, outlen);
	if (post_client_auth && !client_id)
		s.full = true;
	sink_lit(&s, "token=");
	sink_form(&s, token);
	sink_lit(&s, "&token_type_hint=access_token");
	if (post_client_auth && client_id) {
		sink_lit(&s, "&client_id=");
		sink_form(&s, slice_from(client_id, strlen(client_id)));
		if (client_secret) {
			sink_lit(&s, "&client_secret=");
			sink_form(&s, slice_from(client_secret, strlen(client_secret)));
		}
	}
	return sink_finish(&s, out, outlen);
}

/* ---------------------------------------------------------------------- */
/* Response parser                                                        */

/* jansson has no run-time depth limit (only a compile-time 2048), so measure
 * the nesting first. Brackets inside strings do not count. */
static bool depth_within(const char *p, size_t len, unsigned max)
{
	unsigned depth = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

/* A fixed message per jansson error: jansson's own text quotes the input
 * ("near '...'"), which could be a token or personal data. */
static const char *json_error_msg(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_invalid_utf8:
		return "invalid JSON: invalid UTF-8";
	case json_error_premature_end_of_input:
		return "invalid JSON: premature end of input";
	case json_error_end_of_input_expected:
		return "invalid JSON: data after the value";
	case json_error_wrong_type:
		return "invalid JSON: not an object";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "invalid JSON: \\u0000 in a string";
	case json_error_duplicate_key:
		return "invalid JSON: duplicate object key";
	case json_error_numeric_overflow:
		return "invalid JSON: number out of range";
	case json_error_stack_overflow:
		return "invalid JSON: nested too deep";
	default:
		return "invalid JSON: syntax error";
	}
}

enum { F_SCOPE, F_CLIENT_ID, F_SUB, F_USERNAME, F_ISS, F_TOKEN_USE, F_NSTR };

static const char *const str_names[F_NSTR] = {
    [F_SCOPE] = "scope", [F_CLIENT_ID] = "client_id", [F_SUB] = "sub", [F_USERNAME] = "username",
    [F_ISS] = "iss",	 [F_TOKEN_USE] = "token_use",
};

static const char *const int_names[3] = {"exp", "nbf", "iat"};

/* What pass 1 found; pass 2 copies it into one block. */
struct found {
	json_t *str[F_NSTR]; /* NULL when absent */
	json_t *ints[3];
	json_t *aud; /* string, array or NULL */
	size_t n_aud;
	size_t strbytes; /* sum of (length + 1) of every string copied */
};

/* Returns the member <name> of <root>, or NULL when absent or JSON null. */
static json_t *member(json_t *root, const char *name)
{
	json_t *v = json_object_get(root, name);

	return json_is_null(v) ? NULL : v;
}

static int add_str(struct found *f, json_t *v, const char *name, struct err *e)
{
	size_t n = json_string_length(v);

	if (n > INTROSPECT_MAX_STR_LEN)
		return err_set(e, 0, 0, "introspection member \"%s\" longer than %u bytes", name,
			       INTROSPECT_MAX_STR_LEN);
	f->strbytes += n + 1;
	return 0;
}

static int check_members(json_t *root, struct found *f, struct err *e)
{
	json_t *v;

	for (int i = 0; i < F_NSTR; i++) {
		v = member(root, str_names[i]);
		if (!v)
			continue;
		if (!json_is_string(v))
			return err_set(e, 0, 0, "introspection member \"%s\" is not a string",
				       str_names[i]);
		if (add_str(f, v, str_names[i], e))
			return -1;
		f->str[i] = v;
	}
	for (int i = 0; i < 3; i++) {
		v = member(root, int_names[i]);
		if (v && !json_is_integer(v))
			return err_set(e, 0, 0, "introspection member \"%s\" is not an integer",
				       int_names[i]);
		f->ints[i] = v;
	}
	v = member(root, "aud");
	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (add_str(f, v, "aud", e))
			return -1;
		f->n_aud = 1;
	} else if (json_is_array(v)) {
		size_t i;
		json_t *a;

		if (json_array_size(v) > INTROSPECT_MAX_AUD)
			return err_set(e, 0, 0,
				       "introspection member \"aud\" has more than %u entries",
				       INTROSPECT_MAX_AUD);
		json_array_foreach(v, i, a)
		{
			if (!json_is_string(a))
				return err_set(
				    e, 0, 0, "introspection member \"aud\" has a non-string entry");
			if (add_str(f, a, "aud", e))
				return -1;
		}
		f->n_aud = json_array_size(v);
	} else {
		return err_set(e, 0, 0,
			       "introspection member \"aud\" is neither a string nor an array");
	}
	f->aud = v;
	return 0;
}

/* Whether a "typ" (Keycloak) or "token_type" (RFC 7662) value names a bearer
 * access token, ignoring case. An allow-list, not a deny-list: Keycloak alone
 * has Refresh, Offline, ID, Logout, Serialized-ID and DPoP, and a kind we
 * have never heard of must not pass as an access token. */
static bool names_bearer_access(json_t *v)
{
	static const char *const kinds[] = {"bearer", "at+jwt", "application/at+jwt"};
	const char *s = json_string_value(v);

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcasecmp(s, kinds[i]) == 0) /* no \u0000 inside: refused earlier */
			return true;
	return false;
}

/* Sets *other when the IdP says the token is not a bearer access token:
 * Hydra's "token_use" other than "access_token" (it answers "refresh_token"
 * for a refresh token, active true), a "typ"/"token_type" that is not a
 * bearer access token's, or a "cnf" member (RFC 7800: the token is bound to a
 * key, DPoP or mTLS, whose proof this agent cannot check, so a stolen copy
 * must not work as a bearer token). A "typ" or "token_type" that is not a
 * string is an error. */
static int token_kind(json_t *root, const struct found *f, bool *other, struct err *e)
{
	static const char *const names[] = {"typ", "token_type"};

	*other = f->str[F_TOKEN_USE] &&
		 strcmp(json_string_value(f->str[F_TOKEN_USE]), "access_token") != 0;
	if (member(root, "cnf"))
		*other = true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *v = member(root, names[i]);

		if (!v)
			continue;
		if (!json_is_string(v))
			return err_set(e, 0, 0, "introspection member \"%s\" is not a string",
				       names[i]);
		if (!names_bearer_access(v))
			*other = true;
	}
	return 0;
}

/* Copies the string <v> to *cur and advances it; returns the copy. */
static const char *copy_str(char **cur, json_t *v)
{
	size_t n = json_string_length(v);
	char *dst = *cur;

	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	*cur += n + 1;
	return dst;
}

static struct claims *build(const struct found *f, bool other_kind)
{
	const size_t ptrs = f->n_aud * sizeof(const char *);
	struct claims *c = claims_new(ptrs + f->strbytes);
	const char **aud;
	char *cur;
	const char **dst[F_NSTR];
	bool *has[3];
	int64_t *val[3];

	if (!c)
		return NULL;
	c->active = true;
	c->not_access_token = other_kind;
	aud = (const char **)(void *)(c + 1);
	cur = (char *)(c + 1) + ptrs;

	dst[F_SCOPE] = &c->scope;
	dst[F_CLIENT_ID] = &c->client_id;
	dst[F_SUB] = &c->sub;
	dst[F_USERNAME] = &c->username;
	dst[F_ISS] = &c->iss;
	dst[F_TOKEN_USE] = &c->token_use;
	for (int i = 0; i < F_NSTR; i++)
		if (f->str[i])
			*dst[i] = copy_str(&cur, f->str[i]);

	has[0] = &c->has_exp, has[1] = &c->has_nbf, has[2] = &c->has_iat;
	val[0] = &c->exp, val[1] = &c->nbf, val[2] = &c->iat;
	for (int i = 0; i < 3; i++) {
		if (f->ints[i]) {
			*has[i] = true;
			*val[i] = (int64_t)json_integer_value(f->ints[i]);
		}
	}

	if (f->n_aud > 0) {
		if (json_is_string(f->aud)) {
			aud[0] = copy_str(&cur, f->aud);
		} else {
			for (size_t i = 0; i < f->n_aud; i++)
				aud[i] = copy_str(&cur, json_array_get(f->aud, i));
		}
		c->aud = aud;
		c->n_aud = f->n_aud;
	}
	return c;
}

int introspect_parse_response(const char *body, size_t len, struct claims **out, struct err *e)
{
	return introspect_parse_mapped(body, len, NULL, out, e);
}

int introspect_parse_mapped(const char *body, size_t len, const struct claim_map *map,
			    struct claims **out, struct err *e)
{
	json_error_t je;
	json_t *root, *active;
	struct found f = {0};
	struct claims *c = NULL;
	int ret = -1;

	*out = NULL;
	if (!body)
		return err_set(e, 0, 0, "introspection response is empty");
	if (len > INTROSPECT_MAX_BODY)
		return err_set(e, 0, 0, "introspection response larger than %u bytes",
			       INTROSPECT_MAX_BODY);
	if (!depth_within(body, len, INTROSPECT_MAX_DEPTH))
		return err_set(e, 0, 0, "introspection response nested deeper than %u",
			       INTROSPECT_MAX_DEPTH);

	/* jansson leaves the error code unset when an early allocation fails. */
	memset(&je, 0, sizeof(je));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return err_set(e, je.line > 0 ? je.line : 0, je.column > 0 ? je.column : 0, "%s",
			       json_error_msg(&je));
	if (!json_is_object(root)) {
		err_set(e, 0, 0, "introspection response is not a JSON object");
		goto out;
	}
	active = json_object_get(root, "active");
	if (!active) {
		err_set(e, 0, 0, "introspection member \"active\" is missing");
		goto out;
	}
	if (!json_is_boolean(active)) {
		err_set(e, 0, 0, "introspection member \"active\" is not a boolean");
		goto out;
	}
	if (json_is_false(active)) {
		c = claims_new(0);
	} else {
		bool other_kind = false;

		if (check_members(root, &f, e) || token_kind(root, &f, &other_kind, e))
			goto out;
		c = build(&f, other_kind);
		if (c && claim_map_apply(map, root, c) < 0) {
			claims_unref(c);
			c = NULL;
		}
	}
	if (!c) {
		err_set(e, 0, 0, "out of memory");
		goto out;
	}
	*out = c;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

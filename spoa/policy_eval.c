/* policy_eval.c - choosing the policies that apply to a request and checking
 * introspection claims against one. Read-only on the set, no allocation. */
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ascii.h"
#include "path.h"
#include "policy.h"
#include "policy_int.h"

/* ---- route labels ---------------------------------------------------- */

static bool is_blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t';
}

static struct slice trim(struct slice s)
{
	while (s.len && is_blank(s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len && is_blank(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

/* True when the request's route string holds the pair key=value. Items are
 * split at ',', a bare item means route=<item>. When a key appears several
 * times any occurrence may satisfy the selector: a request that looks like two
 * routes gets the policies of both, never fewer. */
static bool route_has(struct slice route, const struct label *l)
{
	const uint8_t *p, *end;

	if (!route.len)
		return false; /* also a NULL slice: NULL + 0 is undefined */
	p = route.ptr;
	end = route.ptr + route.len;
	while (p < end) {
		const uint8_t *comma = memchr(p, ',', (size_t)(end - p));
		size_t ilen = comma ? (size_t)(comma - p) : (size_t)(end - p);
		struct slice item = trim(slice_from(p, ilen));
		struct slice key, val;
		const uint8_t *eq;

		p += ilen + (comma ? 1 : 0);
		if (!item.len)
			continue;
		eq = memchr(item.ptr, '=', item.len);
		if (eq) {
			key = trim(slice_from(item.ptr, (size_t)(eq - item.ptr)));
			val = trim(slice_from(eq + 1, item.len - (size_t)(eq - item.ptr) - 1));
		} else {
			key = SLICE_LIT("route");
			val = item;
		}
		if (slice_eq_str(key, l->key) && slice_eq_str(val, l->value))
			return true;
	}
	return false;
}

/* ---- hosts ----------------------------------------------------------- */

static bool eq_nocase(const uint8_t *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (ascii_lower(a[i]) != (uint8_t)b[i])
			return false;
	return true;
}

/* Drops a ":port" suffix (after "]" for an IPv6 literal) and one trailing dot. */
static struct slice host_only(struct slice h)
{
	const uint8_t *cut;

	if (!h.len)
		return h;
	if (h.ptr[0] == '[') {
		cut = memchr(h.ptr, ']', h.len);
		if (cut)
			h.len = (size_t)(cut - h.ptr) + 1;
	} else {
		cut = memchr(h.ptr, ':', h.len);
		if (cut)
			h.len = (size_t)(cut - h.ptr);
	}
	if (h.len > 1 && h.ptr[h.len - 1] == '.')
		h.len--;
	return h;
}

/* <pat> is lower case: "example.com" matches itself only; "*.example.com"
 * matches "a.example.com" and "a.b.example.com" but not "example.com". */
static bool host_matches(struct slice host, const char *pat)
{
	size_t plen = strlen(pat);

	if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
		size_t slen = plen - 1; /* ".example.com" */
		return host.len > slen && eq_nocase(host.ptr + host.len - slen, pat + 1, slen);
	}
	return host.len == plen && eq_nocase(host.ptr, pat, plen);
}

/* ---- selectors ------------------------------------------------------- */

static bool path_matches(const struct selector *s, struct slice path)
{
	size_t plen;
	regmatch_t m[1];

	switch (s->path_kind) {
	case PATH_ANY:
		return true;
	case PATH_EXACT:
		return slice_eq_str(path, s->path);
	case PATH_PREFIX:
		plen = strlen(s->path);
		return path.len >= plen && memcmp(path.ptr, s->path, plen) == 0;
	case PATH_REGEX:
		if (!path.len)
			return false;
		/* REG_STARTEND: the path is a slice, not a C string. glibc's
		 * regexec() is safe to call concurrently on one regex_t. */
		m[0].rm_so = 0;
		m[0].rm_eo = (regoff_t)path.len;
		return regexec(&s->re, (const char *)path.ptr, 1, m, REG_STARTEND) == 0;
	}
	return false;
}

static bool selector_matches(const struct selector *s, const struct policy_request *req)
{
	size_t i;
	bool hit;

	for (i = 0; i < s->n_labels; i++)
		if (!route_has(req->route, &s->labels[i]))
			return false;
	if (!path_matches(s, req->path))
		return false;
	if (s->hosts.n) {
		struct slice host = host_only(req->host);

		for (hit = false, i = 0; !hit && i < s->hosts.n; i++)
			hit = host_matches(host, s->hosts.v[i]);
		if (!hit)
			return false;
	}
	if (s->methods.n) {
		for (hit = false, i = 0; !hit && i < s->methods.n; i++)
			hit = slice_eq_str(req->method, s->methods.v[i]);
		if (!hit)
			return false;
	}
	return true;
}

static bool policy_applies(const struct policy *p, const struct policy_request *req)
{
	if (!p->n_selectors)
		return true;
	for (size_t i = 0; i < p->n_selectors; i++)
		if (selector_matches(&p->selectors[i], req))
			return true;
	return false;
}

size_t policy_set_match(const struct policy_set *set, const struct policy_request *req,
			const struct policy **out, size_t max)
{
	static const struct policy_request none;
	size_t n = 0;

	if (!set)
		return 0;
	if (!req)
		req = &none;
	for (size_t i = 0; i < set->n; i++) {
		if (!policy_applies(set->v[i], req))
			continue;
		if (n < max)
			out[n] = set->v[i];
		n++;
	}
	return n;
}

/* Both refusals come before matching: a non-canonical path may be labelled
 * or selected differently from what the application serves, and without
 * the route argument a label selector could miss. */
enum authz_reason policy_request_check(const struct policy_set *set,
				       const struct policy_request *req)
{
	if (!req || !path_is_canonical(req->path))
		return AUTHZ_PATH_NOT_CANONICAL;
	if (!req->route.ptr && set && set->route_labels)
		return AUTHZ_ROUTE_UNKNOWN;
	return AUTHZ_OK;
}

/* ---- claims ---------------------------------------------------------- */

/* Calls <fn> on each space-separated token of <scope> until it returns true. */
static bool scope_any_token(const char *scope, bool (*fn)(struct slice tok, const void *arg),
			    const void *arg)
{
	const char *p = scope ? scope : "";

	while (*p) {
		size_t len;

		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if (len && fn(slice_from(p, len), arg))
			return true;
		p += len;
	}
	return false;
}

static bool tok_equals(struct slice tok, const void *arg)
{
	return slice_eq_str(tok, arg);
}

struct hier_arg {
	const char *required;
	char sep;
};

/* A granted scope satisfies a required one when it is equal to it, or is one
 * of its ancestors: "a" and "a:b" satisfy "a:b:c". The granted text must end
 * exactly at a separator of the required one, so "rea" does not satisfy
 * "read:x" and "read:admin" does not satisfy "read". */
static bool tok_covers(struct slice tok, const void *arg)
{
	const struct hier_arg *h = arg;
	size_t rlen = strlen(h->required);

	if (tok.len > rlen || memcmp(tok.ptr, h->required, tok.len) != 0)
		return false;
	return tok.len == rlen || h->required[tok.len] == h->sep;
}

static bool scopes_ok(const struct policy *p, const char *granted)
{
	size_t i;

	switch (p->scope_match) {
	case SCOPE_ANY:
		for (i = 0; i < p->scopes.n; i++)
			if (scope_any_token(granted, tok_equals, p->scopes.v[i]))
				return true;
		return false;
	case SCOPE_HIERARCHIC:
		for (i = 0; i < p->scopes.n; i++) {
			struct hier_arg h = {p->scopes.v[i], p->scope_sep};

			if (!scope_any_token(granted, tok_covers, &h))
				return false;
		}
		return true;
	case SCOPE_ALL:
		break;
	}
	for (i = 0; i < p->scopes.n; i++)
		if (!scope_any_token(granted, tok_equals, p->scopes.v[i]))
			return false;
	return true;
}

static bool aud_has(const struct claims *c, const char *want)
{
	for (size_t i = 0; i < c->n_aud; i++)
		if (c->aud[i] && strcmp(c->aud[i], want) == 0)
			return true;
	return false;
}

static bool audiences_ok(const struct policy *p, const struct claims *c)
{
	size_t i;

	if (p->aud_match == AUD_ALL) {
		for (i = 0; i < p->audiences.n; i++)
			if (!aud_has(c, p->audiences.v[i]))
				return false;
		return true;
	}
	for (i = 0; i < p->audiences.n; i++)
		if (aud_has(c, p->audiences.v[i]))
			return true;
	return false;
}

static bool issuer_ok(const struct policy *p, const char *iss)
{
	if (!iss)
		return false;
	for (size_t i = 0; i < p->issuers.n; i++)
		if (strcmp(p->issuers.v[i], iss) == 0)
			return true;
	return false;
}

/* Saturating, so that an absurd <now> cannot wrap the comparisons. */
static int64_t sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	return a < INT64_MIN + b ? INT64_MIN : a - b;
}

enum authz_reason policy_check(const struct policy *p, const struct claims *c, int64_t now,
			       int64_t leeway_s)
{
	if (leeway_s < 0)
		leeway_s = 0;
	if (!c || !c->active)
		return AUTHZ_INACTIVE_TOKEN;
	/* Hydra and Keycloak report refresh (and Keycloak ID) tokens as active:
	 * the parser marks every token its IdP says is not an access token. */
	if (c->not_access_token)
		return AUTHZ_NOT_ACCESS_TOKEN;
	if (c->has_exp &&
	    c->exp <= sat_sub(now, leeway_s)) /* RFC 7519 4.1.4: not on or after exp */
		return AUTHZ_INACTIVE_TOKEN;
	if (c->has_nbf && c->nbf > sat_add(now, leeway_s))
		return AUTHZ_INACTIVE_TOKEN;
	if (p->issuers.n && !issuer_ok(p, c->iss))
		return AUTHZ_ISSUER_MISMATCH;
	if (p->audiences.n && !audiences_ok(p, c))
		return AUTHZ_AUDIENCE_MISMATCH;
	if (p->scopes.n && !scopes_ok(p, c->scope))
		return AUTHZ_INSUFFICIENT_SCOPE;
	return AUTHZ_OK;
}

/* ---- accessors ------------------------------------------------------- */

size_t policy_set_count(const struct policy_set *set)
{
	return set ? set->n : 0;
}

const struct policy *policy_set_get(const struct policy_set *set, size_t i)
{
	return set && i < set->n ? set->v[i] : NULL;
}

size_t policy_index(const struct policy *p)
{
	return p->index;
}

bool policy_is_shadow(const struct policy *p)
{
	return p->shadow;
}

const char *policy_name(const struct policy *p)
{
	return p->name;
}

const char *policy_file(const struct policy *p)
{
	return p->file;
}

int policy_line(const struct policy *p)
{
	return p->line;
}

bool policy_is_public(const struct policy *p)
{
	return p->public_route;
}

const struct policy_introspection *policy_introspection(const struct policy *p)
{
	return p->public_route || !p->url ? NULL : &p->intro;
}

const char *policy_userinfo_url(const struct policy *p)
{
	return p->public_route ? NULL : p->userinfo_url;
}

const struct policy_jwt *policy_jwt(const struct policy *p)
{
	return p->jwt.keys || p->jwt.remote_url ? &p->jwt : NULL;
}

int64_t policy_cache_timeout_ms(const struct policy *p)
{
	return p->cache_ms;
}

int64_t policy_negative_cache_timeout_ms(const struct policy *p)
{
	return p->neg_cache_ms;
}

int64_t policy_stale_if_error_ms(const struct policy *p)
{
	return p->stale_ms;
}

const char *policy_required_scopes(const struct policy *p)
{
	return p->scopes_joined;
}

const char *policy_auth_method_name(enum policy_auth_method m)
{
	switch (m) {
	case POLICY_AUTH_NONE:
		return "none";
	case POLICY_AUTH_CLIENT_SECRET_BASIC:
		return "client_secret_basic";
	case POLICY_AUTH_CLIENT_SECRET_POST:
		return "client_secret_post";
	}
	return "unknown";
}

/* bearer.c - RFC 6750 bearer token extraction (see bearer.h). */
#include "bearer.h"

#include <stdbool.h>
#include <stdint.h>

#include "ascii.h"

/* RFC 6750 b64token: ALPHA DIGIT "-" "." "_" "~" "+" "/". A table, because
 * this test runs on every byte of every token. */
#define ONE(c) [(c)] = 1
#define TEN(c)                                                                                     \
	ONE(c), ONE(c + 1), ONE(c + 2), ONE(c + 3), ONE(c + 4), ONE(c + 5), ONE(c + 6),            \
	    ONE(c + 7), ONE(c + 8), ONE(c + 9)
#define LETTERS(c)                                                                                 \
	TEN(c), TEN(c + 10), ONE(c + 20), ONE(c + 21), ONE(c + 22), ONE(c + 23), ONE(c + 24),      \
	    ONE(c + 25)
static const bool b64token_char[256] = {
    TEN('0'), LETTERS('A'), LETTERS('a'), ONE('-'), ONE('.'),
    ONE('_'), ONE('~'),	    ONE('+'),	  ONE('/'),
};

static bool is_b64token_char(uint8_t c)
{
	return b64token_char[c];
}

/* True when [p, p+len) starts with the scheme "bearer" (any case) followed by
 * the end of the input or a whitespace byte, so "Bearerx" is another scheme. */
static bool starts_with_bearer_scheme(const uint8_t *p, size_t len)
{
	static const char scheme[] = "bearer";
	const size_t n = sizeof(scheme) - 1;

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(p[i]) != (uint8_t)scheme[i])
			return false;
	return len == n || ascii_is_ows(p[n]);
}

/* True when some element after a "," starts with the Bearer scheme. */
static bool later_element_is_bearer(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != ',')
			continue;
		size_t j = i + 1;
		while (j < len && ascii_is_ows(p[j]))
			j++;
		if (starts_with_bearer_scheme(p + j, len - j))
			return true;
	}
	return false;
}

enum bearer_result bearer_parse(struct slice authorization, size_t max_len, struct slice *token)
{
	const uint8_t *p = authorization.ptr;
	size_t len = authorization.len;
	size_t i, tok_start, tok_len;

	*token = SLICE_NULL;
	if (!p || len == 0)
		return BEARER_MISSING;
	if (max_len == 0)
		max_len = BEARER_DEFAULT_MAX_LEN;

	/* Strip OWS at both ends, as an HTTP field-value parser does. */
	while (len > 0 && ascii_is_ows(p[0])) {
		p++;
		len--;
	}
	while (len > 0 && ascii_is_ows(p[len - 1]))
		len--;
	if (len == 0)
		return BEARER_MISSING;

	if (!starts_with_bearer_scheme(p, len))
		return later_element_is_bearer(p, len) ? BEARER_MALFORMED : BEARER_MISSING;

	/* After trimming, "Bearer" alone has no token; the byte after the scheme
	 * is whitespace otherwise, and it must be SP (RFC 9110: 1*SP). */
	i = 6;
	if (i == len || p[i] != ' ')
		return BEARER_MALFORMED;
	while (i < len && p[i] == ' ')
		i++;

	tok_start = i;
	while (i < len && is_b64token_char(p[i]))
		i++;
	if (i == tok_start)
		return BEARER_MALFORMED; /* "=" first, or any non-b64token byte */
	while (i < len && p[i] == '=')
		i++;
	if (i != len)
		return BEARER_MALFORMED; /* second token, comma, NUL, non-ASCII, ... */

	tok_len = len - tok_start;
	if (tok_len > max_len)
		return BEARER_TOO_LONG;
	*token = slice_from(p + tok_start, tok_len);
	return BEARER_OK;
}

const char *bearer_strerror(int result)
{
	switch (result) {
	case BEARER_OK:
		return "ok";
	case BEARER_MISSING:
		return "missing";
	case BEARER_MALFORMED:
		return "malformed";
	case BEARER_TOO_LONG:
		return "too long";
	default:
		return "unknown";
	}
}

/* test_bearer.c - RFC 6750 Authorization header parsing. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bearer.h"
#include "tap.h"

/* Inputs are copied to the end of a readable region followed by a PROT_NONE
 * page, so any over-read faults. */
static uint8_t *guard_base;
static size_t guard_len;

static const uint8_t *at_guard(const void *p, size_t len)
{
	if (!guard_base) {
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);

		guard_len = 4 * pg;
		guard_base = mmap(NULL, guard_len + pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED || mprotect(guard_base + guard_len, pg, PROT_NONE))
			abort();
	}
	if (len > guard_len)
		return p; /* the long-token cases: ASan covers them */
	memcpy(guard_base + guard_len - len, p, len);
	return guard_base + guard_len - len;
}

/* Parses <hdr> (length <len>) and checks the result and, on OK, the token. */
static void check_n(const char *hdr, size_t len, size_t max, enum bearer_result want,
		    const char *want_tok, const char *what)
{
	struct slice tok = {(const uint8_t *)"x", 1};
	enum bearer_result r = bearer_parse(slice_from(at_guard(hdr, len), len), max, &tok);

	is_int(r, want, what);
	if (want == BEARER_OK)
		is_mem(tok.ptr, tok.len, want_tok, strlen(want_tok), what);
	else
		ok(tok.ptr == NULL && tok.len == 0, what);
}

static void check(const char *hdr, enum bearer_result want, const char *want_tok, const char *what)
{
	check_n(hdr, strlen(hdr), 0, want, want_tok, what);
}

/* Every byte value as a one-byte token: exactly the RFC 6750 b64token
 * characters parse ("=" only as trailing padding, so alone it is malformed). */
static void check_every_byte(void)
{
	int wrong = 0;

	for (int c = 0; c < 256; c++) {
		char hdr[8] = "Bearer ";
		struct slice tok;
		/* c != 0: strchr() finds the terminating NUL */
		bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || (c != 0 && strchr("-._~+/", c) != NULL);
		/* Not b64: malformed, and so is "Bearer" + OWS (trimmed: no token). */
		enum bearer_result want = b64 ? BEARER_OK : BEARER_MALFORMED;
		hdr[7] = (char)c;
		if (bearer_parse(slice_from(at_guard(hdr, 8), 8), 0, &tok) != want ||
		    (want == BEARER_OK && (tok.len != 1 || tok.ptr[0] != c))) {
			printf("# byte 0x%02x: wrong result\n", c);
			wrong++;
		}
	}
	ok(wrong == 0, "every byte value: only b64token characters form a token");
}

int main(void)
{
	struct slice tok;

	check_every_byte();

	/* OK */
	check("Bearer abc", BEARER_OK, "abc", "plain");
	check("bearer abc", BEARER_OK, "abc", "lower-case scheme");
	check("BEARER abc", BEARER_OK, "abc", "upper-case scheme");
	check("bEaReR abc", BEARER_OK, "abc", "mixed-case scheme");
	check("Bearer    abc", BEARER_OK, "abc", "several spaces");
	check("  Bearer abc  ", BEARER_OK, "abc", "leading/trailing SP stripped");
	check("\tBearer abc\t", BEARER_OK, "abc", "leading/trailing HTAB stripped");
	check("Bearer ory_at_Ab-9._~+/xyz.SIG==", BEARER_OK,
	      "ory_at_Ab-9._~+/xyz.SIG==", "hydra v2 token with every b64token char");
	check("Bearer a=", BEARER_OK, "a=", "one trailing =");
	check("Bearer a===", BEARER_OK, "a===", "several trailing =");
	check("Bearer x", BEARER_OK, "x", "one-byte token");

	/* MISSING */
	ok(bearer_parse(SLICE_NULL, 0, &tok) == BEARER_MISSING, "NULL header");
	ok(tok.ptr == NULL && tok.len == 0, "NULL header clears token");
	ok(bearer_parse(slice_from("", 0), 0, &tok) == BEARER_MISSING, "empty header");
	check("   ", BEARER_MISSING, NULL, "only spaces");
	check("Basic dXNlcjpwYXNz", BEARER_MISSING, NULL, "Basic");
	check("Digest username=\"a\", realm=\"b\"", BEARER_MISSING, NULL, "Digest with commas");
	check("Bearerabc", BEARER_MISSING, NULL, "Bearerabc is another scheme");
	check("Bear abc", BEARER_MISSING, NULL, "short scheme");
	check("abc", BEARER_MISSING, NULL, "bare token");
	check("Basic\xff\x80", BEARER_MISSING, NULL, "non-ASCII in a Basic header");
	check("Basic x, Bearerx y", BEARER_MISSING, NULL, "later Bearerx is not Bearer");

	/* MALFORMED */
	check("Bearer", BEARER_MALFORMED, NULL, "scheme only");
	check("Bearer ", BEARER_MALFORMED, NULL, "scheme and SP");
	check("Bearer    ", BEARER_MALFORMED, NULL, "scheme and spaces");
	check("Bearer\tabc", BEARER_MALFORMED, NULL, "HTAB separator");
	check("Bearer a b", BEARER_MALFORMED, NULL, "two tokens");
	check("Bearer a\tb", BEARER_MALFORMED, NULL, "HTAB inside");
	check("Bearer a,Bearer b", BEARER_MALFORMED, NULL, "two Bearer headers joined");
	check("Bearer a, Bearer b", BEARER_MALFORMED, NULL, "two Bearer headers joined, OWS");
	check("Bearer a,", BEARER_MALFORMED, NULL, "trailing comma");
	check("Basic x, Bearer y", BEARER_MALFORMED, NULL, "Basic then Bearer header");
	check("Basic x,bearer", BEARER_MALFORMED, NULL, "Basic then empty bearer header");
	check("Bearer =abc", BEARER_MALFORMED, NULL, "= first");
	check("Bearer a=b", BEARER_MALFORMED, NULL, "= in the middle");
	check("Bearer a=b=", BEARER_MALFORMED, NULL, "= in the middle, = at end");
	check("Bearer ab\"c", BEARER_MALFORMED, NULL, "quote");
	check("Bearer abc%", BEARER_MALFORMED, NULL, "percent");
	check("Bearer ab;c", BEARER_MALFORMED, NULL, "semicolon");
	check("Bearer t\xc3\xa9st", BEARER_MALFORMED, NULL, "non-ASCII UTF-8");
	check("Bearer \x80", BEARER_MALFORMED, NULL, "high byte");
	check("Bearer a\r\nb", BEARER_MALFORMED, NULL, "CRLF");
	check("Bearer a\x7f", BEARER_MALFORMED, NULL, "DEL");
	check_n("Bearer ab\0c", 11, 0, BEARER_MALFORMED, NULL, "NUL inside");
	check_n("Bearer abc\0", 11, 0, BEARER_MALFORMED, NULL, "NUL at end");
	check_n("\0Bearer abc", 11, 0, BEARER_MISSING, NULL, "NUL first: not a Bearer scheme");

	/* The length cap (explicit and default). */
	check_n("Bearer abcd", 11, 4, BEARER_OK, "abcd", "token == max_len");
	check_n("Bearer abcde", 12, 4, BEARER_TOO_LONG, NULL, "token > max_len: too long");
	check_n("Bearer abcd=", 12, 4, BEARER_TOO_LONG, NULL, "padding counts in the length");
	check_n("Bearer abc;de", 13, 4, BEARER_MALFORMED, NULL, "long and malformed: malformed");
	check_n("Bearer abcde x", 14, 4, BEARER_MALFORMED, NULL, "long, then a second token");
	{
		size_t n = 7 + BEARER_DEFAULT_MAX_LEN + 1;
		char *h = malloc(n + 1);

		memcpy(h, "Bearer ", 7);
		memset(h + 7, 'a', n - 7);
		h[n] = '\0';
		is_int(BEARER_DEFAULT_MAX_LEN, 16384, "default cap is 16 KiB");
		check_n(h, n, 0, BEARER_TOO_LONG, NULL, "default cap: 16385 too long");
		h[n - 1] = '\0';
		check_n(h, n - 1, 0, BEARER_OK, h + 7, "default cap: 16384 accepted");
		free(h);
	}

	/* Token is borrowed from the input, and the input is never over-read:
	 * the length excludes the rest of the buffer. */
	{
		const char buf[] = "Bearer abcXYZ";
		struct slice in = slice_from(buf, 10);

		ok(bearer_parse(in, 0, &tok) == BEARER_OK && tok.len == 3 &&
		       tok.ptr == (const uint8_t *)buf + 7,
		   "token points into the input, length respected");
	}
	/* Every truncation of a valid header: never OK with a wrong token. */
	{
		const char *h = "Bearer abc=";

		for (size_t n = 0; n <= strlen(h); n++) {
			char *copy = malloc(n ? n : 1);
			enum bearer_result r;

			memcpy(copy, h, n);
			r = bearer_parse(slice_from(copy, n), 0, &tok);
			if (n <= 7)
				ok(r == (n == 0		    ? BEARER_MISSING
					 : n == 6 || n == 7 ? BEARER_MALFORMED
							    : BEARER_MISSING),
				   "truncated prefix");
			else
				ok(r == BEARER_OK && tok.len == n - 7, "truncated token");
			free(copy);
		}
	}

	is_str(bearer_strerror(BEARER_OK), "ok", "strerror ok");
	is_str(bearer_strerror(BEARER_MISSING), "missing", "strerror missing");
	is_str(bearer_strerror(BEARER_MALFORMED), "malformed", "strerror malformed");
	is_str(bearer_strerror(BEARER_TOO_LONG), "too long", "strerror too long");
	is_str(bearer_strerror(42), "unknown", "strerror unknown");
	return done_testing("bearer");
}

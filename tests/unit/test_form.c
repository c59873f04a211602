/* test_form.c - application/x-www-form-urlencoded (WHATWG) and the
 * client_secret_basic value built from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "tap.h"

/* Encodes <len> bytes of <in> into a fresh NUL-terminated string. */
static const char *enc(const char *in, size_t len)
{
	static char out[1024];
	size_t n = form_encode(slice_from(in, len), out, sizeof(out) - 1);

	if (n > sizeof(out) - 1)
		return "(overflow)";
	out[n] = '\0';
	return out;
}

#define ENC(lit) enc((lit), sizeof(lit) - 1)

static void test_vectors(void)
{
	is_str(ENC(""), "", "empty");
	is_str(ENC("AZaz09"), "AZaz09", "alphanumerics kept");
	is_str(ENC("*-._"), "*-._", "* - . _ kept (WHATWG set)");
	is_str(ENC("~"), "%7E", "~ escaped (not in the WHATWG set)");
	is_str(ENC(" "), "+", "space is +");
	is_str(ENC("a b  c"), "a+b++c", "every space is +");
	is_str(ENC("+"), "%2B", "+ escaped, so it cannot read as a space");
	is_str(ENC("%"), "%25", "%");
	is_str(ENC("&"), "%26", "&");
	is_str(ENC("="), "%3D", "=");
	is_str(ENC("/?#:@"), "%2F%3F%23%3A%40", "URL delimiters");
	is_str(ENC("\xc3\xa9"), "%C3%A9", "UTF-8 bytes, upper-case hex");
	/* RFC 6749 Appendix B's own example. */
	is_str(ENC(" %&+\xc2\xa3\xe2\x82\xac"), "+%25%26%2B%C2%A3%E2%82%AC", "RFC 6749 App. B");
	is_str(enc("a\0b", 3), "a%00b", "NUL byte");
	is_str(ENC("\x7f\xff"), "%7F%FF", "DEL and 0xFF");
	is_str(ENC("ory_at_Ab-9.x+/=="), "ory_at_Ab-9.x%2B%2F%3D%3D", "a token's + / =");
}

static void test_all_bytes(void)
{
	uint8_t in[256];
	char *out = malloc(3 * 256);
	size_t n, kept = 0;

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	n = form_encode(slice_from(in, sizeof(in)), out, 3 * 256);
	/* 62 alphanumerics, 4 of "*-._" and the space are one byte each. */
	is_int(n, 67 + 3 * (256 - 67), "all 256 bytes: length");
	for (size_t i = 0; i < n; i += out[i] == '%' ? 3 : 1)
		kept += out[i] != '%';
	is_int(kept, 67, "all 256 bytes: 67 not escaped");
	ok(memcmp(out, "%00%01", 6) == 0 && memcmp(out + n - 3, "%FF", 3) == 0,
	   "all 256 bytes: first and last");
	free(out);
}

static void test_fit(void)
{
	char out[8];

	memset(out, 'x', sizeof(out));
	is_int(form_encode(SLICE_LIT("a b~"), out, 6), 6, "exact fit: length");
	ok(memcmp(out, "a+b%7Ex", 7) == 0, "exact fit: written, no NUL");
	memset(out, 'x', sizeof(out));
	is_int(form_encode(SLICE_LIT("a b~"), out, 5), 6, "one short: needed length");
	ok(out[0] == 'x' && out[4] == 'x', "one short: nothing written");
	is_int(form_encode(SLICE_NULL, out, 0), 0, "empty into nothing");
}

static void test_basic(void)
{
	char out[128];
	ssize_t n;

	n = form_basic_auth("svc-a", "svc-a-secret-123", out, sizeof(out));
	is_str(out, "Basic c3ZjLWE6c3ZjLWEtc2VjcmV0LTEyMw==", "basic: hydra client");
	is_int(n, strlen(out), "basic: length");
	form_basic_auth("my:client", "p@ss word", out, sizeof(out));
	is_str(out, "Basic bXklM0FjbGllbnQ6cCU0MHNzK3dvcmQ=", "basic: id and secret urlencoded");
	form_basic_auth("", "", out, sizeof(out));
	is_str(out, "Basic Og==", "basic: both empty");
	form_basic_auth("a", "b", out, sizeof(out));
	is_str(out, "Basic YTpi", "basic: no padding");
	form_basic_auth("ab", "c", out, sizeof(out));
	is_str(out, "Basic YWI6Yw==", "basic: two padding");
	form_basic_auth("abc", "de", out, sizeof(out));
	is_str(out, "Basic YWJjOmRl", "basic: 6 bytes");
	form_basic_auth("\xc3\xa9", "+/=", out, sizeof(out));
	is_str(out, "Basic JUMzJUE5OiUyQiUyRiUzRA==", "basic: UTF-8 and + / =");
	/* base64("svc+a%3A1:p%40ss+w%2Frd%2B%25%26%3D%7E%C3%A9*.-_"), as
	 * test_http_client sees it on the wire. */
	form_basic_auth("svc a:1", "p@ss w/rd+%&=~\xc3\xa9*.-_", out, sizeof(out));
	is_str(out, "Basic c3ZjK2ElM0ExOnAlNDBzcyt3JTJGcmQlMkIlMjUlMjYlM0QlN0UlQzMlQTkqLi1f",
	       "basic: ~ escaped, * kept");

	/* "Basic YTpi" is 10 bytes: 11 fits, 10 does not. */
	is_int(form_basic_auth("a", "b", out, 11), 10, "basic: exact fit");
	memset(out, 'x', sizeof(out));
	is_int(form_basic_auth("a", "b", out, 10), -1, "basic: one byte short");
	ok(out[0] == 0 && out[9] == 0 && out[10] == 'x', "basic: wiped within outlen only");
	is_int(form_basic_auth(NULL, "b", out, sizeof(out)), -1, "basic: NULL id");
	is_int(form_basic_auth("a", NULL, out, sizeof(out)), -1, "basic: NULL secret");
	is_int(form_basic_auth("a", "b", out, 0), -1, "basic: outlen 0");
}

int main(void)
{
	test_vectors();
	test_all_bytes();
	test_fit();
	test_basic();
	return done_testing("form");
}

/* form.c - application/x-www-form-urlencoded and client_secret_basic (see
 * form.h). */
#include "form.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char hex[] = "0123456789ABCDEF";

/* The WHATWG form-urlencoded set leaves only these alone. */
static bool form_safe(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       c == '*' || c == '-' || c == '.' || c == '_';
}

/* The encoding of one byte into <o>: returns 1 or 3. */
static size_t form_byte(uint8_t c, char o[3])
{
	if (form_safe(c)) {
		o[0] = (char)c;
		return 1;
	}
	if (c == ' ') {
		o[0] = '+';
		return 1;
	}
	o[0] = '%';
	o[1] = hex[c >> 4];
	o[2] = hex[c & 15];
	return 3;
}

static size_t form_len(const uint8_t *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += form_safe(p[i]) || p[i] == ' ' ? 1 : 3;
	return n;
}

size_t form_encode(struct slice in, char *out, size_t outlen)
{
	size_t need = form_len(in.ptr, in.len), n = 0;

	if (need > outlen)
		return need;
	for (size_t i = 0; i < in.len; i++)
		n += form_byte(in.ptr[i], out + n);
	return n;
}

/* Streaming base64 (RFC 4648 §4, with padding) into a buffer known to be
 * large enough. */
struct b64 {
	char *out;
	uint8_t acc[3];
	size_t n;
};

static void b64_flush(struct b64 *b)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;

	if (b->n == 0)
		return;
	v = (uint32_t)b->acc[0] << 16 | (uint32_t)(b->n > 1 ? b->acc[1] : 0) << 8 |
	    (uint32_t)(b->n > 2 ? b->acc[2] : 0);
	*b->out++ = alphabet[(v >> 18) & 63];
	*b->out++ = alphabet[(v >> 12) & 63];
	*b->out++ = b->n > 1 ? alphabet[(v >> 6) & 63] : '=';
	*b->out++ = b->n > 2 ? alphabet[v & 63] : '=';
	b->n = 0;
	explicit_bzero(b->acc, sizeof(b->acc));
}

static void b64_byte(struct b64 *b, uint8_t c)
{
	b->acc[b->n++] = c;
	if (b->n == 3)
		b64_flush(b);
}

static void b64_form(struct b64 *b, const char *s)
{
	char o[3];

	for (; *s; s++) {
		size_t k = form_byte((uint8_t)*s, o);

		for (size_t i = 0; i < k; i++)
			b64_byte(b, (uint8_t)o[i]);
	}
	explicit_bzero(o, sizeof(o));
}

ssize_t form_basic_auth(const char *user, const char *password, char *out, size_t outlen)
{
	static const char prefix[] = "Basic ";
	struct b64 b;
	size_t raw, need;

	if (!user || !password)
		goto fail;
	raw = form_len((const uint8_t *)user, strlen(user)) + 1 +
	      form_len((const uint8_t *)password, strlen(password));
	need = sizeof(prefix) - 1 + (raw + 2) / 3 * 4;
	if (need >= outlen)
		goto fail;
	memcpy(out, prefix, sizeof(prefix) - 1);
	b = (struct b64){.out = out + sizeof(prefix) - 1};
	b64_form(&b, user);
	b64_byte(&b, ':');
	b64_form(&b, password);
	b64_flush(&b);
	*b.out = '\0';
	return (ssize_t)need;
fail:
	if (outlen)
		explicit_bzero(out, outlen);
	return -1;
}

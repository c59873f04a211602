/* fuzz_path.c - path_is_canonical() and path_decode() on arbitrary bytes. A
 * path found canonical must decode into the same segments: as many '/', no
 * NUL, no empty, "." or ".." segment, and never longer than the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

static void check_segments(struct slice d)
{
	size_t start = 1;

	if (!d.len || d.ptr[0] != '/' || memchr(d.ptr, '\0', d.len))
		abort();
	for (size_t i = 1; i <= d.len; i++) {
		size_t n;

		if (i < d.len && d.ptr[i] != '/')
			continue;
		n = i - start;
		if (i < d.len && n == 0)
			abort(); /* "//" */
		if ((n == 1 && d.ptr[start] == '.') ||
		    (n == 2 && d.ptr[start] == '.' && d.ptr[start + 1] == '.'))
			abort();
		start = i + 1;
	}
}

static size_t slashes(const uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == '/';
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[4096];
	struct slice in = slice_from(data, size), d;

	if (!path_is_canonical(in) || size > sizeof(out))
		return 0;
	d = path_decode(in, out, sizeof(out));
	if (!d.ptr || d.len > size || slashes(d.ptr, d.len) != slashes(data, size))
		abort();
	check_segments(d);
	if (path_decode(in, out, size - 1).ptr && memchr(data, '%', size))
		abort(); /* a buffer shorter than the path is refused */
	return 0;
}

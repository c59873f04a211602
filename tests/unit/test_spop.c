/* test_spop.c - the SPOP codec against the byte vectors of spop.md section 12,
 * round trips, and every decoder error path. */
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "spop_frame.h"
#include "spop_wire.h"
#include "tap.h"

/* Decodes a hex string (spaces ignored) into <out>; returns its length. */
static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	while (*hex) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* Copies <len> bytes to the end of a fresh heap block so that ASan catches
 * any read past the input. */
static uint8_t *tight(const uint8_t *b, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	memcpy(p, b, len);
	return p;
}

#define V1                                                                                         \
	"000000810100000001000012737570706F727465642D76657273696F6E730803322E300E6D61782D6672616D" \
	"652D73697A6503FCF0060C6361706162696C69746965730810706970656C696E696E672C6173796E6309656E" \
	"67696E652D6964082433373164336335312D633734382D346366392D383435312D6664313465333938643131" \
	"30"
#define V2                                                                                         \
	"0000007B0100000001000012737570706F727465642D76657273696F6E730803322E300E6D61782D6672616D" \
	"652D73697A6503FCF0060C6361706162696C6974696573080A706970656C696E696E6709656E67696E652D69" \
	"64082433373164336335312D633734382D346366392D383435312D666431346533393864313130"
#define V3                                                                                         \
	"0000004E0100000001000012737570706F727465642D76657273696F6E730803322E300E6D61782D6672616D" \
	"652D73697A6503FCF0060C6361706162696C697469657308000B6865616C7468636865636B11"
#define V4                                                                                         \
	"00000040650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A6503FCF0060C" \
	"6361706162696C6974696573080A706970656C696E696E67"
#define V5                                                                                         \
	"000000490300000001F18000010D636865636B2D72657175657374020470617468080D2F6170692F76312F69" \
	"74656D730D617574686F72697A6174696F6E080D42656172657220616263313233"
#define V6 "000000246700000001F180000101030207616C6C6F7765641101030204757365720805616C696365"
#define V8 "00000025020000000100000B7374617475732D636F64650300076D65737361676508066E6F726D616C"
#define V9 "00000025660000000100000B7374617475732D636F64650300076D65737361676508066E6F726D616C"
#define V10                                                                                        \
	"0000003C03000000010101016D0404706F727404FB0C036E656704FFF0FEFEFEFEFEFEFE0E03697036072001" \
	"0DB8000000000000000000000001046D69737300"

static void test_varints(void)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} cases[] = {
	    {0, "00"},
	    {1, "01"},
	    {239, "EF"},
	    {240, "F000"},
	    {241, "F100"},
	    {255, "FF00"},
	    {256, "F001"},
	    {443, "FB0C"},
	    {1000, "F82F"},
	    {2287, "FF7F"},
	    {2288, "F08000"},
	    {2289, "F18000"},
	    {16380, "FCF006"},
	    {65532, "FCF01E"},
	    {249011, "F3BC78"},
	    {264431, "FFFF7F"},
	    {264432, "F0808000"},
	    {33818863, "FFFFFF7F"},
	    {33818864, "F080808000"},
	    {4294967295u, "FFF0FEFE7E"},
	    {9223372036854775807ull, "FFF0FEFEFEFEFEFEFE06"},
	    {18446744073709551615ull, "FFF0FEFEFEFEFEFEFE0E"},
	    {(uint64_t)-2, "FEF0FEFEFEFEFEFEFE0E"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t want[16], got[16], *p = got;
		size_t n = unhex(cases[i].hex, want);
		uint8_t *in = tight(want, n);
		const uint8_t *q = in;
		uint64_t v = 0;

		is_int(spop_put_varint(&p, got + sizeof(got), cases[i].v), 0, "varint encodes");
		is_mem(got, (size_t)(p - got), want, n, cases[i].hex);
		is_int(spop_get_varint(&q, in + n, &v), 0, "varint decodes");
		ok(v == cases[i].v && q == in + n, cases[i].hex);
		/* every truncation of a multi-byte varint is invalid, cursor untouched */
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *t = tight(want, cut);
			q = t;
			is_int(spop_get_varint(&q, t + cut, &v), -SPOP_ST_INVALID,
			       "truncated varint");
			ok(q == t, "cursor not moved on error");
			free(t);
		}
		/* no room to write */
		p = got;
		is_int(spop_put_varint(&p, got + n - 1, cases[i].v), -SPOP_ST_TOO_BIG, "no room");
		ok(p == got, "writer cursor not moved on error");
		free(in);
	}
	/* overlong: 11 continuation bytes */
	{
		uint8_t b[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
		const uint8_t *q = b;
		uint64_t v;

		is_int(spop_get_varint(&q, b + sizeof(b), &v), -SPOP_ST_INVALID, "overlong varint");
		b[9] = 0x7f; /* a tenth byte with bits above 2^64 */
		q = b;
		is_int(spop_get_varint(&q, b + 10, &v), -SPOP_ST_INVALID, "varint past 64 bits");
	}
}

static void test_values(void)
{
	uint8_t buf[64];
	const char *bad[] = {"0A",	 "0B",	   "0F", "08",	"0805414243",
			     "06010203", "070102", "04", "04F0"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = unhex(bad[i], buf);
		uint8_t *in = tight(buf, n);
		const uint8_t *q = in;
		struct spop_value v;

		is_int(spop_get_value(&q, in + n, &v), -SPOP_ST_INVALID, bad[i]);
		free(in);
	}
	{
		struct spop_value vals[] = {
		    spop_bool(true),
		    spop_bool(false),
		    spop_int(-1),
		    spop_int(443),
		    spop_uint32(16380),
		    spop_string(SLICE_LIT("hello")),
		    {.type = SPOP_T_NULL},
		    {.type = SPOP_T_IPV4, .str = SLICE_LIT("\x7f\x00\x00\x01")},
		};
		for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			uint8_t *p = buf;
			const uint8_t *q = buf;
			struct spop_value d;

			is_int(spop_put_value(&p, buf + sizeof(buf), &vals[i]), 0, "value encodes");
			is_int(spop_get_value(&q, p, &d), 0, "value decodes");
			ok(q == p && d.type == vals[i].type && d.b == vals[i].b &&
			       d.u == vals[i].u && slice_eq(d.str, vals[i].str),
			   "value round trip");
		}
		uint8_t *p = buf;
		spop_put_value(&p, buf + 2, &vals[0]);
		is_int(buf[0], 0x11, "true is 0x11");
		p = buf;
		spop_put_value(&p, buf + 2, &vals[1]);
		is_int(buf[0], 0x01, "false is 0x01");
	}
}

static void test_hello(void)
{
	uint8_t raw[256], out[256];
	size_t n = unhex(V1, raw);
	uint8_t *in = tight(raw, n);
	struct slice body;
	struct spop_frame f;
	struct spop_hello h;
	struct spop_nego nego;
	ssize_t len;

	is_int(spop_frame_split(in, n, SPOP_HELLO_MAX, &body), 133, "V1 splits");
	for (size_t cut = 0; cut < n; cut++)
		ok(spop_frame_split(in, cut, SPOP_HELLO_MAX, &body) == 0, "V1 partial needs more");
	spop_frame_split(in, n, SPOP_HELLO_MAX, &body);
	is_int(spop_frame_decode(body, &f), 0, "V1 header");
	ok(f.type == SPOP_FT_HAPROXY_HELLO && f.flags == SPOP_FL_FIN && f.stream_id == 0 &&
	       f.frame_id == 0,
	   "V1 header fields");
	is_int(spop_hello_decode(f.payload, &h), 0, "V1 hello");
	ok(slice_eq_lit(h.versions, "2.0") && h.max_frame_size == 16380 &&
	       slice_eq_lit(h.capabilities, "pipelining,async") && h.engine_id.len == 36 &&
	       !h.healthcheck,
	   "V1 hello fields");
	is_int(spop_negotiate(&h, SPOP_DEFAULT_FRAME_SIZE, SPOP_CAP_PIPELINING, &nego), 0,
	       "V1 nego");
	{
		struct spop_nego fr;

		spop_negotiate(&h, SPOP_DEFAULT_FRAME_SIZE,
			       SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION, &fr);
		is_int(fr.caps, SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION,
		       "fragmentation is announced although HAProxy never offers it");
		len = spop_encode_agent_hello(out, sizeof(out), &fr);
		ok(len > 0 && memmem(out, (size_t)len, "pipelining,fragmentation", 24) != NULL,
		   "AGENT-HELLO lists pipelining,fragmentation");
	}
	is_int(nego.max_frame_size, 16380, "V1 size");
	is_int(nego.caps, SPOP_CAP_PIPELINING, "V1 caps: pipelining only, never async");
	len = spop_encode_agent_hello(out, sizeof(out), &nego);
	n = unhex(V4, raw);
	is_mem(out, (size_t)len, raw, n, "AGENT-HELLO is V4 byte for byte");
	free(in);

	n = unhex(V2, raw);
	in = tight(raw, n);
	spop_frame_split(in, n, SPOP_HELLO_MAX, &body);
	spop_frame_decode(body, &f);
	is_int(spop_hello_decode(f.payload, &h), 0, "V2 hello");
	is_int(spop_caps_parse(h.capabilities), SPOP_CAP_PIPELINING, "V2 caps");
	free(in);

	n = unhex(V3, raw);
	in = tight(raw, n);
	spop_frame_split(in, n, SPOP_HELLO_MAX, &body);
	spop_frame_decode(body, &f);
	is_int(spop_hello_decode(f.payload, &h), 0, "V3 healthcheck hello");
	ok(h.healthcheck && h.engine_id.len == 0 && h.capabilities.len == 0, "V3 fields");
	is_int(spop_negotiate(&h, SPOP_DEFAULT_FRAME_SIZE,
			      SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION, &nego),
	       0, "V3 nego");
	is_int(nego.caps, 0, "V3: nothing offered, nothing announced");
	len = spop_encode_agent_hello(out, sizeof(out), &nego);
	n = unhex(
	    "00000036650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A6503FC"
	    "F0060C6361706162696C69746965730800",
	    raw);
	is_mem(out, (size_t)len, raw, n, "healthcheck AGENT-HELLO matches spop-check.vtc");
	free(in);

	/* negotiation outcomes */
	memset(&h, 0, sizeof(h));
	h.has_versions = h.has_max_frame_size = h.has_capabilities = true;
	h.versions = SLICE_LIT("1.0");
	h.max_frame_size = 16380;
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_BAD_VSN, "1.0 only: status 8");
	h.versions = SLICE_LIT(" 1.0 , 2.1 ");
	is_int(spop_negotiate(&h, 16380, 1, &nego), 0, "2.1 in a list is fine");
	h.versions = SLICE_LIT("2");
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_BAD_VSN, "bare 2 is not a version");
	h.versions = SLICE_LIT("20.0,2.x");
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_BAD_VSN, "20.0 and 2.x are not 2.y");
	h.versions = SLICE_LIT("2.0");
	h.max_frame_size = 100;
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_BAD_FRAME_SIZE, "too small: 9");
	h.max_frame_size = 1u << 30;
	is_int(spop_negotiate(&h, 16380, 1, &nego), 0, "bigger offer is answered with ours");
	is_int(nego.max_frame_size, 16380, "min(theirs, ours)");
	h.has_versions = false;
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_NO_VSN, "no version: 5");
	h.has_versions = true;
	h.has_max_frame_size = false;
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_NO_FRAME_SIZE, "no size: 6");
	h.has_max_frame_size = true;
	h.has_capabilities = false;
	is_int(spop_negotiate(&h, 16380, 1, &nego), -SPOP_ST_NO_CAP, "no caps: 7");
	is_int(spop_caps_parse(SLICE_LIT(" async , pipelining,fragmentation,x")), 7, "caps list");
	is_int(spop_caps_parse(SLICE_LIT("pipelin,pipeliningx")), 0, "no prefix matches");

	/* bad KV lists: zero-length key, wrong types, truncated */
	const char *badkv[] = {"00 08 03 322E30",
			       "12737570706F727465642D76657273696F6E73 03 01",
			       "0E6D61782D6672616D652D73697A65 08 00",
			       "0B6865616C7468636865636B 08 00",
			       "05 6162",
			       "0E6D61782D6672616D652D73697A65"};
	for (size_t i = 0; i < sizeof(badkv) / sizeof(badkv[0]); i++) {
		n = unhex(badkv[i], raw);
		in = tight(raw, n);
		is_int(spop_hello_decode(slice_from(in, n), &h), -SPOP_ST_INVALID, badkv[i]);
		free(in);
	}
	/* an unknown key with any type is skipped */
	n = unhex("03666F6F 07 20010DB8000000000000000000000001", raw);
	is_int(spop_hello_decode(slice_from(raw, n), &h), 0, "unknown key skipped");
}

static void test_split_errors(void)
{
	uint8_t b[8] = {0, 0, 0, 6, 1, 0, 0, 0};
	struct slice body;

	is_int(spop_frame_split(b, 8, 16380, &body), -SPOP_ST_INVALID, "LENGTH 6 is invalid");
	b[3] = 0;
	is_int(spop_frame_split(b, 4, 16380, &body), -SPOP_ST_INVALID, "LENGTH 0 is invalid");
	memcpy(b, "\xff\xff\xff\xff", 4);
	is_int(spop_frame_split(b, 4, 16380, &body), -SPOP_ST_TOO_BIG,
	       "0xFFFFFFFF too big at once");
	memcpy(b, "\x00\x00\x3f\xfd", 4);
	is_int(spop_frame_split(b, 4, 16380, &body), -SPOP_ST_TOO_BIG, "16381 > 16380");
	memcpy(b, "\x00\x00\x3f\xfc", 4);
	is_int(spop_frame_split(b, 4, 16380, &body), 0, "16380 fits, needs more");
	/* header: truncated varints */
	uint8_t h1[] = {3, 0, 0, 0, 1, 0xf1, 0x80};
	struct spop_frame f;
	uint8_t *in = tight(h1, sizeof(h1));
	is_int(spop_frame_decode(slice_from(in, sizeof(h1)), &f), -SPOP_ST_INVALID, "bad sid");
	is_int(spop_frame_decode(slice_from(in, 4), &f), -SPOP_ST_INVALID, "short header");
	free(in);
}

static void test_notify(void)
{
	uint8_t raw[256];
	size_t n = unhex(V5, raw);
	uint8_t *in = tight(raw, n);
	struct slice body;
	struct spop_frame f;
	struct spop_msg_iter it;
	struct spop_msg m;
	struct spop_arg a;

	is_int(spop_frame_split(in, n, 16380, &body), 77, "V5 splits");
	is_int(spop_frame_decode(body, &f), 0, "V5 header");
	ok(f.type == SPOP_FT_NOTIFY && f.stream_id == 2289 && f.frame_id == 1, "V5 ids");
	it = spop_msg_iter_init(f.payload);
	is_int(spop_msg_next(&it, &m), 1, "V5 message");
	ok(slice_eq_lit(m.name, "check-request") && m.nargs == 2, "V5 message name and nargs");
	is_int(spop_arg_next(&m.args, &a), 1, "arg 1");
	ok(slice_eq_lit(a.name, "path") && a.value.type == SPOP_T_STRING &&
	       slice_eq_lit(a.value.str, "/api/v1/items"),
	   "path arg");
	is_int(spop_arg_next(&m.args, &a), 1, "arg 2");
	ok(slice_eq_lit(a.name, "authorization") && slice_eq_lit(a.value.str, "Bearer abc123"),
	   "authorization arg");
	is_int(spop_arg_next(&m.args, &a), 0, "no arg 3");
	is_int(spop_msg_next(&it, &m), 0, "no message 2");
	/* every truncation of the payload is invalid (or an empty list) */
	for (size_t cut = 1; cut < f.payload.len; cut++) {
		uint8_t *t = tight(f.payload.ptr, cut);
		it = spop_msg_iter_init(slice_from(t, cut));
		is_int(spop_msg_next(&it, &m), -SPOP_ST_INVALID, "truncated NOTIFY payload");
		free(t);
	}
	free(in);

	n = unhex(V10, raw);
	in = tight(raw, n);
	spop_frame_split(in, n, 16380, &body);
	spop_frame_decode(body, &f);
	it = spop_msg_iter_init(f.payload);
	is_int(spop_msg_next(&it, &m), 1, "V10 message");
	is_int(m.nargs, 4, "V10 nargs");
	spop_arg_next(&m.args, &a);
	ok(a.value.type == SPOP_T_INT64 && a.value.u == 443, "port 443");
	spop_arg_next(&m.args, &a);
	ok(a.value.type == SPOP_T_INT64 && (int64_t)a.value.u == -1, "neg -1");
	spop_arg_next(&m.args, &a);
	ok(a.value.type == SPOP_T_IPV6 && a.value.str.len == 16 && a.value.str.ptr[0] == 0x20,
	   "ipv6");
	spop_arg_next(&m.args, &a);
	ok(a.value.type == SPOP_T_NULL && slice_eq_lit(a.name, "miss"), "null");
	free(in);

	/* a capture from HAProxy 1.8: unnamed IPV4 argument */
	n = unhex("0000001E030000000114010F636865636B2D636C69656E742D69700100067F000001", raw);
	spop_frame_split(raw, n, 16380, &body);
	spop_frame_decode(body, &f);
	it = spop_msg_iter_init(f.payload);
	is_int(spop_msg_next(&it, &m), 1, "capture message");
	spop_arg_next(&m.args, &a);
	ok(f.stream_id == 20 && a.name.len == 0 && a.value.type == SPOP_T_IPV4, "capture arg");
	/* empty payload: an empty list */
	it = spop_msg_iter_init(SLICE_NULL);
	is_int(spop_msg_next(&it, &m), 0, "empty NOTIFY has no message");
	/* nargs says 3 but only 1 present */
	n = unhex("016D03 0161 00", raw);
	it = spop_msg_iter_init(slice_from(raw, n));
	is_int(spop_msg_next(&it, &m), -SPOP_ST_INVALID, "missing args");
	/* reserved type byte inside an arg */
	n = unhex("016D01 0161 0C", raw);
	it = spop_msg_iter_init(slice_from(raw, n));
	is_int(spop_msg_next(&it, &m), -SPOP_ST_INVALID, "reserved type");
	/* string length past the end */
	n = unhex("016D01 0161 08F000", raw);
	it = spop_msg_iter_init(slice_from(raw, n));
	is_int(spop_msg_next(&it, &m), -SPOP_ST_INVALID, "string past end");
}

static void test_ack_disconnect(void)
{
	uint8_t out[64], want[64];
	struct spop_ack a;
	struct spop_value v;
	size_t n, len;
	ssize_t sl;

	is_int(spop_ack_begin(&a, out, sizeof(out), 2289, 1), 0, "ack begin");
	v = spop_bool(true);
	is_int(spop_ack_set_var(&a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("allowed"), &v), 0,
	       "allowed");
	v = spop_string(SLICE_LIT("alice"));
	is_int(spop_ack_set_var(&a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("user"), &v), 0, "user");
	len = spop_ack_end(&a);
	n = unhex(V6, want);
	is_mem(out, len, want, n, "ACK is V6 byte for byte");

	/* an action that does not fit leaves the ACK unchanged */
	spop_ack_begin(&a, out, 30, 2289, 1);
	v = spop_bool(true);
	is_int(spop_ack_set_var(&a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("allowed"), &v), 0, "fits");
	v = spop_string(SLICE_LIT("alice"));
	is_int(spop_ack_set_var(&a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("user"), &v),
	       -SPOP_ST_TOO_BIG, "does not fit");
	len = spop_ack_end(&a);
	is_int(len, 25, "length covers the first action only");

	/* pre-encoded heads give the same bytes, and the same "does not fit" */
	{
		static const struct spop_var_head allowed =
		    SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "allowed");
		static const struct spop_var_head user =
		    SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "user");

		is_int(spop_ack_begin(&a, out, sizeof(out), 2289, 1), 0, "ack begin (heads)");
		v = spop_bool(true);
		is_int(spop_ack_put_var(&a, &allowed, &v), 0, "allowed (head)");
		v = spop_string(SLICE_LIT("alice"));
		is_int(spop_ack_put_var(&a, &user, &v), 0, "user (head)");
		len = spop_ack_end(&a);
		n = unhex(V6, want);
		is_mem(out, len, want, n, "ACK from pre-encoded heads is V6 byte for byte");
		spop_ack_begin(&a, out, sizeof(out), 2289, 1);
		v = spop_bool(true);
		(void)spop_ack_put_var(&a, &allowed, &v);
		is_int(spop_ack_put_str(&a, &user, "alice", 5), 0, "user (head, string)");
		len = spop_ack_end(&a);
		is_mem(out, len, want, n, "spop_ack_put_str gives V6 byte for byte");
		spop_ack_begin(&a, out, 39, 2289, 1);
		(void)spop_ack_put_var(&a, &allowed, &v);
		is_int(spop_ack_put_str(&a, &user, "alice", 5), -SPOP_ST_TOO_BIG,
		       "spop_ack_put_str: one byte short does not fit");
		is_int(spop_ack_end(&a), 25, "... and leaves the ACK unchanged");
		for (size_t cap = 20; cap < 45; cap++) {
			spop_ack_begin(&a, out, cap, 2289, 1);
			v = spop_bool(true);
			(void)spop_ack_put_var(&a, &allowed, &v);
			v = spop_string(SLICE_LIT("alice"));
			if (spop_ack_put_var(&a, &user, &v) == 0) {
				ok(cap >= 40, "a head action fits only with room for all of it");
				/* near the end of the buffer the head is copied by its
				 * name's length, elsewhere as the whole struct */
				len = spop_ack_end(&a);
				is_mem(out, len, want, n,
				       "a fitting head action gives V6 at any room");
				continue;
			}
			len = spop_ack_end(&a);
			ok(len == (cap >= 25 ? 25u : 13u),
			   "a head action that does not fit leaves the ACK unchanged");
		}
	}

	sl = spop_encode_agent_disconnect(out, sizeof(out), 0, NULL);
	n = unhex(V9, want);
	is_mem(out, (size_t)sl, want, n, "AGENT-DISCONNECT is V9 byte for byte");
	is_int(spop_encode_agent_disconnect(out, 10, 0, NULL), -SPOP_ST_TOO_BIG, "no room");

	sl = spop_encode_ack_abort(out, sizeof(out), 7, 1);
	n = unhex("00000007670000000307 01", want);
	is_mem(out, (size_t)sl, want, n, "ABORT ACK");

	/* HAPROXY-DISCONNECT V8 */
	{
		struct slice body;
		struct spop_frame f;
		struct spop_disconnect d;

		n = unhex(V8, want);
		spop_frame_split(want, n, 16380, &body);
		spop_frame_decode(body, &f);
		is_int(spop_disconnect_decode(f.payload, &d), 0, "V8 decodes");
		ok(d.status == 0 && slice_eq_lit(d.message, "normal"), "V8 fields");
	}
	/* captured ACK from haproxy#2490 */
	spop_ack_begin(&a, out, sizeof(out), 249011, 1);
	v = spop_bool(true);
	spop_ack_set_var(&a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("allowed"), &v);
	len = spop_ack_end(&a);
	n = unhex("0000001567 00000001F3BC78010103 0207616C6C6F77656411", want);
	is_mem(out, len, want, n, "ACK matches the haproxy#2490 capture");
}

int main(void)
{
	test_varints();
	test_values();
	test_hello();
	test_split_errors();
	test_notify();
	test_ack_disconnect();
	return done_testing("spop");
}

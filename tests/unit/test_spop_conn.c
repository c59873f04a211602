/* test_spop_conn.c - the I/O-free SPOP connection core with the byte vectors
 * of spop.md section 12: HELLO negotiation and health check, NOTIFY -> decide
 * -> ACK (at once and later), pipelining, fragmented NOTIFY, DISCONNECT,
 * every malformed frame with its DISCONNECT status, the limits (frame sizes,
 * requests in decision, output backlog, reassembly cap), drain, abort and
 * timeouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "limits.h"
#include "spop_conn.h"
#include "spop_frame.h"
#include "tap.h"

#define V1                                                                                         \
	"000000810100000001000012737570706F727465642D76657273696F6E730803322E300E6D61782D6672616D" \
	"652D73697A6503FCF0060C6361706162696C69746965730810706970656C696E696E672C6173796E6309656E" \
	"67696E652D6964082433373164336335312D633734382D346366392D383435312D6664313465333938643131" \
	"30"
#define V3                                                                                         \
	"0000004E0100000001000012737570706F727465642D76657273696F6E730803322E300E6D61782D6672616D" \
	"652D73697A6503FCF0060C6361706162696C697469657308000B6865616C7468636865636B11"
#define V4                                                                                         \
	"00000040650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A6503FCF0060C" \
	"6361706162696C6974696573080A706970656C696E696E67"
/* The health check's answer, as in HAProxy's reg-tests (capabilities ""). */
#define V4_CHECK                                                                                   \
	"00000036650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A6503FCF0060C" \
	"6361706162696C69746965730800"
#define V5                                                                                         \
	"000000490300000001F18000010D636865636B2D72657175657374020470617468080D2F6170692F76312F69" \
	"74656D730D617574686F72697A6174696F6E080D42656172657220616263313233"
/* V6's first action alone: the ACK for V5 with only "allowed" = true. */
#define V6_ALLOWED "000000156700000001F180000101030207616C6C6F77656411"
#define V8	   "00000025020000000100000B7374617475732D636F64650300076D65737361676508066E6F726D616C"
#define V9	   "00000025660000000100000B7374617475732D636F64650300076D65737361676508066E6F726D616C"

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

struct fx {
	struct spop_conn sc;
	struct spop_conn_env env;
	int decided, mode; /* mode 1: answer at once, 0: later */
	bool allow;
	uint64_t sid, fid;
	char path[64], auth[64];
	int last_error, hellos;
	uint8_t out[1 << 20];
	size_t outlen;
};

static void copy(char *dst, size_t cap, struct slice s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	memcpy(dst, s.ptr ? (const char *)s.ptr : "", n);
	dst[n] = '\0';
}

static int decide(void *arg, struct spop_conn *sc, const struct authz_req *req, uint64_t sid,
		  uint64_t fid, struct verdict *out)
{
	struct fx *f = arg;

	(void)sc;
	f->decided++;
	f->sid = sid;
	f->fid = fid;
	copy(f->path, sizeof(f->path), req->path);
	copy(f->auth, sizeof(f->auth), req->authorization);
	if (!f->mode)
		return 0;
	verdict_clear(out);
	out->allowed = f->allow;
	return 1;
}

static void event(void *arg, struct spop_conn *sc, const struct spop_conn_event *ev)
{
	struct fx *f = arg;

	(void)sc;
	if (ev->type == SPOP_CONN_EV_ERROR)
		f->last_error = ev->status;
	else if (ev->type == SPOP_CONN_EV_HELLO)
		f->hellos++;
}

static struct fx *fx_new(uint32_t max, unsigned caps, const char *message)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->env.max_frame_size = max;
	f->env.caps = caps;
	f->env.message = slice_str(message);
	f->env.vars = 0; /* only "allowed": the ACKs are then V6's first action */
	f->env.decide = decide;
	f->env.event = event;
	f->env.arg = f;
	f->mode = 1;
	f->allow = true;
	f->last_error = -1;
	spop_conn_init(&f->sc, &f->env, 100.);
	return f;
}

static void fx_free(struct fx *f)
{
	spop_conn_free(&f->sc);
	free(f);
}

/* Writes out everything the core queued, into f->out (cleared first). */
static size_t take(struct fx *f)
{
	struct slice o = spop_conn_output(&f->sc);

	memcpy(f->out, o.ptr ? o.ptr : (const uint8_t *)"", o.len);
	f->outlen = o.len;
	if (o.len)
		spop_conn_sent(&f->sc, o.len, 100.);
	return o.len;
}

static size_t feed_hex(struct fx *f, const char *hex)
{
	static uint8_t b[1 << 16];
	size_t n = unhex(hex, b);

	return spop_conn_feed(&f->sc, b, n, 100.);
}

static bool out_is(struct fx *f, const char *hex)
{
	static uint8_t want[1 << 16];
	size_t n = unhex(hex, want);

	take(f);
	return f->outlen == n && memcmp(f->out, want, n) == 0;
}

/* The status of the AGENT-DISCONNECT that ends the output, or -1. */
static int disconnect_status(struct fx *f)
{
	size_t off = 0;
	int status = -1;

	take(f);
	while (off < f->outlen) {
		struct slice body;
		struct spop_frame fr;
		struct spop_disconnect d;
		ssize_t n = spop_frame_split(f->out + off, f->outlen - off, 1 << 20, &body);

		if (n <= 0 || spop_frame_decode(body, &fr) < 0)
			return -2;
		off += (size_t)n;
		status = -1;
		if (fr.type == SPOP_FT_AGENT_DISCONNECT &&
		    spop_disconnect_decode(fr.payload, &d) == 0)
			status = (int)d.status;
	}
	return status;
}

/* A connection past the HELLO (V1), output taken. */
static struct fx *running(unsigned caps)
{
	struct fx *f = fx_new(16380, caps, "check-request");

	feed_hex(f, V1);
	take(f);
	return f;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A frame: 4-byte length, type, flags, one-byte ids, <payload>. */
static size_t mkframe(uint8_t *out, uint8_t type, uint32_t flags, uint8_t sid, uint8_t fid,
		      const uint8_t *payload, size_t len)
{
	put_be32(out, (uint32_t)(7 + len));
	out[4] = type;
	put_be32(out + 5, flags);
	out[9] = sid;
	out[10] = fid;
	if (len)
		memcpy(out + 11, payload, len);
	return 11 + len;
}

static void test_hello(void)
{
	struct fx *f = fx_new(32764, SPOP_CAP_PIPELINING, "check-request");

	is_int(spop_conn_state(&f->sc), SPOP_CONN_HELLO, "starts in HELLO");
	ok(spop_conn_output(&f->sc).len == 0, "no output before any input");
	is_int(feed_hex(f, V1), 133, "V1 taken whole");
	is_int(spop_conn_state(&f->sc), SPOP_CONN_RUNNING, "running after V1");
	ok(out_is(f, V4), "V1 answered with V4 (min(16380, ours), pipelining, no async)");
	is_int(f->hellos, 1, "HELLO reported once");
	fx_free(f);

	f = fx_new(32764, SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION, "check-request");
	feed_hex(f, V3);
	ok(out_is(f, V4_CHECK), "health check answered with capabilities \"\"");
	is_int(spop_conn_state(&f->sc), SPOP_CONN_CLOSING, "health check: close after the answer");
	ok(!spop_conn_wants_input(&f->sc), "health check: no more input");
	is_int(f->hellos, 0, "a health check is not a HELLO done");
	fx_free(f);
}

static void test_notify(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);

	is_int(feed_hex(f, V5), 77, "V5 taken whole");
	is_int(f->decided, 1, "V5 decided");
	ok(f->sid == 2289 && f->fid == 1, "ids passed to decide");
	is_str(f->path, "/api/v1/items", "path argument");
	is_str(f->auth, "Bearer abc123", "authorization argument");
	ok(out_is(f, V6_ALLOWED), "ACK echoes the ids and sets allowed");

	f->allow = false;
	feed_hex(f, V5);
	take(f);
	ok(f->outlen == 25 && f->out[24] == 0x01, "a denial sets allowed = false");

	/* Later: nothing now, the ACK once delivered. */
	f->mode = 0;
	feed_hex(f, V5);
	ok(spop_conn_output(&f->sc).len == 0, "waiting decision: no output");
	is_int(spop_conn_inflight(&f->sc), 1, "one request in decision");
	{
		struct verdict v;

		verdict_clear(&v);
		v.allowed = true;
		spop_conn_deliver(&f->sc, 2289, 1, &v, 100.);
	}
	is_int(spop_conn_inflight(&f->sc), 0, "delivered");
	ok(out_is(f, V6_ALLOWED), "the later answer is the same ACK");

	/* A message that is not ours is answered, never allowed. */
	f->mode = 1;
	f->allow = true;
	f->decided = 0;
	{
		uint8_t b[64], m[] = {5, 'o', 't', 'h', 'e', 'r', 0};
		size_t n = mkframe(b, SPOP_FT_NOTIFY, SPOP_FL_FIN, 3, 4, m, sizeof(m));

		spop_conn_feed(&f->sc, b, n, 100.);
	}
	take(f);
	ok(f->decided == 0 && f->outlen == 23 && f->out[9] == 3 && f->out[10] == 4 &&
	       f->out[22] == 0x01,
	   "unknown message: ACK allowed = false, not decided");
	fx_free(f);
}

static void test_pipelining(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);
	uint8_t b[77 * 3 + 133];
	size_t n = unhex(V5 V5 V5, b);

	is_int(spop_conn_feed(&f->sc, b, n, 100.), n, "three NOTIFYs in one read");
	is_int(f->decided, 3, "all three decided");
	take(f);
	ok(f->outlen == 3 * 25 && memcmp(f->out, f->out + 25, 25) == 0 &&
	       memcmp(f->out, f->out + 50, 25) == 0,
	   "three ACKs queued together");

	/* Byte by byte, HELLO included: the same answers. */
	fx_free(f);
	f = fx_new(16380, SPOP_CAP_PIPELINING, "check-request");
	n = unhex(V1 V5, b);
	for (size_t i = 0; i < n; i++)
		spop_conn_feed(&f->sc, b + i, 1, 100.);
	ok(out_is(f, V4 V6_ALLOWED) && f->decided == 1,
	   "one byte at a time: AGENT-HELLO then the ACK");
	fx_free(f);
}

static void test_fragments(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION);
	uint8_t v5[77], b[256];
	size_t n = unhex(V5, v5), len;
	const uint8_t *payload = v5 + 13; /* after length, type, flags, 3-byte sid, fid */
	size_t plen = n - 13;

	/* V5's payload in three parts; the ids are one byte here (sid 9, fid 1). */
	len = mkframe(b, SPOP_FT_NOTIFY, 0, 9, 1, payload, 10);
	len += mkframe(b + len, SPOP_FT_UNSET, 0, 9, 1, payload + 10, 20);
	len += mkframe(b + len, SPOP_FT_UNSET, SPOP_FL_FIN, 9, 1, payload + 30, plen - 30);
	spop_conn_feed(&f->sc, b, len, 100.);
	is_int(f->decided, 1, "fragmented NOTIFY decided once complete");
	is_str(f->auth, "Bearer abc123", "reassembled arguments");
	take(f);
	ok(f->outlen == 23 && f->out[9] == 9 && f->out[10] == 1, "one ACK with the frame's ids");

	/* HAProxy aborts one: no answer, the connection goes on. */
	len = mkframe(b, SPOP_FT_NOTIFY, 0, 10, 1, payload, 10);
	len += mkframe(b + len, SPOP_FT_UNSET, SPOP_FL_FIN | SPOP_FL_ABORT, 10, 1, NULL, 0);
	spop_conn_feed(&f->sc, b, len, 100.);
	ok(take(f) == 0 && f->decided == 1, "aborted fragments: no ACK");
	is_int(spop_conn_state(&f->sc), SPOP_CONN_RUNNING, "still running");

	/* Another NOTIFY while one is open: 11. */
	len = mkframe(b, SPOP_FT_NOTIFY, 0, 11, 1, payload, 10);
	len += mkframe(b + len, SPOP_FT_NOTIFY, SPOP_FL_FIN, 12, 1, payload, plen);
	spop_conn_feed(&f->sc, b, len, 100.);
	is_int(disconnect_status(f), SPOP_ST_INTERLACED_FRAMES, "interlaced NOTIFY: DISCONNECT 11");
	fx_free(f);

	/* Not announced: 10. */
	f = running(SPOP_CAP_PIPELINING);
	len = mkframe(b, SPOP_FT_NOTIFY, 0, 9, 1, payload, 10);
	spop_conn_feed(&f->sc, b, len, 100.);
	is_int(disconnect_status(f), SPOP_ST_FRAG_NOT_SUPPORTED,
	       "a fragment we did not allow: DISCONNECT 10");
	is_int(f->last_error, SPOP_ST_FRAG_NOT_SUPPORTED, "and reported");
	fx_free(f);
}

static void test_reassembly_cap(void)
{
	struct fx *f = fx_new(SPOP_MAX_FRAME_SIZE, SPOP_CAP_PIPELINING | SPOP_CAP_FRAGMENTATION,
			      "check-request");
	static uint8_t b[3 * (SPOP_MAX_FRAME_SIZE + 4)], junk[40000];
	uint8_t hello[200];
	size_t n = unhex(V1, hello), len;

	hello[0x35] = 0x1E; /* max-frame-size varint FC F0 06 (16380) -> FC F0 1E (65532) */
	spop_conn_feed(&f->sc, hello, n, 100.);
	take(f);
	is_int(spop_conn_state(&f->sc), SPOP_CONN_RUNNING, "HELLO with a large max-frame-size");
	memset(junk, 'a', sizeof(junk));
	len = mkframe(b, SPOP_FT_NOTIFY, 0, 1, 1, junk, sizeof(junk));
	len += mkframe(b + len, SPOP_FT_UNSET, SPOP_FL_FIN, 1, 1, junk, sizeof(junk));
	spop_conn_feed(&f->sc, b, len, 100.);
	take(f);
	ok(f->outlen == 11 && f->out[4] == SPOP_FT_ACK && f->out[8] == 3 && f->decided == 0,
	   "80000 bytes over the 64 KiB cap: ACK with FIN|ABORT, nothing decided");
	is_int(spop_conn_state(&f->sc), SPOP_CONN_RUNNING, "the connection lives on");
	fx_free(f);
}

static void test_disconnect(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);

	feed_hex(f, V8);
	is_int(spop_conn_state(&f->sc), SPOP_CONN_CLOSING, "HAPROXY-DISCONNECT: closing");
	ok(out_is(f, V9), "answered with V9");
	ok(spop_conn_output(&f->sc).len == 0 && !spop_conn_wants_input(&f->sc),
	   "written; no more input");
	is_int(counter_get(&f->env.disconnects_by_status[0]), 1, "counted under status 0");
	fx_free(f);
}

/* Feeds <hex> (or <b>) to a fresh connection, past V1 when <after_hello>, and
 * returns the status of the DISCONNECT it answers. */
static int error_of(bool after_hello, const uint8_t *b, size_t n)
{
	struct fx *f = after_hello ? running(SPOP_CAP_PIPELINING)
				   : fx_new(16380, SPOP_CAP_PIPELINING, "check-request");
	int st;

	spop_conn_feed(&f->sc, b, n, 100.);
	st = disconnect_status(f);
	if (st != f->last_error)
		st = -3; /* the status on the wire is the one reported */
	if (spop_conn_state(&f->sc) != SPOP_CONN_CLOSING)
		st = -4;
	fx_free(f);
	return st;
}

static int hello_error(const char *hex)
{
	uint8_t b[512];
	size_t n = unhex(hex, b);

	return error_of(false, b, n);
}

static void test_malformed(void)
{
	uint8_t b[4096], v5[77];
	size_t n;

	n = unhex(V5, b);
	is_int(error_of(false, b, n), SPOP_ST_INVALID, "NOTIFY before HELLO: 4");
	is_int(error_of(false, (const uint8_t *)"\0\0\0\6abcdef", 10), SPOP_ST_INVALID,
	       "LENGTH < 7: 4");
	is_int(error_of(false, (const uint8_t *)"\0\0\x08\x01", 4), SPOP_ST_TOO_BIG,
	       "2049 bytes before HELLO: 3, from the 4-byte prefix");
	is_int(error_of(true, (const uint8_t *)"\0\0\x40\x00", 4), SPOP_ST_TOO_BIG,
	       "over the negotiated 16380: 3");
	n = mkframe(b, SPOP_FT_ACK, SPOP_FL_FIN, 1, 1, NULL, 0);
	is_int(error_of(true, b, n), SPOP_ST_INVALID, "an ACK from HAProxy: 4");
	n = mkframe(b, SPOP_FT_HAPROXY_HELLO, SPOP_FL_FIN, 0, 0, NULL, 0);
	is_int(error_of(true, b, n), SPOP_ST_INVALID, "a second HELLO: 4");
	n = mkframe(b, SPOP_FT_NOTIFY, SPOP_FL_FIN, 1, 1,
		    (const uint8_t *)"\x0d"
				     "check",
		    6);
	is_int(error_of(true, b, n), SPOP_ST_INVALID, "message name past the payload: 4");
	n = unhex(V5, v5);
	v5[0x1B] = 3; /* NB-ARGS 3, two present */
	is_int(error_of(true, v5, n), SPOP_ST_INVALID, "NB-ARGS beyond the arguments: 4");
	{
		uint8_t h[200];

		n = unhex(V1, h);
		h[5 + 3] = 0; /* flags: no FIN */
		is_int(error_of(false, h, n), SPOP_ST_INVALID, "HELLO without FIN: 4");
		n = unhex(V1, h);
		h[0x20] = '1'; /* "1.0" */
		is_int(error_of(false, h, n), SPOP_ST_BAD_VSN, "version 1.0: 8");
	}
	/* Hand-made HELLOs, one key missing or wrong. */
	is_int(hello_error("00000033010000000100000E6D61782D6672616D652D73697A6503FCF0060C63617061"
			   "62696C6974696573080A706970656C696E696E67"),
	       SPOP_ST_NO_VSN, "no supported-versions: 5");
	is_int(hello_error("000000380100000001000012737570706F727465642D76657273696F6E730803322E30"
			   "0C6361706162696C6974696573080A706970656C696E696E67"),
	       SPOP_ST_NO_FRAME_SIZE, "no max-frame-size: 6");
	is_int(hello_error("000000320100000001000012737570706F727465642D76657273696F6E730803322E30"
			   "0E6D61782D6672616D652D73697A6503FCF006"),
	       SPOP_ST_NO_CAP, "no capabilities: 7");
	is_int(hello_error("000000490100000001000012737570706F727465642D76657273696F6E730803322E30"
			   "0E6D61782D6672616D652D73697A6503640C6361706162696C6974696573080A706970"
			   "656C696E696E67"),
	       SPOP_ST_BAD_FRAME_SIZE, "max-frame-size 100: 9");
}

static void test_inflight_cap(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);
	static uint8_t b[77 * (CONN_MAX_INFLIGHT + 1)];
	size_t n = 0, took;
	struct verdict v;

	for (unsigned i = 0; i < CONN_MAX_INFLIGHT + 1; i++)
		n += unhex(V5, b + n);
	f->mode = 0;
	took = spop_conn_feed(&f->sc, b, n, 100.);
	is_int(spop_conn_inflight(&f->sc), CONN_MAX_INFLIGHT, "stops at CONN_MAX_INFLIGHT");
	ok(!spop_conn_wants_input(&f->sc), "no input while at the cap");
	is_int(f->decided, CONN_MAX_INFLIGHT, "exactly the cap decided");
	ok(spop_conn_feed(&f->sc, b + took, n - took, 100.) == 0, "no byte taken at the cap");
	verdict_clear(&v);
	spop_conn_deliver(&f->sc, 2289, 1, &v, 100.);
	spop_conn_feed(&f->sc, b + took, n - took, 100.);
	is_int(f->decided, CONN_MAX_INFLIGHT + 1, "one answer lets the next NOTIFY in");
	is_int(spop_conn_inflight(&f->sc), CONN_MAX_INFLIGHT, "and it waits in turn");
	take(f);
	is_int(f->outlen, 25, "and only the delivered ACK left");
	fx_free(f);
}

static void test_output_cap(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);
	static uint8_t b[77 * 20000];
	size_t n = 0, took;
	int before;

	for (unsigned i = 0; i < 20000; i++)
		n += unhex(V5, b + n);
	took = spop_conn_feed(&f->sc, b, n, 100.);
	before = f->decided;
	ok(spop_conn_output(&f->sc).len >= CONN_WBUF_MAX &&
	       spop_conn_output(&f->sc).len < CONN_WBUF_MAX + 16380 + 4,
	   "output stops just past CONN_WBUF_MAX");
	ok(took < n && !spop_conn_wants_input(&f->sc), "no input while HAProxy does not read");
	take(f);
	spop_conn_resume(&f->sc, 100.);
	ok(f->decided > before, "written out: the buffered NOTIFYs go on");
	fx_free(f);
}

static void test_drain_abort(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);
	struct verdict v;

	f->mode = 0;
	feed_hex(f, V5);
	spop_conn_drain(&f->sc);
	is_int(spop_conn_state(&f->sc), SPOP_CONN_DRAINING, "drain with one request waiting");
	ok(take(f) == 0 && !spop_conn_wants_input(&f->sc), "no output yet, no input");
	verdict_clear(&v);
	v.allowed = true;
	spop_conn_deliver(&f->sc, 2289, 1, &v, 100.);
	ok(out_is(f, V6_ALLOWED V9), "its ACK, then DISCONNECT 0");
	is_int(spop_conn_state(&f->sc), SPOP_CONN_CLOSING, "closing");
	fx_free(f);

	f = fx_new(16380, SPOP_CAP_PIPELINING, "check-request");
	spop_conn_drain(&f->sc);
	is_int(spop_conn_state(&f->sc), SPOP_CONN_DEAD, "drain before HELLO: closed at once");
	fx_free(f);

	f = fx_new(16380, SPOP_CAP_PIPELINING, "check-request");
	f->env.draining = true;
	feed_hex(f, V1);
	ok(out_is(f, V4 V9), "HELLO while shutting down: AGENT-HELLO then DISCONNECT 0");
	fx_free(f);

	f = running(SPOP_CAP_PIPELINING);
	spop_conn_abort(&f->sc, SPOP_ST_NORMAL);
	ok(out_is(f, V9), "abort: DISCONNECT with the status");
	spop_conn_abort(&f->sc, SPOP_ST_IO);
	ok(take(f) == 0, "abort when closing: nothing more");
	fx_free(f);

	f = fx_new(16380, SPOP_CAP_PIPELINING, "check-request");
	spop_conn_abort(&f->sc, SPOP_ST_NORMAL);
	ok(take(f) == 0, "abort in HELLO: no DISCONNECT");
	fx_free(f);

	/* An answer arriving after the close is dropped. */
	f = running(SPOP_CAP_PIPELINING);
	f->mode = 0;
	feed_hex(f, V5);
	feed_hex(f, V8);
	take(f);
	verdict_clear(&v);
	spop_conn_deliver(&f->sc, 2289, 1, &v, 100.);
	ok(take(f) == 0 && spop_conn_inflight(&f->sc) == 0, "late answer after DISCONNECT: no ACK");
	fx_free(f);
}

static void test_timeouts(void)
{
	struct fx *f = fx_new(16380, SPOP_CAP_PIPELINING, "check-request");
	uint8_t b[200];
	size_t n;

	ok(spop_conn_deadline(&f->sc, 101.) == 100. + CONN_HELLO_TIMEOUT_S, "HELLO deadline");
	n = unhex(V1, b);
	spop_conn_feed(&f->sc, b, n, 102.);
	ok(spop_conn_deadline(&f->sc, 103.) == 100. + CONN_WRITE_TIMEOUT_S,
	   "AGENT-HELLO not written: write deadline");
	take(f); /* written at 100 */
	ok(spop_conn_deadline(&f->sc, 103.) == 102. + CONN_IDLE_TIMEOUT_S, "idle deadline");
	spop_conn_feed(&f->sc, (const uint8_t *)"\0\0", 2, 104.);
	ok(spop_conn_deadline(&f->sc, 105.) == 102. + CONN_PARTIAL_TIMEOUT_S,
	   "half a frame: partial deadline from the last frame");
	f->mode = 0;
	n = unhex(V5, b);
	spop_conn_feed(&f->sc, b + 2, n - 2, 106.);
	ok(spop_conn_deadline(&f->sc, 107.) == 107. + CONN_PARTIAL_TIMEOUT_S,
	   "a decision waiting: checked again later");
	spop_conn_timeout(&f->sc, 140.);
	is_int(disconnect_status(f), SPOP_ST_TIMEOUT, "timeout: DISCONNECT 2");
	is_int(spop_conn_state(&f->sc), SPOP_CONN_CLOSING, "closing");
	spop_conn_timeout(&f->sc, 170.);
	is_int(spop_conn_state(&f->sc), SPOP_CONN_DEAD, "a second timeout while closing: dead");
	fx_free(f);
}

static void test_room(void)
{
	struct fx *f = running(SPOP_CAP_PIPELINING);
	size_t room;
	uint8_t *p = spop_conn_room(&f->sc, &room);

	ok(p && room == 4096, "4096 bytes while the frame length is unknown");
	put_be32(p, 10000);
	spop_conn_received(&f->sc, 4, 100.);
	p = spop_conn_room(&f->sc, &room);
	ok(p && room == 10000, "then room for the whole frame");
	fx_free(f);
}

int main(void)
{
	test_hello();
	test_notify();
	test_pipelining();
	test_fragments();
	test_reassembly_cap();
	test_disconnect();
	test_malformed();
	test_inflight_cap();
	test_output_cap();
	test_drain_abort();
	test_timeouts();
	test_room();
	return done_testing("spop_conn");
}

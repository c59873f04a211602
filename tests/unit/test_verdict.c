/* test_verdict.c - the variables a verdict sends (verdict.h): the --vars list
 * and what an ACK carries. */
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "spop_frame.h"
#include "tap.h"
#include "verdict.h"

static void test_variables(void)
{
	unsigned m = 12345;
	uint8_t out[512];
	struct spop_ack a;
	struct verdict v;
	struct claims *c = claims_new(16);
	char *strs = (char *)(c + 1);
	size_t len;

	is_int(verdict_vars_parse("all", &m), 0, "parse all");
	is_int((int)m, VERDICT_VARS_ALL, "all bits");
	is_int(verdict_vars_parse("allowed,status,www_authenticate", &m), 0, "parse a list");
	is_int((int)m, VERDICT_VAR_STATUS | VERDICT_VAR_WWW_AUTHENTICATE, "list bits");
	is_int(verdict_vars_parse("allowed", &m), 0, "allowed alone");
	is_int((int)m, 0, "allowed alone: no optional variable");
	m = 7;
	ok(verdict_vars_parse("", &m) < 0 && verdict_vars_parse("sub,", &m) < 0 &&
	       verdict_vars_parse("sub,,scope", &m) < 0 && verdict_vars_parse("Sub", &m) < 0 &&
	       verdict_vars_parse("all,sub", &m) < 0 && m == 7,
	   "empty, trailing comma, empty item, wrong case, all in a list: refused, mask unchanged");

	/* An allowed verdict with claims: only the chosen variables go out. */
	memcpy(strs, "alice", 6);
	c->sub = strs;
	memset(&v, 0, sizeof(v));
	v.allowed = true;
	v.status = 200;
	v.reason = "ok";
	v.claims = c;
	spop_ack_begin(&a, out, sizeof(out), 1, 1);
	is_int(verdict_encode(&v, VERDICT_VAR_SUB, &a), 0, "encode allowed + sub");
	len = spop_ack_end(&a);
	ok(memmem(out, len, "allowed", 7) && memmem(out, len, "alice", 5) &&
	       !memmem(out, len, "status", 6) && !memmem(out, len, "reason", 6),
	   "allowed and sub only");
	spop_ack_begin(&a, out, sizeof(out), 1, 1);
	is_int(verdict_encode(&v, VERDICT_VARS_ALL, &a), 0, "encode all");
	len = spop_ack_end(&a);
	ok(memmem(out, len, "status", 6) && memmem(out, len, "reason", 6) &&
	       memmem(out, len, "sub", 3) && !memmem(out, len, "www_authenticate", 16),
	   "all: status, reason, sub; no challenge on an allow");
	verdict_release(&v);
}

int main(void)
{
	test_variables();
	return done_testing("verdict");
}

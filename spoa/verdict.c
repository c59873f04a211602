/* verdict.c - see verdict.h. */
#include "verdict.h"

#include <stdio.h>
#include <string.h>

void verdict_deny(struct verdict *v, int status, const char *reason)
{
	memset(v, 0, sizeof(*v));
	v->allowed = false;
	v->status = status;
	v->reason = reason;
}

void verdict_release(struct verdict *v)
{
	claims_unref(v->claims);
	v->claims = NULL;
}

static void put_opt(struct spop_ack *a, const char *name, const char *val)
{
	struct spop_value sv;

	if (!val || !*val)
		return;
	sv = spop_string(slice_str(val));
	/* Optional: a value that does not fit is simply left out. */
	(void)spop_ack_set_var(a, SPOP_SCOPE_TRANSACTION, slice_str(name), &sv);
}

int verdict_encode(const struct verdict *v, struct spop_ack *a)
{
	struct spop_value sv = spop_bool(v->allowed);

	if (spop_ack_set_var(a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("allowed"), &sv) < 0)
		return -SPOP_ST_TOO_BIG;
	sv = spop_int(v->status);
	(void)spop_ack_set_var(a, SPOP_SCOPE_TRANSACTION, SLICE_LIT("status"), &sv);
	put_opt(a, "reason", v->reason);
	put_opt(a, "policy", v->policy);
	if (v->claims) {
		put_opt(a, "sub", v->claims->sub);
		put_opt(a, "client_id", v->claims->client_id);
		put_opt(a, "scope", v->claims->scope);
	}
	if (!v->allowed)
		put_opt(a, "www_authenticate", v->www_authenticate);
	return 0;
}

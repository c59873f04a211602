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

enum { V_ALLOWED, V_STATUS, V_REASON, V_POLICY, V_SUB, V_CLIENT_ID, V_SCOPE, V_CHALLENGE };
static const struct spop_var_head heads[] = {
    [V_ALLOWED] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "allowed"),
    [V_STATUS] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "status"),
    [V_REASON] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "reason"),
    [V_POLICY] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "policy"),
    [V_SUB] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "sub"),
    [V_CLIENT_ID] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "client_id"),
    [V_SCOPE] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "scope"),
    [V_CHALLENGE] = SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, "www_authenticate"),
};

static void put_opt(struct spop_ack *a, int var, const char *val)
{
	/* Optional: a value that does not fit is simply left out. */
	if (val && *val)
		(void)spop_ack_put_str(a, &heads[var], val, strlen(val));
}

int verdict_encode(const struct verdict *v, struct spop_ack *a)
{
	struct spop_value sv = spop_bool(v->allowed);

	if (spop_ack_put_var(a, &heads[V_ALLOWED], &sv) < 0)
		return -SPOP_ST_TOO_BIG;
	sv = spop_int(v->status);
	(void)spop_ack_put_var(a, &heads[V_STATUS], &sv);
	put_opt(a, V_REASON, v->reason);
	put_opt(a, V_POLICY, v->policy);
	if (v->claims) {
		put_opt(a, V_SUB, v->claims->sub);
		put_opt(a, V_CLIENT_ID, v->claims->client_id);
		put_opt(a, V_SCOPE, v->claims->scope);
	}
	if (!v->allowed)
		put_opt(a, V_CHALLENGE, v->www_authenticate);
	return 0;
}

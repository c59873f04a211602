/* verdict.c - see verdict.h. */
#include "verdict.h"

#include <stdio.h>
#include <string.h>

void verdict_deny(struct verdict *v, int status, const char *reason)
{
	verdict_clear(v);
	v->allowed = false;
	v->status = status;
	v->reason = reason;
}

void verdict_add_claims(struct verdict *v, struct claims **c)
{
	if (*c && (*c)->mapped && (*c)->mapped->n && v->n_more < VERDICT_MAX_MORE) {
		v->more[v->n_more++] = *c;
		*c = NULL;
	}
}

void verdict_release(struct verdict *v)
{
	claims_unref(v->claims);
	v->claims = NULL;
	for (unsigned i = 0; i < v->n_more; i++)
		claims_unref(v->more[i]);
	v->n_more = 0;
}

#define TXN(name) SPOP_VAR_HEAD(SPOP_SCOPE_TRANSACTION, name)
static const struct spop_var_head h_allowed = TXN("allowed"), h_status = TXN("status"),
				  h_reason = TXN("reason"), h_policy = TXN("policy"),
				  h_sub = TXN("sub"), h_client_id = TXN("client_id"),
				  h_scope = TXN("scope"), h_challenge = TXN("www_authenticate");

static const struct {
	const char *name;
	unsigned bit;
} var_names[] = {
    {"allowed", 0},
    {"status", VERDICT_VAR_STATUS},
    {"reason", VERDICT_VAR_REASON},
    {"policy", VERDICT_VAR_POLICY},
    {"sub", VERDICT_VAR_SUB},
    {"client_id", VERDICT_VAR_CLIENT_ID},
    {"scope", VERDICT_VAR_SCOPE},
    {"www_authenticate", VERDICT_VAR_WWW_AUTHENTICATE},
};

int verdict_var_bit(struct slice name)
{
	for (size_t i = 0; i < sizeof(var_names) / sizeof(var_names[0]); i++)
		if (slice_eq(name, slice_str(var_names[i].name)))
			return (int)var_names[i].bit;
	return -1;
}

int verdict_vars_parse(const char *list, unsigned *mask)
{
	unsigned m = 0;
	const char *p = list;

	if (!list || !*list)
		return -1;
	if (strcmp(list, "all") == 0) {
		*mask = VERDICT_VARS_ALL;
		return 0;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int bit = verdict_var_bit(slice_from(p, len));

		if (bit < 0)
			return -1;
		m |= (unsigned)bit;
		if (!comma)
			break;
		p = comma + 1;
	}
	*mask = m;
	return 0;
}

static void put_opt(struct spop_ack *a, const struct spop_var_head *h, const char *val)
{
	/* Optional: a value that does not fit is simply left out. */
	if (val && *val)
		(void)spop_ack_put_str(a, h, val, strlen(val));
}

/* Whether a variable named <name> was sent from a source before claim_vars
 * <cv> of src[0..k) or before index <i> of src[k]. */
static bool sent_before(const struct claim_vars *const *src, size_t k, size_t i, const char *name)
{
	for (size_t s = 0; s <= k; s++) {
		size_t end = s < k ? src[s]->n : i;

		for (size_t j = 0; j < end; j++)
			if (strcmp(src[s]->v[j].name, name) == 0)
				return true;
	}
	return false;
}

/* The mapped variables; returns how many did not fit. A name already sent
 * is skipped either way, so the answer never depends on what fit. */
static int put_mapped(const struct verdict *v, struct spop_ack *a)
{
	const struct claim_vars *src[1 + VERDICT_MAX_MORE];
	size_t ns = 0;
	int left_out = 0;

	if (v->claims && v->claims->mapped)
		src[ns++] = v->claims->mapped;
	for (unsigned i = 0; i < v->n_more; i++)
		src[ns++] = v->more[i]->mapped;
	for (size_t k = 0; k < ns; k++) {
		for (size_t i = 0; i < src[k]->n; i++) {
			const struct claim_var *cv = &src[k]->v[i];
			struct spop_value sv = spop_string(slice_str(cv->value));

			if (sent_before(src, k, i, cv->name))
				continue;
			if (spop_ack_set_var(a, SPOP_SCOPE_TRANSACTION, slice_str(cv->name), &sv) <
			    0)
				left_out++;
		}
	}
	return left_out;
}

int verdict_encode(const struct verdict *v, unsigned vars, struct spop_ack *a)
{
	struct spop_value sv = spop_bool(v->allowed);

	if (spop_ack_put_var(a, &h_allowed, &sv) < 0)
		return -SPOP_ST_TOO_BIG;
	if (vars & VERDICT_VAR_STATUS) {
		sv = spop_int(v->status);
		(void)spop_ack_put_var(a, &h_status, &sv);
	}
	if (vars & VERDICT_VAR_REASON)
		put_opt(a, &h_reason, v->reason);
	if (vars & VERDICT_VAR_POLICY)
		put_opt(a, &h_policy, v->policy);
	if (v->claims) {
		if (vars & VERDICT_VAR_SUB)
			put_opt(a, &h_sub, v->claims->sub);
		if (vars & VERDICT_VAR_CLIENT_ID)
			put_opt(a, &h_client_id, v->claims->client_id);
		if (vars & VERDICT_VAR_SCOPE)
			put_opt(a, &h_scope, v->claims->scope);
	}
	if (!v->allowed && (vars & VERDICT_VAR_WWW_AUTHENTICATE))
		put_opt(a, &h_challenge, v->www_authenticate);
	return v->allowed && (v->claims || v->n_more) ? put_mapped(v, a) : 0;
}

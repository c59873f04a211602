/* test_authz_pipeline.c - several policies applying to one request (the
 * pipeline's concern, authz.c), table-driven over every combination of
 *   each policy's mode:        enforce | shadow
 *   each policy's cache state: hit | miss | negative (cached inactive) | error
 *   defaultDecision:           allow | deny
 * for two and for three policies, each with its own introspection endpoint
 * (so one cache entry and one fetch each), through authz.h with a fake clock
 * and a fake HTTP client (authz_fake.h).
 *
 * The expected answer is written from the rules, not from the code: deny is
 * the default; allow only when every enforcing policy allows, the first
 * enforcing refusal (in file order) decides; a shadow refusal only renames
 * an allowed answer ("shadow:<reason>", the first one); when only shadow
 * policies apply, defaultDecision deny refuses with no_policy. Every
 * scenario also checks, independently, that an allowed answer never has a
 * refusing enforcing policy behind it, how many calls went out, and whether
 * the answer came at once (only hits) or later. Last, two policies on one
 * endpoint: one call serves both, each applies its own checks. */
#include "authz_fake.h"

#include "reason.h"

enum state { HIT, MISS, NEG, ERR, NSTATES };
static const char *const state_name[] = {"hit", "miss", "negative", "error"};

#define MAXP 3

/* The scenario being run: what each endpoint answers. */
static struct {
	int k;
	bool shadow[MAXP];
	enum state s[MAXP];
	bool warming;
} sc;

/* pN's endpoint is http://idp.test/pN. Warming stores HIT and NEG; the
 * request itself fetches MISS and ERR. Anything else is a call that should
 * not happen: answered with HTTP 500, which the call count check reports. */
static void respond(const struct fake_call *c, struct fake_reply *r)
{
	const char *p = strrchr(c->url, '/');
	int i = p && p[1] == 'p' ? p[2] - '0' : -1;
	enum state s = i >= 0 && i < sc.k ? sc.s[i] : NSTATES;

	if (sc.warming && s == NEG)
		r->body = INACTIVE;
	else if (sc.warming ? s == HIT : s == MISS)
		r->body = ACTIVE_READ;
	else if (!sc.warming && s == ERR)
		r->err = HTTP_CLIENT_ERR_TIMEOUT;
	else
		r->status = 500;
}

static enum authz_reason outcome(enum state s)
{
	return s == NEG ? AUTHZ_INACTIVE_TOKEN : s == ERR ? AUTHZ_INTROSPECTION_ERROR : AUTHZ_OK;
}

struct expect {
	bool allowed;
	int status;
	char reason[64];
	char policy[16];
};

static void expected(bool default_deny, struct expect *e)
{
	int shadow_refusal = -1;
	bool all_shadow = true;

	for (int i = 0; i < sc.k; i++) {
		enum authz_reason r = outcome(sc.s[i]);

		all_shadow = all_shadow && sc.shadow[i];
		if (r == AUTHZ_OK)
			continue;
		if (!sc.shadow[i]) {
			*e = (struct expect){false, reason_status(r), "", ""};
			snprintf(e->reason, sizeof(e->reason), "%s", reason_name(r));
			snprintf(e->policy, sizeof(e->policy), "p%d", i);
			return;
		}
		if (shadow_refusal < 0)
			shadow_refusal = i;
	}
	if (default_deny && all_shadow) {
		*e = (struct expect){false, 403, "no_policy", ""};
		return;
	}
	*e = (struct expect){true, 200, "ok", "p0"};
	if (shadow_refusal >= 0) {
		snprintf(e->reason, sizeof(e->reason), "%s",
			 reason_shadow_name(outcome(sc.s[shadow_refusal])));
		snprintf(e->policy, sizeof(e->policy), "p%d", shadow_refusal);
	}
}

static void label(char *buf, size_t n, bool default_deny)
{
	size_t len = (size_t)snprintf(buf, n, "default %s:", default_deny ? "deny" : "allow");

	for (int i = 0; i < sc.k; i++)
		len += (size_t)snprintf(buf + len, n - len, " p%d %s/%s", i,
					sc.shadow[i] ? "shadow" : "enforce", state_name[sc.s[i]]);
}

static void run_scenario(struct side *a, bool default_deny, unsigned serial)
{
	char token[32], auth[64], solo[16], what[160];
	unsigned id = serial % FAKE_MAX_REQ, posts, fetches = 0;
	bool enforcing_ok = true;
	struct expect e;
	int rc, before;

	snprintf(token, sizeof(token), "c%u", serial); /* a fresh token: nothing cached */
	label(what, sizeof(what), default_deny);
	sc.warming = true;
	for (int i = 0; i < sc.k; i++) {
		if (sc.s[i] != HIT && sc.s[i] != NEG)
			continue;
		snprintf(solo, sizeof(solo), "solo%d", i);
		ask(a, solo, token);
	}
	sc.warming = false;
	for (int i = 0; i < sc.k; i++) {
		fetches += sc.s[i] == MISS || sc.s[i] == ERR;
		enforcing_ok = enforcing_ok && (sc.shadow[i] || outcome(sc.s[i]) == AUTHZ_OK);
	}
	posts = fk.posts;
	before = a->times[id];
	rc = submit_path(a, id, "combo", "/x", bearer(auth, sizeof(auth), token));
	if (!ok(rc == (fetches ? 0 : 1), what))
		printf("#   answered %s\n", rc ? "at once" : "later");
	fake_settle();
	if (!ok(a->times[id] == before + 1, what)) {
		printf("#   answered %d times\n", a->times[id] - before);
		return;
	}
	expected(default_deny, &e);
	verdict_is(&a->v[id], e.allowed, e.status, e.reason, e.policy, what);
	if (!ok(!a->v[id].allowed || enforcing_ok, what))
		printf("#   allowed with a refusing enforcing policy\n");
	if (!ok(fk.posts - posts == fetches, what))
		printf("#   %u calls, want %u\n", fk.posts - posts, fetches);
}

/* Every state combination under one set of modes and one defaultDecision. */
static unsigned run_modes(int k, unsigned modes, bool default_deny, unsigned serial)
{
	static char yaml[16384];
	char one[1024], name[16], solo[16], url[64];
	size_t len = 0;
	struct side a;
	unsigned combos = 1;

	sc.k = k;
	for (int i = 0; i < k; i++) {
		sc.shadow[i] = modes >> i & 1;
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(solo, sizeof(solo), "solo%d", i);
		snprintf(url, sizeof(url), "http://idp.test/p%d", i);
		len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s",
					policy2(one, sizeof(one), name,
						sc.shadow[i] ? "shadow" : "enforce", "combo", solo,
						url, ""));
		combos *= NSTATES;
	}
	shared_up(default_deny ? "defaultDecision: deny\n" : "defaultDecision: allow\n", yaml);
	fk.respond = respond;
	side_up(&a);
	for (unsigned c = 0; c < combos; c++) {
		unsigned x = c;

		for (int i = 0; i < k; i++, x /= NSTATES)
			sc.s[i] = (enum state)(x % NSTATES);
		run_scenario(&a, default_deny, serial++);
	}
	side_down(&a);
	shared_down();
	return serial;
}

/* Two policies on one endpoint share one result (one call), each applying
 * its own checks; a different cache lifetime is another identity. */
static void shared_endpoint(const char *mode1, const char *extra1, unsigned calls, bool allowed,
			    int status, const char *reason, const char *pol, const char *what)
{
	static const char url[] = "http://idp.test/shared";
	char y[4096], p0[1024], p1[1024];
	struct side a;
	unsigned posts = fk.posts;

	snprintf(y, sizeof(y), "%s%s",
		 policy2(p0, sizeof(p0), "p0", "enforce", "combo", NULL, url, ""),
		 policy2(p1, sizeof(p1), "p1", mode1, "combo", NULL, url, extra1));
	shared_up("", y);
	side_up(&a);
	verdict_is(ask(&a, "combo", "se-1"), allowed, status, reason, pol, what);
	is_int(fk.posts - posts, calls, what);
	side_down(&a);
	shared_down();
}

static void test_shared_endpoint(void)
{
	static const char scope[] = "            requiredScopes: [write]\n";

	shared_endpoint("enforce", scope, 1, false, 403, "insufficient_scope", "p1",
			"one endpoint: one call, p1's own check refuses");
	shared_endpoint("shadow", scope, 1, true, 200, "shadow:insufficient_scope", "p1",
			"one endpoint: one call, p1 in shadow only reports");
	shared_endpoint("enforce", "            cacheTimeout: 1m\n", 2, true, 200, "ok", "p0",
			"one endpoint, two cache lifetimes: two calls");
}

int main(void)
{
	unsigned serial = 0, scenarios;

	fake_init("test_authz_pipeline");
	for (int k = 2; k <= MAXP; k++)
		for (unsigned modes = 0; modes < 1u << k; modes++)
			for (int d = 0; d <= 1; d++)
				serial = run_modes(k, modes, d, serial);
	scenarios = serial;
	test_shared_endpoint();
	is_int(scenarios, 2 * 4 * 16 + 2 * 8 * 64, "every combination ran");
	is_int((int)fk.npending, 0, "no introspection call left pending");
	is_int((int)fk.clients, 0, "every HTTP client freed");
	fake_cleanup();
	return done_testing("authz_pipeline");
}

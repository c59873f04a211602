/* stats.h - the process-wide decision and introspection counters behind the
 * Prometheus endpoint, shared by every worker thread.
 *
 * Policies and endpoints get a slot by name when a policy set is loaded
 * (stats_policy_slot(), stats_endpoint_slot(): main thread, at startup and on
 * SIGHUP). Slots are never freed, so counters survive reloads and a policy
 * that comes back finds its old slot. The hot-path functions are lock-free
 * (relaxed atomic adds) and may be called from any thread.
 *
 * Labels hold only policy names, reasons and endpoint URLs without userinfo,
 * query or fragment (stats_endpoint_label()): never a token or a secret. */
#ifndef OAUTH2_SPOA_STATS_H
#define OAUTH2_SPOA_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prom.h"
#include "reason.h"

#define STATS_MAX_POLICIES  4096u /* policy slots; more names share the overflow slot */
#define STATS_MAX_ENDPOINTS 256u  /* endpoint slots; more share the overflow slot */
#define STATS_LABEL_MAX	    512u  /* bytes of an endpoint label */

/* Outcome of one introspection call: 0..10 are HTTP_CLIENT_ERR_INDEX() of the HTTP
 * client's result, then the three ways a completed call can still fail. */
enum stats_intro {
	STATS_INTRO_HTTP_STATUS = 11,  /* an HTTP status other than 200 */
	STATS_INTRO_BAD_RESPONSE = 12, /* 200 but not an RFC 7662 answer */
	STATS_INTRO_UNVERIFIED = 13,   /* 200 but not a valid signed answer (RFC 9701) */
	STATS_INTRO_COUNT = 14,
};

struct stats; /* opaque */

/* Returns a new, zeroed registry or NULL (out of memory). */
struct stats *stats_new(void);
void stats_free(struct stats *st);

/* The slot of policy <name> ("" = no policy applied), created on first use. */
unsigned stats_policy_slot(struct stats *st, const char *name);

/* The slot of the endpoint at <url>, labelled without secrets. */
unsigned stats_endpoint_slot(struct stats *st, const char *url);

/* Writes <url> without userinfo, query and fragment into <out> (truncated to
 * <n>, NUL-terminated): "https://user:pw@h/p?x" gives "https://h/p". Pure. */
void stats_endpoint_label(const char *url, char *out, size_t n);

/* Hot path, any thread. */
void stats_decision(struct stats *st, unsigned policy_slot, enum authz_reason r, bool shadow);
void stats_introspection(struct stats *st, unsigned ep_slot, unsigned outcome, double seconds);
void stats_inflight(struct stats *st, int delta); /* introspection calls in flight */
void stats_waiters(struct stats *st, int delta);  /* requests queued behind a fetch */

/* Main thread. */
void stats_reload(struct stats *st, bool ok);
/* Counts the values cut while mapping the claims <c> (may be NULL). */
struct claims;
void stats_claims(struct stats *st, const struct claims *c);

/* Appends this registry's metric families to <b>. Any thread. */
void stats_render(struct stats *st, struct prom_buf *b);

#endif

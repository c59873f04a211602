/* authz_log.h - the decision log: one counted outcome and one info line per
 * decision, and the rate-limited warnings the pipeline gives operators.
 *
 * Never logs a token: only its fingerprint. Every function runs on the
 * worker's thread of the struct authz it is given (route_unknown: any). */
#ifndef OAUTH2_SPOA_AUTHZ_LOG_H
#define OAUTH2_SPOA_AUTHZ_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "reason.h"

struct authz;
struct authz_snap;
struct authz_ticket;
struct claims;
struct policy;
struct verdict;

/* What decided a request, for the log line and the metrics. */
struct authz_outcome {
	const struct policy *p; /* NULL: no policy applied */
	enum authz_reason r;
	bool shadow;	  /* <p> is in shadow mode: answered allowed */
	struct claims *c; /* borrowed, for the log line only; may be NULL */
};

/* Counts the decision and writes its info line (formatted only when info is
 * enabled): <sn> the snapshot <oc>'s policy comes from, <route> the copied
 * route labels, <fp> the token fingerprint, <how> the cache outcome. All
 * borrowed for the call. */
void authz_log_decision(struct authz *az, const struct authz_snap *sn, const struct authz_ticket *t,
			const struct verdict *v, const struct authz_outcome *oc, const char *route,
			const char *fp, const char *how);

/* Copies the route labels <r> into dst[0..n) for the log line, truncated,
 * printable ASCII only ('?' for the rest). <n> > 0. */
void authz_log_copy_route(char *dst, size_t n, struct slice r);

/* route_unknown means the HAProxy configuration is wrong, not the client:
 * says so at most once a minute for the whole process. Any thread. */
void authz_log_route_unknown(double now);

/* A token_too_long refusal of a <header_len>-byte header (<max>: the limit):
 * at most one line per 10 s per worker, counting the quiet ones. */
void authz_log_too_long(struct authz *az, size_t header_len, size_t max, double now);

#endif

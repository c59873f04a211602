/* authz_pend.h - the life of a struct pend (authz_int.h), a request waiting
 * for its validation steps: taken from the worker's spare or allocated,
 * linked in the worker's list while it waits, recycled or freed. PRIVATE to
 * the authz_* files, like authz_int.h. Runs on the pend's worker thread. */
#ifndef OAUTH2_SPOA_AUTHZ_PEND_H
#define OAUTH2_SPOA_AUTHZ_PEND_H

#include "authz_int.h"
#include "buf.h"

/* A pend for a new decision: the worker's spare when it has one (only the
 * header is cleared: the caller sets up each need it uses), so that
 * decisions answered at once never allocate; NULL when out of memory. */
struct pend *pend_get(struct authz *az);

/* Ends a decision that answered at once: <pd> never left this thread and no
 * waiter of it is queued anywhere, so it becomes the spare again. */
void pend_recycle(struct authz *az, struct pend *pd);

/* Frees <pd>: its claims, its snapshot reference and its token copy
 * (wiped). */
void pend_free(struct pend *pd);

/* Adds <pd> to, or removes it from, the worker's list of waiting requests. */
void pend_link(struct authz *az, struct pend *pd);
void pend_unlink(struct authz *az, struct pend *pd);

/* Copies <token> (borrowed) into <pd> when a policy waiting for a step has
 * a step after it (userinfo after introspection): the request resumes
 * without the caller's token. Out of memory: no copy, and that step fails
 * (closed). <sn> is the snapshot <pd>'s policies belong to. */
void pend_keep_token(const struct authz_snap *sn, struct pend *pd, struct slice token);

#endif

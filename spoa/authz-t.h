/* authz-t.h - the decision interface's types (request, ticket, callback),
 * apart from its functions, so that the private authz_* files can share
 * them (authz_int.h) without depending on the pipeline's header, as
 * HAProxy's -t.h headers do. The rules are in authz.h. */
#ifndef OAUTH2_SPOA_AUTHZ_T_H
#define OAUTH2_SPOA_AUTHZ_T_H

#include <stdint.h>

#include "buf.h"

struct verdict;

/* The request attributes HAProxy sent. BORROWED for the duration of
 * authz_decide() only: the module copies what it keeps. */
struct authz_req {
	struct slice method, path, host, route, authorization;
};

struct authz_ticket {
	uint64_t conn_id;
	uint64_t stream_id, frame_id;
	double started; /* ev_now() when the NOTIFY was read */
};

/* Called exactly once for every authz_decide() that returned 0. <v> is owned
 * by the callee (it must call verdict_release()). */
typedef void (*authz_done_cb)(void *arg, const struct authz_ticket *t, struct verdict *v);

#endif

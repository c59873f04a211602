/* authz_int.h - the types the authz_* files share. PRIVATE to authz.c,
 * authz_shared.c, authz_fetch.c, authz_pend.c and authz_log.c: nothing else
 * may include it (authz.h is the public contract).
 *
 * Lifetimes: struct authz_shared is built on the main thread and outlives
 * every worker; struct authz belongs to one worker thread; a struct pend is
 * one request waiting for its needs, owned by its struct authz's list (or,
 * once orphaned at shutdown, by its last outstanding need). */
#ifndef OAUTH2_SPOA_AUTHZ_INT_H
#define OAUTH2_SPOA_AUTHZ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz-t.h"
#include "authz_snap.h"
#include "http_client.h"
#include "limits.h"
#include "mailbox.h"
#include "tcache.h"

#define AUTHZ_MAX_POLICIES 32 /* policies that may apply to one request */
#define AUTHZ_MAX_NEEDS	   8  /* distinct validation steps (results) per request */

struct authz_shared {
	struct authz_snap_cell snaps; /* the published snapshot */
	struct tcache *cache;
	struct l2_shared *l2s; /* NULL: no shared cache */
	struct stats *st;
	unsigned no_policy_slot;
	struct http_client_options hc;
	char *ca_file; /* hc.ca_file points here */
};

struct pend;
struct validator;

/* One step result a request needs (an introspection answer, a local JWT
 * verification): policies whose step has one identity share one need. */
struct authz_need {
	struct pend *pend;
	const struct validator *v;
	uint8_t step; /* <v>'s index in the steps of <first> */
	bool started; /* looked up (<key> is set) */
	/* Whom to wake (copied from pend->az->mb): another worker's fetch may
	 * complete while this one is shutting down and its struct authz is
	 * gone, so the waking side never goes through pend->az. The mailbox
	 * outlives every struct authz. */
	struct mailbox *owner;
	const struct policy *first; /* the policy that reached this step first */
	uint8_t key[TCACHE_KEY_LEN];
	struct claims *claims; /* NULL: failed (or not yet known) */
	bool stale;	       /* <claims> is an expired result served on error */
	bool done;
	struct tcache_waiter waiter;
	/* The continuation when the result was not known at once (fn set by
	 * authz.c): run directly by the leader, posted to <owner> for a waiter. */
	struct mailbox_msg msg;
};

/* How far one policy of a request got through its steps. */
struct pol_walk {
	uint8_t step;	 /* the next step to look at */
	uint8_t need;	 /* index in pend.need[] of the last step looked at */
	uint8_t ident;	 /* index in pend.need[] of the claims the checks judge */
	bool ended;	 /* a step refused (<r>), or every step continued */
	unsigned char r; /* enum authz_reason: a step's refusal, or AUTHZ_OK */
};

struct pend {
	struct authz *az;
	struct pend *prev, *next; /* az->pends */
	bool orphan;		  /* az is gone: just free when all needs are done */
	bool l2;		  /* a result came from the shared cache (logged cache=l2) */
	bool failed;		  /* an I/O step could not start (logged cache=error) */
	bool local;		  /* a local step computed a result (logged cache=local) */
	struct authz_snap *snap;  /* a reference: pol[] points into snap->set */
	char route[64];		  /* for the log line, truncated */
	struct authz_ticket t;
	const struct policy *pol[AUTHZ_MAX_POLICIES];
	size_t npol;
	bool base_deny; /* no enforcing policy applies and defaultDecision: deny */
	struct pol_walk walk[AUTHZ_MAX_POLICIES];
	struct authz_need need[AUTHZ_MAX_NEEDS];
	size_t nneed, outstanding;
	/* A copy of the token while a step waits and a policy has a step after
	 * it (userinfo after introspection); wiped when freed. NULL: none. */
	char *tok;
	size_t tok_len;
};

struct authz {
	struct authz_shared *sh;
	struct authz_snap *snap; /* a reference to the newest snapshot seen */
	struct mailbox *mb;
	struct ev_loop *loop;
	struct http_client *hc;
	struct l2 *l2; /* NULL: no shared cache */
	authz_done_cb done;
	void *done_arg;
	struct pend *pends;
	struct pend *spare;	      /* reused by decisions that answer at once */
	bool closing;		      /* authz_free() runs: no step may start */
	double too_long_logged;	      /* ev_now() of the last token_too_long warning */
	unsigned long too_long_quiet; /* refused since then without a line */
	/* A decoded request path, for policy matching only (decide()). */
	uint8_t path_buf[REQ_MAX_ARG_LEN];
};

#endif

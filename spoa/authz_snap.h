/* authz_snap.h - the policy snapshot the decision pipeline reads: an
 * immutable policy set with the settings a reload may change, refcounted, and
 * the cell that publishes the newest one to every worker.
 *
 * Lifetimes: a snapshot is freed with its last reference. The cell holds
 * one; each worker holds one to the snapshot it last saw, and each waiting
 * request one to the snapshot it was decided under, so a reload never frees
 * a policy a request still points into. Private to the authz modules. */
#ifndef OAUTH2_SPOA_AUTHZ_SNAP_H
#define OAUTH2_SPOA_AUTHZ_SNAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcache.h"
#include "validator.h"

struct config;
struct policy_set;
struct stats;

/* A policy's validation steps in order (validator_steps()), each with the
 * endpoint half of its cache key, so that a request hashes only its token.
 * A key prefix may hold a digest of a client secret: wiped with the
 * snapshot. */
struct authz_steps {
	size_t n; /* 0 for a public policy */
	const struct validator *v[VALIDATOR_MAX_STEPS];
	struct tcache_key_prefix kp[VALIDATOR_MAX_STEPS];
	unsigned slot[VALIDATOR_MAX_STEPS]; /* stats slot of the step's endpoint */
};

/* An immutable policy set with the settings a reload may change; see
 * authz.h for who holds references. Read-only once built. */
struct authz_snap {
	atomic_uint refs;
	struct policy_set *set;
	bool default_deny;
	int64_t leeway_s;
	size_t max_token_len;
	unsigned *pol_slot;	   /* stats slot by policy_index() */
	unsigned *endpoint_slot;   /* stats slot of the introspection endpoint by policy_index() */
	struct authz_steps *steps; /* by policy_index() */
};

/* Builds a snapshot holding one reference; steals <set> (freed on failure).
 * Registers each policy's stats slots in <st>. Returns NULL when out of
 * memory. */
struct authz_snap *authz_snap_new(struct stats *st, const struct config *c, struct policy_set *set);

/* Takes one more reference to <sn> (the caller holds one). Any thread. */
struct authz_snap *authz_snap_ref(struct authz_snap *sn);

/* Drops one reference; NULL is ignored. Any thread. */
void authz_snap_unref(struct authz_snap *sn);

/* The published snapshot: written by reloads, read lock-free by workers. */
struct authz_snap_cell {
	_Atomic(struct authz_snap *) cur; /* written under mu */
	pthread_mutex_t mu;		  /* makes "read cur, take a reference" atomic */
};

/* Takes over <sn>'s reference (may be NULL only to be destroyed). */
void authz_snap_cell_init(struct authz_snap_cell *cell, struct authz_snap *sn);

/* Returns a new reference to the current snapshot. Any thread. */
struct authz_snap *authz_snap_cell_get(struct authz_snap_cell *cell);

/* True while <sn> is the current snapshot: comparing pointers is safe while
 * the caller holds a reference to <sn>, as no new snapshot can then be
 * allocated at its address. */
bool authz_snap_cell_holds(struct authz_snap_cell *cell, const struct authz_snap *sn);

/* Makes <sn> current, taking over its reference; drops the cell's reference
 * to the previous one (holders keep theirs). */
void authz_snap_cell_publish(struct authz_snap_cell *cell, struct authz_snap *sn);

void authz_snap_cell_destroy(struct authz_snap_cell *cell);

#endif

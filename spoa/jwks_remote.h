/* jwks_remote.h - the handle a jwt policy holds on one remote JWKS URL: the
 * URL's slot (jwks_slot.h, the current key set) and, while the URL is in
 * use, the fetcher that keeps it fresh (jwks_fetcher.h).
 *
 * Lifetimes: refcounted. Each policy naming the URL holds a reference
 * (released with its policy set, on any thread), and so does the registry
 * (jwks_registry.h) while the URL is in the current policy set. The fetcher
 * belongs to the main thread: only the registry attaches and detaches it,
 * and it is always detached before the registry drops its reference, so the
 * last reference, wherever it is dropped, only frees the slot. A handle
 * whose URL left the policy set keeps serving its last good set to the
 * snapshots that still hold it, without refreshes.
 *
 * Thread-safe, except jwks_remote_attach() (main thread). */
#ifndef OAUTH2_SPOA_JWKS_REMOTE_H
#define OAUTH2_SPOA_JWKS_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "jwks.h"
#include "jwks_slot.h"

struct jwks_fetcher;
struct jwks_remote; /* opaque */

/* A NEW handle on <url> (copied) with an empty slot and no fetcher, one
 * reference; NULL when out of memory. Each handle gets an id no other
 * handle of the process has. */
struct jwks_remote *jwks_remote_new(const char *url);

struct jwks_remote *jwks_remote_ref(struct jwks_remote *r); /* not NULL */
void jwks_remote_unref(struct jwks_remote *r);		    /* NULL allowed */

/* Borrowed, valid while a reference is held. */
const char *jwks_remote_url(const struct jwks_remote *r);
struct jwks_slot *jwks_remote_slot(struct jwks_remote *r);

/* The process-unique id of the handle and the generation of its current
 * set: together they name the key set a result is computed with (the cache
 * key absorbs both; a generation alone restarts at 1 with a new slot). */
uint64_t jwks_remote_id(const struct jwks_remote *r);

/* A reader saw a kid no key of generation <gen> has: raises the slot's flag
 * and wakes the fetcher if one is attached. */
void jwks_remote_kick(struct jwks_remote *r, uint64_t gen);

/* True at most once per <every_s> seconds of <now_s>: rate-limits the log
 * hint "no key set yet" across every worker. */
bool jwks_remote_hint_due(struct jwks_remote *r, int64_t now_s, int64_t every_s);

/* Main thread: makes <f> (may be NULL) the handle's fetcher and returns the
 * previous one, which the caller frees (jwks_fetcher_free()) after this
 * returns: no kick can reach it any more. */
struct jwks_fetcher *jwks_remote_attach(struct jwks_remote *r, struct jwks_fetcher *f);

#endif

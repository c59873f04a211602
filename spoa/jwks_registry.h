/* jwks_registry.h - the remote JWKS URLs of the running policy set: one
 * handle (jwks_remote.h) and one fetcher (jwks_fetcher.h) per distinct URL,
 * shared by every policy naming it, fetched on the main thread's loop so
 * that no worker ever waits on a JWKS.
 *
 * A reload binds the new set (jwks_registry_bind()): a URL already known
 * keeps its handle, so its last good key set and generation carry over; a
 * new URL gets a handle and a fetcher, whose first fetch starts from the
 * loop at once. Once the new set is published, jwks_registry_commit()
 * retires the URLs it no longer names: their fetchers are stopped and freed
 * there, and their handles live on, without refreshes, until the last
 * snapshot holding them is released.
 *
 * Main thread only, except jwks_registry_render() (any thread: the metrics
 * thread). */
#ifndef OAUTH2_SPOA_JWKS_REGISTRY_H
#define OAUTH2_SPOA_JWKS_REGISTRY_H

#include <stdint.h>

struct ev_loop;
struct policy_set;
struct prom_buf;
struct jwks_registry; /* opaque */

/* A NEW empty registry fetching on <loop> with a total timeout of
 * <timeout_ms> per fetch and TLS trust from <ca_file> (NULL: system;
 * copied). NULL when out of memory. */
struct jwks_registry *jwks_registry_new(struct ev_loop *loop, unsigned timeout_ms,
					const char *ca_file);

/* Binds every remoteJwks policy of <set> (policy_set_bind_jwks()). A URL
 * named by several policies is fetched every min(refreshInterval); a known
 * URL whose interval changed gets a new fetcher on the same handle. Returns
 * 0, or -1 when out of memory (the set is then unusable: free it; the
 * running set is unaffected). */
int jwks_registry_bind(struct jwks_registry *g, struct policy_set *set);

/* The set of the last successful jwks_registry_bind() was published:
 * retires every URL it does not name. */
void jwks_registry_commit(struct jwks_registry *g);

/* Appends the oauth2_spoa_jwks_* metrics. Any thread. */
void jwks_registry_render(struct jwks_registry *g, struct prom_buf *b);

/* Stops every fetcher and drops the registry's references; NULL allowed.
 * Before the loop is destroyed. */
void jwks_registry_free(struct jwks_registry *g);

#endif

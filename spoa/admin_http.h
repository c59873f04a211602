/* admin_http.h - the admin listener (off unless `admin:` is configured),
 * separate from /metrics: POST /purge with a JSON body (purge.h), answered
 * with {"local": N, "redis": N|null, "published": bool}.
 *
 * Served by libmicrohttpd on its own thread: request bodies, header parsing,
 * timeouts and connection limits are what the hand-written metrics responder
 * does not do, and would have made it grow. TCP needs `Authorization: Bearer
 * <admin.tokenFile>` (compared in constant time; 401 otherwise, before the
 * body is read, and nothing is purged); a unix socket is created mode 0600
 * (and also checks the token when one is configured). Bodies are wiped after
 * use: a purge by token carries the token. */
#ifndef OAUTH2_SPOA_ADMIN_HTTP_H
#define OAUTH2_SPOA_ADMIN_HTTP_H

#include "err.h"

struct admin_config;
struct fleet;
struct admin_http;

#define ADMIN_TIMEOUT_S 5  /* per connection */
#define ADMIN_MAX_CONNS 16 /* connections at once */

/* Binds <ac>->address and starts serving purges through <f> (borrowed, must
 * outlive the listener). Returns NULL with <e> filled on failure. */
struct admin_http *admin_http_start(const struct admin_config *ac, struct fleet *f, struct err *e);

/* Stops the server, closes (and unlinks a unix) socket, frees. NULL allowed. */
void admin_http_stop(struct admin_http *a);

#endif

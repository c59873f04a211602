/* listener.h - listening sockets from "HOST:PORT", "[V6]:PORT" or "unix:PATH".
 *
 * Sockets are non-blocking and close-on-exec. TCP sockets set SO_REUSEPORT
 * so that each worker can own one and the kernel spreads connections. */
#ifndef OAUTH2_SPOA_LISTENER_H
#define OAUTH2_SPOA_LISTENER_H

#include <stdbool.h>

#include "err.h"

/* True when <addr> names a unix socket. */
bool listener_is_unix(const char *addr);

/* Opens, binds and listens. Returns the fd, or -1 with <e> filled. A stale
 * unix socket file is replaced; any other existing file is an error. With
 * <reuseport> (TCP only) the port may be bound again by this process, one
 * socket per worker; binding the <first> of them fails if anyone else
 * already listens on the port. */
int listener_open(const char *addr, bool reuseport, bool first, struct err *e);

#endif

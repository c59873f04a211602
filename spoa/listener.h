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

/* The mode a unix socket file gets unless configured (unixSocketMode,
 * --unix-mode): its owner and group may connect, nobody else. Connecting
 * needs write permission, so HAProxy must run as the agent's user or group. */
#define LISTENER_DEFAULT_UNIX_MODE 0660u

/* Parses a unix socket mode: 3 or 4 octal digits ("660", "0660"), at most
 * 0777. Returns 0 with *mode set, or -1. */
int listener_mode_parse(const char *s, unsigned *mode);

/* Opens, binds and listens. Returns the fd, or -1 with <e> filled. A stale
 * unix socket file is replaced; any other existing file is an error. A new
 * unix socket file gets exactly <unix_mode> (whatever the umask), and is
 * never more open than that in between: the umask is tightened around
 * bind(), so call this before starting threads. With <reuseport> (TCP only)
 * the port may be bound again by this process, one socket per worker;
 * binding the <first> of them fails if anyone else already listens on the
 * port. */
int listener_open(const char *addr, bool reuseport, bool first, unsigned unix_mode, struct err *e);

#endif

/* listener.c - see listener.h. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

bool listener_is_unix(const char *addr)
{
	return strncmp(addr, "unix:", 5) == 0;
}

int listener_mode_parse(const char *s, unsigned *mode)
{
	size_t n = strlen(s);
	unsigned m = 0;

	if (n < 3 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		m = m * 8 + (unsigned)(s[i] - '0');
	}
	if (m > 0777)
		return -1;
	*mode = m;
	return 0;
}

static int open_unix(const char *path, unsigned mode, struct err *e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return err_set(e, 0, 0, "unix socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(e, 0, 0, "%s exists and is not a socket", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, 0, 0, "socket: %s", strerror(errno));
	/* bind() creates the file with 0777 & ~umask: tighten the umask so that
	 * it is never more open than <mode>, then set exactly <mode>. */
	old = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(path, (mode_t)mode) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		err_set(e, 0, 0, "cannot listen on unix:%s: %s", path, strerror(errno));
		if (rc == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

static int open_tcp(const char *addr, bool reuseport, bool first, struct err *e)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	size_t hlen;
	int fd = -1, one = 1, rc;

	if (addr[0] == '[') {
		colon = strstr(addr, "]:");
		if (!colon)
			return err_set(e, 0, 0, "bad address %s: expected [IPV6]:PORT", addr);
		hlen = (size_t)(colon - addr - 1);
		port = colon + 2;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return err_set(e, 0, 0, "bad address %s: expected HOST:PORT or unix:PATH",
				       addr);
		hlen = (size_t)(colon - addr);
		port = colon + 1;
	}
	if (hlen >= sizeof(host) || !*port)
		return err_set(e, 0, 0, "bad address %s", addr);
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	rc = getaddrinfo(hlen ? host : NULL, port, &hints, &res);
	if (rc)
		return err_set(e, 0, 0, "cannot resolve %s: %s", addr, gai_strerror(rc));
	if (reuseport && first) {
		/* SO_REUSEPORT would let us silently share the port with another
		 * running agent: bind once without it to find out. */
		int probe = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		(void)setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (probe >= 0 && bind(probe, res->ai_addr, res->ai_addrlen) < 0) {
			err_set(e, 0, 0, "cannot listen on %s: %s", addr, strerror(errno));
			close(probe);
			goto out;
		}
		if (probe >= 0)
			close(probe);
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set(e, 0, 0, "socket: %s", strerror(errno));
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		err_set(e, 0, 0, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	freeaddrinfo(res);
	return fd;
}

int listener_open(const char *addr, bool reuseport, bool first, unsigned unix_mode, struct err *e)
{
	if (listener_is_unix(addr))
		return open_unix(addr + 5, unix_mode, e);
	return open_tcp(addr, reuseport, first, e);
}

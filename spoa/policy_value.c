/* policy_value.c - checking and converting the scalar values of a policy:
 * URLs, scope tokens, hosts, methods, names, durations and client secrets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "policy.h"
#include "policy_int.h"

/* ---- value checks ---------------------------------------------------- */

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int pol_check_text(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s)
{
	if (has_ctl(s))
		return pol_fail(l, n, "%s: control characters are not allowed", where);
	return 0;
}

/* RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). This is also
 * what keeps the WWW-Authenticate scope="..." parameter well formed. */
int pol_check_scope(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p == '"' || *p == '\\' || *p > 0x7e)
			return pol_fail(l, n,
					"%s: \"%.64s\" is not a valid scope token (RFC 6749 3.3)",
					where, s);
	return 0;
}

int pol_check_method(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			return pol_fail(
			    l, n, "%s: \"%.32s\" must be upper case (methods are case-sensitive)",
			    where, s);
		if (!((*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
			return pol_fail(l, n, "%s: \"%.32s\" is not an HTTP method", where, s);
	}
	return 0;
}

/* A host name (optionally "*." + name) or a bracketed IPv6 literal, without
 * a port. Stored in lower case, without a trailing dot. */
int pol_check_host(struct pol_ld *l, const yaml_node_t *n, const char *where, char *s)
{
	size_t len = strlen(s);
	char *p = s;

	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' ||
		    strspn(s + 1, "0123456789abcdefABCDEF:.") != len - 2)
			return pol_fail(l, n, "%s: \"%.64s\" is not a valid host", where, s);
	} else {
		if (len > 1 && s[len - 1] == '.')
			s[--len] = '\0';
		if (strchr(s, ':'))
			return pol_fail(
			    l, n,
			    "%s: \"%.64s\" must not include a port (the request's port is ignored)",
			    where, s);
		if (len > 2 && s[0] == '*' && s[1] == '.')
			p = s + 2;
		if (!*p ||
		    strspn(p,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
			strlen(p))
			return pol_fail(
			    l, n,
			    "%s: \"%.64s\" is not a valid host name (a wildcard is only "
			    "allowed as a leading \"*.\")",
			    where, s);
	}
	for (p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return 0;
}

/* http:// or https://, a host, an optional port, no user info, no fragment,
 * no blanks or control characters. */
int pol_check_url(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *u)
{
	const char *p, *auth_end, *host_end;
	size_t alen;

	if (!strncasecmp(u, "http://", 7))
		p = u + 7;
	else if (!strncasecmp(u, "https://", 8))
		p = u + 8;
	else
		return pol_fail(l, n, "%s: \"%.64s\" is not an http:// or https:// URL", where, u);
	for (const char *q = u; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			return pol_fail(l, n, "%s: the URL contains a blank or control character",
					where);
	if (strchr(u, '#'))
		return pol_fail(l, n, "%s: the URL must not have a #fragment", where);
	alen = strcspn(p, "/?");
	auth_end = p + alen;
	if (memchr(p, '@', alen))
		return pol_fail(l, n,
				"%s: credentials in the URL are not allowed (use clientId and "
				"clientSecretFile)",
				where);
	if (*p == '[') {
		host_end = memchr(p, ']', alen);
		if (!host_end || host_end == p + 1)
			return pol_fail(l, n, "%s: the URL has a malformed IPv6 host", where);
		host_end++;
	} else {
		host_end = memchr(p, ':', alen);
		if (!host_end)
			host_end = auth_end;
	}
	if (host_end == p)
		return pol_fail(l, n, "%s: the URL has no host", where);
	if (host_end < auth_end) {
		const char *q = host_end + 1;
		long port = 0;

		if (*host_end != ':' || q == auth_end)
			return pol_fail(l, n, "%s: the URL has a malformed port", where);
		for (; q < auth_end; q++) {
			if (*q < '0' || *q > '9' || (port = port * 10 + (*q - '0')) > 65535)
				return pol_fail(l, n, "%s: the URL has a malformed port", where);
		}
		if (port == 0)
			return pol_fail(l, n, "%s: the URL has a malformed port", where);
	}
	return 0;
}

/* Only a literal loopback address or "localhost" counts as local: a name
 * could resolve anywhere, and then the secret and the token cross the
 * network in clear. */
bool policy_url_is_cleartext(const char *url)
{
	const char *h;
	char host[64];
	size_t n;
	struct in_addr a4;
	struct in6_addr a6;

	if (!url || strncasecmp(url, "http://", 7))
		return false;
	h = url + 7;
	if (*h == '[') {
		h++;
		n = strcspn(h, "]");
	} else {
		n = strcspn(h, ":/?");
	}
	if (n == 0 || n >= sizeof(host))
		return true;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!strcasecmp(host, "localhost"))
		return false;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) != 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return !IN6_IS_ADDR_LOOPBACK(&a6);
	return true;
}

/* ---- durations ------------------------------------------------------- */

int policy_duration_parse(const char *s, int64_t *ms)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
	int64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -1;
	if (strspn(s, "0123456789") == strlen(s)) {
		for (; *p; p++) {
			total = total * 10 + (*p - '0');
			if (total > POLICY_MAX_DURATION_MS / 1000)
				return -1;
		}
		*ms = total * 1000;
		return 0;
	}
	while (*p) {
		int64_t whole = 0, frac = 0, scale = 1, unit = 0;
		size_t u;

		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			whole = whole * 10 + (*p - '0');
			if (whole > POLICY_MAX_DURATION_MS)
				return -1;
		}
		if (*p == '.') {
			p++;
			if (*p < '0' || *p > '9')
				return -1;
			for (; *p >= '0' && *p <= '9'; p++) {
				if (scale >= 1000000000)
					return -1; /* more than 9 fraction digits */
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t ul = strlen(units[u].name);

			/* "ms" is listed before "m", so "5ms" is not "5m" + "s". */
			if (!strncmp(p, units[u].name, ul)) {
				unit = units[u].ms;
				p += ul;
				break;
			}
		}
		if (!unit || whole > POLICY_MAX_DURATION_MS / unit)
			return -1;
		if ((frac * unit) % scale)
			return -1; /* finer than a millisecond */
		total += whole * unit + frac * unit / scale;
		if (total > POLICY_MAX_DURATION_MS)
			return -1;
	}
	*ms = total;
	return 0;
}

int pol_duration(struct pol_ld *l, const yaml_node_t *n, const char *where, int64_t *ms)
{
	char *s;
	int rc;

	if (pol_scalar(l, n, where, false, &s))
		return -1;
	rc = policy_duration_parse(s, ms);
	if (rc)
		pol_fail(
		    l, n,
		    "%s: invalid duration \"%.32s\" (expected seconds or e.g. 500ms, 30s, 10m, "
		    "1h, at most 24h)",
		    where, s);
	free(s);
	return rc;
}

/* ---- secrets --------------------------------------------------------- */

/* Reads the file named by node <n> (relative to the policy's directory) into
 * a new string, minus one trailing "\n" or "\r\n". The secret itself never
 * reaches a message. */
int pol_secret_file(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *name,
		    char **out)
{
	char path[4096], buf[POLICY_MAX_SECRET_LEN + 2];
	size_t len = 0;
	struct stat st;
	ssize_t r;
	int fd, rc = -1;

	if (name[0] == '/' || !l->dir[0])
		snprintf(path, sizeof(path), "%s", name);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->dir, name) >= sizeof(path))
		return pol_fail(l, n, "%s: path too long", where);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return pol_fail(l, n, "%s: cannot open \"%.100s\": %s", where, path,
				strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		pol_fail(l, n, "%s: \"%.100s\" is not a regular file", where, path);
		goto out;
	}
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			pol_fail(l, n, "%s: cannot read \"%.100s\": %s", where, path,
				 strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	if (len > POLICY_MAX_SECRET_LEN)
		pol_fail(l, n, "%s: \"%.100s\" is longer than %u bytes", where, path,
			 POLICY_MAX_SECRET_LEN);
	else if (!len)
		pol_fail(l, n, "%s: \"%.100s\" is empty", where, path);
	else if (memchr(buf, '\0', len) || memchr(buf, '\n', len) || memchr(buf, '\r', len))
		pol_fail(l, n, "%s: \"%.100s\" must hold one line without NUL bytes", where, path);
	else if (!(*out = strndup(buf, len)))
		pol_fail(l, n, "out of memory");
	else
		rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int pol_secret_env(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *name,
		   char **out)
{
	const char *v;

	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
		strlen(name) ||
	    (name[0] >= '0' && name[0] <= '9'))
		return pol_fail(l, n, "%s: \"%.64s\" is not a valid environment variable name",
				where, name);
	v = getenv(name);
	if (!v)
		return pol_fail(l, n, "%s: environment variable \"%.64s\" is not set", where, name);
	if (!*v)
		return pol_fail(l, n, "%s: environment variable \"%.64s\" is empty", where, name);
	if (strlen(v) > POLICY_MAX_SECRET_LEN || strpbrk(v, "\r\n"))
		return pol_fail(
		    l, n,
		    "%s: environment variable \"%.64s\" must hold one line of at most %u bytes",
		    where, name, POLICY_MAX_SECRET_LEN);
	*out = strdup(v);
	if (!*out)
		return pol_fail(l, n, "out of memory");
	return 0;
}

int pol_check_name(struct pol_ld *l, const yaml_node_t *n, const char *where, const char *s)
{
	if (strlen(s) > 253 ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		strlen(s))
		return pol_fail(
		    l, n, "%s: \"%.64s\" is not a valid name (letters, digits, '.', '_', '-')",
		    where, s);
	return 0;
}

/* redis_config.c - see redis_config.h. */
#include "redis_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "yaml_node.h"

struct ld {
	struct err *e;
	const char *file, *dir;
	yaml_document_t *doc;
};

static int fail(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yaml_node_fail(l->e, l->file, n, fmt, ap);
	va_end(ap);
	return -1;
}

int redis_addr_parse(const char *s, struct redis_addr *out, const char **why)
{
	const char *colon;
	unsigned char bin[16];
	char *end;
	long port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (!strncmp(s, "unix:", 5))
		s += 5;
	if (s[0] == '/') {
		if (strlen(s) >= sizeof(out->path))
			return *why = "unix socket path longer than 107 bytes", -1;
		out->is_unix = true;
		strcpy(out->path, s);
		return 0;
	}
	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return *why = "expected [IPv6]:PORT", -1;
		hl = (size_t)(colon - s - 1);
		s++;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return *why = "expected HOST:PORT or a unix socket path", -1;
		hl = (size_t)(colon - s);
	}
	if (!hl || hl >= sizeof(out->host))
		return *why = "expected an IP address before the port", -1;
	memcpy(out->host, s, hl);
	if (inet_pton(AF_INET, out->host, bin) != 1 && inet_pton(AF_INET6, out->host, bin) != 1)
		return *why = "the host must be an IP address (no name is resolved)", -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		return *why = "the port must be 1..65535", -1;
	out->port = (int)port;
	return 0;
}

void redis_config_defaults(struct redis_config *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->timeout_ms = REDIS_DEFAULT_TIMEOUT_MS;
}

static const char *scalar(struct ld *l, const yaml_node_t *n, const char *where)
{
	size_t len;

	if (n->type != YAML_SCALAR_NODE || yaml_node_is_null(n)) {
		fail(l, n, "%s must be a string, not %s", where, yaml_node_kind(n));
		return NULL;
	}
	len = n->data.scalar.length;
	if (!len || len > 4096 || memchr(n->data.scalar.value, '\0', len)) {
		fail(l, n, "%s must be 1..4096 bytes of text", where);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static int set(struct ld *l, const yaml_node_t *n, char **dst, const char *s)
{
	char *v = strdup(s);

	if (!v)
		return fail(l, n, "out of memory");
	free(*dst);
	*dst = v;
	return 0;
}

/* One line of a secret: without a trailing newline, no NUL/CR/LF inside. */
static int check_secret(struct ld *l, const yaml_node_t *n, const char *where, char *buf,
			size_t len, char **out)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	if (!len || len > REDIS_MAX_PASSWORD)
		return fail(l, n, "%s: the secret must be 1..%u bytes", where, REDIS_MAX_PASSWORD);
	if (memchr(buf, '\0', len) || memchr(buf, '\n', len) || memchr(buf, '\r', len))
		return fail(l, n, "%s: the secret must be one line without NUL bytes", where);
	if (!(*out = strndup(buf, len)))
		return fail(l, n, "out of memory");
	return 0;
}

static int password_file(struct ld *l, const yaml_node_t *n, const char *where, const char *name,
			 char **out)
{
	char path[4096], buf[REDIS_MAX_PASSWORD + 3];
	size_t len = 0;
	struct stat st;
	ssize_t r = 1;
	int fd, rc;

	if (name[0] == '/' || !l->dir[0])
		snprintf(path, sizeof(path), "%s", name);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->dir, name) >= sizeof(path))
		return fail(l, n, "%s: path too long", where);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return fail(l, n, "%s: cannot open \"%.100s\": %s", where, path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(l, n, "%s: \"%.100s\" is not a regular file", where, path);
	}
	while (len < sizeof(buf) && r != 0) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		len += (size_t)r;
	}
	close(fd);
	rc = r == -1 ? fail(l, n, "%s: cannot read \"%.100s\"", where, path)
		     : check_secret(l, n, where, buf, len, out);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int password_env(struct ld *l, const yaml_node_t *n, const char *name, char **out)
{
	const char *v = getenv(name);
	char buf[REDIS_MAX_PASSWORD + 3];
	size_t len;
	int rc;

	if (!v)
		return fail(l, n, "redis.passwordEnv: %.100s is not set", name);
	len = strlen(v);
	if (len > REDIS_MAX_PASSWORD + 2)
		len = REDIS_MAX_PASSWORD + 2;
	memcpy(buf, v, len);
	rc = check_secret(l, n, "redis.passwordEnv", buf, len, out);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

enum { R_ADDR, R_PREFIX, R_TIMEOUT, R_PWFILE, R_PWENV, R_DB, R_COUNT };
static const char *const redis_keys[R_COUNT + 1] = {
    "address", "keyPrefix", "timeout", "passwordFile", "passwordEnv", "db", NULL};

/* yaml_node_fields() with the loader's document, error and file. */
static int get_fields(struct ld *l, const yaml_node_t *map, const char *where,
		      const char *const *keys, yaml_node_t **v)
{
	return yaml_node_fields(l->doc, l->e, l->file, map, where, keys, v);
}

static int parse_scalars(struct ld *l, yaml_node_t **v, struct redis_config *rc)
{
	struct redis_addr a;
	const char *s, *why;
	int64_t ms;
	char *end;
	long db;

	if (!(s = scalar(l, v[R_ADDR], "redis.address")))
		return -1;
	if (redis_addr_parse(s, &a, &why))
		return fail(l, v[R_ADDR], "redis.address: %s", why);
	if (set(l, v[R_ADDR], &rc->address, s))
		return -1;
	if (v[R_PREFIX]) {
		if (!(s = scalar(l, v[R_PREFIX], "redis.keyPrefix")))
			return -1;
		if (strlen(s) > REDIS_MAX_PREFIX)
			return fail(l, v[R_PREFIX], "redis.keyPrefix: at most %u bytes",
				    REDIS_MAX_PREFIX);
		if (set(l, v[R_PREFIX], &rc->key_prefix, s))
			return -1;
	}
	if (v[R_TIMEOUT]) {
		if (!(s = scalar(l, v[R_TIMEOUT], "redis.timeout")))
			return -1;
		if (policy_duration_parse(s, &ms) < 0 || ms < 1 || ms > 10000)
			return fail(l, v[R_TIMEOUT],
				    "redis.timeout: expected a duration from 1ms to 10s, not "
				    "\"%.64s\"",
				    s);
		rc->timeout_ms = (unsigned)ms;
	}
	if (v[R_DB]) {
		if (!(s = scalar(l, v[R_DB], "redis.db")))
			return -1;
		errno = 0;
		db = strtol(s, &end, 10);
		if (errno || end == s || *end || db < 0 || db > 1023)
			return fail(l, v[R_DB], "redis.db: expected an integer in 0..1023");
		rc->db = (int)db;
	}
	return 0;
}

int redis_config_parse(struct err *e, const char *file, const char *dir, yaml_document_t *doc,
		       const yaml_node_t *n, struct redis_config *rc)
{
	struct ld l = {e, file, dir, doc};
	yaml_node_t *v[R_COUNT];
	const char *s;

	if (get_fields(&l, n, "redis", redis_keys, v))
		return -1;
	if (!v[R_ADDR])
		return fail(&l, n, "redis: address is required");
	if (parse_scalars(&l, v, rc))
		return -1;
	if (v[R_PWFILE] && v[R_PWENV])
		return fail(&l, v[R_PWENV], "redis: set passwordFile or passwordEnv, not both");
	if (v[R_PWFILE] || v[R_PWENV]) {
		yaml_node_t *pn = v[R_PWFILE] ? v[R_PWFILE] : v[R_PWENV];

		if (!(s = scalar(&l, pn, v[R_PWFILE] ? "redis.passwordFile" : "redis.passwordEnv")))
			return -1;
		if (rc->password) {
			explicit_bzero(rc->password, strlen(rc->password));
			free(rc->password);
			rc->password = NULL;
		}
		return v[R_PWFILE] ? password_file(&l, pn, "redis.passwordFile", s, &rc->password)
				   : password_env(&l, pn, s, &rc->password);
	}
	return 0;
}

int redis_config_set_address(struct redis_config *rc, const char *addr, struct err *e)
{
	struct redis_addr a;
	const char *why;
	char *v;

	if (redis_addr_parse(addr, &a, &why))
		return err_set(e, 0, 0, "--redis: %s", why);
	if (!(v = strdup(addr)))
		return err_set(e, 0, 0, "out of memory");
	free(rc->address);
	rc->address = v;
	return 0;
}

int redis_config_finish(struct redis_config *rc)
{
	if (!rc->key_prefix && !(rc->key_prefix = strdup(REDIS_DEFAULT_PREFIX)))
		return -1;
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool redis_config_equal(const struct redis_config *a, const struct redis_config *b)
{
	return str_eq(a->address, b->address) && str_eq(a->key_prefix, b->key_prefix) &&
	       a->timeout_ms == b->timeout_ms && str_eq(a->password, b->password) && a->db == b->db;
}

void redis_config_free(struct redis_config *rc)
{
	if (rc->password)
		explicit_bzero(rc->password, strlen(rc->password));
	free(rc->password);
	free(rc->address);
	free(rc->key_prefix);
	redis_config_defaults(rc);
}

int admin_addr_parse(const char *s, struct redis_addr *out, const char **why)
{
	if (!strncmp(s, "unix:", 5) && s[5] != '/')
		return *why = "unix: needs an absolute path", -1;
	if (s[0] == '/')
		return *why = "a unix socket is written unix:/PATH", -1;
	return redis_addr_parse(s, out, why);
}

int admin_config_parse(struct err *e, const char *file, const char *dir, yaml_document_t *doc,
		       const yaml_node_t *n, struct admin_config *ac)
{
	static const char *const keys[] = {"address", "tokenFile", NULL};
	struct ld l = {e, file, dir, doc};
	struct redis_addr a;
	yaml_node_t *v[2];
	const char *s, *why;

	if (get_fields(&l, n, "admin", keys, v))
		return -1;
	if (!v[0])
		return fail(&l, n, "admin: address is required");
	if (!(s = scalar(&l, v[0], "admin.address")))
		return -1;
	if (admin_addr_parse(s, &a, &why))
		return fail(&l, v[0], "admin.address: %s", why);
	if (set(&l, v[0], &ac->address, s))
		return -1;
	if (!v[1] && !a.is_unix)
		return fail(&l, n, "admin: a TCP address needs tokenFile (Authorization: Bearer)");
	if (v[1]) {
		if (!(s = scalar(&l, v[1], "admin.tokenFile")))
			return -1;
		if (ac->token) {
			explicit_bzero(ac->token, strlen(ac->token));
			free(ac->token);
			ac->token = NULL;
		}
		if (password_file(&l, v[1], "admin.tokenFile", s, &ac->token))
			return -1;
		if (strlen(ac->token) < ADMIN_MIN_TOKEN)
			return fail(&l, v[1],
				    "admin.tokenFile: the token must be at least %u bytes",
				    ADMIN_MIN_TOKEN);
	}
	return 0;
}

bool admin_config_equal(const struct admin_config *a, const struct admin_config *b)
{
	return str_eq(a->address, b->address) && str_eq(a->token, b->token);
}

void admin_config_free(struct admin_config *ac)
{
	if (ac->token)
		explicit_bzero(ac->token, strlen(ac->token));
	free(ac->token);
	free(ac->address);
	memset(ac, 0, sizeof(*ac));
}

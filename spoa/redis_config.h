/* redis_config.h - the fleet sections of the config file: `redis:` (the
 * shared L2 cache) with the --redis address, and `admin:` (the purge
 * listener); both are checked at load time so that a worker never
 * resolves a name or reads a file on its loop.
 *
 *   redis:
 *     address: 127.0.0.1:6379 | [::1]:6379 | /run/redis.sock | unix:/run/redis.sock
 *     keyPrefix: "oauth2-spoa:"   # default
 *     timeout: 20ms               # default; per GET, connect included
 *     passwordFile: FILE | passwordEnv: NAME   # optional, not both (AUTH)
 *     db: 0                       # SELECT, 0..15 by default Redis builds
 *
 * A struct redis_config OWNS its strings; <password> is a secret: never
 * logged, wiped by redis_config_free(). */
#ifndef OAUTH2_SPOA_REDIS_CONFIG_H
#define OAUTH2_SPOA_REDIS_CONFIG_H

#include <stdbool.h>
#include <yaml.h>

#include "err.h"

#define REDIS_DEFAULT_TIMEOUT_MS 20u
#define REDIS_DEFAULT_PREFIX	 "oauth2-spoa:"
#define REDIS_MAX_PREFIX	 128u
#define REDIS_MAX_PASSWORD	 512u

struct redis_config {
	char *address; /* NULL: no shared cache */
	char *key_prefix;
	unsigned timeout_ms;
	char *password; /* NULL: no AUTH */
	int db;
};

/* A parsed address: an IP literal and port, or a unix socket path. */
struct redis_addr {
	bool is_unix;
	char host[64]; /* numeric, without brackets */
	int port;
	char path[108];
};

/* Parses <s> (see above). Returns 0, or -1 with <why> (static text) set. Pure. */
int redis_addr_parse(const char *s, struct redis_addr *out, const char **why);

/* Fills the defaults (no address). Never fails. */
void redis_config_defaults(struct redis_config *rc);

/* Parses mapping <n> of <doc> into <rc>; relative passwordFile paths are
 * taken from <dir> ("" for none); errors name <file> with line:col. */
int redis_config_parse(struct err *e, const char *file, const char *dir, yaml_document_t *doc,
		       const yaml_node_t *n, struct redis_config *rc);

/* Sets the address from --redis (validated). Returns 0 or -1 with <e>. */
int redis_config_set_address(struct redis_config *rc, const char *addr, struct err *e);

/* Fills a default key prefix when none was set. Returns 0, -1 out of memory. */
int redis_config_finish(struct redis_config *rc);

bool redis_config_equal(const struct redis_config *a, const struct redis_config *b);
void redis_config_free(struct redis_config *rc);

/*   admin:
 *     address: 127.0.0.1:9146 | unix:/run/oauth2-spoa/admin.sock   # mode 0600
 *     tokenFile: admin.token   # required for TCP; one line, >= 16 bytes
 *
 * <token> is a secret: never logged, wiped by admin_config_free(). */
#define ADMIN_MIN_TOKEN 16u

struct admin_config {
	char *address; /* NULL: no admin listener */
	char *token;   /* NULL: none required (unix socket only) */
};

/* An admin address: IP:PORT, [IPV6]:PORT or unix:/PATH. Pure. */
int admin_addr_parse(const char *s, struct redis_addr *out, const char **why);

int admin_config_parse(struct err *e, const char *file, const char *dir, yaml_document_t *doc,
		       const yaml_node_t *n, struct admin_config *ac);
bool admin_config_equal(const struct admin_config *a, const struct admin_config *b);
void admin_config_free(struct admin_config *ac);

#endif

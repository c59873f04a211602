/* test_redis_config.c - the `redis:` config section and --redis: addresses
 * (IP literals and unix paths only), defaults, the password from a file or
 * the environment, errors as file:line:col, the cross-check with the local
 * cache, and the restart diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static int parse(const char *text, struct config *c, struct err *e)
{
	return config_parse(text, strlen(text), "t.yaml", c, e);
}

static void test_addr(void)
{
	struct redis_addr a;
	const char *why;

	ok(redis_addr_parse("127.0.0.1:6379", &a, &why) == 0 && !a.is_unix && a.port == 6379 &&
	       !strcmp(a.host, "127.0.0.1"),
	   "IPv4:port");
	ok(redis_addr_parse("[::1]:7000", &a, &why) == 0 && !strcmp(a.host, "::1") &&
	       a.port == 7000,
	   "[IPv6]:port");
	ok(redis_addr_parse("unix:/run/r.sock", &a, &why) == 0 && a.is_unix &&
	       !strcmp(a.path, "/run/r.sock"),
	   "unix:PATH");
	ok(redis_addr_parse("/run/r.sock", &a, &why) == 0 && a.is_unix, "a bare path");
	ok(redis_addr_parse("localhost:6379", &a, &why) == -1 && strstr(why, "IP address"),
	   "names are refused: no resolution on a worker loop");
	ok(redis_addr_parse("127.0.0.1", &a, &why) == -1, "no port");
	ok(redis_addr_parse("127.0.0.1:0", &a, &why) == -1, "port 0");
	ok(redis_addr_parse("127.0.0.1:65536", &a, &why) == -1, "port too big");
	ok(redis_addr_parse("[::1]7000", &a, &why) == -1, "IPv6 without the colon");
}

static void test_section(void)
{
	struct config c;
	struct err e;

	is_int(parse("", &c, &e), 0, "no redis section");
	ok(!c.redis.address && c.redis.timeout_ms == 20, "default: off, 20 ms");
	config_free(&c);
	is_int(parse("redis:\n  address: 127.0.0.1:6380\n", &c, &e), 0, "address only");
	is_str(c.redis.address, "127.0.0.1:6380", "address");
	is_str(c.redis.key_prefix, "oauth2-spoa:", "default prefix");
	ok(c.redis.timeout_ms == 20 && c.redis.db == 0 && !c.redis.password, "defaults");
	config_free(&c);
	is_int(
	    parse("redis: {address: /r.sock, keyPrefix: 'edge:', timeout: 5ms, db: 3}\n", &c, &e),
	    0, "every key but the password");
	ok(!strcmp(c.redis.key_prefix, "edge:") && c.redis.timeout_ms == 5 && c.redis.db == 3,
	   "values");
	config_free(&c);
	is_int(parse("redis:\n  keyPrefix: x\n", &c, &e), -1, "address is required");
	ok(strstr(e.msg, "address is required") && e.line == 2, "with a position");
	is_int(parse("redis:\n  address: redis.local:6379\n", &c, &e), -1, "a name");
	ok(e.line == 2 && e.col == 12 && strstr(e.msg, "redis.address"), "file:line:col");
	is_int(parse("redis: {address: 127.0.0.1:1, timeout: 0ms}\n", &c, &e), -1, "timeout 0");
	is_int(parse("redis: {address: 127.0.0.1:1, timeout: 11s}\n", &c, &e), -1,
	       "timeout over 10 s");
	is_int(parse("redis: {address: 127.0.0.1:1, db: -1}\n", &c, &e), -1, "db -1");
	is_int(parse("redis: {address: 127.0.0.1:1, hosts: x}\n", &c, &e), -1, "unknown key");
	ok(strstr(e.msg, "unknown key \"hosts\" in redis") != NULL, "named");
	is_int(parse("redis: 127.0.0.1:1\n", &c, &e), -1, "a scalar is not a section");
	is_int(parse("cacheEntries: 0\nredis: {address: 127.0.0.1:1}\n", &c, &e), -1,
	       "redis without the local cache");
	ok(strstr(e.msg, "cacheEntries") != NULL, "says why");
}

static void test_password(void)
{
	char path[] = "/tmp/test-redis-pw-XXXXXX", doc[256];
	struct config c;
	struct err e;
	int fd = mkstemp(path);

	ok(fd >= 0 && write(fd, "s3cret\n", 7) == 7, "password file written");
	close(fd);
	snprintf(doc, sizeof(doc), "redis: {address: 127.0.0.1:1, passwordFile: %s}\n", path);
	is_int(parse(doc, &c, &e), 0, "passwordFile");
	is_str(c.redis.password, "s3cret", "read, newline dropped");
	config_free(&c);
	unlink(path);
	is_int(parse(doc, &c, &e), -1, "a missing password file");
	ok(strstr(e.msg, "redis.passwordFile") != NULL && e.line == 1, "named, with a position");
	setenv("T_REDIS_PW", "from-env", 1);
	is_int(parse("redis: {address: 127.0.0.1:1, passwordEnv: T_REDIS_PW}\n", &c, &e), 0,
	       "passwordEnv");
	is_str(c.redis.password, "from-env", "from the environment");
	config_free(&c);
	is_int(parse("redis: {address: 127.0.0.1:1, passwordEnv: T_REDIS_UNSET_X}\n", &c, &e), -1,
	       "an unset variable");
	is_int(parse("redis: {address: 127.0.0.1:1, passwordEnv: A, passwordFile: B}\n", &c, &e),
	       -1, "not both");
	ok(strstr(e.msg, "not both") != NULL, "says so");
}

static void test_options_and_diff(void)
{
	char *argv[] = {"x", "--redis", "127.0.0.1:7001", NULL};
	char *bad[] = {"x", "--redis", "redis:7001", NULL};
	struct options o;
	struct config a, b;
	struct err e;
	char diff[256];

	memset(&o, 0, sizeof(o));
	is_int(options_parse(3, argv, &o, &e), 0, "--redis parses");
	is_int(config_load(&o, &a, &e), 0, "--redis loads");
	is_str(a.redis.address, "127.0.0.1:7001", "--redis sets the address");
	is_int(parse("", &b, &e), 0, "a config without redis");
	config_restart_diff(&b, &a, diff, sizeof(diff));
	ok(strstr(diff, "redis") != NULL, "changing redis needs a restart");
	config_free(&a);
	config_free(&b);
	memset(&o, 0, sizeof(o));
	optind = 1;
	is_int(options_parse(3, bad, &o, &e), 0, "options keep the string");
	is_int(config_load(&o, &a, &e), -1, "--redis with a name is refused");
	ok(strstr(e.msg, "--redis:") != NULL, "named");
}

int main(void)
{
	test_addr();
	test_section();
	test_password();
	test_options_and_diff();
	return done_testing("redis_config");
}

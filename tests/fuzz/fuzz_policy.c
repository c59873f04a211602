/* fuzz_policy.c - policy_set_load() on arbitrary YAML bytes.
 *
 * The loader reads files only, so each input is written to one temp file
 * (rewritten in place, no new file per run) in a private directory that also
 * holds a client secret file "secret"; FUZZ_POLICY_SECRET is set in the
 * environment, so clientSecretFile and clientSecretEnv can load too. On a
 * successful load every accessor is called and every policy is matched and
 * checked against fixed requests and claims; on a failed load the error must
 * be a NUL-terminated message. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

static char dir[256], file[300];
static int fd = -1;

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char secret[300];
	int sfd;

	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm"; /* tmpfs: the rewrite per run costs little */
	snprintf(dir, sizeof(dir), "%s/fuzz_policy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(file, sizeof(file), "%s/p.yaml", dir);
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	sfd = open(secret, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (sfd < 0 || write(sfd, "s3cret\n", 7) != 7)
		abort();
	close(sfd);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	setenv("FUZZ_POLICY_SECRET", "env-s3cret", 1);
}

static void cleanup(void)
{
	char secret[300];

	snprintf(secret, sizeof(secret), "%s/secret", dir);
	unlink(secret);
	unlink(file);
	rmdir(dir);
}

static void exercise(const struct policy_set *set)
{
	static const struct policy_request reqs[] = {
	    {SLICE_LIT("GET"), SLICE_LIT("/ratings/1"), SLICE_LIT("example.com"),
	     SLICE_LIT("route=ratings,app=bookinfo")},
	    {SLICE_LIT("POST"), SLICE_LIT("/"), SLICE_LIT("API.Example.COM:8443"), SLICE_LIT("x")},
	    {SLICE_NULL, SLICE_NULL, SLICE_NULL, SLICE_NULL},
	    {SLICE_LIT("DELETE"), SLICE_LIT("/a/b/../c"), SLICE_LIT("a.b.example.com"),
	     SLICE_LIT(" , route = reviews ,, k=v=w, =x, y= ")},
	};
	static const char *const aud[] = {"api", "https://api.example.test"};
	struct claims c = {.active = true,
			   .has_exp = true,
			   .exp = 2000000000,
			   .has_nbf = true,
			   .nbf = 1000,
			   .scope = "read write admin a:b a:b:c",
			   .client_id = "svc",
			   .sub = "alice",
			   .iss = "http://127.0.0.1:4444/",
			   .token_use = "access_token",
			   .n_aud = 2,
			   .aud = aud};
	size_t n = policy_set_count(set);
	const struct policy *out[8];

	for (size_t i = 0; i < n; i++) {
		const struct policy *p = policy_set_get(set, i);
		const struct policy_introspection *in = policy_introspection(p);

		if (!p || !policy_name(p) || !policy_file(p) || policy_line(p) < 1 ||
		    !policy_required_scopes(p) ||
		    /* a public policy validates nothing; any other has a step */
		    (!in && !policy_jwt(p) && !policy_userinfo_url(p)) != policy_is_public(p))
			abort();
		if (in && (!in->url || !policy_auth_method_name(in->auth_method) ||
			   (in->auth_method == POLICY_AUTH_NONE && in->client_secret)))
			abort();
		if (policy_cache_timeout_ms(p) < 0 ||
		    policy_cache_timeout_ms(p) > POLICY_MAX_DURATION_MS ||
		    policy_negative_cache_timeout_ms(p) < 0 ||
		    policy_negative_cache_timeout_ms(p) > POLICY_MAX_DURATION_MS)
			abort();
		(void)policy_check(p, &c, 1700000000, 30);
		(void)policy_check(p, NULL, 1700000000, 30);
	}
	if (policy_set_get(set, n))
		abort();
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		size_t m = policy_set_match(set, &reqs[r], out, 8);

		if (m > n)
			abort();
		for (size_t i = 0; i < m && i < 8; i++)
			if (!out[i])
				abort();
		if (policy_set_match(set, &reqs[r], NULL, 0) != m)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *paths[1] = {file};
	struct policy_set *set = NULL;
	struct err e;

	if (fd < 0) {
		setup();
		atexit(cleanup);
	}
	if (size > POLICY_MAX_FILE_SIZE + 16)
		return 0;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (policy_set_load(paths, 1, &set, &e) == 0) {
		if (!set)
			abort();
		exercise(set);
		policy_set_free(set);
	} else if (set || !memchr(e.msg, '\0', sizeof(e.msg)) || e.msg[0] == '\0') {
		abort();
	}
	return 0;
}

/* test_jwks_fetcher.c - a remote JWKS fetcher against a local HTTP server:
 * nothing published while the endpoint fails, the first good answer
 * published, garbage / a 500 / an over-size document keep the last good set
 * (counted), an unknown-kid kick refetches, a flood of kicks is
 * rate-limited. */
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "jwks_fetcher.h"
#include "jwt_fixture.h"
#include "limits.h"
#include "tap.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int status = 500, requests;
static char *doc;

static void set_answer(int st, const char *d)
{
	pthread_mutex_lock(&mu);
	status = st;
	free(doc);
	doc = strdup(d);
	pthread_mutex_unlock(&mu);
}

static int nrequests(void)
{
	int n;

	pthread_mutex_lock(&mu);
	n = requests;
	pthread_mutex_unlock(&mu);
	return n;
}

static void *server(void *p)
{
	int lfd = *(int *)p;
	char buf[4096], hdr[256];

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		ssize_t n;
		char *body;
		int st, h;

		if (fd < 0)
			return NULL;
		n = recv(fd, buf, sizeof(buf) - 1, 0); /* one small GET */
		pthread_mutex_lock(&mu);
		requests++;
		st = status;
		body = strdup(doc ? doc : "");
		pthread_mutex_unlock(&mu);
		if (n > 0) {
			h = snprintf(
			    hdr, sizeof(hdr),
			    "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n", st,
			    strlen(body));
			send(fd, hdr, (size_t)h, MSG_NOSIGNAL);
			send(fd, body, strlen(body), MSG_NOSIGNAL);
		}
		free(body);
		close(fd);
	}
}

/* Runs the loop for <secs>. */
static void run_for(struct ev_loop *loop, double secs)
{
	double end = ev_time() + secs;

	while (ev_time() < end) {
		ev_now_update(loop);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(2000);
	}
}

static bool slot_has(struct jwks_slot *s, const char *kid, uint64_t *gen)
{
	struct jwks *ks = jwks_slot_get(s, gen);
	bool known = false, r = ks && jwks_find(ks, JWT_ALG_ES256, kid, strlen(kid), &known);

	jwks_unref(ks);
	return r;
}

/* Runs the loop until the slot has <kid> or <secs> pass. */
static bool run_until_kid(struct ev_loop *loop, struct jwks_slot *s, const char *kid, double secs)
{
	double end = ev_time() + secs;

	while (!slot_has(s, kid, NULL) && ev_time() < end)
		run_for(loop, 0.01);
	return slot_has(s, kid, NULL);
}

static char *doc_of(EVP_PKEY *pk, const char *kid)
{
	char *j = fx_jwk(pk, kid, ""), *d = malloc(strlen(j) + 16);

	sprintf(d, "{\"keys\":[%s]}", j);
	free(j);
	return d;
}

struct env {
	struct ev_loop *loop;
	struct jwks_slot *slot;
	char url[64], *da, *db;
};

/* A short refresh: failures at start, then good, garbage, over-size. */
static void test_last_good(struct env *v)
{
	struct ev_loop *loop = v->loop;
	struct jwks_slot *slot = v->slot;
	char *da = v->da, *big = malloc(JWKS_MAX_DOC_SIZE + 64), *url = v->url;
	struct jwks_fetcher *f;
	struct jwks_fetch_stats st;
	uint64_t gen;
	int before;

	set_answer(500, "{}");
	f = jwks_fetcher_new(loop, url, 400, 100, 1000, NULL, slot);
	ok(f != NULL, "fetcher created");
	run_for(loop, 0.05);
	jwks_fetcher_stats(f, &st);
	ok(st.failed >= 1 && !st.loaded, "endpoint failing at start: nothing loaded, counted");
	ok(jwks_slot_get(slot, &gen) == NULL, "endpoint failing at start: no key set");

	set_answer(200, da);
	ok(run_until_kid(loop, slot, "a", 3.0), "first good answer published (a retry)");
	slot_has(slot, "a", &gen);
	jwks_fetcher_stats(f, &st);
	ok(st.loaded, "loaded");

	set_answer(200, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"garbage\"}]}");
	before = (int)st.failed;
	run_for(loop, 0.6); /* the refresh fetches garbage */
	jwks_fetcher_stats(f, &st);
	ok((int)st.failed > before, "garbage counted as a failure");
	ok(slot_has(slot, "a", NULL), "garbage: last good set stays");

	memset(big, ' ', JWKS_MAX_DOC_SIZE + 10);
	memcpy(big + JWKS_MAX_DOC_SIZE, "{}", 3);
	set_answer(200, big);
	before = (int)st.failed;
	jwks_fetcher_kick(f, gen);
	run_for(loop, 0.3);
	jwks_fetcher_stats(f, &st);
	ok((int)st.failed > before, "over-size document counted as a failure");
	ok(slot_has(slot, "a", &gen), "over-size: last good set stays");

	jwks_fetcher_free(f);
	free(big);
}

/* A long refresh: only a kick can fetch again. */
static void test_kick(struct env *v)
{
	struct ev_loop *loop = v->loop;
	struct jwks_slot *slot = jwks_slot_new(); /* empty: a is this fetcher's */
	char *da = v->da, *db = v->db, *url = v->url;
	struct jwks_fetcher *f;
	struct jwks_fetch_stats st;
	uint64_t gen;
	int before;

	set_answer(200, da);
	f = jwks_fetcher_new(loop, url, 60000, 100, 1000, NULL, slot);
	ok(run_until_kid(loop, slot, "a", 3.0), "second fetcher: set a");
	slot_has(slot, "a", &gen);
	set_answer(200, db);
	run_for(loop, 0.2);
	ok(!slot_has(slot, "b", NULL), "no refetch before the refresh interval");
	before = nrequests();
	for (int i = 0; i < 50; i++)
		jwks_fetcher_kick(f, gen);
	ok(run_until_kid(loop, slot, "b", 3.0) && !slot_has(slot, "a", NULL),
	   "unknown-kid kick: the new set replaces the old");
	ok(nrequests() - before <= 2, "50 kicks: at most two fetches (rate-limited)");
	jwks_fetcher_stats(f, &st);
	ok(st.kid_asked >= 1, "kicks counted");
	jwks_fetcher_kick(f, 1); /* about the generation already replaced */
	before = nrequests();
	run_for(loop, 0.2);
	is_int(nrequests() - before, 0, "a kick about an old generation fetches nothing");
	jwks_fetcher_free(f);
	jwks_slot_free(slot);
}

int main(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	EVP_PKEY *pk = fx_keygen(FX_EC256);
	struct env v = {.loop = ev_loop_new(EVFLAG_AUTO), .slot = jwks_slot_new()};
	pthread_t t;

	v.da = doc_of(pk, "a");
	v.db = doc_of(pk, "b");
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) || http_client_global_init())
		return 2;
	pthread_create(&t, NULL, server, &lfd);
	snprintf(v.url, sizeof(v.url), "http://127.0.0.1:%d/jwks", ntohs(sa.sin_port));
	test_last_good(&v);
	test_kick(&v);
	jwks_slot_free(v.slot);
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(t, NULL);
	ev_loop_destroy(v.loop);
	EVP_PKEY_free(pk);
	free(v.da);
	free(v.db);
	free(doc);
	http_client_global_cleanup();
	return done_testing("jwks_fetcher");
}

/* jwks_fetcher.c - one remote JWKS URL kept fresh on one loop. */
#include "jwks_fetcher.h"

#include <ev.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "jwks_sched.h"
#include "limits.h"
#include "log.h"

struct jwks_fetcher {
	struct ev_loop *loop;
	struct http_client *hc;
	char *url;
	struct jwks_slot *slot;
	struct jwks_sched sched;
	ev_timer timer;
	ev_async wake;
	bool published;				    /* <digest> is the slot's document */
	unsigned char digest[SHA256_DIGEST_LENGTH]; /* of the last published body */
};

static int64_t now_ms(const struct jwks_fetcher *f)
{
	return (int64_t)(ev_now(f->loop) * 1000.0);
}

static void step(struct jwks_fetcher *f);

static void arm(struct jwks_fetcher *f)
{
	int64_t w = jwks_sched_wait(&f->sched, now_ms(f));

	ev_timer_stop(f->loop, &f->timer);
	if (w < 0)
		return; /* in flight: the answer re-arms */
	ev_timer_set(&f->timer, (double)w / 1000.0, 0.0);
	ev_timer_start(f->loop, &f->timer);
}

/* What a failed fetch leaves the workers with, for its log line. */
static const char *left(const struct jwks_fetcher *f)
{
	return jwks_slot_gen(f->slot) ? "the last good key set stays"
				      : "no key set yet: tokens are refused";
}

/* A good answer is a 200 whose body jwks_parse() accepts. */
static bool take_answer(struct jwks_fetcher *f, const struct http_client_response *res)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct jwks *ks = NULL;
	struct err e = {0};
	uint64_t gen;

	if (res->err != HTTP_CLIENT_OK) {
		log_warn("jwks %s: fetch failed (%s); %s", f->url, http_client_strerror(res->err),
			 left(f));
		return false;
	}
	if (res->status != 200) {
		log_warn("jwks %s: status %ld; %s", f->url, res->status, left(f));
		return false;
	}
	/* The same document again (every refresh, most of the time) keeps its
	 * generation: cached results stay valid until the keys really change. */
	SHA256(res->body.ptr, res->body.len, md);
	if (f->published && !memcmp(md, f->digest, sizeof(md)))
		return true;
	if (jwks_parse((const char *)res->body.ptr, res->body.len, &ks, &e)) {
		log_warn("jwks %s: refused (%s); %s", f->url, e.msg, left(f));
		return false;
	}
	gen = jwks_slot_publish(f->slot, ks);
	memcpy(f->digest, md, sizeof(md));
	f->published = true;
	log_info("jwks %s: %zu keys loaded (generation %llu)", f->url, jwks_count(ks),
		 (unsigned long long)gen);
	jwks_unref(ks);
	return true;
}

static void on_done(const struct http_client_response *res, void *arg)
{
	struct jwks_fetcher *f = arg;
	bool ok;

	if (res->err == HTTP_CLIENT_ERR_CANCELLED)
		return; /* jwks_fetcher_free() */
	ok = take_answer(f, res);
	jwks_slot_note_fetch(f->slot, ok, ev_now(f->loop));
	jwks_sched_done(&f->sched, now_ms(f), ok);
	step(f);
}

static void step(struct jwks_fetcher *f)
{
	int64_t now = now_ms(f);

	while (jwks_slot_take_ask(f->slot))
		jwks_sched_want_kid(&f->sched, now);
	if (jwks_sched_start(&f->sched, now)) {
		struct http_client_request req = {.url = f->url, .get = true};
		int rc = http_client_post(f->hc, &req, on_done, f);

		if (rc) {
			log_warn("jwks %s: fetch not started (%s)", f->url,
				 http_client_strerror(rc));
			jwks_slot_note_fetch(f->slot, false, ev_now(f->loop));
			jwks_sched_done(&f->sched, now, false);
		}
	}
	arm(f);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	step((struct jwks_fetcher *)((char *)t - offsetof(struct jwks_fetcher, timer)));
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)loop;
	(void)revents;
	step((struct jwks_fetcher *)((char *)a - offsetof(struct jwks_fetcher, wake)));
}

struct jwks_fetcher *jwks_fetcher_new(struct ev_loop *loop, const char *url, int64_t refresh_ms,
				      int64_t kid_ms, unsigned timeout_ms, const char *ca_file,
				      struct jwks_slot *slot)
{
	struct http_client_options o = {.timeout_ms = timeout_ms,
					.max_body = JWKS_MAX_DOC_SIZE,
					.max_inflight_per_endpoint = 1,
					.ca_file = ca_file};
	struct jwks_fetcher *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->loop = loop;
	f->slot = slot;
	if (!(f->url = strdup(url)) || !(f->hc = http_client_new(loop, &o))) {
		free(f->url);
		free(f);
		return NULL;
	}
	jwks_sched_init(&f->sched, refresh_ms, kid_ms, now_ms(f));
	ev_timer_init(&f->timer, on_timer, 0.0, 0.0);
	ev_async_init(&f->wake, on_wake);
	ev_async_start(loop, &f->wake);
	ev_timer_start(loop, &f->timer); /* the first fetch, from the loop */
	return f;
}

void jwks_fetcher_kick(struct jwks_fetcher *f, uint64_t gen)
{
	jwks_slot_ask(f->slot, gen);
	ev_async_send(f->loop, &f->wake);
}

void jwks_fetcher_stats(const struct jwks_fetcher *f, struct jwks_fetch_stats *out)
{
	*out = (struct jwks_fetch_stats){.ok = f->sched.ok,
					 .failed = f->sched.failed,
					 .kid_asked = f->sched.kid_asked,
					 .kid_merged = f->sched.kid_merged,
					 .loaded = f->sched.loaded};
}

void jwks_fetcher_free(struct jwks_fetcher *f)
{
	if (!f)
		return;
	http_client_cancel_all(f->hc);
	http_client_free(f->hc);
	ev_timer_stop(f->loop, &f->timer);
	ev_async_stop(f->loop, &f->wake);
	free(f->url);
	free(f);
}

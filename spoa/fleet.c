/* fleet.c - see fleet.h. */
#include "fleet.h"

#include <errno.h>
#include <hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz.h"
#include "config.h"
#include "log.h"
#include "tcache.h"

#define SCAN_MAX_ROUNDS 100000 /* bound on a purge "all" in Redis */

struct fleet {
	struct authz_shared *sh;
	struct tcache *tc;
	bool redis;
	struct redis_addr addr;
	char *prefix, *password, *channel;
	int db;
	unsigned timeout_ms; /* blocking calls: max(1 s, redis.timeout) */
	pthread_t sub;
	bool sub_started;
	atomic_bool stop;
};

static bool match_cb(const struct claims *c, void *arg)
{
	return purge_match(c, arg);
}

size_t fleet_evict_local(struct fleet *f, const struct purge_msg *m)
{
	size_t n = 0;

	if (!f->tc)
		return 0;
	if (m->kind != PURGE_TOKEN)
		return tcache_remove_if(f->tc, match_cb, (void *)m);
	for (size_t i = 0; i < m->nkeys; i++)
		n += tcache_remove(f->tc, m->keys[i]);
	return n;
}

/* A blocking connection with AUTH and SELECT done, or NULL. */
static redisContext *connect_sync(struct fleet *f)
{
	struct timeval tv = {f->timeout_ms / 1000, (long)(f->timeout_ms % 1000) * 1000};
	redisContext *c = f->addr.is_unix ? redisConnectUnixWithTimeout(f->addr.path, tv)
					  : redisConnectWithTimeout(f->addr.host, f->addr.port, tv);
	redisReply *r;

	if (!c || c->err || redisSetTimeout(c, tv) != REDIS_OK)
		goto fail;
	if (f->password) {
		r = redisCommand(c, "AUTH %s", f->password);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	if (f->db) {
		r = redisCommand(c, "SELECT %d", f->db);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	return c;
fail:
	if (c)
		redisFree(c);
	return NULL;
}

static long long int_reply(redisReply *r)
{
	long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	freeReplyObject(r);
	return v;
}

static void key_name(const struct fleet *f, const uint8_t k[TCACHE_KEY_LEN], char *out, size_t n)
{
	size_t w = (size_t)snprintf(out, n, "%s", f->prefix);

	for (unsigned i = 0; i < TCACHE_KEY_LEN && w + 3 <= n; i++)
		w += (size_t)snprintf(out + w, 3, "%02x", k[i]);
}

/* Deletes the members of index set <idx>, then the set. */
static long long del_index(redisContext *c, const char *idx)
{
	redisReply *r = redisCommand(c, "SMEMBERS %s", idx);
	long long n = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return -1;
	}
	for (size_t i = 0; i < r->elements && n >= 0; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			n += int_reply(redisCommand(c, "DEL %b", r->element[i]->str,
						    (size_t)r->element[i]->len));
	freeReplyObject(r);
	if (n >= 0 && int_reply(redisCommand(c, "DEL %s", idx)) < 0)
		return -1;
	return n;
}

static long long del_all(struct fleet *f, redisContext *c)
{
	char cursor[32] = "0";
	long long n = 0;

	for (int round = 0; round < SCAN_MAX_ROUNDS; round++) {
		redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, f->prefix);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			redisReply *k = r->element[1]->element[i];

			if (k->type == REDIS_REPLY_STRING)
				n += int_reply(redisCommand(c, "DEL %b", k->str, (size_t)k->len)) >
				     0;
		}
		freeReplyObject(r);
		if (!strcmp(cursor, "0"))
			return n;
	}
	return -1;
}

static long long redis_delete(struct fleet *f, redisContext *c, const struct purge_msg *m)
{
	char name[PURGE_INDEX_MAX];
	long long n = 0, d;

	switch (m->kind) {
	case PURGE_TOKEN:
		for (size_t i = 0; i < m->nkeys; i++) {
			key_name(f, m->keys[i], name, sizeof(name));
			if ((d = int_reply(redisCommand(c, "DEL %s", name))) < 0)
				return -1;
			n += d;
		}
		return n;
	case PURGE_SUB:
	case PURGE_CLIENT_ID:
		if (purge_index_name(f->prefix, m->kind == PURGE_SUB ? 's' : 'c', m->value, name,
				     sizeof(name)))
			return -1;
		return del_index(c, name);
	case PURGE_ALL:
		return del_all(f, c);
	}
	return -1;
}

int fleet_purge(struct fleet *f, const struct purge_req *r, struct fleet_result *out)
{
	struct purge_msg m = {.kind = r->kind};
	char msg[PURGE_MSG_MAX + 1];
	redisContext *c;
	int len;

	*out = (struct fleet_result){0, -1, false};
	if (r->kind == PURGE_TOKEN)
		m.nkeys = authz_shared_token_keys(f->sh, slice_from(r->value, r->len), m.keys,
						  PURGE_MAX_KEYS);
	else if (r->value)
		snprintf(m.value, sizeof(m.value), "%s", r->value);
	/* Redis first: a peer told to evict must not refill from Redis. */
	if (f->redis && (c = connect_sync(f))) {
		out->redis = redis_delete(f, c, &m);
		len = purge_msg_encode(&m, msg, sizeof(msg));
		if (out->redis >= 0 && len > 0)
			out->published = int_reply(redisCommand(c, "PUBLISH %s %b", f->channel, msg,
								(size_t)len)) >= 0;
		redisFree(c);
	}
	out->local = fleet_evict_local(f, &m);
	explicit_bzero(&m, sizeof(m));
	return 0;
}

/* One message of the subscription: ["message", channel, payload]. */
static void on_message(struct fleet *f, redisReply *r)
{
	struct purge_msg m;
	size_t n;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (purge_msg_decode(r->element[2]->str, (size_t)r->element[2]->len, &m) < 0) {
		log_warn("purge channel: a message that does not parse; flushing the local cache");
		m = (struct purge_msg){.kind = PURGE_ALL};
	}
	n = fleet_evict_local(f, &m);
	log_info("purge from the fleet: %zu local entries evicted", n);
}

static void nap_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

/* Subscribed: read messages until an error or stop. */
static void listen_loop(struct fleet *f, redisContext *c)
{
	while (!atomic_load(&f->stop)) {
		void *rep = NULL;
		struct pollfd p = {.fd = c->fd, .events = POLLIN};

		if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
			return;
		if (rep) {
			on_message(f, rep);
			freeReplyObject(rep);
			continue;
		}
		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			return;
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && redisBufferRead(c) != REDIS_OK)
			return;
	}
}

static void *sub_main(void *arg)
{
	struct fleet *f = arg;
	bool lost = false;

	while (!atomic_load(&f->stop)) {
		redisContext *c = connect_sync(f);
		redisReply *r = c ? redisCommand(c, "SUBSCRIBE %s", f->channel) : NULL;

		if (r && r->type == REDIS_REPLY_ARRAY) {
			if (lost) {
				struct purge_msg all = {.kind = PURGE_ALL};

				log_warn(
				    "purge channel back after a loss: flushing the local cache "
				    "(%zu entries)",
				    fleet_evict_local(f, &all));
			}
			listen_loop(f, c);
			if (!atomic_load(&f->stop))
				log_warn("purge channel lost; reconnecting");
		}
		lost = true;
		freeReplyObject(r);
		if (c)
			redisFree(c);
		for (int i = 0; i < 5 && !atomic_load(&f->stop); i++)
			nap_ms(40);
	}
	return NULL;
}

static void fleet_free(struct fleet *f)
{
	if (f->password)
		explicit_bzero(f->password, strlen(f->password));
	free(f->password);
	free(f->prefix);
	free(f->channel);
	free(f);
}

struct fleet *fleet_start(struct authz_shared *sh, const struct config *c, struct err *e)
{
	struct fleet *f = calloc(1, sizeof(*f));
	const struct redis_config *rc = &c->redis;
	const char *why;

	if (!f)
		return err_set(e, 0, 0, "out of memory"), NULL;
	f->sh = sh;
	f->tc = authz_shared_cache(sh);
	atomic_init(&f->stop, false);
	if (rc->address) {
		f->redis = redis_addr_parse(rc->address, &f->addr, &why) == 0;
		f->prefix = strdup(rc->key_prefix ? rc->key_prefix : REDIS_DEFAULT_PREFIX);
		f->password = rc->password ? strdup(rc->password) : NULL;
		f->db = rc->db;
		f->timeout_ms = rc->timeout_ms > 1000 ? rc->timeout_ms : 1000;
		if (f->prefix && asprintf(&f->channel, "%spurge", f->prefix) < 0)
			f->channel = NULL;
		if (!f->redis || !f->prefix || !f->channel || (rc->password && !f->password)) {
			fleet_free(f);
			return err_set(e, 0, 0, "out of memory"), NULL;
		}
		if (pthread_create(&f->sub, NULL, sub_main, f) != 0) {
			fleet_free(f);
			return err_set(e, 0, 0, "cannot start the purge subscriber thread"), NULL;
		}
		f->sub_started = true;
	}
	return f;
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	if (f->sub_started)
		pthread_join(f->sub, NULL);
	fleet_free(f);
}

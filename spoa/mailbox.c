/* mailbox.c - see mailbox.h. A mutex-guarded LIFO and an ev_async: posts are
 * rare (a result fetched by another worker), so a lock is cheap enough. */
#include "mailbox.h"

#include <ev.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

struct mailbox {
	struct ev_loop *loop;
	ev_async async;
	pthread_mutex_t mu;
	struct mailbox_msg *inbox; /* guarded by mu, newest first */
	void (*on_wake)(void *arg);
	void *arg;
};

static struct mailbox_msg *take_all(struct mailbox *mb)
{
	struct mailbox_msg *m, *rev = NULL;

	pthread_mutex_lock(&mb->mu);
	m = mb->inbox;
	mb->inbox = NULL;
	pthread_mutex_unlock(&mb->mu);
	/* Newest first on the list; run in arrival order. */
	while (m) {
		struct mailbox_msg *next = m->next;

		m->next = rev;
		rev = m;
		m = next;
	}
	return rev;
}

static void run_all(struct mailbox_msg *m)
{
	while (m) {
		struct mailbox_msg *next = m->next;

		m->fn(m);
		m = next;
	}
}

static void async_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct mailbox *mb = (struct mailbox *)((char *)a - offsetof(struct mailbox, async));

	(void)loop;
	(void)revents;
	run_all(take_all(mb));
	if (mb->on_wake)
		mb->on_wake(mb->arg);
}

struct mailbox *mailbox_new(struct ev_loop *loop, void (*on_wake)(void *arg), void *arg)
{
	struct mailbox *mb = calloc(1, sizeof(*mb));

	if (!mb)
		return NULL;
	if (pthread_mutex_init(&mb->mu, NULL)) {
		free(mb);
		return NULL;
	}
	mb->loop = loop;
	mb->on_wake = on_wake;
	mb->arg = arg;
	ev_async_init(&mb->async, async_cb);
	return mb;
}

void mailbox_start(struct mailbox *mb)
{
	ev_async_start(mb->loop, &mb->async);
}

void mailbox_stop(struct mailbox *mb)
{
	ev_async_stop(mb->loop, &mb->async);
}

void mailbox_post(struct mailbox *mb, struct mailbox_msg *m)
{
	pthread_mutex_lock(&mb->mu);
	m->next = mb->inbox;
	mb->inbox = m;
	pthread_mutex_unlock(&mb->mu);
	ev_async_send(mb->loop, &mb->async);
}

void mailbox_wake(struct mailbox *mb)
{
	ev_async_send(mb->loop, &mb->async);
}

void mailbox_free(struct mailbox *mb)
{
	if (!mb)
		return;
	run_all(take_all(mb));
	pthread_mutex_destroy(&mb->mu);
	free(mb);
}

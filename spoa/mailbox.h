/* mailbox.h - messages posted from any thread and run, in arrival order, on
 * the thread of one libev loop. It is how a fetch completed on one worker
 * wakes a request waiting on another without either knowing the other.
 *
 * mailbox_new(), mailbox_start(), mailbox_stop() and mailbox_free() run on
 * the loop's own thread (or before it starts, or after it ended);
 * mailbox_post() and mailbox_wake() may be called from any thread.
 *
 * Ownership: the poster allocates a message and hands it over; m->fn owns it
 * once it runs. A message may be posted again only after its fn ran. */
#ifndef OAUTH2_SPOA_MAILBOX_H
#define OAUTH2_SPOA_MAILBOX_H

struct ev_loop;
struct mailbox;

struct mailbox_msg {
	struct mailbox_msg *next;
	void (*fn)(struct mailbox_msg *m);
};

/* <on_wake> (may be NULL) runs on the loop's thread after each batch of
 * messages, and after mailbox_wake(). Returns NULL on allocation failure. */
struct mailbox *mailbox_new(struct ev_loop *loop, void (*on_wake)(void *arg), void *arg);

/* Watches the loop for posts; until then they wait. */
void mailbox_start(struct mailbox *mb);
void mailbox_stop(struct mailbox *mb);

/* Queues <m> and wakes the loop. Thread-safe. */
void mailbox_post(struct mailbox *mb, struct mailbox_msg *m);

/* Wakes the loop to run on_wake without a message. Thread-safe. */
void mailbox_wake(struct mailbox *mb);

/* Runs every message still queued (on the calling thread, after the loop is
 * gone: each only releases what it carries), then frees the mailbox. */
void mailbox_free(struct mailbox *mb);

#endif

/* purge.h - what an admin purge asks for, as the admin listener receives it
 * (a JSON body) and as it travels between agents on the Redis channel.
 *
 * Pure: no I/O, no clock. A purge by token never carries the token further
 * than purge_parse_body(): callers hash it into cache keys at once, and the
 * channel message carries only the hex keys.
 *
 * Channel message (one line of text, at most PURGE_MSG_MAX bytes):
 *   "k HEX64[ HEX64]..."   cache keys (a purge by token)
 *   "s SUB"                every entry whose claims' sub is SUB
 *   "c CLIENT_ID"          every entry whose claims' client_id is CLIENT_ID
 *   "a"                    everything */
#ifndef OAUTH2_SPOA_PURGE_H
#define OAUTH2_SPOA_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claims.h"
#include "err.h"

#define PURGE_MAX_BODY	4096u /* bytes of a POST /purge body */
#define PURGE_MAX_VALUE 1024u /* bytes of a sub or client_id */
#define PURGE_MAX_KEYS	8u    /* keys of one purge by token */
#define PURGE_MSG_MAX	(2 + PURGE_MAX_KEYS * 65 + PURGE_MAX_VALUE)

enum purge_kind {
	PURGE_TOKEN = 0,
	PURGE_SUB,
	PURGE_CLIENT_ID,
	PURGE_ALL,
};

struct purge_req {
	enum purge_kind kind;
	char *value; /* OWNED, NUL-terminated; NULL for PURGE_ALL. A token is a
		      * secret: purge_req_clear() wipes it. */
	size_t len;
};

/* Parses a POST /purge body: a JSON object with exactly one of "token",
 * "sub", "client_id" (non-empty strings without NUL bytes) or "all": true.
 * Returns 0 with <out> filled (release with purge_req_clear), or -1 with
 * <e> filled (never quoting a value). */
int purge_parse_body(const char *body, size_t len, struct purge_req *out, struct err *e);
void purge_req_clear(struct purge_req *r);

/* What a channel message says. keys[] and value point into the caller's
 * message buffer copy (see purge_msg_decode). */
struct purge_msg {
	enum purge_kind kind; /* PURGE_TOKEN means keys */
	uint8_t keys[PURGE_MAX_KEYS][32];
	size_t nkeys;
	char value[PURGE_MAX_VALUE + 1];
};

/* Writes the message for <m> into out[0..cap) with a NUL. Returns the length
 * or -1 when it does not fit. */
int purge_msg_encode(const struct purge_msg *m, char *out, size_t cap);

/* Parses in[0..len). Returns 0 with <m> filled, or -1 when malformed. */
int purge_msg_decode(const char *in, size_t len, struct purge_msg *m);

/* Does cached <c> match a PURGE_SUB / PURGE_CLIENT_ID / PURGE_ALL <m>? */
bool purge_match(const struct claims *c, const struct purge_msg *m);

/* The Redis set that indexes the cache keys of one sub ('s') or client_id
 * ('c'): <prefix> "i:" kind ":" hex(SHA-256(value)), into out[0..cap).
 * Returns 0, or -1 when it does not fit. */
#define PURGE_INDEX_MAX (128 + 5 + 64 + 1)
int purge_index_name(const char *prefix, char kind, const char *value, char *out, size_t cap);

#endif

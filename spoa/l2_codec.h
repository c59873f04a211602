/* l2_codec.h - the value a shared (L2) cache entry holds: one introspection
 * result (struct claims) and the absolute time it stops being valid.
 *
 * Pure: no I/O, no clock, no globals. The value never holds a token or a
 * secret (struct claims has none). Layout, all integers big-endian:
 *
 *   "O2L2" | u8 version (1 or 2) | u8 flags (bit0 active, bit1 exp, bit2 nbf,
 *   bit3 iat) | i64 until_ms | i64 exp | i64 nbf | i64 iat |
 *   6 x string (scope, client_id, sub, username, iss, token_use) |
 *   u16 n_aud | n_aud x string
 *   [version 2 only: u16 n_vars (1..L2V_MAX_VARS) | n_vars x (string name,
 *   string value): the mapped claims, claims->mapped]
 *
 * Version 1 is written when nothing is mapped, so agents without mappings
 * read each other's values as before.
 * where a string is u16 length then the bytes, length 0xFFFF meaning absent.
 * Strings may not hold NUL bytes. Trailing bytes make the value invalid. */
#ifndef OAUTH2_SPOA_L2_CODEC_H
#define OAUTH2_SPOA_L2_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "claims.h"

#define L2V_MAX_LEN  16384u /* longest value written or accepted */
#define L2V_MAX_AUD  64u    /* audiences kept */
#define L2V_MAX_VARS 16u    /* CLAIM_MAP_MAX_VARS */
#define L2V_ABSENT   0xFFFFu

/* Writes the value for <c> (borrowed) valid until <until_ms> (ms since the
 * epoch) into out[0..cap). Returns the length, or -1 when it does not fit in
 * <cap> or L2V_MAX_LEN, or a member is too long to encode (the caller then
 * simply does not share the result). */
ssize_t l2v_encode(const struct claims *c, int64_t until_ms, uint8_t *out, size_t cap);

/* Parses in[0..len) (borrowed). Returns 0 with *out a new claims (refs 1,
 * release with claims_unref) and *until_ms filled, or -1 with *out = NULL
 * when the bytes are not exactly one valid value. */
int l2v_decode(const uint8_t *in, size_t len, struct claims **out, int64_t *until_ms);

#endif

/* jwks.h - public signing keys for local JWT validation: a JWKS document
 * (RFC 7517) or one PEM public key, parsed into an immutable key set.
 *
 * Pure: no I/O, no clock, no globals. A key set is built once by
 * jwks_parse() and never changes; it is reference-counted, so a policy set
 * and a future remote fetcher can share it across threads. Keys are held as
 * cjose JWKs (RSA, EC) or as OpenSSL EVP_PKEYs (Ed25519: cjose 0.6 has no
 * OKP keys), both only read after the parse.
 *
 * What a document may hold (anything else is an error for the whole
 * document, so a mistake in a policy file is refused at load):
 *  - at most JWKS_MAX_DOC_SIZE bytes; a JSON object with a "keys" array of
 *    at most JWKS_MAX_ENTRIES objects, no duplicate member anywhere;
 *  - keys with "kty" RSA (JWKS_MIN_RSA_BITS..JWKS_MAX_RSA_BITS), EC (P-256,
 *    P-384, P-521) or OKP (Ed25519). A key carrying private members ("d",
 *    "p", "q", "dp", "dq", "qi", "oth", "k") is an error, not silently
 *    reduced to its public part: a private key in a policy file (or served
 *    by a JWKS endpoint) is a leak someone must hear about;
 *  - "oct" keys are an error: an HMAC secret can never verify an access
 *    token here;
 *  - entries with another "kty", or with "use" other than "sig", are
 *    skipped (RFC 7517 4.2: encryption keys share the document);
 *  - "kid" (optional) at most JWKS_MAX_KID_LEN bytes; "alg" (optional)
 *    pins the key to that one algorithm;
 *  - at least one usable key, at most JWKS_MAX_KEYS.
 * A PEM document is one "-----BEGIN PUBLIC KEY-----" block (RSA, EC or
 * Ed25519), without kid or alg. */
#ifndef OAUTH2_SPOA_JWKS_H
#define OAUTH2_SPOA_JWKS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* JWS algorithms (RFC 7518 3.1, RFC 8037 3.1), as bits of an allow-list.
 * There is deliberately no bit for "none" or for HS256/384/512. */
enum jwt_alg {
	JWT_ALG_RS256 = 1u << 0,
	JWT_ALG_RS384 = 1u << 1,
	JWT_ALG_RS512 = 1u << 2,
	JWT_ALG_PS256 = 1u << 3,
	JWT_ALG_PS384 = 1u << 4,
	JWT_ALG_PS512 = 1u << 5,
	JWT_ALG_ES256 = 1u << 6,
	JWT_ALG_ES384 = 1u << 7,
	JWT_ALG_ES512 = 1u << 8,
	JWT_ALG_EDDSA = 1u << 9,
};
#define JWT_ALG_ALL 0x3ffu

/* The bit of the algorithm named <name> (<len> bytes, case-sensitive as in
 * RFC 7518), or 0 for an unknown name, "none" and every HS* name. */
unsigned jwt_alg_from_name(const char *name, size_t len);

/* The name of one bit ("RS256"), or "?" when <alg> is not a single bit. */
const char *jwt_alg_name(unsigned alg);

struct jwks; /* opaque, immutable */
struct jwks_key;

/* Parses <doc> (<len> bytes, need not be NUL-terminated): a PEM public key
 * when it starts (after whitespace) with "-----BEGIN", a JWKS otherwise.
 * Returns 0 and stores a NEW set (refs 1) in *out, or -1 with *out = NULL
 * and <e> (may be NULL) holding a message that names the entry at fault. */
int jwks_parse(const char *doc, size_t len, struct jwks **out, struct err *e);

struct jwks *jwks_ref(struct jwks *ks); /* NULL allowed; thread-safe */
void jwks_unref(struct jwks *ks);	/* NULL allowed; frees with the last */

/* The number of usable keys. */
size_t jwks_count(const struct jwks *ks);

/* Finds the key for a token signed with <alg> (one bit) and naming <kid>
 * (<kid_len> bytes; kid NULL when the token has none):
 *  - with a kid: the key with that kid whose type fits <alg> (RSA: RS* or PS*,
 *    EC: ES* on the matching curve, Ed25519: EdDSA) and whose own "alg",
 *    when present, is <alg>;
 *  - without a kid: the one key that fits <alg>, when exactly one does.
 * Returns the key (BORROWED from <ks>) or NULL. *kid_known is set to true
 * when some key has that kid even though none fits <alg>: the caller can then
 * tell "wrong algorithm for the key" from "key never seen". */
const struct jwks_key *jwks_find(const struct jwks *ks, unsigned alg, const char *kid,
				 size_t kid_len, bool *kid_known);

/* Verifies <sig> over <input> with <key> for <alg>, or with cjose's JWS
 * code for RSA and EC keys (<compact> is then the whole token). Returns
 * true only for a valid signature. Thread-safe on a shared key. */
bool jwks_verify(const struct jwks_key *key, unsigned alg, const char *compact, size_t compact_len,
		 const unsigned char *input, size_t input_len, const unsigned char *sig,
		 size_t sig_len);

#endif

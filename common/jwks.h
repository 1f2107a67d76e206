/* JSON Web Key Sets (RFC 7517) containing the public keys that may sign user
 * JWTs: parsing into OpenSSL keys, and a per-process cache of the JWKS file
 * that re-reads it when it changes. Only signature keys of three kinds are
 * kept: RSA of 2048 to 8192 bits, EC on P-256, and OKP Ed25519. */
#ifndef EDGE_JWKS_H
#define EDGE_JWKS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "edge_error.h"

/* Maximum size of a JWKS file, and maximum number of keys kept from it.
 * Both are far above any real issuer's set and small enough that a request
 * never scans a large list. */
#define EDGE_JWKS_FILE_MAX (1024 * 1024)
#define EDGE_JWKS_KEYS_MAX 64

typedef enum edge_jwk_type {
	EDGE_JWK_RSA = 0,	/* kty RSA: verifies RS256 */
	EDGE_JWK_EC_P256,	/* kty EC, crv P-256: verifies ES256 */
	EDGE_JWK_ED25519	/* kty OKP, crv Ed25519: verifies EdDSA */
} edge_jwk_type;

typedef struct edge_jwk {
	edge_jwk_type type;
	char *kid;		/* NULL when the key has no "kid" */
	char *alg;		/* the key's "alg" member, NULL when absent */
	EVP_PKEY *pkey;		/* public key only */
} edge_jwk;

typedef struct edge_jwks {
	edge_jwk *keys;
	size_t count;
} edge_jwks;

/* Parses len bytes of JWKS text ({"keys": [...]}, strict JSON) into a new
 * set. A key that cannot be used is skipped with one warning naming its
 * position and kid. Such keys have another kty or curve, "use" other than
 * "sig", "key_ops" without "verify", or an "alg" that does not fit their type.
 * Keys with private members (d, p, q, dp, dq, qi, oth, k), an RSA modulus
 * outside 2048 to 8192 bits or malformed members are skipped too.
 * Returns EDGE_OK (the set may be empty), EDGE_ERR_INVALID when the text is
 * not a JWKS object (not logged: the caller names the file), or
 * EDGE_ERR_NOMEM. */
edge_err edge_jwks_parse(const char *text, size_t len, edge_jwks **jwks);

void edge_jwks_free(edge_jwks *jwks);

/* Returns true when key may verify a JWS whose header names alg: the key type
 * fits the algorithm, and the key's own "alg", when present, equals it. */
bool edge_jwk_fits_alg(const edge_jwk *key, const char *alg);

typedef struct edge_jwks_cache edge_jwks_cache;

/* Reads the JWKS file at path into a new cache. A file that cannot be read,
 * is larger than EDGE_JWKS_FILE_MAX, does not parse or contains no usable key is
 * EDGE_ERR_CONFIG, logged with the path. EDGE_ERR_NOMEM otherwise. */
edge_err edge_jwks_cache_open(const char *path, edge_jwks_cache **cache);

/* Returns the current key set. Calls stat() on the file each time, and when
 * its device, inode, size, mtime or ctime changed, reads it again. A rewrite
 * that does not parse (half written) is logged once and the last good set
 * stays in use until the file changes again. A file that is gone, or that
 * parses to no usable key, revokes every key: the set returned is empty. */
const edge_jwks *edge_jwks_cache_current(edge_jwks_cache *cache);

void edge_jwks_cache_free(edge_jwks_cache *cache);

#endif

/* Agent tokens in Mission Control's format: generation, the stored PBKDF2
 * hash "pbkdf2_sha256$<iterations>$<salt>$<digest>" (salt and digest in
 * URL-safe base64 without padding) and the keyed digest that the suite's
 * token index stores, so a known token is found without any PBKDF2 run. */
#ifndef EDGE_AGENT_TOKEN_H
#define EDGE_AGENT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "edge_error.h"
#include "hmac.h"

/* A token is 32 random bytes in URL-safe base64 without padding: 43 characters. */
#define EDGE_AGENT_TOKEN_BYTES 32
#define EDGE_AGENT_TOKEN_SIZE 44	/* 43 characters and NUL */

/* Maximum length of a token that is looked up. Longer ones are invalid
 * without any work. */
#define EDGE_AGENT_TOKEN_MAX 256

/* Upstream's parameters for new hashes. */
#define EDGE_PBKDF2_ITERATIONS 200000
#define EDGE_PBKDF2_SALT_BYTES 16

/* A stored hash outside these bounds never verifies. The upper bound keeps a
 * corrupt or hostile row from holding a worker for minutes; 10,000,000 is
 * 50 times upstream's count. */
#define EDGE_PBKDF2_MIN_ITERATIONS 1000u
#define EDGE_PBKDF2_MAX_ITERATIONS 10000000u

/* Room for a hash written by edge_agent_token_hash: the prefix, up to 8
 * digits, two separators, 22 salt and 43 digest characters, and NUL. */
#define EDGE_AGENT_TOKEN_HASH_SIZE 96

/* The index key is read from AGENT_TOKEN_INDEX_KEY, else from edge_secret. */
#define EDGE_AGENT_INDEX_KEY_MIN 32
#define EDGE_AGENT_INDEX_KEY_MAX 256
#define EDGE_AGENT_INDEX_KEY_VARIABLE "AGENT_TOKEN_INDEX_KEY"

typedef struct edge_agent_index_key {
	unsigned char bytes[EDGE_AGENT_INDEX_KEY_MAX];
	size_t len;		/* 0 until loaded */
	bool from_environment;
} edge_agent_index_key;

/* Writes a new token (43 characters and NUL) into out. Returns false when the
 * random generator fails. */
bool edge_agent_token_generate(char out[EDGE_AGENT_TOKEN_SIZE]);

/* Writes the URL-safe base64 form of len bytes, without padding, and a NUL
 * into out. Returns false when out_size is too small. */
bool edge_base64url_encode(const unsigned char *data, size_t len, char *out,
	size_t out_size);

/* Decodes len characters of URL-safe base64, with or without '=' padding,
 * into out. Returns false for any other character, a length that no
 * encoding has, or more than out_size bytes of output. */
bool edge_base64url_decode(const char *text, size_t len, unsigned char *out,
	size_t out_size, size_t *out_len);

/* Hashes token as upstream does: PBKDF2-HMAC-SHA256 with 200,000 iterations
 * and a new 16-byte random salt, written into out in the stored format.
 * Returns false when the random generator or OpenSSL fails. */
bool edge_agent_token_hash(const char *token, size_t token_len,
	char out[EDGE_AGENT_TOKEN_HASH_SIZE]);

/* Returns true when token matches stored_hash. A hash of another algorithm,
 * a malformed one, or one whose iteration count lies outside the bounds above
 * returns false without running PBKDF2. The digests are compared in constant
 * time. */
bool edge_agent_token_verify(const char *token, size_t token_len,
	const char *stored_hash);

/* Returns the number of PBKDF2 computations this process has run (hashing
 * and verification), for log lines and benchmarks. */
unsigned long long edge_pbkdf2_runs(void);

/* Computes the index digest HMAC-SHA256(key, token). Returns false only when
 * OpenSSL fails. */
bool edge_agent_token_digest(const edge_agent_index_key *key, const char *token,
	size_t token_len, unsigned char out[EDGE_SHA256_SIZE]);

/* Writes the bytea text form of a digest ("\x" and 64 hex digits) into out. */
#define EDGE_DIGEST_BYTEA_SIZE (2 + 2 * EDGE_SHA256_SIZE + 1)
void edge_agent_digest_bytea(const unsigned char digest[EDGE_SHA256_SIZE],
	char out[EDGE_DIGEST_BYTEA_SIZE]);

/* Reads AGENT_TOKEN_INDEX_KEY into key. Returns EDGE_OK (key->len stays 0
 * when the variable is unset or blank, and the key then comes from the
 * database), or EDGE_ERR_CONFIG after logging which rule the value breaks. */
edge_err edge_agent_index_key_from_env(edge_agent_index_key *key);

/* The statement that reads the key from the edge_secret table. */
extern const edge_db_statement edge_agent_index_key_statement;

/* Loads the key from the database unless it is already set. Returns EDGE_OK,
 * a store error, or EDGE_ERR_NOT_FOUND when sql/schema.sql did not create the
 * key (all logged). */
edge_err edge_agent_index_key_load(edge_db *db, edge_agent_index_key *key);

#endif

/* Agent token generation, hashing and index digests; see agent_token.h. */
#include "agent_token.h"
#include "log.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_ALGORITHM "pbkdf2_sha256"

/* Maximum salt length of a stored hash, in bytes; upstream writes 16. */
#define SALT_MAX 256

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static atomic_ullong pbkdf2_run_count;

const edge_db_statement edge_agent_index_key_statement = {
	"agent_index_key",
	"SELECT value FROM edge_secret WHERE name = 'agent_token_index_key'",
	0,
};

unsigned long long
edge_pbkdf2_runs(void)
{
	return atomic_load(&pbkdf2_run_count);
}

bool
edge_base64url_encode(const unsigned char *data, size_t len, char *out,
    size_t out_size)
{
	size_t needed = len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
	size_t used = 0;

	if (out_size == 0 || needed > out_size - 1)
		return false;
	for (size_t i = 0; i < len; i += 3) {
		unsigned long group = (unsigned long)data[i] << 16;
		size_t chunk = len - i < 3 ? len - i : 3;

		if (chunk > 1)
			group |= (unsigned long)data[i + 1] << 8;
		if (chunk > 2)
			group |= data[i + 2];
		/* chunk bytes carry chunk + 1 characters' worth of bits. */
		for (size_t k = 0; k <= chunk; k++)
			out[used++] = alphabet[(group >> (18 - 6 * k)) & 0x3f];
	}
	out[used] = '\0';
	return true;
}

static int
base64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

bool
edge_base64url_decode(const char *text, size_t len, unsigned char *out,
    size_t out_size, size_t *out_len)
{
	unsigned long group = 0;
	size_t bits = 0, used = 0, padding = 0;

	/* Padding, when present, completes the text to a multiple of 4. */
	while (padding < len && padding < 2 && text[len - 1 - padding] == '=')
		padding++;
	if (padding > 0 && len % 4 != 0)
		return false;
	len -= padding;
	/* A lone character in the last group encodes fewer than 8 bits. */
	if (len % 4 == 1)
		return false;

	for (size_t i = 0; i < len; i++) {
		int value = base64url_value(text[i]);

		if (value < 0)
			return false;
		group = (group << 6 | (unsigned long)value) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (used == out_size)
				return false;
			out[used++] = (unsigned char)(group >> bits);
		}
	}
	*out_len = used;
	return true;
}

bool
edge_agent_token_generate(char out[EDGE_AGENT_TOKEN_SIZE])
{
	unsigned char random_bytes[EDGE_AGENT_TOKEN_BYTES];
	bool ok;

	if (RAND_bytes(random_bytes, sizeof(random_bytes)) != 1)
		return false;
	ok = edge_base64url_encode(random_bytes, sizeof(random_bytes), out,
	    EDGE_AGENT_TOKEN_SIZE);
	OPENSSL_cleanse(random_bytes, sizeof(random_bytes));
	return ok;
}

/* Runs PBKDF2-HMAC-SHA256 and counts the run. */
static bool
pbkdf2_sha256(const char *token, size_t token_len, const unsigned char *salt,
    size_t salt_len, unsigned iterations, unsigned char out[EDGE_SHA256_SIZE])
{
	/* OpenSSL takes lengths and the iteration count as int. */
	if (token_len > INT_MAX || salt_len > INT_MAX || iterations > INT_MAX)
		return false;
	atomic_fetch_add(&pbkdf2_run_count, 1);
	return PKCS5_PBKDF2_HMAC(token, (int)token_len, salt, (int)salt_len,
	    (int)iterations, EVP_sha256(), EDGE_SHA256_SIZE, out) == 1;
}

bool
edge_agent_token_hash(const char *token, size_t token_len,
    char out[EDGE_AGENT_TOKEN_HASH_SIZE])
{
	unsigned char salt[EDGE_PBKDF2_SALT_BYTES], digest[EDGE_SHA256_SIZE];
	char salt_text[32], digest_text[48];
	int written;

	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    !pbkdf2_sha256(token, token_len, salt, sizeof(salt),
	    EDGE_PBKDF2_ITERATIONS, digest))
		return false;
	if (!edge_base64url_encode(salt, sizeof(salt), salt_text,
	    sizeof(salt_text)) ||
	    !edge_base64url_encode(digest, sizeof(digest), digest_text,
	    sizeof(digest_text)))
		return false;
	written = snprintf(out, EDGE_AGENT_TOKEN_HASH_SIZE, "%s$%u$%s$%s",
	    HASH_ALGORITHM, (unsigned)EDGE_PBKDF2_ITERATIONS, salt_text,
	    digest_text);
	OPENSSL_cleanse(digest, sizeof(digest));
	return written > 0 && written < EDGE_AGENT_TOKEN_HASH_SIZE;
}

/* Parses the decimal iteration count of a stored hash, digits only. */
static bool
parse_iterations(const char *text, size_t len, unsigned *iterations)
{
	unsigned long value = 0;

	if (len == 0 || len > 8)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		value = value * 10 + (unsigned long)(text[i] - '0');
	}
	if (value < EDGE_PBKDF2_MIN_ITERATIONS || value > EDGE_PBKDF2_MAX_ITERATIONS)
		return false;
	*iterations = (unsigned)value;
	return true;
}

bool
edge_agent_token_verify(const char *token, size_t token_len,
    const char *stored_hash)
{
	unsigned char salt[SALT_MAX], expected[EDGE_SHA256_SIZE];
	unsigned char actual[EDGE_SHA256_SIZE];
	const char *fields[4];
	size_t lengths[4], salt_len, digest_len;
	const char *p = stored_hash;
	unsigned iterations;
	bool match;

	/* Exactly four fields separated by '$'. */
	for (size_t i = 0; i < 4; i++) {
		fields[i] = p;
		lengths[i] = strcspn(p, "$");
		p += lengths[i];
		if (i < 3) {
			if (*p != '$')
				return false;
			p++;
		}
	}
	if (*p != '\0')
		return false;

	if (lengths[0] != strlen(HASH_ALGORITHM) ||
	    memcmp(fields[0], HASH_ALGORITHM, lengths[0]) != 0 ||
	    !parse_iterations(fields[1], lengths[1], &iterations) ||
	    !edge_base64url_decode(fields[2], lengths[2], salt, sizeof(salt),
	    &salt_len) ||
	    !edge_base64url_decode(fields[3], lengths[3], expected,
	    sizeof(expected), &digest_len) ||
	    digest_len != EDGE_SHA256_SIZE)
		return false;

	if (!pbkdf2_sha256(token, token_len, salt, salt_len, iterations, actual))
		return false;
	match = CRYPTO_memcmp(actual, expected, EDGE_SHA256_SIZE) == 0;
	OPENSSL_cleanse(actual, sizeof(actual));
	return match;
}

bool
edge_agent_token_digest(const edge_agent_index_key *key, const char *token,
    size_t token_len, unsigned char out[EDGE_SHA256_SIZE])
{
	return edge_hmac_sha256(key->bytes, key->len, token, token_len, out);
}

void
edge_agent_digest_bytea(const unsigned char digest[EDGE_SHA256_SIZE],
    char out[EDGE_DIGEST_BYTEA_SIZE])
{
	out[0] = '\\';
	out[1] = 'x';
	edge_hex_encode(digest, EDGE_SHA256_SIZE, out + 2);
}

edge_err
edge_agent_index_key_from_env(edge_agent_index_key *key)
{
	const char *value = getenv(EDGE_AGENT_INDEX_KEY_VARIABLE);
	size_t len;

	memset(key, 0, sizeof(*key));
	if (value == NULL || value[0] == '\0')
		return EDGE_OK;

	len = strlen(value);
	if (len < EDGE_AGENT_INDEX_KEY_MIN || len > EDGE_AGENT_INDEX_KEY_MAX) {
		edge_log(EDGE_LOG_ERROR, "config",
		    "%s must be %d to %d characters long (it has %zu); use a "
		    "random value such as the output of openssl rand -hex 32",
		    EDGE_AGENT_INDEX_KEY_VARIABLE, EDGE_AGENT_INDEX_KEY_MIN,
		    EDGE_AGENT_INDEX_KEY_MAX, len);
		return EDGE_ERR_CONFIG;
	}
	memcpy(key->bytes, value, len);
	key->len = len;
	key->from_environment = true;
	return EDGE_OK;
}

edge_err
edge_agent_index_key_load(edge_db *db, edge_agent_index_key *key)
{
	PGresult *result;
	unsigned char *bytes;
	size_t len = 0;
	edge_err err;

	if (key->len > 0)
		return EDGE_OK;
	err = edge_db_run(db, edge_agent_index_key_statement.name, 0, NULL, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	if (PQntuples(result) != 1) {
		PQclear(result);
		edge_log(EDGE_LOG_ERROR, "agent-token",
		    "edge_secret has no agent_token_index_key row; apply "
		    "sql/schema.sql or set %s", EDGE_AGENT_INDEX_KEY_VARIABLE);
		return EDGE_ERR_NOT_FOUND;
	}

	/* bytea arrives in its text form, "\x" and hex digits. */
	bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(result, 0, 0),
	    &len);
	PQclear(result);
	if (bytes == NULL || len < EDGE_AGENT_INDEX_KEY_MIN ||
	    len > EDGE_AGENT_INDEX_KEY_MAX) {
		if (bytes != NULL)
			PQfreemem(bytes);
		edge_log(EDGE_LOG_ERROR, "agent-token",
		    "edge_secret.agent_token_index_key holds %zu bytes; it needs "
		    "%d to %d", len, EDGE_AGENT_INDEX_KEY_MIN,
		    EDGE_AGENT_INDEX_KEY_MAX);
		return EDGE_ERR_NOT_FOUND;
	}
	memcpy(key->bytes, bytes, len);
	key->len = len;
	OPENSSL_cleanse(bytes, len);
	PQfreemem(bytes);
	return EDGE_OK;
}

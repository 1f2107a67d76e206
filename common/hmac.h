/* HMAC-SHA256 over raw bytes and its constant-time verification. */
#ifndef EDGE_HMAC_H
#define EDGE_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define EDGE_SHA256_SIZE 32

/* Computes HMAC-SHA256(key, data) into out. Returns false only when OpenSSL fails. */
bool edge_hmac_sha256(const void *key, size_t key_len, const void *data,
	size_t data_len, unsigned char out[EDGE_SHA256_SIZE]);

/* Returns true when expected equals HMAC-SHA256(key, data). The comparison
 * takes the same time wherever the first differing byte is. */
bool edge_hmac_sha256_verify(const void *key, size_t key_len, const void *data,
	size_t data_len, const unsigned char expected[EDGE_SHA256_SIZE]);

/* Decodes exactly out_len bytes from 2 * out_len hex digits of either case.
 * Returns false for any other length or a non-hex character. */
bool edge_hex_decode(const char *hex, size_t hex_len, unsigned char *out,
	size_t out_len);

/* Writes 2 * len lower-case hex digits and a NUL into out. */
void edge_hex_encode(const unsigned char *data, size_t len, char *out);

#endif

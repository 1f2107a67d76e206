/* HMAC-SHA256 through OpenSSL; see hmac.h. */
#include "hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <limits.h>

bool
edge_hmac_sha256(const void *key, size_t key_len, const void *data,
    size_t data_len, unsigned char out[EDGE_SHA256_SIZE])
{
	unsigned int out_len = 0;

	/* OpenSSL takes the key length as an int. */
	if (key_len > INT_MAX)
		return false;
	if (HMAC(EVP_sha256(), key, (int)key_len, data, data_len, out,
	    &out_len) == NULL)
		return false;
	return out_len == EDGE_SHA256_SIZE;
}

bool
edge_hmac_sha256_verify(const void *key, size_t key_len, const void *data,
    size_t data_len, const unsigned char expected[EDGE_SHA256_SIZE])
{
	unsigned char actual[EDGE_SHA256_SIZE];

	if (!edge_hmac_sha256(key, key_len, data, data_len, actual))
		return false;
	return CRYPTO_memcmp(actual, expected, EDGE_SHA256_SIZE) == 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
edge_hex_decode(const char *hex, size_t hex_len, unsigned char *out,
    size_t out_len)
{
	if (hex_len != out_len * 2)
		return false;
	for (size_t i = 0; i < out_len; i++) {
		int high = hex_value(hex[2 * i]), low = hex_value(hex[2 * i + 1]);

		if (high < 0 || low < 0)
			return false;
		out[i] = (unsigned char)(high << 4 | low);
	}
	return true;
}

void
edge_hex_encode(const unsigned char *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0xf];
	}
	out[2 * len] = '\0';
}

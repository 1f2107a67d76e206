/* Fuzz target for webhook signature checking. Input: one byte giving the
 * secret length (modulo 64, capped by the input), the secret, the header
 * value up to the first LF, then the body. The library must agree with a
 * reference reading of the rule computed with OpenSSL's HMAC: surrounding
 * spaces and tabs are ignored, an optional "sha256=" prefix is dropped, and
 * exactly 64 hex digits must remain. The correct signature built from the
 * body must be valid with and without its prefix, and one changed digit
 * must make it a mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_input.h"
#include "signature.h"

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

static edge_signature_result
reference_check(const char *value, const unsigned char mac[32])
{
	size_t len;
	unsigned char given[32];

	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len >= 7 && strncasecmp(value, "sha256=", 7) == 0) {
		value += 7;
		len -= 7;
	}
	if (len != 64)
		return EDGE_SIGNATURE_MALFORMED;
	for (size_t i = 0; i < 32; i++) {
		int high = hex_value(value[2 * i]), low = hex_value(value[2 * i + 1]);

		if (high < 0 || low < 0)
			return EDGE_SIGNATURE_MALFORMED;
		given[i] = (unsigned char)(high << 4 | low);
	}
	return memcmp(given, mac, 32) == 0 ? EDGE_SIGNATURE_VALID :
	    EDGE_SIGNATURE_MISMATCH;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[32];
	unsigned mac_len = 0;
	const uint8_t *secret, *header, *body, *newline;
	size_t secret_len, header_len, body_len;
	char *value, built[7 + 64 + 1];

	if (size < 1)
		return 0;
	secret_len = data[0] % 64;
	if (secret_len > size - 1)
		secret_len = size - 1;
	secret = data + 1;
	header = secret + secret_len;
	newline = memchr(header, '\n', size - 1 - secret_len);
	header_len = newline != NULL ? (size_t)(newline - header) :
	    size - 1 - secret_len;
	body = newline != NULL ? newline + 1 : header + header_len;
	body_len = (size_t)(data + size - body);

	FUZZ_ASSERT(HMAC(EVP_sha256(), secret, (int)secret_len, body, body_len,
	    mac, &mac_len) != NULL && mac_len == 32);

	/* The header as a C string: a NUL byte ends it, as in a CGI variable. */
	value = fuzz_copy_text(header, header_len);
	FUZZ_ASSERT(edge_signature_check_sha256(value, secret, secret_len, body,
	    body_len) == reference_check(value, mac));
	free(value);

	/* The right signature, then each digit changed in turn at one place. */
	memcpy(built, "sha256=", 7);
	for (size_t i = 0; i < 32; i++) {
		built[7 + 2 * i] = digits[mac[i] >> 4];
		built[8 + 2 * i] = digits[mac[i] & 0xf];
	}
	built[71] = '\0';
	FUZZ_ASSERT(edge_signature_check_sha256(built, secret, secret_len, body,
	    body_len) == EDGE_SIGNATURE_VALID);
	FUZZ_ASSERT(edge_signature_check_sha256(built + 7, secret, secret_len, body,
	    body_len) == EDGE_SIGNATURE_VALID);
	{
		size_t at = 7 + (body_len + secret_len) % 64;

		built[at] = built[at] == '0' ? '1' : '0';
		FUZZ_ASSERT(edge_signature_check_sha256(built, secret, secret_len,
		    body, body_len) == EDGE_SIGNATURE_MISMATCH);
	}
	return 0;
}

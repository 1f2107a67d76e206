/* UUID parsing and generation; see uuid.h. */
#include "uuid.h"
#include "hmac.h"

#include <openssl/rand.h>
#include <string.h>

/* Decodes %XX escapes of text into out (out_size bytes); false on a bad escape or overflow. */
static bool
percent_decode(const char *text, size_t len, char *out, size_t out_size,
    size_t *out_len)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char byte;

		if (used + 1 >= out_size)
			return false;
		if (text[i] != '%') {
			out[used++] = text[i];
			continue;
		}
		if (i + 2 >= len || !edge_hex_decode(text + i + 1, 2, &byte, 1))
			return false;
		out[used++] = (char)byte;
		i += 2;
	}
	*out_len = used;
	return true;
}

bool
edge_uuid_parse(const char *text, size_t len, char out[EDGE_UUID_SIZE])
{
	char decoded[EDGE_UUID_SIZE + 1], digits[33];
	unsigned char bytes[16];
	size_t decoded_len, count = 0;

	if (!percent_decode(text, len, decoded, sizeof(decoded), &decoded_len))
		return false;

	/* Hyphens only at the canonical places, or none at all. */
	if (decoded_len == 36) {
		for (size_t i = 0; i < 36; i++) {
			bool hyphen_place = i == 8 || i == 13 || i == 18 || i == 23;

			if ((decoded[i] == '-') != hyphen_place)
				return false;
			if (!hyphen_place)
				digits[count++] = decoded[i];
		}
	} else if (decoded_len == 32) {
		memcpy(digits, decoded, 32);
		count = 32;
	} else {
		return false;
	}
	if (count != 32 || !edge_hex_decode(digits, 32, bytes, 16))
		return false;

	edge_hex_encode(bytes, 16, digits);
	memcpy(out, digits, 8);
	out[8] = '-';
	memcpy(out + 9, digits + 8, 4);
	out[13] = '-';
	memcpy(out + 14, digits + 12, 4);
	out[18] = '-';
	memcpy(out + 19, digits + 16, 4);
	out[23] = '-';
	memcpy(out + 24, digits + 20, 12);
	out[36] = '\0';
	return true;
}

bool
edge_uuid_generate(char out[EDGE_UUID_SIZE])
{
	unsigned char bytes[16];
	char text[33];

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		return false;
	bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);	/* version 4 */
	bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	edge_hex_encode(bytes, 16, text);
	return edge_uuid_parse(text, 32, out);
}

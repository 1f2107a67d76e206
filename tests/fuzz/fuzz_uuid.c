/* Fuzz target for UUID parsing, which reads board and webhook ids from the
 * request path. An independent reading of the rule (percent-decode, then 36
 * characters with hyphens at 8, 13, 18 and 23, or 32 hex digits) must agree
 * with the library, and every accepted id must come out canonical. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "uuid.h"

/* Returns the canonical form in out, or false. */
static bool
reference_parse(const uint8_t *text, size_t len, char out[EDGE_UUID_SIZE])
{
	char decoded[64], digits[33];
	size_t used = 0, count = 0;

	for (size_t i = 0; i < len; i++) {
		char c = (char)text[i];

		if (c == '%') {
			char hex[3];

			if (i + 2 >= len || !isxdigit(text[i + 1]) || !isxdigit(text[i + 2]))
				return false;
			hex[0] = (char)text[i + 1];
			hex[1] = (char)text[i + 2];
			hex[2] = '\0';
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (used == sizeof(decoded))
			return false;
		decoded[used++] = c;
	}
	if (used == 36) {
		for (size_t i = 0; i < 36; i++) {
			bool hyphen_place = i == 8 || i == 13 || i == 18 || i == 23;

			if ((decoded[i] == '-') != hyphen_place)
				return false;
			if (!hyphen_place)
				digits[count++] = decoded[i];
		}
	} else if (used == 32) {
		memcpy(digits, decoded, 32);
		count = 32;
	} else {
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		if (!isxdigit((unsigned char)digits[i]))
			return false;
		digits[i] = (char)tolower((unsigned char)digits[i]);
	}
	snprintf(out, EDGE_UUID_SIZE, "%.8s-%.4s-%.4s-%.4s-%.12s", digits,
	    digits + 8, digits + 12, digits + 16, digits + 20);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char got[EDGE_UUID_SIZE], expected[EDGE_UUID_SIZE], again[EDGE_UUID_SIZE];
	bool accepted = edge_uuid_parse((const char *)data, size, got);

	FUZZ_ASSERT(accepted == reference_parse(data, size, expected));
	if (!accepted)
		return 0;
	FUZZ_ASSERT(strcmp(got, expected) == 0);
	FUZZ_ASSERT(edge_uuid_parse(got, strlen(got), again));
	FUZZ_ASSERT(strcmp(again, got) == 0);
	return 0;
}

/* Fuzz target for UTF-8 validation and repair. An independent reading of the
 * Unicode well-formedness table (chapter 3, table 3-7) with substitution of
 * maximal subparts, the rule Python's bytes.decode("utf-8", "replace")
 * follows, must agree byte for byte with the library. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "utf8.h"

/* Length of the sequence a lead byte starts, and the allowed range of the
 * byte after it; 0 for a byte that starts no sequence. */
static size_t
lead_info(unsigned char lead, unsigned char *second_low,
    unsigned char *second_high)
{
	*second_low = 0x80;
	*second_high = 0xbf;
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead == 0xe0) {
		*second_low = 0xa0;
		return 3;
	}
	if (lead == 0xed) {
		*second_high = 0x9f;
		return 3;
	}
	if (lead >= 0xe1 && lead <= 0xef)
		return 3;
	if (lead == 0xf0) {
		*second_low = 0x90;
		return 4;
	}
	if (lead == 0xf4) {
		*second_high = 0x8f;
		return 4;
	}
	if (lead >= 0xf1 && lead <= 0xf3)
		return 4;
	return 0;
}

/* Returns how many bytes at s form a well-formed sequence (>= 1) or, as a
 * negative number, the length of the maximal ill-formed subpart. */
static long
reference_step(const unsigned char *s, size_t len)
{
	unsigned char low, high;
	size_t needed, i;

	if (s[0] < 0x80)
		return 1;
	needed = lead_info(s[0], &low, &high);
	if (needed == 0)
		return -1;
	for (i = 1; i < needed && i < len; i++) {
		unsigned char lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xbf;

		if (s[i] < lo || s[i] > hi)
			break;
	}
	return i == needed ? (long)needed : -(long)i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *expected = malloc(size * 3 + 1), *repaired;
	size_t expected_len = 0, repaired_len = 0, i = 0;
	int reference_valid = 1;

	FUZZ_ASSERT(expected != NULL);
	while (i < size) {
		long step = reference_step(data + i, size - i);
		size_t length = edge_utf8_sequence_length(data + i, size - i);

		if (step > 0) {
			FUZZ_ASSERT(length == (size_t)step);
			memcpy(expected + expected_len, data + i, (size_t)step);
			expected_len += (size_t)step;
			i += (size_t)step;
		} else {
			FUZZ_ASSERT(length == 0);
			memcpy(expected + expected_len, "\xef\xbf\xbd", 3);
			expected_len += 3;
			i += (size_t)-step;
			reference_valid = 0;
		}
	}

	FUZZ_ASSERT(edge_utf8_valid(text, size) == (reference_valid != 0));
	repaired = edge_utf8_repair(text, size, &repaired_len);
	FUZZ_ASSERT(repaired != NULL);
	FUZZ_ASSERT(repaired_len == expected_len);
	FUZZ_ASSERT(memcmp(repaired, expected, expected_len) == 0);
	FUZZ_ASSERT(repaired[repaired_len] == '\0');
	FUZZ_ASSERT(edge_utf8_valid(repaired, repaired_len));
	if (reference_valid)
		FUZZ_ASSERT(repaired_len == size && memcmp(repaired, text, size) == 0);

	/* Decoding then encoding a well-formed sequence gives it back. */
	if (size > 0) {
		unsigned code_point = 0;
		size_t skip = 0, got = edge_utf8_decode(data, size, &code_point, &skip);
		char encoded[4];

		FUZZ_ASSERT(skip >= 1 && skip <= size && skip <= 4);
		if (got > 0) {
			FUZZ_ASSERT(edge_utf8_encode(code_point, encoded) == got);
			FUZZ_ASSERT(memcmp(encoded, data, got) == 0);
		} else {
			FUZZ_ASSERT(code_point == 0xfffd);
		}
	}
	free(repaired);
	free(expected);
	return 0;
}

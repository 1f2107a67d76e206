/* Fuzz target for fence neutralization. After neutralization, no line of
 * the output may read as a delimiter: its ASCII letters, case folded, must
 * not start with "beginexternaldata" or "endexternaldata". Lines are cut at
 * CR, LF, CR LF, U+2028 and U+2029, and again with VT, FF and U+0085 added,
 * since readers differ on those. Apart from the inserted prefixes, the
 * output must be the input with NUL bytes replaced by U+FFFD. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence.h"
#include "fuzz_input.h"

#define PREFIX EDGE_FENCE_NEUTRALIZED_PREFIX

/* Returns the length of a line terminator at s[i], or 0. */
static size_t
terminator(const unsigned char *s, size_t len, size_t i, bool extended)
{
	if (s[i] == '\n')
		return 1;
	if (s[i] == '\r')
		return i + 1 < len && s[i + 1] == '\n' ? 2 : 1;
	if (s[i] == 0xe2 && i + 2 < len && s[i + 1] == 0x80 &&
	    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
		return 3;
	if (!extended)
		return 0;
	if (s[i] == '\v' || s[i] == '\f')
		return 1;
	if (s[i] == 0xc2 && i + 1 < len && s[i + 1] == 0x85)
		return 2;
	return 0;
}

/* True when the ASCII letters of the line, lower-cased, start with a
 * delimiter's letters. A non-ASCII byte counts as a letter that matches
 * nothing: it may be a letter in another script, and the library reads some
 * of them (fullwidth, Cyrillic) as other Latin letters. That makes this check
 * weaker than the library's, never stricter. */
static bool
starts_like_delimiter(const unsigned char *line, size_t len)
{
	static const char *const patterns[] = { "beginexternaldata", "endexternaldata" };
	char letters[32];
	size_t count = 0;

	for (size_t i = 0; i < len && count < sizeof(letters); i++) {
		unsigned char c = line[i];

		if (c >= 'A' && c <= 'Z')
			letters[count++] = (char)(c - 'A' + 'a');
		else if (c >= 'a' && c <= 'z')
			letters[count++] = (char)c;
		else if (c >= 0x80)
			letters[count++] = '#';
	}
	for (size_t k = 0; k < 2; k++) {
		size_t n = strlen(patterns[k]);

		if (count >= n && memcmp(letters, patterns[k], n) == 0)
			return true;
	}
	return false;
}

static void
check_lines(const unsigned char *out, size_t len, bool extended)
{
	size_t start = 0, i = 0;

	while (i <= len) {
		size_t term = i < len ? terminator(out, len, i, extended) : 0;

		if (i < len && term == 0) {
			i++;
			continue;
		}
		FUZZ_ASSERT(!starts_like_delimiter(out + start, i - start));
		if (i == len)
			break;
		i += term;
		start = i;
	}
}

/* Returns a copy of text without any occurrence of the prefix. */
static char *
remove_prefixes(const char *text, size_t len, size_t *out_len)
{
	size_t prefix_len = strlen(PREFIX), used = 0;
	char *out = malloc(len + 1);

	FUZZ_ASSERT(out != NULL);
	for (size_t i = 0; i < len; ) {
		if (len - i >= prefix_len && memcmp(text + i, PREFIX, prefix_len) == 0) {
			i += prefix_len;
			continue;
		}
		out[used++] = text[i++];
	}
	*out_len = used;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	edge_buf out = { 0 };
	char *expected, *stripped, *expected_stripped;
	size_t expected_len = 0, stripped_len = 0, expected_stripped_len = 0;

	edge_fence_append_neutralized(&out, (const char *)data, size);
	FUZZ_ASSERT(out.err == EDGE_OK);
	FUZZ_ASSERT(size == 0 || out.data != NULL);
	if (out.data == NULL) {
		edge_buf_free(&out);
		return 0;
	}
	FUZZ_ASSERT(memchr(out.data, '\0', out.len) == NULL);
	check_lines((const unsigned char *)out.data, out.len, false);
	check_lines((const unsigned char *)out.data, out.len, true);

	expected = malloc(size * 3 + 1);
	FUZZ_ASSERT(expected != NULL);
	for (size_t k = 0; k < size; k++) {
		if (data[k] == '\0') {
			memcpy(expected + expected_len, "\xef\xbf\xbd", 3);
			expected_len += 3;
		} else {
			expected[expected_len++] = (char)data[k];
		}
	}
	/* No suffix of the prefix is also its start, so when the only change
	 * is added prefixes, deleting every copy from both sides leaves equal
	 * texts. */
	stripped = remove_prefixes(out.data, out.len, &stripped_len);
	expected_stripped = remove_prefixes(expected, expected_len,
	    &expected_stripped_len);
	FUZZ_ASSERT(stripped_len == expected_stripped_len);
	FUZZ_ASSERT(memcmp(stripped, expected_stripped, stripped_len) == 0);

	free(expected_stripped);
	free(expected);
	free(stripped);
	edge_buf_free(&out);
	return 0;
}

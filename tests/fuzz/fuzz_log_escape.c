/* Fuzz target for log escaping. Input: one byte choosing the output size
 * (1 to 256), one byte whose low bit chooses the JSON line format, then the
 * untrusted text. The output must
 * fit its buffer, hold no control byte, be valid UTF-8, and turn back into
 * the input (or a prefix of it, when cut with "...") by undoing the \xNN
 * escapes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "log.h"
#include "utf8.h"

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undoes the \xNN escapes of text into out; false on a malformed escape. */
static int
unescape(const char *text, size_t len, char *out, size_t *out_len)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] != '\\') {
			out[used++] = text[i];
			continue;
		}
		if (i + 3 >= len)
			return 0;
		if (text[i + 1] != 'x' || hex_digit(text[i + 2]) < 0 ||
		    hex_digit(text[i + 3]) < 0)
			return 0;
		out[used++] = (char)(hex_digit(text[i + 2]) << 4 |
		    hex_digit(text[i + 3]));
		i += 3;
	}
	*out_len = used;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text;
	size_t text_len, out_size, out_len, back_len;
	edge_log_format format;
	char *out, *back;

	if (size < 2)
		return 0;
	out_size = (size_t)data[0] + 1;
	format = data[1] & 1 ? EDGE_LOG_JSON : EDGE_LOG_TEXT;
	text = (const char *)data + 2;
	text_len = size - 2;

	/* An exact-size heap buffer, so AddressSanitizer reports any overrun. */
	out = malloc(out_size);
	back = malloc(out_size);
	FUZZ_ASSERT(out != NULL && back != NULL);
	edge_log_configure(EDGE_LOG_ERROR, format);
	edge_log_escape(text, text_len, out, out_size);

	FUZZ_ASSERT(memchr(out, '\0', out_size) != NULL);
	out_len = strlen(out);
	for (size_t i = 0; i < out_len; i++) {
		unsigned char c = (unsigned char)out[i];

		/* The escape is the text form in either line format; JSON lines
		 * escape their message separately. */
		FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
	}
	FUZZ_ASSERT(edge_utf8_valid(out, out_len));

	if (unescape(out, out_len, back, &back_len) && back_len == text_len &&
	    memcmp(back, text, text_len) == 0) {
		free(out);
		free(back);
		return 0;
	}

	/* Otherwise the input was cut: the text before "..." is a proper
	 * prefix. A buffer under 4 bytes has no room for "...": it may hold
	 * any part of it. */
	if (out_size < 4) {
		FUZZ_ASSERT(strncmp(out, "...", out_len) == 0);
		free(out);
		free(back);
		return 0;
	}
	FUZZ_ASSERT(out_len >= 3 && memcmp(out + out_len - 3, "...", 3) == 0);
	FUZZ_ASSERT(unescape(out, out_len - 3, back, &back_len));
	FUZZ_ASSERT(back_len < text_len && memcmp(back, text, back_len) == 0);
	free(out);
	free(back);
	return 0;
}

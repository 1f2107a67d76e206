/* UTF-8 validation following the well-formed byte sequence table of the
 * Unicode Standard (chapter 3, table 3-7). */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* Counts the bytes after lead that continue a well-formed sequence, stopping
 * at the first byte that cannot; sets *needed to the sequence's full length,
 * or 0 when lead can start no sequence. */
static size_t
count_valid_continuations(const unsigned char *s, size_t len, size_t *needed)
{
	unsigned char lead = s[0], low = 0x80, high = 0xbf;
	size_t i;

	if (lead >= 0xc2 && lead <= 0xdf)
		*needed = 2;
	else if (lead >= 0xe0 && lead <= 0xef)
		*needed = 3;
	else if (lead >= 0xf0 && lead <= 0xf4)
		*needed = 4;
	else {
		*needed = 0;
		return 0;
	}

	/* The second byte's range excludes overlong forms, surrogates and values past U+10FFFF. */
	if (lead == 0xe0)
		low = 0xa0;
	else if (lead == 0xed)
		high = 0x9f;
	else if (lead == 0xf0)
		low = 0x90;
	else if (lead == 0xf4)
		high = 0x8f;

	for (i = 1; i < *needed && i < len; i++) {
		unsigned char c = s[i];

		if (i == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xbf))
			break;
	}
	return i - 1;
}

size_t
edge_utf8_sequence_length(const unsigned char *s, size_t len)
{
	size_t needed;

	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (count_valid_continuations(s, len, &needed) + 1 == needed)
		return needed;
	return 0;
}

bool
edge_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t seq;

		/* Runs of ASCII are the common case. */
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		seq = edge_utf8_sequence_length(p + i, len - i);
		if (seq == 0)
			return false;
		i += seq;
	}
	return true;
}

size_t
edge_utf8_decode(const unsigned char *s, size_t len, unsigned *code_point,
    size_t *skip)
{
	size_t needed, valid;

	if (s[0] < 0x80) {
		*code_point = s[0];
		if (skip != NULL)
			*skip = 1;
		return 1;
	}

	valid = count_valid_continuations(s, len, &needed);
	if (needed == 0 || valid + 1 < needed) {
		*code_point = 0xfffd;
		if (skip != NULL)
			*skip = needed == 0 ? 1 : valid + 1;
		return 0;
	}

	if (needed == 2)
		*code_point = (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu);
	else if (needed == 3)
		*code_point = (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 |
		    (s[2] & 0x3fu);
	else
		*code_point = (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 |
		    (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
	if (skip != NULL)
		*skip = needed;
	return needed;
}

size_t
edge_utf8_encode(unsigned code_point, char *out)
{
	if (code_point < 0x80) {
		out[0] = (char)code_point;
		return 1;
	}
	if (code_point < 0x800) {
		out[0] = (char)(0xc0 | code_point >> 6);
		out[1] = (char)(0x80 | (code_point & 0x3f));
		return 2;
	}
	if (code_point < 0x10000) {
		out[0] = (char)(0xe0 | code_point >> 12);
		out[1] = (char)(0x80 | (code_point >> 6 & 0x3f));
		out[2] = (char)(0x80 | (code_point & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | code_point >> 18);
	out[1] = (char)(0x80 | (code_point >> 12 & 0x3f));
	out[2] = (char)(0x80 | (code_point >> 6 & 0x3f));
	out[3] = (char)(0x80 | (code_point & 0x3f));
	return 4;
}

char *
edge_utf8_repair(const char *s, size_t len, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, used = 0;
	char *out;

	/* Each input byte yields at most one 3-byte U+FFFD; check before multiplying. */
	if (len > (((size_t)-1) - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;

	while (i < len) {
		unsigned code_point;
		size_t skip;

		if (edge_utf8_decode(p + i, len - i, &code_point, &skip) > 0) {
			memcpy(out + used, s + i, skip);
			used += skip;
		} else {
			memcpy(out + used, "\xef\xbf\xbd", 3);
			used += 3;
		}
		i += skip;
	}
	out[used] = '\0';
	*out_len = used;
	return out;
}

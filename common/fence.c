/* External-data delimiters; see fence.h. */
#include "fence.h"
#include "fence_letters.h"
#include "utf8.h"

#include <string.h>

static const char *const patterns[] = { "beginexternaldata", "endexternaldata" };

/* Maps a code point to the lower-case Latin letter it displays as, or 0 when
 * it is not a letter the fence cares about (and is dropped). */
static char
letter_of(unsigned cp)
{
	/* Cyrillic and Greek capitals and small letters that look Latin. */
	static const struct { unsigned cp; char letter; } homoglyphs[] = {
		{ 0x0410, 'a' }, { 0x0430, 'a' }, { 0x0412, 'b' }, { 0x0415, 'e' },
		{ 0x0435, 'e' }, { 0x041a, 'k' }, { 0x041c, 'm' }, { 0x041d, 'h' },
		{ 0x041e, 'o' }, { 0x043e, 'o' }, { 0x0420, 'p' }, { 0x0440, 'p' },
		{ 0x0421, 'c' }, { 0x0441, 'c' }, { 0x0422, 't' }, { 0x0425, 'x' },
		{ 0x0445, 'x' }, { 0x0443, 'y' }, { 0x0406, 'i' }, { 0x0456, 'i' },
		{ 0x0405, 's' }, { 0x0455, 's' }, { 0x0408, 'j' }, { 0x0458, 'j' },
		{ 0x0391, 'a' }, { 0x0392, 'b' }, { 0x0395, 'e' }, { 0x0396, 'z' },
		{ 0x0397, 'h' }, { 0x0399, 'i' }, { 0x039a, 'k' }, { 0x039c, 'm' },
		{ 0x039d, 'n' }, { 0x039f, 'o' }, { 0x03bf, 'o' }, { 0x03a1, 'p' },
		{ 0x03a4, 't' }, { 0x03a5, 'y' }, { 0x03a7, 'x' }, { 0x03b1, 'a' },
		{ 0x03b9, 'i' }, { 0x03ba, 'k' }, { 0x03bd, 'v' }, { 0x03c1, 'p' },
		{ 0x03c4, 't' }, { 0x0131, 'i' }, { 0x017f, 's' }, { 0x212a, 'k' },
	};

	size_t low = 0, high = sizeof(fence_letters) / sizeof(fence_letters[0]);

	if (cp < 0x80) {
		if (cp >= 'A' && cp <= 'Z')
			return (char)(cp - 'A' + 'a');
		if (cp >= 'a' && cp <= 'z')
			return (char)cp;
		return 0;
	}

	/* Accented, fullwidth, mathematical, circled, letterlike and other forms of Latin letters. */
	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (fence_letters[middle].code_point == cp)
			return fence_letters[middle].letter;
		if (fence_letters[middle].code_point < cp)
			low = middle + 1;
		else
			high = middle;
	}

	/* Negative squared capitals and regional indicators have no decomposition. */
	if (cp >= 0x1f170 && cp <= 0x1f189)
		return (char)('a' + cp - 0x1f170);
	if (cp >= 0x1f1e6 && cp <= 0x1f1ff)
		return (char)('a' + cp - 0x1f1e6);
	for (size_t i = 0; i < sizeof(homoglyphs) / sizeof(homoglyphs[0]); i++)
		if (homoglyphs[i].cp == cp)
			return homoglyphs[i].letter;
	return 0;
}

/* Scans the letters of text and reports whether they start with, or
 * anywhere contain, one of the delimiter patterns. */
static void
scan_letters(const char *text, size_t len, bool *starts, bool *contains)
{
	const unsigned char *p = (const unsigned char *)text;
	/* The last letters seen, newest at the end; as long as the longest pattern. */
	char recent[sizeof("beginexternaldata") - 1];
	size_t seen = 0, i = 0;

	*starts = false;
	*contains = false;
	while (i < len && !*contains) {
		unsigned cp;
		size_t skip;
		char letter;

		edge_utf8_decode(p + i, len - i, &cp, &skip);
		i += skip;
		letter = letter_of(cp);
		if (letter == 0)
			continue;

		memmove(recent, recent + 1, sizeof(recent) - 1);
		recent[sizeof(recent) - 1] = letter;
		seen++;
		for (size_t k = 0; k < 2; k++) {
			size_t pattern_len = strlen(patterns[k]);

			if (seen < pattern_len ||
			    memcmp(recent + sizeof(recent) - pattern_len,
			    patterns[k], pattern_len) != 0)
				continue;
			*contains = true;
			*starts = *starts || seen == pattern_len;
		}
	}
}

bool
edge_fence_line_resembles_delimiter(const char *line, size_t len)
{
	bool starts, contains;

	scan_letters(line, len, &starts, &contains);
	return starts;
}

bool
edge_fence_line_contains_delimiter(const char *line, size_t len)
{
	bool starts, contains;

	scan_letters(line, len, &starts, &contains);
	return contains;
}

/* Returns the length of a line terminator at text[i] that every reader
 * honours (CR, LF, CR LF, U+2028, U+2029), or 0. */
static size_t
hard_terminator_length(const unsigned char *text, size_t len, size_t i)
{
	unsigned char c = text[i];

	if (c == '\n')
		return 1;
	if (c == '\r')
		return i + 1 < len && text[i + 1] == '\n' ? 2 : 1;
	/* U+2028 and U+2029 are E2 80 A8 and E2 80 A9. */
	if (c == 0xe2 && i + 2 < len && text[i + 1] == 0x80 &&
	    (text[i + 2] == 0xa8 || text[i + 2] == 0xa9))
		return 3;
	return 0;
}

/* Returns the length of a separator at text[i] that only some readers treat
 * as a line end (VT, FF, the information separators 0x1C to 0x1E that
 * Python's splitlines honours, and U+0085), or 0. */
static size_t
soft_terminator_length(const unsigned char *text, size_t len, size_t i)
{
	unsigned char c = text[i];

	if (c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e))
		return 1;
	/* U+0085 is C2 85. */
	if (c == 0xc2 && i + 1 < len && text[i + 1] == 0x85)
		return 2;
	return 0;
}

static void
append_without_nul(edge_buf *out, const char *text, size_t len)
{
	const char *nul;

	while ((nul = memchr(text, '\0', len)) != NULL) {
		edge_buf_append(out, text, (size_t)(nul - text));
		edge_buf_append_str(out, "\xef\xbf\xbd");
		len -= (size_t)(nul - text) + 1;
		text = nul + 1;
	}
	edge_buf_append(out, text, len);
}

/* Appends one line (without its hard terminator). The line is prefixed when
 * its letters contain a delimiter anywhere; each part after a soft separator
 * is prefixed too when it contains one, so no reader, however it splits the
 * line, reads a line that starts like a delimiter. */
static void
append_line(edge_buf *out, const char *line, size_t len)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t part_start = 0, i = 0;

	if (!edge_fence_line_contains_delimiter(line, len)) {
		append_without_nul(out, line, len);
		return;
	}
	edge_buf_append_str(out, EDGE_FENCE_NEUTRALIZED_PREFIX);
	while (i < len) {
		size_t separator = soft_terminator_length(p, len, i);

		if (separator == 0) {
			i++;
			continue;
		}
		i += separator;
		append_without_nul(out, line + part_start, i - part_start);
		part_start = i;
		/* The rest of the line, not only this part: a reader may ignore some separators. */
		if (edge_fence_line_contains_delimiter(line + i, len - i))
			edge_buf_append_str(out, EDGE_FENCE_NEUTRALIZED_PREFIX);
	}
	append_without_nul(out, line + part_start, len - part_start);
}

void
edge_fence_append_neutralized(edge_buf *out, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t line_start = 0, i = 0;

	while (i < len) {
		size_t end_len = hard_terminator_length(p, len, i);

		if (end_len == 0) {
			i++;
			continue;
		}
		append_line(out, text + line_start, i - line_start);
		edge_buf_append(out, text + i, end_len);
		i += end_len;
		line_start = i;
	}
	append_line(out, text + line_start, len - line_start);
}

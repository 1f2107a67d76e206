/* A small recursive JSON reader for the fuzz targets, written apart from
 * common/json_check.c so the two can be compared. It takes RFC 8259 grammar
 * only: no NaN or Infinity, no single quotes, no leading zeros, no raw
 * control characters in strings, and whitespace is only space, tab, CR and
 * LF. A \u escape of a UTF-16 surrogate must be a high one followed at once
 * by a low one. Containers may nest max_depth deep. */
#ifndef EDGE_FUZZ_STRICT_JSON_H
#define EDGE_FUZZ_STRICT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct json_reader {
	const char *p;
	const char *end;
	unsigned depth;
	unsigned max_depth;
} json_reader;

static bool json_read_value(json_reader *r);

static void
json_skip_space(json_reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' ||
	    *r->p == '\r'))
		r->p++;
}

static bool
json_read_literal(json_reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return false;
	r->p += n;
	return true;
}

static bool
json_at_digit(const json_reader *r)
{
	return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

static bool
json_read_number(json_reader *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (!json_at_digit(r))
		return false;
	if (*r->p == '0')
		r->p++;
	else
		while (json_at_digit(r))
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (!json_at_digit(r))
			return false;
		while (json_at_digit(r))
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!json_at_digit(r))
			return false;
		while (json_at_digit(r))
			r->p++;
	}
	return true;
}

/* Reads the four hex digits after "\u"; -1 when they are not there. */
static long
json_read_hex4(json_reader *r)
{
	long unit = 0;

	if (r->end - r->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *r->p++;

		unit <<= 4;
		if (c >= '0' && c <= '9')
			unit |= c - '0';
		else if (c >= 'a' && c <= 'f')
			unit |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			unit |= c - 'A' + 10;
		else
			return -1;
	}
	return unit;
}

static bool
json_read_string(json_reader *r)
{
	if (r->p >= r->end || *r->p != '"')
		return false;
	r->p++;
	while (r->p < r->end) {
		unsigned char c = (unsigned char)*r->p++;
		long unit;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (r->p >= r->end)
			return false;
		c = (unsigned char)*r->p++;
		if (c != 'u') {
			if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL)
				return false;
			continue;
		}
		unit = json_read_hex4(r);
		if (unit < 0 || (unit >= 0xdc00 && unit <= 0xdfff))
			return false;
		if (unit >= 0xd800 && unit <= 0xdbff) {
			if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
				return false;
			r->p += 2;
			unit = json_read_hex4(r);
			if (unit < 0xdc00 || unit > 0xdfff)
				return false;
		}
	}
	return false;
}

static bool
json_read_container(json_reader *r, char close, bool object)
{
	if (r->depth == r->max_depth)
		return false;
	r->depth++;
	r->p++;
	json_skip_space(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			json_skip_space(r);
			if (!json_read_string(r))
				return false;
			json_skip_space(r);
			if (r->p >= r->end || *r->p++ != ':')
				return false;
		}
		if (!json_read_value(r))
			return false;
		json_skip_space(r);
		if (r->p >= r->end)
			return false;
		if (*r->p == close) {
			r->p++;
			r->depth--;
			return true;
		}
		if (*r->p++ != ',')
			return false;
	}
}

static bool
json_read_value(json_reader *r)
{
	json_skip_space(r);
	if (r->p >= r->end)
		return false;
	switch (*r->p) {
	case '{': return json_read_container(r, '}', true);
	case '[': return json_read_container(r, ']', false);
	case '"': return json_read_string(r);
	case 't': return json_read_literal(r, "true");
	case 'f': return json_read_literal(r, "false");
	case 'n': return json_read_literal(r, "null");
	default: return json_read_number(r);
	}
}

/* Returns true when text[0..len) is exactly one JSON value with optional
 * whitespace around it. */
static bool __attribute__((unused))
strict_json(const char *text, size_t len, unsigned max_depth)
{
	json_reader r = { text, text + len, 0, max_depth };

	if (!json_read_value(&r))
		return false;
	json_skip_space(&r);
	return r.p == r.end;
}

#endif

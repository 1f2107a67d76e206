/* Strict JSON syntax check; see json_check.h. An explicit stack of open
 * containers replaces recursion, so hostile nesting cannot exhaust the C
 * stack. */
#include "json_check.h"

#include <stdint.h>

#define DEPTH_LIMIT 64

typedef struct cursor {
	const unsigned char *p;
	const unsigned char *end;
} cursor;

static void
skip_whitespace(cursor *c)
{
	while (c->p < c->end &&
	    (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int
hex_unit(const unsigned char *p)
{
	int value = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char ch = p[i];

		value <<= 4;
		if (ch >= '0' && ch <= '9')
			value |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			value |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			value |= ch - 'A' + 10;
		else
			return -1;
	}
	return value;
}

/* Reads a \uXXXX escape starting at the backslash; -1 when malformed. */
static int
read_unicode_escape(cursor *c)
{
	int unit;

	if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
		return -1;
	unit = hex_unit(c->p + 2);
	if (unit >= 0)
		c->p += 6;
	return unit;
}

static bool
check_string(cursor *c)
{
	c->p++;	/* opening quote */
	while (c->p < c->end) {
		unsigned char ch = *c->p;
		int unit;

		if (ch == '"') {
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch != '\\') {
			c->p++;
			continue;
		}
		if (c->end - c->p < 2)
			return false;
		switch (c->p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			c->p += 2;
			continue;
		case 'u':
			break;
		default:
			return false;
		}

		/* A high surrogate must be followed at once by a low one; a lone low one is refused. */
		unit = read_unicode_escape(c);
		if (unit < 0 || (unit >= 0xdc00 && unit <= 0xdfff))
			return false;
		if (unit >= 0xd800 && unit <= 0xdbff) {
			unit = read_unicode_escape(c);
			if (unit < 0xdc00 || unit > 0xdfff)
				return false;
		}
	}
	return false;
}

static bool
skip_digits(cursor *c)
{
	const unsigned char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > start;
}

static bool
check_number(cursor *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (!skip_digits(c))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!skip_digits(c))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!skip_digits(c))
			return false;
	}
	return true;
}

static bool
check_literal(cursor *c, const char *word, size_t len)
{
	if ((size_t)(c->end - c->p) < len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (c->p[i] != (unsigned char)word[i])
			return false;
	c->p += len;
	return true;
}

/* Checks one scalar value at the cursor. */
static bool
check_scalar(cursor *c)
{
	switch (*c->p) {
	case '"': return check_string(c);
	case 't': return check_literal(c, "true", 4);
	case 'f': return check_literal(c, "false", 5);
	case 'n': return check_literal(c, "null", 4);
	default: return check_number(c);
	}
}

bool
edge_json_check(const char *text, size_t len, unsigned max_depth)
{
	cursor c = { (const unsigned char *)text, (const unsigned char *)text + len };
	uint64_t in_object = 0;	/* bit d set: container at depth d is an object */
	unsigned depth = 0;

	if (max_depth > DEPTH_LIMIT)
		max_depth = DEPTH_LIMIT;

	/* Each turn reads one value, then closes containers and finds the next value's place. */
	for (;;) {
		skip_whitespace(&c);
		if (c.p == c.end)
			return false;

		if (*c.p == '[' || *c.p == '{') {
			bool object = *c.p == '{';

			if (depth == max_depth)
				return false;
			c.p++;
			in_object = object ? in_object | (UINT64_C(1) << depth) :
			    in_object & ~(UINT64_C(1) << depth);
			depth++;
			skip_whitespace(&c);
			if (c.p < c.end && *c.p == (object ? '}' : ']')) {
				c.p++;
				depth--;
			} else if (object) {
				/* An object member starts with its key and a colon. */
				if (c.p == c.end || *c.p != '"' || !check_string(&c))
					return false;
				skip_whitespace(&c);
				if (c.p == c.end || *c.p++ != ':')
					return false;
				continue;
			} else {
				continue;
			}
		} else if (!check_scalar(&c)) {
			return false;
		}

		/* After a value: close containers, or move to the next element. */
		for (;;) {
			bool object;

			skip_whitespace(&c);
			if (depth == 0)
				return c.p == c.end;
			if (c.p == c.end)
				return false;
			object = (in_object >> (depth - 1)) & 1;
			if (*c.p == (object ? '}' : ']')) {
				c.p++;
				depth--;
				continue;
			}
			if (*c.p++ != ',')
				return false;
			if (object) {
				skip_whitespace(&c);
				if (c.p == c.end || *c.p != '"' || !check_string(&c))
					return false;
				skip_whitespace(&c);
				if (c.p == c.end || *c.p++ != ':')
					return false;
			}
			break;
		}
	}
}

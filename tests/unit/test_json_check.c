/* Tests for the strict JSON check that gates storing a body unchanged in a
 * PostgreSQL json column. Rejected cases marked "PostgreSQL" were refused by
 * PostgreSQL 15's json input (SELECT '...'::json). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_check.h"

#define ACCEPT(name, text) { name, text, sizeof(text) - 1, true }
#define REJECT(name, text) { name, text, sizeof(text) - 1, false }

static const struct {
	const char *name;
	const char *text;
	size_t len;
	bool expected;
} cases[] = {
	ACCEPT("json check empty object", "{}"),
	ACCEPT("json check empty array", "[]"),
	ACCEPT("json check nested values", "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}"),
	ACCEPT("json check whitespace around", " \t\r\n[ 1 , 2 ]\n"),
	ACCEPT("json check bare string", "\"text\""),
	ACCEPT("json check bare true", "true"),
	ACCEPT("json check bare false", "false"),
	ACCEPT("json check bare null", "null"),
	ACCEPT("json check bare number", "-0.5e+3"),
	ACCEPT("json check zero", "0"),
	ACCEPT("json check negative zero", "-0"),
	ACCEPT("json check exponent forms", "[1E5,1e-5,1.25E+02,0.0]"),
	ACCEPT("json check huge exponent", "[1E400]"),
	ACCEPT("json check escapes", "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9\""),
	ACCEPT("json check NUL escape", "[\"\\u0000\"]"),
	ACCEPT("json check surrogate pair", "\"\\ud83d\\ude00\""),
	ACCEPT("json check upper-case escape", "\"\\uD83D\\uDE00\\u00E9\""),
	ACCEPT("json check duplicate keys", "{\"a\":1,\"a\":2}"),
	ACCEPT("json check empty key", "{\"\":1}"),
	ACCEPT("json check DEL raw", "[\"\x7f\"]"),
	ACCEPT("json check UTF-8 text", "{\"k\":\"caf\xc3\xa9 \xe2\x82\xac\"}"),

	REJECT("json check NaN", "[NaN]"),
	REJECT("json check Infinity", "[Infinity]"),
	REJECT("json check minus Infinity", "{\"k\":-Infinity}"),
	REJECT("json check leading zero", "[01]"),
	REJECT("json check negative leading zero", "[-01]"),
	REJECT("json check double zero", "[00]"),
	REJECT("json check trailing dot", "[1.]"),
	REJECT("json check dot before exponent", "[1.e5]"),
	REJECT("json check leading dot", "[.5]"),
	REJECT("json check bare exponent", "[1e]"),
	REJECT("json check plus sign", "[+1]"),
	REJECT("json check lone minus", "[-]"),
	REJECT("json check hex number", "[0x10]"),
	REJECT("json check single quotes", "{'a':1}"),
	REJECT("json check unquoted key", "{a:1}"),
	REJECT("json check trailing comma array", "[1,]"),
	REJECT("json check trailing comma object", "{\"a\":1,}"),
	REJECT("json check leading comma", "[,1]"),
	REJECT("json check double comma", "[1,,2]"),
	REJECT("json check missing comma", "[1 2]"),
	REJECT("json check missing colon", "{\"a\" 1}"),
	REJECT("json check missing value", "{\"a\":}"),
	REJECT("json check key without value", "{\"a\"}"),
	REJECT("json check non-string key", "{1:2}"),
	REJECT("json check raw tab in string", "{\"k\":\"a\tb\"}"),
	REJECT("json check raw newline in string", "[\"a\nb\"]"),
	REJECT("json check raw unit separator", "[\"a\x1f" "b\"]"),
	REJECT("json check unknown escape", "[\"\\a\"]"),
	REJECT("json check hex escape", "[\"\\x41\"]"),
	REJECT("json check short unicode escape", "[\"\\u12\"]"),
	REJECT("json check lone high surrogate", "[\"\\ud800\"]"),
	REJECT("json check lone low surrogate", "[\"\\udc00\"]"),
	REJECT("json check high then letter", "[\"\\ud800\\u0041\"]"),
	REJECT("json check high then text", "[\"\\ud800x\"]"),
	REJECT("json check unterminated string", "\"abc"),
	REJECT("json check unclosed array", "[1"),
	REJECT("json check unclosed object", "{\"a\":1"),
	REJECT("json check stray close", "]"),
	REJECT("json check mismatched close", "[1}"),
	REJECT("json check two documents", "{}{}"),
	REJECT("json check trailing text", "[1]x"),
	REJECT("json check truncated literal", "tru"),
	REJECT("json check literal case", "True"),
	REJECT("json check empty text", ""),
	REJECT("json check only whitespace", " \n"),
	REJECT("json check form feed whitespace", "\f[1]"),
	REJECT("json check vertical tab after", "[1]\v"),
	REJECT("json check no-break space", "[\xc2\xa0" "1]"),
	REJECT("json check byte order mark", "\xef\xbb\xbf[1]"),
	REJECT("json check comment", "[1]/* c */"),
	REJECT("json check NUL byte inside", "[1,\0 2]"),
};

/* Builds depth nested containers, arrays or objects ({"a":...}). */
static char *
nested(size_t depth, bool objects)
{
	size_t open_len = objects ? 5 : 1, size = depth * (open_len + 1) + 2;
	char *text = malloc(size), *p = text;

	for (size_t i = 0; i < depth; i++) {
		memcpy(p, objects ? "{\"a\":" : "[", open_len);
		p += open_len;
	}
	*p++ = '1';
	for (size_t i = 0; i < depth; i++)
		*p++ = objects ? '}' : ']';
	*p = '\0';
	return text;
}

static void
test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECKF(edge_json_check(cases[i].text, cases[i].len, 64) ==
		    cases[i].expected, cases[i].name, "returned %s",
		    cases[i].expected ? "false" : "true");
	CHECK(!edge_json_check("[1]", 2, 64), "json check length honoured");
	CHECK(edge_json_check("[1]]", 3, 64), "json check stops at length");
}

static void
test_depth(void)
{
	char *text;

	text = nested(64, false);
	CHECK(edge_json_check(text, strlen(text), 64), "json check 64 arrays deep");
	free(text);
	text = nested(65, false);
	CHECK(!edge_json_check(text, strlen(text), 64), "json check 65 arrays deep");
	free(text);
	text = nested(64, true);
	CHECK(edge_json_check(text, strlen(text), 64), "json check 64 objects deep");
	free(text);
	text = nested(65, true);
	CHECK(!edge_json_check(text, strlen(text), 64), "json check 65 objects deep");
	free(text);

	text = nested(3, false);
	CHECK(edge_json_check(text, strlen(text), 3), "json check custom depth fits");
	CHECK(!edge_json_check(text, strlen(text), 2), "json check custom depth exceeded");
	CHECK(edge_json_check("1", 1, 0), "json check depth 0 scalar");
	CHECK(!edge_json_check("[]", 2, 0), "json check depth 0 array");
	free(text);

	text = nested(65, false);
	CHECK(!edge_json_check(text, strlen(text), 1000), "json check depth capped at 64");
	free(text);

	/* Mixed containers at the limit: the kind of each level is remembered. */
	CHECK(edge_json_check("[{\"a\":[{\"b\":[]}]}]", 18, 64),
	    "json check mixed containers close");
	CHECK(!edge_json_check("[{\"a\":[{\"b\":[]]}]}", 18, 64),
	    "json check mixed containers mismatch");

	text = nested(1000000, false);
	CHECK(!edge_json_check(text, strlen(text), 64), "json check million deep");
	free(text);
}

int
main(void)
{
	test_cases();
	test_depth();
	return check_summary();
}

/* Known-answer tests for UTF-8 validation, decoding, encoding and repair.
 * Expected repairs were produced with Python 3.11's
 * bytes.decode("utf-8", "replace"), which substitutes maximal subparts. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "utf8.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define R "\xef\xbf\xbd"

typedef struct repair_case {
	const char *name;
	const char *input;
	size_t input_len;
	const char *expected;
	size_t expected_len;
} repair_case;

#define REPAIR(name, in, out) { name, in, sizeof(in) - 1, out, sizeof(out) - 1 }

static const repair_case repair_cases[] = {
	/* Unicode 15, table 3-8 and the three examples after it. */
	REPAIR("utf8 repair maximal subparts example",
	    "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
	    "a" R R R "b" R "c" R R "d"),
	REPAIR("utf8 repair non-shortest forms",
	    "\xc0\xaf\xe0\x80\xbf\xf0\x81\x82\x41", R R R R R R R R "A"),
	REPAIR("utf8 repair surrogate sequences",
	    "\xed\xa0\x80\xed\xbf\xbf\xed\xaf\x41", R R R R R R R R "A"),
	REPAIR("utf8 repair above max and stray",
	    "\xf4\x91\x92\x93\xff\x41\x80\xbf\x42", R R R R R "A" R R "B"),
	REPAIR("utf8 repair truncated sequences mixed",
	    "\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", R R R R "A"),

	/* Overlong forms: every byte is its own subpart. */
	REPAIR("utf8 repair overlong two bytes", "\xc0\xaf", R R),
	REPAIR("utf8 repair overlong C1 lead", "\xc1\xbf", R R),
	REPAIR("utf8 repair overlong three bytes", "\xe0\x80\xaf", R R R),
	REPAIR("utf8 repair overlong below U+0800", "\xe0\x9f\xbf", R R R),
	REPAIR("utf8 repair overlong four bytes", "\xf0\x80\x80\xaf", R R R R),
	REPAIR("utf8 repair overlong below U+10000", "\xf0\x8f\xbf\xbf", R R R R),

	/* Surrogates and code points past U+10FFFF. */
	REPAIR("utf8 repair surrogate D800", "\xed\xa0\x80", R R R),
	REPAIR("utf8 repair surrogate DFFF", "\xed\xbf\xbf", R R R),
	REPAIR("utf8 repair above U+10FFFF", "\xf4\x90\x80\x80", R R R R),
	REPAIR("utf8 repair lead byte F5", "\xf5\x80\x80\x80", R R R R),
	REPAIR("utf8 repair five byte form", "\xf8\x88\x80\x80\x80", R R R R R),
	REPAIR("utf8 repair bytes FE FF", "\xfe\xff", R R),

	/* Sequences cut short, at the end and in the middle. */
	REPAIR("utf8 repair truncated 3 at end", "\xe2\x82", R),
	REPAIR("utf8 repair truncated 4 of 3", "\xf0\x9f\x98", R),
	REPAIR("utf8 repair truncated 4 of 2", "\xf0\x9f", R),
	REPAIR("utf8 repair lone lead at end", "\xc3", R),
	REPAIR("utf8 repair truncated in middle", "\x61\xe2\x82\x62", "a" R "b"),
	REPAIR("utf8 repair truncated before lead", "\xe0\xa0\xc0", R R),
	REPAIR("utf8 repair truncated before ASCII", "\xf0\x90\x80\x41", R "A"),
	REPAIR("utf8 repair stray continuations", "\x80\x80", R R),
	REPAIR("utf8 repair byte FF", "\xff", R),

	/* Well-formed input comes back unchanged, NUL bytes included. */
	REPAIR("utf8 repair keeps U+D7FF", "\xed\x9f\xbf", "\xed\x9f\xbf"),
	REPAIR("utf8 repair keeps U+E000", "\xee\x80\x80", "\xee\x80\x80"),
	REPAIR("utf8 repair keeps U+10FFFF", "\xf4\x8f\xbf\xbf",
	    "\xf4\x8f\xbf\xbf"),
	REPAIR("utf8 repair keeps NUL bytes", "\x00\x61\x00", "\x00\x61\x00"),
	REPAIR("utf8 repair keeps mixed text",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
};

/* Independent reading of the Unicode well-formedness table: decodes the
 * sequence arithmetically, then rejects overlong forms, surrogates and code
 * points past U+10FFFF. Returns the length or 0. */
static size_t
reference_sequence_length(const unsigned char *s, size_t len)
{
	static const unsigned min_code_point[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned code_point;
	size_t needed;

	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		needed = 2;
		code_point = s[0] & 0x1fu;
	} else if ((s[0] & 0xf0) == 0xe0) {
		needed = 3;
		code_point = s[0] & 0x0fu;
	} else if ((s[0] & 0xf8) == 0xf0) {
		needed = 4;
		code_point = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (len < needed)
		return 0;
	for (size_t i = 1; i < needed; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		code_point = code_point << 6 | (s[i] & 0x3fu);
	}
	if (code_point < min_code_point[needed] || code_point > 0x10ffff ||
	    (code_point >= 0xd800 && code_point <= 0xdfff))
		return 0;
	return needed;
}

static void
test_repair_table(void)
{
	const char *unterminated = NULL, *invalid_output = NULL;
	const char *validity_disagrees = NULL;

	for (size_t i = 0; i < sizeof(repair_cases) / sizeof(repair_cases[0]); i++) {
		const repair_case *c = &repair_cases[i];
		size_t out_len = 12345;
		char *out = edge_utf8_repair(c->input, c->input_len, &out_len);
		bool unchanged = c->input_len == c->expected_len &&
		    memcmp(c->input, c->expected, c->input_len) == 0;

		CHECK_MEM_EQ(out, out_len, c->expected, c->expected_len, c->name);
		if (out != NULL && out[out_len] != '\0' && unterminated == NULL)
			unterminated = c->name;
		if (out != NULL && !edge_utf8_valid(out, out_len) &&
		    invalid_output == NULL)
			invalid_output = c->name;
		if (edge_utf8_valid(c->input, c->input_len) != unchanged &&
		    validity_disagrees == NULL)
			validity_disagrees = c->name;
		free(out);
	}
	CHECKF(unterminated == NULL, "utf8 repair output NUL-terminated",
	    "first failing case: %s", unterminated);
	CHECKF(invalid_output == NULL, "utf8 repair output is valid",
	    "first failing case: %s", invalid_output);
	CHECKF(validity_disagrees == NULL, "utf8 valid agrees with repair",
	    "first failing case: %s", validity_disagrees);
}

static void
test_repair_empty(void)
{
	size_t out_len = 99;
	char *out = edge_utf8_repair("", 0, &out_len);

	CHECK(out != NULL, "utf8 repair empty not NULL");
	CHECK_INT_EQ(out_len, 0, "utf8 repair empty length");
	CHECK(out != NULL && out[0] == '\0', "utf8 repair empty terminated");
	free(out);
}

static void
test_valid_cases(void)
{
	CHECK(edge_utf8_valid("", 0), "utf8 valid empty input");
	CHECK(edge_utf8_valid("hello", 5), "utf8 valid ASCII");
	CHECK(edge_utf8_valid("a\0b", 3), "utf8 valid embedded NUL");
	CHECK(edge_utf8_valid("\xef\xbf\xbf", 3), "utf8 valid noncharacter U+FFFF");
	CHECK(edge_utf8_valid("\xf0\x90\x80\x80", 4), "utf8 valid U+10000");
	CHECK(!edge_utf8_valid("\xc0\x80", 2), "utf8 invalid overlong NUL");
	CHECK(!edge_utf8_valid("\xed\xa0\x80", 3), "utf8 invalid surrogate D800");
	CHECK(!edge_utf8_valid("\xf4\x90\x80\x80", 4), "utf8 invalid above U+10FFFF");
	CHECK(!edge_utf8_valid("abc\xe2\x82", 5), "utf8 invalid truncated at end");
	CHECK(!edge_utf8_valid("abc\xe2\x82\xac", 5),
	    "utf8 invalid length cuts sequence");
	CHECK(edge_utf8_valid("abc\xe2\x82\xac", 6), "utf8 valid euro sign");
}

static void
test_sequence_length(void)
{
	const unsigned char *u = (const unsigned char *)
	    "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";

	CHECK_INT_EQ(edge_utf8_sequence_length(u, 1), 1, "utf8 length ASCII");
	CHECK_INT_EQ(edge_utf8_sequence_length(u + 1, 2), 2, "utf8 length two bytes");
	CHECK_INT_EQ(edge_utf8_sequence_length(u + 3, 3), 3, "utf8 length three bytes");
	CHECK_INT_EQ(edge_utf8_sequence_length(u + 6, 4), 4, "utf8 length four bytes");
	CHECK_INT_EQ(edge_utf8_sequence_length(u + 6, 3), 0,
	    "utf8 length truncated four bytes");
	CHECK_INT_EQ(edge_utf8_sequence_length(u, 0), 0, "utf8 length empty input");
	CHECK_INT_EQ(edge_utf8_sequence_length((const unsigned char *)"\x80", 1), 0,
	    "utf8 length lone continuation");
}

/* Compares edge_utf8_sequence_length with the reference over every one-,
 * two- and three-byte input and a wide sample of four-byte inputs. */
static void
test_sequence_length_exhaustive(void)
{
	static const unsigned char samples[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff
	};
	unsigned char s[4];
	size_t mismatches = 0;

	for (unsigned a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		mismatches += edge_utf8_sequence_length(s, 1) !=
		    reference_sequence_length(s, 1);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			mismatches += edge_utf8_sequence_length(s, 2) !=
			    reference_sequence_length(s, 2);
			if (a < 0xe0)
				continue;
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (unsigned char)c;
				mismatches += edge_utf8_sequence_length(s, 3) !=
				    reference_sequence_length(s, 3);
				if (a < 0xf0)
					continue;
				for (size_t d = 0; d < sizeof(samples); d++) {
					s[3] = samples[d];
					mismatches +=
					    edge_utf8_sequence_length(s, 4) !=
					    reference_sequence_length(s, 4);
				}
			}
		}
	}
	CHECK_INT_EQ(mismatches, 0, "utf8 length matches reference");
}

static void
test_decode(void)
{
	unsigned code_point = 0;
	size_t skip = 0, got;

	got = edge_utf8_decode((const unsigned char *)"\xe2\x82\xac", 3,
	    &code_point, &skip);
	CHECK_INT_EQ(got, 3, "utf8 decode euro length");
	CHECK_INT_EQ(code_point, 0x20ac, "utf8 decode euro code point");
	CHECK_INT_EQ(skip, 3, "utf8 decode euro skip");

	got = edge_utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4,
	    &code_point, &skip);
	CHECK_INT_EQ(code_point, 0x10ffff, "utf8 decode max code point");

	got = edge_utf8_decode((const unsigned char *)"\xf1\x80\x80\xe1", 4,
	    &code_point, &skip);
	CHECK_INT_EQ(got, 0, "utf8 decode subpart returns 0");
	CHECK_INT_EQ(code_point, 0xfffd, "utf8 decode subpart gives FFFD");
	CHECK_INT_EQ(skip, 3, "utf8 decode subpart skip three");

	got = edge_utf8_decode((const unsigned char *)"\xe0\x80\x80", 3,
	    &code_point, &skip);
	CHECK_INT_EQ(skip, 1, "utf8 decode overlong skips one");

	got = edge_utf8_decode((const unsigned char *)"\xc3", 1, &code_point, NULL);
	CHECK_INT_EQ(got, 0, "utf8 decode NULL skip accepted");
}

static void
test_encode(void)
{
	static const struct {
		unsigned code_point;
		const char *bytes;
	} cases[] = {
		{ 0x00, "\x00" }, { 0x41, "A" }, { 0x7f, "\x7f" },
		{ 0x80, "\xc2\x80" }, { 0x7ff, "\xdf\xbf" },
		{ 0x800, "\xe0\xa0\x80" }, { 0xfffd, R }, { 0xffff, "\xef\xbf\xbf" },
		{ 0x10000, "\xf0\x90\x80\x80" }, { 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	size_t mismatches = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[4];
		size_t expected_len = cases[i].code_point == 0 ? 1 :
		    strlen(cases[i].bytes);
		size_t len = edge_utf8_encode(cases[i].code_point, out);

		CHECK_MEM_EQ(out, len, cases[i].bytes, expected_len,
		    "utf8 encode boundary values");
	}

	/* Every scalar value survives encode then decode. */
	for (unsigned cp = 0; cp <= 0x10ffff; cp++) {
		char out[4];
		unsigned back = 0;
		size_t len, skip;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		len = edge_utf8_encode(cp, out);
		if (edge_utf8_decode((unsigned char *)out, len, &back, &skip) != len ||
		    back != cp)
			mismatches++;
	}
	CHECK_INT_EQ(mismatches, 0, "utf8 encode decode round trip");
}

int
main(void)
{
	test_repair_table();
	test_repair_empty();
	test_valid_cases();
	test_sequence_length();
	test_sequence_length_exhaustive();
	test_decode();
	test_encode();
	return check_summary();
}

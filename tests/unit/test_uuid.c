/* Tests for UUID parsing (canonical form, case, missing hyphens,
 * percent-encoding) and random version 4 generation. */
#include <string.h>

#include "check.h"
#include "uuid.h"

#define CANONICAL "0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8f"

static const char *
parse(const char *text)
{
	static char out[EDGE_UUID_SIZE];

	if (!edge_uuid_parse(text, strlen(text), out))
		return "invalid";
	return out;
}

static void
test_parse(void)
{
	static const struct {
		const char *name;
		const char *text;
		const char *expected;
	} cases[] = {
		{ "uuid canonical unchanged", CANONICAL, CANONICAL },
		{ "uuid upper case lowered", "0F5C9F5E-6A8B-4C1D-9E2F-3A4B5C6D7E8F",
		  CANONICAL },
		{ "uuid without hyphens", "0f5c9f5e6a8b4c1d9e2f3a4b5c6d7e8f", CANONICAL },
		{ "uuid percent-encoded hyphen", "0f5c9f5e%2D6a8b-4c1d-9e2f-3a4b5c6d7e8f",
		  CANONICAL },
		{ "uuid percent-encoded digit", "%30f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8f",
		  CANONICAL },
		{ "uuid nil value", "00000000-0000-0000-0000-000000000000",
		  "00000000-0000-0000-0000-000000000000" },
		{ "uuid empty rejected", "", "invalid" },
		{ "uuid 35 characters rejected", "0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8",
		  "invalid" },
		{ "uuid 37 characters rejected", CANONICAL "0", "invalid" },
		{ "uuid 31 digits rejected", "0f5c9f5e6a8b4c1d9e2f3a4b5c6d7e8", "invalid" },
		{ "uuid 33 digits rejected", "0f5c9f5e6a8b4c1d9e2f3a4b5c6d7e8f0",
		  "invalid" },
		{ "uuid misplaced hyphen rejected",
		  "0f5c9f5e6-a8b-4c1d-9e2f-3a4b5c6d7e8f", "invalid" },
		{ "uuid hyphen replaced rejected", "0f5c9f5e_6a8b_4c1d_9e2f_3a4b5c6d7e8f",
		  "invalid" },
		{ "uuid non-hex digit rejected", "0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8g",
		  "invalid" },
		{ "uuid braces rejected", "{0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e8f}",
		  "invalid" },
		{ "uuid urn form rejected", "urn:uuid:" CANONICAL, "invalid" },
		{ "uuid bad percent escape", "0f5c9f5e%2G6a8b-4c1d-9e2f-3a4b5c6d7e8f",
		  "invalid" },
		{ "uuid truncated percent escape", "0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e%8",
		  "invalid" },
		{ "uuid percent NUL rejected", "0f5c9f5e-6a8b-4c1d-9e2f-3a4b5c6d7e%00",
		  "invalid" },
		{ "uuid path traversal rejected", "../../etc/passwd", "invalid" },
		{ "uuid long input rejected",
		  CANONICAL CANONICAL CANONICAL CANONICAL, "invalid" },
		{ "uuid spaces rejected", " " CANONICAL, "invalid" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR_EQ(parse(cases[i].text), cases[i].expected, cases[i].name);

	{
		char out[EDGE_UUID_SIZE];

		CHECK(edge_uuid_parse(CANONICAL "trailing", 36, out),
		    "uuid parse honours length");
	}
}

static void
test_generate(void)
{
	char first[EDGE_UUID_SIZE], uuid[EDGE_UUID_SIZE], again[EDGE_UUID_SIZE];
	size_t bad_form = 0, repeats = 0;

	CHECK(edge_uuid_generate(first), "uuid generate succeeds");
	for (int i = 0; i < 1000; i++) {
		if (!edge_uuid_generate(uuid) || strlen(uuid) != 36 ||
		    uuid[14] != '4' || strchr("89ab", uuid[19]) == NULL ||
		    !edge_uuid_parse(uuid, 36, again) || strcmp(uuid, again) != 0)
			bad_form++;
		if (strcmp(uuid, first) == 0)
			repeats++;
	}
	CHECK_INT_EQ(bad_form, 0, "uuid generate version 4 form");
	CHECK_INT_EQ(repeats, 0, "uuid generate no repeats");
}

int
main(void)
{
	test_parse();
	test_generate();
	return check_summary();
}

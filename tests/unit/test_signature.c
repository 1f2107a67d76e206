/* Tests for webhook signature checking: GitHub's published example value and
 * the header forms that must be rejected as malformed. */
#include <string.h>

#include "check.h"
#include "signature.h"

#define SECRET "It's a Secret to Everybody"
#define BODY "Hello, World!"
#define DIGEST "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define DIGEST_UPPER "757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"
/* The same digest with its last digit changed: well formed, wrong value. */
#define DIGEST_WRONG "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18"

typedef struct signature_case {
	const char *name;
	const char *header;
	edge_signature_result expected;
} signature_case;

static const signature_case github_cases[] = {
	{ "signature GitHub example valid", "sha256=" DIGEST, EDGE_SIGNATURE_VALID },
	{ "signature upper-case hex valid", "sha256=" DIGEST_UPPER,
	  EDGE_SIGNATURE_VALID },
	{ "signature without prefix valid", DIGEST, EDGE_SIGNATURE_VALID },
	{ "signature surrounding spaces ignored", "  sha256=" DIGEST "  ",
	  EDGE_SIGNATURE_VALID },
	{ "signature surrounding tabs ignored", "\tsha256=" DIGEST "\t",
	  EDGE_SIGNATURE_VALID },
	{ "signature wrong digest mismatches", "sha256=" DIGEST_WRONG,
	  EDGE_SIGNATURE_MISMATCH },
	{ "signature wrong digest unprefixed mismatches", DIGEST_WRONG,
	  EDGE_SIGNATURE_MISMATCH },
	{ "signature 63 digits malformed",
	  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature 65 digits malformed", "sha256=" DIGEST "7",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature 65 digits unprefixed malformed", DIGEST "0",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature two joined values malformed",
	  "sha256=" DIGEST ", sha256=" DIGEST, EDGE_SIGNATURE_MALFORMED },
	{ "signature joined without space malformed",
	  "sha256=" DIGEST_WRONG ",sha256=" DIGEST, EDGE_SIGNATURE_MALFORMED },
	{ "signature trailing comma malformed", "sha256=" DIGEST ",",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature empty value malformed", "", EDGE_SIGNATURE_MALFORMED },
	{ "signature spaces only malformed", "   ", EDGE_SIGNATURE_MALFORMED },
	{ "signature prefix only malformed", "sha256=", EDGE_SIGNATURE_MALFORMED },
	{ "signature doubled prefix malformed", "sha256=sha256=" DIGEST,
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature sha1 prefix malformed",
	  "sha1=0123456789abcdef0123456789abcdef01234567",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature space after prefix malformed", "sha256= " DIGEST,
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature inner space malformed",
	  "sha256=757107ea0eb2509fc211221cce984b8a 37570b6d7586c22c46f4379c8b043e1",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature trailing newline malformed", "sha256=" DIGEST "\n",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature non-hex digit malformed",
	  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
	  EDGE_SIGNATURE_MALFORMED },
	{ "signature 0x prefix malformed", "0x" DIGEST, EDGE_SIGNATURE_MALFORMED },
};

static void
test_github_cases(void)
{
	for (size_t i = 0; i < sizeof(github_cases) / sizeof(github_cases[0]); i++)
		CHECK_INT_EQ(edge_signature_check_sha256(github_cases[i].header,
		    SECRET, strlen(SECRET), BODY, strlen(BODY)),
		    github_cases[i].expected, github_cases[i].name);
}

static void
test_wrong_inputs(void)
{
	CHECK_INT_EQ(edge_signature_check_sha256("sha256=" DIGEST, SECRET,
	    strlen(SECRET), "Hello, World", 12), EDGE_SIGNATURE_MISMATCH,
	    "signature other body mismatches");
	CHECK_INT_EQ(edge_signature_check_sha256("sha256=" DIGEST, "secret", 6,
	    BODY, strlen(BODY)), EDGE_SIGNATURE_MISMATCH,
	    "signature other secret mismatches");
	CHECK_INT_EQ(edge_signature_check_sha256("sha256=" DIGEST, SECRET,
	    strlen(SECRET) - 1, BODY, strlen(BODY)), EDGE_SIGNATURE_MISMATCH,
	    "signature secret length honoured");
}

/* Values computed with Python's hmac module. */
static void
test_binary_bodies(void)
{
	CHECK_INT_EQ(edge_signature_check_sha256("sha256="
	    "2a2974a996ad591a4237567fddd1085db83c1fe547f990ea51f89747e26b4abc",
	    "s", 1, "a\0b", 3), EDGE_SIGNATURE_VALID,
	    "signature body with NUL byte");
	CHECK_INT_EQ(edge_signature_check_sha256("sha256="
	    "2a2974a996ad591a4237567fddd1085db83c1fe547f990ea51f89747e26b4abc",
	    "s", 1, "a\0b", 1), EDGE_SIGNATURE_MISMATCH,
	    "signature body length honoured");
	CHECK_INT_EQ(edge_signature_check_sha256("sha256="
	    "66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40",
	    SECRET, strlen(SECRET), "", 0), EDGE_SIGNATURE_VALID,
	    "signature empty body valid");
}

static void
test_header_names(void)
{
	CHECK(edge_signature_header_is_known("x-hub-signature-256"),
	    "signature header GitHub sha256 known");
	CHECK(edge_signature_header_is_known("x-hub-signature"),
	    "signature header GitHub sha1 known");
	CHECK(edge_signature_header_is_known("x-webhook-signature"),
	    "signature header generic known");
	CHECK(!edge_signature_header_is_known("content-type"),
	    "signature header content-type unknown");
	CHECK(!edge_signature_header_is_known("x-hub-signature-2566"),
	    "signature header longer name unknown");
	CHECK(!edge_signature_header_is_known(""), "signature header empty unknown");

	CHECK_INT_EQ(edge_signature_default_header_count, 2,
	    "signature default header count");
	CHECK_STR_EQ(edge_signature_default_headers[0], "X-Hub-Signature-256",
	    "signature default header first");
	CHECK_STR_EQ(edge_signature_default_headers[1], "X-Webhook-Signature",
	    "signature default header second");

	/* Every default header must also be dropped from stored headers. */
	for (size_t i = 0; i < edge_signature_default_header_count; i++) {
		char lower[64];
		size_t j;

		for (j = 0; edge_signature_default_headers[i][j] != '\0' &&
		    j + 1 < sizeof(lower); j++) {
			char c = edge_signature_default_headers[i][j];

			lower[j] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		lower[j] = '\0';
		CHECK(edge_signature_header_is_known(lower),
		    "signature default headers are known");
	}
}

int
main(void)
{
	test_github_cases();
	test_wrong_inputs();
	test_binary_bodies();
	test_header_names();
	return check_summary();
}

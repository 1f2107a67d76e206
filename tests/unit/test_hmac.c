/* Known-answer tests for HMAC-SHA256 (RFC 4231 test cases) and the hex
 * helpers. */
#include <string.h>

#include "check.h"
#include "hmac.h"

typedef struct hmac_case {
	const char *name;
	unsigned char key[131];
	size_t key_len;
	const char *data;
	const char *hex;	/* expected HMAC; test case 5 keeps only 32 digits */
} hmac_case;

static hmac_case cases[] = {
	{ "hmac RFC 4231 case 1", { 0 }, 20, "Hi There",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "hmac RFC 4231 case 2", "Jefe", 4, "what do ya want for nothing?",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "hmac RFC 4231 case 3", { 0 }, 20, NULL,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "hmac RFC 4231 case 4", { 0 }, 25, NULL,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "hmac RFC 4231 case 5", { 0 }, 20, "Test With Truncation",
	  "a3b6167473100ee06e0c796c2955552b" },
	{ "hmac RFC 4231 case 6", { 0 }, 131,
	  "Test Using Larger Than Block-Size Key - Hash Key First",
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "hmac RFC 4231 case 7", { 0 }, 131,
	  "This is a test using a larger than block-size key and a larger "
	  "than block-size data. The key needs to be hashed before being used "
	  "by the HMAC algorithm.",
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

/* Fills in the keys and data that are repeated bytes, as RFC 4231 lists them. */
static void
fill_cases(unsigned char data3[50], unsigned char data4[50])
{
	memset(cases[0].key, 0x0b, 20);
	memset(cases[2].key, 0xaa, 20);
	memset(data3, 0xdd, 50);
	for (unsigned char i = 0; i < 25; i++)
		cases[3].key[i] = (unsigned char)(i + 1);
	memset(data4, 0xcd, 50);
	memset(cases[4].key, 0x0c, 20);
	memset(cases[5].key, 0xaa, 131);
	memset(cases[6].key, 0xaa, 131);
}

static void
test_rfc4231(void)
{
	unsigned char data3[50], data4[50];

	fill_cases(data3, data4);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const hmac_case *c = &cases[i];
		const void *data = c->data;
		size_t data_len = c->data != NULL ? strlen(c->data) : 50;
		unsigned char mac[EDGE_SHA256_SIZE], expected[EDGE_SHA256_SIZE];
		char hex[2 * EDGE_SHA256_SIZE + 1];
		size_t hex_len = strlen(c->hex);
		bool ok;

		if (i == 2)
			data = data3;
		else if (i == 3)
			data = data4;
		ok = edge_hmac_sha256(c->key, c->key_len, data, data_len, mac);
		CHECK(ok, c->name);
		edge_hex_encode(mac, sizeof(mac), hex);
		CHECK_MEM_EQ(hex, hex_len, c->hex, hex_len, c->name);

		/* Case 5 publishes only a truncated value, which verify cannot take. */
		if (hex_len != 2 * EDGE_SHA256_SIZE)
			continue;
		CHECK(edge_hex_decode(c->hex, hex_len, expected, sizeof(expected)),
		    "hex decode RFC value");
		CHECK(edge_hmac_sha256_verify(c->key, c->key_len, data, data_len,
		    expected), "hmac verify RFC value");
		expected[31] ^= 0x01;
		CHECK(!edge_hmac_sha256_verify(c->key, c->key_len, data, data_len,
		    expected), "hmac verify last bit flipped");
		expected[31] ^= 0x01;
		expected[0] ^= 0x80;
		CHECK(!edge_hmac_sha256_verify(c->key, c->key_len, data, data_len,
		    expected), "hmac verify first bit flipped");
	}
}

static void
test_github_value(void)
{
	static const char secret[] = "It's a Secret to Everybody";
	static const char body[] = "Hello, World!";
	unsigned char mac[EDGE_SHA256_SIZE];
	char hex[2 * EDGE_SHA256_SIZE + 1];

	CHECK(edge_hmac_sha256(secret, strlen(secret), body, strlen(body), mac),
	    "hmac GitHub example computes");
	edge_hex_encode(mac, sizeof(mac), hex);
	CHECK_STR_EQ(hex,
	    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	    "hmac GitHub example value");
}

static void
test_empty_inputs(void)
{
	unsigned char mac[EDGE_SHA256_SIZE];
	char hex[2 * EDGE_SHA256_SIZE + 1];

	/* HMAC-SHA256 with an empty key over an empty message. */
	CHECK(edge_hmac_sha256("", 0, "", 0, mac), "hmac empty key and data");
	edge_hex_encode(mac, sizeof(mac), hex);
	CHECK_STR_EQ(hex,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
	    "hmac empty key and data value");
}

static void
test_hex(void)
{
	unsigned char out[4] = { 0 };
	char text[9];

	CHECK(edge_hex_decode("00ff7Fa9", 8, out, 4), "hex decode mixed case");
	CHECK_MEM_EQ(out, 4, "\x00\xff\x7f\xa9", 4, "hex decode mixed case value");
	CHECK(!edge_hex_decode("00ff7fa", 7, out, 4), "hex decode odd length");
	CHECK(!edge_hex_decode("00ff7fa9aa", 10, out, 4), "hex decode too long");
	CHECK(!edge_hex_decode("00ff7fa", 8, out, 4), "hex decode NUL inside");
	CHECK(!edge_hex_decode("00ff7fg9", 8, out, 4), "hex decode non-hex letter");
	CHECK(!edge_hex_decode("00ff 7f9", 8, out, 4), "hex decode inner space");
	CHECK(!edge_hex_decode("+0ff7fa9", 8, out, 4), "hex decode sign character");
	CHECK(edge_hex_decode("", 0, out, 0), "hex decode empty input");

	edge_hex_encode((const unsigned char *)"\x00\xff\x7f\xa9", 4, text);
	CHECK_STR_EQ(text, "00ff7fa9", "hex encode lower case");
	edge_hex_encode((const unsigned char *)"", 0, text);
	CHECK_STR_EQ(text, "", "hex encode empty input");
}

int
main(void)
{
	test_rfc4231();
	test_github_value();
	test_empty_inputs();
	test_hex();
	return check_summary();
}

/* Fuzz target for JWT verification and JWKS parsing. Each input is tried as
 * a token against a fixed key set (one RS256, one ES256 and one EdDSA public
 * key, kids rsa-1, ec-1 and ed-1) at a fixed time, and as a JWKS text. The
 * seed corpus contains tokens signed by the matching private keys, made with
 * tests/fixtures/jwt/make_jwt.py, so the fuzzer starts past the signature
 * check. Those private keys were not kept, so new seeds need a new key set
 * here too. Checks: no crash or leak, a valid result always carries a sub
 * of 1 to 255 bytes, and an accepted token has exactly two dots. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"

/* 2033-05-18: after every seed's nbf and iat, before its exp. */
#define FIXED_NOW 2000000000

static const char fixed_jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"tw5q0-j77eWUOraFDqOkRsblifvE1ziDpHWT-"
	"3yyMJOPA-koVJvFr10XtYMzUPiOMGEPZBiITIKyEwgCeow-RMtyS919T3uQ94gOG"
	"5SI2e0bERoUBRj2JhVHvPbHZrXcCIoVOfTMtB4MFW8mDfHnmPlg3yksMp_741TgU"
	"o6kO003H_G5cjd-sBlVNFW-Ubl6oFvAhTaopP3_fajSn6bIvEuxMjrepGvGyqpqu"
	"SWWEi-GXhE7xgLM5S5HH3HhDVSEbeGcD45elntaeUZVJUETb4YnpcpyJWvKKHMgZ"
	"K2sU2VM_P-QNaodQmv91LXlk6YYhMUdPzLtqn1i_xbqbU3ahQ\",\"e\":\"AQAB\",\"k"
	"id\":\"rsa-1\",\"alg\":\"RS256\",\"use\":\"sig\"},{\"kty\":\"EC\",\"crv\":\"P-256\""
	",\"x\":\"Rvt6SyJ22z6Xh7SpVTlazYkVfdXR6JGIRoLNc4jqqzw\",\"y\":\"ylFWRIcf"
	"m7K-G2-5ZpJuxxjP2EO7T2PYa69VAEI8f78\",\"kid\":\"ec-1\",\"alg\":\"ES256\","
	"\"use\":\"sig\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"4W5OcBwK_UuGYa6BQ"
	"bG5qH7D8n-sOJYY6g352QT50rM\",\"kid\":\"ed-1\",\"alg\":\"EdDSA\",\"use\":\"si"
	"g\"}]}";

static edge_jwks *keys;

/* Parses the fixed key set once. The fuzzer cannot run without it. */
static const edge_jwks *
fixed_keys(void)
{
	if (keys == NULL) {
		edge_log_configure(EDGE_LOG_ERROR, EDGE_LOG_TEXT);
		FUZZ_ASSERT(edge_jwks_parse(fixed_jwks, strlen(fixed_jwks), &keys) == EDGE_OK);
		FUZZ_ASSERT(keys->count == 3);
	}
	return keys;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const edge_jwt_policy policy = { "https://issuer.test", "mc-edge", 10 };
	const char *text = (const char *)data;
	char sub[EDGE_JWT_SUB_MAX + 1];
	edge_jwt_result result;
	edge_jwks *parsed = NULL;
	size_t dots = 0;

	sub[0] = '\0';
	result = edge_jwt_verify(text, size, fixed_keys(), &policy, FIXED_NOW, sub,
	    sizeof(sub));
	if (result == EDGE_JWT_OK) {
		for (size_t i = 0; i < size; i++)
			dots += text[i] == '.';
		FUZZ_ASSERT(dots == 2);
		FUZZ_ASSERT(sub[0] != '\0');
		FUZZ_ASSERT(strlen(sub) <= EDGE_JWT_SUB_MAX);
	}
	FUZZ_ASSERT(strcmp(edge_jwt_result_str(result), "unknown result") != 0);

	/* The same bytes as a key set: whatever parses must contain usable keys only. */
	if (edge_jwks_parse(text, size, &parsed) == EDGE_OK) {
		FUZZ_ASSERT(parsed != NULL);
		FUZZ_ASSERT(parsed->count <= EDGE_JWKS_KEYS_MAX);
		for (size_t i = 0; i < parsed->count; i++)
			FUZZ_ASSERT(parsed->keys[i].pkey != NULL);
		edge_jwks_free(parsed);
	}
	return 0;
}

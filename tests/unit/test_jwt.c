/* Tests for JWT verification and JWKS parsing with tokens signed here through
 * OpenSSL (RS256, ES256, EdDSA): valid tokens, every claim check and its
 * leeway edges, key choice, algorithm confusion, malformed encodings, size
 * limits, and the JWKS file cache. Time is fixed at NOW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "capture.h"
#include "check.h"
#include "jwks.h"
#include "jwt.h"
#include "jwt_sign.h"

#define NOW 1700000000LL

static stderr_capture capture;
static EVP_PKEY *rsa_key, *ec_key, *ed_key;		/* in the set */
static EVP_PKEY *rsa_other, *ec_other, *ed_other;	/* not in the set */
static edge_jwks *keys;					/* rsa-1, ec-1, ed-1 */
static char token[TEST_TOKEN_SIZE];

/* Parses a JWKS text with the warnings captured. */
static edge_err
parse_jwks(const char *text, edge_jwks **out)
{
	edge_err err;

	capture_begin(&capture);
	err = edge_jwks_parse(text, strlen(text), out);
	capture_end(&capture);
	return err;
}

/* Writes {"keys":[...]} of up to three JWKs (NULL entries left out). */
static void
jwks_text(const char *first, const char *second, const char *third, char *out,
    size_t out_size)
{
	int written = snprintf(out, out_size, "{\"keys\":[%s%s%s%s%s]}",
	    first != NULL ? first : "", second != NULL ? "," : "",
	    second != NULL ? second : "", third != NULL ? "," : "",
	    third != NULL ? third : "");

	if (written < 0 || (size_t)written >= out_size) {
		fprintf(stderr, "JWKS buffer of %zu bytes too small\n", out_size);
		exit(2);
	}
}

static void
setup_keys(void)
{
	static char rsa_jwk[2048], ec_jwk[512], ed_jwk[512], text[4096];

	rsa_key = test_key_generate("RSA", 2048);
	ec_key = test_key_generate("EC", 0);
	ed_key = test_key_generate("ED25519", 0);
	rsa_other = test_key_generate("RSA", 2048);
	ec_other = test_key_generate("EC", 0);
	ed_other = test_key_generate("ED25519", 0);

	test_jwk(rsa_key, "rsa-1", "RS256", ",\"use\":\"sig\"", rsa_jwk, sizeof(rsa_jwk));
	test_jwk(ec_key, "ec-1", NULL, "", ec_jwk, sizeof(ec_jwk));
	test_jwk(ed_key, "ed-1", NULL, ",\"key_ops\":[\"verify\"]", ed_jwk, sizeof(ed_jwk));
	jwks_text(rsa_jwk, ec_jwk, ed_jwk, text, sizeof(text));
	if (parse_jwks(text, &keys) != EDGE_OK || keys->count != 3) {
		fprintf(stderr, "the test key set does not parse: %s\n", capture.text);
		exit(2);
	}
}

/* Claims valid at NOW for subject "user-1", with extra members appended. */
static const char *
claims(const char *extra)
{
	static char text[16384];

	snprintf(text, sizeof(text),
	    "{\"sub\":\"user-1\",\"iss\":\"https://issuer.test\","
	    "\"aud\":\"mc-edge\",\"iat\":%lld,\"exp\":%lld%s}",
	    NOW - 60, NOW + 300, extra);
	return text;
}

static const edge_jwt_policy strict_policy = { "https://issuer.test", "mc-edge", 10 };

/* Verifies text under policy at now and checks the result. */
static void
expect_at(const char *text, const edge_jwks *set, const edge_jwt_policy *policy,
    long long now, edge_jwt_result expected, const char *name)
{
	char sub[EDGE_JWT_SUB_MAX + 1] = "";
	edge_jwt_result got = edge_jwt_verify(text, strlen(text), set, policy,
	    (time_t)now, sub, sizeof(sub));

	CHECKF(got == expected, name, "got \"%s\", expected \"%s\"",
	    edge_jwt_result_str(got), edge_jwt_result_str(expected));
}

static void
expect(const char *text, edge_jwt_result expected, const char *name)
{
	expect_at(text, keys, &strict_policy, NOW, expected, name);
}

static void
test_valid_tokens(void)
{
	char sub[EDGE_JWT_SUB_MAX + 1];
	struct {
		const char *alg, *kid;
		EVP_PKEY **key;
	} cases[] = {
		{ "RS256", "rsa-1", &rsa_key }, { "ES256", "ec-1", &ec_key },
		{ "EdDSA", "ed-1", &ed_key }, { "RS256", NULL, &rsa_key },
		{ "ES256", NULL, &ec_key }, { "EdDSA", NULL, &ed_key },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "jwt valid %s %s", cases[i].alg,
		    cases[i].kid != NULL ? "with kid" : "without kid");
		test_token(cases[i].alg, cases[i].kid, claims(""), *cases[i].key, token);
		memset(sub, 'x', sizeof(sub));
		CHECK_INT_EQ(edge_jwt_verify(token, strlen(token), keys, &strict_policy,
		    NOW, sub, sizeof(sub)), EDGE_JWT_OK, name);
		CHECK_STR_EQ(sub, "user-1", "jwt valid token gives sub");
	}

	/* Without issuer and audience settings, those claims are not needed. */
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":1700000100}", ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW, EDGE_JWT_OK,
	    "jwt valid without iss and aud policy");
	expect(token, EDGE_JWT_WRONG_ISSUER, "jwt missing iss rejected when set");
	test_token("EdDSA", "ed-1",
	    "{\"sub\":\"u\",\"exp\":1700000100,\"iss\":\"https://issuer.test\"}",
	    ed_key, token);
	expect(token, EDGE_JWT_WRONG_AUDIENCE, "jwt missing aud rejected when set");

	test_token("ES256", "ec-1", claims(",\"nbf\":1699999000.75,\"extra\":{\"a\":[1,{\"b\":2}]}"),
	    ec_key, token);
	expect(token, EDGE_JWT_OK, "jwt valid with fractional nbf and nested claims");
}

static void
test_time_claims(void)
{
	char payload[256];
	const edge_jwt_policy no_leeway = { NULL, NULL, 0 };
	const edge_jwt_policy leeway = { NULL, NULL, 10 };

	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 100);
	test_token("EdDSA", "ed-1", payload, ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_EXPIRED, "jwt expired");

	/* exp is the first instant the token is no longer valid. */
	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld}", NOW);
	test_token("EdDSA", "ed-1", payload, ed_key, token);
	expect_at(token, keys, &no_leeway, NOW, EDGE_JWT_EXPIRED,
	    "jwt exp equal to now expired");
	expect_at(token, keys, &no_leeway, NOW - 1, EDGE_JWT_OK,
	    "jwt one second before exp valid");
	expect_at(token, keys, &leeway, NOW + 9, EDGE_JWT_OK,
	    "jwt exp within leeway valid");
	expect_at(token, keys, &leeway, NOW + 10, EDGE_JWT_EXPIRED,
	    "jwt exp at leeway edge expired");

	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
	    NOW + 1000, NOW + 100);
	test_token("RS256", "rsa-1", payload, rsa_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_NOT_YET_VALID, "jwt not yet valid");
	expect_at(token, keys, &leeway, NOW + 90, EDGE_JWT_OK, "jwt nbf at leeway edge valid");
	expect_at(token, keys, &leeway, NOW + 89, EDGE_JWT_NOT_YET_VALID,
	    "jwt nbf past leeway edge rejected");
	expect_at(token, keys, &no_leeway, NOW + 100, EDGE_JWT_OK, "jwt nbf equal to now valid");

	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld,\"iat\":%lld}",
	    NOW + 1000, NOW + 11);
	test_token("ES256", "ec-1", payload, ec_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_ISSUED_IN_FUTURE,
	    "jwt iat in the future rejected");
	expect_at(token, keys, &leeway, NOW + 1, EDGE_JWT_OK, "jwt iat within leeway valid");

	test_token("EdDSA", "ed-1", "{\"sub\":\"u\"}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS, "jwt without exp rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":\"1800000000\"}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS, "jwt string exp rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":true}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS, "jwt boolean exp rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":1e300}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS, "jwt huge exp rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":99999999999999999999}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS,
	    "jwt exp past int64 rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":-9223372036854775808}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS,
	    "jwt exp at int64 minimum rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"u\",\"exp\":1800000000,\"nbf\":null}", ed_key, token);
	expect_at(token, keys, &leeway, NOW, EDGE_JWT_BAD_CLAIMS, "jwt null nbf rejected");
}

static void
test_issuer_audience(void)
{
	char payload[512];

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://evil.test\",\"aud\":\"mc-edge\"}",
	    NOW + 100);
	test_token("RS256", "rsa-1", payload, rsa_key, token);
	expect(token, EDGE_JWT_WRONG_ISSUER, "jwt wrong issuer");

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://issuer.test/\",\"aud\":\"mc-edge\"}",
	    NOW + 100);
	test_token("RS256", "rsa-1", payload, rsa_key, token);
	expect(token, EDGE_JWT_WRONG_ISSUER, "jwt issuer with trailing slash rejected");

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":[\"https://issuer.test\"],\"aud\":\"mc-edge\"}",
	    NOW + 100);
	test_token("RS256", "rsa-1", payload, rsa_key, token);
	expect(token, EDGE_JWT_WRONG_ISSUER, "jwt issuer array rejected");

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://issuer.test\",\"aud\":\"other\"}",
	    NOW + 100);
	test_token("ES256", "ec-1", payload, ec_key, token);
	expect(token, EDGE_JWT_WRONG_AUDIENCE, "jwt wrong audience string");

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://issuer.test\","
	    "\"aud\":[\"other\",\"mc-edge-x\",1,null]}", NOW + 100);
	test_token("ES256", "ec-1", payload, ec_key, token);
	expect(token, EDGE_JWT_WRONG_AUDIENCE, "jwt wrong audience array");

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://issuer.test\","
	    "\"aud\":[\"other\",\"mc-edge\"]}", NOW + 100);
	test_token("ES256", "ec-1", payload, ec_key, token);
	expect(token, EDGE_JWT_OK, "jwt audience array containing ours");

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://issuer.test\",\"aud\":[]}",
	    NOW + 100);
	test_token("ES256", "ec-1", payload, ec_key, token);
	expect(token, EDGE_JWT_WRONG_AUDIENCE, "jwt empty audience array");
}

static void
test_subject(void)
{
	char payload[1024], long_sub[300];

	test_token("EdDSA", "ed-1", "{\"exp\":1800000000}", ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW,
	    EDGE_JWT_BAD_SUBJECT, "jwt without sub rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"\",\"exp\":1800000000}", ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW,
	    EDGE_JWT_BAD_SUBJECT, "jwt empty sub rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":42,\"exp\":1800000000}", ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW,
	    EDGE_JWT_BAD_SUBJECT, "jwt number sub rejected");

	memset(long_sub, 'a', 255);
	long_sub[255] = '\0';
	snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":1800000000}", long_sub);
	test_token("EdDSA", "ed-1", payload, ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW, EDGE_JWT_OK,
	    "jwt sub of 255 bytes accepted");
	long_sub[255] = 'a';
	long_sub[256] = '\0';
	snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":1800000000}", long_sub);
	test_token("EdDSA", "ed-1", payload, ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW,
	    EDGE_JWT_BAD_SUBJECT, "jwt sub of 256 bytes rejected");

	/* json-c would cut "admin\u0000x" to "admin". */
	test_token("EdDSA", "ed-1", "{\"sub\":\"admin\\u0000x\",\"exp\":1800000000}",
	    ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW,
	    EDGE_JWT_MALFORMED, "jwt sub with NUL escape rejected");
	test_token("EdDSA", "ed-1", "{\"sub\":\"a\\\\u0000\",\"exp\":1800000000}",
	    ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW, EDGE_JWT_OK,
	    "jwt escaped backslash before u0000 accepted");
}

static void
test_wrong_keys(void)
{
	test_token("RS256", "rsa-1", claims(""), rsa_other, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt RS256 wrong key");
	test_token("ES256", "ec-1", claims(""), ec_other, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt ES256 wrong key");
	test_token("EdDSA", "ed-1", claims(""), ed_other, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt EdDSA wrong key");
	test_token("EdDSA", NULL, claims(""), ed_other, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt EdDSA wrong key without kid");

	test_token("EdDSA", "nobody", claims(""), ed_key, token);
	expect(token, EDGE_JWT_UNKNOWN_KID, "jwt unknown kid");
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":7}", claims(""), "EdDSA", ed_key,
	    NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt number kid rejected");

	/* The kid of an EC key on an EdDSA token: that key cannot verify it. */
	test_token("EdDSA", "ec-1", claims(""), ed_key, token);
	expect(token, EDGE_JWT_NO_KEY, "jwt kid of another key type");
}

static void
test_alg_confusion(void)
{
	char ec_only_text[1024], ec_jwk[512], pem[4096];
	edge_jwks *ec_only = NULL;
	BIO *bio;
	long pem_len;
	char *pem_data;

	test_jwk(ec_key, "ec-1", NULL, "", ec_jwk, sizeof(ec_jwk));
	jwks_text(ec_jwk, NULL, NULL, ec_only_text, sizeof(ec_only_text));
	CHECK_INT_EQ(parse_jwks(ec_only_text, &ec_only), EDGE_OK, "jwks EC-only set parses");

	/* An RS256 token against a set holding only an EC key, with and without its kid. */
	test_token("RS256", NULL, claims(""), rsa_key, token);
	expect_at(token, ec_only, &strict_policy, NOW, EDGE_JWT_NO_KEY,
	    "jwt RS256 refused by EC key set");
	test_token("RS256", "ec-1", claims(""), rsa_key, token);
	expect_at(token, ec_only, &strict_policy, NOW, EDGE_JWT_NO_KEY,
	    "jwt RS256 with EC kid refused");

	/* Header alg relabelled: the RSA key signed, the header says ES256 or EdDSA. */
	test_token_ex("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", claims(""), "RS256",
	    rsa_key, NULL, 0, token);
	expect(token, EDGE_JWT_NO_KEY, "jwt ES256 header on RSA kid refused");
	test_token_ex("{\"alg\":\"EdDSA\"}", claims(""), "ES256", ec_key, NULL, 0, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt EdDSA header over ES256 signature refused");
	test_token_ex("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", claims(""), "RS256",
	    rsa_key, NULL, 0, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt ES256 header over RSA signature refused");

	/* HS256 keyed with the RSA public key, as PEM and as the JWK's modulus text. */
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, rsa_key);
	pem_len = BIO_get_mem_data(bio, &pem_data);
	memcpy(pem, pem_data, (size_t)pem_len);
	pem[pem_len] = '\0';
	BIO_free(bio);
	test_token_ex("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", claims(""), "HS256",
	    NULL, pem, strlen(pem), token);
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt HS256 with RSA public key refused");
	test_token_ex("{\"alg\":\"HS256\"}", claims(""), "HS256", NULL, "secret", 6, token);
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt HS256 without kid refused");

	/* "none" in any spelling, with an empty or a made-up signature. */
	test_token_ex("{\"alg\":\"none\"}", claims(""), "", NULL, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt alg none with empty signature");
	strcat(token, "AAAA");
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt alg none with signature");
	test_token_ex("{\"alg\":\"None\",\"kid\":\"ed-1\"}", claims(""), "EdDSA",
	    ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt alg None refused");
	test_token_ex("{\"typ\":\"JWT\"}", claims(""), "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt without alg refused");
	test_token_ex("{\"alg\":\"eddsa\"}", claims(""), "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt alg case matters");
	test_token_ex("{\"alg\":\"PS256\"}", claims(""), "RS256", rsa_key, NULL, 0, token);
	expect(token, EDGE_JWT_ALG_NOT_ALLOWED, "jwt PS256 refused");

	/* Keys embedded in the header are never trusted. */
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"jwk\":{\"kty\":\"OKP\"},"
	    "\"jku\":\"http://127.0.0.1:1/keys\"}", claims(""), "EdDSA", ed_other,
	    NULL, 0, token);
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt header jwk and jku ignored");

	edge_jwks_free(ec_only);
}

static void
test_key_choice(void)
{
	char first[512], second[512], text[1200];
	edge_jwks *two = NULL;

	/* Two Ed25519 keys: without a kid the token cannot name one. */
	test_jwk(ed_key, "ed-1", NULL, "", first, sizeof(first));
	test_jwk(ed_other, "ed-2", "EdDSA", "", second, sizeof(second));
	jwks_text(first, second, NULL, text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &two), EDGE_OK, "jwks two Ed25519 keys parse");
	test_token("EdDSA", NULL, claims(""), ed_key, token);
	expect_at(token, two, &strict_policy, NOW, EDGE_JWT_NO_KEY,
	    "jwt without kid and two fitting keys refused");
	test_token("EdDSA", "ed-2", claims(""), ed_other, token);
	expect_at(token, two, &strict_policy, NOW, EDGE_JWT_OK,
	    "jwt kid selects second key");
	test_token("EdDSA", "ed-2", claims(""), ed_key, token);
	expect_at(token, two, &strict_policy, NOW, EDGE_JWT_BAD_SIGNATURE,
	    "jwt kid selects only that key");
	edge_jwks_free(two);

	/* The same kid twice, for keys of one type: ambiguous. */
	test_jwk(ed_other, "ed-1", NULL, "", second, sizeof(second));
	jwks_text(first, second, NULL, text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &two), EDGE_OK, "jwks duplicate kid parses");
	test_token("EdDSA", "ed-1", claims(""), ed_key, token);
	expect_at(token, two, &strict_policy, NOW, EDGE_JWT_NO_KEY,
	    "jwt duplicate kid refused");
	edge_jwks_free(two);
}

/* Replaces the character at index of token with c. */
static void
set_char(size_t index, char c)
{
	token[index] = c;
}

static void
test_encoding(void)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char header_b64[64], copy[TEST_TOKEN_SIZE], sub[EDGE_JWT_SUB_MAX + 1];
	const char *dot, *last;
	size_t len;

	test_token("EdDSA", "ed-1", claims(""), ed_key, token);
	strcpy(copy, token);
	len = strlen(token);

	strcat(token, ".");
	expect(token, EDGE_JWT_MALFORMED, "jwt trailing dot rejected");
	strcpy(token, copy);
	strcat(token, ".AAAA");
	expect(token, EDGE_JWT_MALFORMED, "jwt fourth part rejected");
	token[0] = '.';
	memcpy(token + 1, copy, len + 1);
	expect(token, EDGE_JWT_MALFORMED, "jwt leading dot rejected");
	strcpy(token, copy);
	*strrchr(token, '.') = '\0';
	expect(token, EDGE_JWT_MALFORMED, "jwt two parts rejected");
	snprintf(token, sizeof(token), "%s.%s.%s.%s.%s", "eyJhbGciOiJSU0EtT0FFUCJ9",
	    "a", "b", "c", "d");
	expect(token, EDGE_JWT_MALFORMED, "jwt five parts (JWE) rejected");
	strcpy(token, copy);
	strcat(token, " ");
	expect(token, EDGE_JWT_MALFORMED, "jwt trailing space rejected");

	/* Padding, the standard alphabet's + and /, and stray bytes. */
	strcpy(token, copy);
	dot = strchr(token, '.');
	snprintf(header_b64, sizeof(header_b64), "%.*s", (int)(dot - token), token);
	snprintf(token, sizeof(token), "%s=%s", header_b64, dot);
	expect(token, EDGE_JWT_MALFORMED, "jwt padded header rejected");
	strcpy(token, copy);
	set_char(len - 5, '+');
	expect(token, EDGE_JWT_MALFORMED, "jwt plus in signature rejected");
	strcpy(token, copy);
	set_char(len - 5, '/');
	expect(token, EDGE_JWT_MALFORMED, "jwt slash in signature rejected");
	strcpy(token, copy);
	set_char(3, '\x01');
	expect(token, EDGE_JWT_MALFORMED, "jwt control byte rejected");
	strcpy(token, copy);
	CHECK_INT_EQ(edge_jwt_verify(token, len + 1, keys, &strict_policy, NOW, sub,
	    sizeof(sub)), EDGE_JWT_MALFORMED, "jwt embedded NUL rejected");

	/* An Ed25519 signature is 64 bytes: 86 characters, the last with 4 unused bits. */
	strcpy(token, copy);
	CHECK_INT_EQ(strlen(strrchr(token, '.') + 1), 86, "jwt EdDSA signature length");
	last = strchr(alphabet, token[len - 1]);
	set_char(len - 1, alphabet[((last - alphabet) & ~0x0f) | 0x01]);
	expect(token, EDGE_JWT_MALFORMED, "jwt non-canonical base64url rejected");
	strcpy(token, copy);
	strcat(token, "AAA");
	expect(token, EDGE_JWT_MALFORMED, "jwt signature length 4n+1 rejected");
	strcpy(token, copy);
	strcat(token, "AA");
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt signature of 65 bytes rejected");
	strcpy(token, copy);
	strcpy(strrchr(token, '.') + 1, "AAAA");
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt short signature rejected");

	/* A flipped bit in the signature or the claims. */
	strcpy(token, copy);
	set_char(len - 20, token[len - 20] == 'A' ? 'B' : 'A');
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt tampered signature rejected");
	strcpy(token, copy);
	dot = strchr(token, '.') + 1;
	set_char((size_t)(dot - token) + 5, dot[5] == 'A' ? 'B' : 'A');
	expect(token, EDGE_JWT_BAD_SIGNATURE, "jwt tampered claims rejected");

	expect("", EDGE_JWT_MALFORMED, "jwt empty token rejected");
	expect("..", EDGE_JWT_MALFORMED, "jwt only dots rejected");
}

static void
test_json_rules(void)
{
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"crit\":[\"exp\"]}", claims(""),
	    "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_CRIT, "jwt crit refused");
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"crit\":[]}", claims(""),
	    "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_CRIT, "jwt empty crit refused");

	test_token_ex("{\"alg\":\"none\",\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", claims(""),
	    "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt duplicate header member refused");
	test_token("EdDSA", "ed-1", claims(",\"sub\":\"admin\""), ed_key, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt duplicate sub refused");
	test_token("EdDSA", "ed-1", claims(",\"x\":{\"a\":1,\"a\":2}"), ed_key, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt nested duplicate refused");
	test_token("EdDSA", "ed-1", claims(",\"x\":{\"a:b\":1,\"a\":\"c:\\\"d\"}"), ed_key,
	    token);
	expect(token, EDGE_JWT_OK, "jwt colons inside strings accepted");

	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}x", claims(""), "EdDSA", ed_key,
	    NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt header trailing data refused");
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", "{\"sub\":\"u\",\"exp\":1800000000}{}",
	    "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt claims trailing data refused");
	test_token_ex("[\"EdDSA\"]", claims(""), "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt header array refused");
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", "\"user-1\"", "EdDSA", ed_key,
	    NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt claims string refused");
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}",
	    "{\"sub\":\"u\",\"exp\":1800000000,}", "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt trailing comma refused");
	test_token_ex("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}",
	    "{\"sub\":\"\xff\",\"exp\":1800000000}", "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt invalid UTF-8 refused");
	test_token_ex("{'alg':'EdDSA'}", claims(""), "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_MALFORMED, "jwt single quotes refused");
}

static void
test_size_limits(void)
{
	static char big[20000], payload[20100], header[3000], kid[2101];

	/* Claims of about 12 KiB: inside the token limit, over the claims limit. */
	memset(big, 'a', 9000);
	big[9000] = '\0';
	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":1800000000,\"pad\":\"%s\"}",
	    big);
	test_token("EdDSA", "ed-1", payload, ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW,
	    EDGE_JWT_TOO_LARGE, "jwt claims over 8 KiB refused");

	memset(big, 'a', 7900);
	big[7900] = '\0';
	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":1800000000,\"pad\":\"%s\"}",
	    big);
	test_token("EdDSA", "ed-1", payload, ed_key, token);
	expect_at(token, keys, &(edge_jwt_policy){ NULL, NULL, 0 }, NOW, EDGE_JWT_OK,
	    "jwt claims under 8 KiB accepted");

	memset(kid, 'k', sizeof(kid) - 1);
	kid[sizeof(kid) - 1] = '\0';
	snprintf(header, sizeof(header), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", kid);
	test_token_ex(header, claims(""), "EdDSA", ed_key, NULL, 0, token);
	expect(token, EDGE_JWT_TOO_LARGE, "jwt header over 2 KiB refused");

	memset(token, 'A', 16400);
	token[100] = '.';
	token[200] = '.';
	token[16400] = '\0';
	expect(token, EDGE_JWT_TOO_LARGE, "jwt token over 16 KiB refused");

	memset(token, 'A', 60000);
	token[60000] = '\0';
	expect(token, EDGE_JWT_TOO_LARGE, "jwt huge token without dots refused");
}

static void
test_base64url(void)
{
	unsigned char out[16];
	size_t len = 0;

	CHECK(edge_jwt_base64url_decode("AQID", 4, out, sizeof(out), &len),
	    "base64url decodes full group");
	CHECK_MEM_EQ(out, len, "\x01\x02\x03", 3, "base64url full group bytes");
	CHECK(edge_jwt_base64url_decode("_-8", 3, out, sizeof(out), &len),
	    "base64url decodes URL alphabet");
	CHECK_MEM_EQ(out, len, "\xff\xef", 2, "base64url URL alphabet bytes");
	len = 99;
	CHECK(edge_jwt_base64url_decode("", 0, out, sizeof(out), &len),
	    "base64url decodes empty text");
	CHECK_INT_EQ(len, 0, "base64url empty text length");
	CHECK(!edge_jwt_base64url_decode("AQ==", 4, out, sizeof(out), &len),
	    "base64url rejects padding");
	CHECK(!edge_jwt_base64url_decode("AR", 2, out, sizeof(out), &len),
	    "base64url rejects unused bits in two characters");
	CHECK(!edge_jwt_base64url_decode("AQR", 3, out, sizeof(out), &len),
	    "base64url rejects unused bits in three characters");
	CHECK(edge_jwt_base64url_decode("AQQ", 3, out, sizeof(out), &len),
	    "base64url accepts zero unused bits");
	CHECK_MEM_EQ(out, len, "\x01\x04", 2, "base64url zero unused bits bytes");
	CHECK(!edge_jwt_base64url_decode("A", 1, out, sizeof(out), &len),
	    "base64url rejects one character");
	CHECK(!edge_jwt_base64url_decode("A+/A", 4, out, sizeof(out), &len),
	    "base64url rejects standard alphabet");
	CHECK(!edge_jwt_base64url_decode("AAAAAAAA", 8, out, 5, &len),
	    "base64url rejects output past buffer");
}

static void
test_jwks_parse(void)
{
	char jwk[2048], text[6000], private_jwk[4096];
	edge_jwks *set = NULL;
	EVP_PKEY *small_rsa = test_key_generate("RSA", 1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char *x;

	/* A private JWK (as an issuer might leak it) is skipped, its secrets never logged. */
	test_jwk(ed_key, "leaky", NULL, ",\"d\":\"c2VjcmV0LXNjYWxhci12YWx1ZQ\"",
	    private_jwk, sizeof(private_jwk));
	test_jwk(ec_key, "ec-1", NULL, "", jwk, sizeof(jwk));
	jwks_text(private_jwk, jwk, NULL, text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, "jwks with private key parses");
	CHECK_INT_EQ(set != NULL ? set->count : 99, 1, "jwks private key skipped");
	CHECKF(strstr(capture.text, "leaky") != NULL && strstr(capture.text, "private") != NULL,
	    "jwks private key warning names kid", "log: %s", capture.text);
	CHECKF(strstr(capture.text, "c2VjcmV0") == NULL, "jwks private value not logged",
	    "log: %s", capture.text);
	edge_jwks_free(set);

	static const struct {
		const char *name;
		const char *extra;
	} skipped[] = {
		{ "jwks use enc skipped", ",\"use\":\"enc\"" },
		{ "jwks key_ops without verify skipped", ",\"key_ops\":[\"encrypt\"]" },
		{ "jwks alg of other type skipped", ",\"alg\":\"RS256\"" },
		{ "jwks unsupported alg skipped", ",\"alg\":\"ES384\"" },
		{ "jwks number use skipped", ",\"use\":1" },
	};
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		test_jwk(ec_key, "k", NULL, skipped[i].extra, jwk, sizeof(jwk));
		jwks_text(jwk, NULL, NULL, text, sizeof(text));
		set = NULL;
		CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, skipped[i].name);
		CHECK_INT_EQ(set != NULL ? set->count : 99, 0, skipped[i].name);
		CHECK_INT_EQ(capture_line_count(&capture), 1, "jwks skip logs one line");
		edge_jwks_free(set);
	}

	test_jwk(small_rsa, "small", NULL, "", jwk, sizeof(jwk));
	jwks_text(jwk, NULL, NULL, text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, "jwks RSA 1024 parses");
	CHECK_INT_EQ(set->count, 0, "jwks RSA 1024 skipped");
	CHECKF(strstr(capture.text, "2048") != NULL, "jwks RSA 1024 warning says why",
	    "log: %s", capture.text);
	edge_jwks_free(set);

	test_jwk(p384, "p384", NULL, "", jwk, sizeof(jwk));
	jwks_text(jwk, NULL, NULL, text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, "jwks P-384 parses");
	CHECK_INT_EQ(set->count, 0, "jwks P-384 skipped");
	edge_jwks_free(set);

	/* A P-256 key whose y was altered is not on the curve. */
	test_jwk(ec_key, "bent", NULL, "", jwk, sizeof(jwk));
	x = strstr(jwk, "\"y\":\"") + 5;
	x[3] = x[3] == 'A' ? 'B' : 'A';
	jwks_text(jwk, NULL, NULL, text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, "jwks bent point parses");
	CHECK_INT_EQ(set->count, 0, "jwks point off curve skipped");
	edge_jwks_free(set);

	jwks_text("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}", "{\"kty\":\"OKP\",\"crv\":\"X25519\","
	    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", "{\"kty\":\"EC\","
	    "\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", text, sizeof(text));
	CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, "jwks odd keys parse");
	CHECK_INT_EQ(set->count, 0, "jwks oct, X25519 and short EC skipped");
	CHECK_INT_EQ(capture_line_count(&capture), 3, "jwks odd keys one line each");
	edge_jwks_free(set);

	static const char *const invalid[] = {
		"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]} x",
		"{\"keys\":[],\"keys\":[]}", "{\"keys\":[{\"kty\":\"RSA\",\"kty\":\"EC\"}]}",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		set = (edge_jwks *)1;
		CHECKF(parse_jwks(invalid[i], &set) == EDGE_ERR_INVALID && set == NULL,
		    "jwks malformed text rejected", "accepted: %s", invalid[i]);
	}

	CHECK_INT_EQ(parse_jwks("{\"keys\":[]}", &set), EDGE_OK, "jwks empty set parses");
	CHECK_INT_EQ(set->count, 0, "jwks empty set has no keys");
	edge_jwks_free(set);

	EVP_PKEY_free(small_rsa);
	EVP_PKEY_free(p384);
}

static void
test_jwks_too_many(void)
{
	static char text[70 * 200];
	char jwk[512];
	edge_jwks *set = NULL;
	size_t used;

	test_jwk(ed_key, NULL, NULL, "", jwk, sizeof(jwk));
	used = (size_t)snprintf(text, sizeof(text), "{\"keys\":[");
	for (int i = 0; i < 70; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
		    i > 0 ? "," : "", jwk);
	snprintf(text + used, sizeof(text) - used, "]}");
	CHECK_INT_EQ(parse_jwks(text, &set), EDGE_OK, "jwks 70 keys parse");
	CHECK_INT_EQ(set->count, EDGE_JWKS_KEYS_MAX, "jwks keeps first 64 keys");
	CHECKF(strstr(capture.text, "70") != NULL, "jwks too many keys logged", "log: %s",
	    capture.text);
	edge_jwks_free(set);
}

/* Writes text to path through a temporary file and rename, as deploy tools do. */
static void
write_file(const char *path, const char *text, bool in_place)
{
	char temporary[512];
	FILE *file;

	snprintf(temporary, sizeof(temporary), "%s.new", path);
	file = fopen(in_place ? path : temporary, "w");
	if (file == NULL || fputs(text, file) < 0 || fclose(file) != 0) {
		perror("write_file");
		exit(2);
	}
	if (!in_place && rename(temporary, path) != 0) {
		perror("rename");
		exit(2);
	}
}

/* Returns the result of an EdDSA token signed by key against the cache's set. */
static edge_jwt_result
verify_with_cache(edge_jwks_cache *cache, EVP_PKEY *key)
{
	char sub[EDGE_JWT_SUB_MAX + 1];
	const edge_jwks *set;
	edge_jwt_result result;

	test_token("EdDSA", NULL, claims(""), key, token);
	capture_begin(&capture);
	set = edge_jwks_cache_current(cache);
	capture_end(&capture);
	result = edge_jwt_verify(token, strlen(token), set, &strict_policy, NOW, sub,
	    sizeof(sub));
	return result;
}

static void
test_jwks_cache(void)
{
	char dir[] = "/tmp/mc-edge-test-jwks.XXXXXX", path[256], jwk[512], text[1024];
	edge_jwks_cache *cache = NULL;
	edge_err err;

	if (mkdtemp(dir) == NULL) {
		check_skip("jwks cache", "mkdtemp failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/jwks.json", dir);

	capture_begin(&capture);
	err = edge_jwks_cache_open(path, &cache);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_ERR_CONFIG, "jwks cache missing file is config error");
	CHECKF(strstr(capture.text, path) != NULL, "jwks cache error names path", "log: %s",
	    capture.text);

	write_file(path, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", false);
	capture_begin(&capture);
	err = edge_jwks_cache_open(path, &cache);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_ERR_CONFIG, "jwks cache without usable key is config error");

	write_file(path, "not json", false);
	capture_begin(&capture);
	err = edge_jwks_cache_open(path, &cache);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_ERR_CONFIG, "jwks cache unparsable file is config error");

	test_jwk(ed_key, NULL, NULL, "", jwk, sizeof(jwk));
	jwks_text(jwk, NULL, NULL, text, sizeof(text));
	write_file(path, text, false);
	capture_begin(&capture);
	err = edge_jwks_cache_open(path, &cache);
	capture_end(&capture);
	CHECK_INT_EQ(err, EDGE_OK, "jwks cache opens good file");
	if (cache == NULL) {
		rmdir(dir);
		return;
	}
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_OK, "jwks cache first key");
	CHECK_INT_EQ(capture.len, 0, "jwks cache unchanged file read silently");

	/* Rotation by rename: the new key works at once, the old one stops. */
	test_jwk(ed_other, NULL, NULL, "", jwk, sizeof(jwk));
	jwks_text(jwk, NULL, NULL, text, sizeof(text));
	write_file(path, text, false);
	CHECK_INT_EQ(verify_with_cache(cache, ed_other), EDGE_JWT_OK,
	    "jwks cache picks up renamed file");
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_BAD_SIGNATURE,
	    "jwks cache drops rotated key");

	/* A half-written rewrite in place keeps the last good set, logged once. */
	write_file(path, "{\"keys\":[{\"kty\":", true);
	CHECK_INT_EQ(verify_with_cache(cache, ed_other), EDGE_JWT_OK,
	    "jwks cache keeps last good set");
	CHECKF(strstr(capture.text, "last keys read stay in use") != NULL,
	    "jwks cache logs unusable rewrite", "log: %s", capture.text);
	CHECK_INT_EQ(verify_with_cache(cache, ed_other), EDGE_JWT_OK,
	    "jwks cache still keeps last good set");
	CHECK_INT_EQ(capture.len, 0, "jwks cache logs unusable version once");

	test_jwk(ed_key, NULL, NULL, "", jwk, sizeof(jwk));
	jwks_text(jwk, NULL, NULL, text, sizeof(text));
	write_file(path, text, true);
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_OK,
	    "jwks cache reads completed rewrite");

	/* Emptying the set revokes every key. */
	write_file(path, "{\"keys\":[]}", false);
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_NO_KEY,
	    "jwks cache empty set revokes keys");
	CHECKF(strstr(capture.text, "every token is refused") != NULL,
	    "jwks cache logs empty set", "log: %s", capture.text);
	write_file(path, text, false);
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_OK,
	    "jwks cache reads keys after empty set");

	/* Removing the file revokes every key, until it is back. */
	unlink(path);
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_NO_KEY,
	    "jwks cache missing file revokes keys");
	CHECKF(strstr(capture.text, "cannot be checked") != NULL,
	    "jwks cache logs missing file", "log: %s", capture.text);
	write_file(path, text, false);
	CHECK_INT_EQ(verify_with_cache(cache, ed_key), EDGE_JWT_OK,
	    "jwks cache reads file again once back");

	edge_jwks_cache_free(cache);
	unlink(path);
	rmdir(dir);
}

static void
test_result_strings(void)
{
	for (int r = EDGE_JWT_OK; r <= EDGE_JWT_INTERNAL; r++)
		CHECKF(strcmp(edge_jwt_result_str((edge_jwt_result)r), "unknown result") != 0,
		    "jwt every result has a string", "result %d", r);
}

int
main(void)
{
	setup_keys();
	test_valid_tokens();
	test_time_claims();
	test_issuer_audience();
	test_subject();
	test_wrong_keys();
	test_alg_confusion();
	test_key_choice();
	test_encoding();
	test_json_rules();
	test_size_limits();
	test_base64url();
	test_jwks_parse();
	test_jwks_too_many();
	test_jwks_cache();
	test_result_strings();

	edge_jwks_free(keys);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ed_key);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec_other);
	EVP_PKEY_free(ed_other);
	return check_summary();
}

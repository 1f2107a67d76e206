/* Test-side JWT signing with OpenSSL: key generation, the public JWK of a
 * key, and compact tokens signed with RS256, ES256, EdDSA or HS256, written
 * apart from common/jwt.c so the tests do not check the code with itself. */
#ifndef EDGE_TEST_JWT_SIGN_H
#define EDGE_TEST_JWT_SIGN_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "agent_token.h"

/* Room for any token the tests build, huge ones included. */
#define TEST_TOKEN_SIZE 65536

/* Generates a key: "RSA" (bits), "EC" (P-256) or "ED25519". Exits on failure. */
static EVP_PKEY * __attribute__((unused))
test_key_generate(const char *type, size_t rsa_bits)
{
	EVP_PKEY *pkey;

	if (strcmp(type, "RSA") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", rsa_bits);
	else if (strcmp(type, "EC") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
	if (pkey == NULL) {
		fprintf(stderr, "key generation of %s failed\n", type);
		exit(2);
	}
	return pkey;
}

/* Writes the base64url form of a big number, left-padded to pad bytes when pad > 0. */
static void
test_bn_base64url(const BIGNUM *bn, int pad, char *out, size_t out_size)
{
	unsigned char bytes[1024];
	int len = pad > 0 ? pad : BN_num_bytes(bn);

	if (len > (int)sizeof(bytes) || BN_bn2binpad(bn, bytes, len) < 0 ||
	    !edge_base64url_encode(bytes, (size_t)len, out, out_size)) {
		fprintf(stderr, "big number encoding failed\n");
		exit(2);
	}
}

/* Writes the public JWK of pkey, with kid and alg members when not NULL,
 * and extra (raw JSON members with a leading comma, or ""). */
static void __attribute__((unused))
test_jwk(EVP_PKEY *pkey, const char *kid, const char *alg, const char *extra,
    char *out, size_t out_size)
{
	char a[1400], b[1400], names[160] = "";
	BIGNUM *first = NULL, *second = NULL;
	int written;

	if (kid != NULL)
		snprintf(names, sizeof(names), ",\"kid\":\"%s\"", kid);
	if (alg != NULL)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    ",\"alg\":\"%s\"", alg);

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &first);
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &second);
		test_bn_base64url(first, 0, a, sizeof(a));
		test_bn_base64url(second, 0, b, sizeof(b));
		written = snprintf(out, out_size, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s%s}",
		    a, b, names, extra);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &first);
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &second);
		int size = (EVP_PKEY_get_bits(pkey) + 7) / 8;

		test_bn_base64url(first, size, a, sizeof(a));
		test_bn_base64url(second, size, b, sizeof(b));
		written = snprintf(out, out_size,
		    "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s%s}",
		    size == 32 ? "P-256" : "P-384", a, b, names, extra);
	} else {
		unsigned char raw[32];
		size_t raw_len = sizeof(raw);

		EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len);
		edge_base64url_encode(raw, raw_len, a, sizeof(a));
		written = snprintf(out, out_size,
		    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s%s}",
		    a, names, extra);
	}
	BN_free(first);
	BN_free(second);
	if (written < 0 || (size_t)written >= out_size) {
		fprintf(stderr, "JWK buffer of %zu bytes too small\n", out_size);
		exit(2);
	}
}

/* Converts an ECDSA DER signature into raw r || s, 32 bytes each. */
static bool
test_der_to_raw(const unsigned char *der, size_t der_len, unsigned char raw[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	bool ok;

	if (sig == NULL)
		return false;
	ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok;
}

/* Signs signing_input under alg with pkey (or, for HS256, with
 * secret) and writes the base64url signature into out. */
static void
test_sign_part(const char *alg, EVP_PKEY *pkey, const void *secret,
    size_t secret_len, const char *signing_input, char *out, size_t out_size)
{
	unsigned char sig[1024], raw[64];
	size_t sig_len = sizeof(sig);
	unsigned int mac_len = 0;
	EVP_MD_CTX *ctx;
	bool ok = true;

	if (strcmp(alg, "HS256") == 0) {
		ok = HMAC(EVP_sha256(), secret, (int)secret_len,
		    (const unsigned char *)signing_input, strlen(signing_input),
		    sig, &mac_len) != NULL;
		sig_len = mac_len;
	} else {
		ctx = EVP_MD_CTX_new();
		ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL,
		    EVP_PKEY_is_a(pkey, "ED25519") ? NULL : EVP_sha256(), NULL,
		    pkey) == 1 && EVP_DigestSign(ctx, sig, &sig_len,
		    (const unsigned char *)signing_input, strlen(signing_input)) == 1;
		EVP_MD_CTX_free(ctx);
		if (ok && EVP_PKEY_is_a(pkey, "EC")) {
			ok = test_der_to_raw(sig, sig_len, raw);
			memcpy(sig, raw, 64);
			sig_len = 64;
		}
	}
	if (!ok || !edge_base64url_encode(sig, sig_len, out, out_size)) {
		fprintf(stderr, "signing with %s failed\n", alg);
		exit(2);
	}
}

/* Builds header.payload.signature from JSON texts, signed with pkey (or
 * secret for HS256) under sign_alg, which may differ from the header's. An
 * empty sign_alg leaves the signature part empty. */
static const char * __attribute__((unused))
test_token_ex(const char *header_json, const char *payload_json,
    const char *sign_alg, EVP_PKEY *pkey, const void *secret,
    size_t secret_len, char *out)
{
	static char signature[2048];
	size_t used;

	if (!edge_base64url_encode((const unsigned char *)header_json,
	    strlen(header_json), out, TEST_TOKEN_SIZE)) {
		fprintf(stderr, "header too large\n");
		exit(2);
	}
	used = strlen(out);
	out[used++] = '.';
	if (!edge_base64url_encode((const unsigned char *)payload_json,
	    strlen(payload_json), out + used, TEST_TOKEN_SIZE - used - 2100)) {
		fprintf(stderr, "payload too large\n");
		exit(2);
	}
	signature[0] = '\0';
	if (sign_alg[0] != '\0')
		test_sign_part(sign_alg, pkey, secret, secret_len, out, signature,
		    sizeof(signature));
	used = strlen(out);
	snprintf(out + used, TEST_TOKEN_SIZE - used, ".%s", signature);
	return out;
}

/* Builds a token with header {"alg":alg,"typ":"JWT"} (and "kid" when not
 * NULL) over payload_json, signed with pkey under alg. */
static const char * __attribute__((unused))
test_token(const char *alg, const char *kid, const char *payload_json,
    EVP_PKEY *pkey, char *out)
{
	char header[256];

	if (kid != NULL)
		snprintf(header, sizeof(header),
		    "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
	else
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	return test_token_ex(header, payload_json, alg, pkey, NULL, 0, out);
}

#endif

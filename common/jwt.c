/* JWS compact verification; see jwt.h. The steps run from cheap to costly:
 * split and size checks, header, key choice, signature, then the claims, so
 * an unsigned or forged token never reaches the claims parser. */
#include "jwt.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "agent_token.h"
#include "json_check.h"
#include "utf8.h"

#define JSON_DEPTH_MAX 16

/* RSA signatures are as long as the modulus: 8192 bits at most (jwks.c). */
#define SIGNATURE_MAX 1024
#define ES256_SIGNATURE_SIZE 64
#define ED25519_SIGNATURE_SIZE 64

static const char base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool
edge_jwt_base64url_decode(const char *text, size_t len, unsigned char *out,
    size_t out_size, size_t *out_len)
{
	const char *last;
	size_t value;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0' || strchr(base64url_alphabet, text[i]) == NULL)
			return false;

	/* A last group of 2 or 3 characters leaves 4 or 2 unused bits, which must be zero. */
	if (len % 4 != 0) {
		last = strchr(base64url_alphabet, text[len - 1]);
		value = (size_t)(last - base64url_alphabet);
		if ((len % 4 == 2 && (value & 0x0f) != 0) ||
		    (len % 4 == 3 && (value & 0x03) != 0))
			return false;
	}
	return edge_base64url_decode(text, len, out, out_size, out_len);
}

/* Counts the members of every object in valid JSON text (one ':' outside
 * strings per member), and rejects a \u0000 escape, which json-c would cut
 * a string or member name at. Returns -1 on \u0000. */
static long
count_members(const char *text, size_t len)
{
	bool in_string = false;
	long members = 0;

	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			if (text[i] == '"')
				in_string = true;
			else if (text[i] == ':')
				members++;
			continue;
		}
		if (text[i] == '"') {
			in_string = false;
		} else if (text[i] == '\\') {
			if (len - i >= 6 && memcmp(text + i, "\\u0000", 6) == 0)
				return -1;
			i++;	/* the escaped character, which may be a quote */
		}
	}
	return members;
}

/* Sums the member counts of every object in the tree (distinct names only). */
static long
count_distinct_members(json_object *value)
{
	long total = 0;

	if (json_object_is_type(value, json_type_object)) {
		json_object_object_foreach(value, name, member) {
			(void)name;
			total += 1 + count_distinct_members(member);
		}
	} else if (json_object_is_type(value, json_type_array)) {
		size_t count = json_object_array_length(value);

		for (size_t i = 0; i < count; i++)
			total += count_distinct_members(
			    json_object_array_get_idx(value, i));
	}
	return total;
}

json_object *
edge_jwt_json_object_parse(const char *text, size_t len)
{
	json_tokener *tokener;
	json_object *object;
	long members;

	if (len > INT32_MAX || !edge_utf8_valid(text, len) ||
	    !edge_json_check(text, len, JSON_DEPTH_MAX))
		return NULL;
	members = count_members(text, len);
	if (members < 0)
		return NULL;

	tokener = json_tokener_new_ex(JSON_DEPTH_MAX + 1);
	if (tokener == NULL)
		return NULL;
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	object = json_tokener_parse_ex(tokener, text, (int)len);
	if (object == NULL && json_tokener_get_error(tokener) == json_tokener_continue)
		object = json_tokener_parse_ex(tokener, " ", 1);
	json_tokener_free(tokener);

	/* json-c keeps the last of duplicate names, so fewer distinct members means duplicates. */
	if (object == NULL || !json_object_is_type(object, json_type_object) ||
	    count_distinct_members(object) != members) {
		json_object_put(object);
		return NULL;
	}
	return object;
}

/* The parts of a token: each pointer into the token, with its length. */
typedef struct jws_parts {
	const char *header;
	size_t header_len;
	const char *payload;
	size_t payload_len;
	const char *signature;
	size_t signature_len;
} jws_parts;

/* Splits the token at its two dots; any other number of dots, an empty part
 * or a byte outside the base64url alphabet makes it malformed. */
static edge_jwt_result
split_token(const char *token, size_t len, jws_parts *parts)
{
	const char *first, *second;

	if (len > EDGE_JWT_TOKEN_MAX)
		return EDGE_JWT_TOO_LARGE;
	first = memchr(token, '.', len);
	if (first == NULL)
		return EDGE_JWT_MALFORMED;
	second = memchr(first + 1, '.', len - (size_t)(first + 1 - token));
	if (second == NULL ||
	    memchr(second + 1, '.', len - (size_t)(second + 1 - token)) != NULL)
		return EDGE_JWT_MALFORMED;

	parts->header = token;
	parts->header_len = (size_t)(first - token);
	parts->payload = first + 1;
	parts->payload_len = (size_t)(second - first - 1);
	parts->signature = second + 1;
	parts->signature_len = len - (size_t)(second + 1 - token);
	if (parts->header_len == 0 || parts->payload_len == 0 ||
	    parts->signature_len == 0)
		return EDGE_JWT_MALFORMED;

	/* Encoded lengths bound the decoded ones: 4 characters carry 3 bytes. */
	if (parts->header_len / 4 * 3 > EDGE_JWT_HEADER_MAX ||
	    parts->payload_len / 4 * 3 > EDGE_JWT_PAYLOAD_MAX ||
	    parts->signature_len / 4 * 3 > SIGNATURE_MAX)
		return EDGE_JWT_TOO_LARGE;
	return EDGE_JWT_OK;
}

/* Decodes one base64url part into buf and parses it as a strict JSON object. */
static edge_jwt_result
decode_json_part(const char *part, size_t part_len, char *buf, size_t buf_size,
    json_object **object)
{
	size_t len;

	if (!edge_jwt_base64url_decode(part, part_len, (unsigned char *)buf,
	    buf_size, &len))
		return EDGE_JWT_MALFORMED;
	*object = edge_jwt_json_object_parse(buf, len);
	return *object != NULL ? EDGE_JWT_OK : EDGE_JWT_MALFORMED;
}

/* Returns the string member name of object, NULL when absent; *wrong_type
 * becomes true when it is present but not a string. */
static const char *
string_member(json_object *object, const char *name, bool *wrong_type)
{
	json_object *member;

	if (!json_object_object_get_ex(object, name, &member))
		return NULL;
	if (!json_object_is_type(member, json_type_string)) {
		*wrong_type = true;
		return NULL;
	}
	return json_object_get_string(member);
}

static bool
alg_allowed(const char *alg)
{
	return strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0 ||
	    strcmp(alg, "EdDSA") == 0;
}

/* Reads alg and kid from the header; kid stays NULL when absent. */
static edge_jwt_result
check_header(json_object *header, const char **alg, const char **kid)
{
	bool wrong_type = false;

	if (json_object_object_get_ex(header, "crit", NULL))
		return EDGE_JWT_CRIT;
	*alg = string_member(header, "alg", &wrong_type);
	*kid = string_member(header, "kid", &wrong_type);
	if (wrong_type)
		return EDGE_JWT_MALFORMED;
	if (*alg == NULL || !alg_allowed(*alg))
		return EDGE_JWT_ALG_NOT_ALLOWED;
	return EDGE_JWT_OK;
}

/* Picks the one key that fits alg, among those with the header's kid when
 * it has one. Several fitting keys are refused rather than tried in turn,
 * so the set's order never decides which key a token is checked with. */
static edge_jwt_result
select_key(const edge_jwks *keys, const char *alg, const char *kid,
    const edge_jwk **chosen)
{
	bool kid_known = false;
	size_t fitting = 0;

	for (size_t i = 0; i < keys->count; i++) {
		const edge_jwk *key = &keys->keys[i];

		if (kid != NULL) {
			if (key->kid == NULL || strcmp(key->kid, kid) != 0)
				continue;
			kid_known = true;
		}
		if (!edge_jwk_fits_alg(key, alg))
			continue;
		fitting++;
		*chosen = key;
	}
	if (kid != NULL && !kid_known)
		return EDGE_JWT_UNKNOWN_KID;
	return fitting == 1 ? EDGE_JWT_OK : EDGE_JWT_NO_KEY;
}

/* Converts a raw ES256 signature (r and s, 32 bytes each, big-endian) into
 * the DER form OpenSSL verifies. Returns the DER length, 0 on failure. */
static int
es256_to_der(const unsigned char raw[ES256_SIGNATURE_SIZE], unsigned char **der)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL);
	BIGNUM *s = BN_bin2bn(raw + 32, 32, NULL);
	int len = 0;

	if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return 0;
	}

	/* ECDSA_SIG_set0 took r and s. */
	*der = NULL;
	len = i2d_ECDSA_SIG(sig, der);
	ECDSA_SIG_free(sig);
	return len > 0 ? len : 0;
}

/* Verifies signature over signed_len bytes of signed_text with key under alg. */
static edge_jwt_result
verify_signature(const edge_jwk *key, const char *alg,
    const unsigned char *signature, size_t signature_len,
    const char *signed_text, size_t signed_len)
{
	EVP_MD_CTX *ctx;
	const EVP_MD *digest = EVP_sha256();
	unsigned char *der = NULL;
	edge_jwt_result result = EDGE_JWT_BAD_SIGNATURE;
	int verified;

	/* Each algorithm has one signature length; anything else is a forgery attempt. */
	if (strcmp(alg, "RS256") == 0) {
		if (signature_len != (size_t)EVP_PKEY_get_size(key->pkey))
			return EDGE_JWT_BAD_SIGNATURE;
	} else if (strcmp(alg, "ES256") == 0) {
		int der_len;

		if (signature_len != ES256_SIGNATURE_SIZE)
			return EDGE_JWT_BAD_SIGNATURE;
		der_len = es256_to_der(signature, &der);
		if (der_len == 0)
			return EDGE_JWT_INTERNAL;
		signature = der;
		signature_len = (size_t)der_len;
	} else {
		if (signature_len != ED25519_SIGNATURE_SIZE)
			return EDGE_JWT_BAD_SIGNATURE;
		digest = NULL;	/* Ed25519 hashes the message itself */
	}

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		result = EDGE_JWT_INTERNAL;
		goto done;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, digest, NULL, key->pkey) != 1) {
		result = EDGE_JWT_INTERNAL;
		goto done;
	}
	verified = EVP_DigestVerify(ctx, signature, signature_len,
	    (const unsigned char *)signed_text, signed_len);
	if (verified == 1)
		result = EDGE_JWT_OK;

done:
	/* A failed verification leaves errors on OpenSSL's queue; they mean nothing later. */
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return result;
}

/* Reads a NumericDate claim into *value. Returns false when it is present
 * but not a finite number within +-1e15 seconds; *present is set when it
 * exists. Fractions are cut toward minus infinity. */
static bool
time_claim(json_object *claims, const char *name, bool *present, int64_t *value)
{
	json_object *member;
	double number;

	*present = json_object_object_get_ex(claims, name, &member);
	if (!*present)
		return true;
	if (json_object_is_type(member, json_type_int)) {
		*value = json_object_get_int64(member);
		return *value > -1000000000000000LL && *value < 1000000000000000LL;
	}
	if (!json_object_is_type(member, json_type_double))
		return false;
	number = json_object_get_double(member);
	if (!isfinite(number) || number <= -1e15 || number >= 1e15)
		return false;
	/* The cast truncates toward zero; step down for negative fractions (no libm). */
	*value = (int64_t)number;
	if ((double)*value > number)
		(*value)--;
	return true;
}

static edge_jwt_result
check_times(json_object *claims, const edge_jwt_policy *policy, int64_t now)
{
	int64_t exp = 0, nbf = 0, iat = 0, leeway = policy->leeway_s;
	bool has_exp, has_nbf, has_iat;

	if (!time_claim(claims, "exp", &has_exp, &exp) || !has_exp ||
	    !time_claim(claims, "nbf", &has_nbf, &nbf) ||
	    !time_claim(claims, "iat", &has_iat, &iat))
		return EDGE_JWT_BAD_CLAIMS;

	/* RFC 7519: the token is valid only before exp, and not before nbf. */
	if (now - leeway >= exp)
		return EDGE_JWT_EXPIRED;
	if (has_nbf && nbf > now + leeway)
		return EDGE_JWT_NOT_YET_VALID;
	if (has_iat && iat > now + leeway)
		return EDGE_JWT_ISSUED_IN_FUTURE;
	return EDGE_JWT_OK;
}

static bool
audience_matches(json_object *claims, const char *audience)
{
	json_object *aud;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), audience) == 0;
	if (!json_object_is_type(aud, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(aud); i++) {
		json_object *entry = json_object_array_get_idx(aud, i);

		if (json_object_is_type(entry, json_type_string) &&
		    strcmp(json_object_get_string(entry), audience) == 0)
			return true;
	}
	return false;
}

static edge_jwt_result
check_claims(json_object *claims, const edge_jwt_policy *policy, time_t now,
    char *sub, size_t sub_size)
{
	edge_jwt_result result = check_times(claims, policy, (int64_t)now);
	json_object *member;
	bool wrong_type = false;
	const char *issuer;
	size_t sub_len;

	if (result != EDGE_JWT_OK)
		return result;
	if (policy->issuer != NULL) {
		issuer = string_member(claims, "iss", &wrong_type);
		if (issuer == NULL || strcmp(issuer, policy->issuer) != 0)
			return EDGE_JWT_WRONG_ISSUER;
	}
	if (policy->audience != NULL && !audience_matches(claims, policy->audience))
		return EDGE_JWT_WRONG_AUDIENCE;

	/* The parser has rejected \u0000, so the string's length is its C length. */
	if (!json_object_object_get_ex(claims, "sub", &member) ||
	    !json_object_is_type(member, json_type_string))
		return EDGE_JWT_BAD_SUBJECT;
	sub_len = (size_t)json_object_get_string_len(member);
	if (sub_len == 0 || sub_len > EDGE_JWT_SUB_MAX || sub_len >= sub_size)
		return EDGE_JWT_BAD_SUBJECT;
	memcpy(sub, json_object_get_string(member), sub_len + 1);
	return EDGE_JWT_OK;
}

edge_jwt_result
edge_jwt_verify(const char *token, size_t len, const edge_jwks *keys,
    const edge_jwt_policy *policy, time_t now, char *sub, size_t sub_size)
{
	char header_text[EDGE_JWT_HEADER_MAX], payload_text[EDGE_JWT_PAYLOAD_MAX];
	unsigned char signature[SIGNATURE_MAX];
	json_object *header = NULL, *claims = NULL;
	const edge_jwk *key = NULL;
	const char *alg, *kid;
	size_t signature_len;
	jws_parts parts;
	edge_jwt_result result;

	result = split_token(token, len, &parts);
	if (result != EDGE_JWT_OK)
		return result;
	if (!edge_jwt_base64url_decode(parts.signature, parts.signature_len,
	    signature, sizeof(signature), &signature_len))
		return EDGE_JWT_MALFORMED;

	/* Header: alg and kid choose the key. */
	result = decode_json_part(parts.header, parts.header_len, header_text,
	    sizeof(header_text), &header);
	if (result != EDGE_JWT_OK)
		goto done;
	if ((result = check_header(header, &alg, &kid)) != EDGE_JWT_OK ||
	    (result = select_key(keys, alg, kid, &key)) != EDGE_JWT_OK)
		goto done;

	/* The signature covers the encoded header, the dot and the encoded claims. */
	result = verify_signature(key, alg, signature, signature_len,
	    parts.header, parts.header_len + 1 + parts.payload_len);
	if (result != EDGE_JWT_OK)
		goto done;

	result = decode_json_part(parts.payload, parts.payload_len, payload_text,
	    sizeof(payload_text), &claims);
	if (result == EDGE_JWT_OK)
		result = check_claims(claims, policy, now, sub, sub_size);

done:
	json_object_put(header);
	json_object_put(claims);
	return result;
}

const char *
edge_jwt_result_str(edge_jwt_result result)
{
	switch (result) {
	case EDGE_JWT_OK: return "valid";
	case EDGE_JWT_MALFORMED: return "malformed token";
	case EDGE_JWT_TOO_LARGE: return "token too large";
	case EDGE_JWT_ALG_NOT_ALLOWED: return "alg not allowed";
	case EDGE_JWT_CRIT: return "crit header not supported";
	case EDGE_JWT_UNKNOWN_KID: return "unknown kid";
	case EDGE_JWT_NO_KEY: return "no single key fits alg and kid";
	case EDGE_JWT_BAD_SIGNATURE: return "bad signature";
	case EDGE_JWT_EXPIRED: return "expired";
	case EDGE_JWT_NOT_YET_VALID: return "not yet valid";
	case EDGE_JWT_ISSUED_IN_FUTURE: return "issued in the future";
	case EDGE_JWT_BAD_CLAIMS: return "exp missing or a time claim not a number";
	case EDGE_JWT_WRONG_ISSUER: return "wrong issuer";
	case EDGE_JWT_WRONG_AUDIENCE: return "wrong audience";
	case EDGE_JWT_BAD_SUBJECT: return "sub missing, empty or too long";
	case EDGE_JWT_INTERNAL: return "internal error";
	}
	return "unknown result";
}

/* Verification of compact JWS tokens (RFC 7515, 7519) signed with RS256,
 * ES256 or EdDSA (Ed25519), against a fixed JWKS. Keys come only from that
 * set: the header members jwk, jku, x5u and x5c are ignored, "none" and every
 * HMAC algorithm are rejected, and a token with "crit" is rejected because no
 * extension is understood. Also the strict base64url and JSON readers that
 * jwks.c shares. */
#ifndef EDGE_JWT_H
#define EDGE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "edge_error.h"
#include "jwks.h"

/* Size limits, checked before any decoding: a token of at most 16 KiB, a
 * decoded header of at most 2 KiB and decoded claims of at most 8 KiB.
 * Real tokens are well under 2 KiB. */
#define EDGE_JWT_TOKEN_MAX 16384
#define EDGE_JWT_HEADER_MAX 2048
#define EDGE_JWT_PAYLOAD_MAX 8192
#define EDGE_JWT_SUB_MAX 255

/* Claim checks beyond the signature. */
typedef struct edge_jwt_policy {
	const char *issuer;	/* iss must equal it; NULL: not checked */
	const char *audience;	/* aud (string or array) must contain it; NULL: not checked */
	unsigned leeway_s;	/* clock skew allowed on exp, nbf and iat */
} edge_jwt_policy;

/* Outcome of a verification, one value per reason worth logging. */
typedef enum edge_jwt_result {
	EDGE_JWT_OK = 0,
	EDGE_JWT_MALFORMED,		/* not three strict base64url parts of JSON objects */
	EDGE_JWT_TOO_LARGE,		/* token, header or claims over their limits */
	EDGE_JWT_ALG_NOT_ALLOWED,	/* alg missing, "none", HMAC or unknown */
	EDGE_JWT_CRIT,			/* the header has "crit" */
	EDGE_JWT_UNKNOWN_KID,		/* no key of the set has the header's kid */
	EDGE_JWT_NO_KEY,		/* no key fits alg (and kid), or several do without kid */
	EDGE_JWT_BAD_SIGNATURE,
	EDGE_JWT_EXPIRED,		/* exp + leeway is not after now */
	EDGE_JWT_NOT_YET_VALID,		/* nbf is after now + leeway */
	EDGE_JWT_ISSUED_IN_FUTURE,	/* iat is after now + leeway */
	EDGE_JWT_BAD_CLAIMS,		/* exp missing, or a time claim not a number */
	EDGE_JWT_WRONG_ISSUER,
	EDGE_JWT_WRONG_AUDIENCE,
	EDGE_JWT_BAD_SUBJECT,		/* sub missing, empty, not a string, over 255 bytes or with NUL */
	EDGE_JWT_INTERNAL		/* OpenSSL or memory failure */
} edge_jwt_result;

/* Verifies token (len bytes, no surrounding whitespace) at time now: the
 * header, a key chosen from keys, the signature, then the claims under
 * policy. On EDGE_JWT_OK writes the sub claim into sub (sub_size bytes,
 * at least EDGE_JWT_SUB_MAX + 1). Logs nothing: the caller logs the result. */
edge_jwt_result edge_jwt_verify(const char *token, size_t len,
	const edge_jwks *keys, const edge_jwt_policy *policy, time_t now,
	char *sub, size_t sub_size);

/* Returns a short constant description of result for log lines. */
const char *edge_jwt_result_str(edge_jwt_result result);

/* Decodes len characters of base64url as RFC 7515 requires it: no padding,
 * no character outside A-Z a-z 0-9 - _, and zero unused bits in the last
 * character, so each byte string has exactly one accepted encoding. Returns
 * false otherwise or when the output would exceed out_size. */
bool edge_jwt_base64url_decode(const char *text, size_t len,
	unsigned char *out, size_t out_size, size_t *out_len);

/* Parses len bytes as one JSON object: valid UTF-8, strict RFC 8259 syntax
 * nested at most 16 deep, no duplicate member names at any level, no \u0000
 * in any string, and nothing after it. Returns a new json-c object, or NULL. */
json_object *edge_jwt_json_object_parse(const char *text, size_t len);

#endif

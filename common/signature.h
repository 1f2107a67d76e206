/* Webhook signature headers: which header carries the signature and how its
 * value is checked against the raw body. One scheme today (GitHub-style
 * "sha256=<hex>" HMAC-SHA256); other schemes plug in beside it. */
#ifndef EDGE_SIGNATURE_H
#define EDGE_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum edge_signature_result {
	EDGE_SIGNATURE_VALID = 0,
	EDGE_SIGNATURE_MALFORMED,	/* not one "sha256=" + 64 hex digits */
	EDGE_SIGNATURE_MISMATCH		/* well formed, wrong value */
} edge_signature_result;

/* Checks a GitHub-style value: an optional "sha256=" prefix, then exactly 64
 * hex digits, with surrounding spaces ignored. A value holding more than one
 * signature (a repeated header joined with ", ") is malformed. */
edge_signature_result edge_signature_check_sha256(const char *header_value,
	const void *secret, size_t secret_len, const void *body, size_t body_len);

/* Returns true when a lower-case header name carries a signature under any
 * scheme the suite supports, so that it is never stored with the payload. */
bool edge_signature_header_is_known(const char *lower_name);

/* Header names tried, in order, when a webhook names none. */
extern const char *const edge_signature_default_headers[];
extern const size_t edge_signature_default_header_count;

#endif

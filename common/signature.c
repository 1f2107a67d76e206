/* Webhook signature checks; see signature.h. */
#include "signature.h"
#include "hmac.h"

#include <string.h>
#include <strings.h>

const char *const edge_signature_default_headers[] = {
	"X-Hub-Signature-256",
	"X-Webhook-Signature",
};
const size_t edge_signature_default_header_count = 2;

/* Headers that carry a signature or a shared secret in a scheme the suite
 * supports or that common senders use (GitHub, GitLab's plain token, Slack,
 * Shopify, Twilio, LINE, Stripe, ...), lower case. None is ever stored with a
 * payload: a shared token would be readable by anyone who reads payloads. */
static const char *const known_signature_headers[] = {
	"x-hub-signature-256",
	"x-hub-signature",
	"x-webhook-signature",
	"x-gitlab-token",
	"x-slack-signature",
	"x-shopify-hmac-sha256",
	"x-twilio-signature",
	"x-line-signature",
	"x-signature",
	"x-webhook-token",
	"x-webhook-secret",
	"x-api-key",
	"x-auth-token",
	"stripe-signature",
	"authorization",
	"cookie",
};

edge_signature_result
edge_signature_check_sha256(const char *header_value, const void *secret,
    size_t secret_len, const void *body, size_t body_len)
{
	unsigned char expected[EDGE_SHA256_SIZE];
	const char *start = header_value;
	size_t len;

	while (*start == ' ' || *start == '\t')
		start++;
	len = strlen(start);
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	if (len >= 7 && strncasecmp(start, "sha256=", 7) == 0) {
		start += 7;
		len -= 7;
	}

	/* A comma means several joined values: a check of only one would be ambiguous. */
	if (memchr(start, ',', len) != NULL ||
	    !edge_hex_decode(start, len, expected, sizeof(expected)))
		return EDGE_SIGNATURE_MALFORMED;
	if (!edge_hmac_sha256_verify(secret, secret_len, body, body_len, expected))
		return EDGE_SIGNATURE_MISMATCH;
	return EDGE_SIGNATURE_VALID;
}

bool
edge_signature_header_is_known(const char *lower_name)
{
	for (size_t i = 0; i < sizeof(known_signature_headers) /
	    sizeof(known_signature_headers[0]); i++)
		if (strcmp(lower_name, known_signature_headers[i]) == 0)
			return true;
	return false;
}

/* The Ed25519 device identity this suite presents to OpenClaw gateways: a
 * private key kept in a PEM file of mode 0600, created on first use, and the
 * signature over the connect parameters that proves the key is held. Keys
 * and signatures travel in base64url without padding (agent_token.h). */
#ifndef EDGE_GATEWAY_DEVICE_H
#define EDGE_GATEWAY_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_error.h"

#define EDGE_GATEWAY_DEVICE_ID_SIZE 65		/* 64 hex digits and NUL */
#define EDGE_GATEWAY_PUBLIC_KEY_SIZE 44		/* 43 base64url characters and NUL */
#define EDGE_GATEWAY_SIGNATURE_SIZE 87		/* 86 base64url characters and NUL */

typedef struct edge_gateway_device edge_gateway_device;

/* Loads the private key from path, or creates it there when the file does
 * not exist. A new key is written to a temporary file in the same directory
 * (O_EXCL, O_NOFOLLOW, mode 0600), synced, and linked into place. So two
 * processes that race both end up with the key linked first. A key file that is
 * a symbolic link or not a regular file, that the group or others may read
 * or write, that is encrypted or that does not hold an Ed25519 key is
 * rejected. Returns EDGE_OK, EDGE_ERR_CONFIG after one log line naming the
 * path and the problem, or EDGE_ERR_NOMEM. */
edge_err edge_gateway_device_load(const char *path, edge_gateway_device **device);

void edge_gateway_device_free(edge_gateway_device *device);

/* The device id: lower-case hex SHA-256 of the raw 32-byte public key. */
const char *edge_gateway_device_id(const edge_gateway_device *device);

/* The raw public key in base64url without padding. */
const char *edge_gateway_device_public_key(const edge_gateway_device *device);

/* Builds the text the device signs: "v2|id|client_id|client_mode|role|
 * scopes|signed_at_ms|token|nonce", or "v1|..." without the last field when
 * nonce is NULL. token NULL counts as "". Returns a new string for the
 * caller to free, or NULL when memory runs out. */
char *edge_gateway_device_signed_text(const char *device_id,
	const char *client_id, const char *client_mode, const char *role,
	const char *scopes_joined, long long signed_at_ms, const char *token,
	const char *nonce);

/* Signs text with the device key and writes the signature in base64url
 * without padding into signature. Returns false when OpenSSL fails. */
bool edge_gateway_device_sign(const edge_gateway_device *device,
	const char *text, char signature[EDGE_GATEWAY_SIGNATURE_SIZE]);

#endif

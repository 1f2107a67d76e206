/* The JSON frames of the OpenClaw gateway protocol, built and parsed without
 * any I/O: the connect and chat.send requests this suite sends, and the
 * events and replies a gateway sends back. Parsing is strict, because every
 * byte comes from the network. */
#ifndef EDGE_GATEWAY_FRAME_H
#define EDGE_GATEWAY_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_error.h"

/* The identity this suite connects with. The gateway accepts "gateway-client"
 * in mode "backend" with a token, with or without a device. */
#define EDGE_GATEWAY_CLIENT_ID "gateway-client"
#define EDGE_GATEWAY_CLIENT_MODE "backend"
#define EDGE_GATEWAY_CLIENT_PLATFORM "linux"
/* NOTE: the suite has no release number yet; this is sent as client.version. */
#define EDGE_GATEWAY_CLIENT_VERSION "0.1.0"
#define EDGE_GATEWAY_ROLE "operator"
/* The scopes in the order they are sent and signed. */
#define EDGE_GATEWAY_SCOPES_JOINED \
	"operator.read,operator.admin,operator.approvals,operator.pairing"
/* Gateways of 2026 speak protocol 4 only; 3 is offered for older ones. */
#define EDGE_GATEWAY_MIN_PROTOCOL 3
#define EDGE_GATEWAY_MAX_PROTOCOL 4

/* Sizes of the fields kept from a frame, terminating NUL included. Longer
 * strings in a frame make it invalid, except error messages, which are cut. */
#define EDGE_GATEWAY_EVENT_SIZE 64
#define EDGE_GATEWAY_NONCE_SIZE 256
#define EDGE_GATEWAY_ID_SIZE 128
#define EDGE_GATEWAY_TYPE_SIZE 32
#define EDGE_GATEWAY_STATUS_SIZE 32
#define EDGE_GATEWAY_CODE_SIZE 48
#define EDGE_GATEWAY_MESSAGE_SIZE 160

/* A retryAfterMs above this is read as this: no exchange waits longer. */
#define EDGE_GATEWAY_RETRY_AFTER_MAX 600000u

/* A signed device identity for the connect request. */
typedef struct edge_gateway_device_proof {
	const char *id;			/* hex SHA-256 of the raw public key */
	const char *public_key;		/* base64url, no padding */
	const char *signature;		/* base64url, no padding */
	long long signed_at_ms;		/* Unix time in milliseconds */
	const char *nonce;		/* challenge nonce, NULL when none came */
} edge_gateway_device_proof;

typedef enum edge_gateway_frame_type {
	EDGE_GATEWAY_FRAME_EVENT = 0,	/* {"type":"event","event":...} */
	EDGE_GATEWAY_FRAME_RESPONSE	/* {"type":"res","id":...,"ok":...} */
} edge_gateway_frame_type;

/* What this suite reads from one incoming frame. Strings are "" when absent. */
typedef struct edge_gateway_frame {
	edge_gateway_frame_type type;

	/* Events. */
	char event[EDGE_GATEWAY_EVENT_SIZE];
	char nonce[EDGE_GATEWAY_NONCE_SIZE];	/* connect.challenge only */

	/* Replies. */
	char id[EDGE_GATEWAY_ID_SIZE];
	bool ok;				/* the reply's "ok" */
	char payload_type[EDGE_GATEWAY_TYPE_SIZE];	/* "hello-ok" */
	int protocol;				/* payload.protocol, 0 when absent */
	char status[EDGE_GATEWAY_STATUS_SIZE];	/* payload.status */
	char run_id[EDGE_GATEWAY_ID_SIZE];	/* payload.runId of chat.send */
	bool has_error;
	char error_code[EDGE_GATEWAY_CODE_SIZE];
	char error_message[EDGE_GATEWAY_MESSAGE_SIZE];	/* cut, not escaped */
	bool retryable;				/* error or error.details */
	bool has_retry_after;
	unsigned retry_after_ms;		/* error or error.details */
} edge_gateway_frame;

/* Builds the connect request with id request_id into a newly allocated
 * NUL-terminated string (*out, length *out_len, for the caller to free).
 * token NULL or "" sends no auth object; device NULL sends no device.
 * Returns EDGE_OK, EDGE_ERR_INVALID when a string is not valid UTF-8, or
 * EDGE_ERR_NOMEM. */
edge_err edge_gateway_frame_connect(const char *request_id, const char *token,
	const edge_gateway_device_proof *device, char **out, size_t *out_len);

/* Builds the chat.send request (deliver false) the same way. */
edge_err edge_gateway_frame_chat_send(const char *request_id,
	const char *session_key, const char *message,
	const char *idempotency_key, char **out, size_t *out_len);

/* Parses one incoming text message of len bytes into frame. Returns EDGE_OK,
 * or EDGE_ERR_INVALID with a short reason in why (why_size bytes, no frame
 * content) for anything but a JSON object with a known "type" and fields of
 * the expected types (a failed allocation counts as invalid too). A
 * connect.challenge event must carry a non-empty string payload.nonce. A
 * reply's "ok" alone decides whether it succeeded, even beside an error or a
 * payload. */
edge_err edge_gateway_frame_parse(const char *text, size_t len,
	edge_gateway_frame *frame, char *why, size_t why_size);

#endif

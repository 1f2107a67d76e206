/* Client of the OpenClaw gateway: one WebSocket exchange per call that
 * connects as "gateway-client" in mode "backend" and sends one chat message
 * to a session, within one time budget. */
#ifndef EDGE_GATEWAY_H
#define EDGE_GATEWAY_H

#include <stdbool.h>

#include "config.h"

/* Settings of the gateway client, from the environment (see config below). */
typedef struct edge_gateway_settings {
	unsigned timeout_ms;		/* GATEWAY_TIMEOUT_MS: whole budget of one exchange */
	const char *ca_file;		/* GATEWAY_CA_FILE or NULL: extra trust anchors */
	const char *device_key_file;	/* GATEWAY_DEVICE_KEY_FILE: Ed25519 identity, 0600 */
} edge_gateway_settings;

/* One gateway row (table gateways). */
typedef struct edge_gateway_target {
	const char *gateway_id;		/* uuid text, for log lines */
	const char *url;		/* gateways.url: ws:// or wss:// */
	const char *token;		/* gateways.token; NULL or "" means none */
	bool disable_device_pairing;	/* connect without a device identity */
	bool allow_insecure_tls;	/* skip certificate and host-name checks */
} edge_gateway_target;

typedef enum edge_gateway_status {
	EDGE_GATEWAY_OK = 0,
	EDGE_GATEWAY_UNREACHABLE,	/* TCP, TLS or WebSocket upgrade failed */
	EDGE_GATEWAY_TIMEOUT,		/* the budget ran out */
	EDGE_GATEWAY_REFUSED,		/* the gateway replied ok:false */
	EDGE_GATEWAY_PROTOCOL,		/* bad, oversized or unexpected frames; closed mid-exchange */
	EDGE_GATEWAY_LOCAL		/* local failure: memory, device key file, malformed URL */
} edge_gateway_status;

typedef struct edge_gateway_result {
	edge_gateway_status status;
	char reason[160];	/* short, safe in a response body and a log line; never a token */
	char error_code[48];	/* the gateway's error.code when refused, else "" */
	char run_status[32];	/* chat.send payload.status ("started", "in_flight"), else "" */
	int protocol;		/* negotiated protocol from hello-ok, 0 if none */
	bool retryable;		/* the gateway's last refusal was marked retryable */
	unsigned retry_after_ms;
	/* True when a refused chat.send names a run with this exchange's
	 * idempotency key, so the gateway accepted the key before. openclaw
	 * 2026.9.6 replies to a repeat after the run ended with ok:false, code
	 * UNAVAILABLE and the old run's status in run_status. */
	bool run_known;
} edge_gateway_result;

/* Maximum size of an incoming message after its fragments are reassembled.
 * A bigger one is EDGE_GATEWAY_PROTOCOL. Replies of this protocol are a few
 * hundred bytes. */
#define EDGE_GATEWAY_MAX_INCOMING (1024u * 1024u)
/* Maximum size of an outgoing request. A longer message is EDGE_GATEWAY_LOCAL. */
#define EDGE_GATEWAY_MAX_OUTGOING (1024u * 1024u)
/* Time to wait after the upgrade for a connect.challenge event before
 * connecting without a nonce. Gateways send it at once, so this covers one
 * slow round trip. It is capped at a third of the remaining budget. */
#define EDGE_GATEWAY_CHALLENGE_WAIT_MS 750u
/* The wait before a retry when the gateway gives no retryAfterMs. */
#define EDGE_GATEWAY_DEFAULT_RETRY_MS 500u

/* Runs one exchange within settings->timeout_ms: connect (TCP, TLS,
 * upgrade), an optional connect.challenge, then the connect request. Only the
 * connect request carries the token, and it carries a signed device unless
 * disable_device_pairing. Then sends chat.send with params sessionKey,
 * message, deliver=false and idempotencyKey. Retries a retryable UNAVAILABLE
 * within the budget. Logs one line per failure naming the gateway id and host. */
edge_gateway_status edge_gateway_chat_send(const edge_gateway_settings *settings,
	const edge_gateway_target *target, const char *session_key,
	const char *message, const char *idempotency_key, edge_gateway_result *result);

/* Runs the same exchange up to hello-ok only (for `mc-edge-admin gateway-check`). */
edge_gateway_status edge_gateway_probe(const edge_gateway_settings *settings,
	const edge_gateway_target *target, edge_gateway_result *result);

/* Short constant name of status for logs and JSON ("unreachable", "timeout", ...). */
const char *edge_gateway_status_str(edge_gateway_status status);

/* Fills settings from the GATEWAY_* fields of config (pointers into config). */
void edge_gateway_settings_from_config(const edge_config *config,
	edge_gateway_settings *settings);

#endif

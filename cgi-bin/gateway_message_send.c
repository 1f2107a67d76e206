/* gateway-message: the exchange with the gateway and its response. */
#include "gateway_message.h"
#include "gateway_url.h"
#include "log.h"
#include "response.h"

#include <stdio.h>

/* Writes the host of url into out for log lines, or "(invalid URL)";
 * edge_gateway_chat_send reports the reason of an invalid one. */
static void
url_host(const char *url, char *out, size_t out_size)
{
	edge_gateway_url parsed;
	char why[96];

	if (edge_gateway_url_parse(url, &parsed, why, sizeof(why)) != EDGE_OK) {
		snprintf(out, out_size, "(invalid URL)");
		return;
	}
	snprintf(out, out_size, "%s", parsed.host);
	edge_gateway_url_free(&parsed);
}

void
gateway_send_and_respond(edge_request *req,
    const edge_gateway_settings *settings, const gateway_access *access,
    const char *session_key, const char *content)
{
	char idempotency_key[EDGE_UUID_SIZE], host[EDGE_GATEWAY_HOST_SIZE];
	char detail[sizeof(((edge_gateway_result *)0)->reason) + 64];
	edge_gateway_target target = {
		.gateway_id = access->gateway_id,
		.url = access->gateway_url,
		.token = access->gateway_token,
		.disable_device_pairing = access->disable_device_pairing,
		.allow_insecure_tls = access->allow_insecure_tls,
	};
	edge_gateway_result result = { 0 };
	edge_gateway_status status;

	url_host(access->gateway_url, host, sizeof(host));
	if (!edge_uuid_generate(idempotency_key)) {
		edge_log(EDGE_LOG_ERROR, "gateway",
		    "random generator failed; nothing sent to gateway %s (%s)",
		    access->gateway_id, host);
		edge_respond_error(req, 500, "Internal server error.", NULL, 0);
		return;
	}

	status = edge_gateway_chat_send(settings, &target, session_key, content,
	    idempotency_key, &result);
	if (status == EDGE_GATEWAY_OK) {
		edge_log(EDGE_LOG_INFO, "gateway",
		    "message for session %s sent through gateway %s (%s), run %s "
		    "status %s", session_key, access->gateway_id, host,
		    idempotency_key, result.run_status[0] != '\0' ?
		    result.run_status : "(none)");
		edge_respond_json(req, 200, NULL, 0, "{\"ok\": true}");
		return;
	}

	edge_log(EDGE_LOG_WARNING, "gateway",
	    "message for session %s not sent through gateway %s (%s): %s%s%s",
	    session_key, access->gateway_id, host,
	    edge_gateway_status_str(status), result.reason[0] != '\0' ? ": " : "",
	    result.reason);
	/* A local failure (the device key file, memory, a gateway URL this
	 * client cannot use) is the server's to fix, not the gateway's. */
	if (status == EDGE_GATEWAY_LOCAL) {
		edge_respond_error(req, 500,
		    "Gateway client failed; see the server log.", NULL, 0);
		return;
	}
	if (result.reason[0] != '\0')
		snprintf(detail, sizeof(detail), "Gateway %s: %s",
		    edge_gateway_status_str(status), result.reason);
	else
		snprintf(detail, sizeof(detail), "Gateway %s.",
		    edge_gateway_status_str(status));
	edge_respond_error(req, 502, detail, NULL, 0);
}

/* mc-edge-dispatcher: one send through the gateway and its recorded outcome. */
#include "dispatcher.h"
#include "log.h"
#include "webhook_message.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Attempts to record an outcome before the row is left to its lease. */
#define RECORD_TRIES 3
#define RECORD_RETRY_US 500000

unsigned long long
dispatch_backoff_ms(const dispatch_settings *settings, unsigned attempts)
{
	unsigned long long delay = settings->backoff_base_ms;
	unsigned long long cut;

	for (unsigned i = 1; i < attempts && delay < settings->backoff_max_ms; i++)
		delay *= 2;
	if (delay > settings->backoff_max_ms)
		delay = settings->backoff_max_ms;

	/* The jitter is drawn per row, so rows that failed together spread
	 * out. delay is at most DISPATCH_BACKOFF_MAX_MS (a week), so cut + 1
	 * fits in 32 bits. */
	cut = delay * settings->jitter_percent / 100;
	delay -= arc4random_uniform((uint32_t)cut + 1);
	return delay;
}

/* Waits before the next attempt to record an outcome. Returns false after
 * the last attempt. */
static bool
record_again(int *tries)
{
	if (++*tries >= RECORD_TRIES)
		return false;
	usleep(RECORD_RETRY_US);
	return true;
}

/* Records a failed attempt and logs what happens to the row next. */
static edge_err
record_failure(edge_db *db, const dispatch_settings *settings,
    const outbox_row *row, const char *outcome, const char *error,
    unsigned retry_after_ms)
{
	unsigned long long delay = dispatch_backoff_ms(settings, row->attempts);
	edge_err err = EDGE_OK;
	bool dead = false;
	int tries = 0;

	if (retry_after_ms > delay)
		delay = retry_after_ms;
	while ((err = outbox_record_failure(db, row, outcome, error, delay,
	    settings, &dead)) != EDGE_OK && record_again(&tries))
		continue;
	if (err != EDGE_OK)
		return err;
	if (dead)
		edge_log(EDGE_LOG_ERROR, "deliver", "notification %s of payload %s "
		    "is dead after %u attempts; last error: %s: %s", row->id,
		    row->payload_id, row->attempts, outcome, error);
	else
		edge_log(EDGE_LOG_WARNING, "deliver", "notification %s of payload "
		    "%s: attempt %u failed (%s: %s); retrying in about %llu ms",
		    row->id, row->payload_id, row->attempts, outcome, error, delay);
	return EDGE_OK;
}

edge_err
dispatch_deliver(edge_db *db, const edge_gateway_settings *gateway,
    const dispatch_settings *settings, const outbox_row *row)
{
	const edge_webhook_ids ids = {
		row->board_id, row->webhook_id, row->payload_id,
	};
	const edge_gateway_target target = {
		.gateway_id = row->gateway_id,
		.url = row->gateway_url,
		.token = row->gateway_token,
		.disable_device_pairing = row->disable_device_pairing,
		.allow_insecure_tls = row->allow_insecure_tls,
	};
	edge_gateway_result result;
	edge_gateway_status status;
	edge_buf message = { 0 };
	char error[sizeof(result.reason) + sizeof(result.error_code) + 4];
	edge_err err = EDGE_OK;
	int tries = 0;

	if (edge_webhook_build_message(&message, &ids, row->board_name,
	    row->instruction, row->payload, row->payload_len) != EDGE_OK) {
		edge_buf_free(&message);
		edge_log(EDGE_LOG_ERROR, "deliver", "no memory to build the message "
		    "of notification %s", row->id);
		return record_failure(db, settings, row, "local",
		    "no memory to build the message", 0);
	}

	/* The payload id is the idempotency key: a repeated send after a crash
	 * carries the same key, and the gateway runs it once while it
	 * remembers the key. */
	memset(&result, 0, sizeof(result));
	status = edge_gateway_chat_send(gateway, &target, row->session_key,
	    message.data, row->payload_id, &result);
	edge_buf_free(&message);

	/* A refusal that names a run with this payload's key means the gateway
	 * accepted this notification before, and a crash interrupted the
	 * recording of that send. So the row is recorded as sent, not failed. */
	if (status == EDGE_GATEWAY_OK ||
	    (status == EDGE_GATEWAY_REFUSED && result.run_known)) {
		char answer[sizeof(result.run_status) + 16];

		if (status == EDGE_GATEWAY_OK)
			snprintf(answer, sizeof(answer), "%s",
			    result.run_status[0] != '\0' ? result.run_status :
			    "started");
		else
			snprintf(answer, sizeof(answer), "earlier run %s",
			    result.run_status[0] != '\0' ? result.run_status :
			    "known");
		while ((err = outbox_record_sent(db, row, answer)) != EDGE_OK &&
		    record_again(&tries))
			continue;
		if (err != EDGE_OK)
			return err;
		edge_log(EDGE_LOG_INFO, "deliver", "notification %s of payload %s "
		    "sent to session %s via gateway %s (attempt %u, answer %s)",
		    row->id, row->payload_id, row->session_key, row->gateway_id,
		    row->attempts, answer);
		return EDGE_OK;
	}

	/* The reason already names the gateway's error code, if any. */
	snprintf(error, sizeof(error), "%s", result.reason[0] != '\0' ?
	    result.reason : edge_gateway_status_str(status));
	return record_failure(db, settings, row, edge_gateway_status_str(status),
	    error, result.retry_after_ms);
}

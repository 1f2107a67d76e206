/* mc-edge-dispatcher: delivers the agent notifications that webhook-ingest
 * queues in edge_notification_outbox, through each board's gateway. */
#ifndef EDGE_DISPATCHER_H
#define EDGE_DISPATCHER_H

#include <stdbool.h>
#include <sys/un.h>

#include "config.h"
#include "db.h"
#include "gateway.h"

/* The dispatcher's own settings (DISPATCH_*), read at start; see settings.c
 * for each variable, its default and its bounds. */
typedef struct dispatch_settings {
	unsigned batch;				/* rows claimed at once */
	unsigned backoff_base_ms;		/* delay after the first failure */
	unsigned backoff_max_ms;		/* cap of the doubling delay */
	unsigned long long retry_span_ms;	/* from created_at to dead */
	unsigned jitter_percent;		/* delay cut by up to this share */
	unsigned lease_ms;			/* claim lifetime */
	edge_rate_rule throttle;		/* per session; count 0: off */
	unsigned poll_ms;			/* longest wait between claims */
	char wake_path[sizeof(((struct sockaddr_un *)0)->sun_path)];	/* "" = off */
} dispatch_settings;

/* Reads DISPATCH_* into settings and checks them against the gateway budget.
 * Returns EDGE_OK, or EDGE_ERR_CONFIG after a log line naming the variable. */
edge_err dispatch_settings_load(dispatch_settings *settings,
	unsigned gateway_timeout_ms);

/* One claimed row: every pointer points into the claim's PGresult. */
typedef struct outbox_row {
	const char *id;
	const char *claim_id;		/* NULL unless action is "send" */
	const char *action;		/* send, closed, dead, throttled */
	const char *reason;		/* why closed, dead or throttled */
	const char *payload_id;
	const char *board_id;
	const char *webhook_id;
	unsigned attempts;		/* including this one when sending */
	const char *session_key;
	const char *gateway_id;
	const char *gateway_url;
	const char *gateway_token;	/* NULL when the gateway has none */
	bool disable_device_pairing;
	bool allow_insecure_tls;
	const char *board_name;
	const char *instruction;	/* NULL when the webhook has none */
	const char *payload;		/* the stored json column text */
	size_t payload_len;
} outbox_row;

/* Statements prepared on the dispatcher's connection. */
extern const edge_db_statement outbox_statements[];
extern const size_t outbox_statement_count;

/* Claims up to settings->batch due rows (see edge_outbox_claim in
 * sql/schema.sql). On EDGE_OK *result contains one row per claimed or
 * decided outbox row, for outbox_read_row and PQclear. */
edge_err outbox_claim(edge_db *db, const dispatch_settings *settings,
	const char *worker, PGresult **result);

/* Reads row i of a claim result into row. */
void outbox_read_row(const PGresult *result, int i, outbox_row *row);

/* Records a send the gateway accepted. status is the chat.send reply's
 * payload.status ("started" or "in_flight"). */
edge_err outbox_record_sent(edge_db *db, const outbox_row *row,
	const char *status);

/* Records a failed attempt. The row is due again after delay_ms, but no
 * later than the end of its retry span, or becomes dead when the span has
 * passed; *dead is set to true in that case. */
edge_err outbox_record_failure(edge_db *db, const outbox_row *row,
	const char *outcome, const char *error, unsigned long long delay_ms,
	const dispatch_settings *settings, bool *dead);

/* Gives a claimed row back unsent: pending and due now, the attempt not
 * counted. */
edge_err outbox_release(edge_db *db, const outbox_row *row);

/* Sets *wait_ms to the time until the next row falls due (a pending row's
 * next_attempt_at or a sending row's lease end), 0 when one is due, or
 * leaves it unchanged when there is none. */
edge_err outbox_next_due(edge_db *db, long long *wait_ms);

/* Delivers one claimed row through its gateway and records the outcome.
 * Returns EDGE_OK once the outcome is recorded, or the store error when it
 * could not be (the lease then hands the row to the next claim). */
edge_err dispatch_deliver(edge_db *db, const edge_gateway_settings *gateway,
	const dispatch_settings *settings, const outbox_row *row);

/* Delay before retry number attempts + 1: backoff_base_ms doubled per
 * earlier attempt, capped at backoff_max_ms, less a random share of up to
 * jitter_percent. */
unsigned long long dispatch_backoff_ms(const dispatch_settings *settings,
	unsigned attempts);

#endif

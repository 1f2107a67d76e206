/* mc-edge-dispatcher: the statements on edge_notification_outbox. Each one
 * is a transaction of its own, so no row lock outlives a statement and no
 * transaction stays open while a message is sent. */
#include "dispatcher.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The current time as the table stores it: UTC without a time zone. */
#define NOW_UTC "(clock_timestamp() AT TIME ZONE 'utc')"

const edge_db_statement outbox_statements[] = {
	{
		"outbox_claim",
		"SELECT outbox_id, claim_id, action, reason, payload_id, board_id, "
		"webhook_id, attempts, session_key, gateway_id, gateway_url, "
		"gateway_token, disable_device_pairing, allow_insecure_tls, "
		"board_name, instruction, payload "
		"FROM edge_outbox_claim($1, $2, $3, $4, $5, $6)",
		6,
	},
	{
		/* Every outcome update names the claim, so a dispatcher whose
		 * lease ran out cannot overwrite the row's newer claim. */
		"outbox_sent",
		"UPDATE edge_notification_outbox SET state = 'sent', "
		"sent_at = " NOW_UTC ", last_outcome = 'sent', last_error = NULL, "
		"gateway_answer = $3, lease_until = NULL, updated_at = " NOW_UTC
		" WHERE id = $1 AND claim_id = $2 AND state = 'sending'",
		3,
	},
	{
		/* The span runs from created_at, or from the operator's last
		 * retry. The next attempt never falls after its end, so the
		 * last retry happens there and its failure makes the row
		 * dead. */
		"outbox_failed",
		"UPDATE edge_notification_outbox AS o SET "
		"state = CASE WHEN t.now_utc >= coalesce(o.retried_at, o.created_at) "
		"+ $6::float8 * interval '1 millisecond' THEN 'dead' "
		"ELSE 'pending' END, "
		"next_attempt_at = least(t.now_utc + $5::float8 * interval "
		"'1 millisecond', coalesce(o.retried_at, o.created_at) "
		"+ $6::float8 * interval '1 millisecond'), "
		"last_outcome = $3, last_error = $4, lease_until = NULL, "
		"updated_at = t.now_utc "
		"FROM (SELECT " NOW_UTC " AS now_utc) AS t "
		"WHERE o.id = $1 AND o.claim_id = $2 AND o.state = 'sending' "
		"RETURNING o.state",
		6,
	},
	{
		"outbox_release",
		"UPDATE edge_notification_outbox SET state = 'pending', "
		"attempts = greatest(attempts - 1, 0), next_attempt_at = " NOW_UTC
		", lease_until = NULL, last_outcome = 'released', updated_at = "
		NOW_UTC " WHERE id = $1 AND claim_id = $2 AND state = 'sending'",
		2,
	},
	{
		/* Both minimums come from the partial indexes on pending and
		 * sending rows. NULL when there is neither; negative when a
		 * row is already due. */
		"outbox_next_due",
		"SELECT ceil(extract(epoch FROM least("
		"(SELECT min(next_attempt_at) FROM edge_notification_outbox "
		"WHERE state = 'pending'), "
		"(SELECT min(lease_until) FROM edge_notification_outbox "
		"WHERE state = 'sending')) - " NOW_UTC ") * 1000)::bigint",
		0,
	},
};
const size_t outbox_statement_count =
    sizeof(outbox_statements) / sizeof(outbox_statements[0]);

edge_err
outbox_claim(edge_db *db, const dispatch_settings *settings,
    const char *worker, PGresult **result)
{
	char batch[16], lease[24], span[24], throttle_count[16], window[24];
	const char *values[6] = { worker, batch, lease, span, throttle_count,
	    window };

	snprintf(batch, sizeof(batch), "%u", settings->batch);
	snprintf(lease, sizeof(lease), "%u", settings->lease_ms);
	snprintf(span, sizeof(span), "%llu", settings->retry_span_ms);
	snprintf(throttle_count, sizeof(throttle_count), "%u",
	    settings->throttle.count);
	snprintf(window, sizeof(window), "%llu",
	    (unsigned long long)settings->throttle.window_s * 1000);
	return edge_db_run(db, "outbox_claim", 6, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, result);
}

/* Returns the text of a field, or NULL for SQL NULL. */
static const char *
field(const PGresult *result, int i, int column)
{
	return PQgetisnull(result, i, column) ? NULL :
	    PQgetvalue(result, i, column);
}

void
outbox_read_row(const PGresult *result, int i, outbox_row *row)
{
	const char *attempts = field(result, i, 7);

	memset(row, 0, sizeof(*row));
	row->id = field(result, i, 0);
	row->claim_id = field(result, i, 1);
	row->action = field(result, i, 2);
	row->reason = field(result, i, 3);
	row->payload_id = field(result, i, 4);
	row->board_id = field(result, i, 5);
	row->webhook_id = field(result, i, 6);
	row->attempts = attempts != NULL ? (unsigned)strtoul(attempts, NULL, 10) : 0;
	row->session_key = field(result, i, 8);
	row->gateway_id = field(result, i, 9);
	row->gateway_url = field(result, i, 10);
	row->gateway_token = field(result, i, 11);
	row->disable_device_pairing = PQgetvalue(result, i, 12)[0] == 't';
	row->allow_insecure_tls = PQgetvalue(result, i, 13)[0] == 't';
	row->board_name = field(result, i, 14);
	row->instruction = field(result, i, 15);
	row->payload = field(result, i, 16);
	row->payload_len = (size_t)PQgetlength(result, i, 16);
}

edge_err
outbox_record_sent(edge_db *db, const outbox_row *row, const char *status)
{
	const char *values[3] = { row->id, row->claim_id, status };
	PGresult *result;
	edge_err err;

	err = edge_db_run(db, "outbox_sent", 3, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	if (strcmp(PQcmdTuples(result), "1") != 0)
		edge_log(EDGE_LOG_WARNING, "outbox", "row %s was claimed again "
		    "before its send was recorded; the later claim records it",
		    row->id);
	PQclear(result);
	return EDGE_OK;
}

edge_err
outbox_record_failure(edge_db *db, const outbox_row *row, const char *outcome,
    const char *error, unsigned long long delay_ms,
    const dispatch_settings *settings, bool *dead)
{
	char delay[24], span[24];
	const char *values[6] = { row->id, row->claim_id, outcome, error, delay,
	    span };
	PGresult *result;
	edge_err err;

	*dead = false;
	snprintf(delay, sizeof(delay), "%llu", delay_ms);
	snprintf(span, sizeof(span), "%llu", settings->retry_span_ms);
	err = edge_db_run(db, "outbox_failed", 6, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	if (PQntuples(result) == 1)
		*dead = strcmp(PQgetvalue(result, 0, 0), "dead") == 0;
	else
		edge_log(EDGE_LOG_WARNING, "outbox", "row %s was claimed again "
		    "before its failed attempt was recorded", row->id);
	PQclear(result);
	return EDGE_OK;
}

edge_err
outbox_release(edge_db *db, const outbox_row *row)
{
	const char *values[2] = { row->id, row->claim_id };
	PGresult *result;
	edge_err err;

	err = edge_db_run(db, "outbox_release", 2, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	PQclear(result);
	return EDGE_OK;
}

edge_err
outbox_next_due(edge_db *db, long long *wait_ms)
{
	PGresult *result;
	edge_err err;

	err = edge_db_run(db, "outbox_next_due", 0, NULL, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	if (PQntuples(result) == 1 && !PQgetisnull(result, 0, 0)) {
		*wait_ms = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
		if (*wait_ms < 0)
			*wait_ms = 0;
	}
	PQclear(result);
	return EDGE_OK;
}

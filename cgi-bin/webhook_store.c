/* webhook-ingest: the lookup and the single-statement store. */
#include "webhook_ingest.h"
#include "hmac.h"
#include "log.h"
#include "ratelimit.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* The lookup's columns, shared by the plain lookup and the one folded into
 * the rate-limit decision. */
#define LOOKUP_COLUMNS \
	"b.name, w.id IS NOT NULL, w.enabled, w.secret, w.signature_header, " \
	"w.description "
#define LOOKUP_FROM \
	"FROM boards AS b " \
	"LEFT JOIN board_webhooks AS w ON w.id = $2 AND w.board_id = b.id " \
	"WHERE b.id = $1"

const edge_db_statement webhook_statements[] = {
	{
		"webhook_lookup",
		"SELECT " LOOKUP_COLUMNS LOOKUP_FROM,
		2,
	},
	{
		/* The rate-limit decision first; the lateral lookup runs only
		 * when it allowed the attempt. One round trip instead of two. */
		"webhook_limit_lookup",
		"SELECT h.allowed, h.retry_after_ms, h.remaining, h.reset_ms, "
		"l.* FROM edge_rate_limit_hit($3, $4, $5) AS h "
		"LEFT JOIN LATERAL (SELECT " LOOKUP_COLUMNS LOOKUP_FROM ") AS l "
		"ON h.allowed",
		5,
	},
	{
		/* Data-modifying CTEs run as one statement: one transaction, one
		 * durable commit, one round trip. */
		"webhook_store",
		"WITH payload AS ("
		" INSERT INTO board_webhook_payloads"
		" (id, board_id, webhook_id, payload, headers, source_ip,"
		"  content_type, received_at)"
		" VALUES ($1, $2, $3, $4::json, $5::json, $6, $7,"
		"  now() AT TIME ZONE 'utc')"
		" RETURNING id),"
		" raw AS ("
		" INSERT INTO edge_webhook_raw_body (payload_id, body)"
		" SELECT id, $8::bytea FROM payload WHERE $8::bytea IS NOT NULL),"
		" memory AS ("
		" INSERT INTO board_memory"
		" (id, board_id, content, tags, is_chat, source, created_at)"
		" SELECT $9, $2, $10, $11::json, false, 'webhook',"
		"  now() AT TIME ZONE 'utc' FROM payload),"
		" outbox AS ("
		" INSERT INTO edge_notification_outbox"
		" (id, payload_id, board_id, webhook_id)"
		" SELECT gen_random_uuid(), id, $2, $3 FROM payload)"
		" SELECT id FROM payload",
		11,
	},
};
const size_t webhook_statement_count =
    sizeof(webhook_statements) / sizeof(webhook_statements[0]);

/* Duplicates a result field, or returns NULL for SQL NULL. */
static char *
field_or_null(const PGresult *result, int column)
{
	if (PQgetisnull(result, 0, column))
		return NULL;
	return strdup(PQgetvalue(result, 0, column));
}

/* Fills row from the lookup columns starting at column first. */
static void
read_row(const PGresult *result, int first, webhook_row *row)
{
	memset(row, 0, sizeof(*row));
	if (PQntuples(result) == 0 || PQgetisnull(result, 0, first))
		return;
	row->board_found = true;
	row->webhook_found = PQgetvalue(result, 0, first + 1)[0] == 't';
	row->enabled = PQgetvalue(result, 0, first + 2)[0] == 't';
	row->board_name = field_or_null(result, first);
	row->secret = field_or_null(result, first + 3);
	row->signature_header = field_or_null(result, first + 4);
	row->description = field_or_null(result, first + 5);
}

edge_err
webhook_lookup(edge_db *db, const char *board_id, const char *webhook_id,
    webhook_row *row)
{
	const char *values[2] = { board_id, webhook_id };
	PGresult *result;
	edge_err err;

	memset(row, 0, sizeof(*row));
	err = edge_db_run(db, "webhook_lookup", 2, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	read_row(result, 0, row);
	PQclear(result);
	return EDGE_OK;
}

edge_err
webhook_limit_and_lookup(edge_db *db, const char *board_id,
    const char *webhook_id, const char *key, const edge_rate_rule *rule,
    unsigned timeout_ms, edge_rate_decision *decision, webhook_row *row)
{
	char count[16], window_ms[24];
	const char *values[5] = { board_id, webhook_id, key, count, window_ms };
	PGresult *result;
	edge_err err;

	memset(row, 0, sizeof(*row));
	snprintf(count, sizeof(count), "%u", rule->count);
	snprintf(window_ms, sizeof(window_ms), "%llu",
	    (unsigned long long)rule->window_s * 1000);
	err = edge_db_run(db, "webhook_limit_lookup", 5, values, NULL, timeout_ms,
	    &result);
	if (err != EDGE_OK)
		return err;
	if (!edge_limiter_postgres_read(result, 0, rule, decision)) {
		PQclear(result);
		return EDGE_ERR_STORE;
	}
	if (decision->allowed)
		read_row(result, 4, row);
	PQclear(result);
	return EDGE_OK;
}

void
webhook_row_free(webhook_row *row)
{
	/* The secret leaves no copy behind in freed memory. */
	if (row->secret != NULL)
		OPENSSL_cleanse(row->secret, strlen(row->secret));
	free(row->secret);
	free(row->signature_header);
	free(row->description);
	free(row->board_name);
	memset(row, 0, sizeof(*row));
}

edge_err
webhook_store(edge_db *db, const webhook_delivery *delivery)
{
	char *raw_hex = NULL;
	const char *values[11];
	PGresult *result;
	edge_err err;

	/* bytea's text input takes \x followed by hex digits. */
	if (delivery->payload->invalid_utf8) {
		/* The body is at most WEBHOOK_MAX_PAYLOAD_BYTES (1 GiB), so this cannot wrap. */
		raw_hex = malloc(2 * delivery->raw_body_len + 3);
		if (raw_hex == NULL)
			return EDGE_ERR_NOMEM;
		memcpy(raw_hex, "\\x", 2);
		edge_hex_encode((const unsigned char *)delivery->raw_body,
		    delivery->raw_body_len, raw_hex + 2);
	}

	values[0] = delivery->payload_id;
	values[1] = delivery->board_id;
	values[2] = delivery->webhook_id;
	values[3] = delivery->payload->json;
	values[4] = delivery->headers_json;
	values[5] = delivery->source_ip;
	values[6] = delivery->content_type;
	values[7] = raw_hex;
	values[8] = delivery->memory_id;
	values[9] = delivery->memory_content;
	values[10] = delivery->memory_tags_json;

	err = edge_db_run(db, "webhook_store", 11, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	free(raw_hex);
	if (err != EDGE_OK)
		return err;
	PQclear(result);
	return EDGE_OK;
}

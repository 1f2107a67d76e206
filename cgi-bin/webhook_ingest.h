/* webhook-ingest: the parts of the endpoint shared between its files. */
#ifndef WEBHOOK_INGEST_H
#define WEBHOOK_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "db.h"
#include "payload.h"
#include "ratelimit.h"
#include "request.h"
#include "uuid.h"

/* The webhook row and its board, as the lookup found them. */
typedef struct webhook_row {
	bool board_found;
	bool webhook_found;
	bool enabled;
	char *secret;			/* NULL or "" when signatures are off */
	char *signature_header;		/* NULL when the defaults apply */
	char *description;
	char *board_name;
} webhook_row;

/* Everything stored for one accepted delivery, in one transaction. */
typedef struct webhook_delivery {
	char board_id[EDGE_UUID_SIZE];
	char webhook_id[EDGE_UUID_SIZE];
	char payload_id[EDGE_UUID_SIZE];
	char memory_id[EDGE_UUID_SIZE];
	const edge_payload *payload;
	const char *raw_body;		/* kept only when payload->invalid_utf8 */
	size_t raw_body_len;
	const char *headers_json;
	const char *source_ip;
	const char *content_type;	/* NULL when absent */
	const char *memory_content;
	const char *memory_tags_json;
} webhook_delivery;

/* Statements prepared on the endpoint's connection (the limiter's included). */
extern const edge_db_statement webhook_statements[];
extern const size_t webhook_statement_count;

/* Looks up the board and the webhook on it. Returns EDGE_OK (with the found
 * flags set), or a store error already logged. */
edge_err webhook_lookup(edge_db *db, const char *board_id,
	const char *webhook_id, webhook_row *row);

/* Decides the rate limit in PostgreSQL and, only when it allows the attempt,
 * looks up the board and webhook in the same statement. Returns EDGE_OK with
 * decision set (and row when allowed), or a store error for the caller's
 * fail-open policy. */
edge_err webhook_limit_and_lookup(edge_db *db, const char *board_id,
	const char *webhook_id, const char *key, const edge_rate_rule *rule,
	unsigned timeout_ms, edge_rate_decision *decision, webhook_row *row);
void webhook_row_free(webhook_row *row);

/* Stores the payload row, the raw body when needed, the board memory row and
 * the notification outbox row in one statement, so all or none are kept. */
edge_err webhook_store(edge_db *db, const webhook_delivery *delivery);

/* Builds the captured headers as a JSON object: content-type, user-agent and
 * every x-* header, lower-cased, without signature headers (the known ones
 * and the webhook's own). Values that are not UTF-8 are escaped. */
void webhook_capture_headers(const edge_request *req,
	const char *own_signature_header, edge_buf *out);

/* Returns value when it is UTF-8 (or NULL), else its \xNN-escaped form
 * written into out, for columns that take only UTF-8 text. */
const char *webhook_printable_header(const char *value, char *out,
	size_t out_size);

/* Builds the board memory text: ids and inspect path, then the webhook's
 * description and a bounded payload preview inside the external-data fence. */
void webhook_note_content(const webhook_delivery *delivery,
	const char *description, edge_buf *out);

/* Builds the memory row's tags as a JSON array. */
void webhook_note_tags(const webhook_delivery *delivery, edge_buf *out);

#endif

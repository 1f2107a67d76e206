/* bare-insert: the baseline of bench/webhook-ingest.sh.
 *
 * A FastCGI responder built on the same main loop, request and database code
 * as webhook-ingest (common/serve.h, common/db.h). Per request it does only
 * the work that every stored webhook needs. It reads the body, inserts it as
 * one row of board_webhook_payloads through a prepared statement in its own
 * transaction, and responds 202. The commit follows the server's
 * synchronous_commit, which is on by default, so each commit waits for its
 * WAL flush. There is no rate limit, no board or webhook lookup, no signature
 * check, no payload decoding and no memory or outbox row, so the gap between
 * the two throughputs is the cost of those.
 *
 * Route: POST /api/v1/boards/{board_id}/webhooks/{webhook_id}, the ids in
 * canonical or 32-digit form. The body must be JSON, because PostgreSQL
 * checks it on its way into the json column, and any other body fails the
 * insert with 503. An empty body is stored as {}. The one setting is
 * DATABASE_URL, read as webhook-ingest reads it. */
#include "db.h"
#include "log.h"
#include "response.h"
#include "serve.h"
#include "uuid.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "bare-insert"

static const edge_db_statement insert_statement = {
	"bare_insert",
	"INSERT INTO board_webhook_payloads"
	" (id, board_id, webhook_id, payload, headers, source_ip, content_type,"
	"  received_at)"
	" VALUES ($1, $2, $3, $4::json, '{\"content-type\": \"application/json\"}',"
	"  $5, $6, now() AT TIME ZONE 'utc')",
	6,
};

static edge_err
bare_init(const edge_config *config, void **state_out)
{
	edge_db *db = malloc(sizeof(*db));

	if (db == NULL)
		return EDGE_ERR_NOMEM;
	edge_db_init(db, config->database_url, &insert_statement, 1);
	*state_out = db;
	return EDGE_OK;
}

static void
bare_finish(void *state)
{
	edge_db_close(state);
	free(state);
}

/* Parses the two ids of "/api/v1/boards/{board}/webhooks/{webhook}" into
 * canonical form. Returns false for any other path. */
static bool
parse_route(const char *path, char board_id[EDGE_UUID_SIZE],
    char webhook_id[EDGE_UUID_SIZE])
{
	static const char prefix[] = "/api/v1/boards/";
	static const char middle[] = "/webhooks/";
	const char *board, *webhook;
	size_t board_len, webhook_len;

	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	board = path + sizeof(prefix) - 1;
	board_len = strcspn(board, "/");
	if (strncmp(board + board_len, middle, sizeof(middle) - 1) != 0)
		return false;
	webhook = board + board_len + sizeof(middle) - 1;
	webhook_len = strlen(webhook);
	return edge_uuid_parse(board, board_len, board_id) &&
	    edge_uuid_parse(webhook, webhook_len, webhook_id);
}

static void
bare_handle(edge_request *req, const edge_config *config, void *state)
{
	char path[EDGE_PATH_MAX], board_id[EDGE_UUID_SIZE];
	char webhook_id[EDGE_UUID_SIZE], payload_id[EDGE_UUID_SIZE];
	char response_body[192];	/* the fixed text and three UUIDs */
	const char *method = edge_request_param(req, "REQUEST_METHOD");
	const char *remote_addr = edge_request_param(req, "REMOTE_ADDR");
	const char *values[6];
	size_t declared_len, body_len = 0;
	bool declared;
	char *body = NULL;
	PGresult *result;

	if (!edge_request_path(req, path, sizeof(path)) ||
	    !parse_route(path, board_id, webhook_id)) {
		edge_respond_error(req, 404, "Not Found", NULL, 0);
		return;
	}
	if (method == NULL || strcmp(method, "POST") != 0) {
		edge_respond_error(req, 405, "Method Not Allowed",
		    (const edge_header[]){ { "Allow", "POST" } }, 1);
		return;
	}
	if (edge_request_content_length(req, &declared, &declared_len) != EDGE_OK ||
	    edge_request_read_body(req, declared, declared_len,
	    config->webhook_max_payload_bytes, &body, &body_len) != EDGE_OK) {
		edge_log(EDGE_LOG_WARNING, "request",
		    "invalid Content-Length or unreadable body (limit %zu bytes)",
		    config->webhook_max_payload_bytes);
		edge_respond_error(req, 400, "Could not read the request body.",
		    NULL, 0);
		return;
	}
	if (!edge_uuid_generate(payload_id)) {
		edge_log(EDGE_LOG_ERROR, "store", "random generator failed");
		edge_respond_error(req, 503, "Service temporarily unavailable.",
		    NULL, 0);
		free(body);
		return;
	}

	values[0] = payload_id;
	values[1] = board_id;
	values[2] = webhook_id;
	values[3] = body_len > 0 ? body : "{}";
	values[4] = remote_addr;
	values[5] = edge_request_param(req, "CONTENT_TYPE");
	if (edge_db_run(state, insert_statement.name, 6, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK) {
		/* edge_db_run has logged the failure with its SQLSTATE. */
		edge_respond_error(req, 503, "Service temporarily unavailable.",
		    NULL, 0);
		free(body);
		return;
	}
	PQclear(result);
	free(body);

	snprintf(response_body, sizeof(response_body),
	    "{\"ok\": true, \"board_id\": \"%s\", \"webhook_id\": \"%s\", "
	    "\"payload_id\": \"%s\"}", board_id, webhook_id, payload_id);
	edge_respond_json(req, 202, NULL, 0, response_body);
}

int
main(void)
{
	static const edge_app app = {
		.name = PROGRAM,
		.needs = EDGE_NEED_DATABASE,
		.init = bare_init,
		.handle = bare_handle,
		.finish = bare_finish,
	};

	return edge_serve(&app);
}

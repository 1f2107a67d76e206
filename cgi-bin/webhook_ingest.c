/* webhook-ingest: POST /api/v1/boards/{board_id}/webhooks/{webhook_id}.
 *
 * Checks run cheapest first, each only when the earlier ones passed: method
 * (405), rate limit (429), id syntax (404), declared length (400/413), board
 * and webhook lookup (404), disabled (410), body read (400/413), signature
 * (403). Then one statement stores the payload, its board memory row and the
 * agent notification outbox row, and the response is 202. */
#include "webhook_ingest.h"
#include "log.h"
#include "outbox_wake.h"
#include "ratelimit.h"
#include "response.h"
#include "serve.h"
#include "signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENDPOINT "webhook-ingest"
/* Seconds a client is asked to wait when PostgreSQL is unavailable. */
#define STORE_RETRY_AFTER "5"

typedef struct ingest_state {
	edge_db db;
	edge_limiter *limiter;
	edge_db_statement statements[8];
	int wake_fd;			/* datagram socket, -1 until first used */
	char wake_path[108];		/* "" when dispatcher wake-ups are off */
} ingest_state;

static const edge_header allow_post[] = { { "Allow", "POST" } };
static const edge_header store_retry[] = { { "Retry-After", STORE_RETRY_AFTER } };

static edge_err
ingest_init(const edge_config *config, void **state_out)
{
	ingest_state *state = calloc(1, sizeof(*state));
	size_t count = 0;
	edge_err err;

	if (state == NULL)
		return EDGE_ERR_NOMEM;
	for (size_t i = 0; i < webhook_statement_count; i++)
		state->statements[count++] = webhook_statements[i];
	state->statements[count++] = edge_limiter_postgres_statement;
	edge_db_init(&state->db, config->database_url, state->statements, count);
	state->wake_fd = -1;
	if (edge_outbox_wake_path(state->wake_path, sizeof(state->wake_path)) != 0)
		edge_log(EDGE_LOG_WARNING, "config", "DISPATCH_WAKE_SOCKET is "
		    "longer than a unix socket path allows; dispatcher wake-ups "
		    "are off, so notifications wait for its next poll");

	err = edge_limiter_open(config, &state->db, FCGX_IsCGI(), &state->limiter);
	if (err != EDGE_OK) {
		free(state);
		return err;
	}
	*state_out = state;
	return EDGE_OK;
}

static void
ingest_finish(void *opaque)
{
	ingest_state *state = opaque;

	edge_limiter_close(state->limiter);
	edge_db_close(&state->db);
	if (state->wake_fd >= 0)
		close(state->wake_fd);
	free(state);
}

/* Splits "/api/v1/boards/{board}/webhooks/{webhook}" into its two raw
 * segments; false when the path has any other shape. */
static bool
match_route(const char *path, const char **board, size_t *board_len,
    const char **webhook, size_t *webhook_len)
{
	static const char prefix[] = "/api/v1/boards/";
	static const char middle[] = "/webhooks/";
	const char *p;

	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	*board = path + sizeof(prefix) - 1;
	*board_len = strcspn(*board, "/");
	p = *board + *board_len;
	if (*board_len == 0 || strncmp(p, middle, sizeof(middle) - 1) != 0)
		return false;
	*webhook = p + sizeof(middle) - 1;
	*webhook_len = strcspn(*webhook, "/");
	return *webhook_len > 0 && (*webhook)[*webhook_len] == '\0';
}

static void
respond_store_unavailable(edge_request *req)
{
	edge_respond_error(req, 503,
	    "Service temporarily unavailable; retry later.", store_retry, 1);
}

/* Records the attempt and decides it. With the PostgreSQL store and every
 * free check passed, the lookup rides in the same statement and *looked_up
 * is true when row was filled. Returns false after responding 503. */
static bool
decide_rate_limit(edge_request *req, const edge_config *config,
    ingest_state *state, const char *key, const webhook_delivery *delivery,
    bool fold_lookup, edge_rate_decision *decision, webhook_row *row,
    bool *looked_up)
{
	const edge_rate_rule *rule = &config->limit_webhook_ingest;
	edge_limiter *limiter = state->limiter;
	edge_err err;

	*looked_up = false;
	if (!fold_lookup || !edge_limiter_uses_database(limiter)) {
		if (edge_limiter_check(limiter, key, rule, decision) == EDGE_OK)
			return true;
		respond_store_unavailable(req);
		return false;
	}

	err = webhook_limit_and_lookup(&state->db, delivery->board_id,
	    delivery->webhook_id, key, rule, config->limiter_timeout_ms,
	    decision, row);
	if (err == EDGE_OK) {
		*looked_up = decision->allowed;
		return true;
	}
	snprintf(limiter->failure, sizeof(limiter->failure),
	    "rate limit with lookup %s (limit %u ms)", edge_err_str(err),
	    config->limiter_timeout_ms);
	if (edge_limiter_fail(limiter, rule, err, decision) == EDGE_OK)
		return true;
	respond_store_unavailable(req);
	return false;
}

/* Reads the body after the declared-length checks; false after responding. */
static bool
read_body(edge_request *req, const edge_config *config, bool declared,
    size_t declared_len, char **body, size_t *body_len)
{
	edge_err err = edge_request_read_body(req, declared, declared_len,
	    config->webhook_max_payload_bytes, body, body_len);

	switch (err) {
	case EDGE_OK:
		return true;
	case EDGE_ERR_SHORT:
		edge_log(EDGE_LOG_WARNING, "request",
		    "body ended before its declared %zu bytes", declared_len);
		edge_respond_error(req, 400,
		    "Request body is shorter than Content-Length.", NULL, 0);
		return false;
	case EDGE_ERR_TOO_LARGE:
		edge_log(EDGE_LOG_WARNING, "request",
		    "body exceeds WEBHOOK_MAX_PAYLOAD_BYTES=%zu",
		    config->webhook_max_payload_bytes);
		edge_respond_error(req, 413, "Payload too large.", NULL, 0);
		return false;
	case EDGE_ERR_NOMEM:
		edge_log(EDGE_LOG_ERROR, "request", "no memory for the body");
		respond_store_unavailable(req);
		return false;
	default:
		edge_log(EDGE_LOG_WARNING, "request", "reading the body failed");
		edge_respond_error(req, 400, "Could not read the request body.",
		    NULL, 0);
		return false;
	}
}

/* Checks the signature when the webhook has a secret; false after responding. */
static bool
check_signature(edge_request *req, const webhook_row *row, const char *body,
    size_t body_len)
{
	bool own_header = row->signature_header != NULL &&
	    row->signature_header[0] != '\0';
	const char *value = NULL, *header = NULL;
	edge_signature_result result;

	/* An empty secret means signatures are off, as upstream treats it. */
	if (row->secret == NULL || row->secret[0] == '\0')
		return true;

	if (own_header) {
		header = row->signature_header;
		value = edge_request_header(req, header);
	}
	for (size_t i = 0; !own_header && value == NULL &&
	    i < edge_signature_default_header_count; i++) {
		header = edge_signature_default_headers[i];
		value = edge_request_header(req, header);
	}
	if (value == NULL) {
		edge_log(EDGE_LOG_WARNING, "signature",
		    "signature header missing (expected %s)", own_header ?
		    row->signature_header :
		    "X-Hub-Signature-256 or X-Webhook-Signature");
		edge_respond_error(req, 403, "Missing webhook signature header.",
		    NULL, 0);
		return false;
	}

	result = edge_signature_check_sha256(value, row->secret,
	    strlen(row->secret), body, body_len);
	if (result == EDGE_SIGNATURE_VALID)
		return true;
	edge_log(EDGE_LOG_WARNING, "signature", "%s in %s",
	    result == EDGE_SIGNATURE_MALFORMED ? "malformed signature" :
	    "signature mismatch", header);
	edge_respond_error(req, 403, "Invalid webhook signature.", NULL, 0);
	return false;
}

/* Decodes, fences and stores an accepted delivery, then responds 202. */
static void
store_and_respond(edge_request *req, ingest_state *state,
    webhook_delivery *delivery, const webhook_row *row, const char *body,
    size_t body_len)
{
	edge_payload payload;
	edge_buf headers = { 0 }, content = { 0 }, tags = { 0 }, answer = { 0 };

	if (edge_payload_decode(body, body_len, delivery->content_type,
	    &payload) != EDGE_OK) {
		edge_log(EDGE_LOG_ERROR, "store", "no memory to decode the payload");
		respond_store_unavailable(req);
		return;
	}
	delivery->payload = &payload;
	delivery->raw_body = body;
	delivery->raw_body_len = body_len;

	if (!edge_uuid_generate(delivery->payload_id) ||
	    !edge_uuid_generate(delivery->memory_id)) {
		edge_log(EDGE_LOG_ERROR, "store", "random generator failed");
		respond_store_unavailable(req);
		goto done;
	}
	webhook_capture_headers(req, row->signature_header, &headers);
	webhook_note_content(delivery, row->description, &content);
	webhook_note_tags(delivery, &tags);
	if (headers.err != EDGE_OK || content.err != EDGE_OK ||
	    tags.err != EDGE_OK) {
		edge_log(EDGE_LOG_ERROR, "store", "no memory to build the rows");
		respond_store_unavailable(req);
		goto done;
	}
	delivery->headers_json = headers.data;
	delivery->memory_content = content.data;
	delivery->memory_tags_json = tags.data;

	if (webhook_store(&state->db, delivery) != EDGE_OK) {
		respond_store_unavailable(req);
		goto done;
	}
	/* After the commit, so the dispatcher finds the row it is woken for.
	 * A NOTIFY inside the statement would do the same but takes
	 * PostgreSQL's global notification lock at every commit. */
	edge_outbox_wake_send(&state->wake_fd, state->wake_path);
	edge_log(EDGE_LOG_INFO, "store",
	    "stored payload %s for webhook %s on board %s (%zu bytes%s)",
	    delivery->payload_id, delivery->webhook_id, delivery->board_id,
	    body_len, payload.invalid_utf8 ? ", not UTF-8: raw bytes kept" : "");
	edge_buf_appendf(&answer,
	    "{\"ok\": true, \"board_id\": \"%s\", \"webhook_id\": \"%s\", "
	    "\"payload_id\": \"%s\"}", delivery->board_id, delivery->webhook_id,
	    delivery->payload_id);
	if (answer.err != EDGE_OK)
		respond_store_unavailable(req);
	else
		edge_respond_json(req, 202, NULL, 0, answer.data);

done:
	edge_payload_free(&payload);
	edge_buf_free(&headers);
	edge_buf_free(&content);
	edge_buf_free(&tags);
	edge_buf_free(&answer);
}

/* Checks the declared length, before any lookup or read. Returns 0 when it
 * is acceptable, else the status to respond with (400 or 413) once the rate limit
 * has counted the attempt. */
static int
declared_length_status(const edge_request *req, const edge_config *config,
    bool *declared, size_t *declared_len)
{
	if (edge_request_content_length(req, declared, declared_len) != EDGE_OK)
		return 400;
	if (*declared && *declared_len > config->webhook_max_payload_bytes)
		return 413;
	return 0;
}

static void
respond_length_refused(edge_request *req, const edge_config *config,
    int status, size_t declared_len)
{
	if (status == 400) {
		edge_log(EDGE_LOG_WARNING, "request", "invalid Content-Length");
		edge_respond_error(req, 400, "Invalid Content-Length header.",
		    NULL, 0);
		return;
	}
	edge_log(EDGE_LOG_WARNING, "request",
	    "declared length %zu exceeds WEBHOOK_MAX_PAYLOAD_BYTES=%zu",
	    declared_len, config->webhook_max_payload_bytes);
	edge_respond_error(req, 413, "Payload too large.", NULL, 0);
}

/* Responds 404 or 410 for a webhook that cannot take deliveries, and returns false then. */
static bool
check_webhook_usable(edge_request *req, const webhook_row *row,
    const webhook_delivery *delivery)
{
	if (!row->board_found || !row->webhook_found) {
		edge_log(EDGE_LOG_INFO, "request", "%s %s not found",
		    row->board_found ? "webhook" : "board",
		    row->board_found ? delivery->webhook_id : delivery->board_id);
		edge_respond_error(req, 404, row->board_found ?
		    "Webhook not found." : "Board not found.", NULL, 0);
		return false;
	}
	if (!row->enabled) {
		edge_log(EDGE_LOG_INFO, "request", "webhook %s is disabled",
		    delivery->webhook_id);
		edge_respond_error(req, 410, "Webhook is disabled.", NULL, 0);
		return false;
	}
	return true;
}

static void
ingest_handle(edge_request *req, const edge_config *config, void *opaque)
{
	ingest_state *state = opaque;
	webhook_delivery delivery = { 0 };
	webhook_row row = { 0 };
	edge_rate_decision decision;
	char path[EDGE_PATH_MAX], source_ip[EDGE_IP_TEXT_SIZE];
	char key[EDGE_RATE_KEY_SIZE], content_type[1024];
	const char *method = edge_request_param(req, "REQUEST_METHOD");
	const char *board_raw, *webhook_raw;
	size_t board_len, webhook_len, declared_len, body_len = 0;
	bool board_ok, webhook_ok, ids_ok, declared, looked_up;
	int length_status;
	char *body = NULL;
	edge_ip client;

	if (!edge_request_path(req, path, sizeof(path)) ||
	    !match_route(path, &board_raw, &board_len, &webhook_raw,
	    &webhook_len)) {
		edge_respond_error(req, 404, "Not Found", NULL, 0);
		return;
	}
	if (method == NULL || strcmp(method, "POST") != 0) {
		edge_respond_error(req, 405, "Method Not Allowed", allow_post, 1);
		return;
	}

	/* The free checks are evaluated now but answered only after the rate
	 * limit, which comes first and counts every request reaching it. */
	edge_request_client_ip(req, config, &client);
	board_ok = edge_uuid_parse(board_raw, board_len, delivery.board_id);
	webhook_ok = edge_uuid_parse(webhook_raw, webhook_len,
	    delivery.webhook_id);
	ids_ok = board_ok && webhook_ok;
	edge_rate_key(ENDPOINT, &client,
	    config->webhook_key != EDGE_WEBHOOK_KEY_IP_WEBHOOK ? NULL :
	    delivery.webhook_id[0] != '\0' ? delivery.webhook_id : "invalid", key);
	length_status = declared_length_status(req, config, &declared,
	    &declared_len);

	if (!decide_rate_limit(req, config, state, key, &delivery,
	    ids_ok && length_status == 0, &decision, &row, &looked_up))
		return;
	if (!decision.allowed) {
		edge_respond_rate_limited(req, key, decision.retry_after_s);
		goto done;
	}
	if (!ids_ok) {
		edge_respond_error(req, 404, !board_ok ? "Board not found." :
		    "Webhook not found.", NULL, 0);
		goto done;
	}
	if (length_status != 0) {
		respond_length_refused(req, config, length_status, declared_len);
		goto done;
	}

	if (!looked_up && webhook_lookup(&state->db, delivery.board_id,
	    delivery.webhook_id, &row) != EDGE_OK) {
		respond_store_unavailable(req);
		goto done;
	}
	if (!check_webhook_usable(req, &row, &delivery) ||
	    !read_body(req, config, declared, declared_len, &body, &body_len) ||
	    !check_signature(req, &row, body, body_len))
		goto done;

	edge_ip_format(&client, source_ip);
	delivery.source_ip = source_ip;
	delivery.content_type = webhook_printable_header(
	    edge_request_param(req, "CONTENT_TYPE"), content_type,
	    sizeof(content_type));
	store_and_respond(req, state, &delivery, &row, body, body_len);

done:
	free(body);
	webhook_row_free(&row);
}

int
main(void)
{
	static const edge_app app = {
		.name = ENDPOINT,
		.needs = EDGE_NEED_DATABASE | EDGE_NEED_RATE_LIMIT,
		.init = ingest_init,
		.handle = ingest_handle,
		.finish = ingest_finish,
	};

	return edge_serve(&app);
}

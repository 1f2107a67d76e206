/* gateway-message: POST /api/v1/gateways/sessions/{session_id}/message
 * ?board_id=..., a user's message to a gateway session.
 *
 * Each check runs only when the earlier ones passed. They run in this
 * order: route (404), method (405), rate limit (429) and credentials (401).
 * Then come organization membership with role owner or admin (403),
 * board_id and session_id (422), board (404), and board in the caller's
 * organization and write access (403). Last come body size (413) and shape
 * (422), and the board's gateway (422). One statement
 * resolves everything the checks after the credentials need. Then the
 * message goes to the gateway as chat.send, and the response is 200
 * {"ok": true}, or 502 when the gateway refuses, times out or cannot be
 * reached. */
#include "gateway_message.h"
#include "log.h"
#include "ratelimit.h"
#include "response.h"
#include "serve.h"
#include "user_auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENDPOINT "gateway-message"
/* Retry-After seconds sent when PostgreSQL is unavailable. */
#define STORE_RETRY_AFTER "5"
/* The body contains one chat message. 64 KiB is ample for one and keeps a
 * request's memory small. GATEWAY_MESSAGE_MAX_BODY_BYTES changes it. */
#define MAX_BODY_DEFAULT 65536
/* lighttpd.conf's own body limit follows WEBHOOK_MAX_PAYLOAD_BYTES (1 MiB
 * by default, doubled), so the endpoint's limit stays at or below 1 MiB. */
#define MAX_BODY_LIMIT 1048576

typedef struct gateway_state {
	edge_db db;
	edge_limiter *limiter;
	edge_user_auth *auth;
	edge_gateway_settings gateway;
	size_t max_body_bytes;		/* GATEWAY_MESSAGE_MAX_BODY_BYTES */
	edge_db_statement statements[4];
} gateway_state;

/* The request's parts that the checks after the lookup use. */
typedef struct gateway_message_request {
	char session_key[GATEWAY_SESSION_KEY_MAX + 1];
	bool session_key_ok;
	char board_id[EDGE_UUID_SIZE];
	gateway_board_id_state board_id_state;
	char clerk_user_id[EDGE_USER_ID_SIZE];
} gateway_message_request;

static const edge_header allow_post[] = { { "Allow", "POST" } };
static const edge_header store_retry[] = { { "Retry-After", STORE_RETRY_AFTER } };
static const edge_header bearer_challenge[] = { { "WWW-Authenticate", "Bearer" } };

/* Reads GATEWAY_MESSAGE_MAX_BODY_BYTES. Returns EDGE_OK or EDGE_ERR_CONFIG
 * after logging what to fix. */
static edge_err
load_max_body(size_t *max_body_bytes)
{
	const char *text = getenv("GATEWAY_MESSAGE_MAX_BODY_BYTES");
	size_t len;
	unsigned long value;

	*max_body_bytes = MAX_BODY_DEFAULT;
	if (text == NULL || text[0] == '\0')
		return EDGE_OK;
	len = strlen(text);
	value = len <= 7 && strspn(text, "0123456789") == len ?
	    strtoul(text, NULL, 10) : 0;
	if (value == 0 || value > MAX_BODY_LIMIT) {
		edge_log(EDGE_LOG_ERROR, "config",
		    "GATEWAY_MESSAGE_MAX_BODY_BYTES must be a whole number of "
		    "bytes from 1 to %d", MAX_BODY_LIMIT);
		return EDGE_ERR_CONFIG;
	}
	*max_body_bytes = value;
	return EDGE_OK;
}

static void
gateway_finish(void *opaque)
{
	gateway_state *state = opaque;

	if (state == NULL)
		return;
	if (state->auth != NULL)
		edge_user_auth_free(state->auth);
	edge_limiter_close(state->limiter);
	edge_db_close(&state->db);
	free(state);
}

static edge_err
gateway_init(const edge_config *config, void **state_out)
{
	gateway_state *state = calloc(1, sizeof(*state));
	size_t count = 0;
	edge_err err;

	if (state == NULL)
		return EDGE_ERR_NOMEM;
	if ((err = load_max_body(&state->max_body_bytes)) != EDGE_OK) {
		free(state);
		return err;
	}
	edge_gateway_settings_from_config(config, &state->gateway);

	for (size_t i = 0; i < gateway_statement_count; i++)
		state->statements[count++] = gateway_statements[i];
	state->statements[count++] = edge_limiter_postgres_statement;
	edge_db_init(&state->db, config->database_url, state->statements, count);

	err = edge_limiter_open(config, &state->db, FCGX_IsCGI(), &state->limiter);
	if (err == EDGE_OK)
		err = edge_user_auth_init(config, &state->auth);
	if (err != EDGE_OK) {
		gateway_finish(state);
		return err;
	}
	*state_out = state;
	return EDGE_OK;
}

static void
respond_store_unavailable(edge_request *req)
{
	edge_respond_error(req, 503,
	    "Service temporarily unavailable; retry later.", store_retry, 1);
}

/* Records the attempt. Returns false after responding 429 or 503. */
static bool
check_rate_limit(edge_request *req, const edge_config *config,
    gateway_state *state)
{
	char key[EDGE_RATE_KEY_SIZE];
	edge_rate_decision decision;
	edge_ip client;

	edge_request_client_ip(req, config, &client);
	edge_rate_key(ENDPOINT, &client, NULL, key);
	if (edge_limiter_check(state->limiter, key,
	    &config->limit_gateway_message, &decision) != EDGE_OK) {
		respond_store_unavailable(req);
		return false;
	}
	if (decision.allowed)
		return true;

	edge_respond_rate_limited(req, key, decision.retry_after_s);
	return false;
}

/* Checks the Authorization header. The caller's identity never comes from
 * REMOTE_USER, AUTH_TYPE or another variable that a server or client sets.
 * Returns false after responding 401 (the reason is logged by
 * edge_user_auth_check) or 500. */
static bool
authenticate(edge_request *req, gateway_state *state, char *clerk_user_id,
    size_t clerk_user_id_size)
{
	edge_err err = edge_user_auth_check(state->auth,
	    edge_request_header(req, "Authorization"), clerk_user_id,
	    clerk_user_id_size);

	if (err == EDGE_OK)
		return true;
	if (err == EDGE_ERR_INVALID) {
		edge_respond_error(req, 401, "Not authenticated", bearer_challenge,
		    1);
		return false;
	}
	edge_log(EDGE_LOG_ERROR, "auth", "credential check failed: %s",
	    edge_err_str(err));
	edge_respond_error(req, 500, "Internal server error.", NULL, 0);
	return false;
}

/* Applies the checks that the lookup decides, in order. Returns false
 * after responding 403, 404 or 422. */
static bool
check_access(edge_request *req, const gateway_message_request *request,
    const gateway_access *access)
{
	if (!access->member || !access->admin) {
		edge_log(EDGE_LOG_INFO, "access", "user %s %s",
		    request->clerk_user_id, !access->user_found ? "not found" :
		    !access->member ? "has no organization membership" :
		    "is not an owner or admin of its organization");
		edge_respond_error(req, 403,
		    "Organization owner or admin role required.", NULL, 0);
		return false;
	}

	switch (request->board_id_state) {
	case GATEWAY_BOARD_ID_OK:
		break;
	case GATEWAY_BOARD_ID_MISSING:
		edge_respond_error(req, 422,
		    "Query parameter board_id is required.", NULL, 0);
		return false;
	case GATEWAY_BOARD_ID_MALFORMED:
		edge_respond_error(req, 422,
		    "Query parameter board_id must be a UUID.", NULL, 0);
		return false;
	case GATEWAY_BOARD_ID_REPEATED:
		edge_respond_error(req, 422,
		    "Query parameter board_id must be given once.", NULL, 0);
		return false;
	}
	if (!request->session_key_ok) {
		edge_respond_error(req, 422,
		    "session_id must be 1 to 512 bytes of UTF-8 without control "
		    "characters.", NULL, 0);
		return false;
	}
	if (!access->board_found) {
		edge_log(EDGE_LOG_INFO, "access", "board %s not found",
		    request->board_id);
		edge_respond_error(req, 404, "Board not found.", NULL, 0);
		return false;
	}

	if (!access->same_organization) {
		edge_log(EDGE_LOG_WARNING, "access",
		    "user %s of organization %s denied board %s of another "
		    "organization", request->clerk_user_id,
		    access->organization_id, request->board_id);
		edge_respond_error(req, 403,
		    "Board belongs to another organization.", NULL, 0);
		return false;
	}
	if (!access->can_write) {
		edge_log(EDGE_LOG_INFO, "access",
		    "user %s has no write access to board %s",
		    request->clerk_user_id, request->board_id);
		edge_respond_error(req, 403, "No write access to this board.",
		    NULL, 0);
		return false;
	}
	return true;
}

/* Reads the body within the size limit, the declared length first, and
 * extracts content. Returns NULL after responding 400, 413, 422 or 503. */
static char *
read_content(edge_request *req, const gateway_state *state)
{
	size_t declared_len = 0, body_len = 0;
	bool declared = false;
	const char *problem = NULL;
	char *body = NULL, *content = NULL;
	edge_err err;

	if (edge_request_content_length(req, &declared, &declared_len) !=
	    EDGE_OK) {
		edge_respond_error(req, 400, "Invalid Content-Length header.",
		    NULL, 0);
		return NULL;
	}
	if (declared && declared_len > state->max_body_bytes) {
		edge_log(EDGE_LOG_WARNING, "request",
		    "declared length %zu exceeds GATEWAY_MESSAGE_MAX_BODY_BYTES=%zu",
		    declared_len, state->max_body_bytes);
		edge_respond_error(req, 413, "Payload too large.", NULL, 0);
		return NULL;
	}

	err = edge_request_read_body(req, declared, declared_len,
	    state->max_body_bytes, &body, &body_len);
	if (err == EDGE_ERR_TOO_LARGE) {
		edge_log(EDGE_LOG_WARNING, "request",
		    "body exceeds GATEWAY_MESSAGE_MAX_BODY_BYTES=%zu",
		    state->max_body_bytes);
		edge_respond_error(req, 413, "Payload too large.", NULL, 0);
		return NULL;
	}
	if (err == EDGE_ERR_NOMEM) {
		edge_log(EDGE_LOG_ERROR, "request", "no memory for the body");
		respond_store_unavailable(req);
		return NULL;
	}
	if (err != EDGE_OK) {
		edge_log(EDGE_LOG_WARNING, "request", "reading the body failed: %s",
		    edge_err_str(err));
		edge_respond_error(req, 400, "Could not read the request body.",
		    NULL, 0);
		return NULL;
	}

	err = gateway_message_content(body, body_len, &content, &problem);
	free(body);
	if (err == EDGE_ERR_INVALID) {
		edge_log(EDGE_LOG_INFO, "request", "body rejected: %s", problem);
		edge_respond_error(req, 422, problem, NULL, 0);
		return NULL;
	}
	if (err != EDGE_OK) {
		edge_log(EDGE_LOG_ERROR, "request", "no memory for the content");
		respond_store_unavailable(req);
		return NULL;
	}
	return content;
}

/* Responds 422 and returns false when the board has no usable gateway. */
static bool
check_gateway(edge_request *req, const gateway_message_request *request,
    const gateway_access *access)
{
	if (!access->board_has_gateway) {
		edge_log(EDGE_LOG_INFO, "access", "board %s has no gateway",
		    request->board_id);
		edge_respond_error(req, 422, "Board has no gateway configured.",
		    NULL, 0);
		return false;
	}
	if (!access->gateway_found) {
		edge_log(EDGE_LOG_WARNING, "access",
		    "gateway %s of board %s not found in the board's organization",
		    access->gateway_id, request->board_id);
		edge_respond_error(req, 422, "Board's gateway not found.", NULL,
		    0);
		return false;
	}
	return true;
}

/* Returns the query string: QUERY_STRING, else the part of REQUEST_URI
 * after '?', else NULL. */
static const char *
query_string(const edge_request *req)
{
	const char *query = edge_request_param(req, "QUERY_STRING");
	const char *uri;

	if (query != NULL)
		return query;
	uri = edge_request_param(req, "REQUEST_URI");
	if (uri == NULL || (uri = strchr(uri, '?')) == NULL)
		return NULL;
	return uri + 1;
}

static void
gateway_handle(edge_request *req, const edge_config *config, void *opaque)
{
	gateway_state *state = opaque;
	gateway_message_request request = { 0 };
	gateway_access access = { 0 };
	const char *method = edge_request_param(req, "REQUEST_METHOD");
	const char *segment;
	size_t segment_len;
	char path[EDGE_PATH_MAX];
	char *content = NULL;

	if (!edge_request_path(req, path, sizeof(path)) ||
	    !gateway_match_route(path, &segment, &segment_len)) {
		edge_respond_error(req, 404, "Not Found", NULL, 0);
		return;
	}
	if (method == NULL || strcmp(method, "POST") != 0) {
		edge_respond_error(req, 405, "Method Not Allowed", allow_post, 1);
		return;
	}

	/* The rate limit counts every attempt before any credential work. */
	if (!check_rate_limit(req, config, state) ||
	    !authenticate(req, state, request.clerk_user_id,
	    sizeof(request.clerk_user_id)))
		return;

	/* Parsing costs no round trip, but its errors are reported only after
	 * the membership check, which the lookup decides with the board. */
	request.session_key_ok = gateway_session_key_decode(segment, segment_len,
	    request.session_key, sizeof(request.session_key));
	request.board_id_state = gateway_query_board_id(query_string(req),
	    request.board_id);
	if (gateway_access_lookup(&state->db, request.clerk_user_id,
	    request.board_id_state == GATEWAY_BOARD_ID_OK ? request.board_id :
	    NULL, &access) != EDGE_OK) {
		respond_store_unavailable(req);
		return;
	}

	if (!check_access(req, &request, &access) ||
	    (content = read_content(req, state)) == NULL ||
	    !check_gateway(req, &request, &access))
		goto done;
	gateway_send_and_respond(req, &state->gateway, &access,
	    request.session_key, content);

done:
	if (content != NULL)
		OPENSSL_cleanse(content, strlen(content));
	free(content);
	gateway_access_free(&access);
}

int
main(void)
{
	static const edge_app app = {
		.name = ENDPOINT,
		.needs = EDGE_NEED_DATABASE | EDGE_NEED_RATE_LIMIT |
		    EDGE_NEED_USER_AUTH | EDGE_NEED_GATEWAY,
		.init = gateway_init,
		.handle = gateway_handle,
		.finish = gateway_finish,
	};

	return edge_serve(&app);
}

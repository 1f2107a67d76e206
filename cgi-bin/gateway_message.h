/* gateway-message: the parts of the endpoint shared between its files. */
#ifndef GATEWAY_MESSAGE_H
#define GATEWAY_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "edge_error.h"
#include "gateway.h"
#include "request.h"
#include "uuid.h"

/* Maximum length of a session key, in bytes after percent-decoding. Gateway
 * session keys look like "agent:<id>:main", far below this. */
#define GATEWAY_SESSION_KEY_MAX 512

typedef enum gateway_board_id_state {
	GATEWAY_BOARD_ID_OK = 0,
	GATEWAY_BOARD_ID_MISSING,	/* no board_id parameter, or an empty one */
	GATEWAY_BOARD_ID_MALFORMED,	/* not a UUID, or a bad percent escape */
	GATEWAY_BOARD_ID_REPEATED	/* board_id given more than once */
} gateway_board_id_state;

/* What the single lookup statement found for one caller and one board. The
 * gateway fields are filled only when the caller may write to the board. */
typedef struct gateway_access {
	bool user_found;
	bool member;			/* has an organization membership */
	bool admin;			/* that membership's role is owner or admin */
	char organization_id[EDGE_UUID_SIZE];
	bool board_found;
	bool same_organization;		/* the board is in the caller's organization */
	bool can_write;			/* all_boards_write or a can_write access row */
	bool board_has_gateway;		/* boards.gateway_id is set */
	char gateway_id[EDGE_UUID_SIZE];
	bool gateway_found;		/* that row exists, in the board's organization */
	char *gateway_url;
	char *gateway_token;		/* NULL when the gateway has none */
	bool disable_device_pairing;
	bool allow_insecure_tls;
} gateway_access;

/* Statements prepared on the endpoint's connection, besides the limiter's. */
extern const edge_db_statement gateway_statements[];
extern const size_t gateway_statement_count;

/* Resolves the caller's organization, role and write access to board_id
 * (NULL when the request has no valid one), and the board's gateway row, in
 * one statement. Returns EDGE_OK with access filled, or a store error
 * (logged by edge_db_run). */
edge_err gateway_access_lookup(edge_db *db, const char *clerk_user_id,
	const char *board_id, gateway_access *access);

/* Releases the copies of the gateway's URL and token, wiping the token. */
void gateway_access_free(gateway_access *access);

/* Matches "/api/v1/gateways/sessions/{session_id}/message" and points
 * *segment at the raw session_id segment (*segment_len bytes). Returns false
 * for any other path. */
bool gateway_match_route(const char *path, const char **segment,
	size_t *segment_len);

/* Percent-decodes a session_id segment into out (out_size bytes,
 * NUL-terminated). Returns false when an escape is malformed, the result is
 * empty, longer than GATEWAY_SESSION_KEY_MAX, not UTF-8, or contains a
 * control character. */
bool gateway_session_key_decode(const char *segment, size_t segment_len,
	char *out, size_t out_size);

/* Finds board_id in a query string (NULL or "" when there is none) and
 * writes its canonical UUID into board_id when the result is
 * GATEWAY_BOARD_ID_OK. */
gateway_board_id_state gateway_query_board_id(const char *query,
	char board_id[EDGE_UUID_SIZE]);

/* Checks that body (len bytes) is a JSON object whose "content" is a
 * non-empty string without NUL characters, and returns a new copy of that
 * string in *content. Returns EDGE_OK, EDGE_ERR_INVALID with *problem set to
 * a short description for the response, or EDGE_ERR_NOMEM. */
edge_err gateway_message_content(const char *body, size_t len,
	char **content, const char **problem);

/* Sends content to the session through the board's gateway with a new
 * idempotency key, logs the outcome (gateway id and host, never the token or
 * the content), and responds 200 {"ok": true} or 502 with a short reason. */
void gateway_send_and_respond(edge_request *req,
	const edge_gateway_settings *settings, const gateway_access *access,
	const char *session_key, const char *content);

#endif

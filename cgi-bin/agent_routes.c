/* agent-auth: the responder routes, GET /api/v1/agent/healthz and
 * GET /api/v1/agent/boards. */
#include "agent_auth.h"
#include "buf.h"
#include "log.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOARDS_LIMIT_MAX 200
#define BOARDS_LIMIT_DEFAULT 200
/* Larger offsets fit PostgreSQL's bigint and return no rows anyway. */
#define BOARDS_OFFSET_MAX 999999999999999999ULL
/* Query values longer than this are invalid numbers anyway. */
#define QUERY_VALUE_MAX 32

/* The page of boards, newest first, as JSON objects of every stored column,
 * and the number of boards visible in all. VISIBLE is the WHERE clause. */
#define BOARDS_SQL(visible) \
	"WITH visible AS (SELECT b.* FROM boards AS b WHERE " visible ") " \
	"SELECT (SELECT count(*) FROM visible)," \
	" '[' || coalesce((SELECT string_agg(row_to_json(page)::text, ', '" \
	"  ORDER BY page.created_at DESC, page.id DESC)" \
	"  FROM (SELECT * FROM visible ORDER BY created_at DESC, id DESC" \
	"   LIMIT $2::bigint OFFSET $3::bigint) AS page), '') || ']'"

/* Registered by agent_auth.c with the other statements. */
const edge_db_statement agent_boards_statements[2] = {
	{ "agent_boards_of_board", BOARDS_SQL("b.id = $1::uuid"), 3 },
	{ "agent_boards_of_organization", BOARDS_SQL("b.organization_id = $1::uuid"), 3 },
};

void
agent_route_healthz(edge_request *req, agent_state *state,
    const agent_identity *identity)
{
	json_object *object = json_object_new_object();
	const char *json = NULL;

	if (object != NULL) {
		json_object_object_add(object, "ok", json_object_new_boolean(1));
		json_object_object_add(object, "agent_id",
		    json_object_new_string(identity->id));
		json_object_object_add(object, "board_id",
		    identity->board_id[0] != '\0' ?
		    json_object_new_string(identity->board_id) : NULL);
		json_object_object_add(object, "gateway_id",
		    identity->gateway_id[0] != '\0' ?
		    json_object_new_string(identity->gateway_id) : NULL);
		json_object_object_add(object, "status",
		    json_object_new_string(identity->status));
		json_object_object_add(object, "is_board_lead",
		    json_object_new_boolean(identity->is_board_lead));
		json = json_object_to_json_string_ext(object,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	if (json == NULL) {
		edge_log(EDGE_LOG_ERROR, "auth", "no memory for the response");
		agent_respond_store_unavailable(req, state);
	} else {
		agent_respond_json(req, state, 200, json);
	}
	json_object_put(object);
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes len bytes of a query component into out (form encoding:
 * '+' is a space). Returns false for a bad escape or a result that does not
 * fit in out_size. */
static bool
query_decode(const char *text, size_t len, char *out, size_t out_size)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '%') {
			int high, low;

			if (i + 2 >= len)
				return false;
			high = hex_digit(text[i + 1]);
			low = high < 0 ? -1 : hex_digit(text[i + 2]);
			if (low < 0)
				return false;
			c = (char)(high << 4 | low);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (used + 1 >= out_size)
			return false;
		out[used++] = c;
	}
	out[used] = '\0';
	return true;
}

/* Finds the last value of parameter name in the query string. Returns 1 when
 * found (decoded into out), 0 when absent, -1 when malformed or too long. */
static int
query_value(const char *query, const char *name, char *out, size_t out_size)
{
	int status = 0;

	for (const char *p = query; p != NULL && *p != '\0';) {
		size_t pair_len = strcspn(p, "&");
		size_t name_len = strcspn(p, "=&");
		char decoded_name[QUERY_VALUE_MAX + 1];

		if (name_len <= QUERY_VALUE_MAX &&
		    query_decode(p, name_len, decoded_name, sizeof(decoded_name)) &&
		    strcmp(decoded_name, name) == 0) {
			/* A later occurrence replaces an earlier one, as upstream's framework reads it. */
			const char *value = p + name_len + (name_len < pair_len ? 1 : 0);
			size_t value_len = pair_len - (size_t)(value - p);

			status = query_decode(value, value_len, out, out_size) ? 1 : -1;
		}
		p += pair_len;
		if (*p == '&')
			p++;
	}
	return status;
}

/* Parses a decimal number of digits only, at most max. */
static bool
parse_count(const char *text, unsigned long long max, unsigned long long *value)
{
	unsigned long long result = 0;

	if (text[0] == '\0')
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		/* Reject before the multiplication would pass max. */
		if (result > (max - (unsigned long long)(*p - '0')) / 10)
			return false;
		result = result * 10 + (unsigned long long)(*p - '0');
	}
	*value = result;
	return true;
}

/* Reads limit and offset; returns false after responding 422. */
static bool
read_page(edge_request *req, agent_state *state, unsigned long long *limit,
    unsigned long long *offset)
{
	const char *query = edge_request_param(req, "QUERY_STRING");
	char value[QUERY_VALUE_MAX + 1];
	int found;

	*limit = BOARDS_LIMIT_DEFAULT;
	*offset = 0;
	if (query == NULL)
		return true;

	found = query_value(query, "limit", value, sizeof(value));
	if (found < 0 || (found == 1 &&
	    (!parse_count(value, BOARDS_LIMIT_MAX, limit) || *limit == 0))) {
		agent_respond_error(req, state, 422,
		    "limit must be a whole number from 1 to 200.", NULL, 0);
		return false;
	}
	found = query_value(query, "offset", value, sizeof(value));
	if (found < 0 || (found == 1 &&
	    !parse_count(value, BOARDS_OFFSET_MAX, offset))) {
		agent_respond_error(req, state, 422,
		    "offset must be a whole number of 0 or more.", NULL, 0);
		return false;
	}
	return true;
}

void
agent_route_boards(edge_request *req, agent_state *state,
    const agent_identity *identity)
{
	unsigned long long limit, offset;
	char limit_text[24], offset_text[24];
	const char *values[3], *statement;
	edge_buf answer = { 0 };
	PGresult *result;

	if (!read_page(req, state, &limit, &offset))
		return;

	/* An agent with a board may list that board. A gateway-level agent may
	 * list its gateway's organization, and nothing when that gateway is gone. */
	if (identity->board_id[0] != '\0') {
		statement = agent_boards_statements[0].name;
		values[0] = identity->board_id;
	} else if (identity->organization_id[0] != '\0') {
		statement = agent_boards_statements[1].name;
		values[0] = identity->organization_id;
	} else {
		edge_log(EDGE_LOG_WARNING, "auth",
		    "gateway-level agent %s has no gateway row; boards refused",
		    identity->id);
		agent_respond_error(req, state, 403,
		    "Agent gateway not found.", NULL, 0);
		return;
	}
	snprintf(limit_text, sizeof(limit_text), "%llu", limit);
	snprintf(offset_text, sizeof(offset_text), "%llu", offset);
	values[1] = limit_text;
	values[2] = offset_text;

	if (edge_db_run(&state->db, statement, 3, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK) {
		agent_respond_store_unavailable(req, state);
		return;
	}
	edge_buf_appendf(&answer, "{\"items\": %s, \"total\": %s, "
	    "\"limit\": %llu, \"offset\": %llu}", PQgetvalue(result, 0, 1),
	    PQgetvalue(result, 0, 0), limit, offset);
	PQclear(result);
	if (answer.err != EDGE_OK) {
		edge_log(EDGE_LOG_ERROR, "auth", "no memory for the response");
		agent_respond_store_unavailable(req, state);
	} else {
		agent_respond_json(req, state, 200, answer.data);
	}
	edge_buf_free(&answer);
}

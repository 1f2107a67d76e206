/* agent-auth: the parts of the endpoint shared between its files. */
#ifndef AGENT_AUTH_H
#define AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "agent_token.h"
#include "db.h"
#include "ratelimit.h"
#include "request.h"
#include "response.h"
#include "uuid.h"

/* One agent with a stored hash and no valid index entry, as the legacy pass
 * tries it. */
typedef struct agent_candidate {
	char id[EDGE_UUID_SIZE];
	char *hash;		/* NULL once this process has indexed it */
} agent_candidate;

/* The per-process list of legacy candidates, reloaded when older than
 * AGENT_LEGACY_CACHE_MS, and the round-robin position in it. */
typedef struct agent_legacy_cache {
	agent_candidate *items;	/* sorted by id */
	size_t count;
	bool loaded;
	long long loaded_ms;	/* CLOCK_MONOTONIC */
	size_t cursor;		/* next candidate to try */
	char last_tried[EDGE_UUID_SIZE];	/* "" before the first try */
} agent_legacy_cache;

typedef struct agent_state {
	edge_db db;
	edge_limiter *limiter;
	edge_db_statement statements[12];
	edge_agent_index_key key;
	unsigned legacy_scan;		/* AGENT_TOKEN_LEGACY_SCAN */
	bool bench_counters;		/* EDGE_BENCH_COUNTERS=1 */
	unsigned long long request_pbkdf2_start;
	agent_legacy_cache legacy;
} agent_state;

/* The authenticated agent. Ids are "" where the column is NULL. */
typedef struct agent_identity {
	char id[EDGE_UUID_SIZE];
	char board_id[EDGE_UUID_SIZE];		/* "" for a gateway-level agent */
	char gateway_id[EDGE_UUID_SIZE];
	char organization_id[EDGE_UUID_SIZE];	/* "" when the gateway row is gone */
	char *status;				/* after the presence refresh */
	bool is_board_lead;
	bool presence_stale;	/* last_seen_at was NULL or older than 30 s */
} agent_identity;

/* Statements prepared on the endpoint's connection, besides the limiter's
 * and the index key's. */
extern const edge_db_statement agent_statements[];
extern const size_t agent_statement_count;
extern const edge_db_statement agent_boards_statements[2];

/* Finds the agent whose token this is: in the index with no PBKDF2 run, else
 * by the legacy pass over at most state->legacy_scan not-yet-indexed agents,
 * indexing the token on a match. On success refreshes the agent's presence
 * when it is stale. Returns EDGE_OK with *found set, or a store error
 * (logged). identity is filled only when *found is true. */
edge_err agent_authenticate(agent_state *state, const char *token,
	size_t token_len, agent_identity *identity, bool *found);
void agent_identity_free(agent_identity *identity);

/* Releases the legacy candidate list. */
void agent_legacy_cache_free(agent_legacy_cache *cache);

/* GET /api/v1/agent/healthz: the caller's identity. */
void agent_route_healthz(edge_request *req, agent_state *state,
	const agent_identity *identity);

/* GET /api/v1/agent/boards: the boards the caller may see, paginated. */
void agent_route_boards(edge_request *req, agent_state *state,
	const agent_identity *identity);

/* Write the whole response, like edge_respond_json and edge_respond_error,
 * and add X-Edge-Pbkdf2-Runs (PBKDF2 runs of this request) when
 * EDGE_BENCH_COUNTERS=1. */
void agent_respond_json(edge_request *req, agent_state *state, int status,
	const char *json);
void agent_respond_error(edge_request *req, agent_state *state, int status,
	const char *detail, const edge_header *extra, size_t extra_count);

/* Responds 503 with Retry-After after a store failure. */
void agent_respond_store_unavailable(edge_request *req, agent_state *state);

#endif

/* agent-auth: finding the agent of a token through the index, the bounded
 * legacy PBKDF2 pass over agents not indexed yet, and the presence refresh. */
#include "agent_auth.h"
#include "log.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a process reuses its list of legacy candidates. */
#define AGENT_LEGACY_CACHE_MS 5000

/* The agent's identity and whether its presence needs a refresh. An index
 * row counts only while the agent's hash is still the one it was made from. */
#define LOOKUP_SQL \
	"SELECT a.id, a.board_id, a.gateway_id, a.status, a.is_board_lead," \
	" g.organization_id," \
	" a.last_seen_at IS NULL OR" \
	" a.last_seen_at < (now() AT TIME ZONE 'utc') - interval '30 seconds' " \
	"FROM edge_agent_token_index AS i " \
	"JOIN agents AS a" \
	" ON a.id = i.agent_id AND a.agent_token_hash = i.source_hash " \
	"LEFT JOIN gateways AS g ON g.id = a.gateway_id " \
	"WHERE i.token_digest = $1::bytea"

const edge_db_statement agent_statements[] = {
	{ "agent_lookup", LOOKUP_SQL, 1 },
	{
		"agent_legacy_candidates",
		"SELECT a.id, a.agent_token_hash FROM agents AS a "
		"WHERE a.agent_token_hash IS NOT NULL AND NOT EXISTS ("
		" SELECT 1 FROM edge_agent_token_index AS i"
		" WHERE i.agent_id = a.id AND i.source_hash = a.agent_token_hash) "
		"ORDER BY a.id",
		0,
	},
	{
		/* Indexes the token only if the agent still has the hash it was
		 * verified against, and drops the agent's rows of older hashes. */
		"agent_index_insert",
		"WITH verified AS ("
		" SELECT a.id, a.agent_token_hash FROM agents AS a"
		" WHERE a.id = $2 AND a.agent_token_hash = $3),"
		" stale AS ("
		" DELETE FROM edge_agent_token_index AS i USING verified AS v"
		" WHERE i.agent_id = v.id AND i.source_hash <> v.agent_token_hash"
		" AND i.token_digest <> $1::bytea) "
		"INSERT INTO edge_agent_token_index (token_digest, agent_id, source_hash) "
		"SELECT $1::bytea, id, agent_token_hash FROM verified "
		"ON CONFLICT (token_digest) DO UPDATE SET agent_id = EXCLUDED.agent_id,"
		" source_hash = EXCLUDED.source_hash,"
		" created_at = now() AT TIME ZONE 'utc' "
		"RETURNING agent_id",
		3,
	},
	{
		/* The WHERE clause repeats the staleness test, so concurrent
		 * requests of one agent write at most once per 30 s. */
		"agent_touch",
		"UPDATE agents SET last_seen_at = now() AT TIME ZONE 'utc',"
		" updated_at = now() AT TIME ZONE 'utc',"
		" status = CASE WHEN status IN ('updating', 'deleting') THEN status"
		" ELSE 'online' END "
		"WHERE id = $1 AND (last_seen_at IS NULL OR"
		" last_seen_at < (now() AT TIME ZONE 'utc') - interval '30 seconds') "
		"RETURNING status",
		1,
	},
};
const size_t agent_statement_count =
    sizeof(agent_statements) / sizeof(agent_statements[0]);

static long long
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Copies a uuid column into out, or "" for SQL NULL. */
static void
copy_uuid(const PGresult *result, int row, int column, char out[EDGE_UUID_SIZE])
{
	out[0] = '\0';
	if (!PQgetisnull(result, row, column))
		snprintf(out, EDGE_UUID_SIZE, "%s", PQgetvalue(result, row, column));
}

void
agent_identity_free(agent_identity *identity)
{
	free(identity->status);
	identity->status = NULL;
}

/* Runs the index lookup for digest. */
static edge_err
lookup_index(agent_state *state, const char *digest_bytea,
    agent_identity *identity, bool *found)
{
	const char *values[1] = { digest_bytea };
	PGresult *result;
	edge_err err;

	*found = false;
	err = edge_db_run(&state->db, "agent_lookup", 1, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	if (PQntuples(result) == 0) {
		PQclear(result);
		return EDGE_OK;
	}

	memset(identity, 0, sizeof(*identity));
	copy_uuid(result, 0, 0, identity->id);
	copy_uuid(result, 0, 1, identity->board_id);
	copy_uuid(result, 0, 2, identity->gateway_id);
	identity->status = strdup(PQgetvalue(result, 0, 3));
	identity->is_board_lead = PQgetvalue(result, 0, 4)[0] == 't';
	copy_uuid(result, 0, 5, identity->organization_id);
	identity->presence_stale = PQgetvalue(result, 0, 6)[0] == 't';
	PQclear(result);
	if (identity->status == NULL) {
		edge_log(EDGE_LOG_ERROR, "auth", "no memory for the agent row");
		return EDGE_ERR_NOMEM;
	}
	*found = true;
	return EDGE_OK;
}

void
agent_legacy_cache_free(agent_legacy_cache *cache)
{
	for (size_t i = 0; i < cache->count; i++)
		free(cache->items[i].hash);
	free(cache->items);
	cache->items = NULL;
	cache->count = 0;
	cache->loaded = false;
}

/* Returns the position of the first candidate whose id sorts after id. The
 * canonical text form sorts as PostgreSQL sorts uuid values. */
static size_t
position_after(const agent_legacy_cache *cache, const char *id)
{
	size_t low = 0, high = cache->count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (strcmp(cache->items[middle].id, id) <= 0)
			low = middle + 1;
		else
			high = middle;
	}
	return low < cache->count ? low : 0;
}

/* Reloads the candidate list when it is older than AGENT_LEGACY_CACHE_MS,
 * keeping the round-robin position: the next try goes to the first
 * candidate after the last one tried, or to a random one at first. */
static edge_err
refresh_candidates(agent_state *state)
{
	agent_legacy_cache *cache = &state->legacy;
	long long now = monotonic_ms();
	agent_candidate *items = NULL;
	PGresult *result;
	size_t count;
	edge_err err;

	if (cache->loaded && now - cache->loaded_ms < AGENT_LEGACY_CACHE_MS)
		return EDGE_OK;
	err = edge_db_run(&state->db, "agent_legacy_candidates", 0, NULL, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;

	count = (size_t)PQntuples(result);
	if (count > 0 && (items = calloc(count, sizeof(*items))) == NULL) {
		PQclear(result);
		edge_log(EDGE_LOG_ERROR, "auth",
		    "no memory for %zu legacy candidates", count);
		return EDGE_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		copy_uuid(result, (int)i, 0, items[i].id);
		items[i].hash = strdup(PQgetvalue(result, (int)i, 1));
		if (items[i].hash == NULL) {
			for (size_t k = 0; k < i; k++)
				free(items[k].hash);
			free(items);
			PQclear(result);
			edge_log(EDGE_LOG_ERROR, "auth",
			    "no memory for the legacy candidates");
			return EDGE_ERR_NOMEM;
		}
	}
	PQclear(result);

	agent_legacy_cache_free(cache);
	cache->items = items;
	cache->count = count;
	cache->loaded = true;
	cache->loaded_ms = now;
	if (count == 0) {
		cache->cursor = 0;
	} else if (cache->last_tried[0] != '\0') {
		cache->cursor = position_after(cache, cache->last_tried);
	} else {
		unsigned int seed = 0;

		/* Processes start at different places, so together they cover the list sooner. */
		(void)RAND_bytes((unsigned char *)&seed, sizeof(seed));
		cache->cursor = seed % count;
	}
	return EDGE_OK;
}

/* Indexes the token of a candidate that matched. Sets *indexed to false when
 * the agent's hash changed since the candidate list was read. */
static edge_err
index_candidate(agent_state *state, const char *digest_bytea,
    const agent_candidate *candidate, bool *indexed)
{
	const char *values[3] = { digest_bytea, candidate->id, candidate->hash };
	PGresult *result;
	edge_err err;

	err = edge_db_run(&state->db, "agent_index_insert", 3, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	*indexed = PQntuples(result) == 1;
	PQclear(result);
	return EDGE_OK;
}

/* Tries the token against at most state->legacy_scan candidates, in turn
 * from the process's cursor. On a match, indexes the token and sets *matched.
 * NOTE: a request covers only legacy_scan agents. An agent whose token is not
 * indexed yet may need up to (candidates / legacy_scan) requests to each
 * process of the pool. An agent whose hash appeared after the list was read
 * waits for the next reload, up to AGENT_LEGACY_CACHE_MS. */
static edge_err
legacy_pass(agent_state *state, const char *token, size_t token_len,
    const char *digest_bytea, bool *matched)
{
	agent_legacy_cache *cache = &state->legacy;
	unsigned tried = 0;
	edge_err err;

	*matched = false;
	if ((err = refresh_candidates(state)) != EDGE_OK)
		return err;

	for (size_t step = 0; step < cache->count && tried < state->legacy_scan;
	    step++) {
		agent_candidate *candidate = &cache->items[cache->cursor];
		bool indexed = false;

		cache->cursor = (cache->cursor + 1) % cache->count;
		if (candidate->hash == NULL)
			continue;
		tried++;
		snprintf(cache->last_tried, sizeof(cache->last_tried), "%s",
		    candidate->id);
		if (!edge_agent_token_verify(token, token_len, candidate->hash))
			continue;

		err = index_candidate(state, digest_bytea, candidate, &indexed);
		if (err != EDGE_OK)
			return err;
		if (!indexed) {
			edge_log(EDGE_LOG_INFO, "auth",
			    "token matched agent %s, whose hash changed since; "
			    "not indexed", candidate->id);
			return EDGE_OK;
		}
		edge_log(EDGE_LOG_INFO, "auth",
		    "indexed the token of agent %s after a legacy PBKDF2 match",
		    candidate->id);
		free(candidate->hash);
		candidate->hash = NULL;
		*matched = true;
		return EDGE_OK;
	}
	return EDGE_OK;
}

/* Refreshes last_seen_at and the status; on a failure the request still
 * succeeds, because presence is bookkeeping and the token was valid. */
static void
touch_presence(agent_state *state, agent_identity *identity)
{
	const char *values[1] = { identity->id };
	PGresult *result;

	if (edge_db_run(&state->db, "agent_touch", 1, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK) {
		edge_log(EDGE_LOG_WARNING, "auth",
		    "presence of agent %s not refreshed", identity->id);
		return;
	}
	if (PQntuples(result) == 1) {
		char *status = strdup(PQgetvalue(result, 0, 0));

		if (status != NULL) {
			free(identity->status);
			identity->status = status;
		}
	}
	PQclear(result);
}

edge_err
agent_authenticate(agent_state *state, const char *token, size_t token_len,
    agent_identity *identity, bool *found)
{
	unsigned char digest[EDGE_SHA256_SIZE];
	char digest_bytea[EDGE_DIGEST_BYTEA_SIZE];
	bool matched = false;
	edge_err err;

	*found = false;
	if ((err = edge_agent_index_key_load(&state->db, &state->key)) != EDGE_OK)
		return err == EDGE_ERR_NOT_FOUND ? EDGE_ERR_STORE : err;
	if (!edge_agent_token_digest(&state->key, token, token_len, digest)) {
		edge_log(EDGE_LOG_ERROR, "auth", "HMAC-SHA256 failed");
		return EDGE_ERR_STORE;
	}
	edge_agent_digest_bytea(digest, digest_bytea);

	err = lookup_index(state, digest_bytea, identity, found);
	if (err == EDGE_OK && !*found && state->legacy_scan > 0) {
		err = legacy_pass(state, token, token_len, digest_bytea, &matched);
		if (err == EDGE_OK && matched)
			err = lookup_index(state, digest_bytea, identity, found);
	}
	if (err != EDGE_OK) {
		if (*found)
			agent_identity_free(identity);
		*found = false;
		return err;
	}
	if (*found && identity->presence_stale)
		touch_presence(state, identity);
	return EDGE_OK;
}

/* mc-edge-admin agent-token: mint, rotate or revoke an agent's token. The
 * hash goes to agents.agent_token_hash in upstream's format, so upstream
 * accepts the token too, and the index entry is written in the same
 * statement, so agent-auth finds the token without a PBKDF2 run. */
#include "admin.h"
#include "agent_token.h"
#include "db.h"
#include "log.h"
#include "uuid.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

static const edge_db_statement statements[] = {
	{
		/* $4 true replaces an existing token; false refuses to. Data-modifying
		 * CTEs run as one statement, so all of it happens or none. */
		"admin_agent_token_set",
		"WITH updated AS ("
		" UPDATE agents SET agent_token_hash = $2,"
		" updated_at = now() AT TIME ZONE 'utc'"
		" WHERE id = $1 AND ($4::boolean OR agent_token_hash IS NULL)"
		" RETURNING id, agent_token_hash),"
		" dropped AS ("
		" DELETE FROM edge_agent_token_index"
		" WHERE agent_id IN (SELECT id FROM updated)),"
		" added AS ("
		" INSERT INTO edge_agent_token_index (token_digest, agent_id, source_hash)"
		" SELECT $3::bytea, id, agent_token_hash FROM updated"
		" RETURNING agent_id) "
		"SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1),"
		" (SELECT count(*) FROM added)",
		4,
	},
	{
		"admin_agent_token_revoke",
		"WITH updated AS ("
		" UPDATE agents SET agent_token_hash = NULL,"
		" updated_at = now() AT TIME ZONE 'utc'"
		" WHERE id = $1 RETURNING id),"
		" dropped AS ("
		" DELETE FROM edge_agent_token_index WHERE agent_id = $1 RETURNING 1) "
		"SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM dropped)",
		1,
	},
	{ "agent_index_key", NULL, 0 },	/* filled from edge_agent_index_key_statement */
};

#define STATEMENT_COUNT (sizeof(statements) / sizeof(statements[0]))

static void
print_usage(void)
{
	fprintf(stderr, "usage: mc-edge-admin agent-token mint|rotate|revoke AGENT_ID\n");
}

/* Stores a new token for agent_id and prints it; replace allows an agent
 * that already has one. */
static int
set_token(edge_db *db, edge_agent_index_key *key, const char *agent_id,
    bool replace)
{
	char token[EDGE_AGENT_TOKEN_SIZE], hash[EDGE_AGENT_TOKEN_HASH_SIZE];
	char digest_bytea[EDGE_DIGEST_BYTEA_SIZE];
	unsigned char digest[EDGE_SHA256_SIZE];
	const char *values[4];
	PGresult *result;
	int status = 1;

	if (edge_agent_index_key_load(db, key) != EDGE_OK)
		return 1;
	if (!edge_agent_token_generate(token) ||
	    !edge_agent_token_hash(token, strlen(token), hash) ||
	    !edge_agent_token_digest(key, token, strlen(token), digest)) {
		edge_log(EDGE_LOG_ERROR, "admin", "making the token failed in OpenSSL");
		goto done;
	}
	edge_agent_digest_bytea(digest, digest_bytea);

	values[0] = agent_id;
	values[1] = hash;
	values[2] = digest_bytea;
	values[3] = replace ? "true" : "false";
	if (edge_db_run(db, "admin_agent_token_set", 4, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK)
		goto done;

	if (PQgetvalue(result, 0, 0)[0] != 't') {
		fprintf(stderr, "mc-edge-admin: agent %s not found\n", agent_id);
	} else if (strcmp(PQgetvalue(result, 0, 1), "1") != 0) {
		fprintf(stderr, "mc-edge-admin: agent %s already has a token; "
		    "use rotate to replace it\n", agent_id);
	} else {
		/* The token itself is the only line on standard output. */
		printf("%s\n", token);
		fflush(stdout);
		fprintf(stderr, "mc-edge-admin: stored a new token for agent %s; "
		    "it is shown only this once\n", agent_id);
		status = 0;
	}
	PQclear(result);

done:
	OPENSSL_cleanse(token, sizeof(token));
	return status;
}

static int
revoke_token(edge_db *db, const char *agent_id)
{
	const char *values[1] = { agent_id };
	PGresult *result;
	int status = 1;

	if (edge_db_run(db, "admin_agent_token_revoke", 1, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK)
		return 1;
	if (strcmp(PQgetvalue(result, 0, 0), "1") != 0) {
		fprintf(stderr, "mc-edge-admin: agent %s not found\n", agent_id);
	} else {
		fprintf(stderr, "mc-edge-admin: revoked the token of agent %s "
		    "(%s index entries removed)\n", agent_id,
		    PQgetvalue(result, 0, 1));
		status = 0;
	}
	PQclear(result);
	return status;
}

int
admin_agent_token(const edge_config *config, int argc, char **argv)
{
	edge_db_statement prepared[STATEMENT_COUNT];
	char agent_id[EDGE_UUID_SIZE];
	edge_agent_index_key key;
	const char *action;
	edge_db db;
	int status;

	if (argc != 2) {
		print_usage();
		return 2;
	}
	action = argv[0];
	if (strcmp(action, "mint") != 0 && strcmp(action, "rotate") != 0 &&
	    strcmp(action, "revoke") != 0) {
		fprintf(stderr, "mc-edge-admin: unknown agent-token action '%s'\n",
		    action);
		print_usage();
		return 2;
	}
	if (!edge_uuid_parse(argv[1], strlen(argv[1]), agent_id)) {
		fprintf(stderr, "mc-edge-admin: '%s' is not an agent id (a UUID)\n",
		    argv[1]);
		return 2;
	}
	if (edge_agent_index_key_from_env(&key) != EDGE_OK)
		return 1;

	memcpy(prepared, statements, sizeof(prepared));
	prepared[STATEMENT_COUNT - 1] = edge_agent_index_key_statement;
	edge_db_init(&db, config->database_url, prepared, STATEMENT_COUNT);
	if (strcmp(action, "revoke") == 0)
		status = revoke_token(&db, agent_id);
	else
		status = set_token(&db, &key, agent_id, strcmp(action, "rotate") == 0);
	edge_db_close(&db);
	OPENSSL_cleanse(&key, sizeof(key));
	return status;
}

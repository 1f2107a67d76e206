/* Rate-limit store in PostgreSQL: one row per key in the UNLOGGED table
 * edge_rate_limit, decided by the function edge_rate_limit_hit (sql/schema.sql)
 * in one statement. The upsert locks the key's row, so concurrent processes
 * and hosts see one exact count; the table writes no WAL, so a decision costs
 * no fsync (PostgreSQL empties it after a crash, which loses only recent
 * attempts). Time is PostgreSQL's clock_timestamp(). */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>

static const edge_limiter_ops postgres_ops;

typedef struct postgres_limiter {
	edge_limiter base;
	edge_db *db;
	unsigned timeout_ms;
} postgres_limiter;

const edge_db_statement edge_limiter_postgres_statement = {
	"edge_rate_limit_hit",
	"SELECT allowed, retry_after_ms, remaining, reset_ms "
	"FROM edge_rate_limit_hit($1, $2, $3)",
	3,
};

const edge_db_statement edge_limiter_postgres_peek_statement = {
	"edge_rate_limit_peek",
	"SELECT allowed, retry_after_ms, remaining, reset_ms "
	"FROM edge_rate_limit_peek($1, $2, $3)",
	3,
};

static unsigned
ms_to_whole_seconds(long long ms)
{
	/* Rounded up and at least 1, so a client that waits this long is allowed. */
	if (ms <= 1000)
		return 1;
	return (unsigned)((ms + 999) / 1000);
}

bool
edge_limiter_postgres_read(const PGresult *result, int first,
    const edge_rate_rule *rule, edge_rate_decision *decision)
{
	if (PQntuples(result) != 1 || PQnfields(result) < first + 4 ||
	    PQgetisnull(result, 0, first))
		return false;
	decision->allowed = PQgetvalue(result, 0, first)[0] == 't';
	decision->limit = rule->count;
	decision->retry_after_s = ms_to_whole_seconds(
	    strtoll(PQgetvalue(result, 0, first + 1), NULL, 10));
	decision->remaining = (unsigned)strtoul(PQgetvalue(result, 0, first + 2),
	    NULL, 10);
	decision->reset_s = ms_to_whole_seconds(
	    strtoll(PQgetvalue(result, 0, first + 3), NULL, 10));
	decision->store_failed = false;
	return true;
}

bool
edge_limiter_uses_database(const edge_limiter *limiter)
{
	return limiter->ops == &postgres_ops;
}

/* Runs one of the two decision statements for key and reads its row. */
static edge_err
run_decision(edge_limiter *base, const edge_db_statement *statement,
    const char *key, const edge_rate_rule *rule, edge_rate_decision *decision)
{
	postgres_limiter *limiter = (postgres_limiter *)base;
	char count[16], window_ms[24];
	const char *values[3] = { key, count, window_ms };
	PGresult *result;
	edge_err err;

	snprintf(count, sizeof(count), "%u", rule->count);
	snprintf(window_ms, sizeof(window_ms), "%llu",
	    (unsigned long long)rule->window_s * 1000);
	err = edge_db_run(limiter->db, statement->name, 3, values, NULL,
	    limiter->timeout_ms, &result);
	if (err != EDGE_OK) {
		snprintf(base->failure, sizeof(base->failure), "%s %s (limit %u ms)",
		    statement->name, edge_err_str(err), limiter->timeout_ms);
		return err;
	}
	if (!edge_limiter_postgres_read(result, 0, rule, decision)) {
		snprintf(base->failure, sizeof(base->failure),
		    "%s returned an unexpected result", statement->name);
		PQclear(result);
		return EDGE_ERR_STORE;
	}

	PQclear(result);
	return EDGE_OK;
}

static edge_err
postgres_hit(edge_limiter *base, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	return run_decision(base, &edge_limiter_postgres_statement, key, rule,
	    decision);
}

static edge_err
postgres_peek(edge_limiter *base, const char *key, const edge_rate_rule *rule,
    edge_rate_decision *decision)
{
	return run_decision(base, &edge_limiter_postgres_peek_statement, key,
	    rule, decision);
}

static void
postgres_destroy(edge_limiter *base)
{
	free(base);
}

static const edge_limiter_ops postgres_ops = {
	.name = "postgres",
	.hit = postgres_hit,
	.peek = postgres_peek,
	.destroy = postgres_destroy,
};

edge_err
edge_limiter_postgres_open(edge_db *db, unsigned timeout_ms,
    edge_limiter **limiter)
{
	postgres_limiter *created = calloc(1, sizeof(*created));

	if (created == NULL)
		return EDGE_ERR_NOMEM;
	created->base.ops = &postgres_ops;
	created->db = db;
	created->timeout_ms = timeout_ms;
	*limiter = &created->base;
	return EDGE_OK;
}

/* Sliding-window rate limiting behind one interface, with pluggable stores.
 *
 * Semantics (upstream's): per key, the most recent `count` attempt times are
 * kept. An attempt is allowed when fewer than `count` of them lie inside the
 * window (now - t < window). Every attempt is recorded, refused ones too, and
 * the oldest is dropped, so sustained abuse stays blocked while the state per
 * key stays at `count` entries. Time comes from the store's own clock. */
#ifndef EDGE_RATELIMIT_H
#define EDGE_RATELIMIT_H

#include <stdbool.h>

#include "config.h"
#include "db.h"
#include "edge_error.h"

#define EDGE_RATE_KEY_SIZE 192

/* The outcome of one attempt. */
typedef struct edge_rate_decision {
	bool allowed;
	unsigned limit;			/* the rule's count */
	unsigned remaining;		/* attempts left in the window after this one */
	unsigned retry_after_s;		/* when refused: seconds until one is allowed (>= 1) */
	unsigned reset_s;		/* seconds until the oldest counted attempt leaves */
	bool store_failed;		/* decided by the fail-open policy, not the store */
} edge_rate_decision;

typedef struct edge_limiter edge_limiter;

/* One store. hit records an attempt under key and decides it; peek decides
 * whether an attempt would be allowed without recording one (for
 * RATE_LIMIT_AGENT_AUTH_SCOPE=failures, where only failures are recorded).
 * Both return EDGE_OK, or EDGE_ERR_STORE / EDGE_ERR_TIMEOUT when the store
 * failed. */
typedef struct edge_limiter_ops {
	const char *name;
	edge_err (*hit)(edge_limiter *limiter, const char *key,
		const edge_rate_rule *rule, edge_rate_decision *decision);
	edge_err (*peek)(edge_limiter *limiter, const char *key,
		const edge_rate_rule *rule, edge_rate_decision *decision);
	void (*destroy)(edge_limiter *limiter);
} edge_limiter_ops;

struct edge_limiter {
	const edge_limiter_ops *ops;
	bool fail_open;
	int last_failure_log;		/* for the throttled store-failure warning */
	char failure[160];		/* why the last hit failed, for that warning */
};

/* Opens the configured store. The PostgreSQL store shares db (the endpoint's
 * connection). Returns EDGE_OK, EDGE_ERR_CONFIG (logged) or EDGE_ERR_NOMEM. */
edge_err edge_limiter_open(const edge_config *config, edge_db *db,
	bool plain_cgi, edge_limiter **limiter);

/* Records one attempt and decides it. When the store fails, logs a warning
 * (at most one per few seconds per process) and applies RATE_LIMIT_FAIL_OPEN:
 * returns EDGE_OK with an allowing decision, or EDGE_ERR_STORE, and then
 * the caller responds 503. */
edge_err edge_limiter_check(edge_limiter *limiter, const char *key,
	const edge_rate_rule *rule, edge_rate_decision *decision);

/* Decides whether an attempt under key would be allowed, recording nothing;
 * store failures are handled as in edge_limiter_check. */
edge_err edge_limiter_peek(edge_limiter *limiter, const char *key,
	const edge_rate_rule *rule, edge_rate_decision *decision);

/* Applies the fail-open policy after a store failure err, for endpoints that
 * ask the store themselves (see edge_limiter_uses_database): logs the
 * throttled warning, fills decision, and returns EDGE_OK or EDGE_ERR_STORE as
 * edge_limiter_check does. */
edge_err edge_limiter_fail(edge_limiter *limiter, const edge_rate_rule *rule,
	edge_err err, edge_rate_decision *decision);

/* Returns true for the PostgreSQL store, whose decision an endpoint may fold
 * into its own first statement (edge_rate_limit_hit in a FROM clause) to save
 * a round trip. */
bool edge_limiter_uses_database(const edge_limiter *limiter);

/* Reads a decision from four columns of a one-row result, starting at column
 * first: allowed, retry_after_ms, remaining, reset_ms (edge_rate_limit_hit's
 * output). Returns false when they are not there. */
bool edge_limiter_postgres_read(const PGresult *result, int first,
	const edge_rate_rule *rule, edge_rate_decision *decision);

void edge_limiter_close(edge_limiter *limiter);

/* Builds the key "<endpoint>:<client>" or "<endpoint>:<client>:<extra>";
 * client is the address, or its /64 for IPv6. */
void edge_rate_key(const char *endpoint, const edge_ip *client,
	const char *extra, char key[EDGE_RATE_KEY_SIZE]);

/* Stores, one file each. */
edge_err edge_limiter_memory_open(edge_limiter **limiter);
edge_err edge_limiter_postgres_open(edge_db *db, unsigned timeout_ms,
	edge_limiter **limiter);
edge_err edge_limiter_redis_open(const char *url, unsigned timeout_ms,
	edge_limiter **limiter);

/* The statements the PostgreSQL store needs prepared on the endpoint's
 * connection: the decision, and the read-only check used by peek. */
extern const edge_db_statement edge_limiter_postgres_statement;
extern const edge_db_statement edge_limiter_postgres_peek_statement;

#endif

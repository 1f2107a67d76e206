/* One PostgreSQL connection per process, opened lazily and reopened after a
 * failure, with a deadline on every connect and query so a stalled database
 * turns into an error response instead of a hung request. */
#ifndef EDGE_DB_H
#define EDGE_DB_H

#include <libpq-fe.h>

#include "edge_error.h"

/* Connecting may take a few round trips and a SCRAM exchange. */
#define EDGE_DB_CONNECT_TIMEOUT_MS 3000
/* Least time a new connection gets, even for a statement with a shorter
 * deadline: the SCRAM exchange and preparing the statements take several
 * round trips and some CPU, and the connection then serves many requests. */
#define EDGE_DB_MIN_CONNECT_TIMEOUT_MS 500
/* A statement of this suite touches a handful of rows by key. */
#define EDGE_DB_QUERY_TIMEOUT_MS 10000

/* A statement prepared on every new connection. */
typedef struct edge_db_statement {
	const char *name;
	const char *sql;
	int param_count;
} edge_db_statement;

typedef struct edge_db {
	PGconn *conn;				/* NULL while disconnected */
	const char *url;			/* libpq URL, never logged whole */
	const edge_db_statement *statements;	/* prepared on connect */
	size_t statement_count;
	unsigned connect_failures;		/* failed connects since the last success */
} edge_db;

/* Sets up db for url; connects on first use. */
void edge_db_init(edge_db *db, const char *url,
	const edge_db_statement *statements, size_t statement_count);

/* Connects (if needed) within EDGE_DB_CONNECT_TIMEOUT_MS and prepares the
 * statements. Returns EDGE_OK, EDGE_ERR_TIMEOUT or EDGE_ERR_STORE (logged). */
edge_err edge_db_connect(edge_db *db);

/* Runs a statement prepared at connect (by name), binary-safe parameters in
 * text format (lengths may be NULL), and waits at most timeout_ms for its
 * result. A new connection gets timeout_ms too, but at least
 * EDGE_DB_MIN_CONNECT_TIMEOUT_MS and at most EDGE_DB_CONNECT_TIMEOUT_MS. On success *result is a PGRES_TUPLES_OK or PGRES_COMMAND_OK
 * result for the caller to PQclear. On EDGE_ERR_TIMEOUT the statement is
 * cancelled; on a broken connection it is closed, to be reopened next time.
 * Errors are logged once here, with the SQLSTATE, never with parameters. */
edge_err edge_db_run(edge_db *db, const char *statement, int param_count,
	const char *const *values, const int *lengths, unsigned timeout_ms,
	PGresult **result);

/* Closes the connection. */
void edge_db_close(edge_db *db);

#endif

/* PostgreSQL access through libpq's non-blocking API, so that every wait has
 * a deadline; see db.h. */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

static long long
now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits until the socket is readable (or writable) or the deadline passes. */
static edge_err
wait_socket(PGconn *conn, bool for_write, long long deadline)
{
	struct pollfd pfd = { .fd = PQsocket(conn) };

	pfd.events = for_write ? POLLOUT : POLLIN;
	for (;;) {
		long long left = deadline - now_ms();
		int ready;

		if (left <= 0)
			return EDGE_ERR_TIMEOUT;
		ready = poll(&pfd, 1, (int)left);
		if (ready > 0)
			return EDGE_OK;
		if (ready == 0)
			return EDGE_ERR_TIMEOUT;
		if (errno != EINTR)
			return EDGE_ERR_STORE;
	}
}

static void
log_connection_error(PGconn *conn, const char *what)
{
	const char *message = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	size_t len = strcspn(message, "\n");

	/* libpq's messages name the host and user, never the password. */
	edge_log(EDGE_LOG_ERROR, "db", "%s: %.*s", what, (int)len, message);
}

void
edge_db_init(edge_db *db, const char *url, const edge_db_statement *statements,
    size_t statement_count)
{
	db->conn = NULL;
	db->url = url;
	db->statements = statements;
	db->statement_count = statement_count;
	db->connect_failures = 0;
}

void
edge_db_close(edge_db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

static edge_err
prepare_statements(edge_db *db, long long deadline)
{
	for (size_t i = 0; i < db->statement_count; i++) {
		const edge_db_statement *statement = &db->statements[i];
		PGresult *result;
		bool ok;

		if (!PQsendPrepare(db->conn, statement->name, statement->sql,
		    statement->param_count, NULL))
			return EDGE_ERR_STORE;
		while (PQisBusy(db->conn)) {
			if (wait_socket(db->conn, false, deadline) != EDGE_OK ||
			    !PQconsumeInput(db->conn))
				return EDGE_ERR_TIMEOUT;
		}
		result = PQgetResult(db->conn);
		ok = PQresultStatus(result) == PGRES_COMMAND_OK;
		if (!ok)
			edge_log(EDGE_LOG_ERROR, "db",
			    "preparing statement %s failed: %s (is sql/schema.sql applied?)",
			    statement->name, PQresultErrorField(result, PG_DIAG_SQLSTATE));
		PQclear(result);
		while ((result = PQgetResult(db->conn)) != NULL)
			PQclear(result);
		if (!ok)
			return EDGE_ERR_STORE;
	}
	return EDGE_OK;
}

/* Connects within timeout_ms, without the bookkeeping of connect_within. */
static edge_err
connect_once(edge_db *db, unsigned timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;
	edge_err err;

	/* A server restart closes idle connections with a FATAL message that
	 * waits unread in the socket: read it now, so the statement goes out on
	 * a fresh connection instead of failing on the dead one. */
	if (db->conn != NULL && PQconsumeInput(db->conn) &&
	    PQstatus(db->conn) == CONNECTION_OK)
		return EDGE_OK;
	edge_db_close(db);

	db->conn = PQconnectStart(db->url);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		log_connection_error(db->conn, "connecting to PostgreSQL failed");
		edge_db_close(db);
		return EDGE_ERR_STORE;
	}

	/* libpq drives the handshake; we only wait on the socket it names. */
	while (status != PGRES_POLLING_OK) {
		if (status == PGRES_POLLING_FAILED) {
			log_connection_error(db->conn, "connecting to PostgreSQL failed");
			edge_db_close(db);
			return EDGE_ERR_STORE;
		}
		err = wait_socket(db->conn, status == PGRES_POLLING_WRITING, deadline);
		if (err != EDGE_OK) {
			edge_log(EDGE_LOG_ERROR, "db",
			    "connecting to PostgreSQL timed out after %u ms",
			    timeout_ms);
			edge_db_close(db);
			return err;
		}
		status = PQconnectPoll(db->conn);
	}

	if (PQsetnonblocking(db->conn, 1) != 0 ||
	    (err = prepare_statements(db, deadline)) != EDGE_OK) {
		log_connection_error(db->conn, "preparing the connection failed");
		edge_db_close(db);
		return EDGE_ERR_STORE;
	}
	return EDGE_OK;
}

/* Connects within timeout_ms; see edge_db_connect. Each failure is logged
 * where it happens, and the first success after failures is logged too, so
 * the log of a long-running process shows when an outage ended. */
static edge_err
connect_within(edge_db *db, unsigned timeout_ms)
{
	edge_err err = connect_once(db, timeout_ms);

	if (err != EDGE_OK) {
		db->connect_failures++;
		return err;
	}
	if (db->connect_failures > 0) {
		edge_log(EDGE_LOG_INFO, "db", "connected to PostgreSQL again after "
		    "%u failed attempts", db->connect_failures);
		db->connect_failures = 0;
	}
	return EDGE_OK;
}

edge_err
edge_db_connect(edge_db *db)
{
	return connect_within(db, EDGE_DB_CONNECT_TIMEOUT_MS);
}

/* Cancels the running statement and drains its result; closes the
 * connection when that does not finish quickly either. */
static void
cancel_statement(edge_db *db)
{
	PGcancel *cancel = PQgetCancel(db->conn);
	char message[256];
	long long deadline = now_ms() + 1000;
	PGresult *result;

	if (cancel == NULL || !PQcancel(cancel, message, sizeof(message))) {
		PQfreeCancel(cancel);
		edge_db_close(db);
		return;
	}
	PQfreeCancel(cancel);
	while (PQisBusy(db->conn)) {
		if (wait_socket(db->conn, false, deadline) != EDGE_OK ||
		    !PQconsumeInput(db->conn)) {
			edge_db_close(db);
			return;
		}
	}
	while ((result = PQgetResult(db->conn)) != NULL)
		PQclear(result);
}

static edge_err
flush_and_wait(edge_db *db, long long deadline)
{
	int flushed;

	while ((flushed = PQflush(db->conn)) == 1)
		if (wait_socket(db->conn, true, deadline) != EDGE_OK)
			return EDGE_ERR_TIMEOUT;
	if (flushed < 0)
		return EDGE_ERR_STORE;

	while (PQisBusy(db->conn)) {
		edge_err err = wait_socket(db->conn, false, deadline);

		if (err != EDGE_OK)
			return err;
		if (!PQconsumeInput(db->conn))
			return EDGE_ERR_STORE;
	}
	return EDGE_OK;
}

/* Returns true for the errors a server sends to a connection it closes
 * before running anything more on it (57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now). */
static bool
closed_before_running(const PGresult *result)
{
	const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);

	return state != NULL && strncmp(state, "57P0", 4) == 0;
}

/* Sends one statement and waits for its result; see edge_db_run. */
static edge_err
run_once(edge_db *db, const char *statement, int param_count,
    const char *const *values, const int *lengths, unsigned timeout_ms,
    PGresult **result, bool *retryable)
{
	long long deadline = now_ms() + timeout_ms;
	ExecStatusType status;
	PGresult *extra;
	edge_err err;

	*result = NULL;
	*retryable = false;
	/* A statement that could not be sent whole never ran: if the
	 * connection was closed under us (a server restart whose EOF arrived
	 * after its FATAL message), one retry on a new connection is safe. */
	if (!PQsendQueryPrepared(db->conn, statement, param_count, values,
	    lengths, NULL, 0)) {
		log_connection_error(db->conn, "sending a statement failed");
		edge_db_close(db);
		*retryable = true;
		return EDGE_ERR_STORE;
	}

	err = flush_and_wait(db, deadline);
	if (err == EDGE_ERR_TIMEOUT) {
		edge_log(EDGE_LOG_WARNING, "db",
		    "statement %s timed out after %u ms; cancelled", statement,
		    timeout_ms);
		cancel_statement(db);
		return err;
	}
	if (err != EDGE_OK) {
		log_connection_error(db->conn, "PostgreSQL connection failed");
		edge_db_close(db);
		return err;
	}

	*result = PQgetResult(db->conn);
	while ((extra = PQgetResult(db->conn)) != NULL)
		PQclear(extra);
	status = PQresultStatus(*result);
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
		return EDGE_OK;

	*retryable = closed_before_running(*result);
	edge_log(*retryable ? EDGE_LOG_INFO : EDGE_LOG_ERROR, "db",
	    "statement %s failed: SQLSTATE %s: %s%s", statement,
	    PQresultErrorField(*result, PG_DIAG_SQLSTATE) ?: "none",
	    PQresultErrorField(*result, PG_DIAG_MESSAGE_PRIMARY) ?: "no message",
	    *retryable ? "; retrying on a new connection" : "");
	PQclear(*result);
	*result = NULL;
	if (*retryable || PQstatus(db->conn) != CONNECTION_OK)
		edge_db_close(db);
	return EDGE_ERR_STORE;
}

edge_err
edge_db_run(edge_db *db, const char *statement, int param_count,
    const char *const *values, const int *lengths, unsigned timeout_ms,
    PGresult **result)
{
	bool reused = db->conn != NULL, retryable;
	unsigned connect_ms = timeout_ms < EDGE_DB_MIN_CONNECT_TIMEOUT_MS ?
	    EDGE_DB_MIN_CONNECT_TIMEOUT_MS : timeout_ms > EDGE_DB_CONNECT_TIMEOUT_MS ?
	    EDGE_DB_CONNECT_TIMEOUT_MS : timeout_ms;
	edge_err err;

	/* A statement with a short deadline (the rate limiter's) connects within
	 * a short deadline too, so a silent server costs at most half a second. */
	*result = NULL;
	if ((err = connect_within(db, connect_ms)) != EDGE_OK)
		return err;

	/* A connection kept from an earlier request may have been closed by a
	 * server restart without the closing message reaching us until now. The
	 * statement then never ran, so one retry on a new connection is safe. */
	err = run_once(db, statement, param_count, values, lengths, timeout_ms,
	    result, &retryable);
	if (err != EDGE_OK && retryable && reused) {
		if ((err = connect_within(db, connect_ms)) != EDGE_OK)
			return err;
		err = run_once(db, statement, param_count, values, lengths,
		    timeout_ms, result, &retryable);
	}
	return err;
}

/* mc-edge-admin check-database and check-limiter: connectivity checks for
 * deploy scripts, which need a non-zero exit status when a store is down. */
#include "admin.h"
#include "db.h"
#include "log.h"
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const edge_db_statement version_statement = {
	"admin_schema_version",
	"SELECT max(version) FROM edge_schema_version",
	0,
};

int
admin_check_database(const edge_config *config, int argc, char **argv)
{
	edge_db db;
	PGresult *result;
	int status = 1;

	(void)argv;
	if (argc != 0)
		return 2;
	edge_db_init(&db, config->database_url, &version_statement, 1);
	if (edge_db_run(&db, version_statement.name, 0, NULL, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) == EDGE_OK) {
		printf("database: ok, schema version %s\n", PQgetvalue(result, 0, 0));
		PQclear(result);
		status = 0;
	} else {
		printf("database: FAILED (see the log line above)\n");
	}
	edge_db_close(&db);
	return status;
}

int
admin_check_limiter(const edge_config *config, int argc, char **argv)
{
	static const edge_rate_rule probe_rule = { 1000, 1 };
	edge_db_statement statement = edge_limiter_postgres_statement;
	edge_limiter *limiter;
	edge_rate_decision decision;
	char host[64] = "unknown", key[EDGE_RATE_KEY_SIZE];
	edge_db db;
	edge_err err;

	(void)argv;
	if (argc != 0)
		return 2;
	if (config->limiter_backend == EDGE_LIMITER_POSTGRES &&
	    config->database_url == NULL) {
		edge_log(EDGE_LOG_ERROR, "config",
		    "RATE_LIMIT_BACKEND=postgres needs DATABASE_URL");
		return 1;
	}

	edge_db_init(&db, config->database_url, &statement, 1);
	if (edge_limiter_open(config, &db, false, &limiter) != EDGE_OK) {
		edge_db_close(&db);
		return 1;
	}

	/* A probe key of its own, so the check never eats a client's quota. */
	gethostname(host, sizeof(host) - 1);
	snprintf(key, sizeof(key), "admin-check:%s", host);
	err = limiter->ops->hit(limiter, key, &probe_rule, &decision);
	if (err == EDGE_OK)
		printf("limiter: ok (%s store answered)\n", limiter->ops->name);
	else
		printf("limiter: FAILED (%s store: %s)\n", limiter->ops->name,
		    limiter->failure[0] != '\0' ? limiter->failure : edge_err_str(err));
	edge_limiter_close(limiter);
	edge_db_close(&db);
	return err == EDGE_OK ? 0 : 1;
}

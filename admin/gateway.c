/* mc-edge-admin gateway-check and gateway-send: try a gateway of the
 * gateways table from a shell, with the settings the FastCGI programs use.
 * The gateway's token is read from the database and never printed. */
#include "admin.h"
#include "db.h"
#include "gateway.h"
#include "log.h"
#include "uuid.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const edge_db_statement statements[] = {
	{
		"admin_gateway_row",
		"SELECT url, token, disable_device_pairing, allow_insecure_tls"
		" FROM gateways WHERE id = $1",
		1,
	},
};

/* A gateways row, copied out of its PGresult. */
typedef struct gateway_row {
	char id[EDGE_UUID_SIZE];
	char *url;
	char *token;	/* NULL when the column is NULL */
	edge_gateway_target target;
} gateway_row;

static void
free_row(gateway_row *row)
{
	free(row->url);
	if (row->token != NULL) {
		OPENSSL_cleanse(row->token, strlen(row->token));
		free(row->token);
	}
}

/* Loads the row of gateway_id into row. Returns 0, or 1 after printing an error. */
static int
load_row(const edge_config *config, const char *gateway_id, gateway_row *row)
{
	const char *values[1];
	PGresult *result;
	edge_db db;
	int status = 1;

	memset(row, 0, sizeof(*row));
	if (!edge_uuid_parse(gateway_id, strlen(gateway_id), row->id)) {
		fprintf(stderr, "mc-edge-admin: GATEWAY_ID must be a UUID\n");
		return 1;
	}
	values[0] = row->id;
	edge_db_init(&db, config->database_url, statements, 1);
	if (edge_db_run(&db, statements[0].name, 1, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK) {
		printf("gateway %s: FAILED (database error, see the log line above)\n",
		    row->id);
		edge_db_close(&db);
		return 1;
	}
	if (PQntuples(result) != 1) {
		printf("gateway %s: FAILED (gateway not found)\n", row->id);
		goto done;
	}

	row->url = strdup(PQgetvalue(result, 0, 0));
	if (!PQgetisnull(result, 0, 1))
		row->token = strdup(PQgetvalue(result, 0, 1));
	if (row->url == NULL || (!PQgetisnull(result, 0, 1) && row->token == NULL)) {
		printf("gateway %s: FAILED (out of memory)\n", row->id);
		goto done;
	}
	row->target.gateway_id = row->id;
	row->target.url = row->url;
	row->target.token = row->token;
	row->target.disable_device_pairing = strcmp(PQgetvalue(result, 0, 2), "t") == 0;
	row->target.allow_insecure_tls = strcmp(PQgetvalue(result, 0, 3), "t") == 0;
	status = 0;

done:
	/* The token was in the result too. */
	if (PQntuples(result) == 1 && !PQgetisnull(result, 0, 1))
		OPENSSL_cleanse(PQgetvalue(result, 0, 1),
		    (size_t)PQgetlength(result, 0, 1));
	PQclear(result);
	edge_db_close(&db);
	if (status != 0)
		free_row(row);
	return status;
}

static void
print_failure(const char *gateway_id, const edge_gateway_result *result)
{
	printf("gateway %s: FAILED (%s: %s", gateway_id,
	    edge_gateway_status_str(result->status), result->reason);
	if (result->retryable)
		printf("; retryable, retry after %u ms", result->retry_after_ms);
	printf(")\n");
}

int
admin_gateway_check(const edge_config *config, int argc, char **argv)
{
	edge_gateway_settings settings;
	edge_gateway_result result;
	gateway_row row;

	if (argc != 1) {
		fprintf(stderr, "usage: mc-edge-admin gateway-check GATEWAY_ID\n");
		return 2;
	}
	if (load_row(config, argv[0], &row) != 0)
		return 1;
	edge_gateway_settings_from_config(config, &settings);
	edge_gateway_probe(&settings, &row.target, &result);
	if (result.status == EDGE_GATEWAY_OK)
		printf("gateway %s: ok, protocol %d\n", row.id, result.protocol);
	else
		print_failure(row.id, &result);
	free_row(&row);
	return result.status == EDGE_GATEWAY_OK ? 0 : 1;
}

/* Reads all of standard input, at most EDGE_GATEWAY_MAX_OUTGOING bytes, and
 * drops one final newline, so `echo text |` sends "text". Returns NULL on
 * error. */
static char *
read_message(void)
{
	size_t size = EDGE_GATEWAY_MAX_OUTGOING + 1, len;
	char *message = malloc(size + 1);

	if (message == NULL)
		return NULL;
	len = fread(message, 1, size, stdin);
	if (ferror(stdin) || len == size || memchr(message, '\0', len) != NULL) {
		fprintf(stderr, "mc-edge-admin: the message on standard input is "
		    "unreadable, contains a NUL byte or is longer than %u bytes\n",
		    EDGE_GATEWAY_MAX_OUTGOING);
		free(message);
		return NULL;
	}
	if (len > 0 && message[len - 1] == '\n')
		len--;
	if (len == 0) {
		fprintf(stderr, "mc-edge-admin: the message on standard input is "
		    "empty\n");
		free(message);
		return NULL;
	}
	message[len] = '\0';
	return message;
}

int
admin_gateway_send(const edge_config *config, int argc, char **argv)
{
	char key[EDGE_UUID_SIZE];
	edge_gateway_settings settings;
	edge_gateway_result result;
	const char *idempotency_key;
	gateway_row row;
	char *message;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: mc-edge-admin gateway-send GATEWAY_ID "
		    "SESSION_KEY [IDEMPOTENCY_KEY] < message\n");
		return 2;
	}
	if (argc == 3) {
		idempotency_key = argv[2];
	} else if (edge_uuid_generate(key)) {
		idempotency_key = key;
	} else {
		fprintf(stderr, "mc-edge-admin: the random generator failed\n");
		return 1;
	}
	message = read_message();
	if (message == NULL)
		return 1;
	if (load_row(config, argv[0], &row) != 0) {
		free(message);
		return 1;
	}

	edge_gateway_settings_from_config(config, &settings);
	edge_gateway_chat_send(&settings, &row.target, argv[1], message,
	    idempotency_key, &result);
	if (result.status == EDGE_GATEWAY_OK)
		printf("gateway %s: sent, run status %s, protocol %d, "
		    "idempotency key %s\n", row.id,
		    result.run_status[0] != '\0' ? result.run_status : "(none)",
		    result.protocol, idempotency_key);
	else
		print_failure(row.id, &result);
	free_row(&row);
	free(message);
	return result.status == EDGE_GATEWAY_OK ? 0 : 1;
}

/* mc-edge-admin notifications: list the agent notifications of the outbox
 * and put dead or closed ones back to pending. Never prints payload content
 * or gateway tokens.
 *
 *   notifications list [--state pending|sending|sent|dead|closed] [--limit N] [--json]
 *       Without --state: pending, sending and dead rows. Tab-separated with
 *       a header line, or one JSON object per line. Oldest first.
 *   notifications retry ID... | --dead
 *       Dead or closed rows become pending and due now. attempts restarts at
 *       0 and the retry span (DISPATCH_RETRY_SPAN_MS) restarts now, so a
 *       retried row gets the full schedule again. last_error stays until
 *       the next attempt. The local dispatcher is woken. */
#include "admin.h"
#include "db.h"
#include "log.h"
#include "outbox_wake.h"
#include "payload.h"
#include "uuid.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 100000

static const char *const columns[] = {
	"id", "payload_id", "board_id", "webhook_id", "state", "attempts",
	"created_at", "next_attempt_at", "last_attempt_at", "last_outcome",
	"last_error", "session_key", "claimed_by", "sent_at", "gateway_answer",
};
#define COLUMN_COUNT (sizeof(columns) / sizeof(columns[0]))

static const edge_db_statement statements[] = {
	{
		/* $1 NULL lists the rows that still need attention. */
		"admin_notifications_list",
		"SELECT id, payload_id, board_id, webhook_id, state, attempts, "
		"created_at, next_attempt_at, last_attempt_at, last_outcome, "
		"last_error, session_key, claimed_by, sent_at, gateway_answer "
		"FROM edge_notification_outbox "
		"WHERE ($1::varchar IS NULL AND state IN ('pending', 'sending', 'dead')) "
		"OR state = $1 ORDER BY created_at, id LIMIT $2",
		2,
	},
	{
		"admin_notifications_retry",
		"WITH target AS (SELECT id, state FROM edge_notification_outbox "
		"WHERE id = ANY ($1::uuid[]) OR ($2::boolean AND state = 'dead') "
		"FOR UPDATE), "
		"retried AS (UPDATE edge_notification_outbox AS o SET "
		"state = 'pending', attempts = 0, "
		"next_attempt_at = now() AT TIME ZONE 'utc', "
		"retried_at = now() AT TIME ZONE 'utc', lease_until = NULL, "
		"updated_at = now() AT TIME ZONE 'utc' FROM target "
		"WHERE o.id = target.id AND target.state IN ('dead', 'closed') "
		"RETURNING o.id) "
		"SELECT target.id, target.state, retried.id IS NOT NULL "
		"FROM target LEFT JOIN retried ON retried.id = target.id "
		"ORDER BY target.id",
		2,
	},
};
#define STATEMENT_COUNT (sizeof(statements) / sizeof(statements[0]))

static void
print_usage(void)
{
	fprintf(stderr, "usage: mc-edge-admin notifications list [--state "
	    "pending|sending|sent|dead|closed] [--limit N] [--json]\n"
	    "       mc-edge-admin notifications retry ID...|--dead\n");
}

static bool
valid_state(const char *state)
{
	static const char *const states[] = {
		"pending", "sending", "sent", "dead", "closed",
	};

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(state, states[i]) == 0)
			return true;
	return false;
}

/* Prints a field for the tab-separated form: control characters (tabs and
 * line breaks in an error text) become spaces, so each row stays one line. */
static void
print_plain(const char *value)
{
	for (const char *p = value; *p != '\0'; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
}

static void
print_rows(const PGresult *result, bool json)
{
	edge_buf line = { 0 };

	if (!json) {
		for (size_t c = 0; c < COLUMN_COUNT; c++)
			printf("%s%s", c > 0 ? "\t" : "", columns[c]);
		putchar('\n');
	}
	for (int i = 0; i < PQntuples(result); i++) {
		for (size_t c = 0; c < COLUMN_COUNT; c++) {
			const char *value = PQgetvalue(result, i, (int)c);
			bool null = PQgetisnull(result, i, (int)c);

			if (!json) {
				if (c > 0)
					putchar('\t');
				print_plain(null ? "" : value);
				continue;
			}
			edge_buf_append_str(&line, c == 0 ? "{" : ", ");
			edge_json_append_string(&line, columns[c], strlen(columns[c]));
			edge_buf_append_str(&line, ": ");
			if (null)
				edge_buf_append_str(&line, "null");
			else if (strcmp(columns[c], "attempts") == 0)
				edge_buf_append_str(&line, value);
			else
				edge_json_append_string(&line, value, strlen(value));
		}
		if (json && line.err == EDGE_OK) {
			printf("%s}\n", line.data);
			line.len = 0;
		} else if (!json) {
			putchar('\n');
		}
	}
	edge_buf_free(&line);
}

static int
list_notifications(edge_db *db, int argc, char **argv)
{
	const char *state = NULL;
	char limit_text[16];
	unsigned long limit = DEFAULT_LIMIT;
	bool json = false;
	PGresult *result;

	for (int i = 0; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			state = argv[++i];
			if (!valid_state(state)) {
				fprintf(stderr, "mc-edge-admin: invalid state '%s'\n", state);
				return 2;
			}
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			limit = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || argv[i][0] < '0' || argv[i][0] > '9' ||
			    limit == 0 || limit > MAX_LIMIT) {
				fprintf(stderr, "mc-edge-admin: --limit must be a whole "
				    "number from 1 to %d\n", MAX_LIMIT);
				return 2;
			}
		} else {
			print_usage();
			return 2;
		}
	}

	snprintf(limit_text, sizeof(limit_text), "%lu", limit);
	if (edge_db_run(db, "admin_notifications_list", 2,
	    (const char *[]){ state, limit_text }, NULL, EDGE_DB_QUERY_TIMEOUT_MS,
	    &result) != EDGE_OK)
		return 1;
	print_rows(result, json);
	PQclear(result);
	return 0;
}

/* Builds the PostgreSQL array literal of the ids; false after printing
 * which argument is not a UUID. */
static bool
id_array(int argc, char **argv, edge_buf *out)
{
	edge_buf_append_str(out, "{");
	for (int i = 0; i < argc; i++) {
		char id[EDGE_UUID_SIZE];

		if (!edge_uuid_parse(argv[i], strlen(argv[i]), id)) {
			fprintf(stderr, "mc-edge-admin: '%s' is not a notification id "
			    "(a UUID)\n", argv[i]);
			return false;
		}
		edge_buf_appendf(out, "%s%s", i > 0 ? "," : "", id);
	}
	edge_buf_append_str(out, "}");
	return true;
}

static int
retry_notifications(edge_db *db, int argc, char **argv)
{
	bool all_dead = argc == 1 && strcmp(argv[0], "--dead") == 0;
	edge_buf ids = { 0 };
	char wake_path[108];
	int status = 0, retried = 0, wake_fd = -1;
	PGresult *result;

	if (argc == 0) {
		print_usage();
		return 2;
	}
	if (!id_array(all_dead ? 0 : argc, argv, &ids)) {
		edge_buf_free(&ids);
		return 2;
	}
	if (ids.err != EDGE_OK ||
	    edge_db_run(db, "admin_notifications_retry", 2,
	    (const char *[]){ ids.data, all_dead ? "true" : "false" }, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result) != EDGE_OK) {
		edge_buf_free(&ids);
		return 1;
	}
	edge_buf_free(&ids);

	for (int i = 0; i < PQntuples(result); i++) {
		const char *id = PQgetvalue(result, i, 0);
		const char *state = PQgetvalue(result, i, 1);

		if (PQgetvalue(result, i, 2)[0] == 't') {
			printf("%s\tretried (was %s)\n", id, state);
			retried++;
		} else {
			printf("%s\tnot retried: state is %s, not dead or closed\n",
			    id, state);
			status = 1;
		}
	}
	/* Ids that matched no row at all. */
	for (int a = 0; !all_dead && a < argc; a++) {
		char id[EDGE_UUID_SIZE];
		bool found = false;

		edge_uuid_parse(argv[a], strlen(argv[a]), id);
		for (int i = 0; i < PQntuples(result) && !found; i++)
			found = strcmp(PQgetvalue(result, i, 0), id) == 0;
		if (!found) {
			printf("%s\tnot found\n", id);
			status = 1;
		}
	}
	PQclear(result);
	printf("%d notification%s retried\n", retried, retried == 1 ? "" : "s");

	if (retried > 0 && edge_outbox_wake_path(wake_path, sizeof(wake_path)) == 0) {
		edge_outbox_wake_send(&wake_fd, wake_path);
		if (wake_fd >= 0)
			close(wake_fd);
	}
	return status;
}

int
admin_notifications(const edge_config *config, int argc, char **argv)
{
	edge_db db;
	int status;

	if (argc < 1) {
		print_usage();
		return 2;
	}
	edge_db_init(&db, config->database_url, statements, STATEMENT_COUNT);
	if (strcmp(argv[0], "list") == 0) {
		status = list_notifications(&db, argc - 1, argv + 1);
	} else if (strcmp(argv[0], "retry") == 0) {
		status = retry_notifications(&db, argc - 1, argv + 1);
	} else {
		print_usage();
		status = 2;
	}
	edge_db_close(&db);
	return status;
}

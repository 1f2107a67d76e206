/* gateway-message: the single statement that resolves the caller's
 * organization, role and write access, the board, and the board's gateway. */
#include "gateway_message.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The caller's organization is its active one when it is a member there,
 * else its oldest membership (ties broken by id, so the choice is stable).
 * Write access comes from all_boards_write or a can_write access row only:
 * owners and admins get no bypass, as upstream decides. The gateway columns,
 * the token among them, are read only when every check before them passed,
 * and only for a gateway of the board's own organization. */
const edge_db_statement gateway_statements[] = {
	{
		"gateway_access",
		"WITH caller AS ("
		" SELECT u.id, u.active_organization_id FROM users AS u"
		" WHERE u.clerk_user_id = $1),"
		" membership AS ("
		" SELECT m.id, m.organization_id, m.role, m.all_boards_write"
		" FROM caller AS c"
		" JOIN organization_members AS m ON m.user_id = c.id"
		" ORDER BY (m.organization_id = c.active_organization_id) IS TRUE DESC,"
		"  m.created_at, m.id"
		" LIMIT 1),"
		" board AS ("
		" SELECT b.id, b.organization_id, b.gateway_id FROM boards AS b"
		" WHERE b.id = $2::uuid),"
		" decision AS ("
		" SELECT m.id AS member_id, m.organization_id,"
		"  COALESCE(m.role IN ('owner', 'admin'), false) AS admin,"
		"  b.id AS board_id, b.gateway_id,"
		"  COALESCE(b.organization_id = m.organization_id, false) AS same_org,"
		"  COALESCE(m.all_boards_write OR EXISTS ("
		"   SELECT 1 FROM organization_board_access AS a"
		"   WHERE a.organization_member_id = m.id AND a.board_id = b.id"
		"   AND a.can_write), false) AS can_write"
		" FROM (SELECT 1) AS one"
		" LEFT JOIN membership AS m ON true"
		" LEFT JOIN board AS b ON true)"
		" SELECT EXISTS (SELECT 1 FROM caller), d.member_id IS NOT NULL,"
		"  d.admin, d.organization_id, d.board_id IS NOT NULL, d.same_org,"
		"  d.can_write, d.gateway_id, g.id IS NOT NULL, g.url, g.token,"
		"  g.disable_device_pairing, g.allow_insecure_tls"
		" FROM decision AS d"
		" LEFT JOIN gateways AS g ON g.id = d.gateway_id"
		"  AND g.organization_id = d.organization_id"
		"  AND d.admin AND d.same_org AND d.can_write",
		2,
	},
};
const size_t gateway_statement_count =
    sizeof(gateway_statements) / sizeof(gateway_statements[0]);

enum {
	COLUMN_USER_FOUND = 0,
	COLUMN_MEMBER,
	COLUMN_ADMIN,
	COLUMN_ORGANIZATION_ID,
	COLUMN_BOARD_FOUND,
	COLUMN_SAME_ORGANIZATION,
	COLUMN_CAN_WRITE,
	COLUMN_GATEWAY_ID,
	COLUMN_GATEWAY_FOUND,
	COLUMN_URL,
	COLUMN_TOKEN,
	COLUMN_DISABLE_DEVICE_PAIRING,
	COLUMN_ALLOW_INSECURE_TLS,
	COLUMN_COUNT
};

static bool
flag(const PGresult *result, int column)
{
	return !PQgetisnull(result, 0, column) &&
	    PQgetvalue(result, 0, column)[0] == 't';
}

/* Copies a uuid column into out; "" for NULL. */
static void
copy_uuid(const PGresult *result, int column, char out[EDGE_UUID_SIZE])
{
	out[0] = '\0';
	if (!PQgetisnull(result, 0, column))
		snprintf(out, EDGE_UUID_SIZE, "%s", PQgetvalue(result, 0, column));
}

static char *
copy_text(const PGresult *result, int column)
{
	if (PQgetisnull(result, 0, column))
		return NULL;
	return strdup(PQgetvalue(result, 0, column));
}

edge_err
gateway_access_lookup(edge_db *db, const char *clerk_user_id,
    const char *board_id, gateway_access *access)
{
	const char *values[2] = { clerk_user_id, board_id };
	PGresult *result;
	edge_err err;

	memset(access, 0, sizeof(*access));
	err = edge_db_run(db, "gateway_access", 2, values, NULL,
	    EDGE_DB_QUERY_TIMEOUT_MS, &result);
	if (err != EDGE_OK)
		return err;
	if (PQntuples(result) != 1 || PQnfields(result) != COLUMN_COUNT) {
		PQclear(result);
		return EDGE_ERR_STORE;
	}

	access->user_found = flag(result, COLUMN_USER_FOUND);
	access->member = flag(result, COLUMN_MEMBER);
	access->admin = flag(result, COLUMN_ADMIN);
	copy_uuid(result, COLUMN_ORGANIZATION_ID, access->organization_id);
	access->board_found = flag(result, COLUMN_BOARD_FOUND);
	access->same_organization = flag(result, COLUMN_SAME_ORGANIZATION);
	access->can_write = flag(result, COLUMN_CAN_WRITE);
	access->board_has_gateway = !PQgetisnull(result, 0, COLUMN_GATEWAY_ID);
	copy_uuid(result, COLUMN_GATEWAY_ID, access->gateway_id);
	access->gateway_found = flag(result, COLUMN_GATEWAY_FOUND);
	access->disable_device_pairing = flag(result,
	    COLUMN_DISABLE_DEVICE_PAIRING);
	access->allow_insecure_tls = flag(result, COLUMN_ALLOW_INSECURE_TLS);

	if (access->gateway_found) {
		access->gateway_url = copy_text(result, COLUMN_URL);
		access->gateway_token = copy_text(result, COLUMN_TOKEN);
		if (access->gateway_url == NULL ||
		    (access->gateway_token == NULL &&
		    !PQgetisnull(result, 0, COLUMN_TOKEN)))
			err = EDGE_ERR_NOMEM;
	}

	/* The result's copy of the token is wiped before libpq frees it. */
	if (!PQgetisnull(result, 0, COLUMN_TOKEN)) {
		char *stored = PQgetvalue(result, 0, COLUMN_TOKEN);

		OPENSSL_cleanse(stored, strlen(stored));
	}
	PQclear(result);
	if (err != EDGE_OK)
		gateway_access_free(access);
	return err;
}

void
gateway_access_free(gateway_access *access)
{
	if (access->gateway_token != NULL)
		OPENSSL_cleanse(access->gateway_token,
		    strlen(access->gateway_token));
	free(access->gateway_token);
	free(access->gateway_url);
	access->gateway_token = NULL;
	access->gateway_url = NULL;
}

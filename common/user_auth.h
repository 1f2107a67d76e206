/* User authentication for the user-facing endpoints: the shared bearer token
 * of local mode, or a signed JWT checked against a JWKS file in jwt mode.
 * Identity never comes from REMOTE_USER, AUTH_TYPE or any other CGI
 * variable, only from the Authorization header value passed in here. */
#ifndef EDGE_USER_AUTH_H
#define EDGE_USER_AUTH_H

#include <stddef.h>

#include "config.h"
#include "edge_error.h"

/* The clerk_user_id of the single user of local mode, as upstream names it. */
#define EDGE_LOCAL_AUTH_USER "local-auth-user"

/* Room for any clerk_user_id this module writes: a JWT sub is at most 255 bytes. */
#define EDGE_USER_ID_SIZE 256

typedef struct edge_user_auth edge_user_auth;	/* per process: mode, token, cached JWKS */

/* Prepares authentication for config->auth_mode. In jwt mode the JWKS file is read
 * now (an unreadable or empty key set is EDGE_ERR_CONFIG, logged) and re-read
 * whenever its inode, size or mtime changes. Local mode keeps only a SHA-256
 * digest of LOCAL_AUTH_TOKEN (which edge_config_load has checked), so that
 * comparisons take the same time whatever the presented token's length.
 * Returns EDGE_OK, EDGE_ERR_CONFIG or EDGE_ERR_NOMEM. */
edge_err edge_user_auth_init(const edge_config *config, edge_user_auth **auth);

/* Checks the value of the Authorization header (NULL when absent). On success
 * writes the caller's users.clerk_user_id into clerk_user_id (local mode:
 * "local-auth-user"; jwt mode: the token's sub) and returns EDGE_OK. Missing or
 * bad credentials: EDGE_ERR_INVALID, with one log line giving the reason (expired,
 * bad signature, wrong issuer, ...), never the token. EDGE_ERR_NOMEM when
 * memory, OpenSSL or json-c fails.
 *
 * The header must be the scheme "Bearer" in any case, one or more spaces and
 * the token, which contains no whitespace. Spaces and tabs around the whole value
 * are ignored, since HTTP does not count them as part of a field value. */
edge_err edge_user_auth_check(edge_user_auth *auth, const char *authorization,
	char *clerk_user_id, size_t clerk_user_id_size);

void edge_user_auth_free(edge_user_auth *auth);

#endif

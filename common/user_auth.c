/* User authentication by bearer token or JWT; see user_auth.h. */
#include "user_auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hmac.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"

struct edge_user_auth {
	edge_auth_mode mode;
	unsigned char token_digest[EDGE_SHA256_SIZE];	/* local mode */
	edge_jwks_cache *keys;				/* jwt mode */
	char *issuer, *audience;			/* jwt mode, NULL when unchecked */
	unsigned leeway_s;
};

/* Copies text, keeping NULL as NULL. Returns false when memory runs out. */
static bool
copy_optional(const char *text, char **copy)
{
	*copy = NULL;
	if (text == NULL)
		return true;
	*copy = strdup(text);
	return *copy != NULL;
}

edge_err
edge_user_auth_init(const edge_config *config, edge_user_auth **auth)
{
	edge_user_auth *created = calloc(1, sizeof(*created));
	edge_err err = EDGE_OK;

	*auth = NULL;
	if (created == NULL)
		return EDGE_ERR_NOMEM;
	created->mode = config->auth_mode;

	if (created->mode == EDGE_AUTH_LOCAL) {
		const char *token = config->local_auth_token;

		/* edge_config_load has checked the token when the endpoint needs user auth. */
		if (token == NULL || token[0] == '\0') {
			edge_log(EDGE_LOG_ERROR, "user-auth",
			    "LOCAL_AUTH_TOKEN is not set; AUTH_MODE=local needs it");
			err = EDGE_ERR_CONFIG;
		} else if (EVP_Digest(token, strlen(token), created->token_digest,
		    NULL, EVP_sha256(), NULL) != 1) {
			err = EDGE_ERR_NOMEM;
		}
	} else if (config->jwt_jwks_file == NULL) {
		edge_log(EDGE_LOG_ERROR, "user-auth",
		    "JWT_JWKS_FILE is not set; AUTH_MODE=jwt needs it");
		err = EDGE_ERR_CONFIG;
	} else {
		created->leeway_s = config->jwt_leeway_s;
		if (!copy_optional(config->jwt_issuer, &created->issuer) ||
		    !copy_optional(config->jwt_audience, &created->audience))
			err = EDGE_ERR_NOMEM;
		else
			err = edge_jwks_cache_open(config->jwt_jwks_file, &created->keys);
	}

	if (err != EDGE_OK) {
		edge_user_auth_free(created);
		return err;
	}
	*auth = created;
	return EDGE_OK;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Finds the token of "Bearer <token>": the scheme in any case, one or more
 * spaces, then a token without whitespace or control characters. Blanks
 * around the whole value are skipped. Returns false for anything else. */
static bool
bearer_token(const char *value, const char **token, size_t *token_len)
{
	static const char scheme[] = "Bearer";
	size_t start = 0, end = strlen(value), i;

	while (start < end && is_blank(value[start]))
		start++;
	while (end > start && is_blank(value[end - 1]))
		end--;
	if (end - start < sizeof(scheme) ||
	    strncasecmp(value + start, scheme, sizeof(scheme) - 1) != 0 ||
	    value[start + sizeof(scheme) - 1] != ' ')
		return false;

	i = start + sizeof(scheme) - 1;
	while (i < end && value[i] == ' ')
		i++;
	if (i == end)
		return false;
	for (size_t j = i; j < end; j++) {
		unsigned char c = (unsigned char)value[j];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	*token = value + i;
	*token_len = end - i;
	return true;
}

/* Compares token with LOCAL_AUTH_TOKEN through their SHA-256 digests, so the
 * time taken depends on neither the stored token's length nor the position
 * of the first difference. */
static edge_err
check_local_token(const edge_user_auth *auth, const char *token, size_t len)
{
	unsigned char digest[EDGE_SHA256_SIZE];

	if (EVP_Digest(token, len, digest, NULL, EVP_sha256(), NULL) != 1) {
		edge_log(EDGE_LOG_ERROR, "user-auth", "SHA-256 failed in OpenSSL");
		return EDGE_ERR_NOMEM;
	}
	if (CRYPTO_memcmp(digest, auth->token_digest, sizeof(digest)) != 0) {
		edge_log(EDGE_LOG_WARNING, "user-auth",
		    "rejected: bearer token does not match LOCAL_AUTH_TOKEN");
		return EDGE_ERR_INVALID;
	}
	return EDGE_OK;
}

static edge_err
check_jwt(edge_user_auth *auth, const char *token, size_t len, char *sub,
    size_t sub_size)
{
	edge_jwt_policy policy = { auth->issuer, auth->audience, auth->leeway_s };
	const edge_jwks *keys = edge_jwks_cache_current(auth->keys);
	edge_jwt_result result;

	result = edge_jwt_verify(token, len, keys, &policy, time(NULL), sub, sub_size);
	if (result == EDGE_JWT_INTERNAL) {
		edge_log(EDGE_LOG_ERROR, "user-auth",
		    "JWT verification failed inside OpenSSL or json-c");
		return EDGE_ERR_NOMEM;
	}
	if (result != EDGE_JWT_OK) {
		edge_log(EDGE_LOG_WARNING, "user-auth", "rejected JWT: %s",
		    edge_jwt_result_str(result));
		return EDGE_ERR_INVALID;
	}
	return EDGE_OK;
}

edge_err
edge_user_auth_check(edge_user_auth *auth, const char *authorization,
    char *clerk_user_id, size_t clerk_user_id_size)
{
	char sub[EDGE_USER_ID_SIZE];
	const char *token;
	size_t token_len;
	edge_err err;

	if (authorization == NULL || authorization[0] == '\0') {
		edge_log(EDGE_LOG_INFO, "user-auth", "rejected: no Authorization header");
		return EDGE_ERR_INVALID;
	}
	if (!bearer_token(authorization, &token, &token_len)) {
		edge_log(EDGE_LOG_WARNING, "user-auth",
		    "rejected: Authorization is not \"Bearer <token>\"");
		return EDGE_ERR_INVALID;
	}

	if (auth->mode == EDGE_AUTH_LOCAL) {
		err = check_local_token(auth, token, token_len);
		if (err == EDGE_OK)
			strcpy(sub, EDGE_LOCAL_AUTH_USER);
	} else {
		err = check_jwt(auth, token, token_len, sub, sizeof(sub));
	}
	if (err != EDGE_OK)
		return err;

	/* A buffer too small for the id is the caller's bug: fail closed. */
	if (strlen(sub) >= clerk_user_id_size) {
		edge_log(EDGE_LOG_ERROR, "user-auth",
		    "user id buffer of %zu bytes is too small", clerk_user_id_size);
		return EDGE_ERR_INVALID;
	}
	strcpy(clerk_user_id, sub);
	return EDGE_OK;
}

void
edge_user_auth_free(edge_user_auth *auth)
{
	if (auth == NULL)
		return;
	edge_jwks_cache_free(auth->keys);
	free(auth->issuer);
	free(auth->audience);
	OPENSSL_cleanse(auth->token_digest, sizeof(auth->token_digest));
	free(auth);
}

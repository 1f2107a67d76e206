/* Bearer credentials: the token of an "Authorization: Bearer <token>" header,
 * and the agent token of a request, which X-Agent-Token or Authorization
 * carries. */
#ifndef EDGE_BEARER_H
#define EDGE_BEARER_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"

/* Finds the token in an Authorization header value: the scheme "Bearer"
 * (any case) and one space, then the rest with surrounding spaces and tabs
 * removed, as upstream reads it. Returns false for NULL, another scheme or an
 * empty token; otherwise points *token into value, *token_len bytes long. */
bool edge_bearer_token(const char *value, const char **token, size_t *token_len);

typedef enum edge_agent_credential {
	EDGE_AGENT_CREDENTIAL_FOUND = 0,
	EDGE_AGENT_CREDENTIAL_MISSING,	/* neither header holds a token */
	EDGE_AGENT_CREDENTIAL_CONFLICT	/* both hold one, and they differ */
} edge_agent_credential;

/* Finds the agent token of req: X-Agent-Token (surrounding spaces and tabs
 * removed) when it is not empty, else the Bearer token of Authorization.
 * When both are present they must be equal. On FOUND, *token points into the
 * request's parameters, *token_len bytes long and not NUL-terminated. */
edge_agent_credential edge_agent_credential_find(const edge_request *req,
	const char **token, size_t *token_len);

#endif

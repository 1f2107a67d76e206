/* Token extraction from request headers; see bearer.h. */
#include "bearer.h"

#include <string.h>
#include <strings.h>

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Narrows [*start, *start + *len) to its part without surrounding blanks. */
static void
trim(const char **start, size_t *len)
{
	while (*len > 0 && is_blank(**start)) {
		(*start)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((*start)[*len - 1]))
		(*len)--;
}

bool
edge_bearer_token(const char *value, const char **token, size_t *token_len)
{
	static const char scheme[] = "bearer ";
	const char *start;
	size_t len;

	if (value == NULL)
		return false;
	start = value;
	len = strlen(value);
	trim(&start, &len);
	if (len < sizeof(scheme) - 1 ||
	    strncasecmp(start, scheme, sizeof(scheme) - 1) != 0)
		return false;

	start += sizeof(scheme) - 1;
	len -= sizeof(scheme) - 1;
	trim(&start, &len);
	if (len == 0)
		return false;
	*token = start;
	*token_len = len;
	return true;
}

edge_agent_credential
edge_agent_credential_find(const edge_request *req, const char **token,
    size_t *token_len)
{
	const char *header = edge_request_header(req, "X-Agent-Token");
	const char *bearer = NULL, *agent = NULL;
	size_t bearer_len = 0, agent_len = 0;
	bool has_bearer;

	if (header != NULL) {
		agent = header;
		agent_len = strlen(header);
		trim(&agent, &agent_len);
	}
	has_bearer = edge_bearer_token(edge_request_header(req, "Authorization"),
	    &bearer, &bearer_len);

	if (agent_len > 0) {
		/* Two different tokens mean a confused or hostile client: trust neither. */
		if (has_bearer && (bearer_len != agent_len ||
		    memcmp(bearer, agent, agent_len) != 0))
			return EDGE_AGENT_CREDENTIAL_CONFLICT;
		*token = agent;
		*token_len = agent_len;
		return EDGE_AGENT_CREDENTIAL_FOUND;
	}
	if (has_bearer) {
		*token = bearer;
		*token_len = bearer_len;
		return EDGE_AGENT_CREDENTIAL_FOUND;
	}
	return EDGE_AGENT_CREDENTIAL_MISSING;
}

/* agent-auth: agent token authentication, as a responder for
 * GET /api/v1/agent/healthz and GET /api/v1/agent/boards, and as a FastCGI
 * authorizer (FCGI_ROLE=AUTHORIZER) in front of any route of the web server.
 *
 * Checks run in this order: route (404) and method (405) for the responder,
 * then the rate limit (429) on every attempt, then the token: missing or two
 * different ones (401), unknown (401). With a known token the responder
 * serves the route, and the authorizer returns 200 with the agent's identity
 * in Variable-* headers, which the web server hands to the protected handler
 * as environment variables. */
#include "agent_auth.h"
#include "bearer.h"
#include "log.h"
#include "serve.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENDPOINT "agent-auth"
/* Seconds a client is asked to wait when PostgreSQL is unavailable. */
#define STORE_RETRY_AFTER "5"
#define LEGACY_SCAN_DEFAULT 2
/* Each legacy candidate costs one PBKDF2 run at its hash's iteration count
 * (200,000 for upstream's hashes: tens of milliseconds of CPU), so this bound
 * keeps the work of one request small. */
#define LEGACY_SCAN_MAX 64

typedef enum agent_route {
	ROUTE_NONE = 0,
	ROUTE_HEALTHZ,
	ROUTE_BOARDS
} agent_route;

static const edge_header allow_get[] = { { "Allow", "GET" } };

/* Appends the bench counter header to extra when it is on; returns the count. */
static size_t
with_counter(agent_state *state, const edge_header *extra, size_t extra_count,
    edge_header *headers, size_t capacity, char *counter, size_t counter_size)
{
	size_t count = 0;

	for (size_t i = 0; i < extra_count && count < capacity; i++)
		headers[count++] = extra[i];
	if (state != NULL && state->bench_counters && count < capacity) {
		snprintf(counter, counter_size, "%llu",
		    edge_pbkdf2_runs() - state->request_pbkdf2_start);
		headers[count++] = (edge_header){ "X-Edge-Pbkdf2-Runs", counter };
	}
	return count;
}

void
agent_respond_json(edge_request *req, agent_state *state, int status,
    const char *json)
{
	edge_header headers[2];
	char counter[24];
	size_t count = with_counter(state, NULL, 0, headers, 2, counter,
	    sizeof(counter));

	edge_respond_json(req, status, headers, count, json);
}

void
agent_respond_error(edge_request *req, agent_state *state, int status,
    const char *detail, const edge_header *extra, size_t extra_count)
{
	edge_header headers[4];
	char counter[24];
	size_t count = with_counter(state, extra, extra_count, headers, 4,
	    counter, sizeof(counter));

	edge_respond_error(req, status, detail, headers, count);
}

void
agent_respond_store_unavailable(edge_request *req, agent_state *state)
{
	agent_respond_error(req, state, 503,
	    "Service temporarily unavailable; retry later.",
	    (const edge_header[]){ { "Retry-After", STORE_RETRY_AFTER } }, 1);
}

/* Reads the settings of this endpoint that common/config.c does not know.
 * Returns EDGE_OK or EDGE_ERR_CONFIG after logging what to fix. */
static edge_err
load_settings(agent_state *state)
{
	const char *scan = getenv("AGENT_TOKEN_LEGACY_SCAN");
	const char *counters = getenv("EDGE_BENCH_COUNTERS");

	state->legacy_scan = LEGACY_SCAN_DEFAULT;
	if (scan != NULL && scan[0] != '\0') {
		unsigned value = 0;
		size_t len = strlen(scan);

		if (len > 2 || strspn(scan, "0123456789") != len ||
		    (value = (unsigned)strtoul(scan, NULL, 10)) > LEGACY_SCAN_MAX) {
			edge_log(EDGE_LOG_ERROR, "config",
			    "AGENT_TOKEN_LEGACY_SCAN must be a whole number from 0 "
			    "(legacy pass off) to %d", LEGACY_SCAN_MAX);
			return EDGE_ERR_CONFIG;
		}
		state->legacy_scan = value;
	}

	if (counters == NULL || counters[0] == '\0' || strcmp(counters, "0") == 0) {
		state->bench_counters = false;
	} else if (strcmp(counters, "1") == 0) {
		state->bench_counters = true;
	} else {
		edge_log(EDGE_LOG_ERROR, "config", "EDGE_BENCH_COUNTERS must be 0 or 1");
		return EDGE_ERR_CONFIG;
	}

	return edge_agent_index_key_from_env(&state->key);
}

static edge_err
agent_init(const edge_config *config, void **state_out)
{
	agent_state *state = calloc(1, sizeof(*state));
	size_t count = 0;
	edge_err err;

	if (state == NULL)
		return EDGE_ERR_NOMEM;
	if ((err = load_settings(state)) != EDGE_OK) {
		free(state);
		return err;
	}
	for (size_t i = 0; i < agent_statement_count; i++)
		state->statements[count++] = agent_statements[i];
	state->statements[count++] = agent_boards_statements[0];
	state->statements[count++] = agent_boards_statements[1];
	state->statements[count++] = edge_agent_index_key_statement;
	state->statements[count++] = edge_limiter_postgres_statement;
	state->statements[count++] = edge_limiter_postgres_peek_statement;
	edge_db_init(&state->db, config->database_url, state->statements, count);

	err = edge_limiter_open(config, &state->db, FCGX_IsCGI(), &state->limiter);
	if (err != EDGE_OK) {
		free(state);
		return err;
	}
	*state_out = state;
	return EDGE_OK;
}

static void
agent_finish(void *opaque)
{
	agent_state *state = opaque;

	edge_limiter_close(state->limiter);
	edge_db_close(&state->db);
	agent_legacy_cache_free(&state->legacy);
	OPENSSL_cleanse(&state->key, sizeof(state->key));
	free(state);
}

static agent_route
match_route(const char *path)
{
	if (strcmp(path, "/api/v1/agent/healthz") == 0)
		return ROUTE_HEALTHZ;
	if (strcmp(path, "/api/v1/agent/boards") == 0)
		return ROUTE_BOARDS;
	return ROUTE_NONE;
}

/* Decides the attempt before any token work; returns false after responding
 * 429 or 503. With RATE_LIMIT_AGENT_AUTH_SCOPE=attempts (upstream's rule)
 * every attempt is recorded here. With failures, this only checks the
 * bucket, and record_failure counts the attempts that end in 401, so a
 * fleet of agents behind one address is not throttled by its successes. */
static bool
check_rate_limit(edge_request *req, const edge_config *config,
    agent_state *state, const char *key)
{
	char retry[16];
	edge_rate_decision decision;
	edge_err err;

	if (config->agent_auth_scope == EDGE_AUTH_SCOPE_FAILURES)
		err = edge_limiter_peek(state->limiter, key,
		    &config->limit_agent_auth, &decision);
	else
		err = edge_limiter_check(state->limiter, key,
		    &config->limit_agent_auth, &decision);
	if (err != EDGE_OK) {
		agent_respond_store_unavailable(req, state);
		return false;
	}
	if (decision.allowed)
		return true;

	snprintf(retry, sizeof(retry), "%u", decision.retry_after_s);
	edge_log(EDGE_LOG_WARNING, "ratelimit",
	    "rate limit exceeded for %s; retry after %s s", key, retry);
	agent_respond_error(req, state, 429, "Too many requests.",
	    (const edge_header[]){ { "Retry-After", retry } }, 1);
	return false;
}

/* Records a failed attempt when only failures count. */
static void
record_failure(const edge_request *req, const edge_config *config,
    agent_state *state, const char *key)
{
	edge_rate_decision decision;

	if (config->agent_auth_scope != EDGE_AUTH_SCOPE_FAILURES ||
	    req->status != 401)
		return;
	(void)edge_limiter_check(state->limiter, key, &config->limit_agent_auth,
	    &decision);
}

/* Returns true when the web server runs this request as an authorizer.
 * libfcgi sets FCGI_ROLE from the FastCGI role record, which is AUTHORIZER
 * under lighttpd's "mode" => "authorizer". nginx speaks only the responder
 * role, so an auth_request set-up adds the parameter FCGI_ROLE=AUTHORIZER
 * itself, next to libfcgi's FCGI_ROLE=RESPONDER: hence every FCGI_ROLE
 * parameter is checked. Clients cannot set one, because their headers arrive
 * as HTTP_* parameters. */
static bool
is_authorizer(const edge_request *req)
{
	for (char **param = req->params; param != NULL && *param != NULL; param++)
		if (strcmp(*param, "FCGI_ROLE=AUTHORIZER") == 0)
			return true;
	return false;
}

/* Writes the authorizer's success response: no body, and the identity in
 * Variable-* headers, where an empty value stands for a NULL column. */
static void
respond_authorized(edge_request *req, const agent_identity *identity)
{
	const edge_header variables[] = {
		{ "Variable-AGENT_ID", identity->id },
		{ "Variable-AGENT_BOARD_ID", identity->board_id },
		{ "Variable-AGENT_GATEWAY_ID", identity->gateway_id },
		{ "Variable-AGENT_ORGANIZATION_ID", identity->organization_id },
	};

	edge_respond(req, 200, variables, 4, NULL, 0);
}

/* Finds and checks the token; on success fills identity and returns true,
 * otherwise responds 401 or 503 and returns false. */
static bool
authenticate_request(edge_request *req, agent_state *state, const char *path,
    agent_identity *identity)
{
	char token[EDGE_AGENT_TOKEN_MAX + 1], prefix[EDGE_TOKEN_PREFIX_SIZE];
	const char *raw;
	size_t len;
	bool found = false;
	edge_err err;

	switch (edge_agent_credential_find(req, &raw, &len)) {
	case EDGE_AGENT_CREDENTIAL_MISSING:
		edge_log(EDGE_LOG_INFO, "auth", "no agent token for %s", path);
		agent_respond_error(req, state, 401, "Missing agent token.", NULL, 0);
		return false;
	case EDGE_AGENT_CREDENTIAL_CONFLICT:
		edge_log(EDGE_LOG_WARNING, "auth",
		    "X-Agent-Token and Authorization hold different tokens for %s",
		    path);
		agent_respond_error(req, state, 401, "Conflicting agent tokens.",
		    NULL, 0);
		return false;
	case EDGE_AGENT_CREDENTIAL_FOUND:
		break;
	}

	/* The log line needs a NUL-terminated copy for the prefix. A token longer
	 * than the maximum is invalid without a lookup, so its copy is cut. */
	snprintf(token, sizeof(token), "%.*s",
	    (int)(len < EDGE_AGENT_TOKEN_MAX ? len : EDGE_AGENT_TOKEN_MAX), raw);
	if (len <= EDGE_AGENT_TOKEN_MAX) {
		err = agent_authenticate(state, token, len, identity, &found);
		if (err != EDGE_OK) {
			OPENSSL_cleanse(token, sizeof(token));
			agent_respond_store_unavailable(req, state);
			return false;
		}
	}
	edge_log_token_prefix(token, prefix);
	OPENSSL_cleanse(token, sizeof(token));
	if (!found) {
		edge_log(EDGE_LOG_WARNING, "auth",
		    "invalid agent token %s for %s", prefix, path);
		agent_respond_error(req, state, 401, "Invalid agent token.", NULL, 0);
		return false;
	}
	edge_log(EDGE_LOG_DEBUG, "auth", "agent %s authenticated for %s",
	    identity->id, path);
	return true;
}

static void
agent_handle(edge_request *req, const edge_config *config, void *opaque)
{
	agent_state *state = opaque;
	const char *method = edge_request_param(req, "REQUEST_METHOD");
	bool authorizer = is_authorizer(req);
	agent_route route = ROUTE_NONE;
	agent_identity identity;
	char path[EDGE_PATH_MAX];
	edge_ip client;
	char key[EDGE_RATE_KEY_SIZE];

	state->request_pbkdf2_start = edge_pbkdf2_runs();
	if (!edge_request_path(req, path, sizeof(path))) {
		if (!authorizer) {
			agent_respond_error(req, state, 404, "Not Found", NULL, 0);
			return;
		}
		/* The authorizer guards any path; only the log line needs it. */
		snprintf(path, sizeof(path), "(path longer than %d bytes)",
		    EDGE_PATH_MAX - 1);
	}
	if (!authorizer) {
		route = match_route(path);
		if (route == ROUTE_NONE) {
			agent_respond_error(req, state, 404, "Not Found", NULL, 0);
			return;
		}
		if (method == NULL || strcmp(method, "GET") != 0) {
			agent_respond_error(req, state, 405, "Method Not Allowed",
			    allow_get, 1);
			return;
		}
	}

	/* The rate limit comes before any token work. */
	edge_request_client_ip(req, config, &client);
	edge_rate_key(ENDPOINT, &client, NULL, key);
	if (!check_rate_limit(req, config, state, key))
		return;
	if (!authenticate_request(req, state, path, &identity)) {
		record_failure(req, config, state, key);
		return;
	}

	if (authorizer)
		respond_authorized(req, &identity);
	else if (route == ROUTE_HEALTHZ)
		agent_route_healthz(req, state, &identity);
	else
		agent_route_boards(req, state, &identity);
	agent_identity_free(&identity);
}

int
main(void)
{
	static const edge_app app = {
		.name = ENDPOINT,
		.needs = EDGE_NEED_DATABASE | EDGE_NEED_RATE_LIMIT,
		.init = agent_init,
		.handle = agent_handle,
		.finish = agent_finish,
	};

	return edge_serve(&app);
}

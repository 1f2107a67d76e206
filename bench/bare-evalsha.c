/* bare-evalsha: the baseline of bench/agent-auth.sh.
 *
 * A FastCGI responder built on the same main loop, request code and Redis
 * rate-limit store as agent-auth (common/serve.h, common/ratelimit.h). Per
 * request it resolves the client address and records one attempt under that
 * address with the configured limiter, which for RATE_LIMIT_BACKEND=redis is
 * one EVALSHA, then responds 200 with a fixed JSON body. There is no token,
 * no PostgreSQL query and no other check, so the gap between agent-auth and
 * this program is the cost of authenticating the agent.
 *
 * Every path and method gets the same answer; a refused attempt gets 429 and
 * a store failure 503, as agent-auth answers them. Settings are agent-auth's:
 * RATE_LIMIT_BACKEND, RATE_LIMIT_REDIS_URL, RATE_LIMIT_AGENT_AUTH,
 * RATE_LIMIT_FAIL_OPEN, TRUSTED_PROXIES and the rest of common/config.h. */
#include "log.h"
#include "ratelimit.h"
#include "response.h"
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>

#define PROGRAM "bare-evalsha"

typedef struct bare_state {
	edge_db db;
	edge_limiter *limiter;
} bare_state;

static edge_err
bare_init(const edge_config *config, void **state_out)
{
	bare_state *state = calloc(1, sizeof(*state));
	edge_err err;

	if (state == NULL)
		return EDGE_ERR_NOMEM;
	/* Only the postgres limiter uses the connection, and it connects lazily. */
	edge_db_init(&state->db, config->database_url,
	    &edge_limiter_postgres_statement, 1);
	err = edge_limiter_open(config, &state->db, FCGX_IsCGI(), &state->limiter);
	if (err != EDGE_OK) {
		free(state);
		return err;
	}
	*state_out = state;
	return EDGE_OK;
}

static void
bare_finish(void *opaque)
{
	bare_state *state = opaque;

	edge_limiter_close(state->limiter);
	edge_db_close(&state->db);
	free(state);
}

static void
bare_handle(edge_request *req, const edge_config *config, void *opaque)
{
	bare_state *state = opaque;
	char key[EDGE_RATE_KEY_SIZE], retry[16];
	edge_rate_decision decision;
	edge_ip client;

	edge_request_client_ip(req, config, &client);
	edge_rate_key("agent-auth", &client, NULL, key);

	if (edge_limiter_check(state->limiter, key, &config->limit_agent_auth,
	    &decision) != EDGE_OK) {
		edge_respond_error(req, 503, "Service temporarily unavailable.",
		    NULL, 0);
		return;
	}
	if (!decision.allowed) {
		snprintf(retry, sizeof(retry), "%u", decision.retry_after_s);
		edge_respond_error(req, 429, "Too many requests.",
		    (const edge_header[]){ { "Retry-After", retry } }, 1);
		return;
	}
	edge_respond_json(req, 200, NULL, 0, "{\"ok\": true}");
}

int
main(void)
{
	static const edge_app app = {
		.name = PROGRAM,
		.needs = EDGE_NEED_RATE_LIMIT,
		.init = bare_init,
		.handle = bare_handle,
		.finish = bare_finish,
	};

	return edge_serve(&app);
}

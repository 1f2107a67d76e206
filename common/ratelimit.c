/* Store selection, key building and the fail-open policy; see ratelimit.h. */
#include "ratelimit.h"
#include "log.h"

#include <stdio.h>

/* A store that keeps failing gets one warning per this many seconds per process. */
#define FAILURE_LOG_INTERVAL_S 5

edge_err
edge_limiter_open(const edge_config *config, edge_db *db, bool plain_cgi,
    edge_limiter **limiter)
{
	edge_err err;

	*limiter = NULL;
	switch (config->limiter_backend) {
	case EDGE_LIMITER_MEMORY:
		if (plain_cgi)
			edge_log(EDGE_LOG_WARNING, "ratelimit",
			    "RATE_LIMIT_BACKEND=memory keeps counts inside one "
			    "process, and a plain CGI process serves one request: "
			    "nothing is limited; use postgres or redis");
		err = edge_limiter_memory_open(limiter);
		break;
	case EDGE_LIMITER_POSTGRES:
		err = edge_limiter_postgres_open(db, config->limiter_timeout_ms,
		    limiter);
		break;
	case EDGE_LIMITER_REDIS:
	default:
		err = edge_limiter_redis_open(config->redis_url,
		    config->limiter_timeout_ms, limiter);
		break;
	}
	if (err == EDGE_OK)
		(*limiter)->fail_open = config->limiter_fail_open;
	return err;
}

edge_err
edge_limiter_fail(edge_limiter *limiter, const edge_rate_rule *rule,
    edge_err err, edge_rate_decision *decision)
{
	edge_log_throttled(&limiter->last_failure_log, FAILURE_LOG_INTERVAL_S,
	    EDGE_LOG_WARNING, "ratelimit",
	    "%s rate-limit store failed: %s; requests are %s while it fails "
	    "(RATE_LIMIT_FAIL_OPEN)", limiter->ops->name,
	    limiter->failure[0] != '\0' ? limiter->failure : edge_err_str(err),
	    limiter->fail_open ? "allowed" : "refused with 503");
	*decision = (edge_rate_decision){
		.allowed = limiter->fail_open,
		.limit = rule->count,
		.remaining = rule->count,
		.retry_after_s = 1,
		.store_failed = true,
	};
	return limiter->fail_open ? EDGE_OK : EDGE_ERR_STORE;
}

edge_err
edge_limiter_check(edge_limiter *limiter, const char *key,
    const edge_rate_rule *rule, edge_rate_decision *decision)
{
	edge_err err;

	limiter->failure[0] = '\0';
	err = limiter->ops->hit(limiter, key, rule, decision);
	if (err == EDGE_OK)
		return EDGE_OK;
	return edge_limiter_fail(limiter, rule, err, decision);
}

edge_err
edge_limiter_peek(edge_limiter *limiter, const char *key,
    const edge_rate_rule *rule, edge_rate_decision *decision)
{
	edge_err err;

	limiter->failure[0] = '\0';
	err = limiter->ops->peek(limiter, key, rule, decision);
	if (err == EDGE_OK)
		return EDGE_OK;
	return edge_limiter_fail(limiter, rule, err, decision);
}

void
edge_limiter_close(edge_limiter *limiter)
{
	if (limiter != NULL)
		limiter->ops->destroy(limiter);
}

void
edge_rate_key(const char *endpoint, const edge_ip *client, const char *extra,
    char key[EDGE_RATE_KEY_SIZE])
{
	char address[EDGE_IP_TEXT_SIZE + 4];

	edge_ip_rate_key(client, address);
	if (extra != NULL)
		snprintf(key, EDGE_RATE_KEY_SIZE, "%s:%s:%s", endpoint, address,
		    extra);
	else
		snprintf(key, EDGE_RATE_KEY_SIZE, "%s:%s", endpoint, address);
}

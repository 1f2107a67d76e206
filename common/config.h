/* Settings read once per process from the environment, with upstream's names
 * and defaults. A variable that is unset takes its default; a security header
 * variable that is set but blank disables that header. */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "client_ip.h"
#include "edge_error.h"
#include "log.h"

#define EDGE_SECURITY_HEADER_COUNT 4

/* One security header: value is NULL when the header is disabled. */
typedef struct edge_header_setting {
	const char *name;
	const char *value;
} edge_header_setting;

/* A sliding-window limit: at most count attempts per window_s seconds. */
typedef struct edge_rate_rule {
	unsigned count;
	unsigned window_s;
} edge_rate_rule;

typedef enum edge_limiter_backend {
	EDGE_LIMITER_POSTGRES = 0,
	EDGE_LIMITER_REDIS,
	EDGE_LIMITER_MEMORY
} edge_limiter_backend;

typedef enum edge_webhook_key {
	EDGE_WEBHOOK_KEY_IP = 0,	/* one bucket per client address */
	EDGE_WEBHOOK_KEY_IP_WEBHOOK	/* one bucket per client address and webhook */
} edge_webhook_key;

typedef enum edge_auth_scope {
	EDGE_AUTH_SCOPE_ATTEMPTS = 0,	/* every attempt counts (upstream) */
	EDGE_AUTH_SCOPE_FAILURES	/* only failed attempts count */
} edge_auth_scope;

/* Which settings an endpoint uses: only those are checked at start. */
enum {
	EDGE_NEED_DATABASE = 1 << 0,
	EDGE_NEED_RATE_LIMIT = 1 << 1,
	EDGE_NEED_USER_AUTH = 1 << 2,	/* AUTH_MODE, LOCAL_AUTH_TOKEN, JWT_* */
	EDGE_NEED_GATEWAY = 1 << 3	/* GATEWAY_* */
};

typedef enum edge_auth_mode {
	EDGE_AUTH_LOCAL = 0,	/* one shared bearer token, LOCAL_AUTH_TOKEN */
	EDGE_AUTH_JWT		/* signed tokens checked against JWT_JWKS_FILE */
} edge_auth_mode;

/* Bounds of the user-auth and gateway settings. A clock skew of more than
 * 5 minutes is a broken clock (Kerberos allows 5 minutes by default), and a
 * gateway exchange longer than 10 minutes outlives any web server timeout. */
#define EDGE_LOCAL_AUTH_TOKEN_MIN 50
#define EDGE_JWT_LEEWAY_MAX 300u
#define EDGE_GATEWAY_TIMEOUT_MAX 600000u

typedef struct edge_config {
	edge_header_setting security_headers[EDGE_SECURITY_HEADER_COUNT];
	size_t webhook_max_payload_bytes;

	edge_limiter_backend limiter_backend;
	const char *redis_url;		/* NULL when neither variable is set */
	bool limiter_fail_open;
	unsigned limiter_timeout_ms;
	edge_rate_rule limit_webhook_ingest;
	edge_rate_rule limit_agent_auth;
	edge_rate_rule limit_gateway_message;
	edge_webhook_key webhook_key;
	edge_auth_scope agent_auth_scope;

	edge_proxy_list trusted_proxies;
	edge_forward_header trusted_proxy_header;

	char *database_url;		/* libpq form: any "+driver" part removed */
	const char *base_url;		/* "" when unset */

	edge_log_level log_level;
	edge_log_format log_format;

	/* Read and checked only with EDGE_NEED_USER_AUTH; else the defaults. */
	edge_auth_mode auth_mode;		/* AUTH_MODE, default local */
	const char *local_auth_token;		/* LOCAL_AUTH_TOKEN, NULL when unset */
	const char *jwt_jwks_file;		/* JWT_JWKS_FILE, required in jwt mode */
	const char *jwt_issuer, *jwt_audience;	/* NULL when unset or blank */
	unsigned jwt_leeway_s;			/* JWT_LEEWAY_SECONDS, default 10 */

	/* Read and checked only with EDGE_NEED_GATEWAY; else the defaults. */
	unsigned gateway_timeout_ms;		/* GATEWAY_TIMEOUT_MS, default 5000 */
	const char *gateway_ca_file;		/* GATEWAY_CA_FILE, NULL when unset or blank */
	char *gateway_device_key_file;		/* GATEWAY_DEVICE_KEY_FILE, default
						   $EDGE_STATE_DIR/gateway-device.pem, else
						   /var/lib/mc-edge/gateway-device.pem */
} edge_config;

/* Reads the environment into config and checks the settings named by needs.
 * Returns EDGE_OK, EDGE_ERR_CONFIG after logging one line that names the
 * variable to fix (never its value when it is a secret), or EDGE_ERR_NOMEM.
 * Header values holding CR or LF are logged and disabled without failing the
 * load.
 *
 * With EDGE_NEED_USER_AUTH in local mode, LOCAL_AUTH_TOKEN must be at least
 * 50 characters of visible ASCII (0x21 to 0x7e) and not a placeholder such as
 * "change-me" in any case. Whitespace anywhere in it, surrounding whitespace
 * included, is rejected rather than trimmed: a client cannot send a token with
 * spaces in an Authorization header, and trimming would hide a copy-and-paste
 * mistake. In jwt mode JWT_JWKS_FILE must be set. */
edge_err edge_config_load(edge_config *config, unsigned needs);

/* Releases what edge_config_load allocated. */
void edge_config_free(edge_config *config);

/* Parses "count/window_seconds" into rule. Returns false for anything else,
 * including zero, values past the suite's bounds and trailing bytes. */
bool edge_rate_rule_parse(const char *text, edge_rate_rule *rule);

/* Returns a newly allocated libpq URL for url: upstream's
 * "postgresql+psycopg://" form loses its "+driver" part. NULL when url is
 * not a PostgreSQL URL or memory runs out. */
char *edge_database_url_normalize(const char *url);

#endif

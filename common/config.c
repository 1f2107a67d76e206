/* Settings from the environment; see config.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Bounds that keep per-key limiter state and arithmetic small: a limit of
 * more than 100,000 attempts or a window over one day is a typo. */
#define RATE_COUNT_MAX 100000u
#define RATE_WINDOW_MAX 86400u

/* Largest body the suite will buffer: 1 GiB keeps size arithmetic far from overflow. */
#define PAYLOAD_BYTES_MAX ((size_t)1 << 30)

static const struct {
	const char *variable;
	const char *header;
	const char *fallback;	/* NULL: disabled unless set */
} header_defaults[EDGE_SECURITY_HEADER_COUNT] = {
	{ "SECURITY_HEADER_X_CONTENT_TYPE_OPTIONS", "X-Content-Type-Options", "nosniff" },
	{ "SECURITY_HEADER_X_FRAME_OPTIONS", "X-Frame-Options", "DENY" },
	{ "SECURITY_HEADER_REFERRER_POLICY", "Referrer-Policy", "strict-origin-when-cross-origin" },
	{ "SECURITY_HEADER_PERMISSIONS_POLICY", "Permissions-Policy", NULL },
};

static edge_err
misconfigured(const char *variable, const char *problem)
{
	edge_log(EDGE_LOG_ERROR, "config", "%s %s", variable, problem);
	return EDGE_ERR_CONFIG;
}

static bool
parse_unsigned(const char *text, unsigned long long max, unsigned long long *value)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	*value = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0' && *value <= max;
}

bool
edge_rate_rule_parse(const char *text, edge_rate_rule *rule)
{
	const char *slash = strchr(text, '/');
	char count_text[16];
	unsigned long long count, window;

	if (slash == NULL || (size_t)(slash - text) >= sizeof(count_text))
		return false;
	memcpy(count_text, text, (size_t)(slash - text));
	count_text[slash - text] = '\0';
	if (!parse_unsigned(count_text, RATE_COUNT_MAX, &count) ||
	    !parse_unsigned(slash + 1, RATE_WINDOW_MAX, &window))
		return false;
	if (count == 0 || window == 0)
		return false;
	rule->count = (unsigned)count;
	rule->window_s = (unsigned)window;
	return true;
}

char *
edge_database_url_normalize(const char *url)
{
	static const char *const schemes[] = { "postgresql", "postgres" };
	const char *rest = NULL;
	char *out;

	for (size_t i = 0; i < 2 && rest == NULL; i++) {
		size_t len = strlen(schemes[i]), driver_len;

		if (strncasecmp(url, schemes[i], len) != 0)
			continue;
		if (strncmp(url + len, "://", 3) == 0) {
			rest = url + len;
			continue;
		}

		/* "+psycopg", "+asyncpg": a driver name of letters, digits and underscores. */
		if (url[len] != '+')
			continue;
		driver_len = strspn(url + len + 1,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (driver_len > 0 && strncmp(url + len + 1 + driver_len, "://", 3) == 0)
			rest = url + len + 1 + driver_len;
	}
	if (rest == NULL)
		return NULL;

	out = malloc(strlen("postgresql") + strlen(rest) + 1);
	if (out == NULL)
		return NULL;
	strcpy(out, "postgresql");
	strcat(out, rest);
	return out;
}

static void
load_security_headers(edge_config *config)
{
	for (size_t i = 0; i < EDGE_SECURITY_HEADER_COUNT; i++) {
		const char *value = getenv(header_defaults[i].variable);

		config->security_headers[i].name = header_defaults[i].header;
		if (value == NULL)
			value = header_defaults[i].fallback;
		if (value != NULL && value[0] == '\0')
			value = NULL;

		/* A CR or LF would let the setting inject headers: drop the header, keep the rest. */
		if (value != NULL && strpbrk(value, "\r\n") != NULL) {
			edge_log(EDGE_LOG_ERROR, "config",
			    "%s contains CR or LF; the %s header is omitted",
			    header_defaults[i].variable, header_defaults[i].header);
			value = NULL;
		}
		config->security_headers[i].value = value;
	}
}

static edge_err
load_rule(const char *variable, const char *fallback, edge_rate_rule *rule)
{
	const char *value = getenv(variable);

	if (value == NULL || value[0] == '\0')
		value = fallback;
	if (!edge_rate_rule_parse(value, rule))
		return misconfigured(variable,
		    "must be COUNT/WINDOW_SECONDS, such as 60/60 (count 1-100000, "
		    "window 1-86400)");
	return EDGE_OK;
}

static edge_err
load_choice(const char *variable, const char *const *choices, size_t count,
    int *value, const char *problem)
{
	const char *text = getenv(variable);

	*value = 0;
	if (text == NULL || text[0] == '\0')
		return EDGE_OK;
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(text, choices[i]) == 0) {
			*value = (int)i;
			return EDGE_OK;
		}
	}
	return misconfigured(variable, problem);
}

static edge_err
load_bool(const char *variable, bool fallback, bool *value)
{
	static const char *const truthy[] = { "true", "1", "yes", "on" };
	static const char *const falsy[] = { "false", "0", "no", "off" };
	const char *text = getenv(variable);

	*value = fallback;
	if (text == NULL || text[0] == '\0')
		return EDGE_OK;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, truthy[i]) == 0) {
			*value = true;
			return EDGE_OK;
		}
		if (strcasecmp(text, falsy[i]) == 0) {
			*value = false;
			return EDGE_OK;
		}
	}
	return misconfigured(variable, "must be true or false");
}

static edge_err
load_logging(edge_config *config)
{
	static const char *const levels[] = { "DEBUG", "INFO", "WARNING", "ERROR" };
	static const char *const formats[] = { "text", "json" };
	const char *level = getenv("LOG_LEVEL");
	int format;
	edge_err err;

	config->log_level = EDGE_LOG_INFO;
	if (level != NULL && level[0] != '\0') {
		size_t i;

		/* Python's logging also accepts WARN and CRITICAL, so map them to their neighbours. */
		if (strcasecmp(level, "WARN") == 0)
			level = "WARNING";
		else if (strcasecmp(level, "CRITICAL") == 0)
			level = "ERROR";
		for (i = 0; i < 4 && strcasecmp(level, levels[i]) != 0; i++)
			;
		if (i == 4)
			return misconfigured("LOG_LEVEL",
			    "must be DEBUG, INFO, WARNING or ERROR");
		config->log_level = (edge_log_level)i;
	}
	err = load_choice("LOG_FORMAT", formats, 2, &format,
	    "must be text or json");
	if (err != EDGE_OK)
		return err;
	config->log_format = (edge_log_format)format;
	edge_log_configure(config->log_level, config->log_format);
	return EDGE_OK;
}

static edge_err
load_limiter(edge_config *config)
{
	static const char *const backends[] = { "postgres", "redis", "memory" };
	static const char *const webhook_keys[] = { "ip", "ip+webhook" };
	static const char *const scopes[] = { "attempts", "failures" };
	const char *timeout = getenv("RATE_LIMIT_TIMEOUT_MS");
	unsigned long long timeout_ms = 50;
	int choice;
	edge_err err;

	if ((err = load_choice("RATE_LIMIT_BACKEND", backends, 3, &choice,
	    "must be postgres, redis or memory")) != EDGE_OK)
		return err;
	config->limiter_backend = (edge_limiter_backend)choice;
	if ((err = load_choice("RATE_LIMIT_WEBHOOK_INGEST_KEY", webhook_keys, 2,
	    &choice, "must be ip or ip+webhook")) != EDGE_OK)
		return err;
	config->webhook_key = (edge_webhook_key)choice;
	if ((err = load_choice("RATE_LIMIT_AGENT_AUTH_SCOPE", scopes, 2, &choice,
	    "must be attempts or failures")) != EDGE_OK)
		return err;
	config->agent_auth_scope = (edge_auth_scope)choice;

	if ((err = load_rule("RATE_LIMIT_WEBHOOK_INGEST", "60/60",
	    &config->limit_webhook_ingest)) != EDGE_OK ||
	    (err = load_rule("RATE_LIMIT_AGENT_AUTH", "20/60",
	    &config->limit_agent_auth)) != EDGE_OK ||
	    (err = load_rule("RATE_LIMIT_GATEWAY_MESSAGE", "20/60",
	    &config->limit_gateway_message)) != EDGE_OK)
		return err;
	if ((err = load_bool("RATE_LIMIT_FAIL_OPEN", true,
	    &config->limiter_fail_open)) != EDGE_OK)
		return err;

	/* A limiter slower than 60 s would hold a request longer than any proxy waits. */
	if (timeout != NULL && timeout[0] != '\0' &&
	    (!parse_unsigned(timeout, 60000, &timeout_ms) || timeout_ms == 0))
		return misconfigured("RATE_LIMIT_TIMEOUT_MS",
		    "must be a number of milliseconds from 1 to 60000");
	config->limiter_timeout_ms = (unsigned)timeout_ms;

	config->redis_url = getenv("RATE_LIMIT_REDIS_URL");
	if (config->redis_url == NULL || config->redis_url[0] == '\0')
		config->redis_url = getenv("RQ_REDIS_URL");
	if (config->redis_url != NULL && config->redis_url[0] == '\0')
		config->redis_url = NULL;
	return EDGE_OK;
}

static edge_err
load_database(edge_config *config, unsigned needs)
{
	const char *url = getenv("DATABASE_URL");
	bool needed = (needs & EDGE_NEED_DATABASE) != 0 ||
	    ((needs & EDGE_NEED_RATE_LIMIT) != 0 &&
	    config->limiter_backend == EDGE_LIMITER_POSTGRES);

	/* Only an endpoint that uses the database checks the setting. */
	if (url == NULL || url[0] == '\0') {
		if (needed)
			return misconfigured("DATABASE_URL",
			    "is not set; set it to a PostgreSQL URL such as "
			    "postgresql://user:password@host:5432/dbname");
		return EDGE_OK;
	}
	config->database_url = edge_database_url_normalize(url);
	if (config->database_url == NULL && needed)
		return misconfigured("DATABASE_URL",
		    "is not a postgresql:// or postgresql+driver:// URL");
	return EDGE_OK;
}

/* Upstream's placeholder values, which a copied example file would leave in place. */
static const char *const token_placeholders[] = {
	"change-me", "changeme", "replace-me", "replace-with-strong-random-token",
};

/* Checks LOCAL_AUTH_TOKEN without ever putting its value in a log line. */
static edge_err
check_local_auth_token(const char *token)
{
	size_t len;

	if (token == NULL || token[0] == '\0')
		return misconfigured("LOCAL_AUTH_TOKEN",
		    "is not set; AUTH_MODE=local needs a random token of at least "
		    "50 characters");
	for (size_t i = 0; i < sizeof(token_placeholders) / sizeof(token_placeholders[0]); i++)
		if (strcasecmp(token, token_placeholders[i]) == 0)
			return misconfigured("LOCAL_AUTH_TOKEN",
			    "is a placeholder; set a random token of at least 50 characters");

	len = strlen(token);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)token[i];

		if (c < 0x21 || c > 0x7e)
			return misconfigured("LOCAL_AUTH_TOKEN",
			    "contains whitespace, a control character or non-ASCII "
			    "bytes; use visible ASCII only, with nothing around it");
	}
	if (len < EDGE_LOCAL_AUTH_TOKEN_MIN)
		return misconfigured("LOCAL_AUTH_TOKEN",
		    "is shorter than 50 characters; set a longer random token");
	return EDGE_OK;
}

/* Returns the variable's value, or NULL when it is unset or blank. */
static const char *
getenv_nonblank(const char *variable)
{
	const char *value = getenv(variable);

	return value != NULL && value[0] != '\0' ? value : NULL;
}

static edge_err
load_user_auth(edge_config *config)
{
	static const char *const modes[] = { "local", "jwt" };
	const char *leeway = getenv_nonblank("JWT_LEEWAY_SECONDS");
	unsigned long long leeway_s = 10;
	int mode;
	edge_err err;

	if ((err = load_choice("AUTH_MODE", modes, 2, &mode,
	    "must be local or jwt")) != EDGE_OK)
		return err;
	config->auth_mode = (edge_auth_mode)mode;
	config->local_auth_token = getenv_nonblank("LOCAL_AUTH_TOKEN");
	config->jwt_jwks_file = getenv_nonblank("JWT_JWKS_FILE");
	config->jwt_issuer = getenv_nonblank("JWT_ISSUER");
	config->jwt_audience = getenv_nonblank("JWT_AUDIENCE");

	if (leeway != NULL && !parse_unsigned(leeway, EDGE_JWT_LEEWAY_MAX, &leeway_s))
		return misconfigured("JWT_LEEWAY_SECONDS",
		    "must be a number of seconds from 0 to 300");
	config->jwt_leeway_s = (unsigned)leeway_s;

	if (config->auth_mode == EDGE_AUTH_LOCAL)
		return check_local_auth_token(config->local_auth_token);
	if (config->jwt_jwks_file == NULL)
		return misconfigured("JWT_JWKS_FILE",
		    "is not set; AUTH_MODE=jwt needs the path of a JWKS file "
		    "holding the issuer's public keys");
	return EDGE_OK;
}

/* Sets the device key path: GATEWAY_DEVICE_KEY_FILE, else a file in the state folder. */
static edge_err
load_device_key_file(edge_config *config)
{
	const char *file = getenv_nonblank("GATEWAY_DEVICE_KEY_FILE");
	const char *state_dir = getenv_nonblank("EDGE_STATE_DIR");
	static const char name[] = "/gateway-device.pem";
	size_t size;

	if (file != NULL) {
		config->gateway_device_key_file = strdup(file);
		return config->gateway_device_key_file != NULL ? EDGE_OK : EDGE_ERR_NOMEM;
	}
	if (state_dir == NULL)
		state_dir = "/var/lib/mc-edge";
	size = strlen(state_dir) + sizeof(name);
	config->gateway_device_key_file = malloc(size);
	if (config->gateway_device_key_file == NULL)
		return EDGE_ERR_NOMEM;
	snprintf(config->gateway_device_key_file, size, "%s%s", state_dir, name);
	return EDGE_OK;
}

static edge_err
load_gateway(edge_config *config, unsigned needs)
{
	const char *timeout = getenv_nonblank("GATEWAY_TIMEOUT_MS");
	unsigned long long timeout_ms = 5000;

	if ((needs & EDGE_NEED_GATEWAY) == 0)
		return load_device_key_file(config);

	if (timeout != NULL &&
	    (!parse_unsigned(timeout, EDGE_GATEWAY_TIMEOUT_MAX, &timeout_ms) ||
	    timeout_ms == 0))
		return misconfigured("GATEWAY_TIMEOUT_MS",
		    "must be a number of milliseconds from 1 to 600000");
	config->gateway_timeout_ms = (unsigned)timeout_ms;
	config->gateway_ca_file = getenv_nonblank("GATEWAY_CA_FILE");
	/* Checked at start, so a wrong path does not fail every wss:// request. */
	if (config->gateway_ca_file != NULL &&
	    access(config->gateway_ca_file, R_OK) != 0)
		return misconfigured("GATEWAY_CA_FILE",
		    "must name a readable file of PEM certificates");
	return load_device_key_file(config);
}

edge_err
edge_config_load(edge_config *config, unsigned needs)
{
	const char *max_payload = getenv("WEBHOOK_MAX_PAYLOAD_BYTES");
	const char *proxy_header = getenv("TRUSTED_PROXY_HEADER");
	unsigned long long payload_bytes = 1048576;
	edge_err err;

	memset(config, 0, sizeof(*config));
	config->auth_mode = EDGE_AUTH_LOCAL;
	config->jwt_leeway_s = 10;
	config->gateway_timeout_ms = 5000;

	/* Headers first, so that even a "Server misconfigured" response carries them. */
	load_security_headers(config);
	if ((err = load_logging(config)) != EDGE_OK)
		return err;

	if (max_payload != NULL && max_payload[0] != '\0' &&
	    (!parse_unsigned(max_payload, PAYLOAD_BYTES_MAX, &payload_bytes) ||
	    payload_bytes == 0))
		return misconfigured("WEBHOOK_MAX_PAYLOAD_BYTES",
		    "must be a byte count from 1 to 1073741824");
	config->webhook_max_payload_bytes = (size_t)payload_bytes;

	if ((err = load_limiter(config)) != EDGE_OK)
		return err;

	config->trusted_proxy_header = EDGE_FORWARD_X_FORWARDED_FOR;
	if (proxy_header != NULL && proxy_header[0] != '\0') {
		if (strcasecmp(proxy_header, "forwarded") == 0)
			config->trusted_proxy_header = EDGE_FORWARD_FORWARDED;
		else if (strcasecmp(proxy_header, "x-forwarded-for") != 0)
			return misconfigured("TRUSTED_PROXY_HEADER",
			    "must be x-forwarded-for or forwarded");
	}
	if ((err = edge_proxy_list_parse(getenv("TRUSTED_PROXIES"),
	    &config->trusted_proxies)) != EDGE_OK)
		return err;

	config->base_url = getenv("BASE_URL");
	if (config->base_url == NULL)
		config->base_url = "";
	if ((err = load_database(config, needs)) != EDGE_OK)
		return err;

	if ((needs & EDGE_NEED_USER_AUTH) != 0 &&
	    (err = load_user_auth(config)) != EDGE_OK)
		return err;
	return load_gateway(config, needs);
}

void
edge_config_free(edge_config *config)
{
	edge_proxy_list_free(&config->trusted_proxies);
	free(config->database_url);
	config->database_url = NULL;
	free(config->gateway_device_key_file);
	config->gateway_device_key_file = NULL;
}

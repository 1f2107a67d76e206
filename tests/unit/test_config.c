/* Tests for configuration loading: defaults, security header rules, limit
 * parsing, DATABASE_URL normalization, the user-auth and gateway settings,
 * and which settings are required.
 * Each case starts from an empty environment (clearenv). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
#include "config.h"

static stderr_capture capture;

/* Loads the configuration with the log lines captured in `capture`. */
static edge_err
load(edge_config *config, unsigned needs)
{
	edge_err err;

	capture_begin(&capture);
	err = edge_config_load(config, needs);
	capture_end(&capture);
	return err;
}

/* Loads with one variable set in an otherwise empty environment. */
static edge_err
load_with(const char *variable, const char *value, edge_config *config,
    unsigned needs)
{
	clearenv();
	setenv(variable, value, 1);
	return load(config, needs);
}

/* Returns the configured value of a security header, or NULL. */
static const char *
header_value(const edge_config *config, const char *name)
{
	for (size_t i = 0; i < EDGE_SECURITY_HEADER_COUNT; i++)
		if (strcmp(config->security_headers[i].name, name) == 0)
			return config->security_headers[i].value;
	return "(no such header)";
}

static void
test_defaults(void)
{
	edge_config config;

	clearenv();
	CHECK_INT_EQ(load(&config, 0), EDGE_OK, "config defaults load");
	CHECK_STR_EQ(header_value(&config, "X-Content-Type-Options"), "nosniff",
	    "config default nosniff");
	CHECK_STR_EQ(header_value(&config, "X-Frame-Options"), "DENY",
	    "config default frame options");
	CHECK_STR_EQ(header_value(&config, "Referrer-Policy"),
	    "strict-origin-when-cross-origin", "config default referrer policy");
	CHECK(header_value(&config, "Permissions-Policy") == NULL,
	    "config default permissions disabled");
	CHECK_INT_EQ(config.webhook_max_payload_bytes, 1048576,
	    "config default payload limit");
	CHECK_INT_EQ(config.limiter_backend, EDGE_LIMITER_POSTGRES,
	    "config default backend postgres");
	CHECK(config.redis_url == NULL, "config default no Redis URL");
	CHECK(config.limiter_fail_open, "config default fails open");
	CHECK_INT_EQ(config.limiter_timeout_ms, 50, "config default timeout 50");
	CHECK(config.limit_webhook_ingest.count == 60 &&
	    config.limit_webhook_ingest.window_s == 60,
	    "config default ingest 60/60");
	CHECK(config.limit_agent_auth.count == 20 &&
	    config.limit_agent_auth.window_s == 60,
	    "config default agent auth 20/60");
	CHECK(config.limit_gateway_message.count == 20 &&
	    config.limit_gateway_message.window_s == 60,
	    "config default gateway 20/60");
	CHECK_INT_EQ(config.webhook_key, EDGE_WEBHOOK_KEY_IP,
	    "config default key ip");
	CHECK_INT_EQ(config.agent_auth_scope, EDGE_AUTH_SCOPE_ATTEMPTS,
	    "config default scope attempts");
	CHECK_INT_EQ(config.trusted_proxies.count, 0, "config default no proxies");
	CHECK_INT_EQ(config.trusted_proxy_header, EDGE_FORWARD_X_FORWARDED_FOR,
	    "config default header XFF");
	CHECK(config.database_url == NULL, "config default no database");
	CHECK_STR_EQ(config.base_url, "", "config default base URL empty");
	CHECK_INT_EQ(config.log_level, EDGE_LOG_INFO, "config default level INFO");
	CHECK_INT_EQ(config.log_format, EDGE_LOG_TEXT, "config default format text");
	CHECK_INT_EQ(capture.len, 0, "config defaults log nothing");
	edge_config_free(&config);
	edge_config_free(&config);
	CHECK(config.database_url == NULL, "config free twice safe");
}

static void
test_security_headers(void)
{
	static const struct {
		const char *variable;
		const char *header;
	} headers[] = {
		{ "SECURITY_HEADER_X_CONTENT_TYPE_OPTIONS", "X-Content-Type-Options" },
		{ "SECURITY_HEADER_X_FRAME_OPTIONS", "X-Frame-Options" },
		{ "SECURITY_HEADER_REFERRER_POLICY", "Referrer-Policy" },
		{ "SECURITY_HEADER_PERMISSIONS_POLICY", "Permissions-Policy" },
	};
	edge_config config;

	for (size_t i = 0; i < 3; i++) {
		CHECK_INT_EQ(load_with(headers[i].variable, "", &config, 0), EDGE_OK,
		    "config blank header loads");
		CHECK(header_value(&config, headers[i].header) == NULL,
		    "config blank disables header");
		CHECK(header_value(&config, headers[(i + 1) % 3].header) != NULL,
		    "config blank keeps others");
		edge_config_free(&config);
	}

	CHECK_INT_EQ(load_with("SECURITY_HEADER_PERMISSIONS_POLICY",
	    "geolocation=(), camera=()", &config, 0), EDGE_OK,
	    "config permissions policy loads");
	CHECK_STR_EQ(header_value(&config, "Permissions-Policy"),
	    "geolocation=(), camera=()", "config permissions policy set");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("SECURITY_HEADER_X_FRAME_OPTIONS", "SAMEORIGIN",
	    &config, 0), EDGE_OK, "config custom header loads");
	CHECK_STR_EQ(header_value(&config, "X-Frame-Options"), "SAMEORIGIN",
	    "config custom header value");
	edge_config_free(&config);

	/* CR or LF disables only that header, and the load still succeeds. */
	CHECK_INT_EQ(load_with("SECURITY_HEADER_X_FRAME_OPTIONS",
	    "DENY\r\nSet-Cookie: session=stolen", &config, 0), EDGE_OK,
	    "config CRLF header loads");
	CHECK(header_value(&config, "X-Frame-Options") == NULL,
	    "config CRLF disables header");
	CHECK_STR_EQ(header_value(&config, "X-Content-Type-Options"), "nosniff",
	    "config CRLF keeps nosniff");
	CHECK_STR_EQ(header_value(&config, "Referrer-Policy"),
	    "strict-origin-when-cross-origin", "config CRLF keeps referrer");
	CHECKF(strstr(capture.text, "SECURITY_HEADER_X_FRAME_OPTIONS") != NULL,
	    "config CRLF names variable", "log: %s", capture.text);
	CHECKF(strstr(capture.text, "Set-Cookie") == NULL,
	    "config CRLF value not logged", "log: %s", capture.text);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "config CRLF one log line");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("SECURITY_HEADER_REFERRER_POLICY", "no-referrer\nX: y",
	    &config, 0), EDGE_OK, "config LF header loads");
	CHECK(header_value(&config, "Referrer-Policy") == NULL,
	    "config LF disables header");
	CHECK_STR_EQ(header_value(&config, "X-Frame-Options"), "DENY",
	    "config LF keeps frame options");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("SECURITY_HEADER_PERMISSIONS_POLICY", "a=()\r",
	    &config, 0), EDGE_OK, "config CR header loads");
	CHECK(header_value(&config, "Permissions-Policy") == NULL,
	    "config CR disables header");
	edge_config_free(&config);
}

/* Checks that text parses into count and window_s. */
static void
check_rule(const char *text, unsigned count, unsigned window_s, const char *name)
{
	edge_rate_rule rule = { 0, 0 };

	CHECKF(edge_rate_rule_parse(text, &rule), name, "\"%s\" rejected", text);
	CHECKF(rule.count == count, name, "count %u, expected %u", rule.count, count);
	CHECKF(rule.window_s == window_s, name, "window %u, expected %u",
	    rule.window_s, window_s);
}

static void
test_rate_rule_parse(void)
{
	static const char *const invalid[] = {
		"", "60", "60/", "/60", "0/60", "60/0", "abc/60", "60/abc",
		"60/60x", "60x/60", "-1/60", "60/-1", "+5/60", "60/+5", " 60/60",
		"60/60 ", "60 /60", "60/ 60", "100001/60", "60/86401", "1/2/3",
		"18446744073709551616/60", "60/18446744073709551617",
		"99999999999999999999/1", "6.0/60", "0x10/60",
	};
	edge_rate_rule rule = { 0, 0 };

	check_rule("60/60", 60, 60, "rate rule 60/60");
	check_rule("1/1", 1, 1, "rate rule smallest values");
	check_rule("100000/86400", 100000, 86400, "rate rule largest values");
	check_rule("5/3600", 5, 3600, "rate rule one hour");

	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		rule.count = 7;
		rule.window_s = 7;
		CHECKF(!edge_rate_rule_parse(invalid[i], &rule),
		    "rate rule rejects malformed", "accepted \"%s\"", invalid[i]);
	}
}

static void
test_limit_variables(void)
{
	static const char *const variables[] = {
		"RATE_LIMIT_WEBHOOK_INGEST", "RATE_LIMIT_AGENT_AUTH",
		"RATE_LIMIT_GATEWAY_MESSAGE",
	};
	static const char *const malformed[] = { "60", "0/60", "60/0", "x/y", "60/60s" };
	edge_config config;

	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < sizeof(malformed) / sizeof(malformed[0]); j++) {
			CHECKF(load_with(variables[i], malformed[j], &config, 0) ==
			    EDGE_ERR_CONFIG, "config malformed limit rejected",
			    "%s=%s", variables[i], malformed[j]);
			CHECKF(strstr(capture.text, variables[i]) != NULL,
			    "config limit error names variable", "log: %s",
			    capture.text);
			CHECK_INT_EQ(capture_line_count(&capture), 1,
			    "config limit error one line");
			edge_config_free(&config);
		}
	}

	CHECK_INT_EQ(load_with("RATE_LIMIT_AGENT_AUTH", "5/10", &config, 0), EDGE_OK,
	    "config custom limit loads");
	CHECK(config.limit_agent_auth.count == 5 &&
	    config.limit_agent_auth.window_s == 10, "config custom limit value");
	CHECK(config.limit_webhook_ingest.count == 60,
	    "config custom limit others default");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("RATE_LIMIT_WEBHOOK_INGEST", "", &config, 0), EDGE_OK,
	    "config blank limit loads");
	CHECK(config.limit_webhook_ingest.count == 60 &&
	    config.limit_webhook_ingest.window_s == 60,
	    "config blank limit default");
	edge_config_free(&config);
}

/* Checks that loading with variable=value fails with EDGE_ERR_CONFIG and a
 * log line that names the variable. */
static void
check_rejected(const char *variable, const char *value, const char *name)
{
	edge_config config;

	CHECKF(load_with(variable, value, &config, 0) == EDGE_ERR_CONFIG, name,
	    "%s=%s was accepted", variable, value);
	CHECKF(strstr(capture.text, variable) != NULL, name,
	    "log does not name %s: %s", variable, capture.text);
	edge_config_free(&config);
}

static void
test_other_settings(void)
{
	edge_config config;

	CHECK_INT_EQ(load_with("WEBHOOK_MAX_PAYLOAD_BYTES", "2048", &config, 0),
	    EDGE_OK, "config payload limit loads");
	CHECK_INT_EQ(config.webhook_max_payload_bytes, 2048,
	    "config payload limit value");
	edge_config_free(&config);
	CHECK_INT_EQ(load_with("WEBHOOK_MAX_PAYLOAD_BYTES", "1073741824", &config, 0),
	    EDGE_OK, "config payload limit 1 GiB");
	edge_config_free(&config);
	check_rejected("WEBHOOK_MAX_PAYLOAD_BYTES", "0", "config payload zero rejected");
	check_rejected("WEBHOOK_MAX_PAYLOAD_BYTES", "-1",
	    "config payload negative rejected");
	check_rejected("WEBHOOK_MAX_PAYLOAD_BYTES", "1e6",
	    "config payload exponent rejected");
	check_rejected("WEBHOOK_MAX_PAYLOAD_BYTES", "1073741825",
	    "config payload over 1 GiB rejected");
	check_rejected("WEBHOOK_MAX_PAYLOAD_BYTES", "99999999999999999999999",
	    "config payload overflow rejected");

	CHECK_INT_EQ(load_with("RATE_LIMIT_BACKEND", "redis", &config, 0), EDGE_OK,
	    "config backend redis loads");
	CHECK_INT_EQ(config.limiter_backend, EDGE_LIMITER_REDIS,
	    "config backend redis value");
	edge_config_free(&config);
	CHECK_INT_EQ(load_with("RATE_LIMIT_BACKEND", "Memory", &config, 0), EDGE_OK,
	    "config backend memory loads");
	CHECK_INT_EQ(config.limiter_backend, EDGE_LIMITER_MEMORY,
	    "config backend memory value");
	edge_config_free(&config);
	check_rejected("RATE_LIMIT_BACKEND", "memcached",
	    "config backend unknown rejected");

	clearenv();
	setenv("RATE_LIMIT_REDIS_URL", "", 1);
	setenv("RQ_REDIS_URL", "redis://127.0.0.1:6379/1", 1);
	CHECK_INT_EQ(load(&config, 0), EDGE_OK, "config Redis fallback loads");
	CHECK_STR_EQ(config.redis_url, "redis://127.0.0.1:6379/1",
	    "config blank Redis URL falls back");
	edge_config_free(&config);
	setenv("RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6379/2", 1);
	CHECK_INT_EQ(load(&config, 0), EDGE_OK, "config Redis URL loads");
	CHECK_STR_EQ(config.redis_url, "redis://127.0.0.1:6379/2",
	    "config Redis URL preferred");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("RATE_LIMIT_FAIL_OPEN", "false", &config, 0), EDGE_OK,
	    "config fail closed loads");
	CHECK(!config.limiter_fail_open, "config fail closed value");
	edge_config_free(&config);
	check_rejected("RATE_LIMIT_FAIL_OPEN", "maybe", "config fail open rejected");

	CHECK_INT_EQ(load_with("RATE_LIMIT_TIMEOUT_MS", "250", &config, 0), EDGE_OK,
	    "config timeout loads");
	CHECK_INT_EQ(config.limiter_timeout_ms, 250, "config timeout value");
	edge_config_free(&config);
	check_rejected("RATE_LIMIT_TIMEOUT_MS", "0", "config timeout zero rejected");
	check_rejected("RATE_LIMIT_TIMEOUT_MS", "60001", "config timeout large rejected");
	check_rejected("RATE_LIMIT_TIMEOUT_MS", "50ms", "config timeout unit rejected");

	CHECK_INT_EQ(load_with("RATE_LIMIT_WEBHOOK_INGEST_KEY", "ip+webhook", &config,
	    0), EDGE_OK, "config ingest key loads");
	CHECK_INT_EQ(config.webhook_key, EDGE_WEBHOOK_KEY_IP_WEBHOOK,
	    "config ingest key value");
	edge_config_free(&config);
	check_rejected("RATE_LIMIT_WEBHOOK_INGEST_KEY", "webhook",
	    "config ingest key rejected");

	CHECK_INT_EQ(load_with("RATE_LIMIT_AGENT_AUTH_SCOPE", "failures", &config, 0),
	    EDGE_OK, "config auth scope loads");
	CHECK_INT_EQ(config.agent_auth_scope, EDGE_AUTH_SCOPE_FAILURES,
	    "config auth scope value");
	edge_config_free(&config);
	check_rejected("RATE_LIMIT_AGENT_AUTH_SCOPE", "successes",
	    "config auth scope rejected");

	CHECK_INT_EQ(load_with("TRUSTED_PROXY_HEADER", "Forwarded", &config, 0),
	    EDGE_OK, "config proxy header loads");
	CHECK_INT_EQ(config.trusted_proxy_header, EDGE_FORWARD_FORWARDED,
	    "config proxy header forwarded");
	edge_config_free(&config);
	check_rejected("TRUSTED_PROXY_HEADER", "x-real-ip",
	    "config proxy header rejected");

	CHECK_INT_EQ(load_with("TRUSTED_PROXIES", "10.0.0.0/8, not-a-proxy, ::1",
	    &config, 0), EDGE_OK, "config proxies load");
	CHECK_INT_EQ(config.trusted_proxies.count, 2, "config proxies invalid skipped");
	CHECKF(strstr(capture.text, "not-a-proxy") == NULL,
	    "config proxies warning hides entry", "log: %s", capture.text);
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("BASE_URL", "https://mc.example.com", &config, 0),
	    EDGE_OK, "config base URL loads");
	CHECK_STR_EQ(config.base_url, "https://mc.example.com", "config base URL value");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("LOG_LEVEL", "debug", &config, 0), EDGE_OK,
	    "config log level loads");
	CHECK_INT_EQ(config.log_level, EDGE_LOG_DEBUG, "config log level debug");
	edge_config_free(&config);
	CHECK_INT_EQ(load_with("LOG_LEVEL", "WARN", &config, 0), EDGE_OK,
	    "config log level WARN loads");
	CHECK_INT_EQ(config.log_level, EDGE_LOG_WARNING, "config log level WARN");
	edge_config_free(&config);
	CHECK_INT_EQ(load_with("LOG_LEVEL", "critical", &config, 0), EDGE_OK,
	    "config log level CRITICAL loads");
	CHECK_INT_EQ(config.log_level, EDGE_LOG_ERROR, "config log level CRITICAL");
	edge_config_free(&config);
	check_rejected("LOG_LEVEL", "verbose", "config log level rejected");
	CHECK_INT_EQ(load_with("LOG_FORMAT", "json", &config, 0), EDGE_OK,
	    "config log format loads");
	CHECK_INT_EQ(config.log_format, EDGE_LOG_JSON, "config log format json");
	edge_config_free(&config);
	check_rejected("LOG_FORMAT", "xml", "config log format rejected");
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
}

static void
test_database_url(void)
{
	edge_config config;

	clearenv();
	CHECK_INT_EQ(load(&config, EDGE_NEED_DATABASE), EDGE_ERR_CONFIG,
	    "config database required when needed");
	CHECKF(strstr(capture.text, "DATABASE_URL") != NULL,
	    "config database error names variable", "log: %s", capture.text);
	edge_config_free(&config);

	/* The PostgreSQL limiter store (the default) needs the database too. */
	CHECK_INT_EQ(load(&config, EDGE_NEED_RATE_LIMIT), EDGE_ERR_CONFIG,
	    "config database required by postgres limiter");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("RATE_LIMIT_BACKEND", "memory", &config,
	    EDGE_NEED_RATE_LIMIT), EDGE_OK, "config database optional otherwise");
	CHECK(config.database_url == NULL, "config database absent is NULL");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("DATABASE_URL", "", &config, EDGE_NEED_DATABASE),
	    EDGE_ERR_CONFIG, "config blank database rejected");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("DATABASE_URL",
	    "postgresql+psycopg://mc:pw@127.0.0.1:5432/mission_control", &config,
	    EDGE_NEED_DATABASE), EDGE_OK, "config upstream database URL loads");
	CHECK_STR_EQ(config.database_url,
	    "postgresql://mc:pw@127.0.0.1:5432/mission_control",
	    "config database driver stripped");
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("DATABASE_URL", "mysql://mc:hunter2@127.0.0.1/mc",
	    &config, EDGE_NEED_DATABASE), EDGE_ERR_CONFIG,
	    "config foreign database rejected");
	CHECKF(strstr(capture.text, "hunter2") == NULL,
	    "config database error hides password", "log: %s", capture.text);
	edge_config_free(&config);
}

static void
test_database_url_normalize(void)
{
	static const struct {
		const char *name;
		const char *url;
		const char *expected;	/* NULL: rejected */
	} cases[] = {
		{ "normalize plain URL unchanged", "postgresql://u:p@h:5432/db",
		  "postgresql://u:p@h:5432/db" },
		{ "normalize psycopg driver stripped", "postgresql+psycopg://u:p@h/db",
		  "postgresql://u:p@h/db" },
		{ "normalize asyncpg driver stripped", "postgresql+asyncpg://h/db",
		  "postgresql://h/db" },
		{ "normalize psycopg2 driver stripped", "postgresql+psycopg2://h/db",
		  "postgresql://h/db" },
		{ "normalize short scheme", "postgres://h/db", "postgresql://h/db" },
		{ "normalize short scheme driver", "postgres+psycopg://h/db",
		  "postgresql://h/db" },
		{ "normalize upper-case scheme", "POSTGRESQL+PSYCOPG://h/db",
		  "postgresql://h/db" },
		{ "normalize socket URL", "postgresql:///db?host=/run/pg",
		  "postgresql:///db?host=/run/pg" },
		{ "normalize empty driver rejected", "postgresql+://h/db", NULL },
		{ "normalize dashed driver rejected", "postgresql+psy-copg://h/db", NULL },
		{ "normalize other scheme rejected", "mysql://h/db", NULL },
		{ "normalize missing slashes rejected", "postgresql:/h/db", NULL },
		{ "normalize longer scheme rejected", "postgresqlx://h/db", NULL },
		{ "normalize conninfo string rejected", "host=h dbname=db", NULL },
		{ "normalize empty string rejected", "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = edge_database_url_normalize(cases[i].url);

		CHECK_STR_EQ(out, cases[i].expected, cases[i].name);
		free(out);
	}
}

/* A valid LOCAL_AUTH_TOKEN: 50 visible ASCII characters. */
#define GOOD_TOKEN "tok3n-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF"

/* Loads with LOCAL_AUTH_TOKEN=token and EDGE_NEED_USER_AUTH, and checks that
 * it fails naming the variable without ever logging the value. */
static void
check_token_rejected(const char *token, const char *name)
{
	edge_config config;

	CHECKF(load_with("LOCAL_AUTH_TOKEN", token, &config, EDGE_NEED_USER_AUTH) ==
	    EDGE_ERR_CONFIG, name, "token \"%s\" was accepted", token);
	CHECKF(strstr(capture.text, "LOCAL_AUTH_TOKEN") != NULL, name,
	    "log does not name LOCAL_AUTH_TOKEN: %s", capture.text);
	CHECKF(strlen(token) < 4 || strstr(capture.text, token) == NULL, name,
	    "log holds the token: %s", capture.text);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "config token error one line");
	edge_config_free(&config);
}

static void
test_user_auth_settings(void)
{
	edge_config config;

	clearenv();
	CHECK_INT_EQ(load(&config, 0), EDGE_OK, "config user auth defaults load");
	CHECK_INT_EQ(config.auth_mode, EDGE_AUTH_LOCAL, "config default auth mode local");
	CHECK_INT_EQ(config.jwt_leeway_s, 10, "config default leeway 10");
	CHECK(config.local_auth_token == NULL, "config default no local token");
	CHECK(config.jwt_jwks_file == NULL, "config default no JWKS file");
	CHECK(config.jwt_issuer == NULL, "config default no issuer");
	CHECK(config.jwt_audience == NULL, "config default no audience");
	edge_config_free(&config);

	/* An endpoint without user auth ignores a short token and a bad mode. */
	CHECK_INT_EQ(load_with("LOCAL_AUTH_TOKEN", "short", &config, 0), EDGE_OK,
	    "config short token ignored without need");
	edge_config_free(&config);
	CHECK_INT_EQ(load_with("AUTH_MODE", "clerk", &config, 0), EDGE_OK,
	    "config bad mode ignored without need");
	edge_config_free(&config);

	clearenv();
	CHECK_INT_EQ(load(&config, EDGE_NEED_USER_AUTH), EDGE_ERR_CONFIG,
	    "config token required in local mode");
	CHECKF(strstr(capture.text, "LOCAL_AUTH_TOKEN") != NULL,
	    "config missing token names variable", "log: %s", capture.text);
	edge_config_free(&config);

	CHECK_INT_EQ(load_with("LOCAL_AUTH_TOKEN", GOOD_TOKEN, &config,
	    EDGE_NEED_USER_AUTH), EDGE_OK, "config 50-character token loads");
	CHECK_STR_EQ(config.local_auth_token, GOOD_TOKEN, "config token value kept");
	CHECK_INT_EQ(capture.len, 0, "config good token logs nothing");
	edge_config_free(&config);

	check_token_rejected("change-me", "config placeholder change-me rejected");
	check_token_rejected("CHANGEME", "config placeholder CHANGEME rejected");
	check_token_rejected("Replace-Me", "config placeholder Replace-Me rejected");
	check_token_rejected("replace-with-strong-random-token",
	    "config placeholder replace-with rejected");
	check_token_rejected("tok3n-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDE",
	    "config 49-character token rejected");
	check_token_rejected(" " GOOD_TOKEN, "config token leading space rejected");
	check_token_rejected(GOOD_TOKEN "\n", "config token trailing newline rejected");
	check_token_rejected("tok3n-0123456789-abcdefghij klmnopqrstuvwxyz-ABCDEFG",
	    "config token inner space rejected");
	check_token_rejected("tok3n-0123456789-abcdefghij\xc3\xa9klmnopqrstuvwxyz-ABCDEFG",
	    "config token non-ASCII rejected");

	clearenv();
	setenv("AUTH_MODE", "Jwt", 1);
	CHECK_INT_EQ(load(&config, EDGE_NEED_USER_AUTH), EDGE_ERR_CONFIG,
	    "config jwt mode needs JWKS file");
	CHECKF(strstr(capture.text, "JWT_JWKS_FILE") != NULL,
	    "config missing JWKS names variable", "log: %s", capture.text);
	edge_config_free(&config);

	setenv("JWT_JWKS_FILE", "/etc/mc-edge/jwks.json", 1);
	setenv("JWT_ISSUER", "https://issuer.test", 1);
	setenv("JWT_AUDIENCE", "", 1);
	setenv("JWT_LEEWAY_SECONDS", "0", 1);
	setenv("LOCAL_AUTH_TOKEN", "short", 1);
	CHECK_INT_EQ(load(&config, EDGE_NEED_USER_AUTH), EDGE_OK,
	    "config jwt mode loads without local token");
	CHECK_INT_EQ(config.auth_mode, EDGE_AUTH_JWT, "config auth mode jwt");
	CHECK_STR_EQ(config.jwt_jwks_file, "/etc/mc-edge/jwks.json", "config JWKS path");
	CHECK_STR_EQ(config.jwt_issuer, "https://issuer.test", "config issuer");
	CHECK(config.jwt_audience == NULL, "config blank audience unset");
	CHECK_INT_EQ(config.jwt_leeway_s, 0, "config leeway zero");
	edge_config_free(&config);

	setenv("JWT_LEEWAY_SECONDS", "300", 1);
	CHECK_INT_EQ(load(&config, EDGE_NEED_USER_AUTH), EDGE_OK, "config leeway 300 loads");
	CHECK_INT_EQ(config.jwt_leeway_s, 300, "config leeway 300");
	edge_config_free(&config);

	static const char *const bad_leeway[] = { "301", "-1", "10s", "abc", "1e2" };
	for (size_t i = 0; i < sizeof(bad_leeway) / sizeof(bad_leeway[0]); i++) {
		setenv("JWT_LEEWAY_SECONDS", bad_leeway[i], 1);
		CHECKF(load(&config, EDGE_NEED_USER_AUTH) == EDGE_ERR_CONFIG,
		    "config bad leeway rejected", "JWT_LEEWAY_SECONDS=%s", bad_leeway[i]);
		CHECKF(strstr(capture.text, "JWT_LEEWAY_SECONDS") != NULL,
		    "config bad leeway names variable", "log: %s", capture.text);
		edge_config_free(&config);
	}

	clearenv();
	setenv("AUTH_MODE", "clerk", 1);
	setenv("LOCAL_AUTH_TOKEN", GOOD_TOKEN, 1);
	CHECK_INT_EQ(load(&config, EDGE_NEED_USER_AUTH), EDGE_ERR_CONFIG,
	    "config unknown auth mode rejected");
	CHECKF(strstr(capture.text, "AUTH_MODE") != NULL,
	    "config unknown mode names variable", "log: %s", capture.text);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "config unknown mode one line");
	edge_config_free(&config);
}

static void
test_gateway_settings(void)
{
	edge_config config;

	clearenv();
	CHECK_INT_EQ(load(&config, EDGE_NEED_GATEWAY), EDGE_OK,
	    "config gateway defaults load");
	CHECK_INT_EQ(config.gateway_timeout_ms, 5000, "config default gateway timeout");
	CHECK(config.gateway_ca_file == NULL, "config default no CA file");
	CHECK_STR_EQ(config.gateway_device_key_file,
	    "/var/lib/mc-edge/gateway-device.pem", "config default device key path");
	edge_config_free(&config);
	CHECK(config.gateway_device_key_file == NULL, "config free clears device key path");

	CHECK_INT_EQ(load_with("EDGE_STATE_DIR", "/srv/edge", &config, EDGE_NEED_GATEWAY),
	    EDGE_OK, "config state dir loads");
	CHECK_STR_EQ(config.gateway_device_key_file, "/srv/edge/gateway-device.pem",
	    "config device key under state dir");
	edge_config_free(&config);

	/* The CA file is checked at start: a readable one loads, a missing one
	 * is a configuration error naming the variable. */
	char ca_file[] = "/tmp/mc-edge-test-ca-XXXXXX";
	int ca_fd = mkstemp(ca_file);

	CHECK(ca_fd >= 0, "config temporary CA file made");
	if (ca_fd >= 0)
		close(ca_fd);
	clearenv();
	setenv("EDGE_STATE_DIR", "/srv/edge", 1);
	setenv("GATEWAY_DEVICE_KEY_FILE", "/etc/mc-edge/device.pem", 1);
	setenv("GATEWAY_CA_FILE", ca_file, 1);
	setenv("GATEWAY_TIMEOUT_MS", "600000", 1);
	CHECK_INT_EQ(load(&config, EDGE_NEED_GATEWAY), EDGE_OK, "config gateway settings load");
	CHECK_STR_EQ(config.gateway_device_key_file, "/etc/mc-edge/device.pem",
	    "config device key file set");
	CHECK_STR_EQ(config.gateway_ca_file, ca_file, "config CA file set");
	CHECK_INT_EQ(config.gateway_timeout_ms, 600000, "config gateway timeout max");
	edge_config_free(&config);

	unlink(ca_file);
	CHECK_INT_EQ(load(&config, EDGE_NEED_GATEWAY), EDGE_ERR_CONFIG,
	    "config missing CA file rejected");
	CHECKF(strstr(capture.text, "GATEWAY_CA_FILE") != NULL,
	    "config missing CA file names variable", "log: %s", capture.text);
	edge_config_free(&config);
	unsetenv("GATEWAY_CA_FILE");

	static const char *const bad_timeout[] = { "0", "600001", "5s", "-5", "" };
	for (size_t i = 0; i < 4; i++) {
		setenv("GATEWAY_TIMEOUT_MS", bad_timeout[i], 1);
		CHECKF(load(&config, EDGE_NEED_GATEWAY) == EDGE_ERR_CONFIG,
		    "config bad gateway timeout rejected", "GATEWAY_TIMEOUT_MS=%s",
		    bad_timeout[i]);
		CHECKF(strstr(capture.text, "GATEWAY_TIMEOUT_MS") != NULL,
		    "config bad timeout names variable", "log: %s", capture.text);
		edge_config_free(&config);

		/* Endpoints that do not talk to a gateway ignore the setting. */
		CHECKF(load(&config, 0) == EDGE_OK, "config bad timeout ignored without need",
		    "GATEWAY_TIMEOUT_MS=%s", bad_timeout[i]);
		edge_config_free(&config);
	}
	setenv("GATEWAY_TIMEOUT_MS", bad_timeout[4], 1);
	CHECK_INT_EQ(load(&config, EDGE_NEED_GATEWAY), EDGE_OK, "config blank timeout loads");
	CHECK_INT_EQ(config.gateway_timeout_ms, 5000, "config blank timeout default");
	edge_config_free(&config);
}

int
main(void)
{
	test_defaults();
	test_security_headers();
	test_rate_rule_parse();
	test_limit_variables();
	test_other_settings();
	test_database_url();
	test_database_url_normalize();
	test_user_auth_settings();
	test_gateway_settings();
	return check_summary();
}

/* Tests for Redis URL parsing: TCP and unix socket forms, credentials with
 * percent-encoding, ports and database numbers, and error lines that never
 * contain the credentials. */
#include <string.h>

#include "capture.h"
#include "check.h"
#include "log.h"
#include "redis_url.h"

static stderr_capture capture;

/* Parses url with the log captured; returns the result code. */
static edge_err
parse(const char *url, edge_redis_target *target)
{
	edge_err err;

	capture_begin(&capture);
	err = edge_redis_url_parse(url, target);
	capture_end(&capture);
	return err;
}

static void
test_tcp(void)
{
	edge_redis_target t;

	CHECK_INT_EQ(parse("redis://127.0.0.1:6379/0", &t), EDGE_OK, "redis url plain");
	CHECK_STR_EQ(t.host, "127.0.0.1", "redis url plain host");
	CHECK_INT_EQ(t.port, 6379, "redis url plain port");
	CHECK_INT_EQ(t.db, 0, "redis url plain db");
	CHECK_STR_EQ(t.user, "", "redis url plain no user");
	CHECK_STR_EQ(t.password, "", "redis url plain no password");
	CHECK_STR_EQ(t.socket_path, "", "redis url plain no socket");

	CHECK_INT_EQ(parse("redis://localhost", &t), EDGE_OK, "redis url host only");
	CHECK_INT_EQ(t.port, 6379, "redis url default port");
	CHECK_INT_EQ(t.db, 0, "redis url default db");

	CHECK_INT_EQ(parse("redis://:s3cret@127.0.0.1:6380/2", &t), EDGE_OK,
	    "redis url password only");
	CHECK_STR_EQ(t.password, "s3cret", "redis url password value");
	CHECK_STR_EQ(t.user, "", "redis url no user");
	CHECK_INT_EQ(t.port, 6380, "redis url custom port");
	CHECK_INT_EQ(t.db, 2, "redis url database number");

	CHECK_INT_EQ(parse("redis://limiter:pw@cache.internal/15", &t), EDGE_OK,
	    "redis url user and password");
	CHECK_STR_EQ(t.user, "limiter", "redis url user value");
	CHECK_STR_EQ(t.password, "pw", "redis url user password value");
	CHECK_STR_EQ(t.host, "cache.internal", "redis url host name");

	CHECK_INT_EQ(parse("redis://pw@h", &t), EDGE_OK, "redis url bare password");
	CHECK_STR_EQ(t.password, "pw", "redis url bare password value");

	CHECK_INT_EQ(parse("redis://:p%40ss%3Aw%2Fd@h", &t), EDGE_OK,
	    "redis url encoded password");
	CHECK_STR_EQ(t.password, "p@ss:w/d", "redis url encoded password value");
	CHECK_INT_EQ(parse("redis://u:p@ss@h", &t), EDGE_OK, "redis url at in password");
	CHECK_STR_EQ(t.password, "p@ss", "redis url last at ends credentials");
	CHECK_STR_EQ(t.host, "h", "redis url host after last at");

	CHECK_INT_EQ(parse("redis://[::1]:6390/3", &t), EDGE_OK, "redis url IPv6 host");
	CHECK_STR_EQ(t.host, "::1", "redis url IPv6 brackets removed");
	CHECK_INT_EQ(t.port, 6390, "redis url IPv6 port");
	CHECK_INT_EQ(parse("redis://[::1]", &t), EDGE_OK, "redis url IPv6 no port");
	CHECK_INT_EQ(t.port, 6379, "redis url IPv6 default port");

	CHECK_INT_EQ(parse("REDIS://H/", &t), EDGE_OK, "redis url scheme case");
	CHECK_INT_EQ(t.db, 0, "redis url empty path db 0");
	CHECK_INT_EQ(parse("redis://h:65535/65535", &t), EDGE_OK, "redis url maximum values");
}

static void
test_unix(void)
{
	edge_redis_target t;

	CHECK_INT_EQ(parse("unix:/run/redis/redis.sock", &t), EDGE_OK, "redis url unix");
	CHECK_STR_EQ(t.socket_path, "/run/redis/redis.sock", "redis url unix path");
	CHECK_STR_EQ(t.host, "", "redis url unix no host");
	CHECK_INT_EQ(parse("unix:///run/redis.sock?db=3", &t), EDGE_OK,
	    "redis url unix slashes and db");
	CHECK_STR_EQ(t.socket_path, "/run/redis.sock", "redis url unix slashes path");
	CHECK_INT_EQ(t.db, 3, "redis url unix db");
	CHECK_INT_EQ(parse("unix:/tmp/a%20b.sock", &t), EDGE_OK, "redis url unix encoded");
	CHECK_STR_EQ(t.socket_path, "/tmp/a b.sock", "redis url unix decoded path");
}

static void
test_invalid(void)
{
	static const struct {
		const char *name;
		const char *url;
	} cases[] = {
		{ "redis url TLS refused", "rediss://:hunter2@h:6380" },
		{ "redis url other scheme", "http://:hunter2@h" },
		{ "redis url empty", "" },
		{ "redis url no host", "redis://:hunter2@" },
		{ "redis url nothing after scheme", "redis://" },
		{ "redis url port zero", "redis://:hunter2@h:0" },
		{ "redis url port too large", "redis://:hunter2@h:65536" },
		{ "redis url port not number", "redis://:hunter2@h:http" },
		{ "redis url empty port", "redis://:hunter2@h:" },
		{ "redis url path not number", "redis://:hunter2@h/cache" },
		{ "redis url db too large", "redis://:hunter2@h/65536" },
		{ "redis url unclosed bracket", "redis://:hunter2@[::1" },
		{ "redis url junk after bracket", "redis://:hunter2@[::1]x" },
		{ "redis url NUL in password", "redis://:hunter2%00@h" },
		{ "redis url bad escape", "redis://:hunter2%zz@h" },
		{ "redis url cut escape", "redis://:hunter2%4@h" },
		{ "redis url relative socket", "unix:redis.sock" },
		{ "redis url empty socket", "unix:" },
		{ "redis url unix other query", "unix:/run/r.sock?timeout=1" },
		{ "redis url tcp other query", "redis://h:1/2?timeout=1" },
		{ "redis url tcp two databases", "redis://h:1/2?db=3" },
		{ "redis url tcp fragment", "redis://h:1/2#x" },
		{ "redis url unix bad db", "unix:/run/r.sock?db=x" },
	};
	edge_redis_target t;
	char long_url[600];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT_EQ(parse(cases[i].url, &t), EDGE_ERR_CONFIG, cases[i].name);
		CHECKF(strstr(capture.text, "hunter2") == NULL,
		    "redis url error hides password", "%s logged: %s", cases[i].name,
		    capture.text);
		CHECKF(capture_line_count(&capture) == 1, "redis url error one line",
		    "%s logged: %s", cases[i].name, capture.text);
	}

	/* Query parameters: db and password, on both forms. */
	CHECK_INT_EQ(parse("unix:/run/r.sock?db=4&password=hunter2", &t), EDGE_OK,
	    "redis url unix query accepted");
	CHECK_INT_EQ(t.db, 4, "redis url unix query db");
	CHECK_STR_EQ(t.password, "hunter2", "redis url unix query password");
	CHECK_INT_EQ(parse("redis://h:1?db=5", &t), EDGE_OK,
	    "redis url tcp query accepted");
	CHECK_INT_EQ(t.db, 5, "redis url tcp query db");

	memcpy(long_url, "redis://", 8);
	memset(long_url + 8, 'h', 300);
	long_url[308] = '\0';
	CHECK_INT_EQ(parse(long_url, &t), EDGE_ERR_CONFIG, "redis url host too long");
	memcpy(long_url, "unix:/", 6);
	memset(long_url + 6, 's', 200);
	long_url[206] = '\0';
	CHECK_INT_EQ(parse(long_url, &t), EDGE_ERR_CONFIG, "redis url socket too long");
}

int
main(void)
{
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
	test_tcp();
	test_unix();
	test_invalid();
	return check_summary();
}

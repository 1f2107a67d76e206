/* Tests for the logging module: escaping of untrusted bytes, the line
 * formats (text and JSON), level filtering, throttling, token prefixes and
 * URL credential redaction. Log lines are captured from standard error. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "capture.h"
#include "check.h"
#include "log.h"
#include "utf8.h"

/* Escapes a literal (its length taken from sizeof) into a large buffer. */
#define ESCAPE(literal, out) \
	edge_log_escape((literal), sizeof(literal) - 1, (out), sizeof(out))

static stderr_capture capture;

static void
test_escape_known_answers(void)
{
	static const struct {
		const char *name;
		const char *input;
		size_t input_len;
		const char *expected;
	} cases[] = {
		{ "escape plain text unchanged", "GET /api", 8, "GET /api" },
		{ "escape line feed", "a\nb", 3, "a\\x0ab" },
		{ "escape carriage return", "a\rb", 3, "a\\x0db" },
		{ "escape tab", "a\tb", 3, "a\\x09b" },
		{ "escape NUL byte", "a\0b", 3, "a\\x00b" },
		{ "escape escape character", "\x1b[31m", 5, "\\x1b[31m" },
		{ "escape DEL byte", "\x7f", 1, "\\x7f" },
		{ "escape text keeps double quote", "say \"hi\"", 8, "say \"hi\"" },
		{ "escape backslash", "a\\x0a", 5, "a\\x5cx0a" },
		{ "escape keeps valid UTF-8", "caf\xc3\xa9 \xe2\x82\xac", 9,
		  "caf\xc3\xa9 \xe2\x82\xac" },
		{ "escape keeps four-byte UTF-8", "\xf0\x9f\x98\x80", 4,
		  "\xf0\x9f\x98\x80" },
		{ "escape invalid byte FF", "a\xff", 2, "a\\xff" },
		{ "escape truncated sequence", "a\xe2\x82", 3, "a\\xe2\\x82" },
		{ "escape overlong slash", "\xc0\xaf", 2, "\\xc0\\xaf" },
		{ "escape surrogate bytes", "\xed\xa0\x80", 3, "\\xed\\xa0\\x80" },
		{ "escape lone continuation", "\x80", 1, "\\x80" },
		{ "escape empty input", "", 0, "" },

		/* U+0085 NEL and the other C1 codes are control characters
		 * (general category Cc) too, and some viewers break lines at NEL. */
		{ "escape C1 control NEL", "a\xc2\x85" "b", 4, "a\\xc2\\x85b" },
	};

	char out[256];

	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		edge_log_escape(cases[i].input, cases[i].input_len, out, sizeof(out));
		CHECK_STR_EQ(out, cases[i].expected, cases[i].name);
	}

	/* edge_log_escape is the text form whatever the line format. */
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_JSON);
	edge_log_escape("say \"hi\"", 8, out, sizeof(out));
	CHECK_STR_EQ(out, "say \"hi\"", "escape keeps quotes in text form");
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
}

static void
test_escape_truncation(void)
{
	char text[300], out[64];
	size_t len;

	memset(text, 'a', sizeof(text));
	edge_log_escape(text, sizeof(text), out, 16);
	len = strlen(out);
	CHECK(len < 16, "escape cut fits buffer");
	CHECK(len >= 3, "escape cut leaves room for dots");
	CHECK(len >= 3 && memcmp(out + len - 3, "...", 3) == 0,
	    "escape cut ends with dots");
	CHECK(strspn(out, "a") == len - 3, "escape cut keeps prefix");

	/* A cut never splits a UTF-8 sequence. Sizes below 9 are covered by
	 * test_escape_small_buffers. */
	for (size_t i = 0; i + 3 <= sizeof(text); i += 3)
		memcpy(text + i, "\xe2\x82\xac", 3);
	{
		size_t bad_size = 0;

		for (size_t size = 9; size <= sizeof(out) && bad_size == 0; size++) {
			edge_log_escape(text, sizeof(text), out, size);
			if (memchr(out, '\0', size) == NULL ||
			    !edge_utf8_valid(out, strlen(out)))
				bad_size = size;
		}
		CHECKF(bad_size == 0, "escape cut keeps UTF-8 whole",
		    "out_size %zu", bad_size);
	}

	memset(text, '\n', sizeof(text));
	edge_log_escape(text, sizeof(text), out, sizeof(out));
	len = strlen(out);
	CHECK(len >= 3 && memcmp(out + len - 3, "...", 3) == 0,
	    "escape cut of escapes");
	CHECK((len - 3) % 4 == 0, "escape cut between escapes");
}

/* Every buffer size, however small, must be respected and NUL-terminated. */
static void
test_escape_small_buffers(void)
{
	char out[16];
	size_t overflow_at = 0;

	for (size_t size = 1; size <= 9 && overflow_at == 0; size++) {
		memset(out, 'Z', sizeof(out));
		edge_log_escape("abcdefghijklmnop", 16, out, size);
		for (size_t i = size; i < sizeof(out); i++)
			if (out[i] != 'Z')
				overflow_at = size;
		if (memchr(out, '\0', size) == NULL && overflow_at == 0)
			overflow_at = size;
	}
	CHECKF(overflow_at == 0, "escape small buffer respected",
	    "out_size %zu: wrote past the buffer or left it unterminated",
	    overflow_at);

	memset(out, 'Z', sizeof(out));
	edge_log_escape("abc", 3, out, 0);
	CHECK(out[0] == 'Z', "escape zero size writes nothing");
}

static bool
starts_with_timestamp(const char *line)
{
	/* "2024-01-31T12:34:56.789Z " */
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
		if (pattern[i] == 'd' ? !(line[i] >= '0' && line[i] <= '9') :
		    line[i] != pattern[i])
			return false;
	}
	return true;
}

static void
test_text_lines(void)
{
	char expected_tail[128];

	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
	edge_log_set_program("test-log");
	edge_log_set_request_id("abc123");

	capture_begin(&capture);
	edge_log(EDGE_LOG_INFO, "core", "hello %s", "world");
	capture_end(&capture);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "log text one line");
	CHECKF(starts_with_timestamp(capture.text), "log text UTC timestamp",
	    "line: %s", capture.text);
	snprintf(expected_tail, sizeof(expected_tail),
	    " INFO test-log[%ld] core request_id=abc123: hello world\n",
	    (long)getpid());
	CHECKF(strstr(capture.text, expected_tail) != NULL, "log text fields",
	    "line: %s", capture.text);

	edge_log_set_request_id(NULL);
	capture_begin(&capture);
	edge_log(EDGE_LOG_WARNING, "core", "no request");
	capture_end(&capture);
	CHECKF(strstr(capture.text, " WARNING ") != NULL &&
	    strstr(capture.text, "request_id=-: no request\n") != NULL,
	    "log text cleared request id", "line: %s", capture.text);

	/* A client value cannot start a second line or fake one. */
	capture_begin(&capture);
	edge_log(EDGE_LOG_ERROR, "ingest", "path %s",
	    "/x\nFAKE ERROR forged line\r\n");
	capture_end(&capture);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "log text injected newline");
	CHECKF(strstr(capture.text, "/x\\x0aFAKE ERROR forged line\\x0d\\x0a\n") !=
	    NULL, "log text newline escaped", "line: %s", capture.text);

	/* A message past the line limit is cut, still one line. */
	{
		char *big = malloc(20000);

		memset(big, 'q', 19999);
		big[19999] = '\0';
		capture_begin(&capture);
		edge_log(EDGE_LOG_ERROR, "core", "%s", big);
		capture_end(&capture);
		free(big);
	}
	CHECK_INT_EQ(capture_line_count(&capture), 1, "log text long message");
	CHECK(capture.len > 0, "log text long written");
	CHECK(capture.len > 0 && capture.text[capture.len - 1] == '\n',
	    "log text long ends newline");
	CHECK(capture.len < 8192, "log text long is cut");
}

static void
test_levels(void)
{
	edge_log_configure(EDGE_LOG_WARNING, EDGE_LOG_TEXT);
	capture_begin(&capture);
	edge_log(EDGE_LOG_DEBUG, "core", "debug");
	edge_log(EDGE_LOG_INFO, "core", "info");
	edge_log(EDGE_LOG_WARNING, "core", "warning");
	edge_log(EDGE_LOG_ERROR, "core", "error");
	capture_end(&capture);
	CHECK_INT_EQ(capture_line_count(&capture), 2, "log level filters lines");
	CHECK(strstr(capture.text, "info") == NULL, "log level drops info");
	CHECK(strstr(capture.text, ": error\n") != NULL, "log level keeps error");

	edge_log_configure(EDGE_LOG_DEBUG, EDGE_LOG_TEXT);
	capture_begin(&capture);
	edge_log(EDGE_LOG_DEBUG, "core", "debug");
	capture_end(&capture);
	CHECK(strstr(capture.text, " DEBUG ") != NULL, "log level debug shown");
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
}

/* Parses one captured JSON line strictly; NULL when it is not valid JSON. */
static json_object *
parse_json_line(const char *text)
{
	struct json_tokener *tokener = json_tokener_new();
	json_object *object;

	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	object = json_tokener_parse_ex(tokener, text, (int)strcspn(text, "\n"));
	json_tokener_free(tokener);
	return object;
}

static const char *
json_field(json_object *object, const char *key)
{
	json_object *value;

	if (object == NULL || !json_object_object_get_ex(object, key, &value))
		return NULL;
	return json_object_get_string(value);
}

static void
test_json_lines(void)
{
	json_object *object;

	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_JSON);
	edge_log_set_program("test-log");
	edge_log_set_request_id("req42");

	capture_begin(&capture);
	edge_log(EDGE_LOG_WARNING, "limiter", "store %s", "unreachable");
	capture_end(&capture);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "log json one line");
	object = parse_json_line(capture.text);
	CHECKF(object != NULL, "log json plain message parses", "line: %s",
	    capture.text);
	CHECK_STR_EQ(json_field(object, "level"), "WARNING", "log json level field");
	CHECK_STR_EQ(json_field(object, "program"), "test-log",
	    "log json program field");
	CHECK_STR_EQ(json_field(object, "subsystem"), "limiter",
	    "log json subsystem field");
	CHECK_STR_EQ(json_field(object, "request_id"), "req42",
	    "log json request id field");
	CHECK_STR_EQ(json_field(object, "message"), "store unreachable",
	    "log json message field");
	CHECK(json_field(object, "time") != NULL, "log json time field");
	json_object_put(object);

	/* Client bytes that need escaping must still give a valid JSON line. */
	capture_begin(&capture);
	edge_log(EDGE_LOG_ERROR, "ingest", "header %s", "say \"hi\"\n\\ \x01");
	capture_end(&capture);
	CHECK_INT_EQ(capture_line_count(&capture), 1, "log json escaped one line");
	object = parse_json_line(capture.text);
	CHECKF(object != NULL, "log json quote stays valid", "line: %s",
	    capture.text);
	json_object_put(object);

	edge_log_set_request_id(NULL);
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
}

static void
test_throttled(void)
{
	int slot = 0, other = 0;
	int first, second, third;

	capture_begin(&capture);
	first = edge_log_throttled(&slot, 60, EDGE_LOG_WARNING, "limiter", "one");
	second = edge_log_throttled(&slot, 60, EDGE_LOG_WARNING, "limiter", "two");
	third = edge_log_throttled(&other, 60, EDGE_LOG_WARNING, "limiter", "three");
	capture_end(&capture);
	CHECK_INT_EQ(first, 1, "log throttled first written");
	CHECK_INT_EQ(second, 0, "log throttled repeat suppressed");
	CHECK_INT_EQ(third, 1, "log throttled other slot written");
	CHECK_INT_EQ(capture_line_count(&capture), 2, "log throttled line count");
	CHECK(strstr(capture.text, "two") == NULL, "log throttled text dropped");
}

static void
test_token_prefix(void)
{
	char out[EDGE_TOKEN_PREFIX_SIZE], mask[EDGE_TOKEN_PREFIX_SIZE];

	edge_log_token_prefix("abcdefghijklmnopqrstuvwxyz0123456789", out);
	CHECK_STR_EQ(out, "abcdef...", "token prefix six characters");
	edge_log_token_prefix("abcdefg", out);
	CHECK_STR_EQ(out, "abcdef...", "token prefix seven characters");

	edge_log_token_prefix("abcdef", mask);
	CHECK(strstr(mask, "abc") == NULL, "token prefix six masked");
	edge_log_token_prefix("zyxwv", out);
	CHECK_STR_EQ(out, mask, "token prefix mask fixed");
	edge_log_token_prefix("", out);
	CHECK_STR_EQ(out, mask, "token prefix empty masked");
	edge_log_token_prefix(NULL, out);
	CHECK_STR_EQ(out, mask, "token prefix NULL masked");
}

static void
test_redact_url(void)
{
	static const struct {
		const char *name;
		const char *url;
		const char *expected;
	} cases[] = {
		{ "redact user and password", "postgresql://user:pass@db.example:5432/mc",
		  "postgresql://***@db.example:5432/mc" },
		{ "redact driver scheme", "postgresql+psycopg://mc:pw@db/mc",
		  "postgresql+psycopg://***@db/mc" },
		{ "redact password only", "redis://:s3cret@127.0.0.1:6379/0",
		  "redis://***@127.0.0.1:6379/0" },
		{ "redact user only", "redis://admin@127.0.0.1:6379",
		  "redis://***@127.0.0.1:6379" },
		{ "redact at in password", "postgresql://u:p@ss@host/db",
		  "postgresql://***@host/db" },
		{ "redact no credentials unchanged", "redis://127.0.0.1:6379/0",
		  "redis://127.0.0.1:6379/0" },
		{ "redact at in path unchanged", "https://host/a@b", "https://host/a@b" },
		/* libpq would read "host?to=a" as user information: redacting it is the safe side. */
		{ "redact at in query", "https://host?to=a@b", "https://***@b" },
		{ "redact no scheme unchanged", "just text", "just text" },
		{ "redact empty URL", "", "" },

		/* libpq ends the user information only at '@' or '/', so it
		 * reads "pa#ss" and "pa?ss" as passwords. */
		{ "redact hash in password", "postgresql://u:pa#ss@host/db",
		  "postgresql://***@host/db" },
		{ "redact question in password", "postgresql://u:pa?ss@host/db",
		  "postgresql://***@host/db" },
	};
	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		edge_log_redact_url(cases[i].url, out, sizeof(out));
		CHECK_STR_EQ(out, cases[i].expected, cases[i].name);
	}

	memset(out, 'Z', sizeof(out));
	edge_log_redact_url("postgresql://user:pass@db/mc", out, 12);
	CHECK(memchr(out, '\0', 12) != NULL, "redact small buffer terminated");
	CHECK(out[12] == 'Z', "redact small buffer respected");
	CHECK(strstr(out, "pass") == NULL, "redact small buffer hides password");
	memset(out, 'Z', sizeof(out));
	edge_log_redact_url("postgresql://user:pass@db/mc", out, 0);
	CHECK(out[0] == 'Z', "redact zero size writes nothing");
}

int
main(void)
{
	test_escape_known_answers();
	test_escape_truncation();
	test_escape_small_buffers();
	test_text_lines();
	test_levels();
	test_json_lines();
	test_throttled();
	test_token_prefix();
	test_redact_url();
	return check_summary();
}

/* Tests for webhook body decoding into the text of a PostgreSQL json column,
 * JSON string escaping and the bounded preview. Cases marked "PostgreSQL"
 * were checked against PostgreSQL 15's json input (SELECT '...'::json). */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "payload.h"
#include "utf8.h"

typedef struct decode_case {
	const char *name;
	const char *body;
	size_t body_len;
	const char *content_type;
	const char *expected;	/* the json column text */
	size_t expected_len;
	bool kept_as_json;
	bool invalid_utf8;
} decode_case;

#define DECODE(name, body, type, out, kept, bad) \
	{ name, body, sizeof(body) - 1, type, out, sizeof(out) - 1, kept, bad }
#define JSON_TYPE "application/json"

static const decode_case decode_cases[] = {
	DECODE("payload empty body is object", "", NULL, "{}", true, false),
	DECODE("payload empty body with type", "", JSON_TYPE, "{}", true, false),
	DECODE("payload object kept exactly", "{ \"a\" : 1 }", NULL,
	    "{ \"a\" : 1 }", true, false),
	DECODE("payload duplicate keys kept", "{\"a\":1,\"a\":2}", NULL,
	    "{\"a\":1,\"a\":2}", true, false),
	DECODE("payload NUL escape kept", "{\"a\":\"\\u0000\"}", NULL,
	    "{\"a\":\"\\u0000\"}", true, false),
	DECODE("payload array kept", "[1,2,3]", NULL, "[1,2,3]", true, false),
	DECODE("payload string kept", "\"text\"", NULL, "\"text\"", true, false),
	DECODE("payload leading whitespace kept", "\n\t {\"a\":[]}\r\n", NULL,
	    "\n\t {\"a\":[]}\r\n", true, false),
	DECODE("payload padded true kept", " true ", NULL, " true ", true, false),
	DECODE("payload type with charset", "{\"a\":1}",
	    "Application/JSON; charset=utf-8", "{\"a\":1}", true, false),
	DECODE("payload UTF-8 text kept", "{\"k\":\"caf\xc3\xa9 \xe2\x82\xac\"}", NULL,
	    "{\"k\":\"caf\xc3\xa9 \xe2\x82\xac\"}", true, false),
	DECODE("payload paired surrogates kept", "[\"\\ud83d\\ude00\"]", NULL,
	    "[\"\\ud83d\\ude00\"]", true, false),

	/* Bare scalars are JSON too: "true"/"false" always, others when the
	 * content type is JSON (Python's json.loads accepts all of them). */
	DECODE("payload bare true kept", "true", NULL, "true", true, false),
	DECODE("payload bare false kept", "false", NULL, "false", true, false),
	DECODE("payload bare number with type", "123", JSON_TYPE, "123", true, false),
	DECODE("payload bare null with type", "null", JSON_TYPE, "null", true, false),
	DECODE("payload padded number with type", "123 ", JSON_TYPE, "123 ", true,
	    false),

	/* Everything else becomes a JSON string of the text. */
	DECODE("payload number without type", "123", NULL, "\"123\"", false, false),
	DECODE("payload plain text", "hello world", NULL, "\"hello world\"", false,
	    false),
	DECODE("payload form body", "a=1&b=2", "application/x-www-form-urlencoded",
	    "\"a=1&b=2\"", false, false),
	DECODE("payload truncated object", "{\"a\":", NULL, "\"{\\\"a\\\":\"", false,
	    false),
	DECODE("payload trailing garbage", "{\"a\":1} x", NULL,
	    "\"{\\\"a\\\":1} x\"", false, false),
	DECODE("payload two documents", "{}{}", NULL, "\"{}{}\"", false, false),
	DECODE("payload trailing comma", "[1,]", NULL, "\"[1,]\"", false, false),
	DECODE("payload byte order mark", "\xef\xbb\xbf{}", JSON_TYPE,
	    "\"\xef\xbb\xbf{}\"", false, false),
	DECODE("payload lone surrogate escape", "[\"\\ud800\"]", NULL,
	    "\"[\\\"\\\\ud800\\\"]\"", false, false),
	DECODE("payload control characters escaped", "a\x01\n\r\t\"\\\x7f", NULL,
	    "\"a\\u0001\\n\\r\\t\\\"\\\\\x7f\"", false, false),
	DECODE("payload NUL byte escaped", "{\"a\0\":1}", NULL,
	    "\"{\\\"a\\u0000\\\":1}\"", false, false),
	DECODE("payload invalid UTF-8 repaired", "a\xff" "b", NULL,
	    "\"a\xef\xbf\xbd" "b\"", false, true),
	DECODE("payload invalid UTF-8 in JSON", "{\"a\":\"\xc3\"}", JSON_TYPE,
	    "\"{\\\"a\\\":\\\"\xef\xbf\xbd\\\"}\"", false, true),
	DECODE("payload surrogate bytes repaired", "\xed\xa0\x80", NULL,
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", false, true),

	/* json-c accepts these, PostgreSQL 15 rejects them as json input, so
	 * keeping them as JSON would make the insert fail. */
	DECODE("payload NaN not kept", "[NaN]", NULL, "\"[NaN]\"", false, false),
	DECODE("payload Infinity not kept", "{\"k\":-Infinity}", NULL,
	    "\"{\\\"k\\\":-Infinity}\"", false, false),
	DECODE("payload raw tab in string", "{\"k\":\"a\tb\"}", NULL,
	    "\"{\\\"k\\\":\\\"a\\tb\\\"}\"", false, false),
	DECODE("payload number ending in dot", "[1.]", NULL, "\"[1.]\"", false,
	    false),
	DECODE("payload dot before exponent", "[1.e5]", NULL, "\"[1.e5]\"", false,
	    false),
	DECODE("payload leading zero number", "[-01]", NULL, "\"[-01]\"", false,
	    false),
	DECODE("payload single quotes", "{'a':1}", NULL, "\"{'a':1}\"", false,
	    false),
};

static void
test_decode_table(void)
{
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const decode_case *c = &decode_cases[i];
		edge_payload payload;
		edge_err err = edge_payload_decode(c->body, c->body_len,
		    c->content_type, &payload);

		CHECK_INT_EQ(err, EDGE_OK, "payload decode succeeds");
		CHECK_MEM_EQ(payload.json, payload.json_len, c->expected,
		    c->expected_len, c->name);
		CHECKF(payload.kept_as_json == c->kept_as_json, c->name,
		    "kept_as_json is %d, expected %d", payload.kept_as_json,
		    c->kept_as_json);
		CHECKF(payload.invalid_utf8 == c->invalid_utf8, c->name,
		    "invalid_utf8 is %d, expected %d", payload.invalid_utf8,
		    c->invalid_utf8);
		CHECK(payload.json != NULL, "payload json allocated");
		CHECK(payload.json == NULL || payload.json[payload.json_len] == '\0',
		    "payload json NUL-terminated");
		edge_payload_free(&payload);
		CHECK(payload.json == NULL, "payload free resets");
	}
}

/* Builds depth nested arrays: "[[...]]". */
static char *
nested_arrays(size_t depth)
{
	char *text = malloc(2 * depth + 1);

	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = '\0';
	return text;
}

static void
test_depth_limit(void)
{
	edge_payload payload;
	char *text;

	text = nested_arrays(EDGE_PAYLOAD_MAX_DEPTH);
	edge_payload_decode(text, strlen(text), NULL, &payload);
	CHECK(payload.kept_as_json, "payload depth 64 kept");
	CHECK_STR_EQ(payload.json, text, "payload depth 64 exact");
	edge_payload_free(&payload);
	free(text);

	text = nested_arrays(EDGE_PAYLOAD_MAX_DEPTH + 1);
	edge_payload_decode(text, strlen(text), NULL, &payload);
	CHECK(!payload.kept_as_json, "payload depth 65 as string");
	CHECK_INT_EQ(payload.json_len, strlen(text) + 2, "payload depth 65 length");
	CHECK(payload.json[0] == '"', "payload depth 65 quoted");
	edge_payload_free(&payload);
	free(text);

	text = nested_arrays(100000);
	edge_payload_decode(text, strlen(text), JSON_TYPE, &payload);
	CHECK(!payload.kept_as_json, "payload depth 100000 as string");
	edge_payload_free(&payload);
	free(text);
}

/* A payload stored as a string must decode back to the (repaired) body. */
static void
test_string_round_trip(void)
{
	static const char body[] = "line 1\nline 2\t\"quoted\" \\ \x01\x1f\x7f "
	    "\xe2\x80\xa8 \xff end";
	size_t repaired_len;
	char *repaired = edge_utf8_repair(body, sizeof(body) - 1, &repaired_len);
	edge_payload payload;
	json_object *parsed;

	edge_payload_decode(body, sizeof(body) - 1, NULL, &payload);
	parsed = json_tokener_parse(payload.json);
	CHECK(parsed != NULL && json_object_is_type(parsed, json_type_string),
	    "payload string parses back");
	if (parsed != NULL)
		CHECK_MEM_EQ(json_object_get_string(parsed),
		    (size_t)json_object_get_string_len(parsed), repaired,
		    repaired_len, "payload string round trip");
	json_object_put(parsed);
	edge_payload_free(&payload);
	free(repaired);
}

static void
test_json_append_string(void)
{
	edge_buf out = { 0 };

	edge_json_append_string(&out, "", 0);
	CHECK_STR_EQ(out.data, "\"\"", "json string empty");
	edge_buf_free(&out);

	edge_json_append_string(&out, "a\"b\\c\n\r\t\x01\x1f/\x7f\xc3\xa9", 14);
	CHECK_STR_EQ(out.data, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f/\x7f\xc3\xa9\"",
	    "json string escapes");
	edge_buf_free(&out);

	edge_json_append_string(&out, "a\0b", 3);
	CHECK_MEM_EQ(out.data, out.len, "\"a\\u0000b\"", 10, "json string NUL byte");
	edge_buf_free(&out);
}

/* Decodes body and returns its preview, "" when nothing was appended
 * (caller frees). Exits when memory runs out. */
static char *
preview_of(const char *body, size_t len)
{
	edge_payload payload;
	edge_buf out = { 0 };

	edge_payload_decode(body, len, NULL, &payload);
	edge_payload_append_preview(&out, &payload);
	edge_payload_free(&payload);
	if (out.data == NULL)
		edge_buf_append(&out, "", 0);
	if (out.data == NULL)
		exit(2);
	return out.data;
}

static void
test_preview(void)
{
	char *preview, *body;
	size_t body_len;

	preview = preview_of("{\"a\":1,\"b\":[true,null]}", 23);
	CHECKF(strstr(preview, "\"a\": 1") != NULL, "preview object members shown",
	    "preview: %s", preview);
	CHECK(strchr(preview, '\n') != NULL, "preview object pretty-printed");
	free(preview);

	preview = preview_of("hello\nworld", 11);
	CHECK_STR_EQ(preview, "hello\nworld", "preview text shown as text");
	free(preview);

	preview = preview_of("\"quoted \\\"string\\\"\"", 19);
	CHECK_STR_EQ(preview, "quoted \"string\"", "preview JSON string decoded");
	free(preview);

	preview = preview_of("{\"url\":\"https://a/b\"}", 21);
	CHECKF(strstr(preview, "https://a/b") != NULL, "preview slashes unescaped",
	    "preview: %s", preview);
	free(preview);

	/* 4,096 characters fit; 5,000 are cut with a note. */
	body = malloc(5000 * 3 + 1);
	memset(body, 'x', 4096);
	preview = preview_of(body, 4096);
	CHECK_INT_EQ(strlen(preview), 4096, "preview exactly at limit uncut");
	free(preview);

	memset(body, 'x', 5000);
	preview = preview_of(body, 5000);
	CHECK_INT_EQ(strspn(preview, "x"), 4096, "preview cut after 4096");
	CHECKF(strstr(preview, "904 more characters") != NULL,
	    "preview cut note counts rest", "preview tail: %s",
	    strlen(preview) > 4096 ? preview + 4096 : "");
	free(preview);

	/* The limit counts code points, not bytes, and never splits one. */
	body_len = 0;
	for (size_t i = 0; i < 5000; i++) {
		memcpy(body + body_len, "\xe2\x82\xac", 3);
		body_len += 3;
	}
	preview = preview_of(body, body_len);
	CHECK(strlen(preview) > 4096 * 3 &&
	    strncmp(preview + 4096 * 3, "\n...", 4) == 0,
	    "preview counts code points");
	CHECK(strstr(preview, "904 more characters") != NULL,
	    "preview multibyte note counts rest");
	CHECK(edge_utf8_valid(preview, strlen(preview)),
	    "preview cut stays valid UTF-8");
	free(preview);
	free(body);
}

int
main(void)
{
	test_decode_table();
	test_depth_limit();
	test_string_round_trip();
	test_json_append_string();
	test_preview();
	return check_summary();
}

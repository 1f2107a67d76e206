/* Tests for the gateway protocol frames: the exact fields of the connect and
 * chat.send requests (the gateway's connect schema is closed), and strict
 * parsing of events and replies. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gateway_frame.h"

/* Parses a built request back into a json-c object. */
static json_object *
reparse(const char *text)
{
	return json_tokener_parse(text);
}

static const char *
string_at(json_object *object, const char *key)
{
	json_object *value;

	if (!json_object_object_get_ex(object, key, &value) ||
	    !json_object_is_type(value, json_type_string))
		return NULL;
	return json_object_get_string(value);
}

static json_object *
member(json_object *object, const char *key)
{
	json_object *value;

	return json_object_object_get_ex(object, key, &value) ? value : NULL;
}

/* Returns true when object has exactly the keys listed (NULL-terminated). */
static bool
has_exactly_keys(json_object *object, const char *const *keys)
{
	size_t expected = 0;

	if (object == NULL || !json_object_is_type(object, json_type_object))
		return false;
	for (; keys[expected] != NULL; expected++)
		if (member(object, keys[expected]) == NULL)
			return false;
	return (size_t)json_object_object_length(object) == expected;
}

static void
test_connect_with_token_and_device(void)
{
	static const char *const top_keys[] = { "type", "id", "method", "params", NULL };
	static const char *const param_keys[] = { "minProtocol", "maxProtocol",
	    "client", "role", "scopes", "auth", "device", NULL };
	static const char *const client_keys[] = { "id", "version", "platform",
	    "mode", NULL };
	static const char *const device_keys[] = { "id", "publicKey", "signature",
	    "signedAt", "nonce", NULL };
	edge_gateway_device_proof proof = { "abc123", "PUBKEY", "SIG",
	    1796000000123LL, "nonce-1" };
	json_object *root, *params, *client, *device, *scopes;
	char *text = NULL;
	size_t len = 0;

	CHECK_INT_EQ(edge_gateway_frame_connect("req-1", "secret-token", &proof,
	    &text, &len), EDGE_OK, "connect frame builds");
	CHECK_INT_EQ(len, text != NULL ? strlen(text) : 0, "connect frame length");
	root = reparse(text);
	params = member(root, "params");
	client = member(params, "client");
	device = member(params, "device");
	scopes = member(params, "scopes");

	CHECK(has_exactly_keys(root, top_keys), "connect frame top-level keys");
	CHECK_STR_EQ(string_at(root, "type"), "req", "connect frame type");
	CHECK_STR_EQ(string_at(root, "id"), "req-1", "connect frame id");
	CHECK_STR_EQ(string_at(root, "method"), "connect", "connect frame method");
	CHECK(has_exactly_keys(params, param_keys), "connect params closed key set");
	CHECK_INT_EQ(json_object_get_int(member(params, "minProtocol")), 3,
	    "connect minProtocol 3");
	CHECK_INT_EQ(json_object_get_int(member(params, "maxProtocol")), 4,
	    "connect maxProtocol 4");
	CHECK(has_exactly_keys(client, client_keys), "connect client key set");
	CHECK_STR_EQ(string_at(client, "id"), "gateway-client", "connect client id");
	CHECK_STR_EQ(string_at(client, "mode"), "backend", "connect client mode");
	CHECK_STR_EQ(string_at(client, "platform"), "linux", "connect client platform");
	CHECK_STR_EQ(string_at(params, "role"), "operator", "connect role");
	CHECK(scopes != NULL, "connect scopes present");
	CHECK_INT_EQ(scopes != NULL ? json_object_array_length(scopes) : 0, 4,
	    "connect four scopes");
	CHECK_STR_EQ(scopes != NULL ? json_object_get_string(
	    json_object_array_get_idx(scopes, 0)) : NULL, "operator.read",
	    "connect first scope");
	CHECK_STR_EQ(scopes != NULL ? json_object_get_string(
	    json_object_array_get_idx(scopes, 3)) : NULL, "operator.pairing",
	    "connect last scope");
	CHECK_STR_EQ(string_at(member(params, "auth"), "token"), "secret-token",
	    "connect token inside auth");
	CHECK_INT_EQ(json_object_object_length(member(params, "auth")), 1,
	    "connect auth holds only the token");
	CHECK(has_exactly_keys(device, device_keys), "connect device key set");
	CHECK_INT_EQ(json_object_get_int64(member(device, "signedAt")),
	    1796000000123LL, "connect device signedAt integer");
	CHECK_STR_EQ(string_at(device, "nonce"), "nonce-1", "connect device nonce");
	json_object_put(root);
	free(text);
}

static void
test_connect_without_token_or_device(void)
{
	static const char *const param_keys[] = { "minProtocol", "maxProtocol",
	    "client", "role", "scopes", NULL };
	static const char *const device_keys[] = { "id", "publicKey", "signature",
	    "signedAt", NULL };
	edge_gateway_device_proof proof = { "abc", "key", "sig", 5, NULL };
	json_object *root;
	char *text = NULL;
	size_t len;

	CHECK_INT_EQ(edge_gateway_frame_connect("r", "", NULL, &text, &len),
	    EDGE_OK, "connect frame without token builds");
	root = reparse(text);
	CHECK(has_exactly_keys(member(root, "params"), param_keys),
	    "connect empty token sends no auth and no device");
	json_object_put(root);
	free(text);

	text = NULL;
	CHECK_INT_EQ(edge_gateway_frame_connect("r", NULL, &proof, &text, &len),
	    EDGE_OK, "connect frame with nonce-less device builds");
	root = reparse(text);
	CHECK(has_exactly_keys(member(member(root, "params"), "device"),
	    device_keys), "connect device without nonce omits it");
	json_object_put(root);
	free(text);

	text = NULL;
	CHECK_INT_EQ(edge_gateway_frame_connect("r", "bad\xff", NULL, &text, &len),
	    EDGE_ERR_INVALID, "connect token not UTF-8 rejected");
	CHECK(text == NULL, "connect rejected frame not allocated");
}

static void
test_chat_send(void)
{
	static const char *const param_keys[] = { "sessionKey", "message",
	    "deliver", "idempotencyKey", NULL };
	const char *message = "line 1\nquote \" backslash \\ slash / tab\t\x01 é";
	json_object *root, *params;
	char *text = NULL;
	size_t len;

	CHECK_INT_EQ(edge_gateway_frame_chat_send("s-1", "agent:main:main",
	    message, "key-1", &text, &len), EDGE_OK, "chat.send frame builds");
	root = reparse(text);
	params = member(root, "params");
	CHECK_STR_EQ(string_at(root, "method"), "chat.send", "chat.send method");
	CHECK_STR_EQ(string_at(root, "id"), "s-1", "chat.send id");
	CHECK(has_exactly_keys(params, param_keys), "chat.send params key set");
	CHECK_STR_EQ(string_at(params, "message"), message,
	    "chat.send message survives escaping");
	CHECK(member(params, "deliver") != NULL &&
	    json_object_is_type(member(params, "deliver"), json_type_boolean) &&
	    !json_object_get_boolean(member(params, "deliver")),
	    "chat.send deliver false");
	CHECK(strstr(text, "\"/") == NULL || strstr(text, "\\/") == NULL,
	    "chat.send slash not escaped");
	json_object_put(root);
	free(text);

	text = NULL;
	CHECK_INT_EQ(edge_gateway_frame_chat_send("s", "k", "bad \xc3(", "i",
	    &text, &len), EDGE_ERR_INVALID, "chat.send message not UTF-8 rejected");
}

static void
test_chat_send_large(void)
{
	size_t size = 70000;
	char *message = malloc(size + 1), *text = NULL;
	json_object *root;
	size_t len = 0;

	if (message == NULL) {
		check_skip("chat.send 70000-byte message", "out of memory");
		return;
	}
	for (size_t i = 0; i < size; i++)
		message[i] = i % 50 == 49 ? '\n' : '"';
	message[size] = '\0';
	CHECK_INT_EQ(edge_gateway_frame_chat_send("s", "k", message, "i", &text,
	    &len), EDGE_OK, "chat.send 70000-byte message builds");
	CHECK(len > 2 * size - 2000, "chat.send escaped message length");
	root = reparse(text);
	CHECK_STR_EQ(string_at(member(root, "params"), "message"), message,
	    "chat.send 70000-byte message round trip");
	json_object_put(root);
	free(text);
	free(message);
}

/* Parses text, expecting success. */
static bool
parse_ok(const char *text, edge_gateway_frame *frame)
{
	char why[80];

	return edge_gateway_frame_parse(text, strlen(text), frame, why,
	    sizeof(why)) == EDGE_OK;
}

static void
test_parse_events(void)
{
	edge_gateway_frame frame;

	CHECK(parse_ok("{\"type\":\"event\",\"event\":\"connect.challenge\","
	    "\"payload\":{\"nonce\":\"n-1\",\"ts\":5,\"capabilities\":[\"x\"]}}",
	    &frame), "parse challenge event");
	CHECK_INT_EQ(frame.type, EDGE_GATEWAY_FRAME_EVENT, "parse challenge type");
	CHECK_STR_EQ(frame.event, "connect.challenge", "parse challenge name");
	CHECK_STR_EQ(frame.nonce, "n-1", "parse challenge nonce");

	CHECK(parse_ok("{\"type\":\"event\",\"event\":\"tick\",\"payload\":7,"
	    "\"seq\":3}", &frame), "parse tick event with any payload");
	CHECK_STR_EQ(frame.nonce, "", "parse tick has no nonce");
}

static void
test_parse_replies(void)
{
	edge_gateway_frame frame;

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"c-1\",\"ok\":true,\"payload\":"
	    "{\"type\":\"hello-ok\",\"protocol\":4,\"server\":{\"version\":\"x\"}}}",
	    &frame), "parse hello-ok reply");
	CHECK_INT_EQ(frame.type, EDGE_GATEWAY_FRAME_RESPONSE, "parse hello-ok type");
	CHECK_STR_EQ(frame.id, "c-1", "parse hello-ok id");
	CHECK(frame.ok, "parse hello-ok ok");
	CHECK_STR_EQ(frame.payload_type, "hello-ok", "parse hello-ok payload type");
	CHECK_INT_EQ(frame.protocol, 4, "parse hello-ok protocol");

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"s\",\"ok\":true,\"payload\":"
	    "{\"runId\":\"k\",\"status\":\"in_flight\"}}", &frame),
	    "parse chat.send reply");
	CHECK_STR_EQ(frame.status, "in_flight", "parse chat.send status");

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"c\",\"ok\":false,\"error\":"
	    "{\"code\":\"UNAVAILABLE\",\"message\":\"starting\",\"retryable\":true,"
	    "\"retryAfterMs\":500}}", &frame), "parse unavailable reply");
	CHECK(!frame.ok, "parse unavailable not ok");
	CHECK_STR_EQ(frame.error_code, "UNAVAILABLE", "parse unavailable code");
	CHECK_STR_EQ(frame.error_message, "starting", "parse unavailable message");
	CHECK(frame.retryable, "parse unavailable retryable");
	CHECK(frame.has_retry_after, "parse unavailable has retryAfterMs");
	CHECK_INT_EQ(frame.retry_after_ms, 500, "parse unavailable retryAfterMs");

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"c\",\"ok\":false,\"error\":"
	    "{\"code\":\"UNAVAILABLE\",\"message\":\"m\",\"details\":"
	    "{\"retryable\":true,\"retryAfterMs\":250.7}}}", &frame),
	    "parse retry hints in details");
	CHECK(frame.retryable, "parse details retryable");
	CHECK_INT_EQ(frame.retry_after_ms, 250, "parse details retryAfterMs cut");

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"c\",\"ok\":false,\"payload\":"
	    "{\"runId\":\"k\",\"status\":\"error\"},\"error\":{\"code\":"
	    "\"UNAVAILABLE\",\"message\":\"failed\"}}", &frame),
	    "parse payload and error");
	CHECK(!frame.ok, "parse payload and error ok:false wins");
	CHECK(!frame.retryable, "parse unavailable without flag not retryable");

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"c\",\"ok\":true,\"payload\":"
	    "{\"type\":\"hello-ok\",\"protocol\":4},\"error\":{\"code\":\"X\","
	    "\"message\":\"note\"}}", &frame), "parse ok:true beside an error");
	CHECK(frame.ok, "parse ok:true beside an error stays ok");

	CHECK(parse_ok("{\"type\":\"res\",\"id\":\"c\",\"ok\":false,\"error\":"
	    "{\"code\":\"X\",\"retryAfterMs\":99999999999}}", &frame),
	    "parse huge retryAfterMs");
	CHECK_INT_EQ(frame.retry_after_ms, EDGE_GATEWAY_RETRY_AFTER_MAX,
	    "parse huge retryAfterMs capped");

	CHECK(parse_ok(" {\"type\":\"res\",\"id\":\"c\",\"ok\":true,\"payload\":"
	    "[1,2]}\r\n", &frame), "parse reply with array payload and whitespace");
}

static void
test_parse_rejects(void)
{
	static const struct {
		const char *name;
		const char *text;
	} cases[] = {
		{ "reject empty", "" },
		{ "reject not JSON", "hello" },
		{ "reject array", "[1]" },
		{ "reject string", "\"res\"" },
		{ "reject trailing data", "{\"type\":\"event\",\"event\":\"x\"} {}" },
		{ "reject missing type", "{\"event\":\"x\"}" },
		{ "reject numeric type", "{\"type\":1,\"event\":\"x\"}" },
		{ "reject unknown type", "{\"type\":\"req\",\"id\":\"x\"}" },
		{ "reject event without name", "{\"type\":\"event\"}" },
		{ "reject event empty name", "{\"type\":\"event\",\"event\":\"\"}" },
		{ "reject event numeric name", "{\"type\":\"event\",\"event\":3}" },
		{ "reject challenge without payload",
		  "{\"type\":\"event\",\"event\":\"connect.challenge\"}" },
		{ "reject challenge without nonce",
		  "{\"type\":\"event\",\"event\":\"connect.challenge\",\"payload\":{}}" },
		{ "reject challenge numeric nonce",
		  "{\"type\":\"event\",\"event\":\"connect.challenge\","
		  "\"payload\":{\"nonce\":5}}" },
		{ "reject challenge empty nonce",
		  "{\"type\":\"event\",\"event\":\"connect.challenge\","
		  "\"payload\":{\"nonce\":\"\"}}" },
		{ "reject reply without id", "{\"type\":\"res\",\"ok\":true}" },
		{ "reject reply numeric id", "{\"type\":\"res\",\"id\":1,\"ok\":true}" },
		{ "reject reply without ok", "{\"type\":\"res\",\"id\":\"x\"}" },
		{ "reject reply string ok",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":\"true\"}" },
		{ "reject reply string protocol",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":true,\"payload\":"
		  "{\"type\":\"hello-ok\",\"protocol\":\"4\"}}" },
		{ "reject reply numeric status",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":true,\"payload\":{\"status\":1}}" },
		{ "reject error not object",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":false,\"error\":\"bad\"}" },
		{ "reject error numeric code",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":false,\"error\":{\"code\":1}}" },
		{ "reject string retryable",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":false,\"error\":"
		  "{\"code\":\"U\",\"retryable\":\"yes\"}}" },
		{ "reject negative retryAfterMs",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":false,\"error\":"
		  "{\"code\":\"U\",\"retryAfterMs\":-1}}" },
		{ "reject details not object",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":false,\"error\":"
		  "{\"code\":\"U\",\"details\":[]}}" },
		{ "reject invalid UTF-8",
		  "{\"type\":\"event\",\"event\":\"t\xff\"}" },
		{ "reject overlong code",
		  "{\"type\":\"res\",\"id\":\"x\",\"ok\":false,\"error\":{\"code\":"
		  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}" },
		{ "reject single quotes", "{'type':'event','event':'x'}" },
	};
	edge_gateway_frame frame;
	char why[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		edge_err err = edge_gateway_frame_parse(cases[i].text,
		    strlen(cases[i].text), &frame, why, sizeof(why));

		CHECKF(err == EDGE_ERR_INVALID && why[0] != '\0', cases[i].name,
		    "got %d, reason \"%s\"", (int)err, why);
	}

	/* An embedded NUL ends no string early: the frame is judged whole. */
	CHECK_INT_EQ(edge_gateway_frame_parse("{\"type\":\"event\",\"event\":\"x\"}\0",
	    29, &frame, why, sizeof(why)), EDGE_ERR_INVALID,
	    "reject NUL after the object");
}

static void
test_parse_depth(void)
{
	char text[200];
	edge_gateway_frame frame;
	char why[80];
	size_t used = 0;

	used += (size_t)snprintf(text, sizeof(text),
	    "{\"type\":\"event\",\"event\":\"x\",\"payload\":");
	for (int i = 0; i < 40; i++)
		text[used++] = '[';
	for (int i = 0; i < 40; i++)
		text[used++] = ']';
	text[used++] = '}';
	text[used] = '\0';
	CHECK_INT_EQ(edge_gateway_frame_parse(text, used, &frame, why, sizeof(why)),
	    EDGE_ERR_INVALID, "reject nesting past the depth limit");
}

int
main(void)
{
	test_connect_with_token_and_device();
	test_connect_without_token_or_device();
	test_chat_send();
	test_chat_send_large();
	test_parse_events();
	test_parse_replies();
	test_parse_rejects();
	test_parse_depth();
	return check_summary();
}

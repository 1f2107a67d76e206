/* Gateway protocol frames with json-c; see gateway_frame.h. The connect
 * params schema of the gateway is closed, so the connect request carries
 * exactly the fields below and nothing else. */
#include "gateway_frame.h"
#include "json_check.h"
#include "utf8.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames nest a few levels (reply, error, details). Anything deeper is not
 * a frame this suite reads, and a low limit bounds json-c's work. */
#define FRAME_MAX_DEPTH 32

static const char *const scopes[] = {
	"operator.read", "operator.admin", "operator.approvals", "operator.pairing",
};

/* Adds a string member. Returns false when text is not valid UTF-8 or memory
 * runs out. */
static bool
add_string(json_object *object, const char *key, const char *text)
{
	json_object *value;

	if (!edge_utf8_valid(text, strlen(text)))
		return false;
	value = json_object_new_string(text);
	if (value == NULL)
		return false;
	if (json_object_object_add(object, key, value) != 0) {
		json_object_put(value);
		return false;
	}
	return true;
}

static bool
add_member(json_object *object, const char *key, json_object *value)
{
	if (value == NULL)
		return false;
	if (json_object_object_add(object, key, value) != 0) {
		json_object_put(value);
		return false;
	}
	return true;
}

/* Writes request as compact JSON into a new string. */
static edge_err
serialize(json_object *request, char **out, size_t *out_len)
{
	const char *text;
	size_t len;

	text = json_object_to_json_string_length(request,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL)
		return EDGE_ERR_NOMEM;
	*out = malloc(len + 1);
	if (*out == NULL)
		return EDGE_ERR_NOMEM;
	memcpy(*out, text, len + 1);
	*out_len = len;
	return EDGE_OK;
}

/* Starts {"type":"req","id":...,"method":...}. Returns NULL when memory
 * runs out. */
static json_object *
new_request(const char *request_id, const char *method)
{
	json_object *request = json_object_new_object();

	if (request == NULL)
		return NULL;
	if (!add_string(request, "type", "req") ||
	    !add_string(request, "id", request_id) ||
	    !add_string(request, "method", method)) {
		json_object_put(request);
		return NULL;
	}
	return request;
}

static json_object *
new_client(void)
{
	json_object *client = json_object_new_object();

	if (client == NULL)
		return NULL;
	if (!add_string(client, "id", EDGE_GATEWAY_CLIENT_ID) ||
	    !add_string(client, "version", EDGE_GATEWAY_CLIENT_VERSION) ||
	    !add_string(client, "platform", EDGE_GATEWAY_CLIENT_PLATFORM) ||
	    !add_string(client, "mode", EDGE_GATEWAY_CLIENT_MODE)) {
		json_object_put(client);
		return NULL;
	}
	return client;
}

static json_object *
new_scopes(void)
{
	json_object *list = json_object_new_array();

	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		json_object *scope = json_object_new_string(scopes[i]);

		if (scope == NULL || json_object_array_add(list, scope) != 0) {
			json_object_put(scope);
			json_object_put(list);
			return NULL;
		}
	}
	return list;
}

/* Returns the device object, or NULL when a field is not UTF-8 or memory runs out. */
static json_object *
new_device(const edge_gateway_device_proof *device)
{
	json_object *object = json_object_new_object();

	if (object == NULL)
		return NULL;
	if (!add_string(object, "id", device->id) ||
	    !add_string(object, "publicKey", device->public_key) ||
	    !add_string(object, "signature", device->signature) ||
	    !add_member(object, "signedAt",
	    json_object_new_int64(device->signed_at_ms)) ||
	    (device->nonce != NULL &&
	    !add_string(object, "nonce", device->nonce))) {
		json_object_put(object);
		return NULL;
	}
	return object;
}

static json_object *
new_auth(const char *token)
{
	json_object *auth = json_object_new_object();

	if (auth == NULL)
		return NULL;
	if (!add_string(auth, "token", token)) {
		json_object_put(auth);
		return NULL;
	}
	return auth;
}

edge_err
edge_gateway_frame_connect(const char *request_id, const char *token,
    const edge_gateway_device_proof *device, char **out, size_t *out_len)
{
	json_object *request, *params;
	edge_err err = EDGE_ERR_NOMEM;
	bool has_token = token != NULL && token[0] != '\0';

	/* A string that is not UTF-8 cannot travel in a text frame. */
	if (!edge_utf8_valid(request_id, strlen(request_id)) ||
	    (has_token && !edge_utf8_valid(token, strlen(token))))
		return EDGE_ERR_INVALID;

	request = new_request(request_id, "connect");
	params = json_object_new_object();
	if (request == NULL || params == NULL) {
		json_object_put(params);
		goto done;
	}
	if (!add_member(request, "params", params))
		goto done;

	if (!add_member(params, "minProtocol",
	    json_object_new_int(EDGE_GATEWAY_MIN_PROTOCOL)) ||
	    !add_member(params, "maxProtocol",
	    json_object_new_int(EDGE_GATEWAY_MAX_PROTOCOL)) ||
	    !add_member(params, "client", new_client()) ||
	    !add_string(params, "role", EDGE_GATEWAY_ROLE) ||
	    !add_member(params, "scopes", new_scopes()))
		goto done;
	if (has_token && !add_member(params, "auth", new_auth(token)))
		goto done;
	if (device != NULL && !add_member(params, "device", new_device(device)))
		goto done;
	err = serialize(request, out, out_len);

done:
	json_object_put(request);
	return err;
}

edge_err
edge_gateway_frame_chat_send(const char *request_id, const char *session_key,
    const char *message, const char *idempotency_key, char **out,
    size_t *out_len)
{
	json_object *request, *params;
	edge_err err = EDGE_ERR_NOMEM;

	if (!edge_utf8_valid(request_id, strlen(request_id)) ||
	    !edge_utf8_valid(session_key, strlen(session_key)) ||
	    !edge_utf8_valid(message, strlen(message)) ||
	    !edge_utf8_valid(idempotency_key, strlen(idempotency_key)))
		return EDGE_ERR_INVALID;

	request = new_request(request_id, "chat.send");
	params = json_object_new_object();
	if (request == NULL || params == NULL) {
		json_object_put(params);
		goto done;
	}
	if (!add_member(request, "params", params))
		goto done;
	if (!add_string(params, "sessionKey", session_key) ||
	    !add_string(params, "message", message) ||
	    !add_member(params, "deliver", json_object_new_boolean(0)) ||
	    !add_string(params, "idempotencyKey", idempotency_key))
		goto done;
	err = serialize(request, out, out_len);

done:
	json_object_put(request);
	return err;
}

/* Parsing. Each reader returns false with a reason in why. */

static bool
fail(char *why, size_t why_size, const char *reason)
{
	snprintf(why, why_size, "%s", reason);
	return false;
}

/* Copies the string member key of object into out. An absent member gives
 * "" and true.
 * A value of another type, or one longer than out, is invalid. */
static bool
read_string(json_object *object, const char *key, char *out, size_t out_size,
    bool *present, char *why, size_t why_size)
{
	json_object *value;
	size_t len;

	out[0] = '\0';
	if (present != NULL)
		*present = false;
	if (!json_object_object_get_ex(object, key, &value))
		return true;
	if (!json_object_is_type(value, json_type_string)) {
		snprintf(why, why_size, "\"%s\" is not a string", key);
		return false;
	}
	len = (size_t)json_object_get_string_len(value);
	if (len >= out_size) {
		snprintf(why, why_size, "\"%s\" is too long", key);
		return false;
	}
	memcpy(out, json_object_get_string(value), len);
	out[len] = '\0';
	if (present != NULL)
		*present = true;
	return true;
}

/* Reads a boolean member. An absent member leaves *out unchanged. */
static bool
read_bool(json_object *object, const char *key, bool *out, bool *present,
    char *why, size_t why_size)
{
	json_object *value;

	if (present != NULL)
		*present = false;
	if (!json_object_object_get_ex(object, key, &value))
		return true;
	if (!json_object_is_type(value, json_type_boolean)) {
		snprintf(why, why_size, "\"%s\" is not a boolean", key);
		return false;
	}
	*out = json_object_get_boolean(value) != 0;
	if (present != NULL)
		*present = true;
	return true;
}

/* Reads retryAfterMs: a non-negative number of milliseconds. A fraction is
 * cut, and values past EDGE_GATEWAY_RETRY_AFTER_MAX become that maximum. */
static bool
read_retry_after(json_object *object, edge_gateway_frame *frame, char *why,
    size_t why_size)
{
	json_object *value;
	double ms;

	if (!json_object_object_get_ex(object, "retryAfterMs", &value))
		return true;
	if (json_object_is_type(value, json_type_int)) {
		int64_t whole = json_object_get_int64(value);

		if (whole < 0)
			return fail(why, why_size, "\"retryAfterMs\" is negative");
		ms = whole > EDGE_GATEWAY_RETRY_AFTER_MAX ?
		    EDGE_GATEWAY_RETRY_AFTER_MAX : (double)whole;
	} else if (json_object_is_type(value, json_type_double)) {
		ms = json_object_get_double(value);
		if (!(ms >= 0))
			return fail(why, why_size, "\"retryAfterMs\" is negative");
	} else {
		return fail(why, why_size, "\"retryAfterMs\" is not a number");
	}
	if (ms > EDGE_GATEWAY_RETRY_AFTER_MAX)
		ms = EDGE_GATEWAY_RETRY_AFTER_MAX;
	frame->retry_after_ms = (unsigned)ms;
	frame->has_retry_after = true;
	return true;
}

/* Reads retryable and retryAfterMs of object (error or error.details). */
static bool
read_retry_hints(json_object *object, edge_gateway_frame *frame, char *why,
    size_t why_size)
{
	bool retryable = false, present;

	if (!read_bool(object, "retryable", &retryable, &present, why, why_size))
		return false;
	if (present && retryable)
		frame->retryable = true;
	return read_retry_after(object, frame, why, why_size);
}

static bool
parse_error(json_object *error, edge_gateway_frame *frame, char *why,
    size_t why_size)
{
	json_object *details, *message;

	if (!json_object_is_type(error, json_type_object))
		return fail(why, why_size, "\"error\" is not an object");
	frame->has_error = true;
	if (!read_string(error, "code", frame->error_code,
	    sizeof(frame->error_code), NULL, why, why_size))
		return false;

	/* The message is only shown in a log line, so a long one is cut. */
	if (json_object_object_get_ex(error, "message", &message)) {
		if (!json_object_is_type(message, json_type_string))
			return fail(why, why_size, "\"message\" is not a string");
		snprintf(frame->error_message, sizeof(frame->error_message), "%s",
		    json_object_get_string(message));
	}

	if (!read_retry_hints(error, frame, why, why_size))
		return false;
	if (json_object_object_get_ex(error, "details", &details) &&
	    !json_object_is_type(details, json_type_null)) {
		if (!json_object_is_type(details, json_type_object))
			return fail(why, why_size, "\"details\" is not an object");
		if (!read_retry_hints(details, frame, why, why_size))
			return false;
	}
	return true;
}

/* Reads the payload fields this suite uses: type, protocol, status and runId. */
static bool
parse_reply_payload(json_object *payload, edge_gateway_frame *frame,
    char *why, size_t why_size)
{
	json_object *protocol;

	if (!json_object_is_type(payload, json_type_object))
		return true;	/* other methods may answer with any value */
	if (!read_string(payload, "type", frame->payload_type,
	    sizeof(frame->payload_type), NULL, why, why_size) ||
	    !read_string(payload, "status", frame->status,
	    sizeof(frame->status), NULL, why, why_size) ||
	    !read_string(payload, "runId", frame->run_id,
	    sizeof(frame->run_id), NULL, why, why_size))
		return false;
	if (json_object_object_get_ex(payload, "protocol", &protocol)) {
		int64_t value;

		if (!json_object_is_type(protocol, json_type_int))
			return fail(why, why_size, "\"protocol\" is not an integer");
		value = json_object_get_int64(protocol);
		if (value < 1 || value > 1000)
			return fail(why, why_size, "\"protocol\" is out of range");
		frame->protocol = (int)value;
	}
	return true;
}

static bool
parse_reply(json_object *root, edge_gateway_frame *frame, char *why,
    size_t why_size)
{
	json_object *payload, *error;
	bool ok = false, present;

	frame->type = EDGE_GATEWAY_FRAME_RESPONSE;
	if (!read_string(root, "id", frame->id, sizeof(frame->id), &present, why,
	    why_size))
		return false;
	if (!present)
		return fail(why, why_size, "reply without \"id\"");
	if (!read_bool(root, "ok", &ok, &present, why, why_size))
		return false;
	if (!present)
		return fail(why, why_size, "reply without \"ok\"");

	if (json_object_object_get_ex(root, "payload", &payload) &&
	    !parse_reply_payload(payload, frame, why, why_size))
		return false;
	if (json_object_object_get_ex(root, "error", &error) &&
	    !json_object_is_type(error, json_type_null) &&
	    !parse_error(error, frame, why, why_size))
		return false;

	/* A reply may carry both a payload and an error, so only "ok" decides.
	 * The real gateway replies to a repeated chat.send of a finished run
	 * with ok:false, a payload and an error. */
	frame->ok = ok;
	return true;
}

static bool
parse_event(json_object *root, edge_gateway_frame *frame, char *why,
    size_t why_size)
{
	json_object *payload;
	bool present;

	frame->type = EDGE_GATEWAY_FRAME_EVENT;
	if (!read_string(root, "event", frame->event, sizeof(frame->event),
	    &present, why, why_size))
		return false;
	if (!present || frame->event[0] == '\0')
		return fail(why, why_size, "event without a name");
	if (strcmp(frame->event, "connect.challenge") != 0)
		return true;

	/* The challenge must carry the nonce that the device signature covers. */
	if (!json_object_object_get_ex(root, "payload", &payload) ||
	    !json_object_is_type(payload, json_type_object))
		return fail(why, why_size, "challenge without a payload object");
	if (!read_string(payload, "nonce", frame->nonce, sizeof(frame->nonce),
	    &present, why, why_size))
		return false;
	if (!present || frame->nonce[0] == '\0')
		return fail(why, why_size, "challenge without a nonce");
	return true;
}

/* Parses text as one strict JSON document. Returns NULL when it is not one. */
static json_object *
parse_json(const char *text, size_t len)
{
	json_tokener *tokener;
	json_object *root;

	if (len > INT32_MAX)
		return NULL;
	tokener = json_tokener_new_ex(FRAME_MAX_DEPTH);
	if (tokener == NULL)
		return NULL;
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tokener, text, (int)len);
	if (root != NULL) {
		size_t used = json_tokener_get_parse_end(tokener);

		/* Not strchr(): it would also match the NUL byte. */
		while (used < len && (text[used] == ' ' || text[used] == '\t' ||
		    text[used] == '\r' || text[used] == '\n'))
			used++;
		if (used < len) {
			json_object_put(root);
			root = NULL;
		}
	}
	json_tokener_free(tokener);
	return root;
}

edge_err
edge_gateway_frame_parse(const char *text, size_t len,
    edge_gateway_frame *frame, char *why, size_t why_size)
{
	char type[16];
	json_object *root;
	bool present, parsed;

	memset(frame, 0, sizeof(*frame));
	why[0] = '\0';

	/* RFC 6455 text frames are UTF-8, and json-c does not check it. */
	if (!edge_utf8_valid(text, len)) {
		fail(why, why_size, "frame is not valid UTF-8");
		return EDGE_ERR_INVALID;
	}
	/* json-c, even in strict mode, takes raw control characters in strings. */
	root = edge_json_check(text, len, FRAME_MAX_DEPTH) ?
	    parse_json(text, len) : NULL;
	if (root == NULL) {
		fail(why, why_size, "frame is not JSON");
		return EDGE_ERR_INVALID;
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		fail(why, why_size, "frame is not a JSON object");
		return EDGE_ERR_INVALID;
	}

	parsed = read_string(root, "type", type, sizeof(type), &present, why,
	    why_size);
	if (parsed && !present)
		parsed = fail(why, why_size, "frame without \"type\"");
	else if (parsed && strcmp(type, "event") == 0)
		parsed = parse_event(root, frame, why, why_size);
	else if (parsed && strcmp(type, "res") == 0)
		parsed = parse_reply(root, frame, why, why_size);
	else if (parsed)
		parsed = fail(why, why_size, "frame of an unknown type");
	json_object_put(root);
	return parsed ? EDGE_OK : EDGE_ERR_INVALID;
}

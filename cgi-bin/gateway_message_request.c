/* gateway-message: parsing the request's path, query string and body. */
#include "gateway_message.h"
#include "hmac.h"
#include "json_check.h"
#include "utf8.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The body is one flat object; 64 still leaves room for nested extras. */
#define BODY_MAX_DEPTH 64
/* A query string longer than this is not searched for board_id. */
#define QUERY_PARAMETER_MAX 256

/* Decodes %XX escapes (and '+' as a space when plus_is_space, as query
 * strings write it) of text into out, NUL-terminated. Returns false on a
 * malformed escape or when the result does not fit in out_size. */
static bool
percent_decode(const char *text, size_t len, bool plus_is_space, char *out,
    size_t out_size, size_t *out_len)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char byte = (unsigned char)text[i];

		if (used + 1 >= out_size)
			return false;
		if (byte == '%') {
			if (i + 2 >= len ||
			    !edge_hex_decode(text + i + 1, 2, &byte, 1))
				return false;
			i += 2;
		} else if (byte == '+' && plus_is_space) {
			byte = ' ';
		}
		out[used++] = (char)byte;
	}
	out[used] = '\0';
	*out_len = used;
	return true;
}

bool
gateway_match_route(const char *path, const char **segment,
    size_t *segment_len)
{
	static const char prefix[] = "/api/v1/gateways/sessions/";
	static const char suffix[] = "/message";
	size_t len;

	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	*segment = path + sizeof(prefix) - 1;
	len = strcspn(*segment, "/");
	*segment_len = len;
	return len > 0 && strcmp(*segment + len, suffix) == 0;
}

bool
gateway_session_key_decode(const char *segment, size_t segment_len, char *out,
    size_t out_size)
{
	size_t len;

	if (out_size > GATEWAY_SESSION_KEY_MAX + 1)
		out_size = GATEWAY_SESSION_KEY_MAX + 1;
	if (!percent_decode(segment, segment_len, false, out, out_size, &len) ||
	    len == 0 || !edge_utf8_valid(out, len))
		return false;

	/* Control characters (NUL included) have no place in a session key,
	 * and a NUL would cut the key short on its way to the gateway. */
	for (size_t i = 0; i < len; i++) {
		unsigned char byte = (unsigned char)out[i];

		if (byte < 0x20 || byte == 0x7f)
			return false;
	}
	return true;
}

gateway_board_id_state
gateway_query_board_id(const char *query, char board_id[EDGE_UUID_SIZE])
{
	gateway_board_id_state state = GATEWAY_BOARD_ID_MISSING;
	bool seen = false;
	const char *p = query;

	board_id[0] = '\0';
	while (p != NULL && *p != '\0') {
		size_t pair_len = strcspn(p, "&");
		size_t name_len = strcspn(p, "=");
		char name[QUERY_PARAMETER_MAX + 1];
		const char *value;
		size_t value_len, decoded_len;

		if (name_len > pair_len)
			name_len = pair_len;
		value = name_len < pair_len ? p + name_len + 1 : p + pair_len;
		value_len = (size_t)(p + pair_len - value);

		/* A name that cannot be decoded is not board_id; skip it. */
		if (percent_decode(p, name_len, true, name, sizeof(name),
		    &decoded_len) && decoded_len == strlen(name) &&
		    strcmp(name, "board_id") == 0) {
			if (seen)
				return GATEWAY_BOARD_ID_REPEATED;
			seen = true;
			if (value_len == 0)
				state = GATEWAY_BOARD_ID_MISSING;
			else if (edge_uuid_parse(value, value_len, board_id))
				state = GATEWAY_BOARD_ID_OK;
			else
				state = GATEWAY_BOARD_ID_MALFORMED;
		}
		p += pair_len;
		if (*p == '&')
			p++;
	}
	if (state != GATEWAY_BOARD_ID_OK)
		board_id[0] = '\0';
	return state;
}

/* Parses len bytes of strict JSON; NULL when it is not one JSON value. */
static json_object *
parse_json(const char *text, size_t len)
{
	json_tokener *tokener;
	json_object *parsed;

	if (len > INT32_MAX || !edge_utf8_valid(text, len) ||
	    !edge_json_check(text, len, BODY_MAX_DEPTH))
		return NULL;
	tokener = json_tokener_new_ex(BODY_MAX_DEPTH);
	if (tokener == NULL)
		return NULL;
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	parsed = json_tokener_parse_ex(tokener, text, (int)len);
	json_tokener_free(tokener);
	return parsed;
}

edge_err
gateway_message_content(const char *body, size_t len, char **content,
    const char **problem)
{
	json_object *document, *field;
	const char *text;
	size_t text_len;
	edge_err err = EDGE_ERR_INVALID;

	*content = NULL;
	*problem = NULL;

	/* edge_json_check has already accepted the text, so an object that
	 * json-c does not return here is a top-level scalar or array. */
	document = parse_json(body, len);
	if (document == NULL) {
		*problem = "Request body must be valid JSON.";
		return EDGE_ERR_INVALID;
	}
	if (!json_object_is_type(document, json_type_object)) {
		*problem = "Request body must be a JSON object.";
		goto done;
	}
	if (!json_object_object_get_ex(document, "content", &field)) {
		*problem = "Field content is required.";
		goto done;
	}
	if (!json_object_is_type(field, json_type_string)) {
		*problem = "Field content must be a string.";
		goto done;
	}

	text = json_object_get_string(field);
	text_len = (size_t)json_object_get_string_len(field);
	if (text_len == 0) {
		*problem = "Field content must not be empty.";
		goto done;
	}
	if (memchr(text, '\0', text_len) != NULL) {
		*problem = "Field content must not contain NUL characters.";
		goto done;
	}
	*content = strdup(text);
	err = *content == NULL ? EDGE_ERR_NOMEM : EDGE_OK;

done:
	json_object_put(document);
	return err;
}

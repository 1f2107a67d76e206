/* Webhook body decoding; see payload.h. */
#include "payload.h"
#include "json_check.h"
#include "utf8.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void
edge_json_append_string(edge_buf *out, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	edge_buf_append(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		char escape[7];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* Copy the run of plain bytes before this one, then its escape. */
		edge_buf_append(out, text + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': edge_buf_append(out, "\\\"", 2); break;
		case '\\': edge_buf_append(out, "\\\\", 2); break;
		case '\n': edge_buf_append(out, "\\n", 2); break;
		case '\r': edge_buf_append(out, "\\r", 2); break;
		case '\t': edge_buf_append(out, "\\t", 2); break;
		default:
			memcpy(escape, "\\u00", 4);
			escape[4] = hex[c >> 4];
			escape[5] = hex[c & 0xf];
			edge_buf_append(out, escape, 6);
		}
	}
	edge_buf_append(out, text + run, len - run);
	edge_buf_append(out, "\"", 1);
}

static bool
looks_like_json(const char *body, size_t len, const char *content_type)
{
	size_t start = 0, end = len;

	if (content_type != NULL && strcasestr(content_type, "application/json"))
		return true;
	while (start < len && strchr(" \t\r\n", body[start]) != NULL)
		start++;
	while (end > start && strchr(" \t\r\n", body[end - 1]) != NULL)
		end--;
	if (start == end)
		return false;
	if (body[start] == '{' || body[start] == '[' || body[start] == '"')
		return true;
	return (end - start == 4 && memcmp(body + start, "true", 4) == 0) ||
	    (end - start == 5 && memcmp(body + start, "false", 5) == 0);
}

/* Returns the parsed document when text is strict JSON within the depth
 * limit with nothing but whitespace after it, else NULL. */
static json_object *
parse_strict(const char *text, size_t len)
{
	json_tokener *tokener;
	json_object *parsed;
	size_t used;

	if (len > INT32_MAX)
		return NULL;
	tokener = json_tokener_new_ex(EDGE_PAYLOAD_MAX_DEPTH);
	if (tokener == NULL)
		return NULL;
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	parsed = json_tokener_parse_ex(tokener, text, (int)len);
	if (parsed != NULL) {
		/* Only whitespace may follow the document. */
		used = json_tokener_get_parse_end(tokener);
		while (used < len && strchr(" \t\r\n", text[used]) != NULL)
			used++;
		if (used < len) {
			json_object_put(parsed);
			parsed = NULL;
		}
	} else if (json_tokener_get_error(tokener) == json_tokener_continue) {
		/* A bare number or literal at the end of input waits for a delimiter: give it one. */
		parsed = json_tokener_parse_ex(tokener, " ", 1);
	}
	json_tokener_free(tokener);
	return parsed;
}

static bool
is_json_null(const char *body, size_t len)
{
	size_t start = 0, end = len;

	while (start < len && strchr(" \t\r\n", body[start]) != NULL)
		start++;
	while (end > start && strchr(" \t\r\n", body[end - 1]) != NULL)
		end--;
	return end - start == 4 && memcmp(body + start, "null", 4) == 0;
}

edge_err
edge_payload_decode(const char *body, size_t len, const char *content_type,
    edge_payload *payload)
{
	edge_buf out = { 0 };
	char *repaired = NULL;
	size_t repaired_len = 0;

	memset(payload, 0, sizeof(*payload));
	if (len == 0) {
		payload->json = strdup("{}");
		payload->json_len = 2;
		payload->kept_as_json = true;
		return payload->json != NULL ? EDGE_OK : EDGE_ERR_NOMEM;
	}

	payload->invalid_utf8 = !edge_utf8_valid(body, len);
	/* json-c alone accepts more than PostgreSQL's json type (single quotes,
	 * raw control characters in strings), so the strict check comes first. */
	if (!payload->invalid_utf8 && looks_like_json(body, len, content_type) &&
	    edge_json_check(body, len, EDGE_PAYLOAD_MAX_DEPTH)) {
		/* json-c parses "null" into a NULL object, so only a non-null
		 * document needs json-c's agreement; the strict check passed. */
		json_object *parsed = parse_strict(body, len);

		if (parsed != NULL || is_json_null(body, len)) {
			payload->document = parsed;
			payload->json = malloc(len + 1);
			if (payload->json == NULL)
				return EDGE_ERR_NOMEM;
			memcpy(payload->json, body, len);
			payload->json[len] = '\0';
			payload->json_len = len;
			payload->kept_as_json = true;
			return EDGE_OK;
		}
	}

	if (payload->invalid_utf8) {
		repaired = edge_utf8_repair(body, len, &repaired_len);
		if (repaired == NULL)
			return EDGE_ERR_NOMEM;
		edge_json_append_string(&out, repaired, repaired_len);
		free(repaired);
	} else {
		edge_json_append_string(&out, body, len);
	}
	if (out.err != EDGE_OK) {
		edge_buf_free(&out);
		return EDGE_ERR_NOMEM;
	}
	payload->json = out.data;
	payload->json_len = out.len;
	return EDGE_OK;
}

void
edge_payload_free(edge_payload *payload)
{
	free(payload->json);
	payload->json = NULL;
	json_object_put(payload->document);
	payload->document = NULL;
}

/* Appends at most max_chars code points of text, then a note of the rest. */
static void
append_bounded(edge_buf *out, const char *text, size_t len, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, chars = 0, cut_at = len, rest = 0;

	while (i < len) {
		unsigned cp;
		size_t skip;

		edge_utf8_decode(p + i, len - i, &cp, &skip);
		if (chars == max_chars)
			cut_at = i;
		if (chars >= max_chars)
			rest++;
		chars++;
		i += skip;
	}
	edge_buf_append(out, text, cut_at);
	if (rest > 0)
		edge_buf_appendf(out, "\n... [preview truncated: %zu more characters]",
		    rest);
}

void
edge_payload_append_preview(edge_buf *out, const edge_payload *payload)
{
	json_object *document = payload->document;
	const char *text;
	size_t len;

	/* A string payload (text that was not JSON) is shown as its text, unquoted. */
	if (document == NULL)
		document = parse_strict(payload->json, payload->json_len);
	else
		json_object_get(document);
	if (document == NULL) {
		append_bounded(out, payload->json, payload->json_len,
		    EDGE_PREVIEW_MAX_CHARS);
		return;
	}
	if (json_object_is_type(document, json_type_string)) {
		text = json_object_get_string(document);
		len = (size_t)json_object_get_string_len(document);
	} else {
		text = json_object_to_json_string_ext(document,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		len = strlen(text);
	}
	append_bounded(out, text, len, EDGE_PREVIEW_MAX_CHARS);
	json_object_put(document);
}

/* Webhook body decoding; see payload.h. */
#include "payload.h"
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

static int
hex4(const char *p)
{
	int value = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		value <<= 4;
		if (c >= '0' && c <= '9')
			value |= c - '0';
		else if (c >= 'a' && c <= 'f')
			value |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			value |= c - 'A' + 10;
		else
			return -1;
	}
	return value;
}

/* PostgreSQL's json input rejects a \u escape of a high surrogate not followed
 * by a low one, and a lone low surrogate; json-c accepts both. */
static bool
surrogate_escapes_paired(const char *text, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		int unit, next;

		if (text[i] == '"') {
			in_string = !in_string;
			continue;
		}
		if (!in_string || text[i] != '\\')
			continue;
		if (i + 1 < len && text[i + 1] != 'u') {
			i++;	/* skip the escaped character, which may be a quote */
			continue;
		}
		if (i + 5 >= len || (unit = hex4(text + i + 2)) < 0)
			return false;
		i += 5;
		if (unit >= 0xdc00 && unit <= 0xdfff)
			return false;
		if (unit < 0xd800 || unit > 0xdbff)
			continue;
		if (i + 6 >= len || text[i + 1] != '\\' || text[i + 2] != 'u' ||
		    (next = hex4(text + i + 3)) < 0 || next < 0xdc00 || next > 0xdfff)
			return false;
		i += 6;
	}
	return true;
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

	/* A document that ends at the end of input (a bare number) needs a final call. */
	if (parsed == NULL && json_tokener_get_error(tokener) == json_tokener_continue)
		parsed = json_tokener_parse_ex(tokener, "", 1);
	if (parsed != NULL) {
		used = json_tokener_get_parse_end(tokener);
		while (used < len && strchr(" \t\r\n", text[used]) != NULL)
			used++;
		if (used < len) {
			json_object_put(parsed);
			parsed = NULL;
		}
	}
	json_tokener_free(tokener);
	return parsed;
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
	if (!payload->invalid_utf8 && memchr(body, '\0', len) == NULL &&
	    looks_like_json(body, len, content_type) &&
	    surrogate_escapes_paired(body, len)) {
		json_object *parsed = parse_strict(body, len);

		if (parsed != NULL) {
			json_object_put(parsed);
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
	json_object *parsed = parse_strict(payload->json, payload->json_len);
	const char *text;
	size_t len;

	if (parsed == NULL) {
		append_bounded(out, payload->json, payload->json_len,
		    EDGE_PREVIEW_MAX_CHARS);
		return;
	}
	if (json_object_is_type(parsed, json_type_string)) {
		text = json_object_get_string(parsed);
		len = (size_t)json_object_get_string_len(parsed);
	} else {
		text = json_object_to_json_string_ext(parsed,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		len = strlen(text);
	}
	append_bounded(out, text, len, EDGE_PREVIEW_MAX_CHARS);
	json_object_put(parsed);
}

/* Fuzz target for webhook body decoding. Input: one flag byte (bit 0: send
 * Content-Type application/json), then the body. The stored text must be
 * NUL-free valid UTF-8 that an independent strict RFC 8259 reader
 * (strict_json.h) accepts. A body kept as JSON must come back byte for byte,
 * and anything else must be a JSON string that decodes to the repaired body.
 * The preview must stay valid UTF-8 within its bound. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz_input.h"
#include "payload.h"
#include "strict_json.h"
#include "utf8.h"

static size_t
count_code_points(const char *text, size_t len)
{
	size_t count = 0;

	for (size_t i = 0; i < len; i++)
		count += ((unsigned char)text[i] & 0xc0) != 0x80;
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	size_t body_len;
	edge_payload payload;
	edge_buf preview = { 0 };

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	body_len = size - 1;
	FUZZ_ASSERT(edge_payload_decode(body, body_len,
	    data[0] & 1 ? "application/json" : "text/plain", &payload) == EDGE_OK);

	FUZZ_ASSERT(payload.json != NULL);
	FUZZ_ASSERT(payload.json[payload.json_len] == '\0');
	FUZZ_ASSERT(strlen(payload.json) == payload.json_len);
	FUZZ_ASSERT(edge_utf8_valid(payload.json, payload.json_len));
	FUZZ_ASSERT(strict_json(payload.json, payload.json_len, 64));
	FUZZ_ASSERT(payload.invalid_utf8 == (body_len > 0 &&
	    !edge_utf8_valid(body, body_len)));

	if (body_len == 0) {
		FUZZ_ASSERT(strcmp(payload.json, "{}") == 0);
	} else if (payload.kept_as_json) {
		FUZZ_ASSERT(payload.json_len == body_len);
		FUZZ_ASSERT(memcmp(payload.json, body, body_len) == 0);
	} else {
		json_object *parsed = json_tokener_parse(payload.json);
		size_t repaired_len;
		char *repaired = edge_utf8_repair(body, body_len, &repaired_len);

		FUZZ_ASSERT(parsed != NULL &&
		    json_object_is_type(parsed, json_type_string));
		FUZZ_ASSERT((size_t)json_object_get_string_len(parsed) == repaired_len);
		FUZZ_ASSERT(memcmp(json_object_get_string(parsed), repaired,
		    repaired_len) == 0);
		json_object_put(parsed);
		free(repaired);
	}

	edge_payload_append_preview(&preview, &payload);
	FUZZ_ASSERT(preview.err == EDGE_OK);
	if (preview.data != NULL) {
		const char *note = strstr(preview.data, "\n... [preview truncated: ");
		size_t preview_text_len = note != NULL ?
		    (size_t)(note - preview.data) : preview.len;

		FUZZ_ASSERT(edge_utf8_valid(preview.data, preview.len));
		FUZZ_ASSERT(count_code_points(preview.data, preview_text_len) <=
		    EDGE_PREVIEW_MAX_CHARS);
	}
	edge_buf_free(&preview);
	edge_payload_free(&payload);
	return 0;
}

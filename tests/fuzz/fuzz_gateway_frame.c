/* Fuzz target for the gateway frame parser, which reads every frame a
 * gateway sends, and for the chat.send builder. A frame the parser accepts
 * must be valid UTF-8 and strict JSON by the independent reader in
 * strict_json.h, and what it reports must fit the frame's type. Input that
 * is valid UTF-8 is also sent as a chat.send message and must come back
 * unchanged from json-c. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "gateway_frame.h"
#include "strict_json.h"
#include "utf8.h"

/* Nesting the parser allows (FRAME_MAX_DEPTH in gateway_frame.c). */
#define FRAME_DEPTH 32

static void
check_parse(const char *text, size_t len)
{
	edge_gateway_frame frame;
	char why[80];
	edge_err err = edge_gateway_frame_parse(text, len, &frame, why,
	    sizeof(why));

	FUZZ_ASSERT(err == EDGE_OK || err == EDGE_ERR_INVALID);
	FUZZ_ASSERT(strlen(why) < sizeof(why));
	if (err != EDGE_OK) {
		FUZZ_ASSERT(why[0] != '\0');
		return;
	}

	FUZZ_ASSERT(edge_utf8_valid(text, len));
	FUZZ_ASSERT(strict_json(text, len, FRAME_DEPTH));
	FUZZ_ASSERT(strlen(frame.event) < sizeof(frame.event));
	FUZZ_ASSERT(strlen(frame.nonce) < sizeof(frame.nonce));
	FUZZ_ASSERT(strlen(frame.id) < sizeof(frame.id));
	FUZZ_ASSERT(strlen(frame.error_code) < sizeof(frame.error_code));
	FUZZ_ASSERT(strlen(frame.error_message) < sizeof(frame.error_message));
	FUZZ_ASSERT(frame.retry_after_ms <= EDGE_GATEWAY_RETRY_AFTER_MAX);
	if (frame.type == EDGE_GATEWAY_FRAME_EVENT) {
		FUZZ_ASSERT(frame.event[0] != '\0');
		FUZZ_ASSERT(frame.id[0] == '\0' && !frame.ok);
		if (strcmp(frame.event, "connect.challenge") == 0)
			FUZZ_ASSERT(frame.nonce[0] != '\0');
		else
			FUZZ_ASSERT(frame.nonce[0] == '\0');
	} else {
		FUZZ_ASSERT(frame.type == EDGE_GATEWAY_FRAME_RESPONSE);
		FUZZ_ASSERT(frame.event[0] == '\0' && frame.nonce[0] == '\0');
		FUZZ_ASSERT(frame.has_error || frame.error_code[0] == '\0');
	}
}

/* Sends text as a chat.send message and reads the frame back. */
static void
check_chat_send(const char *text, size_t len)
{
	json_object *root, *params, *message;
	char *frame = NULL;
	size_t frame_len = 0;

	/* C strings end at NUL; the builder takes NUL-terminated text. */
	if (memchr(text, '\0', len) != NULL)
		return;
	if (edge_gateway_frame_chat_send("id", "agent:main:main", text, "key",
	    &frame, &frame_len) != EDGE_OK) {
		FUZZ_ASSERT(!edge_utf8_valid(text, len));
		return;
	}
	FUZZ_ASSERT(edge_utf8_valid(text, len));
	FUZZ_ASSERT(strict_json(frame, frame_len, FRAME_DEPTH));
	root = json_tokener_parse(frame);
	FUZZ_ASSERT(root != NULL);
	FUZZ_ASSERT(json_object_object_get_ex(root, "params", &params));
	FUZZ_ASSERT(json_object_object_get_ex(params, "message", &message));
	FUZZ_ASSERT((size_t)json_object_get_string_len(message) == len);
	FUZZ_ASSERT(memcmp(json_object_get_string(message), text, len) == 0);
	json_object_put(root);
	free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A NUL-terminated copy, so a read past size is caught. */
	char *text = fuzz_copy_text(data, size);

	check_parse(text, size);
	check_chat_send(text, size);
	free(text);
	return 0;
}

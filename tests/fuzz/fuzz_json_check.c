/* Fuzz target for the strict JSON check. Input: one byte giving the depth
 * limit (0 to 70, so limits past the check's cap of 64 are tried too), then
 * the text. common/json_check.c and the independent reader in strict_json.h
 * must agree on every valid UTF-8 input, and json-c must parse whatever the
 * check accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "fuzz_input.h"
#include "json_check.h"
#include "strict_json.h"
#include "utf8.h"

#define CHECK_DEPTH_CAP 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	size_t len;
	unsigned max_depth;
	bool accepted;

	if (size < 1)
		return 0;
	max_depth = data[0] % 71;
	len = size - 1;

	/* The check's contract covers valid UTF-8 only. */
	if (!edge_utf8_valid(text, len))
		return 0;
	accepted = edge_json_check(text, len, max_depth);
	FUZZ_ASSERT(accepted == strict_json(text, len,
	    max_depth < CHECK_DEPTH_CAP ? max_depth : CHECK_DEPTH_CAP));

	if (accepted) {
		json_tokener *tokener = json_tokener_new_ex(CHECK_DEPTH_CAP + 1);
		json_object *parsed;
		enum json_tokener_error error;

		FUZZ_ASSERT(tokener != NULL);
		parsed = json_tokener_parse_ex(tokener, text, (int)len);
		error = json_tokener_get_error(tokener);
		if (parsed == NULL && error == json_tokener_continue) {
			parsed = json_tokener_parse_ex(tokener, " ", 1);
			error = json_tokener_get_error(tokener);
		}

		/* json-c returns NULL for a successful "null". */
		FUZZ_ASSERT(error == json_tokener_success);
		json_object_put(parsed);
		json_tokener_free(tokener);
	}
	return 0;
}

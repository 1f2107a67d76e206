/* Decoding of a webhook body into the text stored in a PostgreSQL json
 * column, and a bounded human-readable preview of it. */
#ifndef EDGE_PAYLOAD_H
#define EDGE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "edge_error.h"

/* json-c's nesting limit for bodies kept as JSON; deeper bodies are kept as a string. */
#define EDGE_PAYLOAD_MAX_DEPTH 64
/* Characters (code points) of payload shown in a preview. */
#define EDGE_PREVIEW_MAX_CHARS 4096

typedef struct edge_payload {
	char *json;		/* text for the json column, NUL-terminated */
	size_t json_len;
	bool kept_as_json;	/* the body itself is that text */
	bool invalid_utf8;	/* bad bytes became U+FFFD: keep the raw body too */
	struct json_object *document;	/* the parsed body when kept as JSON, for previews */
} edge_payload;

/* Decodes body for storage:
 * - empty: {};
 * - when content_type (may be NULL) contains application/json, or the text
 *   starts with '{', '[' or '"' (after leading whitespace) or is true or
 *   false: the body itself, when it is well-formed UTF-8 JSON that json-c
 *   parses strictly within EDGE_PAYLOAD_MAX_DEPTH and PostgreSQL's json input
 *   accepts (no lone UTF-16 surrogate escapes);
 * - anything else: a JSON string of the text, ill-formed UTF-8 replaced by
 *   U+FFFD (invalid_utf8 set).
 * Returns EDGE_OK or EDGE_ERR_NOMEM. */
edge_err edge_payload_decode(const char *body, size_t len,
	const char *content_type, edge_payload *payload);

void edge_payload_free(edge_payload *payload);

/* Appends a preview of a decoded payload to out: pretty-printed JSON, or the
 * text of a string payload, cut after EDGE_PREVIEW_MAX_CHARS code points with
 * a note saying how many were left out. The preview is not yet fenced. */
void edge_payload_append_preview(edge_buf *out, const edge_payload *payload);

/* Appends text as a JSON string literal (quotes included). */
void edge_json_append_string(edge_buf *out, const char *text, size_t len);

#endif

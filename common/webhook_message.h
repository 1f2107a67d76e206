/* Agent-facing text about a stored webhook payload: the fenced block shared
 * by the board memory row and the gateway message, and that message. */
#ifndef EDGE_WEBHOOK_MESSAGE_H
#define EDGE_WEBHOOK_MESSAGE_H

#include "buf.h"
#include "payload.h"

/* Characters (code points) of a board name or a webhook instruction shown in
 * the fenced block; the rest is cut with a note. */
#define EDGE_WEBHOOK_NAME_MAX_CHARS 256
#define EDGE_WEBHOOK_INSTRUCTION_MAX_CHARS 4096

/* The ids a message names; each is a canonical UUID string. */
typedef struct edge_webhook_ids {
	const char *board_id;
	const char *webhook_id;
	const char *payload_id;
} edge_webhook_ids;

/* Appends the external-data block. It starts with the BEGIN line, then
 * "Board: " board_name (omitted when board_name is NULL) and "Instruction: "
 * instruction ("(none)" when NULL or empty). "Payload preview:" and the
 * bounded preview of payload follow, then the END line without a trailing
 * newline. Every part inside is neutralized line by line (see fence.h), so
 * it cannot close the fence or imitate a delimiter. On a memory failure
 * out->err is set. */
void edge_webhook_append_fenced(edge_buf *out, const char *board_name,
	const char *instruction, const edge_payload *payload);

/* Appends the "Inspect:" path of a payload, without a newline. */
void edge_webhook_append_inspect_path(edge_buf *out,
	const edge_webhook_ids *ids);

/* Builds the chat.send message about a payload for the target agent. It
 * names the webhook and payload ids and the inspect path. It asks the agent
 * to triage the payload against the webhook's instruction and to cite the
 * payload id in the tasks it makes. The fenced block with board name,
 * instruction and preview follows. payload_json is the stored json column
 * text. Returns
 * EDGE_OK or EDGE_ERR_NOMEM (out is then incomplete). */
edge_err edge_webhook_build_message(edge_buf *out, const edge_webhook_ids *ids,
	const char *board_name, const char *instruction, const char *payload_json,
	size_t payload_json_len);

#endif

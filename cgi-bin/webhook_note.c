/* webhook-ingest: the board memory row written for each payload. */
#include "webhook_ingest.h"
#include "fence.h"

#include <string.h>

void
webhook_note_content(const webhook_delivery *delivery, const char *description,
    edge_buf *out)
{
	edge_buf preview = { 0 };

	edge_buf_appendf(out,
	    "WEBHOOK PAYLOAD RECEIVED\n"
	    "Webhook ID: %s\n"
	    "Payload ID: %s\n"
	    "Inspect: /api/v1/boards/%s/webhooks/%s/payloads/%s\n\n",
	    delivery->webhook_id, delivery->payload_id, delivery->board_id,
	    delivery->webhook_id, delivery->payload_id);

	/* Everything between the delimiters came from outside and is fenced line by line. */
	edge_buf_append_str(out, EDGE_FENCE_BEGIN "\nInstruction: ");
	if (description != NULL && description[0] != '\0')
		edge_fence_append_neutralized(out, description, strlen(description));
	else
		edge_buf_append_str(out, "(none)");
	edge_buf_append_str(out, "\nPayload preview:\n");
	edge_payload_append_preview(&preview, delivery->payload);
	if (preview.err != EDGE_OK)
		out->err = preview.err;
	else if (preview.len > 0)
		edge_fence_append_neutralized(out, preview.data, preview.len);
	edge_buf_free(&preview);

	if (out->len > 0 && out->data[out->len - 1] != '\n')
		edge_buf_append_str(out, "\n");
	edge_buf_append_str(out, EDGE_FENCE_END);
}

void
webhook_note_tags(const webhook_delivery *delivery, edge_buf *out)
{
	edge_buf_appendf(out, "[\"webhook\", \"webhook:%s\", \"payload:%s\"]",
	    delivery->webhook_id, delivery->payload_id);
}

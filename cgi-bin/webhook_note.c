/* webhook-ingest: the board memory row written for each payload. */
#include "webhook_ingest.h"
#include "webhook_message.h"

void
webhook_note_content(const webhook_delivery *delivery, const char *description,
    edge_buf *out)
{
	const edge_webhook_ids ids = {
		delivery->board_id, delivery->webhook_id, delivery->payload_id,
	};

	edge_buf_appendf(out,
	    "WEBHOOK PAYLOAD RECEIVED\n"
	    "Webhook ID: %s\n"
	    "Payload ID: %s\n", delivery->webhook_id, delivery->payload_id);
	edge_webhook_append_inspect_path(out, &ids);
	edge_buf_append_str(out, "\n\n");

	/* Everything between the delimiters came from outside and is fenced line by line. */
	edge_webhook_append_fenced(out, NULL, description, delivery->payload);
}

void
webhook_note_tags(const webhook_delivery *delivery, edge_buf *out)
{
	edge_buf_appendf(out, "[\"webhook\", \"webhook:%s\", \"payload:%s\"]",
	    delivery->webhook_id, delivery->payload_id);
}

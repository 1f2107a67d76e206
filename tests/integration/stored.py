"""Reads back what webhook-ingest stored and checks the rows of one delivery."""

import json
import re
from dataclasses import dataclass

from harness import CheckFailed, expect, expect_equal, shorten

DEFAULT_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

DELIVERY_TABLES = ("board_webhook_payloads", "board_memory", "edge_notification_outbox",
                   "edge_webhook_raw_body")


@dataclass
class StoredDelivery:
    payload_id: str
    payload_text: str
    payload_type: str
    headers: dict
    headers_text: str
    source_ip: str
    content_type: str
    memory_content: str
    raw_body: bytes


def row_counts(database):
    return {table: database.query(f"SELECT count(*) FROM {table}")[0][0] for table in DELIVERY_TABLES}


def expect_nothing_stored(database):
    counts = row_counts(database)
    stored = {table: count for table, count in counts.items() if count}
    expect(not stored, f"rows were stored for a rejected request: {stored}")


def expect_security_headers(response, expected=None):
    """Check each expected security header: expected maps a name to its value, or to None for absent."""
    expected = DEFAULT_SECURITY_HEADERS if expected is None else expected
    for name, value in expected.items():
        expect_equal(response.header(name), value, f"{name} header")


def expect_error(response, status, detail=None):
    """Check an error response: status, JSON body {"detail": ...} and the security headers."""
    expect(response.status == status, f"expected status {status}, got {response.describe()}")
    body = response.json()
    expect(isinstance(body, dict) and isinstance(body.get("detail"), str),
           f"error body has no detail string: {shorten(response.body)}")
    if detail is not None:
        expect_equal(body["detail"], detail, "detail")
    expect_security_headers(response)


def expect_retry_after(response, maximum_s):
    value = response.header("Retry-After")
    expect(value is not None, "Retry-After header missing")
    expect(value.isdigit(), f"Retry-After is not an integer number of seconds: {value!r}")
    expect(1 <= int(value) <= maximum_s, f"Retry-After {value} is outside 1..{maximum_s}")


def expect_one_delivery(database, response, webhook, security_headers=None):
    """Check a 202 response and the four rows of one accepted delivery, and return them.

    security_headers goes to expect_security_headers, where None means the defaults."""
    expect(response.status == 202, f"expected status 202, got {response.describe()}")
    body = response.json()
    payload_id = body.get("payload_id", "")
    expect(UUID_PATTERN.match(str(payload_id)) is not None, f"payload_id is not a UUID: {payload_id!r}")
    expect_equal(body, {"ok": True, "board_id": webhook.board_id, "webhook_id": webhook.id,
                        "payload_id": payload_id}, "response body")
    expect_security_headers(response, security_headers)
    expect_equal(response.header("Content-Type"), "application/json", "Content-Type header")

    payloads = database.query(
        "SELECT id::text, board_id::text, webhook_id::text, payload::text, json_typeof(payload), "
        "headers::text, source_ip, content_type FROM board_webhook_payloads")
    expect_equal(len(payloads), 1, "board_webhook_payloads rows")
    (row_id, board_id, webhook_id, payload_text, payload_type, headers_text, source_ip,
     content_type) = payloads[0]
    expect_equal(row_id, payload_id, "stored payload id")
    expect_equal((board_id, webhook_id), (webhook.board_id, webhook.id), "payload board and webhook")
    try:
        headers = json.loads(headers_text)
    except ValueError:
        raise CheckFailed(f"stored headers are not JSON: {shorten(headers_text)}") from None

    memories = database.query(
        "SELECT board_id::text, content, tags::text, is_chat, source FROM board_memory")
    expect_equal(len(memories), 1, "board_memory rows")
    memory_board, content, tags_text, is_chat, source = memories[0]
    expect_equal(memory_board, webhook.board_id, "board_memory board_id")
    expect_equal(json.loads(tags_text), ["webhook", f"webhook:{webhook.id}", f"payload:{payload_id}"],
                 "board_memory tags")
    expect_equal((is_chat, source), (False, "webhook"), "board_memory is_chat and source")
    expect(f"Payload ID: {payload_id}" in content, "board_memory content does not name the payload id")
    inspect_path = f"/api/v1/boards/{webhook.board_id}/webhooks/{webhook.id}/payloads/{payload_id}"
    expect(inspect_path in content, "board_memory content lacks the inspect path")

    outbox = database.query(
        "SELECT payload_id::text, board_id::text, webhook_id::text, state FROM edge_notification_outbox")
    expect_equal(outbox, [(payload_id, webhook.board_id, webhook.id, "pending")], "outbox rows")

    raw = database.query("SELECT payload_id::text, body FROM edge_webhook_raw_body")
    expect(len(raw) <= 1, f"{len(raw)} raw body rows for one delivery")
    raw_body = None
    if raw:
        expect_equal(raw[0][0], payload_id, "raw body payload_id")
        raw_body = bytes(raw[0][1])

    expect(f"stored payload {payload_id}" in response.log,
           f"no log line names stored payload {payload_id}: {shorten(response.log, 300)}")
    return StoredDelivery(payload_id, payload_text, payload_type, headers, headers_text, source_ip,
                          content_type, content, raw_body)


def expect_deliveries(database, count):
    expect_equal(row_counts(database)["board_webhook_payloads"], count, "stored payloads")
    expect_equal(row_counts(database)["board_memory"], count, "board_memory rows")
    expect_equal(row_counts(database)["edge_notification_outbox"], count, "outbox rows")

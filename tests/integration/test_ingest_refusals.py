"""Rejected requests: each gets its status, a JSON detail and the security
headers, and nothing is stored. Also the order in which the checks run."""

import uuid

from harness import NULL_SECRET, expect, expect_equal, parse_raw_response, signature_header
from stored import expect_error, expect_nothing_stored, expect_one_delivery
from suite import Module

PAYLOAD_LIMIT = 65536
MODULE = Module("refusals", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60",
                                 "WEBHOOK_MAX_PAYLOAD_BYTES": str(PAYLOAD_LIMIT)})

# A program that waits for the body blocks on a stdin that never closes, so a
# response within this many seconds shows that it did not read the body.
ANSWER_WITHOUT_READING_S = 5


def signed(webhook, body):
    return [("X-Hub-Signature-256", signature_header(webhook.secret, body))]


@MODULE.both("other methods return 405 with Allow")
def other_methods(t, ctx):
    world = ctx.world()
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        response = t.send(method=method, path=world.path(), body=None)
        expect_error(response, 405, "Method Not Allowed")
        expect_equal(response.header("Allow"), "POST", f"Allow header of {method}")
    expect_nothing_stored(ctx.db)


@MODULE.both("HEAD returns 405")
def head_method(t, ctx):
    world = ctx.world()
    response = t.send(method="HEAD", path=world.path(), body=None)
    expect_equal(response.status, 405, "status")
    expect_equal(response.header("Allow"), "POST", "Allow header")
    expect_equal(response.header("X-Frame-Options"), "DENY", "X-Frame-Options header")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("HEAD response carries no body")
def head_without_body(t, ctx):
    world = ctx.world()
    request = f"HEAD {world.path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    data, _ = t.send_raw(request.encode())
    expect(data, "no response to HEAD")
    status, headers, body = parse_raw_response(data)
    expect_equal(status, 405, "status")
    expect_equal(body, b"", "bytes after the header block")


@MODULE.cgi("lower-case post returns 405")
def lower_case_method(t, ctx):
    world = ctx.world()
    body = b"{}"
    response = t.send(method="post", path=world.path(), body=body, headers=signed(world.webhook, body))
    expect_error(response, 405, "Method Not Allowed")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("other path shapes return 404 Not Found")
def other_paths_cgi(t, ctx):
    world = ctx.world()
    for path in ("/api/v1/boards", f"/api/v1/boards/{world.board_id}/webhooks",
                 f"/api/v1/boards/{world.board_id}/webhooks/", f"{world.path()}/extra",
                 f"/api/v1/boards/{world.board_id}/hooks/{world.webhook.id}",
                 f"/api/v2/boards/{world.board_id}/webhooks/{world.webhook.id}", "/"):
        response = t.send(path=path, body=b"{}")
        expect_error(response, 404, "Not Found")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("dot segments return 404 Not Found")
def dot_segments(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    # lighttpd routes the normalized path, but the program matches the raw REQUEST_URI.
    for path in (f"/api/v1/boards/{world.board_id}/webhooks/x/../{world.webhook.id}",
                 f"/api/v1/boards/{world.board_id}/./webhooks/{world.webhook.id}"):
        response = t.send(path=path, body=b"{}")
        expect_error(response, 404, "Not Found")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("unrouted paths get lighttpd's 404")
def unrouted_paths(t, ctx):
    world = ctx.world()
    for path in ("/api/v1/boards", f"{world.path()}/extra", f"/api/v1/boards/{world.board_id}/webhooks/"):
        response = t.send(path=path, body=b"{}")
        expect_equal(response.status, 404, f"status for {path}")
        expect_equal(response.header("Content-Type"), "application/json", f"lighttpd's own page for {path}")
        expect_equal(response.header("X-Content-Type-Options"), "nosniff", f"security header on lighttpd's page for {path}")
    expect_nothing_stored(ctx.db)


@MODULE.both("malformed board id returns 404")
def malformed_board(t, ctx):
    world = ctx.world()
    for board in ("not-a-uuid", world.board_id[:-1], world.board_id + "0",
                  world.board_id.replace("-", "_"), "g" + world.board_id[1:]):
        response = t.send(path=f"/api/v1/boards/{board}/webhooks/{world.webhook.id}", body=b"{}",
                          headers=signed(world.webhook, b"{}"))
        expect_error(response, 404)
    expect_nothing_stored(ctx.db)


@MODULE.both("malformed webhook id returns 404")
def malformed_webhook(t, ctx):
    world = ctx.world()
    for webhook in ("latest", world.webhook.id[:-2], world.webhook.id.replace("-", "")[:31] + "x"):
        response = t.send(path=f"/api/v1/boards/{world.board_id}/webhooks/{webhook}", body=b"{}",
                          headers=signed(world.webhook, b"{}"))
        expect_error(response, 404)
    expect_nothing_stored(ctx.db)


@MODULE.cgi("bad percent escapes in ids return 404")
def bad_percent_escapes(t, ctx):
    world = ctx.world()
    # lighttpd rejects these URLs itself, so only plain CGI shows the program's response.
    for board, webhook in (("%zz" + world.board_id[3:], world.webhook.id),
                           (world.board_id, world.webhook.id + "%00"),
                           (world.board_id[:-1] + "%", world.webhook.id)):
        response = t.send(path=f"/api/v1/boards/{board}/webhooks/{webhook}", body=b"{}",
                          headers=signed(world.webhook, b"{}"))
        expect_error(response, 404)
    expect_nothing_stored(ctx.db)


@MODULE.both("percent-encoded ids accepted")
def percent_encoded_ids(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    encoded = "".join(f"%{ord(character):02X}" for character in world.board_id)
    response = t.send(path=f"/api/v1/boards/{encoded}/webhooks/{world.webhook.id}", body=b"{}")
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("unknown board returns 404")
def unknown_board(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(board_id=str(uuid.uuid4())), body=b"{}",
                      headers=signed(world.webhook, b"{}"))
    expect_error(response, 404, "Board not found.")
    expect_nothing_stored(ctx.db)


@MODULE.both("unknown webhook returns 404")
def unknown_webhook(t, ctx):
    world = ctx.world()
    response = t.send(path=f"/api/v1/boards/{world.board_id}/webhooks/{uuid.uuid4()}", body=b"{}",
                      headers=signed(world.webhook, b"{}"))
    expect_error(response, 404, "Webhook not found.")
    expect_nothing_stored(ctx.db)


@MODULE.both("webhook of another board returns 404")
def webhook_on_other_board(t, ctx):
    world = ctx.world()
    other_board = world.add_board()
    response = t.send(path=world.path(board_id=other_board), body=b"{}",
                      headers=signed(world.webhook, b"{}"))
    expect_error(response, 404, "Webhook not found.")
    expect_nothing_stored(ctx.db)


@MODULE.both("disabled webhook returns 410")
def disabled_webhook(t, ctx):
    world = ctx.world(enabled=False)
    body = b'{"action": "completed"}'
    response = t.send(path=world.path(), body=body, headers=signed(world.webhook, body))
    expect_error(response, 410, "Webhook is disabled.")
    expect_nothing_stored(ctx.db)


@MODULE.both("disabled checked before signature")
def disabled_before_signature(t, ctx):
    world = ctx.world(enabled=False)
    response = t.send(path=world.path(), body=b"{}")
    expect_error(response, 410, "Webhook is disabled.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("invalid CONTENT_LENGTH returns 400")
def invalid_content_length(t, ctx):
    world = ctx.world()
    body = b'{"a": 1}'
    for value in ("abc", "-5", "99999999999999999999999", "18446744073709551616", "12abc",
                  " 8", "+8", "0x10", "8.0"):
        response = t.send(path=world.path(), body=body, content_length=value,
                          headers=signed(world.webhook, body))
        expect(response.status == 400, f"CONTENT_LENGTH={value!r}: expected 400, got {response.describe()}")
        expect_error(response, 400, "Invalid Content-Length header.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("declared length over limit returns 413 unread")
def declared_too_large(t, ctx):
    world = ctx.world()
    for declared in (str(PAYLOAD_LIMIT + 1), str(10 ** 12), str(2 ** 63)):
        response = t.send(path=world.path(), body=b'{"a":', content_length=declared,
                          stdin_open=True, timeout_s=ANSWER_WITHOUT_READING_S,
                          headers=signed(world.webhook, b'{"a":'))
        expect_error(response, 413, "Payload too large.")
    expect("exceeds WEBHOOK_MAX_PAYLOAD_BYTES" in response.log, "no log line names the limit")
    expect_nothing_stored(ctx.db)


@MODULE.both("body at the limit accepted")
def body_at_limit(t, ctx):
    world = ctx.world()
    body = b"x" * PAYLOAD_LIMIT
    response = t.send(path=world.path(), body=body, headers=signed(world.webhook, body))
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("body one byte over the limit returns 413")
def body_over_limit(t, ctx):
    world = ctx.world()
    body = b"x" * (PAYLOAD_LIMIT + 1)
    response = t.send(path=world.path(), body=body, headers=signed(world.webhook, body))
    expect_error(response, 413, "Payload too large.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("undeclared body over the limit returns 413")
def undeclared_over_limit(t, ctx):
    world = ctx.world()
    body = b"y" * (PAYLOAD_LIMIT + 1)
    response = t.send(path=world.path(), body=body, content_length=None,
                      headers=signed(world.webhook, body))
    expect_error(response, 413, "Payload too large.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("undeclared body at the limit accepted")
def undeclared_at_limit(t, ctx):
    world = ctx.world()
    body = b"y" * PAYLOAD_LIMIT
    response = t.send(path=world.path(), body=body, content_length=None,
                      headers=signed(world.webhook, body))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(len(stored.payload_text), PAYLOAD_LIMIT + 2, "stored JSON string length")


@MODULE.cgi("body shorter than declared returns 400")
def short_body(t, ctx):
    world = ctx.world()
    body = b'{"a": 1}'
    response = t.send(path=world.path(), body=body, content_length="100",
                      headers=signed(world.webhook, body))
    expect_error(response, 400, "Request body is shorter than Content-Length.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("unknown board rejected before reading")
def unknown_board_unread(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(board_id=str(uuid.uuid4())), body=b'{"a":', content_length="100",
                      stdin_open=True, timeout_s=ANSWER_WITHOUT_READING_S)
    expect_error(response, 404, "Board not found.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("disabled webhook rejected before reading")
def disabled_unread(t, ctx):
    world = ctx.world(enabled=False)
    response = t.send(path=world.path(), body=b'{"a":', content_length="100",
                      stdin_open=True, timeout_s=ANSWER_WITHOUT_READING_S)
    expect_error(response, 410, "Webhook is disabled.")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("malformed id checked before content length")
def malformed_id_first(t, ctx):
    world = ctx.world()
    response = t.send(path=f"/api/v1/boards/nope/webhooks/{world.webhook.id}", body=b"{}",
                      content_length="abc")
    expect_error(response, 404)
    expect_nothing_stored(ctx.db)


@MODULE.cgi("content length checked before lookup")
def content_length_before_lookup(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(board_id=str(uuid.uuid4())), body=b"{}", content_length="abc")
    expect_error(response, 400, "Invalid Content-Length header.")
    expect_nothing_stored(ctx.db)


@MODULE.both("oversized body to unknown board returns 413")
def oversized_unknown_board(t, ctx):
    world = ctx.world()
    body = b"z" * (PAYLOAD_LIMIT + 1000)
    response = t.send(path=world.path(board_id=str(uuid.uuid4())), body=body)
    expect_error(response, 413, "Payload too large.")
    expect_nothing_stored(ctx.db)


@MODULE.both("405 comes before the id check")
def method_before_ids(t, ctx):
    ctx.world()
    response = t.send(method="GET", path="/api/v1/boards/nope/webhooks/nope", body=None)
    expect_error(response, 405, "Method Not Allowed")

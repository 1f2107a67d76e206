"""Requests that lighttpd 1.4.69 frames or rejects itself, before or instead
of the program.

test_ingest_refusals checks the program's own response to each case as plain
CGI. Here the checks pin the server's behaviour as observed, and nothing may
be stored.
"""

import json
from harness import NULL_SECRET, expect, expect_equal, parse_raw_response, signature_header
from stored import expect_error, expect_nothing_stored, expect_one_delivery
from suite import Module

PAYLOAD_LIMIT = 1000
# scripts/lighttpd-settings sets server.max-request-size to limit / 512 + 64 KiB.
SERVER_LIMIT_BYTES = (PAYLOAD_LIMIT // 512 + 64) * 1024
MODULE = Module("framing", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60",
                                "WEBHOOK_MAX_PAYLOAD_BYTES": str(PAYLOAD_LIMIT)})


def request_head(path, *header_lines):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *header_lines]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def expect_server_page(data, status, label):
    """Check a response that lighttpd wrote itself: its error file from
    errors/, a JSON body with a detail like the programs' errors."""
    expect(data, f"{label}: no response")
    response_status, headers, body = parse_raw_response(data)
    expect_equal(response_status, status, f"{label}: status")
    content_type = dict((name.lower(), value) for name, value in headers).get("content-type")
    expect_equal(content_type, "application/json", f"{label}: Content-Type of lighttpd's own page")
    expect("detail" in json.loads(body), f"{label}: lighttpd's page has no detail: {body[:100]!r}")


@MODULE.fcgi("body shorter than declared gets no response")
def short_body_half_closed(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    data, log = t.send_raw(request_head(world.path(), "Content-Length: 100") + b'{"a": 1}',
                           shutdown_write=True)
    # lighttpd drops the request when the client ends its side before the body is complete.
    expect_equal(data, b"", "response to a half-closed short body")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("body shorter than declared keeps waiting")
def short_body_open(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    data, _ = t.send_raw(request_head(world.path(), "Content-Length: 100") + b'{"a": 1}',
                         shutdown_write=False, timeout_s=2)
    # lighttpd waits for the rest of the body (until its read timeout), never calling the program.
    expect_equal(data, None, "response within 2 s while the body is incomplete")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("chunked body reaches the program")
def chunked_body(t, ctx):
    world = ctx.world()
    body = b'{"action": "synchronize", "number": 12}'
    response = t.send(path=world.path(), body=body,
                      headers=[("Transfer-Encoding", "chunked"), ("Content-Type", "application/json"),
                               ("X-Hub-Signature-256", signature_header(world.webhook.secret, body))])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_text, body.decode(), "payload::text")


@MODULE.fcgi("raw chunked body reaches the program")
def raw_chunked_body(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    chunks = b"7\r\n{\"a\": 1\r\n1\r\n}\r\n0\r\n\r\n"
    data, _ = t.send_raw(request_head(world.path(), "Transfer-Encoding: chunked") + chunks)
    expect(data, "no response to a chunked request")
    status, _, _ = parse_raw_response(data)
    expect_equal(status, 202, "status")
    rows = ctx.db.query("SELECT payload::text FROM board_webhook_payloads")
    expect_equal(rows, [('{"a": 1}',)], "stored payloads")


@MODULE.fcgi("chunked body over the limit returns 413")
def chunked_over_limit(t, ctx):
    world = ctx.world()
    body = b"x" * (PAYLOAD_LIMIT + 1)
    response = t.send(path=world.path(), body=body,
                      headers=[("Transfer-Encoding", "chunked"),
                               ("X-Hub-Signature-256", signature_header(world.webhook.secret, body))])
    # lighttpd collects the chunks and passes the total as CONTENT_LENGTH.
    expect_error(response, 413, "Payload too large.")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("body above max-request-size gets lighttpd's 413")
def above_server_limit(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    body = b"x" * (SERVER_LIMIT_BYTES + 1024)
    data, _ = t.send_raw(request_head(world.path(), f"Content-Length: {len(body)}") + body)
    expect_server_page(data, 413, "declared body above max-request-size")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("invalid Content-Length gets lighttpd's 400")
def invalid_content_length(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    for value in ("abc", "-1", "99999999999999999999999", "12, 12"):
        data, _ = t.send_raw(request_head(world.path(), f"Content-Length: {value}") + b"{}")
        expect_server_page(data, 400, f"Content-Length: {value}")
    expect_nothing_stored(ctx.db)


@MODULE.fcgi("POST without length gets lighttpd's 411")
def missing_length(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    data, _ = t.send_raw(request_head(world.path()))
    expect_server_page(data, 411, "POST without Content-Length")
    expect_nothing_stored(ctx.db)

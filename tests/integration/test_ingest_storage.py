"""Accepted deliveries: what webhook-ingest stores for each kind of body."""

import json

from fixtures import (FASTCGI_RECORD_MAX, build_log_body, fixture_bytes, github_check_value,
                      header_file)
from harness import NULL_SECRET, expect, expect_equal, sign, signature_header
from stored import expect_deliveries, expect_one_delivery
from suite import Module

MODULE = Module("storage", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60"})


def signed_headers(webhook, body, content_type=None):
    headers = [("X-Hub-Signature-256", signature_header(webhook.secret, body))]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return headers


@MODULE.plain("signing: helper reproduces GitHub's check value")
def signing_helper(ctx):
    secret, body, expected = github_check_value()
    expect_equal("sha256=" + sign(secret, body), expected, "signature of the published example")


@MODULE.both("github check value stored")
def github_check_value_stored(t, ctx):
    secret, body, published_signature = github_check_value()
    world = ctx.world(secret=secret)
    response = t.send(path=world.path(), body=body,
                      headers=[("X-Hub-Signature-256", published_signature)])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_text, '"Hello, World!"', "payload stored as a JSON string")
    expect_equal(stored.raw_body, None, "raw body row for a UTF-8 body")


@MODULE.both("github push stored byte-exact")
def github_push_stored(t, ctx):
    world = ctx.world()
    body = fixture_bytes("github-push.json")
    sent_headers = header_file("github-push.headers")
    # GitHub also sends the legacy SHA-1 signature, and neither value may be stored.
    sha1_value = "sha1=" + "5d61605c3feea9799210ddcb71307d4ba264225f"
    headers = sent_headers + [("X-Hub-Signature", sha1_value),
                              ("X-Hub-Signature-256", signature_header(world.webhook.secret, body))]
    response = t.send(path=world.path(), body=body, headers=headers)

    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_text, body.decode("utf-8"), "payload::text")
    expect_equal(stored.payload_type, "object", "json_typeof(payload)")
    expected_headers = {name.lower(): value for name, value in sent_headers}
    expect_equal(stored.headers, expected_headers, "captured headers")
    expect_equal(stored.content_type, "application/json", "content_type")
    expect_equal(stored.source_ip, "127.0.0.1", "source_ip")
    expect("signature" not in stored.headers_text.lower(), "a signature header was stored")
    expect("Feldnotizbuch · 野外ノート" in stored.memory_content,
           "the preview lost the repository description's non-ASCII text")
    expect("preview truncated" in stored.memory_content,
           "a 10 KB payload preview carries no truncation note")


@MODULE.both("form-encoded ping stored as string")
def form_encoded_stored(t, ctx):
    world = ctx.world()
    body = fixture_bytes("github-ping-form.txt")
    response = t.send(path=world.path(), body=body,
                      headers=signed_headers(world.webhook, body, "application/x-www-form-urlencoded")
                      + [("X-GitHub-Event", "ping")])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_type, "string", "json_typeof(payload)")
    expect_equal(json.loads(stored.payload_text), body.decode(), "decoded payload string")
    expect_equal(stored.content_type, "application/x-www-form-urlencoded", "content_type")
    expect_equal(stored.headers.get("x-github-event"), "ping", "x-github-event header")


@MODULE.both("empty body stored as {}")
def empty_body_stored(t, ctx):
    world = ctx.world()
    body = fixture_bytes("empty.bin")
    response = t.send(path=world.path(), body=body, headers=signed_headers(world.webhook, body))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_text, "{}", "payload::text")
    expect_equal(stored.content_type, None, "content_type without a Content-Type header")


@MODULE.cgi("empty body without CONTENT_LENGTH stored as {}")
def empty_body_undeclared(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=b"", content_length=None,
                      headers=signed_headers(world.webhook, b""))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_text, "{}", "payload::text")


@MODULE.both("latin-1 body keeps raw bytes")
def latin1_body_stored(t, ctx):
    world = ctx.world()
    body = fixture_bytes("latin1-order.txt")
    response = t.send(path=world.path(), body=body,
                      headers=signed_headers(world.webhook, body, "text/plain; charset=iso-8859-1"))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_type, "string", "json_typeof(payload)")
    # Python's errors="replace" also substitutes one U+FFFD per maximal ill-formed subpart.
    expect_equal(json.loads(stored.payload_text), body.decode("utf-8", "replace"),
                 "payload string with U+FFFD")
    expect_equal(stored.raw_body, body, "edge_webhook_raw_body.body")
    expect("raw bytes kept" in response.log, "the log line does not say the raw bytes were kept")


@MODULE.both("latin-1 body labelled JSON keeps raw bytes")
def latin1_json_stored(t, ctx):
    world = ctx.world()
    body = '{"customer": "José Müller", "note": "crème brûlée"}'.encode("latin-1")
    response = t.send(path=world.path(), body=body,
                      headers=signed_headers(world.webhook, body, "application/json"))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_type, "string", "json_typeof(payload)")
    expect_equal(json.loads(stored.payload_text), body.decode("utf-8", "replace"), "payload string")
    expect_equal(stored.raw_body, body, "edge_webhook_raw_body.body")


@MODULE.both("300 KiB body spans FastCGI records")
def large_body_stored(t, ctx):
    world = ctx.world()
    body = build_log_body()
    expect(len(body) > 4 * FASTCGI_RECORD_MAX, f"generated body has only {len(body)} bytes")
    response = t.send(path=world.path(), body=body,
                      headers=signed_headers(world.webhook, body, "application/json"))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(len(stored.payload_text.encode()), len(body), "stored payload size in bytes")
    expect(stored.payload_text == body.decode(), "stored payload differs from the body")
    expect_equal(stored.raw_body, None, "raw body row for a UTF-8 body")


@MODULE.both("duplicate keys and \\u0000 kept")
def duplicate_keys_kept(t, ctx):
    world = ctx.world()
    body = (b'{"action":"opened","action":"closed","note":"nul \\u0000 inside",'
            b'"nested":{"a":[1,2.50,{"a":null}],"a":true},"empty":{}}')
    response = t.send(path=world.path(), body=body,
                      headers=signed_headers(world.webhook, body, "application/json"))
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.payload_text, body.decode(), "payload::text")


@MODULE.both("headers captured without signatures")
def headers_captured(t, ctx):
    world = ctx.world()
    body = b'{"event": "deploy", "status": "success"}'
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("User-Agent", "Deploybot/2.4 (+https://deploybot.example.net)"),
        ("X-Hub-Signature-256", signature_header(world.webhook.secret, body)),
        ("X-Webhook-Signature", "sha256=" + "ab" * 32),
        ("X-Hub-Signature", "sha1=" + "cd" * 20),
        ("Authorization", "Bearer not-for-storage-0123456789"),
        ("Cookie", "session=not-for-storage"),
        ("X-Request-ID", "req-7f3a"),
        ("X-Deploy-Environment", "production"),
        ("Accept-Language", "de-CH"),
    ]
    response = t.send(path=world.path(), body=body, headers=headers)
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.headers, {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Deploybot/2.4 (+https://deploybot.example.net)",
        "x-request-id": "req-7f3a",
        "x-deploy-environment": "production",
    }, "captured headers")
    expect("not-for-storage" not in stored.headers_text, "authorization or cookie stored")


@MODULE.both("non-UTF-8 header value escaped")
def header_value_escaped(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"{}", headers=[("X-Customer", b"Caf\xe9 Z\xfcrich")])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    value = stored.headers.get("x-customer")
    expect(value is not None, "header with Latin-1 bytes was dropped")
    expect(value.startswith("Caf") and "rich" in value, f"header value mangled: {value!r}")
    expect(len(value) > len("Caf Zrich"), f"bad bytes removed instead of escaped: {value!r}")


@MODULE.both("non-UTF-8 Content-Type still stored")
def content_type_not_utf8(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"plain text",
                      headers=[("Content-Type", b"text/plain; charset=\xe9")])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect(stored.content_type is not None and stored.content_type.startswith("text/plain"),
           f"content_type dropped or mangled: {stored.content_type!r}")
    expect_equal(json.loads(stored.payload_text), "plain text", "payload string")


@MODULE.cgi("non-UTF-8 header name still stored")
def header_name_not_utf8(t, ctx):
    # lighttpd rejects such names itself, but another server or a local caller may pass them on.
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"{}", env={b"HTTP_X_CAF\xc9": "1"})
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("query string ignored by the route")
def query_string_ignored(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path() + "?source=github&attempt=2", body=b'{"a": 1}')
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("upper-case ids accepted")
def upper_case_ids(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    path = f"/api/v1/boards/{world.board_id.upper()}/webhooks/{world.webhook.id.upper()}"
    response = t.send(path=path, body=b'{"a": 1}')
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("repeated delivery stored twice")
def repeated_delivery(t, ctx):
    world = ctx.world()
    body = b'{"zen": "Practicality beats purity."}'
    headers = signed_headers(world.webhook, body, "application/json")
    first = t.send(path=world.path(), body=body, headers=headers)
    second = t.send(path=world.path(), body=body, headers=headers)
    expect_equal((first.status, second.status), (202, 202), "statuses")
    expect(first.json()["payload_id"] != second.json()["payload_id"], "both deliveries got one payload id")
    expect_deliveries(ctx.db, 2)

"""How bodies are decoded into the json column: kept as sent, or kept as a JSON string.

A body is kept as sent only when it is JSON that PostgreSQL's json type
accepts. Anything else must still be stored, as a JSON string of its text.
A 5xx response would make the sender retry the delivery forever.
"""

import json

from harness import NULL_SECRET, expect_equal
from stored import expect_one_delivery
from suite import Module

MODULE = Module("decoding", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60"})


def deliver(t, ctx, body, content_type="application/json"):
    world = ctx.world(secret=NULL_SECRET)
    headers = [("Content-Type", content_type)] if content_type else []
    response = t.send(path=world.path(), body=body, headers=headers)
    return expect_one_delivery(ctx.db, response, world.webhook)


def expect_kept_as_sent(stored, body, json_type):
    expect_equal(stored.payload_text, body.decode(), "payload::text")
    expect_equal(stored.payload_type, json_type, "json_typeof(payload)")


def expect_kept_as_string(stored, body):
    expect_equal(stored.payload_type, "string", "json_typeof(payload)")
    expect_equal(json.loads(stored.payload_text), body.decode("utf-8", "replace"), "payload string")


@MODULE.both("body true stored as JSON true")
def body_true(t, ctx):
    expect_kept_as_sent(deliver(t, ctx, b"true"), b"true", "boolean")


@MODULE.both("body false without content type stored as JSON")
def body_false_untyped(t, ctx):
    expect_kept_as_sent(deliver(t, ctx, b"false", content_type=None), b"false", "boolean")


@MODULE.both("number labelled JSON stored as number")
def body_number(t, ctx):
    expect_kept_as_sent(deliver(t, ctx, b"42"), b"42", "number")


@MODULE.both("number without content type stored as string")
def body_number_untyped(t, ctx):
    expect_kept_as_string(deliver(t, ctx, b"42", content_type=None), b"42")


@MODULE.both("JSON string body stored as sent")
def body_string(t, ctx):
    body = '"deploy finished — 3 warnings"'.encode()
    expect_kept_as_sent(deliver(t, ctx, body, content_type=None), body, "string")


@MODULE.both("whitespace around JSON kept")
def body_whitespace(t, ctx):
    body = b'\r\n  {"a": [1, 2]}\n\t'
    expect_kept_as_sent(deliver(t, ctx, body), body, "object")


@MODULE.both("surrogate pair escape kept as JSON")
def surrogate_pair(t, ctx):
    body = b'{"emoji": "\\ud83d\\ude80", "plain": "\\u00e9"}'
    expect_kept_as_sent(deliver(t, ctx, body), body, "object")


@MODULE.both("lone surrogate escape stored as string")
def lone_surrogate(t, ctx):
    body = b'{"broken": "\\ud800 then text", "low": "\\udc00"}'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("NaN stored as string")
def body_nan(t, ctx):
    body = b'{"temperature": NaN, "unit": "C"}'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("Infinity stored as string")
def body_infinity(t, ctx):
    body = b'{"ratio": Infinity, "floor": -Infinity}'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("raw newline inside string stored as string")
def raw_control_character(t, ctx):
    body = b'{"message": "first line\nsecond line\tend"}'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("single-quoted key stored as string")
def single_quotes(t, ctx):
    body = b"{'action': \"opened\"}"
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("number with trailing dot stored as string")
def trailing_dot(t, ctx):
    body = b'{"version": 1.}'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("trailing comma stored as string")
def trailing_comma(t, ctx):
    body = b'{"a": [1, 2,],}'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("text after JSON stored as string")
def trailing_text(t, ctx):
    body = b'{"a": 1} and more'
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("nesting deeper than 64 stored as string")
def deep_nesting(t, ctx):
    body = b"[" * 100 + b"]" * 100
    expect_kept_as_string(deliver(t, ctx, body), body)


@MODULE.both("moderate nesting kept as JSON")
def moderate_nesting(t, ctx):
    body = b'{"a":' * 20 + b"1" + b"}" * 20
    expect_kept_as_sent(deliver(t, ctx, body), body, "object")


@MODULE.both("NUL byte in body stored as string")
def nul_byte(t, ctx):
    body = b'{"a": "x\x00y"}'
    stored = deliver(t, ctx, body)
    expect_kept_as_string(stored, body)
    expect_equal(stored.raw_body, None, "raw body row for a UTF-8 body")

"""Signature checks: which header is read, which values are accepted, what is logged."""

from harness import NULL_SECRET, LOGBOOK, expect, expect_equal, sign, signature_header
from stored import expect_error, expect_nothing_stored, expect_one_delivery
from suite import Module

MODULE = Module("signature", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60"})

BODY = b'{"action": "published", "release": {"tag_name": "v2.4.0"}}'


def remember(value):
    """Register a made-up signature so the log check also looks for it."""
    LOGBOOK.add_signature(value.split("=", 1)[-1])
    return value


@MODULE.both("missing signature returns 403")
def missing_signature(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY, headers=[("Content-Type", "application/json")])
    expect_error(response, 403, "Missing webhook signature header.")
    expect("X-Hub-Signature-256" in response.log, "the log line does not name the expected header")
    expect_nothing_stored(ctx.db)


@MODULE.both("wrong signature returns 403")
def wrong_signature(t, ctx):
    world = ctx.world()
    wrong = signature_header("some-other-secret-value", BODY)
    response = t.send(path=world.path(), body=BODY, headers=[("X-Hub-Signature-256", wrong)])
    expect_error(response, 403, "Invalid webhook signature.")
    mismatch_lines = [line for line in response.log.splitlines() if "mismatch" in line]
    expect(mismatch_lines, f"no signature mismatch log line: {response.log.strip()[:300]}")
    expect("X-Hub-Signature-256" in mismatch_lines[0], "the mismatch line does not name the header")
    expect_nothing_stored(ctx.db)


@MODULE.both("signature of other bytes returns 403")
def signature_of_other_body(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY + b" ",
                      headers=[("X-Hub-Signature-256", signature_header(world.webhook.secret, BODY))])
    expect_error(response, 403, "Invalid webhook signature.")
    expect_nothing_stored(ctx.db)


@MODULE.both("non-ASCII secret signs its UTF-8 bytes")
def non_ascii_secret(t, ctx):
    world = ctx.world(secret="geheimer-Schlüssel-🔑-" + "x" * 16)
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", signature_header(world.webhook.secret, BODY))])
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("signature without sha256= prefix accepted")
def bare_hex_signature(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", sign(world.webhook.secret, BODY))])
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("upper-case hex signature accepted")
def upper_case_signature(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", "sha256=" + sign(world.webhook.secret, BODY).upper())])
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("signature not 64 hex digits returns 403")
def malformed_signatures(t, ctx):
    world = ctx.world()
    good = sign(world.webhook.secret, BODY)
    for value in ("sha256=" + good[:63], "sha256=" + good + "0", "sha256=" + good[:63] + "g",
                  "sha256=", "sha1=" + good[:40], "sha512=" + good, good + good,
                  "sha256=" + good[:32] + " " + good[32:]):
        response = t.send(path=world.path(), body=BODY, headers=[("X-Hub-Signature-256", value)])
        expect(response.status == 403, f"{value[:20]}...: expected 403, got {response.describe()}")
        expect_error(response, 403, "Invalid webhook signature.")
    expect_nothing_stored(ctx.db)


@MODULE.both("empty signature header returns 403")
def empty_signature(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY, headers=[("X-Hub-Signature-256", "")])
    expect_error(response, 403)
    expect_nothing_stored(ctx.db)


@MODULE.both("two joined signatures return 403")
def joined_signatures(t, ctx):
    world = ctx.world()
    good = signature_header(world.webhook.secret, BODY)
    # Both copies are valid, and still the value is ambiguous.
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", good), ("X-Hub-Signature-256", good)])
    expect_error(response, 403, "Invalid webhook signature.")
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", good + ", " + remember("sha256=" + "0" * 64))])
    expect_error(response, 403, "Invalid webhook signature.")
    expect_nothing_stored(ctx.db)


@MODULE.both("X-Webhook-Signature accepted")
def webhook_signature_header(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Webhook-Signature", signature_header(world.webhook.secret, BODY))])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect("x-webhook-signature" not in stored.headers, "the signature header was stored")


@MODULE.both("X-Hub-Signature-256 read before X-Webhook-Signature")
def header_precedence(t, ctx):
    world = ctx.world()
    wrong = remember("sha256=" + "1" * 64)
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", wrong),
                               ("X-Webhook-Signature", signature_header(world.webhook.secret, BODY))])
    expect_error(response, 403, "Invalid webhook signature.")
    expect_nothing_stored(ctx.db)


@MODULE.both("legacy X-Hub-Signature alone returns 403")
def legacy_sha1_only(t, ctx):
    world = ctx.world()
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature", remember("sha1=" + "2" * 40))])
    expect_error(response, 403, "Missing webhook signature header.")
    expect_nothing_stored(ctx.db)


@MODULE.both("own signature header replaces defaults")
def own_signature_header(t, ctx):
    world = ctx.world(signature_header="X-Fieldnotes-Signature")
    good = signature_header(world.webhook.secret, BODY)
    response = t.send(path=world.path(), body=BODY, headers=[("X-Hub-Signature-256", good)])
    expect_error(response, 403, "Missing webhook signature header.")
    expect("X-Fieldnotes-Signature" in response.log, "the log line does not name the own header")
    expect_nothing_stored(ctx.db)

    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Fieldnotes-Signature", good), ("X-Fieldnotes-Event", "sync")])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect("x-fieldnotes-signature" not in stored.headers, "the own signature header was stored")
    expect_equal(stored.headers.get("x-fieldnotes-event"), "sync", "other x- header")


@MODULE.both("own signature header matched in any case")
def own_signature_header_case(t, ctx):
    world = ctx.world(signature_header="x-fieldnotes-signature")
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-FIELDNOTES-SIGNATURE", signature_header(world.webhook.secret, BODY))])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect("x-fieldnotes-signature" not in stored.headers, "the own signature header was stored")


@MODULE.both("empty own signature header uses defaults")
def blank_own_signature_header(t, ctx):
    world = ctx.world(signature_header="")
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", signature_header(world.webhook.secret, BODY))])
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("empty secret accepts unsigned delivery")
def empty_secret(t, ctx):
    world = ctx.world(secret="")
    response = t.send(path=world.path(), body=BODY)
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("empty secret ignores a wrong signature")
def empty_secret_wrong_signature(t, ctx):
    world = ctx.world(secret="")
    response = t.send(path=world.path(), body=BODY,
                      headers=[("X-Hub-Signature-256", remember("sha256=" + "3" * 64))])
    expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.both("NULL secret accepts unsigned delivery")
def null_secret(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=BODY)
    expect_one_delivery(ctx.db, response, world.webhook)

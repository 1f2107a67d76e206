"""Messages that reach the test gateway (tests/gateway/gateway_server.py):
exactly one chat.send with the right parameters, with and without a device
identity, the gateway token, TLS, and every fault of the gateway ending in
502 within GATEWAY_TIMEOUT_MS plus slack."""

import re
import socket
import time
from urllib.parse import quote

from harness import CheckFailed, expect, expect_equal
from message_harness import (BASE_ENV, GATEWAY_SLACK_S, GATEWAY_TIMEOUT_MS, Scene,
                             certificates, create_access, expect_error, expect_success, gateway_token,
                             message_content, message_path, running_gateway, send)
from suite import Module

MODULE = Module("gateway-message delivery", env=BASE_ENV)

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DEVICE_ID_PATTERN = re.compile(r"^[0-9a-f]{64}$")
BUDGET_S = GATEWAY_TIMEOUT_MS / 1000


def expect_one_send(gateway, session_key, content, device):
    """Require exactly one chat.send since the gateway started, with these parameters."""
    sends = gateway.chat_sends()
    expect_equal(len(sends), 1, "chat.send records")
    record = sends[0]
    expect_equal(record["sessionKey"], session_key, "sessionKey")
    expect_equal(record["message"], content, "message")
    expect_equal(record["deliver"], False, "deliver")
    expect_equal(record["answer"], "started", "gateway's answer")
    expect(UUID_PATTERN.match(record["idempotencyKey"] or ""),
           f"idempotencyKey is not a random UUID: {record['idempotencyKey']!r}")
    expect_equal(record["client_id"], "gateway-client", "client id")
    if device:
        expect(DEVICE_ID_PATTERN.match(record["device_id"] or ""),
               f"no device id in the send record: {record['device_id']!r}")
    else:
        expect_equal(record["device_id"], None, "device id")
    return record


def expect_no_send(gateway):
    expect_equal(gateway.chat_sends(), [], "chat.send records")


def expect_prompt_502(response, label):
    expect_error(response, 502)
    expect(response.elapsed_s < BUDGET_S + GATEWAY_SLACK_S,
           f"{label}: 502 after {response.elapsed_s:.2f} s, budget {BUDGET_S} s plus "
           f"{GATEWAY_SLACK_S} s slack")


@MODULE.both("message reaches gateway once with device")
def delivered_with_device(t, ctx):
    token = gateway_token()
    with running_gateway(ctx, token=token, require_device=True) as gateway:
        scene = Scene(ctx.db, gateway.url, token)
        content = message_content("with device")
        response = send(t, message_path("agent:main:main", scene.board_id), content=content)
        expect_success(response)
        expect_one_send(gateway, "agent:main:main", content, device=True)
        connects = gateway.connects()
        expect_equal(len(connects), 1, "connects")
        expect_equal(connects[0]["has_token"], True, "token in the connect request")
        expect_equal(connects[0]["query_keys"], [], "query parameters of the WebSocket URL")


@MODULE.both("pairing disabled connects without device")
def delivered_without_device(t, ctx):
    token = gateway_token()
    with running_gateway(ctx, token=token) as gateway:
        scene = Scene(ctx.db, gateway.url, token, disable_device_pairing=True)
        content = message_content("without device")
        expect_success(send(t, message_path("agent:main:webhooks", scene.board_id), content=content))
        expect_one_send(gateway, "agent:main:webhooks", content, device=False)


@MODULE.both("gateway requiring a device refuses none")
def device_required(t, ctx):
    with running_gateway(ctx, require_device=True) as gateway:
        scene = Scene(ctx.db, gateway.url, disable_device_pairing=True)
        expect_prompt_502(send(t, message_path(board_id=scene.board_id)), "device required")
        expect_no_send(gateway)


@MODULE.both("gateway without token accepts none")
def no_token(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url, None)
        content = message_content("no token")
        expect_success(send(t, message_path("s1", scene.board_id), content=content))
        expect_one_send(gateway, "s1", content, device=True)
        expect_equal(gateway.connects()[0]["has_token"], False, "token in the connect request")


@MODULE.both("wrong or missing gateway token gets 502")
def wrong_token(t, ctx):
    with running_gateway(ctx, token=gateway_token()) as gateway:
        scene = Scene(ctx.db, gateway.url, gateway_token())
        expect_prompt_502(send(t, message_path(board_id=scene.board_id)), "wrong token")
        ctx.db.query("UPDATE gateways SET token = NULL WHERE id = %s", (scene.gateway_id,))
        expect_prompt_502(send(t, message_path(board_id=scene.board_id)), "no token")
        expect_no_send(gateway)


@MODULE.both("percent-encoded session_id is decoded")
def session_key_decoded(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url)
        key = "agent:main:board lead/\u2713"
        content = message_content("decoded key")
        response = send(t, message_path(quote(key, safe=""), scene.board_id), content=content)
        expect_success(response)
        expect_one_send(gateway, key, content, device=True)


@MODULE.both("each message gets a new idempotency key")
def new_idempotency_keys(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url)
        first, second = message_content("first"), message_content("second")
        expect_success(send(t, message_path("s", scene.board_id), content=first))
        expect_success(send(t, message_path("s", scene.board_id), content=second))
        sends = gateway.chat_sends()
        expect_equal([record["message"] for record in sends], [first, second], "messages")
        expect_equal([record["answer"] for record in sends], ["started", "started"], "answers")
        expect(sends[0]["idempotencyKey"] != sends[1]["idempotencyKey"], "idempotency key repeated")


@MODULE.both("write access through access row delivers")
def delivered_through_access_row(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url, role="owner", all_boards_write=False)
        create_access(ctx.db, scene.member_id, scene.board_id, can_write=True)
        content = message_content("access row")
        expect_success(send(t, message_path("s", scene.board_id), content=content))
        expect_one_send(gateway, "s", content, device=True)


@MODULE.both("wss without trusted certificate gets 502")
def tls_untrusted(t, ctx):
    tls = certificates(ctx)
    with running_gateway(ctx, tls=tls.trusted) as gateway:
        expect(gateway.url.startswith("wss://"), f"gateway URL {gateway.url}")
        scene = Scene(ctx.db, gateway.url)
        expect_prompt_502(send(t, message_path(board_id=scene.board_id)), "untrusted certificate")
        expect_no_send(gateway)


@MODULE.both("wss with GATEWAY_CA_FILE delivers")
def tls_with_ca_file(t, ctx):
    tls = certificates(ctx)
    with running_gateway(ctx, tls=tls.trusted) as gateway:
        scene = Scene(ctx.db, gateway.url)
        content = message_content("tls")
        with ctx.variant(t, {"GATEWAY_CA_FILE": tls.trusted.ca_file}) as variant:
            expect_success(send(variant, message_path("s", scene.board_id), content=content))
        expect_one_send(gateway, "s", content, device=True)


@MODULE.both("wss with allow_insecure_tls delivers")
def tls_insecure_allowed(t, ctx):
    tls = certificates(ctx)
    with running_gateway(ctx, tls=tls.trusted) as gateway:
        scene = Scene(ctx.db, gateway.url, allow_insecure_tls=True)
        content = message_content("insecure tls")
        expect_success(send(t, message_path("s", scene.board_id), content=content))
        expect_one_send(gateway, "s", content, device=True)


@MODULE.both("wss certificate for another name gets 502")
def tls_wrong_name(t, ctx):
    tls = certificates(ctx)
    # Its CA is trusted, but the certificate names other.test, not 127.0.0.1.
    with running_gateway(ctx, tls=tls.other_name) as gateway:
        scene = Scene(ctx.db, gateway.url)
        with ctx.variant(t, {"GATEWAY_CA_FILE": tls.other_name.ca_file}) as variant:
            expect_prompt_502(send(variant, message_path(board_id=scene.board_id)), "host name")
        expect_no_send(gateway)


FAULT_MODES = (
    "refuse",
    "refuse-send",
    "stall",
    "stall:upgrade",
    "stall:connect",
    "stall:send",
    "close-mid-frame",
    "close-mid-frame:send",
    "oversized-frame",
    "oversized-frame:send",
    "malformed-frame",
    "malformed-frame:send:not-json",
    "malformed-frame:send:bad-fields",
)


@MODULE.both("gateway faults get 502 within the budget")
def gateway_faults(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url)
        for mode in FAULT_MODES:
            gateway.set_mode(mode)
            try:
                response = send(t, message_path(board_id=scene.board_id))
            except CheckFailed as failure:
                raise CheckFailed(f"mode {mode}: {failure}") from None
            expect_prompt_502(response, f"mode {mode}")
        gateway.set_mode("normal")
        expect_success(send(t, message_path(board_id=scene.board_id)))


@MODULE.both("unreachable port gets 502")
def unreachable(t, ctx):
    # A bound socket that never listens: connecting to it is refused at once.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        scene = Scene(ctx.db, f"ws://127.0.0.1:{port}")
        expect_prompt_502(send(t, message_path(board_id=scene.board_id)), "refused port")


@MODULE.both("two unavailable answers are retried")
def unavailable_retried(t, ctx):
    with running_gateway(ctx, mode="unavailable:2") as gateway:
        scene = Scene(ctx.db, gateway.url)
        content = message_content("after retries")
        started = time.monotonic()
        response = send(t, message_path("s", scene.board_id), content=content)
        elapsed = time.monotonic() - started
        expect_success(response)
        expect(elapsed < BUDGET_S + GATEWAY_SLACK_S, f"success after {elapsed:.2f} s")
        expect_one_send(gateway, "s", content, device=True)
        answers = [record["answer"] for record in gateway.connects()]
        expect_equal(len(answers), 3, f"connect attempts ({answers})")


@MODULE.both("events and fragments before replies are skipped")
def noisy_gateway(t, ctx):
    with running_gateway(ctx) as gateway:
        scene = Scene(ctx.db, gateway.url)
        for mode in ("events-before-reply", "fragment-replies", "no-challenge"):
            gateway.set_mode(mode)
            gateway.clear()
            content = message_content(mode)
            expect_success(send(t, message_path("s", scene.board_id), content=content))
            expect_one_send(gateway, "s", content, device=True)

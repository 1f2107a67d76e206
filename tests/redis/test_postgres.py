"""The same faults for the PostgreSQL store, where they apply: a limiter row
that stays locked (a store that does not reply in time), a stopped database
and a server that accepts connections and never replies.

The database restart itself is covered by tests/integration. A delivery to a
valid webhook needs the database after the limit check too, so with the
database stopped it gets 503 under either RATE_LIMIT_FAIL_OPEN setting. A
request with malformed ids needs the database only for the limit check, so
it shows the fail-open policy alone. This module stops its database, so it
has one of its own."""

from contextlib import ExitStack

import psycopg2

from context import FAULT_RESPONSE_S, FAULT_TIMEOUT_MS, expect_responded_within, post
from harness import expect, expect_equal
from redis_server import SilentListener
from stored import expect_error
from suite import Module

MALFORMED_PATH = "/api/v1/boards/not-a-board/webhooks/not-a-webhook"
STORE_WARNING = "postgres rate-limit store failed"

MODULE = Module("postgres faults", own_database=True,
                env={"RATE_LIMIT_BACKEND": "postgres", "RATE_LIMIT_WEBHOOK_INGEST": "10/60",
                     "RATE_LIMIT_TIMEOUT_MS": FAULT_TIMEOUT_MS})


def policy_env(fail_open):
    return {"RATE_LIMIT_FAIL_OPEN": "true" if fail_open else "false"}


def expect_policy_response(response, fail_open, open_status, label):
    """Check a response given while the limiter's store fails, and return its log."""
    expect_responded_within(response, FAULT_RESPONSE_S, label)
    if fail_open:
        expect_equal(response.status, open_status, f"{label} with RATE_LIMIT_FAIL_OPEN=true")
    else:
        expect_error(response, 503)
    return response.log


def expect_store_warning(log, label):
    # A FastCGI process logs the warning once per few seconds, so it is
    # looked for in the logs of all requests that one transport served.
    expect(STORE_WARNING in log, f"{label}: no warning names the postgres store: {log.strip()[-300:]!r}")


@MODULE.both("locked limiter row")
def locked_row(mode, ctx):
    world = ctx.world()
    client = "203.0.113.100"
    with ctx.transport(mode) as transport:
        expect_equal(post(transport, world.path(), client).status, 202, "first delivery")
    blocker = psycopg2.connect(ctx.db.url, connect_timeout=10)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT 1 FROM edge_rate_limit WHERE key = %s FOR UPDATE",
                           (f"webhook-ingest:{client}",))
            expect_equal(cursor.rowcount, 1, "limiter rows locked")
        for fail_open in (True, False):
            with ctx.transport(mode, policy_env(fail_open)) as transport:
                log = expect_policy_response(post(transport, world.path(), client), fail_open, 202,
                                           "delivery while the row is locked")
                log += expect_policy_response(post(transport, MALFORMED_PATH, client), fail_open, 404,
                                            "malformed ids while the row is locked")
            expect_store_warning(log, f"row locked, RATE_LIMIT_FAIL_OPEN={str(fail_open).lower()}")
    finally:
        blocker.rollback()
        blocker.close()
    # Nothing of the locked attempts was recorded: the statements were cancelled.
    stored = ctx.db.query("SELECT cardinality(hits) FROM edge_rate_limit WHERE key = %s",
                          (f"webhook-ingest:{client}",))
    expect_equal(stored, [(1,)], "attempts stored for the client")


@MODULE.both("stopped database")
def stopped_database(mode, ctx):
    world = ctx.world()
    client = "203.0.113.101"
    with ExitStack() as stack:
        # Both transports start, and deliver once, while the database runs.
        transports = {}
        for fail_open in (True, False):
            transports[fail_open] = stack.enter_context(ctx.transport(mode, policy_env(fail_open)))
            expect_equal(post(transports[fail_open], world.path(), client).status, 202,
                         f"delivery before the stop, RATE_LIMIT_FAIL_OPEN={str(fail_open).lower()}")
        ctx.db.stop()
        try:
            for fail_open, transport in transports.items():
                log = expect_policy_response(post(transport, MALFORMED_PATH, client), fail_open, 404,
                                           "malformed ids while the database is stopped")
                expect_store_warning(log, f"database stopped, RATE_LIMIT_FAIL_OPEN={str(fail_open).lower()}")
                response = post(transport, world.path(), client)
                expect_responded_within(response, FAULT_RESPONSE_S, "delivery while the database is stopped")
                expect_error(response, 503)
        finally:
            ctx.db.start()


@MODULE.cgi("silent server bounded by the timeout")
def silent_server(mode, ctx):
    with SilentListener() as listener:
        env = {"DATABASE_URL": f"postgresql://edge:unused@127.0.0.1:{listener.port}/edge?sslmode=disable"}
        with ctx.transport(mode, env) as cgi:
            response = post(cgi, MALFORMED_PATH, "203.0.113.102", timeout_s=15)
    # Only the limit check needs the database here, and RATE_LIMIT_TIMEOUT_MS
    # is the connect and command timeout of the limiter's store.
    expect_equal(response.status, 404, "malformed ids with RATE_LIMIT_FAIL_OPEN=true")
    expect_responded_within(response, FAULT_RESPONSE_S,
                           f"malformed ids with RATE_LIMIT_TIMEOUT_MS={FAULT_TIMEOUT_MS}")

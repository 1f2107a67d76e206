"""Rate limiting of webhook-ingest with the PostgreSQL store.

Each client is named by X-Forwarded-For from the trusted loopback peer, so
plain CGI and lighttpd see the same clients. The state lives in the table
edge_rate_limit, which is emptied before every check.
"""

import threading
import uuid

from harness import NULL_SECRET, expect, expect_equal
from stored import expect_deliveries, expect_error, expect_retry_after
from suite import Module

LIMIT = 5
WINDOW_S = 60
# A check that waits longer than RATE_LIMIT_TIMEOUT_MS fails open, and on a
# busy machine (twenty sanitizer-built processes on two cores) the default
# 50 ms is sometimes exceeded. The longer timeout keeps these checks about
# counting, not about scheduling.
MODULE = Module("rate limit", procs=4, env={"RATE_LIMIT_WEBHOOK_INGEST": f"{LIMIT}/{WINDOW_S}",
                                            "TRUSTED_PROXIES": "127.0.0.1/32",
                                            "RATE_LIMIT_TIMEOUT_MS": "5000"})


def post(t, path, client, body=b"{}"):
    return t.send(path=path, body=body, headers=[("X-Forwarded-For", client)])


def expect_accepted(responses, label):
    statuses = [response.status for response in responses]
    expect(all(status == 202 for status in statuses), f"{label}: expected only 202, got {statuses}")


def expect_limited(response, label):
    expect(response.status == 429, f"{label}: expected 429, got {response.describe()}")
    expect_error(response, 429)
    expect_retry_after(response, WINDOW_S)


@MODULE.both("sixth request returns 429")
def sixth_request(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    accepted = [post(t, world.path(), "203.0.113.10") for _ in range(LIMIT)]
    expect_accepted(accepted, "first five requests")
    limited = post(t, world.path(), "203.0.113.10")
    expect_limited(limited, "sixth request")
    expect("rate limit exceeded" in limited.log, "no log line for the refused request")
    expect_deliveries(ctx.db, LIMIT)


@MODULE.both("other clients unaffected")
def other_clients(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    for _ in range(LIMIT + 1):
        post(t, world.path(), "203.0.113.10")
    expect_limited(post(t, world.path(), "203.0.113.10"), "limited client")
    expect_accepted([post(t, world.path(), "203.0.113.11"), post(t, world.path(), "198.51.100.7")],
                    "other clients")


@MODULE.both("IPv6 clients in one /64 share a bucket")
def ipv6_prefix(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    same_prefix = [f"2001:db8:1:2::{index + 1}" for index in range(LIMIT)]
    expect_accepted([post(t, world.path(), client) for client in same_prefix], "first five in the /64")
    expect_limited(post(t, world.path(), "2001:db8:1:2:ffff:ffff:ffff:fffe"), "sixth in the /64")
    expect_accepted([post(t, world.path(), "2001:db8:1:3::1")], "client in the next /64")


@MODULE.both("ip keying shares one bucket across webhooks")
def ip_key_shared(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    second = world.add_webhook(secret=NULL_SECRET)
    expect_accepted([post(t, world.path(), "203.0.113.10") for _ in range(LIMIT)], "first webhook")
    expect_limited(post(t, world.path(second), "203.0.113.10"), "second webhook, same client")


@MODULE.both("ip+webhook keying separates webhooks")
def ip_webhook_key(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    second = world.add_webhook(secret=NULL_SECRET)
    with ctx.variant(t, {"RATE_LIMIT_WEBHOOK_INGEST_KEY": "ip+webhook"}) as variant:
        expect_accepted([post(variant, world.path(), "203.0.113.10") for _ in range(LIMIT)], "first webhook")
        expect_limited(post(variant, world.path(), "203.0.113.10"), "first webhook, sixth request")
        expect_accepted([post(variant, world.path(second), "203.0.113.10")], "second webhook")
        expect_accepted([post(variant, world.path(), "203.0.113.12")], "first webhook, other client")


@MODULE.both("405 responses are not counted")
def method_not_counted(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    for _ in range(2 * LIMIT):
        response = t.send(method="GET", path=world.path(), body=None,
                          headers=[("X-Forwarded-For", "203.0.113.10")])
        expect_equal(response.status, 405, "status of GET")
    expect_accepted([post(t, world.path(), "203.0.113.10") for _ in range(LIMIT)], "POSTs after GETs")
    expect_limited(post(t, world.path(), "203.0.113.10"), "sixth POST")


@MODULE.both("requests with unknown ids are counted")
def unknown_ids_counted(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    probes = [f"/api/v1/boards/{uuid.uuid4()}/webhooks/{uuid.uuid4()}" for _ in range(3)]
    probes += ["/api/v1/boards/nope/webhooks/nope", f"/api/v1/boards/{world.board_id}/webhooks/nope"]
    for path in probes:
        expect_equal(post(t, path, "203.0.113.10").status, 404, f"status of probe {path}")
    expect_limited(post(t, world.path(), "203.0.113.10"), "valid request after five probes")
    expect_deliveries(ctx.db, 0)


@MODULE.both("20 parallel requests with limit 10 accept exactly 10")
def parallel_requests(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    statuses = []
    lock = threading.Lock()

    def send_one(transport, index):
        response = post(transport, world.path(), "203.0.113.50", body=f'{{"n": {index}}}'.encode())
        with lock:
            statuses.append(response.status)

    with ctx.variant(t, {"RATE_LIMIT_WEBHOOK_INGEST": f"10/{WINDOW_S}"}) as variant:
        threads = [threading.Thread(target=send_one, args=(variant, index)) for index in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    expect_equal(len(statuses), 20, "requests with a response")
    expect_equal(sorted(statuses), [202] * 10 + [429] * 10, "statuses")
    expect_deliveries(ctx.db, 10)

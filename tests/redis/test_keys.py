"""Key options and stored state on Redis: ip+webhook keys, IPv6 /64 buckets,
the number of members per key and the key's expiry."""

from context import REDIS_DB, post, redis_key
from harness import expect, expect_equal
from stored import expect_retry_after
from suite import Module

LIMIT = 5
WINDOW_S = 60

MODULE = Module("keys and state", env={"RATE_LIMIT_WEBHOOK_INGEST": f"{LIMIT}/{WINDOW_S}"})


def expect_statuses(responses, expected, label):
    expect_equal([response.status for response in responses], expected, f"{label}: statuses")


@MODULE.both("ip+webhook keys separate webhooks")
def ip_webhook_keys(mode, ctx):
    world = ctx.world()
    second = world.add_webhook(secret="")
    client = "203.0.113.40"
    with ctx.transport(mode, {"RATE_LIMIT_WEBHOOK_INGEST_KEY": "ip+webhook"}) as transport:
        first_runs = [post(transport, world.path(), client) for _ in range(LIMIT + 1)]
        expect_statuses(first_runs, [202] * LIMIT + [429], "first webhook")
        expect_retry_after(first_runs[-1], WINDOW_S)
        expect_equal(post(transport, world.path(second), client).status, 202, "second webhook, same client")
    keys = sorted(ctx.redis.call("KEYS", "ratelimit:*", db=REDIS_DB))
    expect_equal(keys, sorted([redis_key(client, world.webhook.id), redis_key(client, second.id)]),
                 "limiter keys")


@MODULE.both("ip keys share one bucket across webhooks")
def ip_keys(mode, ctx):
    world = ctx.world()
    second = world.add_webhook(secret="")
    client = "203.0.113.41"
    with ctx.transport(mode) as transport:
        expect_statuses([post(transport, world.path(), client) for _ in range(LIMIT)],
                        [202] * LIMIT, "first webhook")
        expect_equal(post(transport, world.path(second), client).status, 429, "second webhook, same client")
    expect_equal(ctx.redis.call("KEYS", "ratelimit:*", db=REDIS_DB), [redis_key(client)], "limiter keys")


@MODULE.both("IPv6 clients in one /64 share a bucket")
def ipv6_prefix(mode, ctx):
    world = ctx.world()
    with ctx.transport(mode) as transport:
        same_prefix = [post(transport, world.path(), f"2001:db8:1:2::{index + 1}") for index in range(LIMIT)]
        expect_statuses(same_prefix, [202] * LIMIT, "first five in 2001:db8:1:2::/64")
        expect_equal(post(transport, world.path(), "2001:db8:1:2:ffff:ffff:ffff:fffe").status, 429,
                     "sixth in the same /64")
        expect_equal(post(transport, world.path(), "2001:db8:1:3::1").status, 202, "client in the next /64")
    keys = sorted(ctx.redis.call("KEYS", "ratelimit:*", db=REDIS_DB))
    expect_equal(keys, sorted([redis_key("2001:db8:1:2::/64"), redis_key("2001:db8:1:3::/64")]),
                 "limiter keys")


@MODULE.both("state per key bounded by the limit")
def bounded_state(mode, ctx):
    world = ctx.world()
    client = "203.0.113.42"
    with ctx.transport(mode) as transport:
        responses = [post(transport, world.path(), client) for _ in range(3 * LIMIT)]
    expect_statuses(responses, [202] * LIMIT + [429] * (2 * LIMIT), "15 attempts")
    members = ctx.zset(redis_key(client))
    expect_equal(len(members), LIMIT, "members after 15 attempts")
    scores = [score for _, score in members]
    expect(scores == sorted(scores), f"member scores are not in time order: {scores}")
    # The kept members are the newest attempts: the rejected ones.
    expect_equal(ctx.redis.call("ZCARD", redis_key(client), db=REDIS_DB), LIMIT, "ZCARD")


@MODULE.cgi("lower limit trims stored state")
def lowered_limit(mode, ctx):
    world = ctx.world()
    client = "203.0.113.47"
    with ctx.transport(mode) as transport:
        expect_statuses([post(transport, world.path(), client) for _ in range(LIMIT)], [202] * LIMIT,
                        f"attempts under {LIMIT}/{WINDOW_S}")
    # An operator lowers the limit: the stored attempts already exceed it.
    with ctx.transport(mode, {"RATE_LIMIT_WEBHOOK_INGEST": f"2/{WINDOW_S}"}) as transport:
        expect_equal(post(transport, world.path(), client).status, 429, f"attempt under 2/{WINDOW_S}")
    expect_equal(len(ctx.zset(redis_key(client))), 2, "members after the limit went down to 2")


@MODULE.both("key expires after window + 1 s")
def key_expiry(mode, ctx):
    world = ctx.world()
    client = "203.0.113.43"
    with ctx.transport(mode) as transport:
        expect_equal(post(transport, world.path(), client).status, 202, "first attempt")
        ttl_ms = ctx.redis.call("PTTL", redis_key(client), db=REDIS_DB)
        expected_ms = (WINDOW_S + 1) * 1000
        # Each attempt sets the expiry again, so a fresh key has almost all of it left.
        expect(expected_ms - 1000 < ttl_ms <= expected_ms,
               f"PTTL {ttl_ms} ms is not within 1 s below {expected_ms} ms")
    with ctx.transport(mode, {"RATE_LIMIT_WEBHOOK_INGEST": "3/2"}) as transport:
        other = "203.0.113.44"
        expect_equal(post(transport, world.path(), other).status, 202, "attempt with a 2 s window")
        ttl_ms = ctx.redis.call("PTTL", redis_key(other), db=REDIS_DB)
        expect(2000 < ttl_ms <= 3000, f"PTTL {ttl_ms} ms with a 2 s window is not in 2000..3000 ms")


@MODULE.both("requests with malformed ids are counted")
def malformed_ids_counted(mode, ctx):
    world = ctx.world()
    client = "203.0.113.45"
    with ctx.transport(mode) as transport:
        for index in range(LIMIT):
            response = post(transport, "/api/v1/boards/nope/webhooks/nope", client)
            expect_equal(response.status, 404, f"probe {index + 1}")
        expect_equal(post(transport, world.path(), client).status, 429, "valid request after five probes")
    expect_equal(len(ctx.zset(redis_key(client))), LIMIT, "members after six attempts")


@MODULE.plain("keys land in the URL's database only")
def database_number(ctx):
    world = ctx.world()
    client = "203.0.113.46"
    response = post(ctx.cgi(), world.path(), client)
    expect_equal(response.status, 202, "delivery")
    sizes = {db: ctx.redis.call("DBSIZE", db=db) for db in range(16)}
    expect_equal({db: size for db, size in sizes.items() if size}, {REDIS_DB: 1},
                 "keys per database (the URL ends in /3)")

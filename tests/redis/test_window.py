"""Window edges with a short window (3 attempts per 2 s), timed against
Redis's own clock, which is the clock the limiter uses.

An attempt counts while now - t < window. A rejected attempt is recorded
too and drops the oldest one, so after a rejection the next attempt is allowed
when the oldest kept attempt leaves the window."""

import math
import time

from context import post, redis_key
from harness import CheckFailed, expect, expect_equal
from suite import Module

LIMIT = 3
WINDOW_S = 2
WINDOW_US = WINDOW_S * 1_000_000
# How far before or after an edge the attempts are aimed. The attempt's own
# time (its score in Redis) is checked afterwards, so a slow request fails
# the check with a clear reason instead of testing the wrong side.
MARGIN_US = 250_000
# The pause between a client's first attempt and its next two.
SPREAD_S = 0.6

MODULE = Module("window edges", env={"RATE_LIMIT_WEBHOOK_INGEST": f"{LIMIT}/{WINDOW_S}"})


def wait_for_redis_time(ctx, target_us):
    """Sleep until Redis's clock reads at least target_us."""
    while True:
        remaining_us = target_us - ctx.redis.time_us()
        if remaining_us <= 0:
            return
        time.sleep(min(remaining_us / 1e6, 0.5))


def newest_score(ctx, client):
    return ctx.zset(redis_key(client))[-1][1]


def send_three(ctx, transport, path, clients):
    """Send one attempt per client, wait SPREAD_S, then two more per client; all must be accepted.

    Returns each client's scores (microseconds), oldest first."""
    for client in clients:
        expect_equal(post(transport, path, client).status, 202, f"{client}: attempt 1")
    time.sleep(SPREAD_S)
    for client in clients:
        for attempt in (2, 3):
            expect_equal(post(transport, path, client).status, 202, f"{client}: attempt {attempt}")
    scores = {}
    for client in clients:
        scores[client] = [score for _, score in ctx.zset(redis_key(client))]
        expect_equal(len(scores[client]), LIMIT, f"{client}: members after three attempts")
    return scores


def expected_retry_after(oldest_kept_us, now_us):
    """Return Retry-After as the limiter computes it.

    That is the whole seconds, rounded up and at least 1, until oldest_kept_us leaves the window."""
    reset_ms = math.ceil((oldest_kept_us + WINDOW_US - now_us) / 1000)
    return max(1, math.ceil(reset_ms / 1000))


@MODULE.both("edges of a 2 s window")
def window_edges(mode, ctx):
    world = ctx.world()
    inside, after = "203.0.113.30", "203.0.113.31"
    with ctx.transport(mode) as transport:
        scores = send_three(ctx, transport, world.path(), [inside, after])

        # Just inside the window of the first attempt: rejected.
        edge = scores[inside][0] + WINDOW_US
        wait_for_redis_time(ctx, edge - MARGIN_US)
        rejected = post(transport, world.path(), inside)
        rejected_at = newest_score(ctx, inside)
        if rejected_at >= edge:
            raise CheckFailed(f"the attempt aimed {MARGIN_US // 1000} ms inside the window reached Redis "
                              f"{(rejected_at - edge) / 1000:.0f} ms after the edge; the machine is too slow "
                              "for this check")
        expect_equal(rejected.status, 429, f"attempt {(edge - rejected_at) / 1000:.0f} ms inside the window")

        # Just after the first attempt leaves the window: allowed, while the
        # other two still count.
        edge = scores[after][0] + WINDOW_US
        wait_for_redis_time(ctx, edge + MARGIN_US)
        allowed = post(transport, world.path(), after)
        allowed_at = newest_score(ctx, after)
        expect(allowed_at < scores[after][1] + WINDOW_US,
               "the attempt after the first edge came so late that the second attempt had left too")
        expect_equal(allowed.status, 202, f"attempt {(allowed_at - edge) / 1000:.0f} ms after the window")

        # Retry-After of the rejection: whole seconds, at least 1, enough to wait.
        retry_after = rejected.header("Retry-After")
        expect(retry_after is not None and retry_after.isdigit(),
               f"Retry-After is not a whole number of seconds: {retry_after!r}")
        retry_after = int(retry_after)
        expect(1 <= retry_after <= WINDOW_S, f"Retry-After {retry_after} is outside 1..{WINDOW_S}")
        # The rejection dropped the first attempt, so the second is the oldest kept.
        expect_equal(retry_after, expected_retry_after(scores[inside][1], rejected_at),
                     "Retry-After computed from the stored attempt times")
        wait_for_redis_time(ctx, rejected_at + retry_after * 1_000_000)
        expect_equal(post(transport, world.path(), inside).status, 202,
                     f"attempt {retry_after} s (Retry-After) after the rejection")


@MODULE.cgi("rejections keep a client blocked")
def sustained_rejections(mode, ctx):
    world = ctx.world()
    client = "203.0.113.32"
    with ctx.transport(mode) as transport:
        for attempt in range(1, LIMIT + 1):
            expect_equal(post(transport, world.path(), client).status, 202, f"attempt {attempt}")
        # Rejected attempts are recorded, so a client that keeps trying
        # stays blocked past the window of its accepted attempts.
        deadline = time.monotonic() + WINDOW_S + 1
        rejected = 0
        while time.monotonic() < deadline:
            expect_equal(post(transport, world.path(), client).status, 429,
                         f"attempt {LIMIT + rejected + 1} while retrying every 0.2 s")
            rejected += 1
            time.sleep(0.2)
        expect_equal(len(ctx.zset(redis_key(client))), LIMIT, "members kept while rejected")

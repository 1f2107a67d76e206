"""One limit, held exactly by every process that shares one Redis: four
FastCGI processes of one lighttpd, two lighttpd instances ("two hosts") and
plain CGI runs, under concurrent bursts."""

from context import (burst_on_every_process, expect_status_counts, member_process, parallel_posts,
                     post, redis_key, wait_for_processes)
from harness import expect, expect_equal
from stored import expect_deliveries
from suite import Module

LIMIT = 10
BURST = 20
PROCS = 4

MODULE = Module("exact limits", env={"RATE_LIMIT_WEBHOOK_INGEST": f"{LIMIT}/60"})


def writer_processes(ctx, key):
    """Return the (random prefix, pid) pairs of the processes that wrote the members of key."""
    return {member_process(member) for member, _ in ctx.zset(key)}


def expect_written_by(ctx, key, pids, label):
    """Check that every member of key was written by one of pids."""
    writers = {pid for _, pid in writer_processes(ctx, key)}
    expect(writers <= set(pids), f"{label}: members written by pids {sorted(writers)}, "
                                 f"but the FastCGI pids are {sorted(pids)}")


@MODULE.fcgi("burst over 4 processes accepts exactly 10")
def burst_over_processes(mode, ctx):
    world = ctx.world()
    client = "203.0.113.20"
    with ctx.transport(mode, procs=PROCS) as server:
        pids = wait_for_processes(server, PROCS)
        responses, waiting = burst_on_every_process(ctx, server, world, client, BURST, PROCS)
        expect_equal(waiting, PROCS, "processes holding an accepted delivery at once")
        expect_status_counts(responses, {202: LIMIT, 429: BURST - LIMIT}, "burst of 20")
        expect_equal(len(ctx.zset(redis_key(client))), LIMIT, "members kept for the client")
        expect_written_by(ctx, redis_key(client), pids, "burst of 20")
    expect_deliveries(ctx.db, LIMIT)


@MODULE.fcgi("two hosts share one limit")
def two_hosts(mode, ctx):
    world = ctx.world()
    with ctx.transport(mode, procs=2) as first, ctx.transport(mode, procs=2) as second:
        expect(first.port != second.port, "both lighttpd instances listen on one port")

        # In turn: half the limit through each host, then one more through each.
        client = "203.0.113.21"
        for index in range(LIMIT):
            host = first if index % 2 == 0 else second
            response = post(host, world.path(), client)
            expect_equal(response.status, 202, f"request {index + 1} through host {index % 2 + 1}")
        expect_equal(post(first, world.path(), client).status, 429, "request 11 through host 1")
        expect_equal(post(second, world.path(), client).status, 429, "request 12 through host 2")

        # At once: 20 requests of a new client, alternating between the hosts.
        client = "203.0.113.22"
        responses = parallel_posts([first, second], world.path(), client, BURST)
        expect_status_counts(responses, {202: LIMIT, 429: BURST - LIMIT}, "burst of 20 over two hosts")
        by_host = [[r.status for r in responses if r.via == host] for host in (0, 1)]
        expect(all(len(statuses) == BURST // 2 for statuses in by_host),
               f"responses per host: {[len(s) for s in by_host]}")
        expect_equal(len(ctx.zset(redis_key(client))), LIMIT, "members kept for the burst client")
        pids = wait_for_processes(first, 2) + wait_for_processes(second, 2)
        expect_written_by(ctx, redis_key(client), pids, "burst over two hosts")
    expect_deliveries(ctx.db, 2 * LIMIT)


@MODULE.cgi("20 parallel runs accept exactly 10")
def cgi_burst(mode, ctx):
    world = ctx.world()
    client = "203.0.113.23"
    with ctx.transport(mode) as cgi:
        responses = parallel_posts([cgi], world.path(), client, BURST)
    expect_status_counts(responses, {202: LIMIT, 429: BURST - LIMIT}, "burst of 20 CGI runs")
    # Each run is its own process, so the kept members name LIMIT processes.
    expect_equal(len(writer_processes(ctx, redis_key(client))), LIMIT,
                 "processes that wrote the kept members")
    expect_deliveries(ctx.db, LIMIT)


@MODULE.both("every attempt is its own member")
def one_member_per_attempt(mode, ctx):
    world = ctx.world()
    client = "203.0.113.24"
    # Below the limit nothing is dropped, so every attempt of the burst
    # must be there, even those decided in the same microsecond.
    with ctx.transport(mode, {"RATE_LIMIT_WEBHOOK_INGEST": "50/60"}) as transport:
        responses = parallel_posts([transport], world.path(), client, BURST)
    expect_status_counts(responses, {202: BURST}, "burst of 20 under a limit of 50")
    members = ctx.zset(redis_key(client))
    expect_equal(len(members), BURST, "members after 20 attempts")
    expect_equal(len({member for member, _ in members}), BURST, "distinct members")

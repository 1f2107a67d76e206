"""Redis failures during requests: a closed port, a server that never
replies, a key of the wrong type, a crash and restart, a flushed script
cache and a wrong password. Every response must come within the timeout
and be a normal one: the request is allowed (RATE_LIMIT_FAIL_OPEN=true) or
rejected with 503 (false). The failure is logged as a throttled warning
that names the redis store and never the password."""

import re
import secrets
import time

from context import (FAULT_RESPONSE_S, FAULT_TIMEOUT_MS, REDIS_DB, burst_on_every_process,
                     expect_no_5xx, expect_responded_within, expect_status_counts, member_process,
                     parallel_posts, post, redis_key, wait_for_processes)
from harness import LOGBOOK, CheckFailed, expect, expect_equal
from redis_server import RedisServer, SilentListener, closed_port
from stored import expect_error, expect_retry_after
from suite import Module

LIMIT = 10
PROCS = 4
STORE_WARNING = "redis rate-limit store failed"
# Requests sent one after another while a store keeps failing, to count warnings.
WARNING_RUN_S = 3
WARNING_RUN_MAX_REQUESTS = 60
RECOVERY_WAIT_S = 10

MODULE = Module("redis faults", env={"RATE_LIMIT_WEBHOOK_INGEST": f"{LIMIT}/60"})

LOG_PID = re.compile(r"webhook-ingest\[(\d+)\]")


def fault_env(url, fail_open=True):
    return {"RATE_LIMIT_REDIS_URL": url, "RATE_LIMIT_TIMEOUT_MS": FAULT_TIMEOUT_MS,
            "RATE_LIMIT_FAIL_OPEN": "true" if fail_open else "false"}


def new_redis(ctx, name, start=True):
    """Return a password-protected redis-server of the check's own, which the check may kill.

    With start=False only its port is chosen, so its URL is known before it runs."""
    password = "own-pw-" + secrets.token_hex(12)
    server = RedisServer(ctx.root, f"{name}-{secrets.token_hex(4)}", password=password)
    LOGBOOK.add_secret(password)
    if start:
        server.start()
    else:
        server.prepare()
    return server


def expect_fault_responses(transport, path, fail_open, label, requests=3):
    """Send requests from one client while the store fails, and check each response."""
    logs = []
    for index in range(requests):
        response = post(transport, path, "203.0.113.60")
        name = f"{label}, request {index + 1}"
        expect_responded_within(response, FAULT_RESPONSE_S, name)
        if fail_open:
            expect_equal(response.status, 202, f"{name}: status with RATE_LIMIT_FAIL_OPEN=true")
        else:
            expect_error(response, 503)
            expect_retry_after(response, 3600)
        logs.append(response.log)
    log = "".join(logs)
    expect(STORE_WARNING in log, f"{label}: no warning names the redis store: {log.strip()[-300:]!r}")
    return log


@MODULE.both("closed port fails open")
def closed_port_open(mode, ctx):
    world = ctx.world()
    url = f"redis://:{ctx.redis.password}@127.0.0.1:{closed_port()}/{REDIS_DB}"
    with ctx.transport(mode, fault_env(url)) as transport:
        log = expect_fault_responses(transport, world.path(), True, "closed port")
    expect(ctx.redis.password not in log, "a log line shows the Redis password")


@MODULE.both("closed port fails closed")
def closed_port_closed(mode, ctx):
    world = ctx.world()
    url = f"redis://127.0.0.1:{closed_port()}/{REDIS_DB}"
    with ctx.transport(mode, fault_env(url, fail_open=False)) as transport:
        expect_fault_responses(transport, world.path(), False, "closed port")


@MODULE.both("silent server fails open")
def silent_server_open(mode, ctx):
    world = ctx.world()
    with SilentListener() as listener:
        # No password: the connect succeeds and SCRIPT LOAD waits for a reply.
        url = f"redis://127.0.0.1:{listener.port}/{REDIS_DB}"
        with ctx.transport(mode, fault_env(url)) as transport:
            expect_fault_responses(transport, world.path(), True, "silent server")
        expect(listener.accepted >= 1, "the program never connected to the silent server")


@MODULE.both("silent server fails closed")
def silent_server_closed(mode, ctx):
    world = ctx.world()
    with SilentListener() as listener:
        # With a password the connect succeeds and AUTH waits for a reply.
        url = f"redis://:{ctx.redis.password}@127.0.0.1:{listener.port}/{REDIS_DB}"
        with ctx.transport(mode, fault_env(url, fail_open=False)) as transport:
            log = expect_fault_responses(transport, world.path(), False, "silent server with AUTH")
        expect(listener.accepted >= 1, "the program never connected to the silent server")
    expect(ctx.redis.password not in log, "a log line shows the Redis password")


@MODULE.both("wrong type under the key")
def wrong_type(mode, ctx):
    world = ctx.world()
    client = "203.0.113.61"
    ctx.redis.call("SET", redis_key(client), "x", db=REDIS_DB)
    for fail_open in (True, False):
        env = {"RATE_LIMIT_TIMEOUT_MS": FAULT_TIMEOUT_MS, "RATE_LIMIT_FAIL_OPEN": str(fail_open).lower()}
        with ctx.transport(mode, env) as transport:
            response = post(transport, world.path(), client)
            label = f"string under the key, RATE_LIMIT_FAIL_OPEN={env['RATE_LIMIT_FAIL_OPEN']}"
            expect_responded_within(response, FAULT_RESPONSE_S, label)
            if fail_open:
                expect_equal(response.status, 202, label)
            else:
                expect_error(response, 503)
            expect(STORE_WARNING in response.log and "WRONGTYPE" in response.log,
                   f"{label}: no warning names the store and WRONGTYPE: {response.log.strip()[-300:]!r}")
            # The connection stays usable: another client is limited as usual.
            other = f"203.0.113.{62 + int(fail_open)}"
            statuses = [post(transport, world.path(), other).status for _ in range(LIMIT + 1)]
            expect_equal(statuses, [202] * LIMIT + [429], f"{label}: another client's statuses")
    expect_equal(ctx.redis.call("GET", redis_key(client), db=REDIS_DB), "x", "value under the key")


@MODULE.fcgi("Redis restart without restarting lighttpd")
def restart(mode, ctx):
    world = ctx.world()
    own = new_redis(ctx, "redis-restart")
    try:
        with ctx.transport(mode, {"RATE_LIMIT_REDIS_URL": own.url(REDIS_DB)}, procs=PROCS) as server:
            lighttpd_pid = server.process.pid
            pids = wait_for_processes(server, PROCS)
            expect_status_counts(parallel_posts([server], world.path(), "203.0.113.64", 8), {202: 8},
                                 "before the crash")

            own.kill()
            during = parallel_posts([server], world.path(), "203.0.113.65", 12)
            expect_status_counts(during, {202: 12}, "while Redis is down")
            for index, response in enumerate(during):
                expect_responded_within(response, FAULT_RESPONSE_S,
                                        f"request {index + 1} while Redis is down")

            own.start()
            _wait_until_every_process_records(ctx, own, server, world, pids)
            after = parallel_posts([server], world.path(), "203.0.113.66", 2 * LIMIT)
            expect_status_counts(after, {202: LIMIT, 429: LIMIT}, "burst of 20 after the restart")

            expect(server.process.poll() is None, "lighttpd stopped during the outage")
            expect_equal(server.process.pid, lighttpd_pid, "lighttpd pid after the restart")
            expect_equal(server.fastcgi_pids(), pids, "FastCGI pids after the restart")
            log = server.log_text()
        expect(STORE_WARNING in log, "no warning names the redis store during the outage")
        expect(own.password not in log, "a log line shows the Redis password")
    finally:
        own.stop()


def _wait_until_every_process_records(ctx, own, server, world, pids):
    """Send bursts that reach every FastCGI process until each has written to the restarted Redis.

    A process backs off for 1 s after a failed connect, and one that served
    nothing during the outage finds its dead connection on its next request,
    which is allowed unrecorded. After this, every process counts."""
    seen = set()
    offsets = server.log_offsets()
    deadline = time.monotonic() + RECOVERY_WAIT_S
    round_number = 0
    while time.monotonic() < deadline and not set(pids) <= seen:
        round_number += 1
        client = f"198.51.100.{round_number}"
        responses, _ = burst_on_every_process(ctx, server, world, client, 2 * len(pids), len(pids))
        for response in responses:
            expect_no_5xx(response, f"recovery round {round_number}")
        flat = own.call("ZRANGE", redis_key(client), 0, -1, db=REDIS_DB)
        seen |= {pid for _, pid in (member_process(member) for member in flat)}
        time.sleep(0.2)
    if not set(pids) <= seen:
        # The deliveries and warnings per process separate a process that
        # got no requests from one that kept failing.
        log = server.log_text(offsets)
        raise CheckFailed(f"after {round_number} rounds in {RECOVERY_WAIT_S} s only pids {sorted(seen)} "
                          f"of {pids} wrote to the restarted Redis; deliveries stored per pid: "
                          f"{lines_per_pid(log, 'stored payload')}, store warnings per pid: "
                          f"{lines_per_pid(log, STORE_WARNING)}, last log line: "
                          f"{log.strip().splitlines()[-1:]}")


@MODULE.fcgi("Redis down at start, then up")
def down_at_start(mode, ctx):
    world = ctx.world()
    own = new_redis(ctx, "redis-late", start=False)
    try:
        with ctx.transport(mode, {"RATE_LIMIT_REDIS_URL": own.url(REDIS_DB)}, procs=2) as server:
            pids = wait_for_processes(server, 2)
            for index in range(3):
                response = post(server, world.path(), "203.0.113.72")
                label = f"request {index + 1} before Redis starts"
                expect_responded_within(response, FAULT_RESPONSE_S, label)
                expect_equal(response.status, 202, label)
            starts = lines_per_pid(server.log_text(), "Redis is unreachable at start")
            expect_equal(sorted(starts), sorted(str(pid) for pid in pids),
                         "processes that logged the unreachable Redis at start")

            own.start()
            _wait_until_every_process_records(ctx, own, server, world, pids)
            after = parallel_posts([server], world.path(), "203.0.113.73", 2 * LIMIT)
            expect_status_counts(after, {202: LIMIT, 429: LIMIT}, "burst of 20 once Redis runs")
            expect_equal(server.fastcgi_pids(), pids, "FastCGI pids")
    finally:
        own.stop()


@MODULE.cgi("Redis restart between runs")
def restart_cgi(mode, ctx):
    world = ctx.world()
    own = new_redis(ctx, "redis-restart-cgi")
    try:
        with ctx.transport(mode, {"RATE_LIMIT_REDIS_URL": own.url(REDIS_DB),
                                  "RATE_LIMIT_TIMEOUT_MS": FAULT_TIMEOUT_MS}) as cgi:
            own.kill()
            response = post(cgi, world.path(), "203.0.113.67")
            expect_responded_within(response, FAULT_RESPONSE_S, "run while Redis is down")
            expect_equal(response.status, 202, "run while Redis is down")
            expect("Redis is unreachable at start" in response.log,
                   f"no error names the unreachable Redis: {response.log.strip()[-300:]!r}")
            own.start()
            statuses = [post(cgi, world.path(), "203.0.113.68").status for _ in range(LIMIT + 1)]
            expect_equal(statuses, [202] * LIMIT + [429], "runs after the restart")
    finally:
        own.stop()


@MODULE.fcgi("SCRIPT FLUSH mid-run keeps counting")
def script_flush(mode, ctx):
    world = ctx.world()
    client = "203.0.113.69"
    limit = 3 * PROCS
    with ctx.transport(mode, {"RATE_LIMIT_WEBHOOK_INGEST": f"{limit}/60"}, procs=PROCS) as server:
        wait_for_processes(server, PROCS)
        # Every process loads the script and decides attempts, then SCRIPT
        # FLUSH empties the server's script cache. The first processes to
        # call EVALSHA afterwards get NOSCRIPT and load the script again,
        # which puts it back for the others.
        first, waiting = burst_on_every_process(ctx, server, world, client, 2 * PROCS, PROCS)
        expect_equal(waiting, PROCS, "processes holding a delivery before SCRIPT FLUSH")
        expect_status_counts(first, {202: 2 * PROCS}, "before SCRIPT FLUSH")
        expect_equal(ctx.redis.call("SCRIPT", "FLUSH"), "OK", "SCRIPT FLUSH")
        expect_equal(ctx.redis.call("CONFIG", "RESETSTAT"), "OK", "CONFIG RESETSTAT")
        second, waiting = burst_on_every_process(ctx, server, world, client, 2 * PROCS, PROCS)
        expect_equal(waiting, PROCS, "processes holding a delivery after SCRIPT FLUSH")
        expect_status_counts(second, {202: PROCS, 429: PROCS}, "after SCRIPT FLUSH")
        log = server.log_text()
    stats = ctx.redis.call("INFO", "commandstats")
    # Redis 7 reports SCRIPT LOAD as the subcommand "script|load".
    loads = re.search(r"cmdstat_script\|load:calls=(\d+)", stats)
    load_calls = int(loads.group(1)) if loads else 0
    expect(1 <= load_calls <= PROCS, f"{load_calls} SCRIPT LOAD calls after SCRIPT FLUSH, expected 1 to {PROCS}")
    expect(STORE_WARNING not in log, "a NOSCRIPT reply was treated as a store failure")
    expect_equal(len(ctx.zset(redis_key(client))), limit, f"members after {4 * PROCS} attempts")


def send_for_a_while(transport, path):
    """Send requests one after another for WARNING_RUN_S seconds; return the responses."""
    responses = []
    deadline = time.monotonic() + WARNING_RUN_S
    while time.monotonic() < deadline and len(responses) < WARNING_RUN_MAX_REQUESTS:
        responses.append(post(transport, path, "203.0.113.70"))
        time.sleep(0.05)
    return responses


def lines_per_pid(log, text):
    """Count, per process id, the log lines that contain text."""
    counts = {}
    for line in log.splitlines():
        match = LOG_PID.search(line)
        if match and text in line:
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


@MODULE.fcgi("failure warning throttled per process")
def warning_throttle(mode, ctx):
    world = ctx.world()
    url = f"redis://127.0.0.1:{closed_port()}/{REDIS_DB}"
    with ctx.transport(mode, fault_env(url), procs=2) as server:
        offsets = server.log_offsets()
        responses = send_for_a_while(server, world.path())
        log = server.log_text(offsets)
    for index, response in enumerate(responses):
        expect_equal(response.status, 202, f"request {index + 1} of {len(responses)}")
    warnings = lines_per_pid(log, STORE_WARNING)
    expect(warnings, "no store warning during the run")
    expect(all(count == 1 for count in warnings.values()),
           f"store warnings per process in {WARNING_RUN_S} s of {len(responses)} requests: {warnings}")


@MODULE.fcgi("wrong password logged at most once per process")
def wrong_password_throttle(mode, ctx):
    world = ctx.world()
    wrong = "wrong-pw-" + secrets.token_hex(12)
    LOGBOOK.add_secret(wrong)
    url = f"redis://:{wrong}@127.0.0.1:{ctx.redis.port}/{REDIS_DB}"
    with ctx.transport(mode, fault_env(url), procs=1) as server:
        # Lines logged at start (the rejected AUTH, "unreachable at start") are
        # a start's report; only lines logged while serving count.
        offsets = server.log_offsets()
        responses = send_for_a_while(server, world.path())
        log = server.log_text(offsets)
    for index, response in enumerate(responses):
        expect_equal(response.status, 202, f"request {index + 1} of {len(responses)}")
    # lighttpd also starts the other programs, whose start-up reports can
    # land in the window; only the webhook-ingest process serving counts.
    redis_lines = [line for line in log.splitlines()
                   if LOG_PID.search(line) and (" redis " in line or STORE_WARNING in line)]
    expect(redis_lines, "no warning names the redis store")
    expect(len(redis_lines) <= 1,
           f"{len(redis_lines)} lines about the redis store in {WARNING_RUN_S} s of {len(responses)} "
           f"requests from one process, first two: {[line[25:160] for line in redis_lines[:2]]}")
    expect(wrong not in log and ctx.redis.password not in log, "a log line shows a Redis password")


@MODULE.cgi("AUTH failure warning names the cause")
def auth_failure_reason(mode, ctx):
    world = ctx.world()
    wrong = "wrong-pw-" + secrets.token_hex(12)
    LOGBOOK.add_secret(wrong)
    url = f"redis://:{wrong}@127.0.0.1:{ctx.redis.port}/{REDIS_DB}"
    with ctx.transport(mode, fault_env(url)) as cgi:
        response = post(cgi, world.path(), "203.0.113.71")
    expect_equal(response.status, 202, "status with a wrong password")
    warning = next((line for line in response.log.splitlines() if STORE_WARNING in line), None)
    expect(warning is not None, f"no store warning: {response.log.strip()[-300:]!r}")
    reason = warning.split(STORE_WARNING + ":", 1)[1]
    expect("AUTH" in reason or "WRONGPASS" in reason,
           f"the warning does not say that AUTH failed: {reason.strip()[:160]!r}")

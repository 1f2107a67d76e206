"""mc-edge-admin check-limiter: exit status 0 when the configured store
responds, 1 when it does not, for deploy scripts."""

import subprocess
import time

from context import FAULT_TIMEOUT_MS, REDIS_DB
from harness import LOGBOOK, CheckFailed, expect, expect_equal
from redis_server import SilentListener, closed_port
from suite import Module

MODULE = Module("admin check-limiter")

RUN_TIMEOUT_S = 30
# The check makes one connect and one or two commands, each bounded by
# RATE_LIMIT_TIMEOUT_MS (50 ms here), plus the tool's start.
SILENT_RUN_MAX_S = 2.0


class AdminRun:
    def __init__(self, status, output, elapsed_s):
        self.status = status
        self.output = output
        self.elapsed_s = elapsed_s


def check_limiter(ctx, env):
    """Run mc-edge-admin check-limiter with the check's settings plus env."""
    variables = {"PATH": "/usr/bin:/bin", "DATABASE_URL": ctx.db.url}
    variables.update(ctx.env(env))
    variables = {name: value for name, value in variables.items() if value is not None}
    started = time.monotonic()
    try:
        result = subprocess.run([str(ctx.admin), "check-limiter"], env=variables, capture_output=True,
                                text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"mc-edge-admin check-limiter did not finish within {RUN_TIMEOUT_S} s") from None
    output = result.stdout + result.stderr
    LOGBOOK.add("mc-edge-admin check-limiter", output)
    return AdminRun(result.returncode, output, time.monotonic() - started)


def expect_exit(run, status, label):
    expect(run.status == status, f"{label}: exit status {run.status}, expected {status}; "
                                 f"output: {run.output.strip()[-300:]!r}")


@MODULE.plain("redis up exits 0")
def redis_up(ctx):
    run = check_limiter(ctx, {})
    expect_exit(run, 0, "Redis running")
    expect("limiter: ok (redis store answered)" in run.output, f"output: {run.output.strip()!r}")
    keys = ctx.redis.call("KEYS", "ratelimit:admin-check:*", db=REDIS_DB)
    expect_equal(len(keys), 1, "probe keys in the URL's database")
    expect(ctx.redis.password not in run.output, "the output shows the Redis password")


@MODULE.plain("redis closed port exits 1")
def redis_closed_port(ctx):
    url = f"redis://:{ctx.redis.password}@127.0.0.1:{closed_port()}/{REDIS_DB}"
    run = check_limiter(ctx, {"RATE_LIMIT_REDIS_URL": url, "RATE_LIMIT_TIMEOUT_MS": FAULT_TIMEOUT_MS})
    expect_exit(run, 1, "closed port")
    expect("limiter: FAILED (redis store" in run.output, f"output: {run.output.strip()!r}")
    expect(ctx.redis.password not in run.output, "the output shows the Redis password")


@MODULE.plain("redis silent server exits 1")
def redis_silent(ctx):
    with SilentListener() as listener:
        url = f"redis://127.0.0.1:{listener.port}/{REDIS_DB}"
        run = check_limiter(ctx, {"RATE_LIMIT_REDIS_URL": url, "RATE_LIMIT_TIMEOUT_MS": FAULT_TIMEOUT_MS})
    expect_exit(run, 1, "silent server")
    expect(run.elapsed_s < SILENT_RUN_MAX_S,
           f"check-limiter took {run.elapsed_s:.2f} s with RATE_LIMIT_TIMEOUT_MS={FAULT_TIMEOUT_MS}")


@MODULE.plain("postgres up exits 0")
def postgres_up(ctx):
    run = check_limiter(ctx, {"RATE_LIMIT_BACKEND": "postgres"})
    expect_exit(run, 0, "PostgreSQL running")
    expect("limiter: ok (postgres store answered)" in run.output, f"output: {run.output.strip()!r}")


@MODULE.plain("postgres down exits 1")
def postgres_down(ctx):
    # A socket folder without a server in it is what a stopped server leaves.
    stopped = ctx.root / "no-postgres-here"
    stopped.mkdir(exist_ok=True)
    url = f"postgresql://edge:unused@/edge?host={stopped}"
    run = check_limiter(ctx, {"RATE_LIMIT_BACKEND": "postgres", "DATABASE_URL": url})
    expect_exit(run, 1, "PostgreSQL stopped")
    expect("limiter: FAILED (postgres store" in run.output, f"output: {run.output.strip()!r}")

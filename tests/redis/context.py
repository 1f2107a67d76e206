"""What the Redis checks share: settings, transports, parallel requests and
reading the limiter's sorted sets back from Redis.

Clients are named by X-Forwarded-For from the trusted loopback peer, so plain
CGI and lighttpd see the same client. The Redis key of client C on
webhook-ingest is "ratelimit:webhook-ingest:C".
"""

import threading
import time
from contextlib import contextmanager

import psycopg2

from harness import (NULL_SECRET, CgiTransport, CheckFailed, LighttpdServer, expect, expect_equal,
                     seed_world)

# The database number in the shared URL, so every check also shows that the
# number in the URL selects the database.
REDIS_DB = 3

# Long enough that the exactness checks measure counting, not scheduling on
# a busy machine. The fault checks set their own short timeout.
COUNTING_TIMEOUT_MS = "2000"
FAULT_TIMEOUT_MS = "50"
# How long a burst may take to put one accepted delivery in every process.
LOCK_WAIT_S = 10

# Upper bound for one response while the store fails with FAULT_TIMEOUT_MS:
# the timeout plus process start, the PostgreSQL work of the request and curl.
FAULT_RESPONSE_S = 1.0

WEBHOOK_PREFIX = "ratelimit:webhook-ingest:"


def redis_key(client, webhook_id=None):
    """Return the Redis key that webhook-ingest uses for client (and webhook_id with ip+webhook)."""
    key = WEBHOOK_PREFIX + client
    if webhook_id is not None:
        key += ":" + webhook_id
    return key


def member_process(member):
    """Return the (random prefix, pid) pair that names the process which wrote member.

    A member is "<microseconds>-<12 hex digits>-<pid>-<counter>"; the hex
    digits are random per process, so the pair is unique per process."""
    parts = member.split("-")
    if len(parts) != 4 or not all(part.isdigit() for part in (parts[0], parts[2], parts[3])):
        raise CheckFailed(f"limiter member {member!r} is not <microseconds>-<hex>-<pid>-<counter>")
    return parts[1], int(parts[2])


class RedisContext:
    """The shared PostgreSQL and Redis, the binaries and the check's settings."""

    def __init__(self, module, database, redis, binary, admin, root):
        self.module = module
        self.db = database
        self.redis = redis
        self.binary = binary
        self.admin = admin
        self.root = root

    def env(self, overrides=None):
        """Return the programs' environment: the Redis limiter on the shared server, then overrides."""
        env = {
            "RATE_LIMIT_BACKEND": "redis",
            "RATE_LIMIT_REDIS_URL": self.redis.url(REDIS_DB),
            "RATE_LIMIT_TIMEOUT_MS": COUNTING_TIMEOUT_MS,
            "TRUSTED_PROXIES": "127.0.0.1/32",
        }
        env.update(self.module.env)
        env.update(overrides or {})
        return env

    def world(self):
        """Seed a board with a webhook that needs no signature."""
        return seed_world(self.db, secret=NULL_SECRET)

    def cgi(self, env=None):
        # None unsets a variable; CgiTransport drops None only from per-request settings.
        settings = {name: value for name, value in self.env(env).items() if value is not None}
        return CgiTransport(self.binary, self.db.url, settings)

    def server(self, env=None, procs=4, label=None):
        """Return an unstarted lighttpd with the check's settings, for a with statement."""
        return LighttpdServer(self.root, self.binary, self.db.url, self.env(env), procs,
                              label=label or self.module.title)

    @contextmanager
    def transport(self, mode, env=None, procs=4):
        """Yield a plain CGI transport, or a started lighttpd that is stopped and checked after the block."""
        if mode == "cgi":
            yield self.cgi(env)
            return
        with self.server(env, procs) as server:
            yield server

    def zset(self, key, db=REDIS_DB):
        """Return the (member, score in microseconds) pairs of key, oldest first."""
        flat = self.redis.call("ZRANGE", key, 0, -1, "WITHSCORES", db=db)
        return [(flat[index], int(flat[index + 1])) for index in range(0, len(flat), 2)]


def wait_for_processes(server, count, timeout_s=10):
    """Return the pids of server's FastCGI processes once count of them run.

    lighttpd listens before every process it forks has started the program
    (sanitizer builds start slowly), so an early count can be short."""
    deadline = time.monotonic() + timeout_s
    pids = server.fastcgi_pids()
    while len(pids) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = server.fastcgi_pids()
    expect_equal(len(pids), count, f"FastCGI processes running after {timeout_s} s")
    return pids


def post(transport, path, client, body=b"{}", timeout_s=None):
    """Send one delivery from client (an X-Forwarded-For value)."""
    options = {} if timeout_s is None else {"timeout_s": timeout_s}
    return transport.send(path=path, body=body, headers=[("X-Forwarded-For", client)], **options)


def parallel_posts(transports, path, client, count):
    """Send count deliveries from client at once, spread over transports in turn.

    Returns the responses in request order, each with a .via attribute naming
    the transport index that carried it."""
    responses = [None] * count
    errors = []
    start = threading.Barrier(count)

    def send(slot):
        transport = transports[slot % len(transports)]
        try:
            start.wait(timeout=30)
            response = post(transport, path, client, body=f'{{"n": {slot}}}'.encode())
            response.via = slot % len(transports)
            responses[slot] = response
        except Exception as error:  # reported below, with the slot
            errors.append(f"request {slot}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    expect(not errors, f"{len(errors)} of {count} parallel requests failed, first: {errors[:1]}")
    expect(all(response is not None for response in responses), "a parallel request did not finish")
    return responses


def status_counts(responses):
    counts = {}
    for response in responses:
        counts[response.status] = counts.get(response.status, 0) + 1
    return counts


def expect_status_counts(responses, expected, label):
    expect_equal(status_counts(responses), expected, f"{label}: responses by status")


def expect_responded_within(response, seconds, label):
    expect(response.elapsed_s < seconds,
           f"{label}: the response took {response.elapsed_s:.2f} s, more than {seconds} s")


def expect_no_5xx(response, label):
    expect(response.status < 500, f"{label}: expected a status below 500, got {response.describe()}")


def burst_on_every_process(ctx, server, world, client, count, procs):
    """Send count deliveries at once so that each of procs FastCGI processes takes one.

    lighttpd hands a request to the least busy process, and under load it
    sends most quick requests to the same few. While the webhook row is
    locked, an accepted delivery waits in its process when it stores the
    payload (the foreign key check), so the next requests go to the other
    processes. The lock is released once procs deliveries wait on it.
    Returns (responses, number of deliveries that waited at once)."""
    blocker = psycopg2.connect(ctx.db.url, connect_timeout=10)
    outcome = {}

    def send():
        try:
            outcome["responses"] = parallel_posts([server], world.path(), client, count)
        except Exception as error:  # reported below
            outcome["error"] = f"{type(error).__name__}: {error}"

    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT 1 FROM board_webhooks WHERE id = %s FOR UPDATE", (world.webhook.id,))
        sender = threading.Thread(target=send)
        sender.start()
        waiting = _wait_for_lock_waiters(ctx, procs)
        blocker.rollback()
        sender.join(timeout=90)
    finally:
        blocker.close()
    expect("responses" in outcome, f"the burst did not finish: {outcome.get('error')}")
    return outcome["responses"], waiting


def _wait_for_lock_waiters(ctx, expected):
    """Wait until expected payload inserts wait on a row lock; return how many did."""
    deadline = time.monotonic() + LOCK_WAIT_S
    waiting = 0
    while time.monotonic() < deadline and waiting < expected:
        waiting = ctx.db.query(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO board_webhook_payloads%%'")[0][0]
        time.sleep(0.05)
    return waiting

"""Redis settings: URL forms, the RQ_REDIS_URL fallback, unix sockets,
database numbers, credentials, and URLs the suite cannot serve (a
configuration error: 500 "Server misconfigured" in plain CGI, with a log
line that names the variable and never the password)."""

import secrets
from urllib.parse import quote

from context import REDIS_DB, post, redis_key
from harness import LOGBOOK, expect, expect_equal
from redis_server import RedisServer, closed_port
from stored import expect_error
from suite import Module

LIMIT = 3

MODULE = Module("redis settings", env={"RATE_LIMIT_WEBHOOK_INGEST": f"{LIMIT}/60"})

URL_VARIABLE = "RATE_LIMIT_REDIS_URL"
STORE_WARNING = "redis rate-limit store failed"


def expect_misconfigured(response, label):
    expect_error(response, 500, "Server misconfigured")
    expect(URL_VARIABLE in response.log,
           f"{label}: no log line names {URL_VARIABLE}: {response.log.strip()!r}")


def expect_limited(transport, path, client, label):
    """Send LIMIT + 1 deliveries from client and check that only the last is rejected."""
    statuses = [post(transport, path, client).status for _ in range(LIMIT + 1)]
    expect_equal(statuses, [202] * LIMIT + [429], f"{label}: statuses")


def keys_by_database(redis):
    """Return {database number: keys} for the databases that hold keys."""
    found = {}
    for db in range(16):
        keys = redis.call("KEYS", "*", db=db)
        if keys:
            found[db] = sorted(keys)
    return found


def own_redis(ctx, name, password=None):
    server = RedisServer(ctx.root, f"{name}-{secrets.token_hex(4)}", password=password)
    if password:
        LOGBOOK.add_secret(password)
    server.start()
    return server


@MODULE.cgi("rediss:// is a configuration error")
def rediss(mode, ctx):
    world = ctx.world()
    password = ctx.redis.password
    url = f"rediss://:{password}@127.0.0.1:{ctx.redis.port}/{REDIS_DB}"
    with ctx.transport(mode, {URL_VARIABLE: url}) as cgi:
        response = post(cgi, world.path(), "203.0.113.80")
    expect_misconfigured(response, "rediss://")
    expect("rediss" in response.log, f"the log line does not name rediss://: {response.log.strip()!r}")
    expect(password not in response.log, "the log line shows the password")
    expect_equal(keys_by_database(ctx.redis), {}, "keys written")


MALFORMED_URLS = [
    "http://127.0.0.1:6379/3",
    "redis://",
    "redis://:{password}@",
    "redis://:{password}@127.0.0.1:notaport/3",
    "redis://127.0.0.1:99999/3",
    "redis://127.0.0.1:0/3",
    "redis://127.0.0.1:6379/three",
    "redis://127.0.0.1:6379/1/2",
    "redis://127.0.0.1:6379/-1",
    "redis://[::1:6379/3",
    "redis://:{password}%zz@127.0.0.1:6379/3",
    "unix:relative/redis.sock",
    "unix:/tmp/redis.sock?db=three",
    "unix:/tmp/redis.sock?timeout=1",
]


@MODULE.cgi("malformed URLs are configuration errors")
def malformed_urls(mode, ctx):
    world = ctx.world()
    password = ctx.redis.password
    for template in MALFORMED_URLS:
        url = template.format(password=password)
        with ctx.transport(mode, {URL_VARIABLE: url}) as cgi:
            response = post(cgi, world.path(), "203.0.113.81")
        label = template.replace("{password}", "PASSWORD")
        expect_misconfigured(response, label)
        expect(password not in response.log, f"{label}: the log line shows the password")


@MODULE.cgi("unsupported URL query not ignored")
def url_query(mode, ctx):
    world = ctx.world()
    # redis-py and other clients read ?db=N on redis:// URLs. Selecting
    # another database than the operator named would be a silent
    # misconfiguration: use that database, or reject the URL.
    url = f"redis://:{ctx.redis.password}@127.0.0.1:{ctx.redis.port}?db=5"
    with ctx.transport(mode, {URL_VARIABLE: url}) as cgi:
        response = post(cgi, world.path(), "203.0.113.82")
    if response.status == 500:
        expect_misconfigured(response, "redis://HOST:PORT?db=5")
        return
    expect_equal(response.status, 202, "status with ?db=5")
    expect_equal(keys_by_database(ctx.redis), {5: [redis_key("203.0.113.82")]},
                 "keys per database for redis://HOST:PORT?db=5 (accepted, so it must select 5)")


@MODULE.both("blank URL falls back to RQ_REDIS_URL")
def rq_fallback(mode, ctx):
    world = ctx.world()
    env = {URL_VARIABLE: "", "RQ_REDIS_URL": ctx.redis.url(REDIS_DB)}
    with ctx.transport(mode, env) as transport:
        expect_limited(transport, world.path(), "203.0.113.83", "RATE_LIMIT_REDIS_URL blank")
    if mode == "cgi":
        with ctx.transport(mode, {URL_VARIABLE: None, "RQ_REDIS_URL": ctx.redis.url(REDIS_DB)}) as cgi:
            expect_limited(cgi, world.path(), "203.0.113.84", "RATE_LIMIT_REDIS_URL unset")
    expect(redis_key("203.0.113.83") in keys_by_database(ctx.redis).get(REDIS_DB, []),
           "no key in RQ_REDIS_URL's database")


@MODULE.cgi("RATE_LIMIT_REDIS_URL wins over RQ_REDIS_URL")
def url_precedence(mode, ctx):
    world = ctx.world()
    env = {"RQ_REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    with ctx.transport(mode, env) as cgi:
        response = post(cgi, world.path(), "203.0.113.85")
    expect_equal(response.status, 202, "status")
    expect(STORE_WARNING not in response.log, f"the store failed: {response.log.strip()[-300:]!r}")
    expect_equal(keys_by_database(ctx.redis), {REDIS_DB: [redis_key("203.0.113.85")]}, "keys per database")


@MODULE.cgi("no URL is a configuration error")
def no_url(mode, ctx):
    world = ctx.world()
    with ctx.transport(mode, {URL_VARIABLE: "", "RQ_REDIS_URL": ""}) as cgi:
        response = post(cgi, world.path(), "203.0.113.86")
    expect_misconfigured(response, "both URLs blank")
    expect("RQ_REDIS_URL" in response.log, "the log line does not name RQ_REDIS_URL")


@MODULE.both("unix socket URL with a database")
def unix_socket(mode, ctx):
    world = ctx.world()
    # The unix: form has no place for a password, so this server has none.
    own = own_redis(ctx, "redis-unix")
    try:
        for number, url in ((5, f"unix:{own.socket_path}?db=5"), (6, f"unix://{own.socket_path}?db=6")):
            client = f"203.0.113.{87 + number}"
            with ctx.transport(mode, {URL_VARIABLE: url}) as transport:
                expect_limited(transport, world.path(), client, url)
            expect_equal(keys_by_database(own).get(number), [redis_key(client)], f"keys in database {number}")
        expect_equal(sorted(keys_by_database(own)), [5, 6], "databases with keys")
    finally:
        own.stop()


@MODULE.both("IPv6 loopback URL")
def ipv6_url(mode, ctx):
    world = ctx.world()
    # "-" makes the address optional for redis-server, so a start without IPv6 names the cause below.
    own = RedisServer(ctx.root, f"redis-ipv6-{secrets.token_hex(4)}",
                      password="own-pw-" + secrets.token_hex(8), bind=("127.0.0.1", "-::1"))
    LOGBOOK.add_secret(own.password)
    own.start()
    try:
        url = f"redis://:{own.password}@[::1]:{own.port}/4"
        with ctx.transport(mode, {URL_VARIABLE: url}) as transport:
            response = post(transport, world.path(), "203.0.113.97")
            expect(STORE_WARNING not in response.log,
                   f"the store failed on [::1] (is IPv6 loopback up?): {response.log.strip()[-300:]!r}")
            expect_limited(transport, world.path(), "203.0.113.98", url.replace(own.password, "PASSWORD"))
        expected = sorted([redis_key("203.0.113.97"), redis_key("203.0.113.98")])
        expect_equal(keys_by_database(own).get(4), expected, "keys in database 4")
    finally:
        own.stop()


@MODULE.cgi("escaped password in the URL")
def escaped_password(mode, ctx):
    world = ctx.world()
    password = "p@ss:w/rd%?#-" + secrets.token_hex(8)
    own = own_redis(ctx, "redis-escaped", password=password)
    LOGBOOK.add_secret(quote(password, safe=""))
    try:
        url = f"redis://:{quote(password, safe='')}@127.0.0.1:{own.port}/2"
        with ctx.transport(mode, {URL_VARIABLE: url}) as cgi:
            expect_limited(cgi, world.path(), "203.0.113.95", "percent-escaped password")
        expect_equal(keys_by_database(own), {2: [redis_key("203.0.113.95")]}, "keys per database")
    finally:
        own.stop()


@MODULE.cgi("ACL user and password")
def acl_user(mode, ctx):
    world = ctx.world()
    own = own_redis(ctx, "redis-acl", password="default-pw-" + secrets.token_hex(8))
    user_password = "limiter-pw-" + secrets.token_hex(8)
    LOGBOOK.add_secret(user_password)
    try:
        own.call("ACL", "SETUSER", "limiter", "on", f">{user_password}", "~ratelimit:*", "+@all")
        url = f"redis://limiter:{user_password}@127.0.0.1:{own.port}/1"
        with ctx.transport(mode, {URL_VARIABLE: url}) as cgi:
            expect_limited(cgi, world.path(), "203.0.113.96", "ACL user limiter")
        expect_equal(keys_by_database(own), {1: [redis_key("203.0.113.96")]}, "keys per database")
    finally:
        own.stop()

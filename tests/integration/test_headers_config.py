"""Security headers and configuration from the environment."""

import json

from harness import LOGBOOK, NULL_SECRET, CheckFailed, expect, expect_equal
from stored import (DEFAULT_SECURITY_HEADERS, expect_error, expect_nothing_stored,
                    expect_one_delivery, expect_security_headers)
from suite import Module

MODULE = Module("config", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60"})

# Settings the program cannot serve, with the variable its log line must name.
MISCONFIGURATIONS = [
    ("RATE_LIMIT_WEBHOOK_INGEST", "abc"),
    ("RATE_LIMIT_WEBHOOK_INGEST", "0/60"),
    ("RATE_LIMIT_WEBHOOK_INGEST", "10/0"),
    ("RATE_LIMIT_WEBHOOK_INGEST", "10/60s"),
    ("DATABASE_URL", "mysql://x"),
    ("WEBHOOK_MAX_PAYLOAD_BYTES", "0"),
    ("WEBHOOK_MAX_PAYLOAD_BYTES", "1MB"),
    ("RATE_LIMIT_BACKEND", "sqlite"),
    ("RATE_LIMIT_WEBHOOK_INGEST_KEY", "webhook"),
    ("RATE_LIMIT_FAIL_OPEN", "maybe"),
    ("RATE_LIMIT_TIMEOUT_MS", "0"),
    ("TRUSTED_PROXY_HEADER", "x-real-ip"),
    ("LOG_LEVEL", "LOUD"),
]


def deliver(t, ctx, security_headers):
    """Send one accepted delivery and check its rows and its security headers."""
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b'{"ping": true}')
    expect_one_delivery(ctx.db, response, world.webhook, security_headers)
    return response


def startup_log(t, variant, response):
    """Return the log lines written at process start: CGI stderr or the lighttpd logs."""
    return variant.log_text() if t.mode == "fcgi" else response.log


@MODULE.both("default security headers on 202 and errors")
def default_headers(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    accepted = t.send(path=world.path(), body=b"{}")
    expect_one_delivery(ctx.db, accepted, world.webhook)
    expect_equal(accepted.header("Permissions-Policy"), None, "Permissions-Policy by default")
    for response in (t.send(method="GET", path=world.path(), body=None),
                     t.send(path="/api/v1/boards/nope/webhooks/nope", body=b"{}")):
        expect_security_headers(response)


@MODULE.both("Permissions-Policy added when set")
def permissions_policy(t, ctx):
    policy = "camera=(), microphone=(), geolocation=()"
    expected = dict(DEFAULT_SECURITY_HEADERS, **{"Permissions-Policy": policy})
    with ctx.variant(t, {"SECURITY_HEADER_PERMISSIONS_POLICY": policy}) as variant:
        deliver(variant, ctx, expected)


@MODULE.both("blank variable removes its header")
def blank_removes_header(t, ctx):
    expected = dict(DEFAULT_SECURITY_HEADERS, **{"X-Frame-Options": None})
    with ctx.variant(t, {"SECURITY_HEADER_X_FRAME_OPTIONS": ""}) as variant:
        deliver(variant, ctx, expected)


@MODULE.both("custom value replaces the default")
def custom_value(t, ctx):
    expected = dict(DEFAULT_SECURITY_HEADERS, **{"Referrer-Policy": "no-referrer"})
    with ctx.variant(t, {"SECURITY_HEADER_REFERRER_POLICY": "no-referrer"}) as variant:
        deliver(variant, ctx, expected)


@MODULE.both("CR or LF in a header value omits that header")
def header_injection(t, ctx):
    env = {"SECURITY_HEADER_X_FRAME_OPTIONS": "DENY\r\nSet-Cookie: injected=1",
           "SECURITY_HEADER_PERMISSIONS_POLICY": "camera=()\nX-Injected: 1"}
    expected = dict(DEFAULT_SECURITY_HEADERS, **{"X-Frame-Options": None, "Permissions-Policy": None})
    with ctx.variant(t, env) as variant:
        response = deliver(variant, ctx, expected)
        log = startup_log(t, variant, response)
    expect_equal(response.header("Set-Cookie"), None, "injected Set-Cookie header")
    expect_equal(response.header("X-Injected"), None, "injected X-Injected header")
    expect("SECURITY_HEADER_X_FRAME_OPTIONS" in log, "no log line names SECURITY_HEADER_X_FRAME_OPTIONS")
    expect("SECURITY_HEADER_PERMISSIONS_POLICY" in log,
           "no log line names SECURITY_HEADER_PERMISSIONS_POLICY")


def register_misconfiguration(variable, value):
    @MODULE.cgi(f"{variable}={value} returns 500")
    def check(t, ctx):
        world = ctx.world(secret=NULL_SECRET)
        response = t.send(path=world.path(), body=b"{}", env={variable: value})
        expect_error(response, 500, "Server misconfigured")
        expect(variable in response.log, f"no log line names {variable}: {response.log.strip()[:200]}")
        expect_nothing_stored(ctx.db)


for misconfigured_variable, misconfigured_value in MISCONFIGURATIONS:
    register_misconfiguration(misconfigured_variable, misconfigured_value)


@MODULE.cgi("missing DATABASE_URL returns 500")
def missing_database_url(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"{}", env={"DATABASE_URL": None})
    expect_error(response, 500, "Server misconfigured")
    expect("DATABASE_URL" in response.log, "no log line names DATABASE_URL")


@MODULE.cgi("bad DATABASE_URL log keeps its password out")
def database_url_password(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    password = "hunter2-c0rrect-horse-battery"
    LOGBOOK.add_secret(password)
    response = t.send(path=world.path(), body=b"{}",
                      env={"DATABASE_URL": f"mysql://edge:{password}@127.0.0.1/edge"})
    expect_error(response, 500, "Server misconfigured")
    expect(password not in response.log, "the log shows the URL's password")


@MODULE.fcgi("misconfiguration keeps FastCGI from starting")
def misconfigured_fastcgi(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    server = ctx.new_server({"RATE_LIMIT_WEBHOOK_INGEST": "abc"}, label="misconfigured")
    response = None
    try:
        # lighttpd 1.4.69 either exits at start, when a FastCGI process died
        # before lighttpd checked it, or runs and keeps restarting the processes.
        server.start()
        response = server.send(path=world.path(), body=b"{}")
    except CheckFailed as failure:
        expect("exited with status" in str(failure), f"lighttpd failed otherwise: {failure}")
    finally:
        log = server.log_text()
        server.stop()
    if response is not None:
        # Meanwhile lighttpd sends its own error page: 503 while it counts the
        # backend as down, 500 when a connect attempt fails.
        expect(response.status in (500, 503), f"expected lighttpd's 500 or 503, got {response.describe()}")
        expect_equal(response.header("Content-Type"), "application/json", "Content-Type of lighttpd's own page")
    expect("RATE_LIMIT_WEBHOOK_INGEST must be" in log, "no log line names RATE_LIMIT_WEBHOOK_INGEST")
    expect("FastCGI process not started" in log, "no log line says the process did not start")
    expect_nothing_stored(ctx.db)


@MODULE.cgi("memory backend warns in CGI mode")
def memory_backend_cgi(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"{}", env={"RATE_LIMIT_BACKEND": "memory"})
    expect_one_delivery(ctx.db, response, world.webhook)
    warnings = [line for line in response.log.splitlines() if "WARNING" in line and "memory" in line]
    expect(warnings, f"no warning names the memory backend: {response.log.strip()[:300]}")


@MODULE.fcgi("memory backend limits one FastCGI process")
def memory_backend_fastcgi(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    env = {"RATE_LIMIT_BACKEND": "memory", "RATE_LIMIT_WEBHOOK_INGEST": "3/60"}
    with ctx.variant(t, env, procs=1) as variant:
        statuses = [variant.send(path=world.path(), body=b"{}").status for _ in range(4)]
    expect_equal(statuses, [202, 202, 202, 429], "statuses with one process")


@MODULE.both("postgresql+psycopg URL accepted")
def upstream_database_url(t, ctx):
    url = ctx.db.url.replace("postgresql://", "postgresql+psycopg://", 1)
    with ctx.variant(t, {"DATABASE_URL": url}) as variant:
        world = ctx.world(secret=NULL_SECRET)
        response = variant.send(path=world.path(), body=b"{}")
        expect_one_delivery(ctx.db, response, world.webhook)


@MODULE.cgi("LOG_FORMAT=json writes JSON lines")
def json_logs(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"{}", env={"LOG_FORMAT": "json"})
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    lines = [line for line in response.log.splitlines() if line.strip()]
    expect(lines, "no log lines")
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise CheckFailed(f"log line is not JSON: {line[:120]}") from None
        expect({"level", "message"} <= set(record), f"log record lacks level or message: {line[:120]}")
    expect(any(stored.payload_id in json.loads(line)["message"] for line in lines),
           "no JSON log record names the payload id")

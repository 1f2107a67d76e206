"""Tokens, stored hashes, seed rows and requests for the agent-auth tests.

Hashes are made here the way upstream Mission Control makes them (Python's
hashlib.pbkdf2_hmac, URL-safe base64 without padding), independently of the
C code under test. The processes, the database and the transports come from
tests/integration/harness.py, which this module imports read-only.
"""

import base64
import hashlib
import hmac
import itertools
import re
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from harness import (LOGBOOK, CheckFailed, expect, expect_equal,  # noqa: E402
                     sanitizer_report, shorten)

UPSTREAM_ITERATIONS = 200000
AGENT_PROGRAM = "agent-auth"
HEALTHZ = "/api/v1/agent/healthz"
BOARDS = "/api/v1/agent/boards"
PROTECTED_FOLDER = "agent-only"
PROTECTED_SCRIPT = f"/{PROTECTED_FOLDER}/env.cgi"
PROTECTED_FILE = f"/{PROTECTED_FOLDER}/ok.txt"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
HASH_PATTERN = re.compile(r"^pbkdf2_sha256\$200000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$")

# Settings of every module: clients are named by X-Forwarded-For from the
# trusted loopback peer, so plain CGI and lighttpd see the same clients, and
# agent-auth reports its PBKDF2 runs per request in X-Edge-Pbkdf2-Runs.
BASE_ENV = {"TRUSTED_PROXIES": "127.0.0.1/32", "EDGE_BENCH_COUNTERS": "1",
            # A limiter store slower than the default 50 ms on a loaded
            # machine would fail open and let the rate-limit checks pass by luck.
            "RATE_LIMIT_TIMEOUT_MS": "5000"}

# Log lines that the run must produce, checked once all logs are in.
EXPECTED_LOG_LINES = []

_client_numbers = itertools.count(1)


# ---------------------------------------------------------------------------
# Tokens and hashes
# ---------------------------------------------------------------------------


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token():
    """Return a token as upstream makes one (secrets.token_urlsafe(32)); logs must never hold it."""
    token = secrets.token_urlsafe(32)
    LOGBOOK.add_secret(token)
    return token


def upstream_hash(token, iterations=UPSTREAM_ITERATIONS, salt=None, algorithm="sha256",
                  name="pbkdf2_sha256", padded=False):
    """Return the stored form of token: pbkdf2_sha256$<iterations>$<salt>$<digest>."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac(algorithm, token.encode(), salt, iterations)
    encode = (lambda data: base64.urlsafe_b64encode(data).decode()) if padded else b64url
    return f"{name}${iterations}${encode(salt)}${encode(digest)}"


def upstream_verify(token, stored):
    """Check token against a stored hash the way upstream does."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    actual = hashlib.pbkdf2_hmac("sha256", token.encode(), b64url_decode(salt), int(iterations))
    return hmac.compare_digest(actual, b64url_decode(digest))


def index_key(db):
    return bytes(db.query("SELECT value FROM edge_secret WHERE name = 'agent_token_index_key'")[0][0])


def index_digest(key, token):
    return hmac.new(key, token.encode(), hashlib.sha256).digest()


def expect_log_line(line):
    """Require line somewhere in the logs of the run (checked at the end)."""
    EXPECTED_LOG_LINES.append(line)


def expect_invalid_token_logged(token, path):
    prefix = token[:6] + "..." if len(token) >= 7 else "<short>"
    expect_log_line(f"invalid agent token {prefix} for {path}")


# ---------------------------------------------------------------------------
# Seed rows
# ---------------------------------------------------------------------------


def new_id():
    return str(uuid.uuid4())


def create_organization(db, name="Agent test organization"):
    organization_id = new_id()
    db.query("INSERT INTO organizations (id, name, created_at, updated_at) "
             "VALUES (%s, %s, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
             (organization_id, name))
    return organization_id


def create_gateway(db, organization_id):
    gateway_id = new_id()
    # Nothing connects to this URL: agent-auth never talks to gateways.
    db.query("INSERT INTO gateways (id, organization_id, name, url, token, disable_device_pairing, "
             "workspace_root, allow_insecure_tls, created_at, updated_at) "
             "VALUES (%s, %s, 'Agent test gateway', 'ws://127.0.0.1:9', NULL, false, "
             "'/tmp/openclaw-test', false, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
             (gateway_id, organization_id))
    return gateway_id


def create_board(db, organization_id, gateway_id, name="Agent test board", age_s=0):
    """Insert a board created age_s seconds ago."""
    board_id = new_id()
    db.query("INSERT INTO boards (id, organization_id, name, slug, description, gateway_id, "
             "created_at, updated_at) "
             "VALUES (%s, %s, %s, %s, 'Board of the agent-auth tests', %s, "
             "(now() AT TIME ZONE 'utc') - make_interval(secs => %s), now() AT TIME ZONE 'utc')",
             (board_id, organization_id, name, name.lower().replace(" ", "-") + "-" + board_id[:8],
              gateway_id, age_s))
    return board_id


def create_agent(db, gateway_id, board_id=None, token_hash=None, status="online",
                 is_board_lead=False, last_seen_age_s=None):
    """Insert an agent by SQL alone, as upstream or an operator would."""
    agent_id = new_id()
    db.query("INSERT INTO agents (id, board_id, gateway_id, name, status, agent_token_hash, "
             "is_board_lead, last_seen_at, created_at, updated_at) "
             "VALUES (%s, %s, %s, 'Agent under test', %s, %s, %s, "
             "CASE WHEN %s::float IS NULL THEN NULL "
             "ELSE (now() AT TIME ZONE 'utc') - make_interval(secs => %s::float) END, "
             "now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
             (agent_id, board_id, gateway_id, status, token_hash, is_board_lead,
              last_seen_age_s, last_seen_age_s))
    return agent_id


class Fleet:
    """One organization with a gateway and a board."""

    def __init__(self, db, name="Agent test organization"):
        self.db = db
        self.organization_id = create_organization(db, name)
        self.gateway_id = create_gateway(db, self.organization_id)
        self.board_id = create_board(db, self.organization_id, self.gateway_id)

    def agent(self, gateway_level=False, token=None, token_hash=None, **options):
        """Insert an agent with token_hash, by default an upstream hash of a new
        token; return (agent_id, token)."""
        token = token or new_token()
        agent_id = create_agent(self.db, self.gateway_id,
                                None if gateway_level else self.board_id,
                                token_hash if token_hash is not None else upstream_hash(token),
                                **options)
        return agent_id, token


def agent_row(db, agent_id):
    rows = db.query("SELECT status, last_seen_at, updated_at, agent_token_hash FROM agents "
                    "WHERE id = %s", (agent_id,))
    expect(len(rows) == 1, f"agent {agent_id} not found")
    return dict(zip(("status", "last_seen_at", "updated_at", "agent_token_hash"), rows[0]))


def index_rows(db, agent_id):
    return db.query("SELECT token_digest, source_hash FROM edge_agent_token_index "
                    "WHERE agent_id = %s", (agent_id,))


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------


def next_client():
    """Return a client address that no other request of the run uses (198.18.0.0/15)."""
    number = next(_client_numbers)
    return f"198.{18 + number // 65536 % 2}.{number // 256 % 256}.{number % 256}"


def get(t, path, token=None, bearer=None, client=None, headers=(), method="GET"):
    """Send a request as client (a new address by default) through transport t."""
    sent = [("X-Forwarded-For", client or next_client())]
    if token is not None:
        sent.append(("X-Agent-Token", token))
    if bearer is not None:
        sent.append(("Authorization", bearer))
    sent.extend(headers)
    # lighttpd itself responds 411 to a POST or PUT without Content-Length.
    body = None if method in ("GET", "HEAD") else b""
    return t.send(method=method, path=path, body=body, headers=sent)


def eventually_ok(t, path, token, timeout_s=8.0, **options):
    """Send until a 2xx response and return it.

    A token that is not indexed yet is found by the legacy pass, which tries a
    few agents per request in turn, and a FastCGI process reloads its list of
    such agents every 5 s. Each try comes from a new client address, so the
    retries never meet the rate limit."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = get(t, path, token=token, **options)
        if 200 <= last.status < 300:
            return last
        expect(last.status == 401, f"expected 200 or a 401 to retry, got {last.describe()}")
        time.sleep(0.2)
    raise CheckFailed(f"no 2xx within {timeout_s} s; last response {last.describe()}")


def expect_error(response, status, detail):
    expect_equal(response.status, status, "status")
    expect_equal(response.header("Content-Type"), "application/json", "Content-Type")
    expect_equal(response.json(), {"detail": detail}, "body")
    expect_security_headers(response)


def expect_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        expect_equal(response.header(name), value, f"{name} header")


def expect_retry_after(response, window_s):
    value = response.header("Retry-After")
    expect(value is not None and value.isdigit(), f"Retry-After missing or not a number: {value!r}")
    expect(1 <= int(value) <= window_s, f"Retry-After {value} outside 1..{window_s}")


def pbkdf2_runs(response):
    value = response.header("X-Edge-Pbkdf2-Runs")
    expect(value is not None and value.isdigit(), f"X-Edge-Pbkdf2-Runs missing: {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------


def admin_binary(bin_dir):
    """Return mc-edge-admin of the same build as the programs in bin_dir (cgi-bin or build/*/cgi-bin)."""
    bin_dir = Path(bin_dir).resolve()
    return bin_dir.parent / "bin" / "mc-edge-admin"


def run_admin(ctx, *arguments, env=None):
    """Run mc-edge-admin and return (exit status, stdout, stderr)."""
    variables = {"PATH": "/usr/bin:/bin", "DATABASE_URL": ctx.db.url,
                 "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1"}
    variables.update(env or {})
    result = subprocess.run([str(admin_binary(ctx.binary.parent)), *arguments], env=variables,
                            capture_output=True, text=True, timeout=60)
    LOGBOOK.add(f"mc-edge-admin {' '.join(arguments[:1])}", result.stderr)
    report = sanitizer_report(result.stderr)
    expect(report is None, f"sanitizer report from mc-edge-admin: {report}")
    return result.returncode, result.stdout, result.stderr


def mint(ctx, agent_id, action="mint", env=None):
    """Mint (or rotate) a token with mc-edge-admin and return it."""
    status, stdout, stderr = run_admin(ctx, "agent-token", action, agent_id, env=env)
    expect(status == 0, f"mc-edge-admin agent-token {action} exited {status}: {stderr.strip()}")
    token = stdout.strip()
    LOGBOOK.add_secret(token)
    expect(TOKEN_PATTERN.match(token), f"minted token has the wrong form: {shorten(token)}")
    return token


# The protected handler of the authorizer example: a CGI program that prints
# its environment, one NAME=VALUE per line.
PROTECTED_SCRIPT_TEXT = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env
"""


def install_protected_files(server):
    """Put the protected CGI program and a static file under the server's htdocs/agent-only/."""
    folder = server.state / "htdocs" / PROTECTED_FOLDER
    if (folder / "env.cgi").exists():
        return
    folder.mkdir(mode=0o755, exist_ok=True)
    (folder / "env.cgi").write_text(PROTECTED_SCRIPT_TEXT)
    (folder / "env.cgi").chmod(0o755)
    (folder / "ok.txt").write_text("ok\n")
    (folder / "ok.txt").chmod(0o644)
    # lighttpd runs the program as www-data, which only needs to read and execute it.
    folder.chmod(0o755)


def environment_lines(response):
    """Parse the protected program's output into a dict of its environment."""
    variables = {}
    for line in response.body.decode("utf-8", "replace").splitlines():
        name, separator, value = line.partition("=")
        if separator:
            variables[name] = value
    return variables

"""Seed rows, requests and expectations for the gateway-message tests.

The processes, the database and the transports come from
tests/integration/harness.py; the test gateway comes from
tests/gateway/gateway_process.py. Every secret made here (the local-mode
token, gateway tokens, message contents) is registered with LOGBOOK, so the
closing log check fails when any log line contains one, and every response body
is kept for the same check.
"""

import itertools
import json
import secrets
import shutil
import sys
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "integration"))
sys.path.insert(0, str(HERE.parents[0] / "gateway"))
sys.path.insert(0, str(HERE.parents[0] / "fixtures" / "jwt"))

from gateway_process import GatewayProcess, make_test_certificate  # noqa: E402
from harness import CLEANUP, LOGBOOK, expect, expect_equal  # noqa: E402
import make_jwt  # noqa: E402

PROGRAM = "gateway-message"
LOCAL_USER = "local-auth-user"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

# The whole budget of one gateway exchange in these tests, and the slack a
# response may take on top of it (process start, sanitizer build, PostgreSQL).
GATEWAY_TIMEOUT_MS = 1500
GATEWAY_SLACK_S = 2.5

# Long enough for local mode (at least 50 characters), and distinctive, so
# a leak into a log or a response is found by plain substring search.
LOCAL_TOKEN = "local-token-" + secrets.token_hex(32)
LOGBOOK.add_secret(LOCAL_TOKEN)

RATE_LIMIT = 5
RATE_WINDOW_S = 60

# Settings of every module: clients are named by X-Forwarded-For from the
# trusted loopback peer, so plain CGI and lighttpd see the same clients.
BASE_ENV = {
    "TRUSTED_PROXIES": "127.0.0.1/32",
    "LOCAL_AUTH_TOKEN": LOCAL_TOKEN,
    "GATEWAY_TIMEOUT_MS": str(GATEWAY_TIMEOUT_MS),
    "RATE_LIMIT_GATEWAY_MESSAGE": f"{RATE_LIMIT}/{RATE_WINDOW_S}",
    # A limiter store slower than the default 50 ms on a loaded machine
    # would fail open and let the rate-limit check pass by luck.
    "RATE_LIMIT_TIMEOUT_MS": "5000",
}

# Every response body of the run, for the closing secret check.
RESPONSE_BODIES = []

_client_numbers = itertools.count(1)


def new_id():
    return str(uuid.uuid4())


def gateway_token():
    """Return a distinctive gateway token; no log line or response may hold it."""
    token = "gwtoken-" + secrets.token_hex(24)
    LOGBOOK.add_secret(token)
    return token


def message_content(label="hello"):
    """Return a message text that no log line may hold."""
    content = f"message {label} {secrets.token_hex(12)}"
    LOGBOOK.add_secret(content)
    return content


# ---------------------------------------------------------------------------
# Seed rows
# ---------------------------------------------------------------------------

NOW = "now() AT TIME ZONE 'utc'"


def create_organization(db, name="Gateway test organization"):
    organization_id = new_id()
    db.query(f"INSERT INTO organizations (id, name, created_at, updated_at) "
             f"VALUES (%s, %s, {NOW}, {NOW})", (organization_id, name))
    return organization_id


def create_user(db, clerk_user_id=LOCAL_USER, active_organization_id=None):
    user_id = new_id()
    db.query("INSERT INTO users (id, clerk_user_id, email, name, is_super_admin, "
             "active_organization_id) VALUES (%s, %s, %s, 'Test user', false, %s)",
             (user_id, clerk_user_id, f"{user_id[:8]}@example.test", active_organization_id))
    return user_id


def create_member(db, organization_id, user_id, role="admin", all_boards_write=False,
                  age_s=0):
    """Insert a membership created age_s seconds ago and return its id."""
    member_id = new_id()
    db.query("INSERT INTO organization_members (id, organization_id, user_id, role, "
             "all_boards_read, all_boards_write, created_at, updated_at) "
             f"VALUES (%s, %s, %s, %s, true, %s, {NOW} - make_interval(secs => %s), {NOW})",
             (member_id, organization_id, user_id, role, all_boards_write, age_s))
    return member_id


def create_access(db, member_id, board_id, can_write):
    db.query("INSERT INTO organization_board_access (id, organization_member_id, board_id, "
             f"can_read, can_write, created_at, updated_at) VALUES (%s, %s, %s, true, %s, {NOW}, {NOW})",
             (new_id(), member_id, board_id, can_write))


def create_gateway(db, organization_id, url, token=None, disable_device_pairing=False,
                   allow_insecure_tls=False):
    gateway_id = new_id()
    db.query("INSERT INTO gateways (id, organization_id, name, url, token, disable_device_pairing, "
             "workspace_root, allow_insecure_tls, created_at, updated_at) "
             f"VALUES (%s, %s, 'Test gateway', %s, %s, %s, '/tmp/openclaw-test', %s, {NOW}, {NOW})",
             (gateway_id, organization_id, url, token, disable_device_pairing, allow_insecure_tls))
    return gateway_id


def create_board(db, organization_id, gateway_id, name="Gateway test board"):
    board_id = new_id()
    db.query("INSERT INTO boards (id, organization_id, name, slug, description, gateway_id, "
             f"created_at, updated_at) VALUES (%s, %s, %s, %s, 'Board of the gateway-message tests', "
             f"%s, {NOW}, {NOW})",
             (board_id, organization_id, name, "board-" + board_id[:8], gateway_id))
    return board_id


def remove_gateway_row(db, gateway_id):
    """Delete a gateway row that a board still references, as a database
    without the foreign keys allows. session_replication_role switches the
    foreign-key triggers off for this connection only."""
    db.query("SET session_replication_role = replica")
    try:
        db.query("DELETE FROM gateways WHERE id = %s", (gateway_id,))
    finally:
        db.query("SET session_replication_role = DEFAULT")


class Scene:
    """One organization whose user (local mode's by default) is an admin with
    write access to every board, and a board on a gateway at url."""

    def __init__(self, db, url="ws://127.0.0.1:9", token=None, clerk_user_id=LOCAL_USER,
                 role="admin", all_boards_write=True, **gateway_options):
        self.db = db
        self.organization_id = create_organization(db)
        self.user_id = create_user(db, clerk_user_id, self.organization_id)
        self.member_id = create_member(db, self.organization_id, self.user_id, role,
                                       all_boards_write)
        self.gateway_id = create_gateway(db, self.organization_id, url, token, **gateway_options)
        self.board_id = create_board(db, self.organization_id, self.gateway_id)

    def board(self, gateway_id="same", name="Another board"):
        return create_board(self.db, self.organization_id,
                            self.gateway_id if gateway_id == "same" else gateway_id, name)


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------


def next_client():
    """Return a client address that no other request of the run uses (198.18.0.0/15)."""
    number = next(_client_numbers)
    return f"198.{18 + number // 65536 % 2}.{number // 256 % 256}.{number % 256}"


def message_path(session="agent:main:main", board_id=None, query=None):
    """Return the route for session; query replaces the board_id query when given."""
    path = f"/api/v1/gateways/sessions/{session}/message"
    if query is not None:
        return path + ("?" + query if query else "")
    if board_id is not None:
        path += f"?board_id={board_id}"
    return path


def send(t, path, body=None, content=None, token=LOCAL_TOKEN, authorization=None,
         client=None, headers=(), method="POST", env=None):
    """Send one request through transport t as a new client and return the response.

    body (bytes) wins over content, which becomes {"content": content}.
    authorization replaces the Bearer header built from token; token=None
    sends no Authorization header."""
    if body is None and method not in ("GET", "HEAD"):
        body = json.dumps({"content": content if content is not None else message_content()}).encode()
    sent = [("X-Forwarded-For", client or next_client()), ("Content-Type", "application/json")]
    if authorization is not None:
        sent.append(("Authorization", authorization))
    elif token is not None:
        sent.append(("Authorization", f"Bearer {token}"))
    sent.extend(headers)
    if t.mode == "cgi" and "GATEWAY_DEVICE_KEY_FILE" not in t.base_env:
        env = dict(env or {})
        env.setdefault("GATEWAY_DEVICE_KEY_FILE", cgi_device_key_file())
    options = {"env": env} if env is not None else {}
    response = t.send(method=method, path=path, body=body, headers=sent, **options)
    RESPONSE_BODIES.append((f"{t.mode} {method} {path[:80]}", response.body))
    return response


def expect_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        expect_equal(response.header(name), value, f"{name} header")


def expect_error(response, status, detail=None):
    """Require a JSON error with status, and with detail when given."""
    expect_equal(response.status, status, f"status ({response.describe()})")
    expect_equal(response.header("Content-Type"), "application/json", "Content-Type")
    body = response.json()
    expect(isinstance(body, dict) and isinstance(body.get("detail"), str),
           f"body is not {{\"detail\": ...}}: {response.describe()}")
    if detail is not None:
        expect_equal(body["detail"], detail, "detail")
    expect_security_headers(response)


def expect_success(response):
    expect_equal(response.status, 200, f"status ({response.describe()})")
    expect_equal(response.header("Content-Type"), "application/json", "Content-Type")
    expect_equal(response.json(), {"ok": True}, "body")
    expect_security_headers(response)


def leaked_secrets():
    """Return one description per response body that contains a registered secret."""
    found = []
    for label, body in RESPONSE_BODIES:
        text = body.decode("utf-8", "replace")
        for secret in LOGBOOK.secrets:
            if secret in text:
                found.append(f"response to {label} holds a secret")
    return found


# ---------------------------------------------------------------------------
# Test gateway and certificates
# ---------------------------------------------------------------------------


class RunningGateway:
    """A started GatewayProcess, with its records read from a mark on."""

    def __init__(self, process):
        self.process = process
        self._sends_seen = 0
        self._connects_seen = 0

    @property
    def url(self):
        return self.process.url

    def set_mode(self, mode):
        self.process.set_mode(mode)

    def clear(self):
        """Forget the records so far: the readers below start after them."""
        self._sends_seen = len(self.process.sends())
        self._connects_seen = len(self.process.connects())

    def chat_sends(self):
        return self.process.sends()[self._sends_seen:]

    def connects(self):
        return self.process.connects()[self._connects_seen:]


@contextmanager
def running_gateway(ctx, token=None, tls=None, mode="normal", require_device=False):
    """Run a test gateway on a loopback port that the OS picks, for one check.

    tls is a TestCertificate for wss://."""
    process = GatewayProcess(token=token, tls=tls, mode=mode, require_device=require_device,
                             state_dir=tempfile.mkdtemp(prefix="gateway-", dir=ctx.root))
    CLEANUP.push("test gateway", process.cleanup)
    try:
        process.start()
        yield RunningGateway(process)
    finally:
        process.cleanup()
        CLEANUP.discard(process.cleanup)


@dataclass
class Certificates:
    trusted: object     # TestCertificate for 127.0.0.1, ::1 and localhost
    other_name: object  # TestCertificate for other.test only, from its own CA


def certificates(ctx):
    """Return the run's test certificates, made on first use under ctx.root.
    They are readable by every user, since lighttpd's processes run as
    www-data when the tests run as root."""
    global _certificates
    if _certificates is None:
        folder = Path(ctx.root) / "gateway-certificates"
        _certificates = Certificates(
            make_test_certificate(folder / "loopback"),
            make_test_certificate(folder / "other-name", hosts=("other.test",)))
        for path in folder.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        folder.chmod(0o755)
    return _certificates


_certificates = None


# ---------------------------------------------------------------------------
# Device key of plain CGI runs
# ---------------------------------------------------------------------------


def cgi_device_key_file():
    """Return GATEWAY_DEVICE_KEY_FILE for CGI runs: a file in a private folder
    that the program creates on first use and keeps for the whole run.
    lighttpd's processes use EDGE_STATE_DIR/gateway-device.pem instead."""
    global _cgi_device_folder
    if _cgi_device_folder is None:
        _cgi_device_folder = tempfile.mkdtemp(prefix="mc-edge-gateway-message-device.", dir="/tmp")
        CLEANUP.push("CGI device key folder",
                     lambda: shutil.rmtree(_cgi_device_folder, ignore_errors=True))
    return str(Path(_cgi_device_folder) / "gateway-device.pem")


_cgi_device_folder = None


# ---------------------------------------------------------------------------
# JWTs
# ---------------------------------------------------------------------------

JWT_ISSUER = "https://issuer.mc-edge.test"
JWT_AUDIENCE = "mc-edge-gateway-message-tests"


def jwt_keys_folder():
    """Return the run's key folder, made on first use by make_jwt.make_keys in a
    private folder under /tmp. Its jwks.json lists the RS256, ES256 and EdDSA
    keys (kids rsa-1, ec-1, ed-1), and every user can read it, because
    lighttpd's processes run as www-data when the tests run as root."""
    global _jwt_keys_folder
    if _jwt_keys_folder is None:
        folder = tempfile.mkdtemp(prefix="mc-edge-gateway-message-jwks.", dir="/tmp")
        CLEANUP.push("JWKS folder", lambda: shutil.rmtree(folder, ignore_errors=True))
        make_jwt.make_keys(folder)
        Path(folder).chmod(0o755)
        Path(folder, "jwks.json").chmod(0o644)
        _jwt_keys_folder = folder
    return _jwt_keys_folder


_jwt_keys_folder = None


def jwks_file():
    return str(Path(jwt_keys_folder()) / "jwks.json")


def jwt_token(sub, alg="RS256", **options):
    """Return a token for sub signed by make_jwt.sign_token with the run's keys.

    By default it carries this suite's issuer and audience, was issued now,
    is valid from 5 s ago and expires in 300 s. options are sign_token's and
    replace those defaults or make the token wrong (wrong_key=True, none=True).
    No log line or response may hold the token."""
    claims = {"iss": JWT_ISSUER, "aud": [JWT_AUDIENCE], "iat_in": 0, "nbf_in": -5}
    claims.update(options)
    token = make_jwt.sign_token(jwt_keys_folder(), alg, sub, **claims)
    LOGBOOK.add_secret(token)
    return token

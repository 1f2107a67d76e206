"""Processes, database and transports for the webhook-ingest integration tests.

Everything here runs on this machine only: a private PostgreSQL reachable
through a unix socket, lighttpd bound to loopback, and the program itself as
plain CGI. Every process that the harness starts is stopped by Cleanup, which
runs from the runner's finally block and again from atexit.
"""

import atexit
import hashlib
import hmac
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO_ROOT / "sql" / "schema.sql"
LIGHTTPD_CONF = REPO_ROOT / "lighttpd.conf"
PRIVATE_POSTGRES = REPO_ROOT / "scripts" / "private-postgres"
PROGRAM_NAME = "webhook-ingest"

# Seconds allowed for one CGI run or one HTTP exchange. Sanitizer builds start
# slower, and a request that waits on PostgreSQL has its own 3 s connect and
# 10 s statement deadlines inside the program.
REQUEST_TIMEOUT_S = 30
SERVER_START_TIMEOUT_S = 15
SERVER_STOP_TIMEOUT_S = 10
POSTGRES_TIMEOUT_S = 120

# lighttpd lives in /usr/sbin on Debian, which a non-root PATH may lack.
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LIGHTTPD = shutil.which("lighttpd", path=SEARCH_PATH) or "lighttpd"

SERVICE_USER = "www-data"
POSTGRES_USER = "postgres"

# lighttpd.conf also starts gateway-message, whose processes stop at start
# without a LOCAL_AUTH_TOKEN of at least 50 characters in local mode. Every
# lighttpd of the tests gets this one unless its settings name another (or
# None to leave it unset).
DEFAULT_LOCAL_AUTH_TOKEN = "test-local-auth-token-" + uuid.uuid4().hex + uuid.uuid4().hex

# Lines that AddressSanitizer, LeakSanitizer and UBSan print when they report.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "SUMMARY: AddressSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "runtime error:",
)

# Tables that the tests write or that the program writes, emptied before every check.
TABLES = (
    "edge_webhook_raw_body",
    "edge_notification_outbox",
    "board_memory",
    "board_webhook_payloads",
    "board_webhooks",
    "agents",
    "organization_board_access",
    "organization_members",
    "boards",
    "gateways",
    "users",
    "organizations",
    "edge_rate_limit",
)


class CheckFailed(Exception):
    """A check's expectation did not hold. The message is the reason shown."""


def expect(condition, reason):
    if not condition:
        raise CheckFailed(reason)


def expect_equal(actual, expected, label):
    if actual != expected:
        raise CheckFailed(f"{label}: expected {shorten(expected)}, got {shorten(actual)}")


def shorten(value, limit=160):
    text = repr(value)
    if len(text) <= limit:
        return text
    return text[: limit - 20] + f"... ({len(text)} chars)"


def running_as_root():
    return os.geteuid() == 0


def log_diagnostic(message):
    """Write a diagnostic line to standard error, which the runner keeps off stdout."""
    print(f"# {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------


class Cleanup:
    """Stack of stop actions, run newest first, each at most once."""

    def __init__(self):
        self._actions = []
        self._lock = threading.Lock()
        atexit.register(self.run_all)

    def push(self, label, action):
        with self._lock:
            self._actions.append((label, action))
        return action

    def discard(self, action):
        with self._lock:
            self._actions = [(label, a) for label, a in self._actions if a is not action]

    def run_all(self):
        while True:
            with self._lock:
                if not self._actions:
                    return
                label, action = self._actions.pop()
            try:
                action()
            except Exception as error:  # keep stopping the rest
                log_diagnostic(f"cleanup of {label} failed: {error}")


CLEANUP = Cleanup()


def kill_process_group(process, timeout_s=5):
    """Send SIGTERM to the process group of process, then SIGKILL after timeout_s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout_s)


def process_alive(pid):
    """Return True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return fields[0] != b"Z"


def child_pids(parent_pid):
    """Return the pids whose parent is parent_pid."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == parent_pid:
            children.append(int(entry))
    return children


def programs_in_config():
    """Return the names of the programs that lighttpd.conf starts (its bin-path entries)."""
    return sorted(set(re.findall(r'edge_bin \+ "/([^"/]+)"', LIGHTTPD_CONF.read_text())))


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------


class LogBook:
    """Every log text of the run (CGI stderr, lighttpd's error.log and standard
    error), and the secrets and signatures that must never appear in any of them."""

    def __init__(self):
        self.entries = []
        self.secrets = set()
        self.signatures = set()
        self._lock = threading.Lock()

    def add(self, source, text):
        with self._lock:
            self.entries.append((source, text))

    def add_secret(self, secret):
        # Very short secrets would match unrelated text, and the tests use long ones.
        if secret and len(secret) >= 8:
            with self._lock:
                self.secrets.add(secret)

    def add_signature(self, hex_digest):
        with self._lock:
            self.signatures.add(hex_digest.lower())

    def leaks(self):
        """Return one description per log line that contains a secret or a signature."""
        found = []
        for source, text in self.entries:
            for number, line in enumerate(text.splitlines(), 1):
                lowered = line.lower()
                for secret in self.secrets:
                    if secret in line:
                        found.append(f"{source} line {number} contains a webhook or database secret")
                for signature in self.signatures:
                    if signature in lowered:
                        found.append(f"{source} line {number} contains signature {signature[:8]}...")
        return found


LOGBOOK = LogBook()
LOGBOOK.add_secret(DEFAULT_LOCAL_AUTH_TOKEN)


def sanitizer_report(text):
    """Return the first sanitizer report line in text, or None."""
    for line in text.splitlines():
        if any(marker in line for marker in SANITIZER_MARKERS):
            return line.strip()
    return None


# ---------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------


def sign(secret, body):
    """Return HMAC-SHA256(secret, body) as lower-case hex and remember it for the log check."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    LOGBOOK.add_signature(digest)
    return digest


def signature_header(secret, body):
    """Return the X-Hub-Signature-256 value GitHub would send: sha256=<hex>."""
    return "sha256=" + sign(secret, body)


def random_secret():
    secret = "whsec-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
    LOGBOOK.add_secret(secret)
    return secret


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


class Database:
    """A private PostgreSQL server (scripts/private-postgres) with the schema applied."""

    def __init__(self, root, name):
        self.directory = Path(root) / name
        self.url = None
        self._connection = None
        self._running = False

    def start(self):
        if running_as_root() and not self.directory.exists():
            # As root the server runs as postgres, and www-data must reach its socket.
            run_checked(["install", "-d", "-m", "0755", "-o", POSTGRES_USER, "-g",
                         POSTGRES_USER, str(self.directory)], "create the PostgreSQL folder")
        run_checked([str(PRIVATE_POSTGRES), "start", str(self.directory)],
                    "start PostgreSQL", timeout_s=POSTGRES_TIMEOUT_S)
        if not self._running:
            CLEANUP.push(f"PostgreSQL in {self.directory}", self.stop)
        self._running = True
        self.url = run_checked([str(PRIVATE_POSTGRES), "url", str(self.directory)],
                               "read the PostgreSQL URL").strip()
        LOGBOOK.add_secret(self.password())

    def stop(self):
        """Stop the server (fast shutdown) and close the test's own connection."""
        self.close_connection()
        run_checked([str(PRIVATE_POSTGRES), "stop", str(self.directory)],
                    "stop PostgreSQL", timeout_s=POSTGRES_TIMEOUT_S)
        pid_file = self.directory / "pgdata" / "postmaster.pid"
        expect(not pid_file.exists(), f"PostgreSQL still running: {pid_file} exists after stop")
        self._running = False

    def password(self):
        return (self.directory / "password").read_text().splitlines()[0]

    def apply_schema(self):
        run_checked(["psql", self.url, "-q", "-X", "-v", "ON_ERROR_STOP=1", "-f", str(SCHEMA_FILE)],
                    "apply sql/schema.sql")

    def connection(self):
        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(self.url, connect_timeout=10)
            self._connection.autocommit = True
        return self._connection

    def close_connection(self):
        if self._connection is not None and not self._connection.closed:
            self._connection.close()
        self._connection = None

    def query(self, sql, params=None):
        with self.connection().cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.description is None:
                return []
            return cursor.fetchall()

    def reset(self):
        self.query("TRUNCATE " + ", ".join(TABLES) + " CASCADE")


def run_checked(command, purpose, timeout_s=60, env=None):
    """Run command and return its stdout. Raise CheckFailed naming purpose when it fails."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"failed to {purpose}: timed out after {timeout_s} s") from None
    if result.returncode != 0:
        raise CheckFailed(f"failed to {purpose}: exit {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


# ---------------------------------------------------------------------------
# Seed data
# ---------------------------------------------------------------------------


@dataclass
class Webhook:
    id: str
    board_id: str
    secret: str
    signature_header: str
    enabled: bool
    description: str


@dataclass
class World:
    """One organization with a gateway, a board, its lead agent and a signed webhook."""

    database: Database
    organization_id: str
    gateway_id: str
    board_id: str
    agent_id: str
    webhook: Webhook
    extra_webhooks: list = field(default_factory=list)

    def path(self, webhook=None, board_id=None):
        webhook = webhook or self.webhook
        return f"/api/v1/boards/{board_id or webhook.board_id}/webhooks/{webhook.id}"

    def add_webhook(self, board_id=None, **options):
        created = create_webhook(self.database, board_id or self.board_id, **options)
        self.extra_webhooks.append(created)
        return created

    def add_board(self, name="Second board"):
        return create_board(self.database, self.organization_id, self.gateway_id, name)


def new_id():
    return str(uuid.uuid4())


def create_organization(database, name="Integration test organization"):
    organization_id = new_id()
    database.query(
        "INSERT INTO organizations (id, name, created_at, updated_at) "
        "VALUES (%s, %s, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
        (organization_id, name))
    return organization_id


def create_gateway(database, organization_id):
    gateway_id = new_id()
    # Nothing connects to this URL: webhook-ingest only queues notifications.
    database.query(
        "INSERT INTO gateways (id, organization_id, name, url, token, disable_device_pairing, "
        "workspace_root, allow_insecure_tls, created_at, updated_at) "
        "VALUES (%s, %s, 'Test gateway', 'ws://127.0.0.1:9', NULL, false, '/tmp/openclaw-test', "
        "false, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
        (gateway_id, organization_id))
    return gateway_id


def create_board(database, organization_id, gateway_id, name="Release triage"):
    board_id = new_id()
    database.query(
        "INSERT INTO boards (id, organization_id, name, slug, description, gateway_id, "
        "created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, 'Board used by the integration tests', %s, "
        "now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
        (board_id, organization_id, name, name.lower().replace(" ", "-") + "-" + board_id[:8],
         gateway_id))
    return board_id


def create_agent(database, board_id, gateway_id, is_board_lead=True):
    agent_id = new_id()
    database.query(
        "INSERT INTO agents (id, board_id, gateway_id, name, status, openclaw_session_id, "
        "is_board_lead, created_at, updated_at) "
        "VALUES (%s, %s, %s, 'Lead agent', 'online', %s, %s, "
        "now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
        (agent_id, board_id, gateway_id, f"agent:{agent_id[:8]}:main", is_board_lead))
    return agent_id


def create_webhook(database, board_id, secret=None, signature_header=None, enabled=True,
                   description="Triage incoming GitHub events and open tasks for failures.",
                   agent_id=None):
    """Insert a webhook. secret=None makes a random secret, and "" or NULL_SECRET turns signatures off."""
    if secret is None:
        secret = random_secret()
    else:
        LOGBOOK.add_secret(secret)
    stored_secret = None if secret is NULL_SECRET else secret
    webhook_id = new_id()
    database.query(
        "INSERT INTO board_webhooks (id, board_id, agent_id, description, enabled, secret, "
        "signature_header, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
        (webhook_id, board_id, agent_id, description, enabled, stored_secret, signature_header))
    return Webhook(webhook_id, board_id, stored_secret or "", signature_header, enabled, description)


class _NullSecret(str):
    """Marker for a webhook whose secret column is SQL NULL."""


NULL_SECRET = _NullSecret("")


def seed_world(database, **webhook_options):
    organization_id = create_organization(database)
    gateway_id = create_gateway(database, organization_id)
    board_id = create_board(database, organization_id, gateway_id)
    agent_id = create_agent(database, board_id, gateway_id)
    webhook = create_webhook(database, board_id, **webhook_options)
    return World(database, organization_id, gateway_id, board_id, agent_id, webhook)


# ---------------------------------------------------------------------------
# Requests and responses
# ---------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list
    body: bytes
    log: str
    elapsed_s: float

    def header(self, name):
        """Return the first value of header name (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_values(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise CheckFailed(f"response body is not JSON: {shorten(self.body)}") from None

    def describe(self):
        return f"{self.status} {shorten(self.body, 120)}"


def parse_header_block(block):
    headers = []
    for line in block.split("\n"):
        line = line.rstrip("\r")
        if not line or ":" not in line:
            continue
        name, value = line.split(":", 1)
        headers.append((name.strip(), value.strip()))
    return headers


def to_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode()


AUTO = object()


class CgiTransport:
    """Plain CGI transport: the request goes into the environment and the body to stdin."""

    mode = "cgi"

    def __init__(self, binary, database_url, env=None):
        self.binary = Path(binary)
        self.base_env = {
            "PATH": "/usr/bin:/bin",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "DATABASE_URL": database_url,
            # Leak detection at exit is the point of running the sanitizer build as CGI.
            "ASAN_OPTIONS": "detect_leaks=1",
            "UBSAN_OPTIONS": "print_stacktrace=1",
        }
        self.base_env.update(env or {})

    def environment(self, method, path, body, headers, content_length, remote_addr, env):
        variables = dict(self.base_env)
        variables.update({"REQUEST_METHOD": method, "REQUEST_URI": path,
                          "SCRIPT_NAME": path.split("?", 1)[0],
                          "QUERY_STRING": path.split("?", 1)[1] if "?" in path else ""})
        if remote_addr is not None:
            variables["REMOTE_ADDR"] = remote_addr
        if content_length is AUTO:
            if body is not None:
                variables["CONTENT_LENGTH"] = str(len(body))
        elif content_length is not None:
            variables["CONTENT_LENGTH"] = content_length
        joined = {}
        for name, value in headers:
            if name.lower() == "content-length":
                continue
            key = "CONTENT_TYPE" if name.lower() == "content-type" else \
                "HTTP_" + name.upper().replace("-", "_")
            # A repeated header reaches the program joined with ", ", as servers join it.
            joined[key] = joined[key] + b", " + to_bytes(value) if key in joined else to_bytes(value)
        variables.update(joined)
        for key, value in (env or {}).items():
            if value is None:
                variables.pop(key, None)
            else:
                variables[key] = value
        return {to_bytes(key): to_bytes(value) for key, value in variables.items()}

    def send(self, method="POST", path="/", body=b"", headers=(), content_length=AUTO,
             remote_addr="127.0.0.1", env=None, stdin_open=False, timeout_s=REQUEST_TIMEOUT_S):
        """Run one request. stdin_open=True writes the body but never closes stdin,
        so a program that tries to read past it blocks and the run times out."""
        variables = self.environment(method, path, body, headers, content_length, remote_addr, env)
        started = time.monotonic()
        process = subprocess.Popen([str(self.binary)], env=variables, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        try:
            stdout, stderr = self._exchange(process, body or b"", stdin_open, timeout_s)
        finally:
            kill_process_group(process)
        elapsed = time.monotonic() - started
        log = stderr.decode("utf-8", "replace")
        LOGBOOK.add(f"CGI stderr ({method} {path[:60]})", log)
        report = sanitizer_report(log)
        expect(report is None, f"sanitizer report on CGI stderr: {report}")
        return parse_cgi_output(stdout, log, elapsed)

    @staticmethod
    def _exchange(process, body, stdin_open, timeout_s):
        outputs = {}

        def drain(name, stream):
            outputs[name] = stream.read()

        readers = [threading.Thread(target=drain, args=("stdout", process.stdout)),
                   threading.Thread(target=drain, args=("stderr", process.stderr))]
        for reader in readers:
            reader.start()
        try:
            process.stdin.write(body)
            process.stdin.flush()
        except BrokenPipeError:
            pass  # the program responded without reading the whole body
        if not stdin_open:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_process_group(process)
            raise CheckFailed(f"CGI run did not finish within {timeout_s} s") from None
        finally:
            if not process.stdin.closed:
                try:
                    process.stdin.close()
                except BrokenPipeError:
                    pass
        for reader in readers:
            reader.join(timeout=5)
        return outputs.get("stdout", b""), outputs.get("stderr", b"")


def parse_cgi_output(stdout, log, elapsed):
    separator = stdout.find(b"\r\n\r\n")
    skip = 4
    if separator < 0:
        separator, skip = stdout.find(b"\n\n"), 2
    expect(separator >= 0, f"CGI output has no header block: {shorten(stdout)}")
    headers = parse_header_block(stdout[:separator].decode("latin-1"))
    body = stdout[separator + skip:]
    status_text = next((value for name, value in headers if name.lower() == "status"), "200")
    return Response(int(status_text.split()[0]), headers, body, log, elapsed)


class LighttpdServer:
    """lighttpd serving lighttpd.conf with its own state folder, as a context manager.

    lighttpd runs in the foreground (-D) with its standard error in
    STATE/stderr.log. The FastCGI processes inherit that standard error, so
    their log lines land there, while lighttpd's own lines go to
    STATE/error.log (lighttpd.conf sets no server.breakagelog). Response.log
    and log_text() cover both files."""

    mode = "fcgi"

    def __init__(self, root, binary, database_url, env=None, procs=2, bind="127.0.0.1", label="server"):
        self.root = Path(root)
        self.binary = Path(binary)
        self.database_url = database_url
        self.extra_env = dict(env or {})
        self.procs = procs
        # EDGE_BIND as lighttpd reads it; "[::1]" is IPv6, and host is then "::1".
        self.bind = bind
        self.host = bind.strip("[]")
        self.label = label
        self.state = None
        self.process = None
        self.port = None
        self.children = []
        self.stderr_file = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        problems = self.stop()
        if problems and exc[0] is None:
            raise CheckFailed("; ".join(problems))
        return False

    def start(self):
        self.state = Path(tempfile.mkdtemp(prefix="lighttpd-", dir=self.root))
        for folder in ("htdocs", "uploads", "bin"):
            (self.state / folder).mkdir()
        # lighttpd refuses to start when a program that it must spawn is missing.
        for name in programs_in_config():
            source = self.binary.parent / name
            expect(source.is_file(), f"lighttpd.conf starts {name}, but {source.parent} has no {name}; "
                                     "build it with make")
            shutil.copy2(source, self.state / "bin" / name)
            (self.state / "bin" / name).chmod(0o755)
        for path in (self.state, self.state / "bin"):
            path.chmod(0o755)
        self.error_log.touch()
        if running_as_root():
            service = pwd.getpwnam(SERVICE_USER)
            for path in (self.state, self.state / "htdocs", self.state / "uploads", self.error_log):
                os.chown(path, service.pw_uid, service.pw_gid)

        self.port = free_port(self.host)
        env = {
            "PATH": SEARCH_PATH,
            "EDGE_ROOT": str(REPO_ROOT),
            "EDGE_BIN_DIR": str(self.state / "bin"),
            "EDGE_STATE_DIR": str(self.state),
            "EDGE_PORT": str(self.port),
            "EDGE_BIND": self.bind,
            "EDGE_FCGI_PROCS": str(self.procs),
            "DATABASE_URL": self.database_url,
            "LOCAL_AUTH_TOKEN": DEFAULT_LOCAL_AUTH_TOKEN,
            "UBSAN_OPTIONS": "print_stacktrace=1",
        }
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        self.stderr_file = open(self.stderr_log, "wb")
        self.process = subprocess.Popen(
            [LIGHTTPD, "-D", "-f", str(LIGHTTPD_CONF)],
            env={to_bytes(key): to_bytes(value) for key, value in env.items()},
            stdin=subprocess.DEVNULL, stdout=self.stderr_file, stderr=subprocess.STDOUT,
            start_new_session=True, cwd="/")
        CLEANUP.push(f"lighttpd {self.label}", self._force_stop)
        self.wait_for_port()

    def wait_for_port(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CheckFailed(f"lighttpd exited with status {self.process.returncode} at start: "
                                  f"{self.log_text()[-400:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise CheckFailed(f"lighttpd did not listen on port {self.port} within {SERVER_START_TIMEOUT_S} s")

    def fastcgi_pids(self, program=PROGRAM_NAME):
        """Return the pids of the running FastCGI processes of program."""
        pids = []
        for pid in child_pids(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except FileNotFoundError:
                continue
            if process_alive(pid) and command.endswith(b"/" + program.encode()):
                pids.append(pid)
        return sorted(pids)

    def stop(self):
        """Stop lighttpd and its FastCGI processes, and return a list of the problems found."""
        problems = []
        if self.process is None:
            return problems
        self.children = child_pids(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                problems.append(f"lighttpd ignored SIGTERM for {SERVER_STOP_TIMEOUT_S} s")
        deadline = time.monotonic() + SERVER_STOP_TIMEOUT_S
        while time.monotonic() < deadline and any(process_alive(pid) for pid in self.children):
            time.sleep(0.05)
        survivors = [pid for pid in self.children if process_alive(pid)]
        if survivors:
            problems.append(f"FastCGI processes {survivors} still running after lighttpd stopped")
        self._force_stop()
        CLEANUP.discard(self._force_stop)
        if self.process.returncode not in (0, -signal.SIGTERM):
            problems.append(f"lighttpd exited with status {self.process.returncode}")
        log = self.log_text()
        LOGBOOK.add(f"lighttpd logs ({self.label})", log)
        report = sanitizer_report(log)
        if report is not None:
            problems.append(f"sanitizer report in the lighttpd logs: {report}")
        self.process = None
        return problems

    def _force_stop(self):
        if self.process is not None:
            kill_process_group(self.process)
            for pid in self.children:
                if process_alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.stderr_file is not None and not self.stderr_file.closed:
            self.stderr_file.close()

    # -- logs --------------------------------------------------------------

    @property
    def error_log(self):
        return self.state / "error.log"

    @property
    def stderr_log(self):
        return self.state / "stderr.log"

    def log_offsets(self):
        offsets = []
        for path in (self.error_log, self.stderr_log):
            try:
                offsets.append(path.stat().st_size)
            except FileNotFoundError:
                offsets.append(0)
        return offsets

    def log_text(self, offsets=(0, 0)):
        """Return what error.log and stderr.log gained after offsets, error.log first."""
        parts = []
        for path, offset in zip((self.error_log, self.stderr_log), offsets):
            try:
                with open(path, "rb") as log:
                    log.seek(offset)
                    parts.append(log.read().decode("utf-8", "replace"))
            except FileNotFoundError:
                pass
        return "".join(parts)

    # -- requests ----------------------------------------------------------

    def url(self, path):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def send(self, method="POST", path="/", body=b"", headers=(), content_length=AUTO,
             remote_addr=None, env=None, stdin_open=False, timeout_s=REQUEST_TIMEOUT_S):
        """Send one request with curl. remote_addr, env and stdin_open exist for
        interface parity with CgiTransport and must keep their defaults here."""
        expect(remote_addr is None and env is None and not stdin_open and content_length is AUTO,
               "this request shape cannot be sent through lighttpd with curl")
        offsets = self.log_offsets()
        with tempfile.TemporaryDirectory(dir=self.root) as scratch:
            scratch = Path(scratch)
            command = ["curl", "-sS", "--http1.1", "-g", "--path-as-is",
                       "--max-time", str(timeout_s), "--connect-timeout", "5",
                       "-D", str(scratch / "headers"), "-o", str(scratch / "body"),
                       "-w", "%{http_code}",
                       # Drop what curl would add by itself, so both modes see the same headers.
                       "-H", "Content-Type:", "-H", "Expect:", "-H", "User-Agent:"]
            if method == "HEAD":
                command.append("--head")
            else:
                command += ["-X", method]
            for name, value in headers:
                value = to_bytes(value)
                command += ["-H", to_bytes(name) + (b": " + value if value else b";")]
            if body is not None and method != "HEAD":
                (scratch / "request").write_bytes(body)
                command += ["--data-binary", "@" + str(scratch / "request")]
            command.append(self.url(path))
            started = time.monotonic()
            try:
                result = subprocess.run(command, capture_output=True, timeout=timeout_s + 10)
            except subprocess.TimeoutExpired:
                raise CheckFailed(f"curl did not finish within {timeout_s + 10} s") from None
            elapsed = time.monotonic() - started
            if result.returncode != 0:
                raise CheckFailed(f"curl failed with exit {result.returncode}: "
                                  f"{result.stderr.decode(errors='replace').strip()}")
            raw_headers = (scratch / "headers").read_bytes().decode("latin-1")
            response_body = b""
            # With --head curl writes the headers to the output file too; a HEAD response has no body.
            if method != "HEAD" and (scratch / "body").exists():
                response_body = (scratch / "body").read_bytes()
        # After 100-continue or another informational response the last block is the final one.
        blocks = [block for block in raw_headers.replace("\r\n", "\n").split("\n\n") if block.strip()]
        headers_out = parse_header_block(blocks[-1].split("\n", 1)[1] if blocks else "")
        log = self.log_text(offsets)
        report = sanitizer_report(log)
        expect(report is None, f"sanitizer report in the lighttpd logs: {report}")
        return Response(int(result.stdout.decode() or 0), headers_out, response_body, log, elapsed)

    def send_raw(self, data, shutdown_write=True, timeout_s=5):
        """Write data to a new connection and return (response bytes, log text).

        The response is b"" when lighttpd closed the connection without
        responding, and None when it neither responded nor closed within timeout_s."""
        offsets = self.log_offsets()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        received = b""
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout_s)
            connection.connect((self.host, self.port))
            connection.sendall(data)
            if shutdown_write:
                connection.shutdown(socket.SHUT_WR)
            try:
                while True:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except socket.timeout:
                if not received:
                    received = None
            except ConnectionResetError:
                pass
        return received, self.log_text(offsets)


def parse_raw_response(data):
    """Split raw HTTP/1.1 response bytes into (status, headers, body)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    return status, parse_header_block("\n".join(lines[1:])), body

"""A private redis-server, a small RESP client and a listener that never replies.

Everything listens on 127.0.0.1 or on a unix socket inside the test's own
folder. The servers are stopped by the harness's Cleanup stack.
"""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from harness import CLEANUP, CheckFailed, free_port, kill_process_group

REDIS_SERVER = "redis-server"
START_TIMEOUT_S = 10


class RedisError(Exception):
    """An error reply (-ERR, -WRONGTYPE, ...) from the server."""


class RedisClient:
    """A blocking RESP2 client for one connection: enough for the checks' own commands."""

    def __init__(self, host="127.0.0.1", port=None, socket_path=None, password=None, db=0,
                 timeout_s=5):
        if socket_path is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = str(socket_path)
        else:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (host, port)
        self._socket.settimeout(timeout_s)
        self._socket.connect(address)
        self._buffer = b""
        if password is not None:
            self.call("AUTH", password)
        if db:
            self.call("SELECT", db)

    def close(self):
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def call(self, *arguments):
        """Send one command and return its reply: str, int, list or None. Raise RedisError."""
        encoded = [argument if isinstance(argument, bytes) else str(argument).encode()
                   for argument in arguments]
        request = b"*%d\r\n" % len(encoded)
        for argument in encoded:
            request += b"$%d\r\n%s\r\n" % (len(argument), argument)
        self._socket.sendall(request)
        return self._read_reply()

    def _read_line(self):
        while b"\r\n" not in self._buffer:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _read_exact(self, count):
        while len(self._buffer) < count:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _read_reply(self):
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self._read_exact(length + 2)[:-2]
            return data.decode("utf-8", "replace")
        if kind == b"*":
            length = int(rest)
            if length < 0:
                return None
            return [self._read_reply() for _ in range(length)]
        raise ConnectionError(f"unexpected RESP reply: {line[:80]!r}")


class RedisServer:
    """redis-server without persistence, on a loopback port and a unix socket.

    The port stays the same across kill() and start(), so a program that
    keeps the URL reconnects to the restarted server."""

    def __init__(self, root, name, password=None, bind=("127.0.0.1",)):
        self.directory = Path(root) / name
        self.password = password
        self.bind = bind
        self.port = None
        self.process = None
        self._cleanup_registered = False

    @property
    def socket_path(self):
        return self.directory / "redis.sock"

    def url(self, db=0, password=True):
        """Return the redis:// URL of this server, with the password unless password=False."""
        credentials = f":{self.password}@" if password and self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/{db}"

    def prepare(self):
        """Create the folder and pick the port, so url() works before the first start."""
        if self.port is None:
            self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
            # lighttpd's FastCGI processes run as www-data and must reach the socket.
            self.directory.chmod(0o755)
            self.port = free_port()

    def start(self):
        self.prepare()
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", *self.bind,
                   "--unixsocket", str(self.socket_path), "--unixsocketperm", "777",
                   "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                   "--logfile", str(self.directory / "redis.log"), "--databases", "16"]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        if not self._cleanup_registered:
            CLEANUP.push(f"redis-server in {self.directory}", self.stop)
            self._cleanup_registered = True
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CheckFailed(f"redis-server exited with status {self.process.returncode} at start; "
                                  f"log: {self.directory / 'redis.log'}")
            try:
                with self.client() as client:
                    if client.call("PING") == "PONG":
                        return
            except (OSError, RedisError):
                time.sleep(0.05)
        raise CheckFailed(f"redis-server did not reply to PING on port {self.port} "
                          f"within {START_TIMEOUT_S} s")

    def kill(self):
        """Kill the server with SIGKILL, as a crash would, and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process is not None:
            kill_process_group(self.process)

    def client(self, db=0):
        return RedisClient(port=self.port, password=self.password, db=db)

    def call(self, *arguments, db=0):
        """Run one command on a new connection and return its reply."""
        with self.client(db) as client:
            return client.call(*arguments)

    def flush(self):
        self.call("FLUSHALL")
        self.call("SCRIPT", "FLUSH")

    def time_us(self):
        """Return the server's clock (TIME) in microseconds."""
        seconds, microseconds = self.call("TIME")
        return int(seconds) * 1_000_000 + int(microseconds)


class SilentListener:
    """A loopback TCP listener that accepts connections, reads nothing and never replies.

    Accepted sockets stay open until close(), so a client waits for a reply
    until its own timeout."""

    def __init__(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        self._connections = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        self._stop_action = CLEANUP.push(f"silent listener on port {self.port}", self.close)

    def _accept_loop(self):
        self._listener.settimeout(0.1)
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._connections.append(connection)
            self.accepted += 1

    def close(self):
        self._closed.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._connections:
            connection.close()
        self._connections = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        CLEANUP.discard(self._stop_action)
        return False


def closed_port():
    """Return a loopback port with no listener (bound once, then released)."""
    return free_port()

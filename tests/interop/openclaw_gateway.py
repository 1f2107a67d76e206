"""The real OpenClaw gateway as a child process of the interop run.

Most of what the gateway writes goes under SCRATCH/openclaw: its home,
state and config folders, TMPDIR, the JSONL log (logging.file) and the
console log. openclaw 2026.9.6 also writes to /tmp/openclaw and to
/tmp/openclaw-state-locks-UID, ignoring TMPDIR, so scripts/interop mounts a
private tmpfs on both inside the namespace. Update checks, mDNS discovery and
the model catalog refresh are off in the config, and the process runs inside
a namespace with only loopback anyway.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import gateway_probe

# Any port is free inside the run's own network namespace.
DEFAULT_PORT = 26789
# SIGTERM drains active agent runs first, for up to 315 s in openclaw
# 2026.9.6; the run waits for its messages to be processed before it stops
# the gateway, so the drain is short.
STOP_TIMEOUT_S = 30
# Without --verbose the console shows only errors and slow replies (a 58 ms
# chat.send reply was logged, an 11 ms one was not). With it, the console
# shows every connect and every reply, one line each.
CONSOLE_OPTIONS = ["--verbose", "--ws-log", "compact"]
# Console colours and the console's reply lines, e.g.
# "[ws] ⇄ res ✓ chat.send 59ms runId=KEY conn=... id=...".
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
PROCESSED_LINE = re.compile(r"\[diagnostic\] message processed: .*\bmessageId=(?P<run>\S+)")
REPLY_LINE = re.compile(r"\[ws\] \S+ res (?P<mark>[✓✗]) (?P<method>\S+) (?P<rest>.*)$")


class GatewayError(Exception):
    """The gateway could not be configured, started or stopped."""


def memory_kib(pid):
    """Return (VmRSS, VmHWM) of pid in KiB, or (0, 0) when it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, rest = line.partition(":")
                if name in values:
                    values[name] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return values["VmRSS"], values["VmHWM"]


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            return [int(child) for child in children.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


class OpenClawGateway:
    """One gateway on 127.0.0.1:port with token auth and a random token."""

    def __init__(self, scratch, node, openclaw_main, port=DEFAULT_PORT):
        self.node = Path(node)
        self.openclaw_main = Path(openclaw_main)
        self.port = port
        self.base = Path(scratch) / "openclaw"
        self.home = self.base / "home"
        self.state = self.base / "state"
        self.temp = self.base / "tmp"
        self.config_path = self.state / "openclaw.json"
        self.console_log = self.base / "console.log"
        self.json_log = self.base / "gateway.jsonl"
        self.token_file = Path(scratch) / "gateway-token"
        self.token = secrets.token_urlsafe(32)
        self.process = None
        self.started_at = None
        self.ready_after_s = None

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    def probe_options(self, device=False):
        return gateway_probe.ConnectOptions(port=self.port, token=self.token, device=device)

    def write_config(self):
        """Write the config file and the token file, both readable by root only."""
        for folder in (self.home, self.state, self.temp):
            folder.mkdir(parents=True, exist_ok=True)
        config = {
            # mode "local" is required: without it the gateway does not start.
            "gateway": {"mode": "local", "port": self.port, "bind": "loopback",
                "auth": {"mode": "token", "token": self.token}},
            "update": {"checkOnStart": False},
            "discovery": {"mdns": {"mode": "off"}},
            "models": {"catalogRefresh": {"enabled": False}},
            # Without logging.file the gateway writes /tmp/openclaw/openclaw-DATE.log.
            "logging": {"file": str(self.json_log)},
        }
        for path, text in ((self.config_path, json.dumps(config, indent=1)),
                (self.token_file, self.token)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)

    def environment(self):
        # NODE_COMPILE_CACHE is left out on purpose: with it the gateway
        # respawns itself, and the pid started here becomes a wrapper.
        return {
            "PATH": f"{self.node.parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "OPENCLAW_HOME": str(self.home),
            "OPENCLAW_STATE_DIR": str(self.state),
            "OPENCLAW_CONFIG_PATH": str(self.config_path),
            "TMPDIR": str(self.temp),
            "OPENCLAW_NO_AUTO_UPDATE": "1",
            "OPENCLAW_DISABLE_BONJOUR": "1",
            "OPENCLAW_NO_RESPAWN": "1",
            "NO_COLOR": "1",
            "LANG": "C.UTF-8",
        }

    def start(self):
        """Start `openclaw gateway run` in its own session, without waiting for it."""
        self.write_config()
        with open(self.console_log, "wb") as console:
            self.process = subprocess.Popen(
                [str(self.node), str(self.openclaw_main), "gateway", "run"] + CONSOLE_OPTIONS,
                env=self.environment(), cwd=self.home, stdin=subprocess.DEVNULL,
                stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = time.monotonic()

    def wait_ready(self, timeout_s):
        """Wait until connect gets hello-ok and return the negotiated protocol.
        Raise GatewayError, with the console log's tail, when the gateway exits,
        rejects the connect or is not ready within timeout_s."""
        deadline = self.started_at + timeout_s
        while True:
            if self.process.poll() is not None:
                raise GatewayError(f"the gateway exited with status {self.process.returncode} "
                    f"while starting; console log ends: {self.console_tail()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GatewayError(f"the gateway was not ready within {timeout_s} s; "
                    f"console log ends: {self.console_tail()}")
            outcome, detail = gateway_probe.wait_ready(self.probe_options(), min(remaining, 2.0))
            if outcome == "ready":
                self.ready_after_s = time.monotonic() - self.started_at
                return detail
            if outcome == "refused":
                raise GatewayError(f"the gateway rejected the probe's connect: {detail}")

    def memory_report(self):
        """Return a line with the RSS of the gateway and of its child processes."""
        if self.process is None:
            return "not running"
        rss, peak = memory_kib(self.process.pid)
        children = sum(memory_kib(child)[0] for child in children_of(self.process.pid))
        return (f"gateway RSS {rss // 1024} MiB (peak {peak // 1024} MiB), "
            f"its child processes {children // 1024} MiB")

    def stop(self):
        """Stop the gateway with SIGTERM, then SIGKILL to its process group.
        Return the exit status, or None when it was not running."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        return self.process.returncode

    def console_text(self):
        try:
            text = self.console_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return ANSI_ESCAPE.sub("", text)

    def console_tail(self, lines=15):
        tail = self.console_text().splitlines()[-lines:]
        return " | ".join(line.strip() for line in tail).replace(self.token, "<token>")

    def replies(self, method):
        """Return (ok, rest of line) for each reply to method in the console log."""
        found = []
        for line in self.console_text().splitlines():
            match = REPLY_LINE.search(line)
            if match and match.group("method") == method:
                found.append((match.group("mark") == "✓", match.group("rest")))
        return found

    def unprocessed(self, run_ids):
        """Return the run ids that have no "message processed" line in the console
        yet. The gateway writes that line when the agent run of an accepted
        chat.send ends, here always with an error since no model is configured."""
        processed = set()
        for line in self.console_text().splitlines():
            match = PROCESSED_LINE.search(line)
            if match:
                processed.add(match.group("run"))
        return [run_id for run_id in run_ids if run_id not in processed]

    def wait_until_processed(self, run_ids, timeout_s):
        """Wait until every run in run_ids was processed; return the ones left."""
        deadline = time.monotonic() + timeout_s
        left = self.unprocessed(run_ids)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.unprocessed(left)
        return left

    def wait_for_reply(self, method, run_id, timeout_s=10):
        """Wait until the console log shows the reply to method for runId=run_id.
        Return (ok, rest of the line), or None after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            for ok, rest in self.replies(method):
                if f"runId={run_id} " in rest + " ":
                    return ok, rest
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

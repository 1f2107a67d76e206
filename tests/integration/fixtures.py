"""Request bodies for the tests: files from tests/fixtures/ and generated ones."""

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# FastCGI carries a request body in records of at most 65535 bytes.
FASTCGI_RECORD_MAX = 65535


def fixture_bytes(name):
    return (FIXTURES / name).read_bytes()


def github_check_value():
    """Return (secret, body, signature header value) of GitHub's published example."""
    data = json.loads(fixture_bytes("github-check-value.json"))
    return data["secret"], data["body"].encode(), data["signature"]


def header_file(name):
    """Return the "Name: value" lines of a side file as a list of pairs, in order."""
    pairs = []
    for line in fixture_bytes(name).decode().splitlines():
        if line.strip():
            key, value = line.split(":", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


def build_log_body(target_bytes=300 * 1024):
    """Return a JSON body of about target_bytes: a CI run's log lines, some non-ASCII.

    The result is deterministic, so a failure can be reproduced."""
    steps = ["checkout", "restore cache", "configure", "compile", "unit tests", "package"]
    lines = []
    size = 0
    number = 0
    while size < target_bytes:
        step = steps[number % len(steps)]
        text = (f"[{step}] line {number:06d}: compiled módulo_{number % 97:02d}.c → "
                f"build/obj/{number % 13}/unit_{number:05d}.o in {(number * 37) % 1000} ms")
        lines.append({"n": number, "step": step, "text": text, "ok": number % 211 != 0})
        size += len(json.dumps(lines[-1], ensure_ascii=False).encode()) + 1
        number += 1
    document = {"action": "completed", "workflow_run": {"id": 9081726354, "name": "CI", "conclusion": "failure"},
                "log": lines}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

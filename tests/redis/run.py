#!/usr/bin/python3
"""Run the rate-limit store tests: Redis (and PostgreSQL) under load and faults.

usage: run.py --bin-dir DIR [--filter SUBSTRING] [--keep-state]

DIR contains the webhook-ingest binary; mc-edge-admin is taken from the
sibling folder DIR/../bin (cgi-bin -> bin, build/sanitize/cgi-bin ->
build/sanitize/bin). The checks start their own PostgreSQL, redis-server and
lighttpd on loopback and unix sockets, reusing tests/integration/harness.py.
Standard output carries one line per check ("ok - NAME" or "not ok - NAME:
REASON") and a final "redis: N passed, N failed"; diagnostics go to standard
error. The exit status is 1 when a check failed.
"""

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

# The harness is imported from tests/integration, and this suite writes no
# bytecode cache into another suite's folder.
sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

from context import RedisContext  # noqa: E402
from harness import (CLEANUP, LOGBOOK, PROGRAM_NAME, CheckFailed, Database,  # noqa: E402
                     log_diagnostic)
from redis_server import RedisServer  # noqa: E402

import test_admin  # noqa: E402
import test_exact  # noqa: E402
import test_faults  # noqa: E402
import test_keys  # noqa: E402
import test_postgres  # noqa: E402
import test_settings  # noqa: E402
import test_window  # noqa: E402

MODULES = [
    test_exact.MODULE,
    test_window.MODULE,
    test_keys.MODULE,
    test_faults.MODULE,
    test_settings.MODULE,
    test_postgres.MODULE,
    test_admin.MODULE,
]


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, name, reason=None):
        if reason is None:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            reason = " ".join(str(reason).split())
            print(f"not ok - {name}: {reason}", flush=True)


def run_check(check, context, results):
    context.db.reset()
    context.redis.flush()
    started = time.monotonic()
    try:
        if check.mode == "plain":
            check.function(context)
        else:
            check.function(check.mode, context)
    except CheckFailed as failure:
        results.report(check.name, failure)
    except Exception as error:  # report and keep going with the next check
        log_diagnostic(f"{check.name}: unexpected error\n{traceback.format_exc()}")
        results.report(check.name, f"error: {type(error).__name__}: {error}")
    else:
        results.report(check.name)
    log_diagnostic(f"{check.name}: {time.monotonic() - started:.2f} s")


def run_module(module, selected, shared_database, redis, binaries, root, results):
    database = shared_database
    if module.own_database:
        database = Database(root, f"postgres-{module.title.replace(' ', '-')}")
        database.start()
        database.apply_schema()
    context = RedisContext(module, database, redis, binaries["webhook-ingest"],
                           binaries["mc-edge-admin"], root)
    try:
        for check in selected:
            run_check(check, context, results)
    finally:
        if module.own_database:
            database.stop()


def check_logs(results):
    leaks = LOGBOOK.leaks()
    reason = None
    if leaks:
        reason = f"{len(leaks)} log lines leak a secret, first: {leaks[0]}"
    results.report("logs: no password or secret in any log", reason)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True, type=Path,
                        help="folder that contains the webhook-ingest binary to test")
    parser.add_argument("--filter", default="",
                        help="run only the checks whose name or module title contains this text")
    parser.add_argument("--keep-state", action="store_true",
                        help="keep the temporary folder (databases, Redis and lighttpd logs) after the run")
    return parser.parse_args()


class Interrupted(BaseException):
    """A signal asked the run to stop; BaseException so no check's handler swallows it."""

    def __init__(self, signal_number):
        super().__init__(signal_number)
        self.signal_number = signal_number


def stop_on_signal(signal_number, _frame):
    raise Interrupted(signal_number)


def find_binaries(bin_dir):
    """Return the paths of webhook-ingest and mc-edge-admin, or print what is missing and return None."""
    binaries = {
        "webhook-ingest": bin_dir / PROGRAM_NAME,
        "mc-edge-admin": bin_dir.parent / "bin" / "mc-edge-admin",
    }
    for path in binaries.values():
        if not os.access(path, os.X_OK):
            print(f"run.py: {path} is missing or not executable; build it with make", file=sys.stderr)
            return None
    if shutil.which("redis-server") is None:
        print("run.py: redis-server is not installed; install the Debian package redis-server",
              file=sys.stderr)
        return None
    return binaries


def main():
    arguments = parse_arguments()
    binaries = find_binaries(arguments.bin_dir.resolve())
    if binaries is None:
        return 2
    for signal_number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signal_number, stop_on_signal)

    started = time.monotonic()
    results = Results()
    # The service users (postgres, www-data) must traverse the root folder.
    root = Path(tempfile.mkdtemp(prefix="mc-edge-redis-test.", dir="/tmp"))
    root.chmod(0o755)
    if not arguments.keep_state:
        CLEANUP.push(f"folder {root}", lambda: shutil.rmtree(root, ignore_errors=True))
    log_diagnostic(f"testing {binaries['webhook-ingest']}; state in {root}")

    try:
        database = Database(root, "postgres")
        database.start()
        database.apply_schema()
        # A password with URL-safe characters only; the settings checks cover escaped ones.
        redis = RedisServer(root, "redis", password="redis-pw-" + secrets.token_hex(12))
        LOGBOOK.add_secret(redis.password)
        redis.start()
        ran_any = False
        for module in MODULES:
            selected = [check for check in module.checks
                        if arguments.filter in check.name or arguments.filter in module.title]
            if selected:
                ran_any = True
                run_module(module, selected, database, redis, binaries, root, results)
        if ran_any:
            check_logs(results)
    except CheckFailed as failure:
        results.report("harness: setup", failure)
    except Interrupted as interruption:
        results.report("harness: run", f"interrupted by signal {interruption.signal_number}")
    finally:
        # A second signal during cleanup must not leave servers behind.
        for signal_number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signal_number, signal.SIG_IGN)
        CLEANUP.run_all()

    print(f"redis: {results.passed} passed, {results.failed} failed", flush=True)
    log_diagnostic(f"suite took {time.monotonic() - started:.1f} s")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Run the agent-auth tests against real PostgreSQL and lighttpd.

usage: run.py --bin-dir DIR [--filter SUBSTRING] [--keep-state]

DIR contains the agent-auth binary (and webhook-ingest, which lighttpd.conf
also starts); mc-edge-admin comes from the same build (DIR/../bin). Checks run
as plain CGI ("cgi: "), through lighttpd and FastCGI ("fcgi: "), or on their
own. Standard output carries one line per check ("ok - NAME" or
"not ok - NAME: REASON") and the summary "agent: N passed, N failed";
diagnostics go to standard error. The exit status is 1 when a check failed.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

from agent_harness import AGENT_PROGRAM, EXPECTED_LOG_LINES, admin_binary  # noqa: E402
from harness import CLEANUP, LOGBOOK, CheckFailed, Database, log_diagnostic  # noqa: E402
from suite import ModuleContext  # noqa: E402

import test_admin  # noqa: E402
import test_authorizer  # noqa: E402
import test_routes  # noqa: E402
import test_tokens  # noqa: E402

MODULES = [
    test_tokens.MODULE,
    test_routes.MODULE,
    test_authorizer.MODULE,
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
    started = time.monotonic()
    try:
        if check.mode == "plain":
            check.function(context)
        else:
            check.function(context.transport(check.mode), context)
    except CheckFailed as failure:
        results.report(check.name, failure)
    except Exception as error:  # report and keep going with the next check
        log_diagnostic(f"{check.name}: unexpected error\n{traceback.format_exc()}")
        results.report(check.name, f"error: {type(error).__name__}: {error}")
    else:
        results.report(check.name)
    log_diagnostic(f"{check.name}: {time.monotonic() - started:.2f} s")


def run_module(module, selected, database, binary, root, results):
    context = ModuleContext(module, database, binary, root)
    try:
        for check in selected:
            run_check(check, context, results)
    finally:
        problems = context.close()
        if problems is not None:
            results.report(f"fcgi: {module.title} server stops cleanly", "; ".join(problems) or None)


def check_logs(results):
    """Check the logs of the whole run: no token anywhere, and every expected line present."""
    leaks = LOGBOOK.leaks()
    reason = None
    if leaks:
        reason = f"{len(leaks)} log lines leak a token or secret, first: {leaks[0]}"
    results.report("logs: no full token in any log", reason)

    text = "\n".join(entry for _, entry in LOGBOOK.entries)
    missing = [line for line in EXPECTED_LOG_LINES if line not in text]
    reason = None
    if missing:
        reason = f"{len(missing)} of {len(EXPECTED_LOG_LINES)} expected lines missing, first: {missing[0]!r}"
    results.report("logs: token prefix lines present", reason)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True, type=Path,
                        help="folder that contains the agent-auth binary to test")
    parser.add_argument("--filter", default="",
                        help="run only the checks whose name or module title contains this text")
    parser.add_argument("--keep-state", action="store_true",
                        help="keep the temporary folder (database, lighttpd logs) after the run")
    return parser.parse_args()


class Interrupted(BaseException):
    """A signal asked the run to stop; BaseException so no check's handler swallows it."""

    def __init__(self, signal_number):
        super().__init__(signal_number)
        self.signal_number = signal_number


def stop_on_signal(signal_number, _frame):
    raise Interrupted(signal_number)


def main():
    arguments = parse_arguments()
    binary = arguments.bin_dir.resolve() / AGENT_PROGRAM
    for program in (binary, admin_binary(arguments.bin_dir)):
        if not os.access(program, os.X_OK):
            print(f"run.py: {program} is missing or not executable; build it with make",
                  file=sys.stderr)
            return 2
    for signal_number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signal_number, stop_on_signal)

    started = time.monotonic()
    results = Results()
    # The service users (postgres, www-data) must traverse the root folder.
    root = Path(tempfile.mkdtemp(prefix="mc-edge-agent-test.", dir="/tmp"))
    root.chmod(0o755)
    if not arguments.keep_state:
        CLEANUP.push(f"folder {root}", lambda: shutil.rmtree(root, ignore_errors=True))
    log_diagnostic(f"testing {binary}; state in {root}")

    try:
        database = Database(root, "postgres")
        database.start()
        database.apply_schema()
        ran_any = False
        for module in MODULES:
            selected = [check for check in module.checks
                        if arguments.filter in check.name or arguments.filter in module.title]
            if selected:
                ran_any = True
                run_module(module, selected, database, binary, root, results)
        # Every module stopped its servers, so their logs are in LOGBOOK.
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

    print(f"agent: {results.passed} passed, {results.failed} failed", flush=True)
    log_diagnostic(f"agent suite took {time.monotonic() - started:.1f} s")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())

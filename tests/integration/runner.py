"""The main loop shared by the suites that run modules of checks against a
private PostgreSQL and lighttpd (tests/integration, tests/agent): argument
parsing, one result line per check, signal handling, cleanup and the summary."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from harness import CLEANUP, LOGBOOK, CheckFailed, Database, log_diagnostic
from suite import ModuleContext

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Results:
    """Counts and prints one "ok - NAME" or "not ok - NAME: REASON" line per check."""

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


class Interrupted(BaseException):
    """A signal asked the run to stop; BaseException so no check's handler swallows it."""

    def __init__(self, signal_number):
        super().__init__(signal_number)
        self.signal_number = signal_number


def stop_on_signal(signal_number, _frame):
    raise Interrupted(signal_number)


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


def run_module(module, selected, shared_database, binary, root, results):
    """Run the selected checks of one module, on a database of its own when the module requests one."""
    database = shared_database
    if module.own_database:
        database = Database(root, f"postgres-{module.title.replace(' ', '-')}")
        database.start()
        database.apply_schema()
    context = ModuleContext(module, database, binary, root)
    try:
        for check in selected:
            run_check(check, context, results)
    finally:
        problems = context.close()
        if problems is not None:
            results.report(f"fcgi: {module.title} server stops cleanly", "; ".join(problems) or None)
        if module.own_database:
            database.stop()


def check_no_leaks(results, name):
    """Report whether any log line of the run leaked a secret, token or signature."""
    leaks = LOGBOOK.leaks()
    reason = None
    if leaks:
        reason = f"{len(leaks)} log lines leak a secret, first: {leaks[0]}"
    results.report(name, reason)


def parse_arguments(description, program):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bin-dir", required=True, type=Path,
                        help=f"folder that contains the {program} binary to test")
    parser.add_argument("--filter", default="",
                        help="run only the checks whose name or module title contains this text")
    parser.add_argument("--keep-state", action="store_true",
                        help="keep the temporary folder (databases, lighttpd logs) after the run")
    return parser.parse_args()


def main(label, description, program, modules, required, check_logs):
    """Run modules against program in --bin-dir and return the exit status.

    required(bin_dir) lists the executables that must exist besides program;
    check_logs(results) runs once after the modules, on the run's logs."""
    arguments = parse_arguments(description, program)
    binary = arguments.bin_dir.resolve() / program
    for path in [binary, *required(arguments.bin_dir.resolve())]:
        if not os.access(path, os.X_OK):
            print(f"run.py: {path} is missing or not executable; build it with make",
                  file=sys.stderr)
            return 2
    for signal_number in STOP_SIGNALS:
        signal.signal(signal_number, stop_on_signal)

    started = time.monotonic()
    results = Results()
    # The service users (postgres, www-data) must traverse the root folder.
    root = Path(tempfile.mkdtemp(prefix=f"mc-edge-{label}-test.", dir="/tmp"))
    root.chmod(0o755)
    if not arguments.keep_state:
        CLEANUP.push(f"folder {root}", lambda: shutil.rmtree(root, ignore_errors=True))
    log_diagnostic(f"testing {binary}; state in {root}")

    try:
        database = Database(root, "postgres")
        database.start()
        database.apply_schema()
        ran_any = False
        for module in modules:
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
        for signal_number in STOP_SIGNALS:
            signal.signal(signal_number, signal.SIG_IGN)
        CLEANUP.run_all()

    print(f"{label}: {results.passed} passed, {results.failed} failed", flush=True)
    log_diagnostic(f"{label} suite took {time.monotonic() - started:.1f} s")
    return 1 if results.failed else 0

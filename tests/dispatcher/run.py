#!/usr/bin/python3
"""Run the mc-edge-dispatcher tests against real PostgreSQL and the test gateway.

usage: run.py --bin-dir DIR [--filter SUBSTRING] [--keep-state]

DIR contains webhook-ingest, which stores the payloads as plain CGI;
mc-edge-dispatcher and mc-edge-admin come from the same build (DIR/../bin).
The test gateway (tests/gateway/gateway_server.py) listens on loopback ports
25100-25999. Standard output carries one line per check ("ok - NAME" or
"not ok - NAME: REASON") and the summary "dispatcher: N passed, N failed";
diagnostics go to standard error. The exit status is 1 when a check failed.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import runner  # noqa: E402
from dispatcher_harness import admin_binary, dispatcher_binary  # noqa: E402
from harness import PROGRAM_NAME  # noqa: E402

import test_admin  # noqa: E402
import test_delivery  # noqa: E402
import test_faults  # noqa: E402

MODULES = [
    test_delivery.MODULE,
    test_faults.MODULE,
    test_admin.MODULE,
]


def main():
    return runner.main("dispatcher", __doc__.splitlines()[0], PROGRAM_NAME, MODULES,
                       required=lambda bin_dir: [dispatcher_binary(bin_dir), admin_binary(bin_dir)],
                       check_logs=lambda results: runner.check_no_leaks(
                           results, "logs: no secret or token in any log"))


if __name__ == "__main__":
    sys.exit(main())

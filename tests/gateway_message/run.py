#!/usr/bin/python3
"""Run the gateway-message tests against real PostgreSQL, lighttpd and the test gateway.

usage: run.py --bin-dir DIR [--filter SUBSTRING] [--keep-state]

DIR contains the gateway-message binary (and the other programs that
lighttpd.conf starts). Checks run as plain CGI ("cgi: "), through lighttpd
and FastCGI ("fcgi: "), or on their own. Standard output carries one line
per check ("ok - NAME" or "not ok - NAME: REASON") and the summary
"gateway-message: N passed, N failed"; diagnostics go to standard error.
The exit status is 1 when a check failed.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parent / "gateway"))

from message_harness import PROGRAM, leaked_secrets  # noqa: E402
import runner  # noqa: E402

import test_auth  # noqa: E402
import test_delivery  # noqa: E402
import test_refusals  # noqa: E402

MODULES = [
    test_refusals.MODULE,
    test_delivery.MODULE,
    test_auth.LOCAL_MODULE,
    test_auth.JWT_MODULE,
]


def check_logs(results):
    """Check the whole run: no gateway token, local token or message text in
    any log line, and no secret in any response body."""
    runner.check_no_leaks(results, "logs: no token or message text in any log")
    leaks = leaked_secrets()
    reason = None
    if leaks:
        reason = f"{len(leaks)} response bodies hold a secret, first: {leaks[0]}"
    results.report("responses: no token in any response body", reason)


def main():
    return runner.main("gateway-message", __doc__.splitlines()[0], PROGRAM, MODULES,
                       required=lambda bin_dir: [], check_logs=check_logs)


if __name__ == "__main__":
    sys.exit(main())

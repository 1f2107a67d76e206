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

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

from agent_harness import AGENT_PROGRAM, EXPECTED_LOG_LINES, admin_binary  # noqa: E402
import runner  # noqa: E402
from harness import LOGBOOK  # noqa: E402

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


def check_logs(results):
    """Check the logs of the whole run: no token anywhere, and every expected line present."""
    runner.check_no_leaks(results, "logs: no full token in any log")

    text = "\n".join(entry for _, entry in LOGBOOK.entries)
    missing = [line for line in EXPECTED_LOG_LINES if line not in text]
    reason = None
    if missing:
        reason = f"{len(missing)} of {len(EXPECTED_LOG_LINES)} expected lines missing, first: {missing[0]!r}"
    results.report("logs: token prefix lines present", reason)


def main():
    return runner.main("agent", __doc__.splitlines()[0], AGENT_PROGRAM, MODULES,
                       required=lambda bin_dir: [admin_binary(bin_dir)],
                       check_logs=check_logs)


if __name__ == "__main__":
    sys.exit(main())

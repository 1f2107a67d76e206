#!/usr/bin/python3
"""Run the webhook-ingest integration tests against real PostgreSQL and lighttpd.

usage: run.py --bin-dir DIR [--filter SUBSTRING] [--keep-state]

DIR contains the webhook-ingest binary; it runs as plain CGI and, copied into a
state folder, as lighttpd's FastCGI program. Standard output carries one line
per check ("ok - NAME" or "not ok - NAME: REASON") and a final summary line;
diagnostics go to standard error. The exit status is 1 when a check failed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runner  # noqa: E402
from harness import PROGRAM_NAME  # noqa: E402

import test_client_ip  # noqa: E402
import test_fence  # noqa: E402
import test_headers_config  # noqa: E402
import test_ingest_refusals  # noqa: E402
import test_ingest_signature  # noqa: E402
import test_ingest_storage  # noqa: E402
import test_payload_decoding  # noqa: E402
import test_ratelimit  # noqa: E402
import test_server_framing  # noqa: E402
import test_store_outage  # noqa: E402

MODULES = [
    test_ingest_storage.MODULE,
    test_payload_decoding.MODULE,
    test_ingest_refusals.MODULE,
    test_ingest_signature.MODULE,
    test_fence.MODULE,
    test_client_ip.MODULE,
    test_ratelimit.MODULE,
    test_headers_config.MODULE,
    test_server_framing.MODULE,
    test_store_outage.MODULE,
]


def main():
    return runner.main("integration", __doc__.splitlines()[0], PROGRAM_NAME, MODULES,
                       required=lambda bin_dir: [],
                       check_logs=lambda results: runner.check_no_leaks(
                           results, "logs: no secret or signature in any log"))


if __name__ == "__main__":
    sys.exit(main())

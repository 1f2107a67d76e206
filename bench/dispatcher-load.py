#!/usr/bin/python3
"""Send signed webhooks at a steady rate for the latency runs of bench/dispatcher.sh.

usage: dispatcher-load.py URL SECRET RATE SECONDS OUT_FILE

Sends RATE signed JSON deliveries per second for SECONDS to URL over one
keep-alive HTTP/1.1 connection. The schedule is fixed, so a late request does
not shift the ones after it. For each 202 it writes "payload_id<TAB>time" to
OUT_FILE. The time is the client's wall clock (time.time()) when the 202
arrived, which the benchmark compares with the test gateway's record time.
"""

import hashlib
import hmac
import http.client
import json
import sys
import time
from urllib.parse import urlsplit


def main():
    url, secret, rate, seconds, out_path = sys.argv[1:6]
    rate, seconds = float(rate), float(seconds)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    count = int(rate * seconds)
    failures = 0

    start = time.monotonic()
    with open(out_path, "w") as out:
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)

            body = json.dumps({"sequence": i, "action": "opened"}).encode()
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            connection.request("POST", parts.path, body, {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": "sha256=" + signature,
                "X-Forwarded-For": f"10.9.{i // 256 % 256}.{i % 256}"})
            response = connection.getresponse()
            reply = response.read()

            if response.status != 202:
                failures += 1
                print(f"request {i}: HTTP {response.status} {reply[:200]!r}", file=sys.stderr)
                continue
            out.write(f"{json.loads(reply)['payload_id']}\t{time.time():.6f}\n")

    behind = time.monotonic() - (start + count / rate)
    print(f"sent {count}, failed {failures}, finished {max(behind, 0):.2f} s behind schedule",
          file=sys.stderr)

    # A few failures (a FastCGI process restarting) do not void the latency
    # figures, but more than 1% of the requests do.
    return 1 if failures > count // 100 else 0


if __name__ == "__main__":
    sys.exit(main())

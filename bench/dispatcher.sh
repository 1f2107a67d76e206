#!/bin/sh
# Benchmark of the notification dispatcher and its wake-up, on loopback.
#
#   bench/dispatcher.sh
#
# One run, in a new folder under /tmp that it removes at exit:
#   1. builds the programs (make all bench-binaries);
#   2. starts a private PostgreSQL (scripts/private-postgres, durable
#      commits) with sql/schema.sql and the demo seed, the test gateway
#      (tests/gateway/gateway_server.py) as the demo board's gateway, and
#      lighttpd.conf serving webhook-ingest with 4 FastCGI processes;
#   3. measures ingest throughput with wrk and bench/signed-post.lua, which
#      sends the same 1024-byte signed body from many X-Forwarded-For
#      addresses. The rate limiter is on, with a limit that is never reached.
#      Four set-ups run one after the other:
#        baseline     no dispatcher, wake-ups off (DISPATCH_WAKE_SOCKET empty)
#        wake-only    a datagram after each commit to a socket that a small
#                     reader drains, and no dispatcher, so only the wake-up's
#                     cost is added
#        notify       NOTIFY in each ingest transaction (an AFTER INSERT
#                     trigger on the outbox calls pg_notify), no dispatcher
#        dispatcher   mc-edge-dispatcher running with wake-ups, sending every
#                     row to the test gateway (throttle off)
#   4. measures delivery latency with bench/dispatcher-load.py, which sends
#      BENCH_RATE webhooks per second for BENCH_LATENCY_SECONDS over one
#      keep-alive connection. Latency runs from the client's clock at the 202
#      to the test gateway's record of the chat.send (same host, same clock).
#      It prints p50/p99/max with wake-ups, then with polling only
#      (DISPATCH_POLL_MS default 1000). Then it repeats both at
#      BENCH_SPARSE_RATE per second, where each webhook finds the dispatcher
#      idle, which is where the wake-up matters.
#
# Settings (environment):
#   BENCH_SECONDS           measured seconds per throughput set-up (default 10)
#   BENCH_WARMUP_SECONDS    warm-up seconds per set-up (default 2)
#   BENCH_RATE              webhooks per second in the latency runs (default 100)
#   BENCH_LATENCY_SECONDS   seconds per latency run (default 20)
#   BENCH_ROUNDS            rounds of the four throughput set-ups, run in turn so
#                           that load from elsewhere spreads over all (default 3)
#   BENCH_SPARSE_RATE       webhooks per second in the sparse latency runs (default 5)
#   BENCH_COMMIT_DELAY_US   PostgreSQL commit_delay in microseconds (default 0), to
#                           model a disk whose flush is slower than this host's:
#                           commits that may share a flush then wait for each other
#   BENCH_BUILD             1 (default) runs make first; 0 uses the binaries as built
# wrk, lighttpd, PostgreSQL, the gateway and the dispatcher share the CPUs,
# so compare the set-ups of one run with each other, not across machines.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

THREADS=2
CONNECTIONS=32
FCGI_PROCS=4
BODY_BYTES=1024
BOARD_ID=0b3c4d5e-0000-4000-8000-000000000003
WEBHOOK_ID=0b3c4d5e-0000-4000-8000-000000000005
GATEWAY_ID=0b3c4d5e-0000-4000-8000-000000000002

seconds=${BENCH_SECONDS:-10}
warmup_seconds=${BENCH_WARMUP_SECONDS:-2}
rate=${BENCH_RATE:-100}
latency_seconds=${BENCH_LATENCY_SECONDS:-20}
rounds=${BENCH_ROUNDS:-3}
sparse_rate=${BENCH_SPARSE_RATE:-5}
commit_delay=${BENCH_COMMIT_DELAY_US:-0}

require_positive "BENCH_SECONDS=$seconds" "BENCH_WARMUP_SECONDS=$warmup_seconds" \
	"BENCH_RATE=$rate" "BENCH_LATENCY_SECONDS=$latency_seconds" "BENCH_ROUNDS=$rounds" \
	"BENCH_SPARSE_RATE=$sparse_rate"

# PostgreSQL accepts commit_delay from 0 to 100000 microseconds.
case $commit_delay in
'' | *[!0-9]*) die "BENCH_COMMIT_DELAY_US must be a whole number from 0 to 100000, not '$commit_delay'" ;;
esac
[ "$commit_delay" -le 100000 ] || die "BENCH_COMMIT_DELAY_US must be at most 100000, not $commit_delay"

cd "$root"
require_tools lighttpd psql openssl curl wrk timeout make
build_programs

start_run_folder mc-edge-bench-dispatch
state=$work_dir/lighttpd
wake_socket=$state/dispatcher-wake.sock
gateway_pid=
dispatcher_pid=
drain_pid=
stop_on_exit dispatcher_pid drain_pid gateway_pid

start_gateway() {
	/usr/bin/python3 tests/gateway/gateway_server.py --host 127.0.0.1 --port 0 \
		--port-file "$work_dir/gateway.port" --record "$work_dir/gateway.jsonl" \
		--log "$work_dir/gateway.log" &
	# shellcheck disable=SC2034 # the exit trap stops it (stop_on_exit)
	gateway_pid=$!
	for _ in $(seq 100); do
		[ -s "$work_dir/gateway.port" ] && break
		sleep 0.1
	done
	[ -s "$work_dir/gateway.port" ] || die "the test gateway did not start; see $work_dir/gateway.log"
	sql "UPDATE gateways SET url = 'ws://127.0.0.1:$(cat "$work_dir/gateway.port")' WHERE id = '$GATEWAY_ID'"
}

# Starts lighttpd with DISPATCH_WAKE_SOCKET=$1 (empty: wake-ups off). Its
# state folder is prepared once, because FastCGI processes of a stopped
# lighttpd may still hold the copied binaries open for a moment.
start_ingest_lighttpd() {
	start_lighttpd "$state" RATE_LIMIT_BACKEND=postgres RATE_LIMIT_WEBHOOK_INGEST=100000/60 \
		RATE_LIMIT_FAIL_OPEN=false TRUSTED_PROXIES=127.0.0.1/32 LOG_LEVEL=WARNING \
		DISPATCH_WAKE_SOCKET="$1"
}

# Starts the dispatcher with extra settings "$@" (NAME=VALUE ...).
start_dispatcher() {
	env EDGE_STATE_DIR="$state" DISPATCH_THROTTLE=off DISPATCH_BATCH=64 \
		LOG_LEVEL=WARNING "$@" bin/mc-edge-dispatcher 2>>"$work_dir/dispatcher.log" &
	dispatcher_pid=$!
	sleep 0.5
	kill -0 "$dispatcher_pid" 2>/dev/null || die "the dispatcher exited; see $work_dir/dispatcher.log"
}

# Prints the 2xx responses per second and the non-2xx count of a wrk run of
# $1 seconds.
ingest_rate() {
	ingest_result=$(run_wrk "$1" "$CONNECTIONS" "$url" "$root/bench/signed-post.lua" \
		"$body_file" "$signature" 2048) || exit 1
	printf '%s\n' "$ingest_result" | tr ' ' '\n' | awk -F= '
		$1 == "ok" { ok = $2 } $1 == "non2xx" { bad = $2 } $1 == "duration_us" { us = $2 }
		END { printf "%.0f %d\n", ok / (us / 1e6), bad }'
}

# Measures set-up $1 (label) with lighttpd already started; appends a line to results.
measure_ingest() {
	empty_webhook_tables
	ingest_rate "$warmup_seconds" >/dev/null
	result=$(ingest_rate "$seconds")
	outbox_rows=$(sql "SELECT count(*) FROM edge_notification_outbox")
	printf '%-12s %6s %10s %8s %12s\n' "$1" "$round" "${result% *}" "${result#* }" "$outbox_rows" >>"$work_dir/results"
	echo "round $round, $1: ${result% *} 2xx/s" >&2
}

# Sends $2 webhooks per second for BENCH_LATENCY_SECONDS and prints the
# p50/p99/max latency in ms under label $1.
measure_latency() {
	empty_webhook_tables
	: >"$work_dir/gateway.jsonl"
	/usr/bin/python3 bench/dispatcher-load.py "$url" "$secret" "$2" "$latency_seconds" \
		"$work_dir/accepted.tsv" >&2 || die "the load client (bench/dispatcher-load.py) failed; see its output above"
	total=$(wc -l <"$work_dir/accepted.tsv")
	for _ in $(seq 300); do
		[ "$(sql "SELECT count(*) FROM edge_notification_outbox WHERE state = 'sent'")" -ge "$total" ] && break
		sleep 0.1
	done
	/usr/bin/python3 - "$work_dir/accepted.tsv" "$work_dir/gateway.jsonl" "$1" <<'PYTHON'
import json, sys
accepted = dict(line.split("\t") for line in open(sys.argv[1]).read().splitlines())
sent = {}
for line in open(sys.argv[2]):
    record = json.loads(line)
    if record.get("event") == "chat.send" and record["idempotencyKey"] not in sent:
        sent[record["idempotencyKey"]] = record["time"]
latencies = sorted((sent[key] - float(at)) * 1000 for key, at in accepted.items() if key in sent)
missing = len(accepted) - len(latencies)
if not latencies:
    print(f"{sys.argv[3]:<14} no deliveries")
    sys.exit(0)
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"{sys.argv[3]:<14} {len(latencies):6d} {pick(0.50):9.1f} {pick(0.99):9.1f} {latencies[-1]:9.1f} {missing:8d}")
PYTHON
}

secret=$(openssl rand -hex 24)
body_file=$work_dir/body.json
write_body "$body_file" '{"ref": "refs/heads/main", "repository": {"full_name": "octo-org/octo-repo"}, "padding": "'
signature=$(sign_body "$body_file" "$secret")
port=$(free_port)
url=http://127.0.0.1:$port/api/v1/boards/$BOARD_ID/webhooks/$WEBHOOK_ID
: >"$work_dir/results"

start_database
if [ "$commit_delay" != 0 ]; then
	sql "ALTER SYSTEM SET commit_delay = $commit_delay" >/dev/null
	sql "SELECT pg_reload_conf()" >/dev/null
fi
seed_demo "$secret"
start_gateway
prepare_lighttpd "$state"

for round in $(seq "$rounds"); do
	start_ingest_lighttpd ""
	measure_ingest baseline
	stop_lighttpd

	start_ingest_lighttpd "$wake_socket"
	/usr/bin/python3 -c '
import os, socket, sys
path = sys.argv[1]
reader = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
reader.bind(path)
os.chmod(path, 0o666)
while True:
    reader.recv(64)
' "$wake_socket" &
	drain_pid=$!
	measure_ingest wake-only
	stop_pid "$drain_pid"; drain_pid=
	rm -f "$wake_socket"
	stop_lighttpd

	start_ingest_lighttpd ""
	sql "CREATE FUNCTION bench_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS
	     \$\$ BEGIN PERFORM pg_notify('edge_outbox', ''); RETURN NULL; END \$\$;
	     CREATE TRIGGER bench_outbox_notify AFTER INSERT ON edge_notification_outbox
	     FOR EACH ROW EXECUTE FUNCTION bench_outbox_notify()" >/dev/null
	measure_ingest notify
	sql "DROP TRIGGER bench_outbox_notify ON edge_notification_outbox;
	     DROP FUNCTION bench_outbox_notify()" >/dev/null
	stop_lighttpd

	start_ingest_lighttpd "$wake_socket"
	start_dispatcher
	measure_ingest dispatcher
	stop_pid "$dispatcher_pid"; dispatcher_pid=
	stop_lighttpd
done

start_ingest_lighttpd "$wake_socket"
start_dispatcher
measure_latency "wake-up" "$rate" >"$work_dir/latency"
measure_latency "wake-up" "$sparse_rate" >"$work_dir/sparse"
stop_pid "$dispatcher_pid"; dispatcher_pid=
start_dispatcher DISPATCH_WAKE_SOCKET=
measure_latency "polling only" "$rate" >>"$work_dir/latency"
measure_latency "polling only" "$sparse_rate" >>"$work_dir/sparse"
stop_pid "$dispatcher_pid"; dispatcher_pid=

echo
echo "Ingest throughput: wrk -t2 -c32 -d${seconds}s, $BODY_BYTES-byte signed JSON body, lighttpd with $FCGI_PROCS FastCGI processes,"
echo "durable commits (commit_delay $commit_delay us), $(getconf _NPROCESSORS_ONLN) CPUs shared by every process"
printf '%-12s %6s %10s %8s %12s\n' set-up round '2xx/s' non-2xx 'outbox rows'
cat "$work_dir/results"
echo
echo "Mean over $rounds rounds:"
awk '{ sum[$1] += $3; n[$1]++; if (!($1 in order)) { order[$1] = ++count; name[count] = $1 } }
	END {
		base = sum["baseline"] / n["baseline"]
		for (i = 1; i <= count; i++) {
			mean = sum[name[i]] / n[name[i]]
			printf "%-12s %8.0f 2xx/s  %.3f of baseline\n", name[i], mean, mean / base
		}
	}' "$work_dir/results"
echo
echo "Delivery latency, webhook 202 to chat.send at the test gateway, $rate webhooks/s for ${latency_seconds} s:"
printf '%-14s %6s %9s %9s %9s %8s\n' dispatcher sent 'p50 ms' 'p99 ms' 'max ms' missing
cat "$work_dir/latency"
echo
echo "Delivery latency at $sparse_rate webhooks/s for ${latency_seconds} s:"
printf '%-14s %6s %9s %9s %9s %8s\n' dispatcher sent 'p50 ms' 'p99 ms' 'max ms' missing
cat "$work_dir/sparse"

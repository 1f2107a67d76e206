#!/bin/sh
# Load benchmark of webhook-ingest against a bare insert, on loopback.
#
#   bench/webhook-ingest.sh
#
# One run does the following, in a new folder under /tmp that it removes at exit:
#   1. builds the programs (make all bench-binaries);
#   2. starts a private PostgreSQL (scripts/private-postgres, durable commits),
#      applies sql/schema.sql and seeds the demo board and a webhook secret;
#   3. serves cgi-bin/webhook-ingest through lighttpd.conf with 4 FastCGI
#      processes, the PostgreSQL rate limiter on with a limit that is never
#      reached (RATE_LIMIT_FAIL_OPEN=false, so a limiter failure shows as 503)
#      and 127.0.0.1 as a trusted proxy, and loads it with wrk: a warm-up,
#      then the measured run;
#   4. serves build/release/bench/bare-insert (one durable INSERT of the body
#      per request, nothing else) through the same lighttpd.conf, route and
#      settings, and loads it the same way;
#   5. prints 2xx responses per second, p50/p99 latency, the CPU time per
#      2xx response of each process group, the ratio
#      webhook-ingest / bare-insert and the target.
#
# Every request carries the same 1024-byte JSON body, its valid
# X-Hub-Signature-256 and one of 2 x BENCH_ADDRESSES_PER_THREAD distinct
# X-Forwarded-For addresses (10.t.x.y, header text only), so the limiter
# updates thousands of keys, each holding few timestamps. Only 2xx responses
# count towards throughput. Other statuses and socket errors are printed
# beside them. Latency percentiles come from wrk and cover every response.
# wrk shares the CPUs with the server, so the CPU table also shows how much
# CPU went to other work on the machine during each run.
#
# Settings (environment):
#   BENCH_SECONDS               measured seconds per program (default 15)
#   BENCH_WARMUP_SECONDS        warm-up seconds per program (default 3)
#   BENCH_ADDRESSES_PER_THREAD  X-Forwarded-For values per wrk thread (default 2048)
#   BENCH_PORT                  loopback TCP port (default: a free one)
#   BENCH_BUILD                 1 (default) runs make first; 0 uses the binaries as built
# The programs inherit this environment, so LOG_LEVEL or LOG_FORMAT set by
# the caller reach them. wrk runs with 2 threads and 32 connections. As root,
# PostgreSQL runs as "postgres" and lighttpd drops to www-data (EDGE_USER).
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

THREADS=2
CONNECTIONS=32
FCGI_PROCS=4
TARGET_RATIO=0.85
BODY_BYTES=1024
# The demo seed's ids (sql/demo-seed.sql).
BOARD_ID=0b3c4d5e-0000-4000-8000-000000000003
WEBHOOK_ID=0b3c4d5e-0000-4000-8000-000000000005

seconds=${BENCH_SECONDS:-15}
warmup_seconds=${BENCH_WARMUP_SECONDS:-3}
addresses_per_thread=${BENCH_ADDRESSES_PER_THREAD:-2048}

require_positive "BENCH_SECONDS=$seconds" "BENCH_WARMUP_SECONDS=$warmup_seconds" \
	"BENCH_ADDRESSES_PER_THREAD=$addresses_per_thread"
[ "$addresses_per_thread" -le 65536 ] ||
	die "BENCH_ADDRESSES_PER_THREAD must be at most 65536, not $addresses_per_thread"

cd "$root"

# Installs wrk from Debian when it is missing (root only).
ensure_wrk() {
	command -v wrk >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "wrk is not installed; install the Debian package wrk (apt-get install wrk) and run again"
	echo "wrk is missing; installing the Debian package wrk" >&2
	apt-get update >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null ||
		die "installing wrk with apt-get failed"
}

require_tools lighttpd psql openssl curl timeout make
ensure_wrk

ingest_binary=$root/cgi-bin/webhook-ingest
bare_binary=$root/build/release/bench/bare-insert
build_programs
for binary in "$ingest_binary" "$bare_binary"; do
	[ -x "$binary" ] || die "$binary is missing; run make all bench-binaries"
done

start_run_folder mc-edge-bench

# Serves binary $2 under name $1, warms it up and measures it. Leaves the
# RESULT line in result, the CPU milliseconds of each part during the
# measured run in cpu and the stored row counts in rows.
measure() {
	name=$1
	state=$work_dir/lighttpd-$name

	empty_webhook_tables
	# Both programs get the same route, pool and settings.
	prepare_lighttpd "$state" webhook-ingest "$2"
	start_lighttpd "$state" RATE_LIMIT_BACKEND=postgres RATE_LIMIT_WEBHOOK_INGEST=100000/60 \
		RATE_LIMIT_WEBHOOK_INGEST_KEY=ip RATE_LIMIT_FAIL_OPEN=false TRUSTED_PROXIES=127.0.0.1/32
	check_signed_delivery "$state" 202
	echo "$name: warming up for ${warmup_seconds} s, then measuring for ${seconds} s" >&2
	run_wrk "$warmup_seconds" "$CONNECTIONS" "$url" "$root/bench/signed-post.lua" \
		"$body_file" "$signature" "$addresses_per_thread" >/dev/null

	postmaster_pid=$(head -n 1 "$pg_dir/pgdata/postmaster.pid")
	machine_before=$(machine_ticks)
	postgres_before=$(process_ticks "$postmaster_pid")
	web_before=$(process_ticks "$lighttpd_pid")
	read_children_cpu
	client_before=$children_ms
	result=$(run_wrk "$seconds" "$CONNECTIONS" "$url" "$root/bench/signed-post.lua" \
		"$body_file" "$signature" "$addresses_per_thread")
	read_children_cpu
	client_after=$children_ms
	web_after=$(process_ticks "$lighttpd_pid")
	postgres_after=$(process_ticks "$postmaster_pid")
	machine_after=$(machine_ticks)
	stop_lighttpd

	# Fields: machine ticks before (1-3) and after (4-6), PostgreSQL's own
	# and children's ticks before (7, 8) and after (9, 10), lighttpd's
	# before (11, 12) and after (13, 14), wrk's milliseconds (15, 16).
	cpu=$(echo "$machine_before $machine_after $postgres_before $postgres_after" \
		"$web_before $web_after $client_before $client_after" | awk -v hz="$clock_ticks" '{
		ms = 1000 / hz
		printf "machine_ms=%.0f busy_ms=%.0f postgres_ms=%.0f lighttpd_ms=%.0f fastcgi_ms=%.0f wrk_ms=%.0f\n",
			($4 - $1) * ms, ($5 - $2) * ms, ($9 + $10 - $7 - $8) * ms,
			($13 - $11) * ms, ($14 - $12) * ms, $16 - $15
	}')
	rows=$(sql "SELECT (SELECT count(*) FROM board_webhook_payloads) || ' payloads, ' ||
	                   (SELECT count(*) FROM board_memory) || ' memory, ' ||
	                   (SELECT count(*) FROM edge_notification_outbox) || ' outbox, ' ||
	                   (SELECT count(*) FROM edge_rate_limit) || ' limiter keys'")
}

secret=$(openssl rand -hex 24)
body_file=$work_dir/body.json
write_body "$body_file" '{"ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "repository": {"id": 1296269, "full_name": "octo-org/octo-repo", "private": false}, "pusher": {"name": "octocat", "email": "octocat@example.com"}, "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "Update README.md", "timestamp": "2024-01-01T00:00:00Z"}, "padding": "'
signature=$(sign_body "$body_file" "$secret")
port=$(listen_port)
clock_ticks=$(getconf CLK_TCK)
url=http://127.0.0.1:$port/api/v1/boards/$BOARD_ID/webhooks/$WEBHOOK_ID

start_database
seed_demo "$secret"
measure ingest "$ingest_binary"
result_ingest=$result cpu_ingest=$cpu rows_ingest=$rows
measure bare "$bare_binary"
result_bare=$result cpu_bare=$cpu rows_bare=$rows

# Prints one row of the result table for RESULT line $2 under label $1.
print_row() {
	printf '%s\n' "$2" | awk -v label="$1" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%-15s %9.0f %9d %8d %8.2f %8.2f  %s\n", label,
			v["ok"] / (v["duration_us"] / 1e6), v["ok"], v["non2xx"],
			v["p50_us"] / 1000, v["p99_us"] / 1000, v["non2xx_statuses"]
		socket = v["connect_errors"] + v["read_errors"] + v["write_errors"] + v["timeouts"]
		if (socket > 0)
			printf "%-15s socket errors: connect %d, read %d, write %d, timeouts %d\n", "",
				v["connect_errors"], v["read_errors"], v["write_errors"], v["timeouts"]
	}'
}

# Prints the CPU row for label $1 from RESULT line $2 and CPU line $3: the
# CPU microseconds per 2xx response of each part, the machine's busy share
# and the share used by anything else (other processes, interrupts). With
# $4 = warning, prints only a warning when that last share is above 10%.
print_cpu_row() {
	printf '%s %s\n' "$2" "$3" | awk -v label="$1" -v mode="${4:-row}" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		ours = v["postgres_ms"] + v["fastcgi_ms"] + v["lighttpd_ms"] + v["wrk_ms"]
		elsewhere = 100 * (v["busy_ms"] - ours) / v["machine_ms"]
		if (elsewhere < 0)
			elsewhere = 0
		if (mode == "warning") {
			if (elsewhere > 10)
				printf "WARNING: %.0f%% of the CPU went to other work during the %s run, so its figures are low.\n",
					elsewhere, label
			exit
		}
		if (v["ok"] == 0) {
			printf "%-15s no 2xx responses\n", label
			exit
		}
		per = 1000 / v["ok"]
		printf "%-15s %9.0f %9.0f %9.0f %9.0f %9.0f %8.0f%% %8.0f%%\n", label,
			v["postgres_ms"] * per, v["fastcgi_ms"] * per, v["lighttpd_ms"] * per,
			v["wrk_ms"] * per, ours * per, 100 * v["busy_ms"] / v["machine_ms"], elsewhere
	}'
}

# Prints the CPU microseconds per 2xx response of all parts together, from
# RESULT line $1 and CPU line $2.
cpu_per_response() {
	printf '%s %s\n' "$1" "$2" | awk '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		ours = v["postgres_ms"] + v["fastcgi_ms"] + v["lighttpd_ms"] + v["wrk_ms"]
		printf "%.1f\n", (v["ok"] > 0 ? 1000 * ours / v["ok"] : 0)
	}'
}

ingest_rate=$(rate_2xx "$result_ingest")
bare_rate=$(rate_2xx "$result_bare")

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${seconds}s on 127.0.0.1:$port, lighttpd.conf with $FCGI_PROCS FastCGI processes,"
echo "$BODY_BYTES-byte signed JSON body, $((THREADS * addresses_per_thread)) X-Forwarded-For addresses, durable commits,"
echo "$(getconf _NPROCESSORS_ONLN) CPUs shared by wrk, lighttpd, the FastCGI processes and PostgreSQL"
echo
printf '%-15s %9s %9s %8s %8s %8s  %s\n' program '2xx/s' '2xx' non-2xx 'p50 ms' 'p99 ms' 'non-2xx statuses'
print_row webhook-ingest "$result_ingest"
print_row bare-insert "$result_bare"
echo
echo "CPU time per 2xx response in microseconds, during the measured run:"
printf '%-15s %9s %9s %9s %9s %9s %9s %9s\n' program postgres FastCGI lighttpd wrk sum 'CPU busy' elsewhere
print_cpu_row webhook-ingest "$result_ingest" "$cpu_ingest"
print_cpu_row bare-insert "$result_bare" "$cpu_bare"
print_cpu_row webhook-ingest "$result_ingest" "$cpu_ingest" warning
print_cpu_row bare-insert "$result_bare" "$cpu_bare" warning
echo
echo "rows after webhook-ingest: $rows_ingest"
echo "rows after bare-insert:    $rows_bare"
echo "(rows include the warm-up and one check delivery)"
echo
awk -v ingest="$ingest_rate" -v bare="$bare_rate" -v target="$TARGET_RATIO" \
	-v ingest_cpu="$(cpu_per_response "$result_ingest" "$cpu_ingest")" \
	-v bare_cpu="$(cpu_per_response "$result_bare" "$cpu_bare")" 'BEGIN {
	ratio = bare > 0 ? ingest / bare : 0
	printf "ratio webhook-ingest / bare-insert (2xx/s): %.3f (target >= %.2f: %s)\n", ratio, target,
		(ratio >= target ? "met" : "NOT met")
	# When the CPUs are the limit, throughput is inversely proportional to
	# CPU time per response, so this ratio depends less on other load.
	if (ingest_cpu > 0)
		printf "ratio of CPU time per 2xx response, bare-insert / webhook-ingest: %.3f\n",
			bare_cpu / ingest_cpu
}'

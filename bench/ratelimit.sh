#!/bin/sh
# Load benchmark of the rate limiter's stores, on loopback.
#
#   bench/ratelimit.sh
#
# One run does the following, in a new folder under /tmp that it removes at exit:
#   1. builds the programs (make all bench-binaries); when that leaves no
#      build/release/bench/bare-evalsha, compiles bench/bare-evalsha.c into
#      the run's folder with -O2 against build/release/libedge.a;
#   2. starts a private PostgreSQL (scripts/private-postgres, durable
#      commits), applies sql/schema.sql, seeds the demo board and a webhook
#      secret, and starts a private redis-server on a loopback TCP port
#      without persistence;
#   3. serves each of these through lighttpd.conf with 4 FastCGI processes,
#      a limit that is never reached (100000/60), RATE_LIMIT_FAIL_OPEN=false
#      (so a store failure shows as 503, not as a 2xx) and 127.0.0.1 as a
#      trusted proxy, and loads it with wrk: a warm-up, then the measured run:
#        ingest-redis     webhook-ingest, RATE_LIMIT_BACKEND=redis
#        bare-evalsha     bench/bare-evalsha in place of webhook-ingest: one
#                         EVALSHA of the same script per request, then 200
#        ingest-postgres  webhook-ingest, RATE_LIMIT_BACKEND=postgres
#        ingest-memory    webhook-ingest, RATE_LIMIT_BACKEND=memory (no store
#                         round trip), to show what the Redis limiter adds
#      and repeats that sequence BENCH_ROUNDS times;
#   4. prints a table per round: 2xx responses per second, p50/p99 latency,
#      the CPU time per 2xx response of each part and the share of the CPUs
#      that went to other work on the machine. Then it prints the mean of
#      the rounds and the ratios between the runs.
#
# bench/signed-post.lua sends every request with the same 1024-byte JSON
# body, its valid X-Hub-Signature-256 and one of 2 x
# BENCH_ADDRESSES_PER_THREAD distinct X-Forwarded-For addresses (10.t.x.y,
# header text only). So each limiter updates thousands of keys, and the bare
# responder an equally spread set ("agent-auth:<address>", the key it
# builds). Only 2xx responses count towards throughput. Other statuses and
# socket errors are printed beside them, and so is the number of limiter
# keys after each run.
#
# What the ratios compare: webhook-ingest does, besides the limiter, a
# lookup of the board and webhook and a durable three-row insert (payload,
# board memory, notification outbox) per delivery, while bare-evalsha does
# only the EVALSHA. So ingest-redis / bare-evalsha is bounded by the cost of
# that storage, and ingest-redis / ingest-memory is the part of the
# endpoint's throughput that the Redis limiter costs.
#
# Settings (environment):
#   BENCH_SECONDS               measured seconds per run (default 15)
#   BENCH_WARMUP_SECONDS        warm-up seconds per run (default 3)
#   BENCH_ADDRESSES_PER_THREAD  X-Forwarded-For values per wrk thread (default 2048)
#   BENCH_ROUNDS                how often the four runs are repeated (default 2)
#   BENCH_PORT                  loopback TCP port of lighttpd (default: a free one)
#   BENCH_BUILD                 1 (default) runs make first; 0 uses the binaries as built
# The programs inherit this environment, so LOG_LEVEL or LOG_FORMAT set by the
# caller reach them. wrk runs with 2 threads and 32 connections. As root,
# PostgreSQL runs as "postgres" and lighttpd drops to www-data (EDGE_USER).
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

THREADS=2
CONNECTIONS=32
FCGI_PROCS=4
TARGET_RATIO=0.85
BODY_BYTES=1024
LIMIT=100000/60
RUNS="ingest-redis bare-evalsha ingest-postgres ingest-memory"
# The demo seed's ids (sql/demo-seed.sql).
BOARD_ID=0b3c4d5e-0000-4000-8000-000000000003
WEBHOOK_ID=0b3c4d5e-0000-4000-8000-000000000005

seconds=${BENCH_SECONDS:-15}
warmup_seconds=${BENCH_WARMUP_SECONDS:-3}
addresses_per_thread=${BENCH_ADDRESSES_PER_THREAD:-2048}
rounds=${BENCH_ROUNDS:-2}

require_positive "BENCH_SECONDS=$seconds" "BENCH_WARMUP_SECONDS=$warmup_seconds" \
	"BENCH_ADDRESSES_PER_THREAD=$addresses_per_thread" "BENCH_ROUNDS=$rounds"
[ "$addresses_per_thread" -le 65536 ] ||
	die "BENCH_ADDRESSES_PER_THREAD must be at most 65536, not $addresses_per_thread"
[ $((THREADS * addresses_per_thread)) -ge 1000 ] ||
	echo "$PROGRAM: note: $((THREADS * addresses_per_thread)) client addresses; the limiter comparison needs at least 1000" >&2

cd "$root"
require_tools lighttpd psql openssl curl timeout make wrk redis-server redis-cli awk cc pkg-config

ingest_binary=$root/cgi-bin/webhook-ingest
bare_binary=$root/build/release/bench/bare-evalsha
build_programs
[ -x "$ingest_binary" ] || die "$ingest_binary is missing; run make"

start_run_folder mc-edge-bench-ratelimit
results_dir=$work_dir/results
mkdir "$results_dir"

# A Makefile without the bench rule for bare-evalsha leaves no binary, so
# it is built here with the release build's library.
if [ ! -x "$bare_binary" ]; then
	echo "$PROGRAM: $bare_binary is missing; compiling bench/bare-evalsha.c into $work_dir" >&2
	[ -f build/release/libedge.a ] || die "build/release/libedge.a is missing; run make"
	packages="libpq json-c openssl hiredis"
	# shellcheck disable=SC2046,SC2086 # pkg-config prints several flags, and the list is meant to split
	cc -std=c11 -D_GNU_SOURCE -O2 -Icommon $(pkg-config --cflags $packages) \
		bench/bare-evalsha.c build/release/libedge.a $(pkg-config --libs $packages) -lfcgi \
		-o "$work_dir/bare-evalsha" || die "compiling bench/bare-evalsha.c failed"
	bare_binary=$work_dir/bare-evalsha
fi

# Empties what the programs write, so every run starts from the same state.
reset_stores() {
	empty_webhook_tables
	redis_command flushall >/dev/null
}

# Prints the number of limiter keys: in Redis, or rows of edge_rate_limit.
limiter_keys() {
	case $1 in
	ingest-postgres) sql "SELECT count(*) FROM edge_rate_limit" ;;
	ingest-memory) echo "-" ;;
	*) redis_command dbsize ;;
	esac
}

# Serves run $1 of round $2, warms it up and measures it. Writes the RESULT
# line, a CPU line and the limiter key count to $results_dir/$1.$2.
measure() {
	name=$1
	state=$work_dir/lighttpd-$name-$2
	case $name in
	ingest-redis) run_binary=$ingest_binary run_backend=redis ;;
	bare-evalsha) run_binary=$bare_binary run_backend=redis ;;
	ingest-postgres) run_binary=$ingest_binary run_backend=postgres ;;
	ingest-memory) run_binary=$ingest_binary run_backend=memory ;;
	*) die "unknown run $name" ;;
	esac

	reset_stores
	prepare_lighttpd "$state" webhook-ingest "$run_binary"
	start_lighttpd "$state" RATE_LIMIT_BACKEND="$run_backend" \
		RATE_LIMIT_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
		RATE_LIMIT_WEBHOOK_INGEST=$LIMIT RATE_LIMIT_AGENT_AUTH=$LIMIT \
		RATE_LIMIT_WEBHOOK_INGEST_KEY=ip RATE_LIMIT_FAIL_OPEN=false \
		TRUSTED_PROXIES=127.0.0.1/32
	check_signed_delivery "$state" '2??'
	echo "round $2, $name: warming up for ${warmup_seconds} s, then measuring for ${seconds} s" >&2
	run_wrk "$warmup_seconds" "$CONNECTIONS" "$url" "$root/bench/signed-post.lua" \
		"$body_file" "$signature" "$addresses_per_thread" >/dev/null

	postmaster_pid=$(head -n 1 "$pg_dir/pgdata/postmaster.pid")
	machine_before=$(machine_ticks)
	postgres_before=$(tree_ticks "$postmaster_pid")
	web_before=$(tree_ticks "$lighttpd_pid")
	redis_before=$(tree_ticks "$redis_pid")
	read_children_cpu
	client_before=$children_ms
	result=$(run_wrk "$seconds" "$CONNECTIONS" "$url" "$root/bench/signed-post.lua" \
		"$body_file" "$signature" "$addresses_per_thread")
	read_children_cpu
	client_after=$children_ms
	redis_after=$(tree_ticks "$redis_pid")
	web_after=$(tree_ticks "$lighttpd_pid")
	postgres_after=$(tree_ticks "$postmaster_pid")
	machine_after=$(machine_ticks)
	stop_lighttpd

	{
		printf '%s\n' "$result"
		echo "$machine_before $machine_after $web_before $web_after $postgres_before" \
			"$postgres_after $redis_before $redis_after $client_before $client_after" |
			awk -v hz="$clock_ticks" '{
			ms = 1000 / hz
			printf "CPU machine_ms=%.0f busy_ms=%.0f irq_ms=%.0f web_ms=%.0f postgres_ms=%.0f redis_ms=%.0f wrk_ms=%.0f\n",
				($4 - $1) * ms, ($5 - $2) * ms, ($6 - $3) * ms, ($8 - $7) * ms,
				($10 - $9) * ms, ($12 - $11) * ms, $14 - $13
		}'
		echo "KEYS $(limiter_keys "$name")"
	} >"$results_dir/$name.$2"
}

secret=$(openssl rand -hex 24)
body_file=$work_dir/body.json
write_body "$body_file" '{"ref": "refs/heads/main", "repository": {"id": 1296269, "full_name": "octo-org/octo-repo"}, "pusher": {"name": "octocat"}, "head_commit": {"message": "Update README.md"}, "padding": "'
signature=$(sign_body "$body_file" "$secret")
port=$(listen_port)
redis_port=$(free_port)
[ "$redis_port" != "$port" ] || redis_port=$(free_port)
clock_ticks=$(getconf CLK_TCK)
url=http://127.0.0.1:$port/api/v1/boards/$BOARD_ID/webhooks/$WEBHOOK_ID

start_database
seed_demo "$secret"
start_redis "$redis_port"
round=1
while [ "$round" -le "$rounds" ]; do
	for name in $RUNS; do
		measure "$name" "$round"
	done
	round=$((round + 1))
done

# Prints one table row for result file $2 under label $1: throughput,
# latency, CPU microseconds per 2xx response by part, the machine's busy
# share, its interrupt share, the share used by other processes, limiter
# keys and non-2xx statuses.
print_row() {
	awk -v label="$1" '
	/^RESULT / || /^CPU / {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	}
	/^KEYS / { keys = $2 }
	END {
		ours = v["web_ms"] + v["postgres_ms"] + v["redis_ms"] + v["wrk_ms"]
		other_share = 100 * (v["busy_ms"] - v["irq_ms"] - ours) / v["machine_ms"]
		if (other_share < 0)
			other_share = 0
		per = v["ok"] > 0 ? 1000 / v["ok"] : 0
		# Inside a printf argument list ">" would redirect the output.
		statuses = "-"
		if (v["non2xx"] > 0)
			statuses = v["non2xx_statuses"]
		printf "%-16s %7.0f %7.2f %7.2f %7.0f %7.0f %7.0f %7.0f %7.0f %6.0f%% %6.0f%% %6.0f%% %6s  %s\n", label,
			v["ok"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000,
			v["web_ms"] * per, v["postgres_ms"] * per, v["redis_ms"] * per, v["wrk_ms"] * per,
			ours * per, 100 * v["busy_ms"] / v["machine_ms"], 100 * v["irq_ms"] / v["machine_ms"],
			other_share, keys, statuses
		socket = v["connect_errors"] + v["read_errors"] + v["write_errors"] + v["timeouts"]
		if (socket > 0)
			printf "%-16s socket errors: connect %d, read %d, write %d, timeouts %d\n", "",
				v["connect_errors"], v["read_errors"], v["write_errors"], v["timeouts"]
	}' "$2"
}

# Prints "2xx/s CPU-us-per-2xx other-share%" of result file $1.
figures() {
	awk '
	/^RESULT / || /^CPU / {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	}
	END {
		ours = v["web_ms"] + v["postgres_ms"] + v["redis_ms"] + v["wrk_ms"]
		other_share = 100 * (v["busy_ms"] - v["irq_ms"] - ours) / v["machine_ms"]
		printf "%.3f %.1f %.1f\n", v["ok"] / (v["duration_us"] / 1e6),
			(v["ok"] > 0 ? 1000 * ours / v["ok"] : 0), (other_share < 0 ? 0 : other_share)
	}' "$1"
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${seconds}s on 127.0.0.1:$port, lighttpd.conf with $FCGI_PROCS FastCGI processes,"
echo "$BODY_BYTES-byte signed JSON body, $((THREADS * addresses_per_thread)) X-Forwarded-For addresses, limit $LIMIT,"
echo "Redis on 127.0.0.1:$redis_port (TCP, no persistence), PostgreSQL with durable commits,"
echo "$(getconf _NPROCESSORS_ONLN) CPUs shared by wrk, lighttpd, the FastCGI processes, PostgreSQL and Redis"
echo
echo "CPU columns: microseconds per 2xx response of lighttpd with its FastCGI processes (web),"
echo "PostgreSQL, Redis and wrk. busy: share of the machine's CPU time in use. irq: share spent in"
echo "interrupts and softirq (mostly loopback TCP of this run, charged to no process). other: share"
echo "used by other processes (other users' work), which lowers the figures."
round=1
while [ "$round" -le "$rounds" ]; do
	echo
	echo "round $round of $rounds"
	printf '%-16s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %6s  %s\n' run '2xx/s' 'p50 ms' 'p99 ms' \
		web postgres redis wrk sum busy irq other keys 'non-2xx'
	for name in $RUNS; do
		print_row "$name" "$results_dir/$name.$round"
	done
	round=$((round + 1))
done

# Mean 2xx/s, mean CPU per 2xx and the largest "other" share of each run over the rounds.
for name in $RUNS; do
	for file in "$results_dir/$name".*; do
		figures "$file"
	done | awk -v name="$name" '{ rate += $1; cpu += $2; if ($3 > other) other = $3; n++ }
		END { printf "%s %.3f %.1f %.0f\n", name, rate / n, cpu / n, other }'
done >"$work_dir/means"

echo
echo "mean of $rounds rounds:"
awk -v target="$TARGET_RATIO" '
{ rate[$1] = $2; cpu[$1] = $3; other[$1] = $4 }
END {
	printf "%-16s %9s %12s %24s\n", "run", "2xx/s", "CPU us/2xx", "max other-process share"
	split("ingest-redis bare-evalsha ingest-postgres ingest-memory", names, " ")
	for (i = 1; i <= 4; i++)
		printf "%-16s %9.0f %12.0f %23.0f%%\n", names[i], rate[names[i]], cpu[names[i]], other[names[i]]
	print ""
	r = rate["ingest-redis"]
	ratio = rate["bare-evalsha"] > 0 ? r / rate["bare-evalsha"] : 0
	printf "ingest-redis / bare-evalsha (2xx/s):    %.3f (target >= %.2f: %s)\n", ratio, target,
		(ratio >= target ? "met" : "NOT met")
	printf "ingest-redis / ingest-postgres (2xx/s): %.3f\n",
		(rate["ingest-postgres"] > 0 ? r / rate["ingest-postgres"] : 0)
	printf "ingest-redis / ingest-memory (2xx/s):   %.3f\n",
		(rate["ingest-memory"] > 0 ? r / rate["ingest-memory"] : 0)
	# Time per delivery is 1 / rate when the CPUs are the limit, so the part
	# of it that the Redis limiter adds over the in-process one is:
	if (r > 0 && rate["ingest-memory"] > 0)
		printf "share of webhook-ingest time per delivery spent on the Redis limiter: %.1f%% (throughput), %.1f%% (CPU per 2xx)\n",
			100 * (1 - r / rate["ingest-memory"]),
			100 * (cpu["ingest-redis"] - cpu["ingest-memory"]) / cpu["ingest-redis"]
	if (rate["bare-evalsha"] > 0 && cpu["bare-evalsha"] > 0)
		printf "CPU per 2xx, ingest-redis / bare-evalsha: %.2f (webhook-ingest also looks up the webhook and stores 3 rows durably)\n",
			cpu["ingest-redis"] / cpu["bare-evalsha"]
	for (name in other)
		if (other[name] > 10)
			printf "WARNING: up to %.0f%% of the CPU went to other processes during the %s runs, so its figures are low.\n",
				other[name], name
}' "$work_dir/means"

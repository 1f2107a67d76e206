#!/bin/sh
# Load benchmark of agent-auth on loopback.
#
#   bench/agent-auth.sh
#
# One run does the following, in a new folder under /tmp that it removes at exit:
#   1. builds the programs (make all bench-binaries);
#   2. starts a private PostgreSQL (scripts/private-postgres) and a private
#      Redis on a unix socket, applies sql/schema.sql, seeds the demo board
#      and its lead agent, and mints the lead agent's token with mc-edge-admin.
#      Then it adds BENCH_AGENTS more agents, each with an index entry and a
#      stored PBKDF2 hash of 200,000 iterations. They all share one hash, so
#      seeding them costs one PBKDF2 run;
#   3. authorizer: serves lighttpd.conf with 4 FastCGI processes per pool,
#      the Redis rate limiter with a limit that is never reached
#      (RATE_LIMIT_FAIL_OPEN=false, so a limiter failure shows as 503) and
#      127.0.0.1 as a trusted proxy, and loads GET /agent-only/ok.txt with the
#      lead agent's token: agent-auth runs as the authorizer, then lighttpd
#      serves the 3-byte file. A warm-up, then the measured run;
#   4. baseline: the same, with build/release/bench/bare-evalsha in place of
#      agent-auth (one EVALSHA per request, then 200), so both runs take the
#      same path through lighttpd and differ only in the program;
#   5. unknown tokens, every agent indexed: GET /api/v1/agent/healthz with
#      random tokens that no agent has, EDGE_BENCH_COUNTERS=1, and
#      BENCH_LATENCY_CONNECTIONS connections (default: one per CPU, so the
#      latency is the service time of a request rather than time spent
#      waiting for a CPU);
#   6. unknown tokens, legacy pass on (AGENT_TOKEN_LEGACY_SCAN=2) and the
#      index emptied, so every agent is a legacy candidate;
#   7. prints 2xx responses per second, p50/p99 latency, CPU time per
#      response, the ratio authorizer / baseline and its target (0.85),
#      and the PBKDF2 runs per request counted by agent-auth itself.
#
# Throughput counts only 2xx responses. Every request carries one of
# 2 x BENCH_ADDRESSES_PER_THREAD distinct X-Forwarded-For addresses
# (10.t.x.y, header text only), so the limiter updates thousands of keys.
# PBKDF2 runs come from the X-Edge-Pbkdf2-Runs header, which agent-auth adds
# only when EDGE_BENCH_COUNTERS=1: the process's own counter of PBKDF2
# computations during that request. wrk shares the CPUs with the servers.
#
# Settings (environment):
#   BENCH_SECONDS               measured seconds of steps 3 to 5 (default 15)
#   BENCH_LEGACY_SECONDS        measured seconds of step 6 (default 10)
#   BENCH_WARMUP_SECONDS        warm-up seconds before each measured run (default 3)
#   BENCH_ADDRESSES_PER_THREAD  X-Forwarded-For values per wrk thread (default 2048)
#   BENCH_AGENTS                agents besides the lead agent (default 10000)
#   BENCH_LATENCY_CONNECTIONS   wrk connections of steps 5 and 6 (default: the CPU count)
#   BENCH_PORT                  loopback TCP port (default: a free one)
#   BENCH_BUILD                 1 (default) runs make first; 0 uses the binaries as built
# As root, PostgreSQL runs as "postgres" and lighttpd drops to www-data.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

THREADS=2
CONNECTIONS=32
FCGI_PROCS=4
TARGET_RATIO=0.85
TARGET_P99_MS=5
LEGACY_SCAN=2
# The demo seed's ids (sql/demo-seed.sql).
BOARD_ID=0b3c4d5e-0000-4000-8000-000000000003
GATEWAY_ID=0b3c4d5e-0000-4000-8000-000000000002
LEAD_AGENT_ID=0b3c4d5e-0000-4000-8000-000000000004

seconds=${BENCH_SECONDS:-15}
legacy_seconds=${BENCH_LEGACY_SECONDS:-10}
warmup_seconds=${BENCH_WARMUP_SECONDS:-3}
addresses_per_thread=${BENCH_ADDRESSES_PER_THREAD:-2048}
agent_count=${BENCH_AGENTS:-10000}
latency_connections=${BENCH_LATENCY_CONNECTIONS:-$(getconf _NPROCESSORS_ONLN)}

require_positive "BENCH_SECONDS=$seconds" "BENCH_LEGACY_SECONDS=$legacy_seconds" \
	"BENCH_WARMUP_SECONDS=$warmup_seconds" \
	"BENCH_ADDRESSES_PER_THREAD=$addresses_per_thread" "BENCH_AGENTS=$agent_count" \
	"BENCH_LATENCY_CONNECTIONS=$latency_connections"
[ "$addresses_per_thread" -le 65536 ] ||
	die "BENCH_ADDRESSES_PER_THREAD must be at most 65536, not $addresses_per_thread"

cd "$root"
require_tools lighttpd psql redis-server redis-cli wrk curl openssl timeout make awk

auth_binary=$root/cgi-bin/agent-auth
bare_binary=$root/build/release/bench/bare-evalsha
admin_binary=$root/bin/mc-edge-admin
build_programs
for binary in "$auth_binary" "$bare_binary" "$admin_binary"; do
	[ -x "$binary" ] || die "$binary is missing; run make all bench-binaries"
done

start_run_folder mc-edge-bench-agent
redis_socket=$work_dir/redis.sock

# Seeds the demo rows, mints the lead agent's token into $token and adds
# the other agents with index entries.
seed_agents() {
	seed_demo unused-in-this-bench
	token=$("$admin_binary" agent-token rotate "$LEAD_AGENT_ID" 2>"$work_dir/admin.log") ||
		{ cat "$work_dir/admin.log" >&2; die "mc-edge-admin agent-token rotate failed"; }

	# One more minted agent gives a real stored hash to copy to the others.
	sql "INSERT INTO agents (id, board_id, gateway_id, name, status, is_board_lead,
	         created_at, updated_at)
	     VALUES (gen_random_uuid(), '$BOARD_ID', '$GATEWAY_ID', 'bench agent 0',
	         'online', false, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
	     RETURNING id" >"$work_dir/first-agent"
	"$admin_binary" agent-token mint "$(head -n 1 "$work_dir/first-agent")" \
		>/dev/null 2>"$work_dir/admin.log" ||
		{ cat "$work_dir/admin.log" >&2; die "mc-edge-admin agent-token mint failed"; }
	sql "INSERT INTO agents (id, board_id, gateway_id, name, status, agent_token_hash,
	         is_board_lead, created_at, updated_at)
	     SELECT gen_random_uuid(), '$BOARD_ID', '$GATEWAY_ID', 'bench agent ' || n,
	         'online', (SELECT agent_token_hash FROM agents WHERE name = 'bench agent 0'),
	         false, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'
	     FROM generate_series(1, $agent_count - 1) AS n" >/dev/null
	index_every_agent
	sql "VACUUM ANALYZE" >/dev/null
}

# Gives every agent without a valid index entry one, under a digest that no
# token has (the digest of its id), as if each had authenticated once.
index_every_agent() {
	sql "INSERT INTO edge_agent_token_index (token_digest, agent_id, source_hash)
	     SELECT sha256(convert_to(a.id::text, 'UTF8')), a.id, a.agent_token_hash
	     FROM agents AS a
	     WHERE a.agent_token_hash IS NOT NULL AND NOT EXISTS (
	         SELECT 1 FROM edge_agent_token_index AS i
	         WHERE i.agent_id = a.id AND i.source_hash = a.agent_token_hash)" >/dev/null
}

# Serves lighttpd.conf with binary $2 as agent-auth, state in folder $1, and
# the extra settings $3 (NAME=VALUE words). lighttpd serves the 3-byte file
# agent-only/ok.txt once the authorizer has accepted the token.
start_agent_lighttpd() {
	mkdir -p "$1/htdocs/agent-only"
	printf 'ok\n' >"$1/htdocs/agent-only/ok.txt"
	prepare_lighttpd "$1" agent-auth "$2"
	# shellcheck disable=SC2086 # $3 holds NAME=VALUE words
	start_lighttpd "$1" RATE_LIMIT_BACKEND=redis RATE_LIMIT_REDIS_URL="unix:$redis_socket" \
		RATE_LIMIT_AGENT_AUTH=100000/60 RATE_LIMIT_FAIL_OPEN=false \
		TRUSTED_PROXIES=127.0.0.1/32 $3
}

# Prints the CPU ticks of the servers: lighttpd with its FastCGI processes,
# PostgreSQL and Redis.
server_ticks() {
	postmaster_pid=$(head -n 1 "$pg_dir/pgdata/postmaster.pid")
	echo "$(tree_ticks "$lighttpd_pid") $(tree_ticks "$postmaster_pid") $(tree_ticks "$redis_pid")"
}

# Serves binary $2 under label $1 with settings $3, checks path $4 with
# token $5 (expected status $6), warms up and measures for $7 seconds with
# $8 connections and wrk token argument $9. Leaves the RESULT line in result
# and the servers' CPU milliseconds in cpu_ms.
measure() {
	label=$1
	state=$work_dir/lighttpd-$label

	redis_command flushall >/dev/null
	start_agent_lighttpd "$state" "$2" "$3"
	check_status "$state" "GET $4" "$6" -H "X-Agent-Token: $5" \
		-H 'X-Forwarded-For: 10.255.0.1' "http://127.0.0.1:$port$4"
	echo "$label: warming up for ${warmup_seconds} s, then measuring for $7 s" >&2
	run_wrk "$warmup_seconds" "$8" "http://127.0.0.1:$port$4" "$root/bench/agent-auth.lua" \
		"$9" "$addresses_per_thread" >/dev/null
	machine_before=$(machine_ticks)
	before=$(server_ticks)
	read_children_cpu
	client_before=$children_ms
	result=$(run_wrk "$7" "$8" "http://127.0.0.1:$port$4" "$root/bench/agent-auth.lua" \
		"$9" "$addresses_per_thread")
	read_children_cpu
	client_after=$children_ms
	after=$(server_ticks)
	machine_after=$(machine_ticks)
	stop_lighttpd
	cpu_parts=$(echo "$before $after" | awk -v hz="$clock_ticks" '{
		printf "%.0f %.0f %.0f\n", ($4 - $1) * 1000 / hz, ($5 - $2) * 1000 / hz, ($6 - $3) * 1000 / hz
	}')
	cpu_ms=$(echo "$cpu_parts" | awk '{ print $1 + $2 + $3 }')
	# The share of the machine's CPU time that went to neither the servers
	# nor wrk: other work on the machine, which lowers every figure of the run.
	# Fields: machine ticks before (1-3) and after (4-6), the servers'
	# milliseconds (7), wrk's milliseconds before and after (8, 9).
	elsewhere=$(echo "$machine_before $machine_after $cpu_ms $client_before $client_after" |
		awk -v hz="$clock_ticks" '{
		total_ms = ($4 - $1) * 1000 / hz
		busy_ms = ($5 - $2) * 1000 / hz
		other = total_ms > 0 ? 100 * (busy_ms - $7 - ($9 - $8)) / total_ms : 0
		printf "%.0f\n", (other < 0 ? 0 : other)
	}')
}

port=$(listen_port)
clock_ticks=$(getconf CLK_TCK)

start_redis "$redis_socket"
start_database
seed_agents
echo "seeded $(sql 'SELECT count(*) FROM agents') agents," \
	"$(sql 'SELECT count(*) FROM edge_agent_token_index') index entries" >&2

measure authorizer "$auth_binary" "EDGE_BENCH_COUNTERS=1" /agent-only/ok.txt "$token" 200 \
	"$seconds" "$CONNECTIONS" "$token"
result_auth=$result cpu_auth=$cpu_ms parts_auth=$cpu_parts elsewhere_auth=$elsewhere
measure baseline "$bare_binary" "" /agent-only/ok.txt "$token" 200 \
	"$seconds" "$CONNECTIONS" "$token"
result_bare=$result cpu_bare=$cpu_ms parts_bare=$cpu_parts elsewhere_bare=$elsewhere
measure unknown-indexed "$auth_binary" "EDGE_BENCH_COUNTERS=1" /api/v1/agent/healthz \
	not-a-token 401 "$seconds" "$latency_connections" random
result_indexed=$result cpu_indexed=$cpu_ms parts_indexed=$cpu_parts elsewhere_indexed=$elsewhere

sql "DELETE FROM edge_agent_token_index" >/dev/null
measure unknown-legacy "$auth_binary" \
	"EDGE_BENCH_COUNTERS=1 AGENT_TOKEN_LEGACY_SCAN=$LEGACY_SCAN" /api/v1/agent/healthz \
	not-a-token 401 "$legacy_seconds" "$latency_connections" random
result_legacy=$result cpu_legacy=$cpu_ms parts_legacy=$cpu_parts elsewhere_legacy=$elsewhere

# Prints one row of the result table: label $1, RESULT line $2, server CPU ms $3.
print_row() {
	printf '%s\n' "$2" | awk -v label="$1" -v cpu_ms="$3" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		seconds = v["duration_us"] / 1e6
		runs = "-"
		if (v["pbkdf2_responses"] > 0)
			runs = sprintf("%.3f (max %d)", v["pbkdf2_runs"] / v["pbkdf2_responses"], v["pbkdf2_max"])
		cpu = 0
		if (v["responses"] > 0)
			cpu = 1000 * cpu_ms / v["responses"]
		printf "%-16s %8.0f %8.0f %8.2f %8.2f %9.0f  %-16s %s\n", label,
			v["ok"] / seconds, v["responses"] / seconds, v["p50_us"] / 1000,
			v["p99_us"] / 1000, cpu, runs, v["non2xx_statuses"]
		socket = v["connect_errors"] + v["read_errors"] + v["write_errors"] + v["timeouts"]
		if (socket > 0)
			printf "%-16s socket errors: connect %d, read %d, write %d, timeouts %d\n", "",
				v["connect_errors"], v["read_errors"], v["write_errors"], v["timeouts"]
	}'
}

echo
echo "wrk -t$THREADS on 127.0.0.1:$port, lighttpd.conf with $FCGI_PROCS FastCGI processes per pool,"
echo "Redis rate limiter, $((THREADS * addresses_per_thread)) X-Forwarded-For addresses, $(sql 'SELECT count(*) FROM agents') agents,"
echo "$(getconf _NPROCESSORS_ONLN) CPUs shared by wrk, lighttpd, the FastCGI processes, PostgreSQL and Redis"
echo
echo "authorizer and baseline: GET /agent-only/ok.txt with a valid token, $CONNECTIONS connections"
echo "unknown-*: GET /api/v1/agent/healthz with random unknown tokens, $latency_connections connections"
echo "server CPU: lighttpd, FastCGI, PostgreSQL and Redis, in microseconds per response"
echo
printf '%-16s %8s %8s %8s %8s %9s  %-16s %s\n' run '2xx/s' 'all/s' 'p50 ms' 'p99 ms' \
	'srv CPU' 'PBKDF2/request' 'non-2xx statuses'
print_row authorizer "$result_auth" "$cpu_auth"
print_row baseline "$result_bare" "$cpu_bare"
print_row unknown-indexed "$result_indexed" "$cpu_indexed"
print_row unknown-legacy "$result_legacy" "$cpu_legacy"
echo

# Prints the server CPU per response of label $1, RESULT line $2, split as
# in $3 (milliseconds of lighttpd with FastCGI, PostgreSQL, Redis).
print_parts() {
	printf '%s %s\n' "$2" "$3" | awk -v label="$1" '{
		for (i = 2; i <= NF - 3; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n = v["responses"]
		if (n == 0)
			n = 1
		printf "%-16s %12.0f %12.0f %12.0f\n", label, 1000 * $(NF - 2) / n,
			1000 * $(NF - 1) / n, 1000 * $NF / n
	}'
}

for entry in "authorizer $elsewhere_auth" "baseline $elsewhere_bare" \
	"unknown-indexed $elsewhere_indexed" "unknown-legacy $elsewhere_legacy"; do
	set -- $entry
	if [ "$2" -gt 10 ]; then
		echo "WARNING: $2% of the CPU went to other work during the $1 run, so its figures are low."
	fi
done
echo

echo "server CPU per response in microseconds, by part:"
printf '%-16s %12s %12s %12s\n' run 'lighttpd+FCGI' PostgreSQL Redis
print_parts authorizer "$result_auth" "$parts_auth"
print_parts baseline "$result_bare" "$parts_bare"
print_parts unknown-indexed "$result_indexed" "$parts_indexed"
print_parts unknown-legacy "$result_legacy" "$parts_legacy"
echo

auth_rate=$(rate_2xx "$result_auth")
bare_rate=$(rate_2xx "$result_bare")
awk -v auth="$auth_rate" -v bare="$bare_rate" -v target="$TARGET_RATIO" \
	-v auth_cpu="$cpu_auth" -v bare_cpu="$cpu_bare" \
	-v auth_n="$(result_field "$result_auth" ok)" -v bare_n="$(result_field "$result_bare" ok)" 'BEGIN {
	ratio = bare > 0 ? auth / bare : 0
	printf "ratio authorizer / baseline (2xx/s): %.3f (target >= %.2f: %s)\n", ratio, target,
		(ratio >= target ? "met" : "NOT met")
	# When the CPUs are the limit, throughput is inversely proportional to
	# CPU time per response, so this ratio depends less on other load.
	if (auth_n > 0 && bare_n > 0 && auth_cpu > 0)
		printf "ratio of server CPU time per 2xx response, baseline / authorizer: %.3f\n",
			(bare_cpu / bare_n) / (auth_cpu / auth_n)
}'
awk -v p99="$(result_field "$result_indexed" p99_us)" -v target="$TARGET_P99_MS" \
	-v runs="$(result_field "$result_indexed" pbkdf2_runs)" 'BEGIN {
	printf "unknown tokens, all indexed: p99 %.2f ms (target < %d ms: %s), PBKDF2 runs %d (target 0: %s)\n",
		p99 / 1000, target, (p99 / 1000 < target ? "met" : "NOT met"), runs,
		(runs == 0 ? "met" : "NOT met")
}'
awk -v max="$(result_field "$result_legacy" pbkdf2_max)" -v scan="$LEGACY_SCAN" \
	-v runs="$(result_field "$result_legacy" pbkdf2_runs)" -v n="$(result_field "$result_legacy" pbkdf2_responses)" 'BEGIN {
	printf "unknown tokens, legacy pass: %.3f PBKDF2 runs per request, at most %d (target <= AGENT_TOKEN_LEGACY_SCAN=%d: %s)\n",
		(n > 0 ? runs / n : 0), max, scan, (max <= scan && n > 0 ? "met" : "NOT met")
}'

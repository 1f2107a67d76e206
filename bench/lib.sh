# shellcheck shell=sh disable=SC2034,SC2154 # the scripts set and read the shared variables
# Start-up, load and accounting steps shared by the benchmark scripts in
# bench/. Each script sources it right after "set -eu":
#
#   . "$(dirname "$0")/lib.sh"
#
# Sourcing sets PROGRAM (the script's name, for messages) and root (the
# checkout) and defines the functions below. They exit through die on any
# failure. POSIX sh has no local variables, so the functions name their own
# variables bench_*, and the scripts must not use that prefix.
#
# Checks and set-up:
#   die MESSAGE...            print "PROGRAM: MESSAGE" on standard error, exit 1
#   require_positive NAME=VALUE...  die unless each VALUE is a whole number above 0
#   require_tools TOOL...     die unless each TOOL is on PATH
#   build_programs            make all bench-binaries, unless BENCH_BUILD=0
#   start_run_folder NAME     make work_dir (/tmp/NAME.XXXXXX) and pg_dir, and
#                             at exit stop lighttpd, Redis and PostgreSQL and
#                             remove them
#   stop_on_exit VARIABLE...  at exit first stop the processes whose ids these
#                             variables contain at that time, in this order
#   stop_pid PID              stop process PID (blank: nothing) and reap it
#   free_port                 print a loopback TCP port that the kernel assigns
#   listen_port               print BENCH_PORT when set, else a free port
# Request bodies:
#   write_body FILE PREFIX    write BODY_BYTES of JSON: PREFIX, padding, '"}'
#   sign_body FILE SECRET     print the X-Hub-Signature-256 value of FILE
# PostgreSQL and Redis:
#   start_database            start PostgreSQL in pg_dir, export DATABASE_URL,
#                             apply sql/schema.sql
#   seed_demo SECRET          load sql/demo-seed.sql with SECRET as webhook secret
#   sql COMMAND               run one SQL command and print its result
#   empty_webhook_tables      truncate what webhook-ingest writes, then CHECKPOINT
#   start_redis PORT|SOCKET   start a redis-server without persistence, set redis_pid
#   redis_command ARGS...     run redis-cli against that server
# lighttpd:
#   prepare_lighttpd STATE [NAME BINARY]  fill folder STATE for lighttpd.conf
#   start_lighttpd STATE [NAME=VALUE...]  start lighttpd.conf on 127.0.0.1:$port
#   stop_lighttpd             stop it
#   check_status STATE LABEL EXPECTED CURL_ARGUMENT...  one request, die unless
#                             its status matches the case pattern EXPECTED
#   check_signed_delivery STATE EXPECTED  POST the signed body to $url
# Load and accounting:
#   run_wrk SECONDS CONNECTIONS URL SCRIPT ARGUMENT...  print wrk's RESULT line
#   result_field RESULT NAME  print field NAME of a RESULT line
#   rate_2xx RESULT           print the 2xx responses per second of a RESULT line
#   machine_ticks             print the machine's CPU ticks: all, busy, interrupts
#   process_ticks PID         print the CPU ticks of PID and of its live children
#   tree_ticks PID            print the sum of those two
#   read_children_cpu         set children_ms to this shell's children's CPU time
#
# Settings that the scripts define before calling: BODY_BYTES (write_body),
# FCGI_PROCS and port (start_lighttpd), THREADS (run_wrk), url, signature
# and body_file (check_signed_delivery). The wrk scripts count 2xx responses
# as "ok" and every other status as "non2xx" in their RESULT line.

PROGRAM=${0##*/}
root=$(cd "$(dirname "$0")/.." && pwd -P)
bench_pid_variables=
work_dir=
pg_dir=
lighttpd_pid=
redis_pid=

die() {
	printf '%s: %s\n' "$PROGRAM" "$*" >&2
	exit 1
}

require_positive() {
	for bench_setting in "$@"; do
		case ${bench_setting#*=} in
		'' | *[!0-9]* | 0)
			die "${bench_setting%%=*} must be a positive whole number, not '${bench_setting#*=}'"
			;;
		esac
	done
}

require_tools() {
	for bench_tool in "$@"; do
		command -v "$bench_tool" >/dev/null 2>&1 ||
			die "$bench_tool is not installed; install it (scripts/install-deps --test) and run again"
	done
}

build_programs() {
	case ${BENCH_BUILD:-1} in
	1)
		make --no-print-directory -C "$root" all bench-binaries >/dev/null ||
			die "building the programs failed (make all bench-binaries); fix the build, or set BENCH_BUILD=0 to measure the binaries already built"
		;;
	0) ;;
	*) die "BENCH_BUILD must be 1 or 0, not '$BENCH_BUILD'" ;;
	esac
}

# Everything a run creates lives under work_dir, so the exit trap only has
# to stop the processes started there, PostgreSQL last, and remove the folder.
start_run_folder() {
	work_dir=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 0755 "$work_dir"
	pg_dir=$work_dir/postgres
	trap clean_up_run EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

stop_on_exit() {
	bench_pid_variables="$bench_pid_variables $*"
}

stop_pid() {
	if [ -n "$1" ]; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}

# Runs at exit: stops the processes registered with stop_on_exit, then
# lighttpd, Redis and PostgreSQL, which the others may still be using, and
# removes work_dir.
clean_up_run() {
	bench_status=$?
	trap - EXIT INT TERM
	for bench_variable in $bench_pid_variables; do
		eval "stop_pid \"\${$bench_variable:-}\""
	done
	stop_pid "$lighttpd_pid"
	stop_pid "$redis_pid"
	if [ -d "$pg_dir" ]; then
		"$root/scripts/private-postgres" stop "$pg_dir" >/dev/null 2>&1 ||
			echo "$PROGRAM: stopping PostgreSQL in $pg_dir failed" >&2
	fi
	rm -rf "$work_dir"
	exit "$bench_status"
}

# The kernel picks a port that nothing listens on. Another program may take
# it before the server binds it, and then the server fails to start with a
# clear error.
free_port() {
	/usr/bin/python3 -c 'import socket
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
print(listener.getsockname()[1])' || die "no free TCP port found on 127.0.0.1; set BENCH_PORT"
}

listen_port() {
	if [ -z "${BENCH_PORT:-}" ]; then
		free_port
		return 0
	fi
	case $BENCH_PORT in
	*[!0-9]*) die "BENCH_PORT must be a TCP port number, not '$BENCH_PORT'" ;;
	esac
	printf '%s\n' "$BENCH_PORT"
}

write_body() {
	bench_suffix='"}'
	bench_padding=$((BODY_BYTES - ${#2} - ${#bench_suffix}))
	[ "$bench_padding" -ge 0 ] || die "the body prefix is longer than $BODY_BYTES bytes"
	{
		printf '%s' "$2"
		head -c "$bench_padding" /dev/zero | tr '\0' 'x'
		printf '%s' "$bench_suffix"
	} >"$1"
	[ "$(wc -c <"$1")" -eq "$BODY_BYTES" ] || die "the generated body is not $BODY_BYTES bytes long"
}

# The secrets the scripts make are hex, so they pass to openssl as they are.
sign_body() {
	printf 'sha256=%s\n' "$(openssl dgst -sha256 -hmac "$2" <"$1" | sed 's/^.* //')"
}

# As root, PostgreSQL runs as the user "postgres", which must own pg_dir.
start_database() {
	if [ "$(id -u)" = 0 ]; then
		install -d -m 0755 -o postgres -g postgres "$pg_dir"
	fi
	"$root/scripts/private-postgres" start "$pg_dir" >/dev/null
	DATABASE_URL=$("$root/scripts/private-postgres" url "$pg_dir")
	export DATABASE_URL
	psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f "$root/sql/schema.sql" >/dev/null
}

seed_demo() {
	psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -v webhook_secret="$1" \
		-f "$root/sql/demo-seed.sql" >/dev/null
}

sql() {
	psql "$DATABASE_URL" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"
}

# The CHECKPOINT writes the dirty pages now, so that a run does not pay for
# the writes of the one before it.
empty_webhook_tables() {
	sql "TRUNCATE board_webhook_payloads, board_memory, edge_webhook_raw_body,
	     edge_notification_outbox, edge_rate_limit" >/dev/null
	sql "CHECKPOINT" >/dev/null
}

# $1 is a TCP port on 127.0.0.1, or the path of a unix socket (starting
# with /) that every local user may use.
start_redis() {
	case $1 in
	/*)
		redis_cli_arguments="-s $1"
		redis-server --port 0 --unixsocket "$1" --unixsocketperm 777 \
			--save '' --appendonly no --dir "$work_dir" >"$work_dir/redis.log" 2>&1 &
		;;
	*)
		redis_cli_arguments="-h 127.0.0.1 -p $1"
		redis-server --port "$1" --bind 127.0.0.1 \
			--save '' --appendonly no --dir "$work_dir" >"$work_dir/redis.log" 2>&1 &
		;;
	esac
	redis_pid=$!
	for _ in $(seq 50); do
		redis_command ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "redis-server did not reply to PING on $1; log: $work_dir/redis.log"
}

redis_command() {
	# shellcheck disable=SC2086 # the arguments are options and their values
	redis-cli $redis_cli_arguments "$@"
}

# Fills folder $1 for lighttpd.conf with copies of every program that it
# starts, because the web server's user may not be able to read this clone
# and lighttpd does not start while a program is missing. When $2 and $3 are
# given, binary $3 is installed as program $2. It also creates the folders
# that lighttpd writes to, and as root the log file too.
prepare_lighttpd() {
	mkdir -p "$1/bin" "$1/htdocs" "$1/uploads"
	for bench_program in $(sed -n 's/.*edge_bin + "\/\([^"]*\)".*/\1/p' "$root/lighttpd.conf" | sort -u); do
		[ -x "$root/cgi-bin/$bench_program" ] ||
			die "lighttpd.conf starts $bench_program, but cgi-bin/$bench_program is missing; run make"
		cp "$root/cgi-bin/$bench_program" "$1/bin/$bench_program"
	done
	if [ $# -ge 3 ]; then
		cp "$3" "$1/bin/$2"
	fi
	chmod -R a+rX "$1"
	if [ "$(id -u)" = 0 ]; then
		touch "$1/error.log"
		chown "${EDGE_USER:-www-data}" "$1" "$1/error.log" "$1/htdocs" "$1/uploads"
	fi
}

# Starts lighttpd.conf unchanged with the programs of folder $1 (see
# prepare_lighttpd), FCGI_PROCS processes per pool and the settings "$@"
# after it, and waits until it replies to HTTP. LOCAL_AUTH_TOKEN is set
# because the programs that need it do not start without it. The programs
# inherit the caller's environment, so LOG_LEVEL or LOG_FORMAT set by the
# caller reach them. lighttpd 1.4.69 started with -D hands its own standard
# error, not server.errorlog, to the FastCGI programs, so their log lines go
# to $1/output.log.
start_lighttpd() {
	bench_state=$1
	shift
	env EDGE_ROOT="$root" EDGE_BIN_DIR="$bench_state/bin" EDGE_STATE_DIR="$bench_state" \
		EDGE_PORT="$port" EDGE_BIND=127.0.0.1 EDGE_FCGI_PROCS="$FCGI_PROCS" \
		LOCAL_AUTH_TOKEN="$(openssl rand -hex 32)" "$@" \
		lighttpd -D -f "$root/lighttpd.conf" >"$bench_state/output.log" 2>&1 &
	lighttpd_pid=$!

	for _ in $(seq 100); do
		if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
			return 0
		fi
		kill -0 "$lighttpd_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$bench_state/error.log" "$bench_state/output.log" >&2 2>/dev/null || true
	die "lighttpd did not start on 127.0.0.1:$port; logs: $bench_state/error.log, $bench_state/output.log"
}

stop_lighttpd() {
	stop_pid "$lighttpd_pid"
	lighttpd_pid=
}

# EXPECTED is a case pattern such as 202 or '2??'; LABEL names the request
# in the error message.
check_status() {
	bench_state=$1
	bench_label=$2
	bench_expected=$3
	shift 3
	bench_status=$(curl -sS -o "$work_dir/response" -w '%{http_code}' "$@") || bench_status=none
	# shellcheck disable=SC2254 # the pattern is meant to match
	case $bench_status in
	$bench_expected) return 0 ;;
	esac
	cat "$work_dir/response" >&2 2>/dev/null || true
	echo >&2
	tail -n 20 "$bench_state/error.log" "$bench_state/output.log" >&2 2>/dev/null || true
	die "$bench_label got HTTP status $bench_status instead of $(printf '%s' "$bench_expected" | tr '?' x);" \
		"logs: $bench_state/error.log, $bench_state/output.log"
}

check_signed_delivery() {
	check_status "$1" "a signed delivery" "$2" -X POST "$url" \
		-H 'Content-Type: application/json' -H "X-Hub-Signature-256: $signature" \
		-H 'X-Forwarded-For: 10.255.0.1' --data-binary "@$body_file"
}

# Runs wrk with THREADS threads, or fewer when there are fewer connections
# because wrk needs one per thread. Prints the RESULT line that the wrk
# script prints at the end.
run_wrk() {
	bench_seconds=$1
	bench_connections=$2
	bench_url=$3
	bench_script=$4
	shift 4
	bench_threads=$THREADS
	[ "$bench_connections" -ge "$bench_threads" ] || bench_threads=$bench_connections
	# timeout bounds a wrk that would hang; SIGINT makes wrk print its summary.
	timeout --signal=INT $((bench_seconds + 30)) \
		wrk -t"$bench_threads" -c"$bench_connections" -d"$bench_seconds"s --timeout 10s \
		-s "$bench_script" "$bench_url" -- "$@" >"$work_dir/wrk.out" 2>&1 ||
		{ cat "$work_dir/wrk.out" >&2; die "wrk failed"; }
	grep '^RESULT ' "$work_dir/wrk.out" ||
		{ cat "$work_dir/wrk.out" >&2; die "wrk printed no RESULT line"; }
}

result_field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

rate_2xx() {
	awk -v ok="$(result_field "$1" ok)" -v us="$(result_field "$1" duration_us)" \
		'BEGIN { printf "%.3f\n", (us > 0 ? ok / (us / 1e6) : 0) }'
}

# Prints the CPU ticks of the whole machine since boot: all of them, the
# busy ones (user, nice, system, irq, softirq), then irq and softirq alone.
# Loopback TCP is processed largely in softirq, which no process is charged for.
machine_ticks() {
	awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy + $5 + $6 + $9, busy, $7 + $8; exit }' /proc/stat
}

# Prints the user and system CPU ticks of process $1, its reaped children
# included, then those of its live direct children.
process_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v parent="$1" '{
		pid = $1
		# The command name in brackets may contain spaces, so the fields are
		# read after its last ") ".
		line = $0
		sub(/^.*\) /, "", line)
		split(line, f, " ")
		if (pid == parent)
			own += f[12] + f[13] + f[14] + f[15]
		else if (f[2] == parent)
			children += f[12] + f[13]
	} END { print own + 0, children + 0 }'
}

tree_ticks() {
	process_ticks "$1" | awk '{ print $1 + $2 }'
}

# Call it directly, not in $(...), because times in a subshell starts from zero.
read_children_cpu() {
	times >"$work_dir/times"
	children_ms=$(awk 'NR == 2 {
		for (i = 1; i <= 2; i++) {
			split($i, t, /[ms]/)
			ms += (t[1] * 60 + t[2]) * 1000
		}
		printf "%.0f\n", ms
	}' "$work_dir/times")
}

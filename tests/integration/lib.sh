# shellcheck shell=bash
# Shared by the integration tests: start the real anemosd on a free loopback port with a
# fresh data folder, and report checks as TAP-like lines that tests/run-all.sh counts.
# Sourced by bash; ANEMOS_BUILD names the build folder (build or build/asan).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/${ANEMOS_BUILD:-build}
ANEMOSD=$BUILD/anemosd
# shellcheck disable=SC2034 # used by the suites that source this file
ANEMOSCTL=$BUILD/anemosctl
WORK=$(mktemp -d /tmp/anemos-test.XXXXXX)
DATA=$WORK/data
BOOT_DIR=$WORK/boot
ANEMOSD_PID=""
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

_failures=0
ok()   { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; _failures=$((_failures + 1)); }
skip() { echo "skip - $1: $2"; }
# check NAME COMMAND...: passes when the command succeeds.
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n" "command failed: $*"; fi; }
# expect_eq NAME EXPECTED ACTUAL
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }
# expect_at_least NAME MIN ACTUAL: passes when the number ACTUAL is MIN or more (said in either case).
expect_at_least() { if [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1 ($3)"; else fail "$1" "$3, not at least $2"; fi; }
# expect_match NAME REGEX TEXT
expect_match() { if printf '%s' "$3" | grep -qE -- "$2"; then ok "$1"; else fail "$1" "no match for /$2/ in: $(printf '%s' "$3" | head -c 400)"; fi; }
# expect_no_match NAME REGEX TEXT
expect_no_match() { if printf '%s' "$3" | grep -qE -- "$2"; then fail "$1" "unexpected /$2/ in: $(printf '%s' "$3" | head -c 400)"; else ok "$1"; fi; }

# free_low_port: a free loopback port below 32768: apt-cacher-ng 3.7.4 can neither listen on
# a higher one ("Error resolving address for binding") nor fetch from one (it connects to
# another port), so cache_mirror_url leaves such mirrors alone.
free_low_port() {
	python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
}

free_port() {
	python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}

# anemosd_start [EXTRA ARGS...]: starts anemosd (on $LISTEN_HOST, default 127.0.0.1), waits (bounded) for /healthz, sets
# ANEMOS_URL and ANEMOS_TOKEN (a fresh admin token). Reuses DATA across restarts.
anemosd_start() {
	mkdir -p "$DATA" "$BOOT_DIR"
	if [ -z "${ANEMOS_TOKEN:-}" ]; then
		ANEMOS_TOKEN=$("$ANEMOSD" token create --data "$DATA" --name test) || { fail "token create"; return 1; }
		export ANEMOS_TOKEN
	fi
	PORT=${PORT:-$(free_port)}
	ANEMOS_URL=http://${LISTEN_HOST:-127.0.0.1}:$PORT
	export ANEMOS_URL
	# ANEMOS_NO_PUBLIC_URL=1: no --public-url, as `make run` starts it (each answer names
	# the address the request used, its Host).
	local url=(--public-url "$ANEMOS_URL")
	[ -n "${ANEMOS_NO_PUBLIC_URL:-}" ] && url=()
	"$ANEMOSD" --listen "${LISTEN_HOST:-127.0.0.1}:$PORT" --data "$DATA" --boot-dir "$BOOT_DIR" \
		"${url[@]}" "$@" 2>>"$WORK/anemosd.log" &
	ANEMOSD_PID=$!
	for _ in $(seq 1 100); do
		curl -fsS -m 1 "$ANEMOS_URL/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$ANEMOSD_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "anemosd starts" "$(tail -n 20 "$WORK/anemosd.log")"
	return 1
}

# anemosd_stop [SIGNAL]: stops the anemosd this test started, by PID; fails the test if
# it exits with a sanitizer report or an error on a clean TERM.
anemosd_stop() {
	local sig=${1:-TERM} rc
	[ -n "$ANEMOSD_PID" ] || return 0
	kill "-$sig" "$ANEMOSD_PID" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$ANEMOSD_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$ANEMOSD_PID" 2>/dev/null; then
		fail "anemosd stops within 10 s of SIG$sig"
		kill -KILL "$ANEMOSD_PID" 2>/dev/null
	fi
	wait "$ANEMOSD_PID" 2>/dev/null; rc=$?
	ANEMOSD_PID=""
	if [ "$sig" = TERM ] && [ "$rc" -ne 0 ]; then
		fail "anemosd exits cleanly" "exit $rc: $(grep -E 'ERROR|runtime error|Sanitizer' "$WORK/anemosd.log" | head -5)"
	fi
	return 0
}

_cleanup() {
	[ -n "$ANEMOSD_PID" ] && { kill "$ANEMOSD_PID" 2>/dev/null; wait "$ANEMOSD_PID" 2>/dev/null; }
	if grep -qE 'runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$WORK/anemosd.log" 2>/dev/null; then
		fail "no sanitizer reports" "$(grep -E -A3 'runtime error|Sanitizer' "$WORK/anemosd.log" | head -20)"
	fi
	[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap _cleanup EXIT

# bearer_request TOKEN METHOD PATH [JSON]: prints the body, then the status on the last line.
# The token reaches curl through a pipe of its own (never the command line, never a file
# that concurrent requests share).
# With FROM=ADDR (another loopback address, 127.0.0.2 ...) the request comes from ADDR: another
# machine, as anemosd sees it.
bearer_request() {
	local tok=$1 m=$2 p=$3 body=${4:-}
	if [ -n "$body" ]; then
		# The body through standard input: a bulk request is larger than one argument may be.
		printf '%s' "$body" | curl -sS -m 70 ${FROM:+--interface "$FROM"} -X "$m" \
			-H @<(printf 'Authorization: Bearer %s\n' "$tok") \
			-H 'Content-Type: application/json' --data-binary @- -w '\n%{http_code}' "$ANEMOS_URL$p"
	else
		curl -sS -m 70 ${FROM:+--interface "$FROM"} -X "$m" -H @<(printf 'Authorization: Bearer %s\n' "$tok") \
			-w '\n%{http_code}' "$ANEMOS_URL$p"
	fi
}
# api METHOD PATH [JSON]: a request with the admin token.
api() { bearer_request "$ANEMOS_TOKEN" "$@"; }
status_of() { printf '%s\n' "$1" | tail -n 1; }
body_of()   { printf '%s\n' "$1" | sed '$d'; }

# ipxe MAC [PLATFORM] [EXTRA QUERY]: what GET /ipxe answers a machine booting from MAC.
ipxe() {
	curl -sS -m 10 ${FROM:+--interface "$FROM"} "$ANEMOS_URL/ipxe?mac=$1&platform=${2:-pcbios}${3:+&$3}"
}
# agent_token_of SCRIPT: the anemos.token= value in an iPXE script.
agent_token_of() { printf '%s\n' "$1" | grep -o 'anemos\.token=[^ ]*' | head -n 1 | cut -d= -f2; }
# agent METHOD PATH TOKEN [JSON]: a request with an agent token.
agent() { bearer_request "$3" "$1" "$2" "${4:-}"; }
# host_field REF JQ: one field of a host, through the API.
host_field() { body_of "$(api GET "/api/v1/hosts/$1")" | jq -r "$2"; }

# ---- for the suites that run QEMU machines ----
QEMU_PID=""
# stop_qemu: stops the machine this test started last, by PID.
stop_qemu() { [ -n "$QEMU_PID" ] && { kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; }; QEMU_PID=""; }
# console_tail NAME: the end of machine NAME's serial console ($WORK/console-NAME.log), as comments.
console_tail() {
	echo "# console of $1 (last 40 lines):"
	tail -n 40 "$WORK/console-$1.log" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }   # FROM TO: seconds between
# event_count REF REGEX: how many of the host's last 1000 events have a message matching REGEX.
event_count() {
	body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")" 2>/dev/null |
		jq --arg re "$2" '[.events[]? | select(.message | test($re))] | length' 2>/dev/null
}

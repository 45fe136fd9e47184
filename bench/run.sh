#!/usr/bin/env bash
# Anemos benchmarks: anemosd against nginx serving the same bytes, in the same invocation.
#
#   bench/run.sh BUILD_DIR        (make bench runs it after deploy/install-deps.sh bench)
#
# 1. seeds 10,000 hosts (next boot `local`) through POST /api/v1/hosts and times it;
# 2. GET /ipxe?mac=..&platform=pcbios rotating over those 10,000 MACs (wrk + bench/ipxe.lua);
# 3. nginx serving a static file of the same size as that /ipxe answer, same wrk settings;
# 4. a 16 MiB file (kernel-sized) from anemosd's /boot/ and from nginx at 8, 1, 64 and 512 connections,
#    and 1,000 downloads at once with anemosd's peak RSS during them;
# 5. extras that split HTTP cost from database cost: GET /healthz (no database) and
#    GET /api/v1/hosts/MAC (admin auth + read-only lookups, no write); a search of three terms
#    (tag, attribute, negated status) over the hosts against the same number of hosts listed
#    with no search.
# 6. the boot storm, registrations alone and while agents long-poll (anemos-storm);
# 7. 100,000 hosts: the RSS idle, and /ipxe over all of them at 1, 64 and 512 connections.
#
# Everything listens on 127.0.0.1 on free ports; the work folder is a fresh /tmp/anemos-bench.*
# that is removed on exit, and only the anemosd and nginx started here are stopped (by PID).
# It reports numbers; it fails only when something is broken (a server that does not start,
# seeding that does not give 10,000 hosts, non-2xx answers, socket errors).
#
# Environment:
#   BENCH_THREADS=N      anemosd --threads N (default: anemosd's own default)
#   BENCH_DURATION=10s   length of each measured wrk run (a 2 s warm-up precedes each)
#   BENCH_HOSTS=10000    how many hosts to seed
#   BENCH_BIG_HOSTS=100000 hosts in all for section 7 (bulk enrolled after the others; 0: no
#                        section 7)
#   BENCH_LOG_LEVEL=warn anemosd --log-level during the measurements. nginx runs with
#                        access_log off, so anemosd runs without its per-request info line by
#                        default; BENCH_LOG_LEVEL=info measures it with that line.
#   BENCH_STORM_MACHINES=1000, BENCH_STORM_CONNS=200: the boot storm (anemos-storm, section 6)
#   BENCH_WAITERS=1000   agents that long-poll their plans during the registrations of section 6
#   BENCH_KEEP=1         keep the work folder (logs, wrk outputs) and say where it is
set -eu

BUILD=${1:?usage: bench/run.sh BUILD_DIR}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ANEMOSD=$BUILD/anemosd
NGINX=${NGINX:-/usr/sbin/nginx}
HOSTS=${BENCH_HOSTS:-10000}
BIG_HOSTS=${BENCH_BIG_HOSTS:-100000}
DURATION=${BENCH_DURATION:-10s}
LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
THREADS=${BENCH_THREADS:-}
SMALL_WRK=(-t2 -c32 -d"$DURATION")
STORM_MACHINES=${BENCH_STORM_MACHINES:-1000}
STORM_CONNS=${BENCH_STORM_CONNS:-200}
WAITERS=${BENCH_WAITERS:-1000}
MAX_CONNS=$((WAITERS + 4096))
STORM=$BUILD/anemos-storm
BIG_WRK=(-t2 -c8 -d"$DURATION")
SEARCH_WRK=(-t2 -c4 -d"$DURATION" --timeout 10s)	# an operator's searches, not a boot storm
SEED_PARALLEL=8
BIG_SIZE=$((16 * 1024 * 1024))

die() { echo "bench: FAILED: $*" >&2; exit 1; }
note() { echo "bench: $*"; }

for tool in wrk curl jq awk; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (deploy/install-deps.sh bench installs it)"
done
[ -x "$STORM" ] || die "$STORM is not built (make $BUILD/anemos-storm)"
[ -x "$ANEMOSD" ] || die "$ANEMOSD is not built (make $BUILD/anemosd)"
[ -x "$NGINX" ] || die "$NGINX is missing (deploy/install-deps.sh bench installs nginx-light)"

WORK=$(mktemp -d /tmp/anemos-bench.XXXXXX)
ANEMOSD_PID=""
NGINX_PID=""

stop_pid() { # stop_pid PID: TERM, wait up to 5 s, then KILL; only PIDs this script started
	local pid=$1 _
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$ANEMOSD_PID" ] && stop_pid "$ANEMOSD_PID"
	[ -n "$NGINX_PID" ] && stop_pid "$NGINX_PID"
	if [ "$rc" -ne 0 ] && [ -f "$WORK/anemosd.log" ]; then
		echo "bench: last lines of the anemosd log:" >&2
		tail -n 15 "$WORK/anemosd.log" >&2
	fi
	if [ "$rc" -ne 0 ] && [ -n "$NGINX_PID" ]; then
		echo "bench: last lines of the nginx logs:" >&2
		tail -n 15 "$WORK/nginx/error.log" "$WORK/nginx/stderr.log" >&2 2>/dev/null || true
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: work folder kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port: the kernel picks one (python3), or a random one that nothing listens on.
free_port() {
	local p
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' && return 0
	fi
	while :; do
		p=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
}

now() { date +%s.%N; }
# proc_mib FIELD: anemosd's VmRSS or VmHWM now, in MiB.
proc_mib() { awk -v f="$1:" '$1 == f { printf "%.0f", $2 / 1024 }' "/proc/$ANEMOSD_PID/status"; }
# macs FROM TO: the MACs of hosts FROM to TO, 02:42:be:HH:MM:LL (locally administered), one
# per line.
macs() {
	awk -v a="$1" -v n="$2" 'BEGIN { for (i = a; i <= n; i++)
		printf "02:42:be:%02x:%02x:%02x\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }'
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# wait_http URL PID NAME: up to 10 s for URL to answer 2xx while PID lives.
wait_http() {
	local _
	for _ in $(seq 1 200); do
		curl -fsS -m 1 -o /dev/null "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || die "$3 exited at startup"
		sleep 0.05
	done
	die "$3 did not answer $1 within 10 s"
}

# Folders: the work folder is readable by nginx's workers (they drop to an unprivileged user
# when run as root); the anemosd data folder, which holds the admin token, is not.
chmod 755 "$WORK"
DATA=$WORK/data
BOOT=$WORK/boot
WWW=$WORK/www
mkdir -p "$DATA" "$BOOT" "$WWW" "$WORK/nginx" "$WORK/seed" "$WORK/wrk"
chmod 700 "$DATA"

# --- anemosd ---------------------------------------------------------------------------------
ANEMOS_PORT=$(free_port)
ANEMOS_URL=http://127.0.0.1:$ANEMOS_PORT
TOKEN=$("$ANEMOSD" token create --data "$DATA" --name bench) || die "anemosd token create"
anemosd_args=(--listen "127.0.0.1:$ANEMOS_PORT" --data "$DATA" --boot-dir "$BOOT"
	--public-url "$ANEMOS_URL" --log-level "$LOG_LEVEL" --max-per-address 0 --max-connections "$MAX_CONNS")
[ -n "$THREADS" ] && anemosd_args+=(--threads "$THREADS")
"$ANEMOSD" "${anemosd_args[@]}" 2>>"$WORK/anemosd.log" &
ANEMOSD_PID=$!
wait_http "$ANEMOS_URL/healthz" "$ANEMOSD_PID" anemosd
note "anemosd $ANEMOS_URL (pid $ANEMOSD_PID, threads ${THREADS:-default}, log level $LOG_LEVEL)," \
	"$(nproc) CPUs"

# --- 1. seed hosts through the API --------------------------------------------------------------
# One MAC per host, in enrollment order.
macs 1 "$HOSTS" >"$WORK/macs"
# SEED_PARALLEL curl processes, each with a config file of its share of the POSTs: every
# curl keeps one connection alive and prints one status code per request. The token is in
# those files (mode 600), never on a command line.
umask_old=$(umask); umask 077
awk -v url="$ANEMOS_URL/api/v1/hosts" -v tok="$TOKEN" -v k="$SEED_PARALLEL" -v dir="$WORK/seed" '
	{ f = sprintf("%s/%02d.conf", dir, (NR - 1) % k)
	  if (seen[f]++) printf "next\n" > f
	  printf "url = \"%s\"\nheader = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n", url, tok > f
	  # every 4th host tagged db; racks r0..r39; so tag:db rack=r12 finds 1 host in 40
	  tags = NR % 4 == 0 ? ",\\\"tags\\\":[\\\"db\\\"]" : ""
	  printf "data = \"{\\\"mac\\\":\\\"%s\\\",\\\"next_boot\\\":\\\"local\\\"%s,\\\"attributes\\\":{\\\"rack\\\":\\\"r%d\\\"}}\"\n", $1, tags, NR % 40 > f
	  printf "max-time = 60\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n" > f }' "$WORK/macs"
umask "$umask_old"
t0=$(now)
# shellcheck disable=SC2016 # $1 is expanded by that sh, per config file
find "$WORK/seed" -name '*.conf' -print0 | xargs -0 -P "$SEED_PARALLEL" -I{} sh -c 'curl -sS -K "$1" >"$1.codes"' _ {} \
	|| die "seeding: a curl failed"
t1=$(now)
SEED_SECS=$(elapsed "$t0" "$t1")
created=$(cat "$WORK"/seed/*.codes | grep -c '^201$' || true)
[ "$created" -eq "$HOSTS" ] ||
	die "seeding: $created of $HOSTS POSTs answered 201 (codes: $(cat "$WORK"/seed/*.codes | sort | uniq -c | tr '\n' ' '))"
printf 'Authorization: Bearer %s\n' "$TOKEN" >"$WORK/seed/auth"
listed=$(curl -fsS -m 120 -H @"$WORK/seed/auth" "$ANEMOS_URL/api/v1/hosts" |
	jq '[.hosts[] | select(.next_boot == "local")] | length') || die "GET /api/v1/hosts"
[ "$listed" -eq "$HOSTS" ] || die "GET /api/v1/hosts lists $listed hosts with next_boot local, not $HOSTS"
SEED_RATE=$(awk -v n="$HOSTS" -v s="$SEED_SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
sleep 1
RSS_IDLE=$(proc_mib VmRSS)
note "seeded $HOSTS hosts in ${SEED_SECS} s ($SEED_RATE hosts/s, $SEED_PARALLEL parallel clients); GET /api/v1/hosts lists $listed"

# --- wrk scripts ---------------------------------------------------------------------------------
# ipxe.lua: the fixed part is in bench/ipxe.lua; the MAC table is generated here.
{
	echo "macs = {"
	sed 's/.*/"&",/' "$WORK/macs"
	echo "}"
	cat "$BENCH_DIR/ipxe.lua"
} >"$WORK/ipxe.lua"
# host-get.lua: the same rotation over GET /api/v1/hosts/MAC with the admin token.
{
	echo "macs = {"
	sed 's/.*/"&",/' "$WORK/macs"
	echo "}"
	echo "path_prefix = \"/api/v1/hosts/\""
	echo "path_suffix = \"\""
	echo "wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\""
	cat "$BENCH_DIR/ipxe.lua"
} >"$WORK/host-get.lua"
chmod 600 "$WORK/host-get.lua"

# run_wrk NAME WRK_ARGS... URL: a 2 s warm-up, then the measured run; prints wrk's output and
# sets RPS (requests/s) and MIBS (MiB/s). Fails on non-2xx answers or socket errors.
run_wrk() {
	local name=$1 out=$WORK/wrk/$1.txt line n bad
	shift
	local args=("$@") warm=()
	local a
	for a in "${args[@]}"; do
		case $a in -d*) warm+=(-d2s) ;; *) warm+=("$a") ;; esac
	done
	wrk "${warm[@]}" >"$WORK/wrk/$name.warmup.txt" 2>&1 || die "wrk warm-up for $name: $(cat "$WORK/wrk/$name.warmup.txt")"
	wrk "$@" >"$out" 2>&1 || die "wrk for $name: $(cat "$out")"
	echo "--- wrk $name: wrk $*"
	sed 's/^/    /' "$out"
	bad=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$out")
	[ -z "$bad" ] || [ "$bad" -eq 0 ] || die "$name: $bad non-2xx/3xx responses"
	line=$(grep 'Socket errors' "$out" || true)
	SOCKET_ERRORS=$(printf '%s' "$line" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i } END { print n + 0 }')
	[ -z "$line" ] || [ "${SOCKET_ERRORS_OK:-0}" = 1 ] || die "$name: $line"
	RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	[ -n "$RPS" ] || die "$name: no Requests/sec in wrk's output"
	n=$(awk '/requests in/ { print $1 }' "$out")
	[ "${n:-0}" -gt 0 ] || die "$name: no request completed"
	# wrk prints binary units (1024-based): 512.00B, 1.50KB, 2.10MB, 1.02GB.
	MIBS=$(awk '/^Transfer\/sec:/ {
		v = $2; u = v; sub(/^[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
		m = (u == "B") ? 1 / 1048576 : (u == "KB") ? 1 / 1024 : (u == "MB") ? 1 : \
		    (u == "GB") ? 1024 : (u == "TB") ? 1048576 : -1
		if (m < 0) { print "?"; exit }
		printf "%.1f", v * m }' "$out")
	case $MIBS in ''|'?') die "$name: cannot read Transfer/sec in wrk's output" ;; esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
int() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }
# cpu_secs PID: user + system CPU seconds of PID and its children (nginx's workers).
cpu_secs() {
	local p total=0 tck
	tck=$(getconf CLK_TCK)
	for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		total=$((total + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
	done
	awk -v t="$total" -v k="$tck" 'BEGIN { printf "%.2f", t / k }'
}
# wal_mib: the size of anemosd's WAL file now, in MiB.
wal_mib() { awk -v b="$(stat -c %s "$DATA/anemos.db-wal" 2>/dev/null || echo 0)" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# --- 2. /ipxe ------------------------------------------------------------------------------------
sample_mac=$(sed -n "$(( (HOSTS + 1) / 2 ))p" "$WORK/macs")
curl -fsS -m 5 -o "$WORK/ipxe-sample" "$ANEMOS_URL/ipxe?mac=$sample_mac&platform=pcbios" || die "GET /ipxe"
grep -q sanboot "$WORK/ipxe-sample" || die "GET /ipxe for a local host did not give the local-disk script: $(cat "$WORK/ipxe-sample")"
IPXE_SIZE=$(wc -c <"$WORK/ipxe-sample")
note "/ipxe answer for a local host: $IPXE_SIZE bytes"

run_wrk ipxe -s "$WORK/ipxe.lua" "${SMALL_WRK[@]}" "$ANEMOS_URL"
IPXE_RPS=$RPS
run_wrk healthz "${SMALL_WRK[@]}" "$ANEMOS_URL/healthz"
HEALTHZ_RPS=$RPS
run_wrk host-get -s "$WORK/host-get.lua" "${SMALL_WRK[@]}" "$ANEMOS_URL"
HOSTGET_RPS=$RPS

# --- search: a 3-term query over the hosts, against the same page of the list unsearched ---------
SEARCH_Q='tag:db rack=r12 -status:failed'
SEARCH_WANT=$(awk -v n="$HOSTS" 'BEGIN { for (i = 1; i <= n; i++) c += (i % 4 == 0 && i % 40 == 12); print c }')
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$TOKEN" >"$WORK/admin.lua"
chmod 600 "$WORK/admin.lua"
search_path="/api/v1/hosts?limit=1000&q=$(jq -rn --arg q "$SEARCH_Q" '$q|@uri')"
found=$(curl -fsS -m 30 -H @"$WORK/seed/auth" "$ANEMOS_URL$search_path" | jq '.hosts | length') || die "GET $search_path"
[ "$found" -eq "$SEARCH_WANT" ] || die "the search '$SEARCH_Q' found $found hosts, not $SEARCH_WANT"
t0=$(now)
curl -fsS -m 30 -o /dev/null -H @"$WORK/seed/auth" "$ANEMOS_URL$search_path" || die "GET $search_path"
SEARCH_ONE_MS=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
run_wrk search -s "$WORK/admin.lua" "${SEARCH_WRK[@]}" "$ANEMOS_URL$search_path"
SEARCH_RPS=$RPS
SEARCH_LAT=$(awk '$1 == "Latency" { print $2; exit }' "$WORK/wrk/search.txt")
run_wrk list-page -s "$WORK/admin.lua" "${SEARCH_WRK[@]}" "$ANEMOS_URL/api/v1/hosts?limit=$SEARCH_WANT"
LIST_RPS=$RPS

# --- 3. nginx --------------------------------------------------------------------------------------
cp "$WORK/ipxe-sample" "$WWW/ipxe.txt"
head -c "$BIG_SIZE" /dev/urandom >"$BOOT/vmlinuz-bench"
cp "$BOOT/vmlinuz-bench" "$WWW/vmlinuz-bench"
chmod 755 "$WWW"
chmod 644 "$WWW"/*
NGINX_PORT=$(free_port)
NGINX_URL=http://127.0.0.1:$NGINX_PORT
temp_paths="client_body_temp_path $WORK/nginx/body;"
for m in proxy fastcgi uwsgi scgi; do
	"$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
		temp_paths="$temp_paths ${m}_temp_path $WORK/nginx/$m;"
done
cat >"$WORK/nginx/nginx.conf" <<EOF
# Private to this benchmark run; nginx -p $WORK/nginx -c nginx.conf
daemon off;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	default_type text/plain;
	$temp_paths
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $WWW;
		location / { }
		# the storm's agent calls: the same POSTs and GETs, a static answer
		location /api/ { default_type application/json; return 200 '{"action":"discover"}\n'; }
	}
}
EOF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c nginx.conf 2>>"$WORK/nginx/stderr.log" &
NGINX_PID=$!
wait_http "$NGINX_URL/ipxe.txt" "$NGINX_PID" nginx
curl -fsS -m 5 "$NGINX_URL/ipxe.txt" | cmp -s - "$WORK/ipxe-sample" || die "nginx does not serve the /ipxe copy"
note "nginx $("$NGINX" -v 2>&1 | sed 's/.*version: //') $NGINX_URL (pid $NGINX_PID, 2 workers)"

run_wrk nginx-ipxe "${SMALL_WRK[@]}" "$NGINX_URL/ipxe.txt"
NGINX_RPS=$RPS

# --- 4. 16 MiB file --------------------------------------------------------------------------------
curl -fsS -m 30 "$ANEMOS_URL/boot/vmlinuz-bench" | cmp -s - "$BOOT/vmlinuz-bench" || die "anemosd /boot/ does not serve the file intact"
run_wrk boot-file "${BIG_WRK[@]}" "$ANEMOS_URL/boot/vmlinuz-bench"
BOOT_MIBS=$MIBS
run_wrk nginx-file "${BIG_WRK[@]}" "$NGINX_URL/vmlinuz-bench"
NGINX_MIBS=$MIBS
declare -A FILE_AT NGINX_FILE_AT
for c in 1 64 512; do
	t=2; [ "$c" = 1 ] && t=1
	# 512 downloads of 16 MiB at once take seconds each: wrk's 2 s timeout would count them
	run_wrk "boot-file-c$c" "-t$t" "-c$c" "-d$DURATION" --timeout 30s "$ANEMOS_URL/boot/vmlinuz-bench"
	FILE_AT[$c]=$MIBS
	run_wrk "nginx-file-c$c" "-t$t" "-c$c" "-d$DURATION" --timeout 30s "$NGINX_URL/vmlinuz-bench"
	NGINX_FILE_AT[$c]=$MIBS
done
# anemosd's peak RSS during 1,000 downloads at once: the peak (VmHWM) is reset first (5 to
# clear_refs, a process this script started). 1,000 times 16 MiB take over 10 s here: the run
# is 20 s long, so that downloads complete.
# Socket errors are counted and shown here, not fatal.
reset_peak() { { echo 5 >"/proc/$ANEMOSD_PID/clear_refs"; } 2>/dev/null || note "cannot reset anemosd's peak RSS: the next peak is since start"; }
reset_peak
SOCKET_ERRORS_OK=1 run_wrk boot-file-c1000 -t2 -c1000 -d20s --timeout 60s "$ANEMOS_URL/boot/vmlinuz-bench"
DL_MIBS=$MIBS DL_ERRORS=$SOCKET_ERRORS
RSS_DOWNLOADS=$(proc_mib VmHWM)
SOCKET_ERRORS_OK=1 run_wrk nginx-file-c1000 -t2 -c1000 -d20s --timeout 60s "$NGINX_URL/vmlinuz-bench"
NGINX_DL_MIBS=$MIBS NGINX_DL_ERRORS=$SOCKET_ERRORS

# --- 5. /ipxe at 1, 64 and 512 connections ------------------------------------------------------
declare -A IPXE_AT IPXE_P99 NGINX_AT NGINX_P99
p99() { awk '/^ +99%/ { print $2 }' "$WORK/wrk/$1.txt"; }
for c in 1 64 512; do
	t=2; [ "$c" = 1 ] && t=1
	run_wrk "ipxe-c$c" -s "$WORK/ipxe.lua" "-t$t" "-c$c" "-d$DURATION" --latency "$ANEMOS_URL"
	IPXE_AT[$c]=$RPS; IPXE_P99[$c]=$(p99 "ipxe-c$c")
	run_wrk "nginx-ipxe-c$c" "-t$t" "-c$c" "-d$DURATION" --latency "$NGINX_URL/ipxe.txt"
	NGINX_AT[$c]=$RPS; NGINX_P99[$c]=$(p99 "nginx-ipxe-c$c")
done
WAL_SIZES="after /ipxe $(wal_mib) MiB"

# --- 6. the boot storm ---------------------------------------------------------------------------
# The same bytes from both: boot.ipxe, a script for /ipxe (nginx: the one anemosd gave a new
# machine), an 8 MiB kernel and a 24 MiB initramfs; nginx answers the agent's POSTs and GETs
# with a static JSON answer.
INVENTORY_SIZE=11000
head -c $((8 * 1024 * 1024)) /dev/urandom >"$BOOT/vmlinuz"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$BOOT/initramfs.img"
mkdir -p "$WWW/boot"
cp "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$WWW/boot/"
curl -fsS -m 5 -o "$WWW/boot.ipxe" "$ANEMOS_URL/boot.ipxe" || die "GET /boot.ipxe"
curl -fsS -m 5 -o "$WWW/ipxe" "$ANEMOS_URL/ipxe?mac=02:41:00:00:00:01&platform=efi" || die "GET /ipxe for a new machine"
grep -q 'anemos.token=' "$WWW/ipxe" || die "/ipxe for a new machine names no token: $(cat "$WWW/ipxe")"
chmod -R a+rX "$WWW"
# storm NAME URL PREFIX ARGS...: anemos-storm's output into $WORK/storm-NAME.txt, shown indented.
storm() {
	local name=$1 url=$2 prefix=$3
	shift 3
	"$STORM" -p "$prefix" -s "$INVENTORY_SIZE" "$url" "$@" >"$WORK/storm-$name.txt" 2>&1 ||
		die "anemos-storm $name: $(tail -5 "$WORK/storm-$name.txt")"
	echo "--- anemos-storm $name: -p $prefix $*"
	sed 's/^/    /' "$WORK/storm-$name.txt"
}
# field FILE PHASE KEY: a value of a phase's line (or of a step's, PHASE being step=NAME)
field() { awk -v ph="$2" -v k="$3" '$2 == "phase=" ph || $2 == ph { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$1"; }
declare -A STORM_SECS STORM_CPU
seq_steps=boot,ipxe,kernel,initrd,inventory,plan
reset_peak # the peak below is the storm's
c0=$(cpu_secs "$ANEMOSD_PID")
storm boot-anemosd "$ANEMOS_URL" 50 -n "$STORM_MACHINES" -c "$STORM_CONNS" "$seq_steps"
STORM_CPU[a]=$(awk -v a="$c0" -v b="$(cpu_secs "$ANEMOSD_PID")" 'BEGIN { printf "%.2f", b - a }')
STORM_SECS[a]=$(field "$WORK/storm-boot-anemosd.txt" "$seq_steps" seconds)
RSS_PEAK=$(proc_mib VmHWM)
WAL_SIZES="$WAL_SIZES, after the boot storm $(wal_mib) MiB"
c0=$(cpu_secs "$NGINX_PID")
storm boot-nginx "$NGINX_URL" 50 -n "$STORM_MACHINES" -c "$STORM_CONNS" "$seq_steps"
STORM_CPU[n]=$(awk -v a="$c0" -v b="$(cpu_secs "$NGINX_PID")" 'BEGIN { printf "%.2f", b - a }')
STORM_SECS[n]=$(field "$WORK/storm-boot-nginx.txt" "$seq_steps" seconds)
# Registrations: every machine gets its script (and token) first, then all inventories are
# timed on their own, then all plans.
storm reg-anemosd "$ANEMOS_URL" 51 -n "$STORM_MACHINES" -c "$STORM_CONNS" ipxe inventory plan
REG_RATE=$(field "$WORK/storm-reg-anemosd.txt" "step=inventory" per_s)
storm reg-nginx "$NGINX_URL" 51 -n "$STORM_MACHINES" -c "$STORM_CONNS" ipxe inventory plan
NGINX_REG_RATE=$(field "$WORK/storm-reg-nginx.txt" "step=inventory" per_s)
storm reg-waiting "$ANEMOS_URL" 52 -n "$STORM_MACHINES" -c "$STORM_CONNS" -w "$WAITERS" ipxe inventory plan
REG_WAIT_RATE=$(field "$WORK/storm-reg-waiting.txt" "step=inventory" per_s)
REG_WAIT_P99=$(field "$WORK/storm-reg-waiting.txt" "step=inventory" p99_ms)
WAITERS_LEFT=$(awk '/still_waiting=/ { sub(/.*still_waiting=/, ""); print $1 }' "$WORK/storm-reg-waiting.txt")
WAL_SIZES="$WAL_SIZES, after the registrations $(wal_mib) MiB"

# --- 7. 100,000 hosts -----------------------------------------------------------------------------
# BIG_HOSTS - HOSTS more hosts by bulk enroll (arrays of 5,000), the MACs going on from the
# seeded ones; the RSS idle after it and after a restart; /ipxe over all of them at 1, 64 and
# 512 connections, against nginx's figures of section 5.
if [ "$BIG_HOSTS" -gt "$HOSTS" ]; then
	mkdir -p "$WORK/bulk"
	macs "$((HOSTS + 1))" "$BIG_HOSTS" | awk -v dir="$WORK/bulk" '
		{ f = sprintf("%s/%04d.json", dir, int((NR - 1) / 5000)); printf "%s{\"mac\":\"%s\",\"next_boot\":\"local\"}", (f in open ? "," : "["), $1 > f; open[f] = 1 }
		END { for (f in open) printf "]" > f }'
	t0=$(now)
	for f in "$WORK"/bulk/*.json; do
		code=$(curl -sS -m 120 -o /dev/null -w '%{http_code}' -H @"$WORK/seed/auth" -H 'Content-Type: application/json' \
			--data-binary @"$f" "$ANEMOS_URL/api/v1/hosts") || die "bulk enroll of $f"
		[ "$code" = 201 ] || die "bulk enroll of $f: $code"
	done
	BULK_SECS=$(elapsed "$t0" "$(now)")
	curl -fsS -m 120 -o "$WORK/list-big.json" -H @"$WORK/seed/auth" "$ANEMOS_URL/api/v1/hosts" || die "GET /api/v1/hosts"
	listed=$(jq '[.hosts[] | select(.next_boot == "local")] | length' "$WORK/list-big.json")
	[ "$listed" -eq "$BIG_HOSTS" ] || die "GET /api/v1/hosts lists $listed hosts with next_boot local, not $BIG_HOSTS"
	ALL_HOSTS=$(jq '.hosts | length' "$WORK/list-big.json")
	sleep 2
	RSS_BIG=$(proc_mib VmRSS)
	stop_pid "$ANEMOSD_PID"
	"$ANEMOSD" "${anemosd_args[@]}" 2>>"$WORK/anemosd.log" &
	ANEMOSD_PID=$!
	wait_http "$ANEMOS_URL/healthz" "$ANEMOSD_PID" anemosd
	sleep 1
	RSS_BIG_FRESH=$(proc_mib VmRSS)
	# The MACs made in Lua (as macs() makes them): LuaJIT (wrk's) takes at most 65,536 constants
	# in one chunk.
	{
		echo "macs = {}"
		echo "for i = 1, $BIG_HOSTS do macs[i] = string.format(\"02:42:be:%02x:%02x:%02x\", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256) end"
		cat "$BENCH_DIR/ipxe.lua"
	} >"$WORK/ipxe-big.lua"
	declare -A BIG_AT BIG_P99
	for c in 1 64 512; do
		t=2; [ "$c" = 1 ] && t=1
		run_wrk "ipxe-big-c$c" -s "$WORK/ipxe-big.lua" "-t$t" "-c$c" "-d$DURATION" --latency "$ANEMOS_URL"
		BIG_AT[$c]=$RPS; BIG_P99[$c]=$(p99 "ipxe-big-c$c")
	done
	RSS_BIG_AFTER=$(proc_mib VmRSS)
	WAL_SIZES="$WAL_SIZES, after $BIG_HOSTS hosts and their /ipxe $(wal_mib) MiB"
fi

# Anything anemosd logged as an error during the run is worth a look.
errors=$(grep -c ' error ' "$WORK/anemosd.log" || true)
kill -0 "$ANEMOSD_PID" 2>/dev/null || die "anemosd died during the benchmark"
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died during the benchmark"

# --- 5. summary ------------------------------------------------------------------------------------
echo
note "seeding $HOSTS hosts via POST /api/v1/hosts ($SEED_PARALLEL parallel): ${SEED_SECS} s ($SEED_RATE hosts/s)"
note "/ipxe with $HOSTS hosts: anemosd $(int "$IPXE_RPS") req/s, nginx static $(int "$NGINX_RPS") req/s," \
	"ratio $(ratio "$IPXE_RPS" "$NGINX_RPS")"
note "16 MiB file: anemosd $(int "$BOOT_MIBS") MiB/s, nginx $(int "$NGINX_MIBS") MiB/s, ratio $(ratio "$BOOT_MIBS" "$NGINX_MIBS")"
for c in 1 64 512; do
	note "16 MiB file at $c connections: anemosd $(int "${FILE_AT[$c]}") MiB/s, nginx $(int "${NGINX_FILE_AT[$c]}") MiB/s," \
		"ratio $(ratio "${FILE_AT[$c]}" "${NGINX_FILE_AT[$c]}")"
done
note "1,000 downloads of the 16 MiB file at once: anemosd $(int "$DL_MIBS") MiB/s with a peak RSS of $RSS_DOWNLOADS MiB" \
	"($DL_ERRORS socket errors), nginx $(int "$NGINX_DL_MIBS") MiB/s ($NGINX_DL_ERRORS socket errors), ratio $(ratio "$DL_MIBS" "$NGINX_DL_MIBS")"
note "search '$SEARCH_Q' over $HOSTS hosts ($SEARCH_WANT found): $(int "$SEARCH_RPS") req/s (one alone in $SEARCH_ONE_MS ms," \
	"mean latency under load ${SEARCH_LAT:-?}); the unsearched list's first $SEARCH_WANT hosts $(int "$LIST_RPS") req/s, ratio $(ratio "$SEARCH_RPS" "$LIST_RPS")"
note "extra: /healthz $(int "$HEALTHZ_RPS") req/s (HTTP only), GET /api/v1/hosts/MAC $(int "$HOSTGET_RPS") req/s" \
	"(auth + reads), ratio /ipxe:/healthz $(ratio "$IPXE_RPS" "$HEALTHZ_RPS")"
for c in 1 64 512; do
	note "/ipxe at $c connections: anemosd $(int "${IPXE_AT[$c]}") req/s p99 ${IPXE_P99[$c]}," \
		"nginx $(int "${NGINX_AT[$c]}") req/s p99 ${NGINX_P99[$c]}, ratio $(ratio "${IPXE_AT[$c]}" "${NGINX_AT[$c]}")"
done
note "boot storm of $STORM_MACHINES machines ($STORM_CONNS at once; boot.ipxe, /ipxe, 8 MiB kernel, 24 MiB initramfs," \
	"inventory, plan): anemosd ${STORM_SECS[a]} s with ${STORM_CPU[a]} s of server CPU, nginx ${STORM_SECS[n]} s with" \
	"${STORM_CPU[n]} s; ratio time $(ratio "${STORM_SECS[a]}" "${STORM_SECS[n]}"), CPU $(ratio "${STORM_CPU[a]}" "${STORM_CPU[n]}")"
note "registrations (POST /api/v1/agent/inventory, $INVENTORY_SIZE bytes): anemosd $REG_RATE/s, nginx (static answer)" \
	"$NGINX_REG_RATE/s, ratio $(ratio "$REG_RATE" "$NGINX_REG_RATE"); while $WAITERS agents long-poll: $REG_WAIT_RATE/s" \
	"(p99 $REG_WAIT_P99 ms), $WAITERS_LEFT of $WAITERS agents still waiting at the end"
note "anemosd RSS: ${RSS_IDLE} MiB idle with $HOSTS hosts, ${RSS_PEAK} MiB peak (VmHWM) after the storm; WAL after each part: $WAL_SIZES"
if [ "$BIG_HOSTS" -gt "$HOSTS" ]; then
	note "$ALL_HOSTS hosts ($BIG_HOSTS of them local, the rest the storm's): $((BIG_HOSTS - HOSTS)) enrolled in arrays of 5,000" \
		"in $BULK_SECS s; anemosd RSS ${RSS_BIG} MiB idle after it, ${RSS_BIG_FRESH} MiB idle after a restart, ${RSS_BIG_AFTER} MiB" \
		"after the /ipxe runs below"
	for c in 1 64 512; do
		note "/ipxe over $BIG_HOSTS hosts at $c connections: anemosd $(int "${BIG_AT[$c]}") req/s p99 ${BIG_P99[$c]}," \
			"ratio to nginx $(ratio "${BIG_AT[$c]}" "${NGINX_AT[$c]}"), to $HOSTS hosts $(ratio "${BIG_AT[$c]}" "${IPXE_AT[$c]}")"
	done
fi
note "settings: wrk ${SMALL_WRK[*]} (small), ${BIG_WRK[*]} (file), ${SEARCH_WRK[*]} (search); anemosd threads ${THREADS:-default}," \
	"log level $LOG_LEVEL; nginx 2 workers; $(nproc) CPUs; anemosd errors logged: $errors"

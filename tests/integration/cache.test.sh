#!/usr/bin/env bash
# run-in: build
# cost: 2
# The package cache with the real apt-cacher-ng on loopback, configured by the shipped
# deploy/cache/acng.conf (only its folders, port and address changed on its command line), in
# front of a tiny upstream mirror (python's http.server): a .deb fetched twice through the URL
# form cache_mirror_url makes crosses the "uplink" once, apt-cacher-ng's own log records a
# miss then a hit, and anemosd's /metrics counts 1 hit and 1 miss from that log.
source "$(dirname "$0")/lib.sh"
ACNG=/usr/sbin/apt-cacher-ng
[ -x "$ACNG" ] || { fail "apt-cacher-ng is installed" "$ACNG missing (deploy/install-deps.sh test)"; exit 1; }
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -x "$PY" ] || { fail "python3 for the upstream mirror" "no interpreter"; exit 1; }
UP_PID="" ACNG_PID=""
# Stops what this suite started, by PID.
stop_helpers() {
	local p
	for p in $ACNG_PID $UP_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ACNG_PID="" UP_PID=""
}
trap 'stop_helpers; _cleanup' EXIT
# wait_http URL: until something answers at URL (any status), at most 10 s.
wait_http() {
	local _
	for _ in $(seq 1 100); do
		[ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
		sleep 0.1
	done
	return 1
}
# metric NAME: the value of an unlabelled series in anemosd's /metrics ("" if absent).
metric() { curl -sS -m 5 "$ANEMOS_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

# ---- the upstream: a fake Debian tree ----
UP=$WORK/upstream/debian
mkdir -p "$UP/dists/bookworm" "$UP/pool/main/x/x"
printf 'Origin: Anemos test\nSuite: bookworm\nCodename: bookworm\n' >"$UP/dists/bookworm/Release"
head -c 300000 /dev/urandom >"$UP/pool/main/x/x/x_1_all.deb"
UP_PORT=$(free_low_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$WORK/upstream" "$UP_PORT" >"$WORK/upstream.log" 2>&1 &
UP_PID=$!
MIRROR=http://127.0.0.1:$UP_PORT/debian
wait_http "$MIRROR/dists/bookworm/Release" || { fail "the upstream mirror starts" "$(tail -n 5 "$WORK/upstream.log")"; exit 1; }

# ---- the cache: apt-cacher-ng in the foreground, state in $WORK ----
mkdir -p "$WORK/acng-conf" "$WORK/acng-cache" "$WORK/acng-log"
cp "$ROOT/deploy/cache/acng.conf" "$WORK/acng-conf/acng.conf"
CACHE_PORT=$(free_low_port)
"$ACNG" -c "$WORK/acng-conf" ForeGround=1 Port="$CACHE_PORT" BindAddress=127.0.0.1 \
	CacheDir="$WORK/acng-cache" LogDir="$WORK/acng-log" SocketPath="$WORK/acng.socket" \
	>"$WORK/acng.out" 2>&1 &
ACNG_PID=$!
CACHE=http://127.0.0.1:$CACHE_PORT
wait_http "$CACHE/" || { fail "apt-cacher-ng starts" "$(tail -n 5 "$WORK/acng.out")"; exit 1; }
ok "apt-cacher-ng runs with deploy/cache/acng.conf on 127.0.0.1:$CACHE_PORT (pid $ACNG_PID)"
ACNG_LOG=$WORK/acng-log/apt-cacher.log

anemosd_start --package-cache "$CACHE" --package-cache-log "$ACNG_LOG" || exit 1
expect_eq "before any fetch: 0 hits" 0 "$(metric anemos_package_cache_hits_total)"
expect_eq "... and 0 misses" 0 "$(metric anemos_package_cache_misses_total)"
expect_eq "... and the log is readable" 1 "$(metric anemos_package_cache_log_readable)"

# The form test_cache.c pins down for cache_mirror_url: http://HOST:PORT/debian through the
# cache is CACHE/HOST:PORT/debian (AllowUserPorts lets it reach a port other than 80).
VIA=$CACHE/127.0.0.1:$UP_PORT/debian
DEB=pool/main/x/x/x_1_all.deb
for n in 1 2; do
	code=$(curl -sS -m 20 -o "$WORK/got-$n.deb" -w '%{http_code}' "$VIA/$DEB")
	expect_eq "fetch $n of the .deb through the cache: 200" 200 "$code"
	check "fetch $n is the upstream's .deb, whole" cmp -s "$UP/pool/main/x/x/x_1_all.deb" "$WORK/got-$n.deb"
done
expect_eq "the .deb crossed the uplink once (the upstream served it once)" 1 \
	"$(grep -c "GET /debian/$DEB " "$WORK/upstream.log")"
# apt-cacher-ng logs a transfer when it ends: give the second line a moment.
for _ in $(seq 1 50); do
	[ "$(grep -c "|O|[0-9]*|[^|]*|127.0.0.1/debian/$DEB\$" "$ACNG_LOG" 2>/dev/null)" = 2 ] && break
	sleep 0.1
done
lines=$(grep "/debian/$DEB\$" "$ACNG_LOG" | cut -d'|' -f2 | tr -d '\n')
expect_eq "apt-cacher-ng's log: a download and two responses (I O O: a miss, then a hit)" IOO "$lines"
sent=$(awk -F'|' '$2 == "O" { s += $3 } END { print s + 0 }' "$ACNG_LOG")
fetched=$(awk -F'|' '$2 == "I" { s += $3 } END { print s + 0 }' "$ACNG_LOG")
expect_eq "/metrics: 1 hit" 1 "$(metric anemos_package_cache_hits_total)"
expect_eq "/metrics: 1 miss" 1 "$(metric anemos_package_cache_misses_total)"
expect_eq "/metrics: bytes sent, as the log's O lines add up" "$sent" "$(metric anemos_package_cache_sent_bytes_total)"
expect_eq "/metrics: bytes fetched, as the log's I lines add up" "$fetched" "$(metric anemos_package_cache_fetched_bytes_total)"
expect_match "... which is the .deb twice and once, with headers" '^[0-9]+ [0-9]+$' \
	"$(awk -v s="$sent" -v f="$fetched" 'BEGIN { if (s >= 600000 && f >= 300000 && f < 301000) print s, f }')"
expect_eq "scraping again counts nothing twice" 1 "$(metric anemos_package_cache_hits_total)"
expect_match "/metrics declares the counters" '# TYPE anemos_package_cache_hits_total counter' \
	"$(curl -sS -m 5 "$ANEMOS_URL/metrics")"
anemosd_stop

# Without --package-cache-log, /metrics has no package cache series at all.
anemosd_start || exit 1
expect_no_match "no --package-cache-log: no package cache series" 'anemos_package_cache' \
	"$(curl -sS -m 5 "$ANEMOS_URL/metrics")"
anemosd_stop
# A log that cannot be read: said in the log and in /metrics, and anemosd keeps serving.
anemosd_start --package-cache-log "$WORK/no-such.log" || exit 1
expect_eq "an unreadable log: anemos_package_cache_log_readable 0" 0 "$(metric anemos_package_cache_log_readable)"
expect_eq "... with 0 hits" 0 "$(metric anemos_package_cache_hits_total)"
anemosd_stop
expect_match "... and a warning naming it" "package cache log $WORK/no-such.log" "$(cat "$WORK/anemosd.log")"

# anemosd refuses a cache it cannot point plain-HTTP clients at.
out=$("$ANEMOSD" --listen 127.0.0.1:1 --data "$DATA" --package-cache https://127.0.0.1:3142 2>&1); rc=$?
expect_eq "--package-cache https://... is refused at startup" 1 "$rc"
expect_match "... saying why" 'plain HTTP' "$out"

stop_helpers
[ "$_failures" -eq 0 ]

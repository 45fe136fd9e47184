#!/usr/bin/env bash
# cost: 200
# run-in: build
# The first hour, as the README tells it: `make run` (deploy/run-local.sh, its defaults: no
# --public-url, no --web-dir) and then `make demo` (deploy/demo.sh): a QEMU machine installs
# tiny from the running appliance, reboots from its disk and phones home, and the dashboard
# shows it; a second `make demo` reinstalls it; `make demo-stop` ends it.
source "$(dirname "$0")/../integration/lib.sh"
for f in /usr/bin/qemu-system-x86_64 "$ROOT/build/boot/initramfs.img" "$ROOT/build/images/tiny.tar.zst"; do
	[ -e "$f" ] || { fail "QEMU, the initramfs and the tiny image" "$f missing (make test builds them)"; exit 1; }
done
PORT=$(free_port)
export ANEMOS_DATA=$WORK/var ANEMOS_LISTEN=127.0.0.1:$PORT ANEMOS_URL=http://127.0.0.1:$PORT
(cd "$ROOT" && exec deploy/run-local.sh "$BUILD") >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
demo_stop() { (cd "$ROOT" && deploy/demo.sh stop) >/dev/null 2>&1; }
trap 'demo_stop; kill "$RUN_PID" 2>/dev/null; wait "$RUN_PID" 2>/dev/null; _cleanup' EXIT
for _ in $(seq 1 100); do grep -q '^Use the CLI' "$WORK/run.out" 2>/dev/null && break; sleep 0.2; done
out=$(cat "$WORK/run.out")
expect_match "make run prints the next step: make demo" 'make demo +\(a QEMU machine installs tiny' "$out"
expect_match "... and the dashboard's URL" "dashboard: +$ANEMOS_URL/" "$out"
ANEMOS_TOKEN=$(cat "$ANEMOS_DATA/admin-token"); export ANEMOS_TOKEN
expect_match "the dashboard is there without --web-dir" '<title>Anemos' "$(curl -sS -m 5 "$ANEMOS_URL/")"
MAC=52:54:00:de:00:01
status_is() { [ "$(host_field "$MAC" .status 2>/dev/null)" = "$1" ]; }
wait_status() { for _ in $(seq 1 "$1"); do status_is "$2" && return 0; sleep 1; done; return 1; }

for round in first second; do
	t0=$(now)
	out=$(cd "$ROOT" && deploy/demo.sh 2>&1); rc=$?
	expect_eq "$round make demo starts the machine" 0 "$rc"
	expect_match "... and says where to watch it" "watch it: +$ANEMOS_URL/#/hosts/$MAC" "$out"
	expect_match "... and how to stop it" 'stop it: +make demo-stop' "$out"
	[ $round = first ] && expect_match "... it installs tiny" 'installs tiny' "$out"
	[ $round = second ] && expect_match "... the second time, it reinstalls" 'reinstalls tiny' "$out"
	if wait_status 400 installing && wait_status 600 deployed; then
		ok "$round: the machine went installing, then deployed ($(secs "$t0" "$(now)") s)"
	else
		fail "$round: the machine went installing, then deployed" "status $(host_field "$MAC" .status)"
		tail -n 20 "$ANEMOS_DATA/demo/console.log" | sed 's/^/# /'
	fi
	ev=$(body_of "$(api GET "/api/v1/hosts/$MAC/events?limit=1000")" | jq -r '.events[].message')
	expect_match "$round: its progress was reported in bytes and percent" 'writing image: [0-9.]+ of [0-9.]+ MiB \([0-9]+%\)' "$ev"
	expect_eq "$round: install once: next boot local" local "$(host_field "$MAC" .next_boot)"
done
expect_eq "the two installs were of one host" 1 "$(body_of "$(api GET /api/v1/hosts)" | jq '[.hosts[]|select(.macs|index("'$MAC'"))]|length')"
pid=$(cat "$ANEMOS_DATA/demo/qemu.pid")
expect_match "make demo-stop stops it" 'demo machine stopped' "$(cd "$ROOT" && deploy/demo.sh stop)"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "... the QEMU process is gone" sh -c "! kill -0 $pid 2>/dev/null"
kill "$RUN_PID"; wait "$RUN_PID" 2>/dev/null

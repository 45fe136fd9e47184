#!/usr/bin/env bash
# cost: 30
# The server under hostile load, through the real anemosd on loopback (issue 13): 1,000
# half-open connections from one address under a 1,024 open-file limit while /ipxe and boot
# files keep answering other addresses; the header deadline; running out of descriptors
# answered 503, never 404; thousands of long-polling agents in a budget of their own while
# a new machine boots; bodies that are not UTF-8, nested too deep or too many values; an
# oversize image upload; the WAL cut back after a burst. Raw sockets come from Python; every
# loop in it is bounded in count and time, and it prints what it measured.
source "$(dirname "$0")/lib.sh"
PY=$(python3 -c 'import sys; print(sys.executable)')
REAL_ANEMOSD=$ANEMOSD
HEADER_TIMEOUT=4
mkdir -p "$BOOT_DIR"
head -c 65536 /dev/urandom >"$BOOT_DIR/vmlinuz"

# anemosd under the open-file limit a login shell gives (soft and hard), as the issue found it.
cat >"$WORK/anemosd-1024" <<EOF
#!/bin/sh
ulimit -n 1024 && exec "$REAL_ANEMOSD" "\$@"
EOF
chmod +x "$WORK/anemosd-1024"

cat >"$WORK/load.py" <<'PY'
"""Raw-socket load for hostile.test.sh. Every loop is bounded in count and in time."""
import collections, http.client, os, re, resource, select, socket, statistics, sys, time

HOST = "127.0.0.1"


def probe(port, src, path, headers=None, timeout=15):
    """One GET on a fresh connection from address src: (status or error name, seconds, headers, body)."""
    t = time.monotonic()
    c = http.client.HTTPConnection(HOST, port, source_address=(src, 0), timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, time.monotonic() - t, dict(r.getheaders()), body
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, time.monotonic() - t, {}, b""
    finally:
        c.close()


def summary(name, probes):
    ok = [p[1] for p in probes if p[0] == 200]
    counts = collections.Counter(str(p[0]) for p in probes)
    return "{0}_n={1} {0}_statuses={2} {0}_max_ms={3:.0f} {0}_median_ms={4:.0f}".format(
        name, len(probes), ",".join("%s:%d" % kv for kv in sorted(counts.items())),
        max(ok) * 1000 if ok else -1, statistics.median(ok) * 1000 if ok else -1)


def halfopen(port, count, limit_s):
    """count connections from 127.0.0.1 that send half a request line and then nothing (even
    ones) or a byte a second (odd ones), while other addresses ask for /ipxe and a boot file."""
    start = time.monotonic()
    socks, closed_at = [], {}

    def close(i):
        closed_at[i] = time.monotonic() - start
        try:
            poller.unregister(socks[i])
        except (KeyError, ValueError):
            pass
        socks[i].close()

    poller = select.poll()
    for i in range(count):
        s = socket.socket()
        s.settimeout(3)
        socks.append(s)
        try:
            s.bind(("127.0.0.1", 0))
            s.connect((HOST, port))
            s.sendall(b"GET /ipxe?mac=52:54:00:12:34:")
            s.setblocking(False)
            poller.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
        except OSError:
            close(i)
    probes, answered, k = [], 0, 0
    next_byte = next_probe = time.monotonic()
    while len(closed_at) < count and time.monotonic() - start < limit_s:
        now = time.monotonic()
        if now >= next_byte:
            for i in range(1, count, 2):
                if i not in closed_at:
                    try:
                        socks[i].send(b"5")
                    except OSError:
                        close(i)
            next_byte = now + 1
        if now >= next_probe:
            src = "127.0.0.%d" % (2 + k % 8)
            probes.append(probe(port, src, "/ipxe?mac=52:54:00:77:%02x:%02x&platform=pcbios" % (k >> 8, k & 255)))
            probes.append(probe(port, src, "/boot/vmlinuz"))
            k += 1
            next_probe = time.monotonic() + 0.5
        for fd, _ in poller.poll(100):
            i = next((j for j in range(count) if j not in closed_at and socks[j].fileno() == fd), None)
            if i is None:
                continue
            try:
                data = socks[i].recv(4096)
            except OSError:
                data = b""
            if data:
                answered += 1
            else:
                close(i)
    later = [t for t in closed_at.values() if t >= 1.0]
    slow = [closed_at[i] for i in range(1, count, 2) if closed_at.get(i, 0) >= 1.0]
    print("refused_at_once=%d dropped_later=%d first_drop=%.1f last_drop=%.1f slow_dropped=%d "
          "slow_last_drop=%.1f still_open=%d answered=%d" % (
              len(closed_at) - len(later), len(later), min(later, default=-1), max(later, default=-1),
              len(slow), max(slow, default=-1), count - len(closed_at), answered))
    print(summary("IPXE", probes[0::2]))
    print(summary("FILE", probes[1::2]))


def exhaust(port, pid, token):
    """Opens three connections, then lowers anemosd's open-file limit below what it holds (so
    every open fails with EMFILE, as when a machine runs out of descriptors), sends a
    request on each, and puts the limit back."""
    reqs = [("file", "/boot/vmlinuz", {}),
            ("ipxe", "/ipxe?mac=52:54:00:88:00:01&platform=pcbios", {}),
            ("api", "/api/v1/hosts", {"Authorization": "Bearer " + token})]
    conns = []
    for name, path, headers in reqs:
        c = http.client.HTTPConnection(HOST, port, source_address=("127.0.0.3", 0), timeout=10)
        c.connect()
        conns.append((name, c, path, headers))
    time.sleep(0.5)  # accepted before the limit drops
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, hard))
    try:
        for name, c, path, headers in conns:
            try:
                c.request("GET", path, headers=headers)
                r = c.getresponse()
                body = r.read()
                print("EXHAUSTED_%s=%d" % (name.upper(), r.status))
                print("EXHAUSTED_%s_RETRY=%s" % (name.upper(), r.getheader("Retry-After") or "none"))
                print("# %s while out of descriptors: %d %s" % (path, r.status, body[:160].decode(errors="replace").strip()))
            except (OSError, http.client.HTTPException) as e:
                print("EXHAUSTED_%s=%s" % (name.upper(), type(e).__name__))
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))


def longpoll(port, want, wait, wal):
    """Boots `want` agents (each /ipxe gives a token), then long-polls their plans at once,
    from 100 addresses, while a new machine asks for its script and kernel."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(want, hard - 300)
    addr = lambda i: "127.0.1.%d" % (i % 100 + 1)
    start = time.monotonic()
    tokens, conns = [], {}
    for i in range(n):
        if time.monotonic() - start > 120:
            break
        c = conns.get(addr(i)) or conns.setdefault(addr(i), http.client.HTTPConnection(
            HOST, port, source_address=(addr(i), 0), timeout=10))
        c.request("GET", "/ipxe?mac=52:54:01:%02x:%02x:%02x&platform=pcbios" % (i >> 16 & 255, i >> 8 & 255, i & 255))
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        m = re.search(r"anemos\.token=(\S+)", body)
        if r.status != 200 or not m:
            print("# /ipxe for agent %d: %d %s" % (i, r.status, body[:200]))
            break
        tokens.append(m.group(1))
    for c in conns.values():
        c.close()
    print("TOKENS=%d TOKEN_SECONDS=%.1f WAL_PEAK=%d" % (len(tokens), time.monotonic() - start, os.path.getsize(wal)))
    if want > n:
        print("# this machine's open-file limit (%d) allows %d agents, not %d" % (hard, n, want))

    sel = select.poll()
    by_fd, answers, failed = {}, collections.Counter(), 0
    retry_after = set()

    def drain(ms):
        nonlocal failed
        for fd, _ in sel.poll(ms):
            s = by_fd.pop(fd, None)
            if s is None:
                continue
            sel.unregister(fd)
            try:
                head = s.recv(65536).decode(errors="replace")
            except OSError:
                head = ""
            m = re.match(r"HTTP/1\.[01] (\d{3})", head)
            if m:
                answers[m.group(1)] += 1
                ra = re.search(r"(?im)^Retry-After: *(\S+)", head)
                if ra:
                    retry_after.add(ra.group(1))
            else:
                failed += 1
            s.close()

    open_start = time.monotonic()
    socks = []
    for i, tok in enumerate(tokens):
        if time.monotonic() - open_start > 60:
            break
        s = socket.socket()
        s.settimeout(5)
        try:
            s.bind((addr(i), 0))
            s.connect((HOST, port))
            s.sendall(("GET /api/v1/agent/plan?wait=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (wait, tok)).encode())
        except OSError:
            failed += 1
            s.close()
            continue
        socks.append(s)
        by_fd[s.fileno()] = s
        sel.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
        if i % 200 == 199:
            drain(0)
    settle = time.monotonic() + 3
    while time.monotonic() < settle:
        drain(100)
    waiting = len(by_fd)
    print("AGENTS=%d WAITING=%d RETRY_LATER=%d RETRY_AFTER=%s ANSWERED_200=%d FAILED=%d OPEN_SECONDS=%.1f" % (
        len(tokens), waiting, answers["503"], ",".join(sorted(retry_after)) or "none", answers["200"], failed,
        time.monotonic() - open_start))
    other = {k: v for k, v in answers.items() if k not in ("200", "503")}
    if other:
        print("# other answers: %s" % other)
    # A new machine boots while they wait.
    st, secs, _, body = probe(port, "127.0.0.2", "/ipxe?mac=52:54:02:00:00:01&platform=pcbios")
    print("NEW_IPXE=%s NEW_IPXE_MS=%.0f NEW_IPXE_DISCOVER=%d" % (st, secs * 1000, b"anemos.mode=discover" in body))
    st, secs, _, body = probe(port, "127.0.0.2", "/boot/vmlinuz")
    print("NEW_FILE=%s NEW_FILE_MS=%.0f NEW_FILE_BYTES=%d" % (st, secs * 1000, len(body)))
    drain(0)
    print("STILL_WAITING=%d" % len(by_fd))
    for s in socks:
        s.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "halfopen":
        halfopen(int(args[0]), int(args[1]), float(args[2]))
    elif cmd == "exhaust":
        exhaust(int(args[0]), int(args[1]), args[2])
    elif cmd == "longpoll":
        longpoll(int(args[0]), int(args[1]), int(args[2]), args[3])
PY

# load_vars FILE: the KEY=VALUE words of FILE's result lines as shell variables (no value
# holds a space; lines starting with # are comments).
load_vars() {
	local kv
	for kv in $(grep -E '^[A-Za-z_]+=' "$1"); do
		case $kv in [A-Za-z_]*=*) printf -v "${kv%%=*}" '%s' "${kv#*=}" ;; esac
	done
}
status_of_get() { curl -sS -m 10 -o "$WORK/out" -w '%{http_code}' "$@"; }
vmhwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$ANEMOSD_PID/status"; }

# ---- 1,000 half-open connections from one address, under a 1,024 open-file limit ----
ANEMOSD=$WORK/anemosd-1024
anemosd_start --header-timeout "$HEADER_TIMEOUT" || exit 1
check "anemosd keeps its connections within the open-file limit" \
	grep -q 'at most [0-9]* connections (64 from one address, [0-9]* waiting), open-file limit 1024' "$WORK/anemosd.log"
"$PY" "$WORK/load.py" halfopen "$PORT" 1000 $((HEADER_TIMEOUT + 20)) >"$WORK/halfopen.out" 2>&1
sed 's/^/# /' "$WORK/halfopen.out"
load_vars "$WORK/halfopen.out"
expect_eq "every half-open connection ended, none left holding the server" 0 "${still_open:-?}"
# shellcheck disable=SC2154 # dropped_later, last_drop: set by load_vars
check "the 64 connections one address may hold were dropped at the header deadline ($dropped_later dropped, the last after $last_drop s; deadline $HEADER_TIMEOUT s)" \
	awk -v n="${dropped_later:-0}" -v t="${last_drop:--1}" -v d="$HEADER_TIMEOUT" 'BEGIN { exit !(n >= 1 && n <= 64 && t >= d - 1 && t <= d + 3) }'
# shellcheck disable=SC2154 # refused_at_once: set by load_vars
check "the others were refused at once by the per-address limit ($refused_at_once)" \
	test "${refused_at_once:-0}" -eq $((1000 - ${dropped_later:-0}))
# shellcheck disable=SC2154 # slow_dropped, slow_last_drop: set by load_vars
check "a byte a second does not renew the deadline ($slow_dropped slow ones, the last dropped after $slow_last_drop s)" \
	awk -v n="${slow_dropped:-0}" -v t="${slow_last_drop:--1}" -v d="$HEADER_TIMEOUT" 'BEGIN { exit !(n >= 1 && t <= d + 3) }'
expect_match "/ipxe from other addresses kept answering 200 (${IPXE_n:-0} probes)" '^200:[0-9]+$' "${IPXE_statuses:-none}"
expect_match "/boot/vmlinuz from other addresses kept answering 200" '^200:[0-9]+$' "${FILE_statuses:-none}"
# The issue asks for "within a second": the bound is that, the measurement is printed.
check "/ipxe answered within a second all along (slowest ${IPXE_max_ms:-?} ms, median ${IPXE_median_ms:-?} ms)" \
	test "${IPXE_max_ms:-99999}" -ge 0 -a "${IPXE_max_ms:-99999}" -lt 1000
check "half-open connections were never answered (nothing came back on them)" test "${answered:-1}" -eq 0
check "the server logged the connections it closed at the deadline" grep -q 'sent no complete request within' "$WORK/anemosd.log"

# ---- out of descriptors: 503 with Retry-After, never 404 or 500 ----
"$PY" "$WORK/load.py" exhaust "$PORT" "$ANEMOSD_PID" "$ANEMOS_TOKEN" >"$WORK/exhaust.out" 2>&1
sed -n 's/^# /# /p' "$WORK/exhaust.out"
load_vars "$WORK/exhaust.out"
expect_eq "a boot file that cannot be opened for want of descriptors is 503" 503 "${EXHAUSTED_FILE:-?}"
expect_match "with Retry-After" '^[0-9]+$' "${EXHAUSTED_FILE_RETRY:-none}"
expect_match "/ipxe without descriptors: served or 503, never 404 or 500 (${EXHAUSTED_IPXE:-?})" '^(200|503)$' "${EXHAUSTED_IPXE:-?}"
expect_match "the API without descriptors: served or 503, never 404 or 500 (${EXHAUSTED_API:-?})" '^(200|503)$' "${EXHAUSTED_API:-?}"
expect_eq "with descriptors back, the boot file is served again" 200 "$(status_of_get "$ANEMOS_URL/boot/vmlinuz")"

# ---- bodies and names that are not UTF-8, too deep, or too many values: 400, never 500 ----
s=$(ipxe 52:54:00:99:00:01)
tok=$(agent_token_of "$s")
printf '{"mac":"52:54:00:99:00:02","hostname":"web\xff1"}' >"$WORK/bad-utf8.json"
r=$(curl -sS -m 10 -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") --data-binary @"$WORK/bad-utf8.json" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/hosts")
expect_eq "a JSON body that is not UTF-8 is 400" 400 "$(status_of "$r")"
expect_match "and says where" 'unable to decode byte 0xff' "$(body_of "$r")"
r=$(curl -sS -m 10 -H @<(printf 'Authorization: Bearer %s\n' "$tok") --data-binary @"$WORK/bad-utf8.json" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/agent/inventory")
expect_eq "an inventory that is not UTF-8 is 400" 400 "$(status_of "$r")"
for path in /boot/%FF /api/v1/hosts/%C3%28 /images/x/%ED%A0%80; do
	r=$(api GET "$path")
	expect_eq "a path that is not UTF-8 ($path) is 400" 400 "$(status_of "$r")"
done
expect_match "it says so" 'the path is not UTF-8' "$(body_of "$r")"
code=$(status_of_get "$ANEMOS_URL/ipxe?mac=52:54:00:99:00:03&platform=pcbios&serial=%C0%AF")
expect_eq "a query value that is not UTF-8 (an overlong '/') is 400" 400 "$code"
expect_match "naming the argument" "query argument 'serial' is not UTF-8" "$(cat "$WORK/out")"
# deep N: an inventory whose "x" holds arrays N levels deep inside its object (N + 1 levels).
deep() { "$PY" -c "import sys; d = int(sys.argv[1]); sys.stdout.write('{\"system\":{},\"x\":' + '[' * d + ']' * d + '}')" "$1"; }
deep 32 >"$WORK/deep33.json"
deep 31 >"$WORK/deep32.json"
deep 3000 >"$WORK/deep3000.json"
r=$(curl -sS -m 10 -H @<(printf 'Authorization: Bearer %s\n' "$tok") --data-binary @"$WORK/deep33.json" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/agent/inventory")
expect_eq "an inventory nested 33 levels deep is 400" 400 "$(status_of "$r")"
expect_match "saying how deep is allowed" 'nested deeper than 32 levels' "$(body_of "$r")"
r=$(curl -sS -m 10 -H @<(printf 'Authorization: Bearer %s\n' "$tok") --data-binary @"$WORK/deep32.json" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/agent/inventory")
expect_no_match "32 levels are not refused for their depth" 'nested deeper' "$(body_of "$r")"
r=$(api POST /api/v1/hosts "$(cat "$WORK/deep3000.json")")
expect_eq "an API body nested 3,000 levels deep is 400" 400 "$(status_of "$r")"
# 8 MiB of [0,0,...]: refused after its first values, not parsed into hundreds of MiB.
"$PY" -c 'import sys; n = (8 << 20) - 64; sys.stdout.write("{\"system\":{},\"x\":[" + "0," * (n // 2 - 20) + "0]}")' >"$WORK/zeros.json"
before=$(vmhwm_kb)
r=$(curl -sS -m 30 -H @<(printf 'Authorization: Bearer %s\n' "$tok") --data-binary @"$WORK/zeros.json" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/agent/inventory")
after=$(vmhwm_kb)
expect_eq "an 8 MiB inventory of 4 million values is 400" 400 "$(status_of "$r")"
expect_match "saying how many values are allowed" 'more than 65536 values' "$(body_of "$r")"
grown=$(( (after - before) / 1024 ))
check "anemosd's peak memory grew by ${grown} MiB for that 8 MiB body (at most 4x its size: 32 MiB)" \
	test "$grown" -le 32
anemosd_stop

# ---- no per-address limit: 1,000 half-open connections fill the connection limit, yet the
# limit stays below the open-file limit, so nobody gets a 404 or a 500 ----
log_from=$(($(wc -l <"$WORK/anemosd.log") + 1))
anemosd_start --header-timeout "$HEADER_TIMEOUT" --max-per-address 0 || exit 1
"$PY" "$WORK/load.py" halfopen "$PORT" 1000 $((HEADER_TIMEOUT * 6 + 20)) >"$WORK/halfopen2.out" 2>&1
sed 's/^/# /' "$WORK/halfopen2.out"
unset IPXE_statuses FILE_statuses still_open
load_vars "$WORK/halfopen2.out"
expect_eq "without a per-address limit every half-open connection still ended" 0 "${still_open:-?}"
expect_no_match "/ipxe meanwhile: never 404 or 500 (${IPXE_statuses:-none})" '(^|,)(404|500|[A-Za-z]+):' "${IPXE_statuses:-none}"
expect_no_match "/boot/vmlinuz meanwhile: never 404 or 500 (${FILE_statuses:-none})" '(^|,)(404|500|[A-Za-z]+):' "${FILE_statuses:-none}"
expect_no_match "no descriptor ran out in anemosd" 'Too many open files|resource limit' "$(tail -n +"$log_from" "$WORK/anemosd.log")"
anemosd_stop

# ---- an oversize image upload, and the waiting budget ----
ANEMOSD=$REAL_ANEMOSD
anemosd_start --max-image-size 1M --max-waiting 2 || exit 1
head -c $((3 << 20)) /dev/zero >"$WORK/big.raw"
r=$(curl -sS -m 30 -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") -T "$WORK/big.raw" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/images/big?file=big.raw")
expect_eq "an upload whose Content-Length is over --max-image-size is 413" 413 "$(status_of "$r")"
expect_match "naming the limit" 'max-image-size' "$(body_of "$r")"
r=$(curl -sS -m 30 -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") -H 'Transfer-Encoding: chunked' -T - \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/images/big?file=big.raw" <"$WORK/big.raw")
expect_eq "a chunked upload that passes --max-image-size is 413" 413 "$(status_of "$r")"
expect_match "saying nothing was kept" 'nothing was kept' "$(body_of "$r")"
expect_eq "no image recorded" 0 "$(body_of "$(api GET /api/v1/images)" | jq '.images|length')"
expect_eq "no file left in the images folder" "" "$(find "$DATA/images" -type f 2>/dev/null)"
head -c $((512 << 10)) /dev/zero >"$WORK/small.raw"
r=$(curl -sS -m 30 -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") -T "$WORK/small.raw" \
	-w '\n%{http_code}' "$ANEMOS_URL/api/v1/images/small?file=small.raw")
expect_eq "an upload within the limit is stored" 201 "$(status_of "$r")"

sse_pids=""
for i in 1 2; do
	curl -sS -N -m 20 -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") \
		"$ANEMOS_URL/api/v1/events/stream" >"$WORK/sse$i" 2>&1 &
	sse_pids="$sse_pids $!"
done
for i in $(seq 1 50); do grep -q connected "$WORK/sse1" && grep -q connected "$WORK/sse2" && break; sleep 0.1; done
check "two event streams take the two waiting places" grep -q connected "$WORK/sse2"
code=$(curl -sS -m 5 -D "$WORK/headers" -o "$WORK/out" -w '%{http_code}' \
	-H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$ANEMOS_URL/api/v1/events/stream")
expect_eq "a third stream is told to come back later (503)" 503 "$code"
check "with Retry-After" grep -qi '^Retry-After: [0-9]' "$WORK/headers"
expect_match "naming the budget" 'max-waiting' "$(cat "$WORK/out")"
tok=$(agent_token_of "$(ipxe 52:54:00:99:01:01)")
r=$(agent GET "/api/v1/agent/plan?wait=5" "$tok")
expect_eq "a long-polled plan over the budget is 503 at once" 503 "$(status_of "$r")"
r=$(agent GET "/api/v1/agent/plan" "$tok")
expect_eq "a plan that does not wait is answered" 200 "$(status_of "$r")"
expect_eq "/ipxe is answered meanwhile" 200 "$(status_of_get "$ANEMOS_URL/ipxe?mac=52:54:00:99:01:02&platform=pcbios")"
kill $sse_pids 2>/dev/null
wait $sse_pids 2>/dev/null
anemosd_stop

# ---- thousands of long-polling agents while a new machine boots; the WAL after the burst ----
anemosd_start || exit 1
budget=$(sed -n 's/.*at most [0-9]* connections ([0-9]* from one address, \([0-9]*\) waiting).*/\1/p' "$WORK/anemosd.log" | tail -n 1)
"$PY" "$WORK/load.py" longpoll "$PORT" 5000 30 "$DATA/anemos.db-wal" >"$WORK/longpoll.out" 2>&1
sed 's/^/# /' "$WORK/longpoll.out"
load_vars "$WORK/longpoll.out"
echo "# $AGENTS agents long-polling at once (their tokens from /ipxe in $TOKEN_SECONDS s); waiting budget $budget"
check "thousands of agents booted ($AGENTS)" test "${AGENTS:-0}" -ge 3000
want=$(( AGENTS < budget ? AGENTS : budget ))
expect_eq "as many wait as the budget allows" "$want" "${WAITING:-?}"
expect_eq "the others are told to ask again later (503)" $(( AGENTS - want )) "${RETRY_LATER:-?}"
[ "$AGENTS" -gt "$budget" ] && expect_match "with Retry-After" '^[0-9]+$' "${RETRY_AFTER:-none}"
expect_eq "no agent got anything else, nor a failed connection" "0 0" "${ANSWERED_200:-?} ${FAILED:-?}"
expect_eq "meanwhile a new machine's /ipxe is answered" 200 "${NEW_IPXE:-?}"
expect_eq "with the discover script" 1 "${NEW_IPXE_DISCOVER:-0}"
expect_eq "and its kernel is served" "200 65536" "${NEW_FILE:-?} ${NEW_FILE_BYTES:-?}"
echo "# the new machine: /ipxe in ${NEW_IPXE_MS:-?} ms, /boot/vmlinuz in ${NEW_FILE_MS:-?} ms, with $WAITING agents waiting"
expect_eq "the waiting agents were still waiting after it" "$WAITING" "${STILL_WAITING:-?}"

# The WAL after that burst of writes: back to journal_size_limit (4 MiB) once checkpointed.
# The burst alone may leave it under 4 MiB (group commit writes less, and on a slow machine
# fewer agents boot in its 120 s; the background checkpointer restarts it): bulk enrolls of
# 3,000 hosts, each one transaction of more than 4 MiB of WAL that no checkpoint can cut in
# the middle (at most 20 of them), grow it further, so that the check below means something.
# The WAL's size is looked at every 5 ms while they run (the background checkpointer may cut
# it back between a commit and a look after it): its largest in $WORK/wal-peak.
wal=$DATA/anemos.db-wal
peak=${WAL_PEAK:-0}
python3 -c 'import os, sys, time
wal, out, peak = sys.argv[1], sys.argv[2], 0
for _ in range(60000):  # at most 5 minutes
    if os.path.exists(out + ".stop"):
        break
    try:
        size = os.path.getsize(wal)
    except OSError:
        size = 0
    if size > peak:
        peak = size
        with open(out + ".new", "w") as f:
            f.write(str(peak))
        os.replace(out + ".new", out)
    time.sleep(0.005)' "$wal" "$WORK/wal-peak" &
WAL_WATCH=$!
# A reader holds one snapshot while the bulk enrolls run, so that no checkpoint can restart
# the WAL under them: one bulk enroll alone can be under 4 MiB, and a slow run's burst too.
python3 -c 'import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM hosts").fetchone()
for _ in range(6000):  # at most 5 minutes
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.05)
c.execute("COMMIT")' "$DATA/anemos.db" "$WORK/wal-reader.stop" &
WAL_READER=$!
for round in $(seq 1 20); do
	[ -s "$WORK/wal-peak" ] && [ "$(cat "$WORK/wal-peak")" -gt "$peak" ] && peak=$(cat "$WORK/wal-peak")
	[ "$peak" -gt 4194304 ] && break
	r=$(api POST /api/v1/hosts "$(python3 -c 'import json, sys; r = int(sys.argv[1])
print(json.dumps([{"mac": "52:54:04:%02x:%02x:%02x" % (r, i >> 8, i & 255), "attributes": {"note": "x" * 200}}
	for i in range(3000)]))' "$round")")
	[ "$(status_of "$r")" = 201 ] || [ "$(status_of "$r")" = 200 ] ||
		{ fail "a bulk enroll of 3,000 hosts (round $round)" "$(body_of "$r" | head -c 300)"; break; }
	sleep 0.05   # the watcher's next look
done
: >"$WORK/wal-peak.stop"
: >"$WORK/wal-reader.stop"
wait "$WAL_WATCH" "$WAL_READER"
[ -s "$WORK/wal-peak" ] && [ "$(cat "$WORK/wal-peak")" -gt "$peak" ] && peak=$(cat "$WORK/wal-peak")
for i in $(seq 1 15); do
	curl -sS -m 5 -o /dev/null "$ANEMOS_URL/ipxe?mac=52:54:03:00:00:$(printf %02x "$i")&platform=pcbios"
	sleep 1
	[ "$(stat -c %s "$wal")" -le 4194304 ] && break
done
size=$(stat -c %s "$wal")
echo "# WAL: $WAL_PEAK bytes after the burst, $peak after the bulk enrolls, $size bytes once checkpointed"
check "the writes grew the WAL past 4 MiB (${peak} bytes), so the next check means something" test "${peak:-0}" -gt 4194304
check "the WAL is back within 4 MiB after a checkpoint ($size bytes)" test "$size" -le 4194304
anemosd_stop
exit 0

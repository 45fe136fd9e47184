#!/usr/bin/env bash
# Serving the kernel, initramfs and image payloads: whole files, HEAD, Range, ETag and
# Last-Modified, and every way of reaching outside the two folders.
source "$(dirname "$0")/lib.sh"
mkdir -p "$BOOT_DIR" "$DATA/images/tiny"
head -c 14680064 /dev/urandom >"$BOOT_DIR/vmlinuz"           # 14 MiB, kernel-sized
head -c 3000 /dev/urandom >"$BOOT_DIR/initramfs.img"
head -c 100000 /dev/urandom >"$DATA/images/tiny/tiny.tar.zst"
echo "CONTENT-ONLY-IN-THE-SECRET-FILE-7f3a" >"$WORK/secret.txt"
ln -s "$WORK/secret.txt" "$BOOT_DIR/link"
ln -s "$WORK" "$DATA/images/escape"
mkdir "$BOOT_DIR/subdir"
anemosd_start || exit 1
U=$ANEMOS_URL

curl -sS -m 20 -o "$WORK/k" -D "$WORK/h" "$U/boot/vmlinuz"
expect_eq "kernel downloads whole and intact" "$(sha256sum <"$BOOT_DIR/vmlinuz")" "$(sha256sum <"$WORK/k")"
expect_match "Content-Length is the file size" 'Content-Length: 14680064' "$(cat "$WORK/h")"
expect_match "Accept-Ranges: bytes" 'Accept-Ranges: bytes' "$(cat "$WORK/h")"
etag=$(grep -i '^ETag:' "$WORK/h" | cut -d' ' -f2 | tr -d '\r')
lm=$(grep -i '^Last-Modified:' "$WORK/h" | cut -d' ' -f2- | tr -d '\r')
expect_match "ETag is a quoted validator" '^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$' "$etag"
expect_match "Last-Modified is an HTTP date" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$' "$lm"

h=$(curl -sS -m 5 -I "$U/boot/initramfs.img")
expect_match "HEAD: 200 with the length and no body" 'Content-Length: 3000' "$h"
expect_eq "HEAD sends no body" 0 "$(curl -sS -m 5 -I -o /dev/null -w '%{size_download}' "$U/boot/initramfs.img")"

curl -sS -m 5 -r 100-199 -o "$WORK/r" -D "$WORK/h" "$U/boot/initramfs.img"
expect_match "Range: 206" '^HTTP/1.1 206' "$(cat "$WORK/h")"
expect_match "Range: Content-Range" 'Content-Range: bytes 100-199/3000' "$(cat "$WORK/h")"
expect_eq "Range: the right bytes" "$(tail -c +101 "$BOOT_DIR/initramfs.img" | head -c 100 | sha256sum)" "$(sha256sum <"$WORK/r")"
curl -sS -m 5 -H 'Range: bytes=-500' -o "$WORK/r" "$U/boot/initramfs.img"
expect_eq "suffix Range: the last 500 bytes" "$(tail -c 500 "$BOOT_DIR/initramfs.img" | sha256sum)" "$(sha256sum <"$WORK/r")"
curl -sS -m 5 -H 'Range: bytes=2900-' -o "$WORK/r" "$U/boot/initramfs.img"
expect_eq "open Range: from 2900 to the end" 100 "$(stat -c %s "$WORK/r")"
curl -sS -m 20 -H 'Range: bytes=10000000-' -o "$WORK/r" "$U/boot/vmlinuz"
expect_eq "resuming a kernel download at 10 MB" "$(tail -c +10000001 "$BOOT_DIR/vmlinuz" | sha256sum)" "$(sha256sum <"$WORK/r")"
out=$(curl -sS -m 5 -H 'Range: bytes=3000-' -D - -o /dev/null "$U/boot/initramfs.img")
expect_match "unsatisfiable Range: 416" '^HTTP/1.1 416' "$out"
expect_match "416 names the size" 'Content-Range: bytes \*/3000' "$out"
expect_eq "several ranges: whole file (200)" 200 "$(curl -sS -m 5 -H 'Range: bytes=0-1,5-6' -o /dev/null -w '%{http_code}' "$U/boot/initramfs.img")"
expect_eq "malformed Range: whole file (200)" 200 "$(curl -sS -m 5 -H 'Range: bytes=x-y' -o /dev/null -w '%{http_code}' "$U/boot/initramfs.img")"

expect_eq "If-None-Match with the ETag: 304" 304 "$(curl -sS -m 5 -H "If-None-Match: $etag" -o /dev/null -w '%{http_code}' "$U/boot/vmlinuz")"
expect_eq "If-None-Match with another ETag: 200" 200 "$(curl -sS -m 5 -H 'If-None-Match: "other"' -o /dev/null -w '%{http_code}' "$U/boot/initramfs.img")"
expect_eq "If-Modified-Since Last-Modified: 304" 304 "$(curl -sS -m 5 -H "If-Modified-Since: $lm" -o /dev/null -w '%{http_code}' "$U/boot/vmlinuz")"
expect_eq "If-Range with the ETag: 206" 206 "$(curl -sS -m 5 -r 0-9 -H "If-Range: $etag" -o /dev/null -w '%{http_code}' "$U/boot/vmlinuz")"
expect_eq "If-Range with a stale ETag: whole file (200)" 200 "$(curl -sS -m 20 -r 0-9 -H 'If-Range: "stale"' -o /dev/null -w '%{http_code}' "$U/boot/vmlinuz")"
touch -d '2020-01-01' "$BOOT_DIR/initramfs.img"
etag2=$(curl -sS -m 5 -I "$U/boot/initramfs.img" | grep -i '^ETag:' | cut -d' ' -f2 | tr -d '\r')
check "a changed file gets a new ETag" test "$etag2" != "$(curl -sS -m 5 -I "$U/boot/vmlinuz" | grep -i '^ETag:' | cut -d' ' -f2 | tr -d '\r')"

curl -sS -m 5 -o "$WORK/i" "$U/images/tiny/tiny.tar.zst"
expect_eq "image payload served" "$(sha256sum <"$DATA/images/tiny/tiny.tar.zst")" "$(sha256sum <"$WORK/i")"
expect_eq "image Range: 206" 206 "$(curl -sS -m 5 -r 0-99 -o /dev/null -w '%{http_code}' "$U/images/tiny/tiny.tar.zst")"

# Nothing outside the two folders, however it is asked for. --path-as-is keeps curl from
# normalising the dots away before they reach the server.
for p in "/boot/../anemos.db" "/boot/%2e%2e/anemos.db" "/boot/%2E%2E%2Fanemos.db" "/boot/..%2fanemos.db" \
	"/boot/.%2e/.%2e/etc/passwd" "/boot/%2fetc%2fpasswd" "/boot//etc/passwd" "/boot/link" "/boot/subdir" \
	"/boot/vmlinuz%00.txt" "/boot/vmlinuz%00" "/boot/.hidden" "/boot/" "/boot/nonexistent" \
	"/images/escape/secret.txt" "/images/../boot/vmlinuz" "/images/%2e%2e/anemos.db" "/images/tiny/..%2f..%2fanemos.db" \
	"/images/tiny/%2e%2e" "/images/./tiny/tiny.tar.zst" "/images/tiny" "/boot/vmlinuz/.." ; do
	code=$(curl -sS -m 5 --path-as-is -o "$WORK/t" -w '%{http_code}' "$U$p")
	cat "$WORK/t" >>"$WORK/all-refusals"
	case "$code" in 400|404) ok "refused: $p ($code)" ;; *) fail "refused: $p" "got $code: $(head -c 100 "$WORK/t")" ;; esac
done
expect_no_match "no refused response carried the secret file" CONTENT-ONLY-IN-THE-SECRET-FILE "$(cat "$WORK/all-refusals")"
out=$(curl -sS -m 5 --path-as-is "$U/boot/vmlinuz%00.txt")
expect_no_match "a NUL does not cut a name short" '^.{1000}' "$out"
anemosd_stop
expect_no_match "the log has one line per request, no query strings" 'GET [^ ]*\?' "$(cat "$WORK/anemosd.log")"
expect_match "log line: method path status bytes microseconds" 'GET /boot/vmlinuz 200 14680064 [0-9]+us' "$(cat "$WORK/anemosd.log")"

# ---- a client that drains a download slowly keeps its connection for the next request ----
# The header deadline (--header-timeout 1 here) runs from when the answer before has left the
# server's socket, not from when anemosd handed its last byte to the kernel: this client reads
# 2 MiB at 512 KiB/s, its last megabyte still queued long after that, then asks again on the
# same connection. A deadline that ran from the hand-over closed it (the second answer: EOF).
head -c 2097152 /dev/urandom >"$BOOT_DIR/drain.bin"
anemosd_start --header-timeout 1 || exit 1
out=$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
req = b"GET /boot/drain.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
s.sendall(req)
buf = b""
while b"\r\n\r\n" not in buf:
    more = s.recv(4096)
    if not more:
        break
    buf += more
head, _, body = buf.partition(b"\r\n\r\n")
length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
got = len(body)
deadline = time.time() + 30
while got < length and time.time() < deadline:
    chunk = s.recv(min(26214, length - got))
    if not chunk:
        break
    got += len(chunk)
    time.sleep(0.05)
s.sendall(req)
s.settimeout(5)
try:
    line = s.recv(64).split(b"\r\n")[0].decode(errors="replace") or "EOF"
except OSError as e:
    line = "error: %s" % e
print("%d %s" % (got, line))
PY
)
expect_eq "a slow reader of 2 MiB gets all of it, then an answer on the same connection" "2097152 HTTP/1.1 200 OK" "$out"
anemosd_stop

#!/usr/bin/env bash
# The agent's install pipeline (HTTP -> libarchive -> files or disk, SHA-256 verified), run
# as `anemos-agent --unpack`, against the plain shell pipelines on the same image from the
# same server in the same run: `curl URL | zstd -dc | tar -x` for a .tar.zst and
# `curl URL | zstd -dc | dd` for a .raw.zst. Prints seconds (best of RUNS) and the ratios.
# Usage: bench/install.sh BUILD_DIR (needs build/images/tiny.tar.zst: make images IMAGES=tiny)
set -eu
BUILD=${1:-build}
RUNS=${BENCH_RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMG=$ROOT/$BUILD/images/tiny.tar.zst
[ -s "$IMG" ] || { echo "bench: $IMG missing: make images IMAGES=tiny" >&2; exit 1; }
TMP=$(mktemp -d /tmp/anemos-bench-install.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# A whole-disk image of the same tree: an ext4 filesystem in a file, zstd-compressed.
mkdir "$TMP/tree"
tar --zstd -xf "$IMG" -C "$TMP/tree"
truncate -s 256M "$TMP/disk.raw"
mkfs.ext4 -q -F -d "$TMP/tree" "$TMP/disk.raw"
zstd -q -9 -T0 "$TMP/disk.raw" -o "$TMP/disk.raw.zst"
rm -rf "$TMP/tree" "$TMP/disk.raw"

mkdir -p "$TMP/data/images/tiny" "$TMP/data/images/disk"
cp "$IMG" "$TMP/data/images/tiny/tiny.tar.zst"
mv "$TMP/disk.raw.zst" "$TMP/data/images/disk/disk.raw.zst"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ROOT/$BUILD/anemosd" --listen "127.0.0.1:$PORT" --data "$TMP/data" --log-level warn 2>"$TMP/anemosd.log" &
PID=$!
for _ in $(seq 1 50); do curl -fsS -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

best() { # COMMAND...: the best wall time of RUNS runs, in seconds
	local b="" t0 t
	for _ in $(seq 1 "$RUNS"); do
		rm -rf "$TMP/out" "$TMP/out.raw"; mkdir "$TMP/out"; sync
		t0=$(date +%s.%N)
		"$@" >/dev/null 2>"$TMP/err" || { echo "bench: failed: $*: $(tail -n 3 "$TMP/err")" >&2; exit 1; }
		t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
		b=$(awk -v a="${b:-$t}" -v c="$t" 'BEGIN { print (c < a ? c : a) }')
	done
	echo "$b"
}
U=http://127.0.0.1:$PORT/images
TAR_SUM=$(sha256sum <"$TMP/data/images/tiny/tiny.tar.zst" | cut -d' ' -f1)
RAW_SUM=$(sha256sum <"$TMP/data/images/disk/disk.raw.zst" | cut -d' ' -f1)
agent_tar=$(best "$ROOT/$BUILD/anemos-agent" --unpack "$U/tiny/tiny.tar.zst" --sha256 "$TAR_SUM" --format tar.zst --to "$TMP/out")
shell_tar=$(best sh -c "curl -fsS '$U/tiny/tiny.tar.zst' | zstd -q -dc | tar -x -C '$TMP/out'")
agent_raw=$(best "$ROOT/$BUILD/anemos-agent" --unpack "$U/disk/disk.raw.zst" --sha256 "$RAW_SUM" --format raw.zst --to "$TMP/out.raw")
shell_raw=$(best sh -c "curl -fsS '$U/disk/disk.raw.zst' | zstd -q -dc | dd of='$TMP/out.raw' bs=4M status=none")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
echo "bench: install tar.zst ($(stat -c %s "$IMG") bytes): anemos-agent ${agent_tar} s, curl|zstd|tar ${shell_tar} s, speed ratio agent/shell $(ratio "$agent_tar" "$shell_tar") (agent also verifies SHA-256)"
echo "bench: install raw.zst (256 MiB disk): anemos-agent ${agent_raw} s, curl|zstd|dd ${shell_raw} s, speed ratio agent/shell $(ratio "$agent_raw" "$shell_raw")"

#!/usr/bin/env bash
# Power-on to deployed for `tiny` built on the target from its recipe (kernel and busybox
# fetched from a signed mirror on loopback, checked, unpacked and assembled on the target's
# disk) against the prebuilt `tiny` streamed onto the disk, in the same run, one BIOS QEMU
# machine at a time (TCG: absolute times are an emulator's, the ratio is what to read).
# Usage: bench/recipe.sh BUILD_DIR (needs BUILD_DIR/boot from make initramfs and
# BUILD_DIR/images/tiny.tar.zst from make images IMAGES=tiny)
set -u
BUILD_ARG=${1:-build}
export ANEMOS_BUILD=$BUILD_ARG
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$ROOT/tests/lib/mirror.sh"
IMG=$BUILD/images/tiny.tar.zst
for f in "$BUILD/boot/vmlinuz" "$BUILD/boot/initramfs.img" "$IMG"; do
	[ -s "$f" ] || { echo "bench: $f missing: make initramfs images IMAGES=tiny" >&2; exit 1; }
done
mirror_build "$WORK/mirror" linux-image-amd64 busybox-static >/dev/null 2>&1 || { echo "bench: the mirror does not build" >&2; exit 1; }
mirror_serve "$WORK/mirror" 2>/dev/null || exit 1
PORT=$(free_port)
anemosd_start --boot-dir "$BUILD/boot" --public-url "http://10.0.2.2:$PORT" --log-level warn \
	--kernel-args "console=ttyS0,115200n8 panic=-1" >/dev/null || exit 1
mkdir -p "$DATA/images/tiny"
cp "$IMG" "$DATA/images/tiny/tiny.tar.zst"
api POST /api/v1/images '{"name":"tiny","file":"tiny.tar.zst"}' >/dev/null
cp -a "$ROOT/images/tiny" "$WORK/tiny"
cp "$WORK/mirror/keyring.gpg" "$WORK/tiny/mirror.gpg"
echo 'keyring=mirror.gpg' >>"$WORK/tiny/recipe"
"$ANEMOSCTL" image add "$WORK/tiny" --name tiny-recipe >/dev/null || exit 1
trap 'stop_qemu; mirror_stop; _cleanup' EXIT

# deploy MAC IMAGE: enrolls, powers on (network first, then disk), waits for deployed;
# prints the seconds from power-on.
deploy() {
	local mac=$1 image=$2 t0
	api POST /api/v1/hosts "$(jq -cn --arg m "$mac" --arg i "$image" --arg u "http://10.0.2.2:$MIRROR_PORT/debian" \
		'{mac: $m, next_boot: "install", image: $i, once: true, install: {mirror: $u}}')" >/dev/null
	truncate -s 2G "$WORK/disk-$image.raw"
	t0=$(now)
	# No -no-reboot: the installer's reboot comes back through iPXE ("local") to the disk.
	timeout 1200 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -display none -serial "file:$WORK/console-$image.log" \
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe" -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1" \
		-drive "file=$WORK/disk-$image.raw,format=raw,if=none,id=d1" -device "virtio-blk-pci,drive=d1,bootindex=2" 2>/dev/null &
	# shellcheck disable=SC2034  # stop_qemu (lib.sh) stops it
	QEMU_PID=$!
	for _ in $(seq 1 1200); do
		[ "$(host_field "$mac" .status 2>/dev/null)" = deployed ] && break
		[ "$(host_field "$mac" .status 2>/dev/null)" = failed ] && { stop_qemu; echo "bench: $image failed" >&2; return 1; }
		sleep 0.5
	done
	secs "$t0" "$(now)"
	stop_qemu
}
prebuilt=$(deploy 52:54:00:be:00:01 tiny) || exit 1
recipe=$(deploy 52:54:00:be:00:02 tiny-recipe) || exit 1
ratio=$(awk -v a="$prebuilt" -v b="$recipe" 'BEGIN { printf "%.2f", b / a }')
echo "bench: power-on to deployed, tiny: prebuilt ${prebuilt} s, built on the target ${recipe} s, ratio recipe/prebuilt $ratio (TCG, one BIOS machine; $(du -m "$WORK/mirror/debian/pool" | tail -n 1 | cut -f1) MB of packages fetched by the target)"

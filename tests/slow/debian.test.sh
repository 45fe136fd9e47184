#!/usr/bin/env bash
# The image an operator would deploy: `debian` (debootstrap bookworm with systemd and
# openssh-server) installed by the real agent onto a QEMU machine's empty disk (BIOS), booted
# from that disk, reporting in (deployed) and letting the plan's SSH key log in. Slow (a
# 200 MB image under TCG): `make test-slow`, not `make test`.
source "$(dirname "$0")/../integration/lib.sh"
BOOT=$ROOT/build/boot
IMG=$ROOT/build/images/debian.tar.zst
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$IMG"; do
	[ -s "$f" ] || { fail "initramfs and debian image built" "$f missing: make test-slow builds them"; exit 1; }
done
PORT=$(free_port)
anemosd_start --boot-dir "$BOOT" --public-url "http://10.0.2.2:$PORT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1
mkdir -p "$DATA/images/debian"
ln "$IMG" "$DATA/images/debian/debian.tar.zst" 2>/dev/null || cp "$IMG" "$DATA/images/debian/debian.tar.zst"
expect_eq "debian registered" 201 "$(status_of "$(api POST /api/v1/images '{"name":"debian","file":"debian.tar.zst"}')")"
ssh-keygen -q -t ed25519 -N '' -C anemos-slow -f "$WORK/key"
mac=52:54:00:5d:00:10
api POST /api/v1/hosts "$(jq -cn --arg m "$mac" --arg k "$(cat "$WORK/key.pub")" \
	'{mac: $m, hostname: "deb1", next_boot: "install", image: "debian", once: true, ssh_authorized_keys: [$k]}')" >/dev/null
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 8G
SSH_PORT=$(free_port)
trap 'stop_qemu; _cleanup' EXIT
power_on() {
	: >"$WORK/console-$1.log"
	timeout 1200 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -display none -no-reboot \
		-serial "file:$WORK/console-$1.log" \
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1" \
		-drive "file=$WORK/disk.qcow2,if=none,id=d1" -device "virtio-blk-pci,drive=d1,bootindex=2" 2>>"$WORK/qemu.err" &
	QEMU_PID=$!
}
t0=$(date +%s)
power_on install
for _ in $(seq 1 900); do kill -0 "$QEMU_PID" 2>/dev/null || break; [ "$(host_field $mac .status)" = failed ] && break; sleep 1; done
stop_qemu
ev=$(body_of "$(api GET "/api/v1/hosts/$mac/events?limit=1000")" | jq -r '.events[].message')
expect_match "debian installed ($(( $(date +%s) - t0 )) s)" '^installed debian onto /dev/vda' "$ev"
power_on disk
deployed=""
for _ in $(seq 1 600); do
	[ "$(host_field $mac .status)" = deployed ] && { deployed=1; break; }
	kill -0 "$QEMU_PID" 2>/dev/null || break
	sleep 1
done
if [ -n "$deployed" ]; then
	ok "debian booted from its disk and phoned home: deployed ($(( $(date +%s) - t0 )) s from power-on)"
else
	fail "debian booted from its disk and phoned home" "$(tail -n 30 "$WORK/console-disk.log" | tr -d '\r')"
fi
out=""
for _ in $(seq 1 60); do
	out=$(timeout 20 ssh -i "$WORK/key" -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR root@127.0.0.1 'hostname; cat /etc/debian_version' 2>/dev/null) && break
	sleep 5
done
expect_match "SSH login to the installed debian with the plan's key" '^deb1' "$out"
expect_match "it is Debian 12" '^12\.' "$(printf '%s\n' "$out" | sed -n 2p)"
stop_qemu
anemosd_stop

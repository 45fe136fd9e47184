#!/usr/bin/env bash
# cost: 250
# run-in: build/asan
# Installing for real: QEMU machines (BIOS and UEFI) with an empty disk PXE-boot the Anemos
# environment, install the `tiny` image (streamed, verified, made bootable), reboot, are told
# "local", boot the installed system from the disk, and that system phones home with its
# hostname and SSH key: the host is deployed. A wrong SHA-256 leaves the host failed and the
# disk unbootable; a download cut in the middle resumes and still completes. anemosd runs
# with `make run`'s defaults (no --public-url): the quick look of the README.
source "$(dirname "$0")/../integration/lib.sh"
for f in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-img /usr/share/OVMF/OVMF_CODE_4M.fd /usr/bin/python3; do
	[ -e "$f" ] || { fail "QEMU, OVMF and python3 installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
BOOT=$ROOT/build/boot
IMG=$ROOT/build/images/tiny.tar.zst
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$IMG"; do
	[ -s "$f" ] || { fail "initramfs and tiny image built" "$f missing: run make initramfs and make images IMAGES=tiny"; exit 1; }
done
PORT=$(free_port)
# As `make run` starts it: no --public-url. The machines reach it as 10.0.2.2 (QEMU's user
# network) and must be told that address, not the 127.0.0.1 anemosd listens on.
ANEMOS_NO_PUBLIC_URL=1 anemosd_start --boot-dir "$BOOT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1
mkdir -p "$DATA/images/tiny"
cp "$IMG" "$DATA/images/tiny/tiny.tar.zst"
expect_eq "tiny registered from the data folder" 201 "$(status_of "$(api POST /api/v1/images '{"name":"tiny","file":"tiny.tar.zst"}')")"
ssh-keygen -q -t ed25519 -N '' -C anemos-install-e2e -f "$WORK/key" 2>/dev/null || printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIinstall e2e\n' >"$WORK/key.pub"
KEY=$(cat "$WORK/key.pub")

PROXY_PID=""
trap 'stop_qemu; [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; _cleanup' EXIT
events() { body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")" | jq -r '.events[].message'; }

# power_on NAME FW MAC: the machine, network first and its disk second (bootindex), so that
# iPXE runs first and "local" falls through to the disk. Reboots end QEMU (-no-reboot).
power_on() {
	local name=$1 fw=$2 mac=$3
	[ -e "$WORK/disk-$fw.qcow2" ] || qemu-img create -q -f qcow2 "$WORK/disk-$fw.qcow2" 4G
	local args=(-accel tcg -m 1024 -smp 2 -display none -no-reboot -serial "file:$WORK/console-$name.log"
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe"
		-device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1"
		-drive "file=$WORK/disk-$fw.qcow2,if=none,id=d1" -device "virtio-blk-pci,drive=d1,serial=DISK-$fw,bootindex=2")
	if [ "$fw" = uefi ]; then
		[ -e "$WORK/vars.fd" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/vars.fd"
		args+=(-machine q35 -drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
			-drive "if=pflash,format=raw,file=$WORK/vars.fd")
	fi
	: >"$WORK/console-$name.log"
	timeout 600 qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu.err" &
	QEMU_PID=$!
}
# wait_for SECONDS COMMAND...: polls once a second until COMMAND succeeds or QEMU ends.
wait_for() {
	local limit=$1; shift
	for _ in $(seq 1 "$limit"); do
		"$@" && return 0
		kill -0 "$QEMU_PID" 2>/dev/null || { "$@"; return $?; }
		sleep 1
	done
	return 1
}
status_is() { [ "$(host_field "$1" .status 2>/dev/null)" = "$2" ]; }
qemu_ended() { ! kill -0 "$QEMU_PID" 2>/dev/null; }
# The install is over when the machine reboots (QEMU ends) or the host failed.
install_over() { qemu_ended || status_is "$1" failed; }

for fw in bios uefi; do
	mac=52:54:00:e4:00:$([ $fw = bios ] && echo 10 || echo 20)
	api POST /api/v1/hosts "$(jq -cn --arg m "$mac" --arg k "$KEY" --arg h "node-$fw" \
		'{mac: $m, hostname: $h, next_boot: "install", image: "tiny", once: true, ssh_authorized_keys: [$k]}')" >/dev/null
	t0=$(now)
	power_on "$fw-install" "$fw" "$mac"
	# The install ends with a reboot, which ends QEMU.
	if wait_for 500 install_over "$mac" && grep -q '^installed tiny onto' <<<"$(events "$mac")"; then
		ok "$fw: installed tiny, then rebooted ($(secs "$t0" "$(now)") s)"
	else
		fail "$fw: installed tiny, then rebooted" "status $(host_field "$mac" .status); $(events "$mac" | tail -n 4 | tr '\n' ';')"
		console_tail "$fw-install"
	fi
	stop_qemu
	expect_match "$fw: the Anemos kernel was told the address the machine reached anemosd by" \
		"Command line: .*anemos\.url=http://10\.0\.2\.2:$PORT " \
		"$(grep -a 'Command line:' "$WORK/console-$fw-install.log" | head -n 1)"
	ev=$(events "$mac")
	expect_match "$fw: progress reported with bytes and percent" 'writing image: [0-9.]+ of [0-9.]+ MiB \([0-9]+%\)' "$ev"
	expect_match "$fw: the right partitioning for the firmware" "for $([ $fw = bios ] && echo BIOS || echo UEFI) firmware" "$ev"
	expect_eq "$fw: install once: next boot local" local "$(host_field "$mac" .next_boot)"
	power_on "$fw-disk" "$fw" "$mac"
	if wait_for 300 status_is "$mac" deployed; then
		ok "$fw: booted from its disk and phoned home: deployed (power-on to deployed $(secs "$t0" "$(now)") s incl. the install)"
		echo "# $fw: power-on to deployed $(secs "$t0" "$(now)") s (TCG, install and reboot included)"
		report=$(events "$mac" | grep '^installed system reported in' | tail -n 1)
		expect_match "$fw: the installed system has the plan's hostname" '"hostname":"node-'"$fw"'"' "$report"
		expect_match "$fw: the installed system has the plan's SSH key" '"ssh_authorized_keys":1' "$report"
		expect_match "$fw: anemosd answered local to the reboot" "network boot from $mac \\([a-z]+, [a-z0-9_]+\\): local" "$(events "$mac")"
	else
		fail "$fw: booted from its disk and phoned home within 300 s" "status $(host_field "$mac" .status)"
		console_tail "$fw-disk"
	fi
	stop_qemu
done

# A wrong SHA-256: failed, the mismatch named, and the disk left unbootable.
sum=$(sha256sum "$IMG" | cut -d' ' -f1)
bad=$(printf '%s' "$sum" | tr '0-9a-f' '1-9a-f0')
api POST /api/v1/images "$(jq -cn --arg u "http://10.0.2.2:$PORT/images/tiny/tiny.tar.zst" --arg s "$bad" \
	'{name: "tiny-bad", url: $u, sha256: $s, format: "tar.zst"}')" >/dev/null
mac=52:54:00:e4:00:10
api PATCH "/api/v1/hosts/$mac" '{"next_boot":"install","image":"tiny-bad","once":true}' >/dev/null
power_on bad-sha bios "$mac"
if wait_for 400 status_is "$mac" failed; then
	ok "wrong SHA-256: the host is failed"
	expect_match "wrong SHA-256: the event names the mismatch" "SHA-256 mismatch: the image is $sum, the plan says $bad" "$(events "$mac")"
else
	fail "wrong SHA-256: the host is failed within 400 s" "status $(host_field "$mac" .status)"
	console_tail bad-sha
fi
wait_for 60 grep -q 'wiped' "$WORK/console-bad-sha.log"
stop_qemu
qemu-img convert -O raw "$WORK/disk-bios.qcow2" "$WORK/disk-bios.raw"
expect_eq "wrong SHA-256: the disk's partition table is gone (first MiB zero)" 0 "$(head -c 1048576 "$WORK/disk-bios.raw" | tr -d '\0' | wc -c)"
rm -f "$WORK/disk-bios.raw"

# A download cut in the middle resumes with a Range request and completes.
PROXY_PORT=$(free_port)
python3 "$ROOT/tests/e2e/cutting-proxy.py" "$PROXY_PORT" "$IMG" 3000000 2>"$WORK/proxy.log" &
PROXY_PID=$!
api POST /api/v1/images "$(jq -cn --arg u "http://10.0.2.2:$PROXY_PORT/tiny.tar.zst" --arg s "$sum" --argjson z "$(stat -c %s "$IMG")" \
	'{name: "tiny-cut", url: $u, sha256: $s, format: "tar.zst", size: $z}')" >/dev/null
mac=52:54:00:e4:00:30
api POST /api/v1/hosts "{\"mac\":\"$mac\",\"next_boot\":\"install\",\"image\":\"tiny-cut\",\"once\":true}" >/dev/null
power_on cut bios "$mac"
if wait_for 500 install_over "$mac" && grep -q '^installed tiny-cut onto' <<<"$(events "$mac")"; then
	ok "a download cut at 3 MB resumed and the install completed"
	expect_match "the cut really happened" 'cut the download at 3000000 bytes' "$(cat "$WORK/proxy.log")"
	expect_match "the agent resumed with a Range request" 'served .* from 3000000 \(206\)' "$(cat "$WORK/proxy.log")"
else
	fail "a download cut at 3 MB resumed and the install completed" "$(events "$mac" | tail -n 3 | tr '\n' ';') proxy: $(tr '\n' ';' <"$WORK/proxy.log")"
	console_tail cut
fi
stop_qemu
anemosd_stop

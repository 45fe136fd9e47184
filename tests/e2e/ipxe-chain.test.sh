#!/usr/bin/env bash
# cost: 100
# run-in: build/asan
# Real iPXE (QEMU's NIC option ROM, Debian's ipxe-qemu) runs anemosd's /boot.ipxe under BIOS
# (SeaBIOS) and UEFI (OVMF), and chains to /ipxe with its MAC and SMBIOS identifiers: the
# entry script's syntax, its URI escaping and the identity it reports, checked end to end.
source "$(dirname "$0")/../integration/lib.sh"
for f in /usr/bin/qemu-system-x86_64 /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd; do
	[ -e "$f" ] || { fail "QEMU and OVMF installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
anemosd_start || exit 1
trap 'stop_qemu; _cleanup' EXIT

# boot_machine FIRMWARE MAC UUID SERIAL: boots QEMU from the network until anemosd has
# served its script (bounded: 120 s), then stops it.
boot_machine() {
	local fw=$1 mac=$2 uuid=$3 serial=$4
	local args=(-accel tcg -m 256 -display none -no-reboot -serial "file:$WORK/console-$fw.log"
		-smbios "type=1,manufacturer=Anemos Labs,product=E2E Box (v1),serial=$serial,uuid=$uuid"
		-netdev "user,id=n0,bootfile=$ANEMOS_URL/boot.ipxe" -device "virtio-net-pci,netdev=n0,mac=$mac"
		-netdev "user,id=n1" -device "virtio-net-pci,netdev=n1,mac=${mac%?}f" -boot n)
	args=("${args[@]//127.0.0.1/10.0.2.2}")
	if [ "$fw" = uefi ]; then
		cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/vars.fd"
		args+=(-machine q35 -drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
			-drive "if=pflash,format=raw,file=$WORK/vars.fd")
	fi
	timeout 150 qemu-system-x86_64 "${args[@]}" &
	QEMU_PID=$!
	for _ in $(seq 1 240); do
		body_of "$(api GET "/api/v1/hosts/$mac/events")" 2>/dev/null | grep -q 'network boot from' && break
		kill -0 "$QEMU_PID" 2>/dev/null || break
		sleep 0.5
	done
	stop_qemu
}

for fw in bios uefi; do
	if [ $fw = bios ]; then mac=52:54:00:e2:00:10; platform=pcbios; else mac=52:54:00:e2:00:20; platform=efi; fi
	uuid=$(printf '5e1f0000-0000-4000-8000-0000000000%s' "${mac: -2}")
	serial="E2E-${fw^^}-0001"
	api POST /api/v1/hosts "{\"mac\":\"$mac\",\"next_boot\":\"none\"}" >/dev/null
	boot_machine "$fw" "$mac" "$uuid" "$serial"
	ev=$(body_of "$(api GET "/api/v1/hosts/$mac/events")" | jq -r '.events[].message')
	expect_match "$fw: real iPXE chained boot.ipxe to /ipxe ($platform)" "network boot from $mac \\($platform, (x86_64|i386)\\): none" "$ev"
	h=$(body_of "$(api GET "/api/v1/hosts/$mac")")
	expect_eq "$fw: SMBIOS UUID, serial, vendor and product arrive intact (URI-escaped by iPXE)" \
		"$uuid|$serial|Anemos Labs|E2E Box (v1)" "$(jq -r '[.uuid,.serial,.vendor,.product]|join("|")' <<<"$h")"
	expect_eq "$fw: one host, still one MAC (the first NIC answered)" "$mac" "$(jq -r '.macs|join(" ")' <<<"$h")"
	if ! grep -q "$mac" <<<"$ev"; then
		echo "# console of the $fw machine:"; tail -n 30 "$WORK/console-$fw.log" 2>/dev/null | sed 's/^/# /'
	fi
done
expect_eq "no stray hosts were created" 2 "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts|length')"
anemosd_stop

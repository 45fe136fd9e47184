#!/usr/bin/env bash
# cost: 450
# run-in: build/asan
# Hosts without network boot (cloud VMs), reinstalled and rescued over SSH. A VM runs the
# project's `cloud` image (busybox, dropbear, kexec-tools, extlinux) from its own disk, with
# no network boot (its NIC has no option ROM, the firmware boots the disk):
#   - adopt: anemosctl adopt --ssh registers the running VM's inventory (a static
#     anemos-inventory is sent over, the image has none);
#   - kexec: anemosctl reinstall --ssh -> /kexec.sh kexecs into the Anemos environment ->
#     the VM installs tiny -> reboots into it -> "deployed";
#   - static addressing + rescue: on a tap in this test's namespace with no DHCP server, a VM
#     with a static address is rescued; the rescue environment answers SSH at the same
#     address (the network was carried over), a reboot returns to the installed system with
#     the disk untouched;
#   - deploy --url on that VM with kernel.kexec_load_disabled=1: anemosd records it (adopted
#     onto --host, --hostname set), a one-shot extlinux entry boots the Anemos environment,
#     anemosctl follows anemosd's events to "deployed", and the new system answers SSH at
#     the static address it carried over.
# The cloud VM's disk is prepared once by installing `cloud` through Anemos itself.
# Everything runs in a network namespace of its own (192.0.2.0/24): QEMU's user network is
# set to that range too, so every VM reaches anemosd as http://192.0.2.1:PORT.
set -u
source "$(dirname "$0")/../lib/netns.sh"
cloud_net() { netns_bridge "$1" 192.0.2.1/24; }
netns_enter ANEMOS_CLOUD_NS anemos-cloud cloud_net "$@"

source "$(dirname "$0")/../integration/lib.sh"
BOOT=$ROOT/build/boot
IMAGES=$ROOT/build/images
STATIC_INV=$ROOT/build/anemos-inventory-static
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$IMAGES/cloud.tar.zst" "$IMAGES/tiny.tar.zst" "$STATIC_INV"; do
	[ -s "$f" ] || { fail "cloud test prerequisites" "$f missing (make initramfs; make images IMAGES='tiny cloud')"; exit 1; }
done
SERVER=192.0.2.1
PORT=$(free_port)
LISTEN_HOST=0.0.0.0
anemosd_start --boot-dir "$BOOT" --public-url "http://$SERVER:$PORT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1
for img in cloud tiny; do
	mkdir -p "$DATA/images/$img" && cp "$IMAGES/$img.tar.zst" "$DATA/images/$img/"
	api POST /api/v1/images "{\"name\":\"$img\",\"file\":\"$img.tar.zst\"}" >/dev/null
done
ssh-keygen -q -t ed25519 -N '' -C anemos-cloud-test -f "$WORK/key"
KEY=$(cat "$WORK/key.pub")
SSHO=(-i "$WORK/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o ConnectTimeout=5 -o BatchMode=yes)
export ANEMOS_SSH="ssh ${SSHO[*]}"
trap 'stop_qemu; _cleanup' EXIT

# vm NAME DISK MAC NET [pxe]: a BIOS VM on DISK. NET "user" is QEMU's user network in
# 192.0.2.0/24 with SSH forwarded from 127.0.0.1:$SSH_PORT; "tap" is tap0 on the bridge.
vm() {
	local name=$1 disk=$2 mac=$3 net=$4 pxe=${5:-}
	local args=(-accel tcg -m 1024 -smp 2 -display none -serial "file:$WORK/console-$name.log"
		-smbios "type=1,manufacturer=Anemos Labs,product=E2E Cloud,serial=CLOUD-$mac"
		-drive "file=$disk,if=none,id=d0" -device "virtio-blk-pci,drive=d0")
	if [ "$net" = user ]; then
		SSH_PORT=$(free_port)
		args+=(-netdev "user,id=n0,net=192.0.2.0/24,host=$SERVER,dhcpstart=192.0.2.15,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22${pxe:+,bootfile=http://$SERVER:$PORT/boot.ipxe}")
	else
		args+=(-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no")
	fi
	if [ -n "$pxe" ]; then
		args+=(-device "virtio-net-pci,netdev=n0,mac=$mac" -boot n)
	else
		args+=(-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=" -boot c)
	fi
	: >>"$WORK/console-$name.log"
	timeout 900 qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu-$name.err" &
	QEMU_PID=$!
}
# on HOST PORT COMMAND: runs COMMAND on the VM over SSH.
on() { ssh "${SSHO[@]}" -p "$2" "root@$1" "$3"; }
# wait_ssh HOST PORT TEST: until COMMAND TEST succeeds over SSH (bounded: 240 s).
wait_ssh() {
	local _
	for _ in $(seq 1 120); do
		on "$1" "$2" "$3" >/dev/null 2>&1 && return 0
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
		sleep 2
	done
	return 1
}
# reports MAC: how many times an installed system of MAC phoned home.
reports() { event_count "$1" '^installed system reported in'; }
# reinstall_deployed LABEL NAME: `anemosctl reinstall cloudvm --ssh ... --image tiny` on the VM
# NAME, then waits until the new system phoned home; leaves the command's output in OUT.
reinstall_deployed() {
	local label=$1 name=$2 t0 before rc
	t0=$(now)
	before=$(reports "$M0")
	OUT=$("$ANEMOSCTL" reinstall cloudvm --ssh "root@127.0.0.1:$SSH_PORT" --image tiny 2>&1); rc=$?
	echo "$OUT" | sed 's/^/# /'
	expect_eq "$label: anemosctl reinstall --ssh succeeds" 0 "$rc"
	if wait_deployed "$M0" tiny "$before"; then
		ok "$label: reinstalled with tiny and deployed in $(secs "$t0" "$(now)") s"
		echo "# $label reinstall: anemosctl to deployed $(secs "$t0" "$(now)") s (TCG)"
	else
		fail "$label: reinstalled and deployed" "status $(host_field "$M0" .status)"
		console_tail "$name"
	fi
}
# wait_deployed MAC IMAGE [BEFORE]: until the host is deployed with IMAGE and its installed
# system phoned home more than BEFORE times (bounded: 400 s).
wait_deployed() {
	local _ s
	for _ in $(seq 1 400); do
		s=$(host_field "$1" '"\(.status) \(.image)"' 2>/dev/null)
		[ "$s" = "deployed $2" ] && [ "$(reports "$1")" -gt "${3:-0}" ] && return 0
		[ "${s%% *}" = failed ] && return 1
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
		sleep 1
	done
	return 1
}

# ---- the cloud VM's disk: install `cloud` once, through Anemos ----
M0=52:54:00:c1:00:01
qemu-img create -q -f qcow2 "$WORK/base.qcow2" 4G
api POST /api/v1/hosts "{\"mac\":\"$M0\",\"hostname\":\"cloudvm\",\"next_boot\":\"install\",\"image\":\"cloud\",\"once\":true,\"ssh_authorized_keys\":[\"$KEY\"]}" >/dev/null
T0=$(now)
vm prep "$WORK/base.qcow2" "$M0" user pxe
if wait_deployed "$M0" cloud && wait_ssh 127.0.0.1 "$SSH_PORT" 'cat /etc/anemos-cloud-image'; then
	ok "the cloud VM's disk: cloud installed and SSH up in $(secs "$T0" "$(now)") s"
else
	fail "prepare the cloud VM's disk" "status $(host_field "$M0" .status)"
	console_tail prep
	exit 1
fi
on 127.0.0.1 "$SSH_PORT" 'sync' >/dev/null 2>&1
stop_qemu
api DELETE "/api/v1/hosts/$M0" >/dev/null   # forget it: adopt must find it afresh

overlay() { qemu-img create -q -f qcow2 -F qcow2 -b "$WORK/base.qcow2" "$WORK/$1.qcow2"; }

# ---- adopt, then reinstall by kexec ----
overlay kexec
vm kexec "$WORK/kexec.qcow2" "$M0" user
if ! wait_ssh 127.0.0.1 "$SSH_PORT" 'cat /etc/anemos-cloud-image'; then
	fail "the cloud VM boots from its disk and answers SSH"; console_tail kexec; exit 1
fi
ok "the cloud VM boots from its disk (no network boot) and answers SSH"
out=$("$ANEMOSCTL" adopt --ssh "root@127.0.0.1:$SSH_PORT" --inventory "$STATIC_INV" 2>&1); rc=$?
expect_eq "anemosctl adopt succeeds" 0 "$rc"
expect_match "... sending anemos-inventory over (the image has none)" 'sending .*anemos-inventory-static' "$out"
expect_eq "the adopted host: deployed, its MAC, the SMBIOS serial, its disk" "deployed CLOUD-$M0 4294967296" \
	"$(host_field "$M0" '"\(.status) \(.inventory.system.serial) \([.inventory.disks[]?.size_bytes] | max)"')"
expect_eq "nothing of the inventory binary is left on the VM" "" "$(on 127.0.0.1 "$SSH_PORT" 'ls -d /tmp/tmp.* 2>/dev/null')"
api PATCH "/api/v1/hosts/$M0" "{\"hostname\":\"cloudvm\",\"ssh_authorized_keys\":[\"$KEY\"]}" >/dev/null
reinstall_deployed kexec kexec
expect_match "kexec: kexec loaded the verified kernel and initramfs" 'initrd verified.*kexec loaded' "$(tr '\n' ' ' <<<"$OUT")"
expect_match "kexec: the network carried over as DHCP" 'anemos.net=dhcp' "$OUT"
expect_no_match "kexec: the token is not printed" 'anemos_agent_' "$OUT"
ev=$(body_of "$(api GET "/api/v1/hosts/$M0/events?limit=200")" | jq -r '[.events[].message] | join(" | ")')
expect_match "the events: armed over SSH, then the agent, then the installed system" \
	'reinstall over SSH.*anemos-agent started \(install\).*installed system reported in' "$ev"
expect_no_match "no network boot was involved" 'network boot from' "$ev"
stop_qemu

# ---- a static address, no DHCP server: rescue keeps the address; a reboot returns ----
overlay static
vm static-setup "$WORK/static.qcow2" "$M0" user
wait_ssh 127.0.0.1 "$SSH_PORT" true || { fail "the static VM answers SSH"; console_tail static-setup; exit 1; }
on 127.0.0.1 "$SSH_PORT" 'printf "mode=static\naddress=192.0.2.50/24\ngateway=192.0.2.1\ndns=192.0.2.1\n" >/etc/anemos/network;
	echo kept >/root/marker; sync' >/dev/null
stop_qemu
vm static "$WORK/static.qcow2" "$M0" tap
if wait_ssh 192.0.2.50 22 'grep -q mode=static /etc/anemos/network && cat /etc/anemos-cloud-image'; then
	ok "the VM answers at its static address 192.0.2.50 (no DHCP server here)"
else
	fail "the VM answers at its static address"; console_tail static; exit 1
fi
out=$("$ANEMOSCTL" rescue cloudvm --ssh root@192.0.2.50 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
expect_eq "anemosctl rescue --ssh succeeds" 0 "$rc"
expect_match "... carrying the static address over" 'anemos.net=static,192.0.2.50/24,192.0.2.1,192.0.2.1' "$out"
if wait_ssh 192.0.2.50 22 'test -e /etc/anemos-initramfs'; then
	ok "rescue: SSH into the Anemos environment at the same static address"
	expect_eq "the agent token is on no kernel command line (it came in an archive appended to the initramfs)" \
		"0 no" "$(on 192.0.2.50 22 'grep -c anemos.token /proc/cmdline; test -e /etc/anemos-kexec-token && echo yes || echo no' | tr '\n' ' ' | sed 's/ $//')"
	expect_match "the agent reported the rescue address" 'rescue environment up: ssh root@192\.0\.2\.50' \
		"$(body_of "$(api GET "/api/v1/hosts/$M0/events?limit=50")" | jq -r '[.events[].message] | join(" | ")')"
	on 192.0.2.50 22 'reboot' >/dev/null 2>&1
	if wait_ssh 192.0.2.50 22 'test ! -e /etc/anemos-initramfs && cat /root/marker'; then
		ok "after a reboot the installed system is back, its disk untouched"
	else
		fail "a reboot returns to the installed system"; console_tail static
	fi
else
	fail "rescue: SSH into the Anemos environment at 192.0.2.50"; console_tail static
fi

# ---- deploy --url, kexec disabled: recorded on anemosd, a one-shot extlinux entry, the
# static address carried into the new system ----
on 192.0.2.50 22 'sysctl -w kernel.kexec_load_disabled=1' >/dev/null 2>&1
old_key=$(ssh-keyscan -t ed25519 192.0.2.50 2>/dev/null | cut -d' ' -f2-)
before=$(reports "$M0")
T0=$(now)
OUT=$("$ANEMOSCTL" deploy --ssh root@192.0.2.50 cloud --url "$ANEMOS_URL" --host cloudvm --hostname recorded \
	--ssh-key "$WORK/key.pub" --inventory "$STATIC_INV" --timeout 900 2>&1); rc=$?
echo "$OUT" | sed 's/^/# /'
expect_eq "deploy --url: anemosctl deploy succeeds" 0 "$rc"
expect_match "deploy --url: the host's SSH host keys go with the token" 'SSH host keys carried over: .*dropbear_ed25519_host_key' "$OUT"
expect_match "deploy --url: kexec is disabled, so extlinux's one-shot entry is set" \
	'kexec is disabled.*extlinux: LABEL anemos-oneshot.*booted once' "$(tr '\n' ' ' <<<"$OUT")"
expect_match "deploy --url: anemosctl followed the install in anemosd's events and ended deployed" \
	'anemos-agent started \(install\).*installed system reported in.*is deployed deployed in [0-9]+ s' "$(tr '\n' ' ' <<<"$OUT")"
expect_eq "deploy --url: anemosd has the host deployed with cloud, named recorded, and its system phoned home" \
	"deployed cloud recorded yes" \
	"$(host_field "$M0" '"\(.status) \(.image) \(.hostname)"') $([ "$(reports "$M0")" -gt "$before" ] && echo yes || echo no)"
if wait_ssh 192.0.2.50 22 'test ! -e /root/marker'; then
	ok "deploy --url: the new system answers SSH at the carried static address 192.0.2.50 in $(secs "$T0" "$(now)") s"
	expect_eq "deploy --url: its hostname, and the static address in its settings" "recorded address=192.0.2.50/24" \
		"$(on 192.0.2.50 22 'hostname; grep ^address= /etc/anemos/network' | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "deploy --url: the new system kept the host's SSH host key (kexec.sh carried it beside the token)" \
		"$old_key" "$(ssh-keyscan -t ed25519 192.0.2.50 2>/dev/null | cut -d' ' -f2-)"
else
	fail "deploy --url: the new system answers SSH at 192.0.2.50"; console_tail static
fi
stop_qemu
[ "$_failures" -eq 0 ]

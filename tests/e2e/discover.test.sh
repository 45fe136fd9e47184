#!/usr/bin/env bash
# cost: 200
# run-in: build/asan
# A machine network-boots the real Anemos environment (build/boot: the Debian kernel and the
# initramfs of initramfs/build.sh) under BIOS (SeaBIOS) and UEFI (OVMF) through QEMU's iPXE
# ROM: /init loads its drivers, DHCP brings both NICs up, anemos-agent posts the inventory,
# and the host becomes "ready" with the hardware QEMU was given (SMBIOS serial and UUID,
# memory, two disks with serials, two NICs, firmware). Booting from the second NIC finds the
# same host; a rescue boot lets the operator's key in over SSH.
# Switch ports: the BIOS machine has a third NIC on a tap where lldpd (Debian's) plays the
# switch port "Ethernet12" of "leaf-3"; the agent listens for LLDP during discover and the
# inventory has that switch and port on that NIC (by MAC) and on no other, found by
# nic.switch=leaf-3. The suite runs in a network namespace of its own (anemosd on its
# loopback, QEMU's user networking and the tap in it); run as root.
source "$(dirname "$0")/../lib/netns.sh"
# The switch's side of the BIOS machine's third NIC (TEST-NET-1: lldpd's management address).
discover_net() {
	local t
	for t in ip /usr/sbin/lldpd /usr/sbin/lldpcli; do
		command -v "$t" >/dev/null || { echo "not ok - tools for the discover suite: $t missing (deploy/install-deps.sh test installs it)"; return 1; }
	done
	ip -n "$1" tuntap add dev tap0 mode tap && ip -n "$1" addr add 192.0.2.1/24 dev tap0 && ip -n "$1" link set tap0 up
}
netns_enter ANEMOS_DISCOVER_NS anemos-disc discover_net "$@"
source "$(dirname "$0")/../integration/lib.sh"
for f in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-img /usr/share/OVMF/OVMF_CODE_4M.fd \
	/usr/share/OVMF/OVMF_VARS_4M.fd /usr/bin/ssh /usr/bin/ssh-keygen /usr/sbin/lldpd /usr/sbin/lldpcli; do
	[ -e "$f" ] || { fail "QEMU, OVMF, the OpenSSH client and lldpd installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
BOOT=$ROOT/build/boot
if [ ! -s "$BOOT/vmlinuz" ] || [ ! -s "$BOOT/initramfs.img" ]; then
	fail "Anemos kernel and initramfs built" "$BOOT/vmlinuz or initramfs.img missing: run make initramfs"
	exit 1
fi
# Inside the guest the host's loopback is 10.0.2.2 (QEMU user networking): that is the URL the
# booting machine gets. panic=-1 with -no-reboot ends QEMU instead of hanging on a panic.
# anemos.lldp=5: the agent listens 5 s for LLDP (lldpd here sends every second; QEMU's user
# network never does, so each boot waits the whole 5 s for those NICs).
PORT=$(free_port)
anemosd_start --boot-dir "$BOOT" --public-url "http://10.0.2.2:$PORT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1 anemos.lldp=5" || exit 1

# lldpd on tap0 plays leaf-3's port Ethernet12, sending every second. Its socket and config
# sit in a folder of their own that lldpd's user may enter ($WORK is the test's alone): lldpd
# applies the config with an lldpcli that runs as that user.
LLDPD_RUN=$(mktemp -d /tmp/anemos-lldpd.XXXXXX) && chmod 755 "$LLDPD_RUN"
LLDPD_PID=""
trap 'stop_qemu; kill "$LLDPD_PID" 2>/dev/null; wait "$LLDPD_PID" 2>/dev/null; rm -rf "$LLDPD_RUN"; _cleanup' EXIT
cat >"$LLDPD_RUN/lldpd.conf" <<'CONF'
configure system hostname leaf-3
configure lldp tx-interval 1
configure system interface pattern tap0
configure ports tap0 lldp portidsubtype local Ethernet12 description "to rack 12, server 7"
CONF
chmod 644 "$LLDPD_RUN/lldpd.conf"
/usr/sbin/lldpd -d -I tap0 -u "$LLDPD_RUN/lldpd.sock" -O "$LLDPD_RUN/lldpd.conf" >"$WORK/lldpd.log" 2>&1 &
LLDPD_PID=$!
SWITCH_MAC=$(cat /sys/class/net/tap0/address)
lldp_port=""
for _ in $(seq 1 50); do
	lldp_port=$(/usr/sbin/lldpcli -u "$LLDPD_RUN/lldpd.sock" -f keyvalue show interfaces 2>/dev/null | sed -n 's/^lldp\.tap0\.port\.local=//p')
	[ "$lldp_port" = Ethernet12 ] && break
	sleep 0.2
done
expect_eq "lldpd plays the switch: leaf-3, port Ethernet12 on tap0" Ethernet12 "$lldp_port" ||
	sed 's/^/# lldpd: /' "$WORK/lldpd.log" | tail -n 5

MEM_MIB=1024

# start_machine NAME FW MAC1 MAC2 SERIAL UUID [swap] [HOSTFWD]: powers on QEMU booting from the
# network (both NICs can chain to anemosd); "swap" puts the second NIC first on the PCI bus,
# so that iPXE's net0 is the second NIC, and gives the second disk another serial (DISK-C: a
# disk replaced between two boots). With LLDP_MAC set, a third NIC of that MAC sits on tap0,
# lldpd's port (no boot ROM: it never boots). Sets QEMU_PID and T_ON.
start_machine() {
	local name=$1 fw=$2 mac1=$3 mac2=$4 serial=$5 uuid=$6 swap=${7:-} fwd=${8:-}
	[ -e "$WORK/$fw-disk1.qcow2" ] || qemu-img create -q -f qcow2 "$WORK/$fw-disk1.qcow2" 8G
	[ -e "$WORK/$fw-disk2.qcow2" ] || qemu-img create -q -f qcow2 "$WORK/$fw-disk2.qcow2" 4G
	local nic1=(-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe${fwd:+,$fwd}"
		-device "virtio-net-pci,netdev=n0,mac=$mac1")
	local nic2=(-netdev "user,id=n1,bootfile=http://10.0.2.2:$PORT/boot.ipxe"
		-device "e1000,netdev=n1,mac=$mac2")
	local args=(-accel tcg -m "$MEM_MIB" -smp 2 -display none -no-reboot
		-serial "file:$WORK/console-$name.log"
		-smbios "type=1,manufacturer=Anemos Labs,product=E2E Discover,serial=$serial,uuid=$uuid"
		-drive "file=$WORK/$fw-disk1.qcow2,if=none,id=d1" -device "virtio-blk-pci,drive=d1,serial=DISK-A"
		-drive "file=$WORK/$fw-disk2.qcow2,if=none,id=d2" -device "virtio-blk-pci,drive=d2,serial=DISK-${swap:+C}${swap:-B}")
	if [ "$swap" = swap ]; then args+=("${nic2[@]}" "${nic1[@]}"); else args+=("${nic1[@]}" "${nic2[@]}"); fi
	[ -n "${LLDP_MAC:-}" ] && args+=(-netdev "tap,id=n2,ifname=tap0,script=no,downscript=no"
		-device "virtio-net-pci,netdev=n2,mac=$LLDP_MAC,romfile=")
	args+=(-boot n)
	if [ "$fw" = uefi ]; then
		cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/vars-$name.fd"
		args+=(-machine q35 -drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
			-drive "if=pflash,format=raw,file=$WORK/vars-$name.fd")
	fi
	: >"$WORK/console-$name.log"
	T_ON=$(now)
	timeout 400 qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu-$name.err" &
	QEMU_PID=$!
}

# wait_inventory NAME MAC COUNT: waits (bounded: 300 s under TCG) until the host of MAC has
# received its COUNT-th inventory and is ready; sets T_AGENT and T_READY (seconds since power-on).
wait_inventory() {
	local name=$1 mac=$2 count=$3 _ n st
	T_AGENT="" T_READY=""
	for _ in $(seq 1 300); do
		if [ -z "$T_AGENT" ] && grep -q 'starting anemos-agent' "$WORK/console-$name.log" 2>/dev/null; then
			T_AGENT=$(secs "$T_ON" "$(now)")
		fi
		n=$(event_count "$mac" '^inventory (received|updated)')
		st=$(host_field "$mac" .status 2>/dev/null)
		if [ "${n:-0}" -ge "$count" ] && [ "$st" = ready ]; then
			T_READY=$(secs "$T_ON" "$(now)")
			return 0
		fi
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
		sleep 1
	done
	return 1
}

check_inventory() { # FW MAC1 MAC2 SERIAL UUID
	local fw=$1 mac1=$2 mac2=$3 serial=$4 uuid=$5 h inv ndimm
	h=$(body_of "$(api GET "/api/v1/hosts/$mac1")")
	inv=$(jq '.inventory' <<<"$h")
	expect_eq "$fw: SMBIOS system serial and UUID in the inventory" "$serial|$uuid" \
		"$(jq -r '[.system.serial, (.system.uuid // "" | ascii_downcase)] | join("|")' <<<"$inv")"
	expect_eq "$fw: firmware" "$fw" "$(jq -r '.firmware' <<<"$inv")"
	ndimm=$(jq '[.memory.dimms[]? | select((.size_bytes // 0) > 0)] | length' <<<"$inv")
	if [ "${ndimm:-0}" -gt 0 ]; then
		expect_eq "$fw: memory DIMMs (SMBIOS type 17) add up to -m $MEM_MIB MiB" "$((MEM_MIB * 1048576))" \
			"$(jq '[.memory.dimms[].size_bytes // 0] | add' <<<"$inv")"
	else
		expect_match "$fw: memory total within 10% of -m $MEM_MIB MiB (no DIMMs reported)" '^ok$' \
			"$(jq -r --argjson m "$((MEM_MIB * 1048576))" \
				'.memory.total_bytes as $t | if ($t != null and $t >= $m * 0.9 and $t <= $m * 1.1) then "ok" else "total_bytes \($t)" end' <<<"$inv")"
	fi
	expect_eq "$fw: disks DISK-A 8 GiB and DISK-B 4 GiB" "DISK-A=8589934592 DISK-B=4294967296" \
		"$(jq -r '[.disks[]? | select(.serial == "DISK-A" or .serial == "DISK-B") | "\(.serial)=\(.size_bytes)"] | sort | join(" ")' <<<"$inv")"
	expect_eq "$fw: both NICs in the inventory" "$(printf '%s\n' "$mac1" "$mac2" | sort | paste -sd' ')" \
		"$(jq -r '[.nics[]?.mac | ascii_downcase] | map(select(. == "'"$mac1"'" or . == "'"$mac2"'")) | sort | join(" ")' <<<"$inv")"
	expect_eq "$fw: its MACs belong to the host" "$(printf '%s\n' "$mac1" "$mac2" ${LLDP_MAC:-} | sort | paste -sd' ')" \
		"$(jq -r '.macs | sort | join(" ")' <<<"$h")"
}

# check_lldp FW MAC1 MAC2: the NIC on lldpd's port (LLDP_MAC) has leaf-3's Ethernet12 in the
# inventory, the NICs on QEMU's user network have no switch; nic.switch finds the host.
check_lldp() {
	local fw=$1 mac1=$2 mac2=$3 h inv id
	h=$(body_of "$(api GET "/api/v1/hosts/$mac1")")
	inv=$(jq '.inventory' <<<"$h")
	id=$(jq -r .id <<<"$h")
	if [ -z "${LLDP_MAC:-}" ]; then
		expect_eq "$fw: both NICs listened for LLDP and heard none (QEMU's user network carries none)" "null null" \
			"$(jq -r --arg a "$mac1" --arg b "$mac2" '[.nics[] | select(.mac == $a or .mac == $b) | if has("lldp") then .lldp | tojson else "absent" end] | join(" ")' <<<"$inv")"
		return
	fi
	expect_eq "$fw: the NIC on lldpd's port has its switch, port, description and management address" \
		"leaf-3|Ethernet12|to rack 12, server 7|192.0.2.1|$SWITCH_MAC|null" \
		"$(jq -r --arg m "$LLDP_MAC" '.nics[] | select(.mac == $m) | .lldp // {} |
			[.switch, .port, .port_description, .mgmt_address, .chassis_id, (.vlan | tojson)] | map(. // "none") | join("|")' <<<"$inv")"
	expect_eq "$fw: ... and the two NICs on QEMU's user network listened and have none" "null null" \
		"$(jq -r --arg a "$mac1" --arg b "$mac2" '[.nics[] | select(.mac == $a or .mac == $b) | if has("lldp") then .lldp | tojson else "absent" end] | join(" ")' <<<"$inv")"
	expect_eq "$fw: nic.switch=leaf-3 finds the host" "$id" \
		"$(body_of "$(api GET "/api/v1/hosts?q=$(jq -rn '"nic.switch=leaf-3"|@uri')")" | jq -r '[.hosts[].id] | join(" ")')"
	expect_eq "$fw: nic.port=Ethernet12 nic.mac:$LLDP_MAC finds it" "$id" \
		"$(body_of "$(api GET "/api/v1/hosts?q=$(jq -rn --arg m "$LLDP_MAC" '"nic.port=Ethernet12 nic.mac:\($m)"|@uri')")" | jq -r '[.hosts[].id] | join(" ")')"
	expect_eq "$fw: nic.switch=leaf-4 does not" "" \
		"$(body_of "$(api GET "/api/v1/hosts?q=$(jq -rn '"nic.switch=leaf-4"|@uri')")" | jq -r '[.hosts[].id] | join(" ")')"
	expect_match "$fw: anemosctl host show names the switch port" "^nic: +[a-z0-9]+ $LLDP_MAC, switch leaf-3 port Ethernet12\$" \
		"$(ANEMOS_URL=$ANEMOS_URL ANEMOS_TOKEN=$ANEMOS_TOKEN "$ANEMOSCTL" host show "$mac1" 2>&1)"
}

for fw in bios uefi; do
	if [ $fw = bios ]; then mac1=52:54:00:d1:00:10; else mac1=52:54:00:d1:00:20; fi
	mac2=${mac1%?}1
	uuid=$(printf 'd15c0000-0000-4000-8000-0000000000%s' "${mac1: -2}")
	serial="E2E-DISC-${fw^^}"
	if [ $fw = bios ]; then LLDP_MAC=52:54:00:d1:00:12; else LLDP_MAC=""; fi
	start_machine "$fw" "$fw" "$mac1" "$mac2" "$serial" "$uuid"
	if wait_inventory "$fw" "$mac1" 1; then
		ok "$fw: discovered and ready (power-on to agent start ${T_AGENT:-?} s, to ready $T_READY s)"
		echo "# $fw: power-on to anemos-agent start ${T_AGENT:-?} s, to ready $T_READY s (TCG)"
		check_inventory "$fw" "$mac1" "$mac2" "$serial" "$uuid"
		check_lldp "$fw" "$mac1" "$mac2"
	else
		fail "$fw: discovered and ready within 300 s" "status $(host_field "$mac1" .status 2>/dev/null); events: $(body_of "$(api GET "/api/v1/hosts/$mac1/events")" 2>/dev/null | jq -r '[.events[]?.message] | join("; ")' 2>/dev/null | tail -c 600)"
		console_tail "$fw"
	fi
	stop_qemu
done
LLDP_MAC=""

# The BIOS machine again, its second NIC first: iPXE asks with the second MAC, and the host
# found is the same one. Its third NIC is back on lldpd's port, so that the one hardware
# change is the replaced disk.
mac1=52:54:00:d1:00:10 mac2=52:54:00:d1:00:11 LLDP_MAC=52:54:00:d1:00:12
id_before=$(host_field "$mac1" .id)
hosts_before=$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')
start_machine bios-swap bios "$mac1" "$mac2" E2E-DISC-BIOS d15c0000-0000-4000-8000-000000000010 swap
if wait_inventory bios-swap "$mac1" 2; then
	ok "second NIC: booted and posted its inventory again (to ready $T_READY s)"
	ev=$(body_of "$(api GET "/api/v1/hosts/$mac1/events?limit=1000")" | jq -r '.events[].message')
	expect_match "second NIC: iPXE chained with the second NIC's MAC" "network boot from $mac2 " "$ev"
	expect_eq "second NIC: same host id, no new host" "$id_before $hosts_before" \
		"$(host_field "$mac2" .id) $(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')"
	# Hardware drift between the two boots: the NICs in another order are the same NICs (by
	# MAC); the second disk, with another serial, was replaced.
	expect_eq "drift: the replaced disk is the one change (NICs reordered are none)" "disk:replaced" \
		"$(host_field "$mac1" '[.drift[]? | "\(.part):\(.change)"] | join(" ")')"
	expect_match "... a warning event naming the old and the new serial" "hardware changed: disk replaced: .*DISK-B → .*DISK-C" "$ev"
	expect_eq "... and a search finds it (drift:yes)" "E2E-DISC-BIOS" \
		"$(body_of "$(api GET "/api/v1/hosts?q=drift:yes")" | jq -r '[.hosts[].serial] | join(" ")')"
else
	fail "second NIC: booted and posted its inventory again within 300 s" "events: $(body_of "$(api GET "/api/v1/hosts/$mac1/events")" 2>/dev/null | jq -r '[.events[]?.message] | join("; ")' 2>/dev/null | tail -c 600)"
	console_tail bios-swap
fi
stop_qemu
LLDP_MAC=""

# Rescue: the operator's key, next boot rescue; SSH reaches the machine's dropbear.
ssh-keygen -q -t ed25519 -N '' -C anemos-e2e -f "$WORK/id_ed25519"
pub=$(cat "$WORK/id_ed25519.pub")
r=$(api PATCH "/api/v1/hosts/$mac1" "$(jq -cn --arg k "$pub" '{next_boot: "rescue", ssh_authorized_keys: [$k]}')")
expect_eq "rescue: key and next boot set through the API" 200 "$(status_of "$r")"
SSH_PORT=$(free_port)
start_machine bios-rescue bios "$mac1" "$mac2" E2E-DISC-BIOS d15c0000-0000-4000-8000-000000000010 "" \
	"hostfwd=tcp:127.0.0.1:$SSH_PORT-:22"
out="" t_ssh=""
deadline=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$QEMU_PID" 2>/dev/null; do
	if grep -q 'dropbear listens' "$WORK/console-bios-rescue.log" 2>/dev/null; then
		out=$(timeout 20 ssh -i "$WORK/id_ed25519" -p "$SSH_PORT" -o StrictHostKeyChecking=no \
			-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR \
			root@127.0.0.1 'cat /proc/cmdline; ls /sys/block' 2>"$WORK/ssh.err") && { t_ssh=$(secs "$T_ON" "$(now)"); break; }
	fi
	sleep 2
done
if [ -n "$t_ssh" ]; then
	ok "rescue: ssh root@ with the host's key works (power-on to shell $t_ssh s)"
	echo "# rescue: power-on to a working ssh login $t_ssh s (TCG)"
	expect_match "rescue: the Anemos environment runs in rescue mode" 'anemos\.mode=rescue' "$out"
	expect_match "rescue: both disks visible" 'vda vdb' "$(printf '%s' "$out" | tr '\n' ' ')"
else
	fail "rescue: ssh root@ with the host's key works within 300 s" "$(tail -n 3 "$WORK/ssh.err" 2>/dev/null)"
	console_tail bios-rescue
fi
stop_qemu
anemosd_stop

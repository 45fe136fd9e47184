#!/usr/bin/env bash
# cost: 300
# run-in: build/asan
# The real network-boot path of a provisioning network, on a network the test builds itself:
# a namespace with a bridge (192.0.2.1/24, TEST-NET-1) and a tap for QEMU, where dnsmasq
# (configured by `anemosctl dnsmasq config`), tftp-hpa's in.tftpd (serving the TFTP root of
# deploy/tftp-root.sh) and anemosd run.
#   - every boot program comes over TFTP with tftp-hpa's own client, byte for byte, and with
#     curl's client negotiating blksize and tsize (tftp-hpa's client has no options);
#   - UEFI, firmware PXE (OVMF, virtio-net without option ROM), full DHCP: DHCP -> TFTP of
#     ipxe.efi from in.tftpd -> iPXE -> /boot.ipxe -> discover -> "ready";
#   - BIOS (SeaBIOS, its NIC's iPXE ROM), full DHCP: iPXE is recognised and sent to
#     /boot.ipxe at once -> "ready";
#   - proxy-DHCP: a second dnsmasq in a second namespace plays the site's DHCP server and
#     hands out the address; the Anemos dnsmasq answers PXE only; the UEFI machine still
#     reaches "ready" with an address from the site's pool.
# Run as root (namespaces, taps). Everything is stopped and removed on exit.
set -u
source "$(dirname "$0")/../lib/netns.sh"
# Anemos's segment: br0 with tap0 (the machines'); the site's DHCP server sits on it through a
# veth pair, in a namespace of its own ($ANEMOS_PXE_SITE).
pxe_net() {
	local t
	for t in ip dnsmasq in.tftpd tftp curl qemu-system-x86_64; do
		command -v "$t" >/dev/null || { echo "not ok - tools for firmware PXE: $t missing (deploy/install-deps.sh test installs it)"; return 1; }
	done
	export ANEMOS_PXE_SITE=anemos-site-$$
	netns_add "$ANEMOS_PXE_SITE" && netns_bridge "$1" 192.0.2.1/24 || return 1
	ip -n "$1" link add vbr type veth peer name vsite && ip -n "$1" link set vsite netns "$ANEMOS_PXE_SITE" &&
		ip -n "$1" link set vbr master br0 && ip -n "$1" link set vbr up || return 1
	ip -n "$ANEMOS_PXE_SITE" addr add 192.0.2.2/24 dev vsite && ip -n "$ANEMOS_PXE_SITE" link set vsite up
}
netns_enter ANEMOS_PXE_NS anemos-pxe pxe_net "$@"

source "$(dirname "$0")/../integration/lib.sh"
SITE=$ANEMOS_PXE_SITE
BOOT=$ROOT/build/boot
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd "$BOOT/vmlinuz" "$BOOT/initramfs.img"; do
	[ -s "$f" ] || { fail "firmware PXE prerequisites" "$f missing (make initramfs; deploy/install-deps.sh test)"; exit 1; }
done

SERVER=192.0.2.1
PORT=$(free_port)
LISTEN_HOST=$SERVER
# HTTP-boot clients fetch the EFI binary from anemosd's /boot/, as deploy/install.sh lays out.
mkdir -p "$BOOT_DIR"
cp "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$BOOT_DIR/"
cp /usr/lib/ipxe/ipxe.efi "$BOOT_DIR/"
anemosd_start --kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1

TFTP=$WORK/tftp
"$ROOT/deploy/tftp-root.sh" "$TFTP" || { fail "deploy/tftp-root.sh fills the TFTP root"; exit 1; }
chmod 0755 "$TFTP"
chmod 0711 "$WORK"   # the TFTP servers run as their own users, as deployed
getent passwd dnsmasq >/dev/null || { fail "the user dnsmasq exists" "package dnsmasq-base creates it"; exit 1; }
in.tftpd --foreground --listen --address "$SERVER:69" --secure --user nobody "$TFTP" \
	2>>"$WORK/tftpd.log" &
TFTPD_PID=$!
DNSMASQ_PID="" SITE_PID=""
stop_pid() { [ -n "$1" ] && { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }; }
trap 'stop_qemu; stop_pid "$DNSMASQ_PID"; stop_pid "$SITE_PID"; stop_pid "$TFTPD_PID"; _cleanup' EXIT

# ---- TFTP: every boot program, with tftp-hpa's client and with blksize + tsize ----
for _ in $(seq 1 50); do
	ss -Hlun "sport = :69" | grep -q . && break
	sleep 0.1
done
for f in undionly.kpxe ipxe.efi snponly.efi; do
	rm -f "$WORK/got-$f"
	( cd "$WORK" && timeout 30 tftp -m binary "$SERVER" -c get "$f" "got-$f" ) >/dev/null 2>&1
	expect_eq "tftp-hpa client fetches $f intact" "$(sha256sum <"/usr/lib/ipxe/$f")" \
		"$(sha256sum <"$WORK/got-$f" 2>/dev/null)"
	out=$(timeout 30 curl -sS -v --tftp-blksize 1428 -o "$WORK/blk-$f" "tftp://$SERVER/$f" 2>&1)
	expect_eq "$f with blksize 1428 and tsize intact" "$(sha256sum <"/usr/lib/ipxe/$f")" \
		"$(sha256sum <"$WORK/blk-$f" 2>/dev/null)"
	expect_match "$f: in.tftpd accepted blksize 1428 and sent tsize $(stat -L -c %s "/usr/lib/ipxe/$f")" \
		"got option=\(blksize\) value=\(1428\).*got option=\(tsize\) value=\($(stat -L -c %s "/usr/lib/ipxe/$f")\)|got option=\(tsize\) value=\($(stat -L -c %s "/usr/lib/ipxe/$f")\).*got option=\(blksize\) value=\(1428\)" \
		"$(tr '\n' ' ' <<<"$out")"
done
out=$(timeout 10 curl -sS -o /dev/null "tftp://$SERVER/../etc/passwd" 2>&1)
expect_match "TFTP refuses a path out of its root" "curl: \([0-9]+\)" "$out"

# ---- dnsmasq ----
# start_dnsmasq MODE ARGS...: the Anemos dnsmasq on br0 from `anemosctl dnsmasq config`.
start_dnsmasq() {
	local mode=$1 conf=$WORK/dnsmasq-$1.conf
	shift
	"$ANEMOSCTL" dnsmasq config --mode "$mode" --interface br0 --server-ip "$SERVER" \
		--server-url "$ANEMOS_URL" --tftp-root "$TFTP" --output "$conf" "$@" ||
		{ fail "anemosctl dnsmasq config --mode $mode"; return 1; }
	check "dnsmasq --test accepts the $mode configuration" dnsmasq --test -C "$conf"
	# As anemos-dnsmasq.service runs it: dropping to the user dnsmasq.
	dnsmasq --keep-in-foreground --conf-file="$conf" --dhcp-leasefile="$WORK/leases-$mode" \
		--pid-file= --user=dnsmasq --group=nogroup --log-facility=- 2>"$WORK/dnsmasq-$mode.log" &
	DNSMASQ_PID=$!
}

pxe_tail() { # NAME: the machine's console and the end of the dnsmasq logs
	console_tail "$1"
	echo "# dnsmasq (last 15 lines):"
	tail -n 15 "$WORK"/dnsmasq-*.log 2>/dev/null | sed 's/^/#   /'
}
# bootfiles MAC LOG: the boot file names dnsmasq sent to MAC, in order, repeats folded.
bootfiles() {
	awk -v mac="$1" '
		{ x = $2 } index($0, mac) { mine[x] = 1 }
		/sent size:.*bootfile-name|bootfile name:/ { file[NR] = $NF; xid[NR] = x }
		END { last = ""; for (i = 1; i <= NR; i++) if ((i in file) && (xid[i] in mine) && file[i] != last) { printf "%s ", file[i]; last = file[i] } }' "$2"
}

# boot NAME FW MAC: powers on a machine on tap0 that boots from the network. Under UEFI its
# NIC has no option ROM, so OVMF's own PXE client does the work a server's NIC firmware does.
boot() {
	local name=$1 fw=$2 mac=$3
	local args=(-accel tcg -m 1024 -smp 2 -display none -no-reboot
		-serial "file:$WORK/console-$name.log"
		-smbios "type=1,manufacturer=Anemos Labs,product=E2E PXE,serial=PXE-$name"
		-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no")
	if [ "$fw" = uefi ]; then
		cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/vars-$name.fd"
		args+=(-machine q35 -drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
			-drive "if=pflash,format=raw,file=$WORK/vars-$name.fd"
			-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
	else
		args+=(-device "virtio-net-pci,netdev=n0,mac=$mac" -boot n)
	fi
	: >"$WORK/console-$name.log"
	T_ON=$(now)
	timeout 400 qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu-$name.err" &
	QEMU_PID=$!
}

# wait_ready MAC: until the host of MAC is ready with an inventory (bounded: 300 s of TCG).
wait_ready() {
	local _ st n
	for _ in $(seq 1 300); do
		st=$(host_field "$1" .status 2>/dev/null)
		n=$(event_count "$1" '^inventory received')
		if [ "$st" = ready ] && [ "${n:-0}" -ge 1 ]; then
			T_READY=$(secs "$T_ON" "$(now)")
			return 0
		fi
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
		sleep 1
	done
	return 1
}

run_machine() { # LABEL NAME FW MAC
	local label=$1 name=$2 fw=$3 mac=$4
	boot "$name" "$fw" "$mac"
	if wait_ready "$mac"; then
		ok "$label: DHCP -> TFTP -> iPXE -> anemosd -> ready in $T_READY s"
		echo "# $label: power-on to ready $T_READY s (TCG)"
		expect_eq "$label: firmware in the inventory" "$fw" "$(host_field "$mac" .inventory.firmware)"
	else
		fail "$label: reaches ready" "status $(host_field "$mac" .status 2>/dev/null)"
		pxe_tail "$name"
	fi
	stop_qemu
}

# Full DHCP: UEFI firmware PXE, then BIOS.
start_dnsmasq dhcp --range 192.0.2.100,192.0.2.150 || exit 1
run_machine "UEFI firmware PXE, full DHCP" uefi-dhcp uefi 52:54:00:e5:00:01
expect_match "UEFI: dnsmasq leased an address from its pool" "DHCPACK\(br0\) 192\.0\.2\.1[0-5][0-9] 52:54:00:e5:00:01" \
	"$(cat "$WORK/dnsmasq-dhcp.log")"
expect_match "UEFI: dnsmasq sent the firmware ipxe.efi, then sent iPXE to /boot.ipxe" \
	"^ipxe\.efi $ANEMOS_URL/boot\.ipxe" "$(bootfiles 52:54:00:e5:00:01 "$WORK/dnsmasq-dhcp.log")"
run_machine "BIOS, full DHCP" bios-dhcp bios 52:54:00:e5:00:02
expect_match "BIOS: its NIC's iPXE ROM was sent straight to /boot.ipxe" "^$ANEMOS_URL/boot\.ipxe $" \
	"$(bootfiles 52:54:00:e5:00:02 "$WORK/dnsmasq-dhcp.log")"

# What dnsmasq offers each kind of client (a DHCP client in the site namespace, on the same
# segment; no site server runs yet): firmware by option 93, iPXE by its user class, UEFI HTTP
# boot by its vendor class.
probe() { ip netns exec "$SITE" python3 "$ROOT/tests/e2e/dhcp-probe.py" vsite "$@" 2>&1; }
offer() { # LABEL EXPECTED-JQ-STRING PROBE-ARGS...
	local label=$1 want=$2 out
	shift 2
	out=$(probe "$@")
	expect_eq "$label" "$want" "$(jq -r '"\(.file) \(.next_server) \(.vendor_class)"' <<<"$out" 2>/dev/null || echo "$out")"
}
offer "offer to BIOS PXE (arch 0): undionly.kpxe from the TFTP server" "undionly.kpxe $SERVER null" 52:54:00:e5:01:00 0
offer "offer to an old BIOS PXE ROM without option 93: undionly.kpxe" "undionly.kpxe $SERVER null" 52:54:00:e5:01:0f none
offer "offer to x86-64 UEFI PXE (arch 7): ipxe.efi" "ipxe.efi $SERVER null" 52:54:00:e5:01:07 7
offer "offer to x86-64 UEFI PXE (arch 9): ipxe.efi" "ipxe.efi $SERVER null" 52:54:00:e5:01:09 9
offer "offer to arm64 UEFI (arch 11) without an arm64 binary: no boot file" " $SERVER null" 52:54:00:e5:01:11 11
offer "offer to iPXE (user class iPXE): anemosd's /boot.ipxe" "$ANEMOS_URL/boot.ipxe $SERVER null" \
	52:54:00:e5:01:01 0 --user-class iPXE
offer "offer to UEFI HTTP boot (arch 16, HTTPClient): ipxe.efi over HTTP, HTTPClient echoed" \
	"$ANEMOS_URL/boot/ipxe.efi $SERVER HTTPClient" 52:54:00:e5:01:16 16 --vendor HTTPClient:Arch:00016:UNDI:003001
ip netns exec "$SITE" curl -sS -m 10 -o "$WORK/http-ipxe.efi" "$ANEMOS_URL/boot/ipxe.efi"
check "the HTTP-boot URL serves the iPXE EFI binary" cmp /usr/lib/ipxe/ipxe.efi "$WORK/http-ipxe.efi"
stop_pid "$DNSMASQ_PID"
DNSMASQ_PID=""

# Proxy DHCP: the site's server (192.0.2.2) hands out .200-.220; Anemos answers PXE only.
ip netns exec "$SITE" dnsmasq --keep-in-foreground --port=0 --interface=vsite --bind-interfaces \
	--dhcp-range=192.0.2.200,192.0.2.220,255.255.255.0,1h --dhcp-leasefile="$WORK/leases-site" \
	--pid-file= --user=root --log-facility=- --log-dhcp 2>"$WORK/site.log" &
SITE_PID=$!
start_dnsmasq proxy --subnet 192.0.2.0 || exit 1
run_machine "UEFI firmware PXE, proxy DHCP beside the site's server" uefi-proxy uefi 52:54:00:e5:00:03
expect_match "proxy: the Anemos dnsmasq sent the firmware ipxe.efi, then iPXE to /boot.ipxe" \
	"^ipxe\.efi $ANEMOS_URL/boot\.ipxe" "$(bootfiles 52:54:00:e5:00:03 "$WORK/dnsmasq-proxy.log")"
expect_match "the site's DHCP server gave the address" "DHCPACK\(vsite\) 192\.0\.2\.2[0-2][0-9] 52:54:00:e5:00:03" \
	"$(cat "$WORK/site.log")"
expect_no_match "the Anemos dnsmasq gave no address in proxy mode" "DHCPACK\(br0\) 192\.0\.2\.[0-9]+ 52:54:00:e5:00:03" \
	"$(cat "$WORK/dnsmasq-proxy.log")"
stop_pid "$DNSMASQ_PID"
stop_pid "$SITE_PID"
DNSMASQ_PID="" SITE_PID=""

# dnsmasq's own TFTP server instead of tftp-hpa (--tftp dnsmasq).
stop_pid "$TFTPD_PID"
TFTPD_PID=""
# An arm64 binary in the TFTP root is offered to arm64 UEFI once the configuration is made
# again (Debian 12 has none: a stand-in file named as the real one would be).
IPXE_ARM64=/usr/lib/ipxe/snponly.efi "$ROOT/deploy/tftp-root.sh" "$TFTP"
start_dnsmasq dhcp --range 192.0.2.100,192.0.2.150 --tftp dnsmasq || exit 1
for _ in $(seq 1 50); do ss -Hlun "sport = :69" | grep -q . && break; sleep 0.1; done
for f in undionly.kpxe ipxe.efi snponly.efi; do
	rm -f "$WORK/got-$f"
	( cd "$WORK" && timeout 30 tftp -m binary "$SERVER" -c get "$f" "got-$f" ) >/dev/null 2>&1
	check "dnsmasq's TFTP serves $f intact" cmp "/usr/lib/ipxe/$f" "$WORK/got-$f"
done
offer "with dnsmasq's TFTP, UEFI still gets ipxe.efi from this server" "ipxe.efi $SERVER null" 52:54:00:e5:02:07 7
offer "with an arm64 binary in the TFTP root, arm64 UEFI (arch 11) is offered it" "ipxe-arm64.efi $SERVER null" 52:54:00:e5:02:11 11
[ "$_failures" -eq 0 ]

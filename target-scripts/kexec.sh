#!/bin/sh
# Anemos: move a running Linux host into the Anemos environment without network boot, served
# by anemosd as GET /kexec.sh and run as root by `anemosctl reinstall|rescue --ssh` over SSH;
# `anemosctl deploy --ssh` (no anemosd) runs the copy compiled into it.
# anemosctl sends these settings ahead of this text on the same SSH session (never in a URL
# or on a command line):
#   ANEMOS_MODE          install, rescue or deploy
#   ANEMOS_TOKEN         the host's fresh agent token (it goes into a small archive appended to
#                        the initramfs: on no command line, in no boot entry); not for deploy
#   ANEMOS_KERNEL_URL    ANEMOS_KERNEL_SHA256   the Anemos kernel and its SHA-256
#   ANEMOS_INITRD_URL    ANEMOS_INITRD_SHA256   the Anemos initramfs and its SHA-256
#   ANEMOS_CMDLINE       the rest of the command line (anemos.url=, anemos.mode=, console=...)
#   ANEMOS_METHOD        auto (kexec, else a one-shot boot entry), kexec or bootloader
#   ANEMOS_NETWORK       auto (find out), dhcp or static
#   ANEMOS_HOST_KEYS     keep: this host's SSH host keys join the token (the new system keeps
#                        them; reinstall --keep-host-keys, deploy --url), or new (the default)
#   ANEMOS_MEMORY_FLOOR_MIB  the smallest machine (MiB) to go on with: empty for the stated
#                        floor; anemosctl passes $ANEMOS_MEMORY_FLOOR_MIB on (make test-slow
#                        measures below the floor with it)
# deploy sends the files themselves on the same session instead of URLs: ANEMOS_INPUT is the
# root-only file holding what came after this script, and ANEMOS_INPUT_AT the byte (1-based)
# where that starts; ANEMOS_KERNEL_AT/_SIZE, ANEMOS_INITRD_AT/_SIZE and ANEMOS_PAYLOAD_AT/_SIZE
# are the parts, counted from there. The payload is newc cpio entries without a trailer (the
# deploy's plan, recipe bundle and keys, under etc/anemos-deploy/); this host's SSH host keys
# join it (etc/anemos-deploy/hostkeys/), so that the new system keeps this one's identity.
# With ANEMOS_KERNEL_URL and ANEMOS_INITRD_URL set as well (deploy --boot-url), those two are
# downloaded instead of sent (their parts are then 0 bytes), checked against the same SHA-256s.
# Steps: refuse where this cannot work (architecture, memory, a container); download and
# verify into a tmpfs; carry the network of the interface that reaches anemosd over (the MAC,
# and for static addresses every address, the gateways and DNS of both families; beside DHCP
# the static IPv6 side) on the command line; kexec (the file-load syscall first). Where kexec
# is missing or refused, copy the files to /boot (or the ESP), root-only, and set a one-shot
# entry of the bootloader (extlinux --once, GRUB grub-reboot, UEFI BootNext with efibootmgr),
# then reboot: a failed boot falls back to the installed system. Before the new environment
# runs, no disk is written except, on that fallback path, /boot.
set -u
PATH=$PATH:/sbin:/usr/sbin:/bin:/usr/bin
say() { echo "anemos: $*"; }
die() { echo "anemos: $*" >&2; exit 1; }
ANEMOS_INPUT=${ANEMOS_INPUT:-}
if [ -n "$ANEMOS_INPUT" ]; then
	trap 'rm -f "$ANEMOS_INPUT"' EXIT
	need="ANEMOS_MODE ANEMOS_KERNEL_SHA256 ANEMOS_INITRD_SHA256 ANEMOS_CMDLINE ANEMOS_INPUT_AT ANEMOS_KERNEL_AT
		ANEMOS_KERNEL_SIZE ANEMOS_INITRD_AT ANEMOS_INITRD_SIZE ANEMOS_PAYLOAD_AT ANEMOS_PAYLOAD_SIZE"
else
	need="ANEMOS_MODE ANEMOS_TOKEN ANEMOS_KERNEL_URL ANEMOS_KERNEL_SHA256 ANEMOS_INITRD_URL
		ANEMOS_INITRD_SHA256 ANEMOS_CMDLINE"
fi
for v in $need; do
	eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run this through anemosctl reinstall, rescue or deploy"
done
ANEMOS_TOKEN=${ANEMOS_TOKEN:-} ANEMOS_KERNEL_URL=${ANEMOS_KERNEL_URL:-}
ANEMOS_METHOD=${ANEMOS_METHOD:-auto}
ANEMOS_NETWORK=${ANEMOS_NETWORK:-auto}
ANEMOS_HOST_KEYS=${ANEMOS_HOST_KEYS:-new}

# ---- can this host do it? ----
[ "$(id -u)" = 0 ] || die "needs root on the target (log in as root, or as a user with sudo)"
arch=$(uname -m)
[ "$arch" = x86_64 ] || die "this host is $arch; the Anemos environment is built for x86_64"
container=""
if command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt --container --quiet; then
	container=$(systemd-detect-virt --container)
elif [ -e /.dockerenv ]; then container=docker
elif [ -e /run/.containerenv ]; then container=podman
elif tr '\0' '\n' </proc/1/environ 2>/dev/null | grep -q '^container='; then
	container=$(tr '\0' '\n' </proc/1/environ | sed -n 's/^container=//p' | head -n 1)
elif grep -qE '/(docker|lxc|kubepods|libpod)' /proc/1/cgroup 2>/dev/null; then container=cgroup
elif [ -d /proc/vz ] && [ ! -d /proc/bc ]; then container=openvz
fi
[ -z "$container" ] || die "this is a container ($container): kexec or a reboot would act on the machine \
that runs it, not on this system; reinstall that machine or VM instead"
mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
# The floor the README states (the e2e deploy suite's VM has it; make test-slow measured the
# cloud recipe's deploy passing at 320 MiB, at 288 the tmpfs below is too small); a machine
# shows about 50 MiB less than its size here (512 MiB: about 460), so 82 MiB less passes.
floor=${ANEMOS_MEMORY_FLOOR_MIB:-}
case $floor in '' | *[!0-9]* | ?????* | 0?*) floor=384 ;; esac
[ "${mem_kib:-0}" -ge $(((floor - 82) * 1024)) ] || die "$((${mem_kib:-0} / 1024)) MiB of memory; the Anemos \
environment runs from RAM and needs a machine of at least $floor MiB ($((floor - 82)) MiB free to the kernel)"

# ---- download and verify ----
fetch() { # URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsS --retry 3 --connect-timeout 10 --max-time 600 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed"
	fi
}
sha256() {
	if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
	else openssl dgst -sha256 -r "$1" | cut -d' ' -f1; fi
}
dir=""
for base in /dev/shm /run /tmp; do   # tmpfs first: /tmp may be on a disk
	[ -d "$base" ] && [ -w "$base" ] || continue
	free_kib=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
	[ "${free_kib:-0}" -ge 131072 ] || continue
	dir=$(mktemp -d "$base/anemos.XXXXXX") && break
done
[ -n "$dir" ] || die "no writable folder with 128 MiB free in /dev/shm, /run or /tmp"
trap 'rm -rf "$dir" ${ANEMOS_INPUT:+"$ANEMOS_INPUT"}' EXIT
# from_input AT SIZE FILE: the part of what deploy sent that starts AT (counted from 0).
from_input() {
	tail -c "+$((ANEMOS_INPUT_AT + $1))" "$ANEMOS_INPUT" | head -c "$2" >"$3" &&
		[ "$(wc -c <"$3" | tr -d ' ')" = "$2" ]
}
for part in kernel initrd; do
	if [ $part = kernel ]; then url=$ANEMOS_KERNEL_URL want=$ANEMOS_KERNEL_SHA256 file=$dir/vmlinuz
	else url=${ANEMOS_INITRD_URL:-} want=$ANEMOS_INITRD_SHA256 file=$dir/initramfs.img; fi
	if [ -n "$ANEMOS_INPUT" ] && [ -z "$url" ]; then
		if [ $part = kernel ]; then at=$ANEMOS_KERNEL_AT size=$ANEMOS_KERNEL_SIZE
		else at=$ANEMOS_INITRD_AT size=$ANEMOS_INITRD_SIZE; fi
		from_input "$at" "$size" "$file" || die "the $part did not arrive whole ($size bytes expected)"
	else
		say "downloading the $part from $url"
		fetch "$url" "$file" || die "could not download $url (can this host reach it?)"
	fi
	got=$(sha256 "$file")
	[ "$got" = "$want" ] || die "the $part's SHA-256 is $got, anemosctl said $want: not using it"
	say "$part verified: $(wc -c <"$file" | tr -d ' ') bytes, sha256 $got"
done
if [ -n "$ANEMOS_INPUT" ]; then
	from_input "$ANEMOS_PAYLOAD_AT" "$ANEMOS_PAYLOAD_SIZE" "$dir/payload" ||
		die "the deploy payload did not arrive whole ($ANEMOS_PAYLOAD_SIZE bytes expected)"
	rm -f "$ANEMOS_INPUT"
fi

# ---- the network, carried over ----
# The interface that reaches anemosd (for an address in the URL; else the default route's,
# IPv4's then IPv6's; else the first with a global address). A deploy has no anemosd: its
# boot files' URL (--boot-url) may be on another network than the one the operator uses, so
# the default route decides there.
server="" server6=""
if [ -z "$ANEMOS_INPUT" ]; then
	server=$(printf '%s\n' "$ANEMOS_KERNEL_URL" | sed -n 's#^[a-z]*://\([0-9][0-9.]*\)\([:/].*\)\{0,1\}$#\1#p')
	server6=$(printf '%s\n' "$ANEMOS_KERNEL_URL" | sed -n 's#^[a-z]*://\[\([0-9a-fA-F:]*\)\].*$#\1#p')
fi
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }
dev=""
[ -n "$server" ] && dev=$(ip -4 route get "$server" 2>/dev/null | field dev)
[ -z "$dev" ] && [ -n "$server6" ] && dev=$(ip -6 route get "$server6" 2>/dev/null | field dev)
[ -n "$dev" ] && [ "$dev" != lo ] || dev=$(ip -4 route show default 2>/dev/null | field dev)
[ -n "$dev" ] || dev=$(ip -6 route show default 2>/dev/null | field dev)
[ -n "$dev" ] || dev=$(ip -o addr show scope global 2>/dev/null | awk '{ print $2; exit }')
[ -n "$dev" ] || die "no network interface with a global address: nothing to carry over"
[ "$(cat "/sys/class/net/$dev/type" 2>/dev/null)" = 1 ] ||
	die "$dev is not an Ethernet interface (a tunnel or VPN?): the Anemos environment could not use it"
[ ! -e "/proc/net/vlan/$dev" ] || die "$dev is a VLAN interface: carrying VLANs over is not supported"
mac=$(cat "/sys/class/net/$dev/address")
gw=$(ip -4 route show default dev "$dev" 2>/dev/null | field via)
gw6=$(ip -6 route show default dev "$dev" 2>/dev/null | field via)
# The addresses set by hand: global, not from DHCP or SLAAC (dynamic), not temporary or
# deprecated, of both families, joined by "+", at most 9 of each (the agent keeps 9, and the
# kernel's command line is 2 KiB). --network static takes the dynamic ones too.
addrs() { ip "$1" -o addr show dev "$dev" scope global 2>/dev/null |
	awk -v all="$2" '(all || !/ dynamic/) && !/ temporary| deprecated|mngtmpaddr/ && n++ < 9 { printf "%s%s", s, $4; s = "+" }'; }
addr=$(addrs -4 "")
addr6=$(addrs -6 "")
if [ "$ANEMOS_NETWORK" = static ] && [ -z "$addr$addr6" ]; then
	addr=$(addrs -4 1)
	addr6=$(addrs -6 1)
fi
# The old system's dynamic IPv6 addresses: from router advertisements (SLAAC, a /64: the flag
# auto6, RAs taken again) or from DHCPv6 (a /128: the flag dhcp6, DHCPv6 asked again).
dyn6=$(ip -6 -o addr show dev "$dev" scope global 2>/dev/null | awk '/ dynamic/ { print $4 }')
auto6="" dhcp6=""
printf '%s\n' "$dyn6" | grep -q '/128$' && dhcp6=dhcp6
printf '%s\n' "$dyn6" | grep -qv -e '/128$' -e '^$' && auto6=auto6
# flags: auto6 and dhcp6, joined by "+" (anemos.net's fifth field), with the comma before.
flags() { f=${auto6}${auto6:+${dhcp6:++}}${dhcp6}; printf '%s' "${f:+,$f}"; }
net=$ANEMOS_NETWORK
if [ "$net" = auto ]; then
	net=static
	ifindex=$(cat "/sys/class/net/$dev/ifindex" 2>/dev/null)
	if ip -4 -o addr show dev "$dev" scope global | grep -q ' dynamic'; then net=dhcp
	elif [ -n "$ifindex" ] && [ -e "/run/systemd/netif/leases/$ifindex" ]; then net=dhcp
	elif [ -z "$addr$addr6" ]; then net=dhcp
	else
		for p in /proc/[0-9]*/cmdline; do
			c=$(tr '\0' ' ' 2>/dev/null <"$p") || continue
			case $c in *dhclient*"$dev"*|*udhcpc*"$dev"*|*dhcpcd*"$dev"*) net=dhcp; break ;; esac
		done
	fi
fi
# nameservers REGEX: the name servers the old system uses whose address matches REGEX, joined
# by "+" (not the local stub resolvers: 127.0.0.53, ::1).
nameservers() {
	awk -v re="$1" '$1 == "nameserver" && $2 !~ /^127\./ && $2 != "::1" && $2 !~ /%/ &&
		$2 ~ re && !seen[$2]++ { printf "%s%s", s, $2; s = "+" }' \
		/etc/resolv.conf /run/systemd/resolve/resolv.conf 2>/dev/null
}
if [ "$net" = static ]; then
	all=${addr}${addr:+${addr6:++}}${addr6}
	[ -n "$all" ] || die "$dev has no static address to carry over"
	gws=${gw}${gw:+${gw6:++}}${gw6}
	netarg="anemos.net=static,$all,$gws,$(nameservers '^([0-9.]+|[0-9a-fA-F:]+)$')$(flags)"
elif [ "$ANEMOS_NETWORK" = auto ] && [ -n "$addr6$dhcp6" ]; then
	# IPv4 by DHCP and IPv6 beside it written by hand or by DHCPv6, as many clouds give: the
	# IPv6 side is carried over (its gateway unless router advertisements gave it, its name
	# servers), and DHCP asked for the rest.
	gw6=$(ip -6 route show default dev "$dev" 2>/dev/null | grep -v ' proto ra' | field via)
	# A default route from router advertisements: they are taken there too.
	ip -6 route show default dev "$dev" 2>/dev/null | grep -q ' proto ra' && auto6=auto6
	# At most 8 beside DHCP (the agent and anemosd keep 8 "addresses").
	addr6=$(printf '%s' "$addr6" | cut -d+ -f1-8)
	netarg="anemos.net=dhcp,$addr6,$gw6,$(nameservers '^[0-9a-fA-F:]+$')$(flags)"
else
	netarg="anemos.net=dhcp"
fi
say "network: $dev ($mac) ${addr:-no IPv4 address}${gw:+ via $gw}${addr6:+, $addr6}${gw6:+ via $gw6}, $net; carried over as $netarg"
cmdline="$ANEMOS_CMDLINE anemos.mac=$mac $netarg"

# ---- the token or the payload: an archive appended to the initramfs, on no command line ----
# The kernel unpacks concatenated initramfs archives (each starting 4-byte aligned); this
# one holds /etc/anemos-kexec-token (0600), which anemos-agent reads and removes, or the
# deploy payload with this host's SSH host keys.
pad4() { n=$1; while [ $((n % 4)) -ne 0 ]; do printf '\0'; n=$((n + 1)); done; }
newc() { # NAME MODE_HEX SIZE: one newc header and name
	printf '070701%08X%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' 1 "$2" 0 0 1 0 "$3" 0 0 0 0 \
		$((${#1} + 1)) 0
	printf '%s\0' "$1"
	pad4 $((110 + ${#1} + 1))
}
# host_identity: newc entries of this host's name and SSH host keys (OpenSSH's and
# dropbear's), 0600.
host_identity() {
	hn=$(hostname 2>/dev/null || cat /etc/hostname)
	newc etc/anemos-deploy/hostname 00008180 ${#hn}
	printf '%s' "$hn"
	pad4 ${#hn}
	newc etc/anemos-deploy/hostkeys 000041C0 0
	for hk in /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub /etc/dropbear/dropbear_*_host_key; do
		[ -f "$hk" ] && [ -s "$hk" ] || continue
		hk_size=$(wc -c <"$hk" | tr -d ' ')
		newc "etc/anemos-deploy/hostkeys/${hk##*/}" 00008180 "$hk_size"
		cat "$hk"
		pad4 "$hk_size"
	done
}
(
	umask 077
	cat "$dir/initramfs.img"
	pad4 "$(wc -c <"$dir/initramfs.img")"
	if [ -n "$ANEMOS_INPUT" ]; then
		cat "$dir/payload"
		host_identity
	else
		newc etc/anemos-kexec-token 00008180 ${#ANEMOS_TOKEN}
		printf '%s' "$ANEMOS_TOKEN"
		pad4 ${#ANEMOS_TOKEN}
		# reinstall --keep-host-keys, deploy --url: the new system keeps this host's identity.
		# (Their folder first: the kernel makes no parent folders for an archive's files.)
		if [ "$ANEMOS_HOST_KEYS" = keep ]; then
			newc etc/anemos-deploy 000041C0 0
			host_identity
		fi
	fi
	newc TRAILER!!! 00000000 0
) >"$dir/initrd" || die "cannot write $dir/initrd"
if [ -n "$ANEMOS_INPUT" ] || [ "$ANEMOS_HOST_KEYS" = keep ]; then
	carried=""
	for hk in /etc/ssh/ssh_host_*_key /etc/dropbear/dropbear_*_host_key; do
		[ -s "$hk" ] && carried="$carried ${hk##*/}"
	done
	say "${ANEMOS_INPUT:+payload appended; }SSH host keys carried over:${carried:- none}"
fi
rm -f "$dir/initramfs.img" "$dir/payload"

# ---- kexec ----
detach() { # COMMAND...: runs it 2 s from now, outside this SSH session (and its cgroup)
	if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1 &&
	   systemd-run --quiet --on-active=2 --timer-property=AccuracySec=100ms /bin/sh -c "sync; $*" 2>/dev/null; then
		return 0
	fi
	if command -v setsid >/dev/null 2>&1; then
		setsid sh -c "sleep 2; sync; $*" </dev/null >/dev/null 2>&1 &
	else
		nohup sh -c "sleep 2; sync; $*" </dev/null >/dev/null 2>&1 &
	fi
}
kexec_refused=""
if [ "$ANEMOS_METHOD" != bootloader ]; then
	if ! command -v kexec >/dev/null 2>&1; then kexec_refused="no kexec (package kexec-tools)"
	elif [ "$(cat /proc/sys/kernel/kexec_load_disabled 2>/dev/null)" = 1 ]; then
		kexec_refused="kexec is disabled (kernel.kexec_load_disabled=1)"
	elif kexec -s -l "$dir/vmlinuz" --initrd="$dir/initrd" --command-line="$cmdline" 2>"$dir/kexec.err" ||
	     kexec -l "$dir/vmlinuz" --initrd="$dir/initrd" --command-line="$cmdline" 2>>"$dir/kexec.err"; then
		trap - EXIT   # the loaded kernel is in memory now; the files may go with the tmpfs
		rm -rf "$dir"
		say "kexec loaded; this host becomes the Anemos environment ($ANEMOS_MODE) in 2 s"
		if [ -d /run/systemd/system ]; then detach systemctl kexec; else detach kexec -e; fi
		exit 0
	else
		kexec_refused="kexec refused: $(tr '\n' ' ' <"$dir/kexec.err")"
		[ -r /sys/kernel/security/lockdown ] &&
			kexec_refused="$kexec_refused (lockdown: $(cat /sys/kernel/security/lockdown))"
	fi
	say "$kexec_refused"
	[ "$ANEMOS_METHOD" = kexec ] && die "kexec was asked for and is not possible"
fi

# ---- fallback: a one-shot boot entry ----
# Which bootloader first, then room for the files, then the files, then the entry.
method="" why_not=""
for conf in /boot/extlinux/extlinux.conf /boot/syslinux/syslinux.cfg /boot/extlinux.conf; do
	if [ -f "$conf" ] && command -v extlinux >/dev/null 2>&1; then method=extlinux; break; fi
done
if [ -z "$method" ]; then
	for g in grub grub2; do
		command -v $g-reboot >/dev/null 2>&1 && [ -d /boot/$g ] || continue
		# GRUB clears a one-shot entry by writing grubenv, which it cannot do on LVM, RAID,
		# encrypted disks, btrfs or ZFS: the entry would boot every time.
		abstraction=$($g-probe -t abstraction /boot/$g 2>/dev/null | tr '\n' ' ')
		fs=$($g-probe -t fs /boot/$g 2>/dev/null)
		case "$abstraction:$fs" in
		*[a-z]*:*|*:btrfs|*:zfs) why_not="GRUB's grubenv is on ${abstraction:-$fs}, where GRUB cannot clear a one-shot entry" ;;
		*) method=grub grub=$g ;;
		esac
		break
	done
fi
if [ -z "$method" ] && [ -d /sys/firmware/efi ] && command -v efibootmgr >/dev/null 2>&1; then
	esp=$(findmnt -n -o TARGET -t vfat /boot/efi 2>/dev/null || findmnt -n -o TARGET -t vfat /efi 2>/dev/null)
	[ -n "$esp" ] && method=efi || why_not="UEFI, but no EFI system partition mounted at /boot/efi or /efi"
fi
[ -n "$method" ] || die "no way to boot the Anemos environment: kexec is not possible ($kexec_refused) \
and ${why_not:-no extlinux, GRUB (grub-reboot) or efibootmgr was found}"
say "falling back to a one-shot $method boot entry"
if [ "$method" = efi ]; then bootdir=$esp/EFI/anemos; else bootdir=/boot/anemos; fi
need_kib=$(( ($(wc -c <"$dir/vmlinuz") + $(wc -c <"$dir/initrd")) / 1024 + 4096 ))
mkdir -p "$bootdir" || die "cannot create $bootdir"
have_kib=$(df -Pk "$bootdir" | awk 'NR == 2 { print $4 }')
[ "${have_kib:-0}" -ge "$need_kib" ] || { rmdir "$bootdir" 2>/dev/null;
	die "$bootdir has $((${have_kib:-0} / 1024)) MiB free, $((need_kib / 1024)) MiB are needed"; }
trap 'rm -rf "$dir"; [ -n "${entry_set:-}" ] || rm -rf "$bootdir"' EXIT
# Root-only: the initramfs carries the token.
(umask 077 && cp "$dir/vmlinuz" "$bootdir/vmlinuz" && cp "$dir/initrd" "$bootdir/initramfs.img") ||
	die "cannot copy the kernel and initramfs to $bootdir"
chmod 600 "$bootdir/vmlinuz" "$bootdir/initramfs.img"
sync
# The path of the folder as the bootloader sees it: relative to the file system holding it.
mnt=$(df -P "$bootdir" | awk 'NR == 2 { print $6 }')
rel=${bootdir#"$mnt"}
rel=/${rel#/}
case $method in
extlinux)
	sed -i '/^# anemos begin$/,/^# anemos end$/d' "$conf"
	printf '# anemos begin\nLABEL anemos-oneshot\n  KERNEL %s/vmlinuz\n  INITRD %s/initramfs.img\n  APPEND %s\n# anemos end\n' \
		"$rel" "$rel" "$cmdline" >>"$conf"
	extlinux --once=anemos-oneshot "$(dirname "$conf")" >/dev/null || die "extlinux --once failed"
	set_entry="extlinux: LABEL anemos-oneshot in $conf, booted once"
	;;
grub)
	uuid=$(findmnt -n -o UUID --target "$bootdir" 2>/dev/null)
	[ -n "$uuid" ] || die "cannot tell the UUID of the file system of $bootdir for GRUB"
	command -v $grub-mkrelpath >/dev/null 2>&1 && rel=$($grub-mkrelpath "$bootdir")  # btrfs subvolumes
	sed -i '/^# anemos begin$/,/^# anemos end$/d' /boot/$grub/custom.cfg 2>/dev/null
	printf "# anemos begin\nmenuentry 'anemos-oneshot' {\n  search --no-floppy --fs-uuid --set=root %s\n  linux %s/vmlinuz %s\n  initrd %s/initramfs.img\n}\n# anemos end\n" \
		"$uuid" "$rel" "$cmdline" "$rel" >>/boot/$grub/custom.cfg
	$grub-reboot anemos-oneshot || die "$grub-reboot failed"
	set_entry="GRUB: menu entry anemos-oneshot in /boot/$grub/custom.cfg, booted once ($grub-reboot)"
	;;
efi)
	# The kernel's EFI stub from the ESP, as BootNext; earlier Anemos entries go first.
	anemos_entries() { efibootmgr | awk '$1 ~ /^Boot[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]\*?$/ && $2 == "Anemos" { print substr($1, 5, 4) }'; }
	for n in $(anemos_entries); do efibootmgr -q -b "$n" -B >/dev/null 2>&1; done
	mv "$bootdir/vmlinuz" "$bootdir/vmlinuz.efi"
	src=$(findmnt -n -o SOURCE --target "$esp")
	disk=/dev/$(basename "$(readlink -f "/sys/class/block/${src##*/}/..")")
	part=$(cat "/sys/class/block/${src##*/}/partition")
	efibootmgr -q --create-only --disk "$disk" --part "$part" --label Anemos \
		--loader "$(printf '%s' "$rel/vmlinuz.efi" | tr / '\\')" \
		--unicode "initrd=$(printf '%s' "$rel/initramfs.img" | tr / '\\') $cmdline" ||
		die "efibootmgr could not create the boot entry"
	num=$(anemos_entries | head -n 1)
	[ -n "$num" ] && efibootmgr -q --bootnext "$num" || die "efibootmgr could not set BootNext"
	set_entry="UEFI: Boot$num Anemos, BootNext"
	;;
esac
entry_set=1
say "$set_entry; rebooting in 2 s (a failed boot falls back to the installed system)"
if [ -d /run/systemd/system ]; then detach systemctl reboot; else detach reboot; fi
exit 0

#!/bin/sh
# Anemos: move a running Linux host into the Anemos environment without network boot, served
# by anemosd as GET /kexec.sh and run as root by `anemosctl reinstall|rescue --ssh` over SSH.
# anemosctl sends these settings ahead of this text on the same SSH session (never in a URL
# or on a command line):
#   ANEMOS_MODE          install or rescue
#   ANEMOS_TOKEN         the host's fresh agent token (goes on the new kernel's command line)
#   ANEMOS_KERNEL_URL    ANEMOS_KERNEL_SHA256   the Anemos kernel and its SHA-256
#   ANEMOS_INITRD_URL    ANEMOS_INITRD_SHA256   the Anemos initramfs and its SHA-256
#   ANEMOS_CMDLINE       the rest of the command line (anemos.url=, anemos.mode=, console=...)
#   ANEMOS_METHOD        auto (kexec, else a one-shot boot entry), kexec or bootloader
#   ANEMOS_NETWORK       auto (find out), dhcp or static
# Steps: refuse where this cannot work (architecture, memory, a container); download and
# verify into a tmpfs; carry the network over (the MAC, and for a static address the address,
# gateway and DNS) on the command line; kexec (file-load syscall first). Where kexec is
# missing or refused, copy the files to /boot and set a one-shot entry of the bootloader
# (GRUB grub-reboot, extlinux --once, UEFI BootNext with efibootmgr), then reboot: a
# failed boot falls back to the installed system. Before the new environment runs, no disk
# is written except, on that fallback path, /boot.
set -u
PATH=$PATH:/sbin:/usr/sbin:/bin:/usr/bin
say() { echo "anemos: $*"; }
die() { echo "anemos: $*" >&2; exit 1; }
for v in ANEMOS_MODE ANEMOS_TOKEN ANEMOS_KERNEL_URL ANEMOS_KERNEL_SHA256 ANEMOS_INITRD_URL \
	ANEMOS_INITRD_SHA256 ANEMOS_CMDLINE; do
	eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run this through anemosctl reinstall or rescue"
done
ANEMOS_METHOD=${ANEMOS_METHOD:-auto}
ANEMOS_NETWORK=${ANEMOS_NETWORK:-auto}

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
[ "${mem_kib:-0}" -ge 786432 ] || die "$((${mem_kib:-0} / 1024)) MiB of memory; the Anemos environment \
runs from RAM and needs at least 768 MiB"

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
for base in /dev/shm /run /tmp; do
	[ -d "$base" ] && [ -w "$base" ] || continue
	free_kib=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
	[ "${free_kib:-0}" -ge 131072 ] || continue
	dir=$(mktemp -d "$base/anemos.XXXXXX") && break
done
[ -n "$dir" ] || die "no writable folder with 128 MiB free in /dev/shm, /run or /tmp"
trap 'rm -rf "$dir"' EXIT
for part in kernel initrd; do
	if [ $part = kernel ]; then url=$ANEMOS_KERNEL_URL want=$ANEMOS_KERNEL_SHA256 file=$dir/vmlinuz
	else url=$ANEMOS_INITRD_URL want=$ANEMOS_INITRD_SHA256 file=$dir/initramfs.img; fi
	say "downloading the $part from $url"
	fetch "$url" "$file" || die "could not download $url (can this host reach anemosd?)"
	got=$(sha256 "$file")
	[ "$got" = "$want" ] || die "the $part's SHA-256 is $got, anemosd said $want: not using it"
	say "$part verified: $(wc -c <"$file" | tr -d ' ') bytes, sha256 $got"
done

# ---- the network, carried over ----
dev=$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
gw=$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "via") { print $(i + 1); exit } }')
if [ -z "$dev" ]; then  # no default route: the first interface with a global address
	dev=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ print $2; exit }')
fi
[ -n "$dev" ] || die "no network interface with an IPv4 address: nothing to carry over"
mac=$(cat "/sys/class/net/$dev/address")
addr=$(ip -4 -o addr show dev "$dev" scope global | awk '{ print $4; exit }')
net=$ANEMOS_NETWORK
if [ "$net" = auto ]; then
	net=static
	ifindex=$(cat "/sys/class/net/$dev/ifindex" 2>/dev/null)
	if ip -4 -o addr show dev "$dev" scope global | grep -q ' dynamic'; then net=dhcp
	elif [ -n "$ifindex" ] && [ -e "/run/systemd/netif/leases/$ifindex" ]; then net=dhcp
	else
		for p in /proc/[0-9]*/cmdline; do
			c=$(tr '\0' ' ' 2>/dev/null <"$p") || continue
			case $c in *dhclient*"$dev"*|*udhcpc*"$dev"*|*dhcpcd*"$dev"*) net=dhcp; break ;; esac
		done
	fi
fi
if [ "$net" = static ]; then
	[ -n "$addr" ] || die "$dev has no IPv4 address to carry over"
	dns=$(awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 ~ /^[0-9.]+$/ { printf "%s%s", s, $2; s = "+" }' \
		/etc/resolv.conf /run/systemd/resolve/resolv.conf 2>/dev/null)
	netarg="anemos.net=static,$addr,$gw,$dns"
else
	netarg="anemos.net=dhcp"
fi
say "network: $dev ($mac) ${addr:-no address}${gw:+ via $gw}, $net; carried over as $netarg"
cmdline="$ANEMOS_CMDLINE anemos.mac=$mac $netarg anemos.token=$ANEMOS_TOKEN"

# ---- kexec ----
detach() { # COMMAND...: runs it 2 s from now, outside this SSH session
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
	elif kexec -s -l "$dir/vmlinuz" --initrd="$dir/initramfs.img" --command-line="$cmdline" 2>"$dir/kexec.err" ||
	     kexec -l "$dir/vmlinuz" --initrd="$dir/initramfs.img" --command-line="$cmdline" 2>>"$dir/kexec.err"; then
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
say "falling back to a one-shot boot entry"
bootdir=/boot/anemos
mkdir -p "$bootdir" || die "cannot create $bootdir"
cp "$dir/vmlinuz" "$bootdir/vmlinuz" && cp "$dir/initramfs.img" "$bootdir/initramfs.img" ||
	die "cannot copy the kernel and initramfs to $bootdir (space?)"
sync
# The path of /boot/anemos as the bootloader sees it: relative to the file system holding it.
mnt=$(df -P "$bootdir" | awk 'NR == 2 { print $6 }')
rel=${bootdir#"$mnt"}
rel=/${rel#/}
set_entry=""
# extlinux / syslinux
for conf in /boot/extlinux/extlinux.conf /boot/syslinux/syslinux.cfg /boot/extlinux.conf; do
	[ -f "$conf" ] && command -v extlinux >/dev/null 2>&1 || continue
	sed -i '/^# anemos begin$/,/^# anemos end$/d' "$conf"
	printf '# anemos begin\nLABEL anemos-oneshot\n  KERNEL %s/vmlinuz\n  INITRD %s/initramfs.img\n  APPEND %s\n# anemos end\n' \
		"$rel" "$rel" "$cmdline" >>"$conf"
	extlinux --once=anemos-oneshot "$(dirname "$conf")" >/dev/null || die "extlinux --once failed"
	set_entry="extlinux: LABEL anemos-oneshot in $conf, booted once"
	break
done
# GRUB: custom.cfg is read by Debian's and most distributions' grub.cfg (41_custom).
if [ -z "$set_entry" ] && command -v grub-reboot >/dev/null 2>&1 && [ -d /boot/grub ]; then
	uuid=$(findmnt -n -o UUID --target "$bootdir" 2>/dev/null)
	[ -n "$uuid" ] || die "cannot tell the UUID of the file system of $bootdir for GRUB"
	sed -i '/^# anemos begin$/,/^# anemos end$/d' /boot/grub/custom.cfg 2>/dev/null
	printf "# anemos begin\nmenuentry 'anemos-oneshot' {\n  search --no-floppy --fs-uuid --set=root %s\n  linux %s/vmlinuz %s\n  initrd %s/initramfs.img\n}\n# anemos end\n" \
		"$uuid" "$rel" "$cmdline" "$rel" >>/boot/grub/custom.cfg
	grub-reboot anemos-oneshot || die "grub-reboot failed"
	set_entry="GRUB: menu entry anemos-oneshot in /boot/grub/custom.cfg, booted once (grub-reboot)"
fi
# UEFI without GRUB or extlinux: the kernel's EFI stub from the ESP, as BootNext.
if [ -z "$set_entry" ] && [ -d /sys/firmware/efi ] && command -v efibootmgr >/dev/null 2>&1; then
	esp=$(findmnt -n -o TARGET -t vfat /boot/efi 2>/dev/null || findmnt -n -o TARGET -t vfat /efi 2>/dev/null)
	[ -n "$esp" ] || die "UEFI, but no EFI system partition mounted at /boot/efi or /efi"
	mkdir -p "$esp/EFI/anemos"
	cp "$dir/vmlinuz" "$esp/EFI/anemos/vmlinuz.efi" && cp "$dir/initramfs.img" "$esp/EFI/anemos/initramfs.img" ||
		die "cannot copy the kernel and initramfs to the ESP (space?)"
	src=$(findmnt -n -o SOURCE --target "$esp")
	disk=/dev/$(basename "$(readlink -f "/sys/class/block/${src##*/}/..")")
	part=$(cat "/sys/class/block/${src##*/}/partition")
	efibootmgr -q -B -L Anemos >/dev/null 2>&1
	num=$(efibootmgr --create-only --disk "$disk" --part "$part" --label Anemos \
		--loader '\EFI\anemos\vmlinuz.efi' --unicode "initrd=\\EFI\\anemos\\initramfs.img $cmdline" |
		awk '/Anemos/ { sub(/^Boot/, "", $1); sub(/\*$/, "", $1); print $1; exit }')
	[ -n "$num" ] && efibootmgr -q --bootnext "$num" || die "efibootmgr could not set BootNext"
	set_entry="UEFI: Boot$num Anemos, BootNext"
fi
[ -n "$set_entry" ] || die "no way to boot the Anemos environment: kexec is not possible ($kexec_refused) \
and no GRUB (grub-reboot), extlinux or efibootmgr was found"
say "$set_entry; rebooting in 2 s (a failed boot falls back to the installed system)"
if [ -d /run/systemd/system ]; then detach systemctl reboot; else detach reboot; fi
exit 0

#!/bin/bash
# Builds the Anemos initramfs and puts the Debian kernel beside it:
#
#   initramfs/build.sh BUILD_DIR   ->  BUILD_DIR/boot/vmlinuz, BUILD_DIR/boot/initramfs.img
#
# Everything in the image comes from Debian packages fetched with `apt-get download` into
# BUILD_DIR/initramfs-cache/debs and unpacked with `dpkg -x` (never installed): the generic
# kernel and the modules real servers need, busybox-static, the disk tools an install needs,
# dropbear for rescue, and exactly the shared libraries those load. A later build reuses the
# cache and needs no network. anemos-agent and anemos-inventory come from BUILD_DIR (built by
# make), with their libraries taken from this (Debian 12) build host.
#
# Environment: ANEMOS_INITRAMFS_REFRESH=1 asks apt again which kernel linux-image-amd64 means
# and downloads packages newer than the cached ones.
set -eu

die() { echo "initramfs/build.sh: $*" >&2; exit 1; }
say() { echo "initramfs: $*" >&2; }

[ $# -eq 1 ] || die "usage: initramfs/build.sh BUILD_DIR"
SRC=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
BUILD=$(cd "$1" && pwd)
CACHE=$BUILD/initramfs-cache
DEBS=$CACHE/debs
PKGROOT=$CACHE/root      # every downloaded package unpacked, one tree
STAGE=$CACHE/stage       # the image's file tree
REFRESH=${ANEMOS_INITRAMFS_REFRESH:-0}
T0=$(date +%s)

for tool in dpkg-deb objdump zstd; do
	command -v "$tool" >/dev/null 2>&1 || die "needs '$tool' on the build host (packages dpkg, binutils, zstd)"
done
[ -x "$BUILD/anemos-agent" ] || die "$BUILD/anemos-agent is missing: build it first (make), then run make initramfs"

# --- packages --------------------------------------------------------------------------------
# Programs and the Debian packages that hold them and the libraries they load.
# Building recipe images on the target adds gpgv and Debian's keyring (the mirror's
# signature), dash (the shell the base scripts run in on a Debian build host: busybox's ash
# would run its own applets before any program on PATH), GNU tar (files/ over the root as
# anemos-mkimg copies it) and zstd (the image's own initrd). base=debootstrap adds
# debootstrap (its scripts, run by dash), perl, the perl binary alone (no modules:
# debootstrap's pkgdetails is perl code that loads none), and coreutils' chroot alone:
# busybox's chroot runs its own applet of a name before the chroot's program (its dpkg for
# the target's). busybox gives debootstrap wget, ar, xzcat, sha256sum and mount. dhcpcd
# (the binary alone, libc only) asks DHCPv6 where the carried network says dhcp6: busybox's
# udhcpc is DHCPv4 only.
TOOL_PKGS="busybox-static fdisk e2fsprogs dosfstools util-linux dropbear-bin extlinux syslinux-common
systemd-boot-efi gpgv debian-archive-keyring dash tar zstd debootstrap perl-base coreutils
ca-certificates dhcpcd-base"
LIB_PKGS="libc6 libfdisk1 libsmartcols1 libtinfo6 libreadline8 libext2fs2 libcom-err2 libblkid1
libuuid1 libtomcrypt1 libtommath1 libgmp10 zlib1g libcrypt1 libbz2-1.0 libgcrypt20 libgpg-error0
libacl1 libselinux1 libpcre2-8-0 libzstd1 liblzma5 liblz4-1"

# shellcheck source=../images/base/debian-packages.sh
. "$SRC/../images/base/debian-packages.sh"
KPKG=$(debian_kernel_package "$REFRESH")
debian_fetch "$REFRESH" "$KPKG" $TOOL_PKGS $LIB_PKGS
debian_unpack "$KPKG" $TOOL_PKGS $LIB_PKGS
KVER=${KPKG#linux-image-}
[ -f "$PKGROOT/boot/vmlinuz-$KVER" ] || die "kernel image boot/vmlinuz-$KVER not in $KPKG"
[ -d "$PKGROOT/lib/modules/$KVER/kernel" ] || die "modules of $KVER not in $KPKG"

# depmod of the downloaded busybox (static, runs on the build host): it writes modules.dep
# (full dependency lists) and modules.alias in the form the image's busybox modprobe reads,
# and needs no kmod on the build host.
run_depmod() { # ROOT
	"$PKGROOT/bin/busybox" depmod -b "$1" "$KVER"
}

# --- the tree ---------------------------------------------------------------------------------
rm -rf "$STAGE"
mkdir -p "$STAGE"
cd "$STAGE"
mkdir -p bin lib/x86_64-linux-gnu dev proc sys run tmp root/.ssh etc/udhcpc etc/dropbear \
	usr var/log mnt "lib/modules/$KVER"
ln -s lib lib64
ln -s bin sbin
ln -s ../bin usr/bin
ln -s ../bin usr/sbin
ln -s ../lib usr/lib
ln -s ../run var/run
chmod 1777 tmp
chmod 700 root root/.ssh
if [ "$(id -u)" = 0 ]; then  # the kernel opens /dev/console before /init mounts devtmpfs
	mknod -m 600 dev/console c 5 1
	mknod -m 666 dev/null c 1 3
fi

# find_in_pkgs NAME: path of a program in the unpacked packages.
find_in_pkgs() {
	local d
	for d in sbin usr/sbin bin usr/bin; do
		[ -e "$PKGROOT/$d/$1" ] && { echo "$PKGROOT/$d/$1"; return 0; }
	done
	return 1
}
# find_lib SONAME HOSTOK: a library from the unpacked packages, else (HOSTOK=1) from the host.
find_lib() {
	local d p
	for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64 lib usr/lib; do
		[ -e "$PKGROOT/$d/$1" ] && { echo "$PKGROOT/$d/$1"; return 0; }
	done
	if [ "$2" = 1 ]; then
		p=$(ldconfig -p 2>/dev/null | awk -v s="$1" '$1 == s && /x86-64/ { print $NF; exit }')
		[ -n "$p" ] && [ -e "$p" ] && { echo "$p"; return 0; }
	fi
	return 1
}
# add_libs FILE HOSTOK: copies every shared library FILE loads (DT_NEEDED, recursively).
add_libs() {
	local so src
	for so in $(objdump -p "$1" 2>/dev/null | awk '$1 == "NEEDED" { print $2 }'); do
		[ -e "lib/x86_64-linux-gnu/$so" ] && continue
		src=$(find_lib "$so" "$2") ||
			die "library $so (needed by $(basename "$1")) is in none of the downloaded packages: add its Debian package to LIB_PKGS in initramfs/build.sh"
		cp -L "$src" "lib/x86_64-linux-gnu/$so"
		add_libs "$src" "$2"
	done
}
# add_prog SRC [NAME] [HOSTOK]: a program into /bin with its libraries.
add_prog() {
	local name=${2:-$(basename "$1")}
	cp -L "$1" "bin/$name"
	chmod 755 "bin/$name"
	if head -c 4 "$1" | grep -q 'ELF'; then
		# Our own programs are built with -g: their debug info has no place in RAM.
		if [ "${3:-0}" = 1 ]; then strip --strip-unneeded "bin/$name" 2>/dev/null || true; fi
		add_libs "$1" "${3:-0}"
	fi
}

# busybox applets first, then the real tools replace the applets of the same name.
cp "$PKGROOT/bin/busybox" bin/busybox
for a in $("$PKGROOT/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -sf busybox "bin/$a"
done
for t in sfdisk mke2fs e2fsck tune2fs resize2fs mkfs.fat blkid wipefs dropbear dropbearkey dropbearconvert extlinux \
	gpgv dash tar zstd perl debootstrap chroot dhcpcd; do
	src=$(find_in_pkgs "$t") || die "program $t not found in the downloaded packages ($TOOL_PKGS)"
	rm -f "bin/$t"
	add_prog "$src" "$t"
done
for l in mkfs.ext4:mke2fs mkfs.ext3:mke2fs fsck.ext4:e2fsck mkfs.vfat:mkfs.fat mkdosfs:mkfs.fat; do
	rm -f "bin/${l%%:*}"; ln -s "${l#*:}" "bin/${l%%:*}"
done
cp "$PKGROOT/etc/mke2fs.conf" etc/mke2fs.conf
# The boot code the installer writes: syslinux's MBR (BIOS, with extlinux) and systemd-boot
# (UEFI, on the ESP's removable-media path). usr/lib is lib here.
mkdir -p lib/syslinux/mbr lib/systemd/boot/efi
cp "$PKGROOT/usr/lib/syslinux/mbr/mbr.bin" lib/syslinux/mbr/mbr.bin ||
	die "syslinux-common's mbr.bin missing"
cp "$PKGROOT/usr/lib/systemd/boot/efi/systemd-bootx64.efi" lib/systemd/boot/efi/ ||
	die "systemd-boot-efi's systemd-bootx64.efi missing"

# The CAs that https:// mirrors and images are checked against: Debian's (ca-certificates),
# joined into the one file libcurl reads, as update-ca-certificates makes it. deploy
# --mirror-ca adds the operator's to it at boot (/init).
mkdir -p etc/ssl/certs
cat "$PKGROOT"/usr/share/ca-certificates/mozilla/*.crt >etc/ssl/certs/ca-certificates.crt ||
	die "ca-certificates' certificates missing"
[ "$(grep -c -- '-----BEGIN CERTIFICATE-----' etc/ssl/certs/ca-certificates.crt)" -gt 50 ] ||
	die "ca-certificates: fewer than 50 CA certificates"

# What building a recipe on the target needs besides programs: Debian's archive keyring (the
# default for recipes that name none) and anemos-mkimg's base scripts, which the agent runs.
mkdir -p usr/share/keyrings usr/share/anemos/base
cp "$PKGROOT/usr/share/keyrings/debian-archive-keyring.gpg" usr/share/keyrings/ ||
	die "debian-archive-keyring's keyring missing"
for f in busybox.sh busybox-phone-home debootstrap.sh debian-packages.sh files.sh busybox-initrd.init; do
	cp "$SRC/../images/base/$f" usr/share/anemos/base/ || die "images/base/$f missing"
done
# The installed system's phone-home, the debian recipe's own, which the agent copies onto a
# systemd image that has none (PHONE_HOME_DIR in initramfs/agent/agent.h: same paths below).
for f in usr/local/sbin/anemos-phone-home etc/systemd/system/anemos-phone-home.service; do
	mkdir -p "usr/share/anemos/phone-home/${f%/*}"
	cp -p "$SRC/../images/debian/files/$f" "usr/share/anemos/phone-home/$f" || die "images/debian/files/$f missing"
done
# debootstrap's functions and suite scripts (symlinks to each other); with no dpkg here it
# reads the host architecture from its folder, as in Debian's installer.
mkdir -p usr/share/debootstrap
cp -a "$PKGROOT/usr/share/debootstrap/functions" "$PKGROOT/usr/share/debootstrap/scripts" usr/share/debootstrap/ ||
	die "debootstrap's /usr/share/debootstrap missing"
echo amd64 >usr/share/debootstrap/arch

# anemos-agent and anemos-inventory: built from this repository against the host's libraries.
add_prog "$BUILD/anemos-agent" anemos-agent 1
INVENTORY=""
if [ -x "$BUILD/anemos-inventory" ]; then
	INVENTORY=1
	add_prog "$BUILD/anemos-inventory" anemos-inventory 1
else
	say "note: $BUILD/anemos-inventory not built; the image carries anemos-agent only"
fi
# ICU's 30 MB data library comes in through libarchive -> libxml2 (xar only, which the agent
# never reads): an empty stand-in with the same SONAME and entry point keeps the image lean.
for icu in lib/x86_64-linux-gnu/libicudata.so.*; do
	[ -e "$icu" ] || continue
	sym=$(objdump -T "$icu" | awk '$NF ~ /^icudt[0-9]+_dat$/ { print $NF; exit }')
	[ -n "$sym" ] || die "no icudtNN_dat entry point in $icu"
	cc -shared -fPIC -O2 -s -Wl,-soname,"$(basename "$icu")" -DICU_DATA_SYMBOL="$sym" \
		-o "$icu" "$SRC/icu-stubdata.c" || die "cannot build the ICU stub data library (needs cc)"
done
# The dynamic loader at the path every program names (PT_INTERP /lib64/ld-linux-x86-64.so.2).
[ -e lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ] || die "ld-linux-x86-64.so.2 missing (libc6 not unpacked?)"
ln -s x86_64-linux-gnu/ld-linux-x86-64.so.2 lib/ld-linux-x86-64.so.2

# /init, configuration, accounts (root for dropbear: key logins only, no password).
install -m 755 "$SRC/init" init
install -m 755 "$SRC/udhcpc.script" etc/udhcpc/default.script
install -m 755 "$SRC/dhcpcd.hook" etc/dhcpcd.hook
install -m 644 "$SRC/dhcpcd.conf" etc/dhcpcd.conf
install -m 755 "$SRC/hostkeys.sh" bin/anemos-hostkeys
printf 'root:*:0:0:root:/root:/bin/sh\n' >etc/passwd
printf 'root:x:0:\ntty:x:5:\n' >etc/group
printf '/bin/sh\n/bin/ash\n' >etc/shells
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >etc/nsswitch.conf
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >etc/hosts
printf 'anemos\n' >etc/hostname
# anemos-agent partitions disks only where this marker is: inside this environment.
printf 'Anemos initramfs: anemos-agent may install onto local disks here.\n' >etc/anemos-initramfs
cat >etc/profile <<'EOF'
export PATH=/bin
export PS1='anemos:\w# '
[ -r /run/anemos/motd ] && cat /run/anemos/motd
EOF

# --- kernel modules ---------------------------------------------------------------------------
# What to carry, relative to lib/modules/VERSION/kernel: every network, storage and bus
# driver a server or a VM may boot with, the file systems an install writes, the IPMI
# driver (the agent reads the BMC's LAN settings in-band: /dev/ipmi0), and what those need. Dependencies are closed over with the full tree's modules.dep.
MODSEL="drivers/net/ethernet drivers/net/phy drivers/net/pcs drivers/net/mdio drivers/net/usb
drivers/net/vmxnet3 drivers/net/hyperv drivers/net/virtio_net.ko drivers/net/xen-netfront.ko
drivers/net/mii.ko drivers/net/mdio.ko
drivers/block drivers/nvme/host/nvme.ko drivers/ata drivers/scsi drivers/message/fusion drivers/virtio
drivers/hv drivers/pci/controller drivers/usb/common drivers/usb/core drivers/usb/host
drivers/usb/storage drivers/hid/usbhid drivers/hid/hid.ko drivers/hid/hid-generic.ko
drivers/char/hw_random/virtio-rng.ko drivers/cdrom
drivers/char/ipmi/ipmi_msghandler.ko drivers/char/ipmi/ipmi_si.ko drivers/char/ipmi/ipmi_devintf.ko
drivers/char/ipmi/ipmi_ssif.ko
fs/ext4 fs/jbd2 fs/mbcache.ko fs/fat fs/efivarfs fs/nls/nls_cp437.ko fs/nls/nls_iso8859-1.ko
fs/nls/nls_utf8.ko crypto/crc32c_generic.ko arch/x86/crypto/crc32c-intel.ko lib/libcrc32c.ko"
# Left out: Fibre Channel and iSCSI offload HBAs (SAN boot; most need firmware files this image
# does not carry), network block devices, PCMCIA cards.
MODSKIP='^kernel/drivers/scsi/(qla2xxx|qla4xxx|bfa|qedf|qedi|bnx2fc|bnx2i|cxgbi|be2iscsi|csiostor|fcoe|fnic|snic|lpfc|libfc|pcmcia)/
^kernel/drivers/scsi/.*iscsi
^kernel/drivers/block/(drbd|rbd|rnbd|zram|null_blk|aoe|pktcdvd|floppy)
_cs\.ko$
^kernel/drivers/ata/pata_pcmcia'
FULL=$PKGROOT/lib/modules/$KVER
if [ ! -s "$FULL/modules.dep" ] || [ "$FULL/modules.dep" -ot "$FULL/modules.order" ]; then
	run_depmod "$PKGROOT" || die "depmod over the full module tree failed"
fi
modlist=$CACHE/modules.list
(
	cd "$FULL"
	for s in $MODSEL; do
		[ -e "kernel/$s" ] || { echo "initramfs: note: kernel/$s not in $KVER" >&2; continue; }
		find "kernel/$s" -name '*.ko*'
	done
) | grep -vE "$MODSKIP" | sort -u >"$modlist.want"
# Close over dependencies: modules.dep lines are "kernel/x.ko: kernel/dep.ko ...".
awk -F': ?' 'NR == FNR { want[$1] = 1; next }
	($1 in want) { print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i] }' \
	"$modlist.want" "$FULL/modules.dep" | sort -u >"$modlist"
(cd "$FULL" && tar -cf - -T "$modlist") | tar -xf - -C "lib/modules/$KVER"
# Modules compressed by a future kernel package: busybox modprobe loads plain .ko only.
find "lib/modules/$KVER" -name '*.ko.xz' -exec xz -d {} +
find "lib/modules/$KVER" -name '*.ko.zst' -exec zstd -q -d --rm {} +
cp "$FULL/modules.order" "$FULL/modules.builtin" "lib/modules/$KVER/"
[ -e "$FULL/modules.builtin.modinfo" ] && cp "$FULL/modules.builtin.modinfo" "lib/modules/$KVER/"
run_depmod "$STAGE" || die "depmod over the image's modules failed"
nmods=$(wc -l <"$modlist")

# Every program must start with exactly the libraries in the image: try them in a chroot of a
# throwaway copy (some write files such as /dev/urandom where no devtmpfs is mounted).
if [ "$(id -u)" = 0 ]; then
	rm -rf "$CACHE/check"
	cp -a "$STAGE" "$CACHE/check"
	for t in "anemos-agent --help" "dropbear -V" "dropbearkey -h" "mke2fs -V" "e2fsck -V" \
		"tune2fs -l /dev/null" "extlinux --version" "sfdisk --version" "blkid -V" "wipefs --version" "mkfs.fat --help" \
		"gpgv --version" "tar --version" "zstd --version" "dash -c true" "perl -e 1" \
		"dash /bin/debootstrap --version" "chroot --version" "dhcpcd --version" \
		"busybox true" ${INVENTORY:+"anemos-inventory --help"}; do
		# shellcheck disable=SC2086
		out=$(chroot "$CACHE/check" /bin/$t 2>&1 </dev/null) ||
			if printf '%s' "$out" | grep -qE 'error while loading shared libraries|not found|No such file'; then
				die "/bin/${t%% *} does not start in the image: $out"
			fi
	done
	rm -rf "$CACHE/check"
fi

# --- the archive -------------------------------------------------------------------------------
# A reproducible cpio (fixed times, owner root, renumbered inodes): an unchanged tree reuses
# the last compressed image, since zstd -19 is most of a build's time.
mkdir -p "$BUILD/boot"
cp "$PKGROOT/boot/vmlinuz-$KVER" "$BUILD/boot/vmlinuz.tmp"
mv "$BUILD/boot/vmlinuz.tmp" "$BUILD/boot/vmlinuz"
usize=$(du -sb --apparent-size . | cut -f1)
find . -exec touch -h -d @946684800 {} +
find . -mindepth 1 | LC_ALL=C sort |
	"$PKGROOT/bin/busybox" cpio -o -H newc -R 0:0 --renumber-inodes 2>/dev/null >"$CACHE/image.cpio"
sum=$(sha256sum <"$CACHE/image.cpio" | cut -d' ' -f1)
if [ -s "$CACHE/image.cpio.zst" ] && [ "$(cat "$CACHE/image.cpio.sha256" 2>/dev/null)" = "$sum" ]; then
	say "image contents unchanged: reusing the compressed image"
else
	rm -f "$CACHE/image.cpio.sha256"
	zstd -q -19 -T0 -f "$CACHE/image.cpio" -o "$CACHE/image.cpio.zst"
	echo "$sum" >"$CACHE/image.cpio.sha256"
fi
rm -f "$CACHE/image.cpio"
cp "$CACHE/image.cpio.zst" "$BUILD/boot/initramfs.img.tmp"
mv "$BUILD/boot/initramfs.img.tmp" "$BUILD/boot/initramfs.img"
csize=$(stat -c %s "$BUILD/boot/initramfs.img")
ksize=$(stat -c %s "$BUILD/boot/vmlinuz")
echo "initramfs: $BUILD/boot/initramfs.img $csize bytes ($((csize / 1048576)) MiB zstd; $((usize / 1048576)) MiB unpacked, $nmods modules), kernel $KVER $BUILD/boot/vmlinuz $ksize bytes, built in $(($(date +%s) - T0)) s"

# shellcheck shell=dash
# base=busybox for anemos-mkimg: a root file system assembled from Debian packages that are
# downloaded (apt-get download, or fetched from a verified mirror on the target) and unpacked
# (dpkg-deb -x), never installed: the generic Debian
# kernel with only the modules the recipe names (and what those need), busybox-static as the
# whole userland, the recipe's extra `packages` unpacked as they are (no dependencies, no
# maintainer scripts), /usr/lib/anemos/phone-home (base/busybox-phone-home, which a recipe's
# /sbin/init runs to report in to anemosd, the token on no command line), and /boot/initrd.img:
# a small busybox initramfs that loads the image's modules by modalias, finds root=UUID=...
# and switch_roots to /sbin/init.
#
# Sourced by anemos-mkimg's steps (sh -c '. base/busybox.sh; base_STEP') with ROOT, CACHE,
# RECIPE, RECIPE_DIR, MKIMG_WORK and the recipe's variables (name, packages, modules) in the
# environment. Downloads are cached under $CACHE/debs: a second build needs no network.
# ANEMOS_MKIMG_REFRESH=1 asks apt again which kernel linux-image-amd64 means.
#
# anemos-agent runs the same steps on the target, in the Anemos initramfs (busybox, GNU tar,
# zstd), with ROOT the mounted target disk and $CACHE/debs already filled with packages it
# fetched from the recipe's mirror and verified (ANEMOS_OFFLINE=1: nothing is downloaded
# here). Everything below therefore uses only what both places have: busybox's depmod and
# cpio from the busybox-static package itself, dpkg-deb -x, no install(1).

set -eu
BASE_DIR=$(dirname "$MKIMG_BASE")
DEBS=$CACHE/debs
PKGROOT=$CACHE/busybox-root   # every downloaded package unpacked once, one tree

die() { echo "base busybox: $*" >&2; exit 1; }
say() { echo "base busybox: $*" >&2; }

# shellcheck source=debian-packages.sh
. "$BASE_DIR/debian-packages.sh"
# shellcheck source=files.sh
. "$BASE_DIR/files.sh"
# The kernel version the image carries (set by base_build, read back by later steps).
kernel_version() { ls -1 "$ROOT/lib/modules" 2>/dev/null | head -n 1; }
# busybox's depmod, whatever the build host has: the same modules.dep on every build host
# and on the target (busybox's modprobe reads it). It writes in the order it reads the
# folders, which differs from one file system to the next: sorted, the same modules always
# give the same files.
run_depmod() { # ROOT VERSION
	local f
	"$PKGROOT/bin/busybox" depmod -b "$1" "$2" || return 1
	for f in modules.dep modules.alias modules.symbols; do
		f=$1/lib/modules/$2/$f
		[ -f "$f" ] || continue
		LC_ALL=C sort "$f" >"$f.sorted" && mv "$f.sorted" "$f" || return 1
	done
}

# module_paths FULL NAMES: the modules the words of NAMES name (as modprobe would: '-' and '_'
# alike) and every module they need, one path a line as modules.dep writes them (kernel/...),
# sorted; a note for a name that is no module of this kernel (built in?). What a module needs
# is its own .modinfo's depends=, read from the few modules taken, closed over: depmod would
# read all of the kernel's 4,000-odd modules first, minutes on a target without KVM. Fails
# when a module cannot be read.
module_paths() {
	local full=$1 queue seen mod path next list=$MKIMG_WORK/modules.list
	(cd "$full" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst') |
		awk '{ f = $0; sub(/^.*\//, "", f); sub(/\.ko(\.xz|\.zst)?$/, "", f); gsub(/-/, "_", f); print f, $0 }' \
		>"$MKIMG_WORK/modules.index" || return 1
	set -f   # the names are words, never patterns
	queue=$(printf '%s\n' "$2" | tr - _)
	seen=" "
	: >"$list"
	while [ -n "$queue" ]; do
		next=""
		for mod in $queue; do
			case $seen in *" $mod "*) continue ;; esac
			seen="$seen$mod "
			path=$(awk -v n="$mod" '$1 == n { print $2; exit }' "$MKIMG_WORK/modules.index")
			if [ -z "$path" ]; then
				say "note: module $mod is not a module of this kernel (built in?)"
				continue
			fi
			echo "$path" >>"$list"
			module_depends "$full/$path" >"$MKIMG_WORK/module.depends" || { set +f; return 1; }
			next="$next $(cat "$MKIMG_WORK/module.depends")"
		done
		queue=$next
	done
	set +f
	LC_ALL=C sort -u "$list"
}
# module_depends FILE: by name, the modules that FILE (a module, compressed or not) depends on.
module_depends() {
	local ko=$MKIMG_WORK/module.ko
	case $1 in
	*.xz) xz -dc "$1" >"$ko" || return 1 ;;
	*.zst) zstd -q -dc "$1" >"$ko" || return 1 ;;
	*) ko=$1 ;;
	esac
	[ -r "$ko" ] || { say "cannot read module $1"; return 1; }
	tr '\0' '\n' <"$ko" | sed -n 's/^depends=\([A-Za-z0-9_,-]*\)$/\1/p' | head -n 1 | tr ',-' ' _'
}

# The base system: packages fetched and unpacked, the tree laid out, modules selected.
base_build() {
	local kpkg p kver full want
	command -v dpkg-deb >/dev/null 2>&1 || die "needs dpkg-deb on the build host (package dpkg)"
	umask 022
	kpkg=$(debian_kernel_package "${ANEMOS_MKIMG_REFRESH:-0}")
	debian_fetch 0 "$kpkg" busybox-static ${packages:-}
	debian_unpack "$kpkg" busybox-static
	kver=${kpkg#linux-image-}
	full=$PKGROOT/lib/modules/$kver
	[ -f "$PKGROOT/boot/vmlinuz-$kver" ] || die "kernel image boot/vmlinuz-$kver not in $kpkg"
	[ -d "$full/kernel" ] || die "modules of $kver not in $kpkg"

	cd "$ROOT"
	mkdir -p bin sbin usr/bin usr/sbin lib etc/anemos dev proc sys run tmp mnt root var/log boot \
		"lib/modules/$kver"
	ln -s ../run var/run
	chmod 1777 tmp
	chmod 700 root
	if [ "$(id -u)" = 0 ]; then  # the kernel opens /dev/console before anything mounts devtmpfs
		mknod -m 600 dev/console c 5 1
		mknod -m 666 dev/null c 1 3
	fi
	cp "$PKGROOT/bin/busybox" bin/busybox
	for p in $("$PKGROOT/bin/busybox" --list); do
		[ "$p" = busybox ] || ln -sf busybox "bin/$p"
	done
	mkdir -p usr/lib/anemos
	cp "$BASE_DIR/busybox-phone-home" usr/lib/anemos/phone-home
	chmod 755 usr/lib/anemos/phone-home
	cp "$PKGROOT/boot/vmlinuz-$kver" boot/vmlinuz
	cp "$PKGROOT/boot/config-$kver" "boot/config-$kver" 2>/dev/null || true
	printf 'root:*:0:0:root:/root:/bin/sh\n' >etc/passwd
	printf 'root:x:0:\ntty:x:5:\n' >etc/group
	printf '/bin/sh\n/bin/ash\n' >etc/shells
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >etc/hosts
	# shellcheck disable=SC2154 # name: the recipe's, in the environment
	printf '%s\n' "$name" >etc/hostname
	for p in ${packages:-}; do
		dpkg-deb -x "$(cached_deb "$p")" "$ROOT" || die "dpkg-deb -x of package $p failed"
	done

	# Modules: the recipe names them (as modprobe would); module_paths adds what they need.
	want=$MKIMG_WORK/modules.want
	module_paths "$full" "${modules:-}" >"$want" || die "cannot work out the modules the image takes"
	(cd "$full" && tar -cf - -T "$want") | tar -xf - -C "lib/modules/$kver"
	find "lib/modules/$kver" -name '*.ko.xz' -exec xz -d {} +
	find "lib/modules/$kver" -name '*.ko.zst' -exec zstd -q -d --rm {} +
	cp "$full/modules.order" "$full/modules.builtin" "lib/modules/$kver/"
	[ -e "$full/modules.builtin.modinfo" ] && cp "$full/modules.builtin.modinfo" "lib/modules/$kver/"
	run_depmod "$ROOT" "$kver" || die "depmod over the image's modules failed"
	say "kernel $kver, $(wc -l <"$want") modules, busybox $("$PKGROOT/bin/busybox" | head -n 1 | awk '{ print $2 }')"
}

# Nothing to install beyond what base_build unpacked.
base_packages() { :; }

# The recipe's provision function runs on the build host, with ROOT naming the image's root.
base_provision() {
	cd "$ROOT"
	# shellcheck disable=SC1090
	. "$RECIPE"
	provision
}

# /boot/initrd.img from the finished tree: its busybox, its modules (after provision and
# files/ may have changed them) and the small init in base/busybox-initrd.init. A
# reproducible cpio (fixed times, owner root, no inode or device numbers of the file system
# it was built on): an unchanged tree reuses the last compressed one.
base_finish() {
	local kver stage sum bb
	kver=$(kernel_version)
	[ -n "$kver" ] || die "no lib/modules/VERSION in the image"
	run_depmod "$ROOT" "$kver" || die "depmod over the image's modules failed"
	stage=$MKIMG_WORK/initrd
	rm -rf "$stage"
	mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/run" "$stage/newroot" "$stage/lib/modules"
	bb=$ROOT/bin/busybox
	[ -x "$bb" ] || bb=$PKGROOT/bin/busybox
	cp "$bb" "$stage/bin/busybox"
	for p in $("$stage/bin/busybox" --list); do
		[ "$p" = busybox ] || ln -sf busybox "$stage/bin/$p"
	done
	ln -s bin "$stage/sbin"
	cp -a "$ROOT/lib/modules/$kver" "$stage/lib/modules/"
	cp "$BASE_DIR/busybox-initrd.init" "$stage/init"
	chmod 755 "$stage/init"
	# No device nodes: the cpio carries no device numbers (--ignore-devno would zero theirs);
	# the init mounts devtmpfs before it opens anything.
	(
		cd "$stage"
		find . -exec touch -h -d @946684800 {} +
		find . -mindepth 1 | LC_ALL=C sort |
			"$PKGROOT/bin/busybox" cpio -o -H newc -R 0:0 --renumber-inodes --ignore-devno 2>/dev/null >"$MKIMG_WORK/initrd.cpio"
	)
	sum=$(sha256sum <"$MKIMG_WORK/initrd.cpio" | cut -d' ' -f1)
	if [ "$(cat "$CACHE/initrd-$name.sha256" 2>/dev/null)" != "$sum" ] || [ ! -s "$CACHE/initrd-$name.zst" ]; then
		rm -f "$CACHE/initrd-$name.sha256"
		zstd -q -9 -T0 -f "$MKIMG_WORK/initrd.cpio" -o "$CACHE/initrd-$name.zst"
		echo "$sum" >"$CACHE/initrd-$name.sha256"
	fi
	rm -f "$MKIMG_WORK/initrd.cpio" "$ROOT/boot/initrd.img"
	rm -rf "$stage"
	cp "$CACHE/initrd-$name.zst" "$ROOT/boot/initrd.img"
}

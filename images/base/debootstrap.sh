# shellcheck shell=dash
# base=debootstrap for anemos-mkimg: a minimal Debian (debootstrap --variant=minbase) from the
# mirror the build host's own apt uses, the recipe's packages installed with apt-get inside
# the chroot, the recipe's provision function run inside the chroot (with ROOT=/).
#
# Sourced by anemos-mkimg's steps (sh -c '. base/debootstrap.sh; base_STEP') with ROOT, CACHE,
# RECIPE, RECIPE_DIR, MKIMG_WORK and the recipe's variables (name, packages, suite) in the
# environment. Downloaded packages are kept in $CACHE/debootstrap-debs and $CACHE/apt-archives.
# ANEMOS_MIRROR overrides the mirror read from /etc/apt/sources.list(.d).
#
# anemos-agent runs the same steps on the target, in the Anemos initramfs, with ROOT the
# mounted target disk, ANEMOS_MIRROR the mirror it verified and ANEMOS_KEYRING the recipe's
# keyring (an absolute path): debootstrap checks the mirror against that keyring and apt in
# the chroot trusts it. There busybox stands in for coreutils, wget and ar (its dpkg-deb
# cannot --fsys-tarfile), /bin/sh is busybox ash, there is no dpkg and no apt sources, and
# /etc/resolv.conf exists only when DHCP named DNS servers.

set -eu
suite=${suite:-bookworm}

die() { echo "base debootstrap: $*" >&2; exit 1; }
say() { echo "base debootstrap: $*" >&2; }
# shellcheck source=files.sh
. "$(dirname "$MKIMG_BASE")/files.sh"

# host_uri SUITE: the URI of the first "deb" source of the build host that carries SUITE, in
# either the one-line (.list) or the deb822 (.sources) format.
host_uri() {
	{
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk -v s="$1" '$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) { print $i; exit } }' "$f"
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			awk -v s="$1" 'BEGIN { RS = "" } {
				n = split($0, line, "\n"); deb = 0; ok = 0; uri = ""
				for (i = 1; i <= n; i++) {
					if (line[i] ~ /^Types:/ && line[i] ~ /[ \t]deb([ \t]|$)/) deb = 1
					if (line[i] ~ /^URIs:/) { split(line[i], u, /[ \t]+/); uri = u[2] }
					if (line[i] ~ /^Suites:/) { m = split(line[i], w, /[ \t]+/); for (j = 2; j <= m; j++) if (w[j] == s) ok = 1 }
				}
				if (deb && ok && uri != "") { print uri; exit } }' "$f"
		done
	} | head -n 1
}
mirror() {
	local m=${ANEMOS_MIRROR:-$(host_uri "$suite")}
	[ -n "$m" ] || die "no apt source for $suite in /etc/apt/sources.list(.d): set ANEMOS_MIRROR"
	echo "$m"
}

# The chroot's kernel file systems and the shared package cache, mounted for the step that
# calls this and unmounted when it exits (anemos-mkimg also detaches leftovers of a crash).
chroot_mount() {
	mkdir -p "$CACHE/apt-archives/partial"
	mount -t proc proc "$ROOT/proc"
	mount -t sysfs sysfs "$ROOT/sys"
	mount --bind /dev "$ROOT/dev"
	mkdir -p "$ROOT/dev/pts"
	mount --bind /dev/pts "$ROOT/dev/pts"
	mount --bind "$CACHE/apt-archives" "$ROOT/var/cache/apt/archives"
	trap chroot_umount EXIT
}
chroot_umount() {
	for m in var/cache/apt/archives dev/pts dev sys proc; do
		umount -l "$ROOT/$m" 2>/dev/null || true
	done
}
in_chroot() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

base_build() {
	local m ds sh=/bin/sh
	ds=$(command -v debootstrap) || die "needs debootstrap on the build host (apt-get install debootstrap)"
	m=$(mirror)
	mkdir -p "$CACHE/debootstrap-debs"
	set -- --variant=minbase --cache-dir="$CACHE/debootstrap-debs"
	# The recipe's keyring (on the target); else debootstrap's default, Debian's archive keyring.
	if [ -n "${ANEMOS_KEYRING:-}" ]; then
		[ -r "$ANEMOS_KEYRING" ] || die "the keyring $ANEMOS_KEYRING is missing"
		set -- "$@" --keyring="$ANEMOS_KEYRING"
	fi
	# busybox's dpkg-deb (the Anemos initramfs) has no --fsys-tarfile: unpack with ar instead.
	dpkg-deb --version >/dev/null 2>&1 || set -- "$@" --extractor=ar
	# debootstrap is a #!/bin/sh script; in the Anemos initramfs that is busybox ash, which
	# runs its own applets (tar...) before the programs on PATH: dash runs it as on Debian.
	[ -x /bin/dash ] && sh=/bin/dash
	say "debootstrap --variant=minbase $suite from $m"
	# Its second stage runs dpkg in the chroot with this PATH, and dpkg wants the sbin folders
	# (ldconfig, start-stop-daemon): the Anemos initramfs has PATH=/bin.
	PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin "$sh" "$ds" "$@" "$suite" "$ROOT" "$m" >&2 ||
		die "debootstrap failed (see $ROOT/debootstrap/debootstrap.log)"
}

# apt_source URI: the sources.list line of the mirror. With ANEMOS_KEYRING (the recipe's key,
# which may sign a private mirror) the key is installed as /etc/apt/keyrings/anemos-recipe.gpg
# and apt trusts it for this mirror alone (signed-by). It stays in the installed system on
# purpose: the system keeps using this mirror (its sources.list) for updates and packages.
# Debian's own archive keyring needs no copy: the debian-archive-keyring package installs it
# and keeps it current.
apt_source() {
	local k=/etc/apt/keyrings/anemos-recipe.gpg
	if [ -z "${ANEMOS_KEYRING:-}" ] || [ "$ANEMOS_KEYRING" = /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		cmp -s "$ANEMOS_KEYRING" "$ROOT/usr/share/keyrings/debian-archive-keyring.gpg"; then
		echo "deb $1 $suite main"
		return 0
	fi
	mkdir -p "$ROOT/etc/apt/keyrings"
	cp "$ANEMOS_KEYRING" "$ROOT$k"
	chmod 644 "$ROOT$k"
	echo "deb [signed-by=$k] $1 $suite main"
}

base_packages() {
	local m u
	m=$(mirror)
	apt_source "$m" >"$ROOT/etc/apt/sources.list"
	{
		u=$(host_uri "$suite-updates") && [ -n "$u" ] && echo "deb $u $suite-updates main"
		u=$(host_uri "$suite-security") && [ -n "$u" ] && echo "deb $u $suite-security main"
	} >>"$ROOT/etc/apt/sources.list"
	# No daemons start inside the build; Debian keeps /boot/vmlinuz and /boot/initrd.img
	# pointing at the newest kernel, now and on every later kernel upgrade.
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	printf 'do_symlinks = yes\nlink_in_boot = yes\n' >"$ROOT/etc/kernel-img.conf"
	# shellcheck disable=SC2154 # name: the recipe's, in the environment
	printf '%s\n' "$name" >"$ROOT/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$ROOT/etc/hosts"
	rm -f "$ROOT/etc/resolv.conf"
	# The names of the mirror resolve as here (none needed for a mirror named by address).
	if [ -e /etc/resolv.conf ]; then cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"; fi
	chroot_mount
	in_chroot apt-get update -q >&2 || die "apt-get update in the chroot failed"
	# shellcheck disable=SC2086
	in_chroot apt-get install -y -q --no-install-recommends ${packages:-} >&2 ||
		die "apt-get install ${packages:-} in the chroot failed"
}

base_provision() {
	cp "$RECIPE" "$ROOT/tmp/anemos-recipe"
	chroot_mount
	in_chroot ROOT=/ /bin/sh -c 'set -e; cd /; . /tmp/anemos-recipe; provision'
	rm -f "$ROOT/tmp/anemos-recipe"
}

base_finish() {
	local k
	cd "$ROOT"
	# Debian made the links (link_in_boot); make them for a kernel that came another way.
	for k in vmlinuz initrd.img; do
		[ -e "boot/$k" ] && continue
		latest=$(ls -1 boot/"$k"-* 2>/dev/null | sort -V | tail -n 1)
		[ -n "$latest" ] || die "no /boot/$k-* in the image: add linux-image-amd64 and initramfs-tools to packages"
		ln -sf "${latest#boot/}" "boot/$k"
	done
	rm -f usr/sbin/policy-rc.d
	# Each installed machine makes its own identity at first boot.
	: >etc/machine-id
	rm -f var/lib/dbus/machine-id
	if [ -e lib/systemd/systemd-resolved ] || [ -e usr/lib/systemd/systemd-resolved ]; then
		ln -sf ../run/systemd/resolve/stub-resolv.conf etc/resolv.conf
	else
		rm -f etc/resolv.conf
	fi
	rm -rf var/lib/apt/lists/* var/cache/apt/*.bin tmp/* var/tmp/* debootstrap
	find var/log -type f -exec truncate -s 0 {} +
}

# shellcheck shell=dash
# Debian packages without installing them, shared by initramfs/build.sh and base=busybox:
# `apt-get download` into a cache ($DEBS), `dpkg-deb -x` once each into one tree ($PKGROOT).
# A later build finds everything in the cache and needs no network. Sourced (POSIX sh); the
# caller defines DEBS, PKGROOT, die and say. With ANEMOS_OFFLINE=1 (anemos-agent on the
# target, which filled $DEBS from a verified mirror, kernel-package included) nothing is
# downloaded: a package missing from the cache is an error.

# cached_deb NAME: the newest cached .deb of package NAME, if any.
cached_deb() { ls -1 "$DEBS/$1"_*.deb 2>/dev/null | sort -V | tail -n 1; }

# A fresh machine may have no package index yet: refresh it once (as root) and retry.
APT_UPDATED=0
apt_update_once() {
	[ "$APT_UPDATED" = 0 ] && [ "$(id -u)" = 0 ] || return 1
	APT_UPDATED=1
	say "refreshing the package index (apt-get update)"
	apt-get update -qq >&2
}

apt_download() { # NAME...: fetch into the cache
	[ "${ANEMOS_OFFLINE:-0}" != 1 ] || die "package $* is not among those fetched from the mirror"
	(cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null) && return 0
	apt_update_once && (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null) && return 0
	die "apt-get download $* failed: is the package index there (apt-get update) and the registry reachable?"
}

kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

# debian_kernel_package REFRESH: prints the concrete kernel package behind linux-image-amd64,
# resolved once and remembered in the cache for offline rebuilds (REFRESH=1 asks apt again).
debian_kernel_package() {
	local kpkg
	mkdir -p "$DEBS"
	if [ "${ANEMOS_OFFLINE:-0}" = 1 ]; then
		[ -s "$DEBS/kernel-package" ] || die "no kernel package was fetched from the mirror"
	elif [ "$1" = 1 ] || [ ! -s "$DEBS/kernel-package" ] || [ -z "$(cached_deb "$(cat "$DEBS/kernel-package")")" ]; then
		kpkg=$(kernel_package)
		[ -n "$kpkg" ] || { apt_update_once && kpkg=$(kernel_package); } || true
		[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package: run apt-get update first"
		echo "$kpkg" >"$DEBS/kernel-package"
	fi
	cat "$DEBS/kernel-package"
}

# debian_fetch REFRESH NAME...: downloads the packages not cached yet (REFRESH=1: all).
debian_fetch() {
	local refresh=$1 missing="" p
	shift
	mkdir -p "$DEBS"
	for p in "$@"; do
		if [ "$refresh" = 1 ] || [ -z "$(cached_deb "$p")" ]; then missing="$missing $p"; fi
	done
	[ -n "$missing" ] || return 0
	say "downloading:$missing"
	# shellcheck disable=SC2086
	apt_download $missing
}

# debian_unpack NAME...: unpacks each package's newest .deb into $PKGROOT, once; a newer
# version (after a refresh) unpacks over the old.
debian_unpack() {
	local p deb mark
	mkdir -p "$PKGROOT/.unpacked"
	for p in "$@"; do
		deb=$(cached_deb "$p")
		[ -n "$deb" ] || die "no .deb for $p in $DEBS"
		mark=$PKGROOT/.unpacked/$(basename "$deb")
		[ -e "$mark" ] && continue
		dpkg-deb -x "$deb" "$PKGROOT" || die "dpkg-deb -x $deb failed"
		: >"$mark"
	done
}

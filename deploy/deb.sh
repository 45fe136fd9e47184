#!/bin/sh
# `make deb`: the Debian package anemos, built with debhelper (debian/) by dpkg-buildpackage
# in a copy of the tree's files (git ls-files) under BUILD/deb/, so that the tree keeps no
# build products of it; the Anemos kernel and initramfs come from BUILD/boot (make initramfs).
# Then lintian checks it, informational tags too (every tag it still reports is overridden,
# with the reason, in debian/anemos.lintian-overrides); the package lands in
# BUILD/anemos_VERSION_amd64.deb.
# Usage: deploy/deb.sh [BUILD]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
for f in vmlinuz initramfs.img; do
	[ -s "$build/boot/$f" ] || { echo "make deb: $build/boot/$f missing (make initramfs)" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
deb=anemos_${version}_amd64.deb
work=$build/deb
rm -rf "$work"
mkdir -p "$work/anemos/debian/boot"
git ls-files -z --cached --others --exclude-standard |
	tar --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work/anemos"
cp "$build/boot/vmlinuz" "$build/boot/initramfs.img" "$work/anemos/debian/boot/"
echo "make deb: dpkg-buildpackage in $work/anemos (log: $work/build.log)"
if ! (cd "$work/anemos" && dpkg-buildpackage -b -us -uc -j2) >"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	echo "make deb: dpkg-buildpackage failed (whole log: $work/build.log)" >&2
	exit 1
fi
echo "make deb: lintian $deb"
lintian --fail-on error,warning,info --display-info "$work/$deb" >"$work/lintian.log" 2>&1 || {
	cat "$work/lintian.log" >&2
	echo "make deb: lintian found problems in $work/$deb" >&2
	exit 1
}
cat "$work/lintian.log"
cp "$work/$deb" "$build/$deb"
echo "make deb: $build/$deb ($(du -h "$build/$deb" | cut -f1))"
echo "install it: apt install $build/$deb    then: anemos-setup --interface IF --mode proxy|dhcp"

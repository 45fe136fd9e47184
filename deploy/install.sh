#!/bin/sh
# Installs the Anemos appliance on a Debian 12 host from a built tree (make && make initramfs),
# without the Debian package (`make deb`, then `apt install ./anemos_*.deb` and anemos-setup,
# is the other way):
#   user       anemos (systemd-sysusers)
#   programs   /usr/local/sbin/anemosd and anemos-setup, /usr/local/bin/anemosctl,
#              anemos-inventory, anemos-mkimg
#   files      /usr/local/share/anemos/{boot,ipxe-scripts,web,cache}, tftp-root.sh there
#   units      anemosd, anemos-dnsmasq, anemos-tftpd and anemos-cache .service in
#              /etc/systemd/system
# then runs the installed anemos-setup with the other options: the runtime packages, the
# settings, the TFTP root, the first admin token, and the units enabled and started (see
# anemos-setup --help). Idempotent: a second run with the same settings changes nothing and
# says so. --root DIR installs into another Debian tree (a chroot).
#
#   deploy/install.sh --interface eno2 --mode proxy            # beside the site's DHCP server
#   deploy/install.sh --interface eno2 --mode dhcp --range 192.0.2.100,192.0.2.199
set -eu

usage() {
	cat <<'EOF'
usage: deploy/install.sh [--root DIR] [--build DIR] [--no-start] ANEMOS-SETUP-OPTIONS
  --root DIR    install into the Debian tree DIR instead of / (nothing is started)
  --build DIR   where the built programs are (default: build, beside this script's folder)
  --no-start    enable the units but do not (re)start them
The other options go to anemos-setup:
EOF
	sed -n '/^usage() {/,/^EOF/p' "$SRC/deploy/anemos-setup" | sed -e '1,2d' -e '$d'
}

die() { echo "anemos install: $*" >&2; exit 1; }
say() { echo "anemos install: $*"; }

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=/
BUILD=$SRC/build
START=1
# The other options, each quoted for the shell (set again with eval below).
SETUP_ARGS=""
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
while [ $# -gt 0 ]; do
	case $1 in
	--root) ROOT=${2:?--root needs a folder}; shift ;;
	--build) BUILD=${2:?--build needs a folder}; shift ;;
	--no-start) START=0 ;;
	-h|--help) usage; exit 0 ;;
	*) SETUP_ARGS="$SETUP_ARGS $(quote "$1")" ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages, a user and system units)"
ROOT=$(cd "$ROOT" && pwd) || die "no folder $ROOT"
R=${ROOT%/}   # prefix for paths inside the target: "" for /
[ -r "$R/etc/debian_version" ] || die "$ROOT is not a Debian system (no /etc/debian_version)"
for f in anemosd anemosctl anemos-inventory anemos-mkimg boot/vmlinuz boot/initramfs.img; do
	[ -s "$BUILD/$f" ] || die "$BUILD/$f missing: build first (make && make initramfs)"
done

CHANGED=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
# put SRC DEST MODE: installs a file when its content or mode differs; says which it changed.
put() {
	if [ -f "$2" ] && cmp -s "$1" "$2" && [ "$(stat -c %a "$2")" = "$(printf '%o' "0$3")" ]; then
		return 0
	fi
	mkdir -p "$(dirname "$2")"
	{ cp "$1" "$2.anemos-new" && chmod "$3" "$2.anemos-new" && mv -f "$2.anemos-new" "$2"; } ||
		{ rm -f "$2.anemos-new"; die "cannot install ${2#"$R"} (disk full?)"; }
	say "installed ${2#"$R"}"
	CHANGED=$((CHANGED + 1))
}
# put_tree SRC DEST: every file of SRC under DEST (0644), and files DEST has beyond SRC removed.
put_tree() {
	(cd "$1" && find . -type f | sed 's#^\./##') >"$tmp/list"
	while read -r f; do put "$1/$f" "$2/$f" 644; done <"$tmp/list"
	(cd "$2" && find . -type f | sed 's#^\./##') >"$tmp/list"
	while read -r f; do
		[ -e "$1/$f" ] || { rm -f "$2/$f"; say "removed ${2#"$R"}/$f"; CHANGED=$((CHANGED + 1)); }
	done <"$tmp/list"
}
in_root() { if [ -z "$R" ]; then "$@"; else chroot "$ROOT" "$@"; fi; }

# ---- user ----
put "$SRC/deploy/systemd/anemos.sysusers" "$R/usr/lib/sysusers.d/anemos.conf" 644
if ! grep -q '^anemos:' "$R/etc/passwd"; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers --root="$ROOT" anemos.conf
	else
		in_root useradd --system --home-dir /var/lib/anemos --shell /usr/sbin/nologin \
			--comment "Anemos provisioning server" --user-group anemos
	fi
	grep -q '^anemos:' "$R/etc/passwd" || die "could not create the user anemos"
	say "created the user anemos"
	CHANGED=$((CHANGED + 1))
fi
# ---- programs and files ----
put "$BUILD/anemosd" "$R/usr/local/sbin/anemosd" 755
put "$SRC/deploy/anemos-setup" "$R/usr/local/sbin/anemos-setup" 755
for p in anemosctl anemos-inventory anemos-mkimg; do put "$BUILD/$p" "$R/usr/local/bin/$p" 755; done
SHARE=$R/usr/local/share/anemos
mkdir -p "$SHARE/boot" "$SHARE/ipxe-scripts" "$SHARE/web" "$SHARE/cache"
put "$BUILD/boot/vmlinuz" "$SHARE/boot/vmlinuz" 644
put "$BUILD/boot/initramfs.img" "$SHARE/boot/initramfs.img" 644
put_tree "$SRC/ipxe-scripts" "$SHARE/ipxe-scripts"
put_tree "$SRC/server/web" "$SHARE/web"
put "$SRC/README.md" "$SHARE/README.md" 644
put "$SRC/deploy/tftp-root.sh" "$SHARE/tftp-root.sh" 755
put "$SRC/deploy/completion/anemosctl" "$R/usr/local/share/bash-completion/completions/anemosctl" 644
put "$SRC/deploy/completion/_anemosctl" "$R/usr/local/share/zsh/site-functions/_anemosctl" 644
put "$SRC/deploy/cache/acng.conf" "$SHARE/cache/acng.conf" 644
put "$SRC/deploy/cache/anemos-cache.logrotate" "$SHARE/cache/anemos-cache.logrotate" 644
for u in anemosd.service anemos-dnsmasq.service anemos-tftpd.service anemos-cache.service; do
	put "$SRC/deploy/systemd/$u" "$R/etc/systemd/system/$u" 644
done

# ---- the rest: the installed anemos-setup (it finds the programs beside itself) ----
[ $START = 1 ] || SETUP_ARGS="$SETUP_ARGS --no-start"
eval "set -- $SETUP_ARGS"
rm -rf "$tmp"
ANEMOS_SETUP_CHANGED=$CHANGED \
ANEMOS_SETUP_PACKAGES="libmicrohttpd12 libsqlite3-0 libjansson4 libssl3 libcurl4 libarchive13 libfreeipmi17" \
	exec "$R/usr/local/sbin/anemos-setup" --root "$ROOT" "$@"

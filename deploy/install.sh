#!/bin/sh
# Installs the Anemos appliance on a Debian 12 host, from a built tree (make && make initramfs):
#   packages   the runtime libraries, dnsmasq-base, ipxe, tftp-hpa (stock services kept off);
#              apt-cacher-ng with --cache
#   user       anemos (systemd-sysusers), owner of /var/lib/anemos (0700)
#   programs   /usr/local/sbin/anemosd, /usr/local/bin/anemosctl, anemos-inventory, anemos-mkimg
#   files      /usr/local/share/anemos/{boot,ipxe-scripts,web}, the TFTP root /srv/anemos/tftp
#   settings   /etc/anemos/anemos.conf (kept and reused), /etc/anemos/dnsmasq.conf (generated)
#   token      the first admin token, in /etc/anemos/admin-token (0600), made once
#   units      anemosd, anemos-dnsmasq and anemos-tftpd .service, enabled (started with systemd);
#              with --cache anemos-cache.service, the Debian package cache machines fetch
#              through (config /etc/anemos/cache, cache /var/cache/anemos-cache), and anemosd
#              told of it (--package-cache, --package-cache-log: its hits in /metrics)
# Idempotent: a second run with the same settings changes nothing and says so; settings given
# again replace the saved ones. --root DIR installs into another Debian tree (a chroot).
#
#   deploy/install.sh --interface eno2 --mode proxy            # beside the site's DHCP server
#   deploy/install.sh --interface eno2 --mode dhcp --range 192.0.2.100,192.0.2.199
set -eu

usage() {
	cat <<'EOF'
usage: deploy/install.sh [--root DIR] [--build DIR] [--no-start]
                         --interface IF [--mode proxy|dhcp] [--server-ip ADDR] [--port PORT]
                         [--subnet NET] [--netmask MASK] [--range START,END] [--router ADDR]
                         [--dns ADDR] [--tftp tftp-hpa|dnsmasq] [--cache|--no-cache] [--cache-port PORT]
  --interface   the provisioning network's interface (required the first time)
  --mode        proxy: answer PXE beside the site's DHCP server (default);
                dhcp: be the only DHCP server of an isolated network (needs --range)
  --server-ip   this host's IPv4 address on IF (default: read from IF)
  --port        anemosd's HTTP port (default 8080)
  --subnet      proxy mode: the network IF is on (default: from IF's address and prefix)
  --tftp        who serves TFTP: tftp-hpa (default) or dnsmasq's own server
  --cache       run a Debian package cache (apt-cacher-ng, anemos-cache.service) on
                SERVER-IP, through which machines fetch http:// mirrors; --no-cache stops it
  --cache-port  the package cache's port (default 3142)
  --root DIR    install into the Debian tree DIR instead of / (nothing is started)
  --build DIR   where the built programs are (default: build, beside this script's folder)
  --no-start    enable the units but do not (re)start them
Settings are kept in /etc/anemos/anemos.conf; later runs reuse them.
EOF
}

die() { echo "anemos install: $*" >&2; exit 1; }
say() { echo "anemos install: $*"; }

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=/
BUILD=$SRC/build
START=1
# Settings: empty means "keep the saved value, else the default".
IFACE="" MODE="" SERVER_IP="" PORT="" SUBNET="" NETMASK="" RANGE="" ROUTER="" DNS="" TFTP=""
CACHE="" CACHE_PORT=""
while [ $# -gt 0 ]; do
	case $1 in
	--root) ROOT=${2:?--root needs a folder}; shift ;;
	--build) BUILD=${2:?--build needs a folder}; shift ;;
	--no-start) START=0 ;;
	--interface) IFACE=${2:?}; shift ;;
	--mode) MODE=${2:?}; shift ;;
	--server-ip) SERVER_IP=${2:?}; shift ;;
	--port) PORT=${2:?}; shift ;;
	--subnet) SUBNET=${2:?}; shift ;;
	--netmask) NETMASK=${2:?}; shift ;;
	--range) RANGE=${2:?}; shift ;;
	--router) ROUTER=${2:?}; shift ;;
	--dns) DNS=${2:?}; shift ;;
	--tftp) TFTP=${2:?}; shift ;;
	--cache) CACHE=yes ;;
	--no-cache) CACHE=no ;;
	--cache-port) CACHE_PORT=${2:?}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; die "unknown option $1" ;;
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
policy=""   # a policy-rc.d of ours, while packages install
cleanup() { rm -rf "$tmp"; [ -z "$policy" ] || rm -f "$policy"; }
trap cleanup EXIT
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

# ---- settings: given, else saved, else default ----
CONF=$R/etc/anemos/anemos.conf
saved() { [ ! -r "$CONF" ] || sed -n "s/^$1=//p" "$CONF" | tail -n 1 | tr -d "'\""; }
IFACE=${IFACE:-$(saved ANEMOS_INTERFACE)}
MODE=${MODE:-$(saved ANEMOS_MODE)}; MODE=${MODE:-proxy}
PORT=${PORT:-$(saved ANEMOS_PORT)}; PORT=${PORT:-8080}
TFTP=${TFTP:-$(saved ANEMOS_TFTP)}; TFTP=${TFTP:-tftp-hpa}
SERVER_IP=${SERVER_IP:-$(saved ANEMOS_SERVER_IP)}
SUBNET=${SUBNET:-$(saved ANEMOS_SUBNET)}
NETMASK=${NETMASK:-$(saved ANEMOS_NETMASK)}
RANGE=${RANGE:-$(saved ANEMOS_RANGE)}
ROUTER=${ROUTER:-$(saved ANEMOS_ROUTER)}
DNS=${DNS:-$(saved ANEMOS_DNS)}
CACHE=${CACHE:-$(saved ANEMOS_CACHE)}; CACHE=${CACHE:-no}
CACHE_PORT=${CACHE_PORT:-$(saved ANEMOS_CACHE_PORT)}; CACHE_PORT=${CACHE_PORT:-3142}
OPTIONS=$(saved ANEMOSD_OPTIONS)
[ -n "$IFACE" ] || { usage >&2; die "--interface is needed (the provisioning network's interface)"; }
case $MODE in proxy|dhcp) ;; *) die "--mode must be proxy or dhcp (not '$MODE')" ;; esac
case $TFTP in tftp-hpa|dnsmasq) ;; *) die "--tftp must be tftp-hpa or dnsmasq (not '$TFTP')" ;; esac
case $PORT in *[!0-9]*|'') die "--port must be a number" ;; esac
case $CACHE in yes|no) ;; *) die "ANEMOS_CACHE must be yes or no (not '$CACHE')" ;; esac
case $CACHE_PORT in *[!0-9]*|'') die "--cache-port must be a number" ;; esac
# apt-cacher-ng 3.7.4 (Debian 12) cannot bind a port above 32767.
if [ "$CACHE_PORT" -lt 1 ] || [ "$CACHE_PORT" -gt 32767 ]; then die "--cache-port must be from 1 to 32767"; fi
[ "$CACHE_PORT" != "$PORT" ] || die "--cache-port $CACHE_PORT is anemosd's port (--port): choose another"
# Address, netmask and subnet from the interface when this is the host itself.
if [ -z "$SERVER_IP" ] || [ -z "$NETMASK" ]; then
	[ -z "$R" ] || die "--server-ip and --netmask are needed with --root (no interface to read)"
	cidr=$(ip -4 -o addr show dev "$IFACE" scope global 2>/dev/null | awk '{ print $4; exit }')
	[ -n "$cidr" ] || die "$IFACE has no IPv4 address: give --server-ip and --netmask"
	SERVER_IP=${SERVER_IP:-${cidr%/*}}
	if [ -z "$NETMASK" ]; then
		NETMASK=$(awk -v p="${cidr#*/}" 'BEGIN { m = 0; for (i = 0; i < 32; i++) m = m * 2 + (i < p);
			printf "%d.%d.%d.%d", int(m / 16777216) % 256, int(m / 65536) % 256, int(m / 256) % 256, m % 256 }')
	fi
fi
if [ "$MODE" = proxy ] && [ -z "$SUBNET" ]; then
	SUBNET=$(awk -v a="$SERVER_IP" -v m="$NETMASK" 'BEGIN { split(a, x, "."); split(m, y, ".");
		for (i = 1; i <= 4; i++) { r = 0; b = 128; xa = x[i]; ya = y[i]
			while (b >= 1) { if (xa >= b && ya >= b) r += b; if (xa >= b) xa -= b; if (ya >= b) ya -= b; b /= 2 }
			printf "%s%d", (i > 1 ? "." : ""), r } }')
fi
[ "$MODE" = dhcp ] && [ -z "$RANGE" ] && die "--mode dhcp needs --range START,END (the address pool)"
URL=http://$SERVER_IP:$PORT
CACHE_OPTIONS=""
[ "$CACHE" = no ] || CACHE_OPTIONS="--package-cache http://$SERVER_IP:$CACHE_PORT --package-cache-log /var/log/anemos-cache/apt-cacher.log"
# Both files are made (and the settings checked) before anything changes.
cat >"$tmp/anemos.conf" <<EOF
# Anemos settings, written by deploy/install.sh (which reads them back on its next run).
# Run deploy/install.sh with new options to change them: it regenerates dnsmasq.conf too.
ANEMOS_INTERFACE=$IFACE
ANEMOS_MODE=$MODE
ANEMOS_SERVER_IP=$SERVER_IP
ANEMOS_NETMASK=$NETMASK
ANEMOS_SUBNET=$SUBNET
ANEMOS_RANGE=$RANGE
ANEMOS_ROUTER=$ROUTER
ANEMOS_DNS=$DNS
ANEMOS_TFTP=$TFTP
ANEMOS_PORT=$PORT
# The Debian package cache (anemos-cache.service, apt-cacher-ng): yes or no, and its port.
ANEMOS_CACHE=$CACHE
ANEMOS_CACHE_PORT=$CACHE_PORT
# anemosd: where it listens and the URL booting machines use.
ANEMOS_LISTEN=$SERVER_IP:$PORT
ANEMOS_PUBLIC_URL=$URL
# anemosd's options for the package cache, from ANEMOS_CACHE and ANEMOS_CACHE_PORT.
ANEMOSD_CACHE_OPTIONS=$CACHE_OPTIONS
# More anemosd options (anemosd --help), e.g. --ssh-keys /etc/anemos/rescue-keys.
ANEMOSD_OPTIONS=$OPTIONS
EOF
set -- --mode "$MODE" --interface "$IFACE" --server-ip "$SERVER_IP" --server-url "$URL" \
	--netmask "$NETMASK" --tftp "$TFTP" --tftp-root /srv/anemos/tftp --output "$tmp/dnsmasq.conf"
if [ "$MODE" = dhcp ]; then
	set -- "$@" --range "$RANGE"
	[ -n "$ROUTER" ] && set -- "$@" --router "$ROUTER"
	[ -n "$DNS" ] && set -- "$@" --dns "$DNS"
else
	set -- "$@" --subnet "$SUBNET"
fi
"$BUILD/anemosctl" dnsmasq config "$@" || die "the settings above were refused"


# ---- packages ----
PKGS="libmicrohttpd12 libsqlite3-0 libjansson4 libssl3 libcurl4 libarchive13 libfreeipmi17 zstd dnsmasq-base ipxe"
[ "$TFTP" = tftp-hpa ] && PKGS="$PKGS tftpd-hpa"
[ "$CACHE" = yes ] && PKGS="$PKGS apt-cacher-ng"
missing=""
for p in $PKGS; do
	dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing Debian packages:$missing"
	# Stock services (tftpd-hpa, apt-cacher-ng on every address) must not start: Anemos runs
	# its own.
	if [ ! -e "$R/usr/sbin/policy-rc.d" ]; then
		policy=$R/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
	fi
	# shellcheck disable=SC2086
	if ! DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -q --no-install-recommends $missing; then
		DEBIAN_FRONTEND=noninteractive in_root apt-get update -q
		DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -q --no-install-recommends $missing ||
			die "apt-get install$missing failed"
	fi
	[ -z "$policy" ] || rm -f "$policy"
	policy=""
	CHANGED=$((CHANGED + 1))
fi

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
uid=$(awk -F: '$1 == "anemos" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "anemos" { print $4 }' "$R/etc/passwd")
grep -q '^tftp:' "$R/etc/passwd" || [ "$TFTP" != tftp-hpa ] || die "no user tftp (package tftpd-hpa)"
# anemos-dnsmasq.service runs as dnsmasq (User=).
grep -q '^dnsmasq:' "$R/etc/passwd" || die "no user dnsmasq (package dnsmasq-base)"
grep -q '^apt-cacher-ng:' "$R/etc/passwd" || [ "$CACHE" = no ] ||
	die "no user apt-cacher-ng (package apt-cacher-ng)"

# ---- programs and files ----
put "$BUILD/anemosd" "$R/usr/local/sbin/anemosd" 755
for p in anemosctl anemos-inventory anemos-mkimg; do put "$BUILD/$p" "$R/usr/local/bin/$p" 755; done
SHARE=$R/usr/local/share/anemos
mkdir -p "$SHARE/boot" "$SHARE/ipxe-scripts" "$SHARE/web"
put "$BUILD/boot/vmlinuz" "$SHARE/boot/vmlinuz" 644
put "$BUILD/boot/initramfs.img" "$SHARE/boot/initramfs.img" 644
# UEFI HTTP-boot clients fetch iPXE from anemosd (/boot/ipxe.efi).
put "$R/usr/lib/ipxe/ipxe.efi" "$SHARE/boot/ipxe.efi" 644
put_tree "$SRC/ipxe-scripts" "$SHARE/ipxe-scripts"
put_tree "$SRC/server/web" "$SHARE/web"
put "$SRC/README.md" "$SHARE/README.md" 644
before=$( (cd "$R/srv/anemos/tftp" 2>/dev/null && sha256sum ./* 2>/dev/null | sort) || true)
"$SRC/deploy/tftp-root.sh" "$R/srv/anemos/tftp" "$R/usr/lib/ipxe"
[ "$before" = "$(cd "$R/srv/anemos/tftp" && sha256sum ./* | sort)" ] ||
	{ say "filled the TFTP root /srv/anemos/tftp"; CHANGED=$((CHANGED + 1)); }

# ---- settings and the dnsmasq configuration, installed from $tmp ----
put "$tmp/anemos.conf" "$CONF" 644
put "$tmp/dnsmasq.conf" "$R/etc/anemos/dnsmasq.conf" 644
if [ "$CACHE" = yes ]; then
	put "$SRC/deploy/cache/acng.conf" "$R/etc/anemos/cache/acng.conf" 644
	put "$SRC/deploy/cache/anemos-cache.logrotate" "$R/etc/logrotate.d/anemos-cache" 644
fi

# ---- data folder and the first admin token ----
mkdir -p "$R/var/lib/anemos"
chown "$uid:$gid" "$R/var/lib/anemos"
chmod 700 "$R/var/lib/anemos"
if [ ! -s "$R/etc/anemos/admin-token" ]; then
	(umask 077 && in_root /usr/local/sbin/anemosd token create --data /var/lib/anemos --name install \
		>"$R/etc/anemos/admin-token.new") || die "could not create the admin token"
	mv "$R/etc/anemos/admin-token.new" "$R/etc/anemos/admin-token"
	say "created the first admin token: /etc/anemos/admin-token (root only)"
	CHANGED=$((CHANGED + 1))
fi
chown -R "$uid:$gid" "$R/var/lib/anemos"

# ---- units ----
units="anemosd.service anemos-dnsmasq.service"
[ "$TFTP" = tftp-hpa ] && units="$units anemos-tftpd.service"
for u in anemosd.service anemos-dnsmasq.service anemos-tftpd.service; do
	put "$SRC/deploy/systemd/$u" "$R/etc/systemd/system/$u" 644
done
if [ "$CACHE" = yes ]; then
	units="$units anemos-cache.service"
	put "$SRC/deploy/systemd/anemos-cache.service" "$R/etc/systemd/system/anemos-cache.service" 644
fi
running=0
[ -z "$R" ] && [ -d /run/systemd/system ] && running=1
if [ $running = 1 ]; then
	systemctl daemon-reload
	# The stock tftpd-hpa serves /srv/tftp on every address: Anemos's instance replaces it.
	systemctl disable --now tftpd-hpa.service >/dev/null 2>&1 || true
	[ "$TFTP" = dnsmasq ] && systemctl disable --now anemos-tftpd.service >/dev/null 2>&1 || true
	# Likewise the stock apt-cacher-ng (every address, port 3142) with Anemos's cache.
	[ "$CACHE" = yes ] && { systemctl disable --now apt-cacher-ng.service >/dev/null 2>&1 || true; }
	[ "$CACHE" = no ] && { systemctl disable --now anemos-cache.service >/dev/null 2>&1 || true; }
	# shellcheck disable=SC2086
	systemctl enable $units >/dev/null
	if [ $START = 1 ]; then
		# shellcheck disable=SC2086
		if [ $CHANGED -gt 0 ]; then systemctl restart $units; else systemctl start $units; fi
		say "started: $units"
	fi
else
	systemctl --root="$ROOT" disable tftpd-hpa.service >/dev/null 2>&1 || true
	[ "$TFTP" = dnsmasq ] && { systemctl --root="$ROOT" disable anemos-tftpd.service >/dev/null 2>&1 || true; }
	[ "$CACHE" = yes ] && { systemctl --root="$ROOT" disable apt-cacher-ng.service >/dev/null 2>&1 || true; }
	[ "$CACHE" = no ] && { systemctl --root="$ROOT" disable anemos-cache.service >/dev/null 2>&1 || true; }
	# shellcheck disable=SC2086
	systemctl --root="$ROOT" enable $units >/dev/null 2>&1 ||
		for u in $units; do
			mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
			ln -sf "/etc/systemd/system/$u" "$R/etc/systemd/system/multi-user.target.wants/$u"
		done
	say "units enabled in $ROOT; they start when that system boots"
fi

if [ $CHANGED -eq 0 ]; then
	say "nothing to change: Anemos is installed as configured"
else
	say "done ($CHANGED changes). anemosd: $URL/ (dashboard), $URL/boot.ipxe; $MODE mode on $IFACE"
fi

#!/bin/sh
# Install the Debian packages that building, running, testing or benchmarking Anemos needs,
# and only those that are missing. Says which it installs. Needs root (or sudo) on Debian 12.
#
#   deploy/install-deps.sh build   # compile the programs, build the initramfs and images, `make run`
#   deploy/install-deps.sh test    # build + what `make test` drives (cmocka, curl, jq, shellcheck, ...)
#   deploy/install-deps.sh bench   # test + wrk and nginx for `make bench`
#   deploy/install-deps.sh slow    # test + what `make test-slow` needs (the debian image)
#   deploy/install-deps.sh fuzz    # build + clang, its fuzzer runtime and llvm-symbolizer (make fuzz)
#   deploy/install-deps.sh deb     # build + debhelper, lintian, devscripts (make deb)
set -eu

build_pkgs="gcc make pkg-config libc6-dev libmicrohttpd-dev libsqlite3-dev libjansson-dev
libssl-dev libcurl4-openssl-dev libarchive-dev libfreeipmi-dev zstd binutils"
deb_pkgs="$build_pkgs libcrypt-dev dpkg-dev debhelper lintian devscripts ipxe"
test_pkgs="$deb_pkgs libcmocka-dev curl jq sqlite3 procps strace qemu-system-x86 qemu-utils ipxe-qemu ovmf seabios
chromium openssh-client python3 iproute2 dnsmasq-base tftpd-hpa tftp-hpa ipxe debootstrap e2fsprogs apt-cacher-ng apt-utils gnupg gpgv fdisk
shellcheck busybox-static openipmi ipmitool zsh lldpd dropbear-bin ifupdown"
bench_pkgs="$test_pkgs wrk nginx-light"
slow_pkgs="$test_pkgs debootstrap"
fuzz_pkgs="$build_pkgs clang libclang-rt-14-dev llvm"

case "${1:-build}" in
build) want=$build_pkgs ;;
test)  want=$test_pkgs ;;
bench) want=$bench_pkgs ;;
slow)  want=$slow_pkgs ;;
fuzz)  want=$fuzz_pkgs ;;
deb)   want=$deb_pkgs ;;
*) echo "usage: $0 build|test|bench|slow|fuzz|deb" >&2; exit 2 ;;
esac

# The browser tests need Node.js and npm; a machine that has them already keeps its own.
if [ "${1:-build}" != build ] && ! command -v npm >/dev/null 2>&1; then
	want="$want nodejs npm"
fi

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -n "$missing" ] || exit 0

echo "anemos: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "anemos: need root to install:$missing" >&2; exit 1
	fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
# Packages such as tftpd-hpa start their stock service on installation (TFTP on every
# address); Anemos runs its own instances, so services are kept from starting meanwhile
# (policy-rc.d, only where the machine has none of its own).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# anemos install-deps: no service starts during package installation\nexit 101\n' |
		$SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	trap 'exit 1' INT TERM HUP
fi
# An old or empty package index makes apt-get install fail; refresh it once, then retry.
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -q --no-install-recommends $missing
}

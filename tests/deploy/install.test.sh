#!/usr/bin/env bash
# cost: 260
# run-in: build
# The two ways to deploy Anemos on a clean Debian 12 tree (debootstrap --variant=minbase, with
# systemd, udev and iproute2 as every Debian 12 host has them; the packages are cached in
# build/images-cache), as chroots:
# - The Debian package: `make deb` (deploy/deb.sh: debhelper, then lintian, which must accept
#   it) builds anemos_VERSION_amd64.deb while the tree is made; `apt install ./anemos_*.deb`
#   in the tree (as the README says) brings its dependencies and the user anemos and enables
#   nothing; `anemos-setup --interface eth0 --mode dhcp ... --cache` then writes the settings,
#   the token and the TFTP root and enables the units. This tree is booted (below).
# - deploy/install.sh, in a copy of the clean tree: it installs the packages, the user, the
#   programs, the units and runs anemos-setup: the TFTP root, the settings, the package cache
#   (--cache: apt-cacher-ng as anemos-cache.service). Then dnsmasq (the one installed in the
#   tree) accepts the generated configuration, `systemd-analyze verify --root` accepts the units
#   (with their binaries present in the tree), `systemd-analyze security --offline` scores each
#   unit's exposure (printed, and held to a bound), anemosd runs there as the user anemos from
#   the installed paths, a second run changes nothing, and refused settings change nothing.
# The package's tree booted under systemd in QEMU runs the four units: a file fetched twice
# through the cache is one miss and one hit in the hardened anemosd's /metrics, and a PXE client
# on a second NIC (tests/deploy/pxe-client.pl, in a network namespace of the booted tree) gets
# an address and its boot file name from the hardened dnsmasq and the boot file from the
# hardened tftp-hpa; then `dpkg --purge anemos` there stops every unit and leaves none of the
# package's files nor what anemos-setup made; installed again with dpkg -i under that systemd it
# starts nothing until anemos-setup (run there as on a host) starts the units; a purge stops
# them. Runs against the normal build only (the chroot
# has no sanitizer runtime).
source "$(dirname "$0")/../integration/lib.sh"
for t in debootstrap systemd-analyze chroot mkfs.ext4 debugfs qemu-system-x86_64 dpkg-buildpackage lintian; do
	command -v "$t" >/dev/null || { fail "tools for the deploy test" "$t missing (deploy/install-deps.sh test)"; exit 1; }
done
for f in "$BUILD/boot/vmlinuz" "$BUILD/boot/initramfs.img"; do
	[ -s "$f" ] || { fail "built tree" "$f missing (make initramfs)"; exit 1; }
done
# PKG: the package's tree (booted); TREE: deploy/install.sh's, a copy of the clean one.
PKG=$WORK/debian
TREE=$WORK/script
CACHE=$ROOT/build/images-cache/debootstrap-debs
mkdir -p "$CACHE"
# shellcheck source=/dev/null # only host_uri, cut out of images/base/debootstrap.sh
MIRROR=$(source <(sed -n '/^host_uri()/,/^}/p' "$ROOT/images/base/debootstrap.sh"); host_uri bookworm)
MIRROR=${ANEMOS_MIRROR:-$MIRROR}
[ -n "$MIRROR" ] || { fail "an apt source for bookworm" "none in /etc/apt/sources.list(.d): set ANEMOS_MIRROR"; exit 1; }
MOUNTS=""
umount_all() { local m; for m in $MOUNTS; do umount -l "$m" 2>/dev/null; done; MOUNTS=""; }
trap 'umount_all; _cleanup' EXIT

# The package is built while the tree is made (the two take about as long).
t0=$(date +%s)
"$ROOT/deploy/deb.sh" "$BUILD" >"$WORK/deb.log" 2>&1 &
DEB_PID=$!
if debootstrap --variant=minbase --include=systemd,udev,iproute2 --cache-dir="$CACHE" bookworm "$PKG" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1; then
	ok "a clean Debian 12 tree (debootstrap minbase + systemd, udev, iproute2, $(( $(date +%s) - t0 )) s)"
else
	fail "debootstrap a clean Debian 12 tree" "$(tail -n 5 "$WORK/debootstrap.log")"
	exit 1
fi
cp -a "$PKG" "$TREE"
for t in "$PKG" "$TREE"; do
	mount -t proc proc "$t/proc" && MOUNTS="$t/proc $MOUNTS"
	cp /etc/resolv.conf "$t/etc/resolv.conf" 2>/dev/null
done
wait "$DEB_PID"; rc=$?
sed 's/^/# /' "$WORK/deb.log"
expect_eq "make deb (deploy/deb.sh) builds the package with debhelper and lintian accepts it ($(( $(date +%s) - t0 )) s)" 0 "$rc"
DEB=$(ls "$BUILD"/anemos_*_amd64.deb 2>/dev/null | tail -n 1)
[ -s "$DEB" ] || { fail "the package" "no $BUILD/anemos_*_amd64.deb"; exit 1; }
expect_match "the README installs the package by that name" "^apt install \./build/${DEB##*/}\$" "$(cat "$ROOT/README.md")"

# ---- the package, installed with apt as the README says, then anemos-setup ----
# No service may start in the chroot (it would run on this host): a policy-rc.d says so, as
# for any chroot; under systemd, deb-systemd-invoke would start no disabled unit anyway.
printf '#!/bin/sh\nexit 101\n' >"$PKG/usr/sbin/policy-rc.d" && chmod 755 "$PKG/usr/sbin/policy-rc.d"
cp "$DEB" "$PKG/root/"
t0=$(date +%s)
chroot "$PKG" apt-get update -q >"$WORK/apt.log" 2>&1
out=$(cd / && chroot "$PKG" sh -c "cd /root && DEBIAN_FRONTEND=noninteractive apt install -y ./${DEB##*/}" 2>&1); rc=$?
rm -f "$PKG/usr/sbin/policy-rc.d"
mv "$PKG/root/${DEB##*/}" "$PKG/root/anemos.deb"   # installed again in the booted tree
echo "$out" | grep -E '^(Setting up|E:|W: [^A])' | sed 's/^/# /'
expect_eq "apt install ./${DEB##*/} in the tree succeeds, with its dependencies ($(( $(date +%s) - t0 )) s)" 0 "$rc"
for p in dnsmasq-base ipxe tftpd-hpa zstd; do
	expect_eq "... which brought $p" "install ok installed" \
		"$(chroot "$PKG" dpkg-query -W -f='${Status}' "$p" 2>&1)"
done
expect_match "its postinst made the user anemos (systemd-sysusers), without a login shell" \
	'^anemos:x:[0-9]+:[0-9]+:.*:/var/lib/anemos:/usr/sbin/nologin$' "$(grep '^anemos:' "$PKG/etc/passwd")"
expect_eq "the package enables no unit before anemos-setup" "" \
	"$(find "$PKG/etc/systemd/system" -path '*.wants/anemos*')"
PKG_UNITS="anemosd.service anemos-dnsmasq.service anemos-tftpd.service anemos-cache.service"
for u in $PKG_UNITS; do
	check "the package has $u, with /usr paths" grep -q '^ExecStart=/usr/s\?bin/' "$PKG/lib/systemd/system/$u"
done
expect_eq "... and no /usr/local path anywhere in them" "" "$(cd "$PKG/lib/systemd/system" && grep -l /usr/local $PKG_UNITS)"
out=$(chroot "$PKG" anemos-setup --interface eth0 --mode dhcp --range 192.0.2.100,192.0.2.199 \
	--server-ip 192.0.2.1 --netmask 255.255.255.0 --cache 2>&1); rc=$?
echo "$out" | tail -n 20 | sed 's/^/# /'
expect_eq "anemos-setup --interface eth0 --mode dhcp ... --cache succeeds" 0 "$rc"
expect_eq "... the admin token is root's alone" "root 600" "$(stat -c '%U %a' "$PKG/etc/anemos/admin-token")"
expect_eq "... the data folder belongs to anemos, mode 700" "anemos 700" "$(chroot "$PKG" stat -c '%U %a' /var/lib/anemos)"
out=$(chroot "$PKG" /usr/sbin/dnsmasq --test --conf-file=/etc/anemos/dnsmasq.conf 2>&1)
expect_match "... the tree's dnsmasq accepts its dnsmasq.conf" 'syntax check OK' "$out"
check "... ipxe.efi is beside the package's boot files" cmp "$PKG/usr/lib/ipxe/ipxe.efi" "$PKG/usr/share/anemos/boot/ipxe.efi"
for u in $PKG_UNITS; do
	check "... $u is enabled" test -L "$PKG/etc/systemd/system/multi-user.target.wants/$u"
done
out=$(systemd-analyze verify --root="$PKG" $PKG_UNITS 2>&1); rc=$?
expect_eq "systemd-analyze verify accepts the package's units" "0:" "$rc:$out"
out=$(chroot "$PKG" anemos-setup 2>&1); rc=$?
expect_eq "anemos-setup again, without options: its saved settings, nothing changes" "0 1" \
	"$rc $(grep -c 'nothing to change' <<<"$out")"

# ---- deploy/install.sh, in its own copy of the clean tree ----
# The packages the package's tree downloaded, so that they are not fetched again.
cp -a "$PKG/var/lib/apt/lists/." "$TREE/var/lib/apt/lists/"
cp "$PKG"/var/cache/apt/archives/*.deb "$TREE/var/cache/apt/archives/" 2>/dev/null

install_args=(--root "$TREE" --build "$BUILD" --interface eno2 --mode proxy --server-ip 192.0.2.1
	--netmask 255.255.255.0 --port 8080 --cache)
t0=$(date +%s)
out=$("$ROOT/deploy/install.sh" "${install_args[@]}" 2>&1); rc=$?
echo "$out" | tail -n 30 | sed 's/^/# /'
expect_eq "deploy/install.sh into the tree succeeds ($(( $(date +%s) - t0 )) s)" 0 "$rc"

expect_match "the user anemos exists, without a login shell" '^anemos:x:[0-9]+:[0-9]+:.*:/var/lib/anemos:/usr/sbin/nologin$' \
	"$(grep '^anemos:' "$TREE/etc/passwd")"
expect_eq "the data folder belongs to anemos, mode 700" "anemos 700" \
	"$(chroot "$TREE" stat -c '%U %a' /var/lib/anemos)"
expect_eq "the admin token is root's alone" "root 600" "$(stat -c '%U %a' "$TREE/etc/anemos/admin-token")"
for f in undionly.kpxe ipxe.efi snponly.efi; do
	check "TFTP root has $f from the tree's ipxe package" cmp "$TREE/usr/lib/ipxe/$f" "$TREE/srv/anemos/tftp/$f"
done
out=$(chroot "$TREE" /usr/sbin/dnsmasq --test --conf-file=/etc/anemos/dnsmasq.conf 2>&1)
expect_match "the tree's dnsmasq accepts /etc/anemos/dnsmasq.conf" 'syntax check OK' "$out"
expect_match "proxy mode on eno2, sending firmware to the TFTP server" \
	'pxe-service=tag:!ipxe,x86PC,"Anemos",undionly.kpxe,192.0.2.1' "$(cat "$TREE/etc/anemos/dnsmasq.conf")"
check "the package cache's configuration is deploy/cache/acng.conf" \
	cmp "$ROOT/deploy/cache/acng.conf" "$TREE/etc/anemos/cache/acng.conf"
expect_match "anemosd is given the cache and its log" \
	'^ANEMOSD_CACHE_OPTIONS=--package-cache http://192.0.2.1:3142 --package-cache-log /var/log/anemos-cache/apt-cacher.log$' \
	"$(grep '^ANEMOSD_CACHE_OPTIONS=' "$TREE/etc/anemos/anemos.conf")"
expect_match "the user apt-cacher-ng exists (package apt-cacher-ng)" '^apt-cacher-ng:' "$(grep '^apt-cacher-ng:' "$TREE/etc/passwd")"
units="anemosd.service anemos-dnsmasq.service anemos-tftpd.service anemos-cache.service"
out=$(cd "$TREE/etc/systemd/system" && systemd-analyze verify --root="$TREE" $units 2>&1); rc=$?
expect_eq "systemd-analyze verify accepts the units" "0:" "$rc:$out"
for u in $units; do
	check "$u is enabled" test -L "$TREE/etc/systemd/system/multi-user.target.wants/$u"
done
expect_eq "the stock tftpd-hpa is not enabled" "" \
	"$(ls "$TREE"/etc/rc?.d/S*tftpd-hpa "$TREE"/etc/systemd/system/*.wants/tftpd-hpa.service 2>/dev/null)"
expect_eq "the stock apt-cacher-ng is not enabled" "" \
	"$(ls "$TREE"/etc/rc?.d/S*apt-cacher-ng "$TREE"/etc/systemd/system/*.wants/apt-cacher-ng.service 2>/dev/null)"
# A changed unit would fail verify: prove the check can fail.
sed 's#^ExecStart=/usr/local/sbin/anemosd#ExecStart=/usr/local/sbin/anemosd-missing#' \
	"$TREE/etc/systemd/system/anemosd.service" >"$TREE/etc/systemd/system/anemos-broken.service"
out=$(systemd-analyze verify --root="$TREE" anemos-broken.service 2>&1)
expect_match "verify refuses a unit whose program is missing" 'anemosd-missing.*not executable' "$out"
rm -f "$TREE/etc/systemd/system/anemos-broken.service"

# Each installed unit's exposure as `systemd-analyze security` scores it, from 0 (best) to 10,
# offline on the tree's unit files (this host runs no systemd). The bounds are the scores
# measured with systemd 252: dropping any one of a unit's hardening directives raises its
# score above its bound. (The units as they were before the hardening of dnsmasq and tftp-hpa
# scored 4.9 and 4.5.)
declare -A BOUND=([anemosd]=1.4 [anemos-dnsmasq]=1.6 [anemos-tftpd]=2.2 [anemos-cache]=1.4)
exposure() { # UNIT: its overall exposure level, offline, in the tree
	systemd-analyze security --offline=yes --root="$TREE" "$1" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
at_most() { awk -v s="${1:-99}" -v b="$2" 'BEGIN { print (s + 0 <= b + 0) ? "yes" : "no: " s }'; }
for u in anemosd anemos-dnsmasq anemos-tftpd anemos-cache; do
	score=$(exposure "$u.service")
	echo "# systemd-analyze security $u.service: exposure ${score:-(none)}, bound ${BOUND[$u]}"
	expect_eq "$u.service's exposure is at most ${BOUND[$u]}" yes "$(at_most "$score" "${BOUND[$u]}")"
done
# The bound can fail: dnsmasq's unit without its capability bound and system-call filter.
grep -vE '^(CapabilityBoundingSet|AmbientCapabilities|SystemCallFilter)=' \
	"$TREE/etc/systemd/system/anemos-dnsmasq.service" >"$TREE/etc/systemd/system/anemos-loose.service"
score=$(exposure anemos-loose.service)
expect_match "... a dnsmasq unit without CapabilityBoundingSet= and SystemCallFilter= is over it" \
	'^no: [0-9]' "$(at_most "$score" "${BOUND[anemos-dnsmasq]}")"
rm -f "$TREE/etc/systemd/system/anemos-loose.service"

# anemosd from the installed paths, as anemos, in the tree (loopback of this namespace).
P=$(free_port)
chroot --userspec=anemos:anemos "$TREE" /usr/local/sbin/anemosd --listen "127.0.0.1:$P" \
	--data /var/lib/anemos --boot-dir /usr/local/share/anemos/boot \
	--web-dir /usr/local/share/anemos/web --scripts-dir /usr/local/share/anemos/ipxe-scripts \
	2>"$WORK/anemosd-tree.log" &
TREE_PID=$!
for _ in $(seq 1 100); do curl -fsS -m 1 "http://127.0.0.1:$P/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "the installed anemosd runs as anemos (uid of the tree's anemos)" \
	"$(awk -F: '$1 == "anemos" { print $3 }' "$TREE/etc/passwd")" "$(ps -o uid= -p "$TREE_PID" 2>/dev/null | tr -d ' ')"
expect_match "it serves /boot.ipxe naming the public URL" 'set anemos-url http://127.0.0.1' \
	"$(curl -sS -m 5 "http://127.0.0.1:$P/boot.ipxe")"
expect_eq "the install's admin token works" 200 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H @<(printf 'Authorization: Bearer %s\n' "$(cat "$TREE/etc/anemos/admin-token")") "http://127.0.0.1:$P/api/v1/hosts")"
curl -sS -m 5 -o "$WORK/got-ipxe.efi" "http://127.0.0.1:$P/boot/ipxe.efi"
check "HTTP boot clients get ipxe.efi from anemosd" cmp "$TREE/usr/lib/ipxe/ipxe.efi" "$WORK/got-ipxe.efi"
kill "$TREE_PID"; wait "$TREE_PID" 2>/dev/null

# Idempotent: the same run again changes nothing.
sleep 1
touch "$WORK/mark"
out=$("$ROOT/deploy/install.sh" "${install_args[@]}" 2>&1); rc=$?
expect_eq "a second run succeeds" 0 "$rc"
expect_match "a second run says nothing changed" 'nothing to change' "$out"
expect_eq "a second run rewrote no file" "" \
	"$(cd "$TREE" && find etc/anemos etc/systemd usr/local srv/anemos -type f -newer "$WORK/mark")"
# Saved settings are reused: switching to full DHCP needs only the new options.
out=$("$ROOT/deploy/install.sh" --root "$TREE" --build "$BUILD" --mode dhcp --range 192.0.2.100,192.0.2.199 2>&1); rc=$?
expect_eq "switching to full DHCP with saved settings succeeds" 0 "$rc"
expect_match "full DHCP: the pool and iPXE's URL in dnsmasq.conf" \
	'dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,1h.*dhcp-boot=tag:ipxe,http://192.0.2.1:8080/boot.ipxe' \
	"$(tr '\n' ' ' <"$TREE/etc/anemos/dnsmasq.conf")"
out=$(chroot "$TREE" /usr/sbin/dnsmasq --test --conf-file=/etc/anemos/dnsmasq.conf 2>&1)
expect_match "the tree's dnsmasq accepts the full-DHCP configuration" 'syntax check OK' "$out"
out=$("$ROOT/deploy/install.sh" --root "$TREE" --build "$BUILD" --mode dhcp --range 198.51.100.1,198.51.100.9 2>&1); rc=$?
expect_eq "a pool outside the interface's network is refused" 1 "$rc"
expect_match "... with the reason" 'not in one network' "$out"
expect_match "... and the configuration in place is kept" 'dhcp-range=192.0.2.100,192.0.2.199' "$(cat "$TREE/etc/anemos/dnsmasq.conf")"
# The package cache: a port apt-cacher-ng cannot bind is refused; --no-cache turns it off.
conf_before=$(cat "$TREE/etc/anemos/anemos.conf")
out=$("$ROOT/deploy/install.sh" --root "$TREE" --build "$BUILD" --cache-port 40000 2>&1); rc=$?
expect_eq "--cache-port 40000 is refused" 1:1 "$rc:$(grep -c 'from 1 to 32767' <<<"$out")"
expect_eq "... and the settings are kept" "$conf_before" "$(cat "$TREE/etc/anemos/anemos.conf")"
out=$("$ROOT/deploy/install.sh" --root "$TREE" --build "$BUILD" --no-cache 2>&1); rc=$?
expect_eq "--no-cache succeeds" 0 "$rc"
check "... anemos-cache.service is no longer enabled" \
	test ! -e "$TREE/etc/systemd/system/multi-user.target.wants/anemos-cache.service"
expect_eq "... and anemosd is no longer told of a cache" "ANEMOSD_CACHE_OPTIONS=" \
	"$(grep '^ANEMOSD_CACHE_OPTIONS=' "$TREE/etc/anemos/anemos.conf")"

# ---- the units under a real systemd ----
# The tree boots in QEMU as PID 1 systemd (the Anemos kernel; tiny's small initrd finds the
# root disk), with the provisioning interface eth0 at 192.0.2.1: the four units start with
# their hardening in force, and a report unit writes what runs as whom, read back with debugfs.
# The cache's upstream there is anemosd itself: it serves a .deb put in its images folder.
# A second NIC, eth1, is on the same (QEMU hub) segment as eth0: the report moves it into a
# network namespace of its own, from which tests/deploy/pxe-client.pl boots as a BIOS PXE ROM
# would (full DHCP: the mode anemos-setup put the package's tree in). Last, the report purges
# the package and says what is left running and on disk.
mkdir -p "$PKG/var/lib/anemos/images/pool"
head -c 200000 /dev/urandom >"$PKG/var/lib/anemos/images/pool/x_1_all.deb"
chroot "$PKG" chown -R anemos:anemos /var/lib/anemos/images
mkdir -p "$PKG/etc/systemd/network" "$PKG/etc/systemd/system/multi-user.target.wants" \
	"$PKG/etc/systemd/system/network-online.target.wants"
printf '[Match]\nName=eth0\n\n[Network]\nAddress=192.0.2.1/24\n' >"$PKG/etc/systemd/network/10-test.network"
ln -sf /lib/systemd/system/systemd-networkd.service "$PKG/etc/systemd/system/multi-user.target.wants/"
ln -sf /lib/systemd/system/systemd-networkd-wait-online.service "$PKG/etc/systemd/system/network-online.target.wants/"
cat >"$PKG/usr/local/sbin/anemos-test-report" <<'SCRIPT'
#!/bin/bash
# What the deploy test reads back from the disk: each unit's state and user, and /boot.ipxe.
exec >/var/log/anemos-report 2>&1
sleep 8
for u in anemosd anemos-dnsmasq anemos-tftpd anemos-cache; do
	p=$(systemctl show -p MainPID --value "$u.service")
	echo "REPORT $u $(systemctl is-active "$u.service") $(stat -c %U "/proc/$p" 2>/dev/null)"
done
echo "REPORT stock-apt-cacher-ng $(systemctl is-active apt-cacher-ng.service)"
# get PORT PATH: an HTTP/1.0 GET from 192.0.2.1 (with a Host header, as iPXE sends one), the
# whole response on stdout.
get() { exec 3<>"/dev/tcp/192.0.2.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 192.0.2.1\r\n\r\n' "$2" >&3 && cat <&3; exec 3<&-; }
echo "REPORT boot.ipxe $(get 8080 /boot.ipxe | grep -c '^set anemos-url http://192.0.2.1:8080')"
deb=/var/lib/anemos/images/pool/x_1_all.deb
for n in 1 2; do
	get 3142 "/192.0.2.1:8080/images/pool/x_1_all.deb" >"/tmp/fetch-$n"
	cmp -s <(tail -c "$(stat -c %s "$deb")" "/tmp/fetch-$n") "$deb" && same=whole || same=different
	echo "REPORT cache-fetch $n $(head -n 1 "/tmp/fetch-$n" | tr -d '\r') $same"
done
sleep 1
echo "REPORT cache-log $(cut -d'|' -f2 /var/log/anemos-cache/apt-cacher.log | tr -d '\n')"
get 8080 /metrics | grep -E '^anemos_package_cache_(hits_total|misses_total|log_readable) ' | sed 's/^/REPORT metric /'
# dnsmasq's and tftp-hpa's main processes: their capabilities, no new privileges, seccomp.
for u in anemos-dnsmasq anemos-tftpd; do
	p=$(systemctl show -p MainPID --value "$u.service")
	echo "REPORT proc $u $(awk '/^(CapEff|CapBnd|NoNewPrivs|Seccomp):/ { printf "%s%s ", $1, $2 }' "/proc/$p/status")"
done
# A PXE client on eth1, in a namespace of its own: DHCP from dnsmasq, then the boot file by TFTP.
ip netns add pxe && ip link set eth1 netns pxe && ip -n pxe link set lo up && ip -n pxe link set eth1 up
out=$(ip netns exec pxe timeout 40 /usr/local/sbin/anemos-test-pxe-client dhcp eth1 2>&1)
echo "$out" | sed 's/^/REPORT pxe /'
addr=$(sed -n 's/^ack address \([0-9.]*\) .*/\1/p' <<<"$out")
file=$(sed -n "s/^ack address [0-9.]* file '\([^']*\)'.*/\1/p" <<<"$out")
if [ -n "$addr" ] && [ -n "$file" ]; then
	ip -n pxe addr add "$addr/24" dev eth1
	ip netns exec pxe timeout 60 /usr/local/sbin/anemos-test-pxe-client tftp 192.0.2.1 "$file" /tmp/boot-file 2>&1 |
		sed 's/^/REPORT pxe /'
	cmp -s /tmp/boot-file "/srv/anemos/tftp/$file" && echo "REPORT pxe $file as in /srv/anemos/tftp"
	# Again, the client holding the transfer after its first block: the child in.tftpd that
	# serves it (it chroots and changes user before it sends that block), with its user, root
	# folder and capabilities.
	main=$(systemctl show -p MainPID --value anemos-tftpd.service)
	ip netns exec pxe timeout 60 /usr/local/sbin/anemos-test-pxe-client tftp 192.0.2.1 "$file" /tmp/boot-file-2 4 \
		>/tmp/boot-file-2.out 2>&1 &
	for _ in $(seq 1 50); do grep -q '^tftp holding block 1' /tmp/boot-file-2.out && break; sleep 0.1; done
	child=""
	read -r child _ <"/proc/$main/task/$main/children" 2>/dev/null
	if [ -n "$child" ]; then
		echo "REPORT tftp-child uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 }' "/proc/$child/status")" \
			"root=$(readlink "/proc/$child/root") CapEff=$(awk '/^CapEff:/ { print $2 }' "/proc/$child/status")"
	fi
	wait
	grep -v '^tftp holding' /tmp/boot-file-2.out | sed 's/^/REPORT pxe again /'
fi
echo "REPORT lease $(stat -c %U /var/lib/anemos-dnsmasq/leases) $(grep -c ' 52:54:00:a0:b0:c0 ' /var/lib/anemos-dnsmasq/leases)"
for u in anemosd anemos-dnsmasq anemos-tftpd anemos-cache; do
	echo "REPORT security $u $(systemd-analyze security --no-pager "$u.service" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
done
systemctl --no-pager status anemosd anemos-dnsmasq anemos-tftpd anemos-cache 2>&1 | sed 's/^/STATUS /'
journalctl --no-pager -u anemosd -u anemos-dnsmasq -u anemos-tftpd -u anemos-cache -n 40 2>&1 | sed 's/^/STATUS /'
ip -br addr 2>&1 | sed 's/^/STATUS /'
# dpkg --purge anemos: nothing of it left running, none of its files, nothing anemos-setup made.
dpkg -L anemos >/tmp/anemos-files 2>&1
DEBIAN_FRONTEND=noninteractive dpkg --purge anemos >/tmp/purge.log 2>&1; rc=$?
status=$(dpkg-query -W -f='${db:Status-Status}' anemos 2>/dev/null)
echo "REPORT purge $rc ${status:-none}"
sed 's/^/STATUS purge /' /tmp/purge.log
for u in anemosd anemos-dnsmasq anemos-tftpd anemos-cache; do
	echo "REPORT purged $u $(systemctl is-active "$u.service")"
done
echo "REPORT purged processes $(ps -e -o comm= | grep -cE '^(anemosd|dnsmasq|in.tftpd|apt-cacher-ng)$')"
left=""
# Files and links the package listed (its folders, /lib among them, are shared with others).
while read -r f; do { [ -f "$f" ] || [ -L "$f" ]; } && [ ! -d "$f" ] && left="$left $f"; done </tmp/anemos-files
for f in /etc/anemos /var/lib/anemos /var/lib/anemos-dnsmasq /srv/anemos /var/cache/anemos-cache \
	/var/log/anemos-cache /etc/logrotate.d/anemos-cache /usr/share/anemos \
	/etc/systemd/system/*.wants/anemos{d,-dnsmasq,-tftpd,-cache}.service; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
echo "REPORT purged files $(wc -l </tmp/anemos-files) listed, left:${left:- none}"
echo "REPORT purged http $(get 8080 /healthz 2>/dev/null | head -n 1 | tr -d '\r' | grep -c HTTP)"
# Again as on a host, under this running systemd: installing the package starts nothing (no
# unit is enabled yet), anemos-setup reads eth0's address and starts the units, and purging
# stops them. (Not an upgrade: one more dpkg -i of the 35 MB package costs half a minute.)
dpkg -i /root/anemos.deb >/tmp/reinstall.log 2>&1; echo "REPORT host-install $?"
sleep 2
echo "REPORT host-install-active $(systemctl is-active anemosd anemos-dnsmasq anemos-tftpd | sort -u | tr '\n' ' ')"
anemos-setup --interface eth0 --mode proxy >/tmp/setup.log 2>&1; echo "REPORT host-setup $?"
sed 's/^/STATUS setup /' /tmp/setup.log
n=0
for _ in $(seq 1 40); do
	n=$(get 8080 /boot.ipxe 2>/dev/null | grep -c '^set anemos-url http://192.0.2.1:8080')
	[ "$n" = 1 ] && break
	sleep 0.5
done
echo "REPORT host-setup boot.ipxe $n"
for u in anemosd anemos-dnsmasq anemos-tftpd; do echo "REPORT host-setup $u $(systemctl is-active "$u.service")"; done
dpkg --purge anemos >>/tmp/reinstall.log 2>&1; rc=$?
echo "REPORT host-purge $rc $(ps -e -o comm= | grep -cE '^(anemosd|dnsmasq|in.tftpd)$')"
sed 's/^/STATUS reinstall /' /tmp/reinstall.log | tail -n 30
systemctl poweroff
SCRIPT
chmod 755 "$PKG/usr/local/sbin/anemos-test-report"
install -m 755 "$ROOT/tests/deploy/pxe-client.pl" "$PKG/usr/local/sbin/anemos-test-pxe-client"
cat >"$PKG/etc/systemd/system/anemos-report.service" <<'UNIT'
[Unit]
Description=Report for the deploy test
After=anemosd.service anemos-dnsmasq.service anemos-tftpd.service anemos-cache.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/anemos-test-report
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/anemos-report.service "$PKG/etc/systemd/system/multi-user.target.wants/"
: >"$PKG/etc/machine-id"
umount_all
mkfs.ext4 -q -F -d "$PKG" "$WORK/tree.img" 2G >"$WORK/mkfs.log" 2>&1 ||
	{ fail "an ext4 disk of the tree (mkfs.ext4 -d)" "$(tail -n 3 "$WORK/mkfs.log")"; exit 1; }
tar -I zstd -xf "$ROOT/build/images/tiny.tar.zst" -C "$WORK" ./boot/initrd.img 2>/dev/null ||
	tar -I zstd -xf "$ROOT/build/images/tiny.tar.zst" -C "$WORK" boot/initrd.img
t0=$(date +%s)
timeout 600 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -display none -no-reboot \
	-kernel "$ROOT/build/boot/vmlinuz" -initrd "$WORK/boot/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 init=/lib/systemd/systemd panic=-1" \
	-drive "file=$WORK/tree.img,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0 \
	-netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:12:34:01 \
	-netdev hubport,id=n1,hubid=0 -device virtio-net-pci,netdev=n1,romfile=,mac=52:54:00:12:34:02 \
	-serial "file:$WORK/console-tree.log" 2>"$WORK/qemu-tree.err"
debugfs -R "cat /var/log/anemos-report" "$WORK/tree.img" >"$WORK/report.log" 2>/dev/null
report=$(grep -a '^REPORT ' "$WORK/report.log")
echo "# the installed tree under systemd ($(( $(date +%s) - t0 )) s):"
echo "$report" | sed 's/^/#   /'
expect_match "anemosd.service is active, running as anemos" '^REPORT anemosd active anemos$' "$report"
expect_match "anemos-dnsmasq.service is active, running as dnsmasq" '^REPORT anemos-dnsmasq active dnsmasq$' "$report"
expect_match "anemos-tftpd.service is active" '^REPORT anemos-tftpd active ' "$report"
expect_match "the hardened anemosd serves /boot.ipxe on 192.0.2.1:8080" '^REPORT boot.ipxe 1$' "$report"
expect_match "anemos-cache.service is active, running as apt-cacher-ng" '^REPORT anemos-cache active apt-cacher-ng$' "$report"
expect_match "the stock apt-cacher-ng.service is not running" '^REPORT stock-apt-cacher-ng inactive$' "$report"
expect_match "a .deb fetched through the cache from anemosd: 200, whole" '^REPORT cache-fetch 1 HTTP/1.[01] 200 .* whole$' "$report"
expect_match "... and again" '^REPORT cache-fetch 2 HTTP/1.[01] 200 .* whole$' "$report"
expect_match "apt-cacher-ng's log: a download and two responses (a miss, then a hit)" '^REPORT cache-log IOO$' "$report"
expect_match "the hardened anemosd reads the cache's log" '^REPORT metric anemos_package_cache_log_readable 1$' "$report"
expect_match "... and counts 1 miss" '^REPORT metric anemos_package_cache_misses_total 1$' "$report"
expect_match "... and 1 hit" '^REPORT metric anemos_package_cache_hits_total 1$' "$report"
# dnsmasq as its user with its three capabilities (NET_BIND_SERVICE, NET_ADMIN, NET_RAW:
# 0x3400); in.tftpd as root with its four (SETGID, SETUID, NET_BIND_SERVICE, SYS_CHROOT:
# 0x404c0); both with no new privileges and a seccomp filter (mode 2).
expect_match "dnsmasq runs with exactly NET_BIND_SERVICE, NET_ADMIN and NET_RAW, no new privileges, a system-call filter" \
	'^REPORT proc anemos-dnsmasq CapEff:0000000000003400 CapBnd:0000000000003400 NoNewPrivs:1 Seccomp:2 $' "$report"
expect_match "in.tftpd runs with exactly SETGID, SETUID, NET_BIND_SERVICE and SYS_CHROOT, no new privileges, a system-call filter" \
	'^REPORT proc anemos-tftpd CapEff:00000000000404c0 CapBnd:00000000000404c0 NoNewPrivs:1 Seccomp:2 $' "$report"
expect_match "a PXE client on the provisioning network is offered an address of the pool and undionly.kpxe" \
	"^REPORT pxe offer from 192.0.2.1 address 192.0.2.1[0-9][0-9] file 'undionly.kpxe'" "$report"
expect_match "... gets it (DHCPACK) with the TFTP server 192.0.2.1" \
	"^REPORT pxe ack address 192.0.2.1[0-9][0-9] file 'undionly.kpxe' next-server 192.0.2.1$" "$report"
expect_match "... the hardened dnsmasq wrote the lease, as dnsmasq" '^REPORT lease dnsmasq 1$' "$report"
expect_match "... and fetches undionly.kpxe from the hardened tftp-hpa, whole" \
	'^REPORT pxe undionly.kpxe as in /srv/anemos/tftp$' "$report"
tftp_uid=$(awk -F: '$1 == "tftp" { print $3 }' "$PKG/etc/passwd")
expect_match "the in.tftpd serving a transfer is tftp (uid $tftp_uid), chrooted in the TFTP root, without capabilities" \
	"^REPORT tftp-child uid=$tftp_uid,$tftp_uid,$tftp_uid root=/srv/anemos/tftp CapEff=0000000000000000$" "$report"
expect_match "... and that transfer, held for 4 s after its first block, still completes" \
	'^REPORT pxe again tftp got [0-9]+ bytes$' "$report"
for u in anemosd anemos-dnsmasq anemos-tftpd anemos-cache; do
	score=$(sed -n "s/^REPORT security $u //p" <<<"$report")
	echo "# systemd-analyze security $u.service under the booted tree's systemd: exposure ${score:-(none)}"
	expect_eq "... and there, $u.service's exposure is at most ${BOUND[$u]}" yes "$(at_most "$score" "${BOUND[$u]}")"
done
# dpkg --purge anemos in the booted tree.
expect_match "dpkg --purge anemos succeeds in the booted tree" '^REPORT purge 0 (none|not-installed)$' "$report"
for u in anemosd anemos-dnsmasq anemos-tftpd anemos-cache; do
	expect_match "... $u.service is no longer active" "^REPORT purged $u (inactive|unknown)\$" "$report"
done
expect_match "... none of anemosd, dnsmasq, in.tftpd, apt-cacher-ng runs" '^REPORT purged processes 0$' "$report"
expect_match "... none of the package's files, nor what anemos-setup made, is left" \
	'^REPORT purged files [0-9]+ listed, left: none$' "$report"
expect_match "... and nothing answers on 192.0.2.1:8080" '^REPORT purged http 0$' "$report"
# The package as on a host, under the booted tree's systemd.
expect_match "dpkg -i of the package under a running systemd succeeds" '^REPORT host-install 0$' "$report"
expect_match "... and starts nothing before anemos-setup" '^REPORT host-install-active inactive $' "$report"
expect_match "anemos-setup --interface eth0 --mode proxy there succeeds (eth0's address read)" '^REPORT host-setup 0$' "$report"
for u in anemosd anemos-dnsmasq anemos-tftpd; do
	expect_match "... and starts $u.service" "^REPORT host-setup $u active\$" "$report"
done
expect_match "... anemosd serves /boot.ipxe naming eth0's address" '^REPORT host-setup boot.ipxe 1$' "$report"
expect_match "... and purging it then stops everything" '^REPORT host-purge 0 0$' "$report"
if [ "$_failures" -gt 0 ]; then
	grep -a 'STATUS' "$WORK/report.log" | tail -n 40 | sed 's/^/#   /'
	tr -d '\r' <"$WORK/console-tree.log" | grep -a -E 'anemos|Failed' | tail -n 20 | sed 's/^/#   /'
fi
[ "$_failures" -eq 0 ]

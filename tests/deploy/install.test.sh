#!/usr/bin/env bash
# run-in: build
# deploy/install.sh on a clean Debian 12 tree (debootstrap --variant=minbase, with systemd as
# every Debian 12 host has it; the packages are cached in build/images-cache), as a chroot:
# it installs the packages, the user, the programs, the TFTP root, the settings and the units.
# Then dnsmasq (the one installed in the tree) accepts the generated configuration,
# `systemd-analyze verify --root` accepts the units (with their binaries present in the
# tree), anemosd runs there as the user anemos from the installed paths, and a second run
# changes nothing. Runs against the normal build only (the chroot has no sanitizer runtime).
source "$(dirname "$0")/../integration/lib.sh"
for t in debootstrap systemd-analyze chroot; do
	command -v "$t" >/dev/null || { fail "tools for the deploy test" "$t missing (deploy/install-deps.sh test)"; exit 1; }
done
for f in "$BUILD/boot/vmlinuz" "$BUILD/boot/initramfs.img"; do
	[ -s "$f" ] || { fail "built tree" "$f missing (make initramfs)"; exit 1; }
done
TREE=$WORK/debian
CACHE=$ROOT/build/images-cache/debootstrap-debs
mkdir -p "$CACHE"
MIRROR=$(source <(sed -n '/^host_uri()/,/^}/p' "$ROOT/images/base/debootstrap.sh"); host_uri bookworm)
MIRROR=${ANEMOS_MIRROR:-$MIRROR}
[ -n "$MIRROR" ] || { fail "an apt source for bookworm" "none in /etc/apt/sources.list(.d): set ANEMOS_MIRROR"; exit 1; }
MOUNTS=""
umount_all() { local m; for m in $MOUNTS; do umount -l "$m" 2>/dev/null; done; MOUNTS=""; }
trap 'umount_all; _cleanup' EXIT

t0=$(date +%s)
if debootstrap --variant=minbase --include=systemd --cache-dir="$CACHE" bookworm "$TREE" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1; then
	ok "a clean Debian 12 tree (debootstrap minbase + systemd, $(( $(date +%s) - t0 )) s)"
else
	fail "debootstrap a clean Debian 12 tree" "$(tail -n 5 "$WORK/debootstrap.log")"
	exit 1
fi
mount -t proc proc "$TREE/proc" && MOUNTS="$TREE/proc $MOUNTS"
cp /etc/resolv.conf "$TREE/etc/resolv.conf" 2>/dev/null

install_args=(--root "$TREE" --build "$BUILD" --interface eno2 --mode proxy --server-ip 192.0.2.1
	--netmask 255.255.255.0 --port 8080)
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
units="anemosd.service anemos-dnsmasq.service anemos-tftpd.service"
out=$(cd "$TREE/etc/systemd/system" && systemd-analyze verify --root="$TREE" $units 2>&1); rc=$?
expect_eq "systemd-analyze verify accepts the units" "0:" "$rc:$out"
for u in $units; do
	check "$u is enabled" test -L "$TREE/etc/systemd/system/multi-user.target.wants/$u"
done
expect_eq "the stock tftpd-hpa is not enabled" "" \
	"$(ls "$TREE"/etc/rc?.d/S*tftpd-hpa "$TREE"/etc/systemd/system/*.wants/tftpd-hpa.service 2>/dev/null)"
# A changed unit would fail verify: prove the check can fail.
sed 's#^ExecStart=/usr/local/sbin/anemosd#ExecStart=/usr/local/sbin/anemosd-missing#' \
	"$TREE/etc/systemd/system/anemosd.service" >"$TREE/etc/systemd/system/anemos-broken.service"
out=$(systemd-analyze verify --root="$TREE" anemos-broken.service 2>&1)
expect_match "verify refuses a unit whose program is missing" 'anemosd-missing.*not executable' "$out"
rm -f "$TREE/etc/systemd/system/anemos-broken.service"

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
before=$(cd "$TREE" && find etc/anemos etc/systemd usr/local srv/anemos var/lib/anemos -type f -newer "$TREE/etc/anemos/anemos.conf" 2>/dev/null | wc -l)
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
umount_all
[ "$_failures" -eq 0 ]

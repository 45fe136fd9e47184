#!/bin/sh
# `make demo`: one QEMU machine (TCG, BIOS, an empty 4 GiB disk, MAC 52:54:00:de:00:01,
# SMBIOS serial ANEMOS-DEMO) network-boots from the appliance `make run` started, is
# enrolled to install the `tiny` image once, installs it, reboots from its disk and phones
# home: watch it go new -> ready -> installing -> deployed in the dashboard. Run again, it
# reinstalls the same machine. The machine runs in the background; its console goes to
# DATA/demo/console.log; `make demo-stop` (or kill the PID it prints) stops it.
#
# ANEMOS_URL (default http://127.0.0.1:8080), ANEMOS_DATA (default var, for the admin token
# make run keeps there) and ANEMOS_DEMO_MAC say which appliance and machine.
set -eu
url=${ANEMOS_URL:-http://127.0.0.1:8080}
data=${ANEMOS_DATA:-var}
mac=${ANEMOS_DEMO_MAC:-52:54:00:de:00:01}
dir=$data/demo
port=${url##*:}
port=${port%%/*}

die() { echo "make demo: $*" >&2; exit 1; }
[ "${1:-}" = stop ] && {
	[ -s "$dir/qemu.pid" ] && kill "$(cat "$dir/qemu.pid")" 2>/dev/null && echo "demo machine stopped"
	rm -f "$dir/qemu.pid"
	exit 0
}
command -v qemu-system-x86_64 >/dev/null || die "QEMU is missing: deploy/install-deps.sh test installs it"
curl -fsS -m 3 "$url/healthz" >/dev/null 2>&1 || die "no appliance at $url: start it first with \`make run\` (in another terminal)"
[ -s "$data/admin-token" ] || die "no $data/admin-token: \`make run\` makes it on its first start"
token=$(cat "$data/admin-token")
# curl with the admin token from stdin, never on a command line.
api() { printf 'header = "Authorization: Bearer %s"\n' "$token" | curl -K - -fsS -m 30 -H 'Content-Type: application/json' "$@"; }
api "$url/api/v1/images/tiny" >/dev/null 2>&1 || api "$url/api/v1/images" | grep -q '"name":"tiny"' ||
	die "the appliance has no tiny image: \`make run\` registers it (make images IMAGES=tiny builds it)"

mkdir -p "$dir"
if [ -s "$dir/qemu.pid" ] && kill "$(cat "$dir/qemu.pid")" 2>/dev/null; then
	echo "stopped the demo machine that was running"
	sleep 1
fi
rm -f "$dir/qemu.pid"
settings='"next_boot":"install","image":"tiny","once":true'
if api "$url/api/v1/hosts/$mac" >/dev/null 2>&1; then
	api -X PATCH -d "{$settings}" "$url/api/v1/hosts/$mac" >/dev/null
	what="reinstalls tiny"
else
	api -d "{\"mac\":\"$mac\",\"hostname\":\"demo\",$settings}" "$url/api/v1/hosts" >/dev/null
	what="installs tiny"
fi
[ -e "$dir/disk.qcow2" ] || qemu-img create -q -f qcow2 "$dir/disk.qcow2" 4G
# The guest reaches the host's loopback as 10.0.2.2 (QEMU's user network); anemosd tells it
# that address back (no --public-url), so the installer finds anemosd too.
qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -display none \
	-smbios type=1,manufacturer=Anemos,product=Demo,serial=ANEMOS-DEMO \
	-serial "file:$dir/console.log" \
	-netdev "user,id=n0,bootfile=http://10.0.2.2:$port/boot.ipxe" \
	-device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1" \
	-drive "file=$dir/disk.qcow2,if=none,id=d1" -device "virtio-blk-pci,drive=d1,serial=DEMO-DISK,bootindex=2" \
	</dev/null >"$dir/qemu.log" 2>&1 &
echo $! >"$dir/qemu.pid"
cat <<MSG
The demo machine $mac $what (QEMU pid $(cat "$dir/qemu.pid"), a few minutes under TCG):
  watch it:   $url/#/hosts/$mac   (new -> ready -> installing -> deployed)
  events:     build/anemosctl host events $mac
  console:    tail -f $dir/console.log
  again:      make demo   (reinstalls it)
  stop it:    make demo-stop
MSG

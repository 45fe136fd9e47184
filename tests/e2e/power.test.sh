#!/usr/bin/env bash
# run-in: build
# cost: 400
# Reinstalling through the BMC, with no one at the rack: OpenIPMI's ipmi_sim on loopback is
# the BMC of a QEMU machine (BIOS), its chassis commands start and stop that QEMU process
# and its one-time boot device chooses the machine's next boot (tests/e2e/power-chassis.sh).
# The machine has the same BMC in-band too (QEMU's ipmi-bmc-extern and isa-ipmi-kcs, on
# ipmi_sim's serial KCS interface), and Anemos starts with no BMC settings for it: its
# discover boot (powered on by hand with the BMC's own admin user) records the BMC's LAN
# address and MAC in the inventory, read in-band; --bmc-enroll has the waiting agent create
# the user anemos in-band with a password only anemosd knows; the next power action (off)
# works with it. From that powered-off machine with an empty disk, `anemosctl host
# reinstall` alone reaches deployed; a second reinstall of the deployed (running) machine
# power-cycles it and installs again; the events show every power action, with who asked;
# the enrolled password is in no log, event, API answer or database file. (A wrong password,
# an unreachable and a slow BMC: tests/integration/power.test.sh, against the same simulator.)
source "$(dirname "$0")/../integration/lib.sh"
source "$ROOT/tests/lib/bmc.sh"
for f in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-img /usr/bin/ipmi_sim /usr/bin/ipmitool; do
	[ -e "$f" ] || { fail "QEMU and OpenIPMI installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
BOOT=$ROOT/build/boot
IMG=$ROOT/build/images/tiny.tar.zst
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$IMG"; do
	[ -s "$f" ] || { fail "initramfs and tiny image built" "$f missing: run make initramfs and make images IMAGES=tiny"; exit 1; }
done
PW='pw-Rack-4410'
MAC=52:54:00:e7:00:10
PORT=$(free_port)
ANEMOS_NO_PUBLIC_URL=1 anemosd_start --boot-dir "$BOOT" --bmc-timeout 5 --power-poll 5 \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1
mkdir -p "$DATA/images/tiny"
cp "$IMG" "$DATA/images/tiny/tiny.tar.zst"
expect_eq "tiny registered" 201 "$(status_of "$(api POST /api/v1/images '{"name":"tiny","file":"tiny.tar.zst"}')")"

# The machine behind the BMC: network (no bootindex: the BMC's boot device decides), an
# empty disk, and the BMC in-band; its console appended across power cycles. The BMC has a
# loopback address of its own on port 623, which is what its LAN settings tell.
BMC_A=$WORK/bmc-rack
INBAND=$(free_port)
BMC_IP=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
BMC_HWADDR=52:54:00:b0:$(printf '%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)))
mkdir -p "$BMC_A"
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 4G
{
	printf '%s\n' -accel tcg -m 1024 -smp 2 -display none -name anemos-power-e2e \
		-chardev "file,id=s0,path=$WORK/console-rack.log,append=on" -serial chardev:s0 \
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe" -device "virtio-net-pci,netdev=n0,mac=$MAC" \
		-drive "file=$WORK/disk.qcow2,if=none,id=d1" -device "virtio-blk-pci,drive=d1,serial=DISK-rack"
	bmc_qemu_args "$INBAND"
} >"$BMC_A/qemu.args"
qemu_pid() { cat "$BMC_A/qemu.pid" 2>/dev/null; }
# The machine is stopped at the end whatever happens (by the PID QEMU wrote).
trap 'p=$(qemu_pid); [ -n "$p" ] && kill "$p" 2>/dev/null; bmc_stop_all; _cleanup' EXIT
BMC_ADDR=$BMC_IP BMC_MAC=$BMC_HWADDR BMC_INBAND_PORT=$INBAND bmc_start rack "$PW" "$ROOT/tests/e2e/power-chassis.sh" ||
	{ fail "the BMC starts"; exit 1; }
expect_eq "the machine is off" "" "$(qemu_pid)"
events() { body_of "$(api GET "/api/v1/hosts/web7/events?limit=1000")" | jq -r '.events[] | "\(.source) \(.message)"'; }
bmc_admin() { IPMI_PASSWORD=$PW ipmitool -I lanplus -C 3 -H "$BMC_IP" -U admin -E "$@"; }

# Anemos knows the machine by its MAC and nothing of its BMC. Someone at the BMC's own
# console (its admin user) powers it on for a network boot: it discovers.
api POST /api/v1/hosts "{\"mac\":\"$MAC\",\"hostname\":\"web7\",\"image\":\"tiny\"}" >/dev/null
expect_eq "no BMC settings in Anemos" null "$(host_field web7 .bmc)"
bmc_admin chassis bootdev pxe >/dev/null 2>&1
bmc_admin chassis power on >/dev/null 2>&1
t0=$(now)
for _ in $(seq 1 300); do
	[ "$(host_field web7 .inventory.bmc.ip)" != null ] && break
	sleep 1
done
inv_bmc=$(host_field web7 .inventory.bmc)
expect_eq "the discover boot found the BMC in-band: its address ($(secs "$t0" "$(now)") s)" "$BMC_IP" "$(jq -r .ip <<<"$inv_bmc")"
[ "$(jq -r .ip <<<"$inv_bmc")" = "$BMC_IP" ] || { console_tail rack; grep -a 'anemos: BMC' "$WORK/console-rack.log"; }
expect_eq "... its MAC" "$BMC_HWADDR" "$(jq -r .mac <<<"$inv_bmc")"
expect_eq "... static, netmask and gateway as the BMC says" "static 255.0.0.0 127.0.0.1" \
	"$(jq -r '"\(.ip_source) \(.netmask) \(.gateway)"' <<<"$inv_bmc")"
expect_eq "... over KCS (SMBIOS type 38), IPMI 2.0, LAN channel 1" "kcs 2.0 1" \
	"$(jq -r '"\(.interface) \(.ipmi_version) \(.channel)"' <<<"$inv_bmc")"
expect_eq "a search finds it by bmc:present" web7 \
	"$(body_of "$(api GET "/api/v1/hosts?q=bmc:present")" | jq -r '[.hosts[].hostname] | join(",")')"
expect_match "host show names the BMC found" "BMC found: +$BMC_IP, MAC $BMC_HWADDR \(static, channel 1, kcs\)" \
	"$("$ANEMOSCTL" host show web7 2>&1)"

# --bmc-enroll while the agent waits in discover: it creates the user in-band, and anemosd
# keeps the BMC settings once it says so.
out=$("$ANEMOSCTL" host set web7 --bmc-enroll 2>&1)
expect_match "host set --bmc-enroll" '^updated host' "$out"
for _ in $(seq 1 120); do
	[ "$(host_field web7 .bmc_enroll)" = null ] && break
	sleep 1
done
expect_match "the agent created the BMC user in-band" \
	"agent BMC enrolled in-band: user anemos \(user [0-9]+, channel 1\); power control through ipmi://anemos@$BMC_IP:623" "$(events)"
expect_eq "the host's BMC settings are the enrolled user's, with a password set" "ipmi anemos $BMC_IP 623 true" \
	"$(host_field web7 '"\(.bmc.protocol) \(.bmc.username) \(.bmc.address) \(.bmc.port) \(.bmc.password_set)"')"
[ "$(host_field web7 .bmc.username)" = anemos ] || { grep -a 'anemos-agent' "$WORK/console-rack.log" | tail -n 5; events | tail -n 5; }
expect_match "the BMC lists the user anemos with administrator rights" 'anemos +(true|false) +(true|false) +(true|false) +ADMINISTRATOR' \
	"$(bmc_admin user list 1 2>&1)"
out=$(timeout 120 "$ANEMOSCTL" host power web7 off 2>&1)
expect_match "the next power action (off) works with the enrolled user" 'power off done' "$out"
for _ in $(seq 1 20); do [ -z "$(qemu_pid)" ] && break; sleep 0.5; done
expect_eq "... and the machine is off" "" "$(qemu_pid)"
# The password anemosd made is in ipmi_sim's user store (its state folder: N.username and
# N.passwd lines, NUL-padded as \00), and so can be looked for where it must not be.
users=$(find "$BMC_A/state" -name 'users.*' -type f | head -n 1)
ENROLLED_PW=$(awk -F: '$1 ~ /\.username$/ && $3 ~ /^anemos\\00/ { split($1, a, "."); id = a[1] }
	{ v[$1] = $3 } END { p = v[id ".passwd"]; sub(/\\00.*/, "", p); print p }' "$users" 2>/dev/null)
expect_match "the BMC holds the enrolled user's password (ipmi_sim's state)" '^[A-Za-z0-9]{16}$' "$ENROLLED_PW"

# reinstall NAME: `anemosctl host reinstall web7`, bounded (the install under TCG takes
# minutes); passes when it exits 0 with the host deployed.
reinstall() {
	local t0 rc
	t0=$(now)
	timeout 600 "$ANEMOSCTL" host reinstall web7 >"$WORK/reinstall-$1.out" 2>&1; rc=$?
	if [ "$rc" = 0 ] && [ "$(host_field web7 .status)" = deployed ]; then
		ok "$1: anemosctl host reinstall alone reached deployed ($(secs "$t0" "$(now)") s)"
	else
		fail "$1: anemosctl host reinstall reached deployed" "exit $rc, status $(host_field web7 .status); $(tail -n 5 "$WORK/reinstall-$1.out" | tr '\n' ';')"
		console_tail rack
	fi
}

reinstall "from a powered-off machine with an empty disk"
expect_match "the reinstall printed the BMC's answer" 'power cycle accepted by the BMC \(asked by test\)' "$(cat "$WORK/reinstall-from a powered-off machine with an empty disk.out")"
expect_match "the BMC started the machine for a one-time network boot" 'set boot pxe.*set power 1.*start: -boot order=c,once=n' \
	"$(tr '\n' ' ' <"$BMC_A/chassis.log")"
expect_match "the machine installed tiny" 'installed tiny onto' "$(events)"
expect_match "... and its own reboot went to the disk: the installed system phoned home" 'installed system reported in' "$(events)"
expect_eq "the machine runs (powered by the BMC)" 0 "$(kill -0 "$(qemu_pid)" 2>/dev/null; echo $?)"
first_pid=$(qemu_pid)
expect_eq "the host's power state" on "$(host_field web7 .power.state)"
lines_before=$(wc -l <"$BMC_A/chassis.log")

installs_before=$(event_count web7 '^installed tiny onto')
reinstall "a second reinstall of the deployed machine"
expect_eq "the second reinstall installed again" $((installs_before + 1)) "$(event_count web7 '^installed tiny onto')"
expect_match "... after the BMC set a network boot, powered the running machine off, then on" \
	'set boot pxe .*set power 0 .*set power 1 start: -boot order=c,once=n' \
	"$(tail -n +"$((lines_before + 1))" "$BMC_A/chassis.log" | tr '\n' ' ')"
check "... as a new QEMU process" test "$(qemu_pid)" != "$first_pid"
ev=$(events)
expect_eq "the events show both power actions, with who asked" 2 "$(grep -c '^operator power cycle, next boot network asked by test$' <<<"$ev")"
expect_eq "... and both answers of the BMC" 2 "$(grep -c '^bmc power cycle accepted by the BMC (asked by test)$' <<<"$ev")"
expect_eq "the enrolled password is in no event" 0 "$(grep -c -F -- "${ENROLLED_PW:-unknown}" <<<"$ev")"
expect_eq "... no API answer" 0 "$( { api GET /api/v1/hosts/web7; api GET /api/v1/hosts; "$ANEMOSCTL" --json host show web7; } 2>&1 |
	grep -c -F -- "${ENROLLED_PW:-unknown}")"
expect_eq "... no log line" 0 "$(cat "$WORK/anemosd.log" "$WORK/reinstall-"*.out | grep -c -F -- "${ENROLLED_PW:-unknown}")"
expect_eq "... not in the database files" 0 "$(cat "$DATA"/anemos.db* | grep -c -a -F -- "${ENROLLED_PW:-unknown}")"
expect_eq "... and not on the machine's console" 0 "$(grep -c -a -F -- "${ENROLLED_PW:-unknown}" "$WORK/console-rack.log")"
anemosd_stop
exit "$_failures"

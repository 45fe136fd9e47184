#!/usr/bin/env bash
# cost: 15
# lock: web
# The dashboard in a real browser: Debian's chromium, driven by playwright-core, against a
# real anemosd serving server/web/ with hosts seeded through the boot, agent and operator
# APIs (inventories from the inventory fixtures). The checks themselves are in
# dashboard.mjs; screenshots land in build/screenshots/.
source "$(dirname "$0")/../integration/lib.sh"
source "$ROOT/tests/lib/bmc.sh"
WEB=$ROOT/tests/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOTS=$ROOT/build/screenshots

# What the browser test needs: chromium (Debian) and playwright-core (npm, pinned in
# package-lock.json; it drives the installed chromium and downloads no browser).
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ]; then
	echo "# installing chromium" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >"$WORK/apt.log" 2>&1 ||
		{ apt-get update -qq >>"$WORK/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >>"$WORK/apt.log" 2>&1; }
fi
if [ ! -x "$CHROMIUM" ]; then fail "chromium is installed" "no $CHROMIUM: apt-get install chromium"; exit 1; fi
command -v node >/dev/null || { fail "node is installed" "apt-get install nodejs npm"; exit 1; }
if [ ! -f "$WEB/node_modules/playwright-core/package.json" ] ||
   [ "$(jq -r .version "$WEB/node_modules/playwright-core/package.json")" != "$(jq -r '.packages["node_modules/playwright-core"].version' "$WEB/package-lock.json")" ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --prefix "$WEB" --no-audit --no-fund >"$WORK/npm.log" 2>&1 ||
		{ fail "npm ci in tests/web" "$(tail -n 5 "$WORK/npm.log")"; exit 1; }
fi

# db01's BMC: OpenIPMI's simulator, the machine behind it a state file (tests/lib/bmc-chassis.sh).
bmc_start web 'pw-Web-2291' "$ROOT/tests/lib/bmc-chassis.sh" || { fail "the BMC simulator starts"; exit 1; }
anemosd_start --web-dir "$ROOT/server/web" || exit 1

# The dashboard's files are served as the browser needs them.
expect_match "GET / is the dashboard" '<script type="module" src="/ui/app.js">' "$(curl -sS -m 5 "$ANEMOS_URL/")"
expect_match "ES modules are served as JavaScript" '^(text|application)/javascript' \
	"$(curl -sS -m 5 -o /dev/null -w '%{content_type}' "$ANEMOS_URL/ui/app.js")"
for f in "$ROOT"/server/web/*.js; do
	m=$(basename "$f")
	[ "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/ui/$m")" = 200 ] || fail "/ui/$m is served"
done

# ---- seed: images, then machines that boot, report inventory and install ----
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
api POST /api/v1/images '{"name":"debian-12","url":"http://192.0.2.10/images/debian-12.raw.zst","sha256":"'"$(sha debian)"'","format":"raw.zst"}' >/dev/null
api POST /api/v1/images '{"name":"ubuntu-24.04","url":"http://192.0.2.10/images/ubuntu-24.04.tar.zst","sha256":"'"$(sha ubuntu)"'","format":"tar.zst"}' >/dev/null
"$ANEMOSCTL" image add "$ROOT/images/tiny" --name tiny-built >/dev/null   # a recipe image

inventory_of() { "$BUILD/anemos-inventory" --root "$ROOT/tests/fixtures/inventory/$1"; }
R640=$(inventory_of server-4dimm-bios) || { fail "fixture inventory"; exit 1; }
# Its first NIC heard its switch port over LLDP (as a discover boot records it).
R640=$(jq -c '.nics[0].lldp = {chassis_id: "a6:41:b4:fb:6b:7c", switch: "leaf-3", port: "Ethernet12",
	port_description: "to rack 4 db01", vlan: 12, mgmt_address: "192.0.2.33", switch_description: null}' <<<"$R640")
QEMU=$(inventory_of qemu-q35-uefi)
DESKTOP=$(inventory_of desktop-dmi-id)

# r640_like N: the R640 inventory with serials and MACs of its own (24:6e:96:8a:4N:..).
r640_like() {
	jq -c --arg n "$1" '
		.system.serial = "5DW1F\($n)2" | .chassis.serial = .system.serial | .baseboard.serial = ".\(.system.serial).CN\($n)."
		| .system.uuid = "4c4c4544-0058-4b10-8034-00000000000\($n)"
		| .nics |= map(.mac |= sub("^(?<p>..:..:..:..):3c"; "\(.p):4\($n)"))
		| .memory.dimms |= map(.serial |= "\(.)-\($n)") | .disks |= map(.serial |= "\(.)\($n)")' <<<"$R640"
}

# boot MAC SERIAL VENDOR PRODUCT: the machine network-boots; prints its agent token.
boot() {
	agent_token_of "$(ipxe "$1" pcbios "serial=$2&manufacturer=$(jq -rn --arg v "$3" '$v|@uri')&product=$(jq -rn --arg v "$4" '$v|@uri')")"
}
# report TOKEN INVENTORY: the agent posts what it found.
report() { agent POST /api/v1/agent/inventory "$1" "$2" >/dev/null; }
id_of() { host_field "$1" .id; }
event() { agent POST /api/v1/agent/events "$1" "$2" >/dev/null; }
# deploy TOKEN NAME: the install boot ends well and the installed system phones home.
deploy() {
	local ph
	ph=$(body_of "$(agent POST /api/v1/agent/phone-home-token "$1")" | jq -r .token)
	agent POST /api/v1/agent/done "$1" '{"ok":true}' >/dev/null
	bearer_request "$ph" POST /api/v1/phone-home '{"hostname":"'"$2"'","kernel":"6.1.0-28-amd64"}' >/dev/null
}

# db01: the R640 of the fixture, ready; the browser assigns it an image.
t=$(boot 24:6e:96:8a:3c:10 7XK4M93 "Dell Inc." "PowerEdge R640"); report "$t" "$R640"
R640_ID=$(id_of 24:6e:96:8a:3c:10)
api PATCH "/api/v1/hosts/$R640_ID" '{"hostname":"db01.rack4","ssh_authorized_keys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0 ops@anemos"]}' >/dev/null
# ... and a disk swapped since: its second inventory leaves a drift mark on the host page.
t=$(boot 24:6e:96:8a:3c:10 7XK4M93 "Dell Inc." "PowerEdge R640"); report "$t" "$(jq -c '.disks[-1].serial = "SWAPPED-1"' <<<"$R640")"
# shellcheck disable=SC2154 # BMC_PORT_web: set by bmc_start
api PATCH "/api/v1/hosts/$R640_ID" '{"bmc":{"address":"127.0.0.1","port":'"$BMC_PORT_web"',"username":"admin","password":"pw-Web-2291"}}' >/dev/null

# build02: a VM installing now, with progress.
t=$(boot 52:54:00:12:34:56 "" QEMU "Standard PC (Q35 + ICH9, 2009)"); report "$t" "$QEMU"
VM_ID=$(id_of 52:54:00:12:34:56)
api PATCH "/api/v1/hosts/$VM_ID" '{"hostname":"build02","next_boot":"install","image":"ubuntu-24.04","once":true}' >/dev/null
t=$(boot 52:54:00:12:34:56 "" QEMU "Standard PC (Q35 + ICH9, 2009)")
agent GET /api/v1/agent/plan "$t" >/dev/null
event "$t" '{"phase":"download","message":"Fetching ubuntu-24.04","level":"info"}'
event "$t" '{"phase":"write","message":"Writing ubuntu-24.04 to /dev/vda","level":"info","bytes":1610612736,"total":2147483648}'

# A desktop, deployed, without a hostname.
t=$(boot 04:d9:f5:11:22:33 "" "" ""); report "$t" "$DESKTOP"
DESK_ID=$(id_of 04:d9:f5:11:22:33)
api PATCH "/api/v1/hosts/$DESK_ID" '{"next_boot":"install","image":"debian-12","once":true}' >/dev/null
t=$(boot 04:d9:f5:11:22:33 "" "" ""); agent GET /api/v1/agent/plan "$t" >/dev/null
event "$t" '{"phase":"write","message":"Writing debian-12 to /dev/nvme0n1","level":"info","bytes":2147483648,"total":2147483648}'
deploy "$t" localhost

# Racks of R640s in every other state.
n=1
for spec in "web01 ready" "web02 deployed" "web03 failed" "db02 maintenance" "old-db03 decommissioned"; do
	set -- $spec
	inv=$(r640_like "$n"); mac=$(jq -r '.nics[0].mac' <<<"$inv"); serial=$(jq -r .system.serial <<<"$inv")
	# web01's agent found its BMC in-band (Anemos has no BMC settings for it): the host page
	# shows it and offers the enroll.
	[ "$1" = web01 ] && inv=$(jq -c '.bmc = {"present":true,"interface":"kcs","ipmi_version":"2.0","channel":1,
		"ip":"192.0.2.41","ip_source":"static","mac":"24:6e:96:8a:41:ff","netmask":"255.255.255.0","gateway":"192.0.2.1"}' <<<"$inv")
	t=$(boot "$mac" "$serial" "Dell Inc." "PowerEdge R640"); report "$t" "$inv"
	hid=$(id_of "$mac")
	[ "$1" = web01 ] && WEB01_ID=$hid
	api PATCH "/api/v1/hosts/$hid" '{"hostname":"'"$1"'"}' >/dev/null
	case $2 in
	deployed|failed)
		api PATCH "/api/v1/hosts/$hid" '{"next_boot":"install","image":"debian-12","once":true}' >/dev/null
		t=$(boot "$mac" "$serial" "Dell Inc." "PowerEdge R640"); agent GET /api/v1/agent/plan "$t" >/dev/null
		if [ "$2" = deployed ]; then deploy "$t" "$1"
		else
			event "$t" '{"phase":"write","message":"Writing debian-12 to /dev/nvme0n1","level":"info","bytes":536870912,"total":4294967296}'
			agent POST /api/v1/agent/done "$t" '{"ok":false,"error":"download of debian-12 failed: connection reset by peer at 512 MiB"}' >/dev/null
		fi ;;
	maintenance|decommissioned) api PATCH "/api/v1/hosts/$hid" '{"status":"'"$2"'"}' >/dev/null ;;
	esac
	n=$((n + 1))
done
# A machine seen once that has not reported its hardware yet.
ipxe 52:54:00:aa:bb:01 efi >/dev/null

hosts=$(body_of "$(api GET /api/v1/hosts)")
expect_eq "seeded hosts" 9 "$(jq '.hosts|length' <<<"$hosts")"
expect_eq "seeded states" "decommissioned deployed failed installing maintenance new ready" \
	"$(jq -r '[.hosts[].status]|unique|join(" ")' <<<"$hosts")"

mkdir -p "$SHOTS"
ANEMOS_URL=$ANEMOS_URL ANEMOS_TOKEN=$ANEMOS_TOKEN CHROMIUM=$CHROMIUM SHOTS=$SHOTS \
SEED_HOST_IDS=$(jq -r '[.hosts[].id]|join(",")' <<<"$hosts") \
R640_ID=$R640_ID R640_MAC=24:6e:96:8a:3c:10 R640_SERIAL=7XK4M93 R640_HOSTNAME=db01.rack4 \
R640_DIMM_SERIAL=$(jq -r '.memory.dimms[0].serial' <<<"$R640") R640_DISK_SERIAL=$(jq -r '.disks[0].serial' <<<"$R640") \
R640_NIC_MAC=$(jq -r '.nics[1].mac' <<<"$R640") R640_CPU=$(jq -r .cpu.model <<<"$R640") \
VM_ID=$VM_ID WEB01_ID=$WEB01_ID IMAGE=debian-12 BMC_DIR=$WORK/bmc-web \
	timeout 300 node "$WEB/dashboard.mjs"
rc=$?
case $rc in
0|1) ;;
124) fail "the browser test ends within 300 s" ;;
*) fail "the browser test runs" "node exited $rc" ;;
esac

anemosd_stop
exit $(( _failures > 0 || rc != 0 ))

#!/usr/bin/env bash
# The `debian` recipe built on the targets themselves (base=debootstrap), through the
# appliance's package cache: a signed local mirror with debootstrap's minbase and the
# recipe's packages with their dependencies (on a port below 32768), apt-cacher-ng on
# loopback in front of it, anemosd with --package-cache. Machine 1 (BIOS) bootstraps Debian
# on its disk in the Anemos environment (debootstrap, then apt in the chroot), reboots from
# the disk, phones home (deployed) and lets the plan's key log in over SSH; its apt still
# trusts the mirror. Machine 2 (UEFI) then builds the same recipe, and every package it gets
# comes out of the cache: apt-cacher-ng's own log has no new downloads of them, and /metrics
# counts them as hits. Events show the phases and the package bytes. Slow (debootstrap and
# apt under TCG, about half an hour a machine): `make test-slow`, not `make test`.
source "$(dirname "$0")/../integration/lib.sh"
source "$ROOT/tests/lib/mirror.sh"
ACNG=/usr/sbin/apt-cacher-ng
for f in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-img /usr/share/OVMF/OVMF_CODE_4M.fd /usr/bin/ssh "$ACNG"; do
	[ -e "$f" ] || { fail "QEMU, OVMF, ssh and apt-cacher-ng installed" "$f missing (deploy/install-deps.sh slow)"; exit 1; }
done
BOOT=${ANEMOS_BOOT:-$BUILD/boot}
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img"; do
	[ -s "$f" ] || { fail "initramfs built" "$f missing: make test-slow builds it"; exit 1; }
done
INSTALL_SECS=${ANEMOS_INSTALL_SECS:-3600}   # one machine's install under TCG, at most
ACNG_PID=""
declare -A PIDS
stop_machine() { local p=${PIDS[$1]:-}; [ -n "$p" ] && { kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }; unset "PIDS[$1]"; }
stop_all() { local m; for m in "${!PIDS[@]}"; do stop_machine "$m"; done; }
stop_cache() { [ -n "$ACNG_PID" ] && { kill "$ACNG_PID" 2>/dev/null; wait "$ACNG_PID" 2>/dev/null; }; ACNG_PID=""; }
trap 'stop_all; stop_cache; mirror_stop; _cleanup' EXIT
# wait_until SECONDS COMMAND...: polls every 5 s.
wait_until() { local end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 5; done; }
wait_http() { local _; for _ in $(seq 1 100); do [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0; sleep 0.1; done; return 1; }
metric() { curl -sS -m 5 "$ANEMOS_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
events_json() { body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")"; }
events() { events_json "$1" | jq -r '.events[].message'; }
status_is() { [ "$(host_field "$1" .status 2>/dev/null)" = "$2" ]; }
t_all=$(now)

# ---- the mirror: minbase and the debian recipe's packages, with their dependencies ----
# shellcheck disable=SC1091,SC2086,SC2154
PKGS=$(. "$ROOT/images/debian/recipe" && echo $packages)
t0=$(now)
# shellcheck disable=SC2086
mirror_build "$WORK/mirror" --minbase --with-deps $PKGS 2>"$WORK/mirror-build.err" ||
	{ fail "the mirror builds (minbase + the debian recipe's packages and dependencies)" "$(tail -n 3 "$WORK/mirror-build.err")"; exit 1; }
INDEX=$WORK/mirror/debian/dists/bookworm/main/binary-amd64/Packages
NPKGS=$(grep -c '^Package:' "$INDEX")
NBYTES=$(awk '/^Size:/ { s += $2 } END { print s + 0 }' "$INDEX")
ok "the mirror: minbase and the recipe's packages with their dependencies, $NPKGS packages, $((NBYTES / 1048576)) MiB ($(secs "$t0" "$(now)") s)"
for p in $PKGS apt usr-is-merged; do
	grep -qx "Package: $p" "$INDEX" || fail "the mirror carries $p"
done
mirror_serve "$WORK/mirror" --low-port 2>>"$WORK/mirror-build.err" || { fail "the mirror serves on a port below 32768"; exit 1; }
UPSTREAM=http://127.0.0.1:$MIRROR_PORT/debian   # as the cache (on this host) reaches it

# ---- the cache: apt-cacher-ng with the shipped configuration, on loopback ----
mkdir -p "$WORK/acng-conf" "$WORK/acng-cache" "$WORK/acng-log"
cp "$ROOT/deploy/cache/acng.conf" "$WORK/acng-conf/acng.conf"
CACHE_PORT=$(free_low_port)
"$ACNG" -c "$WORK/acng-conf" ForeGround=1 Port="$CACHE_PORT" BindAddress=127.0.0.1 \
	CacheDir="$WORK/acng-cache" LogDir="$WORK/acng-log" SocketPath="$WORK/acng.socket" \
	>"$WORK/acng.out" 2>&1 &
ACNG_PID=$!
wait_http "http://127.0.0.1:$CACHE_PORT/" || { fail "apt-cacher-ng starts" "$(tail -n 5 "$WORK/acng.out")"; exit 1; }
ACNG_LOG=$WORK/acng-log/apt-cacher.log
ok "apt-cacher-ng on 127.0.0.1:$CACHE_PORT (pid $ACNG_PID) in front of the mirror on port $MIRROR_PORT"

PORT=$(free_port)
# Targets reach this host's loopback as 10.0.2.2: the cache there, which reaches the mirror.
anemosd_start --boot-dir "$BOOT" --public-url "http://10.0.2.2:$PORT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" \
	--package-cache "http://10.0.2.2:$CACHE_PORT" --package-cache-log "$ACNG_LOG" || exit 1
VIA=http://10.0.2.2:$CACHE_PORT/127.0.0.1:$MIRROR_PORT/debian

# ---- the recipe: images/debian as shipped, plus this mirror and the key that signs it ----
cp -a "$ROOT/images/debian" "$WORK/debian"
cp "$WORK/mirror/keyring.gpg" "$WORK/debian/mirror.gpg"
printf '\n# The test mirror and the key that signs it.\nmirror=%s\nkeyring=mirror.gpg\n' "$UPSTREAM" >>"$WORK/debian/recipe"
out=$("$ANEMOSCTL" --json image add "$WORK/debian" --name debian-built 2>&1)
expect_eq "image add DIR registers the debian recipe" "recipe recipe debootstrap bookworm" \
	"$(jq -r '"\(.source) \(.format) \(.base) \(.suite)"' <<<"$out" 2>/dev/null)"

ssh-keygen -q -t ed25519 -N '' -C anemos-recipe-slow -f "$WORK/key" 2>/dev/null
declare -A MACS=([bios]=52:54:00:5e:01:10 [uefi]=52:54:00:5e:01:20) SSH_PORTS=()
for m in bios uefi; do
	SSH_PORTS[$m]=$(free_port)
	api POST /api/v1/hosts "$(jq -cn --arg mac "${MACS[$m]}" --arg k "$(cat "$WORK/key.pub")" --arg h "deb-$m" \
		'{mac: $mac, hostname: $h, next_boot: "install", image: "debian-built", once: true, ssh_authorized_keys: [$k]}')" >/dev/null
done

# power_on NAME FW DISK: a machine, network first, then its disk; SSH forwarded; a reboot ends it.
power_on() {
	local name=$1 fw=$2 disk=$3 log=$WORK/console-$1.log
	[ -e "$disk" ] || qemu-img create -q -f qcow2 "$disk" 8G
	local args=(-accel tcg -m 2048 -smp 2 -display none -no-reboot -serial "file:$log"
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe,hostfwd=tcp:127.0.0.1:${SSH_PORTS[$fw]}-:22"
		-device "virtio-net-pci,netdev=n0,mac=${MACS[$fw]},bootindex=1"
		-drive "file=$disk,if=none,id=d1" -device "virtio-blk-pci,drive=d1,serial=DISK-$fw,bootindex=2")
	if [ "$fw" = uefi ]; then
		[ -e "$WORK/vars.fd" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/vars.fd"
		# shellcheck disable=SC2054  # commas belong to QEMU options
		args+=(-machine q35 -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
			-drive "if=pflash,format=raw,file=$WORK/vars.fd")
	fi
	: >"$log"
	timeout $((INSTALL_SECS + 600)) qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu.err" &
	PIDS[$name]=$!
}
running() { kill -0 "${PIDS[$1]:-0}" 2>/dev/null; }
install_over() { ! running "$1" || status_is "$2" failed; }
# phase_times MAC: seconds from each step's first event to the next one's.
phase_times() {
	events_json "$1" | jq -r '.events as $e
		| def at(f): (first($e[] | select(f) | .time | fromdateiso8601) // null);
		[["bootstrap: bundle, mirror check", at(.phase == "bootstrap")],
		 ["partition, debootstrap", at(.phase == "partition")],
		 ["packages: apt in the chroot", at(.message | test("running the recipe.s packages step"))],
		 ["provision", at(.phase == "provision")], ["configure", at(.phase == "configure")],
		 ["bootloader", at(.phase == "bootloader")], ["end", at(.message | test("^installed "))]
		 | select(.[1] != null)] as $m
		| [range(0; ($m | length) - 1) as $i | "\($m[$i][0]) \($m[$i + 1][1] - $m[$i][1]) s"] | join(", ")'
}
ssh_to() { # FW COMMAND: on the installed system, with the plan's key
	timeout 60 ssh -i "$WORK/key" -p "${SSH_PORTS[$1]}" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR root@127.0.0.1 "$2"
}

# install_and_boot FW: installs machine FW (building the recipe on its disk), boots it from
# the disk to deployed and logs in over SSH.
install_and_boot() {
	local fw=$1 mac=${MACS[$1]} t0 t1 ev got out i
	t0=$(now)
	power_on "$fw-install" "$fw" "$WORK/disk-$fw.qcow2"
	wait_until "$INSTALL_SECS" install_over "$fw-install" "$mac" || true
	t1=$(now)
	ev=$(events "$mac")
	if grep -q '^installed debian-built onto' <<<"$ev"; then
		ok "$fw: built debian (debootstrap + apt) on its disk from the mirror through the cache, then rebooted ($(secs "$t0" "$t1") s)"
	else
		fail "$fw: built debian on its disk within $INSTALL_SECS s" "status $(host_field "$mac" .status); $(tail -n 4 <<<"$ev" | tr '\n' ';')"
		console_tail "$fw-install"
		stop_machine "$fw-install"
		return 1
	fi
	stop_machine "$fw-install"
	echo "# $fw install $(secs "$t0" "$t1") s: $(phase_times "$mac")"
	expect_match "$fw: phases partition, bootstrap, provision, configure, bootloader" \
		'partition bootstrap provision configure bootloader' \
		"$(events_json "$mac" | jq -r '[.events[].phase] as $u | ["partition","bootstrap","provision","configure","bootloader"] | map(select(. as $p | $u | index($p))) | join(" ")')"
	expect_match "$fw: the bootstrap step said where from" "^bootstrap: building debian-built from $VIA \(suite bookworm\)" "$ev"
	expect_match "$fw: bootstrap events count packages and MiB as they come" '^bootstrap: [0-9]+ packages, [0-9.]+ MiB fetched' "$ev"
	got=$(events_json "$mac" | jq -r '[.events[] | select(.bytes != null) | .bytes] | max // 0')
	expect_eq "$fw: the events' bytes reach every package of the mirror (sizes from the verified index)" "$NBYTES" "$got"
	expect_match "$fw: ... all $NPKGS packages, debootstrap's and apt's" "^provision: debian-built built here: $NPKGS packages, " "$ev"
	expect_eq "$fw: install once: next boot local" local "$(host_field "$mac" .next_boot)"

	t0=$(now)
	power_on "$fw-disk" "$fw" "$WORK/disk-$fw.qcow2"
	if wait_until 900 status_is "$mac" deployed; then
		ok "$fw: booted from its disk and phoned home: deployed ($(secs "$t0" "$(now)") s)"
	else
		fail "$fw: booted from its disk and phoned home within 900 s" "status $(host_field "$mac" .status)"
		console_tail "$fw-disk"
	fi
	out=""
	for i in $(seq 1 40); do
		out=$(ssh_to "$fw" 'hostname; cat /etc/debian_version; cat /etc/apt/sources.list' 2>/dev/null) && break
		running "$fw-disk" || break
		sleep 5
	done
	echo "# $fw: power-on from disk to SSH login $(secs "$t0" "$(now)") s ($i tries)"
	expect_eq "$fw: SSH login with the plan's key to the installed system (its hostname)" "deb-$fw" "$(sed -n 1p <<<"$out")"
	expect_match "$fw: it is Debian 12" '^12\.' "$(sed -n 2p <<<"$out")"
	expect_eq "$fw: its apt uses the mirror (through the cache) and trusts the recipe's key for it alone" \
		"deb [signed-by=/etc/apt/keyrings/anemos-recipe.gpg] $VIA bookworm main" "$(sed -n 3p <<<"$out")"
	out=$(ssh_to "$fw" 'apt-get -q update 2>&1; echo "rc=$?"' 2>&1)
	expect_match "$fw: apt-get update on the installed system verifies the mirror" '^rc=0$' "$(tail -n 1 <<<"$out")"
	expect_no_match "$fw: ... without a warning" '^(W|E|Err):' "$out"
	stop_machine "$fw-disk"
}

# ---- machine 1: BIOS ----
install_and_boot bios
first_i=$(awk -F'|' '$2 == "I" && $5 ~ /\.deb$/ { print $5 }' "$ACNG_LOG" | sort -u | wc -l)
expect_eq "bios: apt-cacher-ng fetched each of the $NPKGS packages from the mirror (I lines in its log)" "$NPKGS" "$first_i"

# ---- machine 2: UEFI, the same recipe, its packages out of the cache ----
mark=$(wc -l <"$ACNG_LOG")
# /metrics counts an O line as a hit only when no I line waits for it (cache.c): a package
# apt-cacher-ng had to fetch twice for machine 1 (a transfer cut short) uses up one hit.
again=$(( $(awk -F'|' '$2 == "I" && $5 ~ /\.deb$/' "$ACNG_LOG" | wc -l) - first_i ))
hits0=$(metric anemos_package_cache_hits_total)
uplink0=$(grep -c 'GET /debian/pool/.*\.deb ' "$WORK/mirror.log")
install_and_boot uefi
tail -n +"$((mark + 1))" "$ACNG_LOG" >"$WORK/acng-uefi.log"
served=$(awk -F'|' '$2 == "O" && $5 ~ /\.deb$/ { print $5 }' "$WORK/acng-uefi.log" | sort -u | wc -l)
fetched=$(awk -F'|' '$2 == "I" && $5 ~ /\.deb$/' "$WORK/acng-uefi.log" | wc -l)
expect_eq "uefi: apt-cacher-ng served it all $NPKGS packages (O lines in its log)" "$NPKGS" "$served"
expect_eq "uefi: ... and downloaded none of them again (no new I lines for a .deb)" 0 "$fetched"
expect_eq "uefi: ... so the mirror sent no package a second time" "$uplink0" "$(grep -c 'GET /debian/pool/.*\.deb ' "$WORK/mirror.log")"
hits1=$(metric anemos_package_cache_hits_total)
check "uefi: /metrics hits grew by the $NPKGS packages ($hits0 -> $hits1; $again fetched twice before)" \
	test "$((hits1 - hits0))" -ge "$((NPKGS - again))"

stop_all
anemosd_stop
echo "# recipe-debian suite: $(secs "$t_all" "$(now)") s in all"
# shellcheck disable=SC2154  # lib.sh's counter
[ "$_failures" -eq 0 ]

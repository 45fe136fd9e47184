#!/usr/bin/env bash
# run-in: build/asan
# cost: 450
# Recipes built on the target: the `tiny` recipe is registered as a recipe image (a bundle of
# its folder, plus the test mirror's keyring and a per-host template); a BIOS and a UEFI
# machine with empty disks boot the Anemos environment, fetch the kernel and busybox from a
# signed local Debian mirror, check them, build the system on their own disks, reboot from
# disk and phone home: deployed. On the disks: the plan's hostname and key, the rendered
# template, and the same file list as anemos-mkimg's prebuilt `tiny`. A machine pointed at a
# mirror signed by another key fails, the event names the signature, and its disk is wiped;
# so does one whose mirror serves a package other than the one its signed index describes.
source "$(dirname "$0")/../integration/lib.sh"
source "$ROOT/tests/lib/mirror.sh"
for f in /usr/bin/qemu-system-x86_64 /usr/share/OVMF/OVMF_CODE_4M.fd /usr/sbin/sfdisk /usr/bin/gpgv; do
	[ -e "$f" ] || { fail "QEMU, OVMF, sfdisk and gpgv installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
# The initramfs and tiny's file list come from the normal build (ANEMOS_ARTIFACTS: another).
ARTIFACTS=${ANEMOS_ARTIFACTS:-$ROOT/build}
BOOT=$ARTIFACTS/boot
FILES=$ARTIFACTS/images/tiny.files
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$FILES"; do
	[ -s "$f" ] || { fail "initramfs and tiny's file list built" "$f missing: run make initramfs and make images IMAGES=tiny"; exit 1; }
done

# The mirror: the kernel and busybox-static, signed; a copy signed by another key beside it.
mirror_build "$WORK/mirror" linux-image-amd64 busybox-static || { fail "the test mirror builds"; exit 1; }
cp -a "$WORK/mirror" "$WORK/other"
mirror_sign_with_other_key "$WORK/other" || { fail "the other-key mirror signs"; exit 1; }
mv "$WORK/other/debian" "$WORK/mirror/other-key"
# ... and one whose busybox package is not the one its signed index describes.
cp -a "$WORK/mirror/debian" "$WORK/mirror/bad-hash"
TAMPERED=$(cd "$WORK/mirror/bad-hash" && find pool -name 'busybox-static_*.deb')
printf 'tampered' >>"$WORK/mirror/bad-hash/$TAMPERED"
mirror_serve "$WORK/mirror" || { fail "the test mirror serves"; exit 1; }
GOOD=http://10.0.2.2:$MIRROR_PORT/debian
BAD=http://10.0.2.2:$MIRROR_PORT/other-key
BADHASH=http://10.0.2.2:$MIRROR_PORT/bad-hash

PORT=$(free_port)
anemosd_start --boot-dir "$BOOT" --public-url "http://10.0.2.2:$PORT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1

# The recipe folder: images/tiny as shipped, plus the key that signs this mirror.
cp -a "$ROOT/images/tiny" "$WORK/tiny"
cp "$WORK/mirror/keyring.gpg" "$WORK/tiny/mirror.gpg"
printf '\n# The key that signs the test mirror.\nkeyring=mirror.gpg\n' >>"$WORK/tiny/recipe"
out=$("$ANEMOSCTL" --json image add "$WORK/tiny" --name tiny-recipe 2>&1)
expect_eq "image add DIR registers a recipe image" "recipe recipe busybox bookworm" \
	"$(jq -r '"\(.source) \(.format) \(.base) \(.suite)"' <<<"$out" 2>/dev/null)"
sha=$(jq -r .sha256 <<<"$out" 2>/dev/null)
expect_eq "the bundle is stored by its SHA-256" "$sha.tar" "$(jq -r .file <<<"$out" 2>/dev/null)"
check "the stored bundle has that SHA-256" test "$(sha256sum "$DATA/images/tiny-recipe/$sha.tar" 2>/dev/null | cut -d' ' -f1)" = "$sha"
expect_match "image list shows it as a recipe" 'tiny-recipe +recipe' "$("$ANEMOSCTL" image list 2>&1)"

ssh-keygen -q -t ed25519 -N '' -C anemos-recipe-e2e -f "$WORK/key" 2>/dev/null
KEY=$(cat "$WORK/key.pub")
events() { body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")" | jq -r '.events[].message'; }
status_is() { [ "$(host_field "$1" .status 2>/dev/null)" = "$2" ]; }
declare -A PIDS
# power_on NAME FW MAC DISK: a machine (network first, then its raw disk); a reboot ends it.
power_on() {
	local name=$1 fw=$2 mac=$3 disk=$4
	[ -e "$disk" ] || truncate -s 4G "$disk"
	local args=(-accel tcg -m 1024 -smp 2 -display none -no-reboot -serial "file:$WORK/console-$name.log"
		-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot.ipxe"
		-device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1"
		-drive "file=$disk,format=raw,if=none,id=d1" -device "virtio-blk-pci,drive=d1,serial=DISK-$name,bootindex=2")
	if [ "$fw" = uefi ]; then
		[ -e "$WORK/vars-$name.fd" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/vars-$name.fd"
		# shellcheck disable=SC2054  # commas belong to QEMU options
		args+=(-machine q35 -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
			-drive "if=pflash,format=raw,file=$WORK/vars-$name.fd")
	fi
	: >"$WORK/console-$name.log"
	timeout 900 qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu.err" &
	PIDS[$name]=$!
}
running() { kill -0 "${PIDS[$1]}" 2>/dev/null; }
stop_all() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); }
trap 'stop_all; mirror_stop; _cleanup' EXIT
# wait_until SECONDS COMMAND...: polls once a second.
wait_until() { local _; for _ in $(seq 1 "$1"); do "${@:2}" && return 0; sleep 1; done; "${@:2}"; }
installs_over() { local m; for m in "$@"; do running "$m" && ! status_is "${MACS[$m]}" failed && return 1; done; return 0; }
deployed_all() { local m; for m in "$@"; do status_is "${MACS[$m]}" deployed || return 1; done; }
# mount_root DISK PART DIR: the partition's file system, read-only, by offset (no udev here).
mount_root() {
	local start size
	start=$(sfdisk -J "$1" | jq ".partitiontable.partitions[$(($2 - 1))].start")
	size=$(sfdisk -J "$1" | jq ".partitiontable.partitions[$(($2 - 1))].size")
	mkdir -p "$3"
	mount -o "ro,noload,loop,offset=$((start * 512)),sizelimit=$((size * 512))" "$1" "$3"
}

declare -A MACS=([bios]=52:54:00:e5:00:10 [uefi]=52:54:00:e5:00:20 [badkey]=52:54:00:e5:00:30 [badhash]=52:54:00:e5:00:40)
for m in bios uefi badkey badhash; do
	mirror=$GOOD; [ "$m" = badkey ] && mirror=$BAD; [ "$m" = badhash ] && mirror=$BADHASH
	api POST /api/v1/hosts "$(jq -cn --arg mac "${MACS[$m]}" --arg k "$KEY" --arg h "built-$m" --arg u "$mirror" \
		'{mac: $mac, hostname: $h, next_boot: "install", image: "tiny-recipe", once: true,
		  ssh_authorized_keys: [$k], install: {mirror: $u}}')" >/dev/null
done
t0=$(now)
power_on bios bios "${MACS[bios]}" "$WORK/disk-bios.raw"
power_on uefi uefi "${MACS[uefi]}" "$WORK/disk-uefi.raw"
power_on badkey bios "${MACS[badkey]}" "$WORK/disk-badkey.raw"

# refused NAME WHAT REGEX: the host failed, the event says why, the disk is wiped.
refused() {
	local m=$1
	if wait_until 600 status_is "${MACS[$m]}" failed; then
		ok "$2: the host is failed ($(secs "$t0" "$(now)") s)"
		expect_match "... the event names it" "$3" "$(events "${MACS[$m]}")"
		wait_until 60 grep -q 'wiped' "$WORK/console-$m.log"
		kill "${PIDS[$m]}" 2>/dev/null; wait "${PIDS[$m]}" 2>/dev/null; unset "PIDS[$m]"
		expect_eq "... the disk's partition table is gone (first MiB zero)" 0 "$(head -c 1048576 "$WORK/disk-$m.raw" | tr -d '\0' | wc -c)"
		check "... sfdisk finds no partition table" bash -c "! sfdisk -d '$WORK/disk-$m.raw' 2>/dev/null | grep -q start="
	else
		fail "$2: the host is failed within 600 s" "status $(host_field "${MACS[$m]}" .status)"
		console_tail "$m"
	fi
}
refused badkey "mirror signed by another key" 'InRelease has no good signature by .*mirror.gpg: .*(No public key|public key not found)'
# The machines that build share the two cores; the tampered package's comes after.
power_on badhash bios "${MACS[badhash]}" "$WORK/disk-badhash.raw"
refused badhash "a package that is not the one the signed index describes" \
	"bad-hash/$(sed 's/[.+]/\\&/g' <<<"$TAMPERED"): SHA-256 [0-9a-f]{64}, but the signed index says [0-9a-f]{64}"

# Built on their own disks: the install ends with a reboot, which ends QEMU.
if wait_until 900 installs_over bios uefi; then :; fi
for m in bios uefi; do
	ev=$(events "${MACS[$m]}")
	if grep -q '^installed tiny-recipe onto' <<<"$ev"; then
		ok "$m: built tiny from the mirror on its disk, then rebooted ($(secs "$t0" "$(now)") s)"
	else
		fail "$m: built tiny from the mirror on its disk" "status $(host_field "${MACS[$m]}" .status); $(tail -n 4 <<<"$ev" | tr '\n' ';')"
		console_tail "$m"
	fi
	expect_match "$m: phases partition, bootstrap, provision, configure, bootloader" \
		'partition bootstrap provision configure bootloader' \
		"$(body_of "$(api GET "/api/v1/hosts/${MACS[$m]}/events?limit=1000")" | jq -r '[.events[].phase] | unique_by(.) as $u | ["partition","bootstrap","provision","configure","bootloader"] | map(select(. as $p | $u | index($p))) | join(" ")')"
	got=$(body_of "$(api GET "/api/v1/hosts/${MACS[$m]}/events?limit=1000")" |
		jq -r '[.events[] | select(.phase == "bootstrap" and .bytes != null)] | last | "\(.bytes) \(.total)"')
	expect_match "$m: the events show the package bytes the target fetched, of the total" '^([0-9]{7,}) \1$' "$got"
	expect_match "$m: ... and the packages done out of the total" 'bootstrap: 3 of 3 packages, [0-9.]+ of [0-9.]+ MiB' "$ev"
	expect_eq "$m: install once: next boot local" local "$(host_field "${MACS[$m]}" .next_boot)"
done
stop_all
for m in bios uefi; do power_on "$m-disk" "$m" "${MACS[$m]}" "$WORK/disk-$m.raw"; done
if wait_until 300 deployed_all bios uefi; then
	ok "both booted from their disks and phoned home: deployed (power-on to deployed $(secs "$t0" "$(now)") s)"
	echo "# power-on to deployed, two machines at once under TCG: $(secs "$t0" "$(now)") s"
else
	fail "both booted from their disks and phoned home within 300 s" "bios $(host_field "${MACS[bios]}" .status), uefi $(host_field "${MACS[uefi]}" .status)"
	console_tail bios-disk; console_tail uefi-disk
fi
for m in bios uefi; do
	report=$(events "${MACS[$m]}" | grep '^installed system reported in' | tail -n 1)
	expect_match "$m: the installed system has the plan's hostname" '"hostname":"built-'"$m"'"' "$report"
	expect_match "$m: the installed system has the plan's SSH key" '"ssh_authorized_keys":1' "$report"
done
stop_all

# On the disks: the template rendered with this host's values, the key, and the same files
# as the prebuilt tiny (per-machine paths excluded by the one list in lib/filelist.c).
for m in bios uefi; do
	part=1; [ "$m" = uefi ] && part=2
	if mount_root "$WORK/disk-$m.raw" "$part" "$WORK/root-$m"; then
		expect_eq "$m: /etc/motd rendered from files/etc/motd.template" \
			"built-$m: the Anemos tiny image tiny-recipe, installed for ${MACS[$m]}" "$(head -n 1 "$WORK/root-$m/etc/motd")"
		check "$m: the template is kept in /etc/anemos/templates" test -f "$WORK/root-$m/etc/anemos/templates/etc/motd.template"
		expect_eq "$m: root's authorized_keys is the plan's key" "$KEY" "$(cat "$WORK/root-$m/root/.ssh/authorized_keys")"
		check "$m: nothing of the build is left on the disk" test ! -e "$WORK/root-$m/.anemos-build"
		"$BUILD/anemos-agent" --manifest "$WORK/root-$m" >"$WORK/files-$m" 2>"$WORK/manifest-$m.err"
		if diff -u "$FILES" "$WORK/files-$m" >"$WORK/diff-$m"; then
			ok "$m: the same files as the prebuilt tiny ($(wc -l <"$FILES") paths, type, mode and SHA-256)"
		else
			fail "$m: the same files as the prebuilt tiny" "$(head -n 30 "$WORK/diff-$m" | tr '\n' '|')"
		fi
		umount "$WORK/root-$m"
	else
		fail "$m: the installed root file system mounts"
	fi
done
anemosd_stop

#!/usr/bin/env bash
# The anemosd side of reinstall/rescue/adopt over SSH: POST /api/v1/hosts/REF/kexec arms a
# host (fresh agent token; for install next boot install once) and answers the boot files'
# URLs and SHA-256 and the command line; GET /kexec.sh is the script anemosctl runs on the
# target; POST /api/v1/inventory adopts a running host. Bad input changes nothing.
source "$(dirname "$0")/lib.sh"
mkdir -p "$BOOT_DIR"
head -c 300000 /dev/urandom >"$BOOT_DIR/vmlinuz"
head -c 500000 /dev/urandom >"$BOOT_DIR/initramfs.img"
anemosd_start --kernel-args "console=ttyS0" || exit 1

mac=52:54:00:77:00:01
api POST /api/v1/hosts "{\"mac\":\"$mac\",\"next_boot\":\"local\",\"hostname\":\"vm1\"}" >/dev/null
mkdir -p "$DATA/images/tiny" && head -c 1000 /dev/urandom >"$DATA/images/tiny/tiny.tar.zst"
api POST /api/v1/images '{"name":"tiny","file":"tiny.tar.zst"}' >/dev/null

r=$(api POST "/api/v1/hosts/vm1/kexec" '{"mode":"install"}')
expect_eq "install without an image anywhere is refused" 400 "$(status_of "$r")"
expect_match "... saying so" 'needs an image' "$(body_of "$r")"
expect_eq "... and the host is unchanged" "local" "$(host_field vm1 .next_boot)"
expect_eq "a wrong mode is refused" 400 "$(status_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"wipe"}')")"
expect_eq "an unknown field is refused" 400 "$(status_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"rescue","x":1}')")"
expect_eq "an image with rescue is refused" 400 "$(status_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"rescue","image":"tiny"}')")"
expect_eq "an unknown image is refused" 400 "$(status_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"install","image":"nope"}')")"
expect_eq "an unknown host is 404" 404 "$(status_of "$(api POST /api/v1/hosts/nohost/kexec '{"mode":"rescue"}')")"
expect_eq "without the admin token: 401" 401 \
	"$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{"mode":"rescue"}' "$ANEMOS_URL/api/v1/hosts/vm1/kexec")"

r=$(api POST "/api/v1/hosts/vm1/kexec" '{"mode":"install","image":"tiny"}')
expect_eq "install with an image arms the host" 200 "$(status_of "$r")"
b=$(body_of "$r")
expect_eq "next boot install, once, image tiny" "install true tiny" "$(host_field vm1 '"\(.next_boot) \(.once) \(.image)"')"
expect_eq "the answer keeps the settings before" '{"image":null,"next_boot":"local","once":false}' "$(jq -cS .previous <<<"$b")"
expect_eq "kernel SHA-256 and size" "$(sha256sum <"$BOOT_DIR/vmlinuz" | cut -d' ' -f1) 300000" "$(jq -r '"\(.kernel.sha256) \(.kernel.size)"' <<<"$b")"
expect_eq "initramfs SHA-256" "$(sha256sum <"$BOOT_DIR/initramfs.img" | cut -d' ' -f1)" "$(jq -r .initrd.sha256 <<<"$b")"
expect_eq "boot file URLs" "$ANEMOS_URL/boot/vmlinuz $ANEMOS_URL/boot/initramfs.img" "$(jq -r '"\(.kernel.url) \(.initrd.url)"' <<<"$b")"
expect_eq "command line names the server and the mode, not the token" "anemos.url=$ANEMOS_URL anemos.mode=install console=ttyS0" "$(jq -r .cmdline <<<"$b")"
tok=$(jq -r .token <<<"$b")
expect_match "a fresh agent token" '^anemos_agent_' "$tok"
expect_eq "the token is the host's: its plan is the install of tiny" "install tiny" \
	"$(body_of "$(agent GET /api/v1/agent/plan "$tok")" | jq -r '"\(.action) \(.image.name)"')"
expect_no_match "the token is not in anemosd's log" "$tok" "$(cat "$WORK/anemosd.log")"
# A changed initramfs gets its new digest (the cache follows the file).
head -c 1000 /dev/urandom >"$BOOT_DIR/initramfs.img.new" && mv "$BOOT_DIR/initramfs.img.new" "$BOOT_DIR/initramfs.img"
r=$(api POST "/api/v1/hosts/vm1/kexec" '{"mode":"rescue"}')
expect_eq "rescue arms without changing the next boot" "200 install" "$(status_of "$r") $(host_field vm1 .next_boot)"
expect_eq "a replaced initramfs gets its new SHA-256" "$(sha256sum <"$BOOT_DIR/initramfs.img" | cut -d' ' -f1)" "$(body_of "$r" | jq -r .initrd.sha256)"
expect_eq "the older token is revoked by the newer" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$tok")")"
expect_match "the events say who armed it" 'rescue over SSH' "$(body_of "$(api GET /api/v1/hosts/vm1/events)")"

# Arming does not retire the installed system's phone-home token; the install starting does.
P=$(body_of "$(agent POST /api/v1/agent/phone-home-token "$(body_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"install"}')" | jq -r .token)")" | jq -r .token)
expect_match "an armed install's token gets a phone-home token for the new system" '^anemos_phone_' "$P"
T2=$(body_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"install"}')" | jq -r .token)
expect_eq "arming again leaves the phone-home token working" 200 "$(status_of "$(agent POST /api/v1/phone-home "$P" '{}')")"
agent GET /api/v1/agent/plan "$T2" >/dev/null
expect_eq "the install starting (its plan handed out) retires it" 401 "$(status_of "$(agent POST /api/v1/phone-home "$P" '{}')")"
# Disarm: what anemosctl does when the target refuses.
api PATCH /api/v1/hosts/vm1 '{"next_boot":"local","once":false,"status":"ready"}' >/dev/null
b=$(body_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"install"}')")
T3=$(jq -r .token <<<"$b")
r=$(api POST /api/v1/hosts/vm1/kexec/cancel "$(jq -c .previous <<<"$b")")
expect_eq "cancel puts the next boot back" "200 local false" "$(status_of "$r") $(host_field vm1 '"\(.next_boot) \(.once)"')"
expect_eq "... and revokes the armed token" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$T3")")"
expect_eq "cancel refuses fields it does not restore" 400 "$(status_of "$(api POST /api/v1/hosts/vm1/kexec/cancel '{"status":"ready"}')")"
api PATCH /api/v1/hosts/vm1 '{"status":"decommissioned"}' >/dev/null
expect_eq "a decommissioned host is not armed" 409 "$(status_of "$(api POST /api/v1/hosts/vm1/kexec '{"mode":"rescue"}')")"
api PATCH /api/v1/hosts/vm1 '{"status":"ready"}' >/dev/null

r=$(curl -sS -D - "$ANEMOS_URL/kexec.sh")
expect_match "GET /kexec.sh serves the script as a shell script" 'Content-Type: text/x-shellscript' "$r"
cmp -s <(curl -sS "$ANEMOS_URL/kexec.sh") "$ROOT/target-scripts/kexec.sh" && ok "GET /kexec.sh is target-scripts/kexec.sh" || fail "GET /kexec.sh is target-scripts/kexec.sh"
for sh in dash bash; do   # (busybox sh runs it for real in tests/e2e/cloud)
	check "kexec.sh parses with $sh" $sh -n "$ROOT/target-scripts/kexec.sh"
done
out=$(env -i PATH=/usr/bin:/bin sh "$ROOT/target-scripts/kexec.sh" 2>&1); rc=$?
expect_eq "kexec.sh without its settings stops at once" 1 "$rc"
expect_match "... saying it is run through anemosctl" 'ANEMOS_MODE is not set' "$out"

# Adopt: an inventory registers a running host.
inv=$(jq -n '{system: {vendor: "QEMU", product: "Standard PC", serial: "ADOPT-1", uuid: "0a0b0c0d-0000-4000-8000-00000000ad01"},
	nics: [{name: "eth0", mac: "52:54:00:77:00:02"}], disks: [], memory: {total_bytes: 1073741824}}')
r=$(api POST /api/v1/inventory "$inv")
expect_eq "adopt a host never seen: 200" 200 "$(status_of "$r")"
expect_eq "... it is deployed, next boot local, found by its MAC" "deployed local 52:54:00:77:00:02" \
	"$(body_of "$r" | jq -r '"\(.status) \(.next_boot) \(.macs[0])"')"
expect_eq "... with its inventory" "ADOPT-1" "$(host_field 52:54:00:77:00:02 .inventory.system.serial)"
n=$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')
# The inventory comes from the target: it never picks the host it goes onto.
r=$(api POST /api/v1/inventory "$(jq '.nics += [{name: "eth1", mac: "52:54:00:77:00:03"}]' <<<"$inv")")
expect_eq "adopting a known machine again without naming it: 409" 409 "$(status_of "$r")"
expect_match "... the message names the host and how to name it" 'names MAC 52:54:00:77:00:02 of host [0-9]+; .*adopt --host' "$(body_of "$r")"
id=$(host_field 52:54:00:77:00:02 .id)
victim=$(body_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:77:00:20","hostname":"victim"}')" | jq -r .id)
before=$(body_of "$(api GET /api/v1/hosts/victim)" | jq -c 'del(.last_seen,.updated)')
r=$(api POST /api/v1/inventory "$(jq '.system = {serial: "FORGED"} | .nics = [{name: "eth0", mac: "52:54:00:77:00:20"}]' <<<"$inv")")
expect_eq "an inventory naming another host's MAC does not overwrite it: 409" 409 "$(status_of "$r")"
expect_eq "... the victim is unchanged" "$before" "$(body_of "$(api GET /api/v1/hosts/victim)" | jq -c 'del(.last_seen,.updated)')"
r=$(api POST "/api/v1/inventory?host=$id" "$(jq '.nics += [{name: "eth1", mac: "52:54:00:77:00:03"}]' <<<"$inv")")
expect_eq "adopting it again onto the host named updates it" "200 $((n + 1)) $id" "$(status_of "$r") $(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length') $(body_of "$r" | jq .id)"
expect_eq "... adding its new MAC" "2" "$(body_of "$r" | jq '.macs | length')"
r=$(api POST "/api/v1/inventory?host=$id" "$(jq '.nics += [{name: "eth2", mac: "52:54:00:77:00:20"}]' <<<"$inv")")
expect_eq "onto the host named, a MAC another host holds stays there" "52:54:00:77:00:20 $victim" \
	"$(host_field victim '.macs[0]') $(host_field 52:54:00:77:00:20 .id)"
expect_eq "adopt onto an unknown host: 404" 404 "$(status_of "$(api POST '/api/v1/inventory?host=nosuch' "$inv")")"
r=$(api POST /api/v1/inventory "$(jq -n '{system: {serial: "NEW-2"}, nics: [{name: "eth0", mac: "52:54:00:77:00:30"}]}')")
expect_eq "a machine never seen becomes a new host" "200 deployed" "$(status_of "$r") $(body_of "$r" | jq -r .status)"
n=$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')
expect_eq "an inventory whose NICs have no MAC creates nothing: 400" 400 "$(status_of "$(api POST /api/v1/inventory '{"nics":[{"name":"lo","mac":"00:00:00:00:00:00"}]}')")"
expect_eq "an inventory without NICs is refused" 400 "$(status_of "$(api POST /api/v1/inventory '{"system":{}}')")"
expect_eq "malformed JSON is refused" 400 "$(status_of "$(api POST /api/v1/inventory '{"nics":[')")"
expect_eq "the host count is unchanged by refusals" "$n" "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')"
expect_eq "adopt needs the admin token" 401 \
	"$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$inv" "$ANEMOS_URL/api/v1/inventory")"

# anemosctl: a bad --ssh target is refused before anything changes.
out=$("$ANEMOSCTL" reinstall vm1 --ssh "root@host;reboot" 2>&1); rc=$?
expect_eq "anemosctl refuses an --ssh target with shell characters" 2 "$rc"
out=$("$ANEMOSCTL" reinstall vm1 --ssh "-oProxyCommand=touch $WORK/pwned" 2>&1); rc=$?
expect_eq "anemosctl refuses an --ssh target that ssh would read as an option" "2 no" \
	"$rc $([ -e "$WORK/pwned" ] && echo yes || echo no)"
out=$("$ANEMOSCTL" reinstall vm1 --ssh "-oProxyCommand=x@h" 2>&1); rc=$?
expect_eq "... also with a user part" 2 "$rc"
out=$("$ANEMOSCTL" reinstall vm1 2>&1); rc=$?
expect_match "anemosctl reinstall without --ssh says what is missing" '--ssh' "$out"
# An unreachable target: the host's next boot is put back.
api PATCH /api/v1/hosts/vm1 '{"next_boot":"local","once":false}' >/dev/null
out=$(ANEMOS_SSH="false" "$ANEMOSCTL" reinstall vm1 --ssh root@192.0.2.9 --image tiny 2>&1); rc=$?
expect_eq "a failed SSH session fails reinstall" 1 "$rc"
expect_eq "... and puts the next boot back" "local false" "$(host_field vm1 '"\(.next_boot) \(.once)"')"
expect_match "... saying it disarmed the host" 'disarmed' "$out"

# deploy --url: recorded on anemosd. A stand-in ssh answers anemos-inventory with an inventory
# and keeps what the reinstall sends, then refuses as a target can.
ssh-keygen -q -t ed25519 -N '' -C remote-deploy -f "$WORK/dkey"
printf '%s\n' '$6$salt$recordedhash' >"$WORK/dhash"
jq -n '{system: {serial: "REC-1"}, nics: [{name: "eth0", mac: "52:54:00:77:00:40"}], disks: []}' >"$WORK/dinv"
cat >"$WORK/dssh" <<EOS
#!/bin/sh
case "\$*" in
*anemos-inventory*) cat "$WORK/dinv"; exit 0 ;;
*" hostname") echo web-7.example.org; exit 0 ;;
*) cat >"$WORK/dstdin"; echo "anemos: this stand-in refuses" >&2; exit 1 ;;
esac
EOS
chmod +x "$WORK/dssh"
deploy() { ANEMOS_SSH="$WORK/dssh" "$ANEMOSCTL" deploy --ssh root@192.0.2.9 "$@" --url "$ANEMOS_URL" 2>&1; }
out=$(deploy tiny --hostname rec1 --ssh-key "$WORK/dkey.pub" --disk serial=D9 \
	--root-password-hash-file "$WORK/dhash" --method bootloader); rc=$?
echo "$out" | sed 's/^/# /'
expect_eq "deploy --url onto a target that refuses fails" 1 "$rc"
expect_eq "... the target was adopted as a new host, with the settings given" \
	"REC-1 rec1 1 D9 true" \
	"$(host_field 52:54:00:77:00:40 '"\(.inventory.system.serial) \(.hostname) \(.ssh_authorized_keys | length) \(.install.disk.serial) \(.install_secrets.root_password_hash != null)"')"
expect_eq "... and disarmed again: next boot local" "local false deployed" \
	"$(host_field 52:54:00:77:00:40 '"\(.next_boot) \(.once) \(.status)"')"
expect_match "... the reinstall went as reinstall's: mode install, the method, a token, image tiny" \
	"ANEMOS_MODE='install'.*ANEMOS_TOKEN='anemos_agent_.*ANEMOS_METHOD='bootloader'" "$(tr '\n' ' ' <"$WORK/dstdin")"
expect_no_match "... no password hash went to the target's script" 'recordedhash' "$(cat "$WORK/dstdin")"
expect_match "... the host keeps its SSH host keys (kexec.sh carries them beside the token)" \
	"ANEMOS_HOST_KEYS='keep'" "$(cat "$WORK/dstdin")"
for keep in new keep; do
	rm -f "$WORK/dstdin"
	opt=""
	[ "$keep" = keep ] && opt=--keep-host-keys
	ANEMOS_SSH="$WORK/dssh" "$ANEMOSCTL" reinstall vm1 --ssh root@192.0.2.9 --image tiny $opt >/dev/null 2>&1
	expect_match "reinstall ${opt:-without --keep-host-keys}: ANEMOS_HOST_KEYS=$keep (new keys unless asked)" \
		"ANEMOS_HOST_KEYS='$keep'" "$(cat "$WORK/dstdin" 2>/dev/null)"
done
expect_match "... the events: adopted, the settings, armed, disarmed" 'adopted over SSH.*changed hostname none → rec1.*reinstall over SSH.*next boot local again' \
	"$(body_of "$(api GET /api/v1/hosts/52:54:00:77:00:40/events?limit=50)" | jq -r '[.events[].message] | join(" | ")')"
n=$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')
out=$(deploy tiny); rc=$?
expect_eq "deploying the same machine again without --host fails, no new host" "1 $n" \
	"$rc $(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')"
expect_match "... and says to name it with --host" 'names MAC 52:54:00:77:00:40.*name it with --host ID' "$(tr '\n' ' ' <<<"$out")"
out=$(deploy tiny --host rec1 --hostname rec2); rc=$?
expect_eq "with --host it goes onto that host" "1 rec2 $n" "$rc $(host_field 52:54:00:77:00:40 .hostname) $(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')"
ev=$(event_count rec2 .)
out=$(deploy nosuchimage --host rec2 --hostname rec3); rc=$?
expect_match "an image anemosd does not have is refused" 'image' "$out"
expect_eq "... before anything is recorded: the host's name, next boot and events as they were" "1 rec2 local $ev" \
	"$rc $(host_field 52:54:00:77:00:40 '"\(.hostname) \(.next_boot)"') $(event_count 52:54:00:77:00:40 .)"
jq -n '{system: {serial: "REC-2"}, nics: [{name: "eth0", mac: "52:54:00:77:00:41"}], disks: []}' >"$WORK/dinv"
out=$(deploy tiny --ssh-key "$WORK/dkey.pub"); rc=$?
expect_eq "a new host without --hostname gets the target's own name (its first label)" "1 web-7" \
	"$rc $(host_field 52:54:00:77:00:41 .hostname)"
jq -n '{system: {serial: "REC-3"}, nics: [{name: "eth0", mac: "52:54:00:77:00:42"}], disks: []}' >"$WORK/dinv"
out=$(deploy tiny --ssh-key "$WORK/dkey.pub"); rc=$?
expect_eq "... and when another host has that name, it is recorded without one (the deploy goes on)" "1 null 1" \
	"$rc $(host_field 52:54:00:77:00:42 .hostname) $(grep -c 'keeps no name' <<<"$out")"
out=$(deploy "$WORK" --host rec2); rc=$?
expect_match "with --url a recipe folder is refused, saying how to register it" 'anemosctl image add' "$out"
out=$(ANEMOS_SSH="$WORK/dssh" "$ANEMOSCTL" deploy --ssh root@192.0.2.9 tiny --host rec2 2>&1); rc=$?
expect_match "--host without --url is refused" '--host and --inventory go with --url' "$out"
anemosd_stop
[ "$_failures" -eq 0 ]

#!/usr/bin/env bash
# cost: 20
# anemosctl against a real anemosd: every command with and without --json, checked against
# what the server then holds (through `api`), each command's own --help, the next step the
# errors an operator meets name, every install setting, status, and host events --follow
# against an agent's events (plain, on a terminal through script(1), as JSON lines).
# The messages checked hold $ and backquotes as anemosctl prints them, in single quotes:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

CTL_ERRORS=$WORK/anemosctl.stderr

# run ARGS...: runs anemosctl (bounded) and sets OUT, ERR and RC.
run() {
	OUT=$(timeout 20 "$ANEMOSCTL" "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
	cat "$WORK/err" >>"$CTL_ERRORS"
}
# server_host REF: the host as the server has it, JSON on stdout.
server_host() { body_of "$(api GET "/api/v1/hosts/$1")"; }
server_images() { body_of "$(api GET /api/v1/images)"; }
server_install() { server_host "$1" | jq -c .install; }
# stored_install HOSTNAME: the install settings as the database holds them, secrets and all
# (answers show those as "<secret>").
stored_install() { sqlite3 "$DATA/anemos.db" "SELECT install FROM hosts WHERE hostname = '$1'"; }
# expect_has NAME TEXT OUTPUT: OUTPUT contains TEXT, as it is (no pattern).
expect_has() {
	if grep -qF -- "$2" <<<"$3"; then ok "$1"; else fail "$1" "no '$2' in: $(head -c 600 <<<"$3")"; fi
}
# on_tty COMMAND [INPUT...]: runs COMMAND (a string) on a terminal of its own (script(1)),
# typing each INPUT line a second apart after a second, and sets OUT (the terminal's
# output, carriage returns kept) and RC.
on_tty() {
	local cmd=$1 line
	shift
	OUT=$({ sleep 1; for line in "$@"; do printf '%s\n' "$line"; sleep 1; done; } |
		timeout 30 script -qec "$cmd" /dev/null 2>>"$CTL_ERRORS")
	RC=$?
	printf '%s\n' "$OUT" >>"$CTL_ERRORS"
}

anemosd_start || exit 1

# --- usage and help (no server needed)
run help
expect_eq "help exits 0" 0 "$RC"
expect_match "help lists image add" '^  image add +add an image' "$OUT"
expect_has "help says where a command's options are" '`anemosctl COMMAND --help` shows a command'"'"'s options' "$OUT"
run --help
expect_match "--help prints the usage" '^usage: anemosctl' "$OUT"
expect_has "--help lists the global options" '--url URL' "$OUT"

# No arguments: the commands, then the next step, which depends on what is set already.
OUT=$(env -u ANEMOS_URL -u ANEMOS_TOKEN -u ANEMOS_TOKEN_FILE "$ANEMOSCTL" 2>&1); RC=$?
expect_eq "no arguments exits 0" 0 "$RC"
expect_match "no arguments lists the commands" '^  host set +change a host' "$OUT"
expect_has "no arguments, no \$ANEMOS_URL: start it with make run" 'make run' "$OUT"
expect_has "no arguments, no \$ANEMOS_URL: the export to type" \
	'export ANEMOS_URL=http://127.0.0.1:8080 ANEMOS_TOKEN=$(cat var/admin-token)' "$OUT"
OUT=$(env -u ANEMOS_TOKEN -u ANEMOS_TOKEN_FILE "$ANEMOSCTL" 2>&1)
expect_has "no arguments, no token: where the token is" 'export ANEMOS_TOKEN=$(cat var/admin-token)' "$OUT"
expect_has "no arguments, no token: how to make one" 'anemosd token create --data DIR' "$OUT"
run
expect_has "no arguments, URL and token set: status next" 'anemosctl status' "$OUT"
expect_has "... naming the appliance" "$ANEMOS_URL" "$OUT"

run host frobnicate
expect_eq "unknown command exits 2" 2 "$RC"
expect_match "unknown command is named" "unknown command 'host frobnicate'" "$ERR"
expect_match "unknown host command lists the host commands" '^  host events ' "$ERR"
run host
expect_eq "host alone exits 2" 2 "$RC"
expect_has "host alone asks which" "'host' needs a command" "$ERR"
run frobnicate
expect_eq "an unknown noun exits 2" 2 "$RC"

# COMMAND --help: that command's synopsis and options, never the global help.
while IFS='|' read -r cmd option; do
	read -ra words <<<"$cmd"
	run "${words[@]}" --help
	expect_eq "$cmd --help exits 0" 0 "$RC"
	expect_match "$cmd --help: its synopsis" "^usage: anemosctl $cmd( |\$)" "$OUT"
	expect_has "$cmd --help: its options" "$option" "$OUT"
	expect_no_match "$cmd --help: not the global help" '^commands:|^options:' "$OUT"
done <<'EOF_COMMANDS'
status|/healthz
host list|QUERY, those it finds
host show|REF (or HOST) is a host's id
host add|--hostname NAME
host set|--root-password-prompt
host rm|comes back as a new
host events|--timeout SECONDS
image list|the start of the SHA-256
image add|--sha256 HEX
image rm|assign another first
reinstall|--method auto|kexec|bootloader
rescue|no disk changes
adopt|--inventory PATH
dnsmasq config|--tftp-root
EOF_COMMANDS
run help host set
expect_eq "help host set is host set --help" "$("$ANEMOSCTL" host set --help)" "$OUT"
run host set --help web1 --bogus
expect_eq "--help wins over a wrong command line" 0 "$RC"
run host --help
expect_match "host --help lists the host commands" '^  host rm +forget a host' "$OUT"
expect_no_match "host --help lists only those" '^  image ' "$OUT"
run host set web1
expect_match "a wrong command line points at the command's --help" 'anemosctl host set --help' "$ERR"

# --- host add
run host add 52:54:00:aa:bb:01 --hostname web1
expect_eq "host add exits 0" 0 "$RC"
expect_match "host add confirms" '^added host [0-9]+ web1' "$OUT"
expect_eq "host add: server has web1" "52:54:00:aa:bb:01" "$(server_host web1 | jq -r '.macs[0]')"

run --json host add 52-54-00-AA-BB-02 --hostname db1 --ssh-key "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 a@x"
expect_eq "host add --json exits 0" 0 "$RC"
expect_eq "host add --json prints the host" "52:54:00:aa:bb:02" "$(jq -r '.macs[0]' <<<"$OUT")"
expect_eq "host add --ssh-key reaches the server" 1 \
	"$(server_host db1 | jq '.ssh_authorized_keys | length')"

run host add 52:54:00:aa:bb:01
expect_eq "host add of a taken MAC exits 1" 1 "$RC"
expect_match "host add of a taken MAC: server's error with status" '\(HTTP 409\)$' "$ERR"

run host add 52:54:00:aa:bb:03 --next-boot reboot
expect_eq "host add --next-boot bogus exits 2" 2 "$RC"
expect_match "host add --next-boot bogus names the actions" 'discover, install, local, rescue, none' "$ERR"
expect_eq "host add --next-boot bogus creates nothing" 404 \
	"$(status_of "$(api GET /api/v1/hosts/52:54:00:aa:bb:03)")"

# --- host list
run host list
expect_eq "host list exits 0" 0 "$RC"
expect_match "host list header" '^ID +HOSTNAME +STATUS +NEXT-BOOT +IMAGE +MACS +SERIAL +PRODUCT +LAST-SEEN' "$OUT"
expect_match "host list shows web1 with its MAC" 'web1 .*52:54:00:aa:bb:01' "$OUT"
expect_eq "host list: a line per host" 3 "$(printf '%s\n' "$OUT" | wc -l)"
run host list bb:02
expect_eq "host list QUERY narrows" 2 "$(printf '%s\n' "$OUT" | wc -l)"
expect_match "host list QUERY keeps the match" 'db1' "$OUT"
run host list --json web
expect_eq "host list --json after the command" "web1" "$(jq -r '[.hosts[].hostname] | join(",")' <<<"$OUT")"
run host list 'no such & thing?'
expect_eq "host list escapes the query" "0 1" "$RC $(printf '%s\n' "$OUT" | wc -l)"

# --- host show
run host show web1
expect_eq "host show exits 0" 0 "$RC"
expect_match "host show names the host" '^hostname: +web1$' "$OUT"
expect_match "host show lists the MACs" '^MACs: +52:54:00:aa:bb:01$' "$OUT"
run host show 52:54:00:aa:bb:02
expect_match "host show by MAC" '^hostname: +db1$' "$OUT"
expect_match "host show counts SSH keys" '^SSH keys: +1$' "$OUT"
db1_id=$(server_host db1 | jq -r .id)
run --json host show "$db1_id"
expect_eq "host show --json by id" "db1" "$(jq -r .hostname <<<"$OUT")"
run host show nosuchhost
expect_eq "unknown host exits 1" 1 "$RC"
expect_match "unknown host: server's error with status" '^anemosctl: .+ \(HTTP 404\)$' "$ERR"
expect_has "unknown host: the next step is host list" '`anemosctl host list` shows the hosts anemosd knows' "$ERR"

# --- image add URL
sha_url=$(printf 'anemos' | sha256sum | cut -d' ' -f1)
run image add http://127.0.0.1:9/os/tiny.tar.zst
expect_match "image add URL without --sha256 exits 1 or 2" '^[12]$' "$RC"
expect_match "image add URL without --sha256 says so" '--sha256 is required' "$ERR"
run image add http://127.0.0.1:9/os/tiny.tar.zst --sha256 "$sha_url"
expect_eq "image add URL exits 0" 0 "$RC"
expect_match "image add URL confirms" '^added image tiny \(tar.zst' "$OUT"
expect_eq "image add URL: name and format from the URL" "tiny tar.zst $sha_url url" \
	"$(server_images | jq -r '.images[] | select(.name == "tiny") | "\(.name) \(.format) \(.sha256) \(.source)"')"
run --json image add 'http://127.0.0.1:9/os/other.img?sig=1' --sha256 "$sha_url"
expect_eq "image add URL --json: .img is raw, query ignored" "other raw" "$(jq -r '"\(.name) \(.format)"' <<<"$OUT")"
run image add http://127.0.0.1:9/os/disk.qcow2 --sha256 "$sha_url"
expect_eq "image add URL of unknown format exits 2" 2 "$RC"
expect_match "image add URL of unknown format asks for --format" '--format' "$ERR"

# --- host set
run host set web1 --next-boot install --image tiny --once
expect_eq "host set exits 0" 0 "$RC"
expect_match "host set confirms" '^updated host [0-9]+ web1: .*next boot install \(once\), image tiny' "$OUT"
expect_eq "host set: server has next_boot, image, once" "install tiny true" \
	"$(server_host web1 | jq -r '"\(.next_boot) \(.image) \(.once)"')"
run --json host set web1 --hostname web2
expect_eq "host set --json --hostname" "web2" "$(jq -r .hostname <<<"$OUT")"
expect_eq "host set sends only the given fields" "install tiny true" \
	"$(server_host web2 | jq -r '"\(.next_boot) \(.image) \(.once)"')"
run host set web2 --next-boot local --no-image --always
expect_eq "host set --no-image --always exits 0" 0 "$RC"
expect_eq "host set: server has image null, once false" "local null false" \
	"$(server_host web2 | jq -r '"\(.next_boot) \(.image) \(.once)"')"
run host set web2 --status maintenance
expect_eq "host set --status" "maintenance" "$(server_host web2 | jq -r .status)"
run host set db1 --ssh-key "ssh-ed25519 AAAA1 a@x" --ssh-key "ssh-ed25519 AAAA2 b@x"
expect_eq "host set --ssh-key replaces the keys" 2 "$(server_host db1 | jq '.ssh_authorized_keys | length')"
run host set db1 --no-ssh-keys
expect_eq "host set --no-ssh-keys" 0 "$(server_host db1 | jq '.ssh_authorized_keys | length')"
run host set web2 --next-boot sometimes
expect_eq "host set --next-boot bogus exits 2" 2 "$RC"
expect_eq "host set --next-boot bogus changes nothing" "local" "$(server_host web2 | jq -r .next_boot)"
run host set web2
expect_eq "host set without a change exits 2" 2 "$RC"
run host set nosuchhost --next-boot local
expect_eq "host set of an unknown host exits 1" 1 "$RC"
expect_match "host set of an unknown host: server's error" '\(HTTP 404\)$' "$ERR"
expect_has "host set of an unknown host: the next step" '`anemosctl host list`' "$ERR"
run host set web2 --next-boot install --image notyet
expect_eq "host set --image of an image not added exits 1" 1 "$RC"
expect_has "... saying to add it" 'add it first (anemosctl image add)' "$ERR"

# --- host events
run host events web2
expect_eq "host events exits 0" 0 "$RC"
run --json host events web2 --limit 5
expect_eq "host events --json" "array" "$(jq -r '.events | type' <<<"$OUT")"
run host events web2 --limit many
expect_eq "host events --limit not a number exits 2" 2 "$RC"
expect_match "host events --limit not a number says so" '--limit must be a number' "$ERR"

# --- image add FILE
head -c $((3 * 1024 * 1024)) /dev/urandom >"$WORK/disk.img"
sha_file=$(sha256sum "$WORK/disk.img" | cut -d' ' -f1)
run image add "$WORK/disk.img"
expect_eq "image add FILE exits 0" 0 "$RC"
expect_match "image add FILE confirms" '^added image disk \(raw, 3.0 MiB' "$OUT"
expect_eq "image add FILE: server's sha256 and size match the file" "$sha_file 3145728 file" \
	"$(server_images | jq -r '.images[] | select(.name == "disk") | "\(.sha256) \(.size) \(.source)"')"
cp "$WORK/disk.img" "$WORK/copy.tar.gz"
run --json image add "$WORK/copy.tar.gz" --sha256 "$sha_file" --name copy2
expect_eq "image add FILE --sha256 --name --json" "copy2 tar.gz $sha_file" \
	"$(jq -r '"\(.name) \(.format) \(.sha256)"' <<<"$OUT")"
head -c 100000 /dev/urandom >"$WORK/bad.raw"
run image add "$WORK/bad.raw" --sha256 "$sha_file"
expect_eq "image add FILE with a wrong --sha256 exits 1" 1 "$RC"
expect_match "image add FILE with a wrong --sha256: server's error" '\(HTTP 400\)$' "$ERR"
expect_eq "image add FILE with a wrong --sha256 keeps nothing" "copy2,disk,other,tiny" \
	"$(server_images | jq -r '[.images[].name] | sort | join(",")')"
run image add "$WORK/missing.raw"
expect_eq "image add of a missing file exits 1" 1 "$RC"
expect_match "image add of a missing file names it" 'missing.raw: No such file' "$ERR"

# --- image list / rm
run image list
expect_eq "image list exits 0" 0 "$RC"
expect_match "image list header" '^NAME +FORMAT +SIZE +SHA256 +SOURCE$' "$OUT"
expect_match "image list row" "disk +raw +3.0 MiB +${sha_file:0:12} +file" "$OUT"
run --json image list
expect_eq "image list --json" "copy2,disk,other,tiny" "$(jq -r '[.images[].name] | sort | join(",")' <<<"$OUT")"
run host set db1 --next-boot install --image disk
run image rm disk
expect_eq "image rm of an image in use exits 1" 1 "$RC"
expect_match "image rm of an image in use: server's error" '\(HTTP 409\)$' "$ERR"
run host set db1 --next-boot local --no-image
run image rm disk
expect_eq "image rm exits 0" 0 "$RC"
expect_match "image rm confirms" '^removed image disk$' "$OUT"
expect_eq "image rm: gone from the server" "copy2,other,tiny" \
	"$(server_images | jq -r '[.images[].name] | sort | join(",")')"
run image rm disk
expect_eq "image rm of an unknown image exits 1" 1 "$RC"
expect_match "image rm of an unknown image: server's error" '\(HTTP 404\)$' "$ERR"
expect_has "image rm of an unknown image: the next step" '`anemosctl image list` shows the images' "$ERR"

# --- host rm
run host rm db1
expect_eq "host rm exits 0" 0 "$RC"
expect_eq "host rm: gone from the server" 404 "$(status_of "$(api GET /api/v1/hosts/db1)")"
run host rm db1
expect_eq "host rm of an unknown host exits 1" 1 "$RC"
expect_match "host rm of an unknown host: server's error" '\(HTTP 404\)$' "$ERR"

# --- install settings: every one the API has, merged into the host's others
printf '%s\n' "$(openssl passwd -6 -salt saltsalt 's3cret pw')" >"$WORK/hash"
printf '#cloud-config\nhostname: inst1\n' >"$WORK/user-data"
run host add 52:54:00:aa:bb:10 --hostname inst1 --disk serial=S123 --after poweroff
expect_eq "host add takes install settings" '{"after":"poweroff","disk":{"serial":"S123"}}' "$(server_host inst1 | jq -cS .install)"
run host set inst1 --network static --address 192.0.2.7/24 --gateway 192.0.2.1 --dns 192.0.2.53 --dns 192.0.2.54 \
	--root-password-hash-file "$WORK/hash" --user-data "$WORK/user-data" --kernel-args 'console=ttyS0 quiet' \
	--mirror http://192.0.2.9/debian
expect_eq "host set with every install setting exits 0" 0 "$RC"
expect_eq "host set merges them into the host's settings" \
	"$(jq -cnS --arg hash "$(cat "$WORK/hash")" --rawfile ud "$WORK/user-data" '{after: "poweroff",
		disk: {serial: "S123"}, network: {mode: "static", address: "192.0.2.7/24", gateway: "192.0.2.1",
		dns: ["192.0.2.53", "192.0.2.54"]}, root_password_hash: $hash, cloud_init_user_data: $ud,
		kernel_args: "console=ttyS0 quiet", mirror: "http://192.0.2.9/debian"}')" \
	"$(stored_install inst1 | jq -cS .)"
expect_eq "answers show the secrets as <secret> only" '<secret> <secret>' \
	"$(server_host inst1 | jq -r '"\(.install.root_password_hash) \(.install.cloud_init_user_data)"')"
expect_eq "... and the user-data's size" "$(wc -c <"$WORK/user-data")" "$(server_host inst1 | jq .install_secrets.cloud_init_user_data.bytes)"
expect_no_match "the change's event names the secrets, never their values" 'saltsalt|hostname: inst1' \
	"$(body_of "$(api GET /api/v1/hosts/inst1/events)" | jq -r '.events[].message')"
expect_match "... and says what changed" 'install.root_password_hash set; .*install.cloud_init_user_data set' \
	"$(body_of "$(api GET /api/v1/hosts/inst1/events)" | jq -r '.events[-1].message')"
run host show inst1
expect_match "host show: the disk" '^disk: +serial=S123$' "$OUT"
expect_match "host show: the network" '^network: +static 192.0.2.7/24, gateway 192.0.2.1, dns 192.0.2.53 192.0.2.54$' "$OUT"
expect_match "host show: a root password, never its hash" '^root password: +set \(a crypt\(3\) hash\)$' "$OUT"
expect_no_match "... which is not shown" 'saltsalt' "$OUT"
expect_match "host show: the user-data's size" "^user-data: +$(wc -c <"$WORK/user-data") B of cloud-init user-data\$" "$OUT"
expect_match "host show: the kernel args" '^kernel args: +console=ttyS0 quiet$' "$OUT"
expect_match "host show: what the installer does after" '^after: +poweroff$' "$OUT"
expect_match "host show: the mirror" '^mirror: +http://192.0.2.9/debian$' "$OUT"
run host set inst1 --dns 192.0.2.99 --disk by_path=pci-0000:00:1f.2-ata-1
expect_eq "--dns alone replaces the list, keeps the address" '192.0.2.7/24 ["192.0.2.99"] {"by_path":"pci-0000:00:1f.2-ata-1"}' \
	"$(server_host inst1 | jq -c '.install | "\(.network.address) \(.network.dns) \(.disk)"' -r)"
run host set inst1 --network static --address 203.0.113.9/32 --address 2001:db8::50/128 --gateway 203.0.113.1 \
	--gateway fe80::1 --ipv6 off
expect_eq "dual stack: a second --address and an IPv6 --gateway, with --ipv6" \
	'{"address":"203.0.113.9/32","addresses":["2001:db8::50/128"],"dns":["192.0.2.99"],"gateway":"203.0.113.1","gateway6":"fe80::1","ipv6":"off","mode":"static"}' \
	"$(server_host inst1 | jq -cS .install.network)"
run host show inst1
expect_match "host show: both families" '^network: +static 203.0.113.9/32 2001:db8::50/128, gateway 203.0.113.1, gateway fe80::1, ipv6 off, dns 192.0.2.99$' "$OUT"
run host set inst1 --ipv6 slaac
expect_eq "--ipv6 takes auto or off only" 2 "$RC"
run host set inst1 --gateway fe80::2 --gateway 203.0.113.2
expect_eq "... the IPv6 --gateway first works as well" '203.0.113.2 fe80::2' \
	"$(server_host inst1 | jq -r '.install.network | "\(.gateway) \(.gateway6)"')"
run host set inst1 --gateway 203.0.113.3 --gateway 203.0.113.4
expect_eq "two IPv4 --gateway options exit 2" 2 "$RC"
run host set inst1 --address 192.0.2.7/24 --gateway 192.0.2.1
expect_eq "... an --address alone replaces the first, the others stay" '192.0.2.7/24 ["2001:db8::50/128"] 192.0.2.1 fe80::2' \
	"$(server_host inst1 | jq -r '.install.network | "\(.address) \(.addresses | tojson) \(.gateway) \(.gateway6)"')"
run host set inst1 --kernel-args 'console=tty0'
expect_eq "one setting changed, the others kept" "console=tty0 poweroff http://192.0.2.9/debian true" \
	"$(server_host inst1 | jq -r '.install | "\(.kernel_args) \(.after) \(.mirror) \(.cloud_init_user_data != null)"')"
expect_eq "... the secrets it sent back as <secret> are kept as they were" "$(cat "$WORK/hash")" \
	"$(stored_install inst1 | jq -r .root_password_hash)"
run host set inst1 --network dhcp
expect_eq "--network dhcp drops the static fields" '{"mode":"dhcp"}' "$(server_host inst1 | jq -c .install.network)"
run host set inst1 --gateway 192.0.2.1
expect_eq "an IPv4 --gateway beside DHCP exits 2" 2 "$RC"
expect_has "... saying DHCP gives it" '--network dhcp gets its IPv4 gateway from DHCP (192.0.2.1)' "$ERR"
expect_eq "... and changes nothing" '{"mode":"dhcp"}' "$(server_host inst1 | jq -c .install.network)"
run host set inst1 --address 192.0.2.8/24
expect_eq "an IPv4 --address beside DHCP exits 2" 2 "$RC"
expect_has "... saying DHCP gives it, or --network static" 'gets its IPv4 address from DHCP (192.0.2.8/24)' "$ERR"
run host set inst1 --address 2001:db8::60/64 --address 2001:db8:1::60/128 --gateway fe80::1 --dns 2001:db8::53 --ipv6 off
expect_eq "static IPv6 beside DHCP (as clouds give: IPv4 by DHCP, IPv6 by hand)" \
	'{"addresses":["2001:db8::60/64","2001:db8:1::60/128"],"dns":["2001:db8::53"],"gateway6":"fe80::1","ipv6":"off","mode":"dhcp"}' \
	"$(server_host inst1 | jq -cS .install.network)"
run host show inst1
expect_match "host show: DHCP and the static IPv6 beside it" \
	'^network: +DHCP, static 2001:db8::60/64 2001:db8:1::60/128, gateway fe80::1, ipv6 off, dns 2001:db8::53$' "$OUT"
run host set inst1 --address 2001:db8::70/64
expect_eq "... one --address beside DHCP replaces the list (the gateway and the rest stay)" \
	'["2001:db8::70/64"] fe80::1' "$(server_host inst1 | jq -r '.install.network | "\(.addresses | tojson) \(.gateway6)"')"
run host set inst1 --network dhcp
expect_eq "--network dhcp alone drops them again" '{"mode":"dhcp"}' "$(server_host inst1 | jq -c .install.network)"
run host set inst1 --ipv6 off
expect_eq "--ipv6 beside DHCP with no IPv6 --address exits 2 (it would be stored and unused)" 2 "$RC"
expect_has "... saying what it goes with" 'go with an IPv6 --address' "$ERR"
run host set inst1 --disk uuid=1234
expect_eq "--disk of an unknown kind exits 2" 2 "$RC"
expect_has "... naming the kinds" 'serial, by_path, name' "$ERR"
run host set inst1 --after halt
expect_eq "--after bogus exits 2" 2 "$RC"
run host set inst1 --kernel-args 'a;reboot'
expect_eq "kernel args anemosd refuses: exit 1" 1 "$RC"
expect_has "... with anemosd's reason" 'install.kernel_args must be one line' "$ERR"
before=$(server_install inst1)
printf 's3cret pw\n' >"$WORK/plain"
run host set inst1 --root-password-hash-file "$WORK/plain"
expect_eq "a password file that holds no hash exits 1" 1 "$RC"
expect_has "... saying how to make a hash" 'does not hold a crypt(3) hash' "$ERR"
expect_eq "... and sends nothing" "$before" "$(server_install inst1)"
expect_no_match "... the password reaches no log" 's3cret' "$(cat "$WORK/anemosd.log")"
head -c 65537 /dev/zero | tr '\0' a >"$WORK/big-user-data"
run host set inst1 --user-data "$WORK/big-user-data"
expect_eq "user-data over 64 KiB exits 1" 1 "$RC"
expect_has "... saying so" 'is larger than 65536 bytes' "$ERR"
printf '\xff\xfe' >"$WORK/binary-user-data"
run host set inst1 --user-data "$WORK/binary-user-data"
expect_has "user-data that is not UTF-8 is refused" 'is not UTF-8 text' "$ERR"
run host set inst1 --user-data "$WORK/missing-user-data"
expect_has "a missing user-data file is named" 'missing-user-data: No such file' "$ERR"
expect_eq "... and nothing changed" "$before" "$(server_install inst1)"
# The password from a terminal: not echoed, stored as its SHA-512 crypt hash only.
on_tty "$ANEMOSCTL host set inst1 --root-password-prompt" 'typed pw1' 'typed pw1'
expect_eq "--root-password-prompt on a terminal exits 0" 0 "$RC"
expect_has "... asks for root's password" 'root password for inst1: ' "$OUT"
expect_no_match "... without echoing it" 'typed pw1' "$OUT"
hash=$(stored_install inst1 | jq -r .root_password_hash)
expect_match "... stores a SHA-512 crypt hash with a random salt" '^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$' "$hash"
expect_eq "... of that password" "$hash" "$(openssl passwd -6 -salt "$(cut -d'$' -f3 <<<"$hash")" 'typed pw1')"
on_tty "$ANEMOSCTL host set inst1 --root-password-prompt" 'one' 'other'
expect_eq "two different passwords: exit 1" 1 "$RC"
expect_has "... saying so" 'the two passwords differ' "$OUT"
expect_eq "... and nothing changed" "$hash" "$(stored_install inst1 | jq -r .root_password_hash)"
OUT=$(setsid -w timeout 20 "$ANEMOSCTL" host set inst1 --root-password-prompt 2>&1 </dev/null); RC=$?
expect_eq "--root-password-prompt without a terminal exits 1" 1 "$RC"
expect_has "... offering the hash file" '--root-password-hash-file FILE' "$OUT"
run host set inst1 --no-disk --no-root-password --no-user-data --no-kernel-args --no-mirror
expect_eq "--no-* remove the settings" '{"after":"poweroff","network":{"mode":"dhcp"}}' "$(server_host inst1 | jq -cS .install)"
run host show inst1
expect_match "host show: the defaults" '^disk: +the largest non-removable disk \(default\)$' "$OUT"

# --- host events --follow, against an agent's events
boot_token() { agent_token_of "$(ipxe "$1")"; }
# progress TOKEN: the agent writes 4 MiB, in four events with bytes and the total.
progress() {
	local b
	for b in 0 1048576 2097152 4194304; do
		agent POST /api/v1/agent/events "$1" \
			"{\"phase\":\"install\",\"message\":\"writing the image\",\"bytes\":$b,\"total\":4194304}" >/dev/null
	done
}
# install_ok TOKEN: the agent's plan, its progress, done, and the installed system's phone-home.
install_ok() {
	local phone
	agent GET /api/v1/agent/plan "$1" >/dev/null
	progress "$1"
	phone=$(body_of "$(agent POST /api/v1/agent/phone-home-token "$1")" | jq -r .token)
	agent POST /api/v1/agent/done "$1" '{"ok":true}' >/dev/null
	agent POST /api/v1/phone-home "$phone" '{"hostname":"fol1"}' >/dev/null
}
# follow_bg OUTFILE ARGS...: anemosctl ARGS in the background (FOLLOW_PID), bounded, once it
# has printed the host's past events (so that it knows the status the host starts from).
follow_bg() {
	local out=$1
	shift
	timeout 30 "$ANEMOSCTL" "$@" >"$out" 2>"$out.err" &
	FOLLOW_PID=$!
	for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
	sleep 0.5
}
run host add 52:54:00:aa:bb:20 --hostname fol1 --next-boot install --image tiny --once
T=$(boot_token 52:54:00:aa:bb:20)
follow_bg "$WORK/follow" host events fol1 --follow
install_ok "$T"
wait "$FOLLOW_PID"; RC=$?
OUT=$(cat "$WORK/follow"); cat "$WORK/follow.err" >>"$CTL_ERRORS"
expect_eq "--follow ends with exit 0 once the host is deployed" 0 "$RC"
expect_has "--follow printed the past events first" 'enrolled with MAC 52:54:00:aa:bb:20' "$(head -n 1 <<<"$OUT")"
expect_has "--follow prints the agent's progress as lines off a terminal" \
	'writing the image  [2.0 MiB / 4.0 MiB, 50%]' "$OUT"
expect_eq "... each event once" 4 "$(grep -c 'writing the image' <<<"$OUT")"
expect_has "--follow prints the phone-home" 'installed system reported in' "$OUT"
expect_eq "--follow's last line says where the host got" "host fol1 is deployed" "$(tail -n 1 <<<"$OUT")"
expect_eq "--follow: no progress bar off a terminal" 0 "$(grep -c $'\r' <<<"$OUT")"

# On a terminal: the progress is one bar, redrawn in place.
run host set fol1 --next-boot install
T=$(boot_token 52:54:00:aa:bb:20)
( sleep 3; install_ok "$T" ) &
AGENT_PID=$!
on_tty "$ANEMOSCTL host events fol1 --follow --limit 1"
wait "$AGENT_PID"
expect_eq "--follow on a terminal exits 0 once deployed" 0 "$RC"
expect_has "... the bar at 50%" $'\rinstall [############............]  50%  2.0 MiB / 4.0 MiB  writing the image' "$OUT"
expect_has "... redrawn in place to 100%" $'\rinstall [########################] 100%  4.0 MiB / 4.0 MiB' "$OUT"
expect_no_match "... instead of a line per progress event" '\[2.0 MiB / 4.0 MiB, 50%\]' "$OUT"
expect_has "... then the lines that follow" 'installed system reported in' "$OUT"

# --json: one event a line; a failed install ends it with exit 1.
run host set fol1 --next-boot install
T=$(boot_token 52:54:00:aa:bb:20)
follow_bg "$WORK/follow-json" --json host events fol1 --follow --limit 1
agent GET /api/v1/agent/plan "$T" >/dev/null
progress "$T"
agent POST /api/v1/agent/done "$T" '{"ok":false,"error":"the disk is on fire"}' >/dev/null
wait "$FOLLOW_PID"; RC=$?
OUT=$(cat "$WORK/follow-json"); ERR=$(cat "$WORK/follow-json.err"); printf '%s\n' "$ERR" >>"$CTL_ERRORS"
expect_eq "--follow ends with exit 1 once the host failed" 1 "$RC"
expect_has "... saying so" 'host fol1 failed: the events above say why' "$ERR"
expect_eq "--json --follow: every line one event" "$(wc -l <<<"$OUT")" "$(jq -c 'select(.id and .message)' <<<"$OUT" | wc -l)"
expect_eq "--json --follow: the progress as numbers" "0 1048576 2097152 4194304" \
	"$(jq -r 'select(.bytes != null) | .bytes' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
expect_has "--json --follow: the failure" 'install failed: the disk is on fire' "$OUT"

run host events fol1 --follow --timeout 1
expect_eq "--follow --timeout: exit 1 when the host stays as it is" 1 "$RC"
expect_has "... saying how it is" 'host fol1 is still failed after 1 s (--timeout)' "$ERR"
run host events nosuchhost --follow
expect_eq "--follow of an unknown host exits 1" 1 "$RC"
expect_has "... with the next step" '`anemosctl host list`' "$ERR"
"$ANEMOSCTL" host events fol1 --follow --limit 1 >"$WORK/follow-int" 2>>"$CTL_ERRORS" &
FOLLOW_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/follow-int" ] && break; sleep 0.1; done
sleep 0.5
kill -INT "$FOLLOW_PID"
for _ in $(seq 1 50); do kill -0 "$FOLLOW_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$FOLLOW_PID" 2>/dev/null; then
	kill -KILL "$FOLLOW_PID"
	fail "--follow ends on Ctrl-C"
fi
wait "$FOLLOW_PID"; RC=$?
expect_eq "--follow ends on Ctrl-C with exit 130" 130 "$RC"

# --- status
run status
expect_eq "status exits 0" 0 "$RC"
expect_has "status: anemosd answers" "anemosd:    $ANEMOS_URL answers: ok" "$OUT"
expect_has "status: the boot URL machines chain to" "boot URL:   $ANEMOS_URL/boot.ipxe" "$OUT"
expect_has "status: machines are told the public URL (--public-url)" "machines:   are told $ANEMOS_URL (anemosd's --public-url); only this machine reaches it" "$OUT"
expect_has "status: the dashboard" "dashboard:  $ANEMOS_URL/" "$OUT"
by_status=$(body_of "$(api GET /api/v1/hosts)" |
	jq -c '[.hosts | group_by(.status)[] | {key: .[0].status, value: length}] | from_entries')
expect_eq "status: the hosts counted by status" "hosts:      $(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length') ($(jq -r \
	--argjson order "$(body_of "$(api GET /api/v1/meta)" | jq -c '[.statuses[].name]')" \
	'. as $c | [$order[] | select($c[.]) | "\(.) \($c[.])"] | join(", ")' <<<"$by_status"))" \
	"$(grep '^hosts:' <<<"$OUT")"
run --json status
expect_eq "status --json: counts by status, every status listed" \
	"$(body_of "$(api GET /api/v1/meta)" | jq -c --argjson c "$by_status" '[.statuses[].name | {key: ., value: ($c[.] // 0)}] | from_entries')" \
	"$(jq -c .hosts_by_status <<<"$OUT")"
expect_eq "status --json: images, boot URL" "$(server_images | jq '.images | length') $ANEMOS_URL/boot.ipxe" \
	"$(jq -r '"\(.images) \(.boot_url)"' <<<"$OUT")"
ANEMOS_TOKEN=not-a-token run status
expect_eq "status with a wrong token exits 1" 1 "$RC"
expect_has "... naming where a token comes from" 'cat var/admin-token' "$ERR"

# --- connection and token errors
ANEMOS_TOKEN=not-a-token run host list
expect_eq "bad token exits 1" 1 "$RC"
expect_match "bad token: server's error with status" '^anemosctl: .+ \(HTTP 401\)$' "$ERR"
expect_has "bad token: which token was refused" 'the admin token from $ANEMOS_TOKEN was refused' "$ERR"
expect_has "bad token: where make run keeps one" 'export ANEMOS_TOKEN=$(cat var/admin-token)' "$ERR"
expect_has "bad token: how to make another" 'anemosd token create --data DIR' "$ERR"
dead_url=http://127.0.0.1:$(free_port)
run --url "$dead_url" host list
expect_eq "unreachable URL exits 1" 1 "$RC"
expect_match "unreachable URL is named" "$dead_url/api/v1/hosts" "$ERR"
expect_match "unreachable URL suggests --url" "--url or \\\$ANEMOS_URL" "$ERR"
# Without $ANEMOS_URL the default is tried (unless an appliance answers there: then skip).
if curl -s -m 1 -o /dev/null http://127.0.0.1:8080/healthz; then
	skip "no \$ANEMOS_URL: the default's failure says what to do" "something answers on 127.0.0.1:8080"
else
	OUT=$(env -u ANEMOS_URL timeout 20 "$ANEMOSCTL" host list 2>&1); RC=$?
	expect_eq "no \$ANEMOS_URL, nothing on the default: exits 1" 1 "$RC"
	expect_has "... saying \$ANEMOS_URL is not set" '$ANEMOS_URL is not set' "$OUT"
	expect_has "... to start it with make run" 'Start anemosd with `make run`' "$OUT"
	expect_has "... or to export ANEMOS_URL" 'export ANEMOS_URL=http://HOST:PORT' "$OUT"
fi
ANEMOS_TOKEN='' ANEMOS_TOKEN_FILE='' run host list
expect_eq "missing token exits 1" 1 "$RC"
expect_match "missing token says how to get one" 'ANEMOS_TOKEN.*anemosd token create' "$ERR"
expect_has "missing token: where make run keeps one" 'export ANEMOS_TOKEN=$(cat var/admin-token)' "$ERR"
printf '%s\n' "$ANEMOS_TOKEN" >"$WORK/token"
ANEMOS_TOKEN='' ANEMOS_TOKEN_FILE=$WORK/token run host show web2
expect_eq "token from \$ANEMOS_TOKEN_FILE" "0" "$RC"
ANEMOS_URL=$ANEMOS_URL/ run host list
expect_eq "trailing slash in the URL" "0" "$RC"

if grep -qE 'runtime error|Sanitizer' "$CTL_ERRORS"; then
	fail "anemosctl: no sanitizer reports" "$(grep -E -A3 'runtime error|Sanitizer' "$CTL_ERRORS" | head -20)"
else
	ok "anemosctl: no sanitizer reports"
fi
anemosd_stop

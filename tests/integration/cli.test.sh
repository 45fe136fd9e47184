#!/usr/bin/env bash
# anemosctl against a real anemosd: every command with and without --json, checked against
# what the server then holds (through `api`), and the errors an operator meets.
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

anemosd_start || exit 1

# --- usage and help (no server needed)
run help
expect_eq "help exits 0" 0 "$RC"
expect_match "help lists image add" 'image add FILE\|URL' "$OUT"
run --help
expect_match "--help prints the usage" '^usage: anemosctl' "$OUT"
run
expect_eq "no command exits 2" 2 "$RC"
run host frobnicate
expect_eq "unknown command exits 2" 2 "$RC"
expect_match "unknown command is named" "unknown command 'host frobnicate'" "$ERR"

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

# --- host rm
run host rm db1
expect_eq "host rm exits 0" 0 "$RC"
expect_eq "host rm: gone from the server" 404 "$(status_of "$(api GET /api/v1/hosts/db1)")"
run host rm db1
expect_eq "host rm of an unknown host exits 1" 1 "$RC"
expect_match "host rm of an unknown host: server's error" '\(HTTP 404\)$' "$ERR"

# --- connection and token errors
ANEMOS_TOKEN=not-a-token run host list
expect_eq "bad token exits 1" 1 "$RC"
expect_match "bad token: server's error with status" '^anemosctl: .+ \(HTTP 401\)$' "$ERR"
dead_url=http://127.0.0.1:$(free_port)
run --url "$dead_url" host list
expect_eq "unreachable URL exits 1" 1 "$RC"
expect_match "unreachable URL is named" "$dead_url/api/v1/hosts" "$ERR"
expect_match "unreachable URL suggests --url" "--url or \\\$ANEMOS_URL" "$ERR"
ANEMOS_TOKEN='' ANEMOS_TOKEN_FILE='' run host list
expect_eq "missing token exits 1" 1 "$RC"
expect_match "missing token says how to get one" 'ANEMOS_TOKEN.*anemosd token create' "$ERR"
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

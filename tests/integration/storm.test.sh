#!/usr/bin/env bash
# cost: 40
# Boot storms (issue 14), through the real anemosd on loopback and the project's own load
# generator (anemos-storm): a known host that boots its disk is answered from reads only, and
# its boot record (last seen, event) is there for the next reader all the same; a boot that
# brings a new identifier or needs a token still writes before it answers; inventory facts
# taken in C match the inventory; kill -9 in the middle of a storm of 300 machines loses no
# acknowledged registration and no token that a sent script names; the WAL stays bounded.
source "$(dirname "$0")/lib.sh"
STORM=$BUILD/anemos-storm
[ -x "$STORM" ] || { fail "anemos-storm is built" "$STORM missing (make $BUILD/anemos-storm)"; exit 1; }
# Every machine of the storm is 127.0.0.1: no per-address limit.
anemosd_start --max-per-address 0 || exit 1

# --- the read-only boot of a known host, and its batched record --------------------------------
api POST /api/v1/hosts '{"mac":"52:54:00:40:00:01","hostname":"disk","next_boot":"local"}' >/dev/null
before=$(curl -fsS -m 5 "$ANEMOS_URL/metrics" | awk '/^anemos_boot_records_total / { print $2 }')
script=$(ipxe 52:54:00:40:00:01 efi)
expect_match "a known local host gets the local-disk script" "sanboot|exit" "$script"
events=$(body_of "$(api GET /api/v1/hosts/disk/events)")
expect_eq "its boot event is there for the next reader" 1 \
	"$(printf '%s' "$events" | jq '[.events[] | select(.phase == "boot" and (.message | test("network boot from 52:54:00:40:00:01 .*: local")))] | length')"
check "its last_seen is set" test "$(host_field disk .last_seen)" != null
after=$(curl -fsS -m 5 "$ANEMOS_URL/metrics" | awk '/^anemos_boot_records_total / { print $2 }')
expect_eq "that boot went through the batch writer (anemos_boot_records_total)" $((before + 1)) "$after"
# Ten boots in a row: ten events, in order, each once.
for _ in $(seq 1 10); do ipxe 52:54:00:40:00:01 pcbios >/dev/null; done
expect_eq "ten more boots, ten more boot events" 11 \
	"$(body_of "$(api GET /api/v1/hosts/disk/events)" | jq '[.events[] | select(.phase == "boot")] | length')"
# A boot that brings an identifier the host lacks takes the write path: the UUID is stored
# before the answer.
ipxe 52:54:00:40:00:01 efi "uuid=7a000000-0000-4000-8000-000000000401" >/dev/null
expect_eq "a new identifier is stored by that boot" 7a000000-0000-4000-8000-000000000401 "$(host_field disk .uuid)"
# A host to discover gets a token its script names, and the token works at once.
tok=$(agent_token_of "$(ipxe 52:54:00:40:00:02 efi)")
check "a new machine's script names a token" test -n "$tok"
expect_eq "that token works for the plan" 200 "$(status_of "$(agent GET /api/v1/agent/plan "$tok")")"

# --- inventory facts, read in C ---------------------------------------------------------------
inv='{"firmware":"efi","cpu":{"model":"Storm CPU","sockets":2,"threads":48},"memory":{"total_bytes":68719476736},
 "disks":[{"name":"sda","size_bytes":1000},{"name":"sdb","size_bytes":24},{"name":"sr0"}],"nics":[{"name":"e","mac":"52:54:00:40:00:02"}]}'
expect_eq "inventory accepted" 200 "$(status_of "$(agent POST /api/v1/agent/inventory "$tok" "$inv")")"
expect_eq "summary facts from the inventory" "efi Storm CPU 2 48 68719476736 3 1024" \
	"$(host_field 52:54:00:40:00:02 '[.summary.firmware, .summary.cpu_model, .summary.cpu_sockets, .summary.cpu_threads, .summary.memory_bytes, .summary.disk_count, .summary.disk_bytes] | map(tostring) | join(" ")')"
expect_eq "search finds the host by its CPU model" 1 \
	"$(body_of "$(api GET '/api/v1/hosts?q=Storm%20CPU')" | jq '.hosts | length')"
inv2='{"cpu":{"model":"Other"},"disks":{"sda":{}},"nics":[]}'
expect_eq "a second inventory accepted" 200 "$(status_of "$(agent POST /api/v1/agent/inventory "$tok" "$inv2")")"
expect_eq "its facts replace the first's (no firmware, disks not an array: 0, no sizes)" "null Other 0 null" \
	"$(host_field 52:54:00:40:00:02 '[.summary.firmware, .summary.cpu_model, .summary.disk_count, .summary.disk_bytes] | map(tostring) | join(" ")')"

# --- kill -9 in the middle of a storm ---------------------------------------------------------
ACKS=$WORK/acks
: >"$ACKS"
"$STORM" -n 300 -c 50 -p 45 -a "$ACKS" -k "$ANEMOS_URL" ipxe,inventory,plan >"$WORK/storm.out" 2>&1 &
storm_pid=$!
# Kill once about a fifth of the registrations are acknowledged (bounded: about 60 s), looking
# every 10 ms: at 1,500 registrations a second the 300 take a fifth of a second.
for _ in $(seq 1 6000); do
	[ "$(grep -c '^registered ' "$ACKS")" -ge 60 ] && break
	kill -0 "$storm_pid" 2>/dev/null || break
	sleep 0.01
done
anemosd_stop KILL
wait "$storm_pid"; storm_rc=$?
expect_eq "anemos-storm ends (-k: the server's death is no failure)" 0 "$storm_rc"
scripts=$(grep -c '^script ' "$ACKS"); registered=$(grep -c '^registered ' "$ACKS")
check "scripts were sent before the kill ($scripts)" test "$scripts" -gt 0
check "registrations were acknowledged before the kill ($registered)" test "$registered" -gt 0
check "the kill came in the middle of the storm ($registered of 300 registered)" test "$registered" -lt 300
anemosd_start --max-per-address 0 || exit 1
lost_tokens=0; lost_regs=0
while read -r what mac token; do
	if [ "$what" = script ]; then
		[ "$(status_of "$(agent GET /api/v1/agent/plan "$token")")" = 200 ] || lost_tokens=$((lost_tokens + 1))
	elif [ "$(host_field "$mac" '.summary.cpu_model')" != "Bench CPU @ 2.0GHz" ]; then
		lost_regs=$((lost_regs + 1))
	fi
done <"$ACKS"
expect_eq "tokens named by sent scripts lost by kill -9 (of $scripts)" 0 "$lost_tokens"
expect_eq "acknowledged registrations lost by kill -9 (of $registered)" 0 "$lost_regs"
expect_eq "database integrity after kill -9" ok "$(sqlite3 "$DATA/anemos.db" 'PRAGMA integrity_check')"

# --- a bounded WAL ----------------------------------------------------------------------------
"$STORM" -n 1000 -c 100 -p 46 "$ANEMOS_URL" ipxe inventory plan >"$WORK/storm2.out" 2>&1
expect_eq "a storm of 1,000 registrations without errors" 0 "$?"
sed 's/^/# /' "$WORK/storm2.out"
metrics=$(curl -fsS -m 5 "$ANEMOS_URL/metrics")
wal=$(printf '%s\n' "$metrics" | awk '/^anemos_db_wal_bytes / { print $2 }')
check "/metrics tells the WAL's size ($wal bytes)" test -n "$wal"
check "the WAL file is no more than 64 MiB after the storm ($wal bytes)" test "${wal:-999999999}" -le $((64 * 1024 * 1024))
file=$(stat -c %s "$DATA/anemos.db-wal" 2>/dev/null || echo 0)
check "so is the file itself, looked at again ($file bytes)" test "$file" -le $((64 * 1024 * 1024))
echo "# WAL truncations: $(printf '%s\n' "$metrics" | awk '/^anemos_db_wal_truncations_total / { print $2 }')"
anemosd_stop

#!/usr/bin/env bash
# Tokens and the agent endpoints: who may call what, a boot's token life cycle, inventory,
# plan, events and done.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}' >/dev/null

s=$(ipxe 52:54:00:20:00:01 efi "uuid=6a1b2c3d-0000-4000-8000-000000000001")
T1=$(agent_token_of "$s")
expect_match "agent token: 256 random bits, hex" '^anemos_agent_[0-9a-f]{64}$' "$T1"
id=$(host_field 52:54:00:20:00:01 .id)

# Who may call what.
expect_eq "admin endpoint without a token: 401" 401 "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/api/v1/hosts")"
expect_eq "admin endpoint with a wrong token: 401" 401 "$(status_of "$(ANEMOS_TOKEN=anemos_admin_deadbeef api GET /api/v1/hosts)")"
off=${ANEMOS_TOKEN%?}$([ "${ANEMOS_TOKEN: -1}" = 0 ] && echo 1 || echo 0)
expect_eq "admin endpoint with a token one digit off: 401" 401 "$(status_of "$(ANEMOS_TOKEN=$off api GET /api/v1/hosts)")"
expect_eq "admin endpoint, Basic instead of Bearer: 401" 401 "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -u "x:$ANEMOS_TOKEN" "$ANEMOS_URL/api/v1/hosts")"
for ep in "GET /api/v1/hosts" "GET /api/v1/hosts/$id" "PATCH /api/v1/hosts/$id" "DELETE /api/v1/hosts/$id" "GET /api/v1/images" "DELETE /api/v1/images/tiny" "POST /api/v1/hosts"; do
	set -- $ep
	expect_eq "agent token refused on $ep: 403" 403 "$(status_of "$(agent "$1" "$2" "$T1" '{"next_boot":"local"}')")"
done
expect_eq "agent token refused: nothing changed" "discover tiny" "$(host_field "$id" '[.next_boot, "tiny"]|join(" ")')"
for ep in "POST /api/v1/agent/inventory" "GET /api/v1/agent/plan" "POST /api/v1/agent/events" "POST /api/v1/agent/done"; do
	set -- $ep
	expect_eq "admin token refused on $ep: 403" 403 "$(status_of "$(agent "$1" "$2" "$ANEMOS_TOKEN" '{"ok":true,"message":"x"}')")"
	expect_eq "no token on $ep: 401" 401 "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -X "$1" "$ANEMOS_URL$2")"
	expect_eq "unknown token on $ep: 401" 401 "$(status_of "$(agent "$1" "$2" anemos_agent_0000 '{"ok":true}')")"
done

# Inventory: facts stored, every NIC's MAC added, status ready.
inv='{"system":{"vendor":"QEMU","product":"Standard PC (Q35 + ICH9, 2009)","serial":"QM-0001","uuid":"6a1b2c3d-0000-4000-8000-000000000001"},
 "chassis":{"asset_tag":"ASSET-42"},"firmware":"uefi","cpu":{"model":"QEMU Virtual CPU","sockets":1,"cores":2,"threads":2},
 "memory":{"total_bytes":2147483648,"dimms":[]},"disks":[{"name":"vda","size_bytes":8589934592,"serial":"DISK0001"}],
 "nics":[{"name":"eth0","mac":"52:54:00:20:00:01"},{"name":"eth1","mac":"52:54:00:20:00:02"}],"pci":[]}'
r=$(agent POST /api/v1/agent/inventory "$T1" "$inv")
expect_eq "inventory: 200" 200 "$(status_of "$r")"
h=$(body_of "$(api GET "/api/v1/hosts/$id")")
expect_eq "inventory: status new -> ready" ready "$(jq -r .status <<<"$h")"
expect_eq "inventory: both NICs' MACs on the host" "52:54:00:20:00:01 52:54:00:20:00:02" "$(jq -r '.macs|join(" ")' <<<"$h")"
expect_eq "inventory: facts in columns" "QEMU|Standard PC (Q35 + ICH9, 2009)|QM-0001|ASSET-42" "$(jq -r '[.vendor,.product,.serial,.asset]|join("|")' <<<"$h")"
expect_eq "inventory: raw JSON kept" 8589934592 "$(jq -r '.inventory.disks[0].size_bytes' <<<"$h")"
expect_eq "inventory: second NIC now boots as the same host" "$id" "$(host_field 52:54:00:20:00:02 .id)"
expect_eq "inventory facts in the summary" "uefi|QEMU Virtual CPU|1|2|2147483648|1|8589934592" \
	"$(jq -r '.summary|[.firmware,.cpu_model,.cpu_sockets,.cpu_threads,.memory_bytes,.disk_count,.disk_bytes]|map(tostring)|join("|")' <<<"$h")"
expect_eq "summary in the host list too" 8589934592 "$(body_of "$(api GET /api/v1/hosts)" | jq ".hosts[]|select(.id==$id)|.summary.disk_bytes")"
expect_eq "inventory searchable by CPU model" 1 "$(body_of "$(api GET '/api/v1/hosts?q=virtual%20cpu')" | jq '.hosts|length')"
expect_eq "inventory searchable by serial" 1 "$(body_of "$(api GET '/api/v1/hosts?q=QM-0001')" | jq '.hosts|length')"
expect_eq "malformed inventory: 400" 400 "$(status_of "$(agent POST /api/v1/agent/inventory "$T1" '[1,2')")"
expect_eq "inventory not an object: 400" 400 "$(status_of "$(agent POST /api/v1/agent/inventory "$T1" '[1,2]')")"
# A NIC another host owns stays there, and the clash is recorded.
ipxe 52:54:00:20:00:99 pcbios >/dev/null
agent POST /api/v1/agent/inventory "$T1" "$(jq -c '.nics += [{"name":"eth2","mac":"52:54:00:20:00:99"}]' <<<"$inv")" >/dev/null
check "a MAC of another host is not taken over" test "$(host_field 52:54:00:20:00:99 .id)" != "$id"
expect_match "the clash is an event" 'registered to host' "$(body_of "$(api GET "/api/v1/hosts/$id/events")" | jq -r '.events[].message')"
# A large inventory (over the 1 MiB default, under the 8 MiB inventory limit) is accepted.
{ printf '%s' "$(jq -c 'del(.pci)' <<<"$inv" | sed 's/}$/,"pci":[{"address":"/')"; head -c 2000000 /dev/zero | tr '\0' 'x'; printf '"}]}'; } >"$WORK/inv2.json"
printf 'Authorization: Bearer %s\n' "$T1" >"$WORK/.t1"
expect_eq "2 MB inventory accepted" 200 "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H @"$WORK/.t1" --data-binary @"$WORK/inv2.json" "$ANEMOS_URL/api/v1/agent/inventory")"
head -c 9000000 /dev/zero | tr '\0' ' ' >"$WORK/inv3.json"
expect_eq "9 MB inventory: 413" 413 "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H @"$WORK/.t1" --data-binary @"$WORK/inv3.json" "$ANEMOS_URL/api/v1/agent/inventory")"

# Plan and events.
expect_eq "plan while discovering" discover "$(body_of "$(agent GET /api/v1/agent/plan "$T1")" | jq -r .action)"
expect_eq "long poll with nothing to do ends with discover" discover "$(body_of "$(agent GET '/api/v1/agent/plan?wait=1' "$T1")" | jq -r .action)"
expect_eq "long poll: wait out of range is 400" 400 "$(status_of "$(agent GET '/api/v1/agent/plan?wait=999' "$T1")")"
# More long polls than worker threads (4): they hold no thread, so anemosd still answers.
pids=""
for i in 1 2 3 4 5 6 7 8; do
	agent GET '/api/v1/agent/plan?wait=60' "$T1" >"$WORK/poll$i" & pids="$pids $!"
done
sleep 1
expect_eq "with 8 long polls waiting, anemosd still answers" ok "$(curl -sS -m 3 "$ANEMOS_URL/healthz")"
check "the long polls are still waiting" test ! -s "$WORK/poll1"
api PATCH "/api/v1/hosts/$id" '{"next_boot":"install","image":"tiny","once":true,"hostname":"node1","ssh_authorized_keys":["ssh-ed25519 AAAA op@site"]}' >/dev/null
wait $pids
woken=0
for i in 1 2 3 4 5 6 7 8; do [ "$(body_of "$(cat "$WORK/poll$i")" | jq -r .action)" = install ] && woken=$((woken + 1)); done
expect_eq "an assignment wakes every waiting long poll with the new plan" 8 "$woken"
p=$(body_of "$(agent GET /api/v1/agent/plan "$T1")")
expect_eq "plan after assignment: install with the image" "install tiny $Z tar.zst node1 true" \
	"$(jq -r '[.action,.image.name,.image.sha256,.image.format,.host.hostname,.once]|map(tostring)|join(" ")' <<<"$p")"
expect_eq "plan carries SSH keys" "ssh-ed25519 AAAA op@site" "$(jq -r '.ssh_authorized_keys[0]' <<<"$p")"
expect_eq "host is installing once the plan is out" installing "$(host_field "$id" .status)"
r=$(agent POST /api/v1/agent/events "$T1" '{"phase":"install","message":"writing image","bytes":1048576,"total":4194304}')
expect_eq "event: 201" 201 "$(status_of "$r")"
expect_eq "an installing host shows its progress" "1048576 4194304 25" "$(host_field "$id" '.progress|[.bytes,.total,(.percent|floor)]|map(tostring)|join(" ")')"
expect_eq "progress in the host list too" 25 "$(body_of "$(api GET /api/v1/hosts)" | jq ".hosts[]|select(.id==$id)|.progress.percent|floor")"
expect_eq "event recorded with progress" "writing image 1048576 4194304" \
	"$(body_of "$(api GET "/api/v1/hosts/$id/events")" | jq -r '.events[-1]|[.message,.bytes,.total]|map(tostring)|join(" ")')"
for bad in '{"phase":"x"}' '{"message":"x","bytes":-1}' '{"message":"x","level":"panic"}' '{"message":"x","extra":1}'; do
	expect_eq "bad event $bad: 400" 400 "$(status_of "$(agent POST /api/v1/agent/events "$T1" "$bad")")"
done

# A newer boot's token revokes the older one.
T2=$(agent_token_of "$(ipxe 52:54:00:20:00:02 efi)")
expect_eq "old token revoked by a newer boot: 401" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$T1")")"
expect_eq "new token works" 200 "$(status_of "$(agent GET /api/v1/agent/plan "$T2")")"
expect_eq "done without ok: 400" 400 "$(status_of "$(agent POST /api/v1/agent/done "$T2" '{}')")"
r=$(agent POST /api/v1/agent/done "$T2" '{"ok":true}')
expect_eq "done: 200" 200 "$(status_of "$r")"
expect_eq "install once done: next boot local" local "$(host_field "$id" .next_boot)"
expect_eq "token revoked when the boot ends" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$T2")")"
expect_match "next boot serves the local disk" 'sanboot' "$(ipxe 52:54:00:20:00:01 pcbios)"

# A failed install: host failed, reason recorded.
api PATCH "/api/v1/hosts/$id" '{"next_boot":"install"}' >/dev/null
T3=$(agent_token_of "$(ipxe 52:54:00:20:00:01 pcbios)")
agent GET /api/v1/agent/plan "$T3" >/dev/null
agent POST /api/v1/agent/done "$T3" '{"ok":false,"error":"sha256 mismatch"}' >/dev/null
expect_eq "failed install: status failed" failed "$(host_field "$id" .status)"
expect_eq "a host not installing shows no progress" null "$(host_field "$id" .progress)"
expect_match "failed install: reason in the events" 'install failed: sha256 mismatch' "$(body_of "$(api GET "/api/v1/hosts/$id/events")" | jq -r '.events[-1].message')"
expect_eq "failed install: level error" error "$(body_of "$(api GET "/api/v1/hosts/$id/events")" | jq -r '.events[-1].level')"
anemosd_stop

# Tokens expire.
anemosd_start --agent-token-ttl 2 || exit 1
api PATCH "/api/v1/hosts/$id" '{"next_boot":"discover"}' >/dev/null
T4=$(agent_token_of "$(ipxe 52:54:00:20:00:01 pcbios)")
expect_eq "fresh token works" 200 "$(status_of "$(agent GET /api/v1/agent/plan "$T4")")"
sleep 3.2
expect_eq "expired token: 401" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$T4")")"
expect_match "expiry is explained" 'expired' "$(body_of "$(agent GET /api/v1/agent/plan "$T4")")"
T5=$(agent_token_of "$(ipxe 52:54:00:20:00:01 pcbios)")
agent GET '/api/v1/agent/plan?wait=60' "$T5" >/dev/null 2>&1 & poll=$!
sleep 0.5
anemosd_stop
wait $poll
ok "anemosd stops cleanly while a long poll waits"
expect_no_match "no token ever in the log" 'anemos_(agent|admin)_' "$(cat "$WORK/anemosd.log")"
check "database holds no token in the clear" bash -c "! grep -a -q -e '$T1' -e '$T4' -e '$ANEMOS_TOKEN' '$DATA'/anemos.db*"

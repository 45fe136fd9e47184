#!/usr/bin/env bash
# cost: 2
# Trust on the boot path, tried as an attacker on the provisioning network would: with curl
# and the MACs of machines. Each attack of issue 13 that the server must refuse is here,
# against the real anemosd on loopback (other loopback addresses play other machines).
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}' >/dev/null

# ---- an inventory cannot claim the identities of other machines ----
api POST /api/v1/hosts '{"mac":"52:54:00:80:00:01","hostname":"claimer"}' >/dev/null
api POST /api/v1/hosts '{"mac":"52:54:00:80:00:99","hostname":"owner"}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:80:00:01)")
python3 - "$WORK/claim.json" <<'PY'
import json, sys
nics = [{"name": "eth0", "mac": "52:54:00:80:00:01"}, {"name": "eth1", "mac": "52:54:00:80:00:99"}]
nics += [{"name": "x%d" % i, "mac": "52:54:01:00:%02x:%02x" % (i // 256, i % 256)} for i in range(200)]
json.dump({"system": {"serial": "CLAIM-1"}, "nics": nics}, open(sys.argv[1], "w"))
PY
r=$(bearer_request "$T" POST /api/v1/agent/inventory "$(cat "$WORK/claim.json")")
expect_eq "an inventory of 202 NICs is taken" 200 "$(status_of "$r")"
expect_eq "... but registers at most 32 new MACs (1 its own + 32)" 33 "$(body_of "$r" | jq '.macs | length')"
expect_eq "... never another host's MAC" "52:54:00:80:00:99" "$(host_field owner '.macs|join(",")')"
expect_match "... and says what it left out" '168 more new MACs not registered: an inventory registers at most 32' \
	"$(body_of "$(api GET /api/v1/hosts/claimer/events)" | jq -r '.events[].message')"
expect_eq "the operator can still enroll a machine the agent listed beyond the limit" 201 \
	"$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:01:00:00:c7"}')")"
python3 - "$WORK/many.json" <<'PY'
import json, sys
json.dump({"nics": [{"name": "x%d" % i, "mac": "52:54:02:00:%02x:%02x" % (i // 256, i % 256)} for i in range(1000)]}, open(sys.argv[1], "w"))
PY
expect_eq "an inventory of 1,000 NICs is refused: 400" 400 "$(status_of "$(bearer_request "$T" POST /api/v1/agent/inventory "$(cat "$WORK/many.json")")")"
expect_eq "... and added none of them" 404 "$(status_of "$(api GET /api/v1/hosts/52:54:02:00:00:05)")"
big=$(head -c 7000000 /dev/zero | tr '\0' 'S' | sed 's/SS/SN/g')
printf '{"system":{"serial":"%s","vendor":"ACME"},"nics":[{"name":"eth0","mac":"52:54:00:80:00:01"}]}' "$big" >"$WORK/bigserial.json"
code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
	--data-binary @"$WORK/bigserial.json" "$ANEMOS_URL/api/v1/agent/inventory")
expect_eq "an inventory with a 7 MB serial is taken (200)" 200 "$code"
expect_eq "... but the serial is not stored as an identity" "CLAIM-1 ACME" "$(host_field claimer '"\(.serial) \(.vendor)"')"
expect_match "... a warning says so" 'serial of 7000000 bytes not stored \(at most 128\)' \
	"$(body_of "$(api GET /api/v1/hosts/claimer/events)" | jq -r '.events[].message')"
expect_eq "... and a host listing stays small" 1 "$(( $(body_of "$(api GET /api/v1/hosts)" | wc -c) < 100000 ))"
anemosd_stop

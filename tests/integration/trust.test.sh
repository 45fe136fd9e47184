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

# ---- the hijack: someone else boots with the MAC of a machine that is installing ----
V=52:54:00:81:00:01
api POST /api/v1/hosts '{"mac":"'$V'","hostname":"victim","next_boot":"install","image":"tiny","once":true,
 "install":{"root_password_hash":"$6$salt$secrethash","cloud_init_user_data":"#cloud-config\nsecret: 1\n"}}' >/dev/null
s=$(FROM=127.0.0.1 ipxe $V)
T=$(agent_token_of "$s")
expect_match "the machine (127.0.0.1) boots the installer" '^anemos_agent_' "$T"
p=$(body_of "$(FROM=127.0.0.1 agent GET /api/v1/agent/plan "$T")")
expect_eq "its first plan carries the install's secrets" '$6$salt$secrethash true false' \
	"$(jq -r '"\(.install.root_password_hash) \(.install.cloud_init_user_data|startswith("#cloud-config")) \(.secrets_withheld)"' <<<"$p")"
expect_eq "... and the host is installing" installing "$(host_field victim .status)"
r=$(curl -sS -m 10 --interface 127.0.0.2 -w '\n%{http_code}' "$ANEMOS_URL/ipxe?mac=$V&platform=pcbios")
expect_eq "an attacker (127.0.0.2) booting with its MAC is refused: 403" 403 "$(status_of "$r")"
expect_no_match "... and gets no token" 'anemos_agent_' "$(body_of "$r")"
ev=$(body_of "$(api GET /api/v1/hosts/victim/events)")
expect_match "... an error event names the attacker's address and the agent's" \
	'network boot from 52:54:00:81:00:01 at 127.0.0.2 refused: the host.s install boot \(agent at 127.0.0.1\) is running' \
	"$(jq -r '.events[]|select(.level == "error").message' <<<"$ev")"
r=$(FROM=127.0.0.2 agent GET /api/v1/agent/plan "$T")
expect_eq "the agent's token, stolen and used from 127.0.0.2: 401" 401 "$(status_of "$r")"
expect_no_match "... no plan, no secret" 'secrethash' "$(body_of "$r")"
expect_eq "... not even a done: 401" 401 "$(status_of "$(FROM=127.0.0.2 agent POST /api/v1/agent/done "$T" '{"ok":true}')")"
expect_match "... and the attempt is recorded" 'agent token of this boot \(issued to 127.0.0.1\) used from 127.0.0.2: refused' \
	"$(body_of "$(api GET /api/v1/hosts/victim/events)" | jq -r '.events[].message')"
p=$(body_of "$(FROM=127.0.0.1 agent GET /api/v1/agent/plan "$T")")
expect_eq "the real agent goes on; a second plan of its boot withholds the secrets" 'null null true' \
	"$(jq -r '"\(.install.root_password_hash) \(.install.cloud_init_user_data) \(.secrets_withheld)"' <<<"$p")"
expect_eq "... its events are taken" 201 "$(status_of "$(FROM=127.0.0.1 agent POST /api/v1/agent/events "$T" '{"phase":"write","message":"writing","bytes":5,"total":10}')")"
r=$(FROM=127.0.0.1 agent POST /api/v1/agent/phone-home-token "$T")
expect_eq "... it gets the phone-home token once: 201" 201 "$(status_of "$r")"
P=$(body_of "$r" | jq -r .token)
expect_eq "... and not twice: 409" 409 "$(status_of "$(FROM=127.0.0.1 agent POST /api/v1/agent/phone-home-token "$T")")"
expect_eq "... its done is taken" "200 local" "$(r=$(FROM=127.0.0.1 agent POST /api/v1/agent/done "$T" '{"ok":true}'); echo "$(status_of "$r") $(body_of "$r" | jq -r .next_boot)")"
expect_eq "the installed system reports in: deployed" deployed "$(body_of "$(FROM=127.0.0.1 agent POST /api/v1/phone-home "$P" '{"hostname":"victim"}')" | jq -r .status)"

# A machine that reboots during its install (same address) gets a fresh boot.
api PATCH /api/v1/hosts/victim '{"next_boot":"install","once":true}' >/dev/null
T1=$(agent_token_of "$(FROM=127.0.0.1 ipxe $V)")
FROM=127.0.0.1 agent GET /api/v1/agent/plan "$T1" >/dev/null
T2=$(agent_token_of "$(FROM=127.0.0.1 ipxe $V)")
expect_match "the machine itself rebooting mid-install gets a new token" '^anemos_agent_' "$T2"
expect_eq "... which revokes the old one" 401 "$(status_of "$(FROM=127.0.0.1 agent GET /api/v1/agent/plan "$T1")")"
expect_eq "... and its first plan has the secrets again" '$6$salt$secrethash' \
	"$(body_of "$(FROM=127.0.0.1 agent GET /api/v1/agent/plan "$T2")" | jq -r .install.root_password_hash)"
api PATCH /api/v1/hosts/victim '{"status":"ready"}' >/dev/null
expect_match "an operator's status change releases the host: the other address may boot it" '^anemos_agent_' \
	"$(agent_token_of "$(FROM=127.0.0.2 ipxe $V)")"

# ---- secrets only to install boots ----
api POST /api/v1/hosts '{"mac":"52:54:00:81:00:02","hostname":"resc","next_boot":"rescue",
 "install":{"root_password_hash":"$6$salt$secrethash","cloud_init_user_data":"secret"}}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:81:00:02)")
p=$(body_of "$(agent GET /api/v1/agent/plan "$T")")
expect_eq "a rescue plan never carries the secrets" 'rescue null null' "$(jq -r '"\(.action) \(.install.root_password_hash) \(.install.cloud_init_user_data)"' <<<"$p")"
expect_eq "... nor gets a phone-home token: 403" 403 "$(status_of "$(agent POST /api/v1/agent/phone-home-token "$T")")"
api POST /api/v1/hosts '{"mac":"52:54:00:81:00:03","hostname":"disc",
 "install":{"root_password_hash":"$6$salt$secrethash"}}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:81:00:03)")
expect_eq "a discover plan never carries them" 'discover null' "$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r '"\(.action) \(.install.root_password_hash)"')"
api PATCH /api/v1/hosts/disc '{"next_boot":"install","image":"tiny"}' >/dev/null
expect_eq "a discover boot given an install becomes the install boot: its first install plan has them" 'install $6$salt$secrethash' \
	"$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r '"\(.action) \(.install.root_password_hash)"')"
expect_eq "... and it gets the phone-home token" 201 "$(status_of "$(agent POST /api/v1/agent/phone-home-token "$T")")"

# ---- boots armed over SSH (kexec), long polls and rescue boots hold no gap ----
mkdir -p "$BOOT_DIR"; head -c 3000 /dev/urandom >"$BOOT_DIR/vmlinuz"; head -c 5000 /dev/urandom >"$BOOT_DIR/initramfs.img"
api POST /api/v1/hosts '{"mac":"52:54:00:82:00:01","hostname":"cloudy","image":"tiny",
 "install":{"root_password_hash":"$6$salt$secrethash"}}' >/dev/null
expect_eq "a host armed for a kexec install" 200 "$(status_of "$(api POST /api/v1/hosts/cloudy/kexec '{"mode":"install"}')")"
expect_eq "... gets no token from /ipxe for its MAC (its agent comes by kexec, not iPXE): 403" 403 \
	"$(curl -sS -m 5 --interface 127.0.0.9 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/ipxe?mac=52:54:00:82:00:01")"
api PATCH /api/v1/hosts/cloudy '{"status":"ready","next_boot":"install","once":false}' >/dev/null
K=$(body_of "$(api POST /api/v1/hosts/cloudy/kexec '{"mode":"rescue"}')" | jq -r .token)
p=$(body_of "$(FROM=127.0.0.1 agent GET /api/v1/agent/plan "$K")")
expect_eq "a rescue of a host whose next boot is install stays a rescue, without the secrets" "rescue null false" \
	"$(jq -r '"\(.action) \(.install.root_password_hash) \(.secrets_withheld)"' <<<"$p")"
expect_eq "... the host is not installing" ready "$(host_field cloudy .status)"
expect_eq "... and the rescue gets no phone-home token: 403" 403 "$(status_of "$(FROM=127.0.0.1 agent POST /api/v1/agent/phone-home-token "$K")")"
expect_eq "... its kexec token is now bound to its first user" 401 "$(status_of "$(FROM=127.0.0.4 agent GET /api/v1/agent/plan "$K")")"

# Long polls of one boot: the install's secrets go to one of them only.
api POST /api/v1/hosts '{"mac":"52:54:00:82:00:02","hostname":"poller","install":{"root_password_hash":"$6$salt$secrethash"}}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:82:00:02)")
polls=()
for n in 1 2 3; do agent GET "/api/v1/agent/plan?wait=20" "$T" >"$WORK/poll$n" & polls+=($!); done
sleep 1
api PATCH /api/v1/hosts/poller '{"next_boot":"install","image":"tiny"}' >/dev/null
wait "${polls[@]}"
expect_eq "three long polls of one boot woken by an install: one plan carries the secrets" 1 \
	"$(cat "$WORK/poll1" "$WORK/poll2" "$WORK/poll3" | grep -c 'secrethash')"
T=$(agent_token_of "$(FROM=127.0.0.1 ipxe 52:54:00:82:00:03)")
api PATCH /api/v1/hosts/52:54:00:82:00:03 '{"install":{"root_password_hash":"$6$salt$secrethash"}}' >/dev/null
agent GET "/api/v1/agent/plan?wait=20" "$T" >"$WORK/poll4" &
poll=$!
sleep 1
api PATCH /api/v1/hosts/52:54:00:82:00:03 '{"next_boot":"install","image":"tiny","status":"maintenance"}' >/dev/null
wait "$poll"
expect_eq "a long poll whose boot an operator ended is refused when it wakes: 401" 401 "$(status_of "$(cat "$WORK/poll4")")"
expect_no_match "... with no secret" 'secrethash' "$(cat "$WORK/poll4")"
expect_eq "... and the host is not installing" maintenance "$(host_field 52:54:00:82:00:03 .status)"

# Releasing a ready host (its discovery held at another address) with the status it has.
api POST /api/v1/hosts '{"mac":"52:54:00:82:00:04","hostname":"held2"}' >/dev/null
FROM=127.0.0.1 ipxe 52:54:00:82:00:04 >/dev/null
expect_eq "a discovering host's MAC from another address: 403" 403 \
	"$(curl -sS -m 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/ipxe?mac=52:54:00:82:00:04")"
api PATCH /api/v1/hosts/held2 '{"status":"ready"}' >/dev/null
expect_match "an operator's status, even the one it has, releases it" '^anemos_agent_' "$(agent_token_of "$(FROM=127.0.0.2 ipxe 52:54:00:82:00:04)")"
# A refused boot keeps nothing it brought: the MAC it came with (matched by the UUID) stays unknown.
api PATCH /api/v1/hosts/held2 '{"hostname":"held2"}' >/dev/null
U=deadbeef-0000-4000-8000-00000000c0de
FROM=127.0.0.2 ipxe 52:54:00:82:00:04 pcbios "uuid=$U" >/dev/null
curl -sS -m 5 --interface 127.0.0.3 -o /dev/null "$ANEMOS_URL/ipxe?mac=52:54:00:82:00:44&uuid=$U"
expect_eq "a refused boot from a new NIC (matched by UUID) does not add that MAC" 404 \
	"$(status_of "$(api GET /api/v1/hosts/52:54:00:82:00:44)")"
curl -sS -m 5 -o /dev/null "$ANEMOS_URL/ipxe?mac=01:00:5e:00:00:01&uuid=$U"
expect_eq "a multicast MAC is never added to a host" 404 "$(status_of "$(api GET /api/v1/hosts/01:00:5e:00:00:01)")"

# ---- event pruning cannot be steered: every insert keeps a host at 1,000 events ----
api POST /api/v1/hosts '{"mac":"52:54:00:81:00:04","hostname":"chatty"}' >/dev/null
api POST /api/v1/hosts '{"mac":"52:54:00:81:00:05","hostname":"other"}' >/dev/null
TA=$(agent_token_of "$(ipxe 52:54:00:81:00:04)")
TB=$(agent_token_of "$(ipxe 52:54:00:81:00:05)")
# 1,500 events for one host, each 64th event id given to another host: the ids that once
# triggered pruning never fall on the chatty host. One keep-alive connection, bounded.
python3 - "$ANEMOS_URL" "$TA" "$TB" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def post(tok, msg):
    c.request("POST", "/api/v1/agent/events", json.dumps({"message": msg}),
              {"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 201: sys.exit("event: %d" % r.status)
sent = 0
while sent < 1500:
    post(sys.argv[2], "chatter %d" % sent); sent += 1
    if sent % 63 == 0: post(sys.argv[3], "filler")
PY
expect_eq "1,500 events for one host: it keeps the newest 1,000" 1000 \
	"$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM events WHERE host_id = $(host_field chatty .id)")"
expect_eq "... the newest among them" "chatter 1499" "$(body_of "$(api GET '/api/v1/hosts/chatty/events?limit=1')" | jq -r '.events[-1].message')"
anemosd_stop

# ---- enrollment policy: --unknown-hosts ignore ----
anemosd_start --unknown-hosts ignore || exit 1
n=$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')
s=$(ipxe 52:54:00:8f:00:01)
expect_match "--unknown-hosts ignore: a machine nobody enrolled gets the none script" 'no network boot assigned' "$s"
expect_no_match "... with no token" 'anemos\.token=' "$s"
for i in $(seq 10 59); do ipxe "52:54:00:8f:00:$i" >/dev/null; done
expect_eq "... 51 unknown boots created no host" "$n" "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')"
expect_match "... and are counted" 'anemos_unknown_boots_total 51' "$(curl -sS -m 5 "$ANEMOS_URL/metrics")"
expect_match "... enrolled machines still boot" '^anemos_agent_' "$(agent_token_of "$(ipxe 52:54:00:81:00:02)")"
anemosd_stop

# ---- a JSON body may not trickle: whole within 6 header deadlines ----
anemosd_start --header-timeout 1 || exit 1
T=$(agent_token_of "$(ipxe 52:54:00:81:00:02)")
out=$(python3 - "$PORT" "$T" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(("POST /api/v1/agent/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" % sys.argv[2]).encode())
t0, sent = time.time(), 0
while sent < 30:                      # a byte a second, at most 30 s
    try:
        s.sendall(b" ")
        sent += 1
        time.sleep(1)
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                break
        except BlockingIOError:
            pass
        s.setblocking(True)
    except OSError:
        break
print("closed after %d bytes, %.1f s" % (sent, time.time() - t0))
PY
)
echo "# a body trickling a byte a second: $out"
expect_match "a JSON body trickling a byte a second is cut off (header deadline 1 s: 6 s for the body)" \
	'^closed after ([1-9]|1[0-9]) bytes' "$out"
expect_eq "... while a whole body is taken" 201 "$(status_of "$(agent POST /api/v1/agent/events "$T" '{"message":"whole"}')")"
anemosd_stop

# ---- --agent-any-address: NAT between the machines and anemosd ----
anemosd_start --agent-any-address || exit 1
T=$(agent_token_of "$(FROM=127.0.0.1 ipxe 52:54:00:81:00:02)")
expect_eq "--agent-any-address: a token works from another address (NAT)" 200 "$(status_of "$(FROM=127.0.0.3 agent GET /api/v1/agent/plan "$T")")"
anemosd_stop

#!/usr/bin/env bash
# cost: 30
# --bmc-enroll, anemosd's side, with a fake agent (curl with the boot's agent token) and
# OpenIPMI's ipmi_sim as the BMC: the operator's request (validated; the password made by
# anemosd is in no answer), the plan that carries the enroll (a discover boot's long poll
# ends for it at once; once per boot; a new boot gets an unanswered one again), the agent's
# report (validated; only success makes BMC settings, and those work: the fake agent created
# the user over the BMC's LAN with the plan's password, and a power action then goes
# through), a failure as an event with its reason, and the passwords in no log line, event,
# operator answer or database file. (The real agent doing it in-band: tests/e2e/power.test.sh.)
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/lib/bmc.sh"
for f in /usr/bin/ipmi_sim /usr/bin/ipmitool; do
	[ -e "$f" ] || { fail "OpenIPMI installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
PW='pw-Admin-3391'
BMC_IP=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
BMC_ADDR=$BMC_IP bmc_start E "$PW" "$ROOT/tests/lib/bmc-chassis.sh" || { fail "the BMC starts"; exit 1; }
anemosd_start --bmc-timeout 3 --power-poll 0 || exit 1
ANSWERS=$WORK/answers   # every operator answer, grepped for the passwords at the end
rec() { local r; r=$(api "$@"); printf '%s\n' "$r" >>"$ANSWERS"; printf '%s\n' "$r"; }
MAC=52:54:00:e7:00:21

# A machine boots (discover) and reports a BMC in its inventory, as the agent reads it.
script=$(ipxe "$MAC")
TOK=$(agent_token_of "$script")
check "the machine got an agent token" test -n "$TOK"
inv="{\"system\":{\"serial\":\"ENR-1\"},\"nics\":[{\"name\":\"eth0\",\"mac\":\"$MAC\"}],\"bmc\":{\"present\":true,\"interface\":\"kcs\",\"ipmi_version\":\"2.0\",\"channel\":1,\"ip\":\"$BMC_IP\",\"ip_source\":\"static\",\"mac\":\"52:54:00:b0:21:01\",\"netmask\":\"255.0.0.0\",\"gateway\":\"127.0.0.1\"}}"
expect_eq "inventory with a BMC" 200 "$(status_of "$(agent POST /api/v1/agent/inventory "$TOK" "$inv")")"
api PATCH "/api/v1/hosts/$MAC" '{"hostname":"enr1"}' >/dev/null
expect_eq "bmc:present finds it" enr1 "$(body_of "$(api GET "/api/v1/hosts?q=bmc:present")" | jq -r '[.hosts[].hostname] | join(",")')"
expect_eq "bmc:absent does not" "" "$(body_of "$(api GET "/api/v1/hosts?q=bmc:absent")" | jq -r '[.hosts[].hostname] | join(",")')"
r=$(agent GET "/api/v1/agent/plan" "$TOK")
expect_eq "a plan without an enroll has none" null "$(body_of "$r" | jq -c .bmc_enroll)"

# Bad requests change nothing.
for bad in '{"bmc_enroll":"yes"}' '{"bmc_enroll":1}' '{"bmc_enroll":null}'; do
	r=$(rec PATCH /api/v1/hosts/enr1 "$bad")
	expect_eq "PATCH $bad: 400" 400 "$(status_of "$r")"
done
expect_match "... with a clear reason" 'bmc_enroll must be true' "$(body_of "$r")"
expect_eq "... and nothing asked" null "$(host_field enr1 .bmc_enroll)"
r=$(rec POST /api/v1/hosts '{"mac":"52:54:00:e7:00:29","bmc_enroll":true}')
expect_eq "bmc_enroll is not a field of a host being enrolled" 400 "$(status_of "$r")"

# The agent waits in discover (a long poll); the operator asks; the wait ends at once.
t0=$(now)
agent GET "/api/v1/agent/plan?wait=30" "$TOK" >"$WORK/plan1" &
poll=$!
sleep 1
out=$("$ANEMOSCTL" host set enr1 --bmc-enroll 2>&1)
expect_match "anemosctl host set --bmc-enroll" '^updated host' "$out"
wait "$poll"
plan=$(body_of "$(cat "$WORK/plan1")")
expect_eq "the waiting discover plan ended at once with the enroll" "true discover" \
	"$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print (b - a < 10) ? "true" : "false" }') $(jq -r .action <<<"$plan")"
expect_eq "... user anemos, administrator" "anemos administrator" \
	"$(jq -r '"\(.bmc_enroll.username) \(.bmc_enroll.privilege)"' <<<"$plan")"
P1=$(jq -r .bmc_enroll.password <<<"$plan")
expect_match "... a random password of 16 letters and digits" '^[A-Za-z0-9]{16}$' "$P1"
host=$(rec GET /api/v1/hosts/enr1)
expect_eq "the host shows the enroll as sent, without its password" "sent anemos" \
	"$(body_of "$host" | jq -r '"\(.bmc_enroll.state) \(.bmc_enroll.username)"')"
expect_eq "... and has no BMC settings yet" null "$(body_of "$host" | jq -c .bmc)"
expect_match "host show says so" 'BMC enroll: +sent \(user anemos\)' "$("$ANEMOSCTL" host show enr1 2>&1)"
r=$(agent GET "/api/v1/agent/plan" "$TOK")
expect_eq "the same boot's next plan has no enroll (once per boot)" null "$(body_of "$r" | jq -c .bmc_enroll)"
expect_eq "the enroll was an event (without the password)" 1 "$(event_count enr1 '^BMC enroll sent to the agent \(discover boot\): user anemos$')"

# The agent's report, validated: nothing changes on a bad one.
for bad in '{}' '{"ok":"yes"}' '{"ok":false}' '{"ok":true,"address":"not-an-ip"}' '{"ok":true,"address":"0.1.2.3"}' \
	'{"ok":true,"user_id":99}' '{"ok":true,"channel":16}' '{"ok":true,"password":"x"}'; do
	expect_eq "bmc-enroll report $bad: 400" 400 "$(status_of "$(agent POST /api/v1/agent/bmc-enroll "$TOK" "$bad")")"
done
expect_eq "... the enroll still sent, no BMC settings" "sent null" "$(host_field enr1 '"\(.bmc_enroll.state) \(.bmc)"')"
expect_eq "an admin token is no agent token" 403 "$(status_of "$(api POST /api/v1/agent/bmc-enroll '{"ok":true}')")"

# The fake agent creates the user on the BMC as the real one would (here over the BMC's LAN
# with its admin user; commands from a file, so that the password is on no command line).
cmds=$WORK/ipmi-cmds
( umask 077; printf '%s\n' "user set name 3 anemos" "user set password 3 $P1" "user enable 3" "user priv 3 4 1" \
	"channel setaccess 1 3 callin=on ipmi=on link=on privilege=4" >"$cmds" )
IPMI_PASSWORD=$PW ipmitool -I lanplus -C 3 -H "$BMC_IP" -U admin -E exec "$cmds" >"$WORK/ipmi-exec.out" 2>&1
rm -f "$cmds"
r=$(agent POST /api/v1/agent/bmc-enroll "$TOK" "{\"ok\":true,\"username\":\"anemos\",\"user_id\":3,\"channel\":1,\"address\":\"$BMC_IP\"}")
expect_eq "the agent's success: 200" 200 "$(status_of "$r")"
expect_eq "the host's BMC settings are the enrolled user's" "ipmi anemos $BMC_IP 623 true null" \
	"$(host_field enr1 '"\(.bmc.protocol) \(.bmc.username) \(.bmc.address) \(.bmc.port) \(.bmc.password_set) \(.bmc_enroll)"')"
expect_eq "... an event says so" 1 "$(event_count enr1 "^BMC enrolled in-band: user anemos \\(user 3, channel 1\\); power control through ipmi://anemos@$BMC_IP:623\$")"
expect_eq "a second report: 409" 409 "$(status_of "$(agent POST /api/v1/agent/bmc-enroll "$TOK" '{"ok":true}')")"
out=$(timeout 60 "$ANEMOSCTL" host power enr1 status 2>&1)
expect_match "the next power action works with the enrolled credentials" 'power status done .*power is (on|off)' "$out"

# Asked again: a new password; an unanswered enroll goes to the next boot too; a failure
# is an event with the agent's reason and keeps the BMC settings there were.
rec PATCH /api/v1/hosts/enr1 '{"bmc_enroll":true}' >/dev/null
expect_eq "asked again: pending" pending "$(host_field enr1 .bmc_enroll.state)"
P2=$(body_of "$(agent GET "/api/v1/agent/plan" "$TOK")" | jq -r .bmc_enroll.password)
check "... with another password" test -n "$P2" -a "$P2" != "$P1" -a "$P2" != null
TOK2=$(agent_token_of "$(ipxe "$MAC")")
expect_eq "a boot that was given no enroll cannot say how it went: 409" "409 sent" \
	"$(status_of "$(agent POST /api/v1/agent/bmc-enroll "$TOK2" '{"ok":true,"username":"anemos","user_id":3,"channel":1}')") $(host_field enr1 .bmc_enroll.state)"
P2b=$(body_of "$(agent GET "/api/v1/agent/plan" "$TOK2")" | jq -r .bmc_enroll.password)
# The first boot may have set P2 and lost its report: P2 must not go to whoever boots next.
check "a new boot gets the unanswered enroll again, with a password of its own" \
	test -n "$P2b" -a "$P2b" != null -a "$P2b" != "$P2" -a "${#P2b}" = 16
expect_eq "the old boot's token is gone with the new boot" 401 \
	"$(status_of "$(agent POST /api/v1/agent/bmc-enroll "$TOK" '{"ok":false,"error":"late"}')")"

r=$(agent POST /api/v1/agent/bmc-enroll "$TOK2" '{"ok":false,"error":"Set User Name: the BMC answered insufficient privilege level (0xD4)"}')
expect_eq "the agent's failure: 200" 200 "$(status_of "$r")"
expect_eq "... an error event with the reason" 1 "$(event_count enr1 '^BMC enroll failed: Set User Name: the BMC answered insufficient privilege level \(0xD4\)$')"
expect_eq "... the enroll failed, with why" "failed Set User Name: the BMC answered insufficient privilege level (0xD4)" \
	"$(host_field enr1 '"\(.bmc_enroll.state) \(.bmc_enroll.error)"')"
expect_eq "... and the BMC settings are the ones that worked" "anemos $BMC_IP" "$(host_field enr1 '"\(.bmc.username) \(.bmc.address)"')"
rec PATCH /api/v1/hosts/enr1 '{"bmc_enroll":false}' >/dev/null
expect_eq "--no-bmc-enroll takes it back" null "$(host_field enr1 .bmc_enroll)"

# A success with no address from the agent: the inventory's; with none there either, a
# failure that says so.
rec PATCH /api/v1/hosts/enr1 '{"bmc_enroll":true}' >/dev/null
TOK3=$(agent_token_of "$(ipxe "$MAC")")
P3=$(body_of "$(agent GET "/api/v1/agent/plan" "$TOK3")" | jq -r .bmc_enroll.password)
expect_eq "success without an address: 200" 200 "$(status_of "$(agent POST /api/v1/agent/bmc-enroll "$TOK3" '{"ok":true,"user_id":3,"channel":1}')")"
expect_eq "... the inventory's address is taken" "$BMC_IP 623" "$(host_field enr1 '"\(.bmc.address) \(.bmc.port)"')"
script=$(ipxe 52:54:00:e7:00:22)
TOK4=$(agent_token_of "$script")
agent POST /api/v1/agent/inventory "$TOK4" '{"nics":[{"name":"eth0","mac":"52:54:00:e7:00:22"}]}' >/dev/null
rec PATCH /api/v1/hosts/52:54:00:e7:00:22 '{"bmc_enroll":true}' >/dev/null
P4=$(body_of "$(agent GET "/api/v1/agent/plan" "$TOK4")" | jq -r .bmc_enroll.password)
agent POST /api/v1/agent/bmc-enroll "$TOK4" '{"ok":true,"user_id":4,"channel":1}' >/dev/null
expect_match "no address anywhere: a failure that says so" 'BMC enroll failed: user anemos was created \(user 4\), but the BMC.s address is unknown' \
	"$(body_of "$(api GET "/api/v1/hosts/52:54:00:e7:00:22/events?limit=100")" | jq -r '.events[].message')"
expect_eq "... and no BMC settings" null "$(host_field 52:54:00:e7:00:22 .bmc)"

# The passwords anemosd made: in the plans only.
ev=$(body_of "$(api GET "/api/v1/hosts/enr1/events?limit=1000")"; body_of "$(api GET "/api/v1/hosts/52:54:00:e7:00:22/events?limit=1000")")
rec GET /api/v1/hosts >/dev/null
rec GET /api/v1/hosts/enr1 >/dev/null
"$ANEMOSCTL" host show enr1 >>"$ANSWERS" 2>&1
"$ANEMOSCTL" --json host show enr1 >>"$ANSWERS" 2>&1
for pw in "$P1" "$P2" "$P3" "$P4"; do
	expect_eq "enrolled password ${pw:0:3}... in no event" 0 "$(grep -c -F -- "$pw" <<<"$ev")"
	expect_eq "... no operator answer" 0 "$(grep -c -F -- "$pw" "$ANSWERS")"
	expect_eq "... no log line" 0 "$(grep -c -F -- "$pw" "$WORK/anemosd.log")"
	expect_eq "... not in the database files" 0 "$(cat "$DATA"/anemos.db* | grep -c -a -F -- "$pw")"
done
expect_eq "the database holds the enrolled password sealed" 1 \
	"$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM hosts WHERE hostname = 'enr1' AND bmc LIKE '%\"password_sealed\":\"v1:%'")"
anemosd_stop
exit "$_failures"

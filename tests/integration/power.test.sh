#!/usr/bin/env bash
# cost: 70
# Power control through BMCs: OpenIPMI's ipmi_sim on loopback as the BMCs (a state file as
# the machine behind each; tests/e2e/power.test.sh puts QEMU machines behind them). BMC
# settings through the API and the CLI (validated, the password write-only and stored
# encrypted), power actions with who asked, the poller, and a wrong password, an
# unreachable BMC and a slow BMC each ending as an event while another host's action goes on.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/lib/bmc.sh"
CHASSIS=$ROOT/tests/lib/bmc-chassis.sh
PW_A='pw-Alpha-7731'      # the passwords that must never show anywhere
PW_B='pw-Bravo-0419'
PW_WRONG='pw-Wrong-5562'
bmc_start A "$PW_A" "$CHASSIS" || { fail "BMC A starts"; exit 1; }
bmc_start B "$PW_B" "$CHASSIS" || { fail "BMC B starts"; exit 1; }
# A short poll, a short BMC timeout: the outcomes below come in seconds.
anemosd_start --bmc-timeout 2 --power-poll 2 --power-workers 3 || exit 1
ANSWERS=$WORK/answers   # every API answer, grepped for the passwords at the end
rec() { local r; r=$(api "$@"); printf '%s\n' "$r" >>"$ANSWERS"; printf '%s\n' "$r"; }
bmc_json() { printf '{"bmc":{"address":"127.0.0.1","port":%s,"username":"admin","password":"%s"}}' "$1" "$2"; }
# wait_chassis NAME REGEX: waits (bounded, 30 s) until BMC NAME's chassis log, on one line,
# matches REGEX (ipmi_sim powers a cycled machine on once it has seen it off).
wait_chassis() {
	for _ in $(seq 1 120); do
		tr '\n' ' ' <"$WORK/bmc-$1/chassis.log" | grep -qE -- "$2" && return 0
		sleep 0.25
	done
	return 1
}
# wait_event REF REGEX: waits (bounded, 60 s) for an event of REF matching REGEX.
wait_event() {
	for _ in $(seq 1 240); do
		[ "$(event_count "$1" "$2")" -ge 1 ] 2>/dev/null && return 0
		sleep 0.25
	done
	return 1
}
# outcomes_after REF ID: the messages of REF's BMC events after event ID, one a line.
outcomes_after() {
	body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")" |
		jq -r --argjson id "$2" '.events[] | select(.id > $id and .source == "bmc") | .message'
}
# wait_outcomes REF ID N: waits (bounded, 60 s) for the outcomes of N operator actions
# (not the poller's events) among the BMC events of REF after event ID.
wait_outcomes() {
	for _ in $(seq 1 240); do
		[ "$(outcomes_after "$1" "$2" | grep -cE '^power [a-z-]+ (done|failed|accepted)')" -ge "$3" ] && return 0
		sleep 0.25
	done
	return 1
}
# last_event REF: the id of REF's newest event.
last_event() { body_of "$(api GET "/api/v1/hosts/$1/events?limit=1")" | jq -r '.events[-1].id'; }
# wait_outcome_match REF ID REGEX: waits (bounded, 60 s) for a BMC event of REF after event
# ID whose message matches REGEX.
wait_outcome_match() {
	for _ in $(seq 1 240); do
		outcomes_after "$1" "$2" | grep -qE -- "$3" && return 0
		sleep 0.25
	done
	return 1
}
events_of() { body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")" | tee -a "$ANSWERS" | jq -r '.events[].message'; }

i=0
for h in alpha bravo wrong gone; do
	i=$((i + 1))
	api POST /api/v1/hosts "{\"mac\":\"52:54:00:71:00:0$i\",\"hostname\":\"$h\"}" >/dev/null
done
expect_eq "four hosts enrolled" 4 "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts | length')"
# libfreeipmi is loaded at the first IPMI call (server/bmc.c), not when anemosd starts. Checked
# before any host has a BMC: the poller then makes IPMI calls of its own.
expect_eq "before any IPMI call, libfreeipmi is not mapped" 0 "$(grep -c libfreeipmi "/proc/$ANEMOSD_PID/maps")"

# ---- settings: validated, nothing changed by a refusal ----
for bad in '{"bmc":{"address":"127.0.0.1","port":0,"username":"admin","password":"x"}}' \
	'{"bmc":{"address":"127.0.0.1","username":"admin","password":"x","colour":"red"}}' \
	'{"bmc":{"protocol":"smoke","address":"127.0.0.1","username":"admin","password":"x"}}' \
	'{"bmc":{"address":"127.0.0.1","username":"admin","password":"x","insecure":"yes"}}' \
	'{"bmc":{"address":"not an address","username":"admin","password":"x"}}' \
	'{"bmc":{"address":"127.0.0.1","username":"a-user-name-of-17b","password":"x"}}' \
	'{"bmc":{"address":"127.0.0.1","username":"admin","password":"a-password-of-21-byte"}}' \
	'{"bmc":{"address":"127.0.0.1","username":"admin"}}' '{"bmc":"ipmi://admin@127.0.0.1"}'; do
	r=$(rec PATCH /api/v1/hosts/alpha "$bad")
	expect_eq "bmc refused: $bad" 400 "$(status_of "$r")"
done
expect_eq "refusals changed nothing" null "$(host_field alpha .bmc)"
r=$(rec POST /api/v1/hosts/alpha/power '{"action":"on"}')
expect_eq "power without a BMC: 400" 400 "$(status_of "$r")"
expect_match "... says how to set one" 'has no BMC; set one first' "$(body_of "$r")"

r=$(rec PATCH /api/v1/hosts/alpha "$(bmc_json "$BMC_PORT_A" "$PW_A")")
expect_eq "bmc set: 200" 200 "$(status_of "$r")"
expect_eq "the answer shows the BMC, not its password" \
	"ipmi 127.0.0.1 $BMC_PORT_A admin true null" \
	"$(body_of "$r" | jq -r '.bmc | [.protocol, .address, .port, .username, .password_set, .password] | join(" ")' | sed 's/ $/ null/')"
expect_eq "secret.key is mode 0600" 600 "$(stat -c %a "$DATA/secret.key")"
for bad in '{"action":"explode"}' '{"action":"off","boot":"network"}' '{"action":"on","boot":"floppy"}' '{"action":"on","when":"now"}'; do
	expect_eq "power refused: $bad" 400 "$(status_of "$(rec POST /api/v1/hosts/alpha/power "$bad")")"
done
expect_eq "power of an unknown host: 404" 404 "$(status_of "$(rec POST /api/v1/hosts/nosuch/power '{"action":"on"}')")"

# ---- actions ----
r=$(rec POST /api/v1/hosts/alpha/power '{"action":"on","boot":"network"}')
expect_eq "power on: 202 at once" 202 "$(status_of "$r")"
check "power on: done" wait_event alpha '^power on done \(asked by test\): power is on$'
expect_at_least "... and then it is" 1 "$(grep -c libfreeipmi "/proc/$ANEMOSD_PID/maps")"
expect_match "who asked is an event" 'power on, next boot network asked by test' "$(events_of alpha)"
expect_eq "the machine is on behind the BMC" 1 "$(cat "$WORK/bmc-A/power")"
expect_eq "the BMC got the one-time boot device" pxe "$(cat "$WORK/bmc-A/boot")"
expect_eq "the host's power state" on "$(host_field alpha .power.state)"
expect_match "... and when it was read" '^20[0-9-]+T[0-9:]+Z$' "$(host_field alpha .power.checked)"
expect_eq "the host list has it too" on "$(body_of "$(api GET /api/v1/hosts)" | jq -r '.hosts[] | select(.hostname == "alpha") | .power.state')"
rec POST /api/v1/hosts/alpha/power '{"action":"cycle","boot":"disk"}' >/dev/null
check "power cycle: accepted by the BMC" wait_event alpha '^power cycle accepted by the BMC \(asked by test\)$'
check "a cycle sets the boot device, powers off, then on" wait_chassis A 'set boot pxe .*set power 1 .*set boot default .*set power 0 .*set power 1 '

rec POST /api/v1/hosts/alpha/power '{"action":"off"}' >/dev/null
check "power off: done, power is off" wait_event alpha '^power off done .*power is off$'
expect_eq "the machine is off" 0 "$(cat "$WORK/bmc-A/power")"

# ---- a host's actions run one at a time, in the order they were asked ----
first=$(body_of "$(rec POST /api/v1/hosts/alpha/power '{"action":"on"}')" | jq -r .event)
rec POST /api/v1/hosts/alpha/power '{"action":"off"}' >/dev/null
rec POST /api/v1/hosts/alpha/power '{"action":"on"}' >/dev/null
rec POST /api/v1/hosts/alpha/power '{"action":"off"}' >/dev/null
check "four quick actions: four outcomes" wait_outcomes alpha "$first" 4
expect_eq "... in the order asked" "on:on off:off on:on off:off" \
	"$(outcomes_after alpha "$first" | sed -n 's/^power \([a-z]*\) done .*power is \([a-z]*\)$/\1:\2/p' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the machine ends as the last action left it" 0 "$(cat "$WORK/bmc-A/power")"

# ---- the poller sees what happens behind anemosd's back ----
mark=$(last_event alpha)
echo 1 >"$WORK/bmc-A/power"
check "the poller notices a machine powered on by hand" wait_outcome_match alpha "$mark" '^power is on \(was off\)$'
expect_eq "... and keeps its state" on "$(host_field alpha .power.state)"

# ---- the CLI ----
printf '%s\n' "$PW_B" >"$WORK/pw-b"
out=$("$ANEMOSCTL" host set bravo --bmc "ipmi://admin@127.0.0.1:$BMC_PORT_B" --bmc-password-file "$WORK/pw-b" 2>&1)
expect_match "host set --bmc" '^updated host' "$out"
expect_eq "... stored the address, port and user" "127.0.0.1 $BMC_PORT_B admin" "$(host_field bravo '.bmc | [.address, .port, .username] | join(" ")')"
out=$("$ANEMOSCTL" host power bravo on 2>&1); rc=$?
expect_eq "host power on: exit 0" 0 "$rc"
expect_match "... prints the BMC's answer" 'power on done \(asked by test\): power is on' "$out"
out=$("$ANEMOSCTL" host power bravo status 2>&1)
expect_match "host power status" 'power status done .*power is on' "$out"
out=$("$ANEMOSCTL" host show bravo 2>&1)
expect_match "host show: the BMC, without its password" "BMC: +ipmi://admin@127\\.0\\.0\\.1:$BMC_PORT_B \\(password set\\)" "$out"
expect_match "host show: the power state and when it was read" 'power: +on \(read 20[0-9-]+T[0-9:]+Z\)' "$out"
expect_match "host list: a POWER column" 'POWER' "$("$ANEMOSCTL" host list 2>&1 | head -n 1)"
api POST /api/v1/hosts '{"mac":"52:54:00:71:00:09","hostname":"nobmc"}' >/dev/null
out=$("$ANEMOSCTL" host reinstall nobmc --image nosuch 2>&1); rc=$?
expect_eq "host reinstall of a host without a BMC: exit 1" 1 "$rc"
expect_match "... says how to give it one" 'has no BMC: set one' "$out"
expect_eq "... and changed nothing" "discover false" "$(host_field nobmc '"\(.next_boot) \(.once)"')"
out=$("$ANEMOSCTL" host set bravo --bmc 'ipmi://127.0.0.1' 2>&1); rc=$?
expect_eq "host set --bmc without a user: usage error" 2 "$rc"

# ---- a wrong password, an unreachable BMC: clear events, states ----
rec PATCH /api/v1/hosts/wrong "$(bmc_json "$BMC_PORT_A" "$PW_WRONG")" >/dev/null
rec POST /api/v1/hosts/wrong/power '{"action":"on"}' >/dev/null
check "wrong password: a clear event" wait_event wrong '^power on failed \(asked by test\): BMC 127\.0\.0\.1:[0-9]+ refused: session: password invalid$'
expect_eq "... and the state refused" refused "$(host_field wrong .power.state)"
dead=$(free_port)
rec PATCH /api/v1/hosts/gone "$(bmc_json "$dead" "$PW_B")" >/dev/null
rec POST /api/v1/hosts/gone/power '{"action":"cycle"}' >/dev/null
check "unreachable BMC: a clear event" wait_event gone "^power cycle failed \\(asked by test\\): BMC 127\\.0\\.0\\.1:$dead unreachable: session: connection timeout\$"
expect_eq "... and the state unreachable" unreachable "$(host_field gone .power.state)"
checked=$(host_field gone .power.checked)
sleep 6   # two polls or more
again=$(host_field gone .power.checked)
if [ "$again" != "$checked" ] && [ "$again" != null ]; then ok "the poller asks the unreachable BMC again"
else fail "the poller asks the unreachable BMC again" "checked $checked, then $again"; fi
# The operator's cycle failing is one event; the poller's (same state) is at most one more: the
# first poll may come before the cycle's answer, but never again for the same state.
polls=$(event_count gone '^BMC .* unreachable')
if [ "$polls" -le 1 ] && [ "$(event_count gone '^power cycle failed.*unreachable')" -eq 1 ]; then
	ok "... and tells it once, not at every poll ($polls poll events)"
else
	fail "... and tells it once, not at every poll" "$polls poll events, $(event_count gone '^power cycle failed') of the cycle"
fi

# ---- Redfish: no Redfish service runs here; its HTTPS transport is tried against a real
# ---- HTTPS server that is no BMC (a second anemosd with a self-signed certificate) ----
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/rf.key" -out "$WORK/rf.pem" 2>/dev/null
	chmod 600 "$WORK/rf.key"
	RF_PORT=$(free_port)
	"$ANEMOSD" --listen "127.0.0.1:$(free_port)" --data "$WORK/rf-data" --listen-tls "127.0.0.1:$RF_PORT" \
		--tls-cert "$WORK/rf.pem" --tls-key "$WORK/rf.key" 2>>"$WORK/rf.log" &
	RF_PID=$!
	for _ in $(seq 1 100); do curl -ksS -m 1 "https://127.0.0.1:$RF_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
	rec PATCH /api/v1/hosts/gone "{\"bmc\":{\"protocol\":\"redfish\",\"address\":\"127.0.0.1\",\"port\":$RF_PORT,\"password\":\"$PW_B\"}}" >/dev/null
	expect_eq "redfish settings kept" "redfish $RF_PORT" "$(host_field gone '.bmc | "\(.protocol) \(.port)"')"
	mark=$(body_of "$(rec POST /api/v1/hosts/gone/power '{"action":"status"}')" | jq -r .event)
	check "redfish: a self-signed certificate is refused" wait_outcomes gone "$mark" 1
	expect_match "... with curl's reason" 'power status failed .*error: GET /redfish/v1/Systems: SSL peer certificate' "$(outcomes_after gone "$mark")"
	r=$(rec PATCH /api/v1/hosts/gone '{"bmc":{"address":"127.0.0.2"}}')
	expect_eq "a new BMC address without the password again: 400 (the kept one never goes elsewhere)" 400 "$(status_of "$r")"
	expect_match "... saying why" 'needs the password again' "$(body_of "$r" | jq -r .error)"
	expect_match "... and --bmc-insecure alone neither" 'needs the password again' \
		"$("$ANEMOSCTL" host set gone --bmc "redfish://admin@127.0.0.1:$RF_PORT" --bmc-insecure 2>&1)"
	expect_match "--bmc with a password in the URL is refused by anemosctl" 'takes no password in the URL' \
		"$("$ANEMOSCTL" host set gone --bmc "redfish://admin:secret@127.0.0.1:$RF_PORT" 2>&1)"
	"$ANEMOSCTL" host set gone --bmc "redfish://admin@127.0.0.1:$RF_PORT" --bmc-insecure --bmc-password-file "$WORK/pw-b" >/dev/null 2>&1
	expect_eq "host set --bmc redfish:// --bmc-insecure" "redfish true" "$(host_field gone '.bmc | "\(.protocol) \(.insecure)"')"
	mark=$(body_of "$(rec POST /api/v1/hosts/gone/power '{"action":"status"}')" | jq -r .event)
	check "redfish with insecure: the server's answer is read" wait_outcomes gone "$mark" 1
	expect_match "... and a server that is no Redfish BMC is a clear error" 'power status failed .*error: HTTP 40[0-9]' "$(outcomes_after gone "$mark")"
	kill "$RF_PID"; wait "$RF_PID" 2>/dev/null
else
	skip "redfish transport against an HTTPS server" "no openssl"
fi

# ---- a slow BMC holds one power worker, not the others ----
rec PATCH /api/v1/hosts/gone '{"bmc":null}' >/dev/null
expect_eq "bmc removed" null "$(host_field gone .bmc)"
echo 8 >"$WORK/bmc-B/slow"
rec POST /api/v1/hosts/bravo/power '{"action":"off"}' >/dev/null
sleep 0.2
rec POST /api/v1/hosts/alpha/power '{"action":"status"}' >/dev/null
check "another host's action goes on meanwhile" wait_event alpha '^power status done'
expect_eq "... while the slow BMC has not answered yet" 0 "$(event_count bravo '^power off (done|failed)')"
expect_eq "anemosd answers meanwhile" ok "$(curl -sS -m 5 "$ANEMOS_URL/healthz")"
check "slow BMC: a clear event within the timeout" wait_event bravo '^power off failed \(asked by test\): BMC 127\.0\.0\.1:[0-9]+ unreachable: .*timeout'
rm -f "$WORK/bmc-B/slow"
sleep 9   # ipmi_sim finishes the slow call it was stuck in

# ---- an action acknowledged before a kill -9 is carried out after the restart, with the
# ---- password the key file and the database keep together ----
echo 4 >"$WORK/bmc-B/slow"
asked=$(body_of "$(rec POST /api/v1/hosts/bravo/power '{"action":"on"}')" | jq -r .event)
anemosd_stop KILL
rm -f "$WORK/bmc-B/slow"
expect_eq "the acknowledged action is on record after kill -9" 1 "$(sqlite3 "$DATA/anemos.db" 'SELECT count(*) FROM power_requests')"
sleep 5   # ipmi_sim finishes the slow call the killed anemosd had begun
anemosd_start --bmc-timeout 2 --power-poll 0 || exit 1
check "... and carried out after the restart" wait_outcomes bravo "$asked" 1
expect_match "... with the stored password" '^power on done \(asked by test\): power is on$' "$(outcomes_after bravo "$asked")"
expect_eq "... and then off the record" 0 "$(sqlite3 "$DATA/anemos.db" 'SELECT count(*) FROM power_requests')"
cp "$DATA/anemos.db" "$WORK/copy.db"
anemosd_stop
mv "$DATA/secret.key" "$WORK/secret.key.away"
anemosd_start --bmc-timeout 2 --power-poll 0 || exit 1
rec POST /api/v1/hosts/alpha/power '{"action":"status"}' >/dev/null
check "without the key file, a clear event (a copy of the database alone opens nothing)" \
	wait_event alpha 'power status failed .*does not open with .*secret.key'
curl -sS "$ANEMOS_URL/metrics" >>"$ANSWERS" 2>/dev/null
anemosd_stop
mv "$WORK/secret.key.away" "$DATA/secret.key"

# ---- the passwords appear nowhere ----
for pw in "$PW_A" "$PW_B" "$PW_WRONG"; do
	expect_eq "password $pw in no API answer or event" 0 "$(grep -c -F -- "$pw" "$ANSWERS")"
	expect_eq "password $pw in no log line" 0 "$(grep -c -F -- "$pw" "$WORK/anemosd.log")"
	expect_eq "password $pw not in the database files" 0 "$(cat "$DATA"/anemos.db* "$WORK/copy.db" | grep -c -a -F -- "$pw")"
done
expect_eq "the database holds them sealed" 3 "$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM hosts WHERE bmc LIKE '%\"password_sealed\":\"v1:%'")"
exit "$_failures"

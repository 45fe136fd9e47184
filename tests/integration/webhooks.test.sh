#!/usr/bin/env bash
# cost: 90
# Webhooks against real receivers on loopback (tests/lib/webhook-receiver.py, Python's
# http.server): an event arrives as JSON with a valid HMAC-SHA256 signature under the secret
# printed once at creation; the events filter holds; a receiver that is down makes visible,
# backed-off failures and then gets every event, in order; a receiver that hangs neither
# blocks the API nor stalls another webhook; events survive a kill -9 of anemosd (and a ping
# it cut short is marked failed); a delivery is given up after --webhook-attempts; the secret
# is in no answer, log line or database file; only admin tokens manage webhooks.
source "$(dirname "$0")/lib.sh"
PY=$(python3 -c 'import sys; print(sys.executable)')
RECEIVER=$ROOT/tests/lib/webhook-receiver.py
ANSWERS=$WORK/answers   # every API answer and CLI output but add's, grepped for the secrets
rec() { local r; r=$(api "$@"); printf '%s\n' "$r" >>"$ANSWERS"; printf '%s\n' "$r"; }
declare -A RPID RPORT

# receiver_start NAME: starts receiver NAME (again on its old port when it had one) in
# $WORK/recv-NAME/ (log: every request answered 2xx; log.attempts: every request).
receiver_start() {
	local d=$WORK/recv-$1
	mkdir -p "$d"
	[ -f "$d/mode" ] || echo ok >"$d/mode"
	rm -f "$d/port"
	RECEIVER_PORT=${RPORT[$1]:-0} "$PY" "$RECEIVER" "$d/port" "$d/log" "$d/mode" 2>>"$d/stderr" &
	RPID[$1]=$!
	for _ in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	RPORT[$1]=$(cat "$d/port" 2>/dev/null)
	[ -n "${RPORT[$1]}" ]
}
receiver_stop() { kill "${RPID[$1]}" 2>/dev/null; wait "${RPID[$1]}" 2>/dev/null; RPID[$1]=""; }
receiver_mode() { echo "$2" >"$WORK/recv-$1/mode"; }
cleanup_receivers() { for n in "${!RPID[@]}"; do [ -n "${RPID[$n]}" ] && receiver_stop "$n"; done; _cleanup; }
trap cleanup_receivers EXIT
# delivered NAME: the event ids receiver NAME accepted, in order, one a line.
delivered() { jq -r '.body | fromjson | select(.type == "event") | .event.id' "$WORK/recv-$1/log" 2>/dev/null; }
# wait_delivered NAME EVENT_ID: waits (bounded, 60 s) until NAME accepted that event.
wait_delivered() {
	for _ in $(seq 1 240); do delivered "$1" | grep -qx "$2" && return 0; sleep 0.25; done
	return 1
}
# deliveries HOOK: the webhook's deliveries (newest first) as JSON.
deliveries() { body_of "$(rec GET "/api/v1/webhooks/$1/deliveries?limit=100")"; }
# wait_attempts HOOK EVENT_ID N: waits (bounded, 60 s) until that event's delivery was tried N times.
wait_attempts() {
	for _ in $(seq 1 240); do
		[ "$(deliveries "$1" | jq --argjson e "$2" '[.deliveries[] | select(.event_id == $e) | .attempts] | max // 0')" -ge "$3" ] &&
			return 0
		sleep 0.25
	done
	return 1
}
# change REF: an operator's change of host REF (a "changed" event); prints the event's id.
N=0
change() {
	N=$((N + 1))
	api PATCH "/api/v1/hosts/$1" '{"attributes":{"seq":"'"$N"'"}}' >/dev/null
	body_of "$(api GET "/api/v1/hosts/$1/events?limit=1")" | jq -r '.events[-1].id'
}

receiver_start a || { fail "receiver a starts"; exit 1; }
receiver_start b || { fail "receiver b starts"; exit 1; }
anemosd_start --webhook-timeout 3 --webhook-attempts 30 || exit 1
api POST /api/v1/hosts '{"mac":"52:54:00:aa:00:01","hostname":"web1"}' >/dev/null

# ---- validation: a clear 400 (413 for an oversized body), and nothing created ----
while read -r why body; do
	expect_eq "POST /api/v1/webhooks: $why is 400" 400 "$(status_of "$(rec POST /api/v1/webhooks "$body")")"
done <<EOF_BAD
no-url {"events":"*"}
ftp-url {"url":"ftp://127.0.0.1/x"}
no-scheme {"url":"127.0.0.1:${RPORT[a]}/x"}
credentials-in-url {"url":"http://user:pw@127.0.0.1:${RPORT[a]}/x"}
space-in-url {"url":"http://127.0.0.1:${RPORT[a]}/a b"}
unknown-key {"url":"http://127.0.0.1:${RPORT[a]}/x","colour":"red"}
unknown-event-kind {"url":"http://127.0.0.1:${RPORT[a]}/x","events":"deployed,bogus"}
empty-events {"url":"http://127.0.0.1:${RPORT[a]}/x","events":[]}
short-secret {"url":"http://127.0.0.1:${RPORT[a]}/x","secret":"short"}
enabled-not-boolean {"url":"http://127.0.0.1:${RPORT[a]}/x","enabled":"yes"}
EOF_BAD
expect_match "... the message names what is wrong" "not an event kind" \
	"$(body_of "$(rec POST /api/v1/webhooks '{"url":"http://127.0.0.1:1/x","events":"deployed,bogus"}')" | jq -r .error)"
big=$(head -c 1200000 /dev/zero | tr '\0' a)
expect_eq "an oversized body is 413" 413 "$(status_of "$(rec POST /api/v1/webhooks '{"url":"http://127.0.0.1:1/'"$big"'"}')")"
expect_eq "... and no webhook was made" 0 "$(body_of "$(rec GET /api/v1/webhooks)" | jq '.webhooks | length')"

# ---- roles: only admin tokens see or change webhooks ----
VIEW=$("$ANEMOSD" token create --data "$DATA" --name auditor --role viewer)
OPER=$("$ANEMOSD" token create --data "$DATA" --name alice --role operator)
for who in viewer operator; do
	tok=$VIEW
	[ "$who" = operator ] && tok=$OPER
	while read -r m p b; do
		expect_eq "$who token: $m $p is 403" 403 "$(status_of "$(bearer_request "$tok" "$m" "$p" "$b")")"
	done <<EOF_MUT
POST /api/v1/webhooks {"url":"http://127.0.0.1:${RPORT[a]}/x"}
GET /api/v1/webhooks
PATCH /api/v1/webhooks/1 {"enabled":false}
DELETE /api/v1/webhooks/1
POST /api/v1/webhooks/1/test
EOF_MUT
done
expect_eq "... and none was made" 0 "$(sqlite3 "$DATA/anemos.db" 'SELECT count(*) FROM webhooks')"

# ---- add (CLI): the secret printed once; a delivery is JSON, signed, with its ids ----
out=$("$ANEMOSCTL" webhook add "http://127.0.0.1:${RPORT[a]}/hook?x=1" --events enrolled,changed)
expect_match "webhook add prints the new webhook" "^added webhook 1: http://127.0.0.1:${RPORT[a]}/hook" "$out"
SECRET_A=$(printf '%s\n' "$out" | tail -n 1)
expect_match "... and the secret anemosd made (64 hex digits)" '^[0-9a-f]{64}$' "$SECRET_A"
expect_eq "GET /api/v1/webhooks/1 has no secret" "null" "$(body_of "$(rec GET /api/v1/webhooks/1)" | jq -r .secret)"
ev=$(change web1)
check "the change event reaches receiver a" wait_delivered a "$ev"
line=$(jq -c --argjson e "$ev" 'select((.body | fromjson).event.id == $e)' "$WORK/recv-a/log" | head -n 1)
expect_eq "the body is the event as JSON" "change web1 operator" \
	"$(jq -r '.body | fromjson | "\(.event.phase) \(.event.host.hostname) \(.event.source)"' <<<"$line")"
expect_eq "X-Anemos-Event is the event's id" "$ev" "$(jq -r '.headers["X-Anemos-Event"]' <<<"$line")"
expect_match "X-Anemos-Delivery is the delivery's id" '^[0-9]+$' "$(jq -r '.headers["X-Anemos-Delivery"]' <<<"$line")"
expect_eq "Content-Type is JSON" "application/json" "$(jq -r '.headers["Content-Type"]' <<<"$line")"
verify_signature() { # LINE SECRET: "valid" when X-Anemos-Signature is the HMAC of the body under SECRET
	SECRET=$2 "$PY" -c '
import hashlib, hmac, json, os, sys
r = json.loads(sys.argv[1])
want = "sha256=" + hmac.new(os.environ["SECRET"].encode(), r["body"].encode(), hashlib.sha256).hexdigest()
print("valid" if hmac.compare_digest(want, r["headers"]["X-Anemos-Signature"]) else "invalid")' "$1"
}
expect_eq "X-Anemos-Signature is HMAC-SHA256(secret, body)" valid "$(verify_signature "$line" "$SECRET_A")"
other=${SECRET_A%?}0; [ "$other" = "$SECRET_A" ] && other=${SECRET_A%?}1
expect_eq "... and not under another secret" invalid "$(verify_signature "$line" "$other")"

# ---- the events filter: a boot event is not delivered, the change after it is ----
curl -sS -m 10 "$ANEMOS_URL/ipxe?mac=52:54:00:aa:00:01&platform=pcbios" >/dev/null
boot_ev=$(body_of "$(api GET "/api/v1/hosts/web1/events?limit=1")" | jq -r '.events[-1] | select(.phase == "boot") | .id')
expect_match "a boot event was recorded" '^[0-9]+$' "$boot_ev"
ev2=$(change web1)
check "the change after it is delivered" wait_delivered a "$ev2"
expect_eq "... the boot event was not (the filter is enrolled,changed)" "" "$(delivered a | grep -x "$boot_ev")"
api PATCH /api/v1/webhooks/1 '{"events":["boot"]}' >/dev/null
curl -sS -m 10 "$ANEMOS_URL/ipxe?mac=52:54:00:aa:00:01&platform=pcbios" >/dev/null
boot_ev2=$(body_of "$(api GET "/api/v1/hosts/web1/events?limit=1")" | jq -r '.events[-1].id')
check "after PATCH events [boot], a boot event is delivered" wait_delivered a "$boot_ev2"
rec PATCH /api/v1/webhooks/1 '{"events":"enrolled,changed"}' >/dev/null

# ---- a receiver that is down: failures visible, backed off, then every event in order ----
receiver_stop a
DOWN=()
for _ in 1 2 3; do DOWN+=("$(change web1)"); done
check "the first undelivered event is tried again and again" wait_attempts 1 "${DOWN[0]}" 3
d=$(deliveries 1 | jq -c --argjson e "${DOWN[0]}" '.deliveries[] | select(.event_id == $e)')
expect_eq "... it is pending" pending "$(jq -r .status <<<"$d")"
expect_match "... with the reason it failed" "[Cc]onnect|refused" "$(jq -r .last_error <<<"$d")"
expect_eq "... the next attempt backs off 2^(attempts-1) s" ok \
	"$(jq -r '((.next_attempt | fromdateiso8601) - (.updated | fromdateiso8601)) as $w
		| (pow(2; .attempts - 1)) as $b | if $w == $b or $w == $b - 1 then "ok" else "waits \($w) s after \(.attempts) attempts" end' <<<"$d")"
expect_eq "... the later events wait behind it (one at a time, in order)" 0 \
	"$(deliveries 1 | jq --argjson e "${DOWN[1]}" '[.deliveries[] | select(.event_id >= $e)] | length')"
list=$("$ANEMOSCTL" webhook list | tee -a "$ANSWERS")
expect_match "webhook list: an aligned table" '^ID +URL +EVENTS +LAST +FAILING SINCE +LAST ERROR' "$list"
expect_match "... webhook 1's last delivery: retry, failing since a time" \
	"^1 +http://127.0.0.1:${RPORT[a]}/hook\?x=1 +enrolled,changed +retry [0-9T:Z-]+ +20[0-9T:Z-]+ +.*onnect" "$list"
show=$("$ANEMOSCTL" webhook show 1 | tee -a "$ANSWERS")
expect_match "webhook show: the pending delivery with its attempts and error" \
	"${DOWN[0]} +pending \(next [0-9T:Z-]+\) +[0-9]+ +- .*onnect" "$show"
expect_match "/metrics counts the retries" 'anemos_webhook_deliveries_total\{result="retry"\} [1-9]' \
	"$(curl -sS -m 10 "$ANEMOS_URL/metrics")"
expect_eq "API requests answer meanwhile" 200 "$(status_of "$(api GET /api/v1/hosts/web1)")"
receiver_start a || fail "receiver a starts again"
check "once it is back, the last of them arrives" wait_delivered a "${DOWN[2]}"
expect_eq "... all of them, in order, each once" "${DOWN[*]}" \
	"$(delivered a | grep -xE "$(IFS='|'; echo "${DOWN[*]}")" | paste -sd' ')"
expect_eq "... the webhook is no longer failing" "ok null" \
	"$(body_of "$(rec GET /api/v1/webhooks/1)" | jq -r '"\(.last_result) \(.failing_since)"')"

# ---- a receiver that hangs blocks neither the API nor another webhook ----
printf '%s\n' 'secret-of-webhook-b-1234567890' >"$WORK/secret-b"
out=$("$ANEMOSCTL" webhook add "http://127.0.0.1:${RPORT[b]}/b" --events '*' --secret-file "$WORK/secret-b")
expect_match "webhook add --secret-file" "^added webhook 2: " "$out"
expect_no_match "... prints no secret" "secret" "$out"
complete_words() { # WORDS...: what bash completion (deploy/completion/anemosctl) offers for the last word
	bash -c 'source "$1/deploy/completion/anemosctl"; PATH=$2:$PATH; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _anemosctl; echo "${COMPREPLY[*]}"' \
		_ "$ROOT" "$BUILD" "$@"
}
expect_eq "completion: webhook's verbs" "add list show rm test" "$(complete_words anemosctl webhook '')"
expect_eq "completion: webhook ids from anemosd" "1 2" "$(complete_words anemosctl webhook show '')"
expect_eq "completion: --events kinds after a comma" "deployed,failed" \
	"$(complete_words anemosctl webhook add http://x --events deployed,fa)"
expect_match "completion: webhook add's options" "--secret-file" "$(complete_words anemosctl webhook add http://x --se)"
receiver_mode b hang
ev=$(change web1)
for _ in $(seq 1 80); do grep -q '"mode": "hang"' "$WORK/recv-b/log.attempts" 2>/dev/null && break; sleep 0.25; done
check "receiver b got the event and hangs" grep -q '"mode": "hang"' "$WORK/recv-b/log.attempts"
expect_eq "while it hangs, an API mutation answers" 200 \
	"$(status_of "$(api PATCH /api/v1/hosts/web1 '{"attributes":{"during":"hang"}}')")"
ev_during=$(body_of "$(api GET "/api/v1/hosts/web1/events?limit=1")" | jq -r '.events[-1].id')
check "... and webhook a still gets its events" wait_delivered a "$ev_during"
expect_eq "... while b has not had the first one accepted" "" "$(delivered b)"
check "... b's delivery fails on the timeout and is tried again" wait_attempts 2 "$ev" 1
expect_match "... the timeout is its error" "[Tt]imeout|timed out" \
	"$(deliveries 2 | jq -r --argjson e "$ev" '.deliveries[] | select(.event_id == $e) | .last_error')"
receiver_mode b ok
check "receiver b gets the event after its timeout and a retry" wait_delivered b "$ev"
check "... and the one after it" wait_delivered b "$ev_during"
line=$(head -n 1 "$WORK/recv-b/log")
expect_eq "b's deliveries are signed with the secret from --secret-file" valid \
	"$(verify_signature "$line" 'secret-of-webhook-b-1234567890')"

# ---- webhook test: a ping now, ok or not ----
out=$("$ANEMOSCTL" webhook test 1)
expect_match "webhook test delivers a ping" "^ping delivered to webhook 1 \(HTTP 204\)" "$out"
expect_eq "... signed, of type ping" "valid ping" \
	"$(l=$(tail -n 1 "$WORK/recv-a/log"); echo "$(verify_signature "$l" "$SECRET_A") $(jq -r '.body | fromjson | .type' <<<"$l")")"
receiver_mode a 500
out=$("$ANEMOSCTL" webhook test 1 2>&1); rc=$?
expect_eq "a failed ping exits 1" 1 "$rc"
expect_match "... saying what the receiver answered" "HTTP 500: receiver sad" "$out"
receiver_mode a ok
for cmd in show rm test; do
	out=$("$ANEMOSCTL" webhook "$cmd" one 2>&1); rc=$?
	expect_eq "webhook $cmd one: a ref that is not a number is a usage error (exit 2) with its usage line" \
		"2 anemosctl: 'one' is not a webhook id (anemosctl webhook list shows them)|usage: anemosctl webhook $cmd ID" \
		"$rc $(head -n 2 <<<"$out" | paste -sd'|')"
done

# ---- kill -9 with undelivered events: delivered after the restart ----
receiver_stop a
KILLED=()
for _ in 1 2; do KILLED+=("$(change web1)"); done
check "the first is pending when anemosd is killed" wait_attempts 1 "${KILLED[0]}" 1
# ... while a ping to webhook 2 hangs in its receiver
receiver_mode b hang
pings=$(grep -c '"body": "{\\"type\\":\\"ping' "$WORK/recv-b/log.attempts")
"$ANEMOSCTL" webhook test 2 >/dev/null 2>&1 &
ping_pid=$!
for _ in $(seq 1 80); do
	[ "$(grep -c '"body": "{\\"type\\":\\"ping' "$WORK/recv-b/log.attempts")" -gt "$pings" ] && break
	sleep 0.25
done
anemosd_stop KILL
wait "$ping_pid"
receiver_start a || fail "receiver a starts again"
anemosd_start --webhook-timeout 3 --webhook-attempts 2 || exit 1
check "after the restart the pending event arrives" wait_delivered a "${KILLED[0]}"
check "... and the one not yet taken" wait_delivered a "${KILLED[1]}"
expect_eq "the ping cut short by the kill is failed, saying why" "failed anemosd stopped while it was being sent" \
	"$(deliveries 2 | jq -r '[.deliveries[] | select(.kind == "ping")][0] | "\(.status) \(.last_error)"')"
receiver_mode b ok
"$ANEMOSCTL" webhook rm 2 >/dev/null
expect_eq "webhook rm: it is gone" 404 "$(status_of "$(rec GET /api/v1/webhooks/2)")"
expect_eq "... with its deliveries" 0 "$(sqlite3 "$DATA/anemos.db" 'SELECT count(*) FROM webhook_deliveries WHERE webhook_id = 2')"

# ---- given up after --webhook-attempts: marked failed, the next event goes on ----
receiver_mode a 500
ev=$(change web1)
for _ in $(seq 1 120); do
	[ "$(deliveries 1 | jq -r --argjson e "$ev" '.deliveries[] | select(.event_id == $e) | .status')" = failed ] && break
	sleep 0.25
done
d=$(deliveries 1 | jq -c --argjson e "$ev" '.deliveries[] | select(.event_id == $e)')
expect_eq "after 2 attempts the delivery is failed" "failed 2 500" "$(jq -r '"\(.status) \(.attempts) \(.last_status)"' <<<"$d")"
expect_eq "... the webhook says so" "failed" "$(body_of "$(rec GET /api/v1/webhooks/1)" | jq -r .last_result)"
expect_match "... and /metrics" 'anemos_webhook_deliveries_total\{result="failed"\} [1-9]' "$(curl -sS -m 10 "$ANEMOS_URL/metrics")"
expect_match "... and the log" "webhook 1: delivery [0-9]+ \(event $ev\) given up after 2 attempts" "$(cat "$WORK/anemosd.log")"
receiver_mode a ok
ev_next=$(change web1)
check "the next event is delivered" wait_delivered a "$ev_next"
rec PATCH /api/v1/webhooks/1 '{"enabled":false}' >/dev/null
ev_paused=$(change web1)
sleep 1.5
expect_eq "a disabled webhook sends nothing" "" "$(delivered a | grep -x "$ev_paused")"
rec PATCH /api/v1/webhooks/1 '{"enabled":true}' >/dev/null
check "... and sends what waited once enabled again" wait_delivered a "$ev_paused"

# ---- the secrets are nowhere in clear ----
anemosd_stop
expect_eq "the database holds webhook 1's secret sealed" 1 \
	"$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM webhooks WHERE id = 1 AND secret LIKE 'v1:%'")"
for f in "$ANSWERS" "$WORK/anemosd.log" "$DATA"/anemos.db*; do
	expect_eq "secret of webhook 1 not in $(basename "$f")" 0 "$(grep -c -a -F "$SECRET_A" "$f")"
	expect_eq "secret of webhook 2 not in $(basename "$f")" 0 "$(grep -c -a -F 'secret-of-webhook-b-1234567890' "$f")"
done

[ "$_failures" -eq 0 ]

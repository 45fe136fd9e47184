#!/usr/bin/env bash
# The Server-Sent Events stream the dashboard listens to: host changes arrive as they
# happen, streams hold no worker thread, and they need the admin token.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1

# stream SECONDS FILE: listens to the stream for SECONDS in the background.
stream() { timeout "$1" curl -sS -N -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$ANEMOS_URL/api/v1/events/stream" >"$2" 2>/dev/null & }

stream 4 "$WORK/s1"; s1=$!
pids=""
for i in 2 3 4 5 6 7 8 9; do stream 4 "$WORK/s$i"; pids="$pids $!"; done
sleep 0.5
expect_eq "9 open streams (more than the 4 workers): anemosd still answers" ok "$(curl -sS -m 2 "$ANEMOS_URL/healthz")"
ipxe 52:54:00:50:00:01 pcbios >/dev/null                                   # a new host
id=$(host_field 52:54:00:50:00:01 .id)
api POST /api/v1/hosts '{"mac":"52:54:00:50:00:02"}' >/dev/null               # an enrolment
id2=$(host_field 52:54:00:50:00:02 .id)
api PATCH "/api/v1/hosts/$id" '{"next_boot":"none"}' >/dev/null              # a change
wait $s1 $pids
out=$(cat "$WORK/s1")
expect_match "stream starts with a retry hint" '^retry: 3000' "$out"
expect_match "a new host is announced" "event: host
data: \\{\"id\":$id\\}" "$out"
expect_match "an enrolment is announced" "data: \\{\"id\":$id2\\}" "$out"
told=0; for i in 2 3 4 5 6 7 8 9; do grep -q "\"id\":$id2" "$WORK/s$i" && told=$((told + 1)); done
expect_eq "every open stream hears it" 8 "$told"
expect_match "content type" 'text/event-stream' "$(timeout 2 curl -sS -N -D - -o /dev/null -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$ANEMOS_URL/api/v1/events/stream")"
expect_eq "stream without a token: 401" 401 "$(curl -sS -m 3 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/api/v1/events/stream")"
T=$(agent_token_of "$(ipxe 52:54:00:50:00:03 pcbios)")
expect_eq "stream with an agent token: 403" 403 "$(status_of "$(agent GET /api/v1/events/stream "$T")")"
stream 30 "$WORK/s10"; s10=$!
sleep 0.5
anemosd_stop
wait $s10
ok "anemosd stops cleanly with a stream open"

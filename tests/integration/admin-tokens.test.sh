#!/usr/bin/env bash
# cost: 2
# Admin tokens are named, listable, expire when asked to and can be revoked, from the data
# folder (anemosd token create|list|revoke) and through the API; a revoked token's event
# stream ends at once.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1

OPS=$("$ANEMOSD" token create --data "$DATA" --name ops)
expect_match "token create --name prints the token alone" '^anemos_admin_[0-9a-f]{64}$' "$OPS"
expect_eq "... and it works" 200 "$(status_of "$(bearer_request "$OPS" GET /api/v1/hosts)")"
SHORT=$("$ANEMOSD" token create --data "$DATA" --name short --expires 2s)
expect_eq "a token with --expires works at first" 200 "$(status_of "$(bearer_request "$SHORT" GET /api/v1/hosts)")"
l=$("$ANEMOSD" token list --data "$DATA")
expect_match "token list names each token, when made and until when" '^[0-9]+ +ops +created [0-9T:-]+Z +expires never$' "$(grep ' ops ' <<<"$l")"
expect_match "... with the expiry it was given" ' short +created .* expires [0-9T:-]+Z$' "$l"
expect_no_match "... and never a token's text or hash" 'anemos_admin_|[0-9a-f]{64}' "$l"
expect_eq "a bad lifetime is refused" 1 "$("$ANEMOSD" token create --data "$DATA" --expires soon >/dev/null 2>&1; echo $?)"
expect_eq "a bad name is refused" 1 "$("$ANEMOSD" token create --data "$DATA" --name 'a b' >/dev/null 2>&1; echo $?)"

# Through the API.
r=$(api POST /api/v1/tokens '{"name":"ci","expires_in":3600}')
expect_eq "POST /api/v1/tokens: 201" 201 "$(status_of "$r")"
CI=$(body_of "$r" | jq -r .token)
CI_ID=$(body_of "$r" | jq -r .id)
expect_eq "... the new token works" 200 "$(status_of "$(bearer_request "$CI" GET /api/v1/images)")"
r=$(api GET /api/v1/tokens)
expect_eq "GET /api/v1/tokens lists them all, by name" "ci ops short test" "$(body_of "$r" | jq -r '[.tokens[].name]|sort|join(" ")')"
expect_no_match "... never their text" 'anemos_admin_' "$(body_of "$r")"
expect_eq "... and says which one is the caller's" "$(body_of "$r" | jq '[.tokens[]|select(.name == "test")][0].id')" "$(body_of "$r" | jq .yours)"
expect_eq "a token with an unknown field is refused" 400 "$(status_of "$(api POST /api/v1/tokens '{"name":"x","admin":true}')")"
expect_eq "an agent token cannot list tokens" 403 "$(status_of "$(bearer_request "anemos_agent_$(printf '%064d' 1)" GET /api/v1/tokens)")"

# The dashboard's live stream of the token being revoked ends, at once.
curl -sS -N -m 20 -H "Authorization: Bearer $CI" "$ANEMOS_URL/api/v1/events/stream" >"$WORK/stream.out" 2>/dev/null &
STREAM=$!
sleep 0.5
t0=$(date +%s.%N)
expect_eq "DELETE /api/v1/tokens/ID: 204" 204 "$(status_of "$(api DELETE "/api/v1/tokens/$CI_ID")")"
for _ in $(seq 1 50); do kill -0 "$STREAM" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$STREAM" 2>/dev/null; then
	fail "the revoked token's event stream ends" "still open after 5 s"
	kill "$STREAM"
else
	ok "the revoked token's event stream ends ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the revocation)"
fi
wait "$STREAM" 2>/dev/null
expect_eq "the revoked token is refused: 401" 401 "$(status_of "$(bearer_request "$CI" GET /api/v1/images)")"
expect_match "... saying so" 'revoked' "$(body_of "$(bearer_request "$CI" GET /api/v1/images)")"
expect_eq "revoking it again: 404" 404 "$(status_of "$(api DELETE "/api/v1/tokens/$CI_ID")")"

# Revoking from the data folder, by name.
"$ANEMOSD" token create --data "$DATA" --name twin >/dev/null
"$ANEMOSD" token create --data "$DATA" --name twin >/dev/null
out=$("$ANEMOSD" token revoke --data "$DATA" twin 2>&1); rc=$?
expect_eq "revoke by a name two tokens share is refused" 1 "$rc"
expect_match "... listing their ids" "2 admin tokens are named 'twin' \(ids [0-9]+, [0-9]+\)" "$out"
expect_eq "token revoke NAME" revoked "$("$ANEMOSD" token revoke --data "$DATA" ops)"
expect_eq "... the running anemosd refuses it at once" 401 "$(status_of "$(bearer_request "$OPS" GET /api/v1/hosts)")"
sleep 2.2
expect_eq "the --expires 2s token has expired" 401 "$(status_of "$(bearer_request "$SHORT" GET /api/v1/hosts)")"
expect_eq "the test's own token still works" 200 "$(status_of "$(api GET /api/v1/hosts)")"
anemosd_stop

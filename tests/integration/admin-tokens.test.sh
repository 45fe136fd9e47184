#!/usr/bin/env bash
# cost: 2
# Admin tokens are named, listable, expire when asked to and can be revoked, from the data
# folder (anemosd token create|list|revoke) and through the API; a revoked token's event
# stream ends at once. Roles: a viewer token reads and changes nothing (every mutating endpoint
# tried), an operator's changes hosts and images, not tokens; events name the token.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1

OPS=$("$ANEMOSD" token create --data "$DATA" --name ops)
expect_match "token create --name prints the token alone" '^anemos_admin_[0-9a-f]{64}$' "$OPS"
expect_eq "... and it works" 200 "$(status_of "$(bearer_request "$OPS" GET /api/v1/hosts)")"
SHORT=$("$ANEMOSD" token create --data "$DATA" --name short --expires 2s)
expect_eq "a token with --expires works at first" 200 "$(status_of "$(bearer_request "$SHORT" GET /api/v1/hosts)")"
l=$("$ANEMOSD" token list --data "$DATA")
expect_match "token list names each token, when made and until when" '^[0-9]+ +ops +admin +created [0-9T:-]+Z +expires never$' "$(grep ' ops ' <<<"$l")"
expect_match "... with the expiry it was given" ' short +admin +created .* expires [0-9T:-]+Z$' "$l"
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
for _ in $(seq 1 17); do "$ANEMOSD" token create --data "$DATA" --name many >/dev/null; done
out=$("$ANEMOSD" token revoke --data "$DATA" many 2>&1)
expect_match "... counting all of them past the 16 it lists" "17 admin tokens are named 'many'" "$out"
expect_eq "token revoke NAME" revoked "$("$ANEMOSD" token revoke --data "$DATA" ops)"
expect_eq "... the running anemosd refuses it at once" 401 "$(status_of "$(bearer_request "$OPS" GET /api/v1/hosts)")"
sleep 2.2
expect_eq "the --expires 2s token has expired" 401 "$(status_of "$(bearer_request "$SHORT" GET /api/v1/hosts)")"
expect_eq "the test's own token still works" 200 "$(status_of "$(api GET /api/v1/hosts)")"

# ---- roles: viewer reads, operator changes hosts and images, admin manages tokens ----
VIEW=$("$ANEMOSD" token create --data "$DATA" --name auditor --role viewer)
OPER=$("$ANEMOSD" token create --data "$DATA" --name alice --role operator)
expect_eq "a bad role is refused" 1 "$("$ANEMOSD" token create --data "$DATA" --role root >/dev/null 2>&1; echo $?)"
expect_match "token list shows each role" ' auditor +viewer +created' "$("$ANEMOSD" token list --data "$DATA")"
api POST /api/v1/hosts '{"mac":"52:54:00:77:00:01","hostname":"r1"}' >/dev/null
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"keep","url":"http://192.0.2.10/k.tar.zst","sha256":"'"$Z"'"}' >/dev/null
for read in /api/v1/hosts /api/v1/hosts/r1 /api/v1/hosts/r1/events /api/v1/images /api/v1/meta /api/v1/searches; do
	expect_eq "viewer: GET $read" 200 "$(status_of "$(bearer_request "$VIEW" GET "$read")")"
done
expect_eq "viewer: GET /api/v1/meta says who it is" "auditor viewer" \
	"$(body_of "$(bearer_request "$VIEW" GET /api/v1/meta)" | jq -r '"\(.you.name) \(.you.role)"')"
before=$(sqlite3 "$DATA/anemos.db" 'SELECT count(*), max(updated) FROM hosts; SELECT count(*) FROM images; SELECT count(*) FROM admin_tokens' | paste -sd' ')
while read -r m p b; do
	r=$(bearer_request "$VIEW" "$m" "$p" "$b")
	expect_eq "viewer: $m $p is 403" 403 "$(status_of "$r")"
done <<'EOF_MUTATIONS'
POST /api/v1/hosts {"mac":"52:54:00:77:00:02"}
PATCH /api/v1/hosts/r1 {"hostname":"r2"}
DELETE /api/v1/hosts/r1
POST /api/v1/hosts/r1/kexec {"mode":"rescue"}
POST /api/v1/hosts/r1/kexec/cancel {}
POST /api/v1/inventory {"nics":[]}
POST /api/v1/images {"name":"x","url":"http://192.0.2.10/x.tar.zst","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}
DELETE /api/v1/images/keep
POST /api/v1/tokens {"name":"mine"}
DELETE /api/v1/tokens/ops
POST /api/v1/hosts/r1/power {"action":"status"}
PUT /api/v1/searches/mine {"query":"tag:db"}
DELETE /api/v1/searches/mine
EOF_MUTATIONS
expect_match "... naming the role it has and the one it needs" "role is viewer; PATCH /api/v1/hosts/\* needs operator" \
	"$(body_of "$(bearer_request "$VIEW" PATCH /api/v1/hosts/r1 '{"hostname":"r2"}')" | jq -r .error)"
expect_eq "viewer: a PUT upload is 403 too" 403 "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X PUT -H @<(printf 'Authorization: Bearer %s\n' "$VIEW") --data-binary x "$ANEMOS_URL/api/v1/images/up.tar")"
expect_eq "... and nothing changed" "$before" \
	"$(sqlite3 "$DATA/anemos.db" 'SELECT count(*), max(updated) FROM hosts; SELECT count(*) FROM images; SELECT count(*) FROM admin_tokens' | paste -sd' ')"
r=$(bearer_request "$OPER" PATCH /api/v1/hosts/r1 '{"tags":["rack-1"]}')
expect_eq "operator: PATCH a host" 200 "$(status_of "$r")"
expect_eq "... its event names the token" alice "$(body_of "$(api GET /api/v1/hosts/r1/events)" | jq -r '.events[-1].actor')"
expect_eq "operator: add an image" 201 "$(status_of "$(bearer_request "$OPER" POST /api/v1/images '{"name":"op","url":"http://192.0.2.10/o.tar.zst","sha256":"'"$Z"'"}')")"
expect_eq "operator: no tokens (list)" 403 "$(status_of "$(bearer_request "$OPER" GET /api/v1/tokens)")"
expect_eq "operator: no tokens (create)" 403 "$(status_of "$(bearer_request "$OPER" POST /api/v1/tokens '{"name":"more"}')")"
r=$(api POST /api/v1/tokens '{"name":"bot","role":"operator"}')
expect_eq "admin: POST /api/v1/tokens with a role" "201 operator" "$(status_of "$r") $(body_of "$r" | jq -r .role)"
expect_eq "... which can change hosts" 200 "$(status_of "$(bearer_request "$(body_of "$r" | jq -r .token)" PATCH /api/v1/hosts/r1 '{"tags":[]}')")"
expect_eq "a bad role through the API: 400" 400 "$(status_of "$(api POST /api/v1/tokens '{"name":"x","role":"god"}')")"
expect_eq "GET /api/v1/tokens lists roles" "alice:operator auditor:viewer" \
	"$(body_of "$(api GET /api/v1/tokens)" | jq -r '[.tokens[]|select(.name=="alice" or .name=="auditor")|"\(.name):\(.role)"]|sort|join(" ")')"
export ANEMOS_URL
out=$(ANEMOS_TOKEN=$VIEW "$ANEMOSCTL" host history r1 2>&1)
expect_match "anemosctl host history: when, who and what, old → new" \
	'^[0-9-]{10} [0-9:]{8}  alice +changed tags \+rack-1$' "$(grep alice <<<"$out")"
expect_match "... the enrolment by the test's token" '^[0-9-]{10} [0-9:]{8}  test +enrolled with MAC 52:54:00:77:00:01' "$out"
expect_match "... and the bot's change" ' bot +changed tags -rack-1$' "$out"
out=$(ANEMOS_TOKEN=$VIEW "$ANEMOSCTL" host set r1 --tag x 2>&1)
expect_match "anemosctl with a viewer token says why it is refused" "role is viewer; PATCH .* needs operator" "$out"
anemosd_stop

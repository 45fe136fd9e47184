#!/usr/bin/env bash
# cost: 4
# Discovery rules through the real anemosd and anemosctl: machines boot (GET /ipxe gives
# each an agent token) and post their first inventory; the first matching rule in priority
# order fires, its event naming it (actor rule:NAME) and what it changed; a second
# inventory fires nothing; max_count holds with 20 machines registering at once; a rule
# test changes nothing; bad rules are refused whole (a query that does not parse names
# the position); operator and viewer tokens change no rule; rm forgets a rule's claims;
# host history names rule:NAME as who; /metrics counts the firings.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}' >/dev/null
VIEW=$("$ANEMOSD" token create --data "$DATA" --name auditor --role viewer)
OPER=$("$ANEMOSD" token create --data "$DATA" --name alice --role operator)

# inventory VENDOR MEMORY_GIB MAC SERIAL: a machine's inventory as anemos-inventory writes it.
inventory() {
	jq -nc --arg v "$1" --argjson m "$2" --arg mac "$3" --arg s "$4" '{
		system: {vendor: $v, product: "P1", serial: $s, uuid: null},
		firmware: "uefi", cpu: {model: "Xeon", sockets: 1, cores: 4, threads: 8},
		memory: {total_bytes: ($m * 1073741824), dimms: []},
		disks: [{name: "sda", size_bytes: 480103981056, serial: ("D" + $s)}],
		nics: [{name: "eth0", mac: $mac, speed_mbps: 10000}], pci: []}'
}
# boot MAC VENDOR MEMORY_GIB SERIAL: the machine boots (discover) and posts its inventory;
# prints the status of that POST.
boot() {
	local t
	t=$(agent_token_of "$(ipxe "$1")")
	status_of "$(agent POST /api/v1/agent/inventory "$t" "$(inventory "$2" "$3" "$1" "$4")")"
}
rule_events() { # REF: the host's events by a rule, as "actor|level|message" lines
	body_of "$(api GET "/api/v1/hosts/$1/events?limit=1000")" | jq -r '.events[] | select(.source == "rule") | "\(.actor)|\(.level)|\(.message)"'
}

# ---- rules made through the API ----
r=$(api POST /api/v1/rules '{"name":"dell-db","query":"vendor:dell memory>=64G","priority":10,
  "actions":{"tags":["db","Rack-12"],"attributes":{"role":"database","shelf":3},"image":"tiny","next_boot":"install",
  "once":true,"install":{"after":"poweroff","root_password_hash":"$6$salt$hashhashhash"}}}')
expect_eq "POST /api/v1/rules: 201" 201 "$(status_of "$r")"
expect_eq "... answers the rule, the secret masked" 'dell-db 10 null true 0 <secret> poweroff' \
	"$(body_of "$r" | jq -r '"\(.name) \(.priority) \(.max_count) \(.enabled) \(.claimed) \(.actions.install.root_password_hash) \(.actions.install.after)"')"
expect_no_match "... and never the password hash" 'hashhash' "$(body_of "$r")"
expect_eq "a second rule, default priority" "201 100" \
	"$(r=$(api POST /api/v1/rules '{"name":"dell-any","query":"vendor:dell","actions":{"tags":["dell"]}}'); echo "$(status_of "$r") $(body_of "$r" | jq -r .priority)")"
api POST /api/v1/rules '{"name":"acme","query":"vendor:acme","priority":50,"max_count":5,"actions":{"tags":["acme"],"attributes":{"pool":"a"}}}' >/dev/null
api POST /api/v1/rules '{"name":"zz-acme-rest","query":"vendor:acme","priority":50,"actions":{"tags":["overflow"]}}' >/dev/null
api POST /api/v1/rules '{"name":"off","query":"vendor:dell","priority":1,"enabled":false,"actions":{"tags":["never"]}}' >/dev/null
expect_eq "GET /api/v1/rules: in the order they are tried (priority, then name)" "off dell-db acme zz-acme-rest dell-any" \
	"$(body_of "$(api GET /api/v1/rules)" | jq -r '[.rules[].name]|join(" ")')"
expect_eq "GET /api/v1/rules/NAME" "vendor:dell memory>=64G" "$(body_of "$(api GET /api/v1/rules/dell-db)" | jq -r .query)"
expect_eq "GET of an unknown rule: 404" 404 "$(status_of "$(api GET /api/v1/rules/nope)")"

# ---- a rule fires on the first inventory; only the first match ----
expect_eq "a Dell with 128 GiB posts its first inventory" 200 "$(boot 52:54:00:aa:00:01 Dell 128 DB0001)"
h=$(body_of "$(api GET /api/v1/hosts/52:54:00:aa:00:01)")
expect_eq "... the first matching rule's actions: tags, attributes, image, next boot, once" \
	'["db","rack-12"] {"role":"database","shelf":"3"} tiny install true' \
	"$(jq -c '.tags, .attributes' <<<"$h" | paste -sd' ') $(jq -r '"\(.image) \(.next_boot) \(.once)"' <<<"$h")"
expect_eq "... its install settings merged into the host's" "poweroff set" \
	"$(jq -r '"\(.install.after) \(if .install.root_password_hash == "<secret>" then "set" else "missing" end)"' <<<"$h")"
expect_eq "... only the first match fires (dell-any does not; the disabled rule neither)" "" \
	"$(jq -r '.tags[] | select(. == "dell" or . == "never")' <<<"$h")"
ev=$(rule_events 52:54:00:aa:00:01)
expect_eq "... one rule event" 1 "$(grep -c . <<<"$ev")"
expect_match "... by rule:dell-db, saying what changed old → new" \
	'^rule:dell-db\|info\|rule dell-db fired: .*next_boot discover → install; image none → tiny; once false → true.*tags \+db \+rack-12' "$ev"
expect_match "... a secret only named" 'install.root_password_hash set' "$ev"
expect_no_match "... never shown" 'hashhash' "$(body_of "$(api GET "/api/v1/hosts/52:54:00:aa:00:01/events")")"
expect_eq "the plan of its agent is now the install" install \
	"$(body_of "$(agent GET /api/v1/agent/plan "$(agent_token_of "$(ipxe 52:54:00:aa:00:01)")")" | jq -r .action)"
expect_eq "a Dell with 32 GiB: the next rule by priority (dell-any)" '200 ["dell"] discover' \
	"$(boot 52:54:00:aa:00:02 Dell 32 DB0002) $(host_field 52:54:00:aa:00:02 '.tags|tostring') $(host_field 52:54:00:aa:00:02 .next_boot)"
expect_match "... its event names dell-any" '^rule:dell-any\|info\|rule dell-any fired: tags \+dell' "$(rule_events 52:54:00:aa:00:02)"
expect_eq "a machine no rule matches: no rule event, no tags" '200 0 []' \
	"$(boot 52:54:00:aa:00:03 Lenovo 64 LN0003) $(rule_events 52:54:00:aa:00:03 | grep -c .) $(host_field 52:54:00:aa:00:03 '.tags|tostring')"
# A second inventory fires nothing, even when the operator took the tags off.
api PATCH /api/v1/hosts/52:54:00:aa:00:02 '{"tags":[]}' >/dev/null
expect_eq "a second inventory of the same machine" 200 "$(boot 52:54:00:aa:00:02 Dell 32 DB0002)"
expect_eq "... fires no rule again" '1 []' "$(rule_events 52:54:00:aa:00:02 | grep -c .) $(host_field 52:54:00:aa:00:02 '.tags|tostring')"

# Priority: dell-any moved before dell-db (PATCH) wins for the next big Dell.
r=$(api PATCH /api/v1/rules/dell-any '{"priority":5}')
expect_eq "PATCH a rule's priority" "200 5" "$(status_of "$r") $(body_of "$r" | jq -r .priority)"
expect_eq "... the order follows" "off dell-any dell-db acme zz-acme-rest" "$(body_of "$(api GET /api/v1/rules)" | jq -r '[.rules[].name]|join(" ")')"
boot 52:54:00:aa:00:04 Dell 256 DB0004 >/dev/null
expect_eq "... a big Dell now gets dell-any's actions, not dell-db's" '["dell"] discover' \
	"$(host_field 52:54:00:aa:00:04 '.tags|tostring') $(host_field 52:54:00:aa:00:04 .next_boot)"

# ---- max_count under 20 machines registering at once ----
tokens=()
for i in $(seq 1 20); do
	tokens[i]=$(agent_token_of "$(ipxe "52:54:00:bb:00:$(printf '%02x' "$i")")")
done
pids=""
for i in $(seq 1 20); do
	mac=52:54:00:bb:00:$(printf '%02x' "$i")
	agent POST /api/v1/agent/inventory "${tokens[i]}" "$(inventory ACME 16 "$mac" "AC$i")" >"$WORK/acme$i" & pids="$pids $!"
done
# shellcheck disable=SC2086 # one PID a word
wait $pids
ok_posts=0
for i in $(seq 1 20); do [ "$(status_of "$(cat "$WORK/acme$i")")" = 200 ] && ok_posts=$((ok_posts + 1)); done
expect_eq "20 machines posted their first inventories at once" 20 "$ok_posts"
tags=$(body_of "$(api GET '/api/v1/hosts?q=vendor:acme')" | jq -r '[.hosts[].tags[]] | group_by(.) | map("\(.[0])=\(length)") | join(" ")')
expect_eq "max_count 5 held: 5 hosts got acme, the other 15 the next rule (same priority, by name)" "acme=5 overflow=15" "$tags"
expect_eq "... 5 claims recorded" "5 5" \
	"$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM rule_hosts c JOIN rules r ON r.id = c.rule_id WHERE r.name = 'acme'") $(body_of "$(api GET /api/v1/rules/acme)" | jq '.hosts|length')"
expect_eq "... the rule says it claimed 5 of 5" "5 5" "$(body_of "$(api GET /api/v1/rules/acme)" | jq -r '"\(.claimed) \(.max_count)"')"
full=0
for i in $(seq 1 20); do
	rule_events "52:54:00:bb:00:$(printf '%02x' "$i")" | grep -q "^rule:acme|info|rule acme matches, but it has claimed its max_count of 5" && full=$((full + 1))
done
expect_eq "... the 15 passed over have an event saying why" 15 "$full"
expect_eq "a 21st machine, later: acme stays at 5" '["overflow"]' \
	"$(boot 52:54:00:bb:00:21 ACME 16 AC21 >/dev/null; host_field 52:54:00:bb:00:21 '.tags|tostring')"

# ---- POST /api/v1/rules/test: which hosts, changing nothing ----
snapshot() { sqlite3 "$DATA/anemos.db" 'SELECT count(*), max(updated) FROM hosts; SELECT count(*) FROM events; SELECT count(*) FROM rule_hosts; SELECT count(*), max(updated) FROM rules' | paste -sd' '; }
before=$(snapshot)
r=$(api POST /api/v1/rules/test '{"query":"vendor:dell memory>=64G"}')
expect_eq "rule test (body): the hosts it would match now" "200 2" "$(status_of "$r") $(body_of "$r" | jq -r .count)"
expect_eq "... listed" "52:54:00:aa:00:01 52:54:00:aa:00:04" "$(body_of "$r" | jq -r '[.hosts[].macs[0]]|sort|join(" ")')"
expect_eq "rule test (?q=)" 21 "$(body_of "$(api POST "/api/v1/rules/test?q=$(jq -rn '"vendor:acme"|@uri')" '{}')" | jq -r .count)"
expect_eq "a viewer may test (it changes nothing)" 200 "$(status_of "$(bearer_request "$VIEW" POST /api/v1/rules/test '{"query":"tag:db"}')")"
expect_eq "... and nothing changed: hosts, events, claims, rules" "$before" "$(snapshot)"

# ---- bad rules: 400 (409 for a name taken), naming the culprit; nothing changes ----
r=$(api POST /api/v1/rules '{"name":"bad","query":"tag:db memory>=64X","actions":{"tags":["x"]}}')
expect_eq "a query that does not parse: 400" 400 "$(status_of "$r")"
expect_match "... naming the position" 'query: memory>= needs a number or a size.*\(at character 8\)' "$(body_of "$r" | jq -r .error)"
r=$(api POST /api/v1/rules/test '{"query":"tag:db status:redy"}')
expect_match "rule test of a bad query: 400 naming the position" "400 .*'redy' is not a status \(at character 8\)" "$(status_of "$r") $(body_of "$r" | jq -r .error)"
expect_match "PATCH with a bad query: 400 naming the position" '\(at character 1\)' \
	"$(body_of "$(api PATCH /api/v1/rules/acme '{"query":"(tag:db"}')" | jq -r .error)"
while IFS='|' read -r body why; do
	r=$(api POST /api/v1/rules "$body")
	expect_match "refused: $body" "^400 .*$why" "$(status_of "$r") $(body_of "$r" | jq -r .error)"
done <<'EOF_BAD'
{"name":"b1","query":"tag:x","actions":{"tags":["x"],"colour":"red"}}|unknown field 'actions.colour'
{"name":"b2","query":"tag:x","actions":{"tags":["x"]},"extra":1}|unknown field 'extra'
{"name":"b3","query":"tag:x","actions":{"image":"missing"}}|no image 'missing'; add it first
{"name":"b4","query":"tag:x","actions":{"next_boot":"explode"}}|next_boot must be one of discover
{"name":"b5","query":"tag:x","actions":{"next_boot":"install"}}|install needs an image
{"name":"b6","query":"tag:x","actions":{"install":{"colour":"red"}}}|unknown field 'install.colour'
{"name":"b7","query":"tag:x","actions":{"install":{"after":"explode"}}}|install.after must be reboot, poweroff or kexec
{"name":"b8","query":"tag:x","actions":{"tags":["no spaces"]}}|tag 'no spaces' may hold
{"name":"b9","query":"tag:x","actions":{"attributes":{"status":"x"}}}|'status' is a search key of its own
{"name":"b10","query":"tag:x","actions":{}}|"actions" is required
{"name":"b11","query":"tag:x"}|"actions" is required
{"name":"b12","query":"  ","actions":{"tags":["x"]}}|"query" is required
{"name":"Bad Name","query":"tag:x","actions":{"tags":["x"]}}|rule name 'Bad Name' may hold|a rule's name is
{"name":"b14","query":"tag:x","max_count":0,"actions":{"tags":["x"]}}|max_count must be a number of hosts from 1
{"name":"b15","query":"tag:x","priority":-1,"actions":{"tags":["x"]}}|priority must be a whole number
{"name":"b16","query":"tag:x","actions":{"once":"yes"}}|once must be true or false
{"query":"tag:x","actions":{"tags":["x"]}}|"name" is required
EOF_BAD
expect_eq "a rule name taken: 409" 409 "$(status_of "$(api POST /api/v1/rules '{"name":"acme","query":"tag:x","actions":{"tags":["x"]}}')")"
expect_eq "a PUT naming another rule: 400" 400 "$(status_of "$(api PUT /api/v1/rules/acme '{"name":"other","query":"tag:x","actions":{"tags":["x"]}}')")"
expect_eq "a PUT without actions: 400" 400 "$(status_of "$(api PUT /api/v1/rules/acme '{"query":"tag:x"}')")"
expect_eq "... and nothing changed" "$before" "$(snapshot)"

# ---- PUT: made, or replaced whole (its claims kept) ----
r=$(api PUT /api/v1/rules/web '{"query":"hostname~web","actions":{"tags":["web"]}}')
expect_eq "PUT of a new rule: 201" "201 web" "$(status_of "$r") $(body_of "$r" | jq -r .name)"
r=$(api PUT /api/v1/rules/acme '{"query":"vendor:acme","max_count":6,"actions":{"tags":["acme2"]}}')
expect_eq "PUT replaces a rule: priority back to its default, claims kept" "200 100 6 5 acme2" \
	"$(status_of "$r") $(body_of "$r" | jq -r '"\(.priority) \(.max_count) \(.claimed) \(.actions.tags|join(","))"')"
r=$(api PATCH /api/v1/rules/dell-db '{"actions":{"install":{"root_password_hash":"<secret>","after":"reboot"},"image":"tiny","next_boot":"install"}}')
expect_eq "PATCH sending the masked secret back keeps it" "200 \$6\$salt\$hashhashhash" \
	"$(status_of "$r") $(sqlite3 "$DATA/anemos.db" "SELECT json_extract(actions, '$.install.root_password_hash') FROM rules WHERE name = 'dell-db'")"

# ---- roles: rules are an admin's; operators and viewers read them only ----
rbefore=$(sqlite3 "$DATA/anemos.db" 'SELECT count(*), max(updated), group_concat(name) FROM rules')
for role in viewer operator; do
	if [ "$role" = viewer ]; then tok=$VIEW; else tok=$OPER; fi
	expect_eq "$role: GET /api/v1/rules" 200 "$(status_of "$(bearer_request "$tok" GET /api/v1/rules)")"
	expect_eq "$role: GET /api/v1/rules/acme" 200 "$(status_of "$(bearer_request "$tok" GET /api/v1/rules/acme)")"
	while read -r m p b; do
		r=$(bearer_request "$tok" "$m" "$p" "$b")
		expect_match "$role: $m $p is 403, naming the roles" "^403 this admin token's role is $role; $m /api/v1/rules.* needs admin" \
			"$(status_of "$r") $(body_of "$r" | jq -r .error)"
	done <<'EOF_MUTATIONS'
POST /api/v1/rules {"name":"mine","query":"tag:x","actions":{"tags":["x"]}}
PUT /api/v1/rules/mine {"query":"tag:x","actions":{"tags":["x"]}}
PUT /api/v1/rules/acme {"query":"tag:x","actions":{"tags":["x"]}}
PATCH /api/v1/rules/acme {"priority":1}
DELETE /api/v1/rules/acme
EOF_MUTATIONS
done
expect_eq "... and no rule changed" "$rbefore" "$(sqlite3 "$DATA/anemos.db" 'SELECT count(*), max(updated), group_concat(name) FROM rules')"
out=$(ANEMOS_TOKEN=$OPER "$ANEMOSCTL" rule rm acme 2>&1)
expect_match "anemosctl rule rm with an operator token says why it is refused" "role is operator; DELETE /api/v1/rules/\* needs admin" "$out"

# ---- history and metrics ----
hist=$("$ANEMOSCTL" host history 52:54:00:aa:00:01)
expect_match "host history names rule:dell-db as who" '^[0-9-]+ [0-9:]+  rule:dell-db +rule dell-db fired: ' "$hist"
expect_eq "... once" 1 "$(grep -c 'rule:' <<<"$hist")"
expect_eq "/metrics counts the firings (1 + 1 + 1 + 5 + 15 + 1)" 24 \
	"$(curl -sS -m 5 "$ANEMOS_URL/metrics" | sed -n 's/^anemos_rule_firings_total //p')"

# ---- the CLI ----
out=$("$ANEMOSCTL" rule add rack7 --query 'vendor:zeta rack=r7' --priority 7 --max-count 2 --tag r7 --tag zeta \
	--attr owner=team-a --install-setting after=poweroff --install-setting 'disk={"serial":"S1"}' --image tiny --next-boot install --once)
expect_eq "rule add" "added rule rack7 (priority 7)" "$out"
expect_eq "... as sent" '{"priority":7,"max_count":2,"actions":{"attributes":{"owner":"team-a"},"image":"tiny","install":{"after":"poweroff","disk":{"serial":"S1"}},"next_boot":"install","once":true,"tags":["r7","zeta"]}}' \
	"$(body_of "$(api GET /api/v1/rules/rack7)" | jq -c '{priority, max_count, actions}')"
out=$("$ANEMOSCTL" rule add broken --query 'memory>=64X' --tag x 2>&1); rc=$?
expect_eq "rule add with a bad query fails" 1 "$rc"
expect_match "... saying where" 'at character 1' "$out"
expect_eq "rule add without an action: usage error (exit 2)" 2 "$("$ANEMOSCTL" rule add empty --query tag:x >/dev/null 2>&1; echo $?)"
list=$("$ANEMOSCTL" rule list)
expect_match "rule list: an aligned table with a header" '^NAME +PRIORITY +CLAIMED +ENABLED +QUERY +ACTIONS' "$list"
expect_match "... claimed of max count" '^acme +100 +5/6 +yes +vendor:acme +tags \+acme2' "$list"
expect_match "... a disabled rule says so" '^off +1 +0 +no ' "$list"
expect_eq "... columns aligned (QUERY starts at the same place in every row)" 1 \
	"$(awk '{ print index($0, $5) }' <<<"$list" | sort -u | wc -l)"
expect_eq "rule list --json" "off dell-any rack7 dell-db zz-acme-rest acme web" "$("$ANEMOSCTL" --json rule list | jq -r '[.rules[].name]|join(" ")')"
show=$("$ANEMOSCTL" rule show acme)
expect_match "rule show: its fields" 'max count +6' "$show"
expect_eq "rule show: the hosts it claimed" 5 "$(grep -c '^  host [0-9]' <<<"$show")"
test=$("$ANEMOSCTL" rule test 'vendor:dell memory>=64G')
expect_match "rule test lists the hosts it would match" '2 hosts would match' "$test"
expect_match "... as a host table" '52:54:00:aa:00:01' "$test"
complete_words() { # WORDS...: what bash would offer for the last word (deploy/completion/anemosctl)
	bash -c 'source "$1/deploy/completion/anemosctl"; PATH=$2:$PATH; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _anemosctl; echo "${COMPREPLY[*]}"' \
		_ "$ROOT" "$BUILD" "$@"
}
expect_eq "completion: rule's verbs" "add list show rm test" "$(complete_words anemosctl rule '')"
expect_match "completion: rule add's options" '--max-count' "$(complete_words anemosctl rule add x --ma)"
expect_eq "completion: rule names from anemosd" "dell-any dell-db" "$(complete_words anemosctl rule rm dell)"
expect_eq "rule rm" "removed rule acme" "$("$ANEMOSCTL" rule rm acme)"
expect_eq "... gone (404), its claims forgotten" "404 0" \
	"$(status_of "$(api GET /api/v1/rules/acme)") $(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM rule_hosts WHERE rule_id NOT IN (SELECT id FROM rules)")"
expect_eq "... what it gave its hosts stays theirs" 5 "$(body_of "$(api GET '/api/v1/hosts?q=tag:acme')" | jq '.hosts|length')"
expect_eq "rule rm of an unknown rule: exit 1" 1 "$("$ANEMOSCTL" rule rm acme >/dev/null 2>&1; echo $?)"
expect_eq "DELETE /api/v1/rules/NAME: 204" 204 "$(status_of "$(api DELETE /api/v1/rules/web)")"

# ---- a rule whose image went away is skipped with an error, the inventory still recorded ----
api POST /api/v1/images '{"name":"gone","url":"http://192.0.2.10/gone.tar.zst","sha256":"'"$Z"'"}' >/dev/null
api POST /api/v1/rules '{"name":"a-gone","query":"vendor:omega","priority":0,"actions":{"image":"gone","next_boot":"install"}}' >/dev/null
api POST /api/v1/rules '{"name":"b-omega","query":"vendor:omega","priority":0,"actions":{"tags":["omega"]}}' >/dev/null
api DELETE /api/v1/images/gone >/dev/null
expect_eq "a machine matching a rule whose image was removed: its inventory is recorded" 200 "$(boot 52:54:00:cc:00:01 Omega 8 OM1)"
expect_match "... an error event names the rule and why" '^rule:a-gone\|error\|rule a-gone matches, but its actions were not applied: no image .gone.' \
	"$(rule_events 52:54:00:cc:00:01)"
expect_eq "... and the next rule fired" '["omega"] discover ready' \
	"$(host_field 52:54:00:cc:00:01 '.tags|tostring') $(host_field 52:54:00:cc:00:01 .next_boot) $(host_field 52:54:00:cc:00:01 .status)"

# Rules survive a restart.
anemosd_stop
anemosd_start || exit 1
expect_eq "rules are kept across a restart" "a-gone b-omega off dell-any rack7 dell-db zz-acme-rest" \
	"$(body_of "$(api GET /api/v1/rules)" | jq -r '[.rules[].name]|join(" ")')"
anemosd_stop
exit $((_failures > 0))

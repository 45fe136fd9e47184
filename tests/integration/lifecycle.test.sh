#!/usr/bin/env bash
# cost: 2
# The host lifecycle through the real anemosd: GET /api/v1/meta tells clients every status,
# next-boot action and operator move (lib/lifecycle.c, the one place they are written);
# hosts set aside by an operator get no install or discovery script; hostnames that read as
# another host's identifier are refused.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}' >/dev/null

# ---- the lifecycle as data ----
r=$(api GET /api/v1/meta)
expect_eq "meta: 200 with the admin token" 200 "$(status_of "$r")"
m=$(body_of "$r")
expect_eq "meta: every status, in display order" "new ready installing deployed failed maintenance decommissioned" \
	"$(jq -r '[.statuses[].name]|join(" ")' <<<"$m")"
expect_eq "meta: the statuses an operator may set" "ready maintenance decommissioned" \
	"$(jq -r '[.statuses[]|select(.operator).name]|join(" ")' <<<"$m")"
expect_eq "meta: every next-boot action, and which run the agent" "discover:true install:true local:false rescue:true none:false" \
	"$(jq -r '[.next_boot[]|"\(.name):\(.agent)"]|join(" ")' <<<"$m")"
expect_eq "meta: install is the action that takes an image" install "$(jq -r '[.next_boot[]|select(.image).name]|join(" ")' <<<"$m")"
expect_eq "meta: every action and status says what it means" 0 "$(jq '[.statuses[],.next_boot[]|select((.help|length) < 5)]|length' <<<"$m")"
expect_eq "meta: from maintenance an operator may go to ready or decommissioned" '{"ready":"ready","decommissioned":"decommissioned"}' \
	"$(jq -c '.transitions.maintenance' <<<"$m")"
expect_eq "meta: decommissioning asks for confirmation" decommissioned "$(jq -r '[.statuses[]|select(.confirm).name]|join(" ")' <<<"$m")"
expect_eq "meta: needs the admin token" 401 "$(status_of "$(curl -sS -m 5 -w '\n%{http_code}' "$ANEMOS_URL/api/v1/meta")")"
expect_match "the CLI's help lists the actions from the same table" 'ACTION is one of discover, install, local, rescue, none\.' \
	"$("$ANEMOSCTL" --help 2>&1)"

# ---- set aside: no install, no discovery ----
api POST /api/v1/hosts '{"mac":"52:54:00:70:00:01","hostname":"held","next_boot":"install","image":"tiny"}' >/dev/null
api PATCH /api/v1/hosts/held '{"status":"maintenance"}' >/dev/null
s=$(ipxe 52:54:00:70:00:01)
expect_match "maintenance + next boot install: the none script" 'no network boot assigned' "$s"
expect_no_match "... with no agent token" 'anemos\.token=' "$s"
expect_match "... and a warning event says why" 'next boot install refused, the host is maintenance' \
	"$(body_of "$(api GET /api/v1/hosts/held/events)" | jq -r '.events[-1].message')"
expect_eq "... level warn" warn "$(body_of "$(api GET /api/v1/hosts/held/events)" | jq -r '.events[-1].level')"
expect_eq "... the host stays in maintenance" maintenance "$(host_field held .status)"
api PATCH /api/v1/hosts/held '{"next_boot":"discover"}' >/dev/null
expect_match "maintenance + discover: the none script too" 'no network boot assigned' "$(ipxe 52:54:00:70:00:01)"
api PATCH /api/v1/hosts/held '{"next_boot":"rescue"}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:70:00:01)")
expect_match "maintenance + rescue: the agent boots (an operator's rescue)" '^anemos_agent_' "$T"
expect_eq "... its plan is rescue" rescue "$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r .action)"
expect_eq "a rescue that fails leaves the host in maintenance" maintenance \
	"$(body_of "$(agent POST /api/v1/agent/done "$T" '{"ok":false,"error":"disk gone"}')" | jq -r .status)"
api PATCH /api/v1/hosts/held '{"status":"decommissioned"}' >/dev/null
expect_match "decommissioned + rescue: the none script" 'no network boot assigned' "$(ipxe 52:54:00:70:00:01)"
api PATCH /api/v1/hosts/held '{"next_boot":"local"}' >/dev/null
expect_match "decommissioned + local: it boots its disk" 'sanboot|exit' "$(ipxe 52:54:00:70:00:01)"
m=$(curl -sS -m 5 "$ANEMOS_URL/metrics")
expect_match "metrics count the refused boots as none" 'anemos_boots_total\{action="none"\} 3' "$m"

# Setting a host aside ends the boot in progress: its agent's token is revoked.
api POST /api/v1/hosts '{"mac":"52:54:00:70:00:02","hostname":"late","next_boot":"discover"}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:70:00:02)")
expect_eq "a discovering agent gets its plan" 200 "$(status_of "$(agent GET /api/v1/agent/plan "$T")")"
api PATCH /api/v1/hosts/late '{"next_boot":"install","image":"tiny","status":"maintenance"}' >/dev/null
expect_eq "after the host is set aside, its agent's token is refused: 401" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$T")")"
expect_eq "... and the host is not installing" maintenance "$(host_field late .status)"
expect_eq "back to ready" ready "$(body_of "$(api PATCH /api/v1/hosts/late '{"status":"ready"}')" | jq -r .status)"
T=$(agent_token_of "$(ipxe 52:54:00:70:00:02)")
expect_eq "the next boot installs" install "$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r .action)"
expect_eq "... and the host installing" installing "$(host_field late .status)"
api PATCH /api/v1/hosts/late '{"hostname":"late2"}' >/dev/null
expect_eq "other changes leave the install running" 200 "$(status_of "$(agent GET /api/v1/agent/plan "$T")")"
api PATCH /api/v1/hosts/late2 '{"status":"ready"}' >/dev/null
expect_eq "an operator's ready on an installing host ends that install" "401 ready" \
	"$(status_of "$(agent GET /api/v1/agent/plan "$T")") $(host_field late2 .status)"
expect_eq "operators may not set installing" 400 "$(status_of "$(api PATCH /api/v1/hosts/late2 '{"status":"installing"}')")"
expect_match "... the message lists what they may set" 'operators may set status to ready, maintenance, decommissioned' \
	"$(body_of "$(api PATCH /api/v1/hosts/late2 '{"status":"installing"}')")"

# ---- hostnames that read as another identifier ----
api POST /api/v1/hosts '{"mac":"52:54:00:70:00:03"}' >/dev/null
for bad in face-b00c-0001 52-54-00-70-00-09 525400700009 deadbeef-0000-4000-8000-000000000001 4711; do
	expect_eq "hostname $bad is refused (it reads as a MAC, UUID or id)" 400 \
		"$(status_of "$(api PATCH /api/v1/hosts/52:54:00:70:00:03 "{\"hostname\":\"$bad\"}")")"
done
expect_eq "... also at enrollment" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:70:00:04","hostname":"face-b00c-0001"}')")"
expect_eq "... which created nothing" 404 "$(status_of "$(api GET /api/v1/hosts/52:54:00:70:00:04)")"
expect_eq "a hostname with hex words is fine" face-b00c "$(body_of "$(api PATCH /api/v1/hosts/52:54:00:70:00:03 '{"hostname":"face-b00c"}')" | jq -r .hostname)"
expect_match "unknown install setting: the message names it whole" "unknown field 'install.colour'" \
	"$(body_of "$(api PATCH /api/v1/hosts/late2 '{"install":{"colour":"red"}}')")"
for bad in '{"install":{"root_password_hash":"$6$s$h:0:0"}}' '{"install":{"network":{"mode":"static","address":"192.0.2.9/24","dns":["192.0.2.53\nnameserver 203.0.113.9"]}}}' \
	'{"install":{"network":{"mode":"static","address":"192.0.2.9/24","gateway":"gw"}}}' '{"install":{"network":{"mode":"static","address":"192.0.2.900/24"}}}'; do
	expect_eq "install setting that would become a bad file on the target: 400 ($bad)" 400 "$(status_of "$(api PATCH /api/v1/hosts/late2 "$bad")")"
done
anemosd_stop

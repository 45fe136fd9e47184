#!/usr/bin/env bash
# cost: 5
# Many hosts at once (issue 14), through the real anemosd on loopback: the host list in pages
# (limit, after, next) beside the old whole answer; a bulk enroll that is all or nothing and
# names its bad row; anemosctl host import of CSV and JSON files; anemosctl host list
# walking the pages.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1

# --- a bulk enroll --------------------------------------------------------------------------
body=$(awk 'BEGIN { printf "["; for (i = 1; i <= 120; i++) printf "%s{\"mac\":\"52:54:00:50:%02x:%02x\",\"hostname\":\"bulk%d\",\"next_boot\":\"local\"}", (i > 1 ? "," : ""), int(i / 256), i % 256, i; printf "]" }')
r=$(api POST /api/v1/hosts "$body")
expect_eq "POST /api/v1/hosts with an array of 120: 201" 201 "$(status_of "$r")"
expect_eq "... answers the 120 hosts" 120 "$(body_of "$r" | jq '.hosts | length')"
expect_eq "... each enrolled (with its event)" "local enroll" \
	"$(host_field bulk77 .next_boot) $(body_of "$(api GET /api/v1/hosts/bulk77/events)" | jq -r '.events[0].phase')"
bad='[{"mac":"52:54:00:51:00:01","hostname":"fine1"},{"mac":"52:54:00:51:00:02","hostname":"fine2"},{"mac":"52:54:00:50:00:05","hostname":"again"}]'
r=$(api POST /api/v1/hosts "$bad")
expect_eq "a bulk enroll with a MAC that is taken: 409" 409 "$(status_of "$r")"
expect_match "... naming the bad row and its MAC" "host 3 of 3: MAC 52:54:00:50:00:05 belongs to host" "$(body_of "$r")"
expect_eq "... and nothing of it enrolled" 404 "$(status_of "$(api GET /api/v1/hosts/fine1)")"
r=$(api POST /api/v1/hosts '[{"mac":"52:54:00:51:00:03"},{"mac":"52:54:00:51:00:03"}]')
expect_eq "the same MAC twice in one bulk enroll: 409, none kept" "409 404" \
	"$(status_of "$r") $(status_of "$(api GET /api/v1/hosts/52:54:00:51:00:03)")"
r=$(api POST /api/v1/hosts '[{"mac":"52:54:00:51:00:04"},"not a host"]')
expect_eq "a row that is no object: 400" 400 "$(status_of "$r")"
expect_match "... naming it" "host 2 of 2" "$(body_of "$r")"
expect_eq "an empty array: 400" 400 "$(status_of "$(api POST /api/v1/hosts '[]')")"

# --- pages ----------------------------------------------------------------------------------
expect_eq "GET /api/v1/hosts without limit: the whole list, no cursor (old clients)" "120 null" \
	"$(body_of "$(api GET /api/v1/hosts)" | jq -r '[(.hosts | length), (.next | tostring)] | join(" ")')"
after=0; pages=0; seen=""
for _ in $(seq 1 20); do
	page=$(body_of "$(api GET "/api/v1/hosts?limit=50&after=$after")")
	pages=$((pages + 1))
	seen="$seen$(printf '%s' "$page" | jq -r '.hosts[].hostname' | tr '\n' ' ')"
	after=$(printf '%s' "$page" | jq -r '.next')
	[ "$after" = null ] && break
done
expect_eq "pages of 50: three, the last one's next null" 3 "$pages"
expect_eq "... every host once, in enrollment order" "$(seq 1 120 | sed 's/^/bulk/' | tr '\n' ' ')" "$seen"
expect_eq "a page of a search" "bulk11 bulk110" \
	"$(body_of "$(api GET '/api/v1/hosts?q=bulk11&limit=2')" | jq -r '[.hosts[].hostname] | join(" ")')"
expect_eq "limit 0: 400" 400 "$(status_of "$(api GET '/api/v1/hosts?limit=0')")"
expect_eq "limit 1001: 400" 400 "$(status_of "$(api GET '/api/v1/hosts?limit=1001')")"
expect_eq "after that is no cursor: 400" 400 "$(status_of "$(api GET '/api/v1/hosts?limit=5&after=x')")"

# --- anemosctl host import, host list -------------------------------------------------------
cat >"$WORK/delivery.csv" <<'EOF'
mac,hostname,next_boot,once
52:54:00:52:00:01,rack1-01,local,
52:54:00:52:00:02,"rack1-02",discover,yes
52:54:00:52:00:03,rack1-03,,false
EOF
out=$("$ANEMOSCTL" host import "$WORK/delivery.csv" 2>&1)
expect_eq "host import FILE.csv" "enrolled 3 hosts from $WORK/delivery.csv" "$out"
expect_eq "... with its columns" "local discover discover true" \
	"$(host_field rack1-01 .next_boot) $(host_field rack1-02 .next_boot) $(host_field rack1-03 .next_boot) $(host_field rack1-02 .once)"
printf '[{"mac":"52:54:00:53:00:01","hostname":"j1"},{"mac":"52:54:00:53:00:02","hostname":"j2","next_boot":"nonsense"}]' >"$WORK/bad.json"
out=$("$ANEMOSCTL" host import "$WORK/bad.json" 2>&1); rc=$?
check "host import of a file with a bad row fails" test "$rc" -ne 0
expect_match "... naming the row" "host 2 of 2" "$out"
expect_eq "... and enrolls none of it" 404 "$(status_of "$(api GET /api/v1/hosts/j1)")"
printf 'mac,colour\n52:54:00:54:00:01,blue\n' >"$WORK/odd.csv"
out=$("$ANEMOSCTL" host import "$WORK/odd.csv" 2>&1); rc=$?
check "a CSV column anemosd does not know is refused before sending" test "$rc" -ne 0
expect_match "... by name" "unknown column 'colour'" "$out"
# A bad last row refuses the whole file too (it once enrolled the rows before it).
printf 'mac,hostname,once\n52:54:00:56:00:01,c1,\n52:54:00:56:00:02,c2,maybe\n' >"$WORK/last.csv"
out=$("$ANEMOSCTL" host import "$WORK/last.csv" 2>&1); rc=$?
check "a CSV whose last row is bad is refused" test "$rc" -ne 0
expect_match "... naming the row, then that nothing was enrolled" "line 3: once must be true or false, not 'maybe'.*nothing enrolled" "$(printf '%s' "$out" | tr '\n' ' ')"
expect_eq "... and enrolls none of it" 404 "$(status_of "$(api GET /api/v1/hosts/c1)")"
printf '{"hosts":[{"mac":"52:54:00:53:00:03","hostname":"j3"}]}' >"$WORK/one.json"
expect_eq "host import of {\"hosts\": [...]}" "enrolled 1 hosts from $WORK/one.json" "$("$ANEMOSCTL" host import "$WORK/one.json" 2>&1)"
# 1,150 hosts: host list walks three pages of 500.
body=$(awk 'BEGIN { printf "["; for (i = 1; i <= 1026; i++) printf "%s{\"mac\":\"52:54:00:55:%02x:%02x\"}", (i > 1 ? "," : ""), int(i / 256), i % 256; printf "]" }')
expect_eq "1,026 more in one bulk enroll" 201 "$(status_of "$(api POST /api/v1/hosts "$body")")"
expect_eq "anemosctl host list --json: every host of every page" 1150 "$("$ANEMOSCTL" --json host list | jq '.hosts | length')"
expect_eq "anemosctl host list: a line per host, and its header" 1151 "$("$ANEMOSCTL" host list | wc -l)"
expect_eq "anemosctl host list QUERY pages too" 1 "$("$ANEMOSCTL" --json host list rack1-02 | jq '.hosts | length')"

# --- the whole list, streamed page by page (server/http_api.c reads 500 hosts at a time) ----
curl -sS -m 30 -D "$WORK/list.headers" -o "$WORK/list.json" -H "Authorization: Bearer $ANEMOS_TOKEN" "$ANEMOS_URL/api/v1/hosts"
expect_match "the list of 1,150 hosts is sent chunked, as it is read" '^[Tt]ransfer-[Ee]ncoding: chunked' "$(tr -d '\r' <"$WORK/list.headers")"
expect_eq "... whole: every host once, in id order, no cursor" "1150 true null" \
	"$(jq -r '[(.hosts | length), ([.hosts[].id] == ([.hosts[].id] | sort | unique)), (.next | tostring)] | join(" ")' "$WORK/list.json")"
after=0; : >"$WORK/pages.json"
for _ in $(seq 1 5); do
	page=$(body_of "$(api GET "/api/v1/hosts?limit=1000&after=$after")")
	printf '%s' "$page" | jq -c '.hosts[]' >>"$WORK/pages.json"
	after=$(printf '%s' "$page" | jq -r '.next')
	[ "$after" = null ] && break
done
expect_eq "... the same hosts, field for field, as the pages of 1,000" "$(jq -c '.hosts[]' "$WORK/list.json" | sha256sum)" "$(sha256sum <"$WORK/pages.json")"
id600=$(jq -r '.hosts[599].id' "$WORK/list.json")
expect_eq "after=ID without limit: the rest of the list, streamed" 550 \
	"$(body_of "$(api GET "/api/v1/hosts?after=$id600")" | jq '.hosts | length')"
expect_eq "a search over the whole list: the hosts of every page that match" 1026 \
	"$(body_of "$(api GET "/api/v1/hosts?q=52:54:00:55")" | jq '.hosts | length')"
r=$(api GET '/api/v1/hosts?q=(((')
expect_eq "a search that does not parse: 400 before anything is sent" 400 "$(status_of "$r")"
expect_match "... saying where" 'search: .*at character' "$(body_of "$r")"
anemosd_stop

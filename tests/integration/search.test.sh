#!/usr/bin/env bash
# cost: 3
# Tags, attributes and the search language through the real anemosd and anemosctl: labels
# set by the API and the CLI, kept across a restart, refused whole when one is bad; searches
# over labels, columns and the inventory facts two real machines' inventories report
# (tests/fixtures/inventory, read by anemos-inventory); a search that does not parse is a
# 400 naming the place; the old substring search still finds what it found.
source "$(dirname "$0")/lib.sh"
INVENTORY=$BUILD/anemos-inventory
anemosd_start || exit 1

# Two machines boot and report their hardware (a Dell server, a QEMU VM); one is enrolled.
report() { # MAC FIXTURE
	local t
	t=$(agent_token_of "$(ipxe "$1")")
	status_of "$(agent POST /api/v1/agent/inventory "$t" "$("$INVENTORY" --root "$ROOT/tests/fixtures/inventory/$2")")"
}
expect_eq "the server reports its inventory" 200 "$(report 24:6e:96:8a:3c:10 server-4dimm-bios)"
expect_eq "the VM reports its inventory" 200 "$(report 52:54:00:12:34:56 qemu-q35-uefi)"
api PATCH /api/v1/hosts/24:6e:96:8a:3c:10 '{"hostname":"db1"}' >/dev/null
api PATCH /api/v1/hosts/52:54:00:12:34:56 '{"hostname":"web7"}' >/dev/null
r=$(api POST /api/v1/hosts '{"mac":"52:54:00:99:00:03","hostname":"web8","tags":["Web","retired"],"attributes":{"rack":"r14"}}')
expect_eq "enroll with tags and attributes: 201" 201 "$(status_of "$r")"
expect_eq "... tags kept in lower case, sorted" '["retired","web"]' "$(body_of "$r" | jq -c .tags)"

# ---- labels through the API ----
r=$(api PATCH /api/v1/hosts/db1 '{"tags":["db","rack-12"],"attributes":{"rack":"r12","weight":21.5,"warranty_until":"2027-03-01"}}')
expect_eq "PATCH tags and attributes: 200" 200 "$(status_of "$r")"
expect_eq "... the host has them" '["db","rack-12"] {"rack":"r12","warranty_until":"2027-03-01","weight":"21.5"}' \
	"$(body_of "$r" | jq -c '.tags, .attributes' | paste -sd' ')"
r=$(api PATCH /api/v1/hosts/web7 '{"tags":{"add":["web","canary"]},"attributes":{"rack":"r14","weight":9}}')
r=$(api PATCH /api/v1/hosts/web7 '{"tags":{"add":["web"],"remove":["canary"]}}')
expect_eq "tags add/remove change only those named" '["web"]' "$(body_of "$r" | jq -c .tags)"
expect_eq "the change is an event saying what changed" 'changed tags -canary' \
	"$(body_of "$(api GET /api/v1/hosts/web7/events)" | jq -r '.events[-1].message')"
before=$(body_of "$(api GET /api/v1/hosts/db1)" | jq -c '[.tags, .attributes, .hostname]')
for bad in '{"tags":["ok","no spaces"]}' '{"tags":["-lead"]}' '{"tags":"db"}' '{"tags":{"add":["x"],"drop":["y"]}}' \
	'{"attributes":{"status":"x"}}' '{"attributes":{"Rack":"x"}}' '{"attributes":{"nic.speed":"1"}}' \
	'{"attributes":{"rack":["r1"]}}' '{"attributes":{"rack":""}}' '{"attributes":{"note":"two\nlines"}}' \
	'{"hostname":"db2","tags":["fine","bad tag"]}'; do
	r=$(api PATCH /api/v1/hosts/db1 "$bad")
	expect_eq "refused: $bad" 400 "$(status_of "$r")"
done
expect_match "... the refusal names the tag" "tag 'bad tag' may hold letters, digits" "$(body_of "$r" | jq -r .error)"
expect_match "an attribute named like a search key is refused with why" "'status' is a search key of its own" \
	"$(body_of "$(api PATCH /api/v1/hosts/db1 '{"attributes":{"status":"x"}}')" | jq -r .error)"
expect_eq "... and nothing of any refused body changed (hostname neither)" "$before" \
	"$(body_of "$(api GET /api/v1/hosts/db1)" | jq -c '[.tags, .attributes, .hostname]')"
many=$(jq -nc '{tags: [range(65) | "t\(.)"]}')
expect_eq "65 tags: 400" 400 "$(status_of "$(api PATCH /api/v1/hosts/db1 "$many")")"

# ---- the search language ----
search() { # QUERY: the hostnames found, sorted, space-separated
	body_of "$(api GET "/api/v1/hosts?q=$(jq -rn --arg q "$1" '$q|@uri')")" | jq -r '[.hosts[].hostname]|sort|join(" ")'
}
expect_eq "tag:db" db1 "$(search 'tag:db')"
expect_eq "tag:web -tag:retired" web7 "$(search 'tag:web -tag:retired')"
expect_eq "rack=r14 (an attribute)" "web7 web8" "$(search 'rack=r14')"
expect_eq "weight>10 (an attribute read as a number)" db1 "$(search 'weight>10')"
expect_eq "warranty_until<2028-01-01 (dates order as text)" db1 "$(search 'warranty_until<2028-01-01')"
expect_eq "memory>=64G (the server's 160 GiB)" db1 "$(search 'memory>=64G')"
expect_eq "memory<64G" web7 "$(search 'memory<64G')"
expect_eq "firmware:uefi" web7 "$(search 'firmware:uefi')"
expect_eq "cpu~xeon" db1 "$(search 'cpu~xeon')"
expect_eq "nic.speed>=10000 (one NIC of the server)" db1 "$(search 'nic.speed>=10000')"
expect_eq "dimm.manufacturer~hynix" db1 "$(search 'dimm.manufacturer~hynix')"
expect_eq "bios.version:2.17.1" db1 "$(search 'bios.version:2.17.1')"
expect_eq "status:new (the enrolled host)" web8 "$(search 'status:new')"
expect_eq "(status:new OR tag:db) -rack=r14" db1 "$(search '(status:new OR tag:db) -rack=r14')"
expect_eq "mac:52:54:00:12:34:56" web7 "$(search 'mac:52:54:00:12:34:56')"
expect_eq "a bare word, as the list always searched (hostname)" "web7 web8" "$(search 'web')"
expect_eq "a bare word finds a MAC part" db1 "$(search '8a:3c:10')"
expect_eq "a bare word finds a tag" web8 "$(search 'retired')"
expect_eq "no query: every host" "db1 web7 web8" "$(search '')"
r=$(body_of "$(api GET "/api/v1/hosts?q=web&limit=1")")
expect_eq "a search in pages: the first page holds one of its hosts" web7 "$(jq -r '[.hosts[].hostname]|join(" ")' <<<"$r")"
expect_eq "... the next page the other, and it is the last" "web8 null" \
	"$(body_of "$(api GET "/api/v1/hosts?q=web&limit=1&after=$(jq -r .next <<<"$r")")" | jq -r '"\([.hosts[].hostname]|join(" ")) \(.next)"')"
r=$(api GET "/api/v1/hosts?q=$(jq -rn '"memory>=64X tag:db"|@uri')")
expect_eq "a query that does not parse: 400" 400 "$(status_of "$r")"
expect_match "... naming the place and what is wrong" 'search: memory>= needs a number or a size .*at character 1' \
	"$(body_of "$r" | jq -r .error)"
expect_match "an unknown status: 400 naming it" "'redy' is not a status \(at character 8\)" \
	"$(body_of "$(api GET "/api/v1/hosts?q=$(jq -rn '"tag:db status:redy"|@uri')")" | jq -r .error)"
expect_eq "an unclosed parenthesis: 400" 400 "$(status_of "$(api GET "/api/v1/hosts?q=%28tag:db")")"
expect_eq "a value that looks like SQL is only a value" "" "$(search "hostname:\"x' OR 1=1 --\"")"

# ---- hardware drift: a second inventory compared with the first, part by part ----
inv=$("$INVENTORY" --root "$ROOT/tests/fixtures/inventory/server-4dimm-bios")
t=$(agent_token_of "$(ipxe 24:6e:96:8a:3c:10)")
agent POST /api/v1/agent/inventory "$t" "$inv" >/dev/null
expect_eq "the same hardware again: no drift" null "$(host_field 24:6e:96:8a:3c:10 .drift)"
moved=$(jq -c '.memory.dimms as $d | .memory.dimms = [range($d | length) as $i | $d[$i] + {slot: $d[($d | length) - 1 - $i].slot}]
	| .disks |= reverse' <<<"$inv")
t=$(agent_token_of "$(ipxe 24:6e:96:8a:3c:10)")
agent POST /api/v1/agent/inventory "$t" "$moved" >/dev/null
expect_eq "DIMMs in other slots, disks listed in another order: no drift" null "$(host_field 24:6e:96:8a:3c:10 .drift)"
swapped=$(jq -c '.disks[0].serial = "NEWDISK01" | .disks[0].wwn = "eui.0000000000000001" | .bios.version = "2.19.1"' <<<"$inv")
t=$(agent_token_of "$(ipxe 24:6e:96:8a:3c:10)")
agent POST /api/v1/agent/inventory "$t" "$swapped" >/dev/null
d=$(host_field 24:6e:96:8a:3c:10 '.drift')
expect_eq "a disk swapped and the BIOS updated: two changes kept on the host" "disk:replaced bios:changed" \
	"$(jq -r '[.[] | "\(.part):\(.change)"] | join(" ")' <<<"$d")"
expect_match "... each a warning event naming the old and the new disk" \
	"hardware changed: disk replaced: $(jq -r '.disks[0].name' <<<"$inv") .*serial $(jq -r '.disks[0].serial' <<<"$inv") → .*serial NEWDISK01" \
	"$(body_of "$(api GET /api/v1/hosts/db1/events)" | jq -r '.events[] | select(.phase == "drift") | .message')"
expect_eq "... found by drift:yes" db1 "$(search 'drift:yes')"
expect_match "host show lists the changes" 'hardware change: +disk replaced: .*NEWDISK01' "$(ANEMOS_URL=$ANEMOS_URL ANEMOS_TOKEN=$ANEMOS_TOKEN "$ANEMOSCTL" host show db1)"
expect_eq "drift can only be acknowledged (null)" 400 "$(status_of "$(api PATCH /api/v1/hosts/db1 '{"drift":[]}')")"
ANEMOS_URL=$ANEMOS_URL ANEMOS_TOKEN=$ANEMOS_TOKEN "$ANEMOSCTL" host set db1 --ack-drift >/dev/null
expect_eq "anemosctl host set --ack-drift clears the mark" "null " "$(host_field db1 .drift) $(search 'drift:yes')"
expect_match "... and the history says so" 'changed hardware_changes 2 → 0' \
	"$(body_of "$(api GET /api/v1/hosts/db1/events)" | jq -r '.events[-1].message')"

# ---- saved searches: @NAME stands for one ----
r=$(api PUT /api/v1/searches/webs '{"query":"tag:web -tag:retired"}')
expect_eq "PUT /api/v1/searches/NAME saves a search: 201" 201 "$(status_of "$r")"
expect_eq "@NAME in a search is the saved one" web7 "$(search '@webs')"
expect_eq "... with more terms beside it" "" "$(search '@webs rack=r99')"
expect_eq "... negated, in parentheses" "db1 web8" "$(search '-@webs')"
expect_eq "... or OR" "db1 web7" "$(search '@webs OR tag:db')"
expect_eq "an @ inside a value or quotes is only text" "" "$(search 'note=@webs "@webs"')"
r=$(api PUT /api/v1/searches/webs '{"query":"tag:web"}')
expect_eq "PUT again replaces it: 200" "200 web7 web8" "$(status_of "$r") $(search '@webs')"
r=$(api GET "/api/v1/hosts?q=$(jq -rn '"tag:db @nosuch"|@uri')")
expect_eq "an unknown @NAME: 400" 400 "$(status_of "$r")"
expect_eq "... saying which and where" "search: no saved search 'nosuch' (at character 8)" "$(body_of "$r" | jq -r .error)"
before=$(sqlite3 "$DATA/anemos.db" 'SELECT group_concat(name || "=" || query) FROM saved_searches')
while read -r path body want; do
	r=$(api PUT "$path" "$body")
	expect_eq "PUT $path $body: 400" 400 "$(status_of "$r")"
	expect_match "... $want" "$want" "$(body_of "$r" | jq -r .error)"
done <<'EOF_BAD'
/api/v1/searches/ok {"query":"status:redy"} 'redy'.is.not.a.status.\(at.character.1\)
/api/v1/searches/ok {"query":"tag:db(@webs)"} may.not.name.another
/api/v1/searches/Big {"query":"tag:db"} lower-case
/api/v1/searches/-x {"query":"tag:db"} name
/api/v1/searches/ok {"query":"tag:db","owner":"me"} owner
/api/v1/searches/ok {} "query".is.required
EOF_BAD
r=$(api POST /api/v1/rules '{"name":"r-webs","query":"tag:web @webs","actions":{"tags":["x"]}}')
expect_eq "a rule's query may not use a saved search: 400 at the @" "400 query: @NAME (a saved search) cannot be used here: write its terms out (at character 9)" \
	"$(status_of "$r") $(body_of "$r" | jq -r .error)"
expect_eq "... and nothing was saved" "$before" "$(sqlite3 "$DATA/anemos.db" 'SELECT group_concat(name || "=" || query) FROM saved_searches')"
expect_eq "GET /api/v1/searches: name, query, who saved it" "webs tag:web test" \
	"$(body_of "$(api GET /api/v1/searches)" | jq -r '.searches[] | "\(.name) \(.query) \(.created_by)"')"

# ---- switch ports: what each NIC's LLDP said (the agent of a discover boot records it) ----
nic0=$(jq -r '.nics[0].name' <<<"$inv") nic1=$(jq -r '.nics[1].name' <<<"$inv")
cabled=$(jq -c '.nics[0].lldp = {chassis_id: "a6:41:b4:fb:6b:7c", switch: "leaf-3", port: "Ethernet12",
	port_description: "to db1", vlan: 12, mgmt_address: "192.0.2.33", switch_description: null}
	| .nics[1].lldp = {chassis_id: "192.0.2.34", switch: null, port: "swp7", port_description: null,
	vlan: null, mgmt_address: null, switch_description: null}' <<<"$swapped")
t=$(agent_token_of "$(ipxe 24:6e:96:8a:3c:10)")
agent POST /api/v1/agent/inventory "$t" "$cabled" >/dev/null
expect_eq "the inventory keeps each NIC's switch port" "$nic0 leaf-3 Ethernet12 12 $nic1 - swp7 -" \
	"$(host_field db1 '[.inventory.nics[] | select(.lldp) | .name, (.lldp | .switch // "-", .port, (.vlan // "-"))] | join(" ")')"
expect_eq "a NIC on another switch port is no hardware change" null "$(host_field db1 .drift)"
expect_eq "nic.switch=leaf-3" db1 "$(search 'nic.switch=leaf-3')"
expect_eq "nic.switch=leaf-4: nothing" "" "$(search 'nic.switch=leaf-4')"
expect_eq "nic.port=swp7 (the other NIC)" db1 "$(search 'nic.port=swp7')"
expect_eq "nic.vlan=12, and not on the VM" db1 "$(search 'nic.vlan=12 OR (nic.vlan>0 firmware:uefi)')"
expect_eq "-nic.switch=leaf-3: the others" "web7 web8" "$(search '-nic.switch=leaf-3')"
out=$(ANEMOS_URL=$ANEMOS_URL ANEMOS_TOKEN=$ANEMOS_TOKEN "$ANEMOSCTL" host show db1)
expect_match "host show: the NIC with its switch, port and VLAN" "^nic: +$nic0 24:6e:96:8a:3c:10, switch leaf-3 port Ethernet12 vlan 12\$" "$out"
expect_match "host show: a switch without a name by its chassis ID" "^nic: +$nic1 [0-9a-f:]+, switch 192.0.2.34 port swp7\$" "$out"
# An inventory nobody listened for LLDP in (no "lldp": an install boot, anemos-inventory)
# keeps the ports by MAC; one that listened and heard nothing (null) clears them.
t=$(agent_token_of "$(ipxe 24:6e:96:8a:3c:10)")
agent POST /api/v1/agent/inventory "$t" "$swapped" >/dev/null
expect_eq "an inventory without LLDP keeps each NIC's switch port" "Ethernet12 swp7" \
	"$(host_field db1 '[.inventory.nics[] | .lldp.port // empty] | join(" ")')"
expect_eq "... and nic.switch=leaf-3 still finds it" db1 "$(search 'nic.switch=leaf-3')"
t=$(agent_token_of "$(ipxe 24:6e:96:8a:3c:10)")
agent POST /api/v1/agent/inventory "$t" "$(jq -c '.nics[0].lldp = null' <<<"$swapped")" >/dev/null
expect_eq "a NIC that listened and heard nothing has no switch port, the other keeps its own" "null swp7" \
	"$(host_field db1 '[.inventory.nics[0].lldp, .inventory.nics[1].lldp.port] | map(tostring) | join(" ")')"
expect_eq "... and nic.switch=leaf-3 finds nothing" "" "$(search 'nic.switch=leaf-3')"

# ---- the CLI ----
export ANEMOS_URL ANEMOS_TOKEN
out=$("$ANEMOSCTL" host set web8 --untag retired --tag Canary --attr rack= --attr owner=team-web 2>&1)
expect_match "anemosctl host set --tag/--untag/--attr" '^updated host [0-9]+ web8' "$out"
expect_eq "... the host's labels" '["canary","web"] {"owner":"team-web"}' \
	"$(body_of "$(api GET /api/v1/hosts/web8)" | jq -c '.tags, .attributes' | paste -sd' ')"
out=$("$ANEMOSCTL" host list 'tag:web' 'owner=team-web' 2>&1)
expect_match "anemosctl host list with a query (words joined)" 'web8' "$out"
expect_no_match "... and only what it finds" 'web7|db1' "$out"
expect_match "anemosctl host list 'memory>=64G' (escaped for the URL)" 'db1' "$("$ANEMOSCTL" host list 'memory>=64G' 2>&1)"
out=$("$ANEMOSCTL" host list --columns hostname,tag,owner,memory 'tag:web' 2>&1)
expect_match "host list --columns: the columns asked for, an attribute among them" '^HOSTNAME +TAGS +OWNER +MEMORY$' "$(head -n 1 <<<"$out")"
expect_match "... one row a host, with its attribute" '^web8 +canary,web +team-web +-$' "$(grep web8 <<<"$out")"
api PATCH /api/v1/hosts/web8 '{"attributes":{"note":"rack 3, \"top\""}}' >/dev/null
expect_eq "host list --csv: a header, and fields quoted as CSV wants" 'hostname,note,tag
web8,"rack 3, ""top""","canary,web"' "$("$ANEMOSCTL" host list --csv --columns hostname,note,tag web8 2>&1)"
expect_eq "a query starting with - after --" "db1" "$("$ANEMOSCTL" host list --csv --columns hostname -- -tag:web | tail -n +2 | paste -sd' ')"
expect_eq "-o is --columns" "$("$ANEMOSCTL" host list --columns hostname,tag)" "$("$ANEMOSCTL" host list -o hostname,tag)"
# On a terminal (a pty of COLS columns): the table fits, status is coloured; NO_COLOR and a
# pipe give none.
on_tty() {	# on_tty COLS [ENV=VALUE ...] -- ARGS...: what anemosctl ARGS prints on a pty
	python3 - "$ANEMOSCTL" "$@" <<'PY'
import fcntl, os, pty, struct, sys, termios
ctl, cols, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
env = dict(os.environ)
while rest and rest[0] != "--":
    k, v = rest.pop(0).split("=", 1); env[k] = v
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.execve(ctl, [ctl] + rest[1:], env)
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
PY
}
api PATCH /api/v1/hosts/db1 '{"attributes":{"note":"a long note that no narrow terminal has room for, not even close"}}' >/dev/null
out=$(on_tty 60 TERM=xterm -- host list -o hostname,status,note,tag)
expect_eq "on a 60-column terminal no line is wider than 60" "" "$(sed 's/\x1b\[[0-9;]*m//g' <<<"$out" | awk 'length($0) > 60')"
expect_match "... the widest column cut, with ~" 'a long note that[^|]*~' "$(grep db1 <<<"$out")"
expect_match "... status in colour (SGR)" $'\x1b\\[[0-9;]+m(ready|new|deployed|failed|installing)\x1b\\[0m' "$out"
out=$(on_tty 60 TERM=xterm NO_COLOR=1 -- host list -o hostname,status)
expect_no_match "NO_COLOR: no colour" $'\x1b' "$out"
out=$("$ANEMOSCTL" host list -o hostname,status,note)
expect_no_match "in a pipe: no colour" $'\x1b' "$out"
expect_match "... and nothing cut" 'not even close$' "$(grep db1 <<<"$out")"
out=$("$ANEMOSCTL" search save dbs 'tag:db' 'rack=r12' 2>&1)
expect_eq "anemosctl search save NAME QUERY..." "saved search @dbs: tag:db rack=r12" "$out"
expect_eq "anemosctl host list @NAME" db1 "$("$ANEMOSCTL" host list --csv -o hostname @dbs | tail -n +2)"
expect_match "anemosctl search list" '^dbs +tag:db rack=r12 +test$' "$("$ANEMOSCTL" search list | grep '^dbs')"
expect_eq "anemosctl search rm NAME" "removed saved search @dbs" "$("$ANEMOSCTL" search rm dbs 2>&1)"
out=$("$ANEMOSCTL" host list @dbs 2>&1); rc=$?
expect_eq "... then @dbs is refused, non-zero" 1 "$((rc != 0))"
expect_match "... saying so" "no saved search 'dbs'" "$out"
out=$("$ANEMOSCTL" host list 'status:redy' 2>&1); rc=$?
expect_eq "a bad query: the CLI exits non-zero" 1 "$((rc != 0))"
expect_match "... and says where" "'redy' is not a status \(at character 1\)" "$out"
out=$("$ANEMOSCTL" host show db1 2>&1)
expect_match "host show lists the tags" 'tags: +db rack-12' "$out"
expect_match "host show lists the attributes" 'attr rack: +r12' "$out"
expect_match "--attr needs NAME=VALUE" "--attr takes NAME=VALUE" "$("$ANEMOSCTL" host set db1 --attr rack 2>&1)"

# ---- shell completion (deploy/completion/anemosctl), from anemosctl itself ----
complete_words() { # WORDS...: what bash would offer for the last word
	bash -c 'source "$1/deploy/completion/anemosctl"; PATH=$2:$PATH; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _anemosctl; echo "${COMPREPLY[*]}"' \
		_ "$ROOT" "$BUILD" "$@"
}
expect_eq "completion: a command" host "$(complete_words anemosctl ho)"
expect_match "completion: a command's verbs" '^list show add import set power reinstall rm events history' "$(complete_words anemosctl host '')"
expect_match "completion: a command's options" '--tag' "$(complete_words anemosctl host set web7 --ta)"
expect_eq "completion: host names and MACs from anemosd" "web7 web8" "$(complete_words anemosctl host show we)"
expect_eq "completion: next-boot actions" install "$(complete_words anemosctl host set web7 --next-boot ins)"
# zsh (deploy/completion/_anemosctl): what its candidates function offers (compadd matches
# them against the word), and that compinit takes the file as anemosctl's completion.
zsh_words() { # WORDS...: the candidates, one line
	zsh -f -c 'source "$1/deploy/completion/_anemosctl"; PATH=$2:$PATH; shift 2; _anemosctl_candidates "$@" | paste -sd" "' \
		_ "$ROOT" "$BUILD" "$@"
}
expect_match "zsh completion: the commands" '(^| )host( |$)' "$(zsh_words anemosctl ho)"
expect_match "zsh completion: a command's verbs" '^list show add import set power reinstall rm events history' "$(zsh_words anemosctl host '')"
expect_match "zsh completion: a command's options" '(^| )--tag( |$)' "$(zsh_words anemosctl host set web7 --ta)"
expect_match "zsh completion: host names from anemosd" '(^| )web7( .*)? web8( |$)' "$(zsh_words anemosctl host show we)"
expect_eq "zsh completion: next-boot actions" "discover install local rescue none" "$(zsh_words anemosctl host set web7 --next-boot ins)"
expect_eq "zsh: compinit takes the file for anemosctl" _anemosctl \
	"$(zsh -f -c 'fpath=("$1/deploy/completion" $fpath); autoload -U compinit; compinit -u -d "$2/zcompdump"; print $_comps[anemosctl]' _ "$ROOT" "$WORK")"

# ---- kept: a restart, and the rows go with the host ----
anemosd_stop
anemosd_start || exit 1
expect_eq "tags and attributes survive a restart" '["db","rack-12"]' "$(host_field db1 '.tags|tojson')"
expect_eq "... and searches still find them" db1 "$(search 'tag:rack-12 rack=r12')"
api DELETE /api/v1/hosts/db1 >/dev/null
expect_eq "a removed host's tag and attribute rows are gone" "0 0" \
	"$(sqlite3 "$DATA/anemos.db" "SELECT (SELECT count(*) FROM host_tags t LEFT JOIN hosts h ON h.id = t.host_id WHERE h.id IS NULL), (SELECT count(*) FROM host_attrs a LEFT JOIN hosts h ON h.id = a.host_id WHERE h.id IS NULL)" | tr '|' ' ')"
exit $((_failures > 0))
